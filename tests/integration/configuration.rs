//! Configuration as users set it: auth, tenant, disabled tools, tools directories, `.env`,
//! and start-up failures that name the problem.

use serde_json::json;

use crate::stub::{Bed, header, json, line};
use crate::util::{Server, env_for, result_json, run};

#[tokio::test]
async fn bearer_token_and_basic_auth_headers() {
    let mut bed = Bed::with_env(&[("KESTRA_API_TOKEN", "tok-123")]).await;
    bed.answer("GET", "/api/v1/main/flows/ns", json(json!([]))).await;
    bed.server
        .call_ok("list_flows_in_namespace", json!({"namespace": "ns"}))
        .await;
    let req = bed.only_request().await;
    assert_eq!(header(&req, "authorization").as_deref(), Some("Bearer tok-123"));
    assert_eq!(header(&req, "x-kestra-tenant"), None);

    let mut bed = Bed::with_env(&[
        ("KESTRA_USERNAME", "admin@kestra.io"),
        ("KESTRA_PASSWORD", "Secret1"),
        ("KESTRA_API_TOKEN", "ignored-when-basic-is-set"),
    ])
    .await;
    bed.answer("GET", "/api/v1/main/flows/ns", json(json!([]))).await;
    bed.server
        .call_ok("list_flows_in_namespace", json!({"namespace": "ns"}))
        .await;
    let req = bed.only_request().await;
    // base64("admin@kestra.io:Secret1")
    assert_eq!(
        header(&req, "authorization").as_deref(),
        Some("Basic YWRtaW5Aa2VzdHJhLmlvOlNlY3JldDE=")
    );
}

#[tokio::test]
async fn an_explicit_tenant_goes_in_the_path_and_a_header() {
    let mut bed = Bed::with_env(&[("KESTRA_TENANT_ID", "acme")]).await;
    bed.answer("GET", "/api/v1/acme/flows/ns", json(json!([]))).await;
    bed.server
        .call_ok("list_flows_in_namespace", json!({"namespace": "ns"}))
        .await;
    let req = bed.only_request().await;
    assert_eq!(line(&req), "GET /api/v1/acme/flows/ns");
    assert_eq!(header(&req, "x-kestra-tenant").as_deref(), Some("acme"));
}

#[tokio::test]
async fn disabled_groups_and_tools_are_not_listed_and_unknown_names_warn() {
    let mut env = env_for("http://127.0.0.1:9/api/v1");
    env.push((
        "KESTRA_MCP_DISABLED_TOOLS".into(),
        " KV, search_flows, flows ".into(),
    ));
    let mut server = Server::start(&env).await;
    let names = server.tool_names().await;
    assert!(
        !names
            .iter()
            .any(|n| n == "manage_kv_store" || n == "search_flows"),
        "{names:?}"
    );
    assert!(names.contains(&"execute_flow".to_owned()), "{names:?}");
    let reply = server
        .request("tools/call", json!({"name": "manage_kv_store", "arguments": {}}))
        .await;
    assert_eq!(
        reply["error"]["message"],
        json!("tool 'manage_kv_store' not found")
    );
    let (_, stderr) = server.finish().await;
    assert!(
        stderr.contains(
            "KESTRA_MCP_DISABLED_TOOLS: 'flows' is neither a group nor a tool; valid groups: backfill, ee,"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_tools_directory_adds_and_replaces_tools() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("get_flow_source.yaml"),
        "name: get_flow_source\ngroup: flow\ndescription: The YAML source of a flow.\ninput:\n  type: object\n  properties:\n    namespace: {type: string}\n    id: {type: string}\n  required: [namespace, id]\nrequest:\n  method: GET\n  path: /flows/{{ namespace }}/{{ id }}\n  query: {source: 'true', allowDeleted: 'false'}\nresponse:\n  select: $.source\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("search_flows.yaml"),
        "name: search_flows\ngroup: flow\ndescription: Replaced search.\ninput:\n  type: object\n  properties:\n    query: {type: string}\nrequest:\n  method: GET\n  path: /flows/search\n  query: {q: '{{ query }}'}\n",
    )
    .unwrap();
    let kestra = wiremock::MockServer::start().await;
    let mut env = env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    let mut server = Server::start(&env).await;
    let reply = server.request("tools/list", json!({})).await;
    let tools = reply["result"]["tools"].as_array().unwrap();
    let builtin = crate::util::run(&["tools", "list"], &[], None).1;
    let builtin_count = builtin
        .lines()
        .map(|l| l.split(['[', '\t']).next().unwrap_or_default())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(tools.len(), builtin_count + 1);
    let search = tools.iter().find(|t| t["name"] == "search_flows").unwrap();
    assert_eq!(search["description"], json!("Replaced search."));

    wiremock::Mock::given(wiremock::matchers::path("/api/v1/main/flows/company.team/hello"))
        .respond_with(json(json!({"source": "id: hello"})))
        .mount(&kestra)
        .await;
    let result = server
        .call_ok(
            "get_flow_source",
            json!({"namespace": "company.team", "id": "hello"}),
        )
        .await;
    assert_eq!(result, json!({"result": "id: hello"}));
}

#[test]
fn a_broken_spec_stops_start_up_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "name: broken\ngroup: flow\ndescription: d\nrequest:\n  method: GET\n  pth: /x\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad_group.yaml"),
        "name: bad_group\ngroup: nope\ndescription: d\nrequest: {method: GET, path: /x}\n",
    )
    .unwrap();
    let mut env = env_for("http://127.0.0.1:9/api/v1");
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    let (code, stdout, stderr) = run(&[], &env, None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    let broken = dir.path().join("broken.yaml").display().to_string();
    assert!(
        stderr.contains(&format!("{broken}:6: request: unknown field `pth`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad_group.yaml: group: unknown group 'nope'"),
        "{stderr}"
    );
    assert!(stderr.contains("2 tool spec problem(s)"), "{stderr}");

    let (code, stdout, stderr) = run(&["--skip-invalid-specs", "tools", "list"], &env, None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("search_flows")).count(),
        1
    );
}

