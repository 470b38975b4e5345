//! The engine's seams seen from outside: a reload swaps the tools and keeps the runtime (the
//! learned Kestra version, the connection pool), and event streams have their own time limit.

use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::util::{Server, env_for};

const ONE_EVENT: &str = "id: start\ndata: {}\n\nid: progress\ndata: {\"taskId\":\"t\",\"timestamp\":\"2026-12-07T00:00:00Z\",\"level\":\"INFO\",\"message\":\"hi\"}\n\n";

fn simple_tool(name: &str) -> String {
    format!(
        "name: {name}\ngroup: flow\ndescription: Tool {name}.\ninput:\n  type: object\n  properties: {{}}\nrequest:\n  method: GET\n  path: /flows/search\n"
    )
}

async fn configs_asked(kestra: &MockServer) -> usize {
    let received = kestra.received_requests().await.unwrap_or_default();
    received
        .iter()
        .filter(|r| r.url.path() == "/api/v1/configs")
        .count()
}

/// Without `KESTRA_VERSION`, the version is learned from `GET /configs` once; a reload of the
/// tools directory keeps it (before the runtime/tool-set split, a reload forgot it and asked
/// again).
#[tokio::test]
async fn a_reload_keeps_the_learned_version() {
    let kestra = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "1.3.0"})))
        .mount(&kestra)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/logs/e1/follow"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(ONE_EVENT, "text/event-stream"))
        .mount(&kestra)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("first_tool.yaml"), simple_tool("first_tool")).unwrap();
    let mut env = env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    let mut server = Server::spawn(&env, &["--watch"]);
    server.initialize().await;
    server.notify("notifications/initialized", json!({})).await;
    let follow = json!({"execution_id": "e1", "max_seconds": 2});
    let before = server.call_ok("follow_execution_logs", follow.clone()).await;
    assert_eq!(configs_asked(&kestra).await, 1);

    std::fs::write(dir.path().join("second_tool.yaml"), simple_tool("second_tool")).unwrap();
    loop {
        let msg = server.read_message().await;
        if msg["method"] == json!("notifications/tools/list_changed") {
            break;
        }
    }
    assert!(server.tool_names().await.contains(&"second_tool".to_owned()));
    let after = server.call_ok("follow_execution_logs", follow).await;
    assert_eq!(after, before);
    assert_eq!(
        configs_asked(&kestra).await,
        1,
        "the version learned before the reload was asked again"
    );
    let (status, _) = server.finish().await;
    assert!(status.success());
}

/// A Kestra whose log stream sends one event every 300 ms for `seconds`, then ends; plain TCP,
/// because the mock server answers whole bodies only.
async fn slow_stream(seconds: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let started = std::time::Instant::now();
                let mut n = 0;
                while started.elapsed().as_secs() < seconds {
                    let event = format!(
                        "id: progress\ndata: {{\"taskId\":\"t\",\"timestamp\":\"T{n}\",\"level\":\"INFO\",\"message\":\"line {n}\"}}\n\n"
                    );
                    let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    n += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    format!("http://{addr}/api/v1")
}

/// `follow_execution_logs` reads for its whole `max_seconds` even when that is longer than
/// `KESTRA_MCP_TIMEOUT` (the timeout used to be set on the client and cut every stream).
#[tokio::test]
async fn a_stream_reads_past_the_request_timeout_for_its_own_limit() {
    let base = slow_stream(30).await;
    let mut env = env_for(&base);
    env.push(("KESTRA_VERSION".into(), "2.0".into()));
    env.push(("KESTRA_MCP_TIMEOUT".into(), "1".into()));
    let mut server = Server::start(&env).await;
    let started = std::time::Instant::now();
    let result = server
        .call_ok(
            "follow_execution_logs",
            json!({"execution_id": "e1", "max_seconds": 3, "max_lines": 1000}),
        )
        .await;
    let elapsed = started.elapsed();
    let text = result["result"].as_str().unwrap();
    assert!(text.ends_with("[stopped after 3s (the time limit)]"), "{text}");
    assert!(text.matches(" INFO [t] line ").count() >= 5, "{text}");
    assert!(elapsed >= std::time::Duration::from_secs(3), "{elapsed:?}");
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
}
