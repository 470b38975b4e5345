//! The 2.0 mode's server-side rules that neither Prism nor a single recorded pair checks: they
//! depend on time (backfills, the flow topology) or on a request the corpus has no twin for.
//! Each follows pairs of tests/recorded-2.0.0-SNAPSHOT (cited in src/v2.rs).

use std::time::Duration;

use kestra_sim::{KestraVersion, Options, RunningSim, Simulator};
use serde_json::{Value, json};

struct Bed {
    sim: RunningSim,
    http: reqwest::Client,
}

impl Bed {
    async fn start() -> Bed {
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
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Bed { sim, http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/main{path}", self.sim.api_url())
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    async fn yaml(&self, path: &str, yaml: &str) -> (u16, Value) {
        self.send(
            self.http
                .post(self.url(path))
                .header("Content-Type", "application/x-yaml")
                .body(yaml.to_owned()),
        )
        .await
    }

    async fn json(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.request(method, self.url(path)).json(&body))
            .await
    }

    async fn run(&self, ns: &str, flow: &str) -> String {
        let (status, e) = self
            .send(self.http.post(self.url(&format!("/executions/{ns}/{flow}"))))
            .await;
        assert_eq!(status, 200, "{e}");
        self.sim.advance(Duration::from_secs(1));
        e["id"].as_str().expect("id").to_owned()
    }

    async fn backfill_dates(&self) -> Vec<String> {
        let (_, page) = self
            .get("/executions/search?filters[namespace][EQUALS]=t&filters[flowId][EQUALS]=hourly&size=50")
            .await;
        let mut dates: Vec<String> = page["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["trigger"]["variables"]["date"].as_str().map(str::to_owned))
            .collect();
        dates.sort();
        dates
    }
}

const HOURLY: &str = "id: hourly\nnamespace: t\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: tick\ntriggers:\n  - id: every_hour\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 * * * *\"\n";

#[tokio::test]
async fn backfill_starts_after_the_start_instant_and_emits_one_slot_per_second() {
    let bed = Bed::start().await;
    assert_eq!(bed.yaml("/flows", HOURLY).await.0, 200);
    let (status, state) = bed
        .json(
            reqwest::Method::PUT,
            "/triggers/backfill/create",
            json!({"namespace": "t", "flowId": "hourly", "triggerId": "every_hour",
                   "backfill": {"start": "2026-01-01T16:00:00Z", "end": "2026-01-01T18:30:00Z"}}),
        )
        .await;
    assert_eq!(status, 200, "{state}");
    assert!(bed.backfill_dates().await.is_empty(), "nothing at once");
    bed.sim.advance(Duration::from_secs(1));
    assert_eq!(bed.backfill_dates().await, ["2026-01-01T17:00:00Z"]);
    let (_, triggers) = bed.get("/triggers/t/hourly").await;
    let state = &triggers["results"][0];
    assert_eq!(state["locked"], true, "locked by the slot's execution: {state}");
    assert!(state["executionId"].is_string(), "{state}");
    assert!(state["lastTriggeredDate"].is_string(), "{state}");
    bed.sim.advance(Duration::from_secs(1));
    assert_eq!(
        bed.backfill_dates().await,
        ["2026-01-01T17:00:00Z", "2026-01-01T18:00:00Z"],
        "16:00 is the start instant: 2.0 starts after it"
    );
    bed.sim.advance(Duration::from_secs(5));
    assert_eq!(bed.backfill_dates().await.len(), 2, "no slot after the end");
    let (_, triggers) = bed.get("/triggers/t/hourly").await;
    assert!(
        triggers["results"][0].get("backfill").is_none(),
        "a finished backfill leaves the trigger: {triggers}"
    );
    let state = &triggers["results"][0];
    assert_eq!(
        state["locked"], false,
        "unlocked once its execution ended: {state}"
    );
    assert!(state["lastTriggeredDate"].is_string(), "{state}");
}

#[tokio::test]
async fn dependencies_appear_once_the_topology_is_computed() {
    let bed = Bed::start().await;
    let child = "id: child\nnamespace: t\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: c\n";
    let parent = "id: parent\nnamespace: t\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: t\n    flowId: child\n";
    assert_eq!(bed.yaml("/flows", child).await.0, 200);
    assert_eq!(bed.yaml("/flows", parent).await.0, 200);
    let (_, deps) = bed.get("/flows/t/child/dependencies").await;
    assert_eq!(deps, json!({"nodes": [], "edges": []}), "right after creation");
    bed.sim.advance(Duration::from_secs(3));
    let (_, deps) = bed.get("/flows/t/child/dependencies").await;
    assert_eq!(deps["edges"][0]["source"], json!("main_t_parent"), "{deps}");
}

#[tokio::test]
async fn level_filters_take_only_range_operations_and_legacy_parameters_are_ignored() {
    let bed = Bed::start().await;
    let flow = "id: lv\nnamespace: t\ntasks:\n  - id: i\n    type: io.kestra.plugin.core.log.Log\n    message: info\n  - id: w\n    type: io.kestra.plugin.core.log.Log\n    level: WARN\n    message: warn\n";
    assert_eq!(bed.yaml("/flows", flow).await.0, 200);
    let id = bed.run("t", "lv").await;
    bed.sim.advance(Duration::from_secs(2));

    let (status, err) = bed.get(&format!("/logs/{id}?filters[level][EQUALS]=WARN")).await;
    assert_eq!(status, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .ends_with("Operation EQUALS is not supported for field LEVEL. Supported operations are GREATER_THAN_OR_EQUAL_TO, LESS_THAN_OR_EQUAL_TO"),
        "{err}"
    );
    let (status, _) = bed.get("/logs/search?filters[level][EQUALS]=WARN").await;
    assert_eq!(status, 400);
    let (status, _) = bed
        .get(&format!(
            "/logs/{id}?filters[level][GREATER_THAN_OR_EQUAL_TO]=LOUD"
        ))
        .await;
    assert_eq!(status, 422);

    let (_, warn) = bed
        .get(&format!(
            "/logs/{id}?filters[level][GREATER_THAN_OR_EQUAL_TO]=WARN"
        ))
        .await;
    assert_eq!(warn.as_array().map(Vec::len), Some(1), "{warn}");
    let (status, all) = bed.get(&format!("/logs/{id}?minLevel=LOUD&taskId=w")).await;
    assert_eq!(status, 200, "legacy parameters are ignored, not refused");
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
    let (status, page) = bed.get("/executions/search?state=NOPE&namespace=elsewhere").await;
    assert_eq!(status, 200);
    assert_eq!(
        page["total"],
        json!(1),
        "a wrong legacy filter returns everything"
    );
}

#[tokio::test]
async fn bulk_actions_are_accepted_and_refusals_are_conflicts() {
    let bed = Bed::start().await;
    let flow = "id: ok\nnamespace: t\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: fine\n";
    assert_eq!(bed.yaml("/flows", flow).await.0, 200);
    let id = bed.run("t", "ok").await;
    bed.sim.advance(Duration::from_secs(2));

    let (status, op) = bed
        .json(reqwest::Method::POST, "/executions/replay/by-ids", json!([id]))
        .await;
    assert_eq!(status, 202, "{op}");
    assert_eq!(op["totalItems"], json!(1));
    assert!(op["operationId"].is_string(), "{op}");

    let (status, err) = bed
        .send(
            bed.http
                .post(bed.url(&format!("/executions/{id}/actions/restart"))),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(
        err["message"],
        json!(
            "Conflict: Cannot restart execution: current state is 'SUCCESS', expected terminated or paused."
        )
    );
    let (status, err) = bed
        .json(reqwest::Method::DELETE, "/executions/kill/by-ids", json!([id]))
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["invalids"][0]["message"], json!("execution already finished"));
}

const APPROVAL: &str = "id: approval\nnamespace: t\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: comment\n        type: STRING\n      - id: level\n        type: SELECT\n        values: [low, high]\n        defaults: low\n";

/// resume/validate reports each input's own errors (recorded
/// executions/resume-validate-typed-missing-required and resume-validate-typed-bad-select).
#[tokio::test]
async fn resume_validate_reports_missing_and_unknown_select_values() {
    let bed = Bed::start().await;
    assert_eq!(bed.yaml("/flows", APPROVAL).await.0, 200);
    let id = bed.run("t", "approval").await;
    let form = "--b\r\nContent-Disposition: form-data; name=\"level\"\r\n\r\nmedium\r\n--b--\r\n";
    let (status, out) = bed
        .send(
            bed.http
                .post(bed.url(&format!("/executions/{id}/actions/resume/validate")))
                .header("Content-Type", "multipart/form-data; boundary=b")
                .body(form),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let inputs = &out["inputs"];
    assert_eq!(
        inputs[0]["errors"],
        json!([{"message": "Missing required input:comment", "renderError": false}])
    );
    assert_eq!(inputs[1]["value"], "medium");
    assert_eq!(
        inputs[1]["errors"][0]["message"],
        "Invalid value for input `level`. Cause: it must match the values `[low, high]`"
    );
    assert_eq!(inputs[1]["input"]["defaults"], "low");
    assert_eq!(inputs[1]["isDefault"], false);
    assert_eq!(out["checks"], json!([]));
}

fn recorded_pair(file: &str, name: &str) -> Value {
    let path = format!(
        "{}/tests/recorded-2.0.0-SNAPSHOT/{file}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let pairs: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("corpus")).expect("json");
    pairs
        .into_iter()
        .find(|p| p["name"] == name)
        .expect("recorded pair")
}

/// POST /executions/{ns}/{id}/validate answers, input by input, the errors the recorded 2.0
/// server answered for the same form (executions/validate-all_inputs-bad), FORM inputs
/// flattened (`env.region`).
#[tokio::test]
async fn validate_inputs_reports_the_recorded_errors() {
    let bed = Bed::start().await;
    let flow = recorded_pair("flows", "create-all_inputs");
    let (status, created) = bed
        .yaml("/flows", flow["request_body"].as_str().expect("yaml"))
        .await;
    assert_eq!(status, 200, "{created}");
    let pair = recorded_pair("executions", "validate-all_inputs-bad");
    let (status, out) = bed
        .send(
            bed.http
                .post(bed.url("/executions/company.team/all_inputs/validate"))
                .header(
                    "Content-Type",
                    pair["request_headers"]["Content-Type"].as_str().expect("ct"),
                )
                .body(pair["request_body"].as_str().expect("body").to_owned()),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let summary = |v: &Value| -> Vec<(String, Vec<String>)> {
        v["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|i| {
                let errors = i["errors"].as_array().expect("errors");
                let messages = errors.iter().map(|e| e["message"].to_string()).collect();
                (i["input"]["id"].as_str().unwrap_or("").to_owned(), messages)
            })
            .collect()
    };
    let (got, want) = (summary(&out), summary(&pair["response_body"]));
    // Type errors Kestra words with its parsers' messages (dt, arr) are not reproduced.
    let comparable = |(id, _): &&(String, Vec<String>)| id != "dt" && id != "arr";
    assert_eq!(
        got.iter().filter(comparable).collect::<Vec<_>>(),
        want.iter().filter(comparable).collect::<Vec<_>>()
    );
}

/// An execution refused for its inputs names the first bad one in declaration order with
/// Kestra's message (recorded executions/create-all_inputs-bad, create-hello-bad-int,
/// create-all_inputs-missing-required).
#[tokio::test]
async fn create_refusals_carry_the_recorded_messages() {
    let bed = Bed::start().await;
    let flow = recorded_pair("flows", "create-all_inputs");
    assert_eq!(
        bed.yaml("/flows", flow["request_body"].as_str().expect("yaml"))
            .await
            .0,
        200
    );
    for name in ["create-all_inputs-bad", "create-all_inputs-missing-required"] {
        let pair = recorded_pair("executions", name);
        let (status, out) = bed
            .send(
                bed.http
                    .post(bed.url("/executions/company.team/all_inputs"))
                    .header(
                        "Content-Type",
                        pair["request_headers"]["Content-Type"].as_str().expect("ct"),
                    )
                    .body(pair["request_body"].as_str().expect("body").to_owned()),
            )
            .await;
        assert_eq!(status, 422, "{name}: {out}");
        assert_eq!(out["message"], pair["response_body"]["message"], "{name}");
    }
}
