//! Flows: created from YAML, revisions, enable/disable, delete, search, dependencies.
//! Modelled on webserver/.../controllers/api/FlowController.java and the recorded 0.23 pairs
//! in flows.json / errors.json.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::KestraVersion;
use crate::http::{Req, climbing, empty, json_response, ok_json, paged, paginate};
use crate::state::Tenant;

#[derive(Debug, Clone)]
pub struct FlowRev {
    pub revision: u32,
    pub source: String,
    /// The YAML parsed to JSON (what Kestra's `GenericFlow` holds).
    pub def: Map<String, Value>,
    pub disabled: bool,
    pub deleted: bool,
    /// Created through the deprecated JSON route: rendered without `source`.
    pub from_json: bool,
    /// When this revision was saved (rendered as `updated` on 1.3).
    pub updated: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct FlowEntry {
    pub revisions: Vec<FlowRev>,
}

impl FlowEntry {
    pub fn latest(&self) -> Option<&FlowRev> {
        self.revisions.last()
    }
    /// The current, non-deleted revision.
    pub fn live(&self) -> Option<&FlowRev> {
        self.latest().filter(|r| !r.deleted)
    }
    pub fn next_revision(&self) -> u32 {
        self.latest().map(|r| r.revision + 1).unwrap_or(1)
    }
}

/// Task types under `io.kestra.plugin.core.` that the simulator knows; any other core type is
/// refused like an unknown plugin (recorded pair errors/flow-create-unknown-task-type). Types
/// outside the core namespace are accepted as installed plugins. GUESS: a real server knows
/// exactly the plugins installed; this list is the core subset plus common ones.
const CORE_TYPES: &[&str] = &[
    "log.Log",
    "log.Fetch",
    "log.PurgeLogs",
    "debug.Return",
    "debug.Echo",
    "output.OutputValues",
    "flow.Pause",
    "flow.Sleep",
    "flow.Subflow",
    "flow.Parallel",
    "flow.Sequential",
    "flow.If",
    "flow.Switch",
    "flow.ForEach",
    "flow.ForEachItem",
    "flow.EachSequential",
    "flow.EachParallel",
    "flow.AllowFailure",
    "flow.Dag",
    "flow.WorkingDirectory",
    "flow.Template",
    "flow.LoopUntil",
    "execution.Fail",
    "execution.Exit",
    "execution.Labels",
    "execution.Count",
    "execution.PurgeExecutions",
    "execution.Resume",
    "execution.SetVariables",
    "http.Request",
    "http.Download",
    "kv.Set",
    "kv.Get",
    "kv.Delete",
    "kv.GetKeys",
    "namespace.UploadFiles",
    "namespace.DownloadFiles",
    "namespace.DeleteFiles",
    "storage.Write",
    "storage.Delete",
    "storage.Concat",
    "storage.Split",
    "storage.Size",
    "storage.LocalFiles",
    "storage.PurgeCurrentExecutionFiles",
    "templating.TemplatedTask",
    "trigger.Schedule",
    "trigger.Flow",
    "trigger.Webhook",
    "trigger.Toggle",
    "trigger.ScheduleOnDates",
    "trigger.McpToolTrigger",
    "condition.ExecutionStatus",
    "condition.ExecutionFlow",
    "condition.ExecutionNamespace",
    "condition.Expression",
    "runner.Process",
];

fn known_type(t: &str) -> bool {
    match t.strip_prefix("io.kestra.plugin.core.") {
        Some(rest) => CORE_TYPES.contains(&rest),
        None => !t.is_empty(),
    }
}

fn id_ok(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Parses and validates a flow source; `Err` is the 422 a real server answers.
pub fn parse_flow(req: &Req, source: &str) -> Result<Map<String, Value>, Response> {
    let def: Value = match yaml_serde::from_str::<Value>(source) {
        Ok(v) => v,
        Err(e) => {
            return Err(req.validation_error_raw(&format!("Illegal genericflow source: {e}"), "flow"));
        }
    };
    let Value::Object(def) = def else {
        return Err(req.validation_error_raw("Illegal genericflow source: not a mapping", "flow"));
    };
    validate_def(req, def)
}

pub fn validate_def(req: &Req, def: Map<String, Value>) -> Result<Map<String, Value>, Response> {
    let pattern = "must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\"";
    match def.get("id").and_then(Value::as_str) {
        None => return Err(req.validation_error("id", "must not be null")),
        Some(id) if !id_ok(id) => return Err(req.validation_error("id", pattern)),
        _ => {}
    }
    match def.get("namespace").and_then(Value::as_str) {
        None => return Err(req.validation_error("namespace", "must not be null")),
        Some(ns) if !id_ok(ns) => return Err(req.validation_error("namespace", pattern)),
        _ => {}
    }
    let tasks = def
        .get("tasks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if tasks.is_empty() {
        return Err(req.validation_error("tasks", "must not be empty"));
    }
    check_input_defaults(req, &def)?;
    for list in ["tasks", "triggers", "errors", "finally"] {
        for (i, t) in def
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
            if t.get("id").and_then(Value::as_str).is_none() {
                return Err(req.validation_error(&format!("{list}[].id"), "must not be null"));
            }
            if !known_type(ty) || (ty == MCP_TOOL_TRIGGER && req.core.version == KestraVersion::V1_3) {
                return Err(unknown_type(req, list, i, ty));
            }
            if ty == MCP_TOOL_TRIGGER {
                check_mcp_tool_trigger(req, i, t)?;
            }
        }
    }
    Ok(def)
}

/// Kestra 2.0's trigger exposing a flow as an MCP tool (core/.../trigger/McpToolTrigger.java,
/// added in 1.4.0-SNAPSHOT by 6595d77, so unknown to 1.3: `Invalid type`).
pub const MCP_TOOL_TRIGGER: &str = "io.kestra.plugin.core.trigger.McpToolTrigger";

/// McpToolTrigger's bean constraints: `toolName` @NotNull, @Size(1..64), @Pattern
/// `^[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$`; `title` and `toolDescription` @NotNull
/// (`annotations` defaults to {readOnly:false, openWorld:true, destructive:true,
/// idempotent:false, returnDirect:false}, `mcpServer` to `default`; both optional).
fn check_mcp_tool_trigger(req: &Req, index: usize, t: &Value) -> Result<(), Response> {
    let path = |field: &str| format!("triggers[{index}].{field}");
    for field in ["toolName", "title", "toolDescription"] {
        if t.get(field).and_then(Value::as_str).is_none() {
            return Err(req.validation_error(&path(field), "must not be null"));
        }
    }
    let name = t.get("toolName").and_then(Value::as_str).unwrap_or("");
    if !(1..=64).contains(&name.chars().count()) {
        return Err(req.validation_error(&path("toolName"), "size must be between 1 and 64"));
    }
    if !valid_tool_name(name) {
        return Err(req.validation_error(
            &path("toolName"),
            "Tool name must contain only alphanumeric characters hyphens underscores or dots and must start and end with an alphanumeric character",
        ));
    }
    Ok(())
}

fn valid_tool_name(name: &str) -> bool {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    ends_ok(name.chars().next())
        && ends_ok(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The 422 for a task or trigger type no plugin provides (recorded errors/flow-create-unknown-task-type
/// and flows/create-unknown-task-type of both corpora): `Invalid entity: Invalid type: <type>` with
/// two embedded errors on the Jackson path of the item, Kestra's and Jackson's; 1.3 lists
/// Kestra's first, 2.0 Jackson's.
fn unknown_type(req: &Req, list: &str, index: usize, ty: &str) -> Response {
    let path =
        format!("io.kestra.core.models.flows.FlowWithSource[\"{list}\"]->java.util.ArrayList[{index}]");
    let error = |message: String| json!({"message": message, "logref": null, "path": path, "_links": {}, "_embedded": {}});
    let kestra = error(format!("Invalid type: {ty}"));
    let jackson = error(format!(
        "Could not resolve type id '{ty}' as a subtype of `io.kestra.core.models.Plugin`: No plugin registered for the defined type: '{ty}'\n at [Source: UNKNOWN; byte offset: #UNKNOWN] (through reference chain: {path})"
    ));
    let errors = if req.core.version == crate::KestraVersion::V1_3 {
        vec![kestra, jackson]
    } else {
        vec![jackson, kestra]
    };
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &crate::http::error_body(
            &format!("Invalid entity: Invalid type: {ty}"),
            &req.href(),
            Some(Value::Array(errors)),
        ),
    )
}

/// Kestra refuses an input that has `defaults` and `required: false` (recorded-1.3.0 and
/// recorded-2.0.0-SNAPSHOT flows/create-all_inputs-default-with-required-false: 422 naming the
/// input, path `inputs[12]`).
fn check_input_defaults(req: &Req, def: &Map<String, Value>) -> Result<(), Response> {
    let inputs = def.get("inputs").and_then(Value::as_array);
    for (n, input) in inputs.into_iter().flatten().enumerate() {
        let optional = input.get("required") == Some(&Value::Bool(false));
        if optional && input.get("defaults").is_some_and(|d| !d.is_null()) {
            let id = input.get("id").and_then(Value::as_str).unwrap_or("");
            let message =
                "Inputs with a default value must be required, since the default is always applied.";
            let errors = json!([{"message": message, "logref": null, "path": format!("inputs[{n}]"),
                "_links": {}, "_embedded": {}}]);
            return Err(json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &crate::http::error_body(
                    &format!("Invalid entity: {id}: {message}\n"),
                    &req.href(),
                    Some(errors),
                ),
            ));
        }
    }
    Ok(())
}

/// Kestra 1.3 routes a flow body that is not YAML to its deprecated JSON route: `text/plain`
/// fails conversion (recorded-1.3.0 errors/flow-create-content-type-text-plain: 422 `Cannot
/// convert type`), a body without Content-Type is read as JSON (errors/flow-create-no-content-type:
/// YAML there is a 500 `Unrecognized token 'id'`; 0.23 answered the same).
fn v13_deprecated_json_route(req: &Req, source: &str) -> Option<Response> {
    match req.content_type().as_deref() {
        Some("text/plain") => Some(req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Internal server error: Cannot convert type [class java.lang.String] to target type: class io.kestra.core.models.flows.Flow. Considering defining a TypeConverter bean to handle this case.",
        )),
        None if serde_json::from_str::<Value>(source).is_err() => {
            let token: String = source
                .trim_start()
                .chars()
                .take_while(|c| !c.is_whitespace() && !":,{}[]\"".contains(*c))
                .collect();
            Some(req.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!(
                    "Internal server error: Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 1]"
                ),
            ))
        }
        _ => None,
    }
}

