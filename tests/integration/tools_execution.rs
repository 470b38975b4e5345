//! The execution tools (manage_executions, add_execution_labels, list_executions,
//! restart_execution, change_taskrun_state, resume_execution, force_run_execution,
//! replay_execution, backfill_executions) over stdio against the stub: the exact requests sent
//! on Kestra 1.3 and 2.0 (per-execution actions move under `/actions/` on 2.0) and the results.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::stub::{Bed, body_json, header, json, line, lines, multipart_parts};

/// Every (tool, variant) these tests exercise.
pub const EXERCISED: &[&str] = &[
    "add_execution_labels",
    "backfill_executions",
    "change_taskrun_state",
    "force_run_execution",
    "list_executions",
    "manage_executions[change_status]",
    "manage_executions[delete]",
    "manage_executions[get]",
    "manage_executions[kill]",
    "manage_executions[pause]",
    "replay_execution",
    "restart_execution",
    "resume_execution",
];

const EXEC: &str = "2IXaqCPsLGWaCjAtXqczIN";

/// A server that knows its Kestra version (no probe request).
async fn bed_for(version: &str) -> Bed {
    Bed::with_env(&[("KESTRA_VERSION", version)]).await
}

/// `/executions/{id}` on 1.3, `/executions/{id}/actions/{action}` on 2.0.
fn action_path(version: &str, id: &str, action: &str) -> String {
    match version {
        "2.0" => format!("/api/v1/main/executions/{id}/actions/{action}"),
        _ => format!("/api/v1/main/executions/{id}/{action}"),
    }
}

/// An execution as Kestra returns it (shape of the recorded 0.23 answers).
fn execution(id: &str, flow_id: &str, state: &str, start: &str) -> Value {
    json!({
        "id": id,
        "namespace": "company.team",
        "flowId": flow_id,
        "flowRevision": 2,
        "taskRunList": [{
            "id": "xQpGq1nlGHAmN7MC2yVxM",
            "executionId": id,
            "namespace": "company.team",
            "flowId": flow_id,
            "taskId": "log",
            "attempts": [{"state": {"current": "SUCCESS", "startDate": start, "endDate": start}, "workerId": "35e34b86"}],
            "outputs": {},
            "state": {"current": "SUCCESS", "histories": [{"state": "CREATED", "date": start}, {"state": "SUCCESS", "date": start}], "duration": "PT0.020055S", "startDate": start, "endDate": start}
        }],
        "inputs": {"user": "Ada"},
        "labels": [{"key": "system.correlationId", "value": id}, {"key": "team", "value": "data"}],
        "state": {
            "current": state,
            "histories": [{"state": "CREATED", "date": start}, {"state": "RUNNING", "date": start}, {"state": state, "date": start}],
            "duration": "PT0.1S",
            "startDate": start,
            "endDate": start
        },
        "originalId": id,
        "deleted": false,
        "metadata": {"attemptNumber": 1, "originalCreatedDate": start}
    })
}

/// The failed execution of flow `failing`: task `start` succeeded, `fail` failed.
fn failed_execution(id: &str) -> Value {
    let mut e = execution(id, "failing", "FAILED", "2026-11-25T14:10:17.989539Z");
    e["taskRunList"] = json!([
        {"id": "2Uj6otDvr0hF51ysfPLJEf", "taskId": "start", "state": {"current": "SUCCESS"}},
        {"id": "5RY0QSThF6pZj2sgUfB4RL", "taskId": "fail", "state": {"current": "FAILED"}},
        {"id": "6aQ1rSThF6pZj2sgUfB4XY", "taskId": "fail_again", "state": {"current": "FAILED"}}
    ]);
    e
}

fn page(results: Vec<Value>) -> Value {
    let total = results.len();
    json!({"results": results, "total": total})
}

// ---------------------------------------------------------------------------------------------
// manage_executions

#[tokio::test]
async fn manage_executions_pause_and_kill_follow_the_kestra_version() {
    for version in ["1.3", "2.0"] {
        let mut bed = bed_for(version).await;
        let pause = action_path(version, EXEC, "pause");
        bed.answer("POST", &pause, ResponseTemplate::new(200)).await;
        let result = bed
            .server
            .call_ok(
                "manage_executions",
                json!({"action": "pause", "execution_id": EXEC}),
            )
            .await;
        assert_eq!(result, json!({"status": "paused"}));
        let req = bed.only_request().await;
        assert_eq!(line(&req), format!("POST {pause}"));
        assert!(req.body.is_empty());

        // kill: Kestra's status becomes the result, never an error.
        let kill = action_path(version, EXEC, "kill");
        for (code, status) in [
            (200, "kill_requested"),
            (202, "kill_requested"),
            (404, "not_found"),
            (409, "already_finished"),
        ] {
            bed.reset().await;
            bed.answer("DELETE", &kill, ResponseTemplate::new(code)).await;
            let result = bed
                .server
                .call_ok(
                    "manage_executions",
                    json!({"action": "kill", "execution_id": EXEC}),
                )
                .await;
            assert_eq!(
                result,
                json!({"executionId": EXEC, "status": status}),
                "{version} {code}"
            );
            assert_eq!(
                line(&bed.only_request().await),
                format!("DELETE {kill}?isOnKillCascade=true")
            );
        }
        bed.server
            .call_ok(
                "manage_executions",
                json!({"action": "kill", "execution_id": EXEC, "cascade": false}),
            )
            .await;
        assert_eq!(
            line(&bed.only_request().await),
            format!("DELETE {kill}?isOnKillCascade=false")
        );
    }
}

