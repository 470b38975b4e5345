//! Issue 19: ten chores an agent does, each as the calls it makes with the tools as they are,
//! with the calls and the bytes of the results it reads counted and printed (the issue measured
//! 26 calls and 36 KB for them on a real Kestra 1.3.0 with the earlier tools).

use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::scenarios::helpers::{TERMINAL, results};

fn approval_flow(ns: &str) -> String {
    format!(
        "id: approval\nnamespace: {ns}\ntasks:\n  - id: ask\n    type: io.kestra.plugin.core.flow.Pause\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: approved\n"
    )
}

fn failing_flow(ns: &str) -> String {
    format!(
        "id: nightly_load\nnamespace: {ns}\ntasks:\n  - id: extract\n    type: io.kestra.plugin.core.log.Log\n    message: extracting\n  - id: load\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: warehouse refused the load\n"
    )
}

fn report_flow(ns: &str) -> String {
    format!(
        "id: weekly\nnamespace: {ns}\ndescription: Sends the weekly sales report to the team\ntasks:\n  - id: send\n    type: io.kestra.plugin.core.log.Log\n    message: report sent\n"
    )
}

fn new_flow(ns: &str, task_type: &str) -> String {
    format!(
        "id: cleanup\nnamespace: {ns}\ntasks:\n  - id: tidy\n    type: {task_type}\n    message: tidying\n"
    )
}

/// Calls and result bytes per chore, as the agent reads them.
#[derive(Default)]
struct Tally {
    rows: Vec<(&'static str, usize, usize)>,
}

impl Tally {
    fn start(&mut self, chore: &'static str) {
        self.rows.push((chore, 0, 0));
    }

    /// One call of the current chore; it must succeed.
    async fn ok(&mut self, c: &mut Ctx, tool: &str, args: Value) -> Value {
        let reply = c.call(tool, args.clone()).await;
        assert!(!reply.is_error, "{tool}({args}) failed: {}", reply.text);
        if let Some(row) = self.rows.last_mut() {
            row.1 += 1;
            row.2 += reply.text.len();
        }
        reply.value
    }

    /// One call of the current chore that must fail (an agent reads the error too).
    async fn err(&mut self, c: &mut Ctx, tool: &str, args: Value) -> String {
        let reply = c.call(tool, args.clone()).await;
        assert!(
            reply.is_error,
            "{tool}({args}) should have failed: {}",
            reply.text
        );
        if let Some(row) = self.rows.last_mut() {
            row.1 += 1;
            row.2 += reply.text.len();
        }
        reply.text
    }

