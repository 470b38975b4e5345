//! Rules only Kestra 2.0 follows: the simulator's 2.0 mode on top of the shared handlers.
//!
//! `handle` (lib.rs) calls [`before`] ahead of the shared handler (refusals, endpoints and
//! query rewriting that exist only on 2.0) and [`after`] on its answer (2.0's response shapes).
//! Every rule cites the pair of the corpus recorded from a real 2.0.0-SNAPSHOT server
//! (tests/recorded-2.0.0-SNAPSHOT, `file/name`) that shows it, or says GUESS.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use crate::http::{Req, json_response, ok_json, text};
use crate::routes::Op;
use crate::state::{Core, SharedCore, Tenant, fmt_time_secs};

/// 2.0-only state kept per tenant.
#[derive(Debug, Default)]
pub struct V2State {
    /// (namespace, flowId) → when the flow topology of its latest revision becomes visible.
    pub topology_at: BTreeMap<(String, String), DateTime<Utc>>,
    /// (namespace, flowId, triggerId) → backfill slots already emitted.
    pub backfill_emitted: BTreeMap<(String, String, String), usize>,
    /// (namespace, flowId, triggerId) whose backfill was deleted (the scheduler stops
    /// evaluating it until a new backfill is created: see `release_finished_locks`).
    pub backfill_deleted: std::collections::BTreeSet<(String, String, String)>,
}

/// How long after a flow is saved its dependencies appear. The flow topology is computed
/// asynchronously from the flow queue (Kestra's FlowServiceTest awaits it: "check that topology
/// has been inserted", `await().atMost(10s)`); the e2e scenario namespaces_and_dependencies saw
/// `{"nodes":[],"edges":[]}` right after creating the flows on a real 2.0, while the recorded
/// `flows/dependencies-hello` (23 requests after `flows/create-parent`) has the edge.
/// GUESS: two seconds.
pub const TOPOLOGY_DELAY: TimeDelta = TimeDelta::seconds(2);

/// Backfill pacing: the first slot `FIRST_SLOT_AFTER` after the backfill's creation, then one
/// per `SLOT_EVERY`, each execution created at its own instant (v20/inv3-executions-t10s: the 3
/// executions created 0.92 s, 1.95 s and 2.94 s after v20/inv3-backfill-create).
/// On the replay clock (1 s per request) v20/inv3-executions-t0 cannot match: it was sent less
/// than 0.9 s after the create, while triggers/backfill-pause, sent as soon after its create,
/// already shows the first slot triggered; 0.9 s follows the latter and the execution times.
const FIRST_SLOT_AFTER: TimeDelta = TimeDelta::milliseconds(900);
const SLOT_EVERY: TimeDelta = TimeDelta::seconds(1);

/// Query parameters that 2.0 still reads on the endpoints whose legacy parameters it ignores.
const KEPT_PARAMS: &[&str] = &["page", "size", "sort", "isOnKillCascade"];

/// Filter operations allowed per field where 2.0 restricts them, with the field's name as
/// Kestra prints it (logs/search-filters-syntax, v20/inv5-logs-eq-warn, v20/inv5-search-eq-warn).
const FILTER_OPS: &[(&str, &str, &[&str])] = &[(
    "level",
    "LEVEL",
    &["GREATER_THAN_OR_EQUAL_TO", "LESS_THAN_OR_EQUAL_TO"],
)];

const LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// Answers a request 2.0 treats differently before the shared handler runs; may rewrite the
/// query (legacy parameters). `None` lets the shared handler answer.
pub fn before(op: Op, req: &mut Req) -> Option<Response> {
    if ignores_legacy_params(op) {
        drop_legacy_params(req);
    }
    if let Some(r) = check_filter_operations(req) {
        return Some(r);
    }
    match op {
        Op::AiGenerate => ai_not_configured(req),
        // OSS's default "Free tier" provider, the only one without configuration.
        Op::AiProviders => Some(ok_json(
            &json!([{"id": "api", "displayName": "Free tier", "isDefault": true}]),
        )),
        Op::CreateFlow => refuse_flow(req),
        Op::ListOutputs | Op::GetOutputs => Some(with_tenant(req, |req, t| outputs(op, req, t))),
        Op::Restart
        | Op::ForceRun
        | Op::Unqueue
        | Op::ChangeStatus
        | Op::ChangeTaskRunState
        | Op::KillByIds => with_tenant(req, |req, t| refuse_action(op, req, t)),
        Op::MoveFile => with_tenant(req, move_file),
        Op::FlowDependencies | Op::NamespaceDependencies => {
            Some(with_tenant(req, |req, t| dependencies_once_indexed(op, req, t)))
        }
        _ => None,
    }
}

