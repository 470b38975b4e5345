"""Flows as tools (issue 17) through the official Python MCP SDK's stdio client, against
kestra-sim in 1.3 and 2.0 modes: a flow created while the session is open is announced with
`notifications/tools/list_changed`, listed with a typed schema, called with typed arguments
(its outputs come back), and an invalid argument is refused before any execution starts."""

import os
import tempfile

import anyio
import pytest
from mcp import ClientSession, types
from mcp.client.stdio import StdioServerParameters, stdio_client

from kestra_sim import GREET_ARGS, GREET_FLOW, KestraSim, check_execution, selection_dir

BINARY = os.environ.get("KESTRA_MCP_BIN", os.path.join(os.path.dirname(__file__), "../../target/debug/kestra-mcp"))


@pytest.fixture(params=["1.3", "2.0"])
def sim(request):
    kestra = KestraSim(request.param)
    yield kestra
    kestra.close()


def test_a_flow_added_becomes_a_tool_the_client_is_told_about_and_calls(sim):
    env = {"KESTRA_BASE_URL": sim.url, "PATH": os.environ.get("PATH", ""),
           "KESTRA_MCP_TOOLS_DIR": selection_dir()}
    server = StdioServerParameters(command=os.path.abspath(BINARY), env=env, cwd=tempfile.mkdtemp())

    async def scenario():
        changed = anyio.Event()

        async def on_message(message):
            if isinstance(message, types.ServerNotification) and isinstance(
                    message.root, types.ToolListChangedNotification):
                changed.set()
            elif isinstance(message, types.ToolListChangedNotification):
                changed.set()

        async with stdio_client(server) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                init = await session.initialize()
                before = await session.list_tools()
                sim.create_flow(GREET_FLOW)
                with anyio.fail_after(15):
                    await changed.wait()
                after = await session.list_tools()
                refused = await session.call_tool("greet", {"user": "Ada", "count": "three"})
                executions_after_refusal = len(sim.executions("greet"))
                called = await session.call_tool("greet", GREET_ARGS)
                return init, before, after, refused, executions_after_refusal, called

    init, before, after, refused, executions_after_refusal, called = anyio.run(scenario)
    assert init.capabilities.tools.list_changed is True
    assert "greet" not in {t.name for t in before.tools}
    tools = {t.name: t for t in after.tools}
    assert "greet" in tools and len(tools) == len(before.tools) + 1
    schema = tools["greet"].input_schema
    assert sorted(schema["properties"]) == ["count", "tags", "user"]
    assert schema["required"] == ["user"]
    assert schema["properties"]["count"]["type"] == "integer"
    assert refused.is_error
    assert executions_after_refusal == 0
    assert not called.is_error, called.content[0].text
    check_execution(sim, called.structured_content)
