#!/usr/bin/env bash
# Builds the install artefacts into dist/packages, all from the one static build of
# scripts/build-static.sh (dist/kestra-mcp):
#   kestra_mcp-VERSION-py3-none-manylinux_*.whl   the Python wheel (maturin, `bin` bindings): uvx, pipx
#   kestra-mcp-VERSION.tgz, kestra-mcp-linux-x64-VERSION.tgz
#                                                 the npm packages (launcher + per-platform binary): npx
#   kestra-mcp-VERSION-linux-x64.mcpb             the MCP bundle (Claude Desktop's one-click install)
#   server.json                                   the MCP registry entry, with the bundle's SHA-256
# Tools it needs are installed here: maturin into .venv, the MCP bundle CLI into .tools/clients
# (tests/packaging/package.json).
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
out=dist/packages

scripts/build-static.sh
version="$(dist/kestra-mcp --version | awk '{print $2}')"
rm -rf "$out" && mkdir -p "$out"

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q -r tests/packaging/requirements.txt
mkdir -p .tools/clients
cp tests/packaging/package.json .tools/clients/
(cd .tools/clients && npm install --no-audit --no-fund --silent)
mcpb=.tools/clients/node_modules/.bin/mcpb

echo "== wheel"
# The same target, profile and flags as build-static.sh: cargo reuses that build.
(cd packaging/pypi && RUSTFLAGS='-C target-feature=+crt-static' ../../.venv/bin/maturin build \
    --release --locked --target "$target" --compatibility manylinux2014 --out "../../$out" --quiet)

echo "== npm"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -r packaging/npm/linux-x64 "$stage/linux-x64"
mkdir -p "$stage/linux-x64/bin" && cp dist/kestra-mcp "$stage/linux-x64/bin/kestra-mcp"
npm pack --silent --pack-destination "$out" "$stage/linux-x64" >/dev/null
npm pack --silent --pack-destination "$out" packaging/npm/kestra-mcp >/dev/null

echo "== MCP bundle"
mkdir -p "$stage/mcpb/server"
cp packaging/mcpb/manifest.json "$stage/mcpb/manifest.json"
cp dist/kestra-mcp "$stage/mcpb/server/kestra-mcp"
"$mcpb" validate "$stage/mcpb/manifest.json"
"$mcpb" pack "$stage/mcpb" "$out/kestra-mcp-$version-linux-x64.mcpb" >/dev/null

echo "== server.json"
.venv/bin/python - "$out" "$version" <<'PY'
import hashlib, json, sys
out, version = sys.argv[1], sys.argv[2]
bundle = f"kestra-mcp-{version}-linux-x64.mcpb"
server = json.load(open("packaging/server.json"))
sha = hashlib.sha256(open(f"{out}/{bundle}", "rb").read()).hexdigest()
server["packages"].append({
    "registryType": "mcpb",
    "identifier": f"https://github.com/kestra-io/kestra-mcp/releases/download/v{version}/{bundle}",
    "fileSha256": sha,
    "transport": {"type": "stdio"},
})
json.dump(server, open(f"{out}/server.json", "w"), indent=2)
PY

ls -l "$out" | awk 'NR>1 {print $5, $9}'
