//! Executions and their state machine.
//!
//! Modelled on webserver/.../controllers/api/ExecutionController.java (1.3 and 2.0 share the
//! logic; only the action paths moved, see routes.rs) and on the recorded 0.23 pairs in
//! executions.json. The state machine runs lazily on the simulator's clock: every request first
//! calls [`tick`], which moves each unfinished execution forward to "now":
//!
//! * CREATED → RUNNING at its creation (or `scheduleDate`);
//! * tasks run one after another, each for `task_delay` (a `*.Sleep` task for its `duration`);
//! * a task whose type ends with `.Pause` pauses the execution (task run PAUSED) until resumed;
//! * a task whose type ends with `.Fail` fails, which fails the execution (later tasks never run);
//! * other tasks succeed; `Log` writes its message, `Return` its `format` at DEBUG,
//!   `Fail` its `errorMessage` at ERROR (templates: only `{{ inputs.x }}`, `{{ execution.id }}`,
//!   `{{ flow.id }}`, `{{ flow.namespace }}` are rendered — GUESS/simplification).
//!
//! Flowable tasks (Parallel, If, ForEach…) are run as plain tasks: a simplification.

use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use crate::flows::{self, FlowRev};
use crate::http::{Req, empty, ok_json, paged, paginate, text};
use crate::state::{
    ALL_STATES, Core, StateHist, Tenant, fmt_time, is_terminal, lock, parse_duration, parse_time,
};

#[derive(Debug, Clone)]
pub struct TaskRun {
    pub id: String,
    pub task_id: String,
    pub task_type: String,
    pub def: Value,
    pub state: StateHist,
    pub attempts: Vec<StateHist>,
    pub outputs: Option<Value>,
    /// When the current attempt started running (for timing).
    pub run_started: DateTime<Utc>,
}

impl TaskRun {
    /// A task run of `def`, CREATED at `at` (it starts on the executor's next step).
    fn created(id: String, def: Value, at: DateTime<Utc>) -> TaskRun {
        TaskRun {
            id,
            task_id: def.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
            task_type: def.get("type").and_then(Value::as_str).unwrap_or("").to_string(),
            def,
            state: StateHist::new("CREATED", at),
            attempts: Vec::new(),
            outputs: None,
            run_started: at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Execution {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: u32,
    pub tasks: Vec<Value>,
    pub task_runs: Vec<TaskRun>,
    pub inputs: Map<String, Value>,
    pub labels: Vec<Value>,
    pub state: StateHist,
    pub original_id: String,
    pub schedule_date: Option<DateTime<Utc>>,
    pub attempt_number: u32,
    pub created: DateTime<Utc>,
    pub trigger: Option<Value>,
    /// Time of the last state-machine event.
    pub cursor: DateTime<Utc>,
    /// The execution a replay was made from (`parentId`).
    pub parent_id: Option<String>,
    /// The flow's `outputs:` definitions, rendered into `outputs` when the execution ends.
    pub flow_outputs: Vec<Value>,
    /// The flow outputs of an ended execution (see flow_outputs.rs).
    pub outputs: Map<String, Value>,
}

fn task_duration(def: &Value, delay: Duration) -> TimeDelta {
    let ty = def.get("type").and_then(Value::as_str).unwrap_or("");
    if ty.ends_with(".Sleep")
        && let Some(d) = def
            .get("duration")
            .and_then(Value::as_str)
            .and_then(parse_duration)
    {
        return d;
    }
    TimeDelta::from_std(delay).unwrap_or_default()
}

/// Renders `{{ inputs.x }}`, `{{ execution.id }}`, `{{ flow.id }}`, `{{ flow.namespace }}`;
/// anything else is left as written.
pub fn render_template(s: &str, e: &Execution) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = after[..end].trim();
        let head = expr.split("??").next().unwrap_or("").trim();
        let value = crate::flow_outputs::lookup(head, e).map(|v| flows::scalar_string(&v));
        match value {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// An OutputValues task's `values` with each text rendered (other values kept as written).
fn rendered_values(values: Option<&Value>, e: &Execution) -> Value {
    let Some(Value::Object(m)) = values else {
        return json!({});
    };
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k.clone(), json!(render_template(s, e))),
            other => (k.clone(), other.clone()),
        })
        .collect::<Map<String, Value>>()
        .into()
}

impl Execution {
    fn next_task_index(&self) -> usize {
        self.tasks
            .iter()
            .position(|t| {
                let tid = t.get("id").and_then(Value::as_str).unwrap_or("");
                !self.task_runs.iter().any(|r| r.task_id == tid)
            })
            .unwrap_or(self.tasks.len())
    }

    /// Starts the CREATED task run `i` at the cursor; true when it is a Pause (the execution
    /// pauses with it).
    fn start_task_run(&mut self, i: usize) -> bool {
        let at = self.cursor;
        let tr = &mut self.task_runs[i];
        tr.state.push("RUNNING", at);
        tr.run_started = at;
        if tr.task_type.ends_with(".Pause") {
            tr.state.push("PAUSED", at);
            tr.outputs = Some(json!({}));
            self.state.push("PAUSED", at);
            return true;
        }
        let mut attempt = StateHist::new("CREATED", at);
        attempt.push("RUNNING", at);
        tr.attempts.push(attempt);
        false
    }

    /// 2.0's create answer: the execution is already RUNNING with its first task run CREATED
    /// (recorded-2.0.0-SNAPSHOT executions/create-hello-no-body, create-slow, v20/inv1-create-1;
    /// 6 of the 20 recorded creates show it SUBMITTED instead, the executor's next step racing
    /// the answer: create-approval-1, v20/inv1-create-3). A scheduled execution stays CREATED
    /// without task runs (executions/create-hello-scheduleDate). 1.3 answers CREATED
    /// (recorded-1.3.0 executions/create-hello-no-body).
    pub fn start_v2(&mut self, now: DateTime<Utc>, new_id: &dyn Fn() -> String) {
        if self.state.current() != "CREATED" || self.schedule_date.is_some_and(|d| d > now) {
            return;
        }
        self.cursor = now;
        self.state.push("RUNNING", now);
        if let Some(def) = self.tasks.first().cloned() {
            self.task_runs.push(TaskRun::created(new_id(), def, now));
        }
    }

    /// Moves the execution forward to `now`, appending the logs its tasks write.
    pub fn advance(
        &mut self,
        now: DateTime<Utc>,
        delay: Duration,
        new_id: &dyn Fn() -> String,
        logs: &mut Vec<Value>,
    ) {
        for _ in 0..10_000 {
            match self.state.current() {
                "CREATED" => {
                    let start = self.schedule_date.map_or(self.cursor, |d| d.max(self.cursor));
                    if now < start {
                        return;
                    }
                    self.cursor = start;
                    self.state.push("RUNNING", start);
                }
                "RUNNING" => {
                    if let Some(i) = self.task_runs.iter().position(|r| r.state.current() == "RUNNING") {
                        let end =
                            self.task_runs[i].run_started + task_duration(&self.task_runs[i].def, delay);
                        if now < end {
                            return;
                        }
                        self.finish_task(i, end, logs);
                        if self.state.current() != "RUNNING" {
                            return;
                        }
                        continue;
                    }
                    if let Some(i) = self.task_runs.iter().position(|r| r.state.current() == "CREATED") {
                        if self.start_task_run(i) {
                            return;
                        }
                        continue;
                    }
                    let next = self.next_task_index();
                    let Some(def) = self.tasks.get(next).cloned() else {
                        let st = if self.task_runs.iter().any(|r| r.state.current() == "WARNING") {
                            "WARNING"
                        } else {
                            "SUCCESS"
                        };
                        self.end(st, self.cursor, logs);
                        return;
                    };
                    self.task_runs.push(TaskRun::created(new_id(), def, self.cursor));
                }
                _ => return,
            }
        }
    }

    fn finish_task(&mut self, i: usize, end: DateTime<Utc>, logs: &mut Vec<Value>) {
        let (ty, def) = (self.task_runs[i].task_type.clone(), self.task_runs[i].def.clone());
        let failed = ty.ends_with(".Fail");
        let st = if failed { "FAILED" } else { "SUCCESS" };
        let prop = |k: &str| {
            def.get(k)
                .and_then(Value::as_str)
                .map(|s| render_template(s, self))
        };
        let mut outputs = json!({});
        let log = if ty.ends_with(".Log") {
            let level = def
                .get("level")
                .and_then(Value::as_str)
                .unwrap_or("INFO")
                .to_string();
            prop("message").map(|m| (level, m))
        } else if ty.ends_with(".Return") {
            let f = prop("format");
            if let Some(v) = &f {
                outputs = json!({"value": v});
            }
            f.map(|m| ("DEBUG".to_string(), m))
        } else if ty.ends_with(".OutputValues") {
            // OutputValues: `values` rendered, read back as `outputs.<task>.values.<key>`.
            outputs = json!({"values": rendered_values(def.get("values"), self)});
            None
        } else if failed {
            Some((
                "ERROR".to_string(),
                prop("errorMessage").unwrap_or_else(|| "Task failure".into()),
            ))
        } else {
            None
        };
        let tr = &mut self.task_runs[i];
        if let Some((level, message)) = log {
            logs.push(crate::logs::entry(
                &self.namespace,
                &self.flow_id,
                &tr.task_id,
                &self.id,
                &tr.id,
                tr.attempts.len().saturating_sub(1),
                end,
                &level,
                &message,
            ));
        }
        if let Some(a) = tr.attempts.last_mut() {
            a.push(st, end);
        }
        tr.state.push(st, end);
        tr.outputs = Some(outputs);
        self.cursor = end;
        if failed {
            self.end("FAILED", end, logs);
        }
    }

