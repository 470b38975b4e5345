//! Unit tests for routing precedence (including the 2.0 misroute) and the execution state
//! machine on a manual clock.

use std::time::Duration;

use axum::http::Method;
use kestra_sim::routes::{Op, Resolved, resolve, table};
use kestra_sim::{KestraVersion, Options, Simulator};
use serde_json::Value;

fn op(v: KestraVersion, m: Method, path: &str, ct: Option<&str>) -> Resolved {
    resolve(&table(v), &m, path, ct)
}

fn found(r: &Resolved) -> Option<(Op, &str, String)> {
    match r {
        Resolved::Found { op, params, .. } => Some((
            *op,
            "",
            format!(
                "{}|{}|{}",
                params.get("executionId").cloned().unwrap_or_default(),
                params.get("namespace").cloned().unwrap_or_default(),
                params.get("id").cloned().unwrap_or_default()
            ),
        )),
        _ => None,
    }
}

#[test]
fn v13_actions_beat_create_execution() {
    let r = op(
        KestraVersion::V1_3,
        Method::POST,
        "/api/v1/main/executions/abc/pause",
        None,
    );
    assert_eq!(found(&r).map(|f| f.0), Some(Op::Pause));
    let r = op(
        KestraVersion::V1_3,
        Method::POST,
        "/api/v1/main/executions/abc/restart",
        None,
    );
    assert_eq!(found(&r).map(|f| f.0), Some(Op::Restart));
    let r = op(
        KestraVersion::V1_3,
        Method::DELETE,
        "/api/v1/main/executions/abc/kill",
        None,
    );
    assert_eq!(found(&r).map(|f| f.0), Some(Op::Kill));
    let r = op(
        KestraVersion::V1_3,
        Method::POST,
        "/api/v1/main/executions/abc/labels",
        Some("application/json"),
    );
    assert_eq!(found(&r).map(|f| f.0), Some(Op::SetLabels));
}

#[test]
fn v13_multipart_pause_reaches_create_execution_like_real_0_23() {
    // Recorded pair errors/diff-1.x-shadow-pause-as-create: pause does not consume multipart.
    let r = op(
        KestraVersion::V1_3,
        Method::POST,
        "/api/v1/main/executions/abc/pause",
        Some("multipart/form-data"),
    );
    let f = found(&r).expect("found");
    assert_eq!(f.0, Op::CreateExecution);
    assert_eq!(f.2, "|abc|pause");
}

#[test]
fn v20_one_x_style_actions_start_a_flow() {
    for action in [
        "pause",
        "restart",
        "resume",
        "labels",
        "change-status",
        "state",
        "force-run",
    ] {
        let r = op(
            KestraVersion::V2_0,
            Method::POST,
            &format!("/api/v1/main/executions/abc/{action}"),
            None,
        );
        let f = found(&r).expect("found");
        assert_eq!(f.0, Op::CreateExecution, "{action}");
        assert_eq!(f.2, format!("|abc|{action}"));
    }
    // DELETE …/kill has no createExecution twin on 2.0: the path matches GET/DELETE
    // /executions/{id}/…? no → only templates with two segments answer, none for DELETE.
    let r = op(
        KestraVersion::V2_0,
        Method::DELETE,
        "/api/v1/main/executions/abc/kill",
        None,
    );
    assert!(matches!(r, Resolved::MethodNotAllowed(_)), "{r:?}");
    let r = op(
        KestraVersion::V2_0,
        Method::POST,
        "/api/v1/main/executions/abc/actions/pause",
        None,
    );
    assert_eq!(found(&r).map(|f| f.0), Some(Op::Pause));
    // And the 2.0 path does not exist on 1.3.
    let r = op(
        KestraVersion::V1_3,
        Method::POST,
        "/api/v1/main/executions/abc/actions/pause",
        None,
    );
    assert_eq!(r, Resolved::NotFound);
}

