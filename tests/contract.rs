//! Contract tests: every request every tool in `tools.d/` can send, checked against Kestra's
//! OpenAPI description of each Kestra version the request claims (issue 4, "Contract tests").
//!
//! For each tool and each variant, arguments are synthesised from the tool's input schema
//! (several sets: only what is required, everything set with defaults, everything set with
//! non-default values, booleans flipped), the engine renders every request of the action
//! (`Engine::sample_requests`, stand-ins for earlier steps and loop items) for each known
//! Kestra version, and each rendered request is checked against the description of that
//! version (`tests/fixtures/openapi/openapi-<major>.<minor>*.yml`) with the reviewed overlay of
//! the test bed applied (`tests/testbed/overlay.yaml`, the same entries Prism uses):
//!
//! - the path resolves to an operation the way Kestra's router (Micronaut) does: among the path
//!   templates that match segment by segment and have the method (and, for a body, consume its
//!   content type when one does), the one with the fewest variables, then the most literal
//!   characters; its `operationId` must be one the spec declares in `operation` (a request
//!   without `operation` is a violation) — so a 1.x action path that lands on createExecution
//!   on 2.0 fails;
//! - required query parameters are present, no unknown query parameter is sent (PHP-style
//!   `filters[...]` keys are accepted when the operation has that parameter), and values fit
//!   the parameter's type;
//! - a required request body is sent, the body's content type is declared, and a JSON body (or
//!   the named fields of a multipart body, or a text body) validates against the schema, with
//!   OpenAPI 3.0 `nullable`/`exclusiveMinimum`/`readOnly` translated to JSON Schema 2020-12.
//!
//! All violations are reported at once (`tool[variant] version label (args): reason`).
//! Run: `cargo test -p kestra-mcp --test contract -- --nocapture` (prints the summary line).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use kestra_mcp::config::Config;
use kestra_mcp::engine::{CallError, Engine};
use kestra_mcp::request::{RenderedBody, RenderedRequest, RequestTemplate};
use kestra_mcp::spec::raw::Scope;
use kestra_mcp::spec::{Action, CompiledTool, Dispatch, KNOWN_KESTRA_VERSIONS, LoadOptions, load_catalog};
use serde_json::{Map, Value, json};

const TENANT: &str = "main";
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI descriptions, parsed once per test run, with the test bed's overlay applied.
// ---------------------------------------------------------------------------------------------

struct PathItem {
    template: String,
    segments: Vec<Segment>,
    variables: usize,
    literal_chars: usize,
}

enum Segment {
    Literal(String),
    /// `{name}`, or a segment mixing text and a variable (`prefix{name}suffix`).
    Variable {
        prefix: String,
        suffix: String,
    },
}

struct Description {
    /// The known version this description is used for (`1.3.0`).
    version: String,
    file: String,
    spec: Value,
    paths: Vec<PathItem>,
    /// `{"schemas": ...}` converted to JSON Schema 2020-12, embedded in every validator.
    components: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
    /// Overlay entries applied: `id: n change(s)`.
    overlay: Vec<String>,
}

fn descriptions() -> &'static BTreeMap<String, Description> {
    static DESCRIPTIONS: OnceLock<BTreeMap<String, Description>> = OnceLock::new();
    DESCRIPTIONS.get_or_init(load_descriptions)
}

fn minor_key(version: &semver::Version) -> String {
    format!("{}.{}", version.major, version.minor)
}

fn read_yaml(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
}

fn load_descriptions() -> BTreeMap<String, Description> {
    let dir = root().join("tests/fixtures/openapi");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .collect();
    let overlay_file = root().join("tests/testbed/overlay.yaml");
    let overlay = read_yaml(&overlay_file);
    let mut raw: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for known in KNOWN_KESTRA_VERSIONS {
        let version = semver::Version::parse(known).expect("known version");
        let key = minor_key(&version);
        let prefix = format!("openapi-{key}.");
        let file = files.iter().find(|f| f.starts_with(&prefix)).unwrap_or_else(|| {
            panic!(
                "no OpenAPI description {prefix}*.yml in {} for Kestra {known}",
                dir.display()
            )
        });
        raw.insert(known.to_string(), (file.clone(), read_yaml(&dir.join(file))));
    }
    let mut out = BTreeMap::new();
    for (known, (file, original)) in &raw {
        let key = minor_key(&semver::Version::parse(known).expect("known version"));
        let other = overlay["other_version_files"][&key].as_str().map(|rel| {
            let path = root().join("tests/testbed").join(rel);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            raw.values()
                .find(|(f, _)| *f == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| read_yaml(&path))
        });
        let mut spec = original.clone();
        let applied = apply_overlay(&overlay, &key, &mut spec, other.as_ref());
        let components = json!({"schemas": to_json_schema(spec["components"]["schemas"].clone())});
        let mut paths: Vec<PathItem> = spec["paths"]
            .as_object()
            .map(|p| p.keys().map(|t| path_item(t)).collect())
            .unwrap_or_default();
        paths.sort_by(|a, b| a.template.cmp(&b.template));
        out.insert(
            known.clone(),
            Description {
                version: known.clone(),
                file: file.clone(),
                spec,
                paths,
                components,
                validators: Mutex::new(HashMap::new()),
                overlay: applied,
            },
        );
    }
    out
}

fn path_item(template: &str) -> PathItem {
    let segments: Vec<Segment> = template
        .trim_start_matches('/')
        .split('/')
        .map(|s| match (s.find('{'), s.rfind('}')) {
            (Some(open), Some(close)) if open < close => Segment::Variable {
                prefix: s[..open].to_owned(),
                suffix: s[close + 1..].to_owned(),
            },
            _ => Segment::Literal(s.to_owned()),
        })
        .collect();
    let variables = segments
        .iter()
        .filter(|s| matches!(s, Segment::Variable { .. }))
        .count();
    let literal_chars = segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => l.len(),
            Segment::Variable { prefix, suffix } => prefix.len() + suffix.len(),
        })
        .sum();
    PathItem {
        template: template.to_owned(),
        segments,
        variables,
        literal_chars,
    }
}

