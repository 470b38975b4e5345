"""`kestra-mcp serve --http`: the Streamable HTTP transport, driven by the official Python and
TypeScript MCP SDKs, with its protections (bearer token, Origin, Host) checked over raw HTTP."""

import json
import re
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import anyio
import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from kestra_stub import KestraStub  # noqa: E402


def data(result):
    """A result's data: its JSON text (structuredContent comes only with an outputSchema)."""
    value = json.loads(result.content[0].text)
    assert result.structured_content in (None, value), result
    return value


HERE = os.path.dirname(__file__)
BINARY = os.environ.get("KESTRA_MCP_BIN", os.path.join(HERE, "../../target/debug/kestra-mcp"))
TOKEN = "http-client-token"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kestra():
    stub = KestraStub()
    yield stub
    stub.close()


def start_server(env, flags=()):
    """`kestra-mcp [flags] serve --http` on a free loopback port, once it accepts connections."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "KESTRA_MCP_HTTP_TOKEN": TOKEN, **env}
    proc = subprocess.Popen([os.path.abspath(BINARY), *flags, "serve", "--http", f"127.0.0.1:{port}"], env=env,
                            cwd=tempfile.mkdtemp(), stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/mcp"


@pytest.fixture
def server(kestra):
    proc, url = start_server({"KESTRA_BASE_URL": kestra.url, "KESTRA_API_TOKEN": "kestra-side-token"})
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def post(url, headers, body=INIT):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_requests_without_the_token_or_from_foreign_origins_or_hosts_are_refused(server):
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert post(server, {}) == 401
    assert post(server, {"authorization": "Bearer wrong"}) == 401
    assert post(server, {**auth, "origin": "http://evil.example"}) == 403
    assert post(server, {**auth, "host": "evil.example"}) == 403
    assert post(server, {**auth, "origin": "http://localhost:5173"}) == 200
    assert post(server, auth) == 200


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_health_and_readiness_answer_probes_without_a_token_and_reveal_nothing(server, kestra):
    base = server.removesuffix("/mcp")
    asked_before = len(kestra.requests)
    # A platform's probe: no token, and the pod's address (not a loopback name) as Host.
    assert get(f"{base}/healthz", {"host": "10.1.2.3:8000"}) == (200, "ok\n")
    status, body = get(f"{base}/readyz", {"host": "10.1.2.3:8000"})
    assert status == 200 and re.fullmatch(r"ready: \d+ tools\n", body), body
    assert int(body.split()[1]) >= 29
    # Probes never reach Kestra (a Kestra outage must not restart every replica), and the MCP
    # endpoint keeps its token check.
    assert kestra.requests[asked_before:] == []
    assert post(server, {}) == 401


async def session_calls(url):
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
    async with client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                tools = await session.list_tools()
                found = await session.call_tool("search_flows", {"query": "hello"})
                return init, tools, found


def test_python_sdk_two_sessions_at_once(server, kestra):
    async def both():
        results = []

        async def one():
            results.append(await session_calls(server))

        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            tg.start_soon(one)
        return results

    results = anyio.run(both)
    assert len(results) == 2
    for init, tools, found in results:
        assert init.server_info.name == "kestra-mcp"
        assert len(tools.tools) == 39
        assert not found.is_error and data(found)["total"] == 1
    sent = [r for r in kestra.requests if r[1].startswith("/api/v1/main/flows/search")]
    assert len(sent) == 2
    # The client's token never reaches Kestra: only the configured one does.
    assert all(h["authorization"] == "Bearer kestra-side-token" for _, _, h, _ in sent)


def test_typescript_sdk_client(server):
    run = subprocess.run(["node", os.path.join(HERE, "ts_client.mjs"), server, TOKEN],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["toolCount"] == 39
    assert seen["total"] == 1 and seen["isError"] is False
    assert seen["badIsError"] is True


# ---------------------------------------------------------------------------------------------
# Hot reload over HTTP: every open session is told


@pytest.fixture
def watched_server(kestra):
    tools_dir = tempfile.mkdtemp()
    with open(os.path.join(HERE, "..", "..", "tools.d", "search_flows.yaml"), encoding="utf-8") as f:
        search_flows = f.read()
    proc, url = start_server({"KESTRA_BASE_URL": kestra.url, "KESTRA_MCP_DISABLED_TOOLS": "none",
                              "KESTRA_MCP_TOOLS_DIR": tools_dir}, ["--watch"])
    yield url, tools_dir, search_flows
    proc.terminate()
    proc.wait(timeout=10)


def test_hot_reload_notifies_every_open_http_session(watched_server):
    url, tools_dir, search_flows = watched_server
    added = search_flows.replace("name: search_flows", "name: search_flows_copy")

    async def scenario():
        changed = [anyio.Event(), anyio.Event()]
        listed = [anyio.Event(), anyio.Event()]
        after = [None, None]

        async def one(i):
            async def on_message(message):
                if isinstance(message, types.ToolListChangedNotification):
                    changed[i].set()

            client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
            async with client, streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write, message_handler=on_message) as session:
                    init = await session.initialize()
                    assert init.capabilities.tools.list_changed is True
                    assert len((await session.list_tools()).tools) == 39
                    listed[i].set()
                    with anyio.fail_after(15):
                        await changed[i].wait()
                    after[i] = [t.name for t in (await session.list_tools()).tools]

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, 0)
            tg.start_soon(one, 1)
            with anyio.fail_after(15):
                await listed[0].wait()
                await listed[1].wait()
            # Give the server-to-client event stream (GET /mcp) of each session time to open.
            await anyio.sleep(0.5)
            with open(os.path.join(tools_dir, "search_flows_copy.yaml"), "w", encoding="utf-8") as f:
                f.write(added)
        return after

    after = anyio.run(scenario)
    for names in after:
        assert len(names) == 40 and "search_flows_copy" in names, names


# ---------------------------------------------------------------------------------------------
# Every protocol version rmcp supports, over HTTP


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
def test_each_handshake_protocol_version_is_negotiated_over_http(server, version):
    body = {**INIT, "params": {**INIT["params"], "protocolVersion": version}}
    request = urllib.request.Request(server, data=json.dumps(body).encode(), method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream",
        "authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    # The answer is one JSON-RPC message, as JSON or as one SSE event.
    payload = text if text.lstrip().startswith("{") else next(
        line[len("data:"):] for line in text.splitlines() if line.startswith("data:") and line[5:].strip())
    result = json.loads(payload)["result"]
    assert result["protocolVersion"] == version
    assert result["serverInfo"]["name"] == "kestra-mcp"


def test_python_sdk_2026_07_28_without_handshake_over_http(server, kestra):
    async def scenario():
        client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with client, streamable_http_client(url=server, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                discovered = await session.discover()
                tools = await session.list_tools()
                found = await session.call_tool("search_flows", {"query": "hello"})
                bad = await session.call_tool("search_flows", {"query": 42})
                return session.protocol_version, discovered, tools, found, bad

    version, discovered, tools, found, bad = anyio.run(scenario)
    assert version == "2026-07-28"
    assert "2026-07-28" in discovered.supported_versions
    assert len(tools.tools) == 39
    assert not found.is_error and data(found)["total"] == 1
    assert bad.is_error


# ---------------------------------------------------------------------------------------------
# Dynamic discovery over HTTP: enabling is per session


@pytest.fixture
def dynamic_server(kestra):
    proc, url = start_server({"KESTRA_BASE_URL": kestra.url, "KESTRA_MCP_DISABLED_TOOLS": "none",
                              "KESTRA_MCP_TOOLSETS": "dynamic"})
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_dynamic_toolsets_are_enabled_per_http_session_and_announced(dynamic_server):
    discovery = ["enable_toolset", "get_toolset_tools", "list_available_toolsets"]

    async def scenario():
        changed = anyio.Event()
        a_enabled = anyio.Event()
        seen = {}

        async def enabling():
            async def on_message(message):
                if isinstance(message, types.ToolListChangedNotification):
                    changed.set()

            client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
            async with client, streamable_http_client(dynamic_server, http_client=client) as (read, write):
                async with ClientSession(read, write, message_handler=on_message) as session:
                    init = await session.initialize()
                    assert init.capabilities.tools.list_changed is True
                    seen["a_before"] = sorted(t.name for t in (await session.list_tools()).tools)
                    # Give the server-to-client event stream (GET /mcp) time to open.
                    await anyio.sleep(0.5)
                    await session.call_tool("enable_toolset", {"toolset": "flow"})
                    with anyio.fail_after(10):
                        await changed.wait()
                    seen["a_after"] = sorted(t.name for t in (await session.list_tools()).tools)
                    found = await session.call_tool("search_flows", {"query": "hello"})
                    seen["a_found"] = data(found)["total"]
                    a_enabled.set()

        async def watching():
            client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
            async with client, streamable_http_client(dynamic_server, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    with anyio.fail_after(15):
                        await a_enabled.wait()
                    seen["b"] = sorted(t.name for t in (await session.list_tools()).tools)
                    # Not enabled in this session: the JSON-RPC error of an unknown tool.
                    try:
                        answer = await session.call_tool("search_flows", {"query": "hello"})
                        seen["b_refused"] = f"answered: {answer}"
                    except Exception as e:  # noqa: BLE001 (the SDK's error type varies by version)
                        seen["b_refused"] = str(e)

        async with anyio.create_task_group() as tg:
            tg.start_soon(enabling)
            tg.start_soon(watching)
        return seen

    seen = anyio.run(scenario)
    assert seen["a_before"] == discovery
    assert "search_flows" in seen["a_after"] and "execute_flow" not in seen["a_after"]
    assert seen["a_found"] == 1
    assert seen["b"] == discovery
    assert seen["b_refused"] == "tool 'search_flows' not found", seen["b_refused"]


@pytest.fixture
def watched_dynamic_server(kestra):
    tools_dir = tempfile.mkdtemp()
    proc, url = start_server({"KESTRA_BASE_URL": kestra.url, "KESTRA_MCP_DISABLED_TOOLS": "none",
                              "KESTRA_MCP_TOOLSETS": "dynamic", "KESTRA_MCP_TOOLS_DIR": tools_dir}, ["--watch"])
    yield url, tools_dir
    proc.terminate()
    proc.wait(timeout=10)


EXTRA_SPEC = """name: {name}
group: flow
description: Extra flow tool.
input:
  type: object
  properties: {{}}
