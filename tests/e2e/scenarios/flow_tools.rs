//! Flows as tools (issue 17): a kestra-mcp started with a `kind: flow_tools` selection of this
//! scenario's namespace (refresh every second) offers a flow created after it started as a tool
//! of its own, with typed arguments; a call starts the flow, waits for it and answers its
//! outputs; the execution read back through the API holds the inputs typed, the labels that
//! mark it as started from MCP, and the outputs. An invalid argument is refused before any
//! request reaches Kestra.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api;
use crate::client::{Mcp, env_for};
use crate::ctx::Ctx;

/// The flow: inputs of several types (one required, the others with defaults), outputs from
/// an input and from a task's output.
fn greet_flow(ns: &str) -> String {
    format!(
        "id: greet
namespace: {ns}
description: Greets someone, as many times as asked
inputs:
  - id: user
    type: STRING
    description: Who to greet
  - id: count
    type: INT
    defaults: 2
    min: 1
    max: 10
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
    format: \"hello {{{{ inputs.user }}}}\"
outputs:
  - id: greeting
    type: STRING
    value: \"{{{{ outputs.hello.value }}}}\"
  - id: times
    type: INT
    value: \"{{{{ inputs.count }}}}\"
"
    )
}

/// The selection file: this namespace's flows, re-listed every second, one extra label.
fn selection(ns: &str) -> String {
    format!(
        "kind: flow_tools\nselect:\n  - namespace: {ns}\nrefresh: 1\nwait_limit: 60\nlabels:\n  team: e2e\n"
    )
}

/// Waits until the server lists the tool `name`; returns its definition.
async fn listed_tool(mcp: &mut Mcp, name: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let tools = mcp.tools().await;
        if let Some(tool) = tools.iter().find(|t| t["name"] == name) {
            return tool.clone();
        }
        assert!(
            Instant::now() < deadline,
            "tool {name} not listed within {within:?} ({} tools)",
            tools.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn executions_count(list: &[Value]) -> usize {
    list.len()
}

pub async fn flow_tools(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml"]) {
        return;
    }
    let ns = c.ns.clone();
    let dir = tempfile::tempdir().expect("temp tools dir");
    std::fs::write(dir.path().join("flows.yaml"), selection(&ns)).expect("selection file");
    let mut env: Vec<(String, String)> = env_for(&c.target, false)
        .into_iter()
        .filter(|(k, _)| k != "KESTRA_MCP_TOOLS_DIR")
        .collect();
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    let mut flows = Mcp::start(&env).await;
    let before = flows.tools().await;
    assert!(
        !before.iter().any(|t| t["name"] == "greet"),
        "no flow yet, no tool"
    );

    // The flow is created after the server started: the refresh brings its tool.
    c.create_flow(&greet_flow(&ns)).await;
    let within = Duration::from_secs(if c.sim() { 20 } else { 60 });
    let tool = listed_tool(&mut flows, "greet", within).await;
    let schema = &tool["inputSchema"];
    let mut properties: Vec<&str> = schema["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    properties.sort_unstable();
    assert_eq!(properties, ["count", "tags", "timeout", "user"], "{tool}");
    assert_eq!(
        schema["required"],
        json!(["user"]),
        "only inputs without a default: {tool}"
    );
    assert_eq!(schema["additionalProperties"], json!(false), "{tool}");
    assert_eq!(schema["properties"]["count"]["type"], "integer", "{tool}");
    assert_eq!(schema["properties"]["tags"]["type"], "array", "{tool}");

    // Invalid arguments are refused before any request: no execution is started.
    for bad in [
        json!({"user": "Ada", "count": "three"}),
        json!({"user": "Ada", "count": 11}),
        json!({"user": "Ada", "tags": ["d"]}),
        json!({"count": 3}),
        json!({"user": "Ada", "colour": "red"}),
    ] {
        let r = flows.call("greet", &bad).await;
        assert!(r.is_error, "greet({bad}) should be refused: {}", r.text);
    }
    assert_eq!(
        executions_count(&c.api.executions_of(&ns, Some("greet")).await),
        0,
        "a refused call started an execution"
    );

    // A call with typed arguments runs the flow and answers its outputs.
    let args = json!({"user": "Ada", "count": 3, "tags": ["b", "c"], "timeout": "PT2M"});
    let r = flows.call("greet", &args).await;
    assert!(!r.is_error, "greet({args}) failed: {}", r.text);
    let out = r.value;
    let id = out["executionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no executionId: {out}"))
        .to_owned();
    c.made().made.executions.insert(id.clone());
    let state = out["state"].as_str().or_else(|| out["state"]["current"].as_str());
    assert_eq!(state, Some("SUCCESS"), "{out}");
    assert_eq!(out["outputs"]["greeting"], "hello Ada", "{out}");
    assert_eq!(out["outputs"]["times"], 3, "{out}");
    assert!(
        out["url"].as_str().is_some_and(|u| u.contains(&id)),
        "no UI link: {out}"
    );

    // Read back: inputs typed as Kestra stores them, the labels, the outputs.
    let e = c.api.execution(&id).await.json("the flow tool's execution");
    assert_eq!(api::state(&e), "SUCCESS", "{e}");
    assert_eq!(e["inputs"]["user"], "Ada", "{e}");
    assert_eq!(e["inputs"]["count"], 3, "{e}");
    assert_eq!(e["inputs"]["tags"], json!(["b", "c"]), "{e}");
    assert_eq!(
        e["inputs"]["timeout"].as_f64(),
        Some(120.0),
        "DURATION in seconds: {e}"
    );
    assert!(api::has_label(&e, "system.from", "mcp"), "{e}");
    assert!(api::has_label(&e, "mcp.tool", "greet"), "{e}");
    assert!(api::has_label(&e, "team", "e2e"), "the selection's labels: {e}");
    assert_eq!(e["outputs"]["greeting"], "hello Ada", "{e}");
    assert_eq!(e["outputs"]["times"], 3, "{e}");
    assert_eq!(
        executions_count(&c.api.executions_of(&ns, Some("greet")).await),
        1
    );
    flows.close().await;
}
