"""The Docker image, run as users run it: `docker run -i --rm --read-only --cap-drop ALL
--network host -e KESTRA_BASE_URL=... -v ./tools:/etc/kestra-mcp/tools.d:ro IMAGE`, driven by the
official Python MCP SDK's stdio client against a loopback stand-in for Kestra.

IMAGE comes from $KESTRA_MCP_IMAGE (docker/test-image.sh builds it and sets it).
"""

import os
import subprocess
import tempfile

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from kestra_stub import KestraStub  # noqa: E402

IMAGE = os.environ.get("KESTRA_MCP_IMAGE", "kestra-mcp:test")
DOCKER = os.environ.get("DOCKER", "docker")

ADDED_TOOL = """name: get_flow_source
group: flow
description: The YAML source of a flow (added by a mounted tools.d).
input:
  type: object
  properties:
    query: {type: string}
  required: [query]
request:
  method: GET
  path: /flows/search
  query: {q: "{{ query }}"}
"""

OVERRIDDEN_SEARCH = """name: search_flows
group: flow
description: Overridden search (from the mounted tools.d).
input:
  type: object
  properties:
    query: {type: string}
  required: [query]
request:
  method: GET
  path: /flows/search
  query: {q: "{{ query }}", size: "5", page: "1"}
"""


def docker_args(kestra_url, tools_dir):
    return [
        "run", "-i", "--rm", "--read-only", "--cap-drop", "ALL", "--network", "host",
        "-e", f"KESTRA_BASE_URL={kestra_url}",
        "-e", "KESTRA_API_TOKEN=image-test-token",
        "-v", f"{tools_dir}:/etc/kestra-mcp/tools.d:ro",
        IMAGE,
    ]


@pytest.fixture
def kestra():
    stub = KestraStub()
    yield stub
    stub.close()


@pytest.fixture
def tools_dir():
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        yield d


def write(tools_dir, name, text):
    path = os.path.join(tools_dir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def test_image_lists_added_and_overridden_tools_and_calls_kestra(kestra, tools_dir):
    write(tools_dir, "get_flow_source.yaml", ADDED_TOOL)
    write(tools_dir, "search_flows.yaml", OVERRIDDEN_SEARCH)
    params = StdioServerParameters(command=DOCKER, args=docker_args(kestra.url, tools_dir),
                                   env={"PATH": os.environ["PATH"], **({"DOCKER_HOST": os.environ["DOCKER_HOST"]} if "DOCKER_HOST" in os.environ else {})})

    async def body():
        async with stdio_client(params) as (read, write_stream):
            async with ClientSession(read, write_stream) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}
                found = await session.call_tool("search_flows", {"query": "hello"})
                return tools, found

    tools, found = anyio.run(body)
    assert "get_flow_source" in tools
    assert tools["search_flows"].description == "Overridden search (from the mounted tools.d)."
    assert "execute_flow" in tools, "built-in tools are still there"
    assert not found.is_error
    assert found.structured_content["total"] == 1
    method, path, headers, _ = kestra.requests[-1]
    assert (method, path) == ("GET", "/api/v1/main/flows/search?page=1&q=hello&size=5")
    assert headers["authorization"] == "Bearer image-test-token"


def test_a_broken_mounted_spec_is_named_on_stderr(kestra, tools_dir):
    write(tools_dir, "broken.yaml", "name: broken\ngroup: flow\ndescription: d\nrequest:\n  method: GET\n  pth: /x\n")
    run = subprocess.run([DOCKER, *docker_args(kestra.url, tools_dir)], input=b"", capture_output=True, timeout=60)
    assert run.returncode == 1, run
    assert run.stdout == b""
    assert b"/etc/kestra-mcp/tools.d/broken.yaml:6: request: unknown field `pth`" in run.stderr, run.stderr


def test_the_image_runs_as_a_non_root_user(kestra, tools_dir):
    inspect = subprocess.run([DOCKER, "image", "inspect", "--format", "{{.Config.User}}", IMAGE],
                             capture_output=True, text=True, check=True)
    assert inspect.stdout.strip() == "65532:65532"