impl PathItem {
    fn matches(&self, segments: &[String]) -> bool {
        self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(t, s)| match t {
                Segment::Literal(l) => l == s,
                Segment::Variable { prefix, suffix } => {
                    s.len() > prefix.len() + suffix.len()
                        && s.starts_with(prefix.as_str())
                        && s.ends_with(suffix.as_str())
                }
            })
    }
}

// --- the overlay (same semantics as tests/testbed/apply-overlay.py) ---------------------------

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

fn step_mut<'a>(node: &'a mut Value, part: &str) -> Option<&'a mut Value> {
    match node {
        Value::Object(map) => map.get_mut(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(move |i| items.get_mut(i)),
        _ => None,
    }
}

fn pointer_parent<'a>(spec: &'a mut Value, pointer: &str) -> Option<(&'a mut Value, String)> {
    let parts: Vec<&str> = pointer.trim_matches('/').split('/').collect();
    let (last, init) = parts.split_last()?;
    let mut node = spec;
    for part in init {
        node = step_mut(node, part)?;
    }
    Some((node, (*last).to_owned()))
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

fn apply_overlay(overlay: &Value, key: &str, spec: &mut Value, other: Option<&Value>) -> Vec<String> {
    let mut applied = Vec::new();
    for entry in overlay["entries"].as_array().into_iter().flatten() {
        let id = entry["id"].as_str().unwrap_or("?");
        let versions = entry["versions"].as_array().into_iter().flatten();
        if !versions.filter_map(Value::as_str).any(|v| v == key) {
            continue;
        }
        for field in ["id", "why", "source", "action"] {
            assert!(
                entry[field].as_str().is_some_and(|s| !s.trim().is_empty()),
                "overlay entry {id}: missing {field}"
            );
        }
        let names: BTreeSet<&str> = entry["params"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut hits = 0;
        match entry["action"].as_str().unwrap_or_default() {
            "optional-query-params" => {
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
            }
            "multipart-form-fields" => {
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
            }
            "drop-format" => {
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
            }
            "any-json-value" => {
                for pointer in entry["schemas"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some((parent, last)) = pointer_parent(spec, pointer)
                        && let Some(node) = parent.get_mut(&last)
                    {
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
            }
            "drop-schema-format" => {
                let format = entry["format"].as_str().unwrap_or_default();
                for pointer in entry["schemas"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some((parent, last)) = pointer_parent(spec, pointer)
                        && let Some(node) = parent.get_mut(&last).and_then(Value::as_object_mut)
                        && node.get("format").and_then(Value::as_str) == Some(format)
                    {
                        node.remove("format");
                        hits += 1;
                    }
                }
            }
            "add-operation-from-other-version" => {
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
                    let paths = spec["paths"].as_object_mut().expect("paths");
                    let item = paths.entry(path.clone()).or_insert_with(|| json!({}));
                    item[&method] = found.clone();
                    let mut schemas = spec["components"]["schemas"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    copy_refs(found, &mut schemas, other.expect("other version"));
                    spec["components"]["schemas"] = Value::Object(schemas);
                    hits += 1;
                }
            }
            "add-request-content-type" => {
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
            }
            "add-response" => {
                let status = match &entry["status"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
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
            }
            "add-query-params" => {
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
            }
            "replace-component-schemas" => {
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
            }
            "response-body-schema" => {
                // Responses are not checked here (requests are); count the operations it names.
                for op in entry["operations"].as_array().into_iter().flatten() {
                    let (Some(path), Some(method)) = (op[0].as_str(), op[1].as_str()) else {
                        continue;
                    };
                    if spec["paths"][path][method].is_object() {
                        hits += 1;
                    }
                }
            }
            other => panic!("overlay entry {id}: unknown action {other}"),
        }
        assert!(
            hits > 0,
            "overlay entry {id} matched nothing in the {key} description (stale?)"
        );
        applied.push(format!("{id}: {hits} change(s)"));
    }
    applied
}

// --- OpenAPI 3.0 schema → JSON Schema 2020-12 ----------------------------------------------

/// Translates an OpenAPI 3.0 schema: `nullable: true` accepts null, boolean `exclusiveMinimum`/
/// `exclusiveMaximum` become numbers, and `readOnly` properties are not required in requests.
fn to_json_schema(node: Value) -> Value {
    match node {
        Value::Array(items) => Value::Array(items.into_iter().map(to_json_schema).collect()),
        Value::Object(map) => {
            let mut map: Map<String, Value> = map.into_iter().map(|(k, v)| (k, to_json_schema(v))).collect();
            for (flag, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
                if let Some(Value::Bool(on)) = map.get(flag).cloned() {
                    map.remove(flag);
                    if on && let Some(limit) = map.remove(bound) {
                        map.insert(flag.to_owned(), limit);
                    }
                }
            }
            if let (Some(Value::Object(props)), Some(Value::Array(required))) =
                (map.get("properties"), map.get("required"))
            {
                let kept: Vec<Value> = required
                    .iter()
                    .filter(|name| {
                        let read_only = name
                            .as_str()
                            .and_then(|n| props.get(n))
                            .is_some_and(|p| p["readOnly"] == true);
                        !read_only
                    })
                    .cloned()
                    .collect();
                map.insert("required".into(), Value::Array(kept));
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                return json!({"anyOf": [{"type": "null"}, Value::Object(map)]});
            }
            if map.get("nullable") == Some(&Value::Bool(false)) {
                map.remove("nullable");
            }
            Value::Object(map)
        }
        other => other,
    }
}

/// What the engine renders for a value of an earlier step or a loop item when sampling
/// requests (`render::Sample`): its real type is unknown, so schema errors about it are not
/// the spec's (synthesised arguments never use this exact string).
const STAND_IN: &str = "sample";

fn contains_stand_in(value: &Value) -> bool {
    match value {
        Value::String(s) => s == STAND_IN,
        Value::Array(items) => items.iter().any(contains_stand_in),
        Value::Object(map) => map.values().any(contains_stand_in),
        _ => false,
    }
}

/// Whether a schema error is about a stand-in: the value at the error is one, or the error
/// is a failed `anyOf`/`oneOf` over a value that contains one.
fn from_stand_in(instance: &Value, instance_path: &str, schema_path: &str) -> bool {
    let Some(at) = instance.pointer(instance_path) else {
        return false;
    };
    let combinator = schema_path.ends_with("/anyOf") || schema_path.ends_with("/oneOf");
    at.as_str() == Some(STAND_IN) || (combinator && contains_stand_in(at))
}

impl Description {
    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        if let Some(v) = self.validators.lock().expect("lock").get(key) {
            return Ok(v.clone());
        }
        let document = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [to_json_schema(schema.clone())],
            "components": self.components,
        });
        let validator = jsonschema::options()
            .build(&document)
            .map(Arc::new)
            .map_err(|e| format!("the description's schema for {key} does not compile: {e}"))?;
        self.validators
            .lock()
            .expect("lock")
            .insert(key.to_owned(), validator.clone());
        Ok(validator)
    }

    fn validate(&self, key: &str, schema: &Value, instance: &Value) -> Vec<String> {
        match self.validator(key, schema) {
            Err(e) => vec![e],
            Ok(v) => v
                .iter_errors(instance)
                .filter(|e| {
                    !from_stand_in(
                        instance,
                        &e.instance_path().to_string(),
                        &e.schema_path().to_string(),
                    )
                })
                .map(|e| {
                    let at = e.instance_path().to_string();
                    if at.is_empty() {
                        e.to_string()
                    } else {
                        format!("at {at}: {e}")
                    }
                })
                .collect(),
        }
    }

    /// Follows a local `$ref` (`#/components/...`) in the (overlaid) description.
    fn deref<'a>(&'a self, node: &'a Value) -> &'a Value {
        let mut node = node;
        for _ in 0..8 {
            match node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
            {
                Some(pointer) => match self.spec.pointer(pointer) {
                    Some(found) => node = found,
                    None => return node,
                },
                None => return node,
            }
        }
        node
    }

    /// The JSON type a (converted) schema describes, looking through `$ref` and combinators.
    fn type_of(&self, schema: &Value, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match schema.get("type") {
            Some(Value::String(t)) => return Some(t.clone()),
            Some(Value::Array(types)) => {
                return types
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                    .map(str::to_owned);
            }
            _ => {}
        }
        if let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            return self.type_of(&self.components["schemas"][name], depth + 1);
        }
        for combinator in ["allOf", "anyOf", "oneOf"] {
            for branch in schema
                .get(combinator)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = self.type_of(branch, depth + 1).filter(|t| t != "null") {
                    return Some(t);
                }
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Checking one rendered request against one description.
// ---------------------------------------------------------------------------------------------

struct Resolved<'d> {
    template: &'d str,
    operation: &'d Value,
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn content_type_of(body: &RenderedBody) -> Option<String> {
    match body {
        RenderedBody::None => None,
        RenderedBody::Json(_) => Some("application/json".into()),
        RenderedBody::Text { content_type, .. } => Some(
            content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
        ),
        RenderedBody::Multipart(_) => Some("multipart/form-data".into()),
    }
}

fn full_path(req: &RenderedRequest) -> String {
    match req.scope {
        Scope::Tenant => format!("/api/v1/{TENANT}{}", req.path),
        Scope::Instance => format!("/api/v1{}", req.path),
    }
}

/// Resolves the request like Micronaut: path templates that match and have the method (and
/// consume the body's content type, when one does), most specific first.
fn resolve<'d>(
    desc: &'d Description,
    method: &str,
    path: &str,
    content_type: Option<&str>,
) -> Result<Resolved<'d>, String> {
    let segments: Vec<String> = path.trim_start_matches('/').split('/').map(decode).collect();
    let mut matching: Vec<&PathItem> = desc.paths.iter().filter(|p| p.matches(&segments)).collect();
    matching.sort_by(|a, b| {
        a.variables
            .cmp(&b.variables)
            .then(b.literal_chars.cmp(&a.literal_chars))
    });
    if matching.is_empty() {
        return Err(format!("no path template of the description matches {path}"));
    }
    let op_of = |item: &PathItem| {
        desc.spec["paths"][&item.template]
            .get(method)
            .filter(|o| o.is_object())
    };
    let with_method: Vec<&PathItem> = matching.iter().copied().filter(|p| op_of(p).is_some()).collect();
    if with_method.is_empty() {
        let allowed: Vec<String> = matching
            .iter()
            .map(|p| {
                let methods: Vec<&str> = METHODS
                    .iter()
                    .copied()
                    .filter(|m| desc.spec["paths"][&p.template].get(*m).is_some())
                    .collect();
                format!("{} allows {}", p.template, methods.join("/").to_uppercase())
            })
            .collect();
        return Err(format!(
            "no {} operation for {path} ({})",
            method.to_uppercase(),
            allowed.join("; ")
        ));
    }
    let consuming: Vec<&PathItem> = match content_type {
        Some(ct) => with_method
            .iter()
            .copied()
            .filter(|p| op_of(p).is_some_and(|o| o["requestBody"]["content"].get(ct).is_some()))
            .collect(),
        None => vec![],
    };
    let chosen = consuming
        .first()
        .or(with_method.first())
        .copied()
        .expect("a candidate");
    Ok(Resolved {
        template: &chosen.template,
        operation: op_of(chosen).expect("operation"),
    })
}

/// Every way `req` (rendered from `template`) breaks the description; empty when it fits.
fn check_request(desc: &Description, template: &RequestTemplate, req: &RenderedRequest) -> Vec<String> {
    let method = req.method.as_str().to_ascii_lowercase();
    let path = full_path(req);
    let shown = format!("{} {path}", req.method.as_str());
    let content_type = content_type_of(&req.body);
    let resolved = match resolve(desc, &method, &path, content_type.as_deref()) {
        Ok(r) => r,
        Err(e) => return vec![format!("{shown}: {e}")],
    };
    let mut problems = Vec::new();
    let op = resolved.operation;
    let op_id = op["operationId"].as_str().unwrap_or("<no operationId>");
    let route = format!("{op_id} ({} {})", req.method.as_str(), resolved.template);
    if template.operations.is_empty() {
        problems.push(format!(
            "{shown} resolves to {route}, but the request declares no `operation` (every request must name the operationId it calls)"
        ));
    } else if !template.operations.iter().any(|o| o == op_id) {
        let most_specific = desc
            .paths
            .iter()
            .filter(|p| {
                p.matches(
                    &path
                        .trim_start_matches('/')
                        .split('/')
                        .map(decode)
                        .collect::<Vec<_>>(),
                )
            })
            .min_by(|a, b| {
                a.variables
                    .cmp(&b.variables)
                    .then(b.literal_chars.cmp(&a.literal_chars))
            })
            .map(|p| p.template.clone())
            .unwrap_or_default();
        let note = if most_specific != resolved.template {
            format!(
                "; the most specific template {most_specific} has no {}",
                req.method.as_str()
            )
        } else {
            String::new()
        };
        problems.push(format!(
            "{shown} resolves to {route}, not to the declared operation {}{note}",
            template.operations.join(" / ")
        ));
        // The rest would be checked against the wrong operation.
        return problems;
    }
    problems.extend(
        check_query(desc, &resolved, req)
            .into_iter()
            .map(|p| format!("{shown} → {op_id}: {p}")),
    );
    problems.extend(
        check_body(desc, &resolved, req)
            .into_iter()
            .map(|p| format!("{shown} → {op_id}: {p}")),
    );
    problems
}

fn parameters<'d>(desc: &'d Description, resolved: &Resolved<'d>) -> Vec<&'d Value> {
    let item_level = desc.spec["paths"][resolved.template]["parameters"]
        .as_array()
        .into_iter()
        .flatten();
    let op_level = resolved.operation["parameters"].as_array().into_iter().flatten();
    item_level.chain(op_level).map(|p| desc.deref(p)).collect()
}

fn check_query(desc: &Description, resolved: &Resolved<'_>, req: &RenderedRequest) -> Vec<String> {
    let mut problems = Vec::new();
    let params: Vec<&Value> = parameters(desc, resolved)
        .into_iter()
        .filter(|p| p["in"] == "query")
        .collect();
    let by_name: BTreeMap<&str, &Value> = params
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, *p)))
        .collect();
    let mut sent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in &req.query {
        sent.entry(name.as_str()).or_default().push(value.as_str());
    }
    for (name, param) in &by_name {
        if param["required"] == true && !sent.contains_key(name) {
            problems.push(format!("required query parameter '{name}' is missing"));
        }
    }
    for (name, values) in &sent {
        if let Some(param) = by_name.get(name) {
            problems.extend(check_query_value(desc, resolved, name, param, values));
            continue;
        }
        // PHP-style nested keys (`filters[namespace][EQUALS]=x`, `sort[...]`) belong to the
        // parameter named by their stem when the operation has one.
        let stem = name.split('[').next().unwrap_or_default();
        let nested = name.contains('[') && name.ends_with(']') && by_name.contains_key(stem);
        if !nested {
            let known: Vec<&str> = by_name.keys().copied().collect();
            problems.push(format!(
                "unknown query parameter '{name}' (the operation takes: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    problems
}

/// A query value as the JSON value of the parameter's type (so a validator can check it).
fn typed(desc: &Description, schema: &Value, text: &str) -> Value {
    match desc.type_of(schema, 0).as_deref() {
        Some("integer") => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(text)),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| json!(text)),
        Some("boolean") => match text {
            "true" => json!(true),
            "false" => json!(false),
            _ => json!(text),
        },
        _ => json!(text),
    }
}

fn check_query_value(
    desc: &Description,
    resolved: &Resolved<'_>,
    name: &str,
    param: &Value,
    values: &[&str],
) -> Vec<String> {
    let schema = to_json_schema(param["schema"].clone());
    let key = format!(
        "query {} {} {name}",
        resolved.template, resolved.operation["operationId"]
    );
    let instance = match desc.type_of(&schema, 0).as_deref() {
        Some("array") => {
            let items = desc
                .deref(&param["schema"])
                .get("items")
                .cloned()
                .unwrap_or(json!({}));
            let items = to_json_schema(items);
            // `explode: false` arrays may also come as one comma-separated value.
            let explode = param.get("explode").and_then(Value::as_bool).unwrap_or(true);
            let parts: Vec<&str> = if explode || values.len() > 1 {
                values.to_vec()
            } else {
                values.iter().flat_map(|v| v.split(',')).collect()
            };
            Value::Array(parts.iter().map(|v| typed(desc, &items, v)).collect())
        }
        _ => {
            if values.len() > 1 {
                return vec![format!(
                    "query parameter '{name}' is repeated but takes one value"
                )];
            }
            typed(desc, &schema, values[0])
        }
    };
    desc.validate(&key, &param["schema"], &instance)
        .into_iter()
        .map(|e| format!("query parameter '{name}'={}: {e}", values.join(",")))
        .collect()
}

fn check_body(desc: &Description, resolved: &Resolved<'_>, req: &RenderedRequest) -> Vec<String> {
    let body = desc.deref(&resolved.operation["requestBody"]);
    let declared: Vec<&str> = body["content"]
        .as_object()
        .map(|c| c.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let Some(content_type) = content_type_of(&req.body) else {
        return match body["required"] == true {
            true => vec![format!(
                "the operation requires a request body ({}) but none is sent",
                declared.join(", ")
            )],
            false => vec![],
        };
    };
    if declared.is_empty() {
        return vec![format!(
            "sends a {content_type} body but the operation declares no request body"
        )];
    }
    if !declared.contains(&content_type.as_str()) {
        return vec![format!(
            "body content type {content_type} is not declared (the operation takes {})",
            declared.join(", ")
        )];
    }
    let Some(schema) = body["content"][&content_type].get("schema") else {
        return vec![];
    };
    let instance = match &req.body {
        RenderedBody::None => return vec![],
        RenderedBody::Json(value) => value.clone(),
        RenderedBody::Text { text, .. } if content_type.ends_with("json") => match serde_json::from_str(text)
        {
            Ok(v) => v,
            Err(e) => return vec![format!("the {content_type} body is not JSON: {e}")],
        },
        RenderedBody::Text { text, .. } => Value::String(text.clone()),
        RenderedBody::Multipart(parts) => {
            let mut fields = Map::new();
            for part in parts {
                let value = Value::String(part.value.clone());
                match fields.get_mut(&part.name) {
                    Some(Value::Array(list)) => list.push(value),
                    Some(first) => *first = json!([first.clone(), value]),
                    None => {
                        fields.insert(part.name.clone(), value);
                    }
                }
            }
            Value::Object(fields)
        }
    };
    let key = format!(
        "body {} {} {content_type}",
        resolved.template, resolved.operation["operationId"]
    );
    desc.validate(&key, schema, &instance)
        .into_iter()
        .map(|e| format!("{content_type} body does not fit the schema: {e}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Arguments synthesised from a tool's input schema.
// ---------------------------------------------------------------------------------------------

/// Which values to synthesise.
#[derive(Clone, Copy, PartialEq)]
enum Fill {
    /// Non-null defaults where the schema gives them.
    Defaults,
    /// Synthesised values, ignoring defaults (booleans `true`).
    Values,
    /// Synthesised values, booleans `false`.
    ValuesFalse,
}

const STRING_CANDIDATES: &[&str] = &[
    "sample-x",
    "sample_x",
    "company.team",
    "key:value",
    "Sample",
    "SAMPLE",
    "x",
    "1",
    "2024-01-01T00:00:00Z",
    "2024-01-01",
    "PT1H",
    "0 * * * *",
    "sample@example.com",
    "https://example.com/sample",
    "/sample.txt",
    "00000000-0000-0000-0000-000000000000",
];

fn resolve_local<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut node = schema;
    for _ in 0..8 {
        match node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(pointer) => match root.pointer(pointer) {
                Some(found) => node = found,
                None => break,
            },
            None => break,
        }
    }
    node
}

fn first_type(schema: &Value) -> Option<String> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(str::to_owned),
        _ => None,
    }
}

fn date_ish(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("date") || n.ends_with("_at") || ["start", "end", "since", "until"].contains(&n.as_str())
}

fn sample_string(name: &str, schema: &Value) -> Value {
    let mut candidates: Vec<String> = Vec::new();
    match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => candidates.push("2024-01-01T00:00:00Z".into()),
        Some("date") => candidates.push("2024-01-01".into()),
        Some("duration") => candidates.push("PT1H".into()),
        Some("email") => candidates.push("sample@example.com".into()),
        Some("uri" | "url") => candidates.push("https://example.com/sample".into()),
        Some("uuid") => candidates.push("00000000-0000-0000-0000-000000000000".into()),
        _ => {}
    }
    if date_ish(name) {
        candidates.push("2024-01-01T00:00:00Z".into());
    }
    candidates.extend(STRING_CANDIDATES.iter().map(|s| s.to_string()));
    // Check candidates against the string keywords of the schema.
    let mut check = Map::new();
    check.insert("type".into(), json!("string"));
    for k in ["pattern", "minLength", "maxLength", "not", "enum", "const"] {
        if let Some(v) = schema.get(k) {
            check.insert(k.into(), v.clone());
        }
    }
    let fits = jsonschema::validator_for(&Value::Object(check)).ok();
    let chosen = candidates
        .iter()
        .find(|c| fits.as_ref().is_none_or(|v| v.is_valid(&json!(c))))
        .cloned()
        .unwrap_or_else(|| "sample-x".into());
    Value::String(chosen)
}

