//! One flow → one tool spec (YAML text, the same that `kestra-mcp tools from-flow` prints).
//!
//! PLACEHOLDER: a minimal translation (inputs as free arguments, no wait) so that the live
//! source can be built against the interface; replaced by the full translation.

use serde_json::{Value, json};

use super::{FlowToolError, FlowToolSettings};

/// The spec of the tool for `flow` (a flow as Kestra's `GET /flows/{namespace}/{id}` gives it).
pub fn flow_tool_spec(flow: &Value, settings: &FlowToolSettings) -> Result<String, FlowToolError> {
    let namespace = flow.get("namespace").and_then(Value::as_str).unwrap_or_default();
    let flow_id = flow.get("id").and_then(Value::as_str).unwrap_or_default();
    let fail = |reason: &str| FlowToolError {
        namespace: namespace.to_owned(),
        flow_id: flow_id.to_owned(),
        reason: reason.to_owned(),
    };
    if namespace.is_empty() || flow_id.is_empty() {
        return Err(fail("the flow has no namespace or id"));
    }
    let spec = json!({
        "name": settings.name,
        "group": settings.group,
        "description": settings.description.clone().unwrap_or_else(|| format!("Run flow {namespace}.{flow_id}.")),
        "input": {"type": "object", "properties": {}, "additionalProperties": true},
        "request": {
            "operation": "createExecution",
            "params": {"namespace": namespace, "id": flow_id},
            "query": {"wait": "false"},
        },
    });
    yaml_serde::to_string(&spec).map_err(|e| fail(&format!("cannot write the spec: {e}")))
}
