"""README's client configurations cannot drift: every MCP server configuration in the
"Client configuration" section of README.md is extracted and checked against the real binary.

- JSON blocks (`mcpServers` / `servers`), the Kestra AI Agent YAML blocks (`StdioMcpClient`) and
  the `claude mcp add` commands: a local-binary configuration is started as written (binary path
  replaced by the one under test, `KESTRA_BASE_URL` pointed at a closed loopback port, Kestra
  expressions such as `{{ secret('X') }}` replaced by a dummy) with the official Python MCP SDK's
  stdio client, which must list the expected tools (all 39, minus what the configuration's
  `KESTRA_MCP_DISABLED_TOOLS` leaves out, among its `KESTRA_MCP_TOOLSETS`, only the reading ones
  with `KESTRA_MCP_READ_ONLY`, plus the discovery tools with `dynamic`).
- `docker run` configurations (not run here): `-i`, the documented image name, known flags, every
  `-e NAME` a variable kestra-mcp reads and, without a value, one the configuration's `env` sets.
- HTTP configurations: a `kestra-mcp serve --http` is started with a token and the configuration's
  URL and headers must reach it and list the tools; `serve` flags shown must exist.
- Every environment variable a configuration sets is one kestra-mcp reads (names taken from src/).
"""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time

import anyio
import pytest
import yaml
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "flows"))
from kestra_mcp_env import ROOT, variables_read  # noqa: E402

BINARY = os.path.abspath(os.environ.get("KESTRA_MCP_BIN", os.path.join(ROOT, "target", "debug", "kestra-mcp")))
README = os.path.join(ROOT, "README.md")
CLIENTS = ["Claude Desktop", "Claude Code", "Cursor", "VS Code", "Windsurf", "Kestra AI Agent"]
KESTRA_EXPR = re.compile(r"\{\{.*?\}\}")
VSCODE_INPUT = re.compile(r"\$\{input:[^}]+\}")
DOCKER_VALUE_FLAGS = {"-e", "--env", "-v", "--volume", "--network", "--cap-drop", "-p", "--publish", "--add-host",
                      "--name", "--pull", "--user", "-u"}
# How README's package configurations start kestra-mcp: the runner and its arguments up to the
# package name (scripts/package.sh builds the packages; tests/packaging runs them).
PACKAGE_RUNNERS = {"uvx": ["kestra-mcp"], "npx": ["-y", "kestra-mcp"], "pipx": ["run", "kestra-mcp"]}
DOCKER_BOOL_FLAGS = {"-i", "--interactive", "--rm", "--read-only"}


# ---------------------------------------------------------------------------------------------
# Extraction


def blocks():
    """(heading, language, text) of every fenced block in README's Client configuration section."""
    out, heading, inside, lang, lines = [], None, False, None, []
    in_section = False
    with open(README, encoding="utf-8") as f:
        for line in f.read().splitlines():
            if not inside and line.startswith("## "):
                in_section = line.strip() == "## Client configuration"
                heading = None
                continue
            if not in_section:
                continue
            if not inside and line.startswith("### "):
                heading = line[4:].strip()
            elif line.startswith("```"):
                if inside:
                    out.append((heading, lang, "\n".join(lines)))
                    inside, lines = False, []
                else:
                    inside, lang = True, line[3:].strip()
            elif inside:
                lines.append(line)
    return out


def shell_commands(text):
    return [shlex.split(c) for c in text.replace("\\\n", " ").splitlines() if c.strip() and not c.strip().startswith("#")]


def env_assignments(words):
    """Leading NAME=value words of a shell command, and the rest."""
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        k, v = words[0].split("=", 1)
        env[k] = v
        words = words[1:]
    return env, words


