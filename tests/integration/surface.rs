//! What a session sees: `KESTRA_MCP_TOOLSETS` (groups, tools, `all`, `default`, `dynamic`
//! discovery), `KESTRA_MCP_DISABLED_TOOLS` winning over it, and `KESTRA_MCP_READ_ONLY`.

use serde_json::{Value, json};

use crate::configuration::spec_dir;
use crate::stub::{Bed, json, line};
use crate::util::{Server, env_for, result_json};

/// The initial tool list must stay this small with `dynamic`.
const DYNAMIC_BUDGET: usize = 4_000;
/// Every definition is sent to the model with every turn (issue 19: 41,749 bytes before).
const ALL_TOOLS_BUDGET: usize = 28_000;
/// No single definition may grow past this (the largest, list_executions, is about 1,400).
const ONE_TOOL_BUDGET: usize = 1_500;

fn env_with(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = env_for("http://127.0.0.1:9/api/v1");
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

/// `tools/list`'s result and its size in bytes as sent (compact JSON).
async fn listing(server: &mut Server) -> (Vec<Value>, usize) {
    let reply = server.request("tools/list", json!({})).await;
    let bytes = serde_json::to_vec(&reply["result"]).unwrap().len();
    (reply["result"]["tools"].as_array().unwrap().clone(), bytes)
}

fn names(tools: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn unknown_tool(server: &mut Server, name: &str) {
    let reply = server
        .request("tools/call", json!({"name": name, "arguments": {}}))
        .await;
    assert_eq!(
        reply["error"]["message"],
        json!(format!("tool '{name}' not found")),
        "{reply}"
    );
}

#[tokio::test]
async fn toolsets_select_groups_and_tools_and_unknown_names_warn() {
    let env = env_with(&[("KESTRA_MCP_TOOLSETS", " KV, search_flows, flws ")]);
    let mut server = Server::start(&env).await;
    assert_eq!(server.tool_names().await, vec!["manage_kv_store", "search_flows"]);
    unknown_tool(&mut server, "execute_flow").await;
    let (_, stderr) = server.finish().await;
    assert!(
        stderr.contains("KESTRA_MCP_TOOLSETS: 'flws' is neither a toolset nor a tool; valid toolsets: all, default, dynamic, backfill, ee,"),
        "{stderr}"
    );

    // Unset, empty and `all` serve the Python server's 39; `default` all but the ee group.
    for value in [None, Some(""), Some("all")] {
        let env = match value {
            Some(v) => env_with(&[("KESTRA_MCP_TOOLSETS", v)]),
            None => env_with(&[]),
        };
        let mut server = Server::start(&env).await;
        assert_eq!(server.tool_names().await.len(), 39, "{value:?}");
    }
    let mut server = Server::start(&env_with(&[("KESTRA_MCP_TOOLSETS", "default")])).await;
    let default = server.tool_names().await;
    assert_eq!(default.len(), 29, "{default:?}");
    assert!(!default.contains(&"manage_group".to_owned()));
}

#[tokio::test]
async fn disabled_tools_win_over_toolsets() {
    let env = env_with(&[
        ("KESTRA_MCP_TOOLSETS", "kv,manage_flow,search_flows"),
        ("KESTRA_MCP_DISABLED_TOOLS", "manage_flow,kv"),
    ]);
    let mut server = Server::start(&env).await;
    assert_eq!(server.tool_names().await, vec!["search_flows"]);
    unknown_tool(&mut server, "manage_flow").await;
}

#[tokio::test]
async fn read_only_lists_reading_tools_and_refuses_writes_before_any_request() {
    let mut bed = Bed::with_env(&[("KESTRA_MCP_READ_ONLY", "true")]).await;
    let (tools, bytes) = listing(&mut bed.server).await;
    println!(
        "tools/list with KESTRA_MCP_READ_ONLY=true: {} tools, {bytes} bytes",
        tools.len()
    );
    let listed = names(&tools);
    for writer in [
        "execute_flow",
        "create_flow_from_yaml",
        "delete_flow_logs",
        "resume_execution",
    ] {
        assert!(!listed.contains(&writer.to_owned()), "{writer} listed");
    }
    for tool in &tools {
        assert_eq!(
            tool["annotations"]["readOnlyHint"],
            json!(true),
            "{}",
            tool["name"]
        );
        assert!(
            tool["annotations"].get("destructiveHint").is_none(),
            "{}",
            tool["name"]
        );
    }
    let kv = tools.iter().find(|t| t["name"] == "manage_kv_store").unwrap();
    assert_eq!(
        kv["inputSchema"]["properties"]["action"]["enum"],
        json!(["get", "list"])
    );
    let flow = tools.iter().find(|t| t["name"] == "manage_flow").unwrap();
    assert_eq!(
        flow["inputSchema"]["properties"]["action"]["enum"],
        json!(["list_revisions", "list_dependencies", "get_yaml"])
    );
    // The descriptions name only what is served (their read_only_description).
    let executions = tools.iter().find(|t| t["name"] == "manage_executions").unwrap();
    let said = executions["description"].as_str().unwrap();
    assert!(said.starts_with("Get one execution"), "{said}");
    for gone in ["pause", "kill", "delete", "change_status"] {
        assert!(!said.contains(gone), "{gone}: {said}");
    }
    for (tool, gone) in [(kv, "`set`"), (flow, "`delete`")] {
        let said = tool["description"].as_str().unwrap();
        assert!(!said.contains(gone), "{}: {said}", tool["name"]);
    }

    let refused = bed
        .server
        .call_err(
            "manage_kv_store",
            json!({"namespace": "ns", "action": "set", "key": "k", "value": 1}),
        )
        .await;
    assert_eq!(
        refused,
        "refused: manage_kv_store 'set' changes Kestra and KESTRA_MCP_READ_ONLY is set; only reading tools and actions are served"
    );
    let refused = bed
        .server
        .call_err("execute_flow", json!({"namespace": "ns", "flow_id": "f"}))
        .await;
    assert!(
        refused.contains("execute_flow changes Kestra and KESTRA_MCP_READ_ONLY is set"),
        "{refused}"
    );
    assert!(bed.requests().await.is_empty(), "a refused write reached Kestra");

    bed.answer(
        "GET",
        "/api/v1/main/namespaces/ns/kv/k",
        json(json!({"type": "NUMBER", "value": 1})),
    )
    .await;
    bed.server
        .call_ok(
            "manage_kv_store",
            json!({"namespace": "ns", "action": "get", "key": "k"}),
        )
        .await;
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/namespaces/ns/kv/k"
    );
}

#[tokio::test]
async fn dynamic_discovery_lists_enables_and_notifies_within_the_byte_budget() {
    let mut server = Server::spawn(&env_with(&[("KESTRA_MCP_TOOLSETS", "dynamic")]), &[]);
    let init = server.initialize().await;
    assert_eq!(
        init["result"]["capabilities"]["tools"]["listChanged"],
        json!(true),
        "{init}"
    );
    server.notify("notifications/initialized", json!({})).await;

    let (tools, bytes) = listing(&mut server).await;
    println!(
        "initial tools/list with KESTRA_MCP_TOOLSETS=dynamic: {} tools, {bytes} bytes",
        tools.len()
    );
    assert!(bytes <= DYNAMIC_BUDGET, "{bytes} bytes");
    assert_eq!(
        names(&tools),
        vec!["enable_toolset", "get_toolset_tools", "list_available_toolsets"]
    );
    unknown_tool(&mut server, "execute_flow").await;

    let listed = server.call_ok("list_available_toolsets", json!({})).await;
    let flow = listed["toolsets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "flow")
        .unwrap()
        .clone();
    assert_eq!(flow["enabled"], json!(false));
    assert!(
        flow["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("search_flows: Search flows")),
        "{flow}"
    );
    let described = server
        .call_ok("get_toolset_tools", json!({"toolset": "kv"}))
        .await;
    assert_eq!(described["tools"][0]["name"], json!("manage_kv_store"));

    let id = server
        .send_request(
            "tools/call",
            json!({"name": "enable_toolset", "arguments": {"toolset": "flow, execution"}}),
        )
        .await;
    let (mut notified, mut answered) = (false, None);
    while !(notified && answered.is_some()) {
        let msg = server.read_message().await;
        if msg["method"] == json!("notifications/tools/list_changed") {
            notified = true;
        } else if msg["id"] == json!(id) {
            answered = Some(msg);
        }
    }
    let answer = answered.unwrap();
    assert!(
        result_json(&answer["result"])["tools_added"]
            .as_array()
            .unwrap()
            .contains(&json!("execute_flow")),
        "{answer}"
    );
    let now = server.tool_names().await;
    assert!(now.contains(&"execute_flow".to_owned()) && now.contains(&"search_flows".to_owned()));
    assert!(now.contains(&"enable_toolset".to_owned()));
    assert!(!now.contains(&"manage_kv_store".to_owned()));

    let unknown = server
        .call_err("enable_toolset", json!({"toolset": "flows"}))
        .await;
    assert!(
        unknown.contains("'flows' is not an available toolset"),
        "{unknown}"
    );
}

#[tokio::test]
async fn dynamic_starts_with_the_named_toolsets_and_read_only_wins_over_enabling() {
    let env = env_with(&[
        ("KESTRA_MCP_TOOLSETS", "dynamic,kv"),
        ("KESTRA_MCP_READ_ONLY", "1"),
    ]);
    let mut server = Server::start(&env).await;
    assert_eq!(
        server.tool_names().await,
        vec![
            "enable_toolset",
            "get_toolset_tools",
            "list_available_toolsets",
            "manage_kv_store"
        ]
    );
    let enabled = server
        .call_ok("enable_toolset", json!({"toolset": "execution"}))
        .await;
    let added = enabled["tools_added"].as_array().unwrap();
    assert!(added.contains(&json!("manage_executions")), "{enabled}");
    assert!(!added.contains(&json!("execute_flow")), "{enabled}");
    let reply = server.request("tools/list", json!({})).await;
    let executions = reply["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "manage_executions")
        .unwrap()
        .clone();
    assert_eq!(
        executions["inputSchema"]["properties"]["action"]["enum"],
        json!(["get"])
    );
    let refused = server
        .call_err(
            "manage_executions",
            json!({"action": "kill", "execution_id": "e"}),
        )
        .await;
    assert!(refused.contains("KESTRA_MCP_READ_ONLY"), "{refused}");
}

#[tokio::test]
async fn enabled_toolsets_survive_a_hot_reload() {
    let tool = "name: flow_extra\ngroup: flow\ndescription: Extra.\ninput:\n  type: object\n  properties: {}\nrequest:\n  method: GET\n  path: /flows/search\n";
    let (dir, _) = spec_dir("flow_extra.yaml", tool);
    let mut env = env_with(&[("KESTRA_MCP_TOOLSETS", "dynamic")]);
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    let mut server = Server::spawn(&env, &["--watch"]);
    server.initialize().await;
    server.notify("notifications/initialized", json!({})).await;
    server.call_ok("enable_toolset", json!({"toolset": "flow"})).await;
    assert!(server.tool_names().await.contains(&"flow_extra".to_owned()));

    std::fs::write(
        dir.path().join("flow_more.yaml"),
        tool.replace("flow_extra", "flow_more"),
    )
    .unwrap();
    loop {
        let msg = server.read_message().await;
        if msg["method"] == json!("notifications/tools/list_changed") {
            let now = server.tool_names().await;
            if now.contains(&"flow_more".to_owned()) {
                assert!(now.contains(&"search_flows".to_owned()), "{now:?}");
                assert!(!now.contains(&"manage_kv_store".to_owned()), "{now:?}");
                break;
            }
        }
    }
}

#[tokio::test]
async fn tools_list_sizes_per_mode() {
    let modes: [(&str, &[(&str, &str)]); 4] = [
        ("all (unset)", &[]),
        ("default", &[("KESTRA_MCP_TOOLSETS", "default")]),
        ("dynamic", &[("KESTRA_MCP_TOOLSETS", "dynamic")]),
        ("read-only", &[("KESTRA_MCP_READ_ONLY", "true")]),
    ];
    let mut sizes = Vec::new();
    for (mode, extra) in modes {
        let mut server = Server::start(&env_with(extra)).await;
        let (tools, bytes) = listing(&mut server).await;
        println!("tools/list {mode}: {} tools, {bytes} bytes", tools.len());
        sizes.push(bytes);
    }
    assert!(sizes[2] <= DYNAMIC_BUDGET, "{sizes:?}");
    assert!(
        sizes[0] > sizes[1] && sizes[1] > sizes[3] && sizes[3] > sizes[2],
        "{sizes:?}"
    );
}

#[tokio::test]
async fn tools_list_stays_within_its_byte_budget() {
    let mut server = Server::start(&env_with(&[])).await;
    let (tools, total) = listing(&mut server).await;
    let mut sizes: Vec<(usize, String)> = tools
        .iter()
        .map(|t| {
            let bytes = serde_json::to_vec(t).unwrap().len();
            (bytes, t["name"].as_str().unwrap().to_owned())
        })
        .collect();
    sizes.sort_by(|a, b| b.cmp(a));
    for (bytes, name) in &sizes {
        println!("{bytes:>6} {name}");
    }
    println!(
        "tools/list: {} tools, {total} bytes (budget {ALL_TOOLS_BUDGET})",
        tools.len()
    );
    assert_eq!(tools.len(), 39);
    assert!(total <= ALL_TOOLS_BUDGET, "tools/list is {total} bytes");
    let over: Vec<_> = sizes.iter().filter(|(b, _)| *b > ONE_TOOL_BUDGET).collect();
    assert!(over.is_empty(), "over {ONE_TOOL_BUDGET} bytes: {over:?}");
}

#[test]
fn tools_list_says_what_read_only_and_toolsets_leave_out() {
    let state = |env: &[(&str, &str)], tool: &str| {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let (code, stdout, stderr) = crate::util::run(&["tools", "list"], &env, None);
        assert_eq!(code, 0, "{stderr}");
        let line = stdout
            .lines()
            .find(|l| l.split('\t').next() == Some(tool))
            .unwrap_or_else(|| panic!("{tool} not in {stdout}"))
            .to_owned();
        line.rsplit('\t').next().unwrap().to_owned()
    };
    let read_only = [("KESTRA_MCP_READ_ONLY", "true")];
    assert_eq!(
        state(&read_only, "manage_kv_store[set]"),
        "disabled: writes (KESTRA_MCP_READ_ONLY)"
    );
    assert_eq!(state(&read_only, "manage_kv_store[get]"), "enabled");
    let kv = [("KESTRA_MCP_TOOLSETS", "kv")];
    assert_eq!(state(&kv, "search_flows"), "not in KESTRA_MCP_TOOLSETS");
    assert_eq!(state(&kv, "manage_kv_store[list]"), "enabled");
    let dynamic = [("KESTRA_MCP_TOOLSETS", "dynamic")];
    assert_eq!(
        state(&dynamic, "search_flows"),
        "after enable_toolset (KESTRA_MCP_TOOLSETS=dynamic)"
    );
}

#[tokio::test]
async fn a_result_carries_its_data_once_unless_the_tool_advertises_an_output_schema() {
    let tool = "name: flow_count\ngroup: flow\ndescription: Counts flows.\ninput:\n  type: object\n  properties: {}\nrequest:\n  method: GET\n  path: /flows/search\nresponse:\n  output_schema:\n    type: object\n    properties:\n      total: {type: integer}\n";
    let (dir, _) = spec_dir("flow_count.yaml", tool);
    let tools_dir = dir.path().display().to_string();
    let mut bed = Bed::with_env(&[("KESTRA_MCP_TOOLS_DIR", &tools_dir)]).await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/search",
        json(json!({"results": [], "total": 0})),
    )
    .await;

    let plain = bed.server.call("search_flows", json!({"query": "x"})).await;
    assert_eq!(result_json(&plain)["total"], 0, "{plain}");
    assert!(plain.get("structuredContent").is_none(), "text only: {plain}");

    // MCP requires structuredContent of a tool with an outputSchema, and the same JSON as text.
    let typed = bed.server.call("flow_count", json!({})).await;
    assert_eq!(typed["structuredContent"]["total"], 0, "{typed}");
    assert_eq!(result_json(&typed), typed["structuredContent"]);
}
