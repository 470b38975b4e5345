//! Triggers and backfills (webserver/.../controllers/api/TriggerController.java, recorded
//! triggers.json). 1.3 creates a backfill with `PUT /triggers` (a Trigger body holding
//! `backfill`); 2.0 with `PUT /triggers/backfill/create` (ApiCreateBackfillRequest).
//! A backfill emits one execution per cron slot in [start, end) 1.5 s (simulator clock) after it
//! was created, unless paused, then clears itself (GUESS: a real scheduler emits them
//! progressively; the recorded pairs show it still pending right after creation and done a
//! few seconds later).
//! Cron support is the minute and hour fields (`*`, `N`, `*/N`, `a,b`); other fields are
//! ignored (simplification).

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde_json::{Map, Value, json};

use crate::KestraVersion;
use crate::flows::FlowRev;
use crate::http::{Req, ok_json, paged, paginate};
use crate::state::{Core, Tenant, fmt_time_secs, parse_time};

#[derive(Debug, Clone)]
pub struct Backfill {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub inputs: Map<String, Value>,
    pub labels: Vec<Value>,
    pub paused: bool,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TriggerCtx {
    pub def: Value,
    pub date: DateTime<Utc>,
    pub disabled: bool,
    pub backfill: Option<Backfill>,
    /// 2.0: when the trigger last started an execution (`lastTriggeredDate`).
    pub last_triggered: Option<DateTime<Utc>>,
    /// 2.0: the execution that holds the trigger's lock (`executionId`, `locked: true`).
    pub locked_by: Option<String>,
}

fn cron_field_matches(field: &str, v: u32) -> bool {
    field.split(',').any(|part| {
        if part == "*" {
            return true;
        }
        if let Some(step) = part.strip_prefix("*/") {
            return step.parse::<u32>().is_ok_and(|s| s > 0 && v.is_multiple_of(s));
        }
        part.parse::<u32>().is_ok_and(|n| n == v)
    })
}

fn cron_of(def: &Value) -> Option<(String, String)> {
    let cron = def.get("cron").and_then(Value::as_str)?;
    let cron = match cron {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        other => other,
    };
    let f: Vec<&str> = cron.split_whitespace().collect();
    Some((f.first()?.to_string(), f.get(1)?.to_string()))
}

/// Cron slots in [from, to), at most `limit`.
pub(crate) fn slots(def: &Value, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
    let Some((m, h)) = cron_of(def) else {
        return Vec::new();
    };
    let mut t = from
        .with_second(0)
        .and_then(|x| x.with_nanosecond(0))
        .unwrap_or(from);
    if t < from {
        t += TimeDelta::minutes(1);
    }
    let mut out = Vec::new();
    while t < to && out.len() < limit {
        if cron_field_matches(&m, t.minute()) && cron_field_matches(&h, t.hour()) {
            out.push(t);
        }
        t += TimeDelta::minutes(1);
    }
    out
}

fn next_date(def: &Value, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    slots(def, now + TimeDelta::seconds(1), now + TimeDelta::days(8), 1)
        .first()
        .copied()
}

/// Keeps the trigger contexts in line with a flow revision's `triggers`.
pub fn sync_flow(req: &Req, t: &mut Tenant, rev: &FlowRev) {
    let ns = rev
        .def
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let id = rev
        .def
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let defs: Vec<Value> = rev
        .def
        .get("triggers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ids: Vec<String> = defs
        .iter()
        .filter_map(|d| d.get("id").and_then(Value::as_str))
        .map(String::from)
        .collect();
    t.triggers
        .retain(|(n, f, tr), _| !(n == &ns && f == &id && !ids.contains(tr)));
    let now = req.core.clock.now();
    for d in defs {
        let tid = d.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        let ctx = t
            .triggers
            .entry((ns.clone(), id.clone(), tid))
            .or_insert(TriggerCtx {
                def: d.clone(),
                date: now,
                disabled: false,
                backfill: None,
                last_triggered: None,
                locked_by: None,
            });
        ctx.def = d;
    }
}

/// The trigger context in the version's shape: 1.3 `Trigger` (TriggerContext), 2.0
/// `ApiTriggerState` (2.0 description: no tenantId, `updatedAt`, `nextEvaluationDate`, `locked`).
fn state_json(
    v: KestraVersion,
    tenant: &str,
    k: &(String, String, String),
    c: &TriggerCtx,
    now: DateTime<Utc>,
) -> Value {
    let mut j = ctx_json(tenant, k, c, now);
    if v == KestraVersion::V2_0
        && let Value::Object(m) = &mut j
    {
        m.remove("tenantId");
        let date = m.remove("date").unwrap_or(Value::Null);
        m.insert("updatedAt".into(), date.clone());
        m.insert("evaluatedAt".into(), date);
        if let Some(n) = m.remove("nextExecutionDate") {
            m.insert("nextEvaluationDate".into(), n);
        }
        m.insert("locked".into(), json!(c.locked_by.is_some()));
        if let Some(id) = &c.locked_by {
            m.insert("executionId".into(), json!(id));
        }
        if let Some(d) = &c.last_triggered {
            m.insert("lastTriggeredDate".into(), json!(fmt_time_secs(d)));
        }
        // 2.0 trigger states say what kind of trigger they belong to (triggers/for-flow,
        // triggers/search: `"kind": "SCHEDULE"`). GUESS: FLOW for a Flow trigger.
        let ty = c.def.get("type").and_then(Value::as_str).unwrap_or("");
        let kind = if ty.ends_with("trigger.Flow") {
            "FLOW"
        } else {
            "SCHEDULE"
        };
        m.insert("kind".into(), json!(kind));
    }
    j
}

fn trigger_def(v: KestraVersion, def: &Value) -> Value {
    let mut d = def.clone();
    if v == KestraVersion::V2_0 {
        // GUESS (see flows::render): `when` is required in 2.0 and reads back "true".
        if let Value::Object(o) = &mut d {
            o.entry("when").or_insert(json!("true"));
        }
    }
    d
}

fn ctx_json(tenant: &str, k: &(String, String, String), c: &TriggerCtx, now: DateTime<Utc>) -> Value {
    let mut m = Map::new();
    m.insert("tenantId".into(), json!(tenant));
    m.insert("namespace".into(), json!(k.0));
    m.insert("flowId".into(), json!(k.1));
    m.insert("triggerId".into(), json!(k.2));
    m.insert("date".into(), json!(fmt_time_secs(&c.date)));
    if let Some(n) = next_date(&c.def, now) {
        m.insert("nextExecutionDate".into(), json!(fmt_time_secs(&n)));
    }
    if let Some(b) = &c.backfill {
        m.insert(
            "backfill".into(),
            json!({"start": fmt_time_secs(&b.start), "end": fmt_time_secs(&b.end),
                   "currentDate": fmt_time_secs(&b.start), "previousNextExecutionDate": next_date(&c.def, now).map(|d| fmt_time_secs(&d)),
                   "inputs": b.inputs, "labels": b.labels, "paused": b.paused}),
        );
    }
    m.insert("disabled".into(), json!(c.disabled));
    Value::Object(m)
}

/// Emits the executions of due backfills.
pub fn tick(core: &Core, t: &mut Tenant, now: DateTime<Utc>) {
    if core.version == KestraVersion::V2_0 {
        return crate::v2::backfill_tick(core, t, now);
    }
    // GUESS: a backfill completes 1.5 s after its creation on the simulator's clock.
    let delay = TimeDelta::milliseconds(1500);
    let due: Vec<(String, String, String)> = t
        .triggers
        .iter()
        .filter(|(_, c)| {
            c.backfill
                .as_ref()
                .is_some_and(|b| !b.paused && now >= b.created + delay)
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in due {
        let Some(ctx) = t.triggers.get_mut(&k) else {
            continue;
        };
        let Some(b) = ctx.backfill.take() else { continue };
        let def = ctx.def.clone();
        let Some(rev) = t
            .flows
            .get(&(k.0.clone(), k.1.clone()))
            .and_then(|e| e.live())
            .cloned()
        else {
            continue;
        };
        let input_defs = rev
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
        let inputs = crate::executions::coerce_inputs(&input_defs, &given).unwrap_or_default();
        for slot in slots(&def, b.start, b.end, 500) {
            let mut labels = b.labels.clone();
            labels.push(json!({"key": "system.backfill", "value": "true"}));
            let trigger = json!({"id": k.2, "type": def.get("type"), "variables": {"date": fmt_time_secs(&slot), "backfill": true}});
            let e = crate::executions::new_execution(
                core,
                "",
                &rev,
                inputs.clone(),
                labels,
                None,
                now,
                Some(trigger),
            );
            t.executions.push(e);
        }
    }
}

fn find_flow_trigger<'a>(
    req: &Req,
    t: &'a mut Tenant,
    body: &Value,
) -> Result<(&'a mut TriggerCtx, (String, String, String)), Response> {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (ns, flow, trig) = (s("namespace"), s("flowId"), s("triggerId"));
    if crate::http::climbing(&ns) || crate::http::climbing(&flow) {
        return Err(req.error(
            StatusCode::BAD_REQUEST,
            "Bad Request: climbing namespace or id (refused by the simulator)",
        ));
    }
    if t.flows
        .get(&(ns.clone(), flow.clone()))
        .and_then(|e| e.live())
        .is_none()
    {
        return Err(req.error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: Flow of trigger {trig} not found"),
        ));
    }
    let k = (ns, flow.clone(), trig.clone());
    match t.triggers.get_mut(&k) {
        Some(c) => Ok((c, k)),
        None => Err(req.error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: Flow {flow} has no trigger {trig}"),
        )),
    }
}

fn parse_backfill(req: &Req, b: &Value, now: DateTime<Utc>) -> Result<Backfill, Response> {
    let bad = |f: &str| req.validation_error(&format!("backfill.{f}"), "must be a valid date-time");
    let start = b
        .get("start")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or_else(|| bad("start"))?;
    let end = match b.get("end").and_then(Value::as_str) {
        Some(e) => parse_time(e).ok_or_else(|| bad("end"))?,
        None => now,
    };
    Ok(Backfill {
        start,
        end,
        inputs: b
            .get("inputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        labels: b
            .get("labels")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        paused: b.get("paused").and_then(Value::as_bool).unwrap_or(false),
        created: now,
    })
}

/// 1.3 `PUT /triggers` (updateTrigger, a 1.3-only route). Without `tenantId` in the body 1.3.0
/// answers 200 (recorded-1.3.0 triggers/backfill-create-mcp-payload-no-tenantId,
/// triggers/update-disable-trigger-no-tenantId; 0.23 answered 404). GUESS: another tenant's id
/// is still looked up by its uid and not found (404), as 0.23 did for a missing one.
pub fn update(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("newTrigger") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let tenant_id = body.get("tenantId").and_then(Value::as_str);
    if tenant_id.is_some_and(|id| id != req.tenant) {
        // Flow/trigger existence errors still come first when they apply (recorded 318-320).
        if let Err(r) = find_flow_trigger(req, t, &body) {
            return r;
        }
        return req.not_found();
    }
    let backfill = match body.get("backfill").filter(|b| !b.is_null()) {
        Some(b) => match parse_backfill(req, b, now) {
            Ok(b) => Some(b),
            Err(r) => return r,
        },
        None => None,
    };
    let (ctx, k) = match find_flow_trigger(req, t, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(b) = backfill {
        ctx.backfill = Some(b);
    }
    if let Some(d) = body.get("disabled").and_then(Value::as_bool) {
        ctx.disabled = d;
    }
    ok_json(&state_json(req.core.version, &req.tenant, &k, ctx, now))
}

/// 2.0 `PUT /triggers/backfill/create`.
pub fn backfill_create(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("request") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let b = match parse_backfill(req, body.get("backfill").unwrap_or(&Value::Null), now) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let k = match find_flow_trigger(req, t, &body) {
        Ok((ctx, k)) => {
            ctx.backfill = Some(b);
            k
        }
        Err(r) => return r,
    };
    // The scheduler evaluates the trigger again (see v2::release_finished_locks).
    t.v2.backfill_deleted.remove(&k);
    // A new backfill starts from its first slot.
    t.v2.backfill_emitted.remove(&k);
    crate::v2::release_finished_locks(t, now);
    match t.triggers.get(&k) {
        Some(ctx) => ok_json(&state_json(req.core.version, &req.tenant, &k, ctx, now)),
        None => req.not_found(),
    }
}

pub fn backfill_set(req: &Req, t: &mut Tenant, now: DateTime<Utc>, action: &str) -> Response {
    let body = match req.json_body("trigger") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (ctx, k) = match find_flow_trigger(req, t, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(b) = ctx.backfill.as_mut() else {
        if req.core.version == KestraVersion::V2_0 && action == "delete" {
            // 2.0: deleting a backfill that already completed answers the trigger state
            // (recorded 2.0 triggers/backfill-delete-finished → 200).
            return ok_json(&state_json(req.core.version, &req.tenant, &k, ctx, now));
        }
        return req.error(StatusCode::BAD_REQUEST, "Bad Request: No backfill found");
    };
    match action {
        "pause" => b.paused = true,
        "unpause" => b.paused = false,
        _ => ctx.backfill = None,
    }
    let out = state_json(req.core.version, &req.tenant, &k, ctx, now);
    if action == "delete" {
        t.v2.backfill_deleted.insert(k);
    }
    ok_json(&out)
}

pub fn set_disabled(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("request") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let disabled = body.get("disabled").and_then(Value::as_bool).unwrap_or(false);
    let (ctx, k) = match find_flow_trigger(req, t, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    ctx.disabled = disabled;
    ok_json(&state_json(req.core.version, &req.tenant, &k, ctx, now))
}

pub fn set_disabled_by_triggers(req: &Req, t: &mut Tenant) -> Response {
    let body = match req.json_body("request") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let disabled = body.get("disabled").and_then(Value::as_bool).unwrap_or(false);
    let mut count = 0;
    for tr in body
        .get("triggers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |k: &str| tr.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        if let Some(c) = t.triggers.get_mut(&(s("namespace"), s("flowId"), s("triggerId"))) {
            c.disabled = disabled;
            count += 1;
        }
    }
    ok_json(&json!({"count": count}))
}

pub fn search(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    let (page, size) = match req.paging("searchTriggers") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let nss = req.filter_values("namespace");
    let flows = req.filter_values("flowId");
    let items: Vec<Value> = t
        .triggers
        .iter()
        .filter(|(k, _)| {
            nss.iter().all(|n| crate::flows::ns_matches(n, &k.0)) && flows.iter().all(|f| *f == k.1)
        })
        .map(|(k, c)| match req.core.version {
            KestraVersion::V1_3 => {
                json!({"abstractTrigger": c.def, "triggerContext": ctx_json(&req.tenant, k, c, now)})
            }
            // 2.0: ApiTriggerAndState {trigger, state} (2.0 description).
            KestraVersion::V2_0 => json!({
                "trigger": trigger_def(req.core.version, &c.def),
                "state": state_json(req.core.version, &req.tenant, k, c, now),
            }),
        })
        .collect();
    let total = items.len();
    ok_json(&paged(paginate(&items, page, size), total))
}

pub fn of_flow(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    let (ns, flow) = (req.param("namespace"), req.param("flowId"));
    let items: Vec<Value> = t
        .triggers
        .iter()
        .filter(|(k, _)| k.0 == ns && k.1 == flow)
        .map(|(k, c)| match req.core.version {
            KestraVersion::V1_3 => ctx_json(&req.tenant, k, c, now),
            // 2.0 answers the trigger states (triggers/for-flow).
            KestraVersion::V2_0 => state_json(req.core.version, &req.tenant, k, c, now),
        })
        .collect();
    let total = items.len();
    ok_json(&paged(items, total))
}

/// Triggers are never locked in the simulator: 409 (recorded triggers/unlock).
pub fn unlock(req: &Req) -> Response {
    req.error(StatusCode::CONFLICT, "Illegal state: Trigger is not locked")
}
