//! What flow tools rely on, value by value: a flow with every input type (the recorded
//! `all_inputs` pairs of 1.3.0 and 2.0.0-SNAPSHOT replayed, comparing values where the shape
//! replays compare only keys and types), labels on executions started from the API, flow
//! outputs, the McpToolTrigger of 2.0 and the flows search filters of each version.

use std::time::Duration;

use kestra_sim::{KestraVersion, Options, RunningSim, Simulator};
use serde_json::{Value, json};

struct Bed {
    sim: RunningSim,
    http: reqwest::Client,
    corpus: &'static str,
}

impl Bed {
    async fn start(version: KestraVersion) -> Bed {
        let start = chrono::DateTime::parse_from_rfc3339("2026-12-07T00:02:00Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        let sim = Simulator::spawn_with(
            version,
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
        let corpus = match version {
            KestraVersion::V1_3 => "recorded-1.3.0",
            _ => "recorded-2.0.0-SNAPSHOT",
        };
        Bed { sim, http, corpus }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}/main{path_and_query}", self.sim.api_url())
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        self.sim.advance(Duration::from_secs(1));
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    async fn flow(&self, yaml: &str) -> (u16, Value) {
        let rb = self
            .http
            .post(self.url("/flows"))
            .header("Content-Type", "application/x-yaml")
            .body(yaml.to_owned());
        self.send(rb).await
    }

    /// Starts an execution with text form fields (multipart), as kestra-mcp does.
    async fn execute(&self, ns_flow_query: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        const BOUNDARY: &str = "flowToolsTestBoundary";
        let mut body = String::new();
        for (k, v) in fields {
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!("--{BOUNDARY}--\r\n"));
        let rb = self
            .http
            .post(self.url(&format!("/executions/{ns_flow_query}")))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body);
        self.send(rb).await
    }

    /// Sends a recorded pair's request as it was recorded (its path, query, content type
    /// and body) and returns the recorded pair with the simulator's answer.
    async fn replay(&self, file: &str, name: &str) -> (Value, u16, Value) {
        let pair = recorded_pair(self.corpus, file, name);
        let path = pair["path"].as_str().expect("path");
        let path = path.strip_prefix("/api/v1/main").expect("tenant path");
        let query = pair["query"]
            .as_str()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let method =
            reqwest::Method::from_bytes(pair["method"].as_str().expect("method").as_bytes()).expect("method");
        let mut rb = self.http.request(method, self.url(&format!("{path}{query}")));
        if let Some(ct) = pair["request_content_type"].as_str() {
            rb = rb.header("Content-Type", ct);
        }
        if let Some(body) = pair["request_body"].as_str() {
            rb = rb.body(body.to_owned());
        }
        let (status, body) = self.send(rb).await;
        (pair, status, body)
    }
}

fn recorded_pair(corpus: &str, file: &str, name: &str) -> Value {
    let path = format!("{}/tests/{corpus}/{file}.json", env!("CARGO_MANIFEST_DIR"));
    let pairs: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("corpus file")).expect("json");
    pairs
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no pair {file}/{name} in {corpus}"))
}

/// The recorded answer body (or the excerpt of a truncated one).
fn recorded_body(pair: &Value) -> &Value {
    match pair["response_body_format"].as_str() {
        Some("json-truncated") => &pair["response_excerpt"],
        _ => &pair["response_body"],
    }
}

/// Inputs as stored, without the FILE input (its URI holds the execution id).
fn inputs_without_file(e: &Value) -> Value {
    let mut inputs = e["inputs"].clone();
    if let Some(m) = inputs.as_object_mut() {
        let file = m.remove("file");
        assert!(
            file.as_ref()
                .is_none_or(|f| f.is_null() || f.as_str().is_some_and(|s| s.starts_with("kestra:///"))),
            "file input {file:?}"
        );
    }
    inputs
}

/// Label keys and values, the correlation id (the execution's own id) blanked.
fn labels(e: &Value) -> Vec<(String, String)> {
    e["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| {
            let k = l["key"].as_str().unwrap_or("").to_owned();
            let v = if k == "system.correlationId" {
                "<id>".to_owned()
            } else {
                l["value"].as_str().unwrap_or("").to_owned()
            };
            (k, v)
        })
        .collect()
}

/// Each validated input as (id, value, isDefault, error messages).
fn validated(v: &Value) -> Vec<Value> {
    v["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| {
            let errors: Vec<&Value> = i["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| &e["message"])
                .collect();
            json!([i["input"]["id"], i["value"], i["isDefault"], errors])
        })
        .filter(|i| i[0] != "file")
        .collect()
}

