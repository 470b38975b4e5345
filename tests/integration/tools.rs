//! Every built-in tool and variant, called over stdio against the stub: the exact request sent
//! (method, path, query, content type, body) and the result returned.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::stub::{Bed, body_json, body_text, header, json, line, multipart_parts};
use crate::util::run;

/// Every (tool, variant) these tests exercise; `every_builtin_tool_and_variant_is_exercised`
/// keeps it equal to what `tools.d/` defines.
pub const EXERCISED: &[&str] = &[
    "create_flow_from_yaml",
    "execute_flow",
    "list_flows_in_namespace",
    "manage_flow[delete]",
    "manage_flow[disable]",
    "manage_flow[enable]",
    "manage_flow[get_yaml]",
    "manage_flow[list_revisions]",
    "manage_kv_store[delete]",
    "manage_kv_store[get]",
    "manage_kv_store[list]",
    "manage_kv_store[set]",
    "search_flows",
];

#[test]
fn every_builtin_tool_and_variant_is_exercised() {
    let (code, stdout, stderr) = run(&["tools", "list"], &[], None);
    assert_eq!(code, 0, "{stderr}");
    let mut listed: Vec<&str> = stdout.lines().filter_map(|l| l.split('\t').next()).collect();
    listed.sort();
    // One list per test module; add yours here.
    let mut exercised: Vec<&str> = [
        EXERCISED,
        crate::tools_stream::EXERCISED,
        crate::tools_catalog::EXERCISED,
        crate::tools_ee::EXERCISED,
        crate::tools_execution::EXERCISED,
    ]
    .concat();
    exercised.sort();
    assert_eq!(
        listed, exercised,
        "add a test for each new tool or variant, then list it in its module's EXERCISED"
    );
}

#[tokio::test]
async fn search_flows_in_source_uses_the_full_text_search() {
    let mut bed = Bed::start().await;
    // Shaped as the recorded answer (pair flows/source-search-q-Sleep, 1.3 and 2.0).
    let found = json!({"results": [{
        "model": {"id": "slow", "namespace": "company.team", "revision": 1, "disabled": false, "deleted": false,
                  "tasks": [{"id": "sleep", "type": "io.kestra.plugin.core.flow.Sleep", "duration": "PT20S"}], "triggers": []},
        "fragments": ["tasks:\n  - id: [mark]sleep[/mark]\n    type: io.kestra.plugin.core.flow.[mark]Sleep[/mark]"]
    }], "total": 1});
    bed.answer("GET", "/api/v1/main/flows/source", json(found)).await;
    let result = bed
        .server
        .call_ok(
            "search_flows",
            json!({"query": "Sleep", "in_source": true, "namespace": "company.team"}),
        )
        .await;
    assert_eq!(
        result,
        json!({"results": [{"id": "slow", "namespace": "company.team", "revision": 1, "disabled": false,
                            "fragments": ["tasks:\n  - id: [mark]sleep[/mark]\n    type: io.kestra.plugin.core.flow.[mark]Sleep[/mark]"]}],
               "total": 1})
    );
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/source?namespace=company.team&page=1&q=Sleep&size=10"
    );
    bed.reset().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/source",
        json(json!({"results": [], "total": 0})),
    )
    .await;
    let none = bed
        .server
        .call_ok("search_flows", json!({"query": "zzznomatch", "in_source": true}))
        .await;
    assert_eq!(none, json!({"results": [], "total": 0}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/source?page=1&q=zzznomatch&size=10"
    );
}

#[tokio::test]
async fn search_flows_sends_the_query_as_a_filter_with_paging() {
    let mut bed = Bed::start().await;
    let page = json!({"results": [{"id": "hello", "namespace": "company.team"}], "total": 1});
    bed.answer("GET", "/api/v1/main/flows/search", json(page.clone()))
        .await;
    let result = bed
        .server
        .call_ok("search_flows", json!({"query": "hello world"}))
        .await;
    // Rows: the fields an agent chooses a flow by (what Kestra did not send is null).
    let row = json!({"id": "hello", "namespace": "company.team", "revision": null, "disabled": null});
    assert_eq!(result, json!({"results": [row], "total": 1}));
    let req = bed.only_request().await;
    assert_eq!(
        line(&req),
        "GET /api/v1/main/flows/search?filters%5Bq%5D%5BEQUALS%5D=hello+world&page=1&size=10"
    );
    assert!(req.body.is_empty());

    bed.server
        .call_ok("search_flows", json!({"query": "x", "size": 50, "page": 3}))
        .await;
    let req = bed.only_request().await;
    assert_eq!(
        line(&req),
        "GET /api/v1/main/flows/search?filters%5Bq%5D%5BEQUALS%5D=x&page=3&size=50"
    );
}

