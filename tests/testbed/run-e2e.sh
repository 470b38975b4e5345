#!/usr/bin/env bash
# Starts the test bed (kestra-sim + Prism, for Kestra 1.3 and 2.0), runs the end-to-end scenarios
# (`cargo test --test e2e`, which drives the real kestra-mcp binary over stdio through Prism), and
# stops the test bed again, also when the scenarios fail or the script is interrupted.
#
#   tests/testbed/run-e2e.sh                 # all scenarios on 1.3 and 2.0
#   KESTRA_E2E_FILTER=kv tests/testbed/run-e2e.sh   # (skips the Python SDK scenarios)
#
#   TESTBED_DIR   where the test bed keeps its env file and logs (default: <repo>/.tools/testbed-e2e,
#                 so it never stops a test bed someone started by hand in .tools/testbed)
# Extra arguments go to `cargo test --test e2e`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tests/testbed"
export TESTBED_DIR="${TESTBED_DIR:-$ROOT/.tools/testbed-e2e}"
# This script tests against the simulator; a live Kestra is reached by `cargo test --test e2e`
# with KESTRA_E2E_BASE_URL set (tests/e2e/README.md).
unset KESTRA_E2E_BASE_URL

cleanup() {
  status=$?
  "$HERE/stop.sh" >&2 || true
  if [ "$status" -ne 0 ]; then
    echo "run-e2e.sh: FAILED ($status); Prism and simulator logs are in $TESTBED_DIR" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build first, so the test bed does not sit idle while cargo compiles (this also builds
# target/debug/kestra-mcp, which the Python SDK scenarios start).
(cd "$ROOT" && cargo test --no-run -q --test e2e)
# start.sh also prepares .venv (tests/python/requirements.txt: the Python `mcp` SDK's stdio
# client for tests/e2e/python, and PyYAML).
"$HERE/start.sh" >&2
cd "$ROOT"
export KESTRA_TESTBED_ENV="$TESTBED_DIR/env" KESTRA_E2E_REQUIRED=1
export RUST_BACKTRACE="${KESTRA_E2E_BACKTRACE:-0}"
# 1. A few scenarios through the Python SDK (flow, execution, logs, KV) on both versions.
py_status=0
if [ -z "${KESTRA_E2E_FILTER:-}" ]; then
  echo "run-e2e.sh: Python SDK scenarios (tests/e2e/python)" >&2
  .venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e/python -s || py_status=$?
fi
# 2. The scenario suite. It scans the whole Prism logs of this fresh test bed (so the Python
# SDK's traffic is validated too) and fails on any violation the overlay does not explain.
rust_status=0
KESTRA_E2E_PRISM_FROM_START=1 cargo test -q --test e2e "$@" -- --nocapture || rust_status=$?
if [ "$py_status" -ne 0 ]; then
  echo "run-e2e.sh: the Python SDK scenarios FAILED ($py_status)" >&2
fi
[ "$py_status" -eq 0 ] && [ "$rust_status" -eq 0 ]
