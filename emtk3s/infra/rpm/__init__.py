"""What emtk3s knows of rpm: parsing a spec (spec), EMT's macros (macros), an RPM's header
(header) and running the rpm tools with logs (tools). rpm's version order needs no bindings:
it is emtk3s.model.versions.evr_compare."""
