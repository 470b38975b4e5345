#!/usr/bin/env python3
"""Splits a profile of the server by pipeline stage, from `perf script` output with call graphs:

    perf record -F 4000 --call-graph dwarf,16384 -p PID -o perf.data   # while calls stream
    perf script -i perf.data | scripts/bench/perf_stages.py

Each sample goes to the first stage whose patterns all appear in its stack; the stages go from
the most specific to the most general, and the first one (waiting and waking threads) is split
again by the stage it happened in. Standard library only.
"""
import re, sys, collections
# A frame whose own function is in the module that follows (`path::f`, `<path::T as …>::f`, or an
# inlined `f<path::…>`), not one that only names it among its generic parameters.
OWN = r"(?m)^[0-9a-f]+ (<|[{}#a-z_0-9]+<)?"
RULES = [
    ("hand-offs: futex/epoll/sched (park, wake)", r"futex|__schedule|schedule_hrtimeout|epoll_wait|ep_poll|try_to_wake_up|finish_task_switch|sched_yield|Condvar|park_internal|unpark"),
    ("argument validation (jsonschema)", r"jsonschema::"),
    ("template rendering (minijinja, render)", r"minijinja::|kestra_mcp::render"),
    ("answer decoding", r"kestra_mcp::answer"),
    ("projection", r"kestra_mcp::project"),
    ("reqwest/hyper send+receive (incl. socket syscalls)", r"hyper::|reqwest::|hyper_util::"),
    ("rmcp: JSON-RPC decode (serde)", (r"AsyncRwTransport", r"serde_json::de|[dD]eserialize")),
    ("rmcp: message encode (serde)", (r"JsonRpcMessageCodec|FramedWrite", r"serde_json::ser|[sS]erialize")),
    ("blocking-pool hand-off (tokio Stdin/Stdout)", OWN + r"(<?tokio::io::blocking|<?tokio::runtime::blocking::pool::Spawner|tokio::runtime::blocking::pool::spawn_blocking)"),
    ("stdin read (tokio Stdin's or the reader thread's read)", OWN + r"(<?std::io::stdio::(Stdin|StdinRaw)|<?kestra_mcp::stdio::(ThreadReader|read_chunks))|^[0-9a-f]+ read_chunks"),
    ("stdout write (tokio Stdout's or the writer thread's write)", OWN + r"(<?std::io::stdio::(Stdout|StdoutRaw)|<&std::io::stdio::Stdout|<?kestra_mcp::stdio::(ThreadWriter|write_chunks))|^[0-9a-f]+ write_chunks"),
    ("framing layer (stdio.rs: line checks, answered_id, duplex pipes)", OWN + r"(kestra_mcp::stdio::|tokio::io::util::mem::)|DuplexStream as|SimplexStream as"),
    ("engine/serve (call_tool, run, request, etc.)", OWN + r"kestra_mcp::"),
    ("rmcp dispatch (service loop, handler glue)", r"rmcp::"),
    ("tokio runtime (task polls, timers, io driver)", r"tokio::"),
    ("allocator/libc/other", r"."),
]
def main():
    comp = [(n, [re.compile(x) for x in (p if isinstance(p, tuple) else (p,))]) for n, p in RULES]
    counts = collections.Counter(); sub = collections.Counter(); total = 0
    stack = []
    def flush():
        nonlocal total
        if not stack: return
        s = "\n".join(stack)
        first = True
        for n, p in comp:
            if all(x.search(s) for x in p):
                if first and n.startswith("hand-offs"):
                    first = False; counts[n] += 1
                    continue
                if not first:
                    sub["  of which in " + n] += 1
                else:
                    counts[n] += 1
                break
        total += 1
    for line in sys.stdin:
        if not line.strip():
            flush(); stack = []; continue
        if line[0] in " \t":
            stack.append(line.strip())
        else:
            flush(); stack = []
    flush()
    for n, _ in RULES:
        print(f"| {n} | {100*counts[n]/max(total,1):.1f}% |")
        if n.startswith("hand-offs"):
            for k, v in sorted(sub.items(), key=lambda kv: -kv[1]):
                print(f"| {k} | {100*v/max(total,1):.1f}% |")
    print(f"| samples | {total} |")
if __name__ == "__main__":
    main()