/// Runs `f` on the request's tenant with the world advanced to now.
fn with_tenant<T>(req: &Req, f: impl FnOnce(&Req, &mut Tenant) -> T) -> T {
    let core = req.core.clone();
    let mut w = core.world();
    let now = core.clock.now();
    let t = w.tenant(&req.tenant);
    crate::executions::tick(&core, t, now);
    f(req, t)
}

/// `/executions/search` and the log endpoints read only `filters[...]` on 2.0: a legacy
/// parameter is ignored, not refused (executions/search-bad-state and search-bad-date → 200
/// with everything; logs/logs-of-execution-bad-level `minLevel=LOUD` → 200;
/// v20/inv5-logs-minLevel-warn → all levels; logs/logs-of-execution-taskId → both tasks).
/// `/flows/search` too: `q`, `query` and `namespace` select nothing (flows/search-q-Sleep,
/// search-mcp-search_flows and search-mcp-find_flow → all 9 flows, company.bulk's included,
/// where 1.3 answered the one match); only `filters[q|namespace|labels]` filter.
fn ignores_legacy_params(op: Op) -> bool {
    matches!(
        op,
        Op::SearchExecutions
            | Op::SearchLogs
            | Op::ListLogs
            | Op::DownloadLogs
            | Op::FollowLogs
            | Op::SearchFlows
    )
}

fn drop_legacy_params(req: &mut Req) {
    req.query
        .retain(|(k, _)| k.starts_with("filters[") || KEPT_PARAMS.contains(&k.as_str()));
}

/// 400 for an operation the field does not support, 422 for an unknown log level
/// (v20/inv5-logs-gte-bogus: `Illegal argument: No enum constant org.slf4j.event.Level.LOUD`).
/// Checked on every endpoint; on `GET /logs/{id}/follow` it is a GUESS (not recorded).
/// `LESS_THAN_OR_EQUAL_TO` is accepted but filters like a minimum (the shared log filter).
fn check_filter_operations(req: &Req) -> Option<Response> {
    for (field, op, value) in req.filters() {
        let Some((_, shown, allowed)) = FILTER_OPS.iter().find(|(f, _, _)| *f == field) else {
            continue;
        };
        if !allowed.contains(&op.as_str()) {
            return Some(req.error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Invalid query filters: Provided query filters are invalid: Operation {op} is not supported for field {shown}. Supported operations are {}",
                    allowed.join(", ")
                ),
            ));
        }
        if field == "level" && !LOG_LEVELS.contains(&value.as_str()) {
            return Some(req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Illegal argument: No enum constant org.slf4j.event.Level.{value}"),
            ));
        }
    }
    None
}

/// `/ai/generate/{flow,dashboard}` on a server without an AI provider: 500 (an NPE in the
/// free-tier provider; v20/inv4-ai-generate-flow, misc/ee-ai-generate-dashboard), or with a
/// `providerId` 503 `application/yaml` text (v20/inv4-ai-generate-flow-providerId).
/// `/ai/generate/{app,test}` (Enterprise) keep the shared canned answers.
fn ai_not_configured(req: &Req) -> Option<Response> {
    let what = req.raw_path.rsplit('/').next().unwrap_or("");
    if !matches!(what, "flow" | "dashboard") {
        return None;
    }
    let body = match req.json_body("request") {
        Ok(b) => b,
        Err(r) => return Some(r),
    };
    if body.get("providerId").is_some_and(|p| !p.is_null()) {
        return Some(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/yaml",
            "AI Copilot is not available: no AI provider is configured or reachable.",
        ));
    }
    Some(req.error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"))
}

