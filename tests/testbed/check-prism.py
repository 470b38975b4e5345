#!/usr/bin/env python3
"""Checks the running test bed (start.sh): Prism validation is on, and a walk through the
simulator's main endpoints passes Prism on 1.3 and 2.0 with no violation.

usage: check-prism.py [ENV_FILE]   (default: <repo>/.tools/testbed/env)
Exit status 1 on any failure; every failure is printed.
"""
import base64
import json
import os
import sys
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AUTH = "Basic " + base64.b64encode(b"admin@kestra.io:kestra-sim").decode()
failures = []


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


def call(method, url, body=None, ctype=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", AUTH)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def multipart(fields, files=()):
    boundary = "testbed" + uuid.uuid4().hex
    out = []
    for k, v in fields:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n')
    for k, name, content in files:
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n{content}\r\n"
        )
    out.append(f"--{boundary}--\r\n")
    return "".join(out), f"multipart/form-data; boundary={boundary}"


def expect(label, got, want_status):
    status, body = got
    violation = "prism/errors#" in body
    ok = status == want_status and not violation
    if not ok:
        failures.append(f"{label}: expected {want_status}, got {status}: {body[:600]}")
    return body


FLOW = """id: walk
namespace: testbed.walk
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }}"
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: ok
        type: BOOLEAN
        defaults: true
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
"""


