#!/usr/bin/env bash
# Set up everything the tests need on a fresh Linux machine, then run them all.
# Fails on any test failure, on lint errors, and when pytest collects no tests (exit 5).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "browser tests need Debian's chromium: sudo apt-get install chromium fonts-noto-cjk" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'

.venv/bin/ruff check .
if command -v node >/dev/null 2>&1 && [ -d web/static/js/tests ]; then
  node --test web/static/js/tests/
fi
exec .venv/bin/python -m pytest "$@"
