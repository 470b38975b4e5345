//! Version safety: kestra-mcp learns the server's version from `GET /configs` (no
//! `KESTRA_VERSION` in this scenario) and sends per-execution actions to the path of that version.
//! On 2.0 a 1.x-style `POST /executions/{id}/pause` is routed to createExecution and starts a flow
//! named `pause` in namespace `{id}`: trap flows with those names are planted (on the simulator)
//! and must never run.

use std::time::Duration;

use serde_json::json;

use crate::api::{self, Api};
use crate::ctx::Ctx;
use crate::scenarios::helpers::failed;

const TRAPS: [&str; 5] = ["pause", "resume", "restart", "change-status", "labels"];

/// Plants flows named like the 1.x action words in namespace `execution_id`.
async fn plant_traps(c: &Ctx, execution_id: &str) -> bool {
    let mut planted = true;
    for word in TRAPS {
        let yaml = format!(
            "id: {word}\nnamespace: {execution_id}\ntasks:\n  - id: sprung\n    type: io.kestra.plugin.core.log.Log\n    message: TRAP\n"
        );
        c.made()
            .made
            .flows
            .insert((execution_id.to_owned(), word.to_owned()));
        c.made().made.namespaces.insert(execution_id.to_owned());
        let r = c.api.post_yaml("/flows", &yaml).await;
        planted &= r.ok();
    }
    planted
}

async fn assert_no_trap_ran(c: &Ctx, execution_id: &str) {
    let sprung = c.api.executions_of(execution_id, None).await;
    assert!(
        sprung.is_empty(),
        "[{}] a 1.x-style action path started flow(s) {:?} in namespace {execution_id}",
        c.target.label,
        sprung.iter().map(|x| x["flowId"].clone()).collect::<Vec<_>>()
    );
    for word in TRAPS {
        let r = c
            .api
            .get(&format!(
                "/executions/search?page=1&size=10&filters[flowId][EQUALS]={}&filters[namespace][EQUALS]={}",
                Api::enc(word),
                Api::enc(execution_id)
            ))
            .await
            .json("search");
        assert_eq!(
            r["total"],
            json!(0),
            "an execution of flow `{word}` appeared: {r}"
        );
    }
}

/// Whether Prism saw kestra-mcp call `path` (test bed only).
pub(crate) fn prism_saw(c: &Ctx, method: &str, path: &str) -> Option<bool> {
    let log = std::fs::read_to_string(c.target.prism_log.as_ref()?).ok()?;
    let needle = format!(
        "[HTTP SERVER] {} /api/v1/{}{path} ",
        method.to_lowercase(),
        c.target.tenant
    );
    Some(log.contains(&needle))
}

/// An execution set to FAILED by change-status has no failed task: Kestra refuses to restart it
/// and leaves it FAILED. 1.3 answers 422 `Illegal argument: No task found to restart execution
/// from!` (recorded-1.3.0 executions/restart-success); 2.0 answers 409 `Conflict: ...`
/// (recorded-2.0.0-SNAPSHOT/INDEX.md, action endpoints).
async fn assert_restart_refused(c: &mut Ctx, ns: &str, id: &str, v2: bool) {
    let r = c
        .call(
            "restart_execution",
            json!({"namespace": ns, "flow_id": "guarded", "execution_id": id}),
        )
        .await;
    assert!(
        failed(&r),
        "[{}] restart of an execution without a failed task succeeded: {}",
        c.target.label,
        r.text
    );
    let why = if v2 {
        "Conflict"
    } else {
        "No task found to restart execution from"
    };
    assert!(
        r.text.contains(why),
        "[{}] restart refusal does not carry Kestra's `{why}`: {}",
        c.target.label,
        r.text
    );
    assert_eq!(
        api::state(&c.api.execution(id).await.json("execution")),
        "FAILED",
        "[{}] a refused restart changed the execution",
        c.target.label
    );
}

pub async fn version_safety(mut c: Ctx) {
    if !c.require(&[
        "create_flow_from_yaml",
        "execute_flow",
        "manage_executions[pause]",
        "resume_execution",
    ]) {
        return;
    }
    let ns = c.ns.clone();
    let v2 = c.v2();
    // The nap leaves time to pause the run: 2 s was too short on a loaded machine (the run
    // ended before the pause arrived, and Kestra answered 409).
    let yaml = format!(
        "id: guarded\nnamespace: {ns}\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT6S\n  - id: done\n    type: io.kestra.plugin.core.log.Log\n    message: done\n"
    );
    c.create_flow(&yaml).await;
    let id = c.execute(&ns, "guarded", json!({})).await;
    // Traps only on the simulator: on a live server they would live outside the run's prefix.
    let trapped = c.sim() && plant_traps(&c, &id).await;
    c.wait_state(&id, &["RUNNING"]).await;

    c.ok(
        "manage_executions",
        json!({"action": "pause", "execution_id": id}),
    )
    .await;
    let e = c.wait_state(&id, &["PAUSED"]).await;
    assert_eq!(api::state(&e), "PAUSED");
    let action = |a: &str| {
        if v2 {
            format!("/executions/{id}/actions/{a}")
        } else {
            format!("/executions/{id}/{a}")
        }
    };
    if let Some(seen) = prism_saw(&c, "POST", &action("pause")) {
        assert!(seen, "[{}] Prism saw no POST {}", c.target.label, action("pause"));
    }
    if v2 && let Some(seen) = prism_saw(&c, "POST", &format!("/executions/{id}/pause")) {
        assert!(
            !seen,
            "[2.0] kestra-mcp sent the 1.x path POST /executions/{id}/pause"
        );
    }

    c.ok(
        "resume_execution",
        json!({"execution_ids": [id], "on_resume": {}}),
    )
    .await;
    let e = c.wait_state(&id, &["SUCCESS"]).await;
    assert_eq!(api::state(&e), "SUCCESS");
    if c.has("manage_executions[change_status]") {
        c.ok(
            "manage_executions",
            json!({"action": "change_status", "execution_id": id, "status": "FAILED"}),
        )
        .await;
        assert_eq!(
            api::state(&c.api.execution(&id).await.json("execution")),
            "FAILED"
        );
        if c.has("restart_execution") {
            assert_restart_refused(&mut c, &ns, &id, v2).await;
        }
    }
    if c.has("add_execution_labels") {
        c.ok(
            "add_execution_labels",
            json!({"execution_id": id, "labels": {"checked": "version"}}),
        )
        .await;
        assert!(api::has_label(
            &c.api.execution(&id).await.json("execution"),
            "checked",
            "version"
        ));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    if trapped {
        assert_no_trap_ran(&c, &id).await;
    }
    // Whatever the traps: no flow named `pause` ran anywhere in this namespace or under it.
    let r = c
        .api
        .get(&format!(
            "/executions/search?page=1&size=10&filters[flowId][EQUALS]=pause&filters[namespace][EQUALS]={}",
            Api::enc(&id)
        ))
        .await
        .json("search");
    assert_eq!(
        r["total"],
        json!(0),
        "an execution of a flow named `pause` appeared: {r}"
    );
}
