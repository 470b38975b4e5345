"""kestra-mcp driven by the official Python MCP SDK's stdio client (a client nobody here wrote)."""

import json
import os
import tempfile

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from kestra_stub import KestraStub


def data(result):
    """A result's data: its JSON text (structuredContent comes only with an outputSchema)."""
    value = json.loads(result.content[0].text)
    assert result.structured_content in (None, value), result
    return value


BINARY = os.environ.get("KESTRA_MCP_BIN", os.path.join(os.path.dirname(__file__), "../../target/debug/kestra-mcp"))


@pytest.fixture
def kestra():
    stub = KestraStub()
    yield stub
    stub.close()


def params(kestra, **extra):
    # KESTRA_MCP_DISABLED_TOOLS=none: no edition probe among the requests counted here.
    env = {"KESTRA_BASE_URL": kestra.url, "PATH": os.environ.get("PATH", ""), "KESTRA_MCP_DISABLED_TOOLS": "none"}
    env.update(extra)
    return StdioServerParameters(command=os.path.abspath(BINARY), env=env, cwd=tempfile.mkdtemp())


async def session_run(server_params, body):
    async with stdio_client(server_params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)


def run(server_params, body):
    return anyio.run(session_run, server_params, body)


def test_lists_tools_with_schemas(kestra):
    async def body(session):
        return await session.list_tools()

    tools = {t.name: t for t in run(params(kestra), body).tools}
    assert len(tools) == 39
    assert {"search_flows", "manage_kv_store", "execute_flow", "manage_executions"} <= set(tools)
    assert tools["search_flows"].input_schema["required"] == ["query"]
    assert tools["search_flows"].annotations.read_only_hint is True


def test_calls_tools_and_reads_their_json_text(kestra):
    async def body(session):
        found = await session.call_tool("search_flows", {"query": "hello"})
        stored = await session.call_tool(
            "manage_kv_store", {"namespace": "company.team", "action": "set", "key": "greeting", "value": "hi"}
        )
        read = await session.call_tool("manage_kv_store", {"namespace": "company.team", "action": "get", "key": "greeting"})
        missing = await session.call_tool("manage_kv_store", {"namespace": "company.team", "action": "get", "key": "nope"})
        return found, stored, read, missing

    found, stored, read, missing = run(params(kestra, KESTRA_API_TOKEN="py-token"), body)
    assert not found.is_error
    assert data(found)["total"] == 1
    # No outputSchema: the data once, as JSON text.
    assert found.structured_content is None
    assert data(stored) == {"status": "ok"}
    assert data(read) == {"type": "STRING", "value": "hi"}
    assert missing.is_error
    assert "404" in missing.content[0].text and "No value found for key 'nope'" in missing.content[0].text

    method, path, headers, sent = kestra.requests[1]
    assert (method, path, sent) == ("PUT", "/api/v1/main/namespaces/company.team/kv/greeting", '"hi"')
    assert headers["authorization"] == "Bearer py-token"
    assert headers["content-type"] == "text/plain"


def test_bad_arguments_are_tool_errors_and_send_nothing(kestra):
    async def body(session):
        return await session.call_tool("search_flows", {"query": 42})

    result = run(params(kestra), body)
    assert result.is_error
    assert "'query': 42 is not of type" in result.content[0].text
    assert kestra.requests == []


def test_protocol_2026_07_28_without_handshake(kestra):
    """The newest revision rmcp supports has no `initialize`: the client discovers the server
    (`server/discover`) and stamps every request's `_meta` with its version and capabilities."""

    async def scenario():
        async with stdio_client(params(kestra)) as (read, write):
            async with ClientSession(read, write) as session:
                discovered = await session.discover()
                tools = await session.list_tools()
                found = await session.call_tool("search_flows", {"query": "hello"})
                missing = await session.call_tool("manage_kv_store", {"namespace": "n", "action": "get", "key": "nope"})
                return session.protocol_version, discovered, tools, found, missing

    version, discovered, tools, found, missing = anyio.run(scenario)
    assert version == "2026-07-28"
    assert discovered.supported_versions[-1] == "2026-07-28"
    assert len(tools.tools) == 39
    assert not found.is_error and data(found)["total"] == 1
    assert missing.is_error and "404" in missing.content[0].text


def test_dynamic_discovery_enables_a_toolset_and_the_client_is_told(kestra):
    """KESTRA_MCP_TOOLSETS=dynamic: three discovery tools; enabling a toolset sends
    notifications/tools/list_changed and its tools appear and work."""
    from mcp import types

    async def scenario():
        changed = anyio.Event()

        async def on_message(message):
            if isinstance(message, types.ToolListChangedNotification):
                changed.set()

        async with stdio_client(params(kestra, KESTRA_MCP_TOOLSETS="dynamic")) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                init = await session.initialize()
                before = await session.list_tools()
                toolsets = await session.call_tool("list_available_toolsets", {})
                enabled = await session.call_tool("enable_toolset", {"toolset": "kv"})
                with anyio.fail_after(10):
                    await changed.wait()
                after = await session.list_tools()
                read_back = await session.call_tool(
                    "manage_kv_store", {"namespace": "company.team", "action": "get", "key": "nope"})
                return init, before, toolsets, enabled, after, read_back

    init, before, toolsets, enabled, after, read_back = anyio.run(scenario)
    assert init.capabilities.tools.list_changed is True
    assert sorted(t.name for t in before.tools) == ["enable_toolset", "get_toolset_tools", "list_available_toolsets"]
    assert len(json.dumps([t.model_dump(mode="json", exclude_none=True) for t in before.tools])) <= 4000
    names = [t["name"] for t in data(toolsets)["toolsets"]]
    assert "kv" in names and "flow" in names
    assert data(enabled)["tools_added"] == ["manage_kv_store"]
    assert sorted(t.name for t in after.tools) == [
        "enable_toolset", "get_toolset_tools", "list_available_toolsets", "manage_kv_store"]
    # The tool works once enabled: the stub answers 404 for an unknown key.
    assert read_back.is_error and "404" in read_back.content[0].text


def test_read_only_refuses_a_write_without_sending_it(kestra):
    async def body(session):
        tools = await session.list_tools()
        refused = await session.call_tool(
            "manage_kv_store", {"namespace": "company.team", "action": "set", "key": "k", "value": "v"})
        return tools, refused

    tools, refused = run(params(kestra, KESTRA_MCP_READ_ONLY="true"), body)
    by_name = {t.name: t for t in tools.tools}
    assert "execute_flow" not in by_name
    assert by_name["manage_kv_store"].input_schema["properties"]["action"]["enum"] == ["get", "list"]
    assert all(t.annotations.read_only_hint is True for t in tools.tools)
    assert refused.is_error and "KESTRA_MCP_READ_ONLY" in refused.content[0].text
    assert kestra.requests == []
