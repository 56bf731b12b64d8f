#!/usr/bin/env bash
# Install every test dependency (system packages included) and run lint and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-system-deps.sh
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
python3 -m ruff check syncengine tests tools bench
python3 -m pytest -q -n 2 "$@"
