//! Flows: create from YAML, search, find, update, revisions, enable/disable, delete; namespaces
//! and dependencies.

use std::time::Duration;

use serde_json::json;

use crate::api::Api;
use crate::ctx::Ctx;
use crate::scenarios::helpers::{poll, results};

fn hello(ns: &str, id: &str, description: &str) -> String {
    format!(
        r#"id: {id}
namespace: {ns}
description: "{description}"
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{{{ inputs.name }}}}"
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
    disabled: true
"#
    )
}

pub async fn flow_lifecycle(mut c: Ctx) {
    if !c.require(&[
        "create_flow_from_yaml",
        "manage_flow[get_yaml]",
        "manage_flow[delete]",
    ]) {
        return;
    }
    let ns = c.ns.clone();
    let id = format!("greeter_{}", &c.prefix[c.prefix.len() - 8..]);
    let created = c.create_flow(&hello(&ns, &id, "first")).await;
    assert_eq!(created["namespace"], json!(ns));
    let stored = c.api.flow(&ns, &id).await.json("flow");
    assert_eq!(stored["revision"], json!(1), "{stored}");
    assert!(stored["source"].as_str().unwrap_or_default().contains("first"));

    // Search: the free-text query finds it.
    if c.has("search_flows") {
        let found = c
            .ok("search_flows", json!({"query": id, "size": 10, "page": 1}))
            .await;
        let hits = results(&found);
        assert!(
            hits.iter()
                .any(|f| f["id"] == json!(id) && f["namespace"] == json!(ns)),
            "search_flows did not find {ns}.{id}: {found}"
        );
    }
    if c.has("find_flow") {
        let found = c.ok("find_flow", json!({"query": id, "namespace": ns})).await;
        assert_eq!(found["found"], json!(true), "find_flow: {found}");
        let text = found.to_string();
        assert!(text.contains(&id), "find_flow: {found}");
    }
    if c.has("list_flows_in_namespace") {
        let listed = c.ok("list_flows_in_namespace", json!({"namespace": ns})).await;
        assert!(results(&listed).iter().any(|f| f["id"] == json!(id)), "{listed}");
    }
    if c.has("list_flows_with_triggers") {
        let listed = c.ok("list_flows_with_triggers", json!({"namespace": ns})).await;
        assert!(
            listed.to_string().contains("nightly"),
            "list_flows_with_triggers: {listed}"
        );
    }

    // Update: the same namespace and id make a new revision.
    c.ok(
        "create_flow_from_yaml",
        json!({"yaml_definition": hello(&ns, &id, "second")}),
    )
    .await;
    let stored = c.api.flow(&ns, &id).await.json("flow");
    assert_eq!(
        stored["revision"],
        json!(2),
        "update did not make revision 2: {stored}"
    );
    if c.has("manage_flow[list_revisions]") {
        let revs = c
            .ok(
                "manage_flow",
                json!({"action": "list_revisions", "namespace": ns, "flow_id": id}),
            )
            .await;
        assert_eq!(results(&revs).len(), 2, "list_revisions: {revs}");
    }
    let source = c
        .ok(
            "manage_flow",
            json!({"action": "get_yaml", "namespace": ns, "flow_id": id}),
        )
        .await;
    assert!(source.to_string().contains("second"), "get_yaml: {source}");

    // Disable, enable: read back the flag.
    if c.has("manage_flow[disable]") {
        c.ok(
            "manage_flow",
            json!({"action": "disable", "namespace": ns, "flow_id": id}),
        )
        .await;
        let f = c.api.flow(&ns, &id).await.json("flow");
        assert_eq!(f["disabled"], json!(true), "disable: {f}");
    }
    if c.has("manage_flow[enable]") {
        c.ok(
            "manage_flow",
            json!({"action": "enable", "namespace": ns, "flow_id": id}),
        )
        .await;
        let f = c.api.flow(&ns, &id).await.json("flow");
        assert_eq!(f["disabled"], json!(false), "enable: {f}");
    }

    c.ok(
        "manage_flow",
        json!({"action": "delete", "namespace": ns, "flow_id": id}),
    )
    .await;
    let gone = c.api.flow(&ns, &id).await;
    assert_eq!(gone.status, 404, "deleted flow still readable: {}", gone.text);
}

