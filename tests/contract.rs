//! Contract tests: every request every tool in `tools.d/` can send, checked against Kestra's
//! OpenAPI description of each Kestra version the request claims, by the checker
//! `kestra-mcp tools validate` runs (src/contract: synthesised arguments, Micronaut-style
//! routing to the declared `operation`, query parameters, bodies against their schemas; the
//! descriptions in openapi/ with the reviewed overlay applied, the same entries Prism uses).
//!
//! Then the checker is shown to catch what it should: a 1.x action path claimed for 2.0, an
//! undeclared operation, unknown paths and methods, query and body mistakes, refused
//! arguments, and that the overlay relaxes only what it names.
//! Run: `cargo test -p kestra-mcp --test contract -- --nocapture` (prints the summary line).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kestra_mcp::contract::{Descriptions, Report, check_engine, offline_engine, spec_texts};
use kestra_mcp::spec::{KNOWN_KESTRA_VERSIONS, LoadOptions, load_catalog};
use serde_json::json;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn descriptions() -> &'static Descriptions {
    static DESCRIPTIONS: OnceLock<Descriptions> = OnceLock::new();
    DESCRIPTIONS.get_or_init(|| Descriptions::bundled().unwrap_or_else(|e| panic!("{e}")))
}

/// Checks the specs of `dir` alone; a spec that does not load is a violation too.
fn check_dir(dir: &Path) -> (Report, Vec<String>) {
    let options = LoadOptions {
        tools_dir: Some(dir.to_path_buf()),
        no_builtin: true,
        skip_invalid: true,
        lazy: false,
    };
    let catalog = load_catalog(&options).unwrap_or_else(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("the tool specs do not load:\n  {}", list.join("\n  "))
    });
    let broken: Vec<String> = catalog
        .warnings
        .iter()
        .filter(|w| w.starts_with("skipped: "))
        .cloned()
        .collect();
    let engine = offline_engine(catalog).unwrap_or_else(|e| panic!("{e}"));
    (
        check_engine(&engine, descriptions(), &spec_texts(&options)),
        broken,
    )
}

/// Checks specs written to a temporary tools directory.
fn check_specs(specs: &[(&str, &str)]) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in specs {
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).expect("write spec");
    }
    let (report, broken) = check_dir(dir.path());
    assert!(broken.is_empty(), "{broken:?}");
    report
}

#[test]
fn every_tool_request_fits_the_openapi_description_of_each_version_it_claims() {
    // The directory, read now, rather than the copy compiled into the binary: whatever
    // tools.d/ contains when the test runs is checked.
    let (report, broken) = check_dir(&root().join("tools.d"));
    assert!(broken.is_empty(), "specs that do not load: {broken:?}");
    for (_, desc) in descriptions().iter() {
        eprintln!(
            "contract: Kestra {} ← {} + overlay ({})",
            desc.version,
            desc.file,
            desc.overlay.join("; ")
        );
    }
    for note in &report.notes {
        eprintln!("contract: note: {note}");
    }
    eprintln!("{}", report.summary());
    assert!(report.tools > 0, "no tools found in tools.d/");
    for known in KNOWN_KESTRA_VERSIONS {
        assert!(
            report.checked.get(*known).copied().unwrap_or(0) > 0,
            "no request was checked for Kestra {known}"
        );
    }
    let lines = report.lines();
    assert!(
        lines.is_empty(),
        "{} contract violation(s):\n  {}\n{}",
        lines.len(),
        lines.join("\n  "),
        report.summary()
    );
}

// ---------------------------------------------------------------------------------------------
// The checker catches what it should.
// ---------------------------------------------------------------------------------------------

fn tool(name: &str, input: &str, request: &str) -> String {
    format!("name: {name}\ngroup: execution\ndescription: A test tool.\ninput:\n{input}\n{request}")
}

const EXECUTION_ID_INPUT: &str =
    "  type: object\n  properties:\n    execution_id: {type: string}\n  required: [execution_id]";

fn assert_reported(report: &Report, needles: &[&str]) {
    let lines = report.lines();
    assert!(
        lines.iter().any(|l| needles.iter().all(|n| l.contains(n))),
        "expected a violation containing {needles:?}, got:\n  {}",
        lines.join("\n  ")
    );
}

