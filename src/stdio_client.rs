//! Tests only: a client speaking newline-delimited JSON-RPC to the server through the same
//! line framing (`stdio::framed`) and rmcp service as the binary's stdin/stdout, over
//! in-memory pipes, so that a test can both drive the server and reach into its engine.

use std::time::Duration;

use rmcp::ServiceExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};

use crate::engine::SharedEngine;
use crate::reload::Subscribers;
use crate::serve::KestraMcp;

pub(crate) struct StdioClient {
    to_server: DuplexStream,
    from_server: Lines<BufReader<DuplexStream>>,
    /// Notifications and requests from the server seen while waiting for an answer.
    pub(crate) seen: Vec<Value>,
    next_id: u64,
}

impl StdioClient {
    /// Starts the server on `engine` and completes the handshake with `capabilities`.
    pub(crate) async fn start(engine: SharedEngine, subscribers: Subscribers, capabilities: Value) -> Self {
        let (to_server, server_in) = tokio::io::duplex(1 << 20);
        let (server_out, from_server) = tokio::io::duplex(1 << 20);
        let framed = crate::stdio::framed(server_in, server_out, 1 << 20, Duration::from_secs(1));
        tokio::spawn(async move {
            let service = KestraMcp::new(engine, Some(subscribers))
                .serve((framed.service_in, framed.service_out))
                .await
                .unwrap();
            let _ = service.waiting().await;
        });
        let mut client = StdioClient {
            to_server,
            from_server: BufReader::new(from_server).lines(),
            seen: Vec::new(),
            next_id: 0,
        };
        client
            .request(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": capabilities,
                       "clientInfo": {"name": "stdio-test", "version": "1"}}),
            )
            .await;
        client
            .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        client
    }

    pub(crate) async fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.to_server.write_all(line.as_bytes()).await.unwrap();
    }

    /// The next message from the server (fails the test after 10 s).
    pub(crate) async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), self.from_server.next_line())
            .await
            .expect("the server answers within 10 s")
            .unwrap()
            .expect("the server's output is open");
        serde_json::from_str(&line).unwrap()
    }

    /// Sends a request and returns its answer; other messages go to `seen`.
    pub(crate) async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let message = self.next().await;
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return message;
            }
            self.seen.push(message);
        }
    }

    /// The next message with `method`, from `seen` or from the server.
    pub(crate) async fn wait_for(&mut self, method: &str) -> Value {
        if let Some(i) = self.seen.iter().position(|m| m["method"] == method) {
            return self.seen.remove(i);
        }
        loop {
            let message = self.next().await;
            if message["method"] == method {
                return message;
            }
            self.seen.push(message);
        }
    }
}
