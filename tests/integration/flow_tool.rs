//! A flow as a tool, end to end: `tools from-flow` reads the flow from the stub Kestra and
//! prints its spec; saved in a tools directory it validates (OpenAPI contract included) and is
//! served: invalid arguments are refused before any request, a valid call sends the typed
//! multipart, follows the execution and answers its state, outputs and link; a failed execution
//! is an error naming the failed task and its logs; a flow needing a FILE refuses every call.

use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use crate::stub::{Bed, header, json as json_answer, lines, multipart_parts};
use crate::util::{Server, env_for, run};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/flow-tools/flows");

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `kestra-mcp tools from-flow NS ID` against `kestra`: (exit code, stdout, stderr).
async fn from_flow(kestra: &MockServer, namespace: &str, flow_id: &str) -> (i32, String, String) {
    let env = env_for(&format!("{}/api/v1", kestra.uri()));
    let (namespace, flow_id) = (namespace.to_owned(), flow_id.to_owned());
    tokio::task::spawn_blocking(move || run(&["tools", "from-flow", &namespace, &flow_id], &env, None))
        .await
        .unwrap()
}

/// The stub answering the flows, and a tools directory holding the spec `from-flow` printed
/// for each (checked by `tools validate`).
async fn tools_from_flows(kestra: &MockServer, flows: &[(&str, Value)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (tool, flow) in flows {
        let at = format!(
            "/api/v1/main/flows/{}/{}",
            flow["namespace"].as_str().unwrap(),
            flow["id"].as_str().unwrap()
        );
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .and(wiremock::matchers::path(at))
            .and(wiremock::matchers::query_param("source", "false"))
            .respond_with(json_answer(flow.clone()))
            .mount(kestra)
            .await;
        let (code, spec, stderr) = from_flow(
            kestra,
            flow["namespace"].as_str().unwrap(),
            flow["id"].as_str().unwrap(),
        )
        .await;
        assert_eq!(code, 0, "from-flow failed: {stderr}");
        std::fs::write(dir.path().join(format!("{tool}.yaml")), spec).unwrap();
    }
    let dir_arg = dir.path().display().to_string();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || run(&["tools", "validate", &dir_arg], &[], None))
            .await
            .unwrap();
    assert_eq!(code, 0, "tools validate: {out}\n{err}");
    assert!(out.contains("0 violation(s)"), "{out}");
    dir
}

async fn serve(kestra: MockServer, dir: &tempfile::TempDir) -> Bed {
    let mut env = env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    env.push(("KESTRA_VERSION".into(), "1.3.0".into()));
    let server = Server::start(&env).await;
    let mut bed = Bed::around(kestra, server);
    bed.requests().await; // the flows read by from-flow
    bed
}

fn execution(id: &str, state: &str, runs: Value, outputs: Value) -> Value {
    json!({"id": id, "namespace": "company.team", "flowId": "all_inputs", "taskRunList": runs,
           "state": {"current": state, "duration": "PT2.5S"}, "outputs": outputs})
}

async fn answer_execution(bed: &Bed, flow: &str, id: &str, done: Value) {
    bed.answer(
        "POST",
        &format!("/api/v1/main/executions/company.team/{flow}"),
        json_answer(json!({"id": id, "state": {"current": "CREATED"}})),
    )
    .await;
    // No event stream: the wait polls.
    bed.answer(
        "GET",
        &format!("/api/v1/main/executions/{id}/follow"),
        ResponseTemplate::new(404),
    )
    .await;
    bed.answer("GET", &format!("/api/v1/main/executions/{id}"), json_answer(done))
        .await;
}

