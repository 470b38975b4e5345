//! Waiting for executions (`wait` steps): a run longer than KESTRA_MCP_TIMEOUT completes,
//! progress is reported and increases, a cancelled call stops waiting and kills the execution
//! only when KESTRA_MCP_KILL_ON_CANCEL says so.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

use crate::stub::{Bed, json as json_answer, lines};
use crate::util::result_json;

/// An execution of three tasks, one ending every `pace`, that never ends when `pace` is `None`.
struct Progressing {
    started: Instant,
    pace: Option<Duration>,
}

impl wiremock::Respond for Progressing {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let ended = match self.pace {
            Some(pace) => (self.started.elapsed().as_millis() / pace.as_millis()) as usize,
            None => 0,
        };
        json_answer(execution(ended.min(3)))
    }
}

/// The execution once `ended` of its three tasks have ended.
fn execution(ended: usize) -> Value {
    let runs: Vec<Value> = (0..3.min(ended + 1))
        .map(|i| {
            let state = if i < ended { "SUCCESS" } else { "RUNNING" };
            json!({"id": format!("r{i}"), "taskId": format!("t{i}"), "state": {"current": state}})
        })
        .collect();
    let state = match ended {
        3 => json!({"current": "SUCCESS", "duration": "PT3S"}),
        _ => json!({"current": "RUNNING"}),
    };
    json!({"id": "e1", "namespace": "ns", "flowId": "f", "taskRunList": runs, "state": state,
           "outputs": {"answer": 42}})
}

async fn bed_with(extra: &[(&str, &str)], pace: Option<Duration>) -> Bed {
    let mut env = vec![("KESTRA_MCP_TIMEOUT", "1"), ("KESTRA_VERSION", "1.3.0")];
    env.extend_from_slice(extra);
    let bed = Bed::with_env(&env).await;
    mount_progressing(&bed, pace).await;
    bed
}

/// Kestra's side of execution e1 of ns.f (three tasks, one ending every `pace`; never ending
/// when `None`), followed by polling; its kill answers 202.
pub(crate) async fn mount_progressing(bed: &Bed, pace: Option<Duration>) {
    bed.answer(
        "POST",
        "/api/v1/main/executions/ns/f",
        json_answer(json!({"id": "e1", "state": {"current": "CREATED"}})),
    )
    .await;
    // No event stream here: polling takes over.
    bed.answer(
        "GET",
        "/api/v1/main/executions/e1/follow",
        ResponseTemplate::new(404),
    )
    .await;
    let progressing = Progressing {
        started: Instant::now(),
        pace,
    };
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/api/v1/main/executions/e1"))
        .respond_with(progressing)
        .with_priority(1)
        .mount(&bed.kestra)
        .await;
    bed.answer(
        "DELETE",
        "/api/v1/main/executions/e1/kill",
        ResponseTemplate::new(202),
    )
    .await;
}

fn call_with_progress(token: &str) -> Value {
    json!({"name": "execute_flow", "arguments": {"namespace": "ns", "flow_id": "f", "wait": true},
           "_meta": {"progressToken": token}})
}

#[tokio::test]
async fn a_run_longer_than_the_request_timeout_completes_and_reports_increasing_progress() {
    let mut bed = bed_with(&[], Some(Duration::from_millis(900))).await;
    let server = &mut bed.server;
    let id = server.send_request("tools/call", call_with_progress("p1")).await;
    let mut progress = Vec::new();
    let reply = loop {
        let msg = server.read_message().await;
        if msg["method"] == "notifications/progress" {
            assert_eq!(msg["params"]["progressToken"], "p1");
            progress.push(msg["params"].clone());
        } else if msg["id"] == json!(id) {
            break msg;
        }
    };
    let result = &result_json(&reply["result"]);
    assert_eq!(
        *result,
        json!({"id": "e1", "namespace": "ns", "flowId": "f", "state": {"current": "SUCCESS", "duration": "PT3S"},
               "outputs": {"answer": 42}}),
        "{reply}"
    );
    let values: Vec<f64> = progress.iter().filter_map(|p| p["progress"].as_f64()).collect();
    assert!(values.len() >= 2, "progress: {progress:?}");
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "not increasing: {values:?}"
    );
    let last = progress.last().unwrap();
    assert_eq!(
        (last["progress"].as_f64(), last["total"].as_f64()),
        (Some(3.0), Some(3.0)),
        "{progress:?}"
    );
    assert!(
        progress
            .iter()
            .any(|p| p["message"].as_str().is_some_and(|m| m.starts_with("RUNNING: t"))),
        "{progress:?}"
    );
    let sent = lines(&bed.requests().await);
    assert!(sent.iter().all(|l| !l.contains("wait=true")), "{sent:?}");
    assert!(!sent.iter().any(|l| l.starts_with("DELETE")), "{sent:?}");
}