    fn report(&self, label: &str, tools: &str) {
        println!("[{label}] agent chores (issue 19) with {tools}: calls and result bytes");
        for (chore, calls, bytes) in &self.rows {
            println!("  {chore:<44} {calls:>2} calls {bytes:>7} bytes");
        }
        let calls: usize = self.rows.iter().map(|r| r.1).sum();
        let bytes: usize = self.rows.iter().map(|r| r.2).sum();
        println!("  {:<44} {calls:>2} calls {bytes:>7} bytes", "total");
    }
}

/// Two namespaces with paused, failed and successful executions, then the ten chores.
pub async fn agent_chores(mut c: Ctx) {
    if !c.require(&[
        "create_flow_from_yaml",
        "execute_flow",
        "list_executions",
        "manage_executions[get]",
        "restart_execution",
        "search_flows",
        "manage_flow[disable]",
        "download_execution_logs",
        "manage_kv_store[set]",
        "manage_kv_store[get]",
        "search_logs",
    ]) {
        return;
    }
    let (sales, ops) = (format!("{}.sales", c.ns), format!("{}.ops", c.ns));
    let mut paused = Vec::new();
    for ns in [&sales, &ops] {
        c.create_flow(&approval_flow(ns)).await;
        for _ in 0..2 {
            let id = c.execute(ns, "approval", json!({})).await;
            c.wait_state(&id, &["PAUSED"]).await;
            paused.push(id);
        }
    }
    c.create_flow(&report_flow(&sales)).await;
    for _ in 0..3 {
        let id = c.execute(&sales, "weekly", json!({})).await;
        c.wait_state(&id, TERMINAL).await;
    }
    c.create_flow(&failing_flow(&ops)).await;
    let failed = c.execute(&ops, "nightly_load", json!({})).await;
    c.wait_state(&failed, TERMINAL).await;

    let mut t = Tally::default();
    // The tools before issue 19 (KESTRA_E2E_TOOLS_DIR=<main's tools.d>) lack list_executions'
    // `state`: the same chores, as an agent does them with those tools.
    let tools = c.mcp.tools().await;
    let lists_by_state = tools.iter().any(|t| {
        t["name"] == json!("list_executions") && t["inputSchema"]["properties"].get("state").is_some()
    });
    if !lists_by_state {
        chores_before(&mut c, &mut t, &sales, &ops, &failed).await;
        t.report(&c.target.label, "the tools before issue 19");
        return;
    }

    t.start("1 find the paused executions");
    // Every namespace (Kestra filters a namespace exactly); other scenarios may hold paused
    // executions too, so this scenario's must be among those found.
    let found = t
        .ok(&mut c, "list_executions", json!({"state": ["PAUSED"]}))
        .await;
    let ids: Vec<&str> = results(&found)
        .iter()
        .filter_map(|e| e["id"].as_str())
        .map(|id| paused.iter().find(|p| *p == id).map_or("", String::as_str))
        .filter(|id| !id.is_empty())
        .collect();
    assert_eq!(ids.len(), paused.len(), "{found}");

    t.start("2 find the failures of the last day");
    let found = t
        .ok(
            &mut c,
            "list_executions",
            json!({"namespace": ops, "state": ["FAILED"], "time_range": "P1D"}),
        )
        .await;
    let rows = results(&found);
    assert_eq!(rows.len(), 1, "{found}");
    assert_eq!(rows[0]["id"], json!(failed));

    t.start("3 read why an execution failed");
    let got = t
        .ok(
            &mut c,
            "manage_executions",
            json!({"action": "get", "execution_id": failed}),
        )
        .await;
    assert!(
        got.to_string().contains("warehouse refused the load"),
        "the failed task's error: {got}"
    );

    t.start("4 restart it");
    t.ok(
        &mut c,
        "restart_execution",
        json!({"namespace": ops, "flow_id": "nightly_load", "execution_id": failed}),
    )
    .await;
    c.wait_state(&failed, TERMINAL).await;

    t.start("5 find a flow by what it does");
    let found = t
        .ok(
            &mut c,
            "search_flows",
            json!({"query": "weekly sales report", "in_source": true, "namespace": sales}),
        )
        .await;
    assert!(
        results(&found).iter().any(|f| f["id"] == json!("weekly")),
        "{found}"
    );

    t.start("6 validate a flow, fix it, then create it");
    let bad = t
        .ok(
            &mut c,
            "create_flow_from_yaml",
            json!({"yaml_definition": new_flow(&ops, "io.kestra.plugin.core.log.Logg"), "validate_only": true}),
        )
        .await;
    assert_eq!(bad["valid"], json!(false), "{bad}");
    let good_yaml = new_flow(&ops, "io.kestra.plugin.core.log.Log");
    let good = t
        .ok(
            &mut c,
            "create_flow_from_yaml",
            json!({"yaml_definition": good_yaml, "validate_only": true}),
        )
        .await;
    assert_eq!(good["valid"], json!(true), "{good}");
    let status = c.api.flow(&ops, "cleanup").await.status;
    assert_eq!(status, 404, "validate_only created the flow");
    c.made().made.flows.insert((ops.clone(), "cleanup".into()));
    t.ok(
        &mut c,
        "create_flow_from_yaml",
        json!({"yaml_definition": good_yaml}),
    )
    .await;

    t.start("7 disable a flow twice");
    let args = json!({"action": "disable", "namespace": ops, "flow_id": "cleanup"});
    let first = t.ok(&mut c, "manage_flow", args.clone()).await;
    assert_eq!(first["status"], json!("disabled"), "{first}");
    let second = t.ok(&mut c, "manage_flow", args).await;
    assert_eq!(second["status"], json!("already disabled"), "{second}");

    t.start("8 read the logs of a task");
    let logs = t
        .ok(
            &mut c,
            "download_execution_logs",
            json!({"execution_id": failed, "task_id": "load"}),
        )
        .await;
    let text = logs["result"].as_str().unwrap_or_default();
    assert!(text.contains("[load] warehouse refused the load"), "{logs}");

    t.start("9 set and read a KV value");
    c.made().made.kv.insert((ops.clone(), "last_load".into()));
    t.ok(
        &mut c,
        "manage_kv_store",
        json!({"action": "set", "namespace": ops, "key": "last_load", "value": "2026-12-07"}),
    )
    .await;
    let kv = t
        .ok(
            &mut c,
            "manage_kv_store",
            json!({"action": "get", "namespace": ops, "key": "last_load"}),
        )
        .await;
    assert!(kv.to_string().contains("2026-12-07"), "{kv}");

    t.start("10 errors logged in the last hour");
    let errors = t
        .ok(
            &mut c,
            "search_logs",
            json!({"namespace": ops, "min_level": "ERROR", "time_range": "PT1H"}),
        )
        .await;
    assert!(
        errors.to_string().contains("warehouse refused the load"),
        "{errors}"
    );

    t.report(&c.target.label, "these tools");
}

/// The chores with the tools before issue 19: no state filter (the whole namespace is listed),
/// whole executions, no validation, TRACE logs without task ids, absolute log dates only.
async fn chores_before(c: &mut Ctx, t: &mut Tally, sales: &str, ops: &str, failed: &str) {
    t.start("1 find the paused executions");
    // `namespace` is required: each namespace is listed whole.
    for namespace in [sales, ops] {
        t.ok(c, "list_executions", json!({"namespace": namespace})).await;
    }
    t.start("2 find the failures of the last day");
    t.ok(
        c,
        "list_executions",
        json!({"namespace": ops, "time_range": "P1D"}),
    )
    .await;
    t.start("3 read why an execution failed");
    t.ok(
        c,
        "manage_executions",
        json!({"action": "get", "execution_id": failed}),
    )
    .await;
    t.ok(c, "download_execution_logs", json!({"execution_id": failed}))
        .await;
    t.start("4 restart it");
    t.ok(
        c,
        "restart_execution",
        json!({"namespace": ops, "flow_id": "nightly_load", "execution_id": failed}),
    )
    .await;
    c.wait_state(failed, TERMINAL).await;
    t.start("5 find a flow by what it does");
    t.ok(
        c,
        "search_flows",
        json!({"query": "weekly sales report", "in_source": true, "namespace": sales}),
    )
    .await;
    t.start("6 validate a flow, fix it, then create it");
    c.made().made.flows.insert((ops.to_owned(), "cleanup".into()));
    let bad = new_flow(ops, "io.kestra.plugin.core.log.Logg");
    t.err(c, "create_flow_from_yaml", json!({"yaml_definition": bad}))
        .await;
    let good = new_flow(ops, "io.kestra.plugin.core.log.Log");
    t.ok(c, "create_flow_from_yaml", json!({"yaml_definition": good}))
        .await;
    t.start("7 disable a flow twice");
    let args = json!({"action": "disable", "namespace": ops, "flow_id": "cleanup"});
    t.ok(c, "manage_flow", args.clone()).await;
    t.ok(c, "manage_flow", args).await;
    t.start("8 read the logs of a task");
    t.ok(
        c,
        "download_execution_logs",
        json!({"execution_id": failed, "task_id": "load"}),
    )
    .await;
    t.start("9 set and read a KV value");
    c.made().made.kv.insert((ops.to_owned(), "last_load".into()));
    t.ok(
        c,
        "manage_kv_store",
        json!({"action": "set", "namespace": ops, "key": "last_load", "value": "2026-12-07"}),
    )
    .await;
    t.ok(
        c,
        "manage_kv_store",
        json!({"action": "get", "namespace": ops, "key": "last_load"}),
    )
    .await;
    t.start("10 errors logged in the last hour");
    // No clock for an absolute start date: the newest page of the namespace's errors.
    t.ok(c, "search_logs", json!({"namespace": ops, "min_level": "ERROR"}))
        .await;
}
