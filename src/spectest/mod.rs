//! Spec tests (`kestra-mcp tools test [DIR]`): the cases of `NAME.test.yaml` beside a spec call
//! the tool with canned Kestra answers served at the exchange point ([`mock::CannedKestra`]),
//! so no Kestra and no port are needed. Each case runs on each Kestra version it names; the
//! requests sent are compared in order with the expected ones, then the result or the error.

pub mod case;
pub mod mock;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{Config, parse_version};
use crate::engine::Engine;
use crate::error::CallError;
use crate::filter::apply_disabled;
use crate::runtime::Runtime;
use crate::spec::{Catalog, CompiledTool};
use case::{Case, ReadCases};
use mock::CannedKestra;

/// The versions a case runs on when it names none.
pub const DEFAULT_VERSIONS: [&str; 2] = ["1.3", "2.0"];

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    /// One entry per failed run of a case (or unreadable file): `file:line: ...` and details.
    pub failures: Vec<String>,
}

impl Report {
    /// The closing line: `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }

    fn fail(&mut self, text: String) {
        self.failed += 1;
        self.failures.push(text);
    }
}

/// The built-in case files (`tools.d/*.test.yaml`, embedded with the specs).
pub fn builtin_case_files() -> Vec<(String, String)> {
    crate::spec::source::builtin_files(case::is_case_file)
        .into_iter()
        .map(|(name, text)| (format!("tools.d/{name}"), text))
        .collect()
}

/// The case files of `dir` (`*.test.yaml`, sorted by name).
pub fn dir_case_files(dir: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read directory: {e}", dir.display()))?;
    let mut paths: Vec<std::path::PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.to_str().is_some_and(case::is_case_file))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            std::fs::read_to_string(&p)
                .map(|text| (p.display().to_string(), text))
                .map_err(|e| format!("{}: cannot read file: {e}", p.display()))
        })
        .collect()
}

/// Reads case files; unreadable ones are failures of the report.
pub fn read_all(files: &[(String, String)], report: &mut Report) -> Vec<ReadCases> {
    let mut read = Vec::new();
    for (origin, text) in files {
        match case::read_cases(origin, text) {
            Ok(cases) => read.push(cases),
            Err(e) => report.fail(e),
        }
    }
    read
}

/// Runs every case of `files` on the tools `load` gives (called once per Kestra version, since
/// a tool set is built for one engine).
pub fn run(files: &[(String, String)], load: impl Fn() -> Result<Catalog, String>) -> Report {
    let mut report = Report::default();
    let read = read_all(files, &mut report);
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        report.fail("cannot start the async runtime".into());
        return report;
    };
    for version in versions_named(&read) {
        let canned = Arc::new(CannedKestra::default());
        let engine = match load().and_then(|catalog| engine_for(catalog, &version, canned.clone())) {
            Ok(engine) => engine,
            Err(e) => {
                report.fail(format!("Kestra {version}: {e}"));
                continue;
            }
        };
        for file in &read {
            for (line, case) in &file.cases {
                if !runs_on(case, &version) {
                    continue;
                }
                let at = format!(
                    "{}:{line}: {} '{}' (Kestra {version})",
                    file.origin, file.tool, case.name
                );
                match runtime.block_on(run_case(&engine, &canned, &file.tool, case)) {
                    Ok(()) => report.passed += 1,
                    Err(why) => report.fail(format!("{at}\n{}", indent(&why))),
                }
            }
        }
    }
    report
}

