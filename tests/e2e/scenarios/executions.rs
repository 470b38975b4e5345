//! Executions: run with inputs and labels, wait, logs, pause/resume, restart, replay, status,
//! labels, kill, backfill.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{self, Api};
use crate::ctx::Ctx;
use crate::scenarios::helpers::{TERMINAL, log_messages, poll, results, wait_logs};

fn log_flow(ns: &str, id: &str) -> String {
    format!(
        r#"id: {id}
namespace: {ns}
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: count
    type: INT
    defaults: 1
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{{{ inputs.name }}}}"
"#
    )
}

fn sleep_flow(ns: &str, id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: awake\n"
    )
}

fn pause_flow(ns: &str, id: &str) -> String {
    format!(
        r#"id: {id}
namespace: {ns}
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: waiting for approval
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOL
        defaults: true
      - id: comment
        type: STRING
        defaults: none
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: approved
"#
    )
}

fn fail_flow(ns: &str, id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n  - id: ok\n    type: io.kestra.plugin.core.log.Log\n    message: fine\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: on purpose\n"
    )
}

/// Waits until the API holds a log of `execution` containing `text`.
async fn wait_log(c: &Ctx, execution: &str, text: &str) {
    let awaited = format!("no log '{text}'");
    wait_logs(c, execution, &awaited, |logs| log_messages(logs).contains(text)).await;
}

pub async fn execute_inputs_labels_logs(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&log_flow(&ns, "hello")).await;
    let id = c
        .execute(
            &ns,
            "hello",
            json!({"inputs": {"name": "e2e", "count": 3}, "labels": {"team": "qa", "origin": "kestra-mcp"}}),
        )
        .await;
    let done = c.wait_state(&id, TERMINAL).await;
    assert_eq!(api::state(&done), "SUCCESS", "{done}");
    assert_eq!(done["inputs"]["name"], json!("e2e"), "inputs: {}", done["inputs"]);
    assert_eq!(done["inputs"]["count"], json!(3), "inputs: {}", done["inputs"]);
    assert!(api::has_label(&done, "team", "qa"), "labels: {}", done["labels"]);
    assert!(
        api::has_label(&done, "origin", "kestra-mcp"),
        "labels: {}",
        done["labels"]
    );
    assert_eq!(done["flowId"], json!("hello"));
    wait_log(&c, &id, "Hello e2e").await;

    // Labels as a list of "k:v" strings, and `wait`: the answer is the ended execution.
    let out = c
        .ok(
            "execute_flow",
            json!({"namespace": ns, "flow_id": "hello", "wait": true, "labels": ["shape:list"]}),
        )
        .await;
    let waited = out["id"].as_str().expect("id").to_owned();
    c.made().made.executions.insert(waited.clone());
    assert!(
        TERMINAL.contains(&api::state(&out).as_str()),
        "wait=true answered before the end: {out}"
    );
    let e = c.api.execution(&waited).await.json("execution");
    assert!(api::has_label(&e, "shape", "list"), "{}", e["labels"]);

    if c.has("list_executions") {
        let out = c
            .ok("list_executions", json!({"namespace": ns, "flow_id": "hello"}))
            .await;
        let ids: Vec<String> = results(&out)
            .iter()
            .filter_map(|x| x["id"].as_str().map(str::to_owned))
            .collect();
        assert!(
            ids.contains(&id) && ids.contains(&waited),
            "list_executions: {out}"
        );
    }

    // Logs.
    if c.has("get_execution_logs") {
        let out = c.ok("get_execution_logs", json!({"execution_id": id})).await;
        assert!(
            log_messages(&out).contains("Hello e2e"),
            "get_execution_logs: {out}"
        );
        // A minimum level (2.0 refuses EQUALS on the level; findings::log_level_filter).
        let out = c
            .ok(
                "get_execution_logs",
                json!({"execution_id": id, "min_level": "ERROR"}),
            )
            .await;
        assert!(
            !log_messages(&out).contains("Hello e2e"),
            "min_level ERROR kept an INFO log: {out}"
        );
        let out = c
            .ok(
                "get_execution_logs",
                json!({"execution_id": id, "min_level": "DEBUG"}),
            )
            .await;
        assert!(
            log_messages(&out).contains("Hello e2e"),
            "min_level DEBUG dropped an INFO log: {out}"
        );
    }
    if c.has("download_execution_logs") {
        let out = c.ok("download_execution_logs", json!({"execution_id": id})).await;
        assert!(
            out.to_string().contains("Hello e2e"),
            "download_execution_logs: {out}"
        );
    }
    if c.has("search_logs") {
        let out = c
            .ok(
                "search_logs",
                json!({"namespace": ns, "flow_id": "hello", "size": 50}),
            )
            .await;
        assert!(log_messages(&out).contains("Hello e2e"), "search_logs: {out}");
    }
    if c.has("follow_execution_logs") {
        let out = c.ok("follow_execution_logs", json!({"execution_id": id})).await;
        assert!(
            out.to_string().contains("Hello e2e"),
            "follow_execution_logs: {out}"
        );
    }
    if c.has("delete_execution_logs") {
        c.ok("delete_execution_logs", json!({"execution_id": id})).await;
        let logs = c.api.logs(&id).await.json("logs");
        assert!(
            results(&logs).is_empty(),
            "logs remain after delete_execution_logs: {logs}"
        );
    }
    if c.has("delete_flow_logs") {
        c.ok("delete_flow_logs", json!({"namespace": ns, "flow_id": "hello"}))
            .await;
        let logs = c.api.logs(&waited).await.json("logs");
        assert!(
            results(&logs).is_empty(),
            "logs remain after delete_flow_logs: {logs}"
        );
    }

    if c.has("manage_executions[delete]") {
        c.ok(
            "manage_executions",
            json!({"action": "delete", "execution_id": id}),
        )
        .await;
        assert_eq!(
            c.api.execution(&id).await.status,
            404,
            "deleted execution still readable"
        );
    }
}

