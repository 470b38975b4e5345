#!/usr/bin/env python3
"""Issue 20's figures for one or more release binaries, with harness.py's pieces: spawn to the
first `tools/list` (39 tools, KESTRA_MCP_DISABLED_TOOLS=none so nothing is asked of Kestra) with
peak RSS; the same with N generated specs, and the size of each `tools/list` page; server CPU
per call at 64 in flight; RSS after 1,000 and after 100,000 calls in one session; start-up RSS
under allocator and runtime settings (what each costs).

    scripts/bench/startup.py [--quick] [--specs N] [--calls N] [--calls-only] BINARY [BINARY...]

Prints one block of figures per binary (Markdown-ready lines); standard library only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

NO_NETWORK = {"KESTRA_MCP_DISABLED_TOOLS": "none"}


def spawn(binary: str, port: int, runs: int, extra: dict | None = None) -> dict:
    server = h.Server("kestra-mcp", [binary], h.base_env(port))
    return h.bench_spawn(server, runs, dict(NO_NETWORK, **(extra or {})))


def pages(binary: str, port: int, spec_dir: Path, page_size: str | None) -> list[int]:
    """Bytes of each `tools/list` page's result (compact JSON), following the cursors."""
    env = dict(h.base_env(port), KESTRA_MCP_TOOLS_DIR=str(spec_dir), **NO_NETWORK)
    if page_size:
        env["KESTRA_MCP_TOOLS_PAGE_SIZE"] = page_size
    s = h.Session([binary], env)
    sizes = []
    try:
        s.handshake()
        cursor = None
        while True:
            result = s.wait_for(s.request("tools/list", {"cursor": cursor} if cursor else {}))
            sizes.append(len(json.dumps(result, separators=(",", ":")).encode()))
            cursor = result.get("nextCursor")
            if not cursor:
                return sizes
    finally:
        s.close()


def calls(binary: str, port: int, loop_pid: int, total: int) -> dict:
    """CPU per call at 64 in flight, and RSS after 1,000 calls and after `total`."""
    s = h.Session([binary], dict(h.base_env(port), **NO_NETWORK))
    try:
        s.handshake()
        s.wait_for(s.request("tools/list", {}))
        # The first call compiles the tool (lazily); the next ones do not.
        times = []
        for _ in range(21):
            t = time.perf_counter()
            s.wait_for(s.call("bench"))
            times.append((time.perf_counter() - t) * 1000)
        h.bench_throughput(s, 64, 1000, 60, loop_pid)
        rss_1k = h.proc_status_kb(s.p.pid, "VmRSS")
        cpu = [h.bench_throughput(s, 64, 2000, 60, loop_pid) for _ in range(3)]
        done = 1000 + 6000
        while done < total:
            step = min(20000, total - done)
            h.bench_throughput(s, 64, step, 120, loop_pid)
            done += step
        return {
            "cpu_us": statistics.median(c["server_cpu_us_per_call"] for c in cpu),
            "calls_per_s": statistics.median(c["calls_per_s"] for c in cpu),
            "errors": sum(c["errors"] for c in cpu),
            "rss_1k_mb": (rss_1k or 0) / 1024,
            "rss_end_mb": (h.proc_status_kb(s.p.pid, "VmRSS") or 0) / 1024,
            "hwm_end_mb": (s.hwm_kb() or 0) / 1024,
            "calls": done,
            "first_ms": times[0],
            "next_ms": statistics.median(times[1:]),
        }
    finally:
        s.close()


def line(label: str, f: dict) -> str:
    return (
        f"- {label}: median {f['median_ms']:.1f} ms (min {f['min_ms']:.1f}, p90 {f['p90_ms']:.1f}, "
        f"{f['runs']} runs, {f['tools']} tools); peak RSS {f['rss_mb']:.1f} MB; at the reply "
        f"{f['rss_anon_mb']:.1f} MB anonymous + {f['rss_file_mb']:.1f} MB file-backed, {f['threads']} threads"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--specs", type=int, default=10000)
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--calls-only", action="store_true", help="only the per-call figures")
    args = ap.parse_args()
    runs = 5 if args.quick else 11
    loop, port = h.loopback_start()
    try:
        with tempfile.TemporaryDirectory(prefix="kestra-mcp-startup-") as tmp:
            spec_dir = h.make_spec_dir(Path(tmp), 0 if args.calls_only else args.specs, h.spec_template())
            for binary in args.binaries:
                print(f"## {binary} (load before: {h.load_average()})")
                if args.calls_only:
                    c = calls(binary, port, loop.pid, args.calls)
                    print(f"- 64 in flight: server CPU {c['cpu_us']:.0f} µs per call, {c['calls_per_s']:,.0f} calls/s")
                    continue
                print(line("39 tools", spawn(binary, port, runs)))
                for label, extra in [
                    ("MALLOC_ARENA_MAX=1", {"MALLOC_ARENA_MAX": "1"}),
                    ("MALLOC_ARENA_MAX=2", {"MALLOC_ARENA_MAX": "2"}),
                    ("TOKIO_WORKER_THREADS=1", {"TOKIO_WORKER_THREADS": "1"}),
                ]:
                    print(line(f"39 tools, {label}", spawn(binary, port, runs, extra)))
                big = spawn(binary, port, max(3, runs // 2), {"KESTRA_MCP_TOOLS_DIR": str(spec_dir)})
                print(line(f"{args.specs} generated specs", big))
                for size in (None, "100", "200"):
                    p = pages(binary, port, spec_dir, size)
                    print(
                        f"- tools/list pages with {args.specs} specs, KESTRA_MCP_TOOLS_PAGE_SIZE={size or 'unset'}: "
                        f"{len(p)} page(s), largest {max(p):,} bytes, total {sum(p):,} bytes"
                    )
                c = calls(binary, port, loop.pid, args.calls)
                print(
                    f"- 64 in flight: server CPU {c['cpu_us']:.0f} µs per call (median of 3 × 2,000), "
                    f"{c['calls_per_s']:,.0f} calls/s, {c['errors']} errors"
                )
                print(f"- first call {c['first_ms']:.2f} ms, the next 20 median {c['next_ms']:.2f} ms")
                print(
                    f"- RSS after 1,000 calls {c['rss_1k_mb']:.1f} MB, after {c['calls']:,} calls "
                    f"{c['rss_end_mb']:.1f} MB (peak {c['hwm_end_mb']:.1f} MB)"
                )
                print(f"- load after: {h.load_average()}")
                sys.stdout.flush()
    finally:
        loop.terminate()
        loop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
