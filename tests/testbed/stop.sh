#!/usr/bin/env bash
# Stops what start.sh started, by the PIDs it recorded (never by name).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TESTBED_DIR="${TESTBED_DIR:-$ROOT/.tools/testbed}"
PIDS="$TESTBED_DIR/pids"
[ -f "$PIDS" ] || { echo "stop.sh: no $PIDS, nothing to stop"; exit 0; }
while read -r pid name; do
  [ -n "${pid:-}" ] || continue
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    echo "stopped $name ($pid)"
  fi
done < "$PIDS"
rm -f "$PIDS" "$TESTBED_DIR/env"
