//! Replays the corpus recorded from a real Kestra 2.0.0-SNAPSHOT (tests/recorded-2.0.0-SNAPSHOT,
//! a copy of /work/shared/kestra-api/recorded-2.0.0-SNAPSHOT) against the simulator in 2.0 mode,
//! in recording order, and compares every status code and JSON body shape (keys and value types
//! of the recorded body; extra keys in the simulator are allowed).
//!
//! A copy of replay.rs's harness (the 0.23/1.3 replay) for now; it will move onto the shared
//! replay module. Ids differ per run: execution and task-run ids returned by the simulator are
//! mapped onto the recorded ones and substituted into later requests. The simulator runs on a
//! manual clock that advances one second before each request.
//!
//! Every difference must be listed in KNOWN_DIFFERENCES with a reason, or the test fails.
//! Entries that no longer differ are reported as stale (and fail the test too).

use std::collections::BTreeMap;
use std::time::Duration;

use kestra_sim::{KestraVersion, Options, Simulator};
use serde_json::Value;

/// (recorded pair name, reason). Names are `file/name` as in INDEX.md.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "errors/diff-2.0-kv-inheritance",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "errors/dotdot-encoded-in-flow-path",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-in-namespace-segment",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-kv-key",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-kv-put",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-files",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-files-2",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-kv",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    ("errors/unauth-bearer-token", "no authentication in the simulator"),
    (
        "errors/unauth-malformed-basic",
        "no authentication in the simulator",
    ),
    (
        "errors/unauth-no-credentials",
        "no authentication in the simulator",
    ),
    (
        "errors/unauth-on-unknown-path",
        "no authentication in the simulator",
    ),
    ("errors/unauth-unknown-user", "no authentication in the simulator"),
    (
        "errors/unauth-wrong-password",
        "no authentication in the simulator",
    ),
    (
        "executions/create-all_inputs-defaults-only",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "executions/create-all_inputs-typed-no-secret-wait",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "executions/create-approval-1",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-approval-2",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-approval-3",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-approval-4",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-approval-5",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-approval_typed",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-hello-empty-multipart",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-hello-multipart",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-hello-no-body",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-slow",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-slow-2",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-slow-for-delete",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/create-slow-for-follow",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "executions/get-all_inputs-typed-no-secret",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "executions/get-flow-of-execution",
        "flow JSON omits errors/afterExecution/quotas/sla/finally when the YAML has none",
    ),
    (
        "executions/get-flow-of-paused-typed",
        "flow JSON omits errors/afterExecution/quotas/sla/finally when the YAML has none",
    ),
    ("executions/graph", "GET /executions/{id}/graph is not simulated"),
    (
        "executions/replay-single",
        "a replayed execution has no taskRunList/parentId yet, and the replayed hello run had no inputs here (its all_inputs neighbours differ)",
    ),
    (
        "executions/resume-validate",
        "resume/validate answers the simulator's shape (boolean defaults, no isDefault/checks)",
    ),
    (
        "executions/resume-validate-typed-bad-select",
        "resume/validate answers the simulator's shape (boolean defaults, no isDefault/checks)",
    ),
    (
        "executions/resume-validate-typed-missing-required",
        "resume/validate answers the simulator's shape (boolean defaults, no isDefault/checks)",
    ),
    (
        "executions/set-labels-invalid-key",
        "label key validation is not simulated",
    ),
    (
        "executions/validate-all_inputs-bad",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "executions/validate-all_inputs-typed",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "flows/create-all_inputs",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "flows/create-all_inputs-default-with-required-false",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "flows/dashboard-create",
        "dashboards are stored minimally; chart validation is not simulated",
    ),
    (
        "flows/dashboard-create-invalid",
        "dashboards are stored minimally; chart validation is not simulated",
    ),
    (
        "flows/dashboard-create-with-id",
        "dashboards are stored minimally; chart validation is not simulated",
    ),
    (
        "flows/dependencies-hello-destinationOnly",
        "shared rule: destinationOnly keeps the edges whose SOURCE is the flow; Kestra keeps those whose DESTINATION is (1.3 likely too: left to the 1.3 owner)",
    ),
    (
        "flows/source-search-namespace",
        "GET /flows/source answers a list in the simulator; Kestra a page {results:[{model, fragments}], total}",
    ),
    (
        "flows/source-search-q-Sleep",
        "GET /flows/source answers a list in the simulator; Kestra a page {results:[{model, fragments}], total}",
    ),
    (
        "flows/source-search-q-Sleep-paged",
        "GET /flows/source answers a list in the simulator; Kestra a page {results:[{model, fragments}], total}",
    ),
    (
        "flows/validate-all_inputs-default-with-required-false",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "kv/get-json-object",
        "KV value typing by content type is the shared 1.3 rule; 2.0 differs (JSON → 415, quoted JSON, text/plain)",
    ),
    (
        "kv/get-string-quoted-json",
        "KV value typing by content type is the shared 1.3 rule; 2.0 differs (JSON → 415, quoted JSON, text/plain)",
    ),
    (
        "kv/list-namespace-prefix",
        "KV listing with filters[namespace][PREFIX] matches nothing in the simulator",
    ),
    (
        "kv/put-invalid-json",
        "KV value typing by content type is the shared 1.3 rule; 2.0 differs (JSON → 415, quoted JSON, text/plain)",
    ),
    (
        "kv/put-invalid-json-text-plain",
        "KV value typing by content type is the shared 1.3 rule; 2.0 differs (JSON → 415, quoted JSON, text/plain)",
    ),
    (
        "kv/put-json-object",
        "KV value typing by content type is the shared 1.3 rule; 2.0 differs (JSON → 415, quoted JSON, text/plain)",
    ),
    (
        "kv/put-string-quoted-json",
        "KV value typing by content type is the shared 1.3 rule; 2.0 differs (JSON → 415, quoted JSON, text/plain)",
    ),
    (
        "logs/download-unknown-execution",
        "download of an unknown execution answers an empty text (2.0: 404)",
    ),
    (
        "logs/logs-of-all_inputs-typed",
        "FORM inputs, SELECT {label,value} values and the typed input rules of the all_inputs flow are not simulated (its creation is refused, so what follows differs)",
    ),
    (
        "misc/configs",
        "the simulator's /configs lists the fields kestra-mcp reads, not every 2.0 field (chartDefaultDuration, flowTemplate, ...)",
    ),
    ("misc/configs-no-auth", "no authentication in the simulator"),
    (
        "misc/ee-apps-search",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/ee-banners-search",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/ee-tests-create",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/license-info",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/me-root-probe",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/no-tenant-legacy-path",
        "GUESS kept from 1.3: no tenant-less legacy routes; the recorded 2.0 still serves /api/v1/flows/search",
    ),
    (
        "misc/tenant-other-than-main",
        "simulator accepts any tenant (state per tenant); the recorded OSS routes only `main`",
    ),
    (
        "namespace-files/list-after-dir-move",
        "after a sibling directory move 2.0 listed /data empty; not understood, not simulated",
    ),
    (
        "namespace-files/list-file-as-dir",
        "listing a file as a directory: the simulator 500, 2.0 200",
    ),
    (
        "namespace-files/v13-list-e1",
        "a nested empty directory is listed by the simulator; 2.0 does not keep it",
    ),
    (
        "namespaces/create-namespace-ee",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "namespaces/search-existing-true",
        "namespaces that only exist by their flows are not listed with existing=true",
    ),
    (
        "triggers/backfill-create-2.0-path",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/backfill-create-full-trigger",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/backfill-delete",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/backfill-delete-finished",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/backfill-executions",
        "legacy flowId=scheduled is ignored on 2.0 (returns hello runs with their inputs); the simulator returns the backfill runs",
    ),
    (
        "triggers/backfill-pause",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/backfill-pause-minimal-body",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/backfill-unpause",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/for-flow-after-backfill-delete",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/for-flow-after-backfill-ran",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/for-flow-with-paused-backfill",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/search-disabled-trigger",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/update-disable-trigger",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/update-disable-trigger-no-tenantId",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "triggers/update-enable-trigger",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "v20/inv1-create-1",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "v20/inv1-create-2",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "v20/inv1-create-3",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "v20/inv1-create-4",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "v20/inv1-create-5",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "v20/inv10-configs-with-credentials",
        "no authentication in the simulator",
    ),
    (
        "v20/inv10-configs-without-credentials",
        "no authentication in the simulator",
    ),
    (
        "v20/inv10-configs-wrong-credentials",
        "no authentication in the simulator",
    ),
    (
        "v20/inv2-create-approval_typed",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "v20/inv3-executions-t1s",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "v20/inv3-executions-t3s",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "v20/inv3-trigger-after",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "v20/inv3-trigger-t1s",
        "the simulator never fires schedules itself: no lastTriggeredDate/executionId, and the replay clock (1 s per request) is not the recording's",
    ),
    (
        "v20/inv6-source-no-q",
        "GET /flows/source answers a list in the simulator; Kestra a page {results:[{model, fragments}], total}",
    ),
    (
        "v20/inv6-source-q-log-namespace",
        "GET /flows/source answers a list in the simulator; Kestra a page {results:[{model, fragments}], total}",
    ),
    (
        "v20/inv6-source-q-nomatch",
        "GET /flows/source answers a list in the simulator; Kestra a page {results:[{model, fragments}], total}",
    ),
    (
        "v20/inv7-create-slow",
        "the create answer is the CREATED execution; real 2.0 answers it RUNNING with its first task run SUBMITTED",
    ),
    (
        "v20/inv7-replay-success",
        "a replayed execution has no taskRunList/parentId yet, and the replayed hello run had no inputs here (its all_inputs neighbours differ)",
    ),
    (
        "v20/inv7-restart-by-ids",
        "POST /executions/restart/by-ids is not simulated",
    ),
];

