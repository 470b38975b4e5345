//! Flow outputs: a flow's `outputs:` list rendered into the execution's `outputs` when it ends.
//!
//! Modelled on Kestra's executor (executor/.../ExecutorService.java `onEnd`, Kestra 2.0 source
//! at c94e774, the commit the 2.0.0-SNAPSHOT corpus reports; the same code in 1.3): once an
//! execution reaches its final state, every output's `value` is rendered, then typed by
//! `FlowInputOutput.typedOutputs` (an optional output without a value is `null`); a rendering
//! or typing failure logs `Failed to render output values` and turns the execution FAILED
//! with no outputs. The execution JSON carries them as `outputs` (Execution.java:
//! `@JsonInclude(NON_EMPTY) Map<String, Object> outputs`). No recorded pair has a flow with
//! outputs, so the rendering is the simulator's template subset (see [`render_strict`]).

use serde_json::{Map, Value, json};

use crate::executions::Execution;
use crate::flows;

/// Why the outputs could not be computed (Kestra's execution then ends FAILED).
#[derive(Debug)]
pub struct OutputError(pub String);

/// The typed outputs of `defs` (the flow's `outputs:` list) for an execution that just ended.
pub fn compute(defs: &[Value], e: &Execution) -> Result<Map<String, Value>, OutputError> {
    let mut out = Map::new();
    for d in defs {
        let Some(id) = d.get("id").and_then(Value::as_str) else {
            continue;
        };
        let rendered = match d.get("value") {
            Some(Value::String(s)) => Some(render_strict(s, e)?),
            Some(Value::Null) | None => None,
            Some(other) => Some(flows::scalar_string(other)),
        };
        let optional = d.get("required") == Some(&Value::Bool(false));
        let value = match rendered {
            None if optional => Value::Null,
            None => return Err(OutputError(format!("Missing required output:{id}"))),
            Some(s) => typed(d, id, &s)?,
        };
        out.insert(id.to_string(), value);
    }
    Ok(out)
}

/// A rendered output value typed as its `type` says (FlowInputOutput.parseType: numbers and
/// booleans parsed, JSON/ARRAY parsed, anything else kept as text).
fn typed(def: &Value, id: &str, s: &str) -> Result<Value, OutputError> {
    let ty = def.get("type").and_then(Value::as_str).unwrap_or("STRING");
    let bad = || {
        OutputError(format!(
            "Invalid value for output `{id}`: `{s}` is not a valid {ty}"
        ))
    };
    Ok(match ty {
        "INT" => json!(s.trim().parse::<i64>().map_err(|_| bad())?),
        "FLOAT" => json!(s.trim().parse::<f64>().map_err(|_| bad())?),
        "BOOL" | "BOOLEAN" => match s.trim() {
            "true" => json!(true),
            "false" => json!(false),
            _ => return Err(bad()),
        },
        "JSON" | "ARRAY" | "MULTISELECT" => serde_json::from_str(s).map_err(|_| bad())?,
        _ => json!(s),
    })
}

/// Renders `{{ … }}` expressions the simulator can know: `inputs.x` (and `inputs.form.child`),
/// `outputs.<task>.value` (Return), `outputs.<task>.values.<key>` (OutputValues),
/// `execution.id`, `flow.id`, `flow.namespace`, with a `?? 'literal'` fallback. Anything else
/// is an error, as an undefined variable is for Kestra's strict renderer.
pub fn render_strict(s: &str, e: &Execution) -> Result<String, OutputError> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(OutputError(format!("Unclosed expression in `{s}`")));
        };
        let expr = after[..end].trim();
        out.push_str(&evaluate(expr, e)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn evaluate(expr: &str, e: &Execution) -> Result<String, OutputError> {
    let mut alternatives = expr.split("??").map(str::trim);
    let head = alternatives.next().unwrap_or("");
    if let Some(v) = lookup(head, e).filter(|v| !v.is_null()) {
        return Ok(flows::scalar_string(&v));
    }
    match alternatives.next() {
        Some(fallback) => Ok(literal(fallback)
            .or_else(|| lookup(fallback, e).map(|v| flows::scalar_string(&v)))
            .unwrap_or_default()),
        None => Err(OutputError(format!(
            "Unable to render `{{{{ {expr} }}}}`: `{head}` is not defined"
        ))),
    }
}

fn literal(s: &str) -> Option<String> {
    let quoted = |q: char| s.strip_prefix(q).and_then(|r| r.strip_suffix(q));
    quoted('\'').or_else(|| quoted('"')).map(String::from)
}

/// The value of a dotted variable path, if the execution knows it.
pub fn lookup(path: &str, e: &Execution) -> Option<Value> {
    let mut parts = path.split('.');
    let root = parts.next()?;
    let start = match root {
        "inputs" => Value::Object(e.inputs.clone()),
        "outputs" => Value::Object(task_outputs(e)),
        "execution" => json!({"id": e.id}),
        "flow" => json!({"id": e.flow_id, "namespace": e.namespace}),
        _ => return None,
    };
    parts.try_fold(start, |v, key| v.get(key).cloned())
}

/// The outputs of the execution's finished task runs, keyed by task id.
fn task_outputs(e: &Execution) -> Map<String, Value> {
    e.task_runs
        .iter()
        .filter_map(|r| r.outputs.clone().map(|o| (r.task_id.clone(), o)))
        .collect()
}
