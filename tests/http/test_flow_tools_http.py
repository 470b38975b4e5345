"""Flows as tools (issue 17) through the official SDK clients against kestra-sim in 1.3 and 2.0
modes: the Python SDK over Streamable HTTP, the TypeScript SDK over Streamable HTTP and over
stdio. Each client lists the tools, sees a flow created while it is connected announced with
`notifications/tools/list_changed`, calls its tool with an invalid argument (refused, nothing
started) and with typed arguments (the outputs come back), read back from the simulator."""

import json
import os
import subprocess
import sys
import tempfile

import anyio
import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from kestra_sim import GREET_ARGS, GREET_FLOW, KestraSim, check_execution, selection_dir  # noqa: E402
from test_http_transport import BINARY, HERE, TOKEN, start_server  # noqa: E402


@pytest.fixture(params=["1.3", "2.0"])
def sim(request):
    kestra = KestraSim(request.param)
    yield kestra
    kestra.close()


@pytest.fixture
def flow_server(sim):
    proc, url = start_server({"KESTRA_BASE_URL": sim.url, "KESTRA_MCP_TOOLS_DIR": selection_dir()})
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def flow_file():
    path = os.path.join(tempfile.mkdtemp(), "greet.yaml")
    with open(path, "w") as f:
        f.write(GREET_FLOW)
    return path


def check_schema(schema):
    assert sorted(schema["properties"]) == ["count", "tags", "user"], schema
    assert schema["required"] == ["user"], schema
    assert schema["properties"]["count"]["type"] == "integer", schema


def test_python_sdk_over_http_is_told_of_a_new_flow_tool_and_calls_it(sim, flow_server):
    async def scenario():
        changed = anyio.Event()

        async def on_message(message):
            if isinstance(message, types.ToolListChangedNotification):
                changed.set()
            elif isinstance(getattr(message, "root", None), types.ToolListChangedNotification):
                changed.set()

        client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with client:
            async with streamable_http_client(flow_server, http_client=client) as (read, write):
                async with ClientSession(read, write, message_handler=on_message) as session:
                    await session.initialize()
                    before = await session.list_tools()
                    sim.create_flow(GREET_FLOW)
                    with anyio.fail_after(15):
                        await changed.wait()
                    after = await session.list_tools()
                    refused = await session.call_tool("greet", {"user": "Ada", "count": "three"})
                    started = len(sim.executions("greet"))
                    called = await session.call_tool("greet", GREET_ARGS)
                    return before, after, refused, started, called

    before, after, refused, started, called = anyio.run(scenario)
    assert "greet" not in {t.name for t in before.tools}
    tools = {t.name: t for t in after.tools}
    check_schema(tools["greet"].input_schema)
    assert refused.is_error and started == 0
    assert not called.is_error, called.content[0].text
    check_execution(sim, called.structured_content)


def run_ts(args, env=None):
    run = subprocess.run(["node", os.path.join(HERE, "ts_flow_tools.mjs"), *args],
                         capture_output=True, text=True, timeout=90, env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def check_ts(sim, seen):
    assert seen["created"] == 200, seen
    assert seen["notified"] is True, seen
    assert "greet" not in seen["before"] and "greet" in seen["after"], seen
    check_schema(seen["schema"])
    assert seen["refused"] is True, seen
    assert seen["calledIsError"] is False, seen["text"]
    assert len(sim.executions("greet")) == 1
    check_execution(sim, seen["result"])


def test_typescript_sdk_over_http_is_told_of_a_new_flow_tool_and_calls_it(sim, flow_server):
    check_ts(sim, run_ts(["http", flow_server, TOKEN, sim.url, flow_file()]))


def test_typescript_sdk_over_stdio_is_told_of_a_new_flow_tool_and_calls_it(sim):
    env = {"PATH": os.environ.get("PATH", ""), "KESTRA_BASE_URL": sim.url,
           "KESTRA_MCP_TOOLS_DIR": selection_dir()}
    check_ts(sim, run_ts(["stdio", os.path.abspath(BINARY), sim.url, flow_file()], env))
