#!/usr/bin/env python3
"""Flow tools at scale: how long after Kestra answers its flow search does `tools/list` hold
500 flow tools (issue 17: at most 100 ms).

A stub Kestra (in this process, a thread) serves 500 flows of a few inputs each on
`GET /api/v1/main/flows/search`, paged as Kestra pages; it holds its first answer until the MCP
session is initialized, and notes when it sent the last page. The client (stdio, as an AI
client) waits for `notifications/tools/list_changed`, then lists; the figure is the time from
the last page sent to the `tools/list` reply holding the 500 flow tools. Repeated `--runs`
times (a fresh server each); prints the median and the worst, and the server's own figure
(its log line "N served (M compiled) in X ms after Kestra answered").

    scripts/bench/flow_tools.py [--binary target/release/kestra-mcp] [--flows 500] [--runs 5]

Standard library only (Python >= 3.10).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent.parent
SEARCH = "/api/v1/main/flows/search"
LIMIT_MS = 100.0


def flows(n: int) -> list[dict]:
    types = ["STRING", "INT", "BOOLEAN", "SELECT"]
    out = []
    for i in range(n):
        inputs = [
            {"id": f"in_{k}", "type": t, "required": k == 0, "description": f"Input {k} of flow {i}.",
             **({"values": ["a", "b", "c"], "defaults": "a"} if t == "SELECT" else {})}
            for k, t in enumerate(types)
        ]
        out.append({
            "id": f"flow_{i:03d}", "namespace": f"bench.team{i % 10}", "revision": 1,
            "description": f"Benchmark flow {i}.", "disabled": False, "deleted": False,
            "labels": [{"key": "mcp", "value": "tool"}], "inputs": inputs,
            "outputs": [{"id": "result", "type": "STRING", "value": "{{ outputs.t.value }}"}],
            "tasks": [{"id": "t", "type": "io.kestra.plugin.core.debug.Return", "format": "x"}],
            "triggers": [],
        })
    return out


class Stub:
    def __init__(self, n: int):
        self.flows = flows(n)
        self.ready = threading.Event()
        self.last_page_sent: float | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                url = urlparse(self.path)
                if url.path != SEARCH:
                    self.send_response(404)
                    self.end_headers()
                    return
                stub.ready.wait(30)
                q = parse_qs(url.query)
                page, size = int(q.get("page", ["1"])[0]), int(q.get("size", ["10"])[0])
                results = stub.flows[(page - 1) * size: page * size]
                body = json.dumps({"results": results, "total": len(stub.flows)}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                if page * size >= len(stub.flows):
                    stub.last_page_sent = time.perf_counter()

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.http.server_address[1]


def one_run(binary: Path, n: int) -> tuple[float, str]:
    stub = Stub(n)
    tools = Path(tempfile.mkdtemp(prefix="flow-tools-bench-"))
    (tools / "flows.yaml").write_text("kind: flow_tools\nselect:\n  - labels: {mcp: tool}\nrefresh: 0\n")
    env = {"PATH": os.environ.get("PATH", ""), "KESTRA_BASE_URL": f"http://127.0.0.1:{stub.port}/api/v1",
           "KESTRA_MCP_DISABLED_TOOLS": "none", "KESTRA_MCP_TOOLS_DIR": str(tools),
           "KESTRA_MCP_LOG_LEVEL": "INFO"}
    proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True, bufsize=1)
    assert proc.stdin and proc.stdout and proc.stderr

    def send(msg: dict) -> None:
        proc.stdin.write(json.dumps(msg) + "\n")
        proc.stdin.flush()

    def recv() -> dict:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the server closed stdout: " + proc.stderr.read())
        return json.loads(line)

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
          "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
    while recv().get("id") != 1:
        pass
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    # Let the session subscribe before Kestra answers.
    send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    while recv().get("id") != 2:
        pass
    stub.ready.set()
    while recv().get("method") != "notifications/tools/list_changed":
        pass
    send({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
    while True:
        msg = recv()
        if msg.get("id") == 3:
            break
    listed = time.perf_counter()
    count = sum(1 for t in msg["result"]["tools"] if t["name"].startswith("flow_"))
    if count != n:
        raise RuntimeError(f"{count} flow tools listed, expected {n}")
    assert stub.last_page_sent is not None
    proc.stdin.close()
    proc.wait(10)
    stderr = proc.stderr.read()
    stub.http.shutdown()
    own = re.findall(r"flow tools: \d+ served \(\d+ compiled\) in (\d+) ms", stderr)
    return (listed - stub.last_page_sent) * 1000.0, (own[-1] if own else "?")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--binary", type=Path, default=target / "release" / "kestra-mcp")
    parser.add_argument("--flows", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    figures, own = [], []
    for _ in range(args.runs):
        ms, server_ms = one_run(args.binary, args.flows)
        figures.append(ms)
        own.append(server_ms)
    median, worst = statistics.median(figures), max(figures)
    verdict = "within" if worst <= LIMIT_MS else "OVER"
    print(f"{args.flows} flow tools listed {median:.1f} ms (median of {args.runs}; worst {worst:.1f} ms) "
          f"after Kestra's last flows page; server's own figure {', '.join(own)} ms; "
          f"{verdict} the {LIMIT_MS:.0f} ms bound ({args.binary.name})")
    return 0 if worst <= LIMIT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
