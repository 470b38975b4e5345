//! Reliability at the edges of a session: every request read before end of input is answered.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::stub::json as ok_json;
use crate::util::Server;

/// A stub Kestra that is slow to say its edition (OSS) and slow to list a namespace's flows.
async fn slow_kestra(call_delay: Duration) -> MockServer {
    let kestra = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(
            ok_json(json!({"version": "1.3.0", "edition": "OSS"})).set_delay(Duration::from_millis(300)),
        )
        .mount(&kestra)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/slow.ns"))
        .respond_with(ok_json(json!([{"id": "f", "namespace": "slow.ns"}])).set_delay(call_delay))
        .mount(&kestra)
        .await;
    kestra
}

/// `initialize`, `initialized`, `tools/list`, a slow `tools/call` and a `ping` whose line has
/// no newline, written at once; stdin is then closed.
fn session_bytes() -> Vec<u8> {
    let lines = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_flows_in_namespace", "arguments": {"namespace": "slow.ns"}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "ping"}),
    ];
    lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

async fn run_session(uri: String) -> Vec<Value> {
    // KESTRA_MCP_DISABLED_TOOLS unset: tools/list waits for the GET /configs probe.
    let env = vec![("KESTRA_BASE_URL".to_owned(), format!("{uri}/api/v1"))];
    let server = Server::spawn_with(&env, &[], std::process::Stdio::null());
    let (messages, status) = server.send_all_and_close(&session_bytes()).await;
    assert!(status.success(), "exit status {status}");
    messages
}

fn assert_all_answered(messages: &[Value], run: usize) {
    for id in 1..=4 {
        let reply = messages.iter().find(|m| m["id"] == json!(id));
        let reply = reply.unwrap_or_else(|| panic!("run {run}: no answer to request {id}: {messages:#?}"));
        assert!(reply.get("result").is_some(), "run {run}: {reply}");
    }
    let tools = messages
        .iter()
        .find(|m| m["id"] == json!(2))
        .map(|m| m["result"]["tools"].clone());
    let names: Vec<&str> = tools
        .iter()
        .flat_map(|t| t.as_array().into_iter().flatten())
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"list_flows_in_namespace"), "run {run}: {names:?}");
    assert!(
        !names.contains(&"manage_apps"),
        "run {run}: OSS hides ee tools: {names:?}"
    );
    let call = &messages
        .iter()
        .find(|m| m["id"] == json!(3))
        .map(|m| m["result"].clone())
        .unwrap_or_default();
    assert_ne!(call["isError"], json!(true), "run {run}: {call}");
}

#[tokio::test]
async fn every_request_read_before_end_of_input_is_answered() {
    let kestra = slow_kestra(Duration::from_millis(200)).await;
    // Five sessions at a time, so that 20 take about as long as four.
    let mut all = Vec::new();
    for batch in 0..4 {
        let sessions: Vec<_> = (0..5).map(|_| tokio::spawn(run_session(kestra.uri()))).collect();
        for (i, session) in sessions.into_iter().enumerate() {
            all.push((batch * 5 + i, session.await.expect("session task")));
        }
    }
    for (run, messages) in &all {
        assert_all_answered(messages, *run);
    }
}

/// rmcp itself stops waiting for running calls 5 seconds after end of input; the answer of a
/// call that takes longer must still come.
#[tokio::test]
async fn a_call_longer_than_rmcp_drain_is_still_answered_after_end_of_input() {
    let kestra = slow_kestra(Duration::from_millis(6000)).await;
    let messages = run_session(kestra.uri()).await;
    assert_all_answered(&messages, 0);
}

/// A Kestra that refuses every call and echoes the credentials it got, in several forms.
async fn echoing_kestra() -> MockServer {
    let kestra = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(|req: &wiremock::Request| {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let user_pass = auth
                .strip_prefix("Basic ")
                .and_then(|b64| {
                    use std::process::Command;
                    // Decoded by the system's base64, so the test does not trust our encoder.
                    let out = Command::new("base64").arg("-d").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().ok()?;
                    let mut out = out;
                    std::io::Write::write_all(out.stdin.as_mut()?, b64.as_bytes()).ok()?;
                    drop(out.stdin.take());
                    String::from_utf8(out.wait_with_output().ok()?.stdout).ok()
                })
                .unwrap_or_default();
            let password = user_pass.split_once(':').map(|(_, p)| p.to_owned()).unwrap_or_default();
            wiremock::ResponseTemplate::new(401).set_body_json(json!({
                "message": format!("Bad credentials: Authorization: {auth}; user {user_pass}; secret {password}; see http://{user_pass}@host.example/"),
            }))
        })
        .mount(&kestra)
        .await;
    kestra
}

