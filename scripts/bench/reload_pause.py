#!/usr/bin/env python3
"""Hot reload of N specs (default 10,000) while calls are in flight: the longest call pause
(issue 20: "Hot reload of 10,000 specs does not stall calls in flight").

Generates N specs (copies of the built-in `list_flows_in_namespace`, harness.py's generator) in a
temporary tools directory and starts the server with `--watch` on it and a stub Kestra (a
ThreadingHTTPServer in this process answering `GET /api/v1/main/flows/bench` with `[]`). Over
stdio (`initialize`, `notifications/initialized`) it keeps `--inflight` calls of the built-in
`list_flows_in_namespace` going: a reader thread times each reply (time.perf_counter) and sends
the next call at once. After a warm-up and a steady `--baseline`, it rewrites one spec file (a comment
appended), so the watcher reloads the directory, and waits for the reload's
`notifications/tools/list_changed` (stdout) plus `--settle` seconds. Figures per run:

- baseline: call latency p50/p99/max and the longest gap between two consecutive replies;
- reload window (the rewrite to the `tools/list_changed` notification; it includes the watcher's
  150 ms settle delay): its duration, the calls answered in it, the longest latency of a call
  that was in flight in it, and the longest gap between two consecutive replies overlapping it.

A reload that stalls calls shows a longest gap close to the reload's duration; one that does
not shows a gap of the order of the baseline's. Repeated `--runs` times (a fresh server each);
prints the median and the worst of each figure, one Markdown-ready line each.

    scripts/bench/reload_pause.py [--binary target/release/kestra-mcp] [--specs 10000] [--runs 3]

Standard library only (Python >= 3.10).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

CALL = {"name": "list_flows_in_namespace", "arguments": {"namespace": "bench"}}
LIST_CHANGED = "notifications/tools/list_changed"


class StubKestra:
    """Answers the one GET `list_flows_in_namespace` sends (`/flows/bench` -> `[]`), `/configs`
    with a version, anything else `{}`; HTTP/1.1 keep-alive, one thread per connection."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The head and the body are two writes: without TCP_NODELAY, Nagle's algorithm and
            # the client's delayed ACK hold the body ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path.endswith("/flows/bench"):
                    body = b"[]"
                elif path.endswith("/configs"):
                    body = b'{"version": "1.3.0"}'
                else:
                    body = b"{}"
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.http.server_address[1]

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@dataclass
class Calls:
    """The calls of one run: sent and answered times, and the events seen on stdout/stderr."""

    sent: dict[int, float] = field(default_factory=dict)
    replies: list[tuple[float, float]] = field(default_factory=list)  # (sent, answered)
    errors: int = 0
    list_changed: float | None = None
    reloaded_line: str | None = None
    refused_line: str | None = None
    stderr_tail: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