/// The outputs of a task run: inline in the execution on 1.3; on 2.0 the task runs no longer
/// carry them and they come from `GET /outputs/{executionId}/{taskRunId}` (recorded
/// v20/inv2-outputs-*).
async fn task_outputs(c: &Ctx, execution: &Value, task_id: &str) -> Value {
    let run = execution["taskRunList"]
        .as_array()
        .and_then(|l| l.iter().find(|t| t["taskId"] == json!(task_id)).cloned())
        .unwrap_or_else(|| panic!("no task run {task_id} in {execution}"));
    if !c.v2() {
        return run["outputs"].clone();
    }
    let (id, run_id) = (
        execution["id"].as_str().unwrap_or_default(),
        run["id"].as_str().unwrap_or_default(),
    );
    c.api
        .get(&format!("/outputs/{}/{}", Api::enc(id), Api::enc(run_id)))
        .await
        .json("task run outputs")
}

pub async fn pause_and_resume(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow", "resume_execution"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&pause_flow(&ns, "approval")).await;

    // By id, without inputs.
    let a = c.execute(&ns, "approval", json!({})).await;
    c.wait_state(&a, &["PAUSED"]).await;
    c.ok("resume_execution", json!({"execution_ids": [a]})).await;
    let e = c.wait_state(&a, TERMINAL).await;
    assert_eq!(api::state(&e), "SUCCESS", "{e}");

    // The latest paused execution of the flow, with onResume inputs.
    let b = c.execute(&ns, "approval", json!({})).await;
    c.wait_state(&b, &["PAUSED"]).await;
    c.ok(
        "resume_execution",
        json!({"namespace": ns, "flow_id": "approval", "on_resume": {"approved": false, "comment": "lgtm"}}),
    )
    .await;
    let e = c.wait_state(&b, TERMINAL).await;
    assert_eq!(api::state(&e), "SUCCESS", "{e}");
    let outputs = task_outputs(&c, &e, "approve").await;
    assert_eq!(
        outputs["onResume"]["approved"],
        json!(false),
        "the BOOL onResume input did not reach the server as a boolean: {outputs}"
    );
    assert_eq!(
        outputs["onResume"]["comment"],
        json!("lgtm"),
        "the STRING onResume input did not reach the server: {outputs}"
    );

    // Pause a running execution, then resume it.
    if c.has("manage_executions[pause]") {
        c.create_flow(&sleep_flow(&ns, "napper")).await;
        let s = c.execute(&ns, "napper", json!({})).await;
        c.wait_state(&s, &["RUNNING"]).await;
        let out = c
            .ok("manage_executions", json!({"action": "pause", "execution_id": s}))
            .await;
        let _ = out;
        c.wait_state(&s, &["PAUSED"]).await;
        c.ok("resume_execution", json!({"execution_ids": [s]})).await;
        c.wait_state(&s, &["RUNNING", "SUCCESS"]).await;
    }

    // Force-run a paused execution.
    if c.has("force_run_execution") {
        let f = c.execute(&ns, "approval", json!({})).await;
        c.wait_state(&f, &["PAUSED"]).await;
        c.ok("force_run_execution", json!({"execution_id": f})).await;
        let e = c.wait_state(&f, TERMINAL).await;
        assert_eq!(api::state(&e), "SUCCESS", "{e}");
    }
}