pub async fn reserved_flow_ids(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml", "execute_flow"]) {
        return;
    }
    let ns = c.ns.clone();
    for word in ["pause", "resume", "kill"] {
        let yaml = format!(
            "id: {word}\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
        );
        c.made().made.flows.insert((ns.clone(), word.to_owned()));
        c.err("create_flow_from_yaml", json!({"yaml_definition": yaml}))
            .await;
        assert_eq!(c.api.flow(&ns, word).await.status, 404, "flow {word} was created");
        c.err("execute_flow", json!({"namespace": ns, "flow_id": word}))
            .await;
    }
    assert!(c.api.executions_of(&ns, None).await.is_empty());
}

pub async fn namespaces_and_dependencies(mut c: Ctx) {
    if !c.require(&["create_flow_from_yaml"]) {
        return;
    }
    let ns = c.ns.clone();
    let child = format!(
        "id: child\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: child\n"
    );
    let parent = format!(
        "id: parent\nnamespace: {ns}\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: {ns}\n    flowId: child\n"
    );
    c.create_flow(&child).await;
    c.create_flow(&parent).await;
    // Kestra computes the flow topology asynchronously from its flow queue: a real 2.0 answered
    // `{"nodes":[],"edges":[]}` right after the flows were created (Kestra's own FlowServiceTest
    // awaits the topology up to 10 s), so wait for the edge before asking the tools.
    let within = Duration::from_secs(if c.sim() { 10 } else { 60 });
    let at = format!(
        "/flows/{}/child/dependencies?destinationOnly=false&expandAll=false",
        Api::enc(&ns)
    );
    poll(within, Duration::from_millis(300), || async {
        let deps = c.api.get(&at).await.json("dependencies");
        if deps.to_string().contains("parent") {
            Ok(())
        } else {
            Err(format!("the server has no parent→child edge: {deps}"))
        }
    })
    .await;

    if c.has("manage_flow[list_dependencies]") {
        let out = c
            .ok(
                "manage_flow",
                json!({"action": "list_dependencies", "namespace": ns, "flow_id": "child"}),
            )
            .await;
        let text = out.to_string();
        assert!(
            text.contains("parent") && text.contains("child"),
            "list_dependencies: {out}"
        );
    }
    if c.has("list_namespace_dependencies") {
        let out = c
            .ok("list_namespace_dependencies", json!({"namespace": ns}))
            .await;
        let text = out.to_string();
        assert!(
            text.contains("parent") || text.contains(&ns),
            "list_namespace_dependencies: {out}"
        );
    }
    if c.has("list_namespaces") {
        let out = c.ok("list_namespaces", json!({"query": ns})).await;
        assert!(
            out.to_string().contains(&ns),
            "list_namespaces did not list {ns}: {out}"
        );
        let out = c.ok("list_namespaces", json!({"with_flows_only": true})).await;
        assert!(
            out.to_string().contains(&ns),
            "list_namespaces(with_flows_only) did not list {ns}: {out}"
        );
        let distinct = c
            .api
            .get("/flows/distinct-namespaces")
            .await
            .json("distinct namespaces");
        assert!(distinct.to_string().contains(&ns), "{distinct}");
    }
    if c.has("manage_flow[delete]") {
        for id in ["parent", "child"] {
            c.ok(
                "manage_flow",
                json!({"action": "delete", "namespace": ns, "flow_id": id}),
            )
            .await;
            assert_eq!(c.api.flow(&ns, id).await.status, 404);
        }
    }
}
