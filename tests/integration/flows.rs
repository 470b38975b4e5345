//! Flows as tools: the selection files, the live source following a stub Kestra's flows
//! (`GET /flows/search`), and what sessions see. The tool each flow becomes is fcore's
//! (tests of its schemas elsewhere); these tests look at names, presence and list changes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::util::{Server, env_for, run};

const SEARCH: &str = "/api/v1/main/flows/search";
const TRIGGER: &str = "io.kestra.plugin.core.trigger.McpToolTrigger";

/// The flows the stub Kestra holds now; its search answers all of them (the server checks each
/// against the rules itself).
#[derive(Clone, Default)]
struct Flows(Arc<Mutex<Vec<Value>>>);

impl Flows {
    fn set(&self, flows: Vec<Value>) {
        *self.0.lock().unwrap() = flows;
    }
}

impl wiremock::Respond for Flows {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let flows = self.0.lock().unwrap().clone();
        ResponseTemplate::new(200).set_body_json(json!({"total": flows.len(), "results": flows}))
    }
}

fn flow(namespace: &str, id: &str, labels: &[(&str, &str)]) -> Value {
    let labels: Vec<Value> = labels
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    json!({"namespace": namespace, "id": id, "revision": 1, "disabled": false, "deleted": false,
           "labels": labels, "inputs": [{"id": "name", "type": "STRING", "required": true}],
           "tasks": [{"id": "log", "type": "io.kestra.plugin.core.log.Log", "message": "hi"}], "triggers": []})
}

async fn kestra_with(flows: &Flows) -> MockServer {
    let kestra = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(flows.clone())
        .mount(&kestra)
        .await;
    kestra
}

/// A tools directory holding `selection` as `flows.yaml`.
fn tools_dir(selection: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flows.yaml"), selection).unwrap();
    dir
}

fn env(kestra: &str, dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = env_for(&format!("{kestra}/api/v1"));
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    env.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    env
}

/// The tools listed whose name is not a built-in one.
async fn flow_tools(server: &mut Server, builtin: &[String]) -> Vec<String> {
    let names = server.tool_names().await;
    names.into_iter().filter(|n| !builtin.contains(n)).collect()
}

fn builtin_names() -> Vec<String> {
    let (code, stdout, stderr) = run(&["tools", "list"], &[], None);
    assert_eq!(code, 0, "{stderr}");
    let mut names: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.split(['[', '\t']).next())
        .map(str::to_owned)
        .collect();
    names.dedup();
    names
}

