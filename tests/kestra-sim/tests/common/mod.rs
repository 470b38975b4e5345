//! The replay harness shared by the corpus replays (`replay.rs` for 0.23, `replay_1_3.rs` for
//! 1.3.0, `replay_2_0.rs` for 2.0.0-SNAPSHOT): it replays a corpus recorded from a real Kestra (a copy of
//! ../shared/kestra-api/recorded-*) against the simulator in a given mode, in recording
//! order, and compares every status code and JSON body shape (keys and value types of the
//! recorded body; extra keys in the simulator are allowed).
//!
//! Ids differ per run: execution, task-run and generated dashboard ids returned by the simulator
//! are mapped onto the recorded ones and substituted into later requests. The simulator runs on a manual clock that
//! advances one second before each request (so a short flow finishes between two calls, as it
//! did on the real server, while the 20 s `slow` flow is still running when it is paused).
//!
//! Every difference must be listed in the corpus's known-differences table with a reason, or the
//! replay fails. Entries that no longer differ are reported as stale (and fail the replay too,
//! so the table stays true).

use std::collections::BTreeMap;
use std::time::Duration;

use kestra_sim::{KestraVersion, Options, Simulator};
use serde_json::Value;

/// The corpus files every recording has, each a list of pairs; `seq` orders them globally.
const CORPUS_FILES: &[&str] = &[
    "misc",
    "flows",
    "executions",
    "logs",
    "kv",
    "namespace-files",
    "namespaces",
    "triggers",
    "errors",
];

/// One replay: which corpus, against which simulator mode, with which known differences.
pub struct Replay {
    /// Directory name under tests/ (e.g. `recorded-1.3.0`).
    pub corpus: &'static str,
    /// Corpus files this recording has beyond the common ones (e.g. 2.0's `v20`).
    pub extra_files: &'static [&'static str],
    /// The mode the simulator plays.
    pub version: KestraVersion,
    /// Start of the manual clock (RFC 3339), about when the corpus was recorded.
    pub clock_start: &'static str,
    /// (recorded pair name `file/name` as in INDEX.md, reason).
    pub known_differences: &'static [(&'static str, &'static str)],
}

/// What a replay found: pair count and the differences per pair name.
pub struct Outcome {
    pub pairs: usize,
    pub diffs: BTreeMap<String, String>,
}

