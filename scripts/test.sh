#!/usr/bin/env bash
# The whole test suite, from a fresh clone: formatting, lints, unit and integration tests
# (the real binary over stdio against loopback stubs), and the official Python MCP SDK client.
# Installs what it needs itself (Rust components, a Python venv in .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "toolchain"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo --version

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

step "rust tests (unit + integration over stdio)"
cargo test --workspace

step "python MCP SDK client"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q -r tests/python/requirements.txt
cargo build -q --bin kestra-mcp
KESTRA_MCP_BIN="$PWD/target/debug/kestra-mcp" .venv/bin/python -m pytest -q tests/python

step "all tests passed"