def configs():
    """Every configuration as a dict: where, kind (local/docker/http/serve), command, args, env, url, headers."""
    found = []
    for heading, lang, text in blocks():
        where = heading or "intro"
        if lang == "json":
            doc = json.loads(text)
            servers = doc.get("mcpServers") or doc.get("servers")
            assert servers, f"{where}: a JSON block without mcpServers/servers"
            for name, server in servers.items():
                if "servers" in doc:
                    assert server.get("type") in ("stdio", "http"), f"{where}: VS Code servers need a type"
                cfg = {"where": where, "source": "json", "env": server.get("env", {}),
                       "command": server.get("command"), "args": server.get("args", []),
                       "url": server.get("url"), "headers": server.get("headers", {})}
                found.append(classify(cfg))
        elif lang == "yaml" and "io.kestra.plugin.ai.tool." in text:
            for tool in yaml.safe_load(text)["tools"]:
                assert tool["type"] == "io.kestra.plugin.ai.tool.StdioMcpClient", tool["type"]
                cfg = {"where": where, "source": "kestra", "env": tool.get("env", {}),
                       "command": tool["command"][0], "args": tool["command"][1:]}
                found.append(classify(cfg))
        elif lang == "sh":
            for words in shell_commands(text):
                shell_env, words = env_assignments(words)
                if words[:3] == ["claude", "mcp", "add"]:
                    found.append(classify(claude_add(where, words[3:])))
                elif words[:2] == ["docker", "run"]:
                    found.append(classify({"where": where, "source": "sh", "env": None, "command": "docker",
                                           "args": words[1:]}))
                elif words and words[0] == "kestra-mcp":
                    found.append({"where": where, "kind": "serve", "args": words[1:], "env": shell_env})
    return found


def claude_add(where, words):
    cfg = {"where": where, "source": "claude", "env": {}, "headers": {}, "transport": "stdio"}
    if "--" in words:
        i = words.index("--")
        words, command = words[:i], words[i + 1:]
        cfg["command"], cfg["args"] = command[0], command[1:]
    positional = []
    it = iter(words)
    for w in it:
        if w == "--transport":
            cfg["transport"] = next(it)
        elif w == "--env":
            k, v = next(it).split("=", 1)
            cfg["env"][k] = v
        elif w == "--header":
            k, v = next(it).split(":", 1)
            cfg["headers"][k.strip()] = v.strip()
        elif w == "--scope":
            next(it)
        else:
            assert not w.startswith("-"), f"{where}: unexpected claude mcp add flag {w}"
            positional.append(w)
    if cfg["transport"] == "http":
        assert len(positional) == 2, positional
        cfg["url"] = positional[1]
    return cfg


def classify(cfg):
    if cfg.get("url"):
        cfg["kind"] = "http"
    elif cfg["command"] == "docker":
        cfg["kind"] = "docker"
    elif cfg["command"] in PACKAGE_RUNNERS:
        cfg["kind"] = "package"
    else:
        cfg["kind"] = "local"
    return cfg


CONFIGS = configs()


def ids(kind):
    return [c for c in CONFIGS if c["kind"] == kind], [f"{c['where']}-{c['source']}-{n}" for n, c in
                                                       enumerate(c for c in CONFIGS if c["kind"] == kind)]