#[tokio::test]
async fn list_flows_in_namespace_wraps_the_list() {
    let mut bed = Bed::start().await;
    let flows = json!([{"id": "a", "namespace": "company.team"}, {"id": "b", "namespace": "company.team"}]);
    bed.answer("GET", "/api/v1/main/flows/company.team", json(flows.clone()))
        .await;
    let result = bed
        .server
        .call_ok("list_flows_in_namespace", json!({"namespace": "company.team"}))
        .await;
    let rows = json!([{"id": "a", "namespace": "company.team", "revision": null, "disabled": null},
                      {"id": "b", "namespace": "company.team", "revision": null, "disabled": null}]);
    assert_eq!(result, json!({"results": rows}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/company.team"
    );
    let whole = bed
        .server
        .call_ok(
            "list_flows_in_namespace",
            json!({"namespace": "company.team", "full_detail": true}),
        )
        .await;
    assert_eq!(whole, json!({"results": flows}));
}

#[tokio::test]
async fn manage_kv_store_get_and_list() {
    let mut bed = Bed::start().await;
    bed.answer(
        "GET",
        "/api/v1/main/namespaces/company.team/kv/my_key",
        json(json!({"type": "STRING", "value": "v"})),
    )
    .await;
    let got = bed
        .server
        .call_ok(
            "manage_kv_store",
            json!({"namespace": "company.team", "action": "get", "key": "my_key"}),
        )
        .await;
    assert_eq!(got, json!({"type": "STRING", "value": "v"}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/namespaces/company.team/kv/my_key"
    );
}

#[tokio::test]
async fn manage_kv_store_list_follows_the_kestra_version() {
    // 1.3 (probed once from /configs): the per-namespace listing.
    let mut bed = Bed::start().await;
    bed.answer(
        "GET",
        "/api/v1/configs",
        json(json!({"version": "1.3.2", "edition": "OSS"})),
    )
    .await;
    let keys = json!([{"key": "a", "creationDate": "2026-01-01T00:00:00Z"}]);
    bed.answer(
        "GET",
        "/api/v1/main/namespaces/company.team/kv",
        json(keys.clone()),
    )
    .await;
    for _ in 0..2 {
        let listed = bed
            .server
            .call_ok(
                "manage_kv_store",
                json!({"namespace": "company.team", "action": "list"}),
            )
            .await;
        assert_eq!(listed, json!({"results": keys}));
    }
    let sent: Vec<String> = bed.requests().await.iter().map(line).collect();
    assert_eq!(
        sent,
        vec![
            "GET /api/v1/configs",
            "GET /api/v1/main/namespaces/company.team/kv",
            "GET /api/v1/main/namespaces/company.team/kv"
        ]
    );

    // 2.0 (from KESTRA_VERSION, no probe): the tenant-wide listing with a namespace filter.
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "2.0")]).await;
    bed.answer(
        "GET",
        "/api/v1/main/kv",
        json(json!({"results": keys, "total": 1})),
    )
    .await;
    let listed = bed
        .server
        .call_ok(
            "manage_kv_store",
            json!({"namespace": "company.team", "action": "list"}),
        )
        .await;
    assert_eq!(listed, json!({"results": keys}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/kv?filters%5Bnamespace%5D%5BEQUALS%5D=company.team&page=1&size=1000"
    );
}

