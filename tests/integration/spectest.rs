//! `kestra-mcp tools test [DIR]`: the spec tests of a tools directory and of the built-in
//! specs, run by the real binary with no Kestra (canned answers at the exchange point).

use serde_json::json;

use crate::util::run;

const SPEC: &str = "name: get_execution_state\ngroup: execution\ndescription: The state of one execution.\ninput:\n  type: object\n  properties:\n    execution_id: {type: string}\n  required: [execution_id]\nrequest:\n  operation: [execution, getExecution]\n  method: GET\n  path: /executions/{{ execution_id }}\nresponse:\n  fields: [id, state]\n";

const CASES: &str = "cases:
  - name: the state
    arguments: {execution_id: e1}
    exchanges:
      - request: {method: GET, path: /executions/e1}
        answer: {body: {id: e1, state: {current: SUCCESS}, flowId: f}}
    result: {id: e1, state: {current: SUCCESS}}
  - name: a wrong expectation
    kestra: [\"2.0\"]
    arguments: {execution_id: e1}
    exchanges:
      - request: {method: GET, path: /executions/e1}
        answer: {body: {id: e1, state: {current: FAILED}}}
    result: {id: e1, state: {current: SUCCESS}}
";

fn case_dir(cases: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("get_execution_state.yaml"), SPEC).unwrap();
    std::fs::write(dir.path().join("get_execution_state.test.yaml"), cases).unwrap();
    dir
}

#[test]
fn tools_test_runs_a_directory_s_cases_and_fails_with_a_diff_and_the_case_line() {
    let dir = case_dir(CASES);
    let dir_arg = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = run(&["tools", "test", dir_arg], &[], None);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().last(), Some("2 passed, 1 failed"), "{stdout}");
    let file = dir.path().join("get_execution_state.test.yaml");
    let header = format!(
        "FAILED {}:8: get_execution_state 'a wrong expectation' (Kestra 2.0)",
        file.display()
    );
    assert!(stdout.contains(&header), "{stdout}");
    assert!(
        stdout.contains("-    \"current\": \"SUCCESS\"\n")
            && stdout.contains("+    \"current\": \"FAILED\"\n"),
        "{stdout}"
    );
    // The test file is not taken for a spec.
    assert!(!stderr.contains("test.yaml"), "{stderr}");

    let passing = case_dir(&CASES[..CASES.find("  - name: a wrong").unwrap()]);
    let (code, stdout, _) = run(&["tools", "test", passing.path().to_str().unwrap()], &[], None);
    assert_eq!((code, stdout.as_str()), (0, "2 passed, 0 failed\n"));
}

#[test]
fn tools_test_without_a_directory_runs_the_builtin_cases() {
    let (code, stdout, stderr) = run(&["tools", "test"], &[], None);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{stdout}");
}

#[test]
fn the_case_schema_is_published_and_current() {
    let (code, stdout, _) = run(&["tools", "schema", "--cases"], &[], None);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(schema["title"], json!("CaseFile"));
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/spec-test.schema.json"))
            .expect("docs/spec-test.schema.json");
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        schema, committed,
        "regenerate: cargo run -- tools schema --cases > docs/spec-test.schema.json"
    );
}
