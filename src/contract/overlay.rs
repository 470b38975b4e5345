//! The reviewed overlay (openapi/overlay.yaml): each entry relaxes a place where a Kestra
//! OpenAPI description is stricter or narrower than what a real Kestra does, with its evidence.
//! Same semantics as tests/testbed/apply-overlay.py, which prepares the descriptions Prism uses.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// The HTTP methods an OpenAPI path item may hold.
pub(crate) const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

fn operations_of(spec: &mut Value) -> Vec<&mut Value> {
    let mut out = Vec::new();
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            if let Some(item) = item.as_object_mut() {
                for (method, op) in item.iter_mut() {
                    if METHODS.contains(&method.as_str()) {
                        out.push(op);
                    }
                }
            }
        }
    }
    out
}

fn listed_operations(entry: &Value) -> Vec<(String, String)> {
    entry["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| {
            Some((
                pair.get(0)?.as_str()?.to_owned(),
                pair.get(1)?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn copy_refs(node: &Value, schemas: &mut Map<String, Value>, other: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                && !schemas.contains_key(name)
                && let Some(found) = other["components"]["schemas"].get(name)
            {
                schemas.insert(name.to_owned(), found.clone());
                copy_refs(found, schemas, other);
            }
            map.values().for_each(|v| copy_refs(v, schemas, other));
        }
        Value::Array(items) => items.iter().for_each(|v| copy_refs(v, schemas, other)),
        _ => {}
    }
}

/// Applies the entries of `overlay` for version `key` (`1.3`) to `spec`; `other` is the
/// description of the version the overlay names for copying operations. For the bundled
/// descriptions (`Stale::Error`) every entry must change something: one that matches nothing is
/// stale. A description from elsewhere may already have what an entry adds (`Stale::Skip`).
pub(crate) fn apply_overlay(
    overlay: &Value,
    key: &str,
    spec: &mut Value,
    other: Option<&Value>,
    stale: Stale,
) -> Result<Vec<String>, String> {
    let mut applied = Vec::new();
    for entry in overlay["entries"].as_array().into_iter().flatten() {
        let id = entry["id"].as_str().unwrap_or("?");
        let versions = entry["versions"].as_array().into_iter().flatten();
        if !versions.filter_map(Value::as_str).any(|v| v == key) {
            continue;
        }
        for field in ["id", "why", "source", "action"] {
            if entry[field].as_str().is_none_or(|s| s.trim().is_empty()) {
                return Err(format!("entry {id}: missing {field}"));
            }
        }
        let hits = apply_entry(entry, spec, other)?;
        if hits == 0 && stale == Stale::Skip {
            continue;
        }
        if hits == 0 {
            return Err(format!(
                "entry {id} matched nothing in the {key} description (stale?)"
            ));
        }
        applied.push(format!("{id}: {hits} change(s)"));
    }
    Ok(applied)
}

/// What an entry that matches nothing means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale {
    Error,
    Skip,
}

/// Applies one entry; the number of changes it made.
fn apply_entry(entry: &Value, spec: &mut Value, other: Option<&Value>) -> Result<usize, String> {
    match entry["action"].as_str().unwrap_or_default() {
        "optional-query-params" => Ok(optional_query_params(entry, spec)),
        "multipart-form-fields" => Ok(multipart_form_fields(entry, spec)),
        "optional-request-body" => Ok(optional_request_body(entry, spec)),
        "drop-format" => Ok(drop_format(entry, spec)),
        "any-json-value" => Ok(any_json_value(entry, spec)),
        "drop-schema-format" => Ok(drop_schema_format(entry, spec)),
        "add-operation-from-other-version" => add_operation_from_other_version(entry, spec, other),
        "add-request-content-type" => Ok(add_request_content_type(entry, spec)),
        "add-response" => Ok(add_response(entry, spec)),
        "add-query-params" => Ok(add_query_params(entry, spec)),
        "replace-component-schemas" => Ok(replace_component_schemas(entry, spec)),
        "response-body-schema" => Ok(response_body_schema(entry, spec)),
        other => Err(format!(
            "entry {}: unknown action {other}",
            entry["id"].as_str().unwrap_or("?")
        )),
    }
}

/// The strings an entry lists under `key` (`params`, `schemas`).
fn listed_strings<'a>(entry: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    entry[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The parameter names an entry lists (`params`).
fn param_names(entry: &Value) -> BTreeSet<&str> {
    listed_strings(entry, "params").collect()
}

fn optional_query_params(entry: &Value, spec: &mut Value) -> usize {
    let names = param_names(entry);
    let mut hits = 0;
    for op in operations_of(spec) {
        for p in op
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if p["in"] == "query"
                && names.contains(p["name"].as_str().unwrap_or_default())
                && p["required"] == true
            {
                p["required"] = json!(false);
                hits += 1;
            }
        }
    }
    hits
}

fn multipart_form_fields(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    for (path, method) in listed_operations(entry) {
        if let Some(content) = spec["paths"]
            .get_mut(&path)
            .and_then(|i| i.get_mut(&method))
            .and_then(|o| o.get_mut("requestBody"))
            .and_then(|b| b.get_mut("content"))
            .and_then(|c| c.get_mut("multipart/form-data"))
        {
            content["schema"] = json!({"type": "object", "additionalProperties": true});
            hits += 1;
        }
    }
    hits
}