/// Flow creation takes YAML only (errors/flow-create-json-flow and
/// errors/flow-create-content-type-json-with-yaml → 415); the Flow trigger lost `preconditions`
/// (flows/create-downstream → 422); the BOOLEAN input type is gone (GUESS: refused like an
/// unknown type; the corpus only shows BOOL).
fn refuse_flow(req: &Req) -> Option<Response> {
    if req.content_type().as_deref() == Some("application/json") {
        return Some(req.error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type: Content Type [application/json] not allowed. Allowed types: [application/x-yaml]",
        ));
    }
    let def: Value = yaml_serde::from_str(&req.body_str()).ok()?;
    let flow_trigger_with_preconditions = def
        .get("triggers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|t| {
            t.get("type")
                .and_then(Value::as_str)
                .is_some_and(|ty| ty.ends_with("trigger.Flow"))
                && t.get("preconditions").is_some()
        });
    if flow_trigger_with_preconditions {
        return Some(req.validation_error_raw(
            "Invalid entity: Unrecognized field \"preconditions\" (class io.kestra.plugin.core.trigger.Flow), not marked as ignorable",
            "io.kestra.core.models.flows.FlowWithSource[\"triggers\"]->java.util.ArrayList[0]->io.kestra.plugin.core.trigger.Flow[\"preconditions\"]",
        ));
    }
    let boolean_input = def
        .get("inputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(pause_inputs(&def).iter())
        .any(|i| i.get("type").and_then(Value::as_str) == Some("BOOLEAN"));
    if boolean_input {
        return Some(req.validation_error_raw(
            "Invalid entity: Could not resolve type id 'BOOLEAN' as a subtype of `io.kestra.core.models.flows.Input<java.lang.Object>`",
            "inputs",
        ));
    }
    None
}

/// The `onResume` inputs of the flow's Pause tasks (top level).
fn pause_inputs(def: &Value) -> Vec<Value> {
    def.get("tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("onResume").and_then(Value::as_array))
        .flatten()
        .cloned()
        .collect()
}

/// `GET /outputs/{executionId}`: the task runs that have outputs (v20/inv2-outputs-all-taskruns);
/// `GET /outputs/{executionId}/{taskRunId}`: its outputs (v20/inv2-outputs-terminated), 500 for
/// an unknown task run (v20/inv2-outputs-unknown-taskrun), 404 for an unknown execution
/// (v20/inv2-outputs-unknown-execution).
fn outputs(op: Op, req: &Req, t: &mut Tenant) -> Response {
    let Some(e) = t.execution(req.param("executionId")) else {
        return req.not_found();
    };
    let has_outputs = |o: &Option<Value>| {
        o.as_ref()
            .is_some_and(|v| !v.is_null() && v.as_object().is_none_or(|m| !m.is_empty()))
    };
    if op == Op::ListOutputs {
        let list: Vec<Value> = e
            .task_runs
            .iter()
            .filter(|r| has_outputs(&r.outputs))
            .map(|r| json!({"taskId": r.task_id, "taskRunId": r.id, "inline": true}))
            .collect();
        return ok_json(&Value::Array(list));
    }
    let id = req.param("taskRunId");
    match e.task_runs.iter().find(|r| r.id == id) {
        Some(r) => ok_json(&task_run_outputs(r)),
        None => req.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "Internal server error: Can't find taskrun with taskrunId '{id}' on execution '{}'",
                e.id
            ),
        ),
    }
}

/// A task run's outputs; a resumed Pause task also says when and to what it was resumed
/// (`resumed: {on, to}`, v20/inv2-outputs-terminated).
fn task_run_outputs(r: &crate::executions::TaskRun) -> Value {
    let mut out = r.outputs.clone().filter(|o| !o.is_null()).unwrap_or(json!({}));
    if r.task_type.ends_with(".Pause")
        && r.state.is_terminal()
        && let Some(m) = out.as_object_mut()
    {
        let on = crate::state::fmt_time(&r.state.last_date());
        m.insert("resumed".into(), json!({"on": on, "to": r.state.current()}));
    }
    out
}

