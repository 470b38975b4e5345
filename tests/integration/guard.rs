//! Namespace guardrails (`KESTRA_MCP_NAMESPACES`): refusals name the setting and the namespace
//! and send nothing; execution ids are looked up first; listings lose the items outside and
//! say so; without the setting nothing changes and no request is added.

use serde_json::json;

use crate::stub::{Bed, json, lines};

const POLICY: (&str, &str) = ("KESTRA_MCP_NAMESPACES", "company.*, ops.main");

async fn bed() -> Bed {
    Bed::with_env(&[POLICY, ("KESTRA_VERSION", "1.3.0")]).await
}

#[tokio::test]
async fn a_call_naming_a_namespace_outside_is_refused_and_nothing_is_sent() {
    let mut bed = bed().await;
    let calls = [
        (
            "manage_kv_store",
            json!({"action": "get", "namespace": "other", "key": "k"}),
        ),
        (
            "manage_kv_store",
            json!({"action": "set", "namespace": "companyx", "key": "k", "value": 1}),
        ),
        ("list_flows_in_namespace", json!({"namespace": "ops.main.sub"})),
        (
            "manage_flow",
            json!({"action": "disable", "namespace": "other", "flow_id": "f"}),
        ),
        ("execute_flow", json!({"namespace": "other.team", "flow_id": "f"})),
        (
            "namespace_file_action",
            json!({"action": "get", "namespace": "other", "path": "/a.py"}),
        ),
        (
            "create_flow_from_yaml",
            json!({"yaml_definition": "id: f\nnamespace: other.team\ntasks: []\n"}),
        ),
        ("search_flows", json!({"query": "x", "namespace": "other"})),
        ("manage_group", json!({"action": "get", "id_": "g1"})),
    ];
    for (tool, arguments) in calls {
        let refused = bed.server.call_err(tool, arguments.clone()).await;
        assert!(refused.starts_with("refused: "), "{tool} {arguments}: {refused}");
        assert!(
            refused.contains("KESTRA_MCP_NAMESPACES=company.*,ops.main"),
            "{tool}: {refused}"
        );
        assert!(
            bed.requests().await.is_empty(),
            "{tool} {arguments} reached Kestra"
        );
    }
    let refused = bed
        .server
        .call_err(
            "manage_kv_store",
            json!({"action": "get", "namespace": "other", "key": "k"}),
        )
        .await;
    assert_eq!(
        refused,
        "refused: GET /namespaces/other/kv/k is in namespace 'other', outside KESTRA_MCP_NAMESPACES=company.*,ops.main; nothing was sent for it"
    );
}

#[tokio::test]
async fn a_call_inside_is_sent_as_without_the_setting() {
    let mut bed = bed().await;
    bed.answer(
        "GET",
        "/api/v1/main/namespaces/company.team/kv/k",
        json(json!({"type": "STRING", "value": "v"})),
    )
    .await;
    bed.server
        .call_ok(
            "manage_kv_store",
            json!({"action": "get", "namespace": "company.team", "key": "k"}),
        )
        .await;
    bed.answer(
        "POST",
        "/api/v1/main/flows",
        json(json!({"id": "f", "namespace": "company", "revision": 1})),
    )
    .await;
    bed.server
        .call_ok(
            "create_flow_from_yaml",
            json!({"yaml_definition": "id: f\nnamespace: company\ntasks: []\n"}),
        )
        .await;
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            "GET /api/v1/main/namespaces/company.team/kv/k",
            "POST /api/v1/main/flows"
        ]
    );
}

