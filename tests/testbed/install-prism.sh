#!/usr/bin/env bash
# Installs the OpenAPI validator Prism (@stoplight/prism-cli), pinned, into .tools/prism
# (ignored by git). Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
PRISM_VERSION="5.16.0"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="${PRISM_PREFIX:-$ROOT/.tools/prism}"
BIN="$PREFIX/node_modules/.bin/prism"
if [ -x "$BIN" ] && [ "$("$BIN" --version 2>/dev/null)" = "$PRISM_VERSION" ]; then
  echo "prism $PRISM_VERSION already installed at $BIN"
  exit 0
fi
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --save-exact "@stoplight/prism-cli@$PRISM_VERSION" >&2
"$BIN" --version >/dev/null
echo "prism $PRISM_VERSION installed at $BIN"
