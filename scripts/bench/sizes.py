#!/usr/bin/env python3
"""What an agent's context pays: `tools/list` bytes per mode and the answer bytes of the
listing tools (issue 19).

    python3 scripts/bench/sizes.py --binary target/debug/kestra-mcp [--tools-dir DIR] [--json]

- `tools/list` (compact JSON of the result, as sent) with every tool, KESTRA_MCP_TOOLSETS=default,
  =dynamic and KESTRA_MCP_READ_ONLY=true, and the largest definitions;
- `list_executions` over 40 and 500 executions, `search_logs` over 25 log entries and
  `list_flows_in_namespace` over 20 flows, served by a stub Kestra made of recorded shapes
  (recorded-1.3.0: a two-task execution with attempts and histories, a log entry, a flow).

`--tools-dir` serves other specs over the built-in ones (e.g. an older tools.d, for a before
and after). harness.py imports `measure` for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def compact(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def state(current: str, start: str, end: str, duration: str) -> dict:
    return {
        "current": current,
        "histories": [
            {"state": "CREATED", "date": start},
            {"state": "RUNNING", "date": start},
            {"state": current, "date": end},
        ],
        "duration": duration,
        "startDate": start,
        "endDate": end,
    }


def execution(n: int) -> dict:
    """An execution of two tasks shaped as recorded-1.3.0 executions/get-failed."""
    start = f"2026-12-07T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.016983Z"
    end = start.replace(".016983Z", ".544740Z")
    current = "FAILED" if n % 5 == 0 else "SUCCESS"
    eid = f"{n:06d}HeFJALcgPqrAFbWq9d"

    def task(task_id: str, st: str) -> dict:
        return {
            "id": f"{task_id[:4]}{n:06d}Os9kZG9ovr",
            "executionId": eid,
            "namespace": "company.team",
            "flowId": "nightly",
            "taskId": task_id,
            "attempts": [{"state": state(st, start, end, "PT0.001172S"),
                          "workerId": "2869e392-87be-4883-a927-b58ab5c2b773"}],
            "outputs": {},
            "state": state(st, start, end, "PT0.027757S"),
        }

    return {
        "id": eid,
        "namespace": "company.team",
        "flowId": "nightly",
        "flowRevision": 3,
        "taskRunList": [task("start", "SUCCESS"), task("load", current)],
        "inputs": {"day": "2026-12-06"},
        "labels": [{"key": "system.correlationId", "value": eid}, {"key": "team", "value": "data"}],
        "state": state(current, start, end, "PT0.527757S"),
        "originalId": eid,
        "deleted": False,
        "metadata": {"attemptNumber": 1, "originalCreatedDate": start},
        "scheduleDate": start,
        "kind": None,
    }


def log_entry(n: int) -> dict:
    return {
        "namespace": "company.team", "flowId": "nightly", "taskId": "load",
        "executionId": f"{n:06d}HeFJALcgPqrAFbWq9d", "taskRunId": f"load{n:06d}Os9kZG9ovr",
        "attemptNumber": 0, "timestamp": f"2026-12-07T00:02:{n % 60:02d}.865006Z",
        "level": "ERROR", "thread": "worker_0", "message": "warehouse refused the load",
        "deleted": False,
    }


def flow(n: int) -> dict:
    return {
        "id": f"flow_{n}", "namespace": "company.team", "revision": 2,
        "description": f"Loads table {n} into the warehouse\nRuns nightly; owner: data team",
        "disabled": False, "deleted": False, "updated": "2026-12-07T00:02:28.450560Z",
        "inputs": [{"id": "day", "type": "STRING", "required": False}],
        "labels": [{"key": "team", "value": "data"}],
        "tasks": [{"id": "extract", "type": "io.kestra.plugin.core.log.Log", "message": "extract {{ inputs.day }}"},
                  {"id": "load", "type": "io.kestra.plugin.core.log.Log", "message": "load"}],
        "triggers": [{"id": "nightly", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "0 2 * * *"}],
    }


class Stub(BaseHTTPRequestHandler):
    executions: list[dict] = []

    def log_message(self, *_):
        pass

    def reply(self, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        page, size = int(q.get("page", 1)), int(q.get("size", 10))
        if url.path.endswith("/configs"):
            self.reply({"version": "1.3.0", "edition": "OSS"})
        elif url.path.endswith("/executions/search"):
            items = Stub.executions
            self.reply({"results": items[(page - 1) * size: page * size], "total": len(items)})
        elif url.path.endswith("/logs/search"):
            self.reply({"results": [log_entry(n) for n in range(size)], "total": 1000})
        elif "/flows/" in url.path:
            self.reply([flow(n) for n in range(20)])
        else:
            self.reply({})


class Session:
    def __init__(self, binary: str, env: dict[str, str]):
        self.p = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env, text=True)
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "sizes", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, msg: dict) -> None:
        assert self.p.stdin
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        assert self.p.stdout
        while True:
            msg = json.loads(self.p.stdout.readline())
            if msg.get("id") == self.next_id:
                return msg

    def call_bytes(self, tool: str, args: dict) -> int:
        """Bytes of the text the agent reads (the result's text content)."""
        result = self.request("tools/call", {"name": tool, "arguments": args})["result"]
        assert not result.get("isError"), result
        return sum(len(c.get("text", "").encode()) for c in result["content"])

    def close(self) -> None:
        self.p.kill()
        self.p.wait()


def measure(binary: str, tools_dir: str | None = None) -> dict:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"PATH": os.environ.get("PATH", ""),
           "KESTRA_BASE_URL": f"http://127.0.0.1:{server.server_port}/api/v1",
           "KESTRA_VERSION": "1.3.0", "KESTRA_MCP_DISABLED_TOOLS": "none"}
    if tools_dir:
        env["KESTRA_MCP_TOOLS_DIR"] = tools_dir
    out: dict = {"modes": {}, "answers": {}}
    try:
        for mode, extra in [("all", {}), ("default", {"KESTRA_MCP_TOOLSETS": "default"}),
                            ("dynamic", {"KESTRA_MCP_TOOLSETS": "dynamic"}),
                            ("read-only", {"KESTRA_MCP_READ_ONLY": "true"})]:
            s = Session(binary, dict(env, **extra))
            listing = s.request("tools/list", {})["result"]
            out["modes"][mode] = {"tools": len(listing["tools"]), "bytes": compact(listing)}
            if mode == "all":
                per_tool = sorted(((compact(t), t["name"]) for t in listing["tools"]), reverse=True)
                out["largest"] = per_tool[:5]
            s.close()
        s = Session(binary, env)
        for n in (40, 500):
            Stub.executions = [execution(i) for i in range(n)]
            out["answers"][f"list_executions, {n} executions"] = s.call_bytes(
                "list_executions", {"namespace": "company.team"})
        out["answers"]["search_logs, 25 entries"] = s.call_bytes("search_logs", {"namespace": "company.team"})
        out["answers"]["list_flows_in_namespace, 20 flows"] = s.call_bytes(
            "list_flows_in_namespace", {"namespace": "company.team"})
        s.close()
    finally:
        server.shutdown()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/debug/kestra-mcp")
    ap.add_argument("--tools-dir")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    figures = measure(args.binary, args.tools_dir)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for mode, f in figures["modes"].items():
        print(f"tools/list {mode:<10} {f['tools']:>3} tools {f['bytes']:>7,} bytes")
    for size, name in figures["largest"]:
        print(f"  {size:>6,} {name}")
    for what, size in figures["answers"].items():
        print(f"{what:<40} {size:>7,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
