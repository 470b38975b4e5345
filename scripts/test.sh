#!/usr/bin/env bash
# The whole test suite, from a fresh clone. Installs what it needs itself (Rust components, a
# Python venv in .venv, Prism and helm in .tools/, Debian's docker.io when run as root).
#   1. formatting and lints
#   2. Rust tests: unit tests, the real binary over stdio against loopback stubs (integration),
#      OpenAPI contract checks of every tool (contract), property tests, a load test with faults,
#      and the Kestra simulator's own tests (replays of three corpora recorded from real Kestra
#      servers: 0.23, 1.3.0 and 2.0.0-SNAPSHOT, 396 + 473 + 571 exchanges)
#      then the built-in tools' spec tests as a tool author runs them (`kestra-mcp tools test`)
#   3. the official MCP SDKs as clients: Python over stdio and Streamable HTTP, TypeScript over HTTP
#   4. end-to-end scenarios on Kestra 1.3 and 2.0: kestra-sim with Prism validating every request
#      and response against Kestra's OpenAPI descriptions
#   5. the team deployment: the Helm chart (helm built with Go: lint and template, the manifests
#      against Kubernetes' schemas, the container as rendered run against kestra-sim), and three
#      replicas behind HAProxy with the Python SDK's sessions
#   6. the install artefacts (wheel, npm packages, MCP bundle, server.json), built from one static
#      binary, installed from scratch and run with uvx, pipx, npx and as the bundle's manifest says;
#      Claude Code, Gemini CLI and the MCP Inspector check README's configurations
#   7. the Docker image, built FROM scratch and run as users run it (root only: starts dockerd)
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }
started=$SECONDS

step "toolchain"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo --version

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

step "rust tests"
cargo test --workspace

step "spec tests (tools.d/*.test.yaml, canned Kestra answers, Kestra 1.3 and 2.0)"
cargo run -q --bin kestra-mcp -- tools test

step "official MCP SDK clients (Python over stdio and HTTP, TypeScript over HTTP), README configs, AI Agent flows"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q -r tests/python/requirements.txt
(cd tests/http && npm install --no-audit --no-fund --silent)
# The flow-tools SDK tests start kestra-sim (tests/python/kestra_sim.py).
cargo build -q --bin kestra-mcp && cargo build -q -p kestra-sim --bin kestra-sim
KESTRA_MCP_BIN="$PWD/target/debug/kestra-mcp" .venv/bin/python -m pytest -q tests/python tests/http tests/flows tests/readme

step "end-to-end scenarios (kestra-sim + Prism, Kestra 1.3 and 2.0)"
tests/testbed/run-e2e.sh

step "team deployment: Helm chart (lint, template, Kubernetes schemas, the rendered container run) and 3 replicas behind HAProxy"
# helm is built from the Go module proxy (no binary download); kept in .tools between runs.
[ -x .tools/go/bin/helm ] || GOBIN="$PWD/.tools/go/bin" go install helm.sh/helm/v4/cmd/helm@v4.3.2
# HAProxy in front of three replicas (Debian's package; root installs it, as for docker.io).
if ! command -v haproxy >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null
fi
.venv/bin/pip install -q -r tests/deploy/requirements.txt
cargo build -q -p kestra-sim --bin kestra-sim
KESTRA_MCP_BIN="$PWD/target/debug/kestra-mcp" .venv/bin/python -m pytest -q tests/deploy

step "install artefacts (scripts/package.sh: wheel, npm, MCP bundle, server.json) and real clients"
scripts/package.sh
cargo build -q -p kestra-sim --bin kestra-sim
.venv/bin/pip install -q -r tests/packaging/requirements.txt
.venv/bin/python -m pytest -q tests/packaging

step "docker image"
if [ "$(id -u)" = 0 ]; then
    docker/test-image.sh
else
    echo "skipped: building and running the image needs root (to start dockerd)"
fi

step "all tests passed in $((SECONDS - started)) s"
