#!/usr/bin/env bash
# Starts the test bed (kestra-sim + Prism, for Kestra 1.3 and 2.0), runs the end-to-end scenarios
# (`cargo test --test e2e`, which drives the real kestra-mcp binary over stdio through Prism), and
# stops the test bed again, also when the scenarios fail or the script is interrupted.
#
#   tests/testbed/run-e2e.sh                 # all scenarios on 1.3 and 2.0
#   KESTRA_E2E_FILTER=kv tests/testbed/run-e2e.sh
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

# Build first, so the test bed does not sit idle while cargo compiles.
(cd "$ROOT" && cargo test --no-run -q --test e2e)
"$HERE/start.sh" >&2
cd "$ROOT"
export RUST_BACKTRACE="${KESTRA_E2E_BACKTRACE:-0}"
KESTRA_TESTBED_ENV="$TESTBED_DIR/env" KESTRA_E2E_REQUIRED=1 \
  cargo test -q --test e2e "$@" -- --nocapture
