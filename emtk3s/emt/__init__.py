"""EMT integration: the EMT checkout (integrate), version compatibility, bump, root-diff."""
