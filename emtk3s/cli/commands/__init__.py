"""One module per command (each defines ``command``), loaded by emtk3s.cli.main when it runs."""
