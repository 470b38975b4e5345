//! Kestra's answer, read: the body decoded (JSON or text, bounded), and statuses of 300 and more
//! turned into errors that carry Kestra's own message, cut to a readable length. No I/O.

use serde_json::{Map, Value};

use crate::error::CallError;
use crate::http::HttpAnswer;
use crate::request::RenderedRequest;

/// Bytes of Kestra's error body quoted in an error message.
const ERROR_BODY_QUOTE: usize = 1000;

/// JSON when Kestra says so or the body looks like it; otherwise text. Empty is null.
pub fn decode_body(answer: &HttpAnswer) -> Result<Value, CallError> {
    if let Some(stream) = &answer.events {
        return Ok(stream.to_json());
    }
    if answer.body.is_empty() {
        return Ok(Value::Null);
    }
    let is_json_type = answer.content_type.as_deref().is_some_and(|c| c.contains("json"));
    if answer.truncated {
        if is_json_type {
            return Err(CallError::BadAnswer(format!(
                "Kestra's answer is larger than {} bytes (KESTRA_MCP_MAX_RESPONSE_BYTES) and was cut off; ask for less, e.g. a smaller page size or a narrower filter",
                answer.body.len()
            )));
        }
        let text = String::from_utf8_lossy(&answer.body);
        return Ok(Value::String(format!(
            "{text}\n[truncated: the answer is larger than {} bytes (KESTRA_MCP_MAX_RESPONSE_BYTES)]",
            answer.body.len()
        )));
    }
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(value) => Ok(value),
        Err(e) if is_json_type => Err(CallError::BadAnswer(format!("Kestra sent invalid JSON: {e}"))),
        Err(_) => Ok(Value::String(String::from_utf8_lossy(&answer.body).into_owned())),
    }
}

/// An error for a status of 300 or more, carrying Kestra's own message when it has one.
pub fn kestra_error(request: &RenderedRequest, answer: &HttpAnswer) -> CallError {
    let message = match serde_json::from_slice::<Value>(&answer.body) {
        Ok(Value::Object(body)) => kestra_message(&body),
        Ok(other) if !other.is_null() => quote(&other.to_string()),
        _ => quote(&String::from_utf8_lossy(&answer.body)),
    };
    let message = match (message.is_empty(), answer.status) {
        (false, _) => message,
        (true, 401) => "unauthorized: check KESTRA_API_TOKEN or KESTRA_USERNAME/KESTRA_PASSWORD".into(),
        (true, 403) => "forbidden: the credentials lack the permission for this operation".into(),
        (true, 404) => "not found".into(),
        (true, s) if (300..400).contains(&s) => {
            "a redirect away from KESTRA_BASE_URL was not followed".into()
        }
        (true, _) => "no details in the answer".into(),
    };
    CallError::Kestra {
        status: answer.status,
        method: request.method.as_str(),
        path: request.path.clone(),
        message,
    }
}

/// Kestra's own words: the top `message`, then each detail it adds that the message does not
/// already say: `_embedded.errors[]` (`path: message`, with the `invalidValue` when given) and a
/// bulk action's `invalids[]` (`propertyPath`, message and value). Without any, the whole body.
fn kestra_message(body: &Map<String, Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = body.get("message").and_then(Value::as_str) {
        parts.push(m.trim().to_owned());
    }
    let nested = body
        .get("_embedded")
        .and_then(|e| e.get("errors"))
        .and_then(Value::as_array);
    let invalids = body.get("invalids").and_then(Value::as_array);
    for detail in nested.into_iter().chain(invalids).flatten() {
        let Some(line) = detail_line(detail) else {
            continue;
        };
        let said = parts.iter().any(|p| p.contains(&line))
            || detail.get("message").and_then(Value::as_str).is_some_and(|m| {
                parts.iter().any(|p| p.contains(m.trim())) && detail_value(detail).is_none()
            });
        if !said {
            parts.push(line);
        }
    }
    if parts.is_empty() {
        return quote(&Value::Object(body.clone()).to_string());
    }
    quote(&parts.join("; "))
}

