//! The case format of `NAME.test.yaml` (raw, as written) and its reading: each case gives the
//! arguments of one call, the requests it must send in order with Kestra's canned answers, and
//! the result or error expected.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A `NAME.test.yaml` file: the cases of the tool `NAME` (the spec `NAME.yaml` beside it).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The cases, each starting with `- name:`.
    pub cases: Vec<Case>,
}

/// One call of the tool and what it must do.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows, unique in its file.
    pub name: String,
    /// The Kestra versions the case runs on (default: 1.3 and 2.0).
    #[serde(default)]
    pub kestra: Option<Vec<String>>,
    /// The arguments, validated against the tool's input schema as a client call is.
    #[serde(default)]
    pub arguments: Map<String, Value>,
    /// The requests the call must send, in order, each with Kestra's canned answer. A request
    /// not listed, one that differs, or one listed and not sent fails the case.
    #[serde(default)]
    pub exchanges: Vec<Exchange>,
    /// The whole structured result, exactly.
    #[serde(default)]
    pub result: Option<Value>,
    /// A part of the structured result: each key given must match (recursively); lists must
    /// have the same length, each item matching.
    #[serde(default)]
    pub result_contains: Option<Value>,
    /// A substring of the error text the call must end with (`isError`).
    #[serde(default)]
    pub error: Option<String>,
}

/// One request the call must send and the answer it gets.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub request: ExpectedRequest,
    #[serde(default)]
    pub answer: CannedAnswer,
}

/// A request as the spec must send it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRequest {
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// The encoded path relative to the tenant root (`/flows/search`), or to the instance root
    /// with `scope: instance`.
    pub path: String,
    /// `tenant` (default) or `instance`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Query parameters (any order); a list repeats the parameter.
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    /// Headers the spec sets.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body.
    #[serde(default)]
    pub body: Option<Value>,
    /// A text body.
    #[serde(default)]
    pub text: Option<String>,
    /// The text body's content type (compared when given).
    #[serde(default)]
    pub content_type: Option<String>,
    /// A multipart body: its parts in order.
    #[serde(default)]
    pub multipart: Option<Vec<Part>>,
}

/// One multipart part.
#[derive(Debug, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// Kestra's canned answer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedAnswer {
    /// The status (default 200).
    #[serde(default = "ok")]
    pub status: u16,
    /// A JSON body (content type `application/json` unless given).
    #[serde(default)]
    pub body: Option<Value>,
    /// A text body (content type `text/plain` unless given).
    #[serde(default)]
    pub text: Option<String>,
    /// A server-sent event stream, as Kestra writes it (`data: ...` lines, blank line between
    /// events); read within the request's stream limits.
    #[serde(default)]
    pub events: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
}

fn ok() -> u16 {
    200
}

impl Default for CannedAnswer {
    fn default() -> Self {
        CannedAnswer {
            status: ok(),
            body: None,
            text: None,
            events: None,
            content_type: None,
        }
    }
}

/// The JSON Schema of the case format, for editors (`docs/spec-test.schema.json`).
pub fn case_json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(CaseFile)).unwrap_or(Value::Null)
}

/// A case file read: its cases with the line each starts on.
#[derive(Debug, Clone)]
pub struct ReadCases {
    pub origin: String,
    /// The tool the cases call (the file's stem before `.test.yaml`).
    pub tool: String,
    pub cases: Vec<(usize, Case)>,
}

/// Whether a file holds spec test cases (`*.test.yaml` or `*.test.yml`).
pub fn is_case_file(name: &str) -> bool {
    tool_of(name).is_some()
}

/// The tool a case file is for: `list_flows.test.yaml` → `list_flows`.
pub fn tool_of(name: &str) -> Option<&str> {
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    name.strip_suffix(".test.yaml")
        .or_else(|| name.strip_suffix(".test.yml"))
}

/// Parses a case file strictly; an error names `origin:line`.
pub fn read_cases(origin: &str, text: &str) -> Result<ReadCases, String> {
    let tool = tool_of(origin)
        .ok_or_else(|| format!("{origin}: not a case file (NAME.test.yaml)"))?
        .to_owned();
    let file: CaseFile = yaml_serde::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line()).unwrap_or(0);
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default().to_owned();
        format!("{origin}:{line}: {message}")
    })?;
    let lines = case_lines(text);
    let cases = file
        .cases
        .into_iter()
        .enumerate()
        .map(|(i, case)| (lines.get(i).copied().unwrap_or(0), case))
        .collect();
    Ok(ReadCases {
        origin: origin.to_owned(),
        tool,
        cases,
    })
}

/// The line (1-based) each case starts on: the `- ` items of the least indented list under
/// `cases:` (yaml_serde gives no positions for values that decoded).
fn case_lines(text: &str) -> Vec<usize> {
    let items: Vec<(usize, usize)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("- ") || l.trim() == "-")
        .map(|(i, l)| (i + 1, l.len() - l.trim_start().len()))
        .collect();
    let indent = items.iter().map(|(_, n)| *n).min().unwrap_or(0);
    items
        .into_iter()
        .filter(|(_, n)| *n == indent)
        .map(|(line, _)| line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_carry_their_line_and_tool() {
        let text =
            "cases:\n  - name: one\n    arguments: {a: 1}\n    result: {}\n\n  - name: two\n    error: x\n";
        let read = read_cases("dir/my_tool.test.yaml", text).unwrap();
        assert_eq!(read.tool, "my_tool");
        let lines: Vec<usize> = read.cases.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 6]);
        assert!(is_case_file("x.test.yml") && !is_case_file("x.yaml"));
        let err = read_cases("t.test.yaml", "cases:\n  - name: a\n    nope: 1\n").unwrap_err();
        assert!(err.starts_with("t.test.yaml:3: "), "{err}");
    }
}
