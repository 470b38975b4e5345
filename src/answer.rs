//! Kestra's answer, read: the body decoded (JSON or text, bounded), and statuses of 300 and more
//! turned into errors that carry Kestra's own message, cut to a readable length. No I/O.

use serde_json::{Map, Value};

use crate::engine::CallError;
use crate::http::HttpAnswer;
use crate::request::RenderedRequest;

/// Bytes of Kestra's error body quoted in an error message.
const ERROR_BODY_QUOTE: usize = 500;

/// JSON when Kestra says so or the body looks like it; otherwise text. Empty is null.
pub fn decode_body(answer: &HttpAnswer) -> Result<Value, CallError> {
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

fn kestra_message(body: &Map<String, Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = body.get("message").and_then(Value::as_str) {
        parts.push(m.to_owned());
    }
    let nested = body
        .get("_embedded")
        .and_then(|e| e.get("errors"))
        .and_then(Value::as_array);
    for err in nested.into_iter().flatten() {
        if let Some(m) = err.get("message").and_then(Value::as_str)
            && !parts.iter().any(|p| p == m)
        {
            parts.push(m.to_owned());
        }
    }
    if parts.is_empty() {
        return quote(&Value::Object(body.clone()).to_string());
    }
    quote(&parts.join("; "))
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
        assert!(msg.ends_with("… (1500 more bytes)"), "{msg}");
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