/// One detail of an error body: `path: message (got value)`.
fn detail_line(detail: &Value) -> Option<String> {
    let message = detail.get("message").and_then(Value::as_str)?.trim();
    let path = match detail.get("path").or_else(|| detail.get("propertyPath")) {
        Some(Value::String(p)) if !p.is_empty() => Some(p.clone()),
        Some(Value::Array(nodes)) => {
            let names: Vec<&str> = nodes
                .iter()
                .filter_map(|n| n.get("name").and_then(Value::as_str))
                .collect();
            (!names.is_empty()).then(|| names.join("."))
        }
        _ => None,
    };
    let mut line = match path {
        Some(path) => format!("{path}: {message}"),
        None => message.to_owned(),
    };
    if let Some(value) = detail_value(detail) {
        line.push_str(&format!(" (got {value})"));
    }
    Some(line)
}

/// The rejected value of a detail, as JSON text.
fn detail_value(detail: &Value) -> Option<String> {
    detail
        .get("invalidValue")
        .filter(|v| !v.is_null())
        .map(Value::to_string)
}

fn quote(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(ERROR_BODY_QUOTE) {
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::raw::Scope;
    use serde_json::json;

    fn answer(status: u16, ct: Option<&str>, body: &str) -> HttpAnswer {
        HttpAnswer {
            status,
            content_type: ct.map(str::to_owned),
            body: body.as_bytes().to_vec(),
            truncated: false,
            events: None,
        }
    }

    fn request() -> RenderedRequest {
        RenderedRequest::get(Scope::Tenant, "/flows/a/b", &[])
    }

    #[test]
    fn kestra_errors_carry_status_and_message() {
        let cases = [
            (
                answer(404, Some("application/json"), r#"{"message":"Flow not found"}"#),
                "Kestra answered 404 to GET /flows/a/b: Flow not found",
            ),
            (
                answer(
                    422,
                    Some("application/json"),
                    r#"{"message":"Invalid entity","_embedded":{"errors":[{"message":"id: must match"}]}}"#,
                ),
                "Kestra answered 422 to GET /flows/a/b: Invalid entity; id: must match",
            ),
            (
                answer(401, None, ""),
                "Kestra answered 401 to GET /flows/a/b: unauthorized: check KESTRA_API_TOKEN or KESTRA_USERNAME/KESTRA_PASSWORD",
            ),
            (
                answer(500, Some("text/html"), "<html>Oops</html>"),
                "Kestra answered 500 to GET /flows/a/b: <html>Oops</html>",
            ),
            (
                answer(400, Some("application/json"), "The execution is not terminated"),
                "Kestra answered 400 to GET /flows/a/b: The execution is not terminated",
            ),
        ];
        for (a, want) in cases {
            assert_eq!(kestra_error(&request(), &a).to_string(), want);
        }
    }

    #[test]
    fn long_error_bodies_are_cut() {
        let body = "x".repeat(2000);
        let msg = kestra_error(&request(), &answer(500, None, &body)).to_string();
        assert!(msg.ends_with("… (1000 more bytes)"), "{msg}");
    }

    /// The message of an error whose body is `body` (JSON), without the status line.
    fn said(status: u16, body: &str) -> String {
        let CallError::Kestra { message, .. } =
            kestra_error(&request(), &answer(status, Some("application/json"), body))
        else {
            panic!("not a Kestra error");
        };
        message
    }

    /// Bodies recorded from real Kestra servers (1.3.0 and 2.0.0-SNAPSHOT, errors.json and
    /// executions.json under ../shared/kestra-api), `_links` left out.
    #[test]
    fn real_kestra_error_bodies_keep_their_detail() {
        let cases = [
            // flow-create-missing-tasks (422)
            (
                422,
                r#"{"message": "Invalid entity: tasks: must not be empty\n", "logref": null, "path": null, "_embedded": {"errors": [{"message": "must not be empty", "logref": null, "path": "tasks", "_links": {}, "_embedded": {}}]}}"#,
                "Invalid entity: tasks: must not be empty",
            ),
            // flow-create-invalid-id (422)
            (
                422,
                r#"{"message": "Invalid entity: id: must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\"\n", "logref": null, "path": null, "_embedded": {"errors": [{"message": "must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\"", "logref": null, "path": "id", "_links": {}, "_embedded": {}}]}}"#,
                "Invalid entity: id: must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\"",
            ),
            // invalid-param-page-zero (422)
            (
                422,
                r#"{"message": "Invalid entity: searchFlows.page: must be greater than or equal to 1", "logref": null, "path": null, "_embedded": {"errors": [{"message": "must be greater than or equal to 1", "logref": null, "path": "searchFlows.page", "_links": {}, "_embedded": {}}]}}"#,
                "Invalid entity: searchFlows.page: must be greater than or equal to 1",
            ),
            // flow-create-existing (422)
            (
                422,
                r#"{"message": "Invalid entity: flow.id: Flow id already exists", "logref": null, "path": null, "_embedded": {"errors": [{"message": "Flow id already exists", "logref": null, "path": "flow.id", "_links": {}, "_embedded": {}}]}}"#,
                "Invalid entity: flow.id: Flow id already exists",
            ),
            // kv-key-not-found (404)
            (
                404,
                r#"{"message": "Not Found: No value found for key 'nope' in namespace 'company.team'", "logref": null, "path": null, "_embedded": {}}"#,
                "Not Found: No value found for key 'nope' in namespace 'company.team'",
            ),
            // missing-param-change-status (400)
            (
                400,
                r#"{"message": "Bad Request: Required QueryValue [status] not specified", "logref": null, "path": null, "_embedded": {}}"#,
                "Bad Request: Required QueryValue [status] not specified",
            ),
            // diff-2.0-actions-pause (409, 2.0)
            (
                409,
                r#"{"message": "Conflict: Cannot pause execution: execution is not running.", "logref": null, "path": null, "_embedded": {}}"#,
                "Conflict: Cannot pause execution: execution is not running.",
            ),
            // malformed-json-body (422): the detail is only in _embedded.errors
            (
                422,
                r#"{"message": "Invalid json mapping", "logref": null, "path": null, "_embedded": {"errors": [{"message": "Failed to convert argument [ids] for value [null] due to: Unexpected end-of-input within/between Object entries\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 16] (through reference chain: java.util.ArrayList[0])", "logref": null, "path": "java.util.ArrayList[0]", "_links": {}, "_embedded": {}}]}}"#,
                "Invalid json mapping; java.util.ArrayList[0]: Failed to convert argument [ids] for value [null] due to: Unexpected end-of-input within/between Object entries\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 16] (through reference chain: java.util.ArrayList[0])",
            ),
            // resume-by-ids-mixed (400, 1.3 executions.json): constraint violations
            (
                400,
                r#"{"message": "invalid bulk resume", "invalids": [{"message": "execution not in state PAUSED", "rootBean": "60Ke12SzqbKuSdFOhNBNyz", "rootBeanClass": "java.lang.String", "leafBean": "60Ke12SzqbKuSdFOhNBNyz", "propertyPath": [{"name": "execution", "kind": "PROPERTY", "inIterable": false}], "invalidValue": "60Ke12SzqbKuSdFOhNBNyz", "messageTemplate": "{messageTemplate}", "executableParameters": []}, {"message": "execution not found", "rootBean": "doesnotexist", "rootBeanClass": "java.lang.String", "leafBean": "doesnotexist", "propertyPath": [{"name": "execution", "kind": "PROPERTY", "inIterable": false}], "invalidValue": "doesnotexist", "messageTemplate": "{messageTemplate}", "executableParameters": []}]}"#,
                "invalid bulk resume; execution: execution not in state PAUSED (got \"60Ke12SzqbKuSdFOhNBNyz\"); execution: execution not found (got \"doesnotexist\")",
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(said(status, body), want);
        }
    }

    #[test]
    fn a_flow_validation_error_keeps_its_line() {
        // flow-create-invalid-yaml-syntax (422, 1.3.0 and 2.0.0-SNAPSHOT)
        let body = r#"{"message": "Invalid entity: Illegal genericflow source: YAML parsing error: while scanning a quoted scalar\n in 'reader', line 6, column 14:\n        message: \"unterminated\n                 ^\nfound unexpected end of stream\n in 'reader', line 8, column 1:\n    \n    ^\n\n at [Source: (StringReader); line: 6, column: 12] (through reference chain: io.kestra.core.models.flows.GenericFlow[\"tasks\"]->java.util.ArrayList[0]) (at line 6)", "logref": null, "path": null, "_embedded": {"errors": [{"message": "YAML parsing error: while scanning a quoted scalar\n in 'reader', line 6, column 14:\n        message: \"unterminated\n                 ^\nfound unexpected end of stream\n in 'reader', line 8, column 1:\n    \n    ^\n\n at [Source: (StringReader); line: 6, column: 12] (through reference chain: io.kestra.core.models.flows.GenericFlow[\"tasks\"]->java.util.ArrayList[0]) (at line 6)", "logref": null, "path": "yaml", "_links": {}, "_embedded": {}}]}}"#;
        let message = said(422, body);
        assert!(message.starts_with("Invalid entity: Illegal genericflow source: YAML parsing error: while scanning a quoted scalar\n in 'reader', line 6, column 14:"), "{message}");
        assert!(message.ends_with("(at line 6)"), "{message}");
        assert!(!message.contains("; yaml:"), "said twice: {message}");
        // flow-create-unknown-task-type (422, 1.3.0): the second detail says more than the message
        let body = r#"{"message": "Invalid entity: Invalid type: io.kestra.plugin.core.log.DoesNotExist", "logref": null, "path": null, "_embedded": {"errors": [{"message": "Invalid type: io.kestra.plugin.core.log.DoesNotExist", "logref": null, "path": "io.kestra.core.models.flows.FlowWithSource[\"tasks\"]->java.util.ArrayList[0]", "_links": {}, "_embedded": {}}, {"message": "Could not resolve type id 'io.kestra.plugin.core.log.DoesNotExist' as a subtype of `io.kestra.core.models.Plugin`: No plugin registered for the defined type: 'io.kestra.plugin.core.log.DoesNotExist'", "logref": null, "path": "io.kestra.core.models.flows.FlowWithSource[\"tasks\"]->java.util.ArrayList[0]", "_links": {}, "_embedded": {}}]}}"#;
        let message = said(422, body);
        assert!(
            message.starts_with("Invalid entity: Invalid type: io.kestra.plugin.core.log.DoesNotExist; "),
            "{message}"
        );
        assert!(
            message.contains("No plugin registered for the defined type"),
            "{message}"
        );
        assert_eq!(message.matches("Invalid type:").count(), 1, "{message}");
    }

    #[test]
    fn bodies_decode_by_content_type() {
        assert_eq!(decode_body(&answer(200, None, "")).unwrap(), Value::Null);
        assert_eq!(
            decode_body(&answer(200, Some("application/json"), "[1]")).unwrap(),
            json!([1])
        );
        assert_eq!(
            decode_body(&answer(200, Some("application/x-yaml"), "id: a")).unwrap(),
            json!("id: a")
        );
        let err = decode_body(&answer(200, Some("application/json"), "{oops")).unwrap_err();
        assert!(err.to_string().starts_with("Kestra sent invalid JSON"));
        let mut big = answer(200, Some("text/plain"), "line");
        big.truncated = true;
        assert!(
            decode_body(&big)
                .unwrap()
                .as_str()
                .unwrap()
                .contains("[truncated")
        );
        big.content_type = Some("application/json".into());
        assert!(
            decode_body(&big)
                .unwrap_err()
                .to_string()
                .contains("KESTRA_MCP_MAX_RESPONSE_BYTES")
        );
    }
}