/// Lists until the flow tools are `expected` (the first listing runs beside the handshake).
async fn until_flow_tools(server: &mut Server, builtin: &[String], expected: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = flow_tools(server, builtin).await;
        if now == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "flow tools {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads messages until `notifications/tools/list_changed`.
async fn list_changed(server: &mut Server) {
    loop {
        let msg = server.read_message().await;
        if msg["method"] == json!("notifications/tools/list_changed") {
            return;
        }
    }
}

/// Waits until the stub Kestra has answered `n` searches.
async fn searches(kestra: &MockServer, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let count = kestra
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == SEARCH)
            .count();
        if count >= n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{count} searches");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const EVERY_RULE: &str = r#"kind: flow_tools
select:
  - namespace: company.sales
  - namespace: "company.ops.*"
    labels: {mcp: tool}
  - labels: {expose: "yes"}
  - flow: company.hr.onboard
    name: onboard_customer
    description: Onboard a customer.
  - mcp_trigger: true
refresh: 1
"#;

fn every_kind_of_flow() -> Vec<Value> {
    let mut triggered = flow("company.ai", "summarise", &[]);
    triggered["triggers"] = json!([{"id": "mcp", "type": TRIGGER, "toolName": "summarise_text",
        "title": "Summarise", "toolDescription": "Summarises a text."}]);
    let mut disabled_trigger = flow("company.ai", "quiet", &[]);
    disabled_trigger["triggers"] =
        json!([{"id": "mcp", "type": TRIGGER, "toolName": "quiet", "disabled": true}]);
    let mut disabled = flow("company.sales", "retired", &[]);
    disabled["disabled"] = json!(true);
    vec![
        flow("company.sales", "report", &[]),
        flow("company.sales.eu", "nested", &[]),
        flow("company.ops.eu", "restart", &[("mcp", "tool")]),
        flow("company.ops.eu", "unlabelled", &[]),
        flow("other", "exposed", &[("expose", "yes")]),
        flow("company.hr", "onboard", &[]),
        flow("company.hr", "offboard", &[]),
        triggered,
        disabled_trigger,
        disabled,
    ]
}

#[tokio::test]
async fn each_rule_kind_selects_its_flows_and_the_search_goes_to_kestra() {
    let builtin = builtin_names();
    let flows = Flows::default();
    flows.set(every_kind_of_flow());
    let kestra = kestra_with(&flows).await;
    let dir = tools_dir(EVERY_RULE);
    let mut server = Server::start(&env(&kestra.uri(), &dir, &[])).await;
    // The built-in tools serve at once, whatever Kestra does.
    assert!(builtin.iter().all(|b| !b.is_empty()));
    until_flow_tools(
        &mut server,
        &builtin,
        &[
            "exposed",
            "onboard_customer",
            "report",
            "restart",
            "summarise_text",
        ],
    )
    .await;
    let reply = server.request("tools/list", json!({})).await;
    let onboard = reply["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "onboard_customer")
        .unwrap()
        .clone();
    assert!(
        onboard["description"]
            .as_str()
            .unwrap()
            .contains("Onboard a customer."),
        "{onboard}"
    );
    let queries: Vec<String> = kestra
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == SEARCH)
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    // One search of everything (the mcp_trigger rule), paged.
    assert!(queries.iter().all(|q| q == "page=1&size=200"), "{queries:?}");

    // `tools list` shows them with their source.
    let (code, stdout, stderr) = run(&["tools", "list"], &env(&kestra.uri(), &dir, &[]), None);
    assert_eq!(code, 0, "{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("onboard_customer\t"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(row.ends_with("\tkestra:flows company.hr.onboard"), "{row}");
    assert!(row.split('\t').nth(1) == Some("flows"), "{row}");
}

#[tokio::test]
async fn narrower_rules_send_kestra_filters_and_the_namespace_guard_applies() {
    let builtin = builtin_names();
    let flows = Flows::default();
    flows.set(vec![
        flow("company.sales", "report", &[]),
        flow("company.ops", "x", &[("mcp", "tool")]),
    ]);
    let kestra = kestra_with(&flows).await;
    let dir = tools_dir(
        "kind: flow_tools\nselect:\n  - namespace: company.sales\n  - namespace: 'company.ops.*'\n    labels: {mcp: tool}\n",
    );
    let queries = || async {
        let mut queries: Vec<String> = kestra
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == SEARCH)
            .map(|r| {
                r.url
                    .query()
                    .unwrap_or_default()
                    .replace("%5B", "[")
                    .replace("%5D", "]")
            })
            .collect();
        queries.sort();
        queries.dedup();
        queries
    };
    let mut server = Server::start(&env(&kestra.uri(), &dir, &[])).await;
    until_flow_tools(&mut server, &builtin, &["report", "x"]).await;
    assert_eq!(
        queries().await,
        [
            "filters[namespace][EQUALS]=company.sales&page=1&size=200",
            "filters[namespace][PREFIX]=company.ops&filters[labels][EQUALS][mcp]=tool&page=1&size=200",
        ]
    );
    server.finish().await;

    // Under KESTRA_MCP_NAMESPACES, the search outside is refused (said once), the other served.
    kestra.reset().await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(flows.clone())
        .mount(&kestra)
        .await;
    let mut server = Server::start(&env(
        &kestra.uri(),
        &dir,
        &[("KESTRA_MCP_NAMESPACES", "company.sales")],
    ))
    .await;
    until_flow_tools(&mut server, &builtin, &["report"]).await;
    assert_eq!(
        queries().await,
        ["filters[namespace][EQUALS]=company.sales&page=1&size=200"]
    );
    let (_, stderr) = server.finish().await;
    assert_eq!(stderr.matches("a search was refused").count(), 1, "{stderr}");
}

#[tokio::test]
async fn a_flow_named_like_a_builtin_tool_or_another_flow_is_renamed_and_reported() {
    let builtin = builtin_names();
    let flows = Flows::default();
    flows.set(vec![
        flow("company.sales", "search_flows", &[]),
        flow("company.sales", "report", &[]),
        flow("company.ops", "report", &[]),
    ]);
    let kestra = kestra_with(&flows).await;
    let dir = tools_dir("kind: flow_tools\nselect: [{namespace: company.sales}, {namespace: company.ops}]\n");
    let mut server = Server::spawn(&env(&kestra.uri(), &dir, &[]), &[]);
    server.handshake().await;
    until_flow_tools(
        &mut server,
        &builtin,
        &[
            "company_ops_report",
            "company_sales_report",
            "company_sales_search_flows",
        ],
    )
    .await;
    let (_, stderr) = server.finish().await;
    assert!(stderr.contains("built-in"), "{stderr}");
    assert!(
        stderr.contains("company.ops.report and company.sales.report"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_list_follows_kestra_between_refreshes_with_one_notification_per_change() {
    let builtin = builtin_names();
    let flows = Flows::default();
    flows.set(vec![flow("n", "a", &[]), flow("n", "b", &[])]);
    let kestra = kestra_with(&flows).await;
    let dir = tools_dir("kind: flow_tools\nselect: [{namespace: n}]\nrefresh: 1\n");
    let mut server = Server::start(&env(&kestra.uri(), &dir, &[])).await;
    let init = server.tool_names().await;
    assert!(init.len() >= builtin.len());
    until_flow_tools(&mut server, &builtin, &["a", "b"]).await;

    // Added.
    flows.set(vec![
        flow("n", "a", &[]),
        flow("n", "b", &[]),
        flow("n", "c", &[]),
    ]);
    list_changed(&mut server).await;
    assert_eq!(flow_tools(&mut server, &builtin).await, ["a", "b", "c"]);
    // Removed, and one disabled.
    let mut b = flow("n", "b", &[]);
    b["disabled"] = json!(true);
    flows.set(vec![b, flow("n", "c", &[])]);
    list_changed(&mut server).await;
    assert_eq!(flow_tools(&mut server, &builtin).await, ["c"]);
    // Nothing changes: a refresh says nothing (no notification before the next answer).
    let before = kestra.received_requests().await.unwrap().len();
    searches(&kestra, before + 2).await;
    let id = server.send_request("tools/list", json!({})).await;
    let next = server.read_message().await;
    assert_eq!(next["id"], json!(id), "no notification expected: {next}");
}

#[tokio::test]
async fn kestra_down_at_start_the_builtin_tools_serve_and_the_flow_tools_come_later() {
    let builtin = builtin_names();
    // A port nobody listens on yet; the stub Kestra takes it later.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let dir = tools_dir("kind: flow_tools\nselect: [{namespace: n}]\nrefresh: 1\n");
    let env = env(
        &format!("http://{address}"),
        &dir,
        &[("KESTRA_MCP_LOG_LEVEL", "INFO")],
    );
    let mut server = Server::spawn(&env, &[]);
    server.handshake().await;
    assert_eq!(flow_tools(&mut server, &builtin).await, Vec::<String>::new());
    assert_eq!(server.tool_names().await.len(), builtin.len());

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let flows = Flows::default();
    flows.set(vec![flow("n", "late", &[])]);
    let kestra = MockServer::builder()
        .listener(std::net::TcpListener::bind(address).unwrap())
        .start()
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(flows.clone())
        .mount(&kestra)
        .await;
    list_changed(&mut server).await;
    assert_eq!(flow_tools(&mut server, &builtin).await, ["late"]);
    let (_, stderr) = server.finish().await;
    // Said once at info, not an error per attempt.
    assert_eq!(
        stderr.matches("cannot list Kestra's flows yet").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("Kestra answers again"), "{stderr}");
    assert!(!stderr.contains("ERROR") && !stderr.contains("WARN"), "{stderr}");
}

#[tokio::test]
async fn disabled_tools_and_read_only_hide_flow_tools() {
    let builtin = builtin_names();
    let flows = Flows::default();
    flows.set(vec![flow("n", "a", &[]), flow("n", "b", &[])]);
    let kestra = kestra_with(&flows).await;
    let dir = tools_dir("kind: flow_tools\nselect: [{namespace: n}]\nrefresh: 1\n");
    for (setting, value, expected) in [
        ("KESTRA_MCP_DISABLED_TOOLS", "flows", vec![]),
        ("KESTRA_MCP_DISABLED_TOOLS", "a", vec!["b"]),
        ("KESTRA_MCP_READ_ONLY", "true", vec![]),
        ("KESTRA_MCP_TOOLSETS", "flows", vec!["a", "b"]),
    ] {
        kestra.reset().await;
        Mock::given(method("GET"))
            .and(path(SEARCH))
            .respond_with(flows.clone())
            .mount(&kestra)
            .await;
        let mut server = Server::spawn(&env(&kestra.uri(), &dir, &[(setting, value)]), &[]);
        server.handshake().await;
        // Two answers: the first one's tools are in place.
        searches(&kestra, 2).await;
        let listed = flow_tools(&mut server, &builtin).await;
        let listed: Vec<&str> = listed
            .iter()
            .map(String::as_str)
            .filter(|n| *n == "a" || *n == "b")
            .collect();
        assert_eq!(listed, expected, "{setting}={value}");
        let (_, stderr) = server.finish().await;
        assert!(
            !stderr.contains("'flows' is neither"),
            "{setting}={value}: {stderr}"
        );
    }
}

#[tokio::test]
async fn tools_list_pages_with_a_cursor() {
    let flows = Flows::default();
    let kestra = kestra_with(&flows).await;
    let mut env = env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_MCP_TOOLS_PAGE_SIZE".into(), "10".into()));
    let mut server = Server::start(&env).await;
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let reply = server.request("tools/list", params).await;
        let page = reply["result"]["tools"].as_array().unwrap();
        assert!(page.len() <= 10);
        names.extend(page.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        pages += 1;
        match reply["result"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let builtin = builtin_names();
    assert_eq!(names.len(), builtin.len());
    assert_eq!(pages, builtin.len().div_ceil(10));
    let bad = server.request("tools/list", json!({"cursor": "nonsense"})).await;
    assert_eq!(bad["error"]["code"], json!(-32602), "{bad}");
}

#[test]
fn a_bad_selection_file_is_a_clear_error() {
    let dir =
        tools_dir("kind: flow_tools\nselect:\n  - flow: hello\n  - namespace: a\n    mcp_trigger: true\n");
    let env = env("http://127.0.0.1:9", &dir, &[]);
    let (code, _, stderr) = run(&["tools", "validate", "--no-openapi"], &env, None);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("flows.yaml: select[0].flow: 'hello' is not namespace.flowId"),
        "{stderr}"
    );
    assert!(
        stderr.contains("flows.yaml: select[1].mcp_trigger: an `mcp_trigger` rule stands alone"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[], &env, None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("2 tool spec problem(s)"), "{stderr}");
    // Another kind is not a selection, and not a spec either.
    std::fs::write(
        dir.path().join("flows.yaml"),
        "kind: flowtools\nselect: [{namespace: a}]\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["tools", "validate", "--no-openapi"], &env, None);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("kind: 'flowtools' is not a kind of file this server reads"),
        "{stderr}"
    );
    // A good one validates (and is not counted as a tool spec).
    std::fs::write(dir.path().join("flows.yaml"), EVERY_RULE).unwrap();
    let (code, stdout, stderr) = run(&["tools", "validate", "--no-openapi"], &env, None);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("tool specs are valid"), "{stdout}");
}

#[tokio::test]
async fn a_selection_edited_under_watch_changes_the_flow_tools() {
    let builtin = builtin_names();
    let flows = Flows::default();
    flows.set(vec![flow("n", "a", &[]), flow("m", "b", &[])]);
    let kestra = kestra_with(&flows).await;
    let dir = tools_dir("kind: flow_tools\nselect: [{namespace: n}]\nrefresh: 0\n");
    let mut server = Server::spawn(&env(&kestra.uri(), &dir, &[]), &["--watch"]);
    server.handshake().await;
    until_flow_tools(&mut server, &builtin, &["a"]).await;
    std::fs::write(
        dir.path().join("flows.yaml"),
        "kind: flow_tools\nselect: [{namespace: m}]\nprefix: m_\nrefresh: 0\n",
    )
    .unwrap();
    until_flow_tools(&mut server, &builtin, &["m_b"]).await;
    std::fs::remove_file(dir.path().join("flows.yaml")).unwrap();
    until_flow_tools(&mut server, &builtin, &[]).await;
}
