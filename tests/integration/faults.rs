//! Kestra failing, slow, or answering badly: each becomes a clear `isError` result, and the
//! server keeps serving. Credentials never appear in results or logs.

use std::time::Duration;

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::stub::{Bed, json};
use crate::util::{Server, env_for};

const LIST: &str = "list_flows_in_namespace";
const AT: &str = "/api/v1/main/flows/ns";

#[tokio::test]
async fn kestra_errors_carry_status_and_message() {
    let mut bed = Bed::start().await;
    let cases = [
        (ResponseTemplate::new(404).set_body_json(json!({"message": "Namespace not found"})), "Kestra answered 404 to GET /flows/ns: Namespace not found"),
        (ResponseTemplate::new(401), "Kestra answered 401 to GET /flows/ns: unauthorized: check KESTRA_API_TOKEN or KESTRA_USERNAME/KESTRA_PASSWORD"),
        (ResponseTemplate::new(403), "Kestra answered 403 to GET /flows/ns: forbidden: the credentials lack the permission for this operation"),
        (
            ResponseTemplate::new(422).set_body_json(json!({"message": "Invalid entity", "_embedded": {"errors": [{"message": "namespace: must match"}]}})),
            "Kestra answered 422 to GET /flows/ns: Invalid entity; namespace: must match",
        ),
        (ResponseTemplate::new(409).set_body_string("Conflict"), "Kestra answered 409 to GET /flows/ns: Conflict"),
        (ResponseTemplate::new(500).set_body_raw("<html><body>Internal error</body></html>", "text/html"), "Kestra answered 500 to GET /flows/ns: <html><body>Internal error</body></html>"),
    ];
    for (response, want) in cases {
        bed.reset().await;
        bed.answer("GET", AT, response).await;
        assert_eq!(bed.server.call_err(LIST, json!({"namespace": "ns"})).await, want);
    }
    bed.reset().await;
    bed.answer("GET", AT, json(json!([]))).await;
    bed.server.call_ok(LIST, json!({"namespace": "ns"})).await;
}

#[tokio::test]
async fn invalid_json_is_reported() {
    let mut bed = Bed::start().await;
    bed.answer(
        "GET",
        AT,
        ResponseTemplate::new(200).set_body_raw("{\"results\": [", "application/json"),
    )
    .await;
    let err = bed.server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert!(err.starts_with("Kestra sent invalid JSON:"), "{err}");
}

#[tokio::test]
async fn get_retries_on_503_but_a_post_is_never_retried() {
    let mut bed = Bed::start().await;
    bed.answer("GET", AT, ResponseTemplate::new(503)).await;
    let err = bed.server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert!(err.starts_with("Kestra answered 503"), "{err}");
    assert_eq!(bed.requests().await.len(), 3, "a GET is tried three times");

    bed.answer("POST", "/api/v1/main/executions/ns/f", ResponseTemplate::new(503))
        .await;
    bed.server
        .call_err("execute_flow", json!({"namespace": "ns", "flow_id": "f"}))
        .await;
    assert_eq!(bed.requests().await.len(), 1, "a POST is sent once");
}

#[tokio::test]
async fn connection_refused_is_a_tool_error() {
    let mut server = Server::start(&env_for("http://127.0.0.1:9/api/v1")).await;
    let err = server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert!(
        err.starts_with("cannot connect to Kestra at http://127.0.0.1:9:"),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
}

#[tokio::test]
async fn a_slow_kestra_times_out_with_the_setting_named() {
    let mut bed = Bed::with_env(&[("KESTRA_MCP_TIMEOUT", "0.5")]).await;
    bed.answer("GET", AT, json(json!([])).set_delay(Duration::from_secs(5)))
        .await;
    let err = bed.server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert_eq!(err, "Kestra did not answer within 500ms (KESTRA_MCP_TIMEOUT)");
}

#[tokio::test]
async fn a_huge_answer_is_bounded() {
    let mut bed = Bed::with_env(&[("KESTRA_MCP_MAX_RESPONSE_BYTES", "65536")]).await;
    let big = json!(
        (0..20_000)
            .map(|i| json!({"id": format!("flow_{i}")}))
            .collect::<Vec<_>>()
    );
    bed.answer("GET", AT, json(big)).await;
    let err = bed.server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert!(
        err.contains("larger than 65536 bytes (KESTRA_MCP_MAX_RESPONSE_BYTES)"),
        "{err}"
    );

    // A text answer is cut, with a note saying so.
    bed.answer(
        "GET",
        "/api/v1/main/flows/text",
        ResponseTemplate::new(200).set_body_raw("y".repeat(200_000), "text/plain"),
    )
    .await;
    let result = bed.server.call_ok(LIST, json!({"namespace": "text"})).await;
    let text = result["results"].as_str().unwrap_or_default();
    assert!(
        text.len() < 70_000 && text.ends_with("(KESTRA_MCP_MAX_RESPONSE_BYTES)]"),
        "{}",
        &text[text.len().saturating_sub(100)..]
    );
}

#[tokio::test]
async fn credentials_never_appear_in_results_or_debug_logs() {
    let mut bed = Bed::with_env(&[
        ("KESTRA_USERNAME", "admin@kestra.io"),
        ("KESTRA_PASSWORD", "Pa55-very-secret"),
        ("KESTRA_MCP_LOG_LEVEL", "DEBUG"),
    ])
    .await;
    // A hostile Kestra echoing the password back in its error.
    bed.answer(
        "GET",
        AT,
        ResponseTemplate::new(400).set_body_json(json!({"message": "bad password Pa55-very-secret"})),
    )
    .await;
    let err = bed.server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert!(!err.contains("Pa55-very-secret"), "{err}");
    assert!(err.contains("***"), "{err}");
    bed.answer("GET", "/api/v1/main/flows/ok", json(json!([]))).await;
    bed.server.call_ok(LIST, json!({"namespace": "ok"})).await;
    let (_, stderr) = bed.server.finish().await;
    assert!(stderr.contains("DEBUG"), "debug logging is on: {stderr}");
    for secret in ["Pa55-very-secret", "YWRtaW5Aa2VzdHJhLmlvOlBhNTUtdmVyeS1zZWNyZXQ="] {
        assert!(!stderr.contains(secret), "secret in logs: {stderr}");
    }
}

#[tokio::test]
async fn credentials_are_not_sent_to_another_origin_on_redirect() {
    let other = wiremock::MockServer::start().await;
    let mut bed = Bed::with_env(&[("KESTRA_API_TOKEN", "tok-redirect")]).await;
    bed.answer(
        "GET",
        AT,
        ResponseTemplate::new(302).insert_header("location", format!("{}/steal", other.uri())),
    )
    .await;
    let err = bed.server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert!(err.starts_with("Kestra answered 302 to GET /flows/ns"), "{err}");
    assert!(
        other.received_requests().await.unwrap_or_default().is_empty(),
        "the other origin got a request"
    );
}
