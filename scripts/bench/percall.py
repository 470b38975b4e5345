#!/usr/bin/env python3
"""Issue 20's per-call figures for one or more binaries, with harness.py's pieces: the round
trip of `list_flows_in_namespace` (one call in flight) p50/p99 next to a bare keep-alive HTTP
request to the same loopback stub, the overhead (difference of the p50s), and server CPU per
call at 64 in flight (median of 3 × 2,000 calls). The binaries are run in turn, ROUNDS times,
so that a loaded machine weighs on each alike.

    scripts/bench/percall.py [--rounds N] [--calls N] BINARY [BINARY...]

Standard library only.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402  (beside this file)


def figures(binary: str, port: int, loop_pid: int, calls: int) -> dict:
    s = h.Session([binary], h.base_env(port))
    try:
        s.handshake()
        s.wait_for(s.request("tools/list", {}))
        for _ in range(50):  # the first call compiles the tool; warm up past it
            s.wait_for(s.call("bench"))
        rt = h.bench_roundtrip(s, calls)
        bare = h.bench_bare_http(port, calls)
        h.bench_throughput(s, 64, 1000, 60, loop_pid)
        cpu = [h.bench_throughput(s, 64, 2000, 60, loop_pid) for _ in range(3)]
        return {
            "rt": rt,
            "bare": bare,
            "cpu_us": statistics.median(c["server_cpu_us_per_call"] for c in cpu),
            "calls_per_s": statistics.median(c["calls_per_s"] for c in cpu),
            "errors": rt["errors"] + sum(c["errors"] for c in cpu),
        }
    finally:
        s.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--calls", type=int, default=2000, help="round trips per figure")
    args = ap.parse_args()
    loop, port = h.loopback_start()
    try:
        for _ in range(args.rounds):
            for binary in args.binaries:
                load = h.load_average()
                f = figures(binary, port, loop.pid, args.calls)
                print(
                    f"- {binary} (load {load}): round trip p50 {f['rt']['p50_ms']:.3f} ms "
                    f"(p99 {f['rt']['p99_ms']:.3f}), bare HTTP p50 {f['bare']['p50_ms']:.3f} ms, "
                    f"overhead p50 {f['rt']['p50_ms'] - f['bare']['p50_ms']:.3f} ms; 64 in flight: "
                    f"server CPU {f['cpu_us']:.0f} µs per call, {f['calls_per_s']:,.0f} calls/s; "
                    f"{f['errors']} errors",
                    flush=True,
                )
    finally:
        loop.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