fn number_from(schema: &Value, integer: bool) -> Value {
    let mut n = match (
        schema.get("minimum").and_then(Value::as_f64),
        schema.get("exclusiveMinimum").and_then(Value::as_f64),
    ) {
        (Some(min), _) => min,
        (None, Some(ex)) => ex + 1.0,
        _ => 1.0,
    };
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        n = max;
    }
    if integer { json!(n as i64) } else { json!(n) }
}

/// A value valid for `schema` (resolving `$ref` against the input schema `root`).
fn sample_value(name: &str, schema: &Value, root: &Value, fill: Fill, depth: usize) -> Value {
    let schema = resolve_local(root, schema);
    if depth > 6 {
        return Value::Null;
    }
    if fill == Fill::Defaults
        && let Some(default) = schema.get("default").filter(|d| !d.is_null())
    {
        return default.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.iter().find(|v| !v.is_null()))
    {
        return first.clone();
    }
    for combinator in ["anyOf", "oneOf"] {
        if let Some(branch) = schema
            .get(combinator)
            .and_then(Value::as_array)
            .and_then(|branches| {
                branches.iter().find(|b| {
                    first_type(resolve_local(root, b)).is_some_and(|t| t != "null") || b.get("enum").is_some()
                })
            })
        {
            return sample_value(name, branch, root, fill, depth + 1);
        }
    }
    if let Some(branch) = schema
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|b| b.first())
        && first_type(schema).is_none()
    {
        return sample_value(name, branch, root, fill, depth + 1);
    }
    match first_type(schema).as_deref() {
        Some("boolean") => json!(fill != Fill::ValuesFalse),
        Some("integer") => number_from(schema, true),
        Some("number") => number_from(schema, false),
        Some("array") => {
            let items = schema.get("items").cloned().unwrap_or(json!({"type": "string"}));
            let count = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
            Value::Array(
                (0..count)
                    .map(|_| sample_value(name, &items, root, fill, depth + 1))
                    .collect(),
            )
        }
        Some("object") => {
            let mut out = Map::new();
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, s) in props.into_iter().flatten() {
                out.insert(k.clone(), sample_value(k, s, root, fill, depth + 1));
            }
            if out.is_empty() {
                match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {}
                    Some(s @ Value::Object(_)) => {
                        out.insert(
                            "sample_key".into(),
                            sample_value("sample_key", s, root, fill, depth + 1),
                        );
                    }
                    _ => {
                        out.insert("sample_key".into(), json!("sample-x"));
                    }
                }
            }
            Value::Object(out)
        }
        _ => sample_string(name, schema),
    }
}