/// A spec whose templates do not compile: the server loads it lazily (it is listed), refuses
/// it at its first call naming the file, and keeps serving; `tools validate` compiles it
/// eagerly and refuses it.
#[tokio::test]
async fn a_spec_that_fails_to_compile_on_first_call_is_an_error_result_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken_template.yaml"),
        "name: broken_template\ngroup: flow\ndescription: d\ninput:\n  type: object\n  properties:\n    namespace: {type: string}\nrequest:\n  method: GET\n  path: /flows/{{ nope }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("good_one.yaml"),
        "name: good_one\ngroup: flow\ndescription: d\ninput:\n  type: object\n  properties:\n    namespace: {type: string}\n  required: [namespace]\nrequest:\n  method: GET\n  path: /flows/{{ namespace }}\n",
    )
    .unwrap();
    let kestra = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/api/v1/main/flows/ns"))
        .respond_with(json(json!([])))
        .mount(&kestra)
        .await;
    let mut env = env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    let mut server = Server::start(&env).await;
    let names = server.tool_names().await;
    assert!(names.contains(&"broken_template".to_owned()), "{names:?}");

    let file = dir.path().join("broken_template.yaml").display().to_string();
    for _ in 0..2 {
        // The second call gets the outcome of the first compilation again.
        let text = server
            .call_err("broken_template", json!({"namespace": "ns"}))
            .await;
        assert!(text.contains(&file), "{text}");
        assert!(text.contains("unknown variable 'nope'"), "{text}");
    }
    // Concurrent first calls of a good tool: one compilation, every call served.
    let mut ids = Vec::new();
    for _ in 0..16 {
        let params = json!({"name": "good_one", "arguments": {"namespace": "ns"}});
        ids.push(server.send_request("tools/call", params).await);
    }
    // Replies come in any order.
    let mut replies = std::collections::BTreeMap::new();
    while replies.len() < ids.len() {
        let reply = server.read_message().await;
        replies.insert(reply["id"].as_u64().unwrap(), reply);
    }
    assert_eq!(replies.keys().copied().collect::<Vec<_>>(), ids);
    for reply in replies.values() {
        assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
        assert_eq!(result_json(&reply["result"]), json!({"result": []}), "{reply}");
    }
    assert_eq!(kestra.received_requests().await.unwrap().len(), 16);

    let (code, _, stderr) = run(
        &[
            "tools",
            "validate",
            &dir.path().display().to_string(),
            "--no-openapi",
        ],
        &env,
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&file) && stderr.contains("unknown variable 'nope'"),
        "{stderr}"
    );
}

