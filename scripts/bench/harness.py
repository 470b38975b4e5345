#!/usr/bin/env python3
"""Whole-process benchmarks of kestra-mcp, side by side with the Python MCP server for Kestra.

Speaks MCP over stdio like a client does (newline-delimited JSON-RPC: `initialize`,
`notifications/initialized`, then requests) against a loopback stand-in of the Kestra API
(loopback.py) that answers at once. Figures:

1. spawn to the first `tools/list` reply (median, p90) and peak RSS (VmHWM);
2. tool-call round trip (`list_flows_in_namespace`) p50/p99, next to a bare keep-alive HTTP
   request to the same loopback server from this same process;
3. throughput with 1, 8 and 64 calls in flight on one session, and a head-of-line check;
4. start-up with N generated specs in KESTRA_MCP_TOOLS_DIR;
5. release binary size and the Docker image size computed from the Dockerfile.

Writes docs/benchmarks.md and prints a summary. Standard library only (Python >= 3.10).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import sizes as context_sizes  # noqa: E402  (beside this file)
PROTOCOL_VERSION = "2025-06-18"
TOOL = "list_flows_in_namespace"
TENANT = "main"

# Targets from issue 5 (medians on the 2-core reference machine).
TARGET_SPAWN_MS = 10.0
TARGET_SPAWN_5000_MS = 100.0
TARGET_RSS_MB = 10.0
TARGET_OVERHEAD_MS = 0.2
TARGET_THROUGHPUT_64 = 5000.0
TARGET_BINARY_MB = 15.0
TARGET_IMAGE_MB = 25.0


# ---------------------------------------------------------------- helpers


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def proc_status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


class ServerFailed(RuntimeError):
    pass


class Session:
    """One MCP server process spoken to over stdio."""

    def __init__(self, cmd: list[str], env: dict[str, str]):
        self.errfile = tempfile.TemporaryFile()
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errfile, env=env
        )
        self.next_id = 0

    def send(self, msg: dict) -> None:
        self.p.stdin.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")

    def flush(self) -> None:
        self.p.stdin.flush()

    def request(self, method: str, params: dict | None = None, flush: bool = True) -> int:
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        if flush:
            self.flush()
        return self.next_id

    def call(self, namespace: str, flush: bool = True) -> int:
        return self.request(
            "tools/call", {"name": TOOL, "arguments": {"namespace": namespace}}, flush=flush
        )

    def recv(self) -> dict:
        """The next response (server notifications and requests are skipped)."""
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise ServerFailed(f"server closed stdout; stderr: {self.stderr()[-2000:]}")
            line = line.strip()
            if not line:
                continue
            msg = json.loads(line)
            if "id" in msg and ("result" in msg or "error" in msg):
                return msg

    def wait_for(self, req_id: int) -> dict:
        msg = self.recv()
        if msg.get("id") != req_id:
            raise ServerFailed(f"expected reply {req_id}, got {msg.get('id')}")
        if "error" in msg:
            raise ServerFailed(f"error reply: {msg['error']}")
        return msg["result"]

    def handshake(self) -> dict:
        rid = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "kestra-mcp-bench", "version": "1"},
            },
        )
        result = self.wait_for(rid)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.flush()
        return result

    def hwm_kb(self) -> int | None:
        return proc_status_kb(self.p.pid, "VmHWM")

    def stderr(self) -> str:
        self.errfile.seek(0)
        return self.errfile.read().decode(errors="replace")

    def close(self) -> None:
        end_process(self.p)
        self.errfile.close()


def end_process(p: subprocess.Popen) -> None:
    """Ends a server as a client does (its input closed), killing it after 10 s."""
    try:
        assert p.stdin is not None
        p.stdin.close()
    except OSError:
        pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def call_ok(result: dict) -> bool:
    return not result.get("isError", False)


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    label: str
    cmd: list[str]
    env: dict[str, str]
    figures: dict = field(default_factory=dict)


def loopback_start() -> tuple[subprocess.Popen, int]:
    p = subprocess.Popen(
        [sys.executable, str(HERE / "loopback.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline()
    m = re.match(r"PORT (\d+)", line)
    if not m:
        raise RuntimeError(f"loopback server did not start: {line!r}")
    return p, int(m.group(1))


def base_env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA")}
    env["KESTRA_BASE_URL"] = f"http://127.0.0.1:{port}/api/v1"
    env["KESTRA_VERSION"] = "1.3.0"
    env["KESTRA_MCP_LOG_LEVEL"] = "ERROR"
    env.pop("RUST_LOG", None)
    return env


def python_server(venv: Path, port: int) -> tuple[Server | None, str]:
    """The Python MCP server for Kestra, or why it cannot be run."""
    py = venv / "bin" / "python"
    if not py.exists():
        return None, f"no venv at {venv} (scripts/bench.sh installs it; pass --no-python to skip)"
    found = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
    )
    src = Path(found.stdout.strip()) / "src"
    if not (src / "server.py").exists():
        return None, f"the package is installed but {src}/server.py is missing"
    env = base_env(port)
    env["PYTHONPATH"] = str(src)
    # Equivalent of the package's console script `iflow-mcp_mcp-server-python` (server:main),
    # run directly so that the figures are not about the script wrapper.
    cmd = [str(py), "-c", "import server; server.main()"]
    return Server("Python server", cmd, env), ""


# ---------------------------------------------------------------- figures


def tools_list_bytes(server: Server) -> int:
    """Bytes of the compact `tools/list` result, as sent to the model with every turn."""
    s = Session(server.cmd, server.env)
    try:
        s.handshake()
        listing = s.wait_for(s.request("tools/list", {}))
        return len(json.dumps(listing, separators=(",", ":"), ensure_ascii=False).encode())
    finally:
        s.close()


def context_report(w, rust: Server, py: Server | None) -> None:
    ctx = rust.figures.get("context")
    if not ctx:
        return
    w("## Context size (issue 19)")
    w("")
    w("What every turn of an agent pays for the tool definitions, and what the listing tools")
    w("answers, from `scripts/bench/sizes.py` (stub Kestra of recorded shapes; run it alone with")
    w("`--binary` and `--python-venv`, or `--tools-dir` for other specs). An answer is its text")
    w("content and the whole `result` as sent (text plus any `structuredContent`).")
    w("")
    w("| `tools/list` | tools | kestra-mcp bytes | Python server bytes |")
    w("| --- | --- | --- | --- |")
    pyc = ctx.get("python")
    py_bytes = pyc["bytes"] if pyc else (py.figures.get("tools_list_bytes") if py else None)
    for mode, f in ctx["modes"].items():
        other = f"{py_bytes:,}" if (mode == "all" and py_bytes) else "n/a"
        w(f"| {mode} | {f['tools']} | {f['bytes']:,} | {other} |")
    w("")
    w("Largest definitions: " + ", ".join(f"{name} {size:,}" for size, name in ctx["largest"]) + ".")
    w("")
    w("| answer | kestra-mcp text | kestra-mcp result | Python server text | Python server result |")
    w("| --- | --- | --- | --- | --- |")
    for what, answer in ctx["answers"].items():
        text, result = context_sizes.shown(answer)
        py_text, py_result = context_sizes.shown(pyc["answers"].get(what) if pyc else None)
        w(f"| {what} | {text} | {result} | {py_text} | {py_result} |")
    w("")


def bench_spawn(server: Server, runs: int, env_extra: dict | None = None) -> dict:
    env = dict(server.env, **(env_extra or {}))
    times, hwm, init_times = [], [], []
    anon: list[float] = []
    filed: list[float] = []
    nthreads: list[int] = []
    tools = None
    for _ in range(runs):
        s = Session(server.cmd, env)
        try:
            s.handshake()
            t_init = time.perf_counter() - s.t0
            rid = s.request("tools/list", {})
            result = s.wait_for(rid)
            t = time.perf_counter() - s.t0
            kb = s.hwm_kb()
            anon_kb = proc_status_kb(s.p.pid, "RssAnon")
            file_kb = proc_status_kb(s.p.pid, "RssFile")
            threads = proc_status_kb(s.p.pid, "Threads")
        finally:
            s.close()
        times.append(t * 1000)
        init_times.append(t_init * 1000)
        if kb:
            hwm.append(kb / 1024)
        if anon_kb is not None and file_kb is not None:
            anon.append(anon_kb / 1024)
            filed.append(file_kb / 1024)
        if threads is not None:
            nthreads.append(threads)
        tools = len(result.get("tools", []))
    return {
        "runs": runs,
        "median_ms": statistics.median(times),
        "p90_ms": pct(times, 90),
        "min_ms": min(times),
        "init_median_ms": statistics.median(init_times),
        "rss_mb": statistics.median(hwm) if hwm else float("nan"),
        "rss_max_mb": max(hwm) if hwm else float("nan"),
        "tools": tools,
        "rss_anon_mb": statistics.median(anon) if anon else float("nan"),
        "rss_file_mb": statistics.median(filed) if filed else float("nan"),
        "threads": max(nthreads) if nthreads else None,
    }


def bench_bare_http(port: int, n: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    path = f"/api/v1/{TENANT}/flows/bench"
    lat = []
    for i in range(n + n // 10):
        t = time.perf_counter()
        conn.request("GET", path, headers={"Accept": "application/json"})
        body = conn.getresponse().read()
        dt_ = time.perf_counter() - t
        if body != b"[]":
            raise RuntimeError(f"loopback answered {body!r}")
        if i >= n // 10:
            lat.append(dt_ * 1000)
    conn.close()
    return {"n": n, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "mean_ms": statistics.fmean(lat)}


def bench_roundtrip(s: Session, n: int) -> dict:
    lat, errors = [], 0
    warm = n // 10
    for i in range(n + warm):
        t = time.perf_counter()
        rid = s.call("bench")
        result = s.wait_for(rid)
        dt_ = time.perf_counter() - t
        errors += not call_ok(result)
        if i >= warm:
            lat.append(dt_ * 1000)
    return {"n": n, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "mean_ms": statistics.fmean(lat), "errors": errors}


def bench_throughput(s: Session, inflight: int, total: int, cap_s: float, loop_pid: int) -> dict:
    """`inflight` calls pipelined: a new one is written as soon as a reply arrives."""
    sent = done = errors = 0
    cpu0 = proc_cpu_seconds(s.p.pid)
    lcpu0 = proc_cpu_seconds(loop_pid)
    hcpu0 = time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + cap_s
    while sent < min(inflight, total):
        s.call("bench", flush=False)
        sent += 1
    s.flush()
    while done < sent:
        result = s.recv()
        done += 1
        if "error" in result or not call_ok(result.get("result", {})):
            errors += 1
        if sent < total and time.perf_counter() < deadline:
            s.call("bench")
            sent += 1
    elapsed = time.perf_counter() - t0
    return {
        "inflight": inflight,
        "calls": done,
        "seconds": elapsed,
        "calls_per_s": done / elapsed,
        "errors": errors,
        "server_cpu_us_per_call": (proc_cpu_seconds(s.p.pid) - cpu0) / done * 1e6,
        "loopback_cpu_us_per_call": (proc_cpu_seconds(loop_pid) - lcpu0) / done * 1e6,
        "harness_cpu_us_per_call": (time.process_time() - hcpu0) / done * 1e6,
    }


def bench_hol(s: Session, fast: int = 50) -> dict:
    """One call the loopback server delays by 1 s, then `fast` calls behind it."""
    t0 = time.perf_counter()
    slow_id = s.call("slow")
    ids = [s.call("bench", flush=False) for _ in range(fast)]
    s.flush()
    arrival: dict[int, float] = {}
    while len(arrival) < fast + 1:
        msg = s.recv()
        arrival[msg["id"]] = time.perf_counter() - t0
    fast_times = [arrival[i] for i in ids]
    slow_t = arrival[slow_id]
    ahead = sum(1 for t in fast_times if t < slow_t)
    return {
        "fast_calls": fast,
        "fast_before_slow": ahead,
        "fast_max_ms": max(fast_times) * 1000,
        "slow_ms": slow_t * 1000,
        "ok": ahead == fast and max(fast_times) < 0.5 * slow_t,
    }


def run_session_figures(server: Server, port: int, loop_pid: int, args) -> None:
    s = Session(server.cmd, server.env)
    try:
        s.handshake()
        s.wait_for(s.request("tools/list", {}))
        log(f"  [{server.label}] round trip x{args.calls}")
        server.figures["roundtrip"] = bench_roundtrip(s, args.calls)
        server.figures["bare"] = bench_bare_http(port, args.calls)
        tp = {}
        for inflight in (1, 8, 64):
            log(f"  [{server.label}] throughput, {inflight} in flight")
            tp[inflight] = bench_throughput(s, inflight, args.throughput_calls, args.throughput_cap, loop_pid)
        server.figures["throughput"] = tp
        log(f"  [{server.label}] head-of-line check")
        server.figures["hol"] = bench_hol(s)
        server.figures["rss_after_calls_mb"] = (s.hwm_kb() or 0) / 1024
    finally:
        s.close()


# ---------------------------------------------------------------- spec scaling

FALLBACK_SPEC = """name: NAME
group: flow
description: Benchmark copy of list_flows_in_namespace.
input:
  type: object
  properties:
    namespace: {type: string, description: "Namespace, e.g. company.team"}
  required: [namespace]