#[tokio::test]
async fn echoed_credentials_are_hidden_and_ordinary_words_kept() {
    let kestra = echoing_kestra().await;
    for password in ["p", "e", "password", "main", "kestra"] {
        let mut env = crate::util::env_for(&format!("{}/api/v1", kestra.uri()));
        env.push(("KESTRA_USERNAME".into(), "admin".into()));
        env.push(("KESTRA_PASSWORD".into(), password.into()));
        let mut server = Server::start(&env).await;
        let text = server
            .call_err("list_flows_in_namespace", json!({"namespace": "broken_by_mcp"}))
            .await;
        assert!(
            text.starts_with("Kestra answered 401 to GET /flows/broken_by_mcp: Bad credentials: Authorization: Basic ***; user ***; secret ***; see http://")
                // `admin:password` is long enough to be hidden whole; `admin:p` leaves the user.
                && (text.ends_with(" http://admin:***@host.example/") || text.ends_with(" http://***@host.example/")),
            "password {password:?}: {text}"
        );
        let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
        assert!(!words.contains(&password), "password {password:?} in {text}");
    }
}

/// Mounts a `GET /configs` that fails once with `status`, then answers `config`.
async fn configs_failing_once(kestra: &MockServer, status: u16, config: Value) {
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(wiremock::ResponseTemplate::new(status))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(kestra)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(ok_json(config))
        .mount(kestra)
        .await;
}

/// The environment of a server on `kestra` that waits `backoff` seconds before probing again.
fn env_with_backoff(kestra: &MockServer, backoff: &str) -> Vec<(String, String)> {
    vec![
        ("KESTRA_BASE_URL".to_owned(), format!("{}/api/v1", kestra.uri())),
        ("KESTRA_MCP_PROBE_BACKOFF".to_owned(), backoff.to_owned()),
    ]
}

/// How many times `kestra` was asked `GET /configs`.
async fn configs_probes(kestra: &MockServer) -> usize {
    kestra
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/api/v1/configs")
        .count()
}

#[tokio::test]
async fn a_failed_edition_probe_is_asked_again_and_a_success_is_kept() {
    let kestra = MockServer::start().await;
    configs_failing_once(&kestra, 503, json!({"version": "1.3.0", "edition": "OSS"})).await;
    let env = env_with_backoff(&kestra, "0.05");
    let mut server = Server::start(&env).await;
    let first = server.tool_names().await;
    assert!(
        first.contains(&"manage_apps".to_owned()),
        "Kestra still starting: every tool"
    );
    // Past the back-off (50 ms), the next list asks again and learns the OSS edition.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = server.tool_names().await;
    assert!(!second.contains(&"manage_apps".to_owned()), "{second:?}");
    assert!(second.contains(&"list_namespaces".to_owned()));
    let third = server.tool_names().await;
    assert_eq!(third, second);
    assert_eq!(
        configs_probes(&kestra).await,
        2,
        "a success is kept: no third probe"
    );
}

#[tokio::test]
async fn within_the_back_off_a_down_kestra_is_not_asked_again() {
    let kestra = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(wiremock::ResponseTemplate::new(503))
        .mount(&kestra)
        .await;
    let env = env_with_backoff(&kestra, "600");
    let mut server = Server::start(&env).await;
    for _ in 0..3 {
        assert!(server.tool_names().await.contains(&"manage_apps".to_owned()));
    }
    let probes = kestra.received_requests().await.unwrap_or_default().len();
    assert_eq!(probes, 1);
}

/// A Kestra whose first `GET /configs` fails with 500, then says 1.3.0; namespaces are empty.
async fn kestra_failing_configs_once() -> MockServer {
    let kestra = MockServer::start().await;
    configs_failing_once(&kestra, 500, json!({"version": "1.3.0"})).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/namespaces/search"))
        .respond_with(ok_json(json!({"results": [], "total": 0})))
        .mount(&kestra)
        .await;
    kestra
}