/// Labels from YAML (a map or a list of {key,value}) as Kestra's list of labels.
pub fn labels_of(def: &Map<String, Value>) -> Vec<Value> {
    match def.get("labels") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| json!({"key": k, "value": scalar_string(v)}))
            .collect(),
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    }
}

pub fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An input definition as Kestra answers it (recorded flows/get-all_inputs of 1.3.0 and
/// 2.0.0-SNAPSHOT): keys `id, type, description, required, defaults, displayName` first,
/// `required` always present (true unless `required: false`), `defaults` always a string
/// (`1.5` → `"1.5"`, `[x]` → `"[\"x\"]"`), SELECT with `allowCustomValue`, `isRadio`,
/// `autoSelectFirst` false, MULTISELECT with `itemType: STRING`, `allowCustomValue`,
/// `autoSelectFirst` false, FORM children normalised the same way.
pub fn normalised_input(input: &Value) -> Value {
    let Some(src) = input.as_object() else {
        return input.clone();
    };
    let mut out = Map::new();
    for key in ["id", "type", "description"] {
        if let Some(v) = src.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert(
        "required".into(),
        src.get("required").cloned().unwrap_or(json!(true)),
    );
    if let Some(d) = src.get("defaults").filter(|d| !d.is_null()) {
        out.insert("defaults".into(), json!(scalar_string(d)));
    }
    for (k, v) in src {
        if !out.contains_key(k) && k != "defaults" {
            out.insert(k.clone(), v.clone());
        }
    }
    let added: &[(&str, Value)] = match src.get("type").and_then(Value::as_str) {
        Some("SELECT") => &[
            ("allowCustomValue", json!(false)),
            ("isRadio", json!(false)),
            ("autoSelectFirst", json!(false)),
        ],
        Some("MULTISELECT") => &[
            ("itemType", json!("STRING")),
            ("allowCustomValue", json!(false)),
            ("autoSelectFirst", json!(false)),
        ],
        _ => &[],
    };
    for (k, v) in added {
        out.entry(k.to_string()).or_insert(v.clone());
    }
    if let Some(Value::Array(children)) = src.get("inputs") {
        out.insert(
            "inputs".into(),
            Value::Array(children.iter().map(normalised_input).collect()),
        );
    }
    Value::Object(out)
}

/// Renders a revision as Kestra's `Flow`/`FlowWithSource` JSON.
pub fn render(rev: &FlowRev, with_source: bool, version: crate::KestraVersion) -> Value {
    let d = &rev.def;
    let mut m = Map::new();
    m.insert("id".into(), d.get("id").cloned().unwrap_or(Value::Null));
    m.insert(
        "namespace".into(),
        d.get("namespace").cloned().unwrap_or(Value::Null),
    );
    m.insert("revision".into(), json!(rev.revision));
    if version == crate::KestraVersion::V1_3 {
        // recorded-1.3.0 flows/get-hello: `updated` follows `revision`.
        m.insert("updated".into(), json!(crate::state::fmt_time(&rev.updated)));
    }
    if let Some(desc) = d.get("description") {
        m.insert("description".into(), desc.clone());
    }
    if let Some(Value::Array(inputs)) = d.get("inputs") {
        let inputs: Vec<Value> = inputs.iter().map(normalised_input).collect();
        m.insert("inputs".into(), Value::Array(inputs));
    }
    m.insert("disabled".into(), json!(rev.disabled));
    m.insert("deleted".into(), json!(rev.deleted));
    let labels = labels_of(d);
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Array(labels));
    }
    for k in [
        "variables",
        "tasks",
        "errors",
        "finally",
        "afterExecution",
        "listeners",
    ] {
        if let Some(v) = d.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    let mut triggers = d.get("triggers").cloned().unwrap_or(json!([]));
    if version == crate::KestraVersion::V2_0 {
        // 2.0 requires `draft` on flows and `when` on triggers (2.0 description: Flow.required,
        // AbstractTrigger.required). GUESS: a trigger declared without `when` reads back "true".
        m.insert("draft".into(), json!(false));
        for t in triggers.as_array_mut().into_iter().flatten() {
            if let Value::Object(o) = t {
                o.entry("when").or_insert(json!("true"));
            }
        }
    }
    m.insert("triggers".into(), triggers);
    for (k, v) in d {
        if !m.contains_key(k)
            && !matches!(
                k.as_str(),
                "labels" | "inputs" | "disabled" | "deleted" | "revision"
            )
        {
            m.insert(k.clone(), v.clone());
        }
    }
    if with_source && !rev.from_json {
        m.insert("source".into(), json!(rev.source));
    }
    Value::Object(m)
}

fn key(ns: &str, id: &str) -> (String, String) {
    (ns.to_string(), id.to_string())
}

/// The namespace filter Kestra applies in searches: the namespace itself or a child of it.
pub fn ns_matches(filter: &str, ns: &str) -> bool {
    ns == filter || ns.starts_with(&format!("{filter}."))
}

fn guard(req: &Req, values: &[&str]) -> Option<Response> {
    for v in values {
        if climbing(v) {
            return Some(req.error(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: '{v}' contains '/' or '..' (refused by the simulator)"),
            ));
        }
    }
    None
}

pub fn create(req: &Req, t: &mut Tenant) -> Response {
    if req.body.iter().all(|b| b.is_ascii_whitespace()) {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid route params: Required Body [flow] not specified",
        );
    }
    let source = req.body_str();
    if req.core.version == crate::KestraVersion::V1_3
        && let Some(r) = v13_deprecated_json_route(req, &source)
    {
        return r;
    }
    let from_json = req.content_type().as_deref() == Some("application/json");
    let def = if from_json {
        // The deprecated JSON route: a Flow object, answered without `source`.
        match serde_json::from_str::<Value>(&source) {
            Ok(Value::Object(m)) => match validate_def(req, m) {
                Ok(d) => d,
                Err(r) => return r,
            },
            Ok(_) | Err(_) => {
                return req.error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error: Unrecognized token: was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
                );
            }
        }
    } else {
        match parse_flow(req, &source) {
            Ok(d) => d,
            Err(r) => return r,
        }
    };
    let ns = def
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let id = def.get("id").and_then(Value::as_str).unwrap_or("").to_string();
    let entry = t.flows.entry(key(&ns, &id)).or_default();
    if entry.live().is_some() {
        // Real Kestra answers 422, not 409 (recorded pair errors/flow-create-existing).
        return req.validation_error("flow.id", "Flow id already exists");
    }
    let rev = FlowRev {
        revision: entry.next_revision(),
        source: if from_json {
            yaml_serde::to_string(&def).unwrap_or_default()
        } else {
            source
        },
        disabled: def.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        def,
        deleted: false,
        from_json,
        updated: req.core.clock.now(),
    };
    let out = render(&rev, true, req.core.version);
    entry.revisions.push(rev.clone());
    crate::triggers::sync_flow(req, t, &rev);
    ok_json(&out)
}

