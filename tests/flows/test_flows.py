"""The Kestra AI Agent example flows in docs/flows/: each parses, uses only properties the
plugin-ai classes declare (checked by hand against kestra-io/plugin-ai, see docs/flows/README.md),
keeps credentials in secrets, sets for kestra-mcp only variables kestra-mcp reads, and is accepted
by the Kestra simulator (tests/kestra-sim) as Kestra 1.3 and 2.0."""

import base64
import glob
import json
import os
import re
import subprocess
import urllib.error
import urllib.request

import pytest
import yaml

from kestra_mcp_env import ROOT, variables_read

FLOWS = sorted(glob.glob(os.path.join(ROOT, "docs", "flows", "*.yaml")))

# Properties of io.kestra.core.models.tasks.Task (kestra-io/kestra core/.../models/tasks/Task.java).
TASK = {"id", "type", "version", "pluginDefaultsRef", "description", "retry", "timeout", "disabled",
        "workerGroup", "logLevel", "allowFailure", "logToFile", "runIf", "allowWarning", "taskCache", "assets"}

# Per plugin type: (declared properties, required (@NotNull without default) properties), from
# kestra-io/plugin-ai src/main/java/io/kestra/plugin/ai/... (paths in docs/flows/README.md).
PLUGINS = {
    "io.kestra.plugin.ai.agent.AIAgent": (
        TASK | {"systemMessage", "prompt", "provider", "configuration", "tools", "maxSequentialToolsInvocations",
                "contentRetrievers", "memory", "observability", "guardrails", "outputFiles"},
        {"id", "type", "prompt", "provider"},
    ),
    "io.kestra.plugin.ai.tool.DockerMcpClient": (
        {"type", "command", "env", "image", "logEvents", "dockerHost", "dockerConfig", "dockerContext",
         "dockerCertPath", "dockerTlsVerify", "registryEmail", "registryPassword", "registryUsername",
         "registryUrl", "apiVersion", "binds"},
        {"type", "image"},
    ),
    "io.kestra.plugin.ai.tool.StreamableHttpMcpClient": (
        {"type", "url", "timeout", "headers", "logRequests", "logResponses"},
        {"type", "url"},
    ),
    "io.kestra.plugin.ai.tool.StdioMcpClient": (
        {"type", "command", "env", "logEvents"},
        {"type", "command"},
    ),
    # ModelProvider (modelName, baseUrl, clientPem, caPem) + OpenAICompliantProvider (apiKey).
    "io.kestra.plugin.ai.provider.OpenAI": (
        {"type", "modelName", "baseUrl", "clientPem", "caPem", "apiKey"},
        {"type", "modelName", "apiKey"},
    ),
}
MCP_TOOLS = {t for t in PLUGINS if ".tool." in t}
# Values that are credentials: they must come from a secret or the KV store, never be written out.
CREDENTIALS = {"apiKey", "registryPassword", "KESTRA_API_TOKEN", "KESTRA_PASSWORD", "KESTRA_MCP_HTTP_TOKEN",
               "Authorization"}
FROM_STORE = re.compile(r"\{\{\s*(?:secret|kv)\('[A-Za-z0-9_.-]+'\)\s*\}\}")


def load(path):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    return source, yaml.safe_load(source)


def check_plugin(obj, where):
    kind = obj.get("type")
    assert kind in PLUGINS, f"{where}: type {kind!r} has no verified schema here"
    allowed, required = PLUGINS[kind]
    unknown = set(obj) - allowed
    assert not unknown, f"{where} ({kind}): properties the plugin does not declare: {sorted(unknown)}"
    missing = required - set(obj)
    assert not missing, f"{where} ({kind}): required properties missing: {sorted(missing)}"


