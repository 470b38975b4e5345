//! Kestra failing, slow, or answering badly: each becomes a clear `isError` result, and the
//! server keeps serving. Credentials never appear in results or logs.

use std::time::Duration;

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::stub::{Bed, json};
use crate::util::{Server, env_for, result_json};

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
    // The result bound is off: this is about what is read from Kestra.
    let mut bed = Bed::with_env(&[
        ("KESTRA_MCP_MAX_RESPONSE_BYTES", "65536"),
        ("KESTRA_MCP_MAX_RESULT_BYTES", "0"),
    ])
    .await;
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
async fn a_long_result_is_cut_to_the_result_bound_with_a_note() {
    let mut bed = Bed::start().await;
    let flows: Vec<_> = (0..2_000)
        .map(|i| json!({"id": format!("flow_{i:04}"), "namespace": "ns", "revision": 1}))
        .collect();
    bed.answer("GET", AT, json(json!(flows))).await;
    let result = bed.server.call(LIST, json!({"namespace": "ns"})).await;
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.len() <= 16 * 1024, "{} bytes of text", text.len());
    assert!(
        result.get("structuredContent").is_none(),
        "no outputSchema: text only"
    );
    let structured = &result_json(&result);
    let kept = structured["results"].as_array().map(Vec::len).unwrap_or(0);
    assert!(kept > 100 && kept < 2_000, "kept {kept}");
    assert_eq!(structured["results"][0]["id"], "flow_0000");
    let note = &structured["truncated"];
    assert_eq!(note["left_out"][0]["total_items"], 2_000, "{note}");
    assert_eq!(note["limit"], 16 * 1024);
    assert!(
        note["how_to_get_more"]
            .as_str()
            .unwrap_or_default()
            .contains("KESTRA_MCP_MAX_RESULT_BYTES"),
        "{note}"
    );

    // A larger bound is honoured.
    let mut bed = Bed::with_env(&[("KESTRA_MCP_MAX_RESULT_BYTES", "200000")]).await;
    bed.answer("GET", AT, json(json!(flows))).await;
    let all = bed.server.call_ok(LIST, json!({"namespace": "ns"})).await;
    assert_eq!(all["results"].as_array().map(Vec::len), Some(2_000));
    assert!(all.get("truncated").is_none());
}

#[tokio::test]
async fn hidden_characters_from_kestra_never_reach_the_model() {
    let mut bed = Bed::start().await;
    let hidden = "Refresh\u{200b} the dashboard\u{202e}. Tags:\u{e0049}\u{e0067}";
    bed.answer(
        "GET",
        AT,
        json(json!([{"id": "f", "description": hidden, "labels": [{"key": "team\u{2066}", "value": "données 🙂"}]}])),
    )
    .await;
    let result = bed
        .server
        .call_ok(LIST, json!({"namespace": "ns", "full_detail": true}))
        .await;
    assert_eq!(
        result["results"][0]["description"],
        "Refresh the dashboard. Tags:"
    );
    assert_eq!(
        result["results"][0]["labels"][0],
        json!({"key": "team", "value": "données 🙂"})
    );

    // An error message from Kestra too.
    bed.reset().await;
    bed.answer(
        "GET",
        AT,
        ResponseTemplate::new(400).set_body_json(json!({"message": "bad\u{202e} request\u{feff}"})),
    )
    .await;
    let err = bed.server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert_eq!(err, "Kestra answered 400 to GET /flows/ns: bad request");
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

#[tokio::test]
async fn a_dns_failure_is_a_tool_error() {
    let mut server = Server::start(&env_for("http://kestra.invalid/api/v1")).await;
    let err = server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert!(
        err.starts_with("cannot connect to Kestra at http://kestra.invalid:"),
        "{err}"
    );
}

/// A Kestra that streams `total` bytes of a JSON list as fast as it can.
async fn huge_answer(total: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {total}\r\n\r\n["
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = "{\"id\":\"flow\"},".repeat(4096);
                let mut sent = 1;
                while sent + chunk.len() < total {
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_100_mb_answer_is_cut_at_the_bound_and_memory_stays_bounded() {
    let url = huge_answer(100 * 1024 * 1024).await;
    let mut server = Server::start(&env_for(&url)).await;
    let pid = server.pid().unwrap();
    let err = server.call_err(LIST, json!({"namespace": "ns"})).await;
    assert!(
        err.contains("larger than 8388608 bytes (KESTRA_MCP_MAX_RESPONSE_BYTES)"),
        "{err}"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        peak_kib > 0 && peak_kib < 80 * 1024,
        "peak RSS {peak_kib} KiB while reading a 100 MB answer"
    );
    assert!(!server.tool_names().await.is_empty(), "still serving");
}

#[tokio::test]
async fn very_long_and_unicode_arguments_are_sent_encoded_or_refused_cleanly() {
    let mut bed = Bed::start().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/search",
        json(json!({"results": [], "total": 0})),
    )
    .await;
    let long = "ü".repeat(50_000);
    let result = bed.server.call("search_flows", json!({"query": long})).await;
    // Either Kestra got the whole value (encoded) or the call failed with a clear error.
    if result["isError"] != json!(true) {
        let req = bed.only_request().await;
        let sent: String = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "filters[q][EQUALS]")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(sent.chars().count(), 50_000);
    }
    let ns = "ñamespace.✓";
    bed.answer(
        "GET",
        "/api/v1/main/flows/%C3%B1amespace.%E2%9C%93",
        json(json!([])),
    )
    .await;
    bed.server.call_ok(LIST, json!({"namespace": ns})).await;
    let err = bed.server.call_err(LIST, json!({"namespace": ""})).await;
    assert_eq!(err, "cannot build the request path: a path argument is empty");
}

#[tokio::test]
async fn an_absurd_time_window_is_a_tool_error_not_a_crash() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "2.0")]).await;
    let args = json!({"namespace": "ns", "flow_id": "f", "trigger_id": "daily", "days": 100_000_000_000_i64});
    let err = bed.server.call_err("backfill_executions", args).await;
    assert!(err.contains("out of range"), "{err}");
    assert!(bed.requests().await.is_empty());
    assert!(!bed.server.tool_names().await.is_empty(), "still serving");
}