/// Every version some case runs on, in a stable order.
fn versions_named(read: &[ReadCases]) -> Vec<String> {
    let mut versions: Vec<String> = DEFAULT_VERSIONS.iter().map(|v| v.to_string()).collect();
    for (_, case) in read.iter().flat_map(|f| &f.cases) {
        for v in case.kestra.iter().flatten() {
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
    }
    versions
}

fn runs_on(case: &Case, version: &str) -> bool {
    match &case.kestra {
        Some(versions) => versions.iter().any(|v| v == version),
        None => DEFAULT_VERSIONS.contains(&version),
    }
}

/// An engine for `version` whose every request is answered by `canned`. The base URL is never
/// contacted; the edition probe is off (an explicit, empty disabled list).
fn engine_for(catalog: Catalog, version: &str, canned: Arc<CannedKestra>) -> Result<Engine, String> {
    parse_version(version).map_err(|e| format!("kestra: '{version}': {e}"))?;
    let vars = [
        ("KESTRA_BASE_URL", "http://kestra.invalid/api/v1"),
        ("KESTRA_VERSION", version),
        ("KESTRA_MCP_DISABLED_TOOLS", "none"),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .map_err(|e| e.to_string())?;
    let runtime = Runtime::new(&config)
        .map_err(|e| e.to_string())?
        .with_transport(canned);
    let filtered = apply_disabled(catalog.tools, &config.disabled);
    // Built as the server builds its engine, then given the runtime with canned answers.
    let served = Engine::new(filtered, catalog.layers, &config).map_err(|e| e.to_string())?;
    Ok(Engine {
        runtime: Arc::new(runtime),
        tools: served.tools,
    })
}

/// Runs one case: `Err` says every way it failed.
async fn run_case(engine: &Engine, canned: &CannedKestra, tool: &str, case: &Case) -> Result<(), String> {
    let expectations = [
        case.result.is_some(),
        case.result_contains.is_some(),
        case.error.is_some(),
    ];
    if expectations.iter().filter(|e| **e).count() != 1 {
        return Err("give exactly one of result, result_contains or error".into());
    }
    canned.start(&case.exchanges);
    let outcome = engine.call(tool, Some(case.arguments.clone())).await;
    let mut failures = canned.finish();
    if failures.is_empty()
        && let Err(why) = check_outcome(case, outcome)
    {
        failures.push(why);
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(failures.join("\n")),
    }
}

fn check_outcome(case: &Case, outcome: Result<Map<String, Value>, CallError>) -> Result<(), String> {
    match (outcome, &case.error) {
        (Err(e), Some(expected)) if e.to_string().contains(expected.as_str()) => Ok(()),
        (Err(e), Some(expected)) => Err(format!("the error does not contain '{expected}':\n  {e}")),
        (Err(e), None) => Err(format!("the call failed: {e}")),
        (Ok(result), Some(expected)) => Err(format!(
            "expected an error containing '{expected}', got the result:\n{}",
            pretty(&Value::Object(result))
        )),
        (Ok(result), None) => {
            let result = Value::Object(result);
            let result = match (&case.result, &case.result_contains) {
                (Some(expected), _) | (None, Some(expected)) => mask(expected, &result),
                (None, None) => result,
            };
            if let Some(expected) = &case.result
                && *expected != result
            {
                return Err(format!(
                    "the result differs (- expected, + actual):\n{}",
                    diff(expected, &result)
                ));
            }
            if let Some(expected) = &case.result_contains
                && !contains(&result, expected)
            {
                return Err(format!(
                    "the result does not contain the expected part (- expected, + actual):\n{}",
                    diff(expected, &result)
                ));
            }
            Ok(())
        }
    }
}

/// What an expected value writes where any value is accepted (a generated id, the time now).
pub const ANY: &str = "<any>";

/// `actual` with `ANY` wherever `expected` has it, so that the two compare (and diff) equal
/// there.
pub fn mask(expected: &Value, actual: &Value) -> Value {
    match (expected, actual) {
        (Value::String(s), _) if s == ANY => Value::String(ANY.into()),
        (Value::Object(e), Value::Object(a)) => Value::Object(
            a.iter()
                .map(|(k, av)| (k.clone(), e.get(k).map_or_else(|| av.clone(), |ev| mask(ev, av))))
                .collect(),
        ),
        (Value::Array(e), Value::Array(a)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, av)| e.get(i).map_or_else(|| av.clone(), |ev| mask(ev, av)))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

/// Whether `actual` holds `part`: every key of an object part matches, lists have the same
/// length with each item matching, anything else is equal.
pub fn contains(actual: &Value, part: &Value) -> bool {
    match (actual, part) {
        (Value::Object(a), Value::Object(p)) => {
            p.iter().all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v)))
        }
        (Value::Array(a), Value::Array(p)) => {
            a.len() == p.len() && a.iter().zip(p).all(|(av, pv)| contains(av, pv))
        }
        _ => actual == part,
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A line diff of two values printed as pretty JSON: `-` expected, `+` actual.
pub fn diff(expected: &Value, actual: &Value) -> String {
    let (expected, actual) = (pretty(expected), pretty(actual));
    similar::TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The variant a case's arguments pick (`None` for a tool without variants).
pub fn variant_of(tool: &CompiledTool, arguments: &Map<String, Value>) -> Option<String> {
    let argument = tool.outline.argument.as_deref()?;
    arguments
        .get(argument)
        .or_else(|| tool.defaults.get(argument))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Each tool and variant of `tools` that no case calls on one of the default Kestra versions,
/// as `tool` or `tool[variant]` and the version (`list_flows on 2.0`).
pub fn uncovered(tools: &[std::sync::Arc<CompiledTool>], read: &[ReadCases]) -> Vec<String> {
    let mut gaps = Vec::new();
    for tool in tools {
        let name = tool.tool.name.as_ref();
        let cases: Vec<&Case> = read
            .iter()
            .filter(|f| f.tool == name)
            .flat_map(|f| f.cases.iter().map(|(_, c)| c))
            .collect();
        for variant in tool
            .outline
            .actions
            .iter()
            .map(|action| action.variant.as_deref())
        {
            for version in DEFAULT_VERSIONS {
                let covered = cases
                    .iter()
                    .any(|c| runs_on(c, version) && variant_of(tool, &c.arguments).as_deref() == variant);
                if !covered {
                    let label = match variant {
                        Some(v) => format!("{name}[{v}]"),
                        None => name.to_owned(),
                    };
                    gaps.push(format!("{label} on {version}"));
                }
            }
        }
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LoadOptions, load_catalog};
    use serde_json::json;

    fn builtin() -> Result<Catalog, String> {
        load_catalog(&LoadOptions::default()).map_err(|e| format!("{e:?}"))
    }

    /// `kestra-mcp tools test` on the built-in specs: every case passes on every version.
    #[test]
    fn the_builtin_cases_pass() {
        let report = run(&builtin_case_files(), builtin);
        assert_eq!(report.failed, 0, "{}", report.failures.join("\n\n"));
        assert!(report.passed > 71, "{}", report.summary());
    }

    /// Every built-in tool and every variant has at least one case.
    #[test]
    fn every_builtin_tool_and_variant_has_a_case() {
        let mut report = Report::default();
        let read = read_all(&builtin_case_files(), &mut report);
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let catalog = builtin().unwrap();
        let variants: usize = catalog.tools.iter().map(|t| t.outline.actions.len()).sum();
        assert_eq!(variants, 71, "the built-in tools changed: update this count");
        assert_eq!(uncovered(&catalog.tools, &read), Vec::<String>::new());
        let tools: std::collections::BTreeSet<&str> = read.iter().map(|f| f.tool.as_str()).collect();
        for tool in &tools {
            assert!(
                catalog.tools.iter().any(|t| t.tool.name.as_ref() == *tool),
                "cases for an unknown tool {tool}"
            );
        }
    }

    const CASES: &str = r#"cases:
  - name: lists the flows
    arguments: {namespace: company.team}
    exchanges:
      - request: {method: GET, path: /flows/company.team}
        answer: {body: [{id: hello, namespace: company.team}]}
    result_contains: {}
  - name: wrong path and result
    kestra: ["2.0"]
    arguments: {namespace: company.team}
    exchanges:
      - request: {method: GET, path: /flows/other}
        answer: {body: []}
    result: {nope: 1}
  - name: a request never sent
    kestra: ["1.3"]
    arguments: {namespace: company.team}
    exchanges:
      - request: {method: GET, path: /flows/company.team}
        answer: {body: []}
      - request: {method: GET, path: /flows/company.team}
    result_contains: {}
  - name: an error expected
    kestra: ["1.3"]
    arguments: {namespace: company.team}
    exchanges:
      - request: {method: GET, path: /flows/company.team}
        answer: {status: 404, body: {message: "Not Found"}}
    error: "Kestra answered 404 to GET /flows/company.team"
  - name: invalid arguments are refused before any request
    kestra: ["1.3"]
    arguments: {namespace: 5}
    error: "invalid arguments: 'namespace'"
"#;

    #[test]
    fn failures_name_the_case_and_show_a_diff() {
        let files = vec![(
            "dir/list_flows_in_namespace.test.yaml".to_owned(),
            CASES.to_owned(),
        )];
        let report = run(&files, builtin);
        assert_eq!(report.summary(), "4 passed, 2 failed", "{:#?}", report.failures);
        // Kestra 1.3 runs first.
        let (never, wrong) = (&report.failures[0], &report.failures[1]);
        assert!(
            wrong.starts_with("dir/list_flows_in_namespace.test.yaml:8: list_flows_in_namespace 'wrong path and result' (Kestra 2.0)"),
            "{wrong}"
        );
        assert!(
            wrong.contains("-  \"path\": \"/flows/other\",\n    +  \"path\": \"/flows/company.team\","),
            "{wrong}"
        );
        assert!(
            never.contains(":15: ") && never.contains("1 expected request(s) not sent"),
            "{never}"
        );
    }

    #[test]
    fn any_matches_generated_values_and_contains_matches_parts() {
        let expected = json!({"id": ANY, "items": [{"a": 1}], "b": 2});
        let actual = json!({"id": "e1f2", "items": [{"a": 1, "z": 0}], "b": 2});
        assert!(contains(&mask(&expected, &actual), &expected));
        assert!(!contains(&actual, &json!({"items": []})));
        assert!(!contains(&actual, &json!({"b": 3})));
    }
}