request:
  method: GET
  path: /flows/{{ namespace }}
response:
  wrap: results
  output_schema: {type: object, additionalProperties: true}
"""


def spec_template() -> str:
    """The built-in list_flows_in_namespace spec (so the copies follow the current format),
    renamed to NAME and put in group `flow`; a fixed copy if it cannot be found."""
    for path in sorted((ROOT / "tools.d").rglob("*.y*ml")):
        text = path.read_text()
        if re.search(rf"^name:\s*{TOOL}\s*$", text, re.M):
            text = re.sub(r"^name:.*$", "name: NAME", text, count=1, flags=re.M)
            text = re.sub(r"^group:.*$", "group: flow", text, count=1, flags=re.M)
            text = re.sub(r"^#.*\$schema.*\n", "", text, count=1, flags=re.M)
            return text
    return FALLBACK_SPEC


def make_spec_dir(root: Path, n: int, template: str) -> Path:
    d = root / f"specs-{n}"
    d.mkdir()
    for i in range(n):
        name = f"bench_tool_{i:05d}"
        (d / f"{name}.yaml").write_text(template.replace("NAME", name))
    return d


def bench_spec_scaling(binary: Path, server: Server, counts: list[int], runs: int) -> dict:
    out = {}
    template = spec_template()
    with tempfile.TemporaryDirectory(prefix="kestra-mcp-bench-") as tmp:
        for n in counts:
            d = make_spec_dir(Path(tmp), n, template)
            check = subprocess.run(
                [str(binary), "tools", "validate", "--no-openapi"],
                env=dict(server.env, KESTRA_MCP_TOOLS_DIR=str(d)),
                capture_output=True,
                text=True,
            )
            if check.returncode != 0:
                out[n] = {"error": (check.stdout + check.stderr).strip()[-600:]}
                log(f"  {n} specs: generated specs are invalid:\n{out[n]['error']}")
                continue
            log(f"  {n} specs x{runs}")
            out[n] = bench_spawn(server, runs, {"KESTRA_MCP_TOOLS_DIR": str(d)})
    return out


# ---------------------------------------------------------------- sizes


def docker_image_estimate(binary: Path, image_binary: Path | None) -> dict:
    """Size of the final stage of the Dockerfile, computed from the files it copies."""
    dockerfile = ROOT / "Dockerfile"
    if not dockerfile.exists():
        return {"status": "no Dockerfile in the repository yet"}
    lines, cur = [], ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        lines.append(cur + line)
        cur = ""
    stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    if not stages:
        return {"status": "Dockerfile has no FROM"}
    final = lines[stages[-1] :]
    base = final[0].split()[1]
    parts, total, unknown = [], 0, []
    for line in final[1:]:
        words = line.split()
        if words[0].upper() not in ("COPY", "ADD"):
            continue
        opts = [w for w in words[1:] if w.startswith("--")]
        rest = [w for w in words[1:] if not w.startswith("--")]
        if rest and rest[0].startswith("["):  # JSON form
            try:
                rest = json.loads(" ".join(rest))
            except json.JSONDecodeError:
                unknown.append(line)
                continue
        from_stage = next((o.split("=", 1)[1] for o in opts if o.startswith("--from=")), None)
        for src in rest[:-1]:
            size, how = None, ""
            name = Path(src).name
            staged = ROOT / "dist" / name
            if name == binary.name and image_binary is not None:
                size = image_binary.stat().st_size
                how = f"the static (+crt-static) release binary built by `scripts/bench.sh --static`, {rel(image_binary)}"
            elif name == binary.name and from_stage is not None and staged.is_file():
                size, how = staged.stat().st_size, "the static binary staged in dist/ by docker/build.sh"
            elif name == binary.name:
                size = binary.stat().st_size
                how = (
                    f"stand-in: the release binary here, {rel(binary)}; the image's "
                    "static (+crt-static) build of the same code is built by `scripts/bench.sh --static`"
                )
            elif from_stage is not None and name.endswith(".crt") and Path("/etc/ssl/certs", name).is_file():
                size, how = Path("/etc/ssl/certs", name).stat().st_size, f"stand-in: this machine's /etc/ssl/certs/{name}"
            elif from_stage is None:
                p = ROOT / src
                if p.is_file():
                    size, how = p.stat().st_size, "file in the build context"
                elif p.is_dir():
                    size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                    how = "directory in the build context"
            elif from_stage is not None and staged.is_file():
                size, how = staged.stat().st_size, "staged in dist/"
            elif Path(src).is_absolute() and Path(src).is_file():
                size, how = Path(src).stat().st_size, "same path on this machine"
            if size is None:
                unknown.append(f"{src} ({line})")
            else:
                total += size
                parts.append((src, size, how))
    result = {"base": base, "parts": parts, "unknown": unknown, "files_bytes": total}
    if base == "scratch":
        result["status"] = "computed"
        result["image_bytes"] = total
    else:
        result["status"] = f"final stage is FROM {base}: its size is not known without an engine"
    return result


def docker_engine_size() -> str | None:
    docker = shutil.which("docker")
    if not docker:
        return None
    try:
        ok = subprocess.run([docker, "version", "--format", "{{.Server.Version}}"], capture_output=True, timeout=10)
        if ok.returncode != 0:
            return None
        out = subprocess.run(
            [docker, "image", "inspect", "--format", "{{.Size}}", "kestra-mcp:latest"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


# ---------------------------------------------------------------- machine


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = proc_status_kb_file("/proc/meminfo", "MemTotal")
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": (mem or 0) / 1024 / 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rustc": rustc,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def proc_status_kb_file(path: str, key: str) -> int | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def criterion_figures() -> list[tuple[str, float, float]]:
    """(benchmark, median ns, mean ns) from the last `cargo bench` run, if any."""
    out = []
    base = ROOT / "target" / "criterion"
    if not base.is_dir():
        return out
    for est in sorted(base.rglob("new/estimates.json")):
        bench_dir = est.parent.parent
        name = str(bench_dir.relative_to(base))
        if name.startswith("report") or "/report" in name:
            continue
        try:
            data = json.loads(est.read_text())
            out.append((name, data["median"]["point_estimate"], data["mean"]["point_estimate"]))
        except (OSError, KeyError, json.JSONDecodeError):
            continue
    return out


# ---------------------------------------------------------------- report


def fmt_ms(x: float) -> str:
    if x != x:
        return "n/a"
    return f"{x:.3f} ms" if x < 1 else f"{x:.1f} ms"


def fmt_ns(x: float) -> str:
    if x < 1e3:
        return f"{x:.0f} ns"
    if x < 1e6:
        return f"{x / 1e3:.1f} µs"
    return f"{x / 1e6:.2f} ms"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "**miss**")


def ratio(a: float | None, b: float | None, word: str = "slower") -> str:
    """`a / b` as 'N× word' (a: the Python server, b: kestra-mcp, for times and memory)."""
    if not a or not b or a != a or b != b or a <= 0 or b <= 0:
        return ""
    x = a / b
    return f"{x:.0f}× {word}" if x >= 10 else f"{x:.1f}× {word}"


def report(args, mach, rust: Server, py: Server | None, py_why: str, scaling, sizes, load_before, load_after) -> str:
    rf = rust.figures
    pf = py.figures if py else {}
    L: list[str] = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("Generated by `scripts/bench.sh`" + (" --quick" if args.quick else "") + " (harness: `scripts/bench/harness.py`);")
    w("in-process figures by `cargo bench --bench engine` (`benches/engine.rs`). Re-run both to refresh;")
    w("figures differ from machine to machine and from run to run, and are benchmarks, not tests.")
    w("")
    w("## Machine")
    w("")
    w(f"- date: {mach['date']}")
    w(f"- CPU: {mach['cpu']}, `nproc` = {mach['nproc']}")
    w(f"- memory: {mach['mem_gib']:.1f} GiB; kernel {mach['kernel']}")
    w(f"- {mach['rustc']}; Python {mach['python']} (harness, loopback server and the Python MCP server)")
    w(f"- load average (1, 5, 15 min) before the run: {load_before}; after: {load_after}")
    w("  (2 cores shared by the harness, the loopback server and the server under test; a load")
    w("  above ~1.5 means other work was running and the figures are noisy)")
    w("")
    w("## Results")
    w("")
    w("| figure | kestra-mcp | Python server | Python server vs kestra-mcp | target (issue 5) | kestra-mcp |")
    w("| --- | --- | --- | --- | --- | --- |")

    def row(name, rv, pv, rat, target, ok):
        w(f"| {name} | {rv} | {pv} | {rat} | {target} | {verdict(ok)} |")

    rs, ps = rf.get("spawn", {}), pf.get("spawn", {})
    row(
        f"spawn → first `tools/list` reply, median ({rs.get('tools')} tools)",
        fmt_ms(rs.get("median_ms", float("nan"))),
        fmt_ms(ps["median_ms"]) + f" ({ps.get('tools')} tools)" if ps else "n/a",
        ratio(ps.get("median_ms"), rs.get("median_ms")),
        f"≤ {TARGET_SPAWN_MS:.0f} ms",
        rs.get("median_ms", 1e9) <= TARGET_SPAWN_MS if rs else None,
    )
    row(
        "spawn → first `tools/list` reply, p90",
        fmt_ms(rs.get("p90_ms", float("nan"))),
        fmt_ms(ps["p90_ms"]) if ps else "n/a",
        ratio(ps.get("p90_ms"), rs.get("p90_ms")),
        "",
        None,
    )
    row(
        "peak RSS (VmHWM) at the first `tools/list` reply, median",
        f"{rs.get('rss_mb', float('nan')):.1f} MB",
        f"{ps['rss_mb']:.1f} MB" if ps else "n/a",
        ratio(ps.get("rss_mb"), rs.get("rss_mb"), "more"),
        f"≤ {TARGET_RSS_MB:.0f} MB",
        rs.get("rss_mb", 1e9) <= TARGET_RSS_MB if rs else None,
    )
    if "rss_after_calls_mb" in rf:
        row(
            "peak RSS after the call benchmarks below",
            f"{rf['rss_after_calls_mb']:.1f} MB",
            f"{pf['rss_after_calls_mb']:.1f} MB" if "rss_after_calls_mb" in pf else "n/a",
            ratio(pf.get("rss_after_calls_mb"), rf.get("rss_after_calls_mb"), "more"),
            "",
            None,
        )
    rr, pr = rf.get("roundtrip"), pf.get("roundtrip")
    rb, pb = rf.get("bare"), pf.get("bare")
    if rr and rb:
        row(
            f"tool call round trip over stdio, p50 ({rr['n']} calls)",
            fmt_ms(rr["p50_ms"]),
            fmt_ms(pr["p50_ms"]) if pr else "n/a",
            ratio(pr and pr["p50_ms"], rr["p50_ms"]),
            "",
            None,
        )
        row(
            "tool call round trip over stdio, p99",
            fmt_ms(rr["p99_ms"]),
            fmt_ms(pr["p99_ms"]) if pr else "n/a",
            ratio(pr and pr["p99_ms"], rr["p99_ms"]),
            "",
            None,
        )
        row(
            "bare keep-alive HTTP request to the same server, p50 / p99",
            f"{fmt_ms(rb['p50_ms'])} / {fmt_ms(rb['p99_ms'])}",
            f"{fmt_ms(pb['p50_ms'])} / {fmt_ms(pb['p99_ms'])}" if pb else "n/a",
            "",
            "",
            None,
        )
        ro = rr["p50_ms"] - rb["p50_ms"]
        po = pr["p50_ms"] - pb["p50_ms"] if pr and pb else None
        row(
            "overhead per call (round trip p50 − bare HTTP p50)",
            fmt_ms(ro),
            fmt_ms(po) if po is not None else "n/a",
            ratio(po, ro, "more"),
            f"≤ {TARGET_OVERHEAD_MS} ms",
            ro <= TARGET_OVERHEAD_MS,
        )
    rt, pt = rf.get("throughput", {}), pf.get("throughput", {})
    for k in (1, 8, 64):
        if k not in rt:
            continue
        rv = rt[k]["calls_per_s"]
        pv = pt[k]["calls_per_s"] if k in pt else None
        row(
            f"throughput, {k} call{'s' if k > 1 else ''} in flight",
            f"{rv:,.0f} calls/s",
            f"{pv:,.0f} calls/s" if pv else "n/a",
            ratio(rv, pv, "fewer calls/s") if pv else "",
            f"≥ {TARGET_THROUGHPUT_64:,.0f} calls/s" if k == 64 else "",
            rv >= TARGET_THROUGHPUT_64 if k == 64 else None,
        )
    rh, ph = rf.get("hol"), pf.get("hol")
    if rh:
        def hol_text(h):
            return (
                f"{h['fast_before_slow']}/{h['fast_calls']} fast calls answered before the slow one; "
                f"last after {fmt_ms(h['fast_max_ms'])}, slow after {fmt_ms(h['slow_ms'])}"
            )

        row(
            "head-of-line: 1 call delayed 1 s, 50 calls behind it",
            hol_text(rh),
            hol_text(ph) if ph else "n/a",
            "",
            "no blocking",
            rh["ok"],
        )
    for n, fig in scaling.items():
        if "error" in fig:
            row(f"spawn → `tools/list` with {n} extra specs", "failed: " + fig["error"].splitlines()[-1], "n/a", "", "", False)
            continue
        target = f"≤ {TARGET_SPAWN_5000_MS:.0f} ms" if n == 5000 else ""
        row(
            f"spawn → `tools/list` with {n} generated specs, median / p90 ({fig['tools']} tools)",
            f"{fmt_ms(fig['median_ms'])} / {fmt_ms(fig['p90_ms'])}",
            "n/a",
            "",
            target,
            fig["median_ms"] <= TARGET_SPAWN_5000_MS if n == 5000 else None,
        )
        row(f"peak RSS with {n} generated specs", f"{fig['rss_mb']:.1f} MB", "n/a", "", "", None)
    bsize = sizes["binary_bytes"]
    row(
        "release binary size",
        f"{bsize / 1e6:.2f} MB ({bsize / 2**20:.2f} MiB)",
        "n/a",
        "",
        f"≤ {TARGET_BINARY_MB:.0f} MB",
        bsize / 1e6 <= TARGET_BINARY_MB,
    )
    dk = sizes["docker"]
    if dk.get("status") == "computed":
        img = dk["image_bytes"]
        row(
            "Docker image size (computed, see below)",
            f"{img / 1e6:.2f} MB",
            "n/a",
            "",
            f"≤ {TARGET_IMAGE_MB:.0f} MB",
            img / 1e6 <= TARGET_IMAGE_MB,
        )
    else:
        row("Docker image size", "not computed: " + dk.get("status", "?"), "n/a", "", f"≤ {TARGET_IMAGE_MB:.0f} MB", None)
    w("")
    w("MB = 10^6 bytes. The ratio column reads: the Python server is N× slower, uses N× more,")
    w("or does N× fewer calls per second than kestra-mcp, in the same run.")
    if not py:
        w("")
        w(f"The Python server was not run: {py_why}.")
    w("")
    w("### Details")
    w("")
    for srv in [rust] + ([py] if py else []):
        f = srv.figures
        w(f"**{srv.label}** (`{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(srv.cmd))}`)")
        w("")
        if "spawn" in f:
            s = f["spawn"]
            w(
                f"- spawn: {s['runs']} runs, min {fmt_ms(s['min_ms'])}, median {fmt_ms(s['median_ms'])}, "
                f"p90 {fmt_ms(s['p90_ms'])}; `initialize` answered after {fmt_ms(s['init_median_ms'])} (median); "
                f"peak RSS median {s['rss_mb']:.1f} MB, max {s['rss_max_mb']:.1f} MB; resident at that "
                f"moment: {s['rss_anon_mb']:.1f} MB anonymous (heap, stacks) + {s['rss_file_mb']:.1f} MB "
                f"file-backed (the executable's pages, shared libraries); {s['threads']} threads"
            )
        if "roundtrip" in f:
            r, b = f["roundtrip"], f["bare"]
            w(
                f"- round trip: {r['n']} sequential calls after {r['n'] // 10} warm-up calls: p50 {fmt_ms(r['p50_ms'])}, "
                f"p99 {fmt_ms(r['p99_ms'])}, mean {fmt_ms(r['mean_ms'])}, {r['errors']} error results; "
                f"bare HTTP: p50 {fmt_ms(b['p50_ms'])}, p99 {fmt_ms(b['p99_ms'])}, mean {fmt_ms(b['mean_ms'])}"
            )
        for k, t in f.get("throughput", {}).items():
            w(
                f"- {k} in flight: {t['calls']} calls in {t['seconds']:.2f} s = {t['calls_per_s']:,.0f} calls/s, "
                f"{t['errors']} errors; CPU per call: server {t['server_cpu_us_per_call']:.0f} µs, "
                f"loopback {t['loopback_cpu_us_per_call']:.0f} µs, harness {t['harness_cpu_us_per_call']:.0f} µs"
            )
        w("")
    if scaling:
        w("**kestra-mcp with generated specs** (on top of the built-in tools)")
        w("")
        for n, f in scaling.items():
            if "error" in f:
                w(f"- {n} specs: the generated specs do not load: `{f['error'].splitlines()[-1]}`")
                continue
            w(
                f"- {n} specs: {f['runs']} runs, min {fmt_ms(f['min_ms'])}, median {fmt_ms(f['median_ms'])}, "
                f"p90 {fmt_ms(f['p90_ms'])}; `initialize` answered after {fmt_ms(f['init_median_ms'])}; "
                f"peak RSS {f['rss_mb']:.1f} MB ({f['rss_anon_mb']:.1f} MB anonymous at the reply)"
            )
        w("")
    if sizes["docker"].get("parts") is not None:
        dk = sizes["docker"]
        w(f"**Docker image**: final stage `FROM {dk['base']}`; the image holds only what that stage copies:")
        w("")
        for src, size, how in dk["parts"]:
            w(f"- `{src}`: {size:,} bytes ({how})")
        for u in dk["unknown"]:
            w(f"- not sized: `{u}`")
        w("")
        w("An image FROM scratch is the files it copies plus a few KB of layer metadata (the size a")
        w("container engine reports for it is the sum of its layers' files). No container engine runs here.")
        w("")
    if sizes.get("docker_engine"):
        w(f"Docker engine reports `kestra-mcp:latest` at {int(sizes['docker_engine']):,} bytes.")
        w("")
    context_report(w, rust, py)
    crit = criterion_figures()
    w("## In-process figures (criterion)")
    w("")
    if crit:
        w("From the last `cargo bench --bench engine` run found in `target/criterion` (median, mean):")
        w("")
        w("| benchmark | median | mean |")
        w("| --- | --- | --- |")
        for name, med, mean in crit:
            w(f"| `{name}` | {fmt_ns(med)} | {fmt_ns(mean)} |")
    else:
        w("No `cargo bench` results in `target/criterion`: run `cargo bench --bench engine` (or")
        w("`scripts/bench.sh --criterion`) and then `scripts/bench.sh` again to list them here.")
    w("")
    w("## Method")
    w("")
    w(METHOD)
    return "\n".join(L) + "\n"


# Everything after this line in docs/benchmarks.md is kept when the figures are regenerated.
NOTES_MARKER = "<!-- notes below are kept by scripts/bench.sh -->"

METHOD = """\
- Both servers run as child processes of the harness and are spoken to as an MCP client does:
  newline-delimited JSON-RPC on stdin/stdout, `initialize` (protocol 2025-06-18), then
  `notifications/initialized`, then requests. Both get the same environment:
  `KESTRA_BASE_URL=http://127.0.0.1:PORT/api/v1`, `KESTRA_VERSION=1.3.0`,
  `KESTRA_MCP_LOG_LEVEL=ERROR`; other `KESTRA*` variables are removed.
