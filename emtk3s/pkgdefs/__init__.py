"""One module per package (and the upstream components it needs); discovered automatically."""