#[tokio::test]
async fn manage_executions_get_delete_and_change_status() {
    for version in ["1.3", "2.0"] {
        let mut bed = bed_for(version).await;
        let at = format!("/api/v1/main/executions/{EXEC}");
        let running = execution(EXEC, "slow", "RUNNING", "2026-11-25T14:10:21.5Z");
        bed.answer("GET", &at, json(running.clone())).await;
        let got = bed
            .server
            .call_ok(
                "manage_executions",
                json!({"action": "get", "execution_id": EXEC, "full_detail": true}),
            )
            .await;
        assert_eq!(got, running);
        assert_eq!(line(&bed.only_request().await), format!("GET {at}"));
        // By default the fields an agent reads; a running execution needs no error logs.
        let compact = bed
            .server
            .call_ok(
                "manage_executions",
                json!({"action": "get", "execution_id": EXEC}),
            )
            .await;
        assert_eq!(compact["id"], json!(EXEC));
        assert_eq!(compact["state"]["current"], json!("RUNNING"));
        assert!(compact.get("taskRunList").is_none(), "{compact}");
        assert_eq!(line(&bed.only_request().await), format!("GET {at}"));

        bed.answer("DELETE", &at, ResponseTemplate::new(204)).await;
        let deleted = bed
            .server
            .call_ok(
                "manage_executions",
                json!({"action": "delete", "execution_id": EXEC}),
            )
            .await;
        assert_eq!(deleted, json!({}));
        assert_eq!(line(&bed.only_request().await), format!("DELETE {at}"));

        let change = action_path(version, EXEC, "change-status");
        let warning = execution(EXEC, "hello", "WARNING", "2026-11-25T14:10:08.266966Z");
        bed.answer("POST", &change, json(warning.clone())).await;
        let changed = bed
            .server
            .call_ok(
                "manage_executions",
                json!({"action": "change_status", "execution_id": EXEC, "status": "WARNING"}),
            )
            .await;
        // Compact: the execution's id and new state, not the whole execution.
        assert_eq!(
            changed,
            json!({"id": EXEC, "namespace": warning["namespace"], "flowId": "hello", "state": {"current": "WARNING"}})
        );
        let req = bed.only_request().await;
        assert_eq!(line(&req), format!("POST {change}?status=WARNING"));
        assert!(req.body.is_empty());
    }
}

#[tokio::test]
async fn manage_executions_checks_the_status_before_sending() {
    let mut bed = bed_for("1.3").await;
    let err = bed
        .server
        .call_err(
            "manage_executions",
            json!({"action": "change_status", "execution_id": EXEC}),
        )
        .await;
    assert_eq!(err, "invalid arguments: action 'change_status' needs 'status'");
    let err = bed
        .server
        .call_err(
            "manage_executions",
            json!({"action": "change_status", "execution_id": EXEC, "status": "DONE"}),
        )
        .await;
    assert!(err.starts_with("invalid arguments: 'status'"), "{err}");
    let err = bed
        .server
        .call_err("manage_executions", json!({"action": "get", "execution_id": ""}))
        .await;
    assert!(err.starts_with("invalid arguments"), "{err}");
    assert!(bed.requests().await.is_empty(), "nothing may be sent");
}

// ---------------------------------------------------------------------------------------------
// add_execution_labels

#[tokio::test]
async fn add_execution_labels_merges_over_the_existing_labels() {
    for version in ["1.3", "2.0"] {
        let mut bed = bed_for(version).await;
        let at = format!("/api/v1/main/executions/{EXEC}");
        let done = execution(EXEC, "hello", "SUCCESS", "2026-11-25T14:10:07.914776Z");
        bed.answer("GET", &at, json(done.clone())).await;
        let mut labelled = done.clone();
        labelled["labels"] = json!([
            {"key": "system.correlationId", "value": EXEC},
            {"key": "reviewed", "value": "yes"},
            {"key": "team", "value": "ops"}
        ]);
        let labels_at = action_path(version, EXEC, "labels");
        bed.answer("POST", &labels_at, json(labelled.clone())).await;
        let result = bed
            .server
            .call_ok(
                "add_execution_labels",
                json!({"execution_id": EXEC, "labels": {"team": "ops", "reviewed": "yes"}}),
            )
            .await;
        // Compact: labels as {key: value}, the correlation id that is the execution's own left out.
        assert_eq!(
            result,
            json!({"id": EXEC, "namespace": done["namespace"], "flowId": "hello", "state": {"current": "SUCCESS"},
                   "labels": {"reviewed": "yes", "team": "ops"}})
        );
        let sent = bed.requests().await;
        assert_eq!(
            lines(&sent),
            vec![format!("GET {at}"), format!("POST {labels_at}")]
        );
        assert_eq!(
            header(&sent[1], "content-type").as_deref(),
            Some("application/json")
        );
        let mut body = body_json(&sent[1]).as_array().unwrap().clone();
        body.sort_by_key(|l| l["key"].as_str().unwrap().to_owned());
        assert_eq!(
            body,
            vec![
                json!({"key": "reviewed", "value": "yes"}),
                json!({"key": "system.correlationId", "value": EXEC}),
                json!({"key": "team", "value": "ops"}),
            ]
        );
    }
}

