"""The install artefacts, installed from scratch and run as users run them (issue 21).

scripts/package.sh builds them into dist/packages from one static build; these tests install
each into an empty place and drive the installed command with the official Python MCP SDK
against kestra-sim (tools/list and a tool call whose effect is read back from the simulator):

- the wheel: `pip install` into a fresh venv, `uvx --from WHEEL`, `uvx kestra-mcp` and
  `pipx run kestra-mcp` resolving the package from dist/packages only (no index);
- the npm packages: `npm install` into an empty prefix and `npx -y kestra-mcp`, from a loopback
  registry that serves the two tarballs (and nothing else);
- the MCP bundle: checked with the bundle CLI, unpacked, and started the way its manifest says
  with the user_config values substituted;
- server.json against the MCP registry's JSON Schema (from its Go module), with the ownership
  markers the registry checks (PyPI README, npm mcpName, image label);
- one version everywhere;
- real clients: Claude Code (`claude mcp add`/`add-json`, then `claude mcp list`) and Gemini
  CLI (`gemini mcp add`, `gemini mcp list`) report README's uvx, npx, binary and HTTP
  configurations connected; the MCP Inspector's command line (`mcpdo`) lists and calls tools
  through README's uvx, npx and binary configurations.
"""

import base64
import glob
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
import zipfile

import anyio
import jsonschema
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "readme"))
import test_readme_configs as readme  # noqa: E402

DIST = os.path.join(ROOT, "dist", "packages")
BINARY = os.path.join(ROOT, "dist", "kestra-mcp")
CLIENTS = os.path.join(ROOT, ".tools", "clients", "node_modules", ".bin")
SIM = os.environ.get("KESTRA_SIM_BIN", os.path.join(ROOT, "target", "debug", "kestra-sim"))
VENV_BIN = os.path.dirname(sys.executable)
REGISTRY_MODULE = "github.com/modelcontextprotocol/registry@v1.8.9"
SERVER_NAME = "io.github.kestra-io/kestra-mcp"
SIM_USER, SIM_PASSWORD = "admin@kestra.io", "kestra-sim"
FLOW = "id: installed\nnamespace: company.packages\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


def version():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        return tomllib.load(f)["package"]["version"]


VERSION = version()


def artefact(pattern):
    found = [f for f in os.listdir(DIST) if re.fullmatch(pattern, f)]
    assert len(found) == 1, f"dist/packages: {pattern} matches {found} (run scripts/package.sh)"
    return os.path.join(DIST, found[0])


def wheel():
    return artefact(rf"kestra_mcp-{re.escape(VERSION)}-py3-none-manylinux\S*_x86_64\.whl")