#[test]
fn a_1x_action_path_claimed_for_2_0_is_reported_as_landing_on_create_execution() {
    let spec = tool(
        "pause_old_style",
        EXECUTION_ID_INPUT,
        "request:\n  kestra: \">=2.0\"\n  operation: pauseExecution\n  method: POST\n  path: /executions/{{ execution_id }}/pause\n",
    );
    let report = check_specs(&[("pause_old_style", &spec)]);
    assert_reported(
        &report,
        &[
            "pause_old_style 2.0.0",
            "resolves to createExecution",
            "pauseExecution",
        ],
    );
    assert_eq!(
        report.checked.get("1.3.0"),
        None,
        "a >=2.0 request is not checked against 1.3"
    );

    // The same path is right on 1.3, and the 2.0 path is right on 2.0.
    let spec = tool(
        "pause_versioned",
        EXECUTION_ID_INPUT,
        "requests:\n  - kestra: \"<2.0\"\n    operation: pauseExecution\n    method: POST\n    path: /executions/{{ execution_id }}/pause\n  - kestra: \">=2.0\"\n    operation: pauseExecution\n    method: POST\n    path: /executions/{{ execution_id }}/actions/pause\n",
    );
    let report = check_specs(&[("pause_versioned", &spec)]);
    assert!(report.violations.is_empty(), "{}", report.lines().join("\n"));
    assert_eq!(report.checked.get("1.3.0"), Some(&1));
    assert_eq!(report.checked.get("2.0.0"), Some(&1));
}

#[test]
fn a_request_without_a_declared_operation_or_with_an_unknown_path_is_reported() {
    let no_op = tool(
        "get_exec",
        EXECUTION_ID_INPUT,
        "request:\n  method: GET\n  path: /executions/{{ execution_id }}\n",
    );
    let nowhere = tool(
        "nowhere",
        EXECUTION_ID_INPUT,
        "request:\n  operation: nothing\n  method: GET\n  path: /no/such/{{ execution_id }}/thing\n",
    );
    let wrong_method = tool(
        "patch_flows",
        EXECUTION_ID_INPUT,
        "request:\n  operation: searchFlows\n  method: PATCH\n  path: /flows/search\n",
    );
    let report = check_specs(&[
        ("get_exec", &no_op),
        ("nowhere", &nowhere),
        ("patch_flows", &wrong_method),
    ]);
    assert_reported(
        &report,
        &[
            "get_exec 1.3.0",
            "resolves to execution (GET",
            "declares no `operation`",
        ],
    );
    assert_reported(&report, &["get_exec 2.0.0", "declares no `operation`"]);
    assert_reported(&report, &["nowhere 1.3.0", "no path template"]);
    assert_reported(
        &report,
        &["patch_flows 2.0.0", "no PATCH operation", "allows GET"],
    );
}

#[test]
fn a_missing_required_query_parameter_or_an_unknown_one_is_reported() {
    let input = "  type: object\n  properties:\n    namespace: {type: string}\n  required: [namespace]";
    let missing = tool(
        "read_file",
        input,
        "request:\n  operation: [fileContent, getFileContent]\n  method: GET\n  path: /namespaces/{{ namespace }}/files\n",
    );
    let unknown = tool(
        "read_file_typo",
        input,
        "request:\n  operation: [fileContent, getFileContent]\n  method: GET\n  path: /namespaces/{{ namespace }}/files\n  query:\n    path: /a.txt\n    pathh: /a.txt\n",
    );
    let bad_value = tool(
        "search_page_zero",
        input,
        "request:\n  operation: searchFlows\n  method: GET\n  path: /flows/search\n  query:\n    page: \"0\"\n    \"filters[namespace][EQUALS]\": \"{{ namespace }}\"\n",
    );
    let report = check_specs(&[
        ("read_file", &missing),
        ("read_file_typo", &unknown),
        ("search_page_zero", &bad_value),
    ]);
    for version in ["1.3.0", "2.0.0"] {
        assert_reported(
            &report,
            &[
                &format!("read_file {version}"),
                "required query parameter 'path' is missing",
            ],
        );
        assert_reported(
            &report,
            &[
                &format!("read_file_typo {version}"),
                "unknown query parameter 'pathh'",
            ],
        );
        assert_reported(
            &report,
            &[&format!("search_page_zero {version}"), "query parameter 'page'=0"],
        );
    }
    // PHP-style filters keys are the `filters` parameter; nothing else is wrong with them.
    assert!(
        !report.lines().iter().any(|l| l.contains("filters[")),
        "{}",
        report.lines().join("\n")
    );
}