/// Argument sets for one variant (`None`: a single-action tool), named.
fn argument_sets(
    tool: &CompiledTool,
    variant: Option<(&str, &str)>,
    action: &Action,
) -> Vec<(String, Map<String, Value>)> {
    let schema = Value::Object(tool.tool.input_schema.as_ref().clone());
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut required: BTreeSet<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    required.extend(action.requires.iter().cloned());
    let build = |fill: Fill, all: bool| -> Map<String, Value> {
        let mut args = Map::new();
        for (name, s) in &props {
            if all || required.contains(name) {
                args.insert(name.clone(), sample_value(name, s, &schema, fill, 0));
            }
        }
        if let Some((argument, value)) = variant {
            args.insert(argument.to_owned(), json!(value));
        }
        args
    };
    // Optional arguments whose schema accepts null, given as an explicit null.
    let mut nulls = build(Fill::Defaults, false);
    for (name, s) in &props {
        let accepts_null = jsonschema::validator_for(s).is_ok_and(|v| v.is_valid(&Value::Null));
        if !nulls.contains_key(name) && accepts_null {
            nulls.insert(name.clone(), Value::Null);
        }
    }
    let mut sets: Vec<(String, Map<String, Value>)> = Vec::new();
    for (label, args) in [
        ("required only", build(Fill::Defaults, false)),
        ("optionals null", nulls),
        ("all set, defaults", build(Fill::Defaults, true)),
        ("all set, values", build(Fill::Values, true)),
        ("all set, booleans false", build(Fill::ValuesFalse, true)),
    ] {
        if !sets.iter().any(|(_, a)| *a == args) {
            sets.push((label.to_owned(), args));
        }
    }
    sets
}

