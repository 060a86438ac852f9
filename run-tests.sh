#!/usr/bin/env bash
# The test command (README step 2; .ci/run runs exactly this).
# Makes sure the tools are there (install.sh --deps-only is a no-op when they are), then:
# lint, types, the committed SPECS/ against the templates, and the test suite in two tiers:
# tests/unit where no rpm program or rpm binding can be reached (tests/without_rpm.py: a private
# mount namespace hides them, so the tier is shown to pass on a machine without rpm), then
# tests/integration with the real rpm tools. Arguments: one pytest run with them instead.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh --deps-only
.venv/bin/ruff check emtk3s tests bench tools
.venv/bin/ruff format --check emtk3s tests bench tools
.venv/bin/mypy
.venv/bin/emtk3s render --check
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest -q "$@"
fi
.venv/bin/python -m tests.without_rpm -q tests/unit
exec .venv/bin/python -m pytest -q tests/integration
