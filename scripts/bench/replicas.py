#!/usr/bin/env python3
"""Throughput of kestra-mcp over HTTP with 1 and with 3 replicas behind HAProxy (issue 22).

Each run starts kestra-sim, N replicas (`serve --http`) and HAProxy (tests/deploy/replicas.py),
opens SESSIONS MCP sessions with the official Python SDK (the handshake revision, so HAProxy
keeps each on its replica) and has every session call `list_namespaces` back to back for
SECONDS; it prints calls per second and the p50/p95 latency per replica count, with the
machine's load average. On a 2-core machine the client, HAProxy, kestra-sim and the replicas
share the same two cores: the figure says how far replicas help when the cores are not all busy
already, not what a cluster does.

Usage: replicas.py [--binary PATH] [--sessions 16] [--seconds 10] [--counts 1,3]
"""

import argparse
import logging
import os
import statistics
import sys
import time

import anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "deploy"))


async def session_loop(url, token, seconds, latencies):
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, streamable_http_client(url, http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                started = time.perf_counter()
                result = await session.call_tool("list_namespaces", {})
                latencies.append(time.perf_counter() - started)
                if result.is_error:
                    raise RuntimeError(result.content[0].text)


def run(count, sessions, seconds):
    from replicas import Replicas

    with Replicas(count=count, token="bench") as cluster:
        latencies = []

        async def all_sessions():
            async with anyio.create_task_group() as tg:
                for _ in range(sessions):
                    tg.start_soon(session_loop, cluster.url, "bench", seconds, latencies)

        started = time.monotonic()
        anyio.run(all_sessions)
        elapsed = time.monotonic() - started
        spread = cluster.served()
    latencies.sort()
    return {
        "replicas": count,
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        "requests_per_replica": spread,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", help="kestra-mcp to run (default: KESTRA_MCP_BIN or target/debug)")
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--counts", default="1,3")
    args = parser.parse_args()
    # The SDK logs rmcp's 202 answer to a session's DELETE as a failed termination: noise here.
    logging.getLogger("mcp").setLevel(logging.ERROR)
    if args.binary:
        os.environ["KESTRA_MCP_BIN"] = os.path.abspath(args.binary)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"{args.sessions} sessions, {args.seconds:g} s each run")
    print("| replicas | calls/s | p50 ms | p95 ms | requests per replica |")
    print("|---|---|---|---|---|")
    for count in (int(c) for c in args.counts.split(",")):
        r = run(count, args.sessions, args.seconds)
        print(f"| {r['replicas']} | {r['calls_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['requests_per_replica']} |", flush=True)


if __name__ == "__main__":
    main()
