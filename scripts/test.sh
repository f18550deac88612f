#!/usr/bin/env bash
# Set everything up (as demo.sh does), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/python scripts/make_sample.py >/dev/null
exec .venv/bin/python -m pytest "$@"
