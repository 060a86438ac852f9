"""Workflows above the stages: integrate (into an EMT checkout), bump (a new K3s tag through
resolve, fetch and render), chain (SPECS/ built in dependency order). Each is one function the
command line calls, returning a typed result."""