    /// Ends the execution in `state`, rendering the flow's outputs first as Kestra's executor
    /// does on any final state (see flow_outputs.rs): a failure to render them is logged and
    /// ends the execution FAILED without outputs.
    fn end(&mut self, state: &str, at: DateTime<Utc>, logs: &mut Vec<Value>) {
        if self.flow_outputs.is_empty() {
            self.state.push(state, at);
            return;
        }
        match crate::flow_outputs::compute(&self.flow_outputs, self) {
            Ok(outputs) => {
                self.outputs = outputs;
                self.state.push(state, at);
            }
            Err(crate::flow_outputs::OutputError(why)) => {
                let message = format!("Failed to render output values: {why}");
                logs.push(crate::logs::entry(
                    &self.namespace,
                    &self.flow_id,
                    "",
                    &self.id,
                    "",
                    0,
                    at,
                    "ERROR",
                    &message,
                ));
                self.state.push("FAILED", at);
            }
        }
    }

    /// The next time something happens on its own (for `wait` on a manual clock).
    pub fn next_event(&self, delay: Duration) -> Option<DateTime<Utc>> {
        match self.state.current() {
            "CREATED" => Some(self.schedule_date.map_or(self.cursor, |d| d.max(self.cursor))),
            "RUNNING" => Some(
                match self.task_runs.iter().find(|r| r.state.current() == "RUNNING") {
                    Some(r) => r.run_started + task_duration(&r.def, delay),
                    None => self.cursor,
                },
            ),
            _ => None,
        }
    }

    pub fn to_json(&self, now: DateTime<Utc>) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("namespace".into(), json!(self.namespace));
        m.insert("flowId".into(), json!(self.flow_id));
        m.insert("flowRevision".into(), json!(self.flow_revision));
        if !self.task_runs.is_empty() {
            let trs: Vec<Value> = self
                .task_runs
                .iter()
                .map(|r| {
                    let mut t = Map::new();
                    t.insert("id".into(), json!(r.id));
                    t.insert("executionId".into(), json!(self.id));
                    t.insert("namespace".into(), json!(self.namespace));
                    t.insert("flowId".into(), json!(self.flow_id));
                    t.insert("taskId".into(), json!(r.task_id));
                    if !r.attempts.is_empty() {
                        let atts: Vec<Value> = r
                            .attempts
                            .iter()
                            .map(|a| json!({"state": a.to_json(now), "workerId": "kestra-sim-worker"}))
                            .collect();
                        t.insert("attempts".into(), Value::Array(atts));
                    }
                    t.insert("outputs".into(), r.outputs.clone().unwrap_or(Value::Null));
                    t.insert("state".into(), r.state.to_json(now));
                    Value::Object(t)
                })
                .collect();
            m.insert("taskRunList".into(), Value::Array(trs));
        } else if self.parent_id.is_some() {
            // A replay answers its (empty) task run list (recorded-1.3.0 executions/replay-single).
            m.insert("taskRunList".into(), json!([]));
        }
        if !self.inputs.is_empty() {
            m.insert("inputs".into(), Value::Object(self.inputs.clone()));
        }
        // Execution.java: `@JsonInclude(NON_EMPTY) Map<String, Object> outputs`.
        if !self.outputs.is_empty() {
            m.insert("outputs".into(), Value::Object(self.outputs.clone()));
        }
        m.insert("labels".into(), Value::Array(self.labels.clone()));
        m.insert("state".into(), self.state.to_json(now));
        if let Some(p) = &self.parent_id {
            m.insert("parentId".into(), json!(p));
        }
        m.insert("originalId".into(), json!(self.original_id));
        if let Some(t) = &self.trigger {
            m.insert("trigger".into(), t.clone());
        }
        if let Some(d) = &self.schedule_date {
            m.insert("scheduleDate".into(), json!(fmt_time(d)));
        }
        m.insert("deleted".into(), json!(false));
        m.insert(
            "metadata".into(),
            json!({"attemptNumber": self.attempt_number, "originalCreatedDate": fmt_time(&self.created)}),
        );
        Value::Object(m)
    }
}

/// Advances every unfinished execution of a tenant (and its backfills) to `now`.
pub fn tick(core: &Core, t: &mut Tenant, now: DateTime<Utc>) {
    crate::triggers::tick(core, t, now);
    let Tenant { executions, logs, .. } = t;
    let new_id = || core.new_id();
    for e in executions.iter_mut().filter(|e| !e.state.is_terminal()) {
        e.advance(now, core.task_delay, &new_id, logs);
    }
    if core.version == crate::KestraVersion::V2_0 {
        crate::v2::release_finished_locks(t, now);
    }
}

fn label_json(k: &str, v: &str) -> Value {
    json!({"key": k, "value": v})
}

fn set_system_label(labels: &mut Vec<Value>, k: &str, v: &str) {
    labels.retain(|l| l.get("key").and_then(Value::as_str) != Some(k));
    labels.push(label_json(k, v));
}

/// Coerces flow inputs from form values, applying defaults. `Err((id, message))` → 422.
pub fn coerce_inputs(
    defs: &[Value],
    given: &[(String, String)],
) -> Result<Map<String, Value>, (String, String)> {
    let mut out = std::collections::BTreeMap::new();
    for d in defs {
        let Some(id) = d.get("id").and_then(Value::as_str) else {
            continue;
        };
        let ty = d.get("type").and_then(Value::as_str).unwrap_or("STRING");
        if ty == "FORM" {
            out.insert(id.to_string(), form_input(d, id, given)?);
            continue;
        }
        // A default is typed as a given value would be: Kestra keeps defaults as text
        // (recorded flows/get-all_inputs: `"defaults": "{\"k\": 1}"`) and parses them
        // (executions/validate-all_inputs-bad of 1.3.0 and 2.0: `j` → `{"k": 1}`).
        let default = d
            .get("defaults")
            .or_else(|| d.get("defaultValue"))
            .filter(|v| !v.is_null())
            .map(flows::scalar_string);
        let raw = given
            .iter()
            .rev()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.clone())
            .or(default);
        let value = match raw {
            None => {
                let required = d.get("required").and_then(Value::as_bool).unwrap_or(true);
                if required {
                    // Recorded executions/create-all_inputs-missing-required.
                    return Err((id.to_string(), format!("Missing required input:{id}")));
                }
                continue;
            }
            Some(s) => {
                // Kestra's wording (recorded executions/create-hello-bad-int of 1.3.0 and 2.0:
                // "Invalid value for input `count`. Cause: For input string: \"not-a-number\"").
                let bad = |e: String| {
                    (
                        id.to_string(),
                        format!("Invalid value for input `{id}`. Cause: {e}"),
                    )
                };
                match ty {
                    "INT" => json!(
                        s.trim()
                            .parse::<i64>()
                            .map_err(|_| bad(format!("For input string: \"{s}\"")))?
                    ),
                    "FLOAT" => json!(
                        s.trim()
                            .parse::<f64>()
                            .map_err(|_| bad(format!("For input string: \"{s}\"")))?
                    ),
                    // Recorded pair executions/resume-bad-boolean: `maybe` is stored as false.
                    "BOOLEAN" | "BOOL" => json!(s.trim().eq_ignore_ascii_case("true")),
                    "MULTISELECT" => serde_json::from_str::<Value>(&s)
                        .map_err(|e| (id.to_string(), multiselect_error(&s, &e)))?,
                    "JSON" | "ARRAY" => serde_json::from_str::<Value>(&s).map_err(|e| bad(e.to_string()))?,
                    // Parsed, as validate shows it (recorded executions/validate-all_inputs-typed
                    // of 1.3.0 and 2.0: `"y": {"a": 1, "b": ["x", "y"]}`). GUESS: text that is
                    // not YAML is kept as sent.
                    "YAML" => yaml_serde::from_str::<Value>(&s).unwrap_or_else(|_| json!(s)),
                    "DATETIME" => {
                        // Recorded executions/validate-all_inputs-bad (`dt`: "yesterday").
                        parse_time(&s).ok_or_else(|| {
                            (
                                id.to_string(),
                                format!(" errors:\n```\nText '{s}' could not be parsed at index 0\n```"),
                            )
                        })?;
                        json!(s)
                    }
                    "DURATION" => {
                        parse_duration(&s)
                            .ok_or_else(|| bad("Text cannot be parsed to a Duration".into()))?;
                        json!(s)
                    }
                    _ => json!(s),
                }
            }
        };
        out.insert(id.to_string(), value);
    }
    Ok(out.into_iter().collect())
}