#[tokio::test]
async fn add_execution_labels_refuses_an_unfinished_execution() {
    let mut bed = bed_for("2.0").await;
    let at = format!("/api/v1/main/executions/{EXEC}");
    bed.answer(
        "GET",
        &at,
        json(execution(EXEC, "slow", "RUNNING", "2026-11-25T14:10:21Z")),
    )
    .await;
    let err = bed
        .server
        .call_err(
            "add_execution_labels",
            json!({"execution_id": EXEC, "labels": ["team:ops"]}),
        )
        .await;
    assert_eq!(
        err,
        format!(
            "Cannot add labels to execution `{EXEC}` because its current state is `RUNNING`. Labels may only be added when execution is in one of: CANCELLED, FAILED, KILLED, SKIPPED, SUCCESS, WARNING."
        )
    );
    assert_eq!(lines(&bed.requests().await), vec![format!("GET {at}")]);

    let err = bed
        .server
        .call_err("add_execution_labels", json!({"execution_id": EXEC, "labels": 3}))
        .await;
    assert!(err.starts_with("invalid arguments"), "{err}");
    assert!(bed.requests().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// list_executions

fn at_midnight_days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string()
}

#[tokio::test]
async fn list_executions_pages_sorts_cuts_and_trims() {
    let mut bed = bed_for("1.3").await;
    let at = "/api/v1/main/executions/search";
    let mut first = vec![
        execution("a", "hello", "SUCCESS", "2026-11-20T10:00:00Z"),
        execution("b", "hello", "FAILED", "2026-11-24T10:00:00Z"),
    ];
    // Kestra reports `state.duration` (ISO 8601); a running execution may have none.
    first[1]["state"]["duration"] = json!("PT3M16.593087S");
    first[1]["labels"] = json!([]);
    let mut second = vec![execution("c", "hello", "RUNNING", "2026-11-22T10:00:00Z")];
    second[0]["state"].as_object_mut().unwrap().remove("duration");
    for (n, results) in [("1", first), ("2", second)] {
        bed.answer_query("GET", at, &[("page", n)], json(page(results)))
            .await;
    }
    let result = bed
        .server
        .call_ok(
            "list_executions",
            json!({"namespace": "company.team", "flow_id": "hello", "page_size": 2, "count": 2}),
        )
        .await;
    let row = |id: &str, state: &str, start: &str| {
        json!({
            "id": id, "namespace": "company.team", "flowId": "hello",
            "state": {"current": state, "startDate": start, "endDate": start},
            "inputs": {"user": "Ada"},
            "labels": [{"key": "system.correlationId", "value": id}, {"key": "team", "value": "data"}]
        })
    };
    let mut newest = row("b", "FAILED", "2026-11-24T10:00:00Z");
    newest["durationSeconds"] = json!(196.593087);
    newest.as_object_mut().unwrap().remove("labels");
    let mut running = row("c", "RUNNING", "2026-11-22T10:00:00Z");
    running["durationSeconds"] = json!(null);
    // Labels as {key: value}, without the correlation id that is the execution's own id.
    running["labels"] = json!({"team": "data"});
    assert_eq!(result, json!({"results": [newest, running]}));
    let since = at_midnight_days_ago(90).replace(':', "%3A");
    let query = |n: u32| {
        format!(
            "GET {at}?filters%5BflowId%5D%5BEQUALS%5D=hello&filters%5Bnamespace%5D%5BEQUALS%5D=company.team&filters%5BstartDate%5D%5BGREATER_THAN_OR_EQUAL_TO%5D={since}&page={n}&size=2"
        )
    };
    assert_eq!(lines(&bed.requests().await), vec![query(1), query(2)]);
}

#[tokio::test]
async fn a_long_listing_stops_paging_at_the_result_bound_and_says_so() {
    let mut bed = bed_for("1.3").await;
    let at = "/api/v1/main/executions/search";
    // Pages of 100 executions of about 3 KB each (real executions carry task runs), 5,000 in all.
    let big_page = |n: usize| {
        let results: Vec<_> = (0..100)
            .map(|i| {
                let mut e = execution(
                    &format!("e{n}-{i:03}"),
                    "hello",
                    "SUCCESS",
                    "2026-11-20T10:00:00Z",
                );
                e["taskRunList"] =
                    json!([{"id": "t", "taskId": "log", "outputs": {"text": "x".repeat(3_000)}}]);
                e
            })
            .collect();
        let mut page = page(results);
        page["total"] = json!(5_000);
        page
    };
    for n in 1..=50 {
        bed.answer_query("GET", at, &[("page", &n.to_string())], json(big_page(n)))
            .await;
    }
    let result = bed
        .server
        .call_ok("list_executions", json!({"namespace": "company.team"}))
        .await;
    // 16 KiB results stop paging past 256 KiB read: the first page is 300 KB.
    assert_eq!(bed.requests().await.len(), 1, "pages fetched past the bound");
    let note = &result["truncated"];
    assert_eq!(
        note["pages_not_fetched"],
        json!([{"pages_fetched": 1, "items_fetched": 100, "items_in_kestra": 5_000}]),
        "{note}"
    );
    assert!(result["results"].as_array().is_some_and(|rows| !rows.is_empty()));
    let hint = note["how_to_get_more"].as_str().unwrap_or_default();
    assert!(hint.contains("count") && hint.contains("time_range"), "{hint}");

    // Unbounded results read every page, as the Python server does.
    let mut bed = Bed::with_env(&[("KESTRA_MCP_MAX_RESULT_BYTES", "0"), ("KESTRA_VERSION", "1.3")]).await;
    for n in 1..=3 {
        let mut page = big_page(n);
        if n == 3 {
            page["results"] = json!([]);
        }
        bed.answer_query("GET", at, &[("page", &n.to_string())], json(page))
            .await;
    }
    let all = bed
        .server
        .call_ok("list_executions", json!({"namespace": "company.team"}))
        .await;
    assert_eq!(bed.requests().await.len(), 3);
    assert_eq!(all["results"].as_array().map(Vec::len), Some(200));
    assert!(all.get("truncated").is_none());
}

#[tokio::test]
async fn list_executions_date_range_from_start_date_or_time_range() {
    let mut bed = bed_for("2.0").await;
    let at = "/api/v1/main/executions/search";
    bed.answer("GET", at, json(page(vec![]))).await;

    // start_date wins over time_range; end_date bounds the range.
    let result = bed
        .server
        .call_ok(
            "list_executions",
            json!({"namespace": "company.team", "time_range": "P7D",
                   "start_date": "2025-04-01T00:00:00Z", "end_date": "2025-04-30T23:59:59Z"}),
        )
        .await;
    assert_eq!(result, json!({"results": []}));
    assert_eq!(
        line(&bed.only_request().await),
        format!(
            "GET {at}?filters%5BendDate%5D%5BLESS_THAN_OR_EQUAL_TO%5D=2025-04-30T23%3A59%3A59Z&filters%5Bnamespace%5D%5BEQUALS%5D=company.team&filters%5BstartDate%5D%5BGREATER_THAN_OR_EQUAL_TO%5D=2025-04-01T00%3A00%3A00Z&page=1&size=100"
        )
    );

    // Whole days start at midnight UTC.
    bed.server
        .call_ok(
            "list_executions",
            json!({"namespace": "company.team", "time_range": "P10D"}),
        )
        .await;
    let req = bed.only_request().await;
    let since: Vec<String> = req
        .url
        .query_pairs()
        .filter(|(k, _)| k == "filters[startDate][GREATER_THAN_OR_EQUAL_TO]")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(since, vec![at_midnight_days_ago(10)]);

    // Hours, minutes, seconds: that long before now.
    let before = chrono::Utc::now() - chrono::Duration::seconds(5400);
    bed.server
        .call_ok(
            "list_executions",
            json!({"namespace": "company.team", "time_range": "PT1H30M"}),
        )
        .await;
    let after = chrono::Utc::now() - chrono::Duration::seconds(5400);
    let req = bed.only_request().await;
    let since = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "filters[startDate][GREATER_THAN_OR_EQUAL_TO]")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let since = chrono::DateTime::parse_from_rfc3339(&since).unwrap();
    assert!(
        since.timestamp() >= before.timestamp() - 1 && since.timestamp() <= after.timestamp(),
        "{since}"
    );

    for bad in ["30D", "P", "PT", "P1H", "1 day"] {
        let err = bed
            .server
            .call_err(
                "list_executions",
                json!({"namespace": "company.team", "time_range": bad}),
            )
            .await;
        assert!(err.starts_with("invalid arguments: 'time_range'"), "{bad}: {err}");
    }
    assert!(
        bed.requests().await.is_empty(),
        "nothing sent for a bad time_range"
    );
}

