//! The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663 as rmcp 3.11 serves it), in
//! raw JSON-RPC over stdio: neither official SDK at hand speaks this revision (the TypeScript
//! SDK 1.32 has the 2025-11-25 experimental tasks, the Python SDK 2.3 no client for them).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::stub::{Bed, lines};
use crate::util::result_json;
use crate::waits::{bed_for, mount_paused, mount_progressing};

const TASKS: &str = "io.modelcontextprotocol/tasks";

fn with_tasks(mut capabilities: Value) -> Value {
    capabilities["extensions"] = json!({TASKS: {}});
    capabilities
}

/// Calls `name` and returns the task handle the server answered with.
async fn start_task(bed: &mut Bed, name: &str, arguments: Value) -> String {
    let reply = bed
        .server
        .request("tools/call", json!({"name": name, "arguments": arguments}))
        .await;
    let result = &reply["result"];
    assert_eq!(result["resultType"], "task", "{reply}");
    assert_eq!(result["status"], "working", "{reply}");
    assert!(result["ttlMs"].as_u64().is_some_and(|ms| ms > 0), "{reply}");
    result["taskId"].as_str().expect("a task id").to_owned()
}

/// Polls `tasks/get` until the task's status is one of `statuses`.
async fn poll_until(bed: &mut Bed, task_id: &str, statuses: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = bed.server.request("tasks/get", json!({"taskId": task_id})).await;
        let task = reply["result"].clone();
        if statuses.iter().any(|s| task["status"] == *s) {
            return task;
        }
        assert!(Instant::now() < deadline, "still {task}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_client_that_declares_tasks_gets_a_task_and_reads_the_result_with_tasks_get() {
    let mut bed = bed_for(with_tasks(json!({})), &[("KESTRA_MCP_TIMEOUT", "1")]).await;
    mount_progressing(&bed, Some(Duration::from_millis(500))).await;
    let task_id = start_task(
        &mut bed,
        "execute_flow",
        json!({"namespace": "ns", "flow_id": "f", "wait": true}),
    )
    .await;
    // While it runs, the status message tells how far it got.
    let working = poll_until(&mut bed, &task_id, &["working"]).await;
    assert_eq!(working["taskId"], task_id.as_str());
    let done = poll_until(&mut bed, &task_id, &["completed", "failed", "cancelled"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        result_json(&done["result"]),
        json!({"id": "e1", "namespace": "ns", "flowId": "f", "state": {"current": "SUCCESS", "duration": "PT3S"},
               "outputs": {"answer": 42}}),
        "{done}"
    );
    assert!(
        done["statusMessage"]
            .as_str()
            .is_some_and(|m| m.starts_with("3/3")),
        "{done}"
    );
}

#[tokio::test]
async fn tools_that_cannot_wait_and_clients_without_tasks_answer_at_once() {
    let mut bed = bed_for(with_tasks(json!({})), &[]).await;
    bed.answer(
        "GET",
        "/api/v1/main/logs/e9",
        crate::stub::json(json!([{"message": "hello"}])),
    )
    .await;
    let reply = bed
        .server
        .request(
            "tools/call",
            json!({"name": "get_execution_logs", "arguments": {"execution_id": "e9"}}),
        )
        .await;
    assert!(reply["result"]["resultType"] != "task", "{reply}");
    assert!(reply["result"]["content"].is_array(), "{reply}");

    let mut plain = bed_for(json!({}), &[]).await;
    mount_progressing(&plain, Some(Duration::from_millis(100))).await;
    let reply = plain
        .server
        .request(
            "tools/call",
            json!({"name": "execute_flow", "arguments": {"namespace": "ns", "flow_id": "f", "wait": true}}),
        )
        .await;
    assert_eq!(
        result_json(&reply["result"])["state"]["current"],
        "SUCCESS",
        "{reply}"
    );
    let denied = plain.server.request("tasks/get", json!({"taskId": "x"})).await;
    assert!(denied["error"].is_object(), "{denied}");
}

#[tokio::test]
async fn tasks_cancel_stops_the_wait_and_kills_with_kill_on_cancel() {
    let mut bed = bed_for(with_tasks(json!({})), &[("KESTRA_MCP_KILL_ON_CANCEL", "true")]).await;
    mount_progressing(&bed, None).await;
    let task_id = start_task(
        &mut bed,
        "execute_flow",
        json!({"namespace": "ns", "flow_id": "f", "wait": true}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ack = bed
        .server
        .request("tasks/cancel", json!({"taskId": task_id}))
        .await;
    assert!(ack["result"].is_object(), "{ack}");
    let task = poll_until(&mut bed, &task_id, &["completed", "failed", "cancelled"]).await;
    assert_eq!(task["status"], "cancelled", "{task}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let sent = lines(&bed.requests().await);
        if sent.iter().any(|l| l == "DELETE /api/v1/main/executions/e1/kill") {
            break;
        }
        assert!(Instant::now() < deadline, "no kill: {sent:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_question_during_a_task_is_input_required_and_tasks_update_answers_it() {
    let mut bed = bed_for(with_tasks(json!({"elicitation": {}})), &[]).await;
    mount_paused(&bed).await;
    let task_id = start_task(
        &mut bed,
        "execute_flow",
        json!({"namespace": "ns", "flow_id": "approval", "wait": true}),
    )
    .await;
    let asking = poll_until(&mut bed, &task_id, &["input_required", "completed", "failed"]).await;
    assert_eq!(asking["status"], "input_required", "{asking}");
    let requests = asking["inputRequests"].as_object().expect("input requests");
    let (key, request) = requests.iter().next().expect("one request");
    assert_eq!(request["method"], "elicitation/create", "{asking}");
    assert!(
        request["params"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("paused at task approve")),
        "{asking}"
    );
    let answer = json!({"action": "accept", "content": {"approved": true, "comment": "ok"}});
    let ack = bed
        .server
        .request(
            "tasks/update",
            json!({"taskId": task_id, "inputResponses": {key.as_str(): answer}}),
        )
        .await;
    assert!(ack["result"].is_object(), "{ack}");
    let done = poll_until(&mut bed, &task_id, &["completed", "failed", "cancelled"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    let out = &result_json(&done["result"]);
    assert_eq!(out["state"]["current"], "SUCCESS", "{done}");
    assert_eq!(
        out["resumedWith"],
        json!({"approved": true, "comment": "ok"}),
        "{done}"
    );
}