/// A MULTISELECT value that is not a JSON array as Jackson refuses it (recorded
/// executions/create-all_inputs-msel-csv `x,y` and msel-repeated, whose last part `z` wins,
/// of 1.3.0 and 2.0: `Unrecognized token 'x': was expecting …`). Other JSON errors keep the
/// `Invalid value` wording (GUESS: not recorded).
fn multiselect_error(s: &str, e: &serde_json::Error) -> String {
    let first = s.trim_start().chars().next();
    if first.is_some_and(|c| matches!(c, '[' | '{' | '"' | '-' | '0'..='9')) {
        return format!("Invalid value for input. Cause: {e}");
    }
    let token: String = s
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    format!(
        " errors:\n```\nUnrecognized token '{token}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 1]\n```"
    )
}

/// A FORM input is the object of its own `inputs`, each given as the form field `<form>.<id>`
/// or taking its default (recorded-2.0.0-SNAPSHOT executions/create-all_inputs-typed-no-secret-wait:
/// fields `env.region`, `env.replicas` → `"env": {"replicas": 5, "region": "us-east-1"}`).
fn form_input(def: &Value, id: &str, given: &[(String, String)]) -> Result<Value, (String, String)> {
    let subs = def
        .get("inputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let prefix = format!("{id}.");
    let sub_given: Vec<(String, String)> = given
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v.clone())))
        .collect();
    let values = coerce_inputs(&subs, &sub_given).map_err(|(sub, msg)| (format!("{id}.{sub}"), msg))?;
    Ok(Value::Object(values))
}

/// Kestra's refusal of a SECRET input value without encryption configured.
const SECRET_REFUSED: &str =
    " errors:\n```\nUnable to use a `SECRET` input/output as encryption is not configured\n```";

