//! Issue 13: the errors an agent could not act on are now actionable. Each scenario checks the
//! tool's answer (the `isError` text an agent reads) and what the server then holds, read back
//! through the API: a refusal changed nothing, a success changed what it says.

use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::scenarios::safety::prism_saw;

const UNKNOWN_TYPE: &str = "io.kestra.plugin.core.log.DoesNotExist";

fn flow_yaml(ns: &str, id: &str, task_type: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ninputs:\n  - id: name\n    type: STRING\n    defaults: world\n  - id: count\n    type: INT\n    defaults: 1\ntasks:\n  - id: say\n    type: {task_type}\n    message: \"{message}\"\n"
    )
}

/// `create_flow_from_yaml`: an unknown task type is refused with Kestra's validation messages
/// and nothing is created or updated (a refusal that does not say the flow exists never leads to
/// an update); a valid YAML for an existing flow updates it. `search_flows` with `in_source`
/// then finds the flow by a task type written in its source.
pub async fn flow_yaml_refusals_and_source_search(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml"]) {
        return;
    }
    let ns = c.ns.clone();
    // A new flow with an unknown task type: refused, and the flow does not exist.
    c.made().made.flows.insert((ns.clone(), "ghost".into()));
    let text = c
        .err(
            "create_flow_from_yaml",
            json!({"yaml_definition": flow_yaml(&ns, "ghost", UNKNOWN_TYPE, "hi")}),
        )
        .await;
    assert_unknown_type_refusal(&c, &text, &ns, "ghost");
    let held = c.api.flow(&ns, "ghost").await;
    assert_eq!(
        held.status, 404,
        "[{}] a refused flow exists: {}",
        c.target.label, held.text
    );

    // An existing flow and an unknown task type: refused, the flow unchanged, no update sent.
    let good = flow_yaml(&ns, "greeter", "io.kestra.plugin.core.log.Log", "hello");
    c.create_flow(&good).await;
    let text = c
        .err(
            "create_flow_from_yaml",
            json!({"yaml_definition": flow_yaml(&ns, "greeter", UNKNOWN_TYPE, "broken")}),
        )
        .await;
    assert_unknown_type_refusal(&c, &text, &ns, "greeter");
    let held = c.api.flow(&ns, "greeter").await.json("read back greeter");
    assert_eq!(
        held["revision"],
        json!(1),
        "[{}] a refused YAML changed the flow: {held}",
        c.target.label
    );
    assert_eq!(held["tasks"][0]["message"], json!("hello"), "{held}");
    if let Some(seen) = prism_saw(&c, "PUT", &format!("/flows/{ns}/greeter")) {
        assert!(
            !seen,
            "[{}] create_flow_from_yaml sent an update for a YAML Kestra refused",
            c.target.label
        );
    }

    // The same flow with a valid change: updated to revision 2.
    let changed = flow_yaml(&ns, "greeter", "io.kestra.plugin.core.log.Log", "hello again");
    let out = c
        .ok("create_flow_from_yaml", json!({"yaml_definition": changed}))
        .await;
    assert_eq!(out["revision"], json!(2), "update answer: {out}");
    let held = c.api.flow(&ns, "greeter").await.json("read back greeter");
    assert_eq!(held["revision"], json!(2), "{held}");
    assert_eq!(held["tasks"][0]["message"], json!("hello again"), "{held}");

    if c.has("search_flows") {
        source_search_finds_task_type(&mut c, &ns).await;
    }
}

fn assert_unknown_type_refusal(c: &Ctx, text: &str, ns: &str, id: &str) {
    for want in [
        format!("Kestra refused the flow '{ns}.{id}' (422)"),
        format!("Invalid type: {UNKNOWN_TYPE}"),
        format!("No plugin registered for the defined type: '{UNKNOWN_TYPE}'"),
        "Fix the YAML".to_owned(),
    ] {
        assert!(
            text.contains(&want),
            "[{}] the refusal does not say `{want}`: {text}",
            c.target.label
        );
    }
}

/// A Sleep flow is found by its task type in its source (with the match marked), a flow without
/// it is not; the flows are what the server holds.
async fn source_search_finds_task_type(c: &mut Ctx, ns: &str) {
    c.create_flow(&format!(
        "id: sleeper\nnamespace: {ns}\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1S\n"
    ))
    .await;
    let found = c
        .ok(
            "search_flows",
            json!({"query": "io.kestra.plugin.core.flow.Sleep", "in_source": true, "namespace": ns}),
        )
        .await;
    let ids: Vec<&str> = found["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["sleeper"],
        "[{}] in_source search by task type: {found}",
        c.target.label
    );
    assert_eq!(found["total"], json!(1), "{found}");
    let fragment = found["results"][0]["fragments"][0].as_str().unwrap_or("");
    assert!(
        fragment.contains("[mark]") && fragment.contains("Sleep"),
        "[{}] the fragment does not show the match: {found}",
        c.target.label
    );
    let held = c.api.flow(ns, "sleeper").await.json("read back sleeper");
    assert_eq!(
        held["tasks"][0]["type"],
        json!("io.kestra.plugin.core.flow.Sleep"),
        "{held}"
    );
}

