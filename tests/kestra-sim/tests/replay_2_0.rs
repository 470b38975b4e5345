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
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

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