#[tokio::test]
async fn a_version_that_cannot_be_learned_is_a_clear_error() {
    let mut bed = Bed::start().await;
    bed.answer("GET", "/api/v1/configs", ResponseTemplate::new(401))
        .await;
    let err = bed
        .server
        .call_err("manage_kv_store", json!({"namespace": "ns", "action": "list"}))
        .await;
    assert_eq!(
        err,
        "cannot learn the Kestra version from GET /configs (status 401); set KESTRA_VERSION, e.g. 1.3 or 2.0"
    );
    assert_eq!(bed.requests().await.len(), 1, "only the probe was sent");
}

#[tokio::test]
async fn manage_kv_store_set_sends_kestra_literals_as_text() {
    let mut bed = Bed::start().await;
    bed.answer(
        "PUT",
        "/api/v1/main/namespaces/ns/kv/k",
        ResponseTemplate::new(200),
    )
    .await;
    let cases = [
        (json!("hello"), "\"hello\""),
        (json!(42), "42"),
        (json!(true), "true"),
        (json!({"a": [1, 2]}), "{\"a\":[1,2]}"),
        (json!("2026-01-15"), "2026-01-15"),
        (json!("[1,2]"), "[1,2]"),
    ];
    for (value, sent) in cases {
        let result = bed
            .server
            .call_ok(
                "manage_kv_store",
                json!({"namespace": "ns", "action": "set", "key": "k", "value": value}),
            )
            .await;
        assert_eq!(result, json!({"status": "ok"}));
        let req = bed.only_request().await;
        assert_eq!(line(&req), "PUT /api/v1/main/namespaces/ns/kv/k");
        assert_eq!(header(&req, "content-type").as_deref(), Some("text/plain"));
        assert_eq!(body_text(&req), sent, "value {value}");
    }
    // Without a value Kestra would store an empty key and answer 200: refused before sending.
    for args in [
        json!({"namespace": "ns", "action": "set", "key": "k"}),
        json!({"namespace": "ns", "action": "set", "key": "k", "value": null}),
    ] {
        let err = bed.server.call_err("manage_kv_store", args).await;
        assert!(err.starts_with("`key` and `value` are required"), "{err}");
    }
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn manage_kv_store_delete_reports_the_answer_and_a_missing_key() {
    let mut bed = Bed::start().await;
    bed.answer("DELETE", "/api/v1/main/namespaces/ns/kv/k", json(json!(true)))
        .await;
    let result = bed
        .server
        .call_ok(
            "manage_kv_store",
            json!({"namespace": "ns", "action": "delete", "key": "k"}),
        )
        .await;
    assert_eq!(result, json!({"deleted": true}));
    assert_eq!(
        line(&bed.only_request().await),
        "DELETE /api/v1/main/namespaces/ns/kv/k"
    );

    bed.answer(
        "DELETE",
        "/api/v1/main/namespaces/ns/kv/gone",
        ResponseTemplate::new(404),
    )
    .await;
    let err = bed
        .server
        .call_err(
            "manage_kv_store",
            json!({"namespace": "ns", "action": "delete", "key": "gone"}),
        )
        .await;
    assert_eq!(err, "key 'gone' not found in namespace 'ns'");
}

#[tokio::test]
async fn manage_kv_store_variants_check_their_required_arguments() {
    let mut bed = Bed::start().await;
    for action in ["get", "set", "delete"] {
        let err = bed
            .server
            .call_err("manage_kv_store", json!({"namespace": "ns", "action": action}))
            .await;
        assert_eq!(err, format!("invalid arguments: action '{action}' needs 'key'"));
    }
    let err = bed
        .server
        .call_err("manage_kv_store", json!({"namespace": "ns", "action": "rename"}))
        .await;
    assert!(
        err.starts_with("invalid arguments: 'action': \"rename\" is not one of"),
        "{err}"
    );
    assert!(
        bed.requests().await.is_empty(),
        "no request may be sent for bad arguments"
    );
}

#[tokio::test]
async fn manage_flow_enable_and_disable_post_the_id_list() {
    let mut bed = Bed::start().await;
    for action in ["enable", "disable"] {
        let at = format!("/api/v1/main/flows/{action}/by-ids");
        bed.answer("POST", &at, json(json!({"count": 1}))).await;
        let result = bed
            .server
            .call_ok(
                "manage_flow",
                json!({"action": action, "namespace": "company.team", "flow_id": "hello"}),
            )
            .await;
        let past = format!("{action}d");
        assert_eq!(result, json!({"count": 1, "status": past}));
        let req = bed.only_request().await;
        assert_eq!(line(&req), format!("POST {at}"));
        assert_eq!(header(&req, "content-type").as_deref(), Some("application/json"));
        assert_eq!(
            body_json(&req),
            json!([{"namespace": "company.team", "id": "hello"}])
        );
    }
}

#[tokio::test]
async fn manage_flow_reads_revisions_and_source() {
    let mut bed = Bed::start().await;
    let revisions = json!([{"id": "hello", "revision": 1}, {"id": "hello", "revision": 2}]);
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team/hello/revisions",
        json(revisions.clone()),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "manage_flow",
            json!({"action": "list_revisions", "namespace": "company.team", "flow_id": "hello"}),
        )
        .await;
    assert_eq!(result, json!({"results": revisions}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/company.team/hello/revisions"
    );

    let source = "id: hello\nnamespace: company.team\ntasks: []\n";
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team/hello",
        json(json!({"id": "hello", "source": source})),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "manage_flow",
            json!({"action": "get_yaml", "namespace": "company.team", "flow_id": "hello"}),
        )
        .await;
    assert_eq!(result, json!({"result": source}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/company.team/hello?allowDeleted=false&source=true"
    );
}

#[tokio::test]
async fn manage_flow_delete_maps_204() {
    let mut bed = Bed::start().await;
    bed.answer(
        "DELETE",
        "/api/v1/main/flows/company.team/hello",
        ResponseTemplate::new(204),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "manage_flow",
            json!({"action": "delete", "namespace": "company.team", "flow_id": "hello"}),
        )
        .await;
    assert_eq!(
        result,
        json!({"status": "deleted", "namespace": "company.team", "flow_id": "hello"})
    );
    assert_eq!(
        line(&bed.only_request().await),
        "DELETE /api/v1/main/flows/company.team/hello"
    );
}

#[tokio::test]
async fn execute_flow_sends_inputs_as_multipart_and_labels_as_query() {
    let mut bed = Bed::start().await;
    let execution =
        json!({"id": "6Fh", "namespace": "company.team", "flowId": "hello", "state": {"current": "CREATED"}});
    bed.answer(
        "POST",
        "/api/v1/main/executions/company.team/hello",
        json(execution.clone()),
    )
    .await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team/hello",
        json(json!({"id": "hello", "namespace": "company.team", "inputs": [
            {"id": "name", "type": "STRING", "required": true, "defaults": "world"},
            {"id": "count", "type": "INT", "required": true, "defaults": "1"},
            {"id": "conf", "type": "JSON", "required": false}
        ]})),
    )
    .await;
    let args = json!({
        "namespace": "company.team", "flow_id": "hello",
        "inputs": {"name": "Ada", "count": 3, "conf": {"deep": true}},
        "labels": {"env": "prod", "team": "data"},
    });
    let result = bed.server.call_ok("execute_flow", args).await;
    assert_eq!(result, execution);
    let mut sent = bed.requests().await;
    assert_eq!(
        line(&sent[0]),
        "GET /api/v1/main/flows/company.team/hello?source=false"
    );
    assert_eq!(sent.len(), 2, "the flow, then the execution");
    let req = sent.remove(1);
    assert_eq!(
        line(&req),
        "POST /api/v1/main/executions/company.team/hello?labels=env%3Aprod&labels=team%3Adata&wait=false"
    );
    let parts = multipart_parts(&req);
    assert_eq!(
        parts,
        vec![
            ("name".to_owned(), None, "Ada".to_owned()),
            ("count".to_owned(), None, "3".to_owned()),
            ("conf".to_owned(), None, "{\"deep\":true}".to_owned()),
        ]
    );
}

