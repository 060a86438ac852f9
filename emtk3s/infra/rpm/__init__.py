"""What emtk3s knows of rpm: parsing a spec (spec), EMT's macros (macros), rpm's version order
(vercmp), an RPM's header (header) and running the rpm tools with logs (tools)."""