async fn cancel_mid_wait(bed: &mut Bed) {
    let server = &mut bed.server;
    let id = server.send_request("tools/call", call_with_progress("p2")).await;
    // Waiting: the first progress report.
    loop {
        let msg = server.read_message().await;
        if msg["method"] == "notifications/progress" {
            break;
        }
    }
    server
        .notify(
            "notifications/cancelled",
            json!({"requestId": id, "reason": "user"}),
        )
        .await;
    // No reply comes for the cancelled call.
    let silence = tokio::time::timeout(Duration::from_millis(1500), server.wait_for(id)).await;
    assert!(silence.is_err(), "a reply came: {silence:?}");
}

#[tokio::test]
async fn a_cancelled_wait_leaves_the_execution_running_by_default() {
    let mut bed = bed_with(&[], None).await;
    cancel_mid_wait(&mut bed).await;
    let sent = lines(&bed.requests().await);
    assert!(!sent.iter().any(|l| l.starts_with("DELETE")), "{sent:?}");
    // And it stopped polling.
    let polls = sent
        .iter()
        .filter(|l| l.as_str() == "GET /api/v1/main/executions/e1")
        .count();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = lines(&bed.requests().await);
    assert_eq!(
        later
            .iter()
            .filter(|l| l.as_str() == "GET /api/v1/main/executions/e1")
            .count(),
        0,
        "{polls} then {later:?}"
    );
}