def walk(tag, base):
    v2 = tag == "20"
    t = base + "/main"
    act = (lambda eid, a: f"{t}/executions/{eid}/actions/{a}") if v2 else (lambda eid, a: f"{t}/executions/{eid}/{a}")
    p = f"[{tag}]"
    # Validation is on: page=0 violates `minimum: 1` and Prism itself answers 422.
    st, body = call("GET", f"{t}/flows/search?page=0&size=10")
    if st != 422 or "prism/errors#UNPROCESSABLE_ENTITY" not in body:
        failures.append(f"{p} page=0 was not rejected by Prism (validation off?): {st} {body[:300]}")
    # A KV PUT whose body type the description does not list must be rejected on 1.3.
    if not v2:
        st, body = call("PUT", f"{t}/namespaces/testbed.walk/kv/x", '"v"', "application/xml")
        if st < 400:
            failures.append(f"{p} application/xml KV PUT was accepted: {st}")
    expect(f"{p} configs", call("GET", f"{base}/configs"), 200)
    expect(f"{p} create flow", call("POST", f"{t}/flows", FLOW, "application/x-yaml"), 200)
    expect(f"{p} get flow source", call("GET", f"{t}/flows/testbed.walk/walk?source=true"), 200)
    expect(f"{p} search flows", call("GET", f"{t}/flows/search?q=walk&page=1&size=10"), 200)
    expect(f"{p} revisions", call("GET", f"{t}/flows/testbed.walk/walk/revisions"), 200)
    expect(f"{p} flows in ns", call("GET", f"{t}/flows/testbed.walk"), 200)
    expect(f"{p} distinct ns", call("GET", f"{t}/flows/distinct-namespaces"), 200)
    expect(f"{p} dependencies", call("GET", f"{t}/flows/testbed.walk/walk/dependencies"), 200)
    body, ct = multipart([("name", "prism")])
    ex = expect(f"{p} execute wait", call("POST", f"{t}/executions/testbed.walk/walk?wait=true&labels=env:test", body, ct), 200)
    try:
        eid = json.loads(ex)["id"]
    except (ValueError, KeyError):
        failures.append(f"{p} no execution id; stopping walk")
        return
    expect(f"{p} get execution", call("GET", f"{t}/executions/{eid}"), 200)
    expect(f"{p} search executions", call("GET", f"{t}/executions/search?page=1&size=10&namespace=testbed.walk"), 200)
    rb, rct = multipart([("ok", "false")])
    expect(f"{p} resume", call("POST", act(eid, "resume"), rb, rct), 200 if v2 else 204)
    expect(f"{p} get after resume", call("GET", f"{t}/executions/{eid}"), 200)
    expect(f"{p} logs", call("GET", f"{t}/logs/{eid}"), 200)
    expect(f"{p} logs download", call("GET", f"{t}/logs/{eid}/download"), 200)
    expect(f"{p} logs search", call("GET", f"{t}/logs/search?page=1&size=10"), 200)
    expect(f"{p} labels", call("POST", act(eid, "labels"), json.dumps([{"key": "team", "value": "qa"}]), "application/json"), 200)
    expect(f"{p} change status", call("POST", act(eid, "change-status") + "?status=WARNING", None), 200)
    expect(f"{p} replay by ids", call("POST", f"{t}/executions/replay/by-ids", json.dumps([eid]), "application/json"), 200)
    expect(f"{p} kv put", call("PUT", f"{t}/namespaces/testbed.walk/kv/k1", '"hello"', "text/plain"), 200)
    expect(f"{p} kv get", call("GET", f"{t}/namespaces/testbed.walk/kv/k1"), 200)
    if v2:
        expect(f"{p} kv list", call("GET", f"{t}/kv?filters[namespace][EQUALS]=testbed.walk"), 200)
    else:
        expect(f"{p} kv list", call("GET", f"{t}/namespaces/testbed.walk/kv"), 200)
    expect(f"{p} kv delete", call("DELETE", f"{t}/namespaces/testbed.walk/kv/k1"), 200)
    fb, fct = multipart([], [("fileContent", "hello.py", "print('hi')")])
    expect(f"{p} file upload", call("POST", f"{t}/namespaces/testbed.walk/files?path=/scripts/hello.py", fb, fct), 200)
    expect(f"{p} file read", call("GET", f"{t}/namespaces/testbed.walk/files?path=/scripts/hello.py"), 200)
    expect(f"{p} dir list", call("GET", f"{t}/namespaces/testbed.walk/files/directory?path=/scripts"), 200)
    expect(f"{p} dir create", call("POST", f"{t}/namespaces/testbed.walk/files/directory?path=/data"), 200)
    expect(f"{p} file move", call("PUT", f"{t}/namespaces/testbed.walk/files?from=/scripts/hello.py&to=/data/hello.py"), 200)
    expect(f"{p} file search", call("GET", f"{t}/namespaces/testbed.walk/files/search?q=hello"), 200)
    expect(f"{p} file delete", call("DELETE", f"{t}/namespaces/testbed.walk/files?path=/data"), 200)
    expect(f"{p} namespaces search", call("GET", f"{t}/namespaces/search?page=1&size=10" + ("&filters[q][EQUALS]=testbed" if v2 else "&existing=false")), 200)
    expect(f"{p} ns dependencies", call("GET", f"{t}/namespaces/testbed.walk/dependencies"), 200)
    bf = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T03:00:00Z", "inputs": {"name": "bf"}, "labels": [{"key": "bf", "value": "yes"}]}
    if v2:
        expect(f"{p} backfill", call("PUT", f"{t}/triggers/backfill/create", json.dumps({"namespace": "testbed.walk", "flowId": "walk", "triggerId": "hourly", "backfill": bf}), "application/json"), 200)
    else:
        expect(f"{p} backfill", call("PUT", f"{t}/triggers", json.dumps({"tenantId": "main", "namespace": "testbed.walk", "flowId": "walk", "triggerId": "hourly", "date": "2026-01-01T00:00:00Z", "backfill": bf}), "application/json"), 200)
    expect(f"{p} triggers search", call("GET", f"{t}/triggers/search?page=1&size=10"), 200)
    expect(f"{p} disable", call("POST", f"{t}/flows/disable/by-ids", json.dumps([{"namespace": "testbed.walk", "id": "walk"}]), "application/json"), 200)
    expect(f"{p} enable", call("POST", f"{t}/flows/enable/by-ids", json.dumps([{"namespace": "testbed.walk", "id": "walk"}]), "application/json"), 200)
    # The 1.x-style pause on 2.0 is routed to createExecution (flow `pause` in namespace {id}).
    if v2:
        st, body = call("POST", f"{t}/executions/{eid}/pause")
        if st != 404 or "Requested Flow is not found" not in body:
            failures.append(f"{p} 1.x-style pause on 2.0 should reach createExecution and 404: {st} {body[:300]}")
    expect(f"{p} delete execution", call("DELETE", f"{t}/executions/{eid}"), 204)
    expect(f"{p} delete flow", call("DELETE", f"{t}/flows/testbed.walk/walk"), 204)


def main():
    env_file = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".tools", "testbed", "env")
    env = load_env(env_file)
    for tag in ("13", "20"):
        walk(tag, env[f"KESTRA_PRISM_{tag}_URL"])
    for f in failures:
        print("FAIL", f)
    print(f"check-prism: {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
