//! Waiting for executions (issue 18): `wait` on execute_flow, restart_execution,
//! replay_execution and resume_execution follows the execution to its end (or its next pause)
//! and answers with a compact result, read back through the API.

use serde_json::{Value, json};

use crate::api;
use crate::ctx::Ctx;

fn flow(ns: &str, id: &str, tasks: &str) -> String {
    format!("id: {id}\nnamespace: {ns}\ntasks:\n{tasks}")
}

const SLOW: &str = "  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT2S\n  - id: done\n    type: io.kestra.plugin.core.log.Log\n    message: awake\n";
const FAILING: &str = "  - id: ok\n    type: io.kestra.plugin.core.log.Log\n    message: fine\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: on purpose\n";
const PAUSING: &str = "  - id: before\n    type: io.kestra.plugin.core.log.Log\n    message: asking\n  - id: approve\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: approved\n        type: BOOL\n        defaults: true\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: approved\n";

const TWO_PAUSES: &str = "  - id: approve\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: approved\n        type: BOOL\n        defaults: true\n      - id: comment\n        type: STRING\n  - id: confirm\n    type: io.kestra.plugin.core.flow.Pause\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: both answered\n";

fn state(out: &Value) -> &str {
    out["state"]["current"].as_str().unwrap_or_default()
}

pub async fn wait_for_executions(mut c: Ctx) {
    let tools = [
        "create_flow_from_yaml",
        "execute_flow",
        "restart_execution",
        "replay_execution",
        "resume_execution",
    ];
    if !c.require(&tools) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&flow(&ns, "slow", SLOW)).await;
    c.create_flow(&flow(&ns, "failing", FAILING)).await;
    c.create_flow(&flow(&ns, "pausing", PAUSING)).await;

    // A run of some seconds: the answer is the ended execution, compact.
    let out = c
        .ok(
            "execute_flow",
            json!({"namespace": ns, "flow_id": "slow", "wait": true}),
        )
        .await;
    let id = out["id"].as_str().expect("id").to_owned();
    c.made().made.executions.insert(id.clone());
    assert_eq!(state(&out), "SUCCESS", "{out}");
    assert!(out["state"]["duration"].is_string(), "no duration: {out}");
    assert!(out.get("taskRunList").is_none(), "not compact: {out}");
    let e = c.api.execution(&id).await.json("execution");
    assert_eq!(api::state(&e), "SUCCESS", "{e}");

    // A failure says which task failed, with the last log lines.
    let out = c
        .ok(
            "execute_flow",
            json!({"namespace": ns, "flow_id": "failing", "wait": true}),
        )
        .await;
    let failed = out["id"].as_str().expect("id").to_owned();
    c.made().made.executions.insert(failed.clone());
    assert_eq!(state(&out), "FAILED", "{out}");
    assert_eq!(out["failedTask"]["taskId"], "boom", "{out}");
    let logs = out["lastLogs"].to_string();
    assert!(logs.contains("on purpose"), "no error in the last logs: {out}");

    // Restarted and followed: it fails again.
    let out = c
        .ok(
            "restart_execution",
            json!({"namespace": ns, "flow_id": "failing", "execution_id": failed, "wait": true}),
        )
        .await;
    assert_eq!(
        (out["id"].as_str(), state(&out)),
        (Some(failed.as_str()), "FAILED"),
        "{out}"
    );
    let e = c.api.execution(&failed).await.json("execution");
    let restarted = e["state"]["histories"].to_string().contains("RESTARTED");
    assert!(restarted && api::state(&e) == "FAILED", "{}", e["state"]);

    // Replayed and followed: a new execution.
    let out = c.ok("replay_execution", json!({"ids": [id], "wait": true})).await;
    let replay = out["id"].as_str().expect("id").to_owned();
    c.made().made.executions.insert(replay.clone());
    assert_ne!(replay, id);
    assert_eq!(state(&out), "SUCCESS", "{out}");

    // A Pause: the wait ends there and says how to resume; resuming with wait follows to the end.
    let out = c
        .ok(
            "execute_flow",
            json!({"namespace": ns, "flow_id": "pausing", "wait": true}),
        )
        .await;
    let paused = out["id"].as_str().expect("id").to_owned();
    c.made().made.executions.insert(paused.clone());
    assert_eq!(state(&out), "PAUSED", "{out}");
    assert_eq!(out["pausedAt"], "approve", "{out}");
    assert_eq!(out["resumeInputs"], json!(["approved"]), "{out}");
    let out = c
        .ok(
            "resume_execution",
            json!({"execution_ids": [paused], "on_resume": {"approved": true}, "wait": true}),
        )
        .await;
    assert_eq!(state(&out), "SUCCESS", "{out}");
    let e = c.api.execution(&paused).await.json("execution");
    assert_eq!(api::state(&e), "SUCCESS", "{e}");
}

/// A client that declares `elicitation` (issue 18): execute_flow with `wait` asks at each Pause
/// (a form of the first Pause's onResume inputs, then yes/no for the second), resumes with the
/// answers and follows the execution to its end.
pub async fn pause_that_asks(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&flow(&ns, "asking", TWO_PAUSES)).await;
    let mut asking = crate::client::Mcp::start_asking(&crate::client::env_for(&c.target, false)).await;
    let (asked, reply) = asking
        .call_answering(
            "execute_flow",
            &json!({"namespace": ns, "flow_id": "asking", "wait": true}),
            |n, _| match n {
                0 => json!({"action": "accept", "content": {"approved": true, "comment": "from e2e"}}),
                _ => json!({"action": "accept", "content": {"resume": true}}),
            },
        )
        .await;
    asking.close().await;
    let out = reply.value;
    assert!(!reply.is_error, "{}", reply.text);
    let id = out["id"].as_str().expect("id").to_owned();
    c.made().made.executions.insert(id.clone());
    assert_eq!(asked.len(), 2, "{asked:?}");
    let message = |i: usize| asked[i]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message(0).contains("paused at task approve"), "{asked:?}");
    assert_eq!(
        asked[0]["requestedSchema"]["properties"]["approved"]["type"], "boolean",
        "{asked:?}"
    );
    assert!(message(1).contains("paused at task confirm"), "{asked:?}");
    assert_eq!(state(&out), "SUCCESS", "{out}");
    let e = c.api.execution(&id).await.json("execution");
    assert_eq!(api::state(&e), "SUCCESS", "{e}");
}
