#!/usr/bin/env bash
# Builds the release binary as it is shipped (a static glibc binary, +crt-static, that runs on
# any x86_64 Linux and on `scratch`) and stages it in dist/kestra-mcp. The Docker image and the
# packages (scripts/package.sh: wheel, npm, MCP bundle) are made from this one build.
#
# Environment: CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
target_dir="${CARGO_TARGET_DIR:-target}"

RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$target" --bin kestra-mcp

binary="$target_dir/$target/release/kestra-mcp"
if readelf -l "$binary" | grep -q 'program interpreter'; then
    echo "scripts/build-static.sh: $binary is dynamically linked; it would not run on scratch" >&2
    exit 1
fi
mkdir -p dist
# dist/ is a build artefact: keep it out of git without touching the repository's .gitignore.
printf '*\n' > dist/.gitignore
cp "$binary" dist/kestra-mcp
dist/kestra-mcp tools validate >/dev/null
echo "dist/kestra-mcp: $(stat -c %s dist/kestra-mcp) bytes, $(dist/kestra-mcp --version)"
