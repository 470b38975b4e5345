#!/usr/bin/env python3
"""Applies openapi/overlay.yaml to a vendored Kestra OpenAPI description.

usage: apply-overlay.py VERSION(1.3|2.0) INPUT.yml OUTPUT.yml

Every change is an entry of overlay.yaml naming its evidence (a Kestra source file or a
recorded pair). The script fails if an entry matches nothing, so a stale entry is noticed.
Validation is never switched off: entries only relax what the description gets wrong.
"""
import copy
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OVERLAY = os.path.join(HERE, "..", "..", "openapi", "overlay.yaml")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def ops(spec):
    for path, item in spec.get("paths", {}).items():
        for m in METHODS:
            if m in item:
                yield path, m, item[m]


def step(node, part):
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None


def copy_refs(node, spec, other_spec):
    """Copies the component schemas `node` references (transitively) from other_spec."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            if name not in schemas:
                schemas[name] = copy.deepcopy(other_spec["components"]["schemas"][name])
                copy_refs(schemas[name], spec, other_spec)
        for v in node.values():
            copy_refs(v, spec, other_spec)
    elif isinstance(node, list):
        for v in node:
            copy_refs(v, spec, other_spec)


def apply(entry, spec, other_spec):
    action = entry["action"]
    hits = 0
    if action == "optional-query-params":
        names = set(entry["params"])
        for _path, _m, op in ops(spec):
            for p in op.get("parameters", []):
                if p.get("in") == "query" and p.get("name") in names and p.get("required"):
                    p["required"] = False
                    hits += 1
    elif action == "multipart-form-fields":
        for path, m in entry["operations"]:
            op = spec["paths"].get(path, {}).get(m)
            if not op:
                continue
            content = op.get("requestBody", {}).get("content", {})
            if "multipart/form-data" in content:
                content["multipart/form-data"]["schema"] = {
                    "type": "object",
                    "additionalProperties": True,
                }
                hits += 1
    elif action == "optional-request-body":
        for path, m in entry["operations"]:
            body = spec["paths"].get(path, {}).get(m, {}).get("requestBody")
            if isinstance(body, dict) and body.get("required"):
                body["required"] = False
                hits += 1
    elif action == "drop-format":
        fmt = entry["format"]
        for path, m in entry["operations"]:
            op = spec["paths"].get(path, {}).get(m)
            if not op:
                continue
            for p in op.get("parameters", []):
                if p.get("name") in entry["params"] and p.get("schema", {}).get("format") == fmt:
                    del p["schema"]["format"]
                    hits += 1
    elif action == "any-json-value":
        for pointer in entry["schemas"]:
            node = spec
            parts = pointer.strip("/").split("/")
            for part in parts[:-1]:
                node = step(node, part)
                if node is None:
                    break
            if isinstance(node, dict) and parts[-1] in node:
                # Any JSON value: no type constraint at all.
                node[parts[-1]] = {"description": node[parts[-1]].get("description", "any JSON value")} if isinstance(node[parts[-1]], dict) else {}
                hits += 1
    elif action == "drop-schema-format":
        for pointer in entry["schemas"]:
            node = spec
            for part in pointer.strip("/").split("/"):
                node = step(node, part)
                if node is None:
                    break
            if isinstance(node, dict) and node.get("format") == entry["format"]:
                del node["format"]
                hits += 1
    elif action == "add-operation-from-other-version":
        for path, m in entry["operations"]:
            src = (other_spec or {}).get("paths", {}).get(path, {}).get(m)
            if src is not None and m not in spec["paths"].get(path, {}):
                spec["paths"].setdefault(path, {})[m] = copy.deepcopy(src)
                copy_refs(src, spec, other_spec)
                hits += 1
    elif action == "add-request-content-type":
        for path, m in entry["operations"]:
            op = spec["paths"].get(path, {}).get(m)
            if not op:
                continue
            content = op.setdefault("requestBody", {}).setdefault("content", {})
            if entry["content_type"] not in content:
                content[entry["content_type"]] = {"schema": entry.get("schema", {"type": "string"})}
                hits += 1
    elif action == "add-response":
        for path, m in entry["operations"]:
            op = spec["paths"].get(path, {}).get(m)
            if not op:
                continue
            responses = op.setdefault("responses", {})
            code = str(entry["status"])
            if code not in responses:
                responses[code] = copy.deepcopy(entry["response"])
                hits += 1
    elif action == "add-query-params":
        for path, m in entry["operations"]:
            op = spec["paths"].get(path, {}).get(m)
            if not op:
                continue
            params = op.setdefault("parameters", [])
            for param in entry["parameters"]:
                if not any(p.get("name") == param["name"] and p.get("in") == "query" for p in params):
                    params.append(copy.deepcopy(param))
                    hits += 1
    elif action == "replace-component-schemas":
        # Every component schema whose name starts with `prefix` becomes `schema`.
        schemas = spec.get("components", {}).get("schemas", {})
        for name in list(schemas):
            if name.startswith(entry["prefix"]):
                schemas[name] = copy.deepcopy(entry["schema"])
                hits += 1
    elif action == "response-body-schema":
        # The schema of one status/media type of each operation's response becomes `schema`.
        for path, m in entry["operations"]:
            op = spec["paths"].get(path, {}).get(m)
            if not op:
                continue
            content = op.get("responses", {}).get(str(entry["status"]), {}).get("content", {})
            if entry["media_type"] in content:
                content[entry["media_type"]]["schema"] = copy.deepcopy(entry["schema"])
                hits += 1
    else:
        raise SystemExit(f"overlay entry {entry['id']}: unknown action {action}")
    return hits


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    version, src, dst = sys.argv[1:]
    with open(OVERLAY) as f:
        overlay = yaml.safe_load(f)
    with open(src) as f:
        spec = yaml.safe_load(f)
    other = None
    other_file = overlay.get("other_version_files", {}).get(version)
    if other_file:
        with open(os.path.join(os.path.dirname(OVERLAY), other_file)) as f:
            other = yaml.safe_load(f)
    applied = []
    for entry in overlay["entries"]:
        if version not in entry["versions"]:
            continue
        for key in ("id", "why", "source", "action"):
            if not entry.get(key):
                raise SystemExit(f"overlay entry {entry.get('id')}: missing {key}")
        hits = apply(entry, spec, other)
        if hits == 0:
            raise SystemExit(f"overlay entry {entry['id']} matched nothing in {src} (stale?)")
        applied.append(f"{entry['id']}: {hits} change(s)")
    with open(dst, "w") as f:
        yaml.safe_dump(spec, f, sort_keys=False, allow_unicode=True)
    sys.stderr.write(f"overlay {version}: " + "; ".join(applied) + "\n")


if __name__ == "__main__":
    main()
