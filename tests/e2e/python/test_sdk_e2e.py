"""End-to-end scenarios driven by the official Python MCP SDK's stdio client (a client nobody here
wrote) against the test bed: kestra-mcp talks to Prism (validating against Kestra's 1.3 / 2.0
description plus openapi/overlay.yaml) in front of kestra-sim, and every step is read back
from the simulator directly, not only from the tool's reply.

Run by tests/testbed/run-e2e.sh (``.venv/bin/python -m pytest tests/e2e/python``). Needs the test
bed's env file (``$KESTRA_TESTBED_ENV``, default .tools/testbed/env) and a built
target/debug/kestra-mcp (``$KESTRA_MCP_BIN``). Without a test bed the tests skip, unless
``KESTRA_E2E_REQUIRED=1``. ``KESTRA_E2E_VERSIONS=2.0`` limits the versions.

Everything a scenario makes lives in a namespace of its own (``e2e.py<8 hex>.<scenario>``) and is
deleted afterwards one object at a time, by id.
"""

import base64
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
BINARY = os.environ.get("KESTRA_MCP_BIN", os.path.join(ROOT, "target/debug/kestra-mcp"))
ENV_FILE = os.environ.get("KESTRA_TESTBED_ENV", os.path.join(ROOT, ".tools/testbed/env"))
# The simulator accepts any credentials; Prism requires some (the descriptions declare security).
USER, PASSWORD = "admin@kestra.io", "kestra-sim"
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
TENANT = "main"
RUN = "py" + uuid.uuid4().hex[:8]
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"}


def read_env():
    try:
        with open(ENV_FILE) as f:
            return dict(line.strip().split("=", 1) for line in f if "=" in line)
    except OSError:
        return None


def targets():
    env = read_env()
    only = os.environ.get("KESTRA_E2E_VERSIONS")
    out = []
    for tag, label in (("13", "1.3"), ("20", "2.0")):
        if only and label not in [v.strip() for v in only.split(",")]:
            continue
        if env and env.get(f"KESTRA_SIM_{tag}_URL") and env.get(f"KESTRA_PRISM_{tag}_URL"):
            out.append(pytest.param((label, env[f"KESTRA_SIM_{tag}_URL"], env[f"KESTRA_PRISM_{tag}_URL"]), id=label))
    return out


TARGETS = targets()
if not TARGETS:
    if os.environ.get("KESTRA_E2E_REQUIRED") == "1":
        raise RuntimeError(f"no test bed in {ENV_FILE}: start tests/testbed/start.sh or run tests/testbed/run-e2e.sh")
    pytest.skip(f"NO TEST BED ({ENV_FILE}): the Python SDK scenarios did not run", allow_module_level=True)


class Sim:
    """Reads back from (and cleans up in) the simulator directly, bypassing kestra-mcp and Prism."""

    def __init__(self, api_url):
        self.base = f"{api_url}/{TENANT}"

    def call(self, method, path, body=None, content_type=None):
        req = urllib.request.Request(self.base + path, method=method, data=body)
        req.add_header("Authorization", AUTH)
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path):
        return self.call("GET", path)

    def delete(self, path):
        return self.call("DELETE", path)


def q(s):
    return urllib.parse.quote(s, safe="")


class Mcp:
    def __init__(self, session):
        self.session = session
        self.used = set()

    async def call(self, tool, args):
        self.used.add(tool if "action" not in args else f"{tool}[{args['action']}]")
        return await self.session.call_tool(tool, args)

    async def ok(self, tool, args):
        r = await self.call(tool, args)
        text = r.content[0].text if r.content else ""
        assert not r.is_error, f"{tool}({json.dumps(args)}) failed: {text[:800]}"
        if r.structured_content is not None:
            return r.structured_content
        try:
            return json.loads(text)
        except ValueError:
            return text


def server(prism_url, label):
    env = {
        "KESTRA_BASE_URL": prism_url,
        "KESTRA_USERNAME": USER,
        "KESTRA_PASSWORD": PASSWORD,
        "KESTRA_VERSION": f"{label}.0",
        "KESTRA_MCP_TIMEOUT": "60",
        "PATH": os.environ.get("PATH", ""),
    }
    return StdioServerParameters(command=os.path.abspath(BINARY), env=env, cwd=tempfile.mkdtemp())


def run(target, scenario, body):
    """Runs `body(mcp, sim, ns, made)` in a fresh kestra-mcp session, then deletes what it made."""
    label, sim_url, prism_url = target
    sim = Sim(sim_url)
    ns = f"e2e.{RUN}.{scenario}"
    made = {"executions": [], "flows": [], "kv": []}

    async def session_run():
        async with stdio_client(server(prism_url, label)) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await body(Mcp(session), sim, ns, made)

    try:
        return anyio.run(session_run)
    finally:
        problems = []
        for eid in made["executions"]:
            st, _ = sim.delete(f"/executions/{q(eid)}")
            if st not in (204, 404):
                problems.append(f"execution {eid}: {st}")
        for key in made["kv"]:
            st, _ = sim.delete(f"/namespaces/{q(ns)}/kv/{q(key)}")
            if st != 200:
                problems.append(f"KV {key}: {st}")
        for fid in made["flows"]:
            st, _ = sim.delete(f"/flows/{q(ns)}/{q(fid)}")
            if st not in (204, 404):
                problems.append(f"flow {fid}: {st}")
        assert not problems, f"[{label}] cleanup: {problems}"