- The Kestra API is a stand-in (`scripts/bench/loopback.py`, asyncio, HTTP/1.1 keep-alive) that
  answers `GET …/flows/{namespace}` with `[]` at once (after 1 s for the namespace `slow`).
  kestra-mcp calls `/api/v1/main/flows/bench` (default tenant `main`), the Python server
  `/api/v1/flows/bench`; both answers are the same `[]`.
- Spawn: wall time from just before the process is created to the reply to the first
  `tools/list` (after the `initialize` exchange), each run a fresh process. Peak RSS: `VmHWM`
  from `/proc/PID/status` read right after that reply.
- Round trip: sequential `tools/call list_flows_in_namespace {"namespace": "bench"}` on one
  session, each timed from writing the request to reading its reply, after 10 % warm-up calls.
  Bare HTTP: the same number of `GET /api/v1/main/flows/bench` from the harness over one
  keep-alive `http.client` connection. Overhead = round-trip p50 − bare p50: what stdio, the MCP
  layer and the engine add to the HTTP request (the harness's own JSON work is in both).
- Throughput: on one session, N requests written back to back without waiting, then a new one
  written for each reply read, until the set number of calls (or the time cap) is reached; calls
  per second over the whole run. CPU per call comes from `/proc/PID/stat` (server, loopback) and
  `time.process_time()` (harness); when the three together use about 2 CPU-seconds per second,
  the machine, not the server, bounds the figure.
- Head-of-line: one call whose HTTP answer is delayed 1 s, then 50 ordinary calls pipelined
  behind it; the check passes when all 50 replies arrive before the slow one and within half
  its time.
- Spec scaling: N copies of the built-in `list_flows_in_namespace` spec (renamed
  `bench_tool_NNNNN`, file stem = name, group `flow`) in a temporary directory passed as
  `KESTRA_MCP_TOOLS_DIR` (on top of the built-in tools), checked first with
  `kestra-mcp tools validate --no-openapi`; then the spawn measurement above.
- Sizes: the size of `target/release/kestra-mcp` as built by `cargo build --release`
  (release profile: LTO, one codegen unit, stripped, panic=unwind). The Docker image is computed
  from the final stage of `Dockerfile` when it is FROM scratch (see the details above); no
  container engine is needed.
"""


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "kestra-mcp"))
    ap.add_argument("--python-venv", default=str(ROOT / ".tools" / "pyserver"))
    ap.add_argument("--no-python", action="store_true", help="run kestra-mcp alone")
    ap.add_argument("--python-why", default="", help="why the Python server is not available")
    ap.add_argument("--quick", action="store_true", help="fewer runs (figures are rougher)")
    ap.add_argument("--image-binary", help="the static binary the Docker image holds, if built here")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = ap.parse_args()
    args.spawn_runs = 5 if args.quick else 20
    args.calls = 500 if args.quick else 2000
    args.throughput_calls = 2000 if args.quick else 10000
    args.throughput_cap = 5.0 if args.quick else 15.0
    scaling_runs = 5 if args.quick else 20

    binary = Path(args.binary).resolve()
    if not binary.exists():
        log(f"no binary at {binary}: run cargo build --release")
        return 2
    load_before = load_average()
    mach = machine()
    loop_proc, port = loopback_start()
    try:
        rust = Server("kestra-mcp", [str(binary)], base_env(port))
        py, py_why = (None, args.python_why or "skipped with --no-python")
        if not args.no_python:
            py, py_why = python_server(Path(args.python_venv), port)
            if py is None:
                log(f"Python server unavailable: {py_why}")
        servers = [rust] + ([py] if py else [])
        for srv in servers:
            log(f"[{srv.label}] spawn → tools/list x{args.spawn_runs}")
            try:
                srv.figures["spawn"] = bench_spawn(srv, args.spawn_runs)
                run_session_figures(srv, port, loop_proc.pid, args)
            except ServerFailed as e:
                if srv is rust:
                    raise
                py_why = f"it started but failed during the benchmark: {e}"
                log(py_why)
                py = None
        log("[kestra-mcp] spec scaling")
        scaling = bench_spec_scaling(binary, rust, [39, 500, 5000], scaling_runs)
        log("context sizes (tools/list per mode, listing answers)")
        rust.figures["context"] = context_sizes.measure(str(binary), python_venv=args.python_venv if py else None)
        if py:
            py.figures["tools_list_bytes"] = tools_list_bytes(py)
    finally:
        loop_proc.stdin.close()
        try:
            loop_proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            loop_proc.kill()
    sizes = {
        "binary_bytes": binary.stat().st_size,
        "docker": docker_image_estimate(binary, Path(args.image_binary).resolve() if args.image_binary else None),
        "docker_engine": docker_engine_size(),
    }
    load_after = load_average()
    text = report(args, mach, rust, py, py_why, scaling, sizes, load_before, load_after)
    out = Path(args.out)
    if out.exists() and NOTES_MARKER in out.read_text():
        text += "\n" + NOTES_MARKER + out.read_text().split(NOTES_MARKER, 1)[1]
    out.write_text(text)
    print(summary(rust, py, scaling, sizes, load_before, load_after, args.out))
    return 0


def summary(rust: Server, py: Server | None, scaling, sizes, load_before, load_after, out) -> str:
    rf = rust.figures
    pf = py.figures if py else {}
    lines = [f"kestra-mcp benchmarks (load {load_before} → {load_after}); full table in {out}"]
    s = rf["spawn"]
    line = f"  spawn→tools/list median {fmt_ms(s['median_ms'])} (target ≤ {TARGET_SPAWN_MS:.0f}), peak RSS {s['rss_mb']:.1f} MB (≤ {TARGET_RSS_MB:.0f})"
    if pf.get("spawn"):
        line += f" | Python {fmt_ms(pf['spawn']['median_ms'])}, {pf['spawn']['rss_mb']:.1f} MB"
    lines.append(line)
    ro = rf["roundtrip"]["p50_ms"] - rf["bare"]["p50_ms"]
    line = (
        f"  call p50 {fmt_ms(rf['roundtrip']['p50_ms'])} p99 {fmt_ms(rf['roundtrip']['p99_ms'])}, "
        f"bare HTTP p50 {fmt_ms(rf['bare']['p50_ms'])}, overhead {fmt_ms(ro)} (≤ {TARGET_OVERHEAD_MS})"
    )
    if pf.get("roundtrip"):
        po = pf["roundtrip"]["p50_ms"] - pf["bare"]["p50_ms"]
        line += f" | Python overhead {fmt_ms(po)} ({ratio(po, ro, 'more')})"
    lines.append(line)
    tp = rf["throughput"]
    line = "  throughput " + ", ".join(f"{k}: {tp[k]['calls_per_s']:,.0f}/s" for k in tp) + f" (64: ≥ {TARGET_THROUGHPUT_64:,.0f})"
    if pf.get("throughput"):
        line += " | Python " + ", ".join(f"{k}: {v['calls_per_s']:,.0f}/s" for k, v in pf["throughput"].items())
    lines.append(line)
    lines.append(
        f"  head-of-line: {'no blocking' if rf['hol']['ok'] else 'BLOCKED'} "
        f"({rf['hol']['fast_before_slow']}/{rf['hol']['fast_calls']} fast calls before the slow one)"
        + (f" | Python: {'no blocking' if pf['hol']['ok'] else 'BLOCKED'}" if pf.get("hol") else "")
    )
    lines.append(
        "  specs: "
        + ", ".join(
            f"{n}: {fmt_ms(f['median_ms'])}" if "error" not in f else f"{n}: failed" for n, f in scaling.items()
        )
        + f" (5000: ≤ {TARGET_SPAWN_5000_MS:.0f} ms)"
    )
    dk = sizes["docker"]
    img = f"{dk['image_bytes'] / 1e6:.2f} MB" if dk.get("status") == "computed" else dk.get("status")
    lines.append(
        f"  binary {sizes['binary_bytes'] / 1e6:.2f} MB (≤ {TARGET_BINARY_MB:.0f}), Docker image {img} (≤ {TARGET_IMAGE_MB:.0f})"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
