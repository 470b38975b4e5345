"""The Helm chart (deploy/helm/kestra-mcp), checked three ways (issue 22):

- `helm lint --strict` and `helm template` with the value sets a team uses (static token; OAuth
  with a policy and extra tools; existing Secrets), and the refusals of values that would give a
  server nobody can use safely;
- every rendered manifest against Kubernetes' JSON Schemas (kubernetes-validate, strict: an
  unknown field is an error), and what a reviewer checks: probes, no credential in plain text,
  non-root read-only container, the Service's names accepted as Host, pods rolled on change;
- the container as rendered, started here: the Deployment's args and env (Secret values
  resolved, the ConfigMap written where it is mounted) run the server binary against
  kestra-sim; the probes answer and the official Python SDK lists and calls tools with the
  rendered token.

helm is built from the Go module proxy by scripts/test.sh (`HELM`, default .tools/go/bin/helm).
"""

import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import anyio
import kubernetes_validate
import pytest
import yaml
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "kestra-mcp")
HELM = os.environ.get("HELM", os.path.join(ROOT, ".tools", "go", "bin", "helm"))
BINARY = os.path.abspath(os.environ.get("KESTRA_MCP_BIN", os.path.join(ROOT, "target", "debug", "kestra-mcp")))
SIM = os.environ.get("KESTRA_SIM_BIN", os.path.join(ROOT, "target", "debug", "kestra-sim"))
SIM_USER, SIM_PASSWORD = "admin@kestra.io", "kestra-sim"
K8S_VERSION = "1.33.0"

BASE = {"kestra": {"baseUrl": "http://kestra:8080/api/v1", "apiToken": "kestra-api-token"},
        "auth": {"token": "team-token"}}
FLOW_SELECTION = "kind: flow_tools\nselect:\n  - namespace: company.team\n"
POLICY = "rules:\n  - match: {groups: [data]}\n    toolsets: [flow, execution]\n"
VALUE_SETS = {
    "static-token": BASE,
    "oauth-policy-tools": {
        "kestra": {"baseUrl": "http://kestra:8080/api/v1", "username": "admin@kestra.io", "password": "kestra-password"},
        "auth": {"oauth": {"issuer": "https://idp.example.com/realms/team", "resource": "https://mcp.example.com/mcp",
                           "scopes": ["mcp:tools"]}},
        "policy": POLICY, "tools": {"flows.yaml": FLOW_SELECTION}, "replicaCount": 3,
        "allowedHosts": ["mcp.example.com"], "readOnly": True},
    "existing-secrets": {"kestra": {"baseUrl": "http://kestra:8080/api/v1", "existingSecret": "kestra-creds"},
                         "auth": {"existingSecret": "mcp-token"}, "replicaCount": 1},
}


def changed(values, path, value=None):
    """A deep copy of `values` with the dotted `path` set to `value` (removed when None)."""
    copy = json.loads(json.dumps(values))
    *parents, last = path.split(".")
    node = copy
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return copy


def helm(*args, check=True):
    if not os.access(HELM, os.X_OK):
        pytest.fail(f"helm not found at {HELM}: scripts/test.sh builds it (go install helm.sh/helm/v4/cmd/helm)")
    return subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120, check=check)