/// `execute_flow` with an input the flow does not declare is refused with the valid names and
/// starts nothing; `list_executions` gives each execution's `durationSeconds`, agreeing with
/// the execution's state as the server holds it.
pub async fn execute_unknown_input_and_duration(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&flow_yaml(&ns, "greeter", "io.kestra.plugin.core.log.Log", "hi"))
        .await;
    let text = c
        .err(
            "execute_flow",
            json!({"namespace": ns, "flow_id": "greeter", "inputs": {"nmae": "typo"}}),
        )
        .await;
    for want in ["\"nmae\"", "its inputs are: name, count", "Nothing was started"] {
        assert!(
            text.contains(want),
            "[{}] the refusal does not say `{want}`: {text}",
            c.target.label
        );
    }
    let runs = c.api.executions_of(&ns, Some("greeter")).await;
    assert!(
        runs.is_empty(),
        "[{}] a refused execute_flow started an execution: {runs:?}",
        c.target.label
    );

    if !c.has("list_executions") {
        return;
    }
    let id = c
        .execute(&ns, "greeter", json!({"inputs": {"name": "agent"}}))
        .await;
    let held = c.wait_state(&id, &["SUCCESS"]).await;
    let listed = c
        .ok("list_executions", json!({"namespace": ns, "flow_id": "greeter"}))
        .await;
    let row = listed["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == json!(id))
        .cloned()
        .unwrap_or_else(|| panic!("[{}] {id} not listed: {listed}", c.target.label));
    let seconds = row["durationSeconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("[{}] durationSeconds is not a number: {row}", c.target.label));
    let held_seconds = iso_duration_seconds(&held["state"]["duration"]);
    assert!(
        (seconds - held_seconds).abs() < 0.001,
        "[{}] durationSeconds {seconds} differs from the execution's duration {} ({held_seconds} s)",
        c.target.label,
        held["state"]["duration"]
    );
}

/// Seconds of an ISO 8601 duration as Kestra writes `state.duration` (`PT2.162455S`, `PT1M3S`).
fn iso_duration_seconds(v: &Value) -> f64 {
    let s = v.as_str().unwrap_or_else(|| panic!("no duration: {v}"));
    let mut total = 0.0;
    let mut number = String::new();
    for ch in s.trim_start_matches("PT").chars() {
        match ch {
            'H' | 'M' | 'S' => {
                let n: f64 = number.parse().unwrap_or_else(|_| panic!("duration {s}"));
                total += n * match ch {
                    'H' => 3600.0,
                    'M' => 60.0,
                    _ => 1.0,
                };
                number.clear();
            }
            _ => number.push(ch),
        }
    }
    total
}

/// `manage_kv_store` set without a value is refused and creates no key.
pub async fn kv_set_without_value(mut c: Ctx) {
    if !c.require(&["manage_kv_store[set]"]) {
        return;
    }
    let ns = c.ns.clone();
    c.made().made.kv.insert((ns.clone(), "forgotten".into()));
    let text = c
        .err(
            "manage_kv_store",
            json!({"namespace": ns, "action": "set", "key": "forgotten"}),
        )
        .await;
    assert!(
        text.contains("'set' needs a value"),
        "[{}] the refusal does not say a value is needed: {text}",
        c.target.label
    );
    let held = c.api.kv(&ns, "forgotten").await;
    assert_eq!(
        held.status, 404,
        "[{}] a refused set created the key: {}",
        c.target.label, held.text
    );
}

/// `namespace_directory_action` list of a missing directory is an error result naming it;
/// `namespace_file_action` search with an empty `q` lists every file the server holds.
pub async fn missing_directory_and_empty_file_search(mut c: Ctx) {
    if !c.require(&[
        "namespace_directory_action[list]",
        "namespace_file_action[create]",
        "namespace_file_action[search]",
    ]) {
        return;
    }
    let ns = c.ns.clone();
    let text = c
        .err(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "list", "path": "/nope"}),
        )
        .await;
    assert!(
        text.contains("'/nope' does not exist"),
        "[{}] the refusal does not name the missing directory: {text}",
        c.target.label
    );
    assert_eq!(c.api.directory(&ns, "/nope").await.status, 404);

    let files = ["/a.txt", "/docs/b.md", "/docs/deep/c.py"];
    for (i, path) in files.iter().enumerate() {
        c.made().made.files.insert((ns.clone(), (*path).to_owned()));
        c.ok(
            "namespace_file_action",
            json!({"namespace": ns, "action": "create", "path": path, "file_content": format!("file {i}\n")}),
        )
        .await;
    }
    c.made().made.files.insert((ns.clone(), "/docs".into()));
    for q in [json!(""), Value::Null] {
        let found = c
            .ok(
                "namespace_file_action",
                json!({"namespace": ns, "action": "search", "q": q}),
            )
            .await;
        let mut listed: Vec<&str> = found["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        listed.sort_unstable();
        assert_eq!(
            listed,
            files.to_vec(),
            "[{}] search with q={q} must list every file: {found}",
            c.target.label
        );
    }
    for path in files {
        let held = c.api.file(&ns, path).await;
        assert!(held.ok(), "{path}: {} {}", held.status, held.text);
    }
}