// ---------------------------------------------------------------------------------------------
// The whole check.
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Report {
    tools: usize,
    variants: usize,
    argument_sets: usize,
    /// Rendered requests checked, per known version.
    checked: BTreeMap<String, usize>,
    /// `tool[variant] version label: reason` → argument sets it happened with.
    violations: BTreeMap<String, BTreeSet<String>>,
    notes: BTreeSet<String>,
}

impl Report {
    fn violation(&mut self, what: String, args: &str) {
        self.violations.entry(what).or_default().insert(args.to_owned());
    }

    fn lines(&self) -> Vec<String> {
        self.violations
            .iter()
            .map(|(what, sets)| {
                let sets: Vec<&str> = sets.iter().map(String::as_str).filter(|s| *s != "-").collect();
                match sets.is_empty() {
                    true => what.clone(),
                    false => format!("{what}  [args: {}]", sets.join("; ")),
                }
            })
            .collect()
    }

    fn summary(&self) -> String {
        let per_version: Vec<String> = self.checked.iter().map(|(v, n)| format!("{v}: {n}")).collect();
        format!(
            "contract: {} tools, {} variants, {} argument sets; rendered requests checked per Kestra version: {}; {} violation(s)",
            self.tools,
            self.variants,
            self.argument_sets,
            per_version.join(", "),
            self.violations.len()
        )
    }
}