#[tokio::test]
async fn execute_flow_refuses_inputs_the_flow_does_not_declare() {
    let mut bed = Bed::start().await;
    // 2.0's FORM input groups children, sent as `env.region` (pair flows/get-all_inputs).
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team/order",
        json(json!({"id": "order", "namespace": "company.team", "inputs": [
            {"id": "quantity", "type": "INT", "required": true, "defaults": "1"},
            {"id": "env", "type": "FORM", "required": true, "inputs": [
                {"id": "region", "type": "STRING", "required": true, "defaults": "eu-west-1"},
                {"id": "replicas", "type": "INT", "required": true, "defaults": "2"}
            ]}
        ]})),
    )
    .await;
    bed.answer(
        "POST",
        "/api/v1/main/executions/company.team/order",
        json(json!({"id": "e1"})),
    )
    .await;
    let err = bed
        .server
        .call_err(
            "execute_flow",
            json!({"namespace": "company.team", "flow_id": "order", "inputs": {"qty": 3}}),
        )
        .await;
    assert_eq!(
        err,
        "Flow 'company.team.order' does not declare the input \"qty\" (Kestra would ignore it and run with the defaults); its inputs are: quantity, env, env.region, env.replicas. Nothing was started."
    );
    assert_eq!(
        bed.requests().await.iter().map(line).collect::<Vec<_>>(),
        vec!["GET /api/v1/main/flows/company.team/order?source=false"]
    );

    let started = bed
        .server
        .call_ok(
            "execute_flow",
            json!({"namespace": "company.team", "flow_id": "order", "revision": 2,
                   "inputs": {"quantity": 3, "env.region": "us-east-1"}}),
        )
        .await;
    assert_eq!(started, json!({"id": "e1"}));
    assert_eq!(
        bed.requests().await.iter().map(line).collect::<Vec<_>>(),
        vec![
            "GET /api/v1/main/flows/company.team/order?revision=2&source=false",
            "POST /api/v1/main/executions/company.team/order?revision=2&wait=false"
        ]
    );

    // A flow without inputs, and a flow that does not exist.
    bed.reset().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team/plain",
        json(json!({"id": "plain", "namespace": "company.team"})),
    )
    .await;
    let err = bed
        .server
        .call_err(
            "execute_flow",
            json!({"namespace": "company.team", "flow_id": "plain", "inputs": {"a": 1, "b": 2}}),
        )
        .await;
    assert!(
        err.starts_with(
            "Flow 'company.team.plain' does not declare the inputs \"a\", \"b\" (Kestra would ignore them"
        ),
        "{err}"
    );
    assert!(err.contains("it declares no inputs"), "{err}");
    let err = bed
        .server
        .call_err(
            "execute_flow",
            json!({"namespace": "company.team", "flow_id": "nope", "inputs": {"a": 1}}),
        )
        .await;
    assert_eq!(err, "Flow 'company.team.nope' not found; nothing was started.");
}