#[test]
fn static_segments_beat_variables() {
    let v = KestraVersion::V1_3;
    assert_eq!(
        found(&op(v, Method::GET, "/api/v1/main/flows/search", None)).map(|f| f.0),
        Some(Op::SearchFlows)
    );
    assert_eq!(
        found(&op(v, Method::GET, "/api/v1/main/flows/company.team", None)).map(|f| f.0),
        Some(Op::ListFlowsByNamespace)
    );
    assert_eq!(
        found(&op(v, Method::GET, "/api/v1/main/executions/search", None)).map(|f| f.0),
        Some(Op::SearchExecutions)
    );
    assert_eq!(
        found(&op(
            v,
            Method::POST,
            "/api/v1/main/executions/replay/by-ids",
            Some("application/json")
        ))
        .map(|f| f.0),
        Some(Op::ReplayByIds)
    );
    assert_eq!(
        found(&op(
            v,
            Method::GET,
            "/api/v1/main/namespaces/a.b/kv/inheritance",
            None
        ))
        .map(|f| f.0),
        Some(Op::ListKvInheritance)
    );
    assert_eq!(
        found(&op(v, Method::GET, "/api/v1/configs", None)).map(|f| f.0),
        Some(Op::Configs)
    );
}

#[test]
fn method_and_media_type_errors() {
    let v = KestraVersion::V1_3;
    match op(v, Method::PATCH, "/api/v1/main/flows/a/b", None) {
        Resolved::MethodNotAllowed(m) => {
            assert!(m.contains(&"GET".to_string()) && m.contains(&"PUT".to_string()))
        }
        other => panic!("{other:?}"),
    }
    match op(
        v,
        Method::PUT,
        "/api/v1/main/namespaces/a/kv/k",
        Some("application/xml"),
    ) {
        Resolved::UnsupportedMediaType { allowed, .. } => {
            assert_eq!(allowed, vec!["application/json", "text/plain"])
        }
        other => panic!("{other:?}"),
    }
    // 1.3 has PUT /triggers; 2.0 answers 405 there (only backfill/set-disabled routes).
    assert_eq!(
        found(&op(
            v,
            Method::PUT,
            "/api/v1/main/triggers",
            Some("application/json")
        ))
        .map(|f| f.0),
        Some(Op::UpdateTrigger)
    );
    assert_eq!(
        op(
            KestraVersion::V2_0,
            Method::PUT,
            "/api/v1/main/triggers",
            Some("application/json")
        ),
        Resolved::NotFound
    );
    assert_eq!(
        op(v, Method::GET, "/api/v1/main/nothing/here", None),
        Resolved::NotFound
    );
}

// ---- state machine over HTTP on a manual clock ----

async fn sim() -> kestra_sim::RunningSim {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("date")
        .with_timezone(&chrono::Utc);
    Simulator::spawn_with(
        KestraVersion::V1_3,
        0,
        Options {
            task_delay: Duration::from_secs(1),
            manual_clock: Some(start),
        },
    )
    .await
    .expect("spawn")
}