/// Types execution inputs the way Kestra 1.3 and 2.0 store them (recorded-1.3.0
/// executions/create-all_inputs-typed-no-secret-wait, create-all_inputs-defaults-only): DURATION
/// as a number of seconds, JSON and YAML parsed, an absent optional input as `null`. A SECRET
/// input with a value → 422, encryption not being configured (recorded-1.3.0
/// executions/create-all_inputs-typed-wait). GUESS: the simulator plays a server without
/// encryption, as the recorded one was.
fn v13_type_inputs(req: &Req, defs: &[Value], inputs: &mut Map<String, Value>) -> Result<(), Response> {
    for d in defs {
        let Some(id) = d.get("id").and_then(Value::as_str) else {
            continue;
        };
        let ty = d.get("type").and_then(Value::as_str).unwrap_or("STRING");
        let value = inputs.entry(id.to_string()).or_insert(Value::Null);
        match (ty, &*value) {
            ("SECRET", v) if !v.is_null() => {
                return Err(req.error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("Invalid entity: {SECRET_REFUSED}"),
                ));
            }
            ("DURATION", Value::String(s)) => {
                if let Some(d) = parse_duration(s) {
                    *value = json!(d.num_milliseconds() as f64 / 1000.0);
                }
            }
            ("DATETIME", Value::String(s)) => {
                if let Some(at) = parse_time(s) {
                    *value = json!(stored_datetime(at, req.core.version));
                }
            }
            ("JSON", Value::String(s)) => {
                if let Ok(v) = serde_json::from_str::<Value>(s) {
                    *value = v;
                }
            }
            ("YAML", Value::String(s)) => {
                if let Ok(v) = yaml_serde::from_str::<Value>(s) {
                    *value = v;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A DATETIME input as stored: 1.3 with microseconds (`2026-01-15T10:30:00.000000Z`), 2.0
/// as Java's `Instant.toString` (`2026-01-15T10:30:00Z`) (recorded
/// executions/create-all_inputs-typed-no-secret-wait of each, `dt` sent as `…10:30:00Z`).
fn stored_datetime(at: DateTime<Utc>, version: crate::KestraVersion) -> String {
    let format = match version {
        crate::KestraVersion::V1_3 => "%Y-%m-%dT%H:%M:%S%.6fZ",
        _ => "%Y-%m-%dT%H:%M:%S%.fZ",
    };
    at.format(format).to_string()
}

/// Builds a new execution of a flow revision (state CREATED).
#[allow(clippy::too_many_arguments)]
pub fn new_execution(
    core: &Core,
    tenant: &str,
    rev: &FlowRev,
    inputs: Map<String, Value>,
    extra_labels: Vec<Value>,
    schedule_date: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    trigger: Option<Value>,
) -> Execution {
    let _ = tenant;
    let id = core.new_id();
    let mut labels = flows::labels_of(&rev.def);
    for l in extra_labels {
        let k = l.get("key").and_then(Value::as_str).unwrap_or("").to_string();
        labels.retain(|x| x.get("key").and_then(Value::as_str) != Some(k.as_str()));
        labels.push(l);
    }
    set_system_label(&mut labels, "system.correlationId", &id);
    Execution {
        original_id: id.clone(),
        id,
        namespace: rev
            .def
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        flow_id: rev
            .def
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        flow_revision: rev.revision,
        tasks: rev
            .def
            .get("tasks")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        task_runs: Vec::new(),
        inputs,
        labels,
        state: StateHist::new("CREATED", now),
        schedule_date,
        attempt_number: 1,
        created: now,
        trigger,
        cursor: now,
        parent_id: None,
        flow_outputs: rev
            .def
            .get("outputs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        outputs: Map::new(),
    }
}

fn parse_labels_query(req: &Req) -> Result<Vec<Value>, Response> {
    let mut out = Vec::new();
    for l in req.q_all("labels") {
        let Some((k, v)) = l.split_once(':') else {
            return Err(req.error(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: Invalid label '{l}', expected key:value"),
            ));
        };
        // Kestra's ExecutionController.parseLabels (1.3 and 2.0 source, since 7ea95f3 "add a
        // `system.from` label"): no `system.` label from the API but `system.correlationId`
        // and `system.from`, refused as an IllegalArgumentException (422 `Illegal argument`).
        if k.starts_with("system.") && k != "system.correlationId" && k != "system.from" {
            return Err(req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "Illegal argument: System labels can only be set by Kestra itself, offending label: {k}={v}"
                ),
            ));
        }
        out.push(label_json(k, v));
    }
    // ...and `system.from: api` unless the caller gave one (recorded executions/
    // create-hello-wait-labels and get-all_inputs-typed-no-secret of 1.3.0 and 2.0 carry it).
    if !out.iter().any(|l| l["key"] == "system.from") {
        out.push(label_json("system.from", "api"));
    }
    Ok(out)
}

/// Form fields of a multipart body as (name, value) text pairs (file parts keep their name and
/// get a `kestra:///` URI as value, like Kestra stores uploaded inputs).
async fn form_fields(req: &Req, exec_hint: &str) -> Result<Vec<(String, String)>, Response> {
    if req.content_type().as_deref() != Some("multipart/form-data") {
        return Ok(Vec::new());
    }
    let parts = req.multipart().await?;
    Ok(parts
        .into_iter()
        .map(|p| match p.filename {
            Some(f) => (p.name.clone(), format!("kestra:///{exec_hint}/{}/{f}", p.name)),
            None => (p.name, String::from_utf8_lossy(&p.data).into_owned()),
        })
        .collect())
}

fn not_found_exec(req: &Req) -> Response {
    req.not_found()
}

/// `POST /executions/{namespace}/{id}` (createExecution).
pub async fn create(req: Req) -> Response {
    let core = req.core.clone();
    let (ns, flow_id) = (req.param("namespace").to_string(), req.param("id").to_string());
    if let Some(r) = flows::climbing_guard(&req, &[&ns, &flow_id]) {
        return r;
    }
    let labels = match parse_labels_query(&req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let revision = match req.q_int("revision") {
        Ok(r) => r,
        Err(r) => return r,
    };
    let schedule_date = match req.q("scheduleDate") {
        None => None,
        Some(s) => match parse_time(s) {
            Some(d) => Some(d),
            None => {
                return req.error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!(
                        "Internal server error: Failed to convert argument [scheduleDate] for value [{s}]"
                    ),
                );
            }
        },
    };
    let fields = match form_fields(&req, &format!("{ns}/{flow_id}")).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let wait = req.q_bool("wait").unwrap_or(false);
    let id = {
        let mut w = core.world();
        let now = core.clock.now();
        let t = w.tenant(&req.tenant);
        tick(&core, t, now);
        let Some(entry) = t.flows.get(&(ns.clone(), flow_id.clone())) else {
            return req.error(StatusCode::NOT_FOUND, "Not Found: Requested Flow is not found.");
        };
        let rev = match revision {
            Some(n) => entry
                .revisions
                .iter()
                .find(|r| i64::from(r.revision) == n && !r.deleted),
            None => entry.live(),
        };
        let Some(rev) = rev.cloned() else {
            return req.error(StatusCode::NOT_FOUND, "Not Found: Requested Flow is not found.");
        };
        if rev.disabled {
            return req.error(StatusCode::CONFLICT, "Illegal state: Requested Flow is disabled.");
        }
        let defs = rev
            .def
            .get("inputs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(msg) = first_input_error(&defs, &fields, req.core.version) {
            return req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Invalid entity: {msg}"),
            );
        }
        let mut inputs = match coerce_inputs(&defs, &fields) {
            Ok(i) => i,
            Err((_, msg)) => {
                return req.error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("Invalid entity: {msg}"),
                );
            }
        };
        // 2.0 types them the same way (recorded-2.0.0-SNAPSHOT
        // executions/create-all_inputs-typed-no-secret-wait: `"dur": 5400.0`, `"sec": null`).
        if let Err(r) = v13_type_inputs(&req, &defs, &mut inputs) {
            return r;
        }
        let mut e = new_execution(&core, &req.tenant, &rev, inputs, labels, schedule_date, now, None);
        if req.core.version == crate::KestraVersion::V2_0 {
            e.start_v2(now, &|| core.new_id());
        }
        let id = e.id.clone();
        if !wait {
            let mut out = e.to_json(now);
            if let Value::Object(m) = &mut out {
                m.insert(
                    "url".into(),
                    json!(format!(
                        "/ui/{}/executions/{}/{}/{}",
                        req.tenant, e.namespace, e.flow_id, e.id
                    )),
                );
            }
            t.executions.push(e);
            return ok_json(&out);
        }
        t.executions.push(e);
        id
    };
    // wait=true: return once the execution is terminated. GUESS: also return when it pauses
    // (a Pause task would otherwise hold the request until the client times out).
    wait_for(&core, &req.tenant, &id, |s| is_terminal(s) || s == "PAUSED").await;
    let w = core.world();
    let now = core.clock.now();
    match w.tenants.get(&req.tenant).and_then(|t| t.execution(&id)) {
        Some(e) => {
            let mut out = e.to_json(now);
            if let Value::Object(m) = &mut out {
                m.insert(
                    "url".into(),
                    json!(format!(
                        "/ui/{}/executions/{}/{}/{}",
                        req.tenant, e.namespace, e.flow_id, e.id
                    )),
                );
            }
            ok_json(&out)
        }
        None => req.not_found(),
    }
}

/// Waits (on the simulator's clock) until the execution's state satisfies `done` or it is gone.
/// On a manual clock, waiting fast-forwards the clock to the execution's next event.
pub async fn wait_for(core: &Core, tenant: &str, id: &str, done: impl Fn(&str) -> bool) {
    for _ in 0..100_000 {
        let next = {
            let mut w = core.world();
            let now = core.clock.now();
            let t = w.tenant(tenant);
            tick(core, t, now);
            let Some(e) = t.execution(id) else { return };
            if done(e.state.current()) {
                return;
            }
            e.next_event(core.task_delay)
        };
        match next {
            None => return,
            Some(at) if core.clock.is_manual() => core.clock.advance_to(at),
            Some(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

pub fn get(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    match t.execution(req.param("executionId")) {
        Some(e) => ok_json(&e.to_json(now)),
        None => not_found_exec(req),
    }
}

pub fn get_flow(req: &Req, t: &Tenant) -> Response {
    let Some(e) = t.execution(req.param("executionId")) else {
        return req.not_found();
    };
    match t
        .flows
        .get(&(e.namespace.clone(), e.flow_id.clone()))
        .and_then(|f| f.revisions.iter().find(|r| r.revision == e.flow_revision))
    {
        Some(r) => ok_json(&flow_of_execution(r, req.core.version)),
        None => req.not_found(),
    }
}

/// `GET /executions/{id}/graph`: the flow's graph with the execution's task runs (recorded
/// executions/graph of 1.3.0 and 2.0: a GraphClusterRoot, a GraphClusterEnd and one GraphTask
/// per task with its `task`, `taskRun`, `values` and `relationType: SEQUENTIAL`; 4 nodes, 3
/// edges and `clusters` for the two-task hello). Flowable tasks are drawn as plain tasks
/// (simplification, as the simulator runs them). GUESS: edges as Kestra's FlowGraph.Edge
/// `{source, target, relation: {relationType}}` (not in the truncated recordings).
pub fn graph(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    let Some(e) = t.execution(req.param("executionId")) else {
        return req.not_found();
    };
    let json = e.to_json(now);
    let runs = json["taskRunList"].as_array().cloned().unwrap_or_default();
    let root = format!("root.root-{}", e.id);
    let end = format!("root.end-{}", e.id);
    let mut nodes = vec![json!({"uid": root, "type": "io.kestra.core.models.hierarchies.GraphClusterRoot"})];
    nodes.push(json!({"uid": end, "type": "io.kestra.core.models.hierarchies.GraphClusterEnd"}));
    let mut uids = vec![root];
    for task in &e.tasks {
        let id = task.get("id").and_then(Value::as_str).unwrap_or("");
        let uid = format!("root.{id}");
        let run = runs.iter().find(|r| r["taskId"] == id).cloned();
        nodes.push(
            json!({"uid": uid, "type": "io.kestra.core.models.hierarchies.GraphTask",
            "task": task, "taskRun": run, "values": [], "relationType": "SEQUENTIAL"}),
        );
        uids.push(uid);
    }
    uids.push(end);
    let edges: Vec<Value> = uids
        .windows(2)
        .map(|w| json!({"source": w[0], "target": w[1], "relation": {"relationType": "SEQUENTIAL"}}))
        .collect();
    ok_json(&json!({"nodes": nodes, "edges": edges, "clusters": []}))
}

/// The flow of an execution lists its empty blocks (recorded-1.3.0 and 2.0.0-SNAPSHOT
/// executions/get-flow-of-execution: `errors`, `afterExecution`, `sla`, `finally` as `[]`;
/// 2.0 adds `quotas`).
fn flow_of_execution(r: &crate::flows::FlowRev, version: crate::KestraVersion) -> Value {
    let mut flow = flows::render(r, false, version);
    let mut keys = vec!["errors", "afterExecution", "triggers", "sla", "finally"];
    if version == crate::KestraVersion::V2_0 {
        keys.push("quotas");
    }
    if let Value::Object(m) = &mut flow {
        for k in keys {
            m.entry(k).or_insert(json!([]));
        }
    }
    flow
}

pub fn delete(req: &Req, t: &mut Tenant) -> Response {
    let id = req.param("executionId").to_string();
    let Some(pos) = t.executions.iter().position(|e| e.id == id) else {
        return req.not_found();
    };
    t.executions.remove(pos);
    if req.q_bool("deleteLogs").unwrap_or(true) {
        t.logs
            .retain(|l| l.get("executionId").and_then(Value::as_str) != Some(id.as_str()));
    }
    empty(StatusCode::NO_CONTENT)
}

fn validate_states(req: &Req, name: &str, values: &[String]) -> Result<(), Response> {
    for s in values {
        if !ALL_STATES.contains(&s.as_str()) {
            return Err(req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "Internal server error: Failed to convert argument [{name}] for value [{s}] due to: No enum constant io.kestra.core.models.flows.State.Type.{s}"
                ),
            ));
        }
    }
    Ok(())
}

fn date_arg(req: &Req, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    let vals = req.filter_values(name);
    match vals.first() {
        None => Ok(None),
        Some(s) => parse_time(s).map(Some).ok_or_else(|| {
            req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "Internal server error: Failed to convert argument [{name}] for value [{s}] due to: Text '{s}' could not be parsed at index 0"
                ),
            )
        }),
    }
}

pub fn search(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    let (page, size) = match req.paging("searchExecutions") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let states = req.filter_values("state");
    if let Err(r) = validate_states(req, "state", &states) {
        return r;
    }
    let (start, end) = match (date_arg(req, "startDate"), date_arg(req, "endDate")) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let nss = req.filter_values("namespace");
    let flow_ids = req.filter_values("flowId");
    let labels = req.filter_values("labels");
    let q: Vec<String> = req
        .filter_values("q")
        .into_iter()
        .map(|s| s.to_lowercase())
        .collect();
    let mut items: Vec<&Execution> = t
        .executions
        .iter()
        .filter(|e| {
            nss.iter().all(|n| flows::ns_matches(n, &e.namespace))
                && flow_ids.iter().all(|f| *f == e.flow_id)
                && (states.is_empty() || states.iter().any(|s| s == e.state.current()))
                && start.is_none_or(|s| e.state.start() >= s)
                && end.is_none_or(|x| e.state.start() <= x)
                && q.iter()
                    .all(|q| e.id.to_lowercase().contains(q) || e.flow_id.to_lowercase().contains(q))
                && labels.iter().all(|l| {
                    let (k, v) = l.split_once(':').unwrap_or((l, ""));
                    e.labels.iter().any(|x| {
                        x.get("key").and_then(Value::as_str) == Some(k)
                            && x.get("value").and_then(Value::as_str) == Some(v)
                    })
                })
        })
        .collect();
    // Default order: 1.3 newest first (state.startDate desc); 2.0 without `sort` oldest first
    // (recorded-2.0.0-SNAPSHOT executions/search-no-params: the first hello run,
    // search-filters-syntax, triggers/backfill-executions, v20/inv1-search-t0-immediate,
    // v20/inv3-executions-t3s: ascending start dates).
    items.sort_by_key(|e| std::cmp::Reverse(e.state.start()));
    let ascending = match req.q("sort") {
        Some(sort) => sort.ends_with(":asc") || sort.ends_with(",asc"),
        None => req.core.version == crate::KestraVersion::V2_0,
    };
    if ascending {
        items.reverse();
    }
    let total = items.len();
    let rendered: Vec<Value> = items.iter().map(|e| e.to_json(now)).collect();
    ok_json(&paged(paginate(&rendered, page, size), total))
}

/// `GET /executions?namespace&flowId`: both required; `state` and `sort` are ignored, as the
/// recorded 0.23 server did (executions/list-by-flow-resume.py).
pub fn list_by_flow(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    let ns = match req.required_q("namespace") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let flow_id = match req.required_q("flowId") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (page, size) = match req.paging("searchExecutionsByFlowId") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let items: Vec<Value> = t
        .executions
        .iter()
        .filter(|e| e.namespace == ns && e.flow_id == flow_id)
        .map(|e| e.to_json(now))
        .collect();
    let total = items.len();
    ok_json(&paged(paginate(&items, page, size), total))
}

pub fn kill(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let v2 = req.core.version == crate::KestraVersion::V2_0;
    let Some(e) = t.execution_mut(req.param("executionId")) else {
        return req.not_found();
    };
    if e.state.is_terminal() {
        // Recorded pairs kill-terminated-cascade-true (202) / -false (409).
        if !req.q_bool("isOnKillCascade").unwrap_or(true) {
            let message = if v2 {
                "Cannot kill execution: execution is already terminated."
            } else {
                "Illegal state: Execution is already finished, can't kill it"
            };
            return req.error(StatusCode::CONFLICT, message);
        }
    } else {
        kill_exec(e, now);
    }
    if v2 {
        // 2.0: killExecution awaits the kill (awaitBlockingAction) and answers 200 with the
        // Execution, produces text/json (webserver/src/main/java/io/kestra/webserver/controllers/
        // api/ExecutionController.java on the 2.0 line: `@ApiResponse(responseCode = "200",
        // description = "On success", content = Execution)`, `.map(HttpResponse::ok)`; the 2.0
        // description's killExecution 200 `text/json` Execution). Not observed on a real 2.0.
        let body = serde_json::to_vec(&e.to_json(now)).unwrap_or_default();
        return text(StatusCode::OK, "text/json", body);
    }
    // 1.x: `HttpResponse.accepted()` (recorded executions/kill-running-no-param → 202, empty).
    empty(StatusCode::ACCEPTED)
}

fn kill_exec(e: &mut Execution, now: DateTime<Utc>) {
    e.state.push("KILLING", now);
    for r in e.task_runs.iter_mut().filter(|r| !r.state.is_terminal()) {
        if let Some(a) = r.attempts.last_mut() {
            a.push("KILLED", now);
        }
        r.state.push("KILLED", now);
    }
    e.state.push("KILLED", now);
    e.cursor = now;
}

pub fn kill_by_ids(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("executionsId") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut count = 0;
    for id in body.as_array().into_iter().flatten().filter_map(Value::as_str) {
        if let Some(e) = t.execution_mut(id)
            && !e.state.is_terminal()
        {
            kill_exec(e, now);
            count += 1;
        }
    }
    ok_json(&json!({"count": count}))
}

/// `pause`: only a RUNNING (or CREATED) execution; the running task stays RUNNING.
/// 1.3: 200 with an empty body (recorded executions/pause-running: `public void pause`),
/// otherwise 422 (recorded executions/pause-terminated). 2.0: 200 with the Execution, otherwise
/// 409 (ExecutionController.java on the 2.0 line: pauseExecution returns
/// `Mono<HttpResponse<Execution>>` from awaitBlockingAction and throws `ConflictException("Cannot
/// pause execution: execution is not running.")`; the 2.0 description's pauseExecution 200
/// application/json Execution, 409). Not observed on a real 2.0.
pub fn pause(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let v2 = req.core.version == crate::KestraVersion::V2_0;
    let Some(e) = t.execution_mut(req.param("executionId")) else {
        // Recorded executions/pause-unknown: "Not Found: Page Not Found".
        return req.error(StatusCode::NOT_FOUND, "Not Found: Page Not Found");
    };
    if !matches!(e.state.current(), "RUNNING" | "CREATED") {
        if v2 {
            return req.error(
                StatusCode::CONFLICT,
                "Cannot pause execution: execution is not running.",
            );
        }
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Illegal argument: The execution is not running",
        );
    }
    e.state.push("PAUSED", now);
    e.cursor = now;
    if v2 {
        return ok_json(&e.to_json(now));
    }
    empty(StatusCode::OK)
}