/// Action refusals are 409 `Conflict: …` on 2.0 (1.3: 422).
fn refuse_action(op: Op, req: &Req, t: &mut Tenant) -> Option<Response> {
    if op == Op::KillByIds {
        return refuse_bulk_kill(req, t);
    }
    let e = t.execution(req.param("executionId"))?;
    let state = e.state.current().to_string();
    let terminal = e.state.is_terminal();
    let conflict = |m: &str| Some(req.error(StatusCode::CONFLICT, &format!("Conflict: {m}")));
    match op {
        // executions/restart-success, v20/inv7-restart-killed. GUESS: the message's "or
        // paused" is not followed (a PAUSED run was not restarted in the recording).
        Op::Restart if state != "FAILED" => conflict(&format!(
            "Cannot restart execution: current state is '{state}', expected terminated or paused."
        )),
        // A FAILED execution without a failed task run (set FAILED by change-status): Kestra's
        // `taskRunToRestart` finds nothing, and 2.0 wraps it like the recorded
        // executions/state-unknown-taskrun. GUESS: the action is named 'Restart' (not recorded).
        Op::Restart if !crate::executions::has_task_to_restart(e) => conflict(&format!(
            "Failed to execute action 'Restart' on execution {} (operation_id={}). Cause: No task found to restart execution from!",
            e.id,
            req.core.new_id()
        )),
        // executions/force-run-terminated, v20/inv7-force-run-success.
        Op::ForceRun if terminal => {
            conflict("Cannot force run execution: only non-terminated executions can be force run.")
        }
        // v20/inv7-unqueue-success.
        Op::Unqueue if state != "QUEUED" => {
            conflict("Cannot unqueue execution: only QUEUED executions can be unqueued.")
        }
        // executions/change-status-running, v20/inv7-change-status-killed-to-success.
        Op::ChangeStatus if !terminal || state == "KILLED" => {
            conflict("Cannot change execution state: execution must be terminated and not killed.")
        }
        // executions/state-unknown-taskrun.
        Op::ChangeTaskRunState => {
            let body = req.json_body("request").ok()?;
            let run = body.get("taskRunId").and_then(Value::as_str).unwrap_or("");
            if e.task_runs.iter().any(|r| r.id == run) {
                return None;
            }
            conflict(&format!(
                "Failed to execute action 'Change task run state' on execution {} (operation_id={}). Cause: No task found to restart execution from!",
                e.id,
                req.core.new_id()
            ))
        }
        _ => None,
    }
}

/// Bulk kill of a finished execution → 400 `invalid bulk kill` (v20/inv7-kill-by-ids).
fn refuse_bulk_kill(req: &Req, t: &Tenant) -> Option<Response> {
    let body = req.json_body("executionsId").ok()?;
    let invalids: Vec<Value> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|id| match t.execution(id) {
            None => Some(bulk_invalid(id, "execution not found")),
            Some(e) if e.state.is_terminal() => Some(bulk_invalid(id, "execution already finished")),
            Some(_) => None,
        })
        .collect();
    if invalids.is_empty() {
        return None;
    }
    Some(json_response(
        StatusCode::BAD_REQUEST,
        &json!({"message": "invalid bulk kill", "invalids": invalids}),
    ))
}

fn bulk_invalid(id: &str, message: &str) -> Value {
    json!({"message": message, "rootBean": id, "rootBeanClass": "java.lang.String", "leafBean": id,
           "propertyPath": [{"name": "execution", "kind": "PROPERTY", "inIterable": false}],
           "invalidValue": id, "messageTemplate": "{messageTemplate}", "executableParameters": []})
}