def log_flow(ns, fid):
    return f"""id: {fid}
namespace: {ns}
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{{{ inputs.name }}}}"
"""


def wait_terminal(sim, eid, deadline_s=20):
    end = time.monotonic() + deadline_s
    while True:
        st, e = sim.get(f"/executions/{q(eid)}")
        assert st == 200, f"read back execution {eid}: {st} {e}"
        if e["state"]["current"] in TERMINAL:
            return e
        assert time.monotonic() < end, f"execution {eid} never ended (last {e['state']['current']})"
        time.sleep(0.1)


@pytest.mark.parametrize("target", TARGETS)
def test_flow_execute_and_logs(target):
    label = target[0]

    async def body(mcp, sim, ns, made):
        tools = {t.name for t in (await mcp.session.list_tools()).tools}
        assert {"create_flow_from_yaml", "execute_flow", "get_execution_logs", "manage_flow"} <= tools, tools

        # Create a flow from YAML; the simulator holds it.
        made["flows"].append("hello")
        out = await mcp.ok("create_flow_from_yaml", {"yaml_definition": log_flow(ns, "hello")})
        assert out["id"] == "hello", out
        st, flow = sim.get(f"/flows/{q(ns)}/hello")
        assert st == 200 and flow["namespace"] == ns, (st, flow)
        source = await mcp.ok("manage_flow", {"action": "get_yaml", "namespace": ns, "flow_id": "hello"})
        assert "Hello {{ inputs.name }}" in json.dumps(source), source

        # Execute it with an input and a label, wait for the end.
        out = await mcp.ok(
            "execute_flow",
            {"namespace": ns, "flow_id": "hello", "inputs": {"name": "sdk"}, "labels": {"client": "python-sdk"}},
        )
        eid = out["id"]
        made["executions"].append(eid)
        e = wait_terminal(sim, eid)
        assert e["state"]["current"] == "SUCCESS", e["state"]
        assert e["inputs"]["name"] == "sdk", e["inputs"]
        assert {"key": "client", "value": "python-sdk"} in e["labels"], e["labels"]

        # Its logs, through the tool and in the simulator.
        logs = await mcp.ok("get_execution_logs", {"execution_id": eid})
        assert "Hello sdk" in json.dumps(logs), logs
        st, held = sim.get(f"/logs/{q(eid)}")
        assert st == 200 and "Hello sdk" in json.dumps(held), (st, held)

        # Delete the flow through the tool; the simulator no longer has it.
        await mcp.ok("manage_flow", {"action": "delete", "namespace": ns, "flow_id": "hello"})
        st, _ = sim.get(f"/flows/{q(ns)}/hello")
        assert st == 404, f"flow still there after manage_flow delete: {st}"
        return mcp.used

    used = run(target, "flow-execute-logs", body)
    print(f"[{label}] python-sdk flow_execute_and_logs: {sorted(used)}")


@pytest.mark.parametrize("target", TARGETS)
def test_kv_round_trip(target):
    label = target[0]
    cases = [
        ("greeting", "hello sdk", "STRING", "hello sdk"),
        ("answer", 42, "NUMBER", 42),
        ("enabled", True, "BOOLEAN", True),
        ("config", {"region": "eu", "tags": ["a", "b"]}, "JSON", {"region": "eu", "tags": ["a", "b"]}),
    ]

    async def body(mcp, sim, ns, made):
        for key, value, kind, held in cases:
            made["kv"].append(key)
            out = await mcp.ok("manage_kv_store", {"namespace": ns, "action": "set", "key": key, "value": value})
            assert out == {"status": "ok"}, out
            st, stored = sim.get(f"/namespaces/{q(ns)}/kv/{q(key)}")
            assert st == 200 and stored["type"] == kind and stored["value"] == held, (key, st, stored)
            got = await mcp.ok("manage_kv_store", {"namespace": ns, "action": "get", "key": key})
            assert (got["type"], got["value"]) == (stored["type"], stored["value"]), (key, got)

        listed = await mcp.ok("manage_kv_store", {"namespace": ns, "action": "list"})
        names = sorted(k["key"] for k in (listed if isinstance(listed, list) else listed.get("results", listed.get("keys", []))))
        assert names == sorted(c[0] for c in cases), listed

        for key, *_ in cases:
            await mcp.ok("manage_kv_store", {"namespace": ns, "action": "delete", "key": key})
            st, _ = sim.get(f"/namespaces/{q(ns)}/kv/{q(key)}")
            assert st == 404, f"KV {key} still there: {st}"
        made["kv"].clear()
        missing = await mcp.call("manage_kv_store", {"namespace": ns, "action": "get", "key": "greeting"})
        assert missing.is_error and "404" in missing.content[0].text, missing
        return mcp.used

    used = run(target, "kv-round-trip", body)
    print(f"[{label}] python-sdk kv_round_trip: {sorted(used)}")