/// Resumes a paused execution with the given onResume outputs (None = bulk/force-run: none).
fn resume_exec(e: &mut Execution, now: DateTime<Utc>, on_resume: Option<Map<String, Value>>) {
    for r in e.task_runs.iter_mut() {
        match r.state.current() {
            "PAUSED" => {
                r.state.push("RUNNING", now);
                r.state.push("SUCCESS", now);
                r.outputs = Some(match &on_resume {
                    Some(o) if !o.is_empty() => json!({"onResume": o}),
                    _ => json!({}),
                });
            }
            "RUNNING" => r.run_started = now,
            _ => {}
        }
    }
    e.state.push("RUNNING", now);
    e.cursor = now;
}

fn paused_task_defs(e: &Execution) -> Vec<Value> {
    e.task_runs
        .iter()
        .find(|r| r.state.current() == "PAUSED")
        .and_then(|r| r.def.get("onResume").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// `resume` (multipart inputs of the Pause task's `onResume`): 204; not paused → 409;
/// unknown → 404 (recorded executions/resume-*).
pub async fn resume(req: Req) -> Response {
    let core = req.core.clone();
    let id = req.param("executionId").to_string();
    let fields = match form_fields(&req, &id).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut w = core.world();
    let now = core.clock.now();
    let t = w.tenant(&req.tenant);
    tick(&core, t, now);
    let Some(e) = t.execution_mut(&id) else {
        return req.error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: Execution '{id}' not found."),
        );
    };
    if e.state.current() != "PAUSED" {
        return req.error(
            StatusCode::CONFLICT,
            &format!("Illegal state: Execution '{id}' is not paused, can't resume it"),
        );
    }
    let defs = paused_task_defs(e);
    let outputs = match coerce_inputs(&defs, &fields) {
        Ok(o) => o,
        // Recorded executions/resume-typed-missing-required of both versions.
        Err((_, msg)) => {
            return req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Invalid entity: {msg}"),
            );
        }
    };
    resume_exec(e, now, Some(outputs));
    // 1.3 answers 204 (recorded executions/resume-multipart on 0.23); the 2.0 description
    // answers 200 with the Execution (ExecutionController.resumeExecution in 2.0).
    match core.version {
        crate::KestraVersion::V1_3 => empty(StatusCode::NO_CONTENT),
        crate::KestraVersion::V2_0 => ok_json(&e.to_json(now)),
    }
}

pub async fn resume_validate(req: Req) -> Response {
    let core = req.core.clone();
    let id = req.param("executionId").to_string();
    let fields = match form_fields(&req, &id).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut w = core.world();
    let now = core.clock.now();
    let t = w.tenant(&req.tenant);
    // Advanced to now first, as every other handler (the execution may have paused since).
    tick(&core, t, now);
    let Some(e) = t.execution(&id) else {
        return req.error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: Execution '{id}' not found."),
        );
    };
    let defs = paused_task_defs(e);
    let v2 = req.core.version == crate::KestraVersion::V2_0;
    let inputs: Vec<Value> = defs
        .iter()
        .map(|d| {
            let mut input = d.as_object().cloned().unwrap_or_default();
            input.entry("required").or_insert(json!(true));
            let (value, errors) = validated_input(d, &fields, v2);
            json!({"input": input, "value": value, "enabled": true, "errors": errors})
        })
        .collect();
    let mut out = json!({"id": e.flow_id, "namespace": e.namespace, "inputs": inputs});
    // 2.0 answers the same shape (recorded-2.0.0-SNAPSHOT executions/resume-validate*).
    v13_resume_validate_shape(&mut out, &fields);
    ok_json(&out)
}

