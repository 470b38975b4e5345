"""Flows as tools (issue 17) through the official Python MCP SDK's stdio client, against
kestra-sim in 1.3 and 2.0 modes: a flow created while the session is open is announced with
`notifications/tools/list_changed`, listed with a typed schema, called with typed arguments
(its outputs come back), and an invalid argument is refused before any execution starts. On
2.0 a flow carrying a McpToolTrigger, selected by `mcp_trigger: true`, becomes the tool its
trigger names."""

import os
import tempfile

import anyio
import pytest
from mcp import ClientSession, types
from mcp.client.stdio import StdioServerParameters, stdio_client

from kestra_sim import (GREET_ARGS, GREET_FLOW, MCP_TRIGGER_RULE, REPORT_FLOW, KestraSim, check_execution,
                        selection_dir)

BINARY = os.environ.get("KESTRA_MCP_BIN", os.path.join(os.path.dirname(__file__), "../../target/debug/kestra-mcp"))


@pytest.fixture(params=["1.3", "2.0"])
def sim(request):
    kestra = KestraSim(request.param)
    yield kestra
    kestra.close()


def is_list_changed(message):
    return isinstance(message, types.ToolListChangedNotification) or isinstance(
        getattr(message, "root", None), types.ToolListChangedNotification)


async def announced(session, notes, seen, name, within=15):
    """Waits for a list_changed notification after the `seen` first ones and for `name` to be
    listed; returns the tools then listed."""
    with anyio.fail_after(within):
        while True:
            if len(notes) > seen:
                tools = {t.name: t for t in (await session.list_tools()).tools}
                if name in tools:
                    return tools
            await anyio.sleep(0.2)


def test_a_flow_added_becomes_a_tool_the_client_is_told_about_and_calls(sim):
    v2 = sim.version == "2.0"
    env = {"KESTRA_BASE_URL": sim.url, "PATH": os.environ.get("PATH", ""),
           "KESTRA_MCP_TOOLS_DIR": selection_dir(MCP_TRIGGER_RULE if v2 else "")}
    server = StdioServerParameters(command=os.path.abspath(BINARY), env=env, cwd=tempfile.mkdtemp())

    async def scenario():
        notes = []

        async def on_message(message):
            if is_list_changed(message):
                notes.append(message)

        async with stdio_client(server) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                init = await session.initialize()
                before = {t.name for t in (await session.list_tools()).tools}
                seen = len(notes)
                sim.create_flow(GREET_FLOW)
                after = await announced(session, notes, seen, "greet")
                refused = await session.call_tool("greet", {"user": "Ada", "count": "three"})
                executions_after_refusal = len(sim.executions("greet"))
                called = await session.call_tool("greet", GREET_ARGS)
                triggered = None
                if v2:
                    seen = len(notes)
                    sim.create_flow(REPORT_FLOW)
                    triggered = (await announced(session, notes, seen, "sales_report"))["sales_report"]
                return init, before, after, refused, executions_after_refusal, called, triggered

    init, before, after, refused, executions_after_refusal, called, triggered = anyio.run(scenario)
    assert init.capabilities.tools.list_changed is True
    assert "greet" not in before
    assert set(after) == before | {"greet"}
    schema = after["greet"].input_schema
    assert sorted(schema["properties"]) == ["count", "tags", "user"]
    assert schema["required"] == ["user"]
    assert schema["properties"]["count"]["type"] == "integer"
    assert refused.is_error
    assert executions_after_refusal == 0
    assert not called.is_error, called.content[0].text
    check_execution(sim, called.structured_content)
    if v2:
        # The trigger's toolName, title and annotations (McpToolTrigger.java), its input.
        assert "Sales Report Generator" in (triggered.title, triggered.annotations.title)
        assert triggered.annotations.read_only_hint is True
        # destructiveHint means something only when readOnlyHint is false (MCP's ToolAnnotations):
        # kestra-mcp leaves it out of a read-only tool's annotations; it must not say destructive.
        assert triggered.annotations.destructive_hint in (None, False)
        assert triggered.annotations.idempotent_hint is True
        assert list(triggered.input_schema["properties"]) == ["period"]