pub async fn restart_failed(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow", "restart_execution"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&fail_flow(&ns, "failing")).await;
    let id = c.execute(&ns, "failing", json!({})).await;
    let e = c.wait_state(&id, TERMINAL).await;
    assert_eq!(api::state(&e), "FAILED", "{e}");

    c.ok(
        "restart_execution",
        json!({"namespace": ns, "flow_id": "failing", "execution_id": id}),
    )
    .await;
    let e = c.wait_state(&id, TERMINAL).await;
    let history: Vec<&str> = e["state"]["histories"]
        .as_array()
        .map(|h| h.iter().filter_map(|s| s["state"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        history.contains(&"RESTARTED"),
        "no RESTARTED in the history: {history:?}"
    );
    assert_eq!(api::state(&e), "FAILED", "the Fail task should fail again: {e}");

    // Without an id: the latest FAILED execution of the flow.
    c.ok(
        "restart_execution",
        json!({"namespace": ns, "flow_id": "failing"}),
    )
    .await;
    let e = c.wait_state(&id, TERMINAL).await;
    let restarts = e["state"]["histories"]
        .as_array()
        .map(|h| h.iter().filter(|s| s["state"] == json!("RESTARTED")).count())
        .unwrap_or_default();
    assert_eq!(
        restarts, 2,
        "the latest failed execution was not restarted: {}",
        e["state"]
    );

    // A non-failed execution cannot be restarted.
    c.create_flow(&log_flow(&ns, "fine")).await;
    let ok = c.execute(&ns, "fine", json!({})).await;
    c.wait_state(&ok, TERMINAL).await;
    c.err(
        "restart_execution",
        json!({"namespace": ns, "flow_id": "fine", "execution_id": ok}),
    )
    .await;

    if c.has("change_taskrun_state") {
        c.ok(
            "change_taskrun_state",
            json!({"execution_id": id, "state": "SUCCESS"}),
        )
        .await;
        let e = c.wait_state(&id, TERMINAL).await;
        let boom = e["taskRunList"]
            .as_array()
            .and_then(|l| l.iter().rev().find(|t| t["taskId"] == json!("boom")).cloned())
            .unwrap_or_default();
        assert_eq!(
            boom["state"]["current"],
            json!("SUCCESS"),
            "the task run was not changed: {boom}"
        );
        assert_eq!(api::state(&e), "SUCCESS", "{e}");
    }
}

pub async fn replay(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow", "replay_execution"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&log_flow(&ns, "again")).await;
    let id = c
        .execute(&ns, "again", json!({"inputs": {"name": "first"}}))
        .await;
    c.wait_state(&id, TERMINAL).await;

    c.ok("replay_execution", json!({"ids": [id]})).await;
    let replayed = poll(Duration::from_secs(30), Duration::from_millis(200), || async {
        let all = c.api.executions_of(&ns, Some("again")).await;
        all.into_iter()
            .find(|x| x["id"] != json!(id))
            .ok_or_else(|| format!("no replayed execution of {id}"))
    })
    .await;
    let rid = replayed["id"].as_str().expect("id").to_owned();
    c.made().made.executions.insert(rid.clone());
    let r = c.wait_state(&rid, TERMINAL).await;
    assert_eq!(
        r["inputs"]["name"],
        json!("first"),
        "the replay lost the inputs: {r}"
    );
    assert!(api::has_label(&r, "system.replay", "true"), "{}", r["labels"]);

    // The latest execution of the flow.
    c.ok("replay_execution", json!({"namespace": ns, "flow_id": "again"}))
        .await;
    poll(Duration::from_secs(30), Duration::from_millis(200), || async {
        if c.api.executions_of(&ns, Some("again")).await.len() >= 3 {
            Ok(())
        } else {
            Err("replay of the latest execution made nothing".to_owned())
        }
    })
    .await;
}

pub async fn change_status_and_labels(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&log_flow(&ns, "labelled")).await;
    let id = c
        .execute(&ns, "labelled", json!({"labels": {"team": "qa"}}))
        .await;
    c.wait_state(&id, TERMINAL).await;

    if c.has("manage_executions[change_status]") {
        c.ok(
            "manage_executions",
            json!({"action": "change_status", "execution_id": id, "status": "WARNING"}),
        )
        .await;
        let e = c.api.execution(&id).await.json("execution");
        assert_eq!(api::state(&e), "WARNING", "{}", e["state"]);
    }
    if c.has("add_execution_labels") {
        c.ok(
            "add_execution_labels",
            json!({"execution_id": id, "labels": {"reviewed": "yes", "team": "ops"}}),
        )
        .await;
        let e = c.api.execution(&id).await.json("execution");
        assert!(api::has_label(&e, "reviewed", "yes"), "{}", e["labels"]);
        assert!(
            api::has_label(&e, "team", "ops"),
            "new value should win: {}",
            e["labels"]
        );
        assert!(
            !api::has_label(&e, "team", "qa"),
            "old value kept: {}",
            e["labels"]
        );
    }
    if c.has("manage_executions[get]") {
        let e = c
            .ok("manage_executions", json!({"action": "get", "execution_id": id}))
            .await;
        assert_eq!(e["id"], json!(id));
    }
}

pub async fn kill_running(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow", "manage_executions[kill]"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&sleep_flow(&ns, "sleeper")).await;
    let id = c.execute(&ns, "sleeper", json!({})).await;
    c.wait_state(&id, &["RUNNING"]).await;
    c.ok("manage_executions", json!({"action": "kill", "execution_id": id}))
        .await;
    let e = c.wait_state(&id, TERMINAL).await;
    assert_eq!(api::state(&e), "KILLED", "{}", e["state"]);
    // Killing it again is not an error for the tool (the Python server maps 409/422 to a status).
    let again = c
        .call("manage_executions", json!({"action": "kill", "execution_id": id}))
        .await;
    let _ = again;
    let unknown = c
        .call(
            "manage_executions",
            json!({"action": "kill", "execution_id": "e2eNoSuchExecution0000"}),
        )
        .await;
    assert!(
        unknown.text.to_lowercase().contains("not"),
        "kill of an unknown execution: {}",
        unknown.text
    );
}

pub async fn backfill_schedule(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "backfill_executions"]) {
        return;
    }
    let ns = c.ns.clone();
    let yaml = format!(
        "id: hourly\nnamespace: {ns}\ninputs:\n  - id: who\n    type: STRING\n    defaults: cron\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"tick {{{{ inputs.who }}}}\"\ntriggers:\n  - id: every_hour\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 * * * *\"\n"
    );
    c.create_flow(&yaml).await;
    c.ok(
        "backfill_executions",
        json!({"namespace": ns, "flow_id": "hourly", "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:30:00Z",
               "inputs": {"who": "backfill"}, "labels": [{"key": "source", "value": "backfill"}]}),
    )
    .await;
    let triggers = c
        .api
        .get(&format!(
            "/triggers/search?page=1&size=50&filters[namespace][EQUALS]={}",
            Api::enc(&ns)
        ))
        .await
        .json("triggers");
    let t = results(&triggers)
        .into_iter()
        .find(|t| {
            // 1.3: the trigger context itself; 2.0: {trigger, state: {triggerId, backfill, ...}}.
            [
                &t["triggerId"],
                &t["state"]["triggerId"],
                &t["triggerContext"]["triggerId"],
            ]
            .iter()
            .any(|v| **v == json!("every_hour"))
        })
        .unwrap_or_else(|| panic!("no trigger every_hour: {triggers}"));
    assert!(
        t.to_string().contains("backfill"),
        "the trigger holds no backfill: {t}"
    );
    // The backfill emits one execution per cron slot (00:00, 01:00, 02:00: the start slot
    // included on both versions, see findings::backfill_start_slot), progressively: a real 2.0
    // schedules about one slot per second, none in the first second (recorded v20/inv3-*).
    let within = Duration::from_secs(if c.sim() { 15 } else { 120 });
    let all = poll(within, Duration::from_millis(300), || async {
        let all = c.api.executions_of(&ns, Some("hourly")).await;
        if all.len() >= 3 {
            Ok(all)
        } else {
            Err(format!("the backfill made {} execution(s), want 3", all.len()))
        }
    })
    .await;
    let mut dates: Vec<&str> = all
        .iter()
        .filter_map(|x| x["trigger"]["variables"]["date"].as_str())
        .collect();
    dates.sort_unstable();
    assert_eq!(
        dates,
        [
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:00:00Z",
            "2026-01-01T02:00:00Z"
        ],
        "backfill slots"
    );
    assert!(
        all.iter().all(|x| x["inputs"]["who"] == json!("backfill")),
        "{all:?}"
    );
    assert!(
        all.iter().all(|x| api::has_label(x, "source", "backfill")),
        "{all:?}"
    );
    // Without a trigger id and with a relative window: the first Schedule trigger is found.
    c.ok(
        "backfill_executions",
        json!({"namespace": ns, "flow_id": "hourly", "hours": 2}),
    )
    .await;
}