/// Namespace file moves on 2.0: a missing source is a no-op 200
/// (namespace-files/move-missing-source); a missing target directory is created
/// (namespace-files/v13-move-file-into-missing-dir, v13-read-m-after-missing-dir-move); an
/// existing target file is refused with 500 (namespace-files/v13-move-file-to-existing-file;
/// 1.3 overwrote it). A directory move keeps its files: the shared move does that
/// (namespace-files/v13-list-d2-sub-after-move, v13-read-d2-sub-a).
fn move_file(req: &Req, t: &mut Tenant) -> Option<Response> {
    let (from, to) = (req.q("from")?, req.q("to")?);
    if from.split('/').chain(to.split('/')).any(|s| s == "..") {
        return None;
    }
    let (from, to) = (file_path(from), file_path(to));
    let ns = req.param("namespace").to_string();
    let tree = t.files.entry(ns.clone()).or_default();
    if !tree.contains_key(&from) {
        return Some(crate::http::empty(StatusCode::OK));
    }
    if tree.get(&to).is_some_and(|n| !n.dir) {
        return Some(req.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Internal server error: File '{to}' already exists in namespace '{ns}'."),
        ));
    }
    let now = req.core.clock.now().timestamp_millis();
    let mut dir = String::new();
    let segments: Vec<&str> = to.trim_matches('/').split('/').collect();
    for seg in segments.iter().take(segments.len().saturating_sub(1)) {
        dir = format!("{dir}/{seg}");
        tree.entry(dir.clone()).or_insert_with(|| crate::files::Node {
            dir: true,
            content: bytes::Bytes::new(),
            created: now,
            modified: now,
        });
    }
    None
}

fn file_path(p: &str) -> String {
    format!("/{}", p.trim_matches('/'))
}

/// Dependencies as the flow topology shows them: flows saved less than [`TOPOLOGY_DELAY`] ago
/// are not indexed yet (nor, when the asked flow is one of them, the flow itself: an empty
/// graph, as for an unknown flow, flows/dependencies-unknown-flow).
fn dependencies_once_indexed(op: Op, req: &Req, t: &mut Tenant) -> Response {
    let now = req.core.clock.now();
    let pending: Vec<(String, String)> =
        t.v2.topology_at
            .iter()
            .filter(|(_, at)| now < **at)
            .map(|(k, _)| k.clone())
            .collect();
    let hidden: Vec<_> = pending.iter().filter_map(|k| t.flows.remove_entry(k)).collect();
    let resp = match op {
        Op::FlowDependencies => crate::flows::dependencies(req, t),
        _ => crate::flows::namespace_dependencies(req, t),
    };
    t.flows.extend(hidden);
    resp
}

/// Adapts the shared handler's answer to 2.0's shapes.
pub async fn after(op: Op, core: &SharedCore, tenant: &str, bulk: Option<usize>, resp: Response) -> Response {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    match op {
        // Bulk actions are asynchronous: 202 {operationId, totalItems} (executions/resume-by-ids,
        // executions/replay-by-ids, executions/replay-by-ids-empty-list,
        // triggers/set-disabled-by-triggers).
        // GUESS: restart/by-ids answers as its siblings (only its refusal was recorded).
        Op::ResumeByIds | Op::ReplayByIds | Op::RestartByIds | Op::SetDisabledByTriggers => json_response(
            StatusCode::ACCEPTED,
            &json!({"operationId": core.new_id(), "totalItems": bulk.unwrap_or(0)}),
        ),
        Op::CreateFlow | Op::UpdateFlow => {
            let (resp, body) = read_json(resp).await;
            if let Some(b) = &body {
                index_topology_later(core, tenant, b);
            }
            if op == Op::UpdateFlow {
                return rewrite_json(resp, |b| {
                    for_each_item(b, &mut |f| add_missing(f, "updated", json!(now_str(core))))
                })
                .await;
            }
            resp
        }
        _ if shows_flows(op) => {
            rewrite_json(resp, |b| {
                for_each_item(b, &mut |f| add_missing(f, "updated", json!(now_str(core))))
            })
            .await
        }
        // Namespace files carry `metadata` (namespace-files/stats-file, list-root).
        Op::FileStats | Op::ListDirectory => {
            rewrite_json(resp, |b| {
                for_each_item(b, &mut |f| add_missing(f, "metadata", json!({})))
            })
            .await
        }
        _ if shows_executions(op) => {
            let (resp, body) = read_json(resp).await;
            let read = matches!(
                op,
                Op::GetExecution | Op::SearchExecutions | Op::ListExecutionsByFlow
            );
            match body {
                Some(mut b) => {
                    present_executions(&mut b, tenant, read);
                    let ct = resp.headers().get(axum::http::header::CONTENT_TYPE).cloned();
                    let mut out = json_response(StatusCode::OK, &b);
                    if let Some(ct) = ct {
                        out.headers_mut().insert(axum::http::header::CONTENT_TYPE, ct);
                    }
                    out
                }
                None => resp,
            }
        }
        _ => resp,
    }
}

