#!/usr/bin/env bash
# Whole-process benchmarks: builds the release binary, installs the Python MCP server for Kestra
# into .tools/pyserver (for the side-by-side figures), runs scripts/bench/harness.py and writes
# docs/benchmarks.md, then times 500 flow tools (scripts/bench/flow_tools.py). About 3-5
# minutes; --quick takes about one.
#
#   scripts/bench.sh [--quick] [--no-python] [--criterion] [--static]
#
#   --quick      fewer runs and calls (rougher figures)
#   --no-python  kestra-mcp alone
#   --criterion  also run the in-process benchmarks (cargo bench --bench engine) first, so that
#                their figures are listed in docs/benchmarks.md
#   --static     also build the static (+crt-static) binary that the Docker image holds, so that
#                the image size is exact (another release build, several minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*" >&2; }

quick=() no_python=0 criterion=0 static=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    --no-python) no_python=1 ;;
    --criterion) criterion=1 ;;
    --static) static=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "scripts/bench.sh needs Python >= 3.10 ($PY is $("$PY" -V 2>&1))" >&2
  exit 2
}

step "release build"
cargo build --release

if [ "$criterion" = 1 ]; then
  step "in-process benchmarks (criterion)"
  cargo bench --bench engine
fi

harness_args=("${quick[@]}")
if [ "$static" = 1 ]; then
  step "static release build (the binary of the Docker image)"
  host=$(rustc -vV | sed -n 's/^host: //p')
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target "$host" --bin kestra-mcp
  harness_args+=(--image-binary "${CARGO_TARGET_DIR:-target}/$host/release/kestra-mcp")
fi
if [ "$no_python" = 1 ]; then
  harness_args+=(--no-python)
else
  step "Python MCP server for Kestra (.tools/pyserver)"
  venv=.tools/pyserver
  why=""
  if [ ! -x "$venv/bin/python" ]; then
    mkdir -p .tools
    "$PY" -m venv "$venv" || why="cannot create a venv with $PY"
  fi
  if [ -z "$why" ] && ! "$venv/bin/python" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["purelib"], "src", "server.py")))' 2>/dev/null; then
    if ! log=$("$venv/bin/pip" install -q iflow-mcp-mcp-server-python==0.1.2 2>&1); then
      why="pip install iflow-mcp-mcp-server-python failed: $(printf '%s' "$log" | tail -n 1)"
    fi
  fi
  if [ -n "$why" ]; then
    echo "$why; continuing with kestra-mcp alone" >&2
    harness_args+=(--no-python --python-why "$why")
  fi
fi

step "benchmarks (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
"$PY" scripts/bench/harness.py "${harness_args[@]}"

# Issue 17's bound: 500 flow tools listed at most 100 ms after Kestra's flows answer (a stub
# Kestra in the script); prints the figure, exit 1 over the bound.
step "flow tools: 500 flows (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
flow_runs=5
[ "${#quick[@]}" -gt 0 ] && flow_runs=2
"$PY" scripts/bench/flow_tools.py --binary "${CARGO_TARGET_DIR:-target}/release/kestra-mcp" --flows 500 --runs "$flow_runs"
