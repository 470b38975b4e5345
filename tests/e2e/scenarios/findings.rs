//! What a real Kestra 2.0 showed that the first scenarios did not expect (the recorded
//! 2.0.0-SNAPSHOT corpus, tests/kestra-sim/tests/recorded-2.0.0-SNAPSHOT): each scenario holds
//! the tools to the same contract on 1.3 and 2.0.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::{self, Api};
use crate::ctx::Ctx;
use crate::scenarios::helpers::{TERMINAL, log_messages, results, wait_logs};

fn levels_flow(ns: &str, id: &str) -> String {
    let log = |task: &str, level: &str| {
        format!(
            "  - id: {task}\n    type: io.kestra.plugin.core.log.Log\n    level: {level}\n    message: a {task} line\n"
        )
    };
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n{}{}{}",
        log("info", "INFO"),
        log("warn", "WARN"),
        log("error", "ERROR")
    )
}

/// Asserts `text` holds the WARN and ERROR lines and not the INFO one.
fn assert_warn_and_above(what: &str, text: &str) {
    assert!(
        text.contains("a warn line") && text.contains("a error line"),
        "{what} with min_level WARN must keep WARN and ERROR (a minimum, not an exact level): {text}"
    );
    assert!(
        !text.contains("a info line"),
        "{what} with min_level WARN kept an INFO line: {text}"
    );
}

/// `min_level` is a minimum on every log tool. 2.0 refuses `filters[level][EQUALS]` (400
/// `Operation EQUALS is not supported for field LEVEL`) and ignores the legacy `minLevel`
/// (recorded v20/inv5-*): only `filters[level][GREATER_THAN_OR_EQUAL_TO]` filters.
pub async fn log_level_filter(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow", "get_execution_logs"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&levels_flow(&ns, "levels")).await;
    let id = c.execute(&ns, "levels", json!({})).await;
    c.wait_state(&id, TERMINAL).await;
    wait_logs(&c, &id, "fewer than 3 logs", |logs| results(logs).len() >= 3).await;

    let out = c
        .ok(
            "get_execution_logs",
            json!({"execution_id": id, "min_level": "WARN"}),
        )
        .await;
    assert_warn_and_above("get_execution_logs", &log_messages(&out));
    if c.has("download_execution_logs") {
        let out = c
            .ok(
                "download_execution_logs",
                json!({"execution_id": id, "min_level": "WARN"}),
            )
            .await;
        assert_warn_and_above("download_execution_logs", &out.to_string());
    }
    if c.has("search_logs") {
        let out = c
            .ok(
                "search_logs",
                json!({"namespace": ns, "flow_id": "levels", "min_level": "WARN", "size": 50}),
            )
            .await;
        assert_warn_and_above("search_logs", &log_messages(&out));
    }
    if c.v2() {
        // The server side of the rule, so a simulator that drifts from 2.0 is caught here.
        let r = c
            .api
            .get(&format!("/logs/{}?filters[level][EQUALS]=WARN", Api::enc(&id)))
            .await;
        assert_eq!(r.status, 400, "2.0 refuses EQUALS on the level: {}", r.text);
        assert!(r.text.contains("GREATER_THAN_OR_EQUAL_TO"), "{}", r.text);
    }
}