#[tokio::test]
async fn the_version_is_asked_again_after_the_back_off_only() {
    for (backoff, pause, second_ok, probes) in [("600", 0, false, 1), ("0.05", 200, true, 2)] {
        let kestra = kestra_failing_configs_once().await;
        let mut env = env_with_backoff(&kestra, backoff);
        // Not edition-aware: only the version is asked.
        env.push(("KESTRA_MCP_DISABLED_TOOLS".to_owned(), "ee".to_owned()));
        let mut server = Server::start(&env).await;
        let first = server.call_err("list_namespaces", json!({})).await;
        assert!(first.contains("cannot learn the Kestra version"), "{first}");
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let second = server.call("list_namespaces", json!({})).await;
        assert_eq!(
            second["isError"] != json!(true),
            second_ok,
            "back-off {backoff}: {second}"
        );
        assert_eq!(configs_probes(&kestra).await, probes, "back-off {backoff}");
    }
}

#[tokio::test]
async fn a_base_url_without_api_v1_is_explained_at_start_in_404s_and_by_doctor() {
    let kestra = MockServer::start().await;
    let base = kestra.uri();
    let fix = format!("set KESTRA_BASE_URL={base}/api/v1");
    let env = crate::util::env_for(&base);
    let mut server = Server::start(&env).await;
    let text = server
        .call_err("list_flows_in_namespace", json!({"namespace": "ns"}))
        .await;
    assert!(
        text.starts_with("Kestra answered 404 to GET /flows/ns: not found (KESTRA_BASE_URL"),
        "{text}"
    );
    assert!(
        text.contains("does not end with /api/v1") && text.ends_with(&format!("{fix})")),
        "{text}"
    );
    let (_, stderr) = server.finish().await;
    assert!(
        stderr.contains("does not end with /api/v1") && stderr.contains(&fix),
        "{stderr}"
    );

    let (code, stdout, _) = crate::util::run(&["doctor"], &env, None);
    assert_ne!(code, 0);
    let line = stdout
        .lines()
        .find(|l| l.contains("API path"))
        .unwrap_or_default();
    assert!(line.starts_with("FAIL") && line.ends_with(&fix), "{stdout}");

    let good = crate::util::env_for(&format!("{base}/api/v1"));
    let (_, stdout, _) = crate::util::run(&["doctor"], &good, None);
    let line = stdout
        .lines()
        .find(|l| l.contains("API path"))
        .unwrap_or_default();
    assert!(line.starts_with("ok"), "{stdout}");
}

#[test]
fn tools_validate_refuses_a_response_that_steps_would_ignore() {
    let text = "name: silent_response\ngroup: flow\ndescription: d\nsteps:\n  - request: {method: GET, path: /flows/search}\nresponse:\n  select: $.results\n";
    let (dir, _) = crate::configuration::spec_dir("silent_response.yaml", text);
    let dir_arg = dir.path().to_str().unwrap();
    let (code, _, stderr) = crate::util::run(&["tools", "validate", "--no-openapi", dir_arg], &[], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("silent_response.yaml:6: response: does nothing on a tool with `steps`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_answer_of_an_unexpected_shape_says_what_was_expected_where_and_what_came() {
    let spec = "name: count_flows\ngroup: flow\ndescription: d\nsteps:\n  - name: found\n    request: {method: GET, path: /flows/search}\n    response:\n      select: $.results\n      template: \"{{ result.total + 1 }} flows\"\n";
    let (dir, _) = crate::configuration::spec_dir("count_flows.yaml", spec);
    let kestra = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/search"))
        .respond_with(ok_json(json!({"results": [{"id": "a"}], "total": 1})))
        .mount(&kestra)
        .await;
    let mut env = crate::util::env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().to_str().unwrap().into()));
    let mut server = Server::start(&env).await;
    let text = server.call_err("count_flows", json!({})).await;
    assert_eq!(
        text,
        "cannot shape Kestra's answer (tool 'count_flows', step 'found'): the response `template` failed: tried to use + operator on unsupported types undefined and number (`result.total` is undefined); `select: $.results` gave a list of 1: [{\"id\":\"a\"}]; Kestra's answer was an object with keys results, total: {\"results\":[{\"id\":\"a\"}],\"total\":1}"
    );
}
