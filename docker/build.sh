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
ca_bundle=/etc/ssl/certs/ca-certificates.crt

scripts/build-static.sh
[ -r "$ca_bundle" ] || { echo "docker/build.sh: no CA bundle at $ca_bundle" >&2; exit 1; }
cp "$ca_bundle" dist/ca-certificates.crt

DOCKER_BUILDKIT=0 "${DOCKER:-docker}" build --target prebuilt -t "$tag" .
echo "built $tag"