fn load_corpus() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/recorded-2.0.0-SNAPSHOT");
    let mut all = Vec::new();
    for f in [
        "misc",
        "flows",
        "executions",
        "logs",
        "kv",
        "namespace-files",
        "namespaces",
        "triggers",
        "errors",
        "v20",
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{f}.json")).expect("corpus file");
        let pairs: Vec<Value> = serde_json::from_str(&text).expect("corpus json");
        for p in pairs {
            all.push((f.to_string(), p));
        }
    }
    all.sort_by_key(|(_, p)| p["seq"].as_u64().unwrap_or(0));
    all
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences between the recorded body shape and the simulator's.
fn shape_diff(path: &str, rec: &Value, sim: &Value, out: &mut Vec<String>) {
    match (rec, sim) {
        (Value::Object(r), Value::Object(s)) => {
            for (k, rv) in r {
                match s.get(k) {
                    None => out.push(format!("{path}.{k} missing")),
                    Some(sv) => shape_diff(&format!("{path}.{k}"), rv, sv, out),
                }
            }
        }
        (Value::Array(r), Value::Array(s)) => {
            if let (Some(rf), Some(sf)) = (r.first(), s.first()) {
                shape_diff(&format!("{path}[0]"), rf, sf, out);
            } else if r.is_empty() != s.is_empty() {
                out.push(format!(
                    "{path}: recorded {} items, simulator {}",
                    r.len(),
                    s.len()
                ));
            }
        }
        // null vs anything and number vs number are fine (optional fields, int vs float).
        (Value::Null, _) | (_, Value::Null) => {}
        (r, s) if type_name(r) != type_name(s) => out.push(format!(
            "{path}: recorded {}, simulator {}",
            type_name(r),
            type_name(s)
        )),
        _ => {}
    }
}