pub fn update(req: &Req, t: &mut Tenant) -> Response {
    let (ns, id) = (req.param("namespace").to_string(), req.param("id").to_string());
    if let Some(r) = guard(req, &[&ns, &id]) {
        return r;
    }
    if req.body.iter().all(|b| b.is_ascii_whitespace()) {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid route params: Required Body [flow] not specified",
        );
    }
    let source = req.body_str();
    let Some(entry) = t.flows.get_mut(&key(&ns, &id)) else {
        return req.not_found();
    };
    let Some(current) = entry.live().cloned() else {
        return req.not_found();
    };
    let def = match parse_flow(req, &source) {
        Ok(d) => d,
        Err(r) => return r,
    };
    if def.get("id").and_then(Value::as_str) != Some(id.as_str())
        || def.get("namespace").and_then(Value::as_str) != Some(ns.as_str())
    {
        return req.validation_error("flow.id", "Illegal flow id update");
    }
    if current.source == source {
        // An unchanged source keeps the revision (recorded pair flows/update-hello-put-same-source).
        return ok_json(&render(&current, true, req.core.version));
    }
    let rev = FlowRev {
        revision: entry.next_revision(),
        disabled: def.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        source,
        def,
        deleted: false,
        from_json: false,
        updated: req.core.clock.now(),
    };
    let out = render(&rev, true, req.core.version);
    entry.revisions.push(rev.clone());
    crate::triggers::sync_flow(req, t, &rev);
    ok_json(&out)
}

