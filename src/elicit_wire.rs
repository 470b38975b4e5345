//! The MCP wire form of a question (`elicitation/create`, form mode) and of its answer, between
//! rmcp's types and [`crate::elicit`]'s: for `serve.rs` (asking through a session's peer) and
//! `tasks.rs` (asking through a task's `inputRequests`).

use rmcp::model::{ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction};
use serde_json::Value;

use crate::elicit::{Answer, ElicitError, Elicited};

/// An `elicitation/create` request (form mode) for `message` and `schema`.
pub fn elicit_request(message: String, schema: Value) -> Result<ElicitRequest, ElicitError> {
    let params: ElicitRequestParams = serde_json::from_value(serde_json::json!({
        "mode": "form",
        "message": message,
        "requestedSchema": schema,
    }))
    .map_err(|e| ElicitError(format!("not a valid elicitation request: {e}")))?;
    Ok(ElicitRequest::new(params))
}

pub fn elicited(result: ElicitResult) -> Elicited {
    let answer = match result.action {
        ElicitationAction::Accept => Answer::Accept,
        ElicitationAction::Decline => Answer::Decline,
        // Cancel, and any action a later protocol adds: not an answer to go on with.
        _ => Answer::Cancel,
    };
    let content = match result.content {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    Elicited { answer, content }
}