def clean_env(**extra):
    """An environment with only what a user's shell has: no variable of the test run leaks in."""
    env = {"PATH": os.environ["PATH"], "HOME": tempfile.mkdtemp(prefix="home-"), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------
# Kestra (the simulator) and an MCP session against it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sim_get(url):
    auth = base64.b64encode(f"{SIM_USER}:{SIM_PASSWORD}".encode()).decode()
    request = urllib.request.Request(url, headers={"authorization": f"Basic {auth}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def kestra():
    port = free_port()
    proc = subprocess.Popen([os.path.abspath(SIM), "--kestra-version", "1.3", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def kestra_env(kestra_url):
    return {"KESTRA_BASE_URL": kestra_url, "KESTRA_USERNAME": SIM_USER, "KESTRA_PASSWORD": SIM_PASSWORD,
            "KESTRA_MCP_DISABLED_TOOLS": "ee"}


def built_in_tools_outside(group):
    """The names of tools.d's specs whose group is not `group` (read from the YAML files)."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "tools.d", "*.yaml")):
        if path.endswith(".test.yaml"):
            continue
        text = open(path).read()
        name = re.search(r"^name: *(\S+)", text, re.M).group(1)
        if re.search(r"^group: *(\S+)", text, re.M).group(1) != group:
            names.add(name)
    return names


def drive(command, args, env, kestra_url, namespace):
    """Lists the tools, creates a flow through the server, and reads it back from Kestra."""
    flow = FLOW.replace("company.packages", namespace)

    async def body():
        params = StdioServerParameters(command=command, args=args, env=env, cwd=tempfile.mkdtemp())
        # First runs of uvx/npx download and unpack: give them time.
        with anyio.fail_after(180):
            return await session_body(params)

    async def session_body(params):
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = (await session.list_tools()).tools
                created = await session.call_tool("create_flow_from_yaml", {"yaml_definition": flow})
                return {t.name for t in tools}, created

    names, created = anyio.run(body)
    assert names == built_in_tools_outside("ee"), sorted(names)
    assert not any(n.startswith("invite_user") for n in names)
    assert not created.is_error, created.content[0].text
    stored = sim_get(f"{kestra_url}/main/flows/{namespace}/installed")
    assert stored["namespace"] == namespace


# ---------------------------------------------------------------------------------------------
# One version everywhere


def test_one_version_everywhere():
    versions = {"Cargo.toml": VERSION}
    out = subprocess.run([BINARY, "--version"], capture_output=True, text=True, check=True).stdout
    versions["kestra-mcp --version"] = out.split()[-1]
    versions["wheel file"] = os.path.basename(wheel()).split("-")[1]
    with zipfile.ZipFile(wheel()) as z:
        metadata = z.read(f"kestra_mcp-{VERSION}.dist-info/METADATA").decode()
    versions["wheel METADATA"] = re.search(r"^Version: (\S+)$", metadata, re.M).group(1)
    for name in ("kestra-mcp", "linux-x64"):
        with open(os.path.join(ROOT, "packaging", "npm", name, "package.json")) as f:
            versions[f"npm {name}"] = json.load(f)["version"]
    with open(os.path.join(ROOT, "packaging", "npm", "kestra-mcp", "package.json")) as f:
        for dep, wanted in json.load(f)["optionalDependencies"].items():
            versions[f"npm dependency {dep}"] = wanted
    with open(os.path.join(ROOT, "packaging", "mcpb", "manifest.json")) as f:
        versions["MCP bundle manifest"] = json.load(f)["version"]
    versions["MCP bundle file"] = re.search(r"kestra-mcp-(.+)-linux-x64\.mcpb",
                                            artefact(r"kestra-mcp-.+-linux-x64\.mcpb")).group(1)
    for path in (os.path.join(ROOT, "packaging", "server.json"), os.path.join(DIST, "server.json")):
        with open(path) as f:
            server = json.load(f)
        where = os.path.relpath(path, ROOT)
        versions[f"{where} version"] = server["version"]
        for package in server["packages"]:
            if package["registryType"] == "oci":
                versions[f"{where} image tag"] = package["identifier"].rsplit(":", 1)[1]
            elif package["registryType"] == "mcpb":
                versions[f"{where} bundle"] = re.search(r"/v([^/]+)/", package["identifier"]).group(1)
            else:
                versions[f"{where} {package['registryType']}"] = package["version"]
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        labels = re.findall(r'org\.opencontainers\.image\.version="([^"]+)"', f.read())
    assert len(labels) == 2, "both images of the Dockerfile carry a version label"
    versions.update({f"Dockerfile label {i}": v for i, v in enumerate(labels)})
    with open(os.path.join(ROOT, "deploy", "helm", "kestra-mcp", "Chart.yaml")) as f:
        chart = f.read()
    for key in ("version", "appVersion"):
        versions[f"Helm chart {key}"] = re.search(rf'^{key}: "?([^"\s]+)"?$', chart, re.M).group(1)
    assert set(versions.values()) == {VERSION}, json.dumps(versions, indent=1)


# ---------------------------------------------------------------------------------------------
# MCP registry


@pytest.fixture(scope="module")
def registry_schema():
    """The registry's server.json schema, from the registry's own Go module (installed here)."""
    out = subprocess.run(["go", "mod", "download", "-json", REGISTRY_MODULE], capture_output=True, text=True,
                         timeout=300, cwd=tempfile.mkdtemp())
    assert out.returncode == 0, out.stderr
    directory = json.loads(out.stdout)["Dir"]
    with open(os.path.join(directory, "docs", "reference", "server-json", "draft", "server.schema.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("path", ["packaging/server.json", "dist/packages/server.json"])
def test_server_json_is_valid_for_the_mcp_registry(path, registry_schema):
    with open(os.path.join(ROOT, path)) as f:
        server = json.load(f)
    jsonschema.validate(server, registry_schema, format_checker=jsonschema.FormatChecker())
    assert server["name"] == SERVER_NAME
    kinds = {p["registryType"] for p in server["packages"]}
    assert {"pypi", "npm", "oci"} <= kinds
    if path.startswith("dist"):
        bundle = next(p for p in server["packages"] if p["registryType"] == "mcpb")
        with open(artefact(r"kestra-mcp-.+-linux-x64\.mcpb"), "rb") as f:
            assert bundle["fileSha256"] == hashlib.sha256(f.read()).hexdigest()


def test_packages_carry_the_ownership_markers_the_registry_checks():
    with zipfile.ZipFile(wheel()) as z:
        metadata = z.read(f"kestra_mcp-{VERSION}.dist-info/METADATA").decode()
    # PyPI: `mcp-name: NAME` in the long description, followed by a boundary.
    assert re.search(rf"mcp-name: {re.escape(SERVER_NAME)}(\s|-->|<)", metadata)
    with open(os.path.join(ROOT, "packaging", "npm", "kestra-mcp", "package.json")) as f:
        assert json.load(f)["mcpName"] == SERVER_NAME
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        assert f.read().count(f'io.modelcontextprotocol.server.name="{SERVER_NAME}"') == 2


# ---------------------------------------------------------------------------------------------
# Python: wheel, uvx, pipx


def test_wheel_installs_into_a_fresh_venv_and_serves(kestra):
    venv = tempfile.mkdtemp(prefix="venv-")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--no-index", wheel()], check=True)
    installed = os.path.join(venv, "bin", "kestra-mcp")
    assert os.path.isfile(installed) and os.access(installed, os.X_OK)
    drive(installed, [], clean_env(**kestra_env(kestra)), kestra, "company.wheel")


def uv_env(kestra_url):
    """uv resolving `kestra-mcp` from dist/packages only, with an empty cache and tool dir."""
    home = tempfile.mkdtemp(prefix="uv-")
    # In uv's user configuration, not in variables: uv has no variable for --no-index, and
    # clients start a stdio server with a few variables only (PATH, HOME...), not their own.
    os.makedirs(os.path.join(home, ".config", "uv"))
    with open(os.path.join(home, ".config", "uv", "uv.toml"), "w") as f:
        f.write(f'find-links = ["{DIST}"]\nno-index = true\npython-downloads = "never"\n'
                f'cache-dir = "{os.path.join(home, "cache")}"\n')
    return clean_env(PATH=f"{VENV_BIN}:{os.environ['PATH']}", HOME=home, **kestra_env(kestra_url))


def test_uvx_from_the_wheel_file_serves(kestra):
    drive(os.path.join(VENV_BIN, "uvx"), ["--from", wheel(), "kestra-mcp"], uv_env(kestra), kestra, "company.uvx.file")


def test_uvx_by_package_name_serves(kestra):
    drive(os.path.join(VENV_BIN, "uvx"), ["kestra-mcp"], uv_env(kestra), kestra, "company.uvx")


def bundled_pip_wheels():
    """The folder of the pip wheel Python ships (ensurepip): pipx upgrades pip in its shared
    environment before anything else, and there is no index here."""
    import ensurepip

    return os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")


def test_pipx_run_serves(kestra):
    scratch = tempfile.mkdtemp(prefix="pipx-")
    env = clean_env(PIPX_HOME=os.path.join(scratch, "home"), PIPX_BIN_DIR=os.path.join(scratch, "bin"),
                    PIP_NO_INDEX="1", PIP_FIND_LINKS=f"{DIST} {bundled_pip_wheels()}", **kestra_env(kestra))
    drive(os.path.join(VENV_BIN, "pipx"), ["run", "--spec", wheel(), "kestra-mcp"], env, kestra, "company.pipx")


# ---------------------------------------------------------------------------------------------
# npm: a loopback registry serving the two tarballs


class Registry(http.server.BaseHTTPRequestHandler):
    """The npm registry API for the packages in dist/packages: a packument per package name,
    and the tarballs. Anything else is 404, so an install that needs another package fails."""

    packages = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        name = urllib.request.unquote(self.path.lstrip("/"))
        if name in self.packages:
            body = json.dumps(self.packument(name)).encode()
            self.answer(200, "application/json", body)
        elif name.startswith("-/tarballs/") and os.path.basename(name) in os.listdir(DIST):
            with open(os.path.join(DIST, os.path.basename(name)), "rb") as f:
                self.answer(200, "application/octet-stream", f.read())
        else:
            self.answer(404, "application/json", b'{"error":"not found"}')

    def packument(self, name):
        manifest, tarball = self.packages[name]
        with open(tarball, "rb") as f:
            data = f.read()
        base = f"http://127.0.0.1:{self.server.server_port}"
        dist = {"tarball": f"{base}/-/tarballs/{os.path.basename(tarball)}",
                "shasum": hashlib.sha1(data).hexdigest(),
                "integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()}
        return {"name": name, "dist-tags": {"latest": manifest["version"]},
                "versions": {manifest["version"]: {**manifest, "dist": dist}}}

    def answer(self, status, kind, body):
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def npm_registry():
    for name, tarball in (("kestra-mcp", rf"kestra-mcp-{re.escape(VERSION)}\.tgz"),
                          ("@kestra-mcp/linux-x64", rf"kestra-mcp-linux-x64-{re.escape(VERSION)}\.tgz")):
        path = artefact(tarball)
        manifest = json.loads(subprocess.run(["tar", "-xzOf", path, "package/package.json"], capture_output=True,
                                             check=True).stdout)
        assert manifest["name"] == name
        Registry.packages[name] = (manifest, path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def npm_env(registry, kestra_url):
    scratch = tempfile.mkdtemp(prefix="npm-")
    return clean_env(npm_config_registry=registry, npm_config_cache=os.path.join(scratch, "cache"),
                     npm_config_update_notifier="false", npm_config_audit="false", npm_config_fund="false",
                     **kestra_env(kestra_url))


def test_npm_install_into_an_empty_prefix_serves(npm_registry, kestra):
    env = npm_env(npm_registry, kestra)
    prefix = tempfile.mkdtemp(prefix="prefix-")
    subprocess.run(["npm", "install", "--global", "--prefix", prefix, "kestra-mcp"], env=env, check=True,
                   capture_output=True, timeout=180)
    installed = os.path.join(prefix, "bin", "kestra-mcp")
    assert os.path.exists(installed)
    drive(installed, [], env, kestra, "company.npm")


def test_npx_serves(npm_registry, kestra):
    drive(shutil.which("npx"), ["-y", "kestra-mcp"], npm_env(npm_registry, kestra), kestra, "company.npx")


def test_npm_launcher_says_what_is_missing_without_the_platform_package(npm_registry):
    env = npm_env(npm_registry, "http://127.0.0.1:9")
    prefix = tempfile.mkdtemp(prefix="prefix-")
    subprocess.run(["npm", "install", "--global", "--prefix", prefix, "kestra-mcp"], env=env, check=True,
                   capture_output=True, timeout=180)
    # What an install that skipped optional dependencies, or a platform without a package, leaves
    # behind (npm 11 installs a global package's optional dependencies even with --omit=optional).
    platform_package = os.path.join(prefix, "lib", "node_modules", "kestra-mcp", "node_modules", "@kestra-mcp")
    assert os.path.isdir(platform_package), os.listdir(os.path.join(prefix, "lib", "node_modules", "kestra-mcp"))
    shutil.rmtree(platform_package)
    run = subprocess.run([os.path.join(prefix, "bin", "kestra-mcp"), "--version"], env=env, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 1 and "@kestra-mcp/linux-x64 is not installed" in run.stderr, run.stderr
    assert run.stdout == ""


# ---------------------------------------------------------------------------------------------
# MCP bundle


def test_mcp_bundle_is_valid_and_starts_as_its_manifest_says(kestra):
    bundle = artefact(r"kestra-mcp-.+-linux-x64\.mcpb")
    info = subprocess.run([os.path.join(CLIENTS, "mcpb"), "info", bundle], capture_output=True, text=True)
    assert info.returncode == 0 and "kestra-mcp" in info.stdout, info.stdout + info.stderr
    unpacked = tempfile.mkdtemp(prefix="mcpb-")
    subprocess.run([os.path.join(CLIENTS, "mcpb"), "unpack", bundle, unpacked], check=True, capture_output=True)
    with open(os.path.join(unpacked, "manifest.json")) as f:
        manifest = json.load(f)
    user_config = manifest["user_config"]
    assert user_config["kestra_api_token"]["sensitive"] and user_config["kestra_password"]["sensitive"]
    assert user_config["kestra_base_url"]["required"]
    # Claude Desktop's substitution: ${__dirname} and ${user_config.KEY} (defaults for the rest).
    values = {key: str(spec.get("default", "")).lower() if isinstance(spec.get("default"), bool)
              else str(spec.get("default", "")) for key, spec in user_config.items()}
    values.update(kestra_base_url=kestra, kestra_username=SIM_USER, kestra_password=SIM_PASSWORD)

    def substitute(text):
        text = text.replace("${__dirname}", unpacked)
        return re.sub(r"\$\{user_config\.(\w+)\}", lambda m: values[m.group(1)], text)

    config = manifest["server"]["mcp_config"]
    env = clean_env(**{k: substitute(v) for k, v in config["env"].items()})
    command = substitute(config["command"])
    assert os.access(command, os.X_OK), "the bundle keeps the binary executable"
    drive(command, [substitute(a) for a in config["args"]], env, kestra, "company.bundle")


# ---------------------------------------------------------------------------------------------
# Real clients start README's configurations


def readme_package_configs():
    """README's stdio configurations that start kestra-mcp through uvx, npx or the binary."""
    return [c for c in readme.CONFIGS if c["kind"] in ("local", "package")]


def concrete_env(cfg, kestra_url):
    env = {k: readme.concrete(str(v)) for k, v in cfg["env"].items()}
    env.update(KESTRA_BASE_URL=kestra_url, KESTRA_USERNAME=SIM_USER, KESTRA_PASSWORD=SIM_PASSWORD)
    env.pop("KESTRA_API_TOKEN", None)
    return env


def concrete_command(cfg):
    command = BINARY if os.path.basename(cfg["command"]) == "kestra-mcp" else cfg["command"]
    return command, list(cfg["args"])


def client_env(registry, kestra_url):
    """A new user's machine: an empty HOME, uv and npm pointed at the local artefacts."""
    uv = uv_env(kestra_url)
    env = {**uv, **npm_env(registry, kestra_url)}
    env["PATH"] = f"{CLIENTS}:{VENV_BIN}:{os.environ['PATH']}"
    home = env["HOME"] = uv["HOME"]  # uv's configuration is there
    # npm too finds the local registry through its user configuration, for the same reason.
    with open(os.path.join(home, ".npmrc"), "w") as f:
        f.write(f"registry={registry}\nupdate-notifier=false\naudit=false\nfund=false\n")
    return env


def connected_lines(output):
    return {line.split(":", 1)[0].strip("✓✔○✗✘ ").strip(): line for line in output.splitlines() if ":" in line}


@pytest.fixture(scope="module")
def http_server(kestra):
    port = free_port()
    env = clean_env(**kestra_env(kestra), KESTRA_MCP_HTTP_TOKEN="packaging-token")
    proc = subprocess.Popen([BINARY, "serve", "--http", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp", "packaging-token"
    proc.terminate()
    proc.wait(timeout=10)


def test_claude_code_reports_readme_configurations_connected(npm_registry, kestra, http_server):
    env = client_env(npm_registry, kestra)
    project = tempfile.mkdtemp(prefix="project-")
    claude = os.path.join(CLIENTS, "claude")
    names = []
    for n, cfg in enumerate(readme_package_configs()):
        name = f"readme-{n}"
        command, args = concrete_command(cfg)
        entry = {"type": "stdio", "command": command, "args": args, "env": concrete_env(cfg, kestra)}
        added = subprocess.run([claude, "mcp", "add-json", "--scope", "local", name, json.dumps(entry)], env=env,
                               cwd=project, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stdout + added.stderr
        names.append((name, cfg["where"], command))
    url, token = http_server
    added = subprocess.run([claude, "mcp", "add", "--transport", "http", "readme-http", url, "--header",
                            f"Authorization: Bearer {token}"], env=env, cwd=project, capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stdout + added.stderr
    names.append(("readme-http", "HTTP transport", url))
    assert {os.path.basename(c) for _, _, c in names} >= {"uvx", "npx", "kestra-mcp"}, names
    listed = subprocess.run([claude, "mcp", "list"], env=env, cwd=project, capture_output=True, text=True,
                            timeout=600)
    lines = connected_lines(listed.stdout)
    for name, where, command in names:
        assert name in lines and "Connected" in lines[name], f"{where} ({command}): {lines.get(name)}\n{listed.stdout}"


def test_gemini_cli_reports_readme_configurations_connected(npm_registry, kestra, http_server):
    env = client_env(npm_registry, kestra)
    # Gemini CLI runs no MCP server of a folder the user has not trusted (it asks, interactively).
    env["GEMINI_CLI_TRUST_WORKSPACE"] = "true"
    project = tempfile.mkdtemp(prefix="project-")
    gemini = os.path.join(CLIENTS, "gemini")
    names = []
    for n, cfg in enumerate(readme_package_configs()):
        name = f"readme-{n}"
        command, args = concrete_command(cfg)
        env_flags = [flag for k, v in concrete_env(cfg, kestra).items() for flag in ("-e", f"{k}={v}")]
        added = subprocess.run([gemini, "mcp", "add", *env_flags, name, command, *args], env=env, cwd=project,
                               capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stdout + added.stderr
        names.append((name, cfg["where"], command))
    url, token = http_server
    added = subprocess.run([gemini, "mcp", "add", "--transport", "http", "-H", f"Authorization: Bearer {token}",
                            "readme-http", url], env=env, cwd=project, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stdout + added.stderr
    names.append(("readme-http", "HTTP transport", url))
    listed = subprocess.run([gemini, "mcp", "list"], env=env, cwd=project, capture_output=True, text=True,
                            timeout=600)
    output = listed.stdout + listed.stderr  # Gemini CLI writes the list to stderr
    lines = connected_lines(output)
    for name, where, command in names:
        assert name in lines and "Connected" in lines[name], f"{where} ({command}): {lines.get(name)}\n{output}"


def test_mcp_inspector_lists_and_calls_tools_of_each_readme_runner(npm_registry, kestra):
    """The MCP Inspector's command line (mcpdo) connects to README's uvx, npx and binary
    configurations, lists the tools and calls one that reaches Kestra."""
    env = client_env(npm_registry, kestra)
    mcpdo = os.path.join(CLIENTS, "mcpdo")
    runners = {}
    for cfg in readme_package_configs():
        runners.setdefault(os.path.basename(cfg["command"]), cfg)
    assert set(runners) >= {"uvx", "npx", "kestra-mcp"}, sorted(runners)
    try:
        for runner, cfg in runners.items():
            command, args = concrete_command(cfg)
            env_flags = [flag for k, v in concrete_env(cfg, kestra).items() for flag in ("-e", f"{k}={v}")]
            connected = subprocess.run([mcpdo, "connect", *env_flags, "--", command, *args], env=env,
                                       capture_output=True, text=True, timeout=180)
            assert connected.returncode == 0, f"{runner}: {connected.stdout}{connected.stderr}"
            name = re.search(r"Connection `@([^`]+)`", connected.stdout).group(1)
            try:
                listed = subprocess.run([mcpdo, "--format", "json", "--connection", name, "tools/list"], env=env,
                                        capture_output=True, text=True, timeout=60)
                tools = {t["name"] for t in json.loads(listed.stdout)["tools"]}
                assert {"execute_flow", "list_namespaces"} <= tools, f"{runner}: {sorted(tools)}"
                called = subprocess.run([mcpdo, "--format", "json", "--connection", name, "tools/call", "list_namespaces",
                                         "--tool-args-json", "{}"], env=env, capture_output=True, text=True, timeout=60)
                result = json.loads(called.stdout)
                assert not result.get("isError") and "content" in result, f"{runner}: {called.stdout}{called.stderr}"
            finally:
                subprocess.run([mcpdo, "disconnect", name], env=env, capture_output=True, timeout=60)
    finally:
        # mcpdo keeps a daemon (per HOME) holding the connections: stop it with the test.
        subprocess.run([mcpdo, "daemon", "stop"], env=env, capture_output=True, timeout=60)
