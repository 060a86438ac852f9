#!/usr/bin/env bash
# The test command (README step 2; .ci/run runs exactly this).
# Makes sure the tools are there (install.sh --deps-only is a no-op when they are), then:
# lint, types, the committed SPECS/ against the templates, and the test suite.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh --deps-only
.venv/bin/ruff check emtk3s tests bench tools
.venv/bin/ruff format --check emtk3s tests bench tools
.venv/bin/mypy
.venv/bin/emtk3s render --check
exec .venv/bin/python -m pytest -q "$@"