/// The engine for the specs `options` name, and the specs that did not load (each one a
/// violation: a tool that does not load cannot be checked).
fn engine_for(options: &LoadOptions) -> (Engine, Vec<String>) {
    let options = LoadOptions {
        skip_invalid: true,
        ..options.clone()
    };
    let catalog = load_catalog(&options).unwrap_or_else(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("the tool specs do not load:\n  {}", list.join("\n  "))
    });
    let broken = catalog
        .warnings
        .iter()
        .filter_map(|w| w.strip_prefix("skipped: "))
        .map(|w| format!("{w} (the spec does not load, so none of its requests can be checked)"))
        .collect();
    let filtered = kestra_mcp::filter::apply_disabled(catalog.tools, &[]);
    let config = Config::from_lookup(|k| match k {
        "KESTRA_BASE_URL" => Some("http://127.0.0.1:9".to_owned()),
        "KESTRA_TENANT_ID" => Some(TENANT.to_owned()),
        _ => None,
    })
    .expect("config");
    (
        Engine::new(filtered, catalog.templates, &config).expect("engine"),
        broken,
    )
}

fn check_engine(engine: &Engine) -> Report {
    let descs = descriptions();
    let mut report = Report::default();
    for tool in engine.tools() {
        report.tools += 1;
        let name = tool.tool.name.to_string();
        let variants: Vec<(Option<(&str, &str)>, &Action)> = match &tool.dispatch {
            Dispatch::Single(action) => vec![(None, action.as_ref())],
            Dispatch::ByArgument { argument, actions } => actions
                .iter()
                .map(|(k, a)| (Some((argument.as_str(), k.as_str())), a))
                .collect(),
        };
        for (variant, action) in variants {
            report.variants += 1;
            let who = match variant {
                Some((_, v)) => format!("{name}[{v}]"),
                None => name.clone(),
            };
            let templates: BTreeMap<String, (&RequestTemplate, Option<&semver::VersionReq>)> = action
                .requests()
                .into_iter()
                .map(|(label, r)| (label, (&r.template, r.kestra.as_ref())))
                .collect();
            for (label, (_, req)) in &templates {
                let fits_any = KNOWN_KESTRA_VERSIONS
                    .iter()
                    .any(|v| req.is_none_or(|r| r.matches(&semver::Version::parse(v).expect("version"))));
                if !fits_any {
                    report.violation(
                        format!(
                            "{who} {label}: `kestra: {}` fits none of the described Kestra versions ({}), so the request cannot be checked",
                            req.map(ToString::to_string).unwrap_or_default(),
                            KNOWN_KESTRA_VERSIONS.join(", ")
                        ),
                        "-",
                    );
                }
            }
            let sets = argument_sets(tool, variant, action);
            report.argument_sets += sets.len();
            for (version_text, desc) in descs {
                let version = semver::Version::parse(version_text).expect("version");
                // Requests rendered by at least one argument set, and why other sets rendered nothing.
                let mut rendered_labels: BTreeSet<String> = BTreeSet::new();
                let mut render_errors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
                for (set_name, args) in &sets {
                    let rendered = match engine.sample_requests(&name, args.clone(), &version) {
                        Ok(rendered) => rendered,
                        Err(e @ CallError::InvalidArguments(_)) => {
                            report.violation(
                                format!(
                                    "{who} {version_text}: the arguments synthesised from the input schema {} are refused: {e}",
                                    Value::Object(args.clone())
                                ),
                                set_name,
                            );
                            continue;
                        }
                        // Requests are sampled whatever their step's `when` says, so a request
                        // guarded against absent arguments may not render with this set; that is
                        // a problem only if no set renders it (checked below).
                        Err(e) => {
                            render_errors
                                .entry(e.to_string())
                                .or_default()
                                .insert(set_name.clone());
                            continue;
                        }
                    };
                    for (label, req) in rendered {
                        *report.checked.entry(version_text.clone()).or_default() += 1;
                        rendered_labels.insert(label.clone());
                        let Some((template, _)) = templates.get(&label) else {
                            report.violation(
                                format!("{who} {version_text} {label}: rendered a request the action does not list"),
                                set_name,
                            );
                            continue;
                        };
                        for problem in check_request(desc, template, &req) {
                            report.violation(format!("{who} {version_text} {label}: {problem}"), set_name);
                        }
                    }
                }
                let fitting: Vec<&String> = templates
                    .iter()
                    .filter(|(_, (_, req))| req.is_none_or(|r| r.matches(&version)))
                    .map(|(label, _)| label)
                    .collect();
                if fitting.is_empty() && !templates.is_empty() {
                    report
                        .notes
                        .insert(format!("{who} sends no request to Kestra {version_text}"));
                }
                for label in fitting {
                    if !rendered_labels.contains(label) {
                        let why: Vec<String> = render_errors
                            .iter()
                            .map(|(e, sets)| {
                                format!(
                                    "{e} (args: {})",
                                    sets.iter().cloned().collect::<Vec<_>>().join("; ")
                                )
                            })
                            .collect();
                        report.violation(
                            format!(
                                "{who} {version_text} {label}: no synthesised argument set renders this request, so it is not checked: {}",
                                if why.is_empty() { "no set was accepted".to_owned() } else { why.join(" | ") }
                            ),
                            "-",
                        );
                    }
                }
            }
        }
    }
    report
}

