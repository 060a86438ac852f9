"""Getting bytes: a sha256-addressed cache, HTTPS downloads and shallow git fetches."""