fn load_corpus(corpus: &str, extra_files: &[&str]) -> Vec<(String, Value)> {
    let dir = format!("{}/tests/{corpus}", env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for f in CORPUS_FILES.iter().chain(extra_files) {
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
    ) && (r.contains_key("flowId") || r.contains_key("sourceCode"))
        && ri != si
        && ri.len() > 12
    {
        ids.insert(ri.to_string(), si.to_string());
    }
    learn_task_run_ids(rec, sim, ids);
    if let (Some(results), Some(sres)) = (
        r.get("results").and_then(Value::as_array),
        s.get("results").and_then(Value::as_array),
    ) {
        for (a, b) in results.iter().zip(sres) {
            learn_ids(a, b, ids);
        }
    }
}

fn learn_task_run_ids(rec: &Value, sim: &Value, ids: &mut BTreeMap<String, String>) {
    if let (Some(rt), Some(st)) = (rec["taskRunList"].as_array(), sim["taskRunList"].as_array()) {
        for (a, b) in rt.iter().zip(st) {
            if let (Some(x), Some(y)) = (a["id"].as_str(), b["id"].as_str()) {
                ids.insert(x.to_string(), y.to_string());
            }
        }
    }
}

/// Ids from a truncated body's excerpt (executions are often truncated).
fn learn_ids_from_excerpt(ex: &Value, sim: &Value, ids: &mut BTreeMap<String, String>) {
    if let (Some(ri), Some(si)) = (ex["id"].as_str(), sim["id"].as_str())
        && ri.len() > 12
        && ri != si
    {
        ids.insert(ri.to_string(), si.to_string());
    }
    learn_task_run_ids(ex, sim, ids);
}

fn substitute(s: &str, ids: &BTreeMap<String, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in ids {
        out = out.replace(k, v);
    }
    out
}

fn request_for(
    client: &reqwest::Client,
    base: &str,
    p: &Value,
    ids: &BTreeMap<String, String>,
) -> reqwest::RequestBuilder {
    let method =
        reqwest::Method::from_bytes(p["method"].as_str().unwrap_or("GET").as_bytes()).expect("method");
    let mut url = format!("{base}{}", substitute(p["path"].as_str().unwrap_or(""), ids));
    if let Some(q) = p["query"].as_str() {
        url.push('?');
        url.push_str(&substitute(q, ids));
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
        rb = rb.body(substitute(b, ids));
    }
    rb
}

/// Compares one answer with its recorded pair, learning id mappings on the way.
fn compare(p: &Value, status: u16, body: &str, ids: &mut BTreeMap<String, String>) -> Vec<String> {
    let want = p["response_status"].as_u64().unwrap_or(0) as u16;
    let mut problems = Vec::new();
    if status != want {
        problems.push(format!("status {status}, recorded {want}"));
    }
    let sim_json: Option<Value> = serde_json::from_str(body).ok();
    match (p["response_body_format"].as_str(), &sim_json) {
        (Some("json"), Some(sj)) if status == want => {
            shape_diff("$", &p["response_body"], sj, &mut problems);
            learn_ids(&p["response_body"], sj, ids);
        }
        (Some("json-truncated"), Some(sj)) if status == want => {
            if let Some(keys) = p["response_excerpt"]["top_level_keys"].as_array() {
                for k in keys.iter().filter_map(Value::as_str) {
                    if sj.get(k).is_none() {
                        problems.push(format!("$.{k} missing"));
                    }
                }
            }
            learn_ids_from_excerpt(&p["response_excerpt"], sj, ids);
        }
        (Some("json") | Some("json-truncated"), None) if status == want && want != 204 => {
            problems.push("simulator body is not JSON".to_string());
        }
        _ => {}
    }
    problems
}

impl Replay {
    /// Replays the whole corpus and returns what differed.
    pub async fn run(&self) -> Outcome {
        let start = chrono::DateTime::parse_from_rfc3339(self.clock_start)
            .expect("date")
            .with_timezone(&chrono::Utc);
        let sim = Simulator::spawn_with(
            self.version,
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
        let corpus = load_corpus(self.corpus, self.extra_files);
        for (file, p) in &corpus {
            let name = format!("{file}/{}", p["name"].as_str().unwrap_or(""));
            sim.advance(Duration::from_secs(1));
            let resp = match request_for(&client, &base, p, &ids).send().await {
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
            let problems = compare(p, status, &body, &mut ids);
            if !problems.is_empty() {
                diffs.insert(name, problems.join("; "));
            }
        }
        Outcome {
            pairs: corpus.len(),
            diffs,
        }
    }

    /// Replays the corpus and fails on a difference missing from the table or a stale entry.
    pub async fn assert_known_differences_only(&self) {
        let Outcome { pairs, diffs } = self.run().await;
        let known: BTreeMap<&str, &str> = self.known_differences.iter().copied().collect();
        assert_eq!(
            known.len(),
            self.known_differences.len(),
            "duplicate names in the known-differences table"
        );
        let unexpected: Vec<String> = diffs
            .iter()
            .filter(|(name, _)| !known.contains_key(name.as_str()))
            .map(|(name, d)| format!("  (\"{name}\", \"{d}\"),"))
            .collect();
        let stale: Vec<&str> = known
            .keys()
            .filter(|k| !diffs.contains_key(**k))
            .copied()
            .collect();
        println!(
            "replayed {} ({pairs} pairs) against {:?}: {} differences, {} known, {} unexpected, {} stale",
            self.corpus,
            self.version,
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
            "differences not in the known-differences table:\n{}",
            unexpected.join("\n")
        );
        assert!(
            stale.is_empty(),
            "known-differences entries that no longer differ: {stale:?}"
        );
    }
}