pub fn get(req: &Req, t: &Tenant) -> Response {
    let (ns, id) = (req.param("namespace"), req.param("id"));
    if let Some(r) = guard(req, &[ns, id]) {
        return r;
    }
    let revision = match req.q_int("revision") {
        Ok(r) => r,
        Err(r) => return r,
    };
    let with_source = req.q_bool("source").unwrap_or(false);
    let allow_deleted = req.q_bool("allowDeleted").unwrap_or(false);
    let Some(entry) = t.flows.get(&key(ns, id)) else {
        return req.not_found();
    };
    let rev = match revision {
        Some(n) => entry.revisions.iter().find(|r| i64::from(r.revision) == n),
        None => entry.latest(),
    };
    match rev {
        Some(r) if !r.deleted || allow_deleted => ok_json(&render(r, with_source, req.core.version)),
        _ => req.not_found(),
    }
}

pub fn revisions(req: &Req, t: &Tenant) -> Response {
    let (ns, id) = (req.param("namespace"), req.param("id"));
    if let Some(r) = guard(req, &[ns, id]) {
        return r;
    }
    // Unknown flow → 200 [] (recorded pair errors/flow-not-found-revisions).
    let revs: Vec<Value> = t
        .flows
        .get(&key(ns, id))
        .map(|e| {
            e.revisions
                .iter()
                .map(|r| render(r, true, req.core.version))
                .collect()
        })
        .unwrap_or_default();
    ok_json(&Value::Array(revs))
}

pub fn delete(req: &Req, t: &mut Tenant) -> Response {
    let (ns, id) = (req.param("namespace").to_string(), req.param("id").to_string());
    if let Some(r) = guard(req, &[&ns, &id]) {
        return r;
    }
    if !delete_flow(t, &ns, &id) {
        return req.not_found();
    }
    empty(StatusCode::NO_CONTENT)
}

/// Deleting adds a `deleted: true` revision (recorded pairs flows/get-deleted-allowDeleted).
fn delete_flow(t: &mut Tenant, ns: &str, id: &str) -> bool {
    let Some(entry) = t.flows.get_mut(&key(ns, id)) else {
        return false;
    };
    let Some(cur) = entry.live().cloned() else {
        return false;
    };
    let mut rev = cur;
    rev.revision = entry.next_revision();
    rev.deleted = true;
    entry.revisions.push(rev);
    t.triggers.retain(|(n, f, _), _| !(n == ns && f == id));
    true
}

pub fn delete_by_ids(req: &Req, t: &mut Tenant) -> Response {
    let body = match req.json_body("ids") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut count = 0;
    for item in body.as_array().into_iter().flatten() {
        let ns = item.get("namespace").and_then(Value::as_str).unwrap_or("");
        let id = item.get("id").and_then(Value::as_str).unwrap_or("");
        if delete_flow(t, ns, id) {
            count += 1;
        }
    }
    ok_json(&json!({"count": count}))
}

