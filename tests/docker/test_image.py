"""The Docker image, run as users run it: `docker run -i --rm --read-only --cap-drop ALL
--network host -e KESTRA_BASE_URL=... -v ./tools:/etc/kestra-mcp/tools.d:ro IMAGE`, driven by the
official Python MCP SDK's stdio client against the Kestra simulator (kestra-sim, in 2.0 mode) and
against a recording stub (to see the exact request and credentials sent).

IMAGE comes from $KESTRA_MCP_IMAGE and the simulator from $KESTRA_SIM_BIN (docker/test-image.sh
builds both and sets them).
"""

import base64
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from kestra_stub import KestraStub  # noqa: E402


def data(result):
    """A result's data: its JSON text (structuredContent comes only with an outputSchema)."""
    value = json.loads(result.content[0].text)
    assert result.structured_content in (None, value), result
    return value


ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
IMAGE = os.environ.get("KESTRA_MCP_IMAGE", "kestra-mcp:test")
SIM = os.environ.get("KESTRA_SIM_BIN", os.path.join(ROOT, "target", "debug", "kestra-sim"))
DOCKER = os.environ.get("DOCKER", "docker")

GET_FLOW_SOURCE = """name: get_flow_source
group: flow
description: The YAML source of a flow (added by a mounted tools.d).
input:
  type: object
  properties:
    namespace: {type: string}
    flow_id: {type: string}
  required: [namespace, flow_id]
request:
  operation: [flow, getFlow]
  method: GET
  path: /flows/{{ namespace }}/{{ flow_id }}
  query: {source: "true"}
response:
  fields: [id, namespace, source]
"""

SEARCH_BY_TEXT = """name: search_flows
group: flow
description: Overridden search (from the mounted tools.d).
input:
  type: object
  properties:
    query: {type: string}
  required: [query]
request:
  operation: searchFlows
  method: GET
  path: /flows/search
  query: {"filters[q][EQUALS]": "{{ query }}", size: "5", page: "1"}
"""

FLOW = "id: hello_image\nnamespace: company.team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sim_get(url):
    auth = base64.b64encode(b"admin@kestra.io:kestra-sim").decode()
    request = urllib.request.Request(url, headers={"authorization": f"Basic {auth}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def kestra_sim():
    port = free_port()
    proc = subprocess.Popen([os.path.abspath(SIM), "--kestra-version", "2.0", "--port", str(port),
                             "--exec-delay-ms", "10"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/api/v1"
    for _ in range(100):
        try:
            sim_get(f"{url}/configs")
            break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


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
    write(tools_dir, "get_flow_source.yaml", GET_FLOW_SOURCE)
    write(tools_dir, "search_flows.yaml", SEARCH_BY_TEXT)
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
    assert data(found)["total"] == 1
    method, path, headers, _ = kestra.requests[-1]
    assert (method, path) == ("GET", "/api/v1/main/flows/search?filters%5Bq%5D%5BEQUALS%5D=hello&page=1&size=5")
    assert headers["authorization"] == "Bearer image-test-token"


def test_image_against_the_simulator_with_mounted_tools(kestra_sim, tools_dir):
    write(tools_dir, "get_flow_source.yaml", GET_FLOW_SOURCE)
    write(tools_dir, "search_flows.yaml", SEARCH_BY_TEXT)
    args = docker_args(kestra_sim, tools_dir)
    env = {"PATH": os.environ["PATH"], **({"DOCKER_HOST": os.environ["DOCKER_HOST"]} if "DOCKER_HOST" in os.environ else {})}

    # The mounted specs pass the image's own `tools validate` (built-ins + mount, against the
    # bundled OpenAPI descriptions).
    validate = subprocess.run([DOCKER, *args, "tools", "validate"], capture_output=True, text=True, timeout=120,
                              env=env)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "40 tools" in validate.stdout and "0 violation(s)" in validate.stdout, validate.stdout

    async def body():
        async with stdio_client(StdioServerParameters(command=DOCKER, args=args, env=env)) as (read, write_stream):
            async with ClientSession(read, write_stream) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}
                created = await session.call_tool("create_flow_from_yaml", {"yaml_definition": FLOW})
                source = await session.call_tool("get_flow_source",
                                                 {"namespace": "company.team", "flow_id": "hello_image"})
                found = await session.call_tool("search_flows", {"query": "hello_image"})
                started = await session.call_tool("execute_flow", {"namespace": "company.team",
                                                                   "flow_id": "hello_image"})
                return tools, created, source, found, started

    tools, created, source, found, started = anyio.run(body)
    assert len(tools) == 40 and tools["search_flows"].description.startswith("Overridden")
    for result in (created, source, found, started):
        assert not result.is_error, result.content[0].text
    assert data(source)["source"] == FLOW
    assert data(found)["total"] == 1
    execution_id = data(started)["id"]
    # The simulator has the execution the image started.
    stored = sim_get(f"{kestra_sim}/main/executions/{execution_id}")
    assert (stored["namespace"], stored["flowId"]) == ("company.team", "hello_image")


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


CLAUDE = os.path.join(ROOT, ".tools", "clients", "node_modules", ".bin", "claude")


@pytest.mark.skipif(not os.path.exists(CLAUDE), reason="Claude Code is installed by scripts/package.sh (the packages step runs first)")
def test_claude_code_reports_readme_docker_configurations_connected(kestra_sim):
    """README's Docker configurations, added to Claude Code as written (image name and Kestra URL
    made concrete), are reported connected by `claude mcp list`."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "readme"))
    import test_readme_configs as readme

    home, project = tempfile.mkdtemp(prefix="home-"), tempfile.mkdtemp(prefix="project-")
    env = {"PATH": os.environ["PATH"], "HOME": home,
           **({"DOCKER_HOST": os.environ["DOCKER_HOST"]} if "DOCKER_HOST" in os.environ else {})}
    names = []
    for n, cfg in enumerate(c for c in readme.CONFIGS if c["kind"] == "docker" and c["env"] is not None):
        args = [IMAGE if a == readme.documented_image() else a for a in cfg["args"]]
        # The container shares the host's network (the simulator listens on loopback).
        args = [a for a in args if not a.startswith("--add-host")]
        if not any(a.startswith("--network") for a in args):
            args.insert(args.index("-i"), "--network=host")
        server_env = {k: readme.concrete(str(v)) for k, v in cfg["env"].items()}
        server_env.update(KESTRA_BASE_URL=kestra_sim, KESTRA_USERNAME="admin@kestra.io", KESTRA_PASSWORD="kestra-sim")
        entry = {"type": "stdio", "command": DOCKER, "args": args, "env": server_env}
        added = subprocess.run([CLAUDE, "mcp", "add-json", "--scope", "local", f"docker-{n}", json.dumps(entry)],
                               env=env, cwd=project, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stdout + added.stderr
        names.append((f"docker-{n}", cfg["where"]))
    assert names, "README shows no Docker configuration with an env block"
    listed = subprocess.run([CLAUDE, "mcp", "list"], env=env, cwd=project, capture_output=True, text=True, timeout=600)
    for name, where in names:
        line = next((l for l in listed.stdout.splitlines() if l.startswith(f"{name}:")), None)
        assert line and "Connected" in line, f"{where}: {line}\n{listed.stdout}"
