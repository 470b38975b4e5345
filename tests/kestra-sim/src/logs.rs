//! Execution logs: list (1.3 `minLevel`/`taskRunId`/`taskId`/`attempt`, 2.0 `filters`),
//! download as text, search, delete, and the SSE follow stream.
//! Modelled on webserver/.../controllers/api/LogController.java and recorded logs.json.

use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::KestraVersion;
use crate::http::{Req, empty, ok_json, paged, paginate, text};
use crate::state::{Tenant, fmt_time, lock, parse_time};

const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

fn rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap_or(2)
}

#[allow(clippy::too_many_arguments)]
pub fn entry(
    namespace: &str,
    flow_id: &str,
    task_id: &str,
    execution_id: &str,
    task_run_id: &str,
    attempt: usize,
    at: DateTime<Utc>,
    level: &str,
    message: &str,
) -> Value {
    json!({
        "namespace": namespace, "flowId": flow_id, "taskId": task_id,
        "executionId": execution_id, "taskRunId": task_run_id, "attemptNumber": attempt,
        "timestamp": fmt_time(&at), "level": level, "thread": "worker_0",
        "message": message, "deleted": false,
    })
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Filters shared by list/download/follow/delete: 1.3 query parameters, 2.0 `filters[...]`.
struct LogFilter {
    min_level: Option<String>,
    task_run_id: Option<String>,
    task_id: Option<String>,
    attempt: Option<i64>,
}

fn log_filter(req: &Req) -> Result<LogFilter, Response> {
    let mut min_level = req.q("minLevel").map(String::from);
    let mut task_id = req.q("taskId").map(String::from);
    let mut task_run_id = req.q("taskRunId").map(String::from);
    if req.core.version == KestraVersion::V2_0 {
        for (f, _op, v) in req.filters() {
            match f.as_str() {
                "level" | "minLevel" => min_level = Some(v),
                "taskId" => task_id = Some(v),
                "taskRunId" => task_run_id = Some(v),
                _ => {}
            }
        }
    }
    if let Some(l) = &min_level
        && !LEVELS.contains(&l.as_str())
    {
        return Err(req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "Internal server error: Failed to convert argument [minLevel] for value [{l}] due to: No enum constant org.slf4j.event.Level.{l}"
                ),
            ));
    }
    let attempt = req.q_int("attempt")?;
    Ok(LogFilter {
        min_level,
        task_run_id,
        task_id,
        attempt,
    })
}

impl LogFilter {
    fn keep(&self, l: &Value) -> bool {
        self.min_level
            .as_ref()
            .is_none_or(|m| rank(s(l, "level")) >= rank(m))
            && self.task_id.as_ref().is_none_or(|t| s(l, "taskId") == t)
            && self.task_run_id.as_ref().is_none_or(|t| s(l, "taskRunId") == t)
            && self
                .attempt
                .is_none_or(|a| l.get("attemptNumber").and_then(Value::as_i64) == Some(a))
    }
}

fn of_execution<'a>(t: &'a Tenant, id: &str, f: &LogFilter) -> Vec<&'a Value> {
    t.logs
        .iter()
        .filter(|l| s(l, "executionId") == id && f.keep(l))
        .collect()
}

/// Unknown execution → 200 [] (recorded logs/logs-of-unknown-execution).
pub fn list(req: &Req, t: &Tenant) -> Response {
    let f = match log_filter(req) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let out: Vec<Value> = of_execution(t, req.param("executionId"), &f)
        .into_iter()
        .cloned()
        .collect();
    ok_json(&Value::Array(out))
}

pub fn download(req: &Req, t: &Tenant) -> Response {
    // Kestra 1.3 and 2.0 answer 404 for an unknown execution (recorded-1.3.0 and
    // recorded-2.0.0-SNAPSHOT logs/download-unknown-execution; 0.23 answered 200 with nothing).
    let id = req.param("executionId");
    if t.execution(id).is_none() {
        return req.error(StatusCode::NOT_FOUND, &format!("Execution '{id}' not found."));
    }
    let f = match log_filter(req) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut out = String::new();
    for l in of_execution(t, req.param("executionId"), &f) {
        out.push_str(&format!(
            "{} {} {}\n",
            s(l, "timestamp"),
            s(l, "level"),
            s(l, "message")
        ));
    }
    text(StatusCode::OK, "text/plain", out)
}

/// DELETE logs of an execution → 200 empty, also for unknown ids (recorded logs/delete-*).
pub fn delete(req: &Req, t: &mut Tenant) -> Response {
    let f = match log_filter(req) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let id = req.param("executionId").to_string();
    t.logs.retain(|l| !(s(l, "executionId") == id && f.keep(l)));
    empty(StatusCode::OK)
}