// ---------------------------------------------------------------------------------------------
// restart_execution, change_taskrun_state

#[tokio::test]
async fn restart_execution_restarts_a_failed_execution() {
    for version in ["1.3", "2.0"] {
        let mut bed = bed_for(version).await;
        let at = "/api/v1/main/executions/7TTX54vdm6oLvgSXp3wfJ8";
        bed.answer("GET", at, json(failed_execution("7TTX54vdm6oLvgSXp3wfJ8")))
            .await;
        let restart = action_path(version, "7TTX54vdm6oLvgSXp3wfJ8", "restart");
        let mut restarted = failed_execution("7TTX54vdm6oLvgSXp3wfJ8");
        restarted["state"]["current"] = json!("RESTARTED");
        bed.answer("POST", &restart, json(restarted.clone())).await;
        let args = json!({"namespace": "company.team", "flow_id": "failing",
                          "execution_id": "7TTX54vdm6oLvgSXp3wfJ8", "revision": 3});
        let result = bed.server.call_ok("restart_execution", args).await;
        assert_eq!(result, restarted);
        assert_eq!(
            lines(&bed.requests().await),
            vec![format!("GET {at}"), format!("POST {restart}?revision=3")]
        );
    }
}

#[tokio::test]
async fn restart_execution_finds_the_latest_failed_execution() {
    let mut bed = bed_for("2.0").await;
    let mut older = failed_execution("older");
    older["state"]["startDate"] = json!("2026-11-20T10:00:00Z");
    let mut newer = failed_execution("newer");
    newer["state"]["startDate"] = json!("2026-11-25T10:00:00Z");
    bed.answer(
        "GET",
        "/api/v1/main/executions/search",
        json(page(vec![older, newer.clone()])),
    )
    .await;
    let restart = action_path("2.0", "newer", "restart");
    bed.answer("POST", &restart, json(newer.clone())).await;
    let result = bed
        .server
        .call_ok(
            "restart_execution",
            json!({"namespace": "company.team", "flow_id": "failing"}),
        )
        .await;
    assert_eq!(result, newer);
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            "GET /api/v1/main/executions/search?filters%5BflowId%5D%5BEQUALS%5D=failing&filters%5Bnamespace%5D%5BEQUALS%5D=company.team&filters%5Bstate%5D%5BIN%5D=FAILED&page=1&size=25".to_owned(),
            format!("POST {restart}"),
        ]
    );
}