request:
  method: GET
  path: /flows/search
"""


def test_a_spec_added_during_a_dynamic_http_session_is_announced_and_listed_once_its_toolset_is_enabled(
        watched_dynamic_server):
    """The rule: a reload tells every session (`tools/list_changed`); a dynamic session lists a new
    tool only when its toolset is enabled there, at once if it already was."""
    url, tools_dir = watched_dynamic_server
    discovery = ["enable_toolset", "get_toolset_tools", "list_available_toolsets"]

    def add(name):
        with open(os.path.join(tools_dir, f"{name}.yaml"), "w", encoding="utf-8") as f:
            f.write(EXTRA_SPEC.format(name=name))

    async def scenario():
        changes = []
        seen = {}

        async def on_message(message):
            if isinstance(message, types.ToolListChangedNotification):
                changes.append(message)

        async def next_change(count):
            with anyio.fail_after(15):
                while len(changes) < count:
                    await anyio.sleep(0.05)

        client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with client, streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                await session.initialize()
                seen["before"] = sorted(t.name for t in (await session.list_tools()).tools)
                # Give the server-to-client event stream (GET /mcp) time to open.
                await anyio.sleep(0.5)
                add("flow_extra")
                await next_change(1)
                seen["added_not_enabled"] = sorted(t.name for t in (await session.list_tools()).tools)
                flow = await session.call_tool("get_toolset_tools", {"toolset": "flow"})
                seen["flow_toolset"] = [t["name"] for t in data(flow)["tools"]]
                enabled = await session.call_tool("enable_toolset", {"toolset": "flow"})
                seen["tools_added"] = data(enabled)["tools_added"]
                await next_change(2)
                seen["enabled"] = sorted(t.name for t in (await session.list_tools()).tools)
                add("flow_more")
                await next_change(3)
                seen["added_enabled"] = sorted(t.name for t in (await session.list_tools()).tools)
        return seen

    seen = anyio.run(scenario)
    assert seen["before"] == discovery
    # Announced, but not listed: its toolset is not enabled in this session.
    assert seen["added_not_enabled"] == discovery, seen
    assert "flow_extra" in seen["flow_toolset"], seen
    assert "flow_extra" in seen["tools_added"] and "search_flows" in seen["tools_added"], seen
    assert "flow_extra" in seen["enabled"] and "manage_kv_store" not in seen["enabled"], seen
    # Its toolset enabled: a tool added later is listed at once.
    assert "flow_more" in seen["added_enabled"] and "flow_extra" in seen["added_enabled"], seen


def test_enabling_needs_a_session_and_says_so_over_the_sessionless_2026_07_28_revision(dynamic_server):
    async def scenario():
        client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with client, streamable_http_client(url=dynamic_server, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.discover()
                listed = await session.call_tool("list_available_toolsets", {})
                enabled = await session.call_tool("enable_toolset", {"toolset": "kv"})
                return session.protocol_version, listed, enabled

    version, listed, enabled = anyio.run(scenario)
    assert version == "2026-07-28"
    assert not listed.is_error and data(listed)["toolsets"]
    assert enabled.is_error and "set KESTRA_MCP_TOOLSETS" in enabled.content[0].text, enabled


def test_typescript_sdk_enables_a_toolset_and_is_told(dynamic_server):
    run = subprocess.run(["node", os.path.join(HERE, "ts_dynamic.mjs"), dynamic_server, TOKEN],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    discovery = ["enable_toolset", "get_toolset_tools", "list_available_toolsets"]
    assert seen["before"] == discovery
    assert seen["added"] == ["manage_kv_store"]
    assert seen["notified"] is True
    assert seen["after"] == sorted(discovery + ["manage_kv_store"])


# ---------------------------------------------------------------------------------------------
# Per-session narrowing over HTTP: X-MCP-Toolsets, X-MCP-Readonly, X-MCP-Namespaces


def test_narrowing_headers_narrow_one_session_and_never_widen(kestra):
    proc, url = start_server({"KESTRA_BASE_URL": kestra.url, "KESTRA_MCP_NAMESPACES": "company.*",
                              "KESTRA_MCP_LOG_LEVEL": "WARNING"})
    narrow = {"Authorization": f"Bearer {TOKEN}", "X-MCP-Toolsets": "flow,kv", "X-MCP-Readonly": "true",
              "X-MCP-Namespaces": "company.team,other"}

    async def session(headers, calls):
        client = create_mcp_http_client(headers=headers)
        async with client, streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                tools = (await s.list_tools()).tools
                results = []
                for name, args in calls:
                    try:
                        results.append(await s.call_tool(name, args))
                    except MCPError as e:  # an unknown tool is a JSON-RPC error
                        results.append(e)
                return tools, results

    def text(result):
        return result.content[0].text

    try:
        tools, (found, outside, widened, write, hidden) = anyio.run(session, narrow, [
            ("search_flows", {"query": "hello"}),
            ("manage_kv_store", {"action": "get", "namespace": "company.other", "key": "k"}),
            ("manage_kv_store", {"action": "get", "namespace": "other", "key": "k"}),
            ("manage_kv_store", {"action": "set", "namespace": "company.team", "key": "k", "value": "v"}),
            ("execute_flow", {"namespace": "company.team", "flow_id": "hello"}),
        ])
        names = {t.name for t in tools}
        assert "manage_kv_store" in names and "search_flows" in names
        assert "execute_flow" not in names and "create_flow_from_yaml" not in names, names
        kv = next(t for t in tools if t.name == "manage_kv_store")
        assert kv.input_schema["properties"]["action"]["enum"] == ["get", "list"]
        assert not found.is_error and data(found)["total"] == 1
        assert outside.is_error and "X-MCP-Namespaces=company.team,other" in text(outside)
        # `other` in the header widens nothing: the server's setting still refuses it.
        assert widened.is_error and "KESTRA_MCP_NAMESPACES=company.*" in text(widened)
        assert write.is_error and "X-MCP-Readonly" in text(write)
        assert isinstance(hidden, MCPError) and "execute_flow" in str(hidden)
        assert not [r for r in kestra.requests if "/kv/" in r[1]], kestra.requests

        # Another session of the same server, without headers, keeps the server's settings.
        tools, (stored,) = anyio.run(session, {"Authorization": f"Bearer {TOKEN}"}, [
            ("manage_kv_store", {"action": "set", "namespace": "company.team", "key": "k", "value": "v"}),
        ])
        assert len(tools) == 39
        assert not stored.is_error, text(stored)
        assert [r[0] for r in kestra.requests if "/kv/" in r[1]] == ["PUT"]
    finally:
        proc.terminate()
        stderr = proc.communicate(timeout=10)[1].decode()
    assert "X-MCP-Namespaces: other ignored: outside KESTRA_MCP_NAMESPACES" in stderr, stderr


# ---------------------------------------------------------------------------------------------
# Long runs: progress keeps a request alive past the client's timeout; a cancelled wait


@pytest.fixture
def waiting_server(kestra):
    proc, url = start_server({"KESTRA_BASE_URL": kestra.url, "KESTRA_VERSION": "1.3.0",
                              "KESTRA_MCP_TIMEOUT": "1", "KESTRA_MCP_KILL_ON_CANCEL": "true"})
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_typescript_sdk_waits_with_progress_and_cancels(waiting_server, kestra):
    run = subprocess.run(["node", os.path.join(HERE, "ts_waits.mjs"), waiting_server, TOKEN],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    # Longer than the client's 2.5 s request timeout (and KESTRA_MCP_TIMEOUT), kept alive by progress.
    assert seen["elapsedMs"] > 2500, seen
    assert seen["isError"] is False and seen["state"] == {"current": "SUCCESS", "duration": "PT4.5S"}, seen
    assert seen["outputs"] == {"answer": 42}, seen
    values = seen["progress"]
    assert len(values) >= 3 and all(a < b for a, b in zip(values, values[1:])), seen
    assert values[-1] == 3 and seen["totals"][-1] == 3, seen
    assert any(m and m.startswith("RUNNING: t") for m in seen["messages"]), seen
    # The aborted call: the client gave up, and the server killed the execution (KILL_ON_CANCEL).
    assert seen["cancelled"] != "answered", seen
    for _ in range(50):
        if any(m == "DELETE" and p == "/api/v1/main/executions/e2/kill" for m, p, _, _ in kestra.requests):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"no kill sent: {[(m, p) for m, p, _, _ in kestra.requests]}")


def test_python_sdk_counts_increasing_progress_while_waiting(waiting_server, kestra):
    async def wait_with_progress():
        seen = []

        async def on_progress(progress, total, message):
            seen.append((progress, total, message))

        client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with client:
            async with streamable_http_client(waiting_server, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    result = await session.call_tool(
                        "execute_flow", {"namespace": "company.team", "flow_id": "slow", "wait": True},
                        progress_callback=on_progress)
                    return result, seen

    result, seen = anyio.run(wait_with_progress)
    assert not result.is_error, result
    assert data(result)["state"]["current"] == "SUCCESS", result
    values = [p for p, _, _ in seen]
    assert len(values) >= 3 and all(a < b for a, b in zip(values, values[1:])), seen
    assert seen[-1][:2] == (3, 3), seen


# ---------------------------------------------------------------------------------------------
# A Pause that asks: the SDKs' elicitation handlers


def run_approval(url, answer):
    """execute_flow with wait on `approval` through the Python SDK, its elicitation callback
    answering with `answer`; the questions asked and the result."""
    async def go():
        asked = []

        async def on_elicit(context, params):
            asked.append(params)
            return answer

        client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write, elicitation_callback=on_elicit) as session:
                    await session.initialize()
                    result = await session.call_tool(
                        "execute_flow", {"namespace": "company.team", "flow_id": "approval", "wait": True})
                    return asked, result

    return anyio.run(go)


def test_python_sdk_elicitation_accepts_and_the_execution_resumes(waiting_server, kestra):
    asked, result = run_approval(
        waiting_server, types.ElicitResult(action="accept", content={"approved": False, "comment": "later"}))
    assert len(asked) == 1, asked
    assert "paused at task approve" in asked[0].message, asked
    schema = asked[0].requested_schema
    assert schema["required"] == ["comment"], schema
    assert schema["properties"]["approved"]["type"] == "boolean", schema
    assert not result.is_error, result
    assert data(result)["state"]["current"] == "SUCCESS", result
    assert data(result)["resumedWith"] == {"approved": False, "comment": "later"}, result
    (body,) = kestra.resumed.values()
    assert 'name="comment"' in body and "later" in body, body


def test_python_sdk_elicitation_declines_and_the_execution_stays_paused(waiting_server, kestra):
    asked, result = run_approval(waiting_server, types.ElicitResult(action="decline"))
    assert len(asked) == 1, asked
    assert not result.is_error, result
    out = data(result)
    assert out["state"]["current"] == "PAUSED" and out["pausedAt"] == "approve", out
    assert "the user declined resuming it" in out["note"] and "resume_execution" in out["note"], out
    assert out["resumeInputs"] == ["approved", "comment"], out
    assert kestra.resumed == {}, kestra.resumed


def test_typescript_sdk_elicit_input_handler_resumes_a_pause(waiting_server, kestra):
    run = subprocess.run(["node", os.path.join(HERE, "ts_elicit.mjs"), waiting_server, TOKEN],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(seen["asked"]) == 1 and "paused at task approve" in seen["asked"][0], seen
    assert seen["required"] == ["comment"], seen
    assert seen["state"] == "SUCCESS" and seen["resumedWith"] == {"approved": True, "comment": "ship it"}, seen
    (body,) = kestra.resumed.values()
    assert "ship it" in body, body


# ---------------------------------------------------------------------------------------------
# The tasks extension over HTTP, in raw JSON-RPC (neither SDK at hand speaks its revision: see
# tests/integration/tasks.rs)


class RawSession:
    """One streamable HTTP session: each request's answer read from JSON or from its SSE events."""

    def __init__(self, url):
        self.url, self.session_id, self.next_id = url, None, 1

    def send(self, method, params=None, notification=False):
        body = {"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})}
        if not notification:
            body["id"], self.next_id = self.next_id, self.next_id + 1
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
                   "authorization": f"Bearer {TOKEN}"}
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=20) as response:
            self.session_id = response.headers.get("mcp-session-id") or self.session_id
            text = response.read().decode()
        if notification:
            return None
        messages = [json.loads(text)] if text.lstrip().startswith("{") else [
            json.loads(line[len("data:"):]) for line in text.splitlines()
            if line.startswith("data:") and line[5:].strip()]
        (answer,) = [m for m in messages if m.get("id") == body["id"]]
        return answer


def test_a_task_over_http_is_created_polled_and_completed(waiting_server, kestra):
    session = RawSession(waiting_server)
    init = session.send("initialize", {
        "protocolVersion": "2025-11-25", "clientInfo": {"name": "raw-tasks", "version": "1"},
        "capabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}})
    assert "io.modelcontextprotocol/tasks" in init["result"]["capabilities"]["extensions"], init
    session.send("notifications/initialized", notification=True)
    started = session.send("tools/call", {"name": "execute_flow",
                                          "arguments": {"namespace": "company.team", "flow_id": "slow", "wait": True}})
    result = started["result"]
    assert result["resultType"] == "task" and result["status"] == "working", started
    seen = []
    for _ in range(200):
        task = session.send("tasks/get", {"taskId": result["taskId"]})["result"]
        seen.append(task["status"])
        if task["status"] != "working":
            break
        time.sleep(0.1)
    assert task["status"] == "completed", (task, seen)
    assert "working" in seen, seen
    assert json.loads(task["result"]["content"][0]["text"])["state"]["current"] == "SUCCESS", task
    assert task["statusMessage"].startswith("3/3"), task
