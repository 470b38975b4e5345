#!/usr/bin/env bash
# Starts the test bed: kestra-sim for Kestra 1.3 and 2.0 on free loopback ports, and Prism
# (`prism proxy <spec+overlay> <sim> --errors`) in front of each. Waits until all four answer,
# then writes $TESTBED_DIR/env (sourceable) and $TESTBED_DIR/pids. Stop with stop.sh.
#
#   TESTBED_DIR       where state goes (default: <repo>/.tools/testbed)
#   KESTRA_SIM_EXEC_DELAY_MS  task duration in the simulator (default 50)
#
# env file:
#   KESTRA_SIM_13_URL=http://127.0.0.1:P/api/v1     simulator, 1.3 routing, no validation
#   KESTRA_PRISM_13_URL=http://127.0.0.1:Q/api/v1   Prism validating against the 1.3 description
#   KESTRA_SIM_20_URL=...  KESTRA_PRISM_20_URL=...  the same for 2.0
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tests/testbed"
TESTBED_DIR="${TESTBED_DIR:-$ROOT/.tools/testbed}"
DELAY="${KESTRA_SIM_EXEC_DELAY_MS:-50}"
mkdir -p "$TESTBED_DIR"

if [ -s "$TESTBED_DIR/pids" ]; then
  "$HERE/stop.sh" >/dev/null 2>&1 || true
fi

"$HERE/install-prism.sh" >&2
PRISM="${PRISM_PREFIX:-$ROOT/.tools/prism}/node_modules/.bin/prism"

(cd "$ROOT" && cargo build -q -p kestra-sim --bin kestra-sim) >&2
SIM="${CARGO_TARGET_DIR:-$ROOT/target}/debug/kestra-sim"

# The project's venv (PyYAML for apply-overlay.py, the MCP SDK for the Python scenarios), pinned
# in tests/python/requirements.txt: the machine's python3 need not have them.
if [ ! -x "$ROOT/.venv/bin/python" ]; then python3 -m venv "$ROOT/.venv"; fi
"$ROOT/.venv/bin/pip" install -q -r "$ROOT/tests/python/requirements.txt" >&2
PY="$ROOT/.venv/bin/python"
"$PY" "$HERE/apply-overlay.py" 1.3 "$ROOT/openapi/openapi-1.3.0.yml" "$TESTBED_DIR/openapi-1.3.yml"
"$PY" "$HERE/apply-overlay.py" 2.0 "$ROOT/openapi/openapi-2.0.0-SNAPSHOT.yml" "$TESTBED_DIR/openapi-2.0.yml"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

: > "$TESTBED_DIR/pids"
ENV_TMP="$TESTBED_DIR/env.tmp"
: > "$ENV_TMP"

trap 'status=$?; if [ $status -ne 0 ]; then "$HERE/stop.sh" >&2 || true; fi' EXIT

wait_http() { # url, what, log, pid
  local url="$1" what="$2" log="$3" pid="$4" i
  for i in $(seq 1 300); do
    # With credentials: the descriptions declare security on /configs, and Prism logs an
    # anonymous request as rejected (UNAUTHORIZED). The simulator accepts any credentials.
    if curl -s -o /dev/null -m 2 -u admin@kestra.io:kestra-sim "$url"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "start.sh: $what did not answer at $url; log: $log" >&2
  tail -20 "$log" >&2 || true
  return 1
}

for v in 1.3 2.0; do
  tag="${v/./}"
  sim_port="$(free_port)"
  "$SIM" --kestra-version "$v" --port "$sim_port" --exec-delay-ms "$DELAY" \
    > "$TESTBED_DIR/sim-$tag.log" 2>&1 &
  echo "$! kestra-sim-$tag" >> "$TESTBED_DIR/pids"
  wait_http "http://127.0.0.1:$sim_port/api/v1/configs" "kestra-sim $v" "$TESTBED_DIR/sim-$tag.log" "$!"

  prism_port="$(free_port)"
  "$PRISM" proxy "$TESTBED_DIR/openapi-$v.yml" "http://127.0.0.1:$sim_port" --errors \
    --host 127.0.0.1 --port "$prism_port" > "$TESTBED_DIR/prism-$tag.log" 2>&1 &
  prism_pid=$!
  echo "$prism_pid prism-$tag" >> "$TESTBED_DIR/pids"
  wait_http "http://127.0.0.1:$prism_port/api/v1/configs" "prism $v" "$TESTBED_DIR/prism-$tag.log" "$prism_pid"

  echo "KESTRA_SIM_${tag}_URL=http://127.0.0.1:$sim_port/api/v1" >> "$ENV_TMP"
  echo "KESTRA_PRISM_${tag}_URL=http://127.0.0.1:$prism_port/api/v1" >> "$ENV_TMP"
done
echo "KESTRA_TESTBED_DIR=$TESTBED_DIR" >> "$ENV_TMP"
mv "$ENV_TMP" "$TESTBED_DIR/env"
cat "$TESTBED_DIR/env"
