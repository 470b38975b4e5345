//! follow_execution_logs: reading Kestra's never-ending log stream within bounds.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::ResponseTemplate;

use crate::stub::{Bed, line};
use crate::util::{Server, env_for};

pub const EXERCISED: &[&str] = &["follow_execution_logs"];

const EVENTS: &str = "id: start\ndata: {\"attemptNumber\":null,\"deleted\":false}\n\n\
id: progress\ndata: {\"taskId\":\"log\",\"timestamp\":\"2026-11-25T14:10:08.015Z\",\"level\":\"INFO\",\"message\":\"Hello kestra\"}\n\n\
id: progress\ndata: {\"taskId\":\"ret\",\"timestamp\":\"2026-11-25T14:10:08.155Z\",\"level\":\"DEBUG\",\"message\":\"hi\"}\n\n";

#[tokio::test]
async fn follow_execution_logs_reads_the_stream_per_version() {
    for (version, query) in [
        ("1.3", "minLevel=INFO"),
        ("2.0", "filters%5Blevel%5D%5BGREATER_THAN_OR_EQUAL_TO%5D=INFO"),
    ] {
        let mut bed = Bed::with_env(&[("KESTRA_VERSION", version)]).await;
        let sse = ResponseTemplate::new(200).set_body_raw(EVENTS, "text/event-stream");
        bed.answer("GET", "/api/v1/main/logs/exec1/follow", sse).await;
        let result = bed
            .server
            .call_ok(
                "follow_execution_logs",
                json!({"execution_id": "exec1", "min_level": "INFO"}),
            )
            .await;
        assert_eq!(
            result,
            json!({"result": "2026-11-25T14:10:08.015Z INFO [log] Hello kestra\n2026-11-25T14:10:08.155Z DEBUG [ret] hi\n[the stream ended]"}),
            "Kestra {version}"
        );
        assert_eq!(
            line(&bed.only_request().await),
            format!("GET /api/v1/main/logs/exec1/follow?{query}")
        );
    }
}

#[tokio::test]
async fn follow_execution_logs_stops_at_the_line_limit() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "2.0")]).await;
    bed.answer(
        "GET",
        "/api/v1/main/logs/e/follow",
        ResponseTemplate::new(200).set_body_raw(EVENTS, "text/event-stream"),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "follow_execution_logs",
            json!({"execution_id": "e", "max_lines": 1}),
        )
        .await;
    assert_eq!(
        result,
        json!({"result": "2026-11-25T14:10:08.015Z INFO [log] Hello kestra\n[stopped after 2 events (the limit)]"})
    );
}

/// A Kestra whose stream sends one event and then stays open for ever.
async fn endless_stream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                let event = "id: progress\ndata: {\"level\":\"INFO\",\"timestamp\":\"t\",\"message\":\"still running\"}\n\n";
                let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(chunk.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(600)).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn follow_execution_logs_stops_at_the_time_limit_on_an_endless_stream() {
    let url = endless_stream().await;
    let mut env = env_for(&url);
    env.push(("KESTRA_VERSION".into(), "2.0".into()));
    let mut server = Server::start(&env).await;
    let started = Instant::now();
    let result = server
        .call_ok(
            "follow_execution_logs",
            json!({"execution_id": "e", "max_seconds": 1}),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(
        result,
        json!({"result": "t INFO [-] still running\n[stopped after 1s (the time limit)]"})
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    // The server still answers afterwards.
    assert!(!server.tool_names().await.is_empty());
}