#[tokio::test]
async fn restart_execution_refuses_other_states_and_missing_executions() {
    let mut bed = bed_for("1.3").await;
    let at = format!("/api/v1/main/executions/{EXEC}");
    bed.answer(
        "GET",
        &at,
        json(execution(EXEC, "hello", "SUCCESS", "2026-11-25T14:10:07Z")),
    )
    .await;
    let err = bed
        .server
        .call_err(
            "restart_execution",
            json!({"namespace": "company.team", "flow_id": "hello", "execution_id": EXEC}),
        )
        .await;
    assert_eq!(
        err,
        format!(
            "Execution `{EXEC}` is in state `SUCCESS`, which cannot be restarted. Only executions in the FAILED state can be restarted."
        )
    );
    assert_eq!(lines(&bed.requests().await), vec![format!("GET {at}")]);

    bed.answer("GET", "/api/v1/main/executions/search", json(page(vec![])))
        .await;
    let err = bed
        .server
        .call_err(
            "restart_execution",
            json!({"namespace": "company.team", "flow_id": "hello"}),
        )
        .await;
    assert_eq!(err, "No failed executions found for company.team/hello.");
    assert_eq!(bed.requests().await.len(), 1, "only the search");
}

#[tokio::test]
async fn change_taskrun_state_marks_the_first_failed_task_run() {
    for version in ["1.3", "2.0"] {
        let mut bed = bed_for(version).await;
        let id = "7TTX54vdm6oLvgSXp3wfJ8";
        let at = format!("/api/v1/main/executions/{id}");
        bed.answer("GET", &at, json(failed_execution(id))).await;
        let state = action_path(version, id, "state");
        let mut updated = failed_execution(id);
        updated["state"]["current"] = json!("RESTARTED");
        bed.answer("POST", &state, json(updated.clone())).await;

        let result = bed
            .server
            .call_ok("change_taskrun_state", json!({"execution_id": id}))
            .await;
        assert_eq!(
            result,
            json!({"id": id, "namespace": updated["namespace"], "flowId": updated["flowId"], "state": {"current": "RESTARTED"},
                   "taskRun": {"id": "5RY0QSThF6pZj2sgUfB4RL", "taskId": "fail", "state": "FAILED"}})
        );
        let sent = bed.requests().await;
        assert_eq!(lines(&sent), vec![format!("GET {at}"), format!("POST {state}")]);
        assert_eq!(
            header(&sent[1], "content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(
            body_json(&sent[1]),
            json!({"taskRunId": "5RY0QSThF6pZj2sgUfB4RL", "state": "SUCCESS"})
        );

        // An explicit task run and state.
        bed.server
            .call_ok(
                "change_taskrun_state",
                json!({"execution_id": id, "task_run_id": "2Uj6otDvr0hF51ysfPLJEf", "state": "WARNING"}),
            )
            .await;
        let sent = bed.requests().await;
        assert_eq!(lines(&sent), vec![format!("GET {at}"), format!("POST {state}")]);
        assert_eq!(
            body_json(&sent[1]),
            json!({"taskRunId": "2Uj6otDvr0hF51ysfPLJEf", "state": "WARNING"})
        );
    }
}

#[tokio::test]
async fn change_taskrun_state_needs_a_failed_task_run_or_an_id() {
    let mut bed = bed_for("1.3").await;
    let at = format!("/api/v1/main/executions/{EXEC}");
    bed.answer(
        "GET",
        &at,
        json(execution(EXEC, "hello", "SUCCESS", "2026-11-25T14:10:07Z")),
    )
    .await;
    let err = bed
        .server
        .call_err("change_taskrun_state", json!({"execution_id": EXEC}))
        .await;
    assert_eq!(err, format!("No failed task runs found in execution `{EXEC}`"));
    assert_eq!(lines(&bed.requests().await), vec![format!("GET {at}")]);

    let err = bed
        .server
        .call_err(
            "change_taskrun_state",
            json!({"execution_id": EXEC, "state": "DONE"}),
        )
        .await;
    assert!(err.starts_with("invalid arguments: 'state'"), "{err}");
    assert!(bed.requests().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// resume_execution, force_run_execution

#[tokio::test]
async fn resume_execution_by_ids_in_bulk_or_one_by_one_with_values() {
    // Ids without values: the bulk endpoint (same path on 1.3 and 2.0).
    let mut bed = bed_for("1.3").await;
    bed.answer(
        "POST",
        "/api/v1/main/executions/resume/by-ids",
        json(json!({"count": 2})),
    )
    .await;
    let result = bed
        .server
        .call_ok("resume_execution", json!({"execution_ids": ["a1", "b2"]}))
        .await;
    assert_eq!(result, json!({"count": 2}));
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/main/executions/resume/by-ids");
    assert_eq!(body_json(&req), json!(["a1", "b2"]));

    // Ids with values: one multipart resume per execution, 204 → {}.
    for version in ["1.3", "2.0"] {
        let mut bed = bed_for(version).await;
        let a = action_path(version, "a1", "resume");
        let b = action_path(version, "b2", "resume");
        bed.answer("POST", &a, ResponseTemplate::new(204)).await;
        let resumed = execution("b2", "approval", "RUNNING", "2026-11-25T14:10:11Z");
        bed.answer("POST", &b, json(resumed.clone())).await;
        // Kestra answers 204 (no body): the state after the resume is read back.
        let after = execution("a1", "approval", "RUNNING", "2026-11-25T14:10:11Z");
        bed.answer("GET", "/api/v1/main/executions/a1", json(after.clone()))
            .await;
        bed.answer("GET", "/api/v1/main/executions/b2", json(resumed.clone()))
            .await;
        let result = bed
            .server
            .call_ok(
                "resume_execution",
                json!({"execution_ids": ["a1", "b2"], "on_resume": {"approved": true, "reason": "ok"}}),
            )
            .await;
        let read_back = json!({"id": "a1", "namespace": after["namespace"], "flowId": "approval", "state": after["state"]});
        assert_eq!(result, json!({"a1": read_back, "b2": resumed}));
        let sent = bed.requests().await;
        assert_eq!(
            lines(&sent),
            vec![
                format!("POST {a}"),
                format!("POST {b}"),
                "GET /api/v1/main/executions/a1".to_owned(),
                "GET /api/v1/main/executions/b2".to_owned(),
            ]
        );
        for req in &sent[..2] {
            assert_eq!(
                multipart_parts(req),
                vec![
                    ("approved".to_owned(), None, "true".to_owned()),
                    ("reason".to_owned(), None, "ok".to_owned()),
                ]
            );
        }
    }
}

#[tokio::test]
async fn resume_execution_resumes_the_latest_paused_execution_with_the_pause_defaults() {
    for version in ["1.3", "2.0"] {
        let mut bed = bed_for(version).await;
        let mut older = execution(
            "4HXL0G4VAGnh5vs5lwgATf",
            "approval",
            "PAUSED",
            "2026-11-25T14:10:09Z",
        );
        older["state"]["startDate"] = json!("2026-11-25T14:10:09Z");
        let mut newer = execution(
            "1YRQXKiDxgUsaOLbU5dO0S",
            "approval",
            "PAUSED",
            "2026-11-25T14:10:10Z",
        );
        newer["state"]["startDate"] = json!("2026-11-25T14:10:10Z");
        bed.answer(
            "GET",
            "/api/v1/main/executions/search",
            json(page(vec![older, newer])),
        )
        .await;
        let flow = json!({
            "id": "approval", "namespace": "company.team", "revision": 1,
            "tasks": [
                {"id": "before", "type": "io.kestra.plugin.core.log.Log", "message": "hi"},
                {"id": "wait", "type": "io.kestra.plugin.core.flow.Pause",
                 "onResume": [
                    {"id": "approved", "type": "BOOLEAN", "defaults": true},
                    {"id": "reason", "type": "STRING", "defaults": "fine"},
                    {"id": "note", "type": "STRING"}
                 ]}
            ]
        });
        bed.answer("GET", "/api/v1/main/flows/company.team/approval", json(flow))
            .await;
        let resume = action_path(version, "1YRQXKiDxgUsaOLbU5dO0S", "resume");
        bed.answer("POST", &resume, ResponseTemplate::new(204)).await;
        let after = execution(
            "1YRQXKiDxgUsaOLbU5dO0S",
            "approval",
            "RUNNING",
            "2026-11-25T14:10:10Z",
        );
        bed.answer(
            "GET",
            "/api/v1/main/executions/1YRQXKiDxgUsaOLbU5dO0S",
            json(after.clone()),
        )
        .await;
        let result = bed
            .server
            .call_ok(
                "resume_execution",
                json!({"namespace": "company.team", "flow_id": "approval"}),
            )
            .await;
        assert_eq!(
            result["1YRQXKiDxgUsaOLbU5dO0S"]["state"], after["state"],
            "the state after the resume: {result}"
        );
        let sent = bed.requests().await;
        assert_eq!(
            lines(&sent),
            vec![
                // Searched with a PAUSED filter: never GET /executions, which 1.3 refuses.
                "GET /api/v1/main/executions/search?filters%5BflowId%5D%5BEQUALS%5D=approval&filters%5Bnamespace%5D%5BEQUALS%5D=company.team&filters%5Bstate%5D%5BIN%5D=PAUSED&page=1&size=100".to_owned(),
                "GET /api/v1/main/flows/company.team/approval?allowDeleted=false&source=false".to_owned(),
                format!("POST {resume}"),
                "GET /api/v1/main/executions/1YRQXKiDxgUsaOLbU5dO0S".to_owned(),
            ]
        );
        assert_eq!(
            multipart_parts(&sent[2]),
            vec![
                ("approved".to_owned(), None, "true".to_owned()),
                ("reason".to_owned(), None, "fine".to_owned()),
            ]
        );
    }
}

#[tokio::test]
async fn resume_execution_with_values_and_without_a_paused_execution() {
    let mut bed = bed_for("2.0").await;
    let paused = execution(
        "1YRQXKiDxgUsaOLbU5dO0S",
        "approval",
        "PAUSED",
        "2026-11-25T14:10:10Z",
    );
    bed.answer("GET", "/api/v1/main/executions/search", json(page(vec![paused])))
        .await;
    let resume = action_path("2.0", "1YRQXKiDxgUsaOLbU5dO0S", "resume");
    bed.answer("POST", &resume, ResponseTemplate::new(204)).await;
    let after = execution(
        "1YRQXKiDxgUsaOLbU5dO0S",
        "approval",
        "RUNNING",
        "2026-11-25T14:10:10Z",
    );
    bed.answer(
        "GET",
        "/api/v1/main/executions/1YRQXKiDxgUsaOLbU5dO0S",
        json(after.clone()),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "resume_execution",
            json!({"namespace": "company.team", "flow_id": "approval", "on_resume": {"approved": false}}),
        )
        .await;
    assert_eq!(
        result["1YRQXKiDxgUsaOLbU5dO0S"]["state"], after["state"],
        "{result}"
    );
    let sent = bed.requests().await;
    assert_eq!(sent.len(), 3, "no flow lookup when values are given");
    assert_eq!(line(&sent[1]), format!("POST {resume}"));
    assert_eq!(
        multipart_parts(&sent[1]),
        vec![("approved".to_owned(), None, "false".to_owned())]
    );

    bed.reset().await;
    bed.answer("GET", "/api/v1/main/executions/search", json(page(vec![])))
        .await;
    let err = bed
        .server
        .call_err(
            "resume_execution",
            json!({"namespace": "company.team", "flow_id": "approval"}),
        )
        .await;
    assert_eq!(err, "No paused executions found for company.team/approval.");
    assert_eq!(bed.requests().await.len(), 1);

    let err = bed
        .server
        .call_err("resume_execution", json!({"namespace": "company.team"}))
        .await;
    assert_eq!(
        err,
        "If execution_ids is not provided, both namespace and flow_id are required."
    );
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn force_run_execution_only_for_created_paused_or_queued() {
    for version in ["1.3", "2.0"] {
        let mut bed = bed_for(version).await;
        let id = "2Hv65OzcwZtW8dSMnUksYU";
        let at = format!("/api/v1/main/executions/{id}");
        bed.answer(
            "GET",
            &at,
            json(execution(id, "approval", "PAUSED", "2026-11-25T14:10:11Z")),
        )
        .await;
        let force = action_path(version, id, "force-run");
        let running = execution(id, "approval", "RUNNING", "2026-11-25T14:10:11Z");
        bed.answer("POST", &force, json(running.clone())).await;
        let result = bed
            .server
            .call_ok("force_run_execution", json!({"execution_id": id}))
            .await;
        assert_eq!(
            result,
            json!({"id": id, "namespace": running["namespace"], "flowId": "approval",
                   "state": {"current": "RUNNING", "previous": "PAUSED"}})
        );
        let sent = bed.requests().await;
        assert_eq!(lines(&sent), vec![format!("GET {at}"), format!("POST {force}")]);
        assert!(sent[1].body.is_empty());
    }

    let mut bed = bed_for("2.0").await;
    let at = format!("/api/v1/main/executions/{EXEC}");
    bed.answer(
        "GET",
        &at,
        json(execution(EXEC, "hello", "SUCCESS", "2026-11-25T14:10:07Z")),
    )
    .await;
    let err = bed
        .server
        .call_err("force_run_execution", json!({"execution_id": EXEC}))
        .await;
    assert_eq!(
        err,
        format!("Cannot force-run execution `{EXEC}` because it's currently in `SUCCESS` state.")
    );
    assert_eq!(bed.requests().await.len(), 1, "only the GET");
}

// ---------------------------------------------------------------------------------------------
// replay_execution

#[tokio::test]
async fn replay_execution_by_ids_or_the_latest_execution() {
    let mut bed = bed_for("1.3").await;
    let by_ids = "/api/v1/main/executions/replay/by-ids";
    bed.answer("POST", by_ids, json(json!({"count": 2}))).await;
    let result = bed
        .server
        .call_ok(
            "replay_execution",
            json!({"ids": ["1Xdwr5sTIamFbpr434xKPo", "7TTX54vdm6oLvgSXp3wfJ8"], "latest_revision": true}),
        )
        .await;
    assert_eq!(result, json!({"count": 2}));
    let req = bed.only_request().await;
    assert_eq!(line(&req), format!("POST {by_ids}?latestRevision=true"));
    assert_eq!(
        body_json(&req),
        json!(["1Xdwr5sTIamFbpr434xKPo", "7TTX54vdm6oLvgSXp3wfJ8"])
    );

    bed.reset().await;
    bed.answer(
        "GET",
        "/api/v1/main/executions/search",
        json(page(vec![
            execution("older", "hello", "SUCCESS", "2026-11-20T10:00:00Z"),
            execution("newer", "hello", "FAILED", "2026-11-25T10:00:00Z"),
        ])),
    )
    .await;
    bed.answer("POST", by_ids, json(json!({"count": 1}))).await;
    let result = bed
        .server
        .call_ok(
            "replay_execution",
            json!({"namespace": "company.team", "flow_id": "hello"}),
        )
        .await;
    assert_eq!(
        result,
        json!({"message": "Replayed execution newer for flow 'hello' in namespace 'company.team'.", "result": {"count": 1}})
    );
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec![
            "GET /api/v1/main/executions/search?filters%5BflowId%5D%5BEQUALS%5D=hello&filters%5Bnamespace%5D%5BEQUALS%5D=company.team&page=1&size=25",
            "POST /api/v1/main/executions/replay/by-ids",
        ]
    );
    assert_eq!(body_json(&sent[1]), json!(["newer"]));

    let err = bed
        .server
        .call_err("replay_execution", json!({"flow_id": "hello"}))
        .await;
    assert_eq!(
        err,
        "If ids is not provided, both namespace and flow_id are required."
    );
    assert!(bed.requests().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// backfill_executions

fn scheduled_flow() -> Value {
    json!({
        "id": "scheduled", "namespace": "company.team", "revision": 1,
        "inputs": [{"id": "region", "type": "STRING", "required": true, "defaults": "eu"}],
        "disabled": false, "deleted": false,
        "tasks": [{"id": "tick", "type": "io.kestra.plugin.core.log.Log", "message": "tick"}],
        "triggers": [
            {"id": "on_hello", "type": "io.kestra.plugin.core.trigger.Flow"},
            {"id": "every_hour", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "0 * * * *"}
        ]
    })
}

fn trigger_with_backfill(start: &str, end: &str) -> Value {
    json!({
        "tenantId": "main", "namespace": "company.team", "flowId": "scheduled", "triggerId": "every_hour",
        "date": "2026-11-25T14:10:06Z", "nextExecutionDate": "2026-11-25T12:00:00Z",
        "backfill": {"start": start, "end": end, "currentDate": start, "paused": false,
                     "inputs": {"region": "us"}, "labels": [{"key": "backfill", "value": "mcp"}],
                     "previousNextExecutionDate": "2026-11-25T15:00:00Z"},
        "disabled": false
    })
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::FixedOffset> {
    t.fixed_offset()
}

#[tokio::test]
async fn backfill_executions_on_1_3_updates_the_schedule_trigger() {
    let mut bed = bed_for("1.3").await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team/scheduled",
        json(scheduled_flow()),
    )
    .await;
    let answer = trigger_with_backfill("2026-11-25T11:10:26Z", "2026-11-25T14:10:26Z");
    bed.answer("PUT", "/api/v1/main/triggers", json(answer.clone()))
        .await;
    let before = chrono::Utc::now();
    let result = bed
        .server
        .call_ok(
            "backfill_executions",
            json!({"namespace": "company.team", "flow_id": "scheduled", "hours": 3,
                   "inputs": {"region": "us"}, "labels": [{"key": "backfill", "value": "mcp"}]}),
        )
        .await;
    let after = chrono::Utc::now();
    assert_eq!(result, answer);
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec![
            "GET /api/v1/main/flows/company.team/scheduled?allowDeleted=false&source=false",
            "PUT /api/v1/main/triggers",
        ]
    );
    assert_eq!(
        header(&sent[1], "content-type").as_deref(),
        Some("application/json")
    );
    let body = body_json(&sent[1]);
    let date = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let (start, end) = (date(&body["backfill"]["start"]), date(&body["backfill"]["end"]));
    let second = chrono::Duration::seconds(1);
    assert!(end >= iso(before) - second && end <= iso(after), "{end}");
    assert_eq!(end - start, chrono::Duration::hours(3));
    assert!(date(&body["date"]) >= iso(before) - second);
    let mut expected = json!({
        "tenantId": "main", "namespace": "company.team", "flowId": "scheduled",
        "triggerId": "every_hour",
        "backfill": {"inputs": {"region": "us"}, "labels": [{"key": "backfill", "value": "mcp"}]}
    });
    expected["date"] = body["date"].clone();
    expected["backfill"]["start"] = body["backfill"]["start"].clone();
    expected["backfill"]["end"] = body["backfill"]["end"].clone();
    assert_eq!(body, expected);
}

#[tokio::test]
async fn backfill_executions_on_2_0_creates_a_backfill() {
    let mut bed = bed_for("2.0").await;
    let answer = trigger_with_backfill("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z");
    bed.answer(
        "PUT",
        "/api/v1/main/triggers/backfill/create",
        json(answer.clone()),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "backfill_executions",
            json!({"namespace": "company.team", "flow_id": "scheduled", "trigger_id": "every_hour",
                   "start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z",
                   "labels": ["backfill:mcp"]}),
        )
        .await;
    assert_eq!(result, answer);
    let req = bed.only_request().await;
    assert_eq!(line(&req), "PUT /api/v1/main/triggers/backfill/create");
    assert_eq!(
        body_json(&req),
        json!({
            "namespace": "company.team", "flowId": "scheduled", "triggerId": "every_hour",
            // One millisecond before `start`: 2.0 starts after the start instant, 1.x includes
            // a slot at `start`; the tool keeps the 1.x meaning on both.
            "backfill": {"start": "2026-10-31T23:59:59.999Z", "end": "2026-11-02T00:00:00Z",
                         "inputs": {}, "labels": [{"key": "backfill", "value": "mcp"}]}
        })
    );
    // A start without an offset cannot be moved: refused before sending.
    let err = bed
        .server
        .call_err(
            "backfill_executions",
            json!({"namespace": "company.team", "flow_id": "scheduled", "trigger_id": "every_hour",
                   "start": "2026-11-01T00:00:00"}),
        )
        .await;
    assert!(
        err.contains("is not an ISO 8601 date-time with an offset"),
        "{err}"
    );
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn backfill_executions_needs_a_start_and_a_schedule_trigger() {
    let mut bed = bed_for("2.0").await;
    let err = bed
        .server
        .call_err(
            "backfill_executions",
            json!({"namespace": "company.team", "flow_id": "scheduled"}),
        )
        .await;
    assert_eq!(err, "Either `start` or `days`/`hours`/`minutes` must be provided");
    assert!(bed.requests().await.is_empty());

    let mut flow = scheduled_flow();
    flow["triggers"] = json!([{"id": "on_hello", "type": "io.kestra.plugin.core.trigger.Flow"}]);
    bed.answer("GET", "/api/v1/main/flows/company.team/scheduled", json(flow))
        .await;
    let err = bed
        .server
        .call_err(
            "backfill_executions",
            json!({"namespace": "company.team", "flow_id": "scheduled", "days": 1}),
        )
        .await;
    assert_eq!(err, "No Schedule trigger found in company.team/scheduled");
    assert_eq!(
        lines(&bed.requests().await),
        vec!["GET /api/v1/main/flows/company.team/scheduled?allowDeleted=false&source=false"]
    );
}