#[tokio::test]
async fn a_cancelled_wait_kills_the_execution_with_kill_on_cancel() {
    let mut bed = bed_with(&[("KESTRA_MCP_KILL_ON_CANCEL", "true")], None).await;
    cancel_mid_wait(&mut bed).await;
    let sent = lines(&bed.requests().await);
    assert!(
        sent.iter().any(|l| l == "DELETE /api/v1/main/executions/e1/kill"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn at_the_wait_limit_the_result_says_it_is_still_running() {
    let mut bed = bed_with(&[("KESTRA_MCP_WAIT_LIMIT", "1.5")], None).await;
    let out = bed
        .server
        .call_ok(
            "execute_flow",
            json!({"namespace": "ns", "flow_id": "f", "wait": true}),
        )
        .await;
    assert_eq!(out["id"], "e1");
    assert_eq!(out["state"], json!({"current": "RUNNING"}));
    let note = out["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("Still RUNNING after 1.")
            && note.contains("KESTRA_MCP_WAIT_LIMIT")
            && note.contains("e1"),
        "{out}"
    );
}

/// A paused execution that the POST resume moves on to SUCCESS.
struct Pausing(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl wiremock::Respond for Pausing {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let resumed = self.0.load(std::sync::atomic::Ordering::SeqCst);
        let (current, pause_run) = match resumed {
            true => ("SUCCESS", "SUCCESS"),
            false => ("PAUSED", "PAUSED"),
        };
        let mut history = vec![
            json!({"state": "CREATED"}),
            json!({"state": "RUNNING"}),
            json!({"state": "PAUSED"}),
        ];
        if resumed {
            history.extend([json!({"state": "RUNNING"}), json!({"state": "SUCCESS"})]);
        }
        json_answer(json!({
            "id": "p1", "namespace": "ns", "flowId": "approval",
            "taskRunList": [{"id": "r0", "taskId": "approve", "state": {"current": pause_run}}],
            "state": {"current": current, "histories": history},
        }))
    }
}

struct Resume(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl wiremock::Respond for Resume {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        ResponseTemplate::new(204)
    }
}

/// A server whose client can be asked (elicitation), and a paused execution of a flow whose
/// Pause declares two onResume inputs.
async fn paused_bed() -> Bed {
    let bed = bed_for(json!({"elicitation": {}}), &[]).await;
    mount_paused(&bed).await;
    bed
}

/// A stub Kestra and a server whose client declared `capabilities`; the `initialize` result is
/// checked and returned along.
pub(crate) async fn bed_for(capabilities: Value, extra: &[(&str, &str)]) -> Bed {
    let kestra = wiremock::MockServer::start().await;
    let mut env = crate::util::env_for(&format!("{}/api/v1", kestra.uri()));
    env.push(("KESTRA_VERSION".into(), "1.3.0".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut server = crate::util::Server::spawn_with(&env, &[], std::process::Stdio::null());
    let init = server
        .request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": capabilities,
                   "clientInfo": {"name": "it", "version": "1"}}),
        )
        .await;
    assert_eq!(init["result"]["serverInfo"]["name"], "kestra-mcp", "{init}");
    server.notify("notifications/initialized", json!({})).await;
    Bed::around(kestra, server)
}

/// Kestra's side of execution p1 of ns.approval, paused at a Pause with two onResume inputs
/// until it is resumed.
pub(crate) async fn mount_paused(bed: &Bed) {
    let resumed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    bed.answer(
        "POST",
        "/api/v1/main/executions/ns/approval",
        json_answer(json!({"id": "p1"})),
    )
    .await;
    bed.answer(
        "GET",
        "/api/v1/main/executions/p1/follow",
        ResponseTemplate::new(404),
    )
    .await;
    bed.answer("GET", "/api/v1/main/executions/p1", Pausing(resumed.clone()))
        .await;
    bed.answer("POST", "/api/v1/main/executions/p1/resume", Resume(resumed))
        .await;
    let flow = json!({"id": "approval", "namespace": "ns", "tasks": [
    {"id": "approve", "type": "io.kestra.plugin.core.flow.Pause", "onResume": [
        {"id": "approved", "type": "BOOL", "defaults": "true", "description": "Approve?"},
        {"id": "comment", "type": "STRING", "required": true},
        {"id": "when", "type": "DATETIME", "required": false},
    ]}]});
    bed.answer("GET", "/api/v1/main/flows/ns/approval", json_answer(flow))
        .await;
}

/// Calls execute_flow with wait, answers the elicitation with `answer`; the form asked and the
/// result.
async fn ask_and_answer(bed: &mut Bed, answer: Value) -> (Value, Value) {
    let server = &mut bed.server;
    let id = server
        .send_request(
            "tools/call",
            json!({"name": "execute_flow", "arguments": {"namespace": "ns", "flow_id": "approval", "wait": true}}),
        )
        .await;
    let mut asked = Value::Null;
    loop {
        let msg = server.read_message().await;
        if msg["method"] == "elicitation/create" {
            asked = msg["params"].clone();
            let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": answer});
            server.send_line(&reply.to_string()).await;
        } else if msg["id"] == json!(id) {
            return (asked, result_json(&msg["result"]));
        }
    }
}

#[tokio::test]
async fn a_pause_asks_the_user_for_its_inputs_resumes_with_them_and_keeps_waiting() {
    let mut bed = paused_bed().await;
    let answer = json!({"action": "accept", "content": {"approved": false, "comment": "later"}});
    let (asked, out) = ask_and_answer(&mut bed, answer).await;
    assert_eq!(
        asked["requestedSchema"],
        json!({"type": "object", "required": ["comment"], "properties": {
            "approved": {"type": "boolean", "title": "approved", "description": "Approve?", "default": true},
            "comment": {"type": "string", "title": "comment"},
            "when": {"type": "string", "title": "when", "description": "(DATETIME, as text)"},
        }}),
        "{asked}"
    );
    assert!(
        asked["message"]
            .as_str()
            .unwrap_or_default()
            .contains("paused at task approve"),
        "{asked}"
    );
    assert_eq!(out["state"]["current"], "SUCCESS", "{out}");
    assert_eq!(
        out["resumedWith"],
        json!({"approved": false, "comment": "later"}),
        "{out}"
    );
    let resume = bed
        .requests()
        .await
        .into_iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/resume"))
        .expect("a resume was sent");
    let parts = crate::stub::multipart_parts(&resume);
    let values: Vec<(String, String)> = parts.into_iter().map(|(n, _, v)| (n, v)).collect();
    assert_eq!(
        values,
        vec![
            ("approved".into(), "false".into()),
            ("comment".into(), "later".into())
        ]
    );
}

#[tokio::test]
async fn a_declined_pause_stays_paused_and_says_how_to_resume() {
    let mut bed = paused_bed().await;
    let (_, out) = ask_and_answer(&mut bed, json!({"action": "decline"})).await;
    assert_eq!(out["state"]["current"], "PAUSED", "{out}");
    assert_eq!(out["pausedAt"], "approve");
    assert_eq!(out["resumeInputs"], json!(["approved", "comment", "when"]));
    let note = out["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("the user declined resuming it") && note.contains("resume_execution"),
        "{out}"
    );
    let sent = lines(&bed.requests().await);
    assert!(!sent.iter().any(|l| l.ends_with("/resume")), "{sent:?}");
}

/// An execution with two Pause tasks: at `approve` first, at `confirm` after one resume, ended
/// after two.
struct TwoPauses(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl wiremock::Respond for TwoPauses {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let resumes = self.0.load(std::sync::atomic::Ordering::SeqCst);
        let paused = |task: &str, state: &str| json!({"id": format!("r-{task}"), "taskId": task, "state": {"current": state}});
        let (current, runs, pauses) = match resumes {
            0 => ("PAUSED", vec![paused("approve", "PAUSED")], 1),
            1 => (
                "PAUSED",
                vec![paused("approve", "SUCCESS"), paused("confirm", "PAUSED")],
                2,
            ),
            _ => (
                "SUCCESS",
                vec![paused("approve", "SUCCESS"), paused("confirm", "SUCCESS")],
                2,
            ),
        };
        let mut history = vec![json!({"state": "CREATED"})];
        for _ in 0..pauses {
            history.extend([json!({"state": "RUNNING"}), json!({"state": "PAUSED"})]);
        }
        let outputs = match current {
            "SUCCESS" => json!({"approvedBy": "fine"}),
            _ => json!({}),
        };
        json_answer(
            json!({"id": "p2", "namespace": "ns", "flowId": "twice", "taskRunList": runs,
                   "state": {"current": current, "histories": history}, "outputs": outputs}),
        )
    }
}

struct CountResume(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl wiremock::Respond for CountResume {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ResponseTemplate::new(204)
    }
}

/// A server whose client can be asked, and execution p2 of ns.twice (two Pause tasks); the
/// count of resumes sent.
async fn two_pauses_bed() -> (Bed, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let bed = bed_for(json!({"elicitation": {}}), &[]).await;
    let resumes = mount_two_pauses(&bed).await;
    (bed, resumes)
}

/// Flow ns.twice: a Pause asking for a comment, then a Pause asking nothing.
pub(crate) fn twice_flow() -> Value {
    json!({"id": "twice", "namespace": "ns", "revision": 1, "tasks": [
        {"id": "approve", "type": "io.kestra.plugin.core.flow.Pause",
         "onResume": [{"id": "comment", "type": "STRING"}]},
        {"id": "confirm", "type": "io.kestra.plugin.core.flow.Pause"}]})
}

/// Kestra's side of execution p2 of ns.twice: paused at `approve`, then at `confirm`, ended
/// SUCCESS after the second resume; the count of resumes sent.
pub(crate) async fn mount_two_pauses(bed: &Bed) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    let resumes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    bed.answer(
        "POST",
        "/api/v1/main/executions/ns/twice",
        json_answer(json!({"id": "p2"})),
    )
    .await;
    bed.answer(
        "GET",
        "/api/v1/main/executions/p2/follow",
        ResponseTemplate::new(404),
    )
    .await;
    bed.answer("GET", "/api/v1/main/executions/p2", TwoPauses(resumes.clone()))
        .await;
    bed.answer(
        "POST",
        "/api/v1/main/executions/p2/resume",
        CountResume(resumes.clone()),
    )
    .await;
    bed.answer("GET", "/api/v1/main/flows/ns/twice", json_answer(twice_flow()))
        .await;
    resumes
}

/// Calls `name` with `arguments`, accepting each question with the next of `answers`; the
/// questions and the result.
pub(crate) async fn call_answering(
    bed: &mut Bed,
    name: &str,
    arguments: Value,
    answers: &[Value],
) -> (Vec<Value>, Value) {
    let server = &mut bed.server;
    let id = server
        .send_request("tools/call", json!({"name": name, "arguments": arguments}))
        .await;
    let mut asked = Vec::new();
    loop {
        let msg = server.read_message().await;
        if msg["method"] == "elicitation/create" {
            let answer = answers
                .get(asked.len())
                .cloned()
                .unwrap_or(json!({"action": "decline"}));
            asked.push(msg["params"].clone());
            let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": answer});
            server.send_line(&reply.to_string()).await;
        } else if msg["id"] == json!(id) {
            return (asked, result_json(&msg["result"]));
        }
    }
}

#[tokio::test]
async fn a_second_pause_asks_again() {
    let (mut bed, resumes) = two_pauses_bed().await;
    let answers = [
        json!({"action": "accept", "content": {"comment": "fine"}}),
        json!({"action": "accept", "content": {"resume": true}}),
    ];
    let arguments = json!({"namespace": "ns", "flow_id": "twice", "wait": true});
    let (asked, out) = call_answering(&mut bed, "execute_flow", arguments, &answers).await;
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("paused at task approve")
    );
    assert!(
        asked[1]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("paused at task confirm"),
        "{asked:?}"
    );
    assert_eq!(
        asked[1]["requestedSchema"]["properties"]["resume"]["type"], "boolean",
        "{asked:?}"
    );
    assert_eq!(out["state"]["current"], "SUCCESS", "{out}");
    assert_eq!(out["resumedWith"], json!({"resume": true}), "{out}");
    assert_eq!(resumes.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn resume_execution_with_wait_asks_at_the_next_pause() {
    let (mut bed, resumes) = two_pauses_bed().await;
    let answers = [json!({"action": "accept", "content": {"resume": true}})];
    let arguments = json!({"execution_ids": ["p2"], "on_resume": {"comment": "fine"}, "wait": true});
    let (asked, out) = call_answering(&mut bed, "resume_execution", arguments, &answers).await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("p2 of ns.twice is paused at task confirm"),
        "{asked:?}"
    );
    assert_eq!(out["state"]["current"], "SUCCESS", "{out}");
    assert_eq!(out["resumedWith"], json!({"resume": true}), "{out}");
    assert_eq!(resumes.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn resume_execution_with_wait_declined_at_the_next_pause_says_so() {
    let (mut bed, resumes) = two_pauses_bed().await;
    let arguments = json!({"execution_ids": ["p2"], "on_resume": {"comment": "fine"}, "wait": true});
    let (asked, out) = call_answering(&mut bed, "resume_execution", arguments, &[]).await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(out["state"]["current"], "PAUSED", "{out}");
    assert_eq!(out["pausedAt"], "confirm", "{out}");
    let note = out["note"].as_str().unwrap_or_default();
    assert!(note.contains("the user declined resuming it"), "{out}");
    assert_eq!(resumes.load(std::sync::atomic::Ordering::SeqCst), 1);
}