pub fn delete_by_flow(req: &Req, t: &mut Tenant) -> Response {
    let (ns, flow) = (
        req.param("namespace").to_string(),
        req.param("flowId").to_string(),
    );
    if let Some(r) = crate::flows::climbing_guard(req, &[&ns, &flow]) {
        return r;
    }
    let trigger = req.q("triggerId").map(String::from);
    t.logs.retain(|l| {
        !(s(l, "namespace") == ns
            && s(l, "flowId") == flow
            && trigger
                .as_ref()
                .is_none_or(|tr| s(l, "triggerId") == tr || s(l, "triggerId").is_empty()))
    });
    empty(StatusCode::OK)
}

pub fn search(req: &Req, t: &Tenant) -> Response {
    let (page, size) = match req.paging("searchLogs") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut min_level = req.filter_values("minLevel").into_iter().next();
    for (f, _op, v) in req.filters() {
        if f == "level" {
            min_level = Some(v);
        }
    }
    if let Some(l) = &min_level
        && !LEVELS.contains(&l.as_str())
    {
        return req.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Internal server error: Failed to convert argument [minLevel] for value [{l}] due to: No enum constant org.slf4j.event.Level.{l}"),
            );
    }
    let nss = req.filter_values("namespace");
    let flows = req.filter_values("flowId");
    let q: Vec<String> = req
        .filter_values("q")
        .into_iter()
        .map(|x| x.to_lowercase())
        .collect();
    let start = req.filter_values("startDate").first().and_then(|x| parse_time(x));
    let end = req.filter_values("endDate").first().and_then(|x| parse_time(x));
    let mut items: Vec<Value> = t
        .logs
        .iter()
        .filter(|l| {
            let ts = parse_time(s(l, "timestamp"));
            nss.iter().all(|n| crate::flows::ns_matches(n, s(l, "namespace")))
                && flows.iter().all(|f| s(l, "flowId") == f)
                && min_level.as_ref().is_none_or(|m| rank(s(l, "level")) >= rank(m))
                && q.iter().all(|q| {
                    s(l, "message").to_lowercase().contains(q) || s(l, "flowId").contains(q.as_str())
                })
                && start.is_none_or(|st| ts.is_some_and(|x| x >= st))
                && end.is_none_or(|en| ts.is_some_and(|x| x <= en))
        })
        .cloned()
        .collect();
    items.reverse();
    let total = items.len();
    let mut out = paged(paginate(&items, page, size), total);
    if req.core.version == KestraVersion::V2_0 {
        // 2.0: CursorOrOffsetPagedResults {results, total, type} (2.0 description).
        if let Value::Object(m) = &mut out {
            m.insert("type".into(), json!("OFFSET"));
        }
    }
    ok_json(&out)
}

/// `GET /logs/{id}/follow` (SSE): a `start` stub, then one `progress` event per log line as it
/// is written; the stream ends once the execution is terminated (or unknown). A real server
/// keeps it open (recorded logs/follow-*); closing it is a KNOWN DIFFERENCE so clients reading
/// to the end finish.
pub fn follow(req: Req) -> Response {
    let f = match log_filter(&req) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let core = req.core.clone();
    let tenant = req.tenant.clone();
    let id = req.param("executionId").to_string();
    let first = "id: start\ndata: {\"attemptNumber\":null,\"deleted\":false}\n\n".to_string();
    let stream = futures_util::stream::unfold(
        (core, tenant, id, f, Some(first), 0usize),
        |(core, tenant, id, f, pending, sent)| async move {
            if let Some(p) = pending {
                return Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from(p)),
                    (core, tenant, id, f, None, sent),
                ));
            }
            for _ in 0..60_000 {
                let (batch, finished) = {
                    let mut w = lock(&core.state);
                    let now = core.clock.now();
                    let t = w.tenant(&tenant);
                    crate::executions::tick(&core, t, now);
                    let logs: Vec<String> = of_execution(t, &id, &f)
                        .iter()
                        .skip(sent)
                        .map(|l| l.to_string())
                        .collect();
                    let finished = t.execution(&id).is_none_or(|e| e.state.is_terminal());
                    (logs, finished)
                };
                if !batch.is_empty() {
                    let n = batch.len();
                    let mut ev = String::new();
                    for l in batch {
                        ev.push_str(&format!("id: progress\ndata: {l}\n\n"));
                    }
                    return Some((Ok(bytes::Bytes::from(ev)), (core, tenant, id, f, None, sent + n)));
                }
                if finished {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            None
        },
    );
    text(StatusCode::OK, "text/event-stream", Body::from_stream(stream))
}