fn check_dir(dir: &Path) -> Report {
    let (engine, broken) = engine_for(&LoadOptions {
        tools_dir: Some(dir.to_path_buf()),
        no_builtin: true,
        ..LoadOptions::default()
    });
    let mut report = check_engine(&engine);
    for problem in broken {
        report.violation(problem, "-");
    }
    report
}

/// Checks specs written to a temporary tools directory.
fn check_specs(specs: &[(&str, &str)]) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in specs {
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).expect("write spec");
    }
    check_dir(dir.path())
}

#[test]
fn every_tool_request_fits_the_openapi_description_of_each_version_it_claims() {
    // The directory, read now, rather than the copy compiled into the binary: whatever
    // tools.d/ contains when the test runs is checked.
    let report = check_dir(&root().join("tools.d"));
    for desc in descriptions().values() {
        eprintln!(
            "contract: Kestra {} ← {} + overlay ({})",
            desc.version,
            desc.file,
            desc.overlay.join("; ")
        );
    }
    for note in &report.notes {
        eprintln!("contract: note: {note}");
    }
    eprintln!("{}", report.summary());
    assert!(report.tools > 0, "no tools found in tools.d/");
    for known in KNOWN_KESTRA_VERSIONS {
        assert!(
            report.checked.get(*known).copied().unwrap_or(0) > 0,
            "no request was checked for Kestra {known}"
        );
    }
    let lines = report.lines();
    assert!(
        lines.is_empty(),
        "{} contract violation(s):\n  {}\n{}",
        lines.len(),
        lines.join("\n  "),
        report.summary()
    );
}

// ---------------------------------------------------------------------------------------------
// The checker catches what it should.
// ---------------------------------------------------------------------------------------------

fn tool(name: &str, input: &str, request: &str) -> String {
    format!("name: {name}\ngroup: execution\ndescription: A test tool.\ninput:\n{input}\n{request}")
}

const EXECUTION_ID_INPUT: &str =
    "  type: object\n  properties:\n    execution_id: {type: string}\n  required: [execution_id]";

fn assert_reported(report: &Report, needles: &[&str]) {
    let lines = report.lines();
    assert!(
        lines.iter().any(|l| needles.iter().all(|n| l.contains(n))),
        "expected a violation containing {needles:?}, got:\n  {}",
        lines.join("\n  ")
    );
}

#[test]
fn a_1x_action_path_claimed_for_2_0_is_reported_as_landing_on_create_execution() {
    let spec = tool(
        "pause_old_style",
        EXECUTION_ID_INPUT,
        "request:\n  kestra: \">=2.0\"\n  operation: pauseExecution\n  method: POST\n  path: /executions/{{ execution_id }}/pause\n",
    );
    let report = check_specs(&[("pause_old_style", &spec)]);
    assert_reported(
        &report,
        &[
            "pause_old_style 2.0.0",
            "resolves to createExecution",
            "pauseExecution",
        ],
    );
    assert_eq!(
        report.checked.get("1.3.0"),
        None,
        "a >=2.0 request is not checked against 1.3"
    );

    // The same path is right on 1.3, and the 2.0 path is right on 2.0.
    let spec = tool(
        "pause_versioned",
        EXECUTION_ID_INPUT,
        "requests:\n  - kestra: \"<2.0\"\n    operation: pauseExecution\n    method: POST\n    path: /executions/{{ execution_id }}/pause\n  - kestra: \">=2.0\"\n    operation: pauseExecution\n    method: POST\n    path: /executions/{{ execution_id }}/actions/pause\n",
    );
    let report = check_specs(&[("pause_versioned", &spec)]);
    assert!(report.violations.is_empty(), "{}", report.lines().join("\n"));
    assert_eq!(report.checked.get("1.3.0"), Some(&1));
    assert_eq!(report.checked.get("2.0.0"), Some(&1));
}

#[test]
fn a_request_without_a_declared_operation_or_with_an_unknown_path_is_reported() {
    let no_op = tool(
        "get_exec",
        EXECUTION_ID_INPUT,
        "request:\n  method: GET\n  path: /executions/{{ execution_id }}\n",
    );
    let nowhere = tool(
        "nowhere",
        EXECUTION_ID_INPUT,
        "request:\n  operation: nothing\n  method: GET\n  path: /no/such/{{ execution_id }}/thing\n",
    );
    let wrong_method = tool(
        "patch_flows",
        EXECUTION_ID_INPUT,
        "request:\n  operation: searchFlows\n  method: PATCH\n  path: /flows/search\n",
    );
    let report = check_specs(&[
        ("get_exec", &no_op),
        ("nowhere", &nowhere),
        ("patch_flows", &wrong_method),
    ]);
    assert_reported(
        &report,
        &[
            "get_exec 1.3.0",
            "resolves to execution (GET",
            "declares no `operation`",
        ],
    );
    assert_reported(&report, &["get_exec 2.0.0", "declares no `operation`"]);
    assert_reported(&report, &["nowhere 1.3.0", "no path template"]);
    assert_reported(
        &report,
        &["patch_flows 2.0.0", "no PATCH operation", "allows GET"],
    );
}