/// Flows carry an `updated` instant on 2.0 (flows/get-hello, flows/revisions-hello). GUESS: the
/// time of the answer, not of the revision's save.
fn shows_flows(op: Op) -> bool {
    matches!(
        op,
        Op::GetFlow
            | Op::SearchFlows
            | Op::FlowRevisions
            | Op::UpdateFlow
            | Op::BulkFlows
            | Op::ListFlowsByNamespace
    )
}

fn now_str(core: &Core) -> String {
    crate::state::fmt_time(&core.clock.now())
}

/// Applies `f` to a JSON answer, keeping its status and content type.
async fn rewrite_json(resp: Response, f: impl FnOnce(&mut Value)) -> Response {
    let (resp, body) = read_json(resp).await;
    let Some(mut b) = body else { return resp };
    f(&mut b);
    let ct = resp.headers().get(axum::http::header::CONTENT_TYPE).cloned();
    let mut out = json_response(resp.status(), &b);
    if let Some(ct) = ct {
        out.headers_mut().insert(axum::http::header::CONTENT_TYPE, ct);
    }
    out
}

/// `f` on the object, on each item of an array, or on each of `results`.
fn for_each_item(v: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    match v {
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(f),
        Value::Object(m) if m.get("results").is_some_and(Value::is_array) => {
            if let Some(Value::Array(items)) = m.get_mut("results") {
                items.iter_mut().filter_map(Value::as_object_mut).for_each(f);
            }
        }
        Value::Object(m) => f(m),
        _ => {}
    }
}

fn add_missing(m: &mut Map<String, Value>, key: &str, value: Value) {
    m.entry(key).or_insert(value);
}

/// Items of a bulk request body (a JSON array of ids, or `{triggers: [...]}`).
pub fn bulk_items(op: Op, req: &Req) -> Option<usize> {
    if !matches!(
        op,
        Op::ResumeByIds | Op::ReplayByIds | Op::RestartByIds | Op::SetDisabledByTriggers
    ) {
        return None;
    }
    let body: Value = serde_json::from_slice(&req.body).ok()?;
    body.as_array()
        .or_else(|| body.get("triggers").and_then(Value::as_array))
        .map(Vec::len)
}

async fn read_json(resp: Response) -> (Response, Option<Value>) {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let v = serde_json::from_slice(&bytes).ok();
    (Response::from_parts(parts, Body::from(bytes)), v)
}

fn index_topology_later(core: &Core, tenant: &str, flow: &Value) {
    let (Some(ns), Some(id)) = (
        flow.get("namespace").and_then(Value::as_str),
        flow.get("id").and_then(Value::as_str),
    ) else {
        return;
    };
    let at = core.clock.now() + TOPOLOGY_DELAY;
    let mut w = core.world();
    w.tenant(tenant)
        .v2
        .topology_at
        .insert((ns.to_string(), id.to_string()), at);
}

fn shows_executions(op: Op) -> bool {
    matches!(
        op,
        Op::CreateExecution
            | Op::GetExecution
            | Op::SearchExecutions
            | Op::ListExecutionsByFlow
            | Op::Pause
            | Op::Resume
            | Op::Restart
            | Op::Replay
            | Op::ReplayWithInputs
            | Op::ChangeStatus
            | Op::SetLabels
            | Op::ChangeTaskRunState
            | Op::ForceRun
            | Op::Unqueue
            | Op::Kill
    )
}