/// A backfill includes the slot its window starts on, on both versions: 1.3 does; 2.0 starts
/// after the start instant (recorded v20/inv3-*), so the tool has to move the start back. The
/// executions appear progressively (about one slot per second on 2.0).
pub async fn backfill_start_slot(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "backfill_executions"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&format!(
        "id: hourly\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: tick\ntriggers:\n  - id: every_hour\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 * * * *\"\n"
    ))
    .await;
    c.ok(
        "backfill_executions",
        json!({"namespace": ns, "flow_id": "hourly", "start": "2026-01-01T16:00:00Z", "end": "2026-01-01T18:30:00Z"}),
    )
    .await;
    let want = [
        "2026-01-01T16:00:00Z",
        "2026-01-01T17:00:00Z",
        "2026-01-01T18:00:00Z",
    ];
    let deadline = Instant::now() + Duration::from_secs(if c.sim() { 15 } else { 120 });
    let mut dates = loop {
        let all = c.api.executions_of(&ns, Some("hourly")).await;
        let dates: Vec<String> = all
            .iter()
            .filter_map(|e| e["trigger"]["variables"]["date"].as_str().map(str::to_owned))
            .collect();
        if dates.len() >= want.len() || Instant::now() >= deadline {
            break dates;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // Give a late extra slot (18:30 is not one, 19:00 is outside) a moment to show up too.
    tokio::time::sleep(Duration::from_secs(if c.sim() { 2 } else { 5 })).await;
    let late = c.api.executions_of(&ns, Some("hourly")).await;
    if late.len() > dates.len() {
        dates = late
            .iter()
            .filter_map(|e| e["trigger"]["variables"]["date"].as_str().map(str::to_owned))
            .collect();
    }
    dates.sort();
    assert_eq!(
        dates, want,
        "a 16:00-18:30 hourly backfill must run the 16:00, 17:00 and 18:00 slots"
    );
}

/// Without an AI provider, 2.0 answers `/ai/generate/flow` and `/ai/generate/dashboard` with a
/// bare 500 (an NPE in the free-tier provider), or 503 `AI Copilot is not available` with a
/// `providerId` (recorded v20/inv4-*): the tools must say that AI is not configured and what to
/// configure, as an error.
pub async fn ai_not_configured(mut c: Ctx) {
    if !c.v2() {
        c.skip("the 1.3 test bed plays an Enterprise server with AI configured");
        return;
    }
    if !c.sim() && std::env::var("KESTRA_E2E_AI").as_deref() == Ok("1") {
        c.skip("KESTRA_E2E_AI=1: this server has an AI provider");
        return;
    }
    for tool in ["generate_flow", "generate_dashboard"] {
        if !c.has(tool) {
            continue;
        }
        for args in [
            json!({"user_prompt": "a flow that logs hello"}),
            json!({"user_prompt": "a flow that logs hello", "provider_id": "openai"}),
        ] {
            let text = c.err(tool, args.clone()).await.to_lowercase();
            assert!(
                text.contains("not configured") && (text.contains("kestra.ai") || text.contains("provider")),
                "{tool}({args}) must say that AI is not configured and what to configure: {text}"
            );
        }
    }
}

/// Refused actions: 2.0 answers 409 `Conflict: …` where 1.3 answered 422 (recorded
/// executions/restart-success, force-run-terminated); the tools report the refusal as an error
/// that says why, and the server's answer is checked too.
pub async fn action_refusals(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow", "restart_execution"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&format!(
        "id: fine\nnamespace: {ns}\ntasks:\n  - id: ok\n    type: io.kestra.plugin.core.log.Log\n    message: fine\n"
    ))
    .await;
    let id = c.execute(&ns, "fine", json!({})).await;
    let done = c.wait_state(&id, TERMINAL).await;
    assert_eq!(api::state(&done), "SUCCESS", "{done}");

    let text = c
        .err(
            "restart_execution",
            json!({"namespace": ns, "flow_id": "fine", "execution_id": id}),
        )
        .await;
    assert!(
        text.contains("SUCCESS"),
        "restart refusal should name the state: {text}"
    );
    let action = if c.v2() { "actions/restart" } else { "restart" };
    let r = c
        .api
        .post_empty(&format!("/executions/{}/{action}", Api::enc(&id)))
        .await;
    let want = if c.v2() { 409 } else { 422 };
    assert_eq!(
        r.status, want,
        "server answer to restarting a SUCCESS run: {}",
        r.text
    );

    if c.has("force_run_execution") {
        let text = c.err("force_run_execution", json!({"execution_id": id})).await;
        assert!(
            text.contains("SUCCESS"),
            "force-run refusal should name the state: {text}"
        );
    }
    let e = c.api.execution(&id).await.json("execution");
    assert_eq!(
        api::state(&e),
        "SUCCESS",
        "a refused action changed the run: {}",
        e["state"]
    );
}