def credentials_in(value, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from credentials_in(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from credentials_in(v, key)
    elif key in CREDENTIALS:
        yield key, value


def agents(flow):
    return [t for t in flow["tasks"] if t["type"] == "io.kestra.plugin.ai.agent.AIAgent"]


def test_there_are_both_examples():
    names = {os.path.basename(p) for p in FLOWS}
    assert {"kestra_mcp_docker.yaml", "kestra_mcp_http.yaml"} <= names
    kinds = {tool["type"] for p in FLOWS for a in agents(load(p)[1]) for tool in a.get("tools", [])}
    assert {"io.kestra.plugin.ai.tool.DockerMcpClient", "io.kestra.plugin.ai.tool.StreamableHttpMcpClient"} <= kinds


@pytest.mark.parametrize("path", FLOWS, ids=os.path.basename)
def test_flow_uses_only_declared_plugin_properties_and_secrets(path):
    _, flow = load(path)
    assert set(flow) <= {"id", "namespace", "description", "inputs", "tasks", "labels", "variables"}
    assert agents(flow), "no AIAgent task"
    for agent in agents(flow):
        check_plugin(agent, agent["id"])
        check_plugin(agent["provider"], f"{agent['id']}.provider")
        assert agent.get("tools"), f"{agent['id']}: no tools"
        for i, tool in enumerate(agent["tools"]):
            check_plugin(tool, f"{agent['id']}.tools[{i}]")
    found = list(credentials_in(flow))
    assert found, "a flow without any credential is not what these examples show"
    for key, value in found:
        assert isinstance(value, str) and FROM_STORE.search(value), f"{key} is written inline: {value!r}"


@pytest.mark.parametrize("path", FLOWS, ids=os.path.basename)
def test_flow_sets_only_variables_kestra_mcp_reads(path):
    _, flow = load(path)
    read = variables_read()
    for agent in agents(flow):
        for tool in agent["tools"]:
            if tool["type"] in ("io.kestra.plugin.ai.tool.DockerMcpClient", "io.kestra.plugin.ai.tool.StdioMcpClient"):
                env = tool.get("env", {})
                assert "KESTRA_BASE_URL" in env
                unknown = set(env) - read
                assert not unknown, f"kestra-mcp does not read {sorted(unknown)} (it reads {sorted(read)})"
            if tool["type"] == "io.kestra.plugin.ai.tool.StreamableHttpMcpClient":
                # kestra-mcp's endpoint is /mcp and it takes the client token as a bearer token.
                assert tool["url"].endswith("/mcp") or "inputs." in tool["url"]
                url = tool["url"]
                if "inputs." in url:
                    input_id = re.search(r"inputs\.([A-Za-z0-9_]+)", url).group(1)
                    url = next(i["defaults"] for i in flow["inputs"] if i["id"] == input_id)
                assert re.fullmatch(r"http://(127\.0\.0\.1|localhost):\d+/mcp", url), url
                assert tool["headers"]["Authorization"].startswith("Bearer {{ secret('KESTRA_MCP_HTTP_TOKEN')")
                assert "KESTRA_MCP_HTTP_TOKEN" in read


# ---------------------------------------------------------------------------------------------
# The simulator

SIM_BIN = os.environ.get("KESTRA_SIM_BIN", os.path.join(ROOT, "target", "debug", "kestra-sim"))
AUTH = "Basic " + base64.b64encode(b"admin@kestra.io:kestra").decode()


@pytest.fixture(scope="module")
def sim_binary():
    if "KESTRA_SIM_BIN" not in os.environ:
        subprocess.run(["cargo", "build", "-q", "-p", "kestra-sim", "--bin", "kestra-sim"], cwd=ROOT, check=True)
    return SIM_BIN


@pytest.fixture(params=["1.3", "2.0"])
def sim(request, sim_binary):
    proc = subprocess.Popen([sim_binary, "--kestra-version", request.param, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("listening on "), (line, proc.stderr.read() if proc.poll() is not None else "")
    yield line.split()[-1].rstrip("/") + "/api/v1/main"
    proc.terminate()
    proc.wait(timeout=10)


def call(method, url, body=None, content_type=None):
    headers = {"Authorization": AUTH, "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def test_simulator_refuses_an_unknown_core_task_type(sim):
    # The control: the simulator does validate task types, so an acceptance below means something.
    bad = b"id: bad\nnamespace: company.ai\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.NoSuchTask\n"
    status, body = call("POST", f"{sim}/flows", bad, "application/x-yaml")
    assert status == 422, body


@pytest.mark.parametrize("path", FLOWS, ids=os.path.basename)
def test_simulator_accepts_the_flow(sim, path):
    source, flow = load(path)
    status, created = call("POST", f"{sim}/flows", source.encode(), "application/x-yaml")
    assert status == 200, created
    assert (created["id"], created["namespace"]) == (flow["id"], flow["namespace"])
    status, stored = call("GET", f"{sim}/flows/{flow['namespace']}/{flow['id']}")
    assert status == 200, stored
    assert stored["tasks"] == flow["tasks"]