#[test]
fn a_wrong_content_type_a_missing_body_or_a_body_off_schema_is_reported() {
    let input = "  type: object\n  properties:\n    yaml: {type: string}\n  required: [yaml]";
    let wrong_type = tool(
        "create_flow_text",
        input,
        "request:\n  operation: createFlow\n  method: POST\n  path: /flows\n  body:\n    text: \"{{ yaml }}\"\n    content_type: text/plain\n",
    );
    let no_body = tool(
        "create_flow_empty",
        input,
        "request:\n  operation: createFlow\n  method: POST\n  path: /flows\n",
    );
    let off_schema = tool(
        "enable_flows_object",
        input,
        "request:\n  operation: enableFlowsByIds\n  method: POST\n  path: /flows/enable/by-ids\n  body:\n    json: {namespace: \"{{ yaml }}\", id: x}\n",
    );
    let off_schema_item = tool(
        "enable_flows_number",
        input,
        "request:\n  operation: enableFlowsByIds\n  method: POST\n  path: /flows/enable/by-ids\n  body:\n    json: [{namespace: 3, id: x}]\n",
    );
    let good = tool(
        "enable_flows",
        input,
        "request:\n  operation: enableFlowsByIds\n  method: POST\n  path: /flows/enable/by-ids\n  body:\n    json: [{namespace: \"{{ yaml }}\", id: x}]\n",
    );
    let report = check_specs(&[
        ("create_flow_text", &wrong_type),
        ("create_flow_empty", &no_body),
        ("enable_flows_object", &off_schema),
        ("enable_flows_number", &off_schema_item),
        ("enable_flows", &good),
    ]);
    for version in ["1.3.0", "2.0.0"] {
        assert_reported(
            &report,
            &[
                &format!("create_flow_text {version}"),
                "text/plain is not declared",
                "application/x-yaml",
            ],
        );
        assert_reported(
            &report,
            &[&format!("create_flow_empty {version}"), "requires a request body"],
        );
        assert_reported(
            &report,
            &[
                &format!("enable_flows_object {version}"),
                "does not fit the schema",
            ],
        );
        assert_reported(
            &report,
            &[
                &format!("enable_flows_number {version}"),
                "does not fit the schema",
                "/0/namespace",
            ],
        );
    }
    assert!(
        !report.lines().iter().any(|l| l.contains("enable_flows ")),
        "{}",
        report.lines().join("\n")
    );
}

#[test]
fn arguments_the_tool_refuses_are_a_failure_not_a_skip() {
    // `maximum` below `minimum`: no integer fits, so the synthesised one is refused.
    let input = "  type: object\n  properties:\n    size: {type: integer, minimum: 5, maximum: 3}\n  required: [size]";
    let spec = tool(
        "impossible",
        input,
        "request:\n  operation: searchFlows\n  method: GET\n  path: /flows/search\n  query:\n    size: \"{{ size }}\"\n",
    );
    let report = check_specs(&[("impossible", &spec)]);
    assert_reported(&report, &["impossible", "are refused", "invalid arguments"]);
}

#[test]
fn the_overlay_relaxes_only_what_it_names() {
    let v13 = descriptions().get("1.3.0").expect("1.3.0");
    let v20 = descriptions().get("2.0.0").expect("2.0.0");
    // logs-follow-exists-in-1.3
    assert!(v13.spec["paths"]["/api/v1/{tenant}/logs/{executionId}/follow"]["get"].is_object());
    // paging-and-flag-params-have-defaults: searchFlows page not required on 1.3.
    let search = &v13.spec["paths"]["/api/v1/{tenant}/flows/search"]["get"]["parameters"];
    let page = search
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page")
        .unwrap();
    assert_eq!(page["required"], json!(false));
    // ... while a parameter it does not name stays required.
    let files = &v20.spec["paths"]["/api/v1/{tenant}/namespaces/{namespace}/files"]["get"]["parameters"];
    let path = files
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "path")
        .unwrap();
    assert_eq!(path["required"], json!(true));
}