#[tokio::test]
async fn execute_flow_options_and_label_shapes() {
    let mut bed = Bed::start().await;
    bed.answer("POST", "/api/v1/main/executions/ns/f", json(json!({"id": "e"})))
        .await;
    let args = json!({
        "namespace": "ns", "flow_id": "f", "revision": 4,
        "labels": [{"key": "a", "value": "1"}], "schedule_date": "2026-12-01T10:00:00Z",
    });
    bed.server.call_ok("execute_flow", args).await;
    let req = bed.only_request().await;
    assert_eq!(
        line(&req),
        "POST /api/v1/main/executions/ns/f?labels=a%3A1&revision=4&scheduleDate=2026-12-01T10%3A00%3A00Z&wait=false"
    );
    assert!(req.body.is_empty(), "no inputs: no body");
    assert_eq!(header(&req, "content-type"), None);

    bed.server
        .call_ok(
            "execute_flow",
            json!({"namespace": "ns", "flow_id": "f", "labels": ["x:y"]}),
        )
        .await;
    assert_eq!(
        line(&bed.only_request().await),
        "POST /api/v1/main/executions/ns/f?labels=x%3Ay&wait=false"
    );
}

#[tokio::test]
async fn execute_flow_refuses_reserved_flow_ids_before_sending() {
    let mut bed = Bed::start().await;
    for reserved in ["pause", "kill", "search"] {
        let err = bed
            .server
            .call_err("execute_flow", json!({"namespace": "ns", "flow_id": reserved}))
            .await;
        assert!(err.starts_with("invalid arguments: 'flow_id'"), "{err}");
    }
    let err = bed
        .server
        .call_err(
            "execute_flow",
            json!({"namespace": "ns", "flow_id": "f", "labels": ["nocolon"]}),
        )
        .await;
    assert!(err.starts_with("invalid arguments: 'labels'"), "{err}");
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn tools_list_shows_schemas_annotations_and_output_schemas() {
    let mut bed = Bed::start().await;
    let reply = bed.server.request("tools/list", json!({})).await;
    let tools = reply["result"]["tools"].as_array().expect("tools").clone();
    let by_name = |n: &str| -> Value { tools.iter().find(|t| t["name"] == n).cloned().expect(n) };
    let search = by_name("search_flows");
    assert_eq!(search["inputSchema"]["required"], json!(["query"]));
    assert_eq!(search["inputSchema"]["properties"]["size"]["default"], json!(10));
    assert_eq!(search["inputSchema"]["additionalProperties"], json!(false));
    assert_eq!(search["annotations"]["readOnlyHint"], json!(true));
    // "Any object" says nothing: no outputSchema is advertised for it.
    assert!(search.get("outputSchema").is_none(), "{search}");
    // Hints equal to MCP's defaults (readOnlyHint false, destructiveHint true, idempotentHint
    // false, openWorldHint true) are left out; openWorldHint false is said.
    assert_eq!(search["annotations"]["openWorldHint"], json!(false));
    let kv = by_name("manage_kv_store");
    assert_eq!(
        kv["annotations"],
        json!({"idempotentHint": true, "openWorldHint": false}),
        "not read-only, destructive"
    );
    assert_eq!(
        kv["inputSchema"]["properties"]["action"]["enum"],
        json!(["get", "set", "list", "delete"])
    );
    let execute = by_name("execute_flow");
    assert_eq!(
        execute["annotations"],
        json!({"destructiveHint": false, "openWorldHint": false})
    );
}

#[tokio::test]
async fn create_flow_from_yaml_creates_or_falls_back_to_update() {
    let mut bed = Bed::start().await;
    let source = "id: hello\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    bed.answer(
        "POST",
        "/api/v1/main/flows",
        json(json!({"id": "hello", "namespace": "company.team", "revision": 1})),
    )
    .await;
    let created = bed
        .server
        .call_ok("create_flow_from_yaml", json!({"yaml_definition": source}))
        .await;
    assert_eq!(
        created,
        json!({"id": "hello", "namespace": "company.team", "revision": 1})
    );
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/main/flows");
    assert_eq!(
        header(&req, "content-type").as_deref(),
        Some("application/x-yaml")
    );
    assert_eq!(body_text(&req), source);

    bed.reset().await;
    bed.answer(
        "POST",
        "/api/v1/main/flows",
        ResponseTemplate::new(422).set_body_json(json!({"message": "Flow id already exists"})),
    )
    .await;
    bed.answer(
        "PUT",
        "/api/v1/main/flows/company.team/hello",
        json(json!({"id": "hello", "revision": 2})),
    )
    .await;
    let updated = bed
        .server
        .call_ok("create_flow_from_yaml", json!({"yaml_definition": source}))
        .await;
    assert_eq!(updated, json!({"id": "hello", "revision": 2}));
    let sent = bed.requests().await;
    assert_eq!(
        sent.iter().map(line).collect::<Vec<_>>(),
        vec![
            "POST /api/v1/main/flows",
            "PUT /api/v1/main/flows/company.team/hello"
        ]
    );
    assert_eq!(body_text(&sent[1]), source);
}