/// 2.0 executions carry `tenantId` and a relative `url`; their task runs no longer carry
/// outputs: read back (`read`) they have no `outputs` key (executions/get-hello-success), in an
/// action's answer `outputs: null` (v20/inv2-resume-multipart, v20/inv7-kill-running). Outputs
/// moved to `GET /outputs/...` (see [`outputs`]).
fn present_executions(v: &mut Value, tenant: &str, read: bool) {
    if let Some(results) = v.get_mut("results").and_then(Value::as_array_mut) {
        for e in results {
            present_execution(e, tenant, read);
        }
        return;
    }
    present_execution(v, tenant, read);
}

fn present_execution(v: &mut Value, tenant: &str, read: bool) {
    let Some(m) = v.as_object_mut() else { return };
    if !m.contains_key("flowId") || !m.contains_key("state") {
        return;
    }
    let field = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let url = format!(
        "/ui/{tenant}/executions/{}/{}/{}",
        field(m, "namespace"),
        field(m, "flowId"),
        field(m, "id")
    );
    m.insert("tenantId".into(), json!(tenant));
    m.insert("url".into(), json!(url));
    // A read leaves out null inputs, the create answer keeps them (executions/
    // get-all_inputs-typed-no-secret has no `sec`, create-all_inputs-typed-no-secret-wait `"sec": null`).
    if read && let Some(Value::Object(inputs)) = m.get_mut("inputs") {
        inputs.retain(|_, v| !v.is_null());
    }
    for tr in m
        .get_mut("taskRunList")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(o) = tr.as_object_mut() {
            if read {
                o.remove("outputs");
            } else {
                o.insert("outputs".into(), Value::Null);
            }
        }
    }
}

/// 2.0 backfills: the slots strictly after `start` up to `end` (2.0 starts after the start
/// instant: a 16:00–18:30 hourly window gives 17:00 and 18:00; v20/inv3-backfill-create with
/// v20/inv3-executions-t10s), emitted progressively, one per scheduler tick, each with the
/// backfill's inputs and labels plus `system.from=trigger` and `trigger.variables.{date, next,
/// previous}` (v20/inv3-get-one-backfill-execution); the trigger drops `backfill` once done
/// (v20/inv3-trigger-after).
pub fn backfill_tick(core: &Core, t: &mut Tenant, now: DateTime<Utc>) {
    let keys: Vec<(String, String, String)> = t
        .triggers
        .iter()
        .filter(|(_, c)| c.backfill.as_ref().is_some_and(|b| !b.paused))
        .map(|(k, _)| k.clone())
        .collect();
    for k in keys {
        emit_due_slots(core, t, &k, now);
    }
}

/// A trigger that started an execution stays locked (`locked: true`, `executionId`) until the
/// scheduler evaluates it again after that execution ended: an active backfill is evaluated
/// on every tick, a paused or deleted one is not (triggers/backfill-pause,
/// for-flow-with-paused-backfill, backfill-delete, for-flow-after-backfill-delete: still
/// locked on the 22:00 execution, which took a few hundred ms; backfill-create-full-trigger and
/// for-flow-after-backfill-ran: unlocked, `lastTriggeredDate` kept).
/// The scheduler evaluates once a second: the lock goes at the first evaluation a second or
/// more after the execution ended (GUESS on the timing). Called once the executions have
/// advanced to `now`.
pub fn release_finished_locks(t: &mut Tenant, now: DateTime<Utc>) {
    let Tenant {
        triggers,
        executions,
        v2,
        ..
    } = t;
    for (k, c) in triggers.iter_mut() {
        let Some(id) = &c.locked_by else { continue };
        let evaluated = match &c.backfill {
            Some(b) => !b.paused,
            // A backfill that ran to its end keeps being evaluated; a deleted one does not.
            None => !v2.backfill_deleted.contains(k),
        };
        let ended = executions
            .iter()
            .find(|e| &e.id == id)
            .is_none_or(|e| e.state.is_terminal() && e.cursor + SLOT_EVERY <= now);
        if evaluated && ended {
            c.locked_by = None;
        }
    }
}

