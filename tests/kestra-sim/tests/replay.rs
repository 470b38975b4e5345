//! Replays the corpus recorded from a real Kestra 0.23 (tests/recorded-0.23, a copy of
//! /work/shared/kestra-api/recorded-0.23) against the simulator in 1.3 mode, in recording
//! order, and compares every status code and JSON body shape (keys and value types of the
//! recorded body; extra keys in the simulator are allowed since 1.3 adds fields).
//!
//! Ids differ per run: execution and task-run ids returned by the simulator are mapped onto the
//! recorded ones and substituted into later requests. The simulator runs on a manual clock that
//! advances one second before each request (so a short flow finishes between two calls, as it
//! did on the real server, while the 20 s `slow` flow is still running when it is paused).
//!
//! Every difference must be listed in KNOWN_DIFFERENCES with a reason, or the test fails.
//! Entries that no longer differ are reported as stale (and fail the test too, so the table
//! stays true).

use std::collections::BTreeMap;
use std::time::Duration;

use kestra_sim::{KestraVersion, Options, Simulator};
use serde_json::Value;

/// (recorded pair name, reason). Names are `file/name` as in INDEX.md.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // The simulator does not authenticate (any or no credentials are accepted). Prism in front
    // checks that a security scheme is present; credentials are never verified.
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
        "no authentication in the simulator (404 instead of 401)",
    ),
    ("errors/unauth-unknown-user", "no authentication in the simulator"),
    (
        "errors/unauth-wrong-password",
        "no authentication in the simulator",
    ),
    ("misc/configs-no-auth", "no authentication in the simulator"),
    // Climbing guard: stricter than real Kestra on purpose (400 for `..` or `/` in a decoded
    // namespace, id or key; real Kestra climbed or answered 404/422).
    (
        "errors/dotdot-encoded-in-flow-path",
        "climbing guard: 400 (real: 404)",
    ),
    (
        "errors/dotdot-encoded-in-namespace-segment",
        "climbing guard: 400 (real: 200, climbed)",
    ),
    (
        "errors/dotdot-encoded-kv-key",
        "climbing guard: 400 (real: 422 key pattern)",
    ),
    (
        "errors/dotdot-encoded-kv-put",
        "climbing guard: 400 (real: 422 key pattern)",
    ),
    (
        "errors/dotdot-encoded-namespace-files",
        "climbing guard: 400 (real: 200, climbed)",
    ),
    (
        "errors/dotdot-encoded-namespace-files-2",
        "climbing guard: 400 (real: 200, created a folder outside the tenant)",
    ),
    (
        "errors/dotdot-encoded-namespace-kv",
        "climbing guard: 400 (real: 200, read another namespace)",
    ),
    // Version differences: the simulator plays 1.3 (EE description), the corpus is OSS 0.23.
    (
        "errors/diff-2.0-kv-inheritance",
        "1.3 description has GET /namespaces/{ns}/kv/inheritance; 0.23 did not",
    ),
    (
        "errors/diff-2.0-kv-list-all",
        "1.3 description has GET /kv (listAllKeys); 0.23 did not",
    ),
    (
        "misc/ee-ai-generate-dashboard",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/ee-ai-generate-flow",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/ee-apps-search",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/ee-banners-search",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/ee-tests-create",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/license-info",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/me-root-probe",
        "simulator plays an Enterprise server (GET /api/v1/me); 0.23 OSS answered 404",
    ),
    (
        "namespaces/create-namespace-ee",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/tenant-other-than-main",
        "simulator accepts any tenant (state per tenant); 0.23 OSS routed only `main`",
    ),
    (
        "misc/no-tenant-legacy-path",
        "GUESS: 1.x has no tenant-less legacy routes; 0.23 still served /api/v1/flows/search",
    ),
    // Content-type routing of flow creation: the simulator answers 415 for text/plain and
    // parses a body without Content-Type as YAML; real 0.23 reached a deprecated JSON route
    // (500) or failed conversion (422).
    (
        "errors/flow-create-content-type-text-plain",
        "415 instead of 422 (no deprecated route emulation)",
    ),
    (
        "errors/flow-create-no-content-type",
        "parsed as YAML (422 existing flow) instead of the deprecated JSON route's 500",
    ),
    // Not simulated (not used by kestra-mcp's tools).
    ("executions/graph", "GET /executions/{id}/graph is not simulated"),
    (
        "executions/get-flow-of-execution",
        "flow JSON omits errors/afterExecution/sla/finally when the YAML has none",
    ),
    (
        "executions/replay-single",
        "a replayed execution has no empty taskRunList / parentId fields",
    ),
    (
        "flows/dashboard-create",
        "dashboards are stored minimally (id, title, sourceCode)",
    ),
    (
        "flows/dashboard-create-invalid",
        "dashboard chart validation is not simulated",
    ),
    ("flows/dashboard-get", "GET /dashboards/{id} is not simulated"),
];

fn load_corpus() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/recorded-0.23");
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
async fn recorded_corpus_matches_simulator_1_3() {
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-25T14:10:00Z")
        .expect("date")
        .with_timezone(&chrono::Utc);
    let sim = Simulator::spawn_with(
        KestraVersion::V1_3,
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
