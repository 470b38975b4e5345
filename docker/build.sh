#!/usr/bin/env bash
# Builds the kestra-mcp image from a binary built on this machine, without pulling any base
# image: a static binary (glibc, +crt-static), staged with the host's CA bundle in dist/, then
# the Dockerfile's `prebuilt` target with the legacy builder.
#
#   docker/build.sh [TAG]        (default tag: kestra-mcp:dev)
#
# Environment: CARGO_TARGET_DIR is honoured; DOCKER (default `docker`) names the client.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-kestra-mcp:dev}"
target=x86_64-unknown-linux-gnu
target_dir="${CARGO_TARGET_DIR:-target}"
ca_bundle=/etc/ssl/certs/ca-certificates.crt

RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$target" --bin kestra-mcp

binary="$target_dir/$target/release/kestra-mcp"
if readelf -l "$binary" | grep -q 'program interpreter'; then
    echo "docker/build.sh: $binary is dynamically linked; it would not run on scratch" >&2
    exit 1
fi
[ -r "$ca_bundle" ] || { echo "docker/build.sh: no CA bundle at $ca_bundle" >&2; exit 1; }

mkdir -p dist
# dist/ is a build artefact: keep it out of git without touching the repository's .gitignore.
printf '*\n' > dist/.gitignore
cp "$binary" dist/kestra-mcp
cp "$ca_bundle" dist/ca-certificates.crt
dist/kestra-mcp tools validate >/dev/null

DOCKER_BUILDKIT=0 "${DOCKER:-docker}" build --target prebuilt -t "$tag" .
echo "built $tag"
