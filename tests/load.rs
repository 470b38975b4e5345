//! Load with faults: 10,000 tool calls, 64 in flight on one stdio session, against a loopback
//! Kestra that answers at random with successes, errors, invalid JSON, HTML and delays. Every
//! call gets exactly one reply, memory stays flat, and the server still answers afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

#[path = "integration/util.rs"]
mod util;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CALLS: u64 = 10_000;
const IN_FLIGHT: u64 = 64;

/// A deterministic mix of answers, one per request, chosen by a counter.
struct Faulty(AtomicU64);

impl Respond for Faulty {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        match (n.wrapping_mul(2_654_435_761)) % 10 {
            0..=2 => ResponseTemplate::new(200).set_body_json(json!([{"id": "f", "namespace": "ns"}])),
            3 => ResponseTemplate::new(500).set_body_json(json!({"message": "Internal Server Error"})),
            4 => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
            5 => ResponseTemplate::new(200).set_body_raw("{\"broken\": ", "application/json"),
            6 => ResponseTemplate::new(502).set_body_raw("<html>Bad gateway</html>", "text/html"),
            7 => ResponseTemplate::new(200)
                .set_body_json(json!({"id": "e"}))
                .set_delay(Duration::from_millis(20)),
            8 => ResponseTemplate::new(422).set_body_json(json!({"message": "Invalid entity"})),
            _ => ResponseTemplate::new(200).set_body_raw("plain text", "text/plain"),
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn call_params(i: u64) -> serde_json::Value {
    // Alternate a GET tool (retried on 502) and a POST tool (never retried).
    match i % 2 {
        0 => json!({"name": "list_flows_in_namespace", "arguments": {"namespace": format!("ns{}", i % 7)}}),
        _ => {
            json!({"name": "execute_flow", "arguments": {"namespace": "ns", "flow_id": "f", "inputs": {"i": i}}})
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_calls_with_faults_each_get_exactly_one_reply() {
    let kestra = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Faulty(AtomicU64::new(0)))
        .mount(&kestra)
        .await;
    let mut env = util::env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_MCP_LOG_LEVEL".into(), "ERROR".into()));
    let mut server = util::Server::start(&env).await;
    let pid = server.pid().unwrap();

    let mut ids: HashMap<u64, u64> = HashMap::new();
    let mut replies: HashMap<u64, u32> = HashMap::new();
    let (mut sent, mut received, mut errors) = (0u64, 0u64, 0u64);
    let mut rss_warm = 0;
    while received < CALLS {
        while sent < CALLS && sent - received < IN_FLIGHT {
            let id = server.send_request("tools/call", call_params(sent)).await;
            ids.insert(id, sent);
            sent += 1;
        }
        let reply = server.read_message().await;
        let id = reply["id"].as_u64().expect("a reply with an id");
        assert!(ids.contains_key(&id), "a reply to an unknown id: {reply}");
        *replies.entry(id).or_default() += 1;
        assert!(
            reply.get("error").is_none(),
            "tool failures must be results, not protocol errors: {reply}"
        );
        if reply["result"]["isError"] == json!(true) {
            errors += 1;
        }
        received += 1;
        if received == 1_000 {
            rss_warm = rss_kib(pid);
        }
    }
    let rss_end = rss_kib(pid);
    assert_eq!(replies.len() as u64, CALLS);
    assert!(
        replies.values().all(|n| *n == 1),
        "a call got more than one reply"
    );
    assert!(
        errors > CALLS / 3 && errors < CALLS,
        "the fault mix was not exercised: {errors} errors"
    );
    // Flat memory: allow some allocator growth, not per-call retention.
    assert!(
        rss_end < rss_warm + 16 * 1024,
        "RSS grew from {rss_warm} KiB to {rss_end} KiB"
    );
    eprintln!(
        "{CALLS} calls, {errors} error results, RSS {rss_warm} KiB after 1,000 calls, {rss_end} KiB at the end"
    );

    // Still serving.
    assert!(!server.tool_names().await.is_empty());
    let (status, _) = server.finish().await;
    assert!(status.success());
}