class Server:
    """The server process under test, with `inflight` calls kept going from a reader thread."""

    def __init__(self, binary: str, tools_dir: Path, port: int, inflight: int) -> None:
        env = dict(h.base_env(port), KESTRA_MCP_TOOLS_DIR=str(tools_dir))
        self.p = subprocess.Popen(
            [binary, "--watch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self.inflight = inflight
        self.calls = Calls()
        self.lock = threading.Lock()
        self.next_id = 0
        self.stop = False
        self.handshaken = threading.Event()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _send(self, method: str, params: dict | None = None, notify: bool = False) -> int:
        with self.lock:
            msg: dict = {"jsonrpc": "2.0", "method": method}
            if not notify:
                self.next_id += 1
                msg["id"] = self.next_id
                if method == "tools/call":
                    self.calls.sent[self.next_id] = time.perf_counter()
            if params is not None:
                msg["params"] = params
            assert self.p.stdin is not None
            self.p.stdin.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
            self.p.stdin.flush()
            return self.next_id

    def start(self, timeout: float) -> None:
        """Handshakes, then starts the calls (the reader thread keeps them going)."""
        self._send(
            "initialize",
            {"protocolVersion": h.PROTOCOL_VERSION, "capabilities": {},
             "clientInfo": {"name": "reload-pause-bench", "version": "1"}},
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        if not self.handshaken.wait(timeout):
            raise h.ServerFailed("no initialize reply: " + "".join(self.calls.stderr_tail[-20:]))
        self._send("notifications/initialized", notify=True)
        for _ in range(self.inflight):
            self._send("tools/call", CALL)

    def _read_stdout(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            now = time.perf_counter()
            if not line.strip():
                continue
            msg = json.loads(line)
            if msg.get("method") == LIST_CHANGED:
                if self.calls.list_changed is None:
                    self.calls.list_changed = now
                continue
            if msg.get("id") == 1 and not self.handshaken.is_set():
                self.handshaken.set()
                continue
            sent = self.calls.sent.pop(msg.get("id"), None)
            if sent is None:
                continue
            self.calls.replies.append((sent, now))
            if "error" in msg or msg.get("result", {}).get("isError"):
                self.calls.errors += 1
            if not self.stop:
                self._send("tools/call", CALL)
        self.calls.done.set()

    def _read_stderr(self) -> None:
        assert self.p.stderr is not None
        for raw in self.p.stderr:
            line = raw.decode(errors="replace")
            self.calls.stderr_tail = (self.calls.stderr_tail + [line])[-50:]
            if "reloaded, " in line and self.calls.reloaded_line is None:
                self.calls.reloaded_line = line.strip()
            if "not reloaded" in line:
                self.calls.refused_line = line.strip()

    def close(self) -> None:
        self.stop = True
        h.end_process(self.p)
        self.calls.done.wait(5)


def latency_ms(replies: list[tuple[float, float]]) -> list[float]:
    return [(answered - sent) * 1000 for sent, answered in replies]


def longest_gap(replies: list[tuple[float, float]], start: float, end: float) -> tuple[float, float]:
    """The longest time between two consecutive replies, among the pairs overlapping
    [start, end] (the last reply before `start` and the first after `end` count), in ms, and
    when it began, in ms after `start`."""
    times = sorted(answered for _, answered in replies)
    gaps = [(b - a, a) for a, b in zip(times, times[1:]) if b >= start and a <= end]
    gap, at = max(gaps, default=(float("nan"), start))
    return gap * 1000, (at - start) * 1000


def one_run(binary: str, tools_dir: Path, touched: Path, port: int, args, run: int) -> dict:
    server = Server(binary, tools_dir, port, args.inflight)
    try:
        t0 = time.perf_counter()
        server.start(args.timeout)
        started = time.perf_counter() - t0
        time.sleep(args.warmup)
        base_start = time.perf_counter()
        time.sleep(args.baseline)
        touch = time.perf_counter()
        # A comment appended: the directory's fingerprint (size, mtime) changes, the tools do not.
        touched.write_text(touched.read_text() + f"# rewritten by reload_pause.py, run {run}\n")
        deadline = touch + args.timeout
        while server.calls.list_changed is None and time.perf_counter() < deadline:
            if server.p.poll() is not None or server.calls.refused_line:
                raise h.ServerFailed("server exited or refused the reload: " + "".join(server.calls.stderr_tail[-20:]))
            time.sleep(0.01)
        end = server.calls.list_changed
        if end is None:
            raise h.ServerFailed(f"no {LIST_CHANGED} within {args.timeout} s: " + "".join(server.calls.stderr_tail[-20:]))
        time.sleep(args.settle)
        replies = list(server.calls.replies)
    finally:
        server.close()
    base = [r for r in replies if base_start <= r[0] and r[1] <= touch]
    during = [r for r in replies if r[0] <= end and r[1] >= touch]
    answered_in = [r for r in replies if touch <= r[1] <= end]
    base_lat = latency_ms(base)
    gap, gap_at = longest_gap(replies, touch, end)
    return {
        "startup_ms": started * 1000,
        "base_calls": len(base),
        "base_p50": h.pct(base_lat, 50),
        "base_p99": h.pct(base_lat, 99),
        "base_max": max(base_lat, default=float("nan")),
        "base_gap": longest_gap(base, base_start, touch)[0],
        "reload_ms": (end - touch) * 1000,
        "answered": len(answered_in),
        "longest_call": max(latency_ms(during), default=float("nan")),
        "longest_gap": gap,
        "gap_at": gap_at,
        "errors": server.calls.errors,
        "reloaded_line": server.calls.reloaded_line or "(no 'reloaded' line on stderr)",
    }


FIGURES = [
    ("base_p50", "baseline call latency p50", "ms"),
    ("base_p99", "baseline call latency p99", "ms"),
    ("base_max", "baseline call latency max", "ms"),
    ("base_gap", "baseline longest gap between two replies", "ms"),
    ("reload_ms", "reload window (spec rewritten -> tools/list_changed, incl. the 150 ms settle delay)", "ms"),
    ("answered", "calls answered during the reload window", ""),
    ("longest_call", "longest latency of a call in flight during the reload", "ms"),
    ("longest_gap", "longest gap between two replies during the reload (the longest call pause)", "ms"),
]


def figure(values: list[float], unit: str) -> str:
    fmt = (lambda x: f"{x:,.1f} ms") if unit == "ms" else (lambda x: f"{x:,.0f}")
    return f"{fmt(statistics.median(values))} median, worst {fmt(max(values) if unit == 'ms' else min(values))}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(h.ROOT / "target" / "release" / "kestra-mcp"))
    ap.add_argument("--specs", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--inflight", type=int, default=8)
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of calls before the baseline")
    ap.add_argument("--baseline", type=float, default=2.0, help="seconds of steady calls measured")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds of calls after the reload")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for start-up or a reload")
    args = ap.parse_args()
    binary = str(Path(args.binary).resolve())
    if not Path(binary).exists():
        h.log(f"no binary at {binary}")
        return 2
    load_before = h.load_average()
    stub = StubKestra()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="kestra-mcp-reload-") as tmp:
            tools_dir = h.make_spec_dir(Path(tmp), args.specs, h.spec_template())
            touched = tools_dir / f"bench_tool_{args.specs // 2:05d}.yaml"
            for run in range(1, args.runs + 1):
                r = one_run(binary, tools_dir, touched, stub.port, args, run)
                h.log(
                    f"run {run}: start-up {r['startup_ms']:.0f} ms; baseline {r['base_calls']} calls "
                    f"p50 {r['base_p50']:.2f} / p99 {r['base_p99']:.2f} / max {r['base_max']:.2f} ms, "
                    f"gap {r['base_gap']:.2f} ms; reload {r['reload_ms']:.0f} ms, {r['answered']} answered, "
                    f"longest call {r['longest_call']:.1f} ms, longest gap {r['longest_gap']:.1f} ms "
                    f"(from +{r['gap_at']:.0f} ms after the rewrite); "
                    f"{r['errors']} errors; {r['reloaded_line']}"
                )
                results.append(r)
    finally:
        stub.close()
    print(
        f"Hot reload of {args.specs:,} specs, {args.inflight} calls in flight, {args.runs} runs "
        f"({binary}; load {load_before} -> {h.load_average()}):"
    )
    for key, label, unit in FIGURES:
        print(f"- {label}: {figure([r[key] for r in results], unit)}")
    errors = sum(r["errors"] for r in results)
    print(f"- error replies: {errors}")
    worst_gap = max(r["longest_gap"] for r in results)
    base_gap = max(r["base_gap"] for r in results)
    paused = worst_gap >= 10 * max(base_gap, 1.0)
    verdict = "calls PAUSED during the reload" if paused else "no pause beyond the baseline's order"
    print(
        f"- verdict: {verdict} (worst reload gap {worst_gap:,.1f} ms, worst baseline gap {base_gap:,.1f} ms; "
        f"a pause is a gap over 10x the baseline's; where it fell is in each run's line on stderr)"
    )
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