/// One input's value and errors as resume/validate reports them (recorded
/// executions/resume-validate-typed-missing-required: `Missing required input:comment`, no
/// value; resume-validate-typed-bad-select: the value kept, `it must match the values`). 2.0
/// adds `renderError: false` to each error.
fn validated_input(def: &Value, fields: &[(String, String)], v2: bool) -> (Value, Vec<Value>) {
    let id = def.get("id").and_then(Value::as_str).unwrap_or("");
    let error = |message: String| {
        if v2 {
            json!({"message": message, "renderError": false})
        } else {
            json!({"message": message})
        }
    };
    let raw = fields.iter().rev().find(|(k, _)| k == id).map(|(_, v)| json!(v));
    let value = match coerce_inputs(std::slice::from_ref(def), fields) {
        Ok(mut m) => m.remove(id).unwrap_or(Value::Null),
        Err(_) if raw.is_none() => {
            return (Value::Null, vec![error(format!("Missing required input:{id}"))]);
        }
        // The value as sent (recorded executions/validate-all_inputs-bad: `"dt": "yesterday"`).
        Err((_, msg)) => return (raw.unwrap_or(Value::Null), vec![error(msg)]),
    };
    // Any SECRET value is refused, encryption not being configured (recorded
    // executions/validate-all_inputs-typed of 1.3.0 and 2.0: `sec` keeps its value and gets
    // this error; create-all_inputs-typed-wait: the same text in the 422).
    if def.get("type").and_then(Value::as_str) == Some("SECRET") && !value.is_null() {
        return (value, vec![error(SECRET_REFUSED.to_string())]);
    }
    match input_constraint_error(def, &value) {
        Some(cause) => (
            raw.unwrap_or(value),
            vec![error(format!("Invalid value for input `{id}`. Cause: {cause}"))],
        ),
        None => (value, Vec::new()),
    }
}

/// The constraint a typed value breaks, as Kestra words it (recorded
/// executions/validate-all_inputs-bad: `it must be less than `100``, `it must match the values
/// `[a, b, c]``, `The input must be a valid email`; resume-validate-typed-bad-select).
fn input_constraint_error(def: &Value, value: &Value) -> Option<String> {
    let ty = def.get("type").and_then(Value::as_str).unwrap_or("");
    match ty {
        "SELECT" => {
            let allowed: Vec<String> = def
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(select_value)
                .collect();
            let v = value.as_str()?;
            (!allowed.iter().any(|a| a == v))
                .then(|| format!("it must match the values `[{}]`", allowed.join(", ")))
        }
        "INT" | "FLOAT" => {
            let n = value.as_f64()?;
            let bound = |k: &str| def.get(k).and_then(Value::as_f64);
            if let Some(max) = bound("max").filter(|m| n > *m) {
                return Some(format!(
                    "it must be less than `{}`",
                    flows::scalar_string(&json!(max as i64))
                ));
            }
            // GUESS: the wording for `min` (not recorded) mirrors the recorded `max` one.
            bound("min")
                .filter(|m| n < *m)
                .map(|min| format!("it must be more than `{}`", min as i64))
        }
        "ARRAY" => {
            let item = def.get("itemType").and_then(Value::as_str)?;
            let bad = value.as_array()?.iter().find(|v| match item {
                "INT" => !(v.is_i64() || v.as_str().is_some_and(|s| s.parse::<i64>().is_ok())),
                "FLOAT" => !(v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok())),
                _ => false,
            })?;
            Some(format!(
                "Unable to parse array element as `{item}` on `{}`",
                flows::scalar_string(bad)
            ))
        }
        "EMAIL" => {
            let v = value.as_str()?;
            let valid = v
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
            (!valid).then(|| "The input must be a valid email".to_string())
        }
        _ => None,
    }
}

/// A SELECT value: a plain value or `{label, value}` (recorded flows/create-all_inputs `sel_lv`).
fn select_value(v: &Value) -> String {
    match v.get("value") {
        Some(inner) => flows::scalar_string(inner),
        None => flows::scalar_string(v),
    }
}

/// `POST /executions/{namespace}/{id}/validate`: the flow's inputs checked as resume/validate
/// checks a Pause's, FORM inputs flattened to `<form>.<id>` (recorded-1.3.0 and 2.0.0-SNAPSHOT
/// executions/validate-all_inputs-typed, validate-all_inputs-bad).
pub async fn validate_inputs(req: Req) -> Response {
    let core = req.core.clone();
    let (ns, flow_id) = (req.param("namespace").to_string(), req.param("id").to_string());
    if let Some(r) = flows::climbing_guard(&req, &[&ns, &flow_id]) {
        return r;
    }
    // Kestra's validateNewExecutionInputs parses the labels as createExecution does.
    if let Err(r) = parse_labels_query(&req) {
        return r;
    }
    let fields = match form_fields(&req, &format!("{ns}/{flow_id}")).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let w = core.world();
    let Some(rev) = w
        .tenants
        .get(&req.tenant)
        .and_then(|t| t.flows.get(&(ns.clone(), flow_id.clone())))
        .and_then(|f| f.live())
    else {
        return req.error(StatusCode::NOT_FOUND, "Not Found: Requested Flow is not found.");
    };
    let defs = flat_input_defs(
        rev.def
            .get("inputs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    let v2 = req.core.version == crate::KestraVersion::V2_0;
    let inputs: Vec<Value> = defs
        .iter()
        .map(|d| {
            let mut input = d.as_object().cloned().unwrap_or_default();
            input.entry("required").or_insert(json!(true));
            let (value, errors) = validated_input(d, &fields, v2);
            json!({"input": input, "value": value, "enabled": true, "errors": errors})
        })
        .collect();
    let mut out = json!({"id": flow_id, "namespace": ns, "inputs": inputs});
    v13_resume_validate_shape(&mut out, &fields);
    ok_json(&out)
}

/// The first input that does not validate, in declaration order, as the create answer names it
/// (recorded executions/create-all_inputs-bad of 1.3.0 and 2.0: `i` = 500 is reported before the
/// later bad `sel`, `e`, `dt`, `arr`).
fn first_input_error(
    defs: &[Value],
    fields: &[(String, String)],
    version: crate::KestraVersion,
) -> Option<String> {
    let v2 = version == crate::KestraVersion::V2_0;
    flat_input_defs(defs.to_vec()).iter().find_map(|d| {
        let (_, errors) = validated_input(d, fields, v2);
        errors
            .first()
            .and_then(|e| e["message"].as_str())
            .map(String::from)
    })
}

/// Input definitions with each FORM replaced by its sub-inputs, named `<form>.<id>`.
fn flat_input_defs(defs: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for d in defs {
        if d.get("type").and_then(Value::as_str) != Some("FORM") {
            out.push(d);
            continue;
        }
        let form = d.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        for mut sub in d
            .get("inputs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            if let Some(Value::String(id)) = sub.get_mut("id") {
                *id = format!("{form}.{id}");
            }
            out.push(sub);
        }
    }
    out
}

/// Kestra 1.3's (and 2.0's) `resume/validate` answer: `defaults` as a string, `isDefault` per input (not
/// sent, so its default applies) and a `checks` list (recorded-1.3.0 executions/resume-validate,
/// resume-validate-typed-bad-select).
fn v13_resume_validate_shape(out: &mut Value, fields: &[(String, String)]) {
    for entry in out["inputs"].as_array_mut().into_iter().flatten() {
        let id = entry["input"]["id"].as_str().unwrap_or("").to_string();
        let has_default = match entry["input"].get_mut("defaults") {
            Some(d) if !d.is_null() => {
                *d = json!(flows::scalar_string(d));
                true
            }
            _ => false,
        };
        let given = fields.iter().any(|(k, _)| *k == id);
        entry["isDefault"] = json!(has_default && !given);
    }
    out["checks"] = json!([]);
}

fn bulk_invalid(message: &str, invalids: Vec<(String, &str)>) -> Response {
    let list: Vec<Value> = invalids
        .into_iter()
        .map(|(id, msg)| {
            json!({"message": msg, "rootBean": id, "rootBeanClass": "java.lang.String", "leafBean": id,
                   "propertyPath": [{"name": "execution", "kind": "PROPERTY", "inIterable": false}],
                   "invalidValue": id, "messageTemplate": "{messageTemplate}", "executableParameters": []})
        })
        .collect();
    crate::http::json_response(
        StatusCode::BAD_REQUEST,
        &json!({"message": message, "invalids": list}),
    )
}

/// `resume/by-ids`: any unknown or non-paused id → 400 and nothing resumed (recorded
/// executions/resume-by-ids-mixed).
pub fn resume_by_ids(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("executionsId") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ids: Vec<String> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    let mut invalids = Vec::new();
    for id in &ids {
        match t.execution(id) {
            None => invalids.push((id.clone(), "execution not found")),
            Some(e) if e.state.current() != "PAUSED" => {
                invalids.push((id.clone(), "execution not in state PAUSED"))
            }
            _ => {}
        }
    }
    if !invalids.is_empty() {
        return bulk_invalid("invalid bulk resume", invalids);
    }
    for id in &ids {
        if let Some(e) = t.execution_mut(id) {
            resume_exec(e, now, None);
        }
    }
    ok_json(&json!({"count": ids.len()}))
}

/// `force-run`: CREATED/QUEUED start now, PAUSED resumes without outputs; terminated → 422.
pub fn force_run(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let Some(e) = t.execution_mut(req.param("executionId")) else {
        return req.not_found();
    };
    if e.state.is_terminal() {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Illegal argument: Only non terminated executions can be forced run.",
        );
    }
    match e.state.current() {
        "PAUSED" => resume_exec(e, now, None),
        "CREATED" | "QUEUED" => {
            e.schedule_date = None;
            e.state.push("RUNNING", now);
            e.cursor = now;
        }
        _ => {}
    }
    ok_json(&e.to_json(now))
}

