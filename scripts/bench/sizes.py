#!/usr/bin/env python3
"""What an agent's context pays: `tools/list` bytes per mode and the answer bytes of the
listing tools (issue 19), side by side with the Python server when it is installed.

    python3 scripts/bench/sizes.py --binary target/debug/kestra-mcp [--tools-dir DIR]
        [--python-venv .tools/pyserver] [--json]

- `tools/list` (compact JSON of the result, as sent) with every tool, KESTRA_MCP_TOOLSETS=default,
  =dynamic and KESTRA_MCP_READ_ONLY=true, and the largest definitions;
- `list_executions` over 40 and 500 executions, `search_logs` over 25 log entries and
  `list_flows_in_namespace` over 20 flows, served by a stub Kestra made of recorded shapes
  (recorded-1.3.0: a two-task execution with attempts and histories, a log entry, a flow).

An answer is measured twice: the bytes of its text content (what a host that reads the text
gives the model) and of the whole `result` as sent (text plus any `structuredContent`: what a
host that forwards both gives it). `--tools-dir` serves other specs over the built-in ones (e.g.
an older tools.d, for a before and after). harness.py imports `measure` for docs/benchmarks.md.
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
        elif url.path.endswith("/executions/search") or url.path.endswith("/executions"):
            # The Python server (0.1.2) lists with GET /executions, kestra-mcp searches.
            items = Stub.executions
            self.reply({"results": items[(page - 1) * size: page * size], "total": len(items)})
        elif url.path.endswith("/logs/search"):
            self.reply({"results": [log_entry(n) for n in range(size)], "total": 1000})
        elif "/flows/" in url.path:
            self.reply([flow(n) for n in range(20)])
        else:
            self.reply({})


class Session:
    def __init__(self, cmd: list[str], env: dict[str, str]):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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

    def call_bytes(self, tool: str, args: dict) -> dict:
        """Bytes of the result's text content, and of the whole result as sent."""
        result = self.request("tools/call", {"name": tool, "arguments": args})["result"]
        if result.get("isError"):
            return {"error": " ".join(c.get("text", "") for c in result["content"])[:200]}
        return {"text": sum(len(c.get("text", "").encode()) for c in result["content"]),
                "result": compact(result),
                "structured": "structuredContent" in result}

    def close(self) -> None:
        self.p.kill()
        self.p.wait()


def answers(s: Session) -> dict:
    """The listing tools' answers, called the same way on either server."""
    out = {}
    for n in (40, 500):
        Stub.executions = [execution(i) for i in range(n)]
        out[f"list_executions, {n} executions"] = s.call_bytes("list_executions", {"namespace": "company.team"})
    out["search_logs, 25 entries"] = s.call_bytes("search_logs", {"namespace": "company.team"})
    out["list_flows_in_namespace, 20 flows"] = s.call_bytes(
        "list_flows_in_namespace", {"namespace": "company.team"})
    return out


def python_command(venv: str) -> tuple[list[str], dict[str, str]] | None:
    """How to run the Python server installed in `venv` (scripts/bench.sh installs it), or None."""
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        return None
    found = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True)
    src = os.path.join(found.stdout.strip(), "src")
    if not os.path.exists(os.path.join(src, "server.py")):
        return None
    return [py, "-c", "import server; server.main()"], {"PYTHONPATH": src}


def measure(binary: str, tools_dir: str | None = None, python_venv: str | None = None) -> dict:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"PATH": os.environ.get("PATH", ""),
           "KESTRA_BASE_URL": f"http://127.0.0.1:{server.server_port}/api/v1",
           "KESTRA_VERSION": "1.3.0", "KESTRA_MCP_DISABLED_TOOLS": "none"}
    if tools_dir:
        env["KESTRA_MCP_TOOLS_DIR"] = tools_dir
    out: dict = {"modes": {}, "answers": {}, "python": None}
    try:
        for mode, extra in [("all", {}), ("default", {"KESTRA_MCP_TOOLSETS": "default"}),
                            ("dynamic", {"KESTRA_MCP_TOOLSETS": "dynamic"}),
                            ("read-only", {"KESTRA_MCP_READ_ONLY": "true"})]:
            s = Session([binary], dict(env, **extra))
            listing = s.request("tools/list", {})["result"]
            out["modes"][mode] = {"tools": len(listing["tools"]), "bytes": compact(listing)}
            if mode == "all":
                per_tool = sorted(((compact(t), t["name"]) for t in listing["tools"]), reverse=True)
                out["largest"] = per_tool[:5]
            s.close()
        s = Session([binary], env)
        out["answers"] = answers(s)
        s.close()
        python = python_command(python_venv) if python_venv else None
        if python:
            cmd, extra = python
            s = Session(cmd, dict(env, **extra))
            listing = s.request("tools/list", {})["result"]
            out["python"] = {"tools": len(listing["tools"]), "bytes": compact(listing), "answers": answers(s)}
            s.close()
    finally:
        server.shutdown()
    return out


def shown(answer: dict | None) -> tuple[str, str]:
    """An answer's text and result bytes as table cells."""
    if not answer:
        return "n/a", "n/a"
    if "error" in answer:
        return ("no such tool", "") if "Unknown tool" in answer["error"] else ("error", answer["error"])
    return f"{answer['text']:,}", f"{answer['result']:,}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/debug/kestra-mcp")
    ap.add_argument("--tools-dir")
    ap.add_argument("--python-venv", help="the Python server's venv (scripts/bench.sh: .tools/pyserver)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    figures = measure(args.binary, args.tools_dir, args.python_venv)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    py = figures["python"]
    for mode, f in figures["modes"].items():
        other = f"   Python server {py['tools']} tools {py['bytes']:,} bytes" if py and mode == "all" else ""
        print(f"tools/list {mode:<10} {f['tools']:>3} tools {f['bytes']:>7,} bytes{other}")
    for size, name in figures["largest"]:
        print(f"  {size:>6,} {name}")
    print(f"{'answer':<36} {'text':>8} {'result':>8}   {'Python text':>11} {'result':>8}")
    for what, answer in figures["answers"].items():
        text, result = shown(answer)
        py_text, py_result = shown(py["answers"].get(what) if py else None)
        print(f"{what:<36} {text:>8} {result:>8}   {py_text:>11} {py_result:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
