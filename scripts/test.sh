#!/usr/bin/env bash
# The README's test command: install auzoo with its test, export and track extras and
# the example plugins, then run auzoo's and the plugins' tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test,export,track]"
for plugin in plugins/*/; do
  [ -f "$plugin/pyproject.toml" ] && python -m pip install -q -e "$plugin"
done
python -m pytest -q tests plugins "$@"