/// Kestra's 422 body for `message` and `errors` (`[(path, message)]`), as 1.3 and 2.0 send it.
fn invalid_entity(message: &str, errors: &[(Option<&str>, &str)]) -> ResponseTemplate {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(path, message)| json!({"message": message, "logref": null, "path": path, "_links": {}, "_embedded": {}}))
        .collect();
    ResponseTemplate::new(422).set_body_json(json!({
        "message": message, "logref": null, "path": null,
        "_links": {"self": {"href": "/api/v1/main/flows", "templated": false}},
        "_embedded": {"errors": errors}
    }))
}

#[tokio::test]
async fn create_flow_from_yaml_tells_an_existing_flow_from_an_invalid_one() {
    let mut bed = Bed::start().await;
    let source = "id: hello\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    // The recorded answer to an existing flow (pair flows/create-existing-flow, 1.3 and 2.0).
    bed.answer(
        "POST",
        "/api/v1/main/flows",
        invalid_entity(
            "Invalid entity: flow.id: Flow id already exists",
            &[(Some("flow.id"), "Flow id already exists")],
        ),
    )
    .await;
    bed.answer(
        "PUT",
        "/api/v1/main/flows/company.team/hello",
        json(json!({"id": "hello", "revision": 3})),
    )
    .await;
    let updated = bed
        .server
        .call_ok("create_flow_from_yaml", json!({"yaml_definition": source}))
        .await;
    assert_eq!(updated, json!({"id": "hello", "revision": 3}));
    assert_eq!(bed.requests().await.len(), 2);

    // Any other 422 is the YAML's fault: every message, with its path, and no update.
    bed.reset().await;
    bed.answer(
        "POST",
        "/api/v1/main/flows",
        invalid_entity(
            "Invalid entity: Invalid type: io.kestra.plugin.core.log.DoesNotExist",
            &[
                (
                    Some("io.kestra.core.models.flows.FlowWithSource[\"tasks\"]->java.util.ArrayList[0]"),
                    "Invalid type: io.kestra.plugin.core.log.DoesNotExist",
                ),
                (
                    None,
                    "No plugin registered for the defined type: 'io.kestra.plugin.core.log.DoesNotExist'",
                ),
            ],
        ),
    )
    .await;
    let err = bed
        .server
        .call_err("create_flow_from_yaml", json!({"yaml_definition": source}))
        .await;
    assert_eq!(
        err,
        "Kestra refused the flow 'company.team.hello' (422): Invalid entity: Invalid type: io.kestra.plugin.core.log.DoesNotExist\n\
- io.kestra.core.models.flows.FlowWithSource[\"tasks\"]->java.util.ArrayList[0]: Invalid type: io.kestra.plugin.core.log.DoesNotExist\n\
- No plugin registered for the defined type: 'io.kestra.plugin.core.log.DoesNotExist'\n\
Fix the YAML and try again."
    );
    assert_eq!(
        bed.requests().await.iter().map(line).collect::<Vec<_>>(),
        vec!["POST /api/v1/main/flows"]
    );

    // An existing flow whose new source is invalid: the update's refusal is reported.
    bed.reset().await;
    bed.answer(
        "POST",
        "/api/v1/main/flows",
        ResponseTemplate::new(409).set_body_json(json!({"message": "Conflict"})),
    )
    .await;
    bed.answer(
        "PUT",
        "/api/v1/main/flows/company.team/hello",
        invalid_entity(
            "Invalid entity: tasks: must not be empty",
            &[(Some("tasks"), "must not be empty")],
        ),
    )
    .await;
    let err = bed
        .server
        .call_err("create_flow_from_yaml", json!({"yaml_definition": source}))
        .await;
    assert!(
        err.starts_with("Kestra refused the flow 'company.team.hello' (422): Invalid entity: tasks: must not be empty\n- tasks: must not be empty\n"),
        "{err}"
    );
    assert_eq!(bed.requests().await.len(), 2);
}

#[tokio::test]
async fn create_flow_from_yaml_checks_the_yaml_before_sending() {
    let mut bed = Bed::start().await;
    let cases = [
        ("id: [unclosed", "invalid YAML"),
        (
            "namespace: company.team\ntasks: []\n",
            "the YAML must be a mapping with `id` and `namespace`",
        ),
        (
            "- a\n- b\n",
            "the YAML must be a mapping with `id` and `namespace`",
        ),
        (
            "id: pause\nnamespace: company.team\n",
            "'pause' is a reserved word and cannot be a flow id",
        ),
    ];
    for (yaml, want) in cases {
        let err = bed
            .server
            .call_err("create_flow_from_yaml", json!({"yaml_definition": yaml}))
            .await;
        assert!(err.contains(want), "{yaml:?}: {err}");
    }
    assert!(bed.requests().await.is_empty());
}