#[test]
fn a_bad_configuration_value_is_named() {
    let (code, _, stderr) = run(&[], &[("KESTRA_BASE_URL".into(), "localhost:8080".into())], None);
    assert_eq!(code, 2);
    assert!(stderr.contains("KESTRA_BASE_URL: 'localhost:8080'"), "{stderr}");
}

#[tokio::test]
async fn a_dotenv_file_is_read() {
    let kestra = wiremock::MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "KESTRA_BASE_URL={}/api/v1\nKESTRA_TENANT_ID=fromenv\nKESTRA_MCP_DISABLED_TOOLS=kv\n",
            kestra.uri()
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["tools", "list"], &[], Some(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("manage_kv_store\t-\t-\t-\tdisabled: group 'kv' disabled"),
        "{stdout}"
    );
}

#[test]
fn the_spec_schema_is_published_and_current() {
    let (code, stdout, _) = run(&["tools", "schema"], &[], None);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(schema["title"], json!("ToolSpec"));
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/tool-spec.schema.json"))
            .expect("docs/tool-spec.schema.json");
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        schema, committed,
        "regenerate: cargo run -- tools schema > docs/tool-spec.schema.json"
    );
}

/// The 39 tools of the Python MCP server for Kestra (HEAD at the reference commit), by group.
const PYTHON_SERVER_TOOLS: &[(&str, &[&str])] = &[
    ("backfill", &["backfill_executions"]),
    (
        "ee",
        &[
            "invite_user",
            "manage_tests",
            "manage_apps",
            "search_apps",
            "manage_announcements",
            "manage_group",
            "manage_invitations",
            "get_instance_info",
            "generate_app",
            "generate_test",
        ],
    ),
    (
        "execution",
        &[
            "execute_flow",
            "manage_executions",
            "add_execution_labels",
            "list_executions",
        ],
    ),
    ("files", &["namespace_file_action", "namespace_directory_action"]),
    (
        "flow",
        &[
            "search_flows",
            "find_flow",
            "list_flows_with_triggers",
            "create_flow_from_yaml",
            "manage_flow",
            "generate_flow",
            "generate_dashboard",
        ],
    ),
    ("kv", &["manage_kv_store"]),
    (
        "logs",
        &[
            "get_execution_logs",
            "download_execution_logs",
            "search_logs",
            "delete_execution_logs",
            "delete_flow_logs",
            "follow_execution_logs",
        ],
    ),
    (
        "namespace",
        &[
            "list_namespaces",
            "list_flows_in_namespace",
            "list_namespace_dependencies",
        ],
    ),
    ("replay", &["replay_execution"]),
    ("restart", &["restart_execution", "change_taskrun_state"]),
    ("resume", &["resume_execution", "force_run_execution"]),
];