# ---------------------------------------------------------------------------------------------
# Helpers


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tools_list_lines():
    """`kestra-mcp tools list` (nothing disabled): name[variant], group, methods, paths, state."""
    run = subprocess.run([BINARY, "tools", "list"], env={"PATH": os.environ.get("PATH", "")},
                         cwd=tempfile.mkdtemp(), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return [line.split("\t") for line in run.stdout.splitlines()]


@pytest.fixture(scope="module")
def all_tools():
    """name -> group of every built-in tool."""
    tools = {fields[0].split("[")[0]: fields[1] for fields in tools_list_lines()}
    assert len(tools) == 39, sorted(tools)
    return tools


def reading_tools():
    """The tools with at least one action whose every request is a GET (no built-in sends one
    of the validation POSTs read-only mode counts as reading)."""
    return {fields[0].split("[")[0] for fields in tools_list_lines()
            if all(m.strip() == "GET" for m in fields[2].split("|"))}


DISCOVERY = {"list_available_toolsets", "get_toolset_tools", "enable_toolset"}


def names_of(env, variable):
    return {d.strip().lower() for d in env.get(variable, "").split(",") if d.strip()}


def expected_tools(all_tools, env):
    disabled = names_of(env, "KESTRA_MCP_DISABLED_TOOLS")
    toolsets = names_of(env, "KESTRA_MCP_TOOLSETS") or {"all"}

    def chosen(name, group):
        return ("all" in toolsets or ("default" in toolsets and group != "ee")
                or name in toolsets or group in toolsets)

    tools = {n for n, g in all_tools.items()
             if n.lower() not in disabled and g.lower() not in disabled and chosen(n, g)}
    if env.get("KESTRA_MCP_READ_ONLY", "").strip().lower() in ("1", "true", "yes", "on"):
        tools &= reading_tools()
    if "dynamic" in toolsets:
        tools |= DISCOVERY
    return tools


def concrete(value, token="dummy-secret"):
    return VSCODE_INPUT.sub(token, KESTRA_EXPR.sub(token, value))


def check_env_names(cfg):
    read = variables_read()
    unknown = set(cfg["env"] or {}) - read
    assert not unknown, f"{cfg['where']}: kestra-mcp does not read {sorted(unknown)}"


async def list_tools_stdio(params):
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await session.list_tools()


async def list_tools_http(url, headers):
    async with create_mcp_http_client(headers=headers) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await session.list_tools()


# ---------------------------------------------------------------------------------------------
# Tests


def test_every_client_has_a_local_and_a_docker_configuration():
    kinds = {}
    for c in CONFIGS:
        kinds.setdefault(c["where"], set()).add(c["kind"])
    for client in CLIENTS:
        assert {"local", "docker"} <= kinds.get(client, set()), f"{client}: {kinds.get(client)}"
    assert any(c["kind"] == "http" for c in CONFIGS)


LOCAL, LOCAL_IDS = ids("local")


@pytest.mark.parametrize("cfg", LOCAL, ids=LOCAL_IDS)
def test_local_configuration_starts_and_lists_the_tools(cfg, all_tools):
    check_env_names(cfg)
    assert os.path.basename(cfg["command"]) == "kestra-mcp", cfg["command"]
    env = {k: concrete(str(v)) for k, v in cfg["env"].items()}
    if "KESTRA_BASE_URL" in env:
        env["KESTRA_BASE_URL"] = f"http://127.0.0.1:{closed_port()}/api/v1"
    env["PATH"] = os.environ.get("PATH", "")
    params = StdioServerParameters(command=BINARY, args=cfg["args"], env=env, cwd=tempfile.mkdtemp())
    listed = anyio.run(list_tools_stdio, params)
    assert {t.name for t in listed.tools} == expected_tools(all_tools, cfg["env"])


PACKAGES, PACKAGE_IDS = ids("package")


@pytest.mark.parametrize("cfg", PACKAGES, ids=PACKAGE_IDS)
def test_package_configuration_runs_the_package_and_lists_the_tools(cfg, all_tools):
    """uvx/npx/pipx configurations: the runner's own arguments name the package as published
    (tests/packaging starts them with the real uvx/npx on the built packages); what follows the
    package name goes to kestra-mcp, started here as the binary under test."""
    check_env_names(cfg)
    prefix = PACKAGE_RUNNERS[cfg["command"]]
    assert cfg["args"][:len(prefix)] == prefix, f"{cfg['where']}: {cfg['command']} {cfg['args']}"
    env = {k: concrete(str(v)) for k, v in cfg["env"].items()}
    if "KESTRA_BASE_URL" in env:
        env["KESTRA_BASE_URL"] = f"http://127.0.0.1:{closed_port()}/api/v1"
    env["PATH"] = os.environ.get("PATH", "")
    params = StdioServerParameters(command=BINARY, args=cfg["args"][len(prefix):], env=env, cwd=tempfile.mkdtemp())
    listed = anyio.run(list_tools_stdio, params)
    assert {t.name for t in listed.tools} == expected_tools(all_tools, cfg["env"])


def test_readme_shows_each_package_runner():
    assert {c["command"] for c in PACKAGES} >= {"uvx", "npx"}


DOCKER, DOCKER_IDS = ids("docker")


def documented_image():
    with open(README, encoding="utf-8") as f:
        m = re.search(r"`docker build -t ([a-z0-9./:-]+) \.`", f.read())
    assert m, "README no longer says which tag `docker build` gives the image"
    return m.group(1)


@pytest.mark.parametrize("cfg", DOCKER, ids=DOCKER_IDS)
def test_docker_configuration_uses_the_image_and_variables_kestra_mcp_reads(cfg):
    check_env_names(cfg)
    read = variables_read()
    args = list(cfg["args"])
    assert args.pop(0) == "run"
    flags, passed = [], []
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        name, _, inline = flag.partition("=")
        if name in DOCKER_VALUE_FLAGS:
            value = inline or args.pop(0)
            if name in ("-e", "--env"):
                passed.append(value)
        else:
            assert name in DOCKER_BOOL_FLAGS, f"{cfg['where']}: unexpected docker flag {flag}"
        flags.append(name)
    assert args, f"{cfg['where']}: no image"
    image, rest = args[0], args[1:]
    assert image == documented_image(), image
    serving_http = rest[:1] == ["serve"] and "--http" in rest
    if serving_http:
        check_serve_flags(rest)
    else:
        assert not rest, f"{cfg['where']}: arguments after the image: {rest}"
        assert "-i" in flags or "--interactive" in flags, f"{cfg['where']}: stdio needs -i"
    assert "--rm" in flags
    for item in passed:
        name, eq, _ = item.partition("=")
        assert name in read, f"{cfg['where']}: -e {name} is not a variable kestra-mcp reads"
        if not eq and cfg["env"] is not None:
            assert name in cfg["env"], f"{cfg['where']}: -e {name} passes a variable the configuration does not set"
    if cfg["env"]:
        missing = set(cfg["env"]) - {p.partition("=")[0] for p in passed}
        assert not missing, f"{cfg['where']}: env sets {sorted(missing)} but docker run does not pass them"


def check_serve_flags(args):
    run = subprocess.run([BINARY, *args[:1], "--help"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    for word in args[1:]:
        if word.startswith("--"):
            assert word.split("=")[0] in run.stdout, f"`kestra-mcp {args[0]}` has no {word}"


SERVE = [c for c in CONFIGS if c["kind"] == "serve"]


@pytest.mark.parametrize("cfg", SERVE, ids=[c["where"] for c in SERVE])
def test_serve_commands_use_existing_flags_and_variables(cfg):
    check_env_names(cfg)
    check_serve_flags(cfg["args"])


HTTP, HTTP_IDS = ids("http")


@pytest.fixture
def http_server():
    port, token = closed_port(), "readme-token"
    env = {"PATH": os.environ.get("PATH", ""), "KESTRA_BASE_URL": f"http://127.0.0.1:{closed_port()}/api/v1",
           "KESTRA_MCP_HTTP_TOKEN": token}
    proc = subprocess.Popen([BINARY, "serve", "--http", f"127.0.0.1:{port}"], env=env, cwd=tempfile.mkdtemp(),
                            stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port, token
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("cfg", HTTP, ids=HTTP_IDS)
def test_http_configuration_reaches_the_server(cfg, http_server, all_tools):
    port, token = http_server
    m = re.fullmatch(r"http://(127\.0\.0\.1|localhost):(\d+)/mcp", cfg["url"])
    assert m, f"{cfg['where']}: {cfg['url']} is not kestra-mcp's loopback endpoint"
    url = f"http://{m.group(1)}:{port}/mcp"
    headers = {k: concrete(v, token) for k, v in cfg["headers"].items()}
    # The README's placeholder token stands for the server's.
    headers = {k: re.sub(r"^Bearer \S+$", f"Bearer {token}", v) for k, v in headers.items()}
    assert headers.get("Authorization", "").startswith("Bearer "), f"{cfg['where']}: no bearer token"
    listed = anyio.run(list_tools_http, url, headers)
    assert {t.name for t in listed.tools} == set(all_tools)


# ---------------------------------------------------------------------------------------------
# The "Adding a tool" example


def adding_a_tool_file(pattern):
    """(file name, YAML text) of the file README's "Adding a tool" section names with `pattern`:
    the first YAML block after its name."""
    with open(README, encoding="utf-8") as f:
        section = f.read().split("## Adding a tool", 1)[1].split("\n## ", 1)[0]
    named = re.search(r"`my-tools/(" + pattern + r")`", section)
    text = re.search(r"```yaml\n(.*?)```", section[named.end():], re.S).group(1)
    return named.group(1), text


def adding_a_tool_example():
    """(file name, YAML text) of the spec shown in README's "Adding a tool" section."""
    return adding_a_tool_file(r"[a-z0-9_]+\.yaml")


def test_the_adding_a_tool_cases_pass_with_tools_test():
    """The tool is developed test first: the cases shown pass on the spec shown, without Kestra."""
    name, text = adding_a_tool_example()
    cases_name, cases = adding_a_tool_file(r"[a-z0-9_]+\.test\.yaml")
    assert cases_name == name.removesuffix(".yaml") + ".test.yaml"
    with tempfile.TemporaryDirectory() as d:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
        with open(os.path.join(d, cases_name), "w", encoding="utf-8") as f:
            f.write(cases)
        first = subprocess.run([BINARY, "tools", "test", d], env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 1, first.stdout + first.stderr  # no spec yet: the cases fail
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)
        check = subprocess.run([BINARY, "tools", "test", d], env=env, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.splitlines()[-1] == "4 passed, 0 failed", check.stdout


def test_the_adding_a_tool_example_passes_tools_validate_and_is_listed():
    name, text = adding_a_tool_example()
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
        check = subprocess.run([BINARY, "tools", "validate", d], env=env, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "0 violation(s)" in check.stdout, check.stdout
        listed = subprocess.run([BINARY, "tools", "list", "--tools-dir", d], env=env, capture_output=True, text=True,
                                timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert any(line.startswith(name.removesuffix(".yaml") + "\t") for line in listed.stdout.splitlines()), listed.stdout


def test_the_adding_a_tool_example_without_its_operation_is_reported_at_its_path_line():
    name, text = adding_a_tool_example()
    # The example names its operation alone; the v1 way (an explicit route) without the
    # operation is what the contract check must catch, at the route's line.
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("operation:"):
            lines += ["  method: GET", "  path: /executions/{{ execution_id }}"]
        elif not line.strip().startswith("# GET /executions"):
            lines.append(line)
    broken = "\n".join(lines) + "\n"
    path_line = next(i for i, line in enumerate(broken.splitlines(), 1) if line.strip().startswith("path:"))
    with tempfile.TemporaryDirectory() as d:
        spec = os.path.join(d, name)
        with open(spec, "w", encoding="utf-8") as f:
            f.write(broken)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
        check = subprocess.run([BINARY, "tools", "validate", d], env=env, capture_output=True, text=True, timeout=120)
        assert check.returncode == 1, check.stdout + check.stderr
        lines = [line for line in check.stdout.splitlines() if line.startswith(f"{spec}:{path_line}: ")]
        assert len(lines) == 2, check.stdout  # one per Kestra version
        assert all("declares no `operation`" in line for line in lines), lines