#[tokio::test]
async fn an_execution_is_looked_up_first_and_refused_outside() {
    let mut bed = bed().await;
    bed.answer(
        "GET",
        "/api/v1/main/executions/e-out",
        json(json!({"id": "e-out", "namespace": "other"})),
    )
    .await;
    let refused = bed
        .server
        .call_err(
            "manage_executions",
            json!({"action": "kill", "execution_id": "e-out"}),
        )
        .await;
    assert!(
        refused.contains("(execution e-out) is in namespace 'other', outside KESTRA_MCP_NAMESPACES"),
        "{refused}"
    );
    // Only the lookup was sent, never the kill.
    assert_eq!(
        lines(&bed.requests().await),
        vec!["GET /api/v1/main/executions/e-out"]
    );

    bed.answer(
        "GET",
        "/api/v1/main/executions/e-in",
        json(json!({"id": "e-in", "namespace": "company.team"})),
    )
    .await;
    bed.answer(
        "GET",
        "/api/v1/main/logs/e-in",
        json(json!([{"message": "hi", "namespace": "company.team"}])),
    )
    .await;
    bed.server
        .call_ok("get_execution_logs", json!({"execution_id": "e-in"}))
        .await;
    let sent = lines(&bed.requests().await);
    assert_eq!(sent[0], "GET /api/v1/main/executions/e-in", "{sent:?}");
    assert!(sent[1].starts_with("GET /api/v1/main/logs/e-in"), "{sent:?}");

    let refused = bed
        .server
        .call_err(
            "manage_executions",
            json!({"action": "get", "execution_id": "missing"}),
        )
        .await;
    assert!(
        refused.contains("cannot tell which namespace execution 'missing' is in"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_listing_loses_the_items_outside_and_says_so() {
    let mut bed = bed().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/search",
        json(json!({"results": [
            {"id": "a", "namespace": "company.team"},
            {"id": "b", "namespace": "other"},
            {"id": "c", "namespace": "ops.main"},
        ], "total": 3})),
    )
    .await;
    let result = bed.server.call_ok("search_flows", json!({"query": "x"})).await;
    let ids: Vec<&str> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["a", "c"], "{result}");
    assert_eq!(
        result["namespace_guard"],
        "1 item(s) outside the allowed namespaces were left out (KESTRA_MCP_NAMESPACES=company.*,ops.main)"
    );
    bed.answer(
        "GET",
        "/api/v1/main/flows/distinct-namespaces",
        json(json!(["company", "other", "ops.main"])),
    )
    .await;
    bed.answer(
        "GET",
        "/api/v1/main/namespaces/search",
        json(json!({"results": [], "total": 0})),
    )
    .await;
    let namespaces = bed.server.call_ok("list_namespaces", json!({})).await;
    assert!(!namespaces.to_string().contains("\"other\""), "{namespaces}");
}

#[tokio::test]
async fn without_the_setting_no_lookup_is_added() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3.0")]).await;
    bed.answer("GET", "/api/v1/main/logs/e1", json(json!([]))).await;
    bed.server
        .call_ok("get_execution_logs", json!({"execution_id": "e1"}))
        .await;
    let sent = lines(&bed.requests().await);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("GET /api/v1/main/logs/e1"), "{sent:?}");
}

#[tokio::test]
async fn a_search_gets_the_policys_namespace_filter_when_it_is_one_pattern() {
    let mut bed = Bed::with_env(&[
        ("KESTRA_MCP_NAMESPACES", "company.*"),
        ("KESTRA_VERSION", "1.3.0"),
    ])
    .await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/search",
        json(json!({"results": [], "total": 0})),
    )
    .await;
    bed.server.call_ok("search_flows", json!({"query": "x"})).await;
    let sent = bed.only_request().await;
    let prefix: Vec<String> = sent
        .url
        .query_pairs()
        .filter(|(k, _)| k == "filters[namespace][PREFIX]")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(prefix, vec!["company"], "{}", sent.url);
}

#[tokio::test]
async fn an_app_by_uid_is_looked_up_first_allowed_inside_and_refused_outside() {
    let mut bed = bed().await;
    bed.answer(
        "GET",
        "/api/v1/main/apps/a-out",
        json(json!({"uid": "a-out", "namespace": "other", "source": "id: a"})),
    )
    .await;
    let refused = bed
        .server
        .call_err("manage_apps", json!({"action": "delete", "uid": "a-out"}))
        .await;
    assert!(
        refused.contains("(app a-out) is in namespace 'other', outside KESTRA_MCP_NAMESPACES"),
        "{refused}"
    );
    // Only the lookup was sent, never the delete.
    assert_eq!(lines(&bed.requests().await), vec!["GET /api/v1/main/apps/a-out"]);

    bed.answer(
        "GET",
        "/api/v1/main/apps/a-in",
        json(json!({"uid": "a-in", "namespace": "company.team", "source": "id: a"})),
    )
    .await;
    bed.answer(
        "POST",
        "/api/v1/main/apps/a-in/disable",
        json(json!({"uid": "a-in"})),
    )
    .await;
    bed.server
        .call_ok("manage_apps", json!({"action": "disable", "uid": "a-in"}))
        .await;
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            "GET /api/v1/main/apps/a-in",
            "POST /api/v1/main/apps/a-in/disable"
        ]
    );

    // An app Kestra does not know cannot be placed: refused after the lookup alone.
    let refused = bed
        .server
        .call_err("manage_apps", json!({"action": "enable", "uid": "gone"}))
        .await;
    assert!(
        refused.contains("cannot tell which namespace app 'gone' is in"),
        "{refused}"
    );
    assert_eq!(lines(&bed.requests().await), vec!["GET /api/v1/main/apps/gone"]);
}
