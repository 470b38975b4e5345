//! The MCP session itself: handshake, listing, errors at the protocol level, concurrency,
//! cancellation and shutdown. stdout must only ever carry JSON-RPC (checked by `read_message`).

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::stub::{Bed, json};

#[tokio::test]
async fn lists_the_builtin_tools() {
    let mut bed = Bed::start().await;
    let names = bed.server.tool_names().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tools.d");
    let mut stems: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_owned))
        // NAME.test.yaml holds the spec tests of NAME.yaml, not a tool.
        .filter(|stem| !stem.ends_with(".test"))
        .collect();
    stems.sort();
    assert_eq!(names, stems);
}

#[tokio::test]
async fn an_unknown_tool_is_a_json_rpc_error_and_the_session_goes_on() {
    let mut bed = Bed::start().await;
    let reply = bed
        .server
        .request("tools/call", json!({"name": "no_such_tool", "arguments": {}}))
        .await;
    assert_eq!(reply["error"]["code"], json!(-32602));
    assert_eq!(reply["error"]["message"], json!("tool 'no_such_tool' not found"));
    assert!(bed.server.tool_names().await.contains(&"search_flows".to_owned()));
}

#[tokio::test]
async fn malformed_lines_get_json_rpc_errors_and_the_server_goes_on() {
    let mut bed = Bed::start().await;
    let cases = [
        ("this is not json", -32700),
        ("{\"jsonrpc\":\"2.0\",\"id\":", -32700),
        ("[1, 2, 3]", -32600),
        ("{\"id\": 5, \"method\": \"ping\"}", -32600),
        ("{\"jsonrpc\": \"2.0\", \"id\": 6}", -32600),
    ];
    for (line, code) in cases {
        bed.server.send_line(line).await;
        let reply = bed.server.read_message().await;
        assert_eq!(reply["error"]["code"], json!(code), "{line}: {reply}");
    }
    let reply = bed.server.request("no/such/method", json!({})).await;
    assert_eq!(reply["error"]["code"], json!(-32601), "{reply}");
    assert!(!bed.server.tool_names().await.is_empty());
}

#[tokio::test]
async fn a_huge_line_is_refused_without_stopping_the_server() {
    let mut bed = Bed::start().await;
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"tools/call\",\"params\":{{\"name\":\"search_flows\",\"arguments\":{{\"query\":\"{}\"}}}}}}",
        "q".repeat(6 * 1024 * 1024)
    );
    bed.server.send_line(&huge).await;
    let reply = bed.server.read_message().await;
    assert_eq!(reply["error"]["code"], json!(-32600), "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than 4194304 bytes")
    );
    assert!(!bed.server.tool_names().await.is_empty());
    assert!(bed.requests().await.is_empty(), "nothing reached Kestra");
}

#[tokio::test]
async fn a_slow_call_does_not_block_the_next_one() {
    let mut bed = Bed::start().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/slow.ns",
        json(json!([])).set_delay(Duration::from_millis(1500)),
    )
    .await;
    bed.answer("GET", "/api/v1/main/flows/fast.ns", json(json!([{"id": "f"}])))
        .await;
    let started = Instant::now();
    let slow = bed
        .server
        .send_request(
            "tools/call",
            json!({"name": "list_flows_in_namespace", "arguments": {"namespace": "slow.ns"}}),
        )
        .await;
    let fast = bed
        .server
        .send_request(
            "tools/call",
            json!({"name": "list_flows_in_namespace", "arguments": {"namespace": "fast.ns"}}),
        )
        .await;
    let first = bed.server.read_message().await;
    assert_eq!(
        first["id"],
        json!(fast),
        "the fast call must answer first: {first}"
    );
    assert!(started.elapsed() < Duration::from_millis(1400));
    let second = bed.server.read_message().await;
    assert_eq!(second["id"], json!(slow));
}

#[tokio::test]
async fn a_cancelled_call_aborts_its_request_and_gets_no_result() {
    let mut bed = Bed::start().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/slow.ns",
        json(json!([])).set_delay(Duration::from_secs(10)),
    )
    .await;
    let id = bed
        .server
        .send_request(
            "tools/call",
            json!({"name": "list_flows_in_namespace", "arguments": {"namespace": "slow.ns"}}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    bed.server
        .notify(
            "notifications/cancelled",
            json!({"requestId": id, "reason": "user"}),
        )
        .await;
    // The next request is answered promptly and no result for the cancelled call arrives first.
    let started = Instant::now();
    let ping = bed.server.send_request("ping", json!({})).await;
    let reply = bed.server.read_message().await;
    assert_eq!(
        reply["id"],
        json!(ping),
        "a cancelled call must not answer: {reply}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A call still running when stdin closes is answered within its own time limit
/// (KESTRA_MCP_TIMEOUT), then the process exits cleanly.
#[tokio::test]
async fn closing_stdin_ends_the_process_cleanly_even_with_a_call_in_flight() {
    let mut bed = Bed::with_env(&[("KESTRA_MCP_TIMEOUT", "1")]).await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/slow.ns",
        ResponseTemplate::new(200).set_delay(Duration::from_secs(30)),
    )
    .await;
    let id = bed
        .server
        .send_request(
            "tools/call",
            json!({"name": "list_flows_in_namespace", "arguments": {"namespace": "slow.ns"}}),
        )
        .await;
    let (messages, status) = bed.server.send_all_and_close(b"").await;
    assert!(status.success(), "exit {status:?}");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["id"], json!(id));
    assert_eq!(messages[0]["result"]["isError"], json!(true), "{}", messages[0]);
    let text = messages[0]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("did not answer within"), "{text}");
}

#[tokio::test]
async fn a_request_before_initialize_gets_an_error_and_initialize_still_works() {
    let mut server = crate::util::Server::spawn(&crate::util::env_for("http://127.0.0.1:9/api/v1"), &[]);
    let early = server.request("tools/list", json!({})).await;
    assert!(early.get("error").is_some(), "{early}");
    let init = server.initialize().await;
    assert_eq!(
        init["result"]["serverInfo"]["name"],
        json!("kestra-mcp"),
        "{init}"
    );
}

#[tokio::test]
async fn every_session_protocol_version_rmcp_knows_is_negotiated_over_stdio() {
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut server = crate::util::Server::spawn(&crate::util::env_for("http://127.0.0.1:9/api/v1"), &[]);
        let init = server
            .request(
                "initialize",
                json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "v", "version": "1"}}),
            )
            .await;
        assert_eq!(init["result"]["protocolVersion"], json!(version), "{init}");
        server.notify("notifications/initialized", json!({})).await;
        assert_eq!(server.tool_names().await.len(), 39, "{version}");
    }
}