fn learn_ids(rec: &Value, sim: &Value, ids: &mut BTreeMap<String, String>) {
    let (Some(r), Some(s)) = (rec.as_object(), sim.as_object()) else {
        return;
    };
    if let (Some(ri), Some(si)) = (
        r.get("id").and_then(Value::as_str),
        s.get("id").and_then(Value::as_str),
    ) && r.contains_key("flowId")
        && ri != si
        && ri.len() > 12
    {
        ids.insert(ri.to_string(), si.to_string());
    }
    if let (Some(rt), Some(st)) = (
        r.get("taskRunList").and_then(Value::as_array),
        s.get("taskRunList").and_then(Value::as_array),
    ) {
        for (a, b) in rt.iter().zip(st) {
            if let (Some(x), Some(y)) = (
                a.get("id").and_then(Value::as_str),
                b.get("id").and_then(Value::as_str),
            ) {
                ids.insert(x.to_string(), y.to_string());
            }
        }
    }
    if let (Some(results), Some(sres)) = (
        r.get("results").and_then(Value::as_array),
        s.get("results").and_then(Value::as_array),
    ) {
        for (a, b) in results.iter().zip(sres) {
            learn_ids(a, b, ids);
        }
    }
}

fn substitute(s: &str, ids: &BTreeMap<String, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in ids {
        out = out.replace(k, v);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_corpus_matches_simulator_2_0() {
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
        .expect("date")
        .with_timezone(&chrono::Utc);
    let sim = Simulator::spawn_with(
        KestraVersion::V2_0,
        0,
        Options {
            task_delay: Duration::from_millis(10),
            manual_clock: Some(start),
        },
    )
    .await
    .expect("spawn");
    let base = sim.base_url();
    // In a workspace build reqwest carries kestra-mcp's `rustls-no-provider` feature.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut diffs: BTreeMap<String, String> = BTreeMap::new();
    for (file, p) in load_corpus() {
        let name = format!("{file}/{}", p["name"].as_str().unwrap_or(""));
        sim.advance(Duration::from_secs(1));
        let method =
            reqwest::Method::from_bytes(p["method"].as_str().unwrap_or("GET").as_bytes()).expect("method");
        let mut url = format!("{base}{}", substitute(p["path"].as_str().unwrap_or(""), &ids));
        if let Some(q) = p["query"].as_str() {
            url.push('?');
            url.push_str(&substitute(q, &ids));
        }
        let mut rb = client.request(method, &url);
        if let Some(h) = p["request_headers"].as_object() {
            for (k, v) in h {
                if k != "Authorization" {
                    rb = rb.header(k.as_str(), v.as_str().unwrap_or(""));
                }
            }
        }
        if let Some(b) = p["request_body"].as_str() {
            rb = rb.body(substitute(b, &ids));
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                diffs.insert(name, format!("request failed: {e}"));
                continue;
            }
        };
        let status = resp.status().as_u16();
        // SSE streams may stay open (like a real server's): read what comes within a second.
        let body = match tokio::time::timeout(Duration::from_secs(1), resp.text()).await {
            Ok(Ok(t)) => t,
            _ => String::new(),
        };
        let want = p["response_status"].as_u64().unwrap_or(0) as u16;
        let mut problems = Vec::new();
        if status != want {
            problems.push(format!("status {status}, recorded {want}"));
        }
        let sim_json: Option<Value> = serde_json::from_str(&body).ok();
        match (p["response_body_format"].as_str(), &sim_json) {
            (Some("json"), Some(sj)) if status == want => {
                let mut out = Vec::new();
                shape_diff("$", &p["response_body"], sj, &mut out);
                learn_ids(&p["response_body"], sj, &mut ids);
                problems.extend(out);
            }
            (Some("json-truncated"), Some(sj)) if status == want => {
                if let Some(keys) = p["response_excerpt"]["top_level_keys"].as_array() {
                    for k in keys.iter().filter_map(Value::as_str) {
                        if sj.get(k).is_none() {
                            problems.push(format!("$.{k} missing"));
                        }
                    }
                }
                // Recover ids from the excerpt (executions are often truncated).
                let ex = &p["response_excerpt"];
                if let (Some(ri), Some(si)) = (ex["id"].as_str(), sj["id"].as_str())
                    && ri.len() > 12
                    && ri != si
                {
                    ids.insert(ri.to_string(), si.to_string());
                }
                if let (Some(rt), Some(st)) = (ex["taskRunList"].as_array(), sj["taskRunList"].as_array()) {
                    for (a, b) in rt.iter().zip(st) {
                        if let (Some(x), Some(y)) = (a["id"].as_str(), b["id"].as_str()) {
                            ids.insert(x.to_string(), y.to_string());
                        }
                    }
                }
            }
            (Some("json") | Some("json-truncated"), None) if status == want && want != 204 => {
                problems.push("simulator body is not JSON".to_string());
            }
            _ => {}
        }
        if !problems.is_empty() {
            diffs.insert(name, problems.join("; "));
        }
    }
    let known: BTreeMap<&str, &str> = KNOWN_DIFFERENCES.iter().copied().collect();
    let mut unexpected = Vec::new();
    for (name, d) in &diffs {
        if !known.contains_key(name.as_str()) {
            unexpected.push(format!("  (\"{name}\", \"{d}\"),"));
        }
    }
    let stale: Vec<&str> = known
        .keys()
        .filter(|k| !diffs.contains_key(**k))
        .copied()
        .collect();
    println!(
        "replayed corpus: {} differences, {} known, {} unexpected, {} stale",
        diffs.len(),
        known.len(),
        unexpected.len(),
        stale.len()
    );
    for (name, d) in &diffs {
        println!("  {name}: {d}");
    }
    assert!(
        unexpected.is_empty(),
        "differences not in KNOWN_DIFFERENCES:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "KNOWN_DIFFERENCES entries that no longer differ: {stale:?}"
    );
}