async fn all_inputs_replays_value_by_value(version: KestraVersion) {
    let bed = Bed::start(version).await;
    let (pair, status, _) = bed.replay("flows", "create-all_inputs").await;
    assert_eq!(status, pair["response_status"]);
    let (pair, status, flow) = bed.replay("flows", "get-all_inputs").await;
    assert_eq!(status, pair["response_status"]);
    assert_eq!(
        flow["inputs"],
        recorded_body(&pair)["inputs"],
        "normalised input definitions"
    );

    for name in ["validate-all_inputs-typed", "validate-all_inputs-bad"] {
        let (pair, status, body) = bed.replay("executions", name).await;
        assert_eq!(status, pair["response_status"], "{name}: {body}");
        assert_eq!(validated(&body), validated(recorded_body(&pair)), "{name}");
    }
    for name in [
        "create-all_inputs-typed-wait",
        "create-all_inputs-missing-required",
        "create-all_inputs-bad",
        "create-all_inputs-msel-repeated",
        "create-all_inputs-msel-csv",
    ] {
        let (pair, status, body) = bed.replay("executions", name).await;
        assert_eq!(status, pair["response_status"], "{name}: {body}");
        assert_eq!(body["message"], recorded_body(&pair)["message"], "{name}");
    }
    let (pair, status, created) = bed
        .replay("executions", "create-all_inputs-typed-no-secret-wait")
        .await;
    assert_eq!(status, pair["response_status"]);
    let recorded = recorded_body(&pair);
    assert_eq!(
        inputs_without_file(&created),
        inputs_without_file(recorded),
        "typed inputs"
    );
    assert_eq!(labels(&created), labels(recorded));
    assert_eq!(created["state"]["current"], recorded["state"]["current"]);
    let id = created["id"].as_str().expect("id");
    let (_, read) = bed.get(&format!("/executions/{id}")).await;
    let pair = recorded_pair(bed.corpus, "executions", "get-all_inputs-typed-no-secret");
    assert_eq!(
        inputs_without_file(&read),
        inputs_without_file(recorded_body(&pair))
    );

    let (pair, status, created) = bed.replay("executions", "create-all_inputs-defaults-only").await;
    assert_eq!(status, pair["response_status"]);
    assert_eq!(
        inputs_without_file(&created),
        inputs_without_file(recorded_body(&pair)),
        "defaults applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_inputs_of_1_3_replay_value_by_value() {
    all_inputs_replays_value_by_value(KestraVersion::V1_3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_inputs_of_2_0_replay_value_by_value() {
    all_inputs_replays_value_by_value(KestraVersion::V2_0).await;
}

/// A flow with typed inputs and outputs (the shape of the e2e scenario's flow).
const GREET: &str = "id: greet
namespace: company.tools
description: Greets someone
labels:
  mcp: tool
inputs:
  - id: user
    type: STRING
  - id: count
    type: INT
    defaults: 2
  - id: tags
    type: MULTISELECT
    values: [a, b, c]
    defaults: [a]
  - id: timeout
    type: DURATION
    defaults: PT1M
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: \"hello {{ inputs.user }}\"
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      loud: \"{{ inputs.user }}!\"
outputs:
  - id: greeting
    type: STRING
    value: \"{{ outputs.hello.value }}\"
  - id: shout
    type: STRING
    value: \"{{ outputs.values.values.loud }}\"
  - id: times
    type: INT
    value: \"{{ inputs.count }}\"
  - id: missing
    type: STRING
    required: false
";

async fn typed_inputs_outputs_and_labels(version: KestraVersion) {
    let bed = Bed::start(version).await;
    let (status, flow) = bed.flow(GREET).await;
    assert_eq!(status, 200, "{flow}");
    let fields = [("user", "Ada"), ("count", "3"), ("tags", "[\"b\",\"c\"]")];
    let (status, e) = bed
        .execute(
            "company.tools/greet?wait=true&labels=mcp.tool:greet&labels=system.from:mcp",
            &fields,
        )
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["state"]["current"], "SUCCESS", "{e}");
    assert_eq!(
        e["inputs"],
        json!({"user": "Ada", "count": 3, "tags": ["b", "c"], "timeout": 60.0})
    );
    assert_eq!(
        e["outputs"],
        json!({"greeting": "hello Ada", "shout": "Ada!", "times": 3, "missing": null})
    );
    let keys: Vec<(String, String)> = labels(&e);
    let want = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        keys,
        vec![
            want("mcp", "tool"),
            want("mcp.tool", "greet"),
            want("system.from", "mcp"),
            want("system.correlationId", "<id>")
        ]
    );
    let id = e["id"].as_str().expect("id");
    let (_, read) = bed.get(&format!("/executions/{id}")).await;
    assert_eq!(read["outputs"]["greeting"], "hello Ada");

    // Without a `system.from`, Kestra adds `system.from: api`; any other system label is refused.
    let (_, e) = bed
        .execute("company.tools/greet?wait=true", &[("user", "Bo")])
        .await;
    assert!(labels(&e).contains(&want("system.from", "api")), "{e}");
    let (status, refused) = bed
        .execute("company.tools/greet?labels=system.username:x", &[("user", "Bo")])
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        refused["message"],
        "Illegal argument: System labels can only be set by Kestra itself, offending label: system.username=x"
    );
    let (status, _) = bed
        .execute(
            "company.tools/greet/validate?labels=system.app:x",
            &[("user", "Bo")],
        )
        .await;
    assert_eq!(status, 422, "validate parses the labels as create does");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_inputs_outputs_and_labels_on_1_3() {
    typed_inputs_outputs_and_labels(KestraVersion::V1_3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_inputs_outputs_and_labels_on_2_0() {
    typed_inputs_outputs_and_labels(KestraVersion::V2_0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_that_cannot_be_rendered_fails_the_execution_without_outputs() {
    let bed = Bed::start(KestraVersion::V1_3).await;
    let flow = "id: broken\nnamespace: company.tools\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\noutputs:\n  - id: o\n    type: INT\n    value: \"{{ outputs.nowhere.value }}\"\n";
    assert_eq!(bed.flow(flow).await.0, 200);
    let (_, e) = bed.execute("company.tools/broken?wait=true", &[]).await;
    assert_eq!(e["state"]["current"], "FAILED", "{e}");
    assert!(e.get("outputs").is_none(), "{e}");
    let id = e["id"].as_str().expect("id");
    let (_, logs) = bed.get(&format!("/logs/{id}")).await;
    assert!(
        logs.to_string().contains("Failed to render output values"),
        "{logs}"
    );
}

const MCP_FLOW: &str = "id: report
namespace: company.analytics
inputs:
  - id: period
    type: STRING
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: \"{{ inputs.period }}\"
triggers:
  - id: mcp
    type: io.kestra.plugin.core.trigger.McpToolTrigger
    toolName: sales_report
    title: Sales Report Generator
    toolDescription: Generates a sales report for the given period.
    annotations:
      readOnly: true
      destructive: false
      idempotent: true
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_tool_trigger_is_a_2_0_trigger_with_its_constraints() {
    let v13 = Bed::start(KestraVersion::V1_3).await;
    let (status, refused) = v13.flow(MCP_FLOW).await;
    assert_eq!(status, 422);
    assert_eq!(
        refused["message"],
        "Invalid entity: Invalid type: io.kestra.plugin.core.trigger.McpToolTrigger"
    );

    let v20 = Bed::start(KestraVersion::V2_0).await;
    let (status, flow) = v20.flow(MCP_FLOW).await;
    assert_eq!(status, 200, "{flow}");
    let (_, read) = v20.get("/flows/company.analytics/report").await;
    assert_eq!(read["triggers"][0]["toolName"], "sales_report");
    assert_eq!(read["triggers"][0]["annotations"]["readOnly"], true);
    for (bad, message) in [
        (
            "    toolName: sales_report\n",
            "triggers[0].toolName: must not be null",
        ),
        (
            "    title: Sales Report Generator\n",
            "triggers[0].title: must not be null",
        ),
        ("", "triggers[0].toolName: Tool name must contain"),
    ] {
        let source = if bad.is_empty() {
            MCP_FLOW.replace("toolName: sales_report", "toolName: _sales report")
        } else {
            MCP_FLOW.replace(bad, "")
        };
        let (status, refused) = v20.flow(&source.replace("id: report", "id: report2")).await;
        assert_eq!(status, 422, "{refused}");
        let text = refused["message"].as_str().unwrap_or("");
        assert!(text.contains(message), "{text}\n{source}");
    }
}

async fn found(bed: &Bed, query: &str) -> Vec<String> {
    let (status, page) = bed.get(&format!("/flows/search?{query}")).await;
    assert_eq!(status, 200, "{page}");
    let mut ids: Vec<String> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|f| {
            format!(
                "{}.{}",
                f["namespace"].as_str().unwrap_or(""),
                f["id"].as_str().unwrap_or("")
            )
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_search_filters_by_namespace_and_labels_as_each_version_does() {
    for version in [KestraVersion::V1_3, KestraVersion::V2_0] {
        let bed = Bed::start(version).await;
        assert_eq!(bed.flow(GREET).await.0, 200);
        let other = "id: other\nnamespace: company.toolsmith\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
        assert_eq!(bed.flow(other).await.0, 200);
        let child = other
            .replace("company.toolsmith", "company.tools.sub")
            .replace("message: hi", "message: hi\nlabels:\n  mcp: tool");
        assert_eq!(bed.flow(&child).await.0, 200, "{child}");
        let all = found(&bed, "").await;
        assert_eq!(all.len(), 3);
        // `filters[…]` on both versions: EQUALS is the namespace, PREFIX with its children
        // (AbstractJdbcRepository), labels.
        assert_eq!(
            found(&bed, "filters[namespace][EQUALS]=company.tools").await,
            ["company.tools.greet"]
        );
        assert_eq!(
            found(&bed, "filters[namespace][PREFIX]=company.tools").await,
            ["company.tools.greet", "company.tools.sub.other"]
        );
        assert_eq!(
            found(&bed, "filters[labels][EQUALS][mcp]=tool").await,
            ["company.tools.greet", "company.tools.sub.other"]
        );
        // Legacy parameters: 1.3 filters, 2.0 ignores them (recorded flows/search-mcp-find_flow).
        let legacy = found(&bed, "namespace=company.toolsmith&labels=mcp:tool").await;
        match version {
            KestraVersion::V1_3 => assert!(legacy.is_empty(), "{legacy:?}"),
            _ => assert_eq!(legacy, all),
        }
    }
}
