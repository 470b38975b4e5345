#!/usr/bin/env node
// Starts the kestra-mcp binary of this platform's package (installed as an optional dependency,
// as esbuild and biome do), with this process's arguments, stdio and environment. MCP clients
// talk JSON-RPC over stdin/stdout: nothing is written there but the binary's own output.
"use strict";

const { spawn } = require("node:child_process");

// `${process.platform}-${process.arch}` → the package that carries the binary. Adding a
// platform: a package under packaging/npm/ and a line here.
const PLATFORM_PACKAGES = {
  "linux-x64": "@kestra-mcp/linux-x64",
};

function binaryPath() {
  if (process.env.KESTRA_MCP_BINARY) {
    return process.env.KESTRA_MCP_BINARY;
  }
  const platform = `${process.platform}-${process.arch}`;
  const pkg = PLATFORM_PACKAGES[platform];
  if (!pkg) {
    fail(`no kestra-mcp binary is published for ${platform} (published: ${Object.keys(PLATFORM_PACKAGES).join(", ")}); ` +
      "build it from source with cargo, or use the Docker image");
  }
  try {
    return require.resolve(`${pkg}/bin/kestra-mcp`);
  } catch {
    fail(`the package ${pkg} is not installed; reinstall kestra-mcp without --no-optional ` +
      "(or --omit=optional), which skips the binary");
  }
}

function fail(message) {
  process.stderr.write(`kestra-mcp: ${message}\n`);
  process.exit(1);
}

const child = spawn(binaryPath(), process.argv.slice(2), { stdio: "inherit" });
// The client stops the server with a signal: pass it on, and end as the binary ends.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (e) => fail(`cannot start ${e.path || "the binary"}: ${e.message}`));
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