/// The listed operations' request bodies become optional (a request without a body is valid).
fn optional_request_body(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    for (path, method) in listed_operations(entry) {
        if let Some(body) = spec["paths"]
            .get_mut(&path)
            .and_then(|i| i.get_mut(&method))
            .and_then(|o| o.get_mut("requestBody"))
            .filter(|b| b["required"] == true)
        {
            body["required"] = json!(false);
            hits += 1;
        }
    }
    hits
}

fn drop_format(entry: &Value, spec: &mut Value) -> usize {
    let names = param_names(entry);
    let mut hits = 0;
    let format = entry["format"].as_str().unwrap_or_default();
    for (path, method) in listed_operations(entry) {
        let Some(op) = spec["paths"].get_mut(&path).and_then(|i| i.get_mut(&method)) else {
            continue;
        };
        for p in op
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if names.contains(p["name"].as_str().unwrap_or_default())
                && p["schema"]["format"] == format
                && let Some(schema) = p.get_mut("schema").and_then(Value::as_object_mut)
            {
                schema.remove("format");
                hits += 1;
            }
        }
    }
    hits
}

fn any_json_value(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    for pointer in listed_strings(entry, "schemas") {
        if let Some(node) = spec.pointer_mut(pointer) {
            let description = node
                .get("description")
                .cloned()
                .unwrap_or(json!("any JSON value"));
            *node = if node.is_object() {
                json!({"description": description})
            } else {
                json!({})
            };
            hits += 1;
        }
    }
    hits
}

fn drop_schema_format(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    let format = entry["format"].as_str().unwrap_or_default();
    for pointer in listed_strings(entry, "schemas") {
        if let Some(node) = spec.pointer_mut(pointer).and_then(Value::as_object_mut)
            && node.get("format").and_then(Value::as_str) == Some(format)
        {
            node.remove("format");
            hits += 1;
        }
    }
    hits
}

fn add_operation_from_other_version(
    entry: &Value,
    spec: &mut Value,
    other: Option<&Value>,
) -> Result<usize, String> {
    let id = entry["id"].as_str().unwrap_or("?");
    let mut hits = 0;
    for (path, method) in listed_operations(entry) {
        let Some(found) = other
            .and_then(|o| o["paths"].get(&path))
            .and_then(|i| i.get(&method))
        else {
            continue;
        };
        if spec["paths"].get(&path).and_then(|i| i.get(&method)).is_some() {
            continue;
        }
        let Some(paths) = spec["paths"].as_object_mut() else {
            return Err(format!("entry {id}: the description has no paths"));
        };
        let item = paths.entry(path.clone()).or_insert_with(|| json!({}));
        item[&method] = found.clone();
        let mut schemas = spec["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some(other) = other {
            copy_refs(found, &mut schemas, other);
        }
        spec["components"]["schemas"] = Value::Object(schemas);
        hits += 1;
    }
    Ok(hits)
}

fn add_request_content_type(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    let content_type = entry["content_type"].as_str().unwrap_or_default().to_owned();
    for (path, method) in listed_operations(entry) {
        let Some(op) = spec["paths"].get_mut(&path).and_then(|i| i.get_mut(&method)) else {
            continue;
        };
        if op["requestBody"]["content"].get(&content_type).is_none() {
            let schema = entry.get("schema").cloned().unwrap_or(json!({"type": "string"}));
            if op.get("requestBody").is_none() {
                op["requestBody"] = json!({});
            }
            if op["requestBody"].get("content").is_none() {
                op["requestBody"]["content"] = json!({});
            }
            op["requestBody"]["content"][&content_type] = json!({"schema": schema});
            hits += 1;
        }
    }
    hits
}

fn add_response(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    let status = match &entry["status"] {
        Value::String(s) => s.clone(),
        number => number.to_string(),
    };
    for (path, method) in listed_operations(entry) {
        let Some(op) = spec["paths"].get_mut(&path).and_then(|i| i.get_mut(&method)) else {
            continue;
        };
        if op.get("responses").is_none() {
            op["responses"] = json!({});
        }
        if op["responses"].get(&status).is_none() {
            op["responses"][&status] = entry["response"].clone();
            hits += 1;
        }
    }
    hits
}

fn add_query_params(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    for (path, method) in listed_operations(entry) {
        let Some(op) = spec["paths"].get_mut(&path).and_then(|i| i.get_mut(&method)) else {
            continue;
        };
        if op.get("parameters").is_none() {
            op["parameters"] = json!([]);
        }
        let Some(params) = op["parameters"].as_array_mut() else {
            continue;
        };
        for param in entry["parameters"].as_array().into_iter().flatten() {
            if !params
                .iter()
                .any(|p| p["name"] == param["name"] && p["in"] == "query")
            {
                params.push(param.clone());
                hits += 1;
            }
        }
    }
    hits
}

fn replace_component_schemas(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    // Every component schema whose name starts with `prefix` becomes `schema`.
    let prefix = entry["prefix"].as_str().unwrap_or_default();
    if let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            if !prefix.is_empty() && name.starts_with(prefix) {
                *schema = entry["schema"].clone();
                hits += 1;
            }
        }
    }
    hits
}

fn response_body_schema(entry: &Value, spec: &mut Value) -> usize {
    let mut hits = 0;
    // Responses are not checked here (requests are); count the operations it names.
    for op in entry["operations"].as_array().into_iter().flatten() {
        let (Some(path), Some(method)) = (op[0].as_str(), op[1].as_str()) else {
            continue;
        };
        if spec["paths"][path][method].is_object() {
            hits += 1;
        }
    }
    hits
}