fn python_names(without_group: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = PYTHON_SERVER_TOOLS
        .iter()
        .filter(|(group, _)| Some(*group) != without_group)
        .flat_map(|(_, tools)| tools.iter().map(|t| t.to_string()))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_tool_list_is_the_python_servers_39_and_29_without_ee() {
    assert_eq!(python_names(None).len(), 39);
    let mut server = Server::start(&env_for("http://127.0.0.1:9/api/v1")).await;
    assert_eq!(server.tool_names().await, python_names(None));

    let mut env = env_for("http://127.0.0.1:9/api/v1");
    env.push(("KESTRA_MCP_DISABLED_TOOLS".into(), "EE".into()));
    let mut server = Server::start(&env).await;
    let names = server.tool_names().await;
    assert_eq!(names.len(), 29);
    assert_eq!(names, python_names(Some("ee")));
}

#[test]
fn every_tool_is_in_the_group_the_python_server_uses() {
    let (code, stdout, stderr) = run(&["tools", "list"], &[], None);
    assert_eq!(code, 0, "{stderr}");
    for l in stdout.lines() {
        let mut cols = l.split('\t');
        let name = cols.next().unwrap().split('[').next().unwrap();
        let group = cols.next().unwrap();
        let expected = PYTHON_SERVER_TOOLS
            .iter()
            .find(|(_, tools)| tools.contains(&name))
            .map(|(g, _)| *g);
        assert_eq!(expected, Some(group), "{name}");
    }
}

async fn start_against(
    configs: wiremock::ResponseTemplate,
    disabled: Option<&str>,
) -> (Server, wiremock::MockServer) {
    let kestra = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/api/v1/configs"))
        .respond_with(configs)
        .mount(&kestra)
        .await;
    let mut env: Vec<(String, String)> = vec![("KESTRA_BASE_URL".into(), format!("{}/api/v1", kestra.uri()))];
    if let Some(d) = disabled {
        env.push(("KESTRA_MCP_DISABLED_TOOLS".into(), d.into()));
    }
    (Server::start(&env).await, kestra)
}

#[tokio::test]
async fn on_an_oss_kestra_the_enterprise_tools_are_left_out_unless_configured() {
    let oss = || json(json!({"version": "1.3.2", "edition": "OSS"}));
    let (mut server, kestra) = start_against(oss(), None).await;
    let names = server.tool_names().await;
    assert_eq!(names, python_names(Some("ee")));
    let reply = server
        .request(
            "tools/call",
            json!({"name": "manage_group", "arguments": {"action": "get", "id_": "g"}}),
        )
        .await;
    assert_eq!(reply["error"]["message"], json!("tool 'manage_group' not found"));
    // The probe ran once and also taught the engine the version.
    assert_eq!(kestra.received_requests().await.unwrap().len(), 1);
    let (_, stderr) = server.finish().await;
    assert!(
        stderr.contains("Kestra reports the OSS edition: leaving out the 10 Enterprise (ee) tools"),
        "{stderr}"
    );

    // An explicit setting wins: `none` serves every tool without asking.
    let (mut server, kestra) = start_against(oss(), Some("none")).await;
    assert_eq!(server.tool_names().await.len(), 39);
    assert!(
        kestra.received_requests().await.unwrap().is_empty(),
        "no probe when the setting is explicit"
    );
    // An empty value counts as unset (a .env copied from .env_example): edition-aware.
    let (mut server, _kestra) = start_against(oss(), Some("")).await;
    assert_eq!(server.tool_names().await, python_names(Some("ee")));
    let (mut server, _kestra) = start_against(oss(), Some("logs")).await;
    let names = server.tool_names().await;
    assert!(names.contains(&"manage_group".to_owned()) && !names.contains(&"search_logs".to_owned()));
}

#[tokio::test]
async fn on_an_ee_or_silent_or_unreachable_kestra_every_tool_is_served() {
    for configs in [
        json(json!({"version": "2.0.0", "edition": "EE"})),
        json(json!({"version": "0.23.0"})),
        wiremock::ResponseTemplate::new(401),
    ] {
        // Kept alive: a dropped MockServer returns to wiremock's pool, where a test running
        // at the same time can take it and mount its own /configs (seen in CI: an OSS answer).
        let (mut server, _kestra) = start_against(configs, None).await;
        assert_eq!(server.tool_names().await.len(), 39);
    }
    let mut server = Server::start(&[("KESTRA_BASE_URL".into(), "http://127.0.0.1:9/api/v1".into())]).await;
    assert_eq!(server.tool_names().await.len(), 39);
}

#[tokio::test]
async fn doctor_reports_reachability_auth_version_edition_and_tools() {
    let kestra = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/api/v1/configs"))
        .respond_with(json(json!({"version": "1.3.2", "edition": "OSS"})))
        .mount(&kestra)
        .await;
    wiremock::Mock::given(wiremock::matchers::path("/api/v1/main/flows/search"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer doctor-secret",
        ))
        .respond_with(json(json!({"results": [], "total": 0})))
        .mount(&kestra)
        .await;
    wiremock::Mock::given(wiremock::matchers::path("/api/v1/main/flows/search"))
        .respond_with(wiremock::ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&kestra)
        .await;
    let base = format!("{}/api/v1", kestra.uri());
    let env = |token: &str| -> Vec<(String, String)> {
        vec![
            ("KESTRA_BASE_URL".into(), base.clone()),
            ("KESTRA_API_TOKEN".into(), token.into()),
        ]
    };
    let (code, stdout, stderr) = run(&["doctor"], &env("doctor-secret"), None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for want in [
        "ok   credentials                      bearer(***)",
        "ok   version                          1.3.2",
        "ok   edition                          OSS",
        "ok   credentials and tenant accepted  GET /main/flows/search answered 200",
        "ok   tools                            29 served (10 Enterprise tools left out: OSS edition)",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
    assert!(!stdout.contains("doctor-secret") && !stderr.contains("doctor-secret"));

    let (code, stdout, _) = run(&["doctor"], &env("wrong-token"), None);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL credentials and tenant accepted  refused with 401: check the credentials and their permissions"),
        "{stdout}"
    );
    assert!(!stdout.contains("wrong-token"));
}

fn simple_tool(name: &str) -> String {
    format!(
        "name: {name}\ngroup: flow\ndescription: Tool {name}.\ninput:\n  type: object\n  properties: {{}}\nrequest:\n  method: GET\n  path: /flows/search\n"
    )
}

#[tokio::test]
async fn watch_reloads_the_tools_directory_and_keeps_the_last_good_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("first_tool.yaml"), simple_tool("first_tool")).unwrap();
    let mut env = env_for("http://127.0.0.1:9/api/v1");
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    let mut server = Server::spawn(&env, &["--watch"]);
    let init = server.initialize().await;
    assert_eq!(
        init["result"]["capabilities"]["tools"]["listChanged"],
        json!(true),
        "{init}"
    );
    server.notify("notifications/initialized", json!({})).await;
    assert!(server.tool_names().await.contains(&"first_tool".to_owned()));

    std::fs::write(dir.path().join("second_tool.yaml"), simple_tool("second_tool")).unwrap();
    let changed = server.read_message().await;
    assert_eq!(
        changed["method"],
        json!("notifications/tools/list_changed"),
        "{changed}"
    );
    let names = server.tool_names().await;
    assert!(names.contains(&"first_tool".to_owned()) && names.contains(&"second_tool".to_owned()));
    assert_eq!(names.len(), 41);

    // A broken file: the previous set stays, and the reason is logged.
    std::fs::write(
        dir.path().join("third_tool.yaml"),
        "name: third_tool\ngroup: nope\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(server.tool_names().await, names);
    // Fixing it reloads again.
    std::fs::write(dir.path().join("third_tool.yaml"), simple_tool("third_tool")).unwrap();
    loop {
        let msg = server.read_message().await;
        if msg["method"] == json!("notifications/tools/list_changed") {
            break;
        }
    }
    assert_eq!(server.tool_names().await.len(), 42);
    let (_, stderr) = server.finish().await;
    assert!(
        stderr.contains("not reloaded, keeping the previous tools"),
        "{stderr}"
    );
    assert!(
        stderr.contains("third_tool.yaml: group: unknown group 'nope'") || stderr.contains("third_tool.yaml"),
        "{stderr}"
    );
}

#[test]
fn watch_needs_a_tools_directory() {
    let (code, _, stderr) = run(&["--watch"], &env_for("http://127.0.0.1:9/api/v1"), None);
    assert_eq!(code, 2);
    assert!(stderr.contains("--watch needs a tools directory"), "{stderr}");
}

/// A tools directory holding one spec file.
pub(crate) fn spec_dir(file: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// A spec taking an `execution_id`, with the given request part.
fn execution_spec(name: &str, request: &str) -> String {
    format!(
        "name: {name}\ngroup: execution\ndescription: Pause an execution.\ninput:\n  type: object\n  properties:\n    execution_id: {{type: string}}\n  required: [execution_id]\n{request}"
    )
}

#[test]
fn tools_validate_checks_a_directory_against_the_bundled_openapi_and_names_the_file_and_line() {
    let old_style = "request:\n  kestra: \">=2.0\"\n  operation: pauseExecution\n  method: POST\n  path: /executions/{{ execution_id }}/pause\n";
    let (dir, spec) = spec_dir(
        "pause_old_style.yaml",
        &execution_spec("pause_old_style", old_style),
    );
    let dir_arg = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = run(&["tools", "validate", dir_arg], &[], None);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let expected = format!(
        "{}:13: pause_old_style 2.0.0 steps[0].requests[0]: POST /api/v1/main/executions/sample-x/pause resolves to createExecution (POST /api/v1/{{tenant}}/executions/{{namespace}}/{{id}}), not to the declared operation pauseExecution",
        spec.display()
    );
    assert!(stdout.lines().any(|l| l.starts_with(&expected)), "{stdout}");
    // The written route is also compared with the operations table.
    let disagrees = format!(
        "{}:13: pause_old_style steps[0].requests[0]: pauseExecution is POST /executions/{{executionId}}/actions/pause in the Kestra 2.0.0 description, but the request says POST /executions/{{{{ execution_id }}}}/pause",
        spec.display()
    );
    assert!(stdout.lines().any(|l| l == disagrees), "{stdout}");
    assert_eq!(
        stdout.lines().count(),
        2,
        "only the broken request is reported: {stdout}"
    );
    assert!(stderr.contains("2 violation(s)"), "{stderr}");

    // The versioned spelling passes, with the built-in tools, and a note that the operation
    // implies its method and path.
    let versioned = "requests:\n  - kestra: \"<2.0\"\n    operation: pauseExecution\n    method: POST\n    path: /executions/{{ execution_id }}/pause\n  - kestra: \">=2.0\"\n    operation: pauseExecution\n    method: POST\n    path: /executions/{{ execution_id }}/actions/pause\n";
    std::fs::write(&spec, execution_spec("pause_old_style", versioned)).unwrap();
    let (code, stdout, stderr) = run(&["tools", "validate", dir_arg], &[], None);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("40 tools") && stdout.contains("0 violation(s)"),
        "{stdout}"
    );
    let note = format!(
        "note: {}:13: pause_old_style steps[0].requests[0]: method/path are implied by operation pauseExecution; drop them",
        spec.display()
    );
    assert!(stderr.lines().any(|l| l == note), "{stderr}");
    assert_eq!(stderr.matches("are implied by operation").count(), 2, "{stderr}");

    // The operation alone: the same two requests, no note.
    std::fs::write(
        &spec,
        execution_spec("pause_old_style", "request:\n  operation: pauseExecution\n"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["tools", "validate", dir_arg], &[], None);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("0 violation(s)"), "{stdout}");
    assert!(!stderr.contains("implied by"), "{stderr}");
}

#[test]
fn tools_validate_without_openapi_only_loads_and_lints() {
    let (dir, _) = spec_dir(
        "plugin_endpoint.yaml",
        "name: plugin_endpoint\ngroup: flow\ndescription: An endpoint no bundled description has.\nrequest:\n  method: GET\n  path: /my-plugin/status\n",
    );
    let dir_arg = dir.path().to_str().unwrap();
    let (code, stdout, _) = run(&["tools", "validate", dir_arg], &[], None);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("plugin_endpoint.yaml:6: plugin_endpoint 1.3.0")
            && stdout.contains("no path template"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(&["tools", "validate", "--no-openapi", dir_arg], &[], None);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("40 tool specs are valid (OpenAPI check skipped)"),
        "{stdout}"
    );
}

#[test]
fn tools_validate_checks_against_a_description_given_for_another_kestra_version() {
    let only_21 = "request:\n  kestra: \">=2.1\"\n  operation: pauseExecution\n  method: POST\n  path: /executions/{{ execution_id }}/actions/pause\n";
    let (dir, _) = spec_dir("pause_21.yaml", &execution_spec("pause_21", only_21));
    let dir_arg = dir.path().to_str().unwrap();
    // The bundled descriptions (1.3, 2.0) cannot check a request only for 2.1.
    let (code, stdout, _) = run(&["tools", "validate", dir_arg], &[], None);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("pause_21.yaml:13: pause_21 steps[0].requests[0]: `kestra: >=2.1` fits none of the described Kestra versions (1.3.0, 2.0.0)"),
        "{stdout}"
    );
    // A description for 2.1 (here the 2.0 one, as a server's own would be given).
    let openapi = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi-2.0.0-SNAPSHOT.yml");
    let args = [
        "tools",
        "validate",
        dir_arg,
        "--openapi",
        openapi,
        "--kestra-version",
        "2.1",
    ];
    let (code, stdout, stderr) = run(&args, &[], None);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // The count follows the built-in specs; what matters is that 2.1 requests were checked.
    assert!(
        stdout.contains("checked against the OpenAPI description of Kestra 2.1.0: ")
            && stdout.trim_end().ends_with("; 0 violation(s)"),
        "{stdout}"
    );
    // A file that is not a description is refused, naming it.
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let (code, _, stderr) = run(
        &[
            "tools",
            "validate",
            "--openapi",
            readme,
            "--kestra-version",
            "2.1",
        ],
        &[],
        None,
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("README.md: not an OpenAPI description"),
        "{stderr}"
    );
}