/// A client that works whether or not reqwest was built with a TLS provider of its own.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn create_flow(c: &reqwest::Client, base: &str, yaml: &str) {
    let r = c
        .post(format!("{base}/api/v1/main/flows"))
        .header("Content-Type", "application/x-yaml")
        .body(yaml.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

async fn run(c: &reqwest::Client, base: &str, flow: &str) -> String {
    let r = c
        .post(format!("{base}/api/v1/main/executions/t.ns/{flow}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["id"].as_str().expect("id").to_string()
}

async fn state(c: &reqwest::Client, base: &str, id: &str) -> (String, Vec<(String, String)>) {
    let v: Value = c
        .get(format!("{base}/api/v1/main/executions/{id}"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let trs = v["taskRunList"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    (
                        t["taskId"].as_str().unwrap_or("").to_string(),
                        t["state"]["current"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (v["state"]["current"].as_str().unwrap_or("").to_string(), trs)
}

const FLOW: &str = "id: f\nnamespace: t.ns\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: one\n  - id: p\n    type: io.kestra.plugin.core.flow.Pause\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: two\n";
const FAIL: &str = "id: g\nnamespace: t.ns\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: one\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n  - id: never\n    type: io.kestra.plugin.core.log.Log\n    message: never\n";

#[tokio::test]
async fn pause_task_pauses_then_resume_completes() {
    let s = sim().await;
    let (c, base) = (client(), s.base_url());
    create_flow(&c, &base, FLOW).await;
    let id = run(&c, &base, "f").await;
    assert_eq!(state(&c, &base, &id).await.0, "RUNNING");
    s.advance(Duration::from_millis(1500));
    let (st, trs) = state(&c, &base, &id).await;
    assert_eq!(st, "PAUSED");
    assert_eq!(
        trs,
        vec![("a".into(), "SUCCESS".into()), ("p".into(), "PAUSED".into())]
    );
    let r = c
        .post(format!("{base}/api/v1/main/executions/{id}/resume"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    s.advance(Duration::from_secs(2));
    let (st, trs) = state(&c, &base, &id).await;
    assert_eq!(st, "SUCCESS");
    assert_eq!(trs.len(), 3);
    // Resuming again → 409.
    let r = c
        .post(format!("{base}/api/v1/main/executions/{id}/resume"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn fail_task_fails_and_restart_reruns_it() {
    let s = sim().await;
    let (c, base) = (client(), s.base_url());
    create_flow(&c, &base, FAIL).await;
    let id = run(&c, &base, "g").await;
    s.advance(Duration::from_secs(5));
    let (st, trs) = state(&c, &base, &id).await;
    assert_eq!(st, "FAILED");
    assert_eq!(
        trs,
        vec![("a".into(), "SUCCESS".into()), ("boom".into(), "FAILED".into())]
    );
    let logs: Value = c
        .get(format!("{base}/api/v1/main/logs/{id}?minLevel=ERROR"))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    assert_eq!(logs.as_array().map(Vec::len), Some(1));
    let r = c
        .post(format!("{base}/api/v1/main/executions/{id}/restart"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(state(&c, &base, &id).await.0, "RUNNING");
    s.advance(Duration::from_secs(2));
    assert_eq!(state(&c, &base, &id).await.0, "FAILED");
    // change-status of a terminated execution to a terminal state.
    let r = c
        .post(format!(
            "{base}/api/v1/main/executions/{id}/change-status?status=SUCCESS"
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(state(&c, &base, &id).await.0, "SUCCESS");
}

#[tokio::test]
async fn kill_and_api_pause_on_a_running_execution() {
    let s = sim().await;
    let (c, base) = (client(), s.base_url());
    create_flow(&c, &base, FLOW).await;
    let id = run(&c, &base, "f").await;
    let r = c
        .post(format!("{base}/api/v1/main/executions/{id}/pause"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    s.advance(Duration::from_secs(10));
    assert_eq!(state(&c, &base, &id).await.0, "PAUSED");
    let r = c
        .delete(format!("{base}/api/v1/main/executions/{id}/kill"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    assert_eq!(state(&c, &base, &id).await.0, "KILLED");
    let r = c
        .delete(format!(
            "{base}/api/v1/main/executions/{id}/kill?isOnKillCascade=false"
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn v20_misroute_starts_a_flow_named_pause() {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("date")
        .with_timezone(&chrono::Utc);
    let s = Simulator::spawn_with(
        KestraVersion::V2_0,
        0,
        Options {
            task_delay: Duration::from_secs(1),
            manual_clock: Some(start),
        },
    )
    .await
    .expect("spawn");
    let (c, base) = (client(), s.base_url());
    create_flow(&c, &base, FLOW).await;
    let id = run(&c, &base, "f").await;
    // No flow `pause` in namespace {id}: 404 Requested Flow is not found.
    let r = c
        .post(format!("{base}/api/v1/main/executions/{id}/pause"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let body = r.text().await.expect("text");
    assert!(body.contains("Requested Flow is not found"), "{body}");
    // With such a flow, the 1.x-style call really starts it and leaves the execution alone.
    let pause_flow = format!(
        "id: pause\nnamespace: {id}\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: oops\n"
    );
    create_flow(&c, &base, &pause_flow).await;
    let r = c
        .post(format!("{base}/api/v1/main/executions/{id}/pause"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["flowId"], "pause");
    assert_eq!(v["namespace"], id.as_str());
    assert_eq!(state(&c, &base, &id).await.0, "RUNNING");
    let r = c
        .post(format!("{base}/api/v1/main/executions/{id}/actions/pause"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    // 2.0 answers the paused Execution (ExecutionController on the 2.0 line), 1.x nothing.
    let v: Value = r.json().await.expect("pause answers the execution");
    assert_eq!(v["state"]["current"], "PAUSED");
    assert_eq!(state(&c, &base, &id).await.0, "PAUSED");
    let r = c
        .post(format!("{base}/api/v1/main/executions/{id}/actions/pause"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 409, "2.0: pausing a paused execution is a conflict");
    // 2.0 kill: 200 with the Execution as text/json, not 1.x's empty 202.
    let r = c
        .delete(format!("{base}/api/v1/main/executions/{id}/actions/kill"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"].to_str().expect("ascii"), "text/json");
    let v: Value = serde_json::from_str(&r.text().await.expect("text")).expect("json");
    assert_eq!(v["state"]["current"], "KILLED");
    let r = c
        .delete(format!(
            "{base}/api/v1/main/executions/{id}/actions/kill?isOnKillCascade=false"
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn kv_types_come_from_the_body_and_climbing_is_refused() {
    let s = sim().await;
    let (c, base) = (client(), s.base_url());
    for (body, ty) in [
        ("\"x\"", "STRING"),
        ("42", "NUMBER"),
        ("true", "BOOLEAN"),
        ("2024-01-15T10:30:00Z", "DATETIME"),
        ("2024-01-15", "DATE"),
        ("\"PT5M\"", "DURATION"),
        ("{\"a\":1}", "JSON"),
    ] {
        let r = c
            .put(format!("{base}/api/v1/main/namespaces/a.b/kv/k"))
            .header("Content-Type", "text/plain")
            .body(body)
            .send()
            .await
            .expect("s");
        assert_eq!(r.status(), 200);
        let v: Value = c
            .get(format!("{base}/api/v1/main/namespaces/a.b/kv/k"))
            .send()
            .await
            .expect("s")
            .json()
            .await
            .expect("j");
        assert_eq!(v["type"], ty, "{body}");
    }
    let r = c
        .get(format!("{base}/api/v1/main/namespaces/..%2Fa.b/kv/k"))
        .send()
        .await
        .expect("s");
    assert_eq!(r.status(), 400);
    let r = c
        .get(format!("{base}/api/v1/main/namespaces/a.b/kv/..%2Fk"))
        .send()
        .await
        .expect("s");
    assert_eq!(r.status(), 400);
}

/// destinationOnly keeps the edges whose destination is the flow (Kestra's findByFlow; recorded
/// flows/dependencies-hello-destinationOnly of the 1.3.0 corpus: parent → hello kept, hello →
/// downstream dropped), without it both directions.
#[tokio::test]
async fn dependencies_destination_only_keeps_the_edges_into_the_flow() {
    let s = sim().await;
    let (c, base) = (client(), s.base_url());
    let subflow = |id: &str, child: &str| {
        format!(
            "id: {id}\nnamespace: t.ns\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: t.ns\n    flowId: {child}\n"
        )
    };
    create_flow(&c, &base, &subflow("parent", "mid")).await;
    create_flow(&c, &base, &subflow("mid", "leaf")).await;
    create_flow(&c, &base, FLOW_LOG_LEAF).await;
    let edges = |query: &'static str| {
        let (c, base) = (c.clone(), base.clone());
        async move {
            let v: Value = c
                .get(format!("{base}/api/v1/main/flows/t.ns/mid/dependencies{query}"))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            let mut out: Vec<String> = v["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| {
                    format!(
                        "{} -> {}",
                        e["source"].as_str().unwrap_or(""),
                        e["target"].as_str().unwrap_or("")
                    )
                })
                .collect();
            out.sort();
            out
        }
    };
    assert_eq!(
        edges("?destinationOnly=true").await,
        ["main_t.ns_parent -> main_t.ns_mid"]
    );
    assert_eq!(
        edges("").await,
        [
            "main_t.ns_mid -> main_t.ns_leaf",
            "main_t.ns_parent -> main_t.ns_mid"
        ]
    );
}

const FLOW_LOG_LEAF: &str = "id: leaf\nnamespace: t.ns\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

/// A tenant-less legacy path is served for `main` (recorded misc/no-tenant-legacy-path of all
/// three corpora); a tenant path still wins.
#[test]
fn tenant_less_legacy_paths_are_served_for_main() {
    for v in [KestraVersion::V1_3, KestraVersion::V2_0] {
        match op(v, Method::GET, "/api/v1/flows/search", None) {
            Resolved::Found { op, tenant, .. } => {
                assert_eq!((op, tenant.as_str()), (Op::SearchFlows, "main"));
            }
            other => panic!("{other:?}"),
        }
        match op(v, Method::GET, "/api/v1/other/flows/search", None) {
            Resolved::Found { tenant, .. } => assert_eq!(tenant, "other"),
            other => panic!("{other:?}"),
        }
    }
}