fn toggled_source(source: &str, disabled: bool) -> String {
    let mut lines: Vec<String> = source
        .lines()
        .filter(|l| !l.starts_with("disabled:"))
        .map(String::from)
        .collect();
    if disabled {
        lines.push("disabled: true".into());
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// enable/disable by ids: each changed flow gets a new revision; already-in-state flows are
/// not counted; an unknown id → 404 `No value present` (recorded pairs flows/*-by-ids).
pub fn set_disabled_by_ids(req: &Req, t: &mut Tenant, disabled: bool) -> Response {
    let body = match req.json_body("ids") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut keys = Vec::new();
    for item in body.as_array().into_iter().flatten() {
        let ns = item.get("namespace").and_then(Value::as_str).unwrap_or("");
        let id = item.get("id").and_then(Value::as_str).unwrap_or("");
        if t.flows.get(&key(ns, id)).and_then(FlowEntry::live).is_none() {
            return req.error(StatusCode::NOT_FOUND, "Not Found: No value present");
        }
        keys.push(key(ns, id));
    }
    let mut count = 0;
    for k in keys {
        let Some(entry) = t.flows.get_mut(&k) else {
            continue;
        };
        let Some(cur) = entry.live().cloned() else {
            continue;
        };
        if cur.disabled == disabled {
            continue;
        }
        let mut rev = cur;
        rev.revision = entry.next_revision();
        rev.disabled = disabled;
        rev.source = toggled_source(&rev.source, disabled);
        if disabled {
            rev.def.insert("disabled".into(), json!(true));
        } else {
            rev.def.remove("disabled");
        }
        entry.revisions.push(rev);
        count += 1;
    }
    ok_json(&json!({"count": count}))
}

pub fn live_flows(t: &Tenant) -> impl Iterator<Item = &FlowRev> {
    t.flows.values().filter_map(FlowEntry::live)
}

pub fn search(req: &Req, t: &Tenant) -> Response {
    let (page, size) = match req.paging("searchFlows") {
        Ok(p) => p,
        Err(r) => return r,
    };
    // `query` is what the Python MCP server sends; a real server treats it like `q`
    // (recorded pair flows/search-mcp-search_flows).
    let q: Vec<String> = req
        .filter_values("q")
        .into_iter()
        .chain(req.q_all("query").into_iter().map(String::from))
        .map(|s| s.to_lowercase())
        .collect();
    let nss = namespace_conditions(req);
    let labels = req.filter_values("labels");
    let mut items: Vec<&FlowRev> = live_flows(t)
        .filter(|r| {
            let id = r.def.get("id").and_then(Value::as_str).unwrap_or("");
            let ns = r.def.get("namespace").and_then(Value::as_str).unwrap_or("");
            q.iter()
                .all(|q| id.to_lowercase().contains(q) || ns.to_lowercase().contains(q))
                && nss.iter().all(|(op, f)| namespace_holds(op, f, ns))
                && labels.iter().all(|l| {
                    let (k, v) = l.split_once(':').unwrap_or((l, ""));
                    labels_of(&r.def).iter().any(|x| {
                        x.get("key").and_then(Value::as_str) == Some(k)
                            && x.get("value").and_then(Value::as_str) == Some(v)
                    })
                })
        })
        .collect();
    if let Some(sort) = req.q("sort") {
        let desc = sort.ends_with(":desc");
        let field = sort.split(':').next().unwrap_or("id").to_string();
        items.sort_by(|a, b| {
            let fa = a
                .def
                .get(&field)
                .map(crate::flows::scalar_string)
                .unwrap_or_default();
            let fb = b
                .def
                .get(&field)
                .map(crate::flows::scalar_string)
                .unwrap_or_default();
            if desc { fb.cmp(&fa) } else { fa.cmp(&fb) }
        });
    }
    let total = items.len();
    let rendered: Vec<Value> = items.iter().map(|r| render(r, false, req.core.version)).collect();
    ok_json(&paged(paginate(&rendered, page, size), total))
}

/// The namespace conditions of a flows search as (operation, value): the legacy `namespace`
/// parameter (1.3) is the namespace and its children; `filters[namespace][OP]` applies OP as
/// Kestra's JDBC repository does (AbstractJdbcRepository `defaultHandlers`, 1.3 and 2.0
/// source: EQUALS is the exact namespace, PREFIX the namespace or its children, STARTS_WITH,
/// CONTAINS, ENDS_WITH on the text, IN a comma-separated list).
fn namespace_conditions(req: &Req) -> Vec<(String, String)> {
    let legacy = req
        .q_all("namespace")
        .into_iter()
        .map(|n| ("PREFIX".to_owned(), n.to_owned()));
    let filters = req
        .filters()
        .into_iter()
        .filter(|(field, _, _)| field == "namespace")
        .map(|(_, op, value)| (op, value));
    legacy.chain(filters).collect()
}

fn namespace_holds(op: &str, value: &str, ns: &str) -> bool {
    match op {
        "EQUALS" => ns == value,
        "NOT_EQUALS" => ns != value,
        "STARTS_WITH" => ns.starts_with(value),
        "ENDS_WITH" => ns.ends_with(value),
        "CONTAINS" => ns.contains(value),
        "IN" => value.split(',').any(|v| v == ns),
        "NOT_IN" => !value.split(',').any(|v| v == ns),
        // PREFIX, and GUESS: any other operation as PREFIX (the simulator's former reading).
        _ => ns_matches(value, ns),
    }
}

/// Full-text search over flow sources, `GET /flows/source` (the same on 1.3 and 2.0: recorded
/// pairs flows/source-search-* of both corpora and 2.0's v20/inv6-source-*): `q` matches the YAML
/// source case-insensitively, `namespace` narrows to a namespace and its children, no `q` lists
/// every flow. Each result is `{model: <flow without source>, fragments: [one excerpt]}`, in
/// order of last update (as the recordings list them).
pub fn search_by_source(req: &Req, t: &Tenant) -> Response {
    let (page, size) = match req.paging("searchFlowsBySourceCode") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let q = req.q("q").filter(|q| !q.is_empty()).map(str::to_ascii_lowercase);
    let ns = req.q("namespace").filter(|ns| !ns.is_empty());
    let mut items: Vec<&FlowRev> = live_flows(t)
        .filter(|r| {
            let flow_ns = r.def.get("namespace").and_then(Value::as_str).unwrap_or("");
            ns.is_none_or(|ns| ns_matches(ns, flow_ns))
                && q.as_deref()
                    .is_none_or(|q| r.source.to_ascii_lowercase().contains(q))
        })
        .collect();
    items.sort_by_key(|r| r.updated);
    let total = items.len();
    let rendered: Vec<Value> = items
        .iter()
        .map(|r| {
            let mut model = render(r, false, req.core.version);
            // Both recordings show `updated` in the model (the revision's save time).
            if let Value::Object(m) = &mut model {
                m.insert("updated".into(), json!(crate::state::fmt_time(&r.updated)));
            }
            json!({"model": model, "fragments": [source_fragment(&r.source, q.as_deref())]})
        })
        .collect();
    ok_json(&paged(paginate(&rendered, page, size), total))
}

/// The excerpt Kestra returns for a source match: the line before the first matching line and
/// up to three after it (the first four lines without `q`), the first match of `q` in each of
/// these lines between `[mark]` and `[/mark]`. GUESS from the recorded fragments (e.g.
/// `tasks:\n  - id: [mark]sleep[/mark]\n    type: io.kestra.plugin.core.flow.[mark]Sleep[/mark]
/// \n    duration: PT20S`, and `core.[mark]log[/mark].Log` marking only the first `log`).
fn source_fragment(source: &str, q: Option<&str>) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let first = q
        .and_then(|q| lines.iter().position(|l| l.to_ascii_lowercase().contains(q)))
        .unwrap_or(0);
    let start = first.saturating_sub(1);
    lines
        .iter()
        .skip(start)
        .take(4)
        .map(|l| match q {
            Some(q) => mark_first(l, q),
            None => (*l).to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `line` with its first case-insensitive occurrence of `q` (lowercase) between `[mark]` and
/// `[/mark]`, keeping the line's case. ASCII lowercasing keeps byte offsets.
fn mark_first(line: &str, q: &str) -> String {
    match line.to_ascii_lowercase().find(q) {
        Some(at) => format!(
            "{}[mark]{}[/mark]{}",
            &line[..at],
            &line[at..at + q.len()],
            &line[at + q.len()..]
        ),
        None => line.to_string(),
    }
}

pub fn list_by_namespace(req: &Req, t: &Tenant) -> Response {
    let ns = req.param("namespace");
    if let Some(r) = guard(req, &[ns]) {
        return r;
    }
    let out: Vec<Value> = live_flows(t)
        .filter(|r| r.def.get("namespace").and_then(Value::as_str) == Some(ns))
        .map(|r| render(r, false, req.core.version))
        .collect();
    ok_json(&Value::Array(out))
}

pub fn distinct_namespaces(req: &Req, t: &Tenant) -> Response {
    let q = req.q("q").unwrap_or("");
    let mut out: Vec<String> = live_flows(t)
        .filter_map(|r| r.def.get("namespace").and_then(Value::as_str).map(String::from))
        .filter(|ns| ns.starts_with(q))
        .collect();
    out.sort();
    out.dedup();
    ok_json(&json!(out))
}

/// `POST /flows/validate`: always 200, one result per YAML document.
pub fn validate(req: &Req, _t: &Tenant) -> Response {
    let src = req.body_str();
    let mut out = Vec::new();
    for (index, doc) in src.split("\n---").enumerate() {
        let mut m = Map::new();
        let parsed = parse_flow(req, doc);
        let def: Option<Map<String, Value>> = yaml_serde::from_str::<Value>(doc)
            .ok()
            .and_then(|v| v.as_object().cloned());
        if let Some(d) = &def {
            if let Some(id) = d.get("id") {
                m.insert("flow".into(), id.clone());
            }
            if let Some(ns) = d.get("namespace") {
                m.insert("namespace".into(), ns.clone());
            }
        }
        m.insert("index".into(), json!(index));
        if let Err(resp) = parsed {
            let _ = resp;
            m.insert("constraints".into(), json!(constraint_text(req, doc)));
        }
        m.insert("outdated".into(), json!(false));
        let deprecated = match (&def, req.core.version) {
            (Some(d), crate::KestraVersion::V1_3) => v13_deprecation_paths(d),
            _ => Vec::new(),
        };
        m.insert("deprecationPaths".into(), json!(deprecated));
        m.insert("warnings".into(), json!([]));
        m.insert("infos".into(), json!([]));
        out.push(Value::Object(m));
    }
    ok_json(&Value::Array(out))
}

/// Kestra 1.3 reports `BOOLEAN` inputs (deprecated for `BOOL`) in `deprecationPaths`
/// (recorded-1.3.0 flows/validate-all_inputs-default-with-required-false: `["inputs[4]"]`).
fn v13_deprecation_paths(def: &Map<String, Value>) -> Vec<String> {
    let inputs = def.get("inputs").and_then(Value::as_array);
    inputs
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, i)| i.get("type").and_then(Value::as_str) == Some("BOOLEAN"))
        .map(|(n, _)| format!("inputs[{n}]"))
        .collect()
}

fn constraint_text(_req: &Req, doc: &str) -> String {
    match yaml_serde::from_str::<Value>(doc) {
        Err(e) => format!("Illegal genericflow source: {e}"),
        Ok(v) => {
            let tasks = v
                .get("tasks")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if tasks.is_empty() {
                return "tasks: must not be empty\n".into();
            }
            for t in &tasks {
                let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
                if !known_type(ty) {
                    return format!("jakarta.validation.ConstraintViolationException: Invalid type: {ty}");
                }
            }
            "invalid flow".into()
        }
    }
}

/// `POST /flows/bulk`: creates or updates every document. With `delete=true` (the default) and
/// no namespace it deletes every other flow of the tenant, as real 0.23 did (recorded pair
/// flows/bulk-default-deletes-all-other-flows).
pub fn bulk(req: &Req, t: &mut Tenant) -> Response {
    let src = req.body_str();
    let ns_filter = req.q("namespace").map(String::from);
    let delete = req.q_bool("delete").unwrap_or(true);
    let mut parsed = Vec::new();
    for doc in src.split("\n---") {
        if doc.trim().is_empty() {
            continue;
        }
        match parse_flow(req, doc) {
            Ok(d) => {
                let ns = d.get("namespace").and_then(Value::as_str).unwrap_or("");
                if let Some(f) = &ns_filter
                    && !ns_matches(f, ns)
                {
                    return req.validation_error_raw(
                        &format!("flow namespace is invalid: {ns} (must be {f})"),
                        "flows",
                    );
                }
                parsed.push((doc.trim_start_matches('\n').to_string(), d));
            }
            Err(r) => return r,
        }
    }
    let mut out = Vec::new();
    if delete {
        let keep: Vec<(String, String)> = parsed
            .iter()
            .map(|(_, d)| {
                key(
                    d.get("namespace").and_then(Value::as_str).unwrap_or(""),
                    d.get("id").and_then(Value::as_str).unwrap_or(""),
                )
            })
            .collect();
        let victims: Vec<(String, String)> = t
            .flows
            .iter()
            .filter(|(k, e)| {
                e.live().is_some()
                    && !keep.contains(k)
                    && ns_filter.as_ref().is_none_or(|f| ns_matches(f, &k.0))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for (ns, id) in victims {
            if let Some(r) = t.flows.get(&key(&ns, &id)).and_then(FlowEntry::live) {
                out.push(render(r, true, req.core.version));
            }
            delete_flow(t, &ns, &id);
        }
    }
    for (source, def) in parsed {
        let ns = def
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let id = def.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        let entry = t.flows.entry(key(&ns, &id)).or_default();
        if entry.live().is_some_and(|r| r.source == source) {
            if let Some(r) = entry.live() {
                out.push(render(r, true, req.core.version));
            }
            continue;
        }
        let rev = FlowRev {
            revision: entry.next_revision(),
            disabled: def.get("disabled").and_then(Value::as_bool).unwrap_or(false),
            source,
            def,
            deleted: false,
            from_json: false,
            updated: req.core.clock.now(),
        };
        out.push(render(&rev, true, req.core.version));
        entry.revisions.push(rev.clone());
        crate::triggers::sync_flow(req, t, &rev);
    }
    ok_json(&Value::Array(out))
}

/// Edges (source uid, target uid, relation) between live flows: a Subflow task is a FLOW_TASK
/// edge parent → child; a Flow trigger's preconditions are FLOW_TRIGGER edges upstream → flow.
pub fn edges(tenant_name: &str, t: &Tenant) -> Vec<(String, String, &'static str, Value, Value)> {
    let uid = |ns: &str, id: &str| format!("{tenant_name}_{ns}_{id}");
    let node = |ns: &str, id: &str| json!({"uid": uid(ns, id), "namespace": ns, "id": id});
    let mut out = Vec::new();
    for r in live_flows(t) {
        let ns = r.def.get("namespace").and_then(Value::as_str).unwrap_or("");
        let id = r.def.get("id").and_then(Value::as_str).unwrap_or("");
        for task in r.def.get("tasks").and_then(Value::as_array).into_iter().flatten() {
            let ty = task.get("type").and_then(Value::as_str).unwrap_or("");
            if ty.ends_with(".Subflow") || ty.ends_with(".flow.Flow") {
                let cns = task.get("namespace").and_then(Value::as_str).unwrap_or(ns);
                if let Some(cid) = task.get("flowId").and_then(Value::as_str) {
                    out.push((
                        uid(ns, id),
                        uid(cns, cid),
                        "FLOW_TASK",
                        node(ns, id),
                        node(cns, cid),
                    ));
                }
            }
        }
        for trig in r
            .def
            .get("triggers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ty = trig.get("type").and_then(Value::as_str).unwrap_or("");
            if !ty.ends_with("trigger.Flow") {
                continue;
            }
            let ups = trig
                .pointer("/preconditions/flows")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for up in ups {
                let uns = up.get("namespace").and_then(Value::as_str).unwrap_or("");
                if let Some(uid_) = up.get("flowId").and_then(Value::as_str) {
                    out.push((
                        uid(uns, uid_),
                        uid(ns, id),
                        "FLOW_TRIGGER",
                        node(uns, uid_),
                        node(ns, id),
                    ));
                }
            }
        }
    }
    out
}

pub fn dependencies(req: &Req, t: &Tenant) -> Response {
    let (ns, id) = (req.param("namespace"), req.param("id"));
    if let Some(r) = guard(req, &[ns, id]) {
        return r;
    }
    if t.flows.get(&key(ns, id)).and_then(FlowEntry::live).is_none() {
        // Unknown flow → 200 with an empty graph (recorded pair flows/dependencies-unknown-flow).
        return ok_json(&json!({"nodes": [], "edges": []}));
    }
    let all = edges(&req.tenant, t);
    let me = format!("{}_{ns}_{id}", req.tenant);
    let expand = req.q_bool("expandAll").unwrap_or(false);
    let destination_only = req.q_bool("destinationOnly").unwrap_or(false);
    let mut frontier = vec![me.clone()];
    let mut seen = vec![me.clone()];
    let mut picked: Vec<&(String, String, &str, Value, Value)> = Vec::new();
    while let Some(cur) = frontier.pop() {
        for e in &all {
            // destinationOnly keeps the edges whose DESTINATION is the flow (Kestra's
            // AbstractJdbcFlowTopologyRepository.findByFlow: `destination_id = flowId`, the
            // source condition only without destinationOnly; recorded flows/dependencies-hello-
            // destinationOnly of all three corpora: parent → hello kept, hello → downstream not).
            let touches = e.1 == cur || (!destination_only && e.0 == cur);
            if touches && !picked.contains(&e) {
                picked.push(e);
                for n in [&e.0, &e.1] {
                    if expand && !seen.contains(n) {
                        seen.push(n.clone());
                        frontier.push(n.clone());
                    }
                }
            }
        }
    }
    graph(picked)
}

fn graph(picked: Vec<&(String, String, &str, Value, Value)>) -> Response {
    let mut nodes: Vec<Value> = Vec::new();
    let mut edges_out = Vec::new();
    for (s, tgt, rel, ns, nt) in picked {
        for n in [ns, nt] {
            if !nodes.contains(n) {
                nodes.push(n.clone());
            }
        }
        edges_out.push(json!({"source": s, "target": tgt, "relation": rel}));
    }
    json_response(StatusCode::OK, &json!({"nodes": nodes, "edges": edges_out}))
}

pub fn namespace_dependencies(req: &Req, t: &Tenant) -> Response {
    let ns = req.param("namespace");
    if let Some(r) = guard(req, &[ns]) {
        return r;
    }
    let all = edges(&req.tenant, t);
    let mut nodes: Vec<Value> = live_flows(t)
        .filter(|r| r.def.get("namespace").and_then(Value::as_str) == Some(ns))
        .map(|r| {
            let id = r.def.get("id").and_then(Value::as_str).unwrap_or("");
            json!({"uid": format!("{}_{ns}_{id}", req.tenant), "namespace": ns, "id": id})
        })
        .collect();
    let mut edges_out = Vec::new();
    for (s, tgt, rel, ns_node, nt_node) in &all {
        // Only edges inside the namespace (recorded namespaces/dependencies-analytics: the
        // hello → downstream edge crossing namespaces is not listed for company.analytics).
        let touches = [ns_node, nt_node]
            .iter()
            .all(|n| n.get("namespace").and_then(Value::as_str) == Some(ns));
        if touches {
            for n in [ns_node, nt_node] {
                if !nodes.contains(n) {
                    nodes.push(n.clone());
                }
            }
            edges_out.push(json!({"source": s, "target": tgt, "relation": rel}));
        }
    }
    ok_json(&json!({"nodes": nodes, "edges": edges_out}))
}

pub fn climbing_guard(req: &Req, values: &[&str]) -> Option<Response> {
    guard(req, values)
}

#[cfg(test)]
mod source_fragment_tests {
    use super::source_fragment;

    /// recorded flows/source-search-q-Sleep (1.3.0 and 2.0.0-SNAPSHOT): the flow `slow`.
    #[test]
    fn fragment_starts_one_line_before_the_first_match() {
        let slow = "id: slow\nnamespace: company.team\ntasks:\n  - id: sleep\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT20S\n  - id: done\n    type: io.kestra.plugin.core.log.Log\n    message: done sleeping\n";
        assert_eq!(
            source_fragment(slow, Some("sleep")),
            "tasks:\n  - id: [mark]sleep[/mark]\n    type: io.kestra.plugin.core.flow.[mark]Sleep[/mark]\n    duration: PT20S"
        );
    }

    /// recorded v20/inv6-source-q-log-namespace (the flow `backfilled`) and inv6-source-no-q.
    #[test]
    fn only_the_first_match_of_a_line_is_marked_and_no_query_shows_the_head() {
        let src = "id: backfilled\nnamespace: company.v20\ninputs:\n  - id: region\n    type: STRING\n    defaults: eu\ntasks:\n  - id: tick\n    type: io.kestra.plugin.core.log.Log\n    message: \"tick\"\ntriggers:\n  - id: hourly\n";
        assert_eq!(
            source_fragment(src, Some("log")),
            "  - id: tick\n    type: io.kestra.plugin.core.[mark]log[/mark].Log\n    message: \"tick\"\ntriggers:"
        );
        assert_eq!(
            source_fragment(src, None),
            "id: backfilled\nnamespace: company.v20\ninputs:\n  - id: region"
        );
    }
}
