#!/usr/bin/env bash
# Set everything up, build the bundled sample stream if missing, and clip it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python scripts/make_sample.py >/dev/null
out="${1:-out/sample}"
.venv/bin/clipper run sample_media/sample_stream.mp4 --out "$out" "${@:2}"
echo
echo "clips:    $out/clips/"
echo "manifest: $out/manifest.json"