def set_flags(values):
    """`--values FILE` with `values` as YAML (multi-line texts and lists as a user writes them)."""
    fd, path = tempfile.mkstemp(prefix="values-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(values, f)
    return ["--values", path]


def render(values, namespace="mcp"):
    out = helm("template", "team", CHART, "--namespace", namespace, *set_flags(values)).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_helm_lint_is_clean(name):
    linted = helm("lint", "--strict", CHART, *set_flags(VALUE_SETS[name]), check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "0 chart(s) failed" in linted.stdout, linted.stdout


@pytest.mark.parametrize("name", VALUE_SETS)
def test_rendered_manifests_are_valid_kubernetes_objects(name):
    docs = render(VALUE_SETS[name])
    assert {d["kind"] for d in docs} >= {"Deployment", "Service"}, [d["kind"] for d in docs]
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:  # its schema dump is pages long
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {e.message} at {list(e.absolute_path)}")


@pytest.mark.parametrize("values, message", [
    (changed(BASE, "kestra.baseUrl"), "kestra.baseUrl is required"),
    (changed(BASE, "auth.token"), "clients must authenticate"),
    (changed(BASE, "auth.oauth", {"issuer": "https://idp.example.com"}), "auth.oauth.resource is required"),
    (changed(BASE, "kestra.apiToken"), "Kestra credentials"),
])
def test_values_nobody_could_use_safely_are_refused(values, message):
    refused = helm("template", "team", CHART, *set_flags(values), check=False)
    assert refused.returncode != 0 and message in refused.stderr, refused.stderr


def container(docs):
    (deployment,) = by_kind(docs, "Deployment")
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, c


def test_the_deployment_is_what_a_reviewer_expects():
    docs = render(VALUE_SETS["static-token"])
    deployment, c = container(docs)
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Credentials only through Secrets: no env value carries one.
    plain = json.dumps(c.get("env", []))
    assert "kestra-api-token" not in plain and "team-token" not in plain, plain
    (kestra_secret,) = [s for s in by_kind(docs, "Secret") if "KESTRA_API_TOKEN" in s["stringData"]]
    assert c["envFrom"] == [{"secretRef": {"name": kestra_secret["metadata"]["name"]}}]
    token_ref = next(e for e in c["env"] if e["name"] == "KESTRA_MCP_HTTP_TOKEN")["valueFrom"]["secretKeyRef"]
    assert token_ref["key"] == "KESTRA_MCP_HTTP_TOKEN"
    # Non-root, read-only, no privilege; no Kubernetes API token in the pod.
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] and not c["securityContext"]["allowPrivilegeEscalation"]
    # Clients reach it by the Service's names: each is an accepted Host.
    hosts = [c["args"][i + 1] for i, a in enumerate(c["args"]) if a == "--allowed-host"]
    assert "team-kestra-mcp.mcp.svc.cluster.local" in hosts and "team-kestra-mcp" in hosts, hosts
    (service,) = by_kind(docs, "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert by_kind(docs, "PodDisruptionBudget"), "two replicas get a disruption budget"


def test_a_changed_token_or_tool_set_rolls_the_pods():
    def checksums(values):
        deployment, _ = container(render(values))
        return deployment["spec"]["template"]["metadata"]["annotations"]

    before = checksums(BASE)
    assert checksums(changed(BASE, "auth.token", "rotated"))["checksum/secret"] != before["checksum/secret"]
    assert checksums({**BASE, "tools": {"flows.yaml": FLOW_SELECTION}})["checksum/config"] != before["checksum/config"]


def test_oauth_policy_and_tools_are_wired():
    docs = render(VALUE_SETS["oauth-policy-tools"])
    deployment, c = container(docs)
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["KESTRA_MCP_OAUTH_ISSUER"] == "https://idp.example.com/realms/team"
    assert env["KESTRA_MCP_OAUTH_RESOURCE"] == "https://mcp.example.com/mcp"
    assert env["KESTRA_MCP_READ_ONLY"] == "true" and "KESTRA_MCP_HTTP_TOKEN" not in env
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["tools"] == "/etc/kestra-mcp/tools.d" and "--watch" in c["args"]
    assert env["KESTRA_MCP_POLICY_FILE"].startswith(mounts["policy"] + "/")
    maps = {m["metadata"]["name"]: m["data"] for m in by_kind(docs, "ConfigMap")}
    assert maps["team-kestra-mcp-tools"]["flows.yaml"] == FLOW_SELECTION
    assert maps["team-kestra-mcp-policy"]["policy.yaml"] == POLICY
    assert deployment["spec"]["replicas"] == 3


# ---------------------------------------------------------------------------------------------
# The container as rendered, run here


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, headers=None):
    for _ in range(100):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.fixture
def kestra():
    port = free_port()
    proc = subprocess.Popen([os.path.abspath(SIM), "--kestra-version", "1.3", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield f"http://127.0.0.1:{port}/api/v1"
    proc.terminate()
    proc.wait(timeout=10)


def run_as_rendered(docs, kestra_url):
    """Starts the binary with the rendered container's args and environment: Secret values
    resolved as the kubelet does, ConfigMaps written where they are mounted, Kestra pointed at
    kestra-sim, the listener on a loopback port (the pod's 0.0.0.0:8000 here)."""
    _, c = container(docs)
    secrets = {s["metadata"]["name"]: s["stringData"] for s in by_kind(docs, "Secret")}
    maps = {m["metadata"]["name"]: m["data"] for m in by_kind(docs, "ConfigMap")}
    env = {"PATH": os.environ["PATH"]}
    for ref in c.get("envFrom", []):
        env.update(secrets[ref["secretRef"]["name"]])
    for e in c["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secrets[ref["name"]][ref["key"]]
    volumes = {v["name"]: v for v in (container_pod(docs).get("volumes") or [])}
    root = tempfile.mkdtemp(prefix="pod-")
    for mount in c.get("volumeMounts", []):
        local = os.path.join(root, mount["mountPath"].lstrip("/"))
        os.makedirs(local)
        for file, text in maps[volumes[mount["name"]]["configMap"]["name"]].items():
            with open(os.path.join(local, file), "w") as f:
                f.write(text)
        env = {k: v.replace(mount["mountPath"], local) for k, v in env.items()}
        if mount["mountPath"] == "/etc/kestra-mcp/tools.d":
            env["KESTRA_MCP_TOOLS_DIR"] = local  # the image's ENV
    env.update(KESTRA_BASE_URL=kestra_url, KESTRA_USERNAME=SIM_USER, KESTRA_PASSWORD=SIM_PASSWORD)
    env.pop("KESTRA_API_TOKEN", None)
    port = free_port()
    args = [a.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for a in c["args"]]
    proc = subprocess.Popen([BINARY, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, f"http://127.0.0.1:{port}", env


def container_pod(docs):
    deployment, _ = container(docs)
    return deployment["spec"]["template"]["spec"]


def test_the_rendered_container_serves_probes_and_mcp_with_the_rendered_token(kestra):
    docs = render({**BASE, "tools": {"flows.yaml": FLOW_SELECTION}})
    proc, base, env = run_as_rendered(docs, kestra)
    try:
        assert wait_for(f"{base}/healthz") == (200, "ok\n")
        status, body = wait_for(f"{base}/readyz")
        assert status == 200 and body.startswith("ready: "), body
        assert wait_for(f"{base}/mcp")[0] == 401  # no token: refused

        async def session():
            client = create_mcp_http_client(headers={"Authorization": f"Bearer {env['KESTRA_MCP_HTTP_TOKEN']}"})
            async with client, streamable_http_client(f"{base}/mcp", http_client=client) as (read, write):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    tools = {t.name for t in (await s.list_tools()).tools}
                    called = await s.call_tool("list_namespaces", {})
                    return tools, called

        tools, called = anyio.run(session)
        assert {"execute_flow", "list_namespaces"} <= tools, sorted(tools)
        assert not called.is_error, called.content[0].text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "team-token" not in err.decode() and "kestra-api-token" not in err.decode()
    assert re.search(r"serving MCP on http://127\.0\.0\.1:\d+/mcp", err.decode()), err.decode()[-2000:]