pub fn unqueue(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let Some(e) = t.execution_mut(req.param("executionId")) else {
        return req.not_found();
    };
    if e.state.current() != "QUEUED" {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Illegal argument: The execution is not queued",
        );
    }
    e.state.push("RUNNING", now);
    ok_json(&e.to_json(now))
}

/// `restart`: only a FAILED (or KILLED) execution; its failed task runs get a new attempt and
/// the execution goes RESTARTED → RUNNING. Otherwise 422 (recorded executions/restart-*).
pub fn restart(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let Some(e) = t.execution_mut(req.param("executionId")) else {
        return req.not_found();
    };
    if !matches!(e.state.current(), "FAILED" | "KILLED") {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Illegal argument: No task found to restart execution from!",
        );
    }
    if req.core.version == crate::KestraVersion::V1_3 && !has_task_to_restart(e) {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Illegal argument: No task found to restart execution from!",
        );
    }
    restart_exec(e, now, None, None);
    ok_json(&e.to_json(now))
}

/// `restart/by-ids`: every id must exist and be restartable, else 400 `invalid bulk restart` and
/// nothing restarts (recorded-2.0.0-SNAPSHOT v20/inv7-restart-by-ids: a SUCCESS execution, "must
/// be terminated or paused to be restarted, current state is 'SUCCESS' !"). The simulator
/// restarts FAILED and KILLED executions; GUESS: a PAUSED one, which the message admits, is
/// refused too (no restart of a paused execution is recorded).
pub fn restart_by_ids(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("executionsId") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ids: Vec<String> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    let mut invalids: Vec<(String, String)> = Vec::new();
    for id in &ids {
        match t.execution(id) {
            None => invalids.push((id.clone(), "execution not found".into())),
            Some(e) if !matches!(e.state.current(), "FAILED" | "KILLED") => invalids.push((
                id.clone(),
                format!(
                    "Execution '{id}' must be terminated or paused to be restarted, current state is '{}' !",
                    e.state.current()
                ),
            )),
            Some(_) => {}
        }
    }
    if !invalids.is_empty() {
        let refs = invalids.iter().map(|(id, m)| (id.clone(), m.as_str())).collect();
        return bulk_invalid("invalid bulk restart", refs);
    }
    for id in &ids {
        if let Some(e) = t.execution_mut(id) {
            restart_exec(e, now, None, None);
        }
    }
    ok_json(&json!({"count": ids.len()}))
}

/// Kestra (1.3 here, 2.0 in v2.rs) restarts from a failed (or killed) task run and refuses one that has
/// none, even when the execution itself is FAILED (e.g. set by change-status): 422 `No task found
/// to restart execution from!` (recorded-1.3.0 executions/restart-success; Kestra's
/// `ExecutionService.restart`, which looks for the task runs to restart, not at the execution's state).
pub(crate) fn has_task_to_restart(e: &Execution) -> bool {
    e.task_runs
        .iter()
        .any(|r| matches!(r.state.current(), "FAILED" | "KILLED"))
}

/// Restarts from the failed/killed task runs, or marks `task_run` as `state` first.
fn restart_exec(e: &mut Execution, now: DateTime<Utc>, task_run: Option<&str>, state: Option<&str>) {
    e.state.push("RESTARTED", now);
    for r in e.task_runs.iter_mut() {
        if Some(r.id.as_str()) == task_run {
            if let Some(st) = state {
                r.state.push(st, now);
                if let Some(a) = r.attempts.last_mut() {
                    a.push(st, now);
                }
            }
            continue;
        }
        if task_run.is_none() && matches!(r.state.current(), "FAILED" | "KILLED") {
            r.state.push("RESTARTED", now);
            r.state.push("RUNNING", now);
            let mut a = StateHist::new("CREATED", now);
            a.push("RUNNING", now);
            r.attempts.push(a);
            r.run_started = now;
        }
    }
    e.attempt_number += 1;
    set_system_label(&mut e.labels, "system.restarted", "true");
    e.state.push("RUNNING", now);
    e.cursor = now;
}

/// `state` (body `{taskRunId, state}`): marks a task run and restarts the execution.
pub fn change_taskrun_state(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("stateRequest") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let tr = body
        .get("taskRunId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let st = body
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !ALL_STATES.contains(&st.as_str()) {
        return req.validation_error("state", "must be a valid state");
    }
    let Some(e) = t.execution_mut(req.param("executionId")) else {
        return req.not_found();
    };
    if !e.task_runs.iter().any(|r| r.id == tr) {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Illegal argument: No task found to restart execution from!",
        );
    }
    restart_exec(e, now, Some(&tr), Some(&st));
    ok_json(&e.to_json(now))
}

fn replay_exec(core: &Core, src: &Execution, now: DateTime<Utc>) -> Execution {
    let id = core.new_id();
    let mut labels = src.labels.clone();
    set_system_label(&mut labels, "system.restarted", "true");
    set_system_label(&mut labels, "system.replay", "true");
    Execution {
        id,
        original_id: src.original_id.clone(),
        namespace: src.namespace.clone(),
        flow_id: src.flow_id.clone(),
        flow_revision: src.flow_revision,
        tasks: src.tasks.clone(),
        task_runs: Vec::new(),
        inputs: src.inputs.clone(),
        labels,
        state: StateHist::new("CREATED", now),
        schedule_date: None,
        attempt_number: 1,
        created: now,
        trigger: src.trigger.clone(),
        cursor: now,
        parent_id: Some(src.id.clone()),
        flow_outputs: src.flow_outputs.clone(),
        outputs: Map::new(),
    }
}

/// `replay`: a new execution from the same flow revision and inputs. GUESS: `taskRunId` is
/// accepted but the replay starts from the first task.
pub fn replay(req: &Req, core: &Core, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let Some(src) = t.execution(req.param("executionId")).cloned() else {
        return req.not_found();
    };
    let mut e = replay_exec(core, &src, now);
    if req.core.version == crate::KestraVersion::V2_0 {
        // As the create answer (recorded-2.0.0-SNAPSHOT executions/replay-single: RUNNING, its
        // first task run started; v20/inv7-replay-success).
        e.start_v2(now, &|| core.new_id());
    }
    let out = e.to_json(now);
    t.executions.push(e);
    ok_json(&out)
}

pub async fn replay_with_inputs(req: Req) -> Response {
    let core = req.core.clone();
    let id = req.param("executionId").to_string();
    let fields = match form_fields(&req, &id).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut w = core.world();
    let now = core.clock.now();
    let t = w.tenant(&req.tenant);
    let Some(src) = t.execution(&id).cloned() else {
        return req.not_found();
    };
    let mut e = replay_exec(&core, &src, now);
    let defs = t
        .flows
        .get(&(src.namespace.clone(), src.flow_id.clone()))
        .and_then(|f| f.revisions.iter().find(|r| r.revision == src.flow_revision))
        .and_then(|r| r.def.get("inputs").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    match coerce_inputs(&defs, &fields) {
        Ok(i) => e.inputs = i,
        Err((_, msg)) => {
            return req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Invalid entity: {msg}"),
            );
        }
    }
    let out = e.to_json(now);
    t.executions.push(e);
    ok_json(&out)
}

