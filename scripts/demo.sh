#!/usr/bin/env bash
# Set everything up, build the bundled Mandarin sample stream if missing, and clip it.
# Usage: scripts/demo.sh [OUT_DIR [clipper run options...]]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python scripts/make_sample_zh.py >/dev/null
out="${1:-out/sample-zh}"
.venv/bin/clipper run sample_media/sample_stream_zh.mp4 --out "$out" --language zh "${@:2}"
echo
echo "clips:    $out/clips/"
echo "manifest: $out/manifest.json"