fn emit_due_slots(core: &Core, t: &mut Tenant, k: &(String, String, String), now: DateTime<Utc>) {
    let Some(ctx) = t.triggers.get(k) else { return };
    let Some(b) = ctx.backfill.clone() else { return };
    let def = ctx.def.clone();
    let Some(rev) = t
        .flows
        .get(&(k.0.clone(), k.1.clone()))
        .and_then(|e| e.live())
        .cloned()
    else {
        return;
    };
    // Strictly after `start`: a start one millisecond before a slot (what backfill_executions
    // sends on 2.0 to include the slot at the window's start) keeps that slot.
    let slots: Vec<DateTime<Utc>> = crate::triggers::slots(
        &def,
        b.start + TimeDelta::nanoseconds(1),
        b.end + TimeDelta::seconds(1),
        500,
    );
    let emitted = t.v2.backfill_emitted.get(k).copied().unwrap_or(0);
    let elapsed = now - b.created;
    let due = if elapsed < FIRST_SLOT_AFTER {
        0
    } else {
        let ticks = (elapsed - FIRST_SLOT_AFTER).num_milliseconds() / SLOT_EVERY.num_milliseconds();
        usize::try_from(ticks + 1).unwrap_or(0).min(slots.len())
    };
    let inputs = backfill_inputs(&rev, &b);
    let mut last = None;
    for (i, slot) in slots.iter().enumerate().take(due).skip(emitted) {
        let at = b.created + FIRST_SLOT_AFTER + SLOT_EVERY * i32::try_from(i).unwrap_or(i32::MAX);
        let mut labels = b.labels.clone();
        labels.push(json!({"key": "system.from", "value": "trigger"}));
        let (previous, next) = cron_neighbours(&def, *slot);
        let trigger = json!({"id": k.2, "type": def.get("type"), "variables": {
            "date": fmt_time_secs(slot), "next": next.map(|d| fmt_time_secs(&d)),
            "previous": previous.map(|d| fmt_time_secs(&d))}});
        let mut e =
            crate::executions::new_execution(core, "", &rev, inputs.clone(), labels, None, at, Some(trigger));
        e.schedule_date = Some(at);
        last = Some((at, e.id.clone()));
        t.executions.push(e);
    }
    if let (Some((at, id)), Some(ctx)) = (last, t.triggers.get_mut(k)) {
        ctx.last_triggered = Some(at);
        ctx.locked_by = Some(id);
    }
    // The backfill leaves the trigger at the evaluation after its last slot (v20/inv3-trigger-t1s
    // still shows it after the executions of the 3-slot window started; v20/inv3-trigger-after
    // no longer does).
    let done = elapsed >= FIRST_SLOT_AFTER + SLOT_EVERY * i32::try_from(slots.len()).unwrap_or(i32::MAX);
    if done {
        t.v2.backfill_emitted.remove(k);
        if let Some(ctx) = t.triggers.get_mut(k) {
            ctx.backfill = None;
        }
    } else {
        t.v2.backfill_emitted.insert(k.clone(), due.max(emitted));
    }
}

/// The cron slots before and after `slot` (`trigger.variables.previous/next`: 20:00 and 22:00
/// around 21:00 in v20/inv3-executions-t10s, whatever the window).
fn cron_neighbours(def: &Value, slot: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let previous = crate::triggers::slots(def, slot - TimeDelta::days(1), slot, 2000)
        .last()
        .copied();
    let next = crate::triggers::slots(def, slot + TimeDelta::seconds(1), slot + TimeDelta::days(1), 1)
        .first()
        .copied();
    (previous, next)
}

fn backfill_inputs(rev: &crate::flows::FlowRev, b: &crate::triggers::Backfill) -> Map<String, Value> {
    let defs = rev
        .def
        .get("inputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let given: Vec<(String, String)> = b
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), crate::flows::scalar_string(v)))
        .collect();
    crate::executions::coerce_inputs(&defs, &given).unwrap_or_default()
}