#[test]
fn a_missing_required_query_parameter_or_an_unknown_one_is_reported() {
    let input = "  type: object\n  properties:\n    namespace: {type: string}\n  required: [namespace]";
    let missing = tool(
        "read_file",
        input,
        "request:\n  operation: [fileContent, getFileContent]\n  method: GET\n  path: /namespaces/{{ namespace }}/files\n",
    );
    let unknown = tool(
        "read_file_typo",
        input,
        "request:\n  operation: [fileContent, getFileContent]\n  method: GET\n  path: /namespaces/{{ namespace }}/files\n  query:\n    path: /a.txt\n    pathh: /a.txt\n",
    );
    let bad_value = tool(
        "search_page_zero",
        input,
        "request:\n  operation: searchFlows\n  method: GET\n  path: /flows/search\n  query:\n    page: \"0\"\n    \"filters[namespace][EQUALS]\": \"{{ namespace }}\"\n",
    );
    let report = check_specs(&[
        ("read_file", &missing),
        ("read_file_typo", &unknown),
        ("search_page_zero", &bad_value),
    ]);
    for version in ["1.3.0", "2.0.0"] {
        assert_reported(
            &report,
            &[
                &format!("read_file {version}"),
                "required query parameter 'path' is missing",
            ],
        );
        assert_reported(
            &report,
            &[
                &format!("read_file_typo {version}"),
                "unknown query parameter 'pathh'",
            ],
        );
        assert_reported(
            &report,
            &[&format!("search_page_zero {version}"), "query parameter 'page'=0"],
        );
    }
    // PHP-style filters keys are the `filters` parameter; nothing else is wrong with them.
    assert!(
        !report.lines().iter().any(|l| l.contains("filters[")),
        "{}",
        report.lines().join("\n")
    );
}

#[test]
fn a_wrong_content_type_a_missing_body_or_a_body_off_schema_is_reported() {
    let input = "  type: object\n  properties:\n    yaml: {type: string}\n  required: [yaml]";
    let wrong_type = tool(
        "create_flow_text",
        input,
        "request:\n  operation: createFlow\n  method: POST\n  path: /flows\n  body:\n    text: \"{{ yaml }}\"\n    content_type: text/plain\n",
    );
    let no_body = tool(
        "create_flow_empty",
        input,
        "request:\n  operation: createFlow\n  method: POST\n  path: /flows\n",
    );
    let off_schema = tool(
        "enable_flows_object",
        input,
        "request:\n  operation: enableFlowsByIds\n  method: POST\n  path: /flows/enable/by-ids\n  body:\n    json: {namespace: \"{{ yaml }}\", id: x}\n",
    );
    let off_schema_item = tool(
        "enable_flows_number",
        input,
        "request:\n  operation: enableFlowsByIds\n  method: POST\n  path: /flows/enable/by-ids\n  body:\n    json: [{namespace: 3, id: x}]\n",
    );
    let good = tool(
        "enable_flows",
        input,
        "request:\n  operation: enableFlowsByIds\n  method: POST\n  path: /flows/enable/by-ids\n  body:\n    json: [{namespace: \"{{ yaml }}\", id: x}]\n",
    );
    let report = check_specs(&[
        ("create_flow_text", &wrong_type),
        ("create_flow_empty", &no_body),
        ("enable_flows_object", &off_schema),
        ("enable_flows_number", &off_schema_item),
        ("enable_flows", &good),
    ]);
    for version in ["1.3.0", "2.0.0"] {
        assert_reported(
            &report,
            &[
                &format!("create_flow_text {version}"),
                "text/plain is not declared",
                "application/x-yaml",
            ],
        );
        assert_reported(
            &report,
            &[&format!("create_flow_empty {version}"), "requires a request body"],
        );
        assert_reported(
            &report,
            &[
                &format!("enable_flows_object {version}"),
                "does not fit the schema",
            ],
        );
        assert_reported(
            &report,
            &[
                &format!("enable_flows_number {version}"),
                "does not fit the schema",
                "/0/namespace",
            ],
        );
    }
    assert!(
        !report.lines().iter().any(|l| l.contains("enable_flows ")),
        "{}",
        report.lines().join("\n")
    );
}

#[test]
fn arguments_the_tool_refuses_are_a_failure_not_a_skip() {
    // `maximum` below `minimum`: no integer fits, so the synthesised one is refused.
    let input = "  type: object\n  properties:\n    size: {type: integer, minimum: 5, maximum: 3}\n  required: [size]";
    let spec = tool(
        "impossible",
        input,
        "request:\n  operation: searchFlows\n  method: GET\n  path: /flows/search\n  query:\n    size: \"{{ size }}\"\n",
    );
    let report = check_specs(&[("impossible", &spec)]);
    assert_reported(&report, &["impossible", "are refused", "invalid arguments"]);
}

#[test]
fn the_overlay_relaxes_only_what_it_names() {
    let descs = descriptions();
    let v13 = &descs["1.3.0"];
    let v20 = &descs["2.0.0"];
    // logs-follow-exists-in-1.3
    assert!(v13.spec["paths"]["/api/v1/{tenant}/logs/{executionId}/follow"]["get"].is_object());
    // paging-and-flag-params-have-defaults: searchFlows page not required on 1.3.
    let search = &v13.spec["paths"]["/api/v1/{tenant}/flows/search"]["get"]["parameters"];
    let page = search
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page")
        .unwrap();
    assert_eq!(page["required"], json!(false));
    // ... while a parameter it does not name stays required.
    let files = &v20.spec["paths"]["/api/v1/{tenant}/namespaces/{namespace}/files"]["get"]["parameters"];
    let path = files
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "path")
        .unwrap();
    assert_eq!(path["required"], json!(true));
}