#[tokio::test]
async fn a_flow_becomes_a_typed_tool_that_runs_it() {
    let kestra = MockServer::start().await;
    let dir = tools_from_flows(&kestra, &[("all_inputs", fixture("all_inputs-1.3"))]).await;
    let mut bed = serve(kestra, &dir).await;

    // Refused before any request: a string for an INT, a value outside a MULTISELECT's choices,
    // an input the flow does not declare, a required one missing.
    for bad in [
        json!({"s_req": "x", "i": "many"}),
        json!({"s_req": "x", "msel": ["w"]}),
        json!({"s_req": "x", "typo": 1}),
        json!({"i": 3}),
    ] {
        let error = bed.server.call_err("all_inputs", bad.clone()).await;
        assert!(error.contains("invalid arguments"), "{bad}: {error}");
    }
    assert!(bed.requests().await.is_empty(), "a refused call sent a request");

    let done = execution(
        "e1",
        "SUCCESS",
        json!([{"id": "r1", "taskId": "log", "state": {"current": "SUCCESS"}}]),
        json!({"n": 3}),
    );
    answer_execution(&bed, "all_inputs", "e1", done).await;
    let result = bed
        .server
        .call_ok(
            "all_inputs",
            json!({"s_req": "given", "i": 42, "b": false, "msel": ["x", "z"], "arr": [1, 2, 3],
                   "j": {"a": [1, 2]}, "y": "a: 1\n", "dur": "PT1H30M", "dt": "2026-01-15T10:30:00Z"}),
        )
        .await;
    let url = format!(
        "{}/ui/main/executions/company.team/all_inputs/e1",
        bed.kestra.uri()
    );
    assert_eq!(
        result,
        json!({"executionId": "e1", "state": "SUCCESS", "duration": 2.5, "outputs": {"n": 3}, "url": url})
    );
    let requests = bed.requests().await;
    let sent = lines(&requests);
    assert_eq!(
        sent[0],
        "POST /api/v1/main/executions/company.team/all_inputs?labels=system.from%3Amcp&labels=mcp.tool%3Aall_inputs&wait=false"
    );
    assert!(
        sent[1..]
            .iter()
            .all(|l| l.starts_with("GET /api/v1/main/executions/e1")),
        "{sent:#?}"
    );
    let mut parts: Vec<(String, String)> = multipart_parts(&requests[0])
        .into_iter()
        .map(|(n, _, v)| (n, v))
        .collect();
    parts.sort();
    // Every argument, given or defaulted; lists and objects as JSON text, as Kestra reads them.
    let expected: Vec<(String, String)> = [
        ("arr", "[1,2,3]"),
        ("b", "false"),
        ("bool", "false"),
        ("dt", "2026-01-15T10:30:00Z"),
        ("dur", "PT1H30M"),
        ("f", "1.5"),
        ("i", "42"),
        ("j", r#"{"a":[1,2]}"#),
        ("msel", r#"["x","z"]"#),
        ("s", "hello"),
        ("s_req", "given"),
        ("sel", "a"),
        ("y", "a: 1\n"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(parts, expected);
}

#[tokio::test]
async fn a_failed_execution_is_an_error_with_the_failed_task_and_its_logs() {
    let kestra = MockServer::start().await;
    let failing = json!({"id": "failing", "namespace": "company.team", "revision": 1, "inputs": []});
    let dir = tools_from_flows(&kestra, &[("failing", failing)]).await;
    let mut bed = serve(kestra, &dir).await;
    let runs = json!([
        {"id": "r1", "taskId": "ok", "state": {"current": "SUCCESS"}},
        {"id": "r2", "taskId": "boom", "state": {"current": "FAILED"}},
    ]);
    answer_execution(&bed, "failing", "e2", execution("e2", "FAILED", runs, json!({}))).await;
    bed.answer(
        "GET",
        "/api/v1/main/logs/e2",
        json_answer(json!([
            {"taskId": "ok", "level": "INFO", "message": "starting"},
            {"taskId": "boom", "level": "ERROR", "message": "Division by zero"},
        ])),
    )
    .await;
    let error = bed.server.call_err("failing", json!({})).await;
    assert!(
        error.contains(
            "Execution e2 of flow company.team.failing ended FAILED at task boom: Division by zero"
        ),
        "{error}"
    );
    assert!(
        error.contains(r#"Last logs: ["starting", "Division by zero"]"#),
        "{error}"
    );
    assert!(
        error.contains("/ui/main/executions/company.team/failing/e2"),
        "{error}"
    );
}

#[tokio::test]
async fn a_flow_needing_a_file_refuses_calls_and_starts_nothing() {
    let kestra = MockServer::start().await;
    let dir = tools_from_flows(&kestra, &[("report_daily", fixture("constraints-file-outputs"))]).await;
    let mut bed = serve(kestra, &dir).await;
    let error = bed
        .server
        .call_err("report_daily", json!({"day": "2026-02-01", "code": "ABC"}))
        .await;
    assert!(
        error.contains("FILE input 'upload'") && error.contains("Nothing was started"),
        "{error}"
    );
    assert!(bed.requests().await.is_empty(), "a request was sent");
}

#[tokio::test]
async fn from_flow_says_when_the_flow_does_not_exist() {
    let kestra = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Flow not found"})))
        .mount(&kestra)
        .await;
    let (code, out, err) = from_flow(&kestra, "company.team", "nope").await;
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("flow company.team.nope not found in tenant main"),
        "{err}"
    );
    // Unreachable: nothing listens on the discard port.
    let env = env_for("http://127.0.0.1:9/api/v1");
    let (code, _, err) =
        tokio::task::spawn_blocking(move || run(&["tools", "from-flow", "company.team", "x"], &env, None))
            .await
            .unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("cannot read flow company.team.x"), "{err}");
}

/// Kestra 2.0: a FORM's children are arguments `form.child`, sent as parts of those names; an
/// execution still running at the selection's wait limit is answered with how to follow it.
#[tokio::test]
async fn form_children_on_2_0_and_an_execution_still_running_at_the_wait_limit() {
    let kestra = MockServer::start().await;
    let settings = kestra_mcp::flows::FlowToolSettings {
        group: "execution".into(),
        wait_limit_secs: Some(1),
        ..kestra_mcp::flows::FlowToolSettings::named("all_inputs")
    };
    let spec = kestra_mcp::flows::tool::flow_tool_spec(&fixture("all_inputs-2.0"), &settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("all_inputs.yaml"), spec).unwrap();
    let mut env = env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir.path().display().to_string()));
    env.push(("KESTRA_VERSION".into(), "2.0.0".into()));
    let server = Server::start(&env).await;
    let mut bed = Bed::around(kestra, server);
    let running = execution("e3", "RUNNING", json!([]), json!({}));
    answer_execution(&bed, "all_inputs", "e3", running).await;
    let result = bed
        .server
        .call_ok(
            "all_inputs",
            json!({"s_req": "x", "env.replicas": 3, "sel_lv": "high"}),
        )
        .await;
    assert_eq!(result["executionId"], json!("e3"));
    assert_eq!(result["state"], json!("RUNNING"));
    let note = result["note"].as_str().unwrap();
    assert!(note.starts_with("Still RUNNING after 1"), "{note}");
    assert!(
        note.contains("the wait limit, 1 s") && note.contains("execution id e3"),
        "{note}"
    );
    let requests = bed.requests().await;
    let parts: Vec<(String, String)> = multipart_parts(&requests[0])
        .into_iter()
        .map(|(n, _, v)| (n, v))
        .collect();
    assert!(
        parts.contains(&("env.region".into(), "eu-west-1".into())),
        "{parts:?}"
    );
    assert!(parts.contains(&("env.replicas".into(), "3".into())), "{parts:?}");
    assert!(parts.contains(&("sel_lv".into(), "high".into())), "{parts:?}");
    assert!(!parts.iter().any(|(n, _)| n == "file" || n == "env"), "{parts:?}");
}

/// Paused at a Pause with onResume inputs, for a client that cannot be asked (no elicitation):
/// the result says where it is paused, what resuming needs, and how to resume it.
#[tokio::test]
async fn a_paused_execution_says_how_to_resume_it() {
    let kestra = MockServer::start().await;
    let approval = json!({"id": "approval", "namespace": "company.team", "revision": 1, "inputs": [],
        "tasks": [{"id": "approve", "type": "io.kestra.plugin.core.flow.Pause",
                   "onResume": [{"id": "ok", "type": "BOOL", "required": true}]}]});
    let dir = tools_from_flows(&kestra, &[("approval", approval)]).await;
    let mut bed = serve(kestra, &dir).await;
    let runs = json!([{"id": "r1", "taskId": "approve", "state": {"current": "PAUSED"}}]);
    let paused = json!({"id": "e4", "namespace": "company.team", "flowId": "approval", "taskRunList": runs,
                        "state": {"current": "PAUSED", "histories": [{"state": "PAUSED"}]}});
    answer_execution(&bed, "approval", "e4", paused).await;
    let result = bed.server.call_ok("approval", json!({})).await;
    assert_eq!(result["state"], json!("PAUSED"));
    assert_eq!(result["pausedAt"], json!("approve"));
    assert_eq!(result["resumeInputs"], json!(["ok"]));
    let note = result["note"].as_str().unwrap();
    assert!(
        note.contains(r#"resume_execution, execution_ids ["e4"] and on_resume values for: ok"#),
        "{note}"
    );
    let sent = lines(&bed.requests().await);
    assert!(
        sent.contains(&"GET /api/v1/main/flows/company.team/approval?source=false".to_owned()),
        "{sent:#?}"
    );
    assert!(
        !sent.iter().any(|l| l.contains("resume")),
        "resumed without asking: {sent:#?}"
    );
}

/// A client that can be asked (elicitation) and the flow tool `twice` of ns.twice (two Pause
/// tasks, [`crate::waits::mount_two_pauses`]): the bed, the tools directory it reads (kept
/// alive with it), and the count of resumes sent.
async fn two_pauses_tool() -> (
    Bed,
    tempfile::TempDir,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    // A group the server knows without a flows source (`flows` is that source's).
    let settings = kestra_mcp::flows::FlowToolSettings {
        group: "execution".into(),
        ..kestra_mcp::flows::FlowToolSettings::named("twice")
    };
    let spec = kestra_mcp::flows::tool::flow_tool_spec(&crate::waits::twice_flow(), &settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("twice.yaml"), spec).unwrap();
    let tools_dir = dir.path().display().to_string();
    let bed = crate::waits::bed_for(
        json!({"elicitation": {}}),
        &[("KESTRA_MCP_TOOLS_DIR", tools_dir.as_str())],
    )
    .await;
    let resumes = crate::waits::mount_two_pauses(&bed).await;
    (bed, dir, resumes)
}

fn message(asked: &Value) -> &str {
    asked["message"].as_str().unwrap_or_default()
}

/// The multipart values of each resume sent, in order (none for a resume sent without a body,
/// as one with no onResume values is).
async fn resumes_sent(bed: &mut Bed) -> Vec<Vec<(String, String)>> {
    bed.requests()
        .await
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/p2/resume"))
        .map(|r| match header(r, "content-type") {
            Some(_) => multipart_parts(r).into_iter().map(|(n, _, v)| (n, v)).collect(),
            None => {
                assert!(r.body.is_empty(), "a body without a content type");
                Vec::new()
            }
        })
        .collect()
}

/// One call of a flow tool asks at every Pause: the first asks for its onResume input, the
/// second whether to resume; both answers are sent and the execution runs to its outputs.
#[tokio::test]
async fn a_flow_tool_asks_at_every_pause_and_runs_to_the_end() {
    let (mut bed, _dir, resumes) = two_pauses_tool().await;
    let answers = [
        json!({"action": "accept", "content": {"comment": "fine"}}),
        json!({"action": "accept", "content": {"resume": true}}),
    ];
    let (asked, out) = crate::waits::call_answering(&mut bed, "twice", json!({}), &answers).await;
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        message(&asked[0]).contains("p2 of ns.twice is paused at task approve")
            && message(&asked[0]).contains("It asks for: comment"),
        "{asked:?}"
    );
    assert_eq!(
        asked[0]["requestedSchema"]["properties"]["comment"]["type"], "string",
        "{asked:?}"
    );
    assert!(
        message(&asked[1]).contains("paused at task confirm. Resume it?"),
        "{asked:?}"
    );
    assert_eq!(out["executionId"], "p2", "{out}");
    assert_eq!(out["state"], "SUCCESS", "{out}");
    assert_eq!(out["outputs"], json!({"approvedBy": "fine"}), "{out}");
    assert_eq!(out["resumedWith"], json!({"resume": true}), "{out}");
    assert!(
        out.get("note").is_none() && out.get("pausedAt").is_none(),
        "{out}"
    );
    assert_eq!(resumes.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(
        resumes_sent(&mut bed).await,
        vec![vec![("comment".to_owned(), "fine".to_owned())], vec![]]
    );
}

/// Declined at the second Pause: left paused there, and the result says so and how to resume.
#[tokio::test]
async fn a_flow_tool_declined_at_the_second_pause_leaves_it_paused() {
    let (mut bed, _dir, resumes) = two_pauses_tool().await;
    let answers = [
        json!({"action": "accept", "content": {"comment": "fine"}}),
        json!({"action": "decline"}),
    ];
    let (asked, out) = crate::waits::call_answering(&mut bed, "twice", json!({}), &answers).await;
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(out["state"], "PAUSED", "{out}");
    assert_eq!(out["pausedAt"], "confirm", "{out}");
    assert!(
        out.get("resumedWith").is_none() && out.get("resumeInputs").is_none(),
        "{out}"
    );
    let note = out["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("Paused at task confirm; the user declined resuming it")
            && note.contains(r#"resume_execution, execution_ids ["p2"]"#),
        "{out}"
    );
    assert_eq!(resumes.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        resumes_sent(&mut bed).await,
        vec![vec![("comment".to_owned(), "fine".to_owned())]]
    );
}