/// `replay/by-ids`: every id must exist, else 400 (recorded executions/replay-by-ids-*).
pub fn replay_by_ids(req: &Req, core: &Core, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("executionsId") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ids: Vec<String> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    let invalids: Vec<(String, &str)> = ids
        .iter()
        .filter(|id| t.execution(id).is_none())
        .map(|id| (id.clone(), "execution not found"))
        .collect();
    if !invalids.is_empty() {
        return bulk_invalid("invalid bulk replay", invalids);
    }
    for id in &ids {
        if let Some(src) = t.execution(id).cloned() {
            let e = replay_exec(core, &src, now);
            t.executions.push(e);
        }
    }
    ok_json(&json!({"count": ids.len()}))
}

/// `change-status`: only to a terminal state, only on a terminated execution (422 otherwise);
/// missing status → 400; unknown state name → 422 (recorded executions/change-status-*).
pub fn change_status(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let status = match req.required_q("status") {
        Ok(s) => s.to_string(),
        Err(r) => return r,
    };
    if let Err(r) = validate_states(req, "status", std::slice::from_ref(&status)) {
        return r;
    }
    let Some(e) = t.execution_mut(req.param("executionId")) else {
        return req.not_found();
    };
    if !is_terminal(&status) {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Illegal argument: You can only change the state of an execution to a terminal state.",
        );
    }
    if !e.state.is_terminal() {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Illegal argument: You can only change the state of a terminated execution.",
        );
    }
    e.state.push(&status, now);
    ok_json(&e.to_json(now))
}

pub fn change_status_by_ids(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let status = match req.required_q("newStatus") {
        Ok(s) => s.to_string(),
        Err(r) => return r,
    };
    if let Err(r) = validate_states(req, "newStatus", std::slice::from_ref(&status)) {
        return r;
    }
    let body = match req.json_body("executionsId") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut count = 0;
    for id in body.as_array().into_iter().flatten().filter_map(Value::as_str) {
        if let Some(e) = t.execution_mut(id)
            && e.state.is_terminal()
            && is_terminal(&status)
        {
            e.state.push(&status, now);
            count += 1;
        }
    }
    ok_json(&json!({"count": count}))
}

fn parse_label_list(req: &Req, body: &Value, op: &str) -> Result<Vec<Value>, Response> {
    let items: Vec<Value> = match body {
        Value::Array(a) => a.clone(),
        // An object is read as one label missing both fields (recorded set-labels-object-not-array).
        other => vec![json!({"key": other.get("key"), "value": other.get("value")})],
    };
    let mut errs = Vec::new();
    let mut out = Vec::new();
    for (i, l) in items.iter().enumerate() {
        let k = l.get("key").and_then(Value::as_str);
        let v = l.get("value").and_then(Value::as_str);
        if k.is_none() {
            errs.push(format!("{op}.labels[{i}].key"));
        }
        if v.is_none() {
            errs.push(format!("{op}.labels[{i}].value"));
        }
        if let (Some(k), Some(v)) = (k, v) {
            out.push(label_json(k, v));
        }
    }
    if !errs.is_empty() {
        let message = format!(
            "Invalid entity: {}",
            errs.iter()
                .map(|p| format!("{p}: must not be null"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let list: Vec<Value> = errs
            .iter()
            .map(|p| json!({"message": "must not be null", "logref": null, "path": p, "_links": {}, "_embedded": {}}))
            .collect();
        return Err(crate::http::json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &crate::http::error_body(&message, &req.href(), Some(Value::Array(list))),
        ));
    }
    Ok(out)
}

/// `labels`: replaces the non-system labels of a terminated execution; the key pattern is not
/// enforced (recorded set-labels-invalid-key); not terminated → 400 with a bare text body
/// typed application/json (recorded set-labels-running).
/// Kestra 1.3 validates label keys (recorded-1.3.0 executions/set-labels-invalid-key: 422; 0.23
/// accepted any key) with Kestra's `Label` pattern `^[\p{Ll}][\p{L}0-9._-]*$`: a lowercase letter
/// first, then letters of either case (`system.correlationId` is valid), digits, `.`, `_`, `-`.
fn v13_check_label_keys(req: &Req, labels: &[Value]) -> Option<Response> {
    let valid = |k: &str| {
        k.starts_with(char::is_lowercase)
            && k.chars()
                .all(|c| c.is_alphabetic() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
    };
    let n = labels
        .iter()
        .position(|l| !valid(l.get("key").and_then(Value::as_str).unwrap_or("")))?;
    Some(req.validation_error(
        &format!("setLabelsOnTerminatedExecution.labels[{n}].key"),
        "Invalid label key. A valid key contains only lowercase letters numbers hyphens (-) \
         underscores (_) or periods (.) and must begin with a lowercase letter.",
    ))
}

pub fn set_labels(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("labels") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let labels = match parse_label_list(req, &body, "setLabelsOnTerminatedExecution") {
        Ok(l) => l,
        Err(r) => return r,
    };
    // 2.0 validates them the same way (recorded-2.0.0-SNAPSHOT executions/set-labels-invalid-key).
    if let Some(r) = v13_check_label_keys(req, &labels) {
        return r;
    }
    let Some(e) = t.execution_mut(req.param("executionId")) else {
        return req.not_found();
    };
    if !e.state.is_terminal() {
        return text(
            StatusCode::BAD_REQUEST,
            "application/json",
            Body::from("The execution is not terminated"),
        );
    }
    e.labels.retain(|l| {
        l.get("key")
            .and_then(Value::as_str)
            .is_some_and(|k| k.starts_with("system."))
    });
    let mut system = std::mem::take(&mut e.labels);
    e.labels = labels;
    e.labels.append(&mut system);
    ok_json(&e.to_json(now))
}

pub fn labels_by_ids(req: &Req, t: &mut Tenant) -> Response {
    let body = match req.json_body("setLabelsByIds") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let labels = match parse_label_list(
        req,
        body.get("executionLabels").unwrap_or(&json!([])),
        "setLabelsOnTerminatedExecutionsByIds",
    ) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut count = 0;
    for id in body
        .get("executionsId")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(e) = t.execution_mut(id)
            && e.state.is_terminal()
        {
            for l in &labels {
                let k = l.get("key").and_then(Value::as_str).unwrap_or("");
                set_system_label(
                    &mut e.labels,
                    k,
                    l.get("value").and_then(Value::as_str).unwrap_or(""),
                );
            }
            count += 1;
        }
    }
    ok_json(&json!({"count": count}))
}

pub fn delete_by_ids(req: &Req, t: &mut Tenant) -> Response {
    let body = match req.json_body("executionsId") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ids: Vec<&str> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let before = t.executions.len();
    t.executions.retain(|e| !ids.contains(&e.id.as_str()));
    ok_json(&json!({"count": before - t.executions.len()}))
}

/// `GET /executions/{id}/follow` (SSE): a `start` stub, `progress` on each change, `end` when
/// terminated, then the stream closes. A real server keeps the stream open after `end` and
/// for unknown ids (recorded executions/follow-*); the simulator closes it so clients that
/// read to the end do not hang (KNOWN DIFFERENCE).
pub fn follow(req: Req) -> Response {
    let core = req.core.clone();
    let id = req.param("executionId").to_string();
    let tenant = req.tenant.clone();
    let stub = json!({"id": id, "labels": [], "originalId": id, "deleted": false,
                      "metadata": {"attemptNumber": 1, "originalCreatedDate": fmt_time(&core.clock.now())}});
    let first = format!("id: start\ndata: {stub}\n\n");
    let stream = futures_util::stream::unfold(
        (core, tenant, id, Some(first), String::new(), false),
        |(core, tenant, id, pending, last, done)| async move {
            if let Some(p) = pending {
                return Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from(p)),
                    (core, tenant, id, None, last, done),
                ));
            }
            if done {
                return None;
            }
            for _ in 0..60_000 {
                let snapshot = {
                    let mut w = lock(&core.state);
                    let now = core.clock.now();
                    let t = w.tenant(&tenant);
                    tick(&core, t, now);
                    t.execution(&id).map(|e| {
                        let sig = format!(
                            "{}:{}",
                            e.state.histories.len(),
                            e.task_runs.iter().map(|r| r.state.histories.len()).sum::<usize>()
                        );
                        (e.to_json(now), e.state.is_terminal(), sig)
                    })
                };
                let (v, terminal, sig) = snapshot?;
                let s = v.to_string();
                if terminal {
                    let ev = format!("id: end\ndata: {s}\n\n");
                    return Some((Ok(bytes::Bytes::from(ev)), (core, tenant, id, None, sig, true)));
                }
                if sig != last {
                    let ev = format!("id: progress\ndata: {s}\n\n");
                    return Some((Ok(bytes::Bytes::from(ev)), (core, tenant, id, None, sig, false)));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            None
        },
    );
    text(StatusCode::OK, "text/event-stream", Body::from_stream(stream))
}
