//! Arguments synthesised from a tool's input schema, so that every request a tool can send is
//! rendered: values that fit the schema's formats, patterns and bounds, defaults or not.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::openapi::{first_type, resolve_local};
use crate::spec::{Action, CompiledTool};

/// Which values to synthesise.
#[derive(Clone, Copy, PartialEq)]
enum Fill {
    /// Non-null defaults where the schema gives them.
    Defaults,
    /// Synthesised values, ignoring defaults (booleans `true`).
    Values,
    /// Synthesised values, booleans `false`.
    ValuesFalse,
}

const STRING_CANDIDATES: &[&str] = &[
    "sample-x",
    "sample_x",
    "company.team",
    "key:value",
    "Sample",
    "SAMPLE",
    "x",
    "1",
    "2024-01-01T00:00:00Z",
    "2024-01-01",
    "PT1H",
    "0 * * * *",
    "sample@example.com",
    "https://example.com/sample",
    "/sample.txt",
    "00000000-0000-0000-0000-000000000000",
];

fn date_ish(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("date") || n.ends_with("_at") || ["start", "end", "since", "until"].contains(&n.as_str())
}

fn sample_string(name: &str, schema: &Value) -> Value {
    let mut candidates: Vec<String> = Vec::new();
    match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => candidates.push("2024-01-01T00:00:00Z".into()),
        Some("date") => candidates.push("2024-01-01".into()),
        Some("duration") => candidates.push("PT1H".into()),
        Some("email") => candidates.push("sample@example.com".into()),
        Some("uri" | "url") => candidates.push("https://example.com/sample".into()),
        Some("uuid") => candidates.push("00000000-0000-0000-0000-000000000000".into()),
        _ => {}
    }
    if date_ish(name) {
        candidates.push("2024-01-01T00:00:00Z".into());
    }
    candidates.extend(STRING_CANDIDATES.iter().map(|s| s.to_string()));
    // Check candidates against the string keywords of the schema.
    let mut check = Map::new();
    check.insert("type".into(), json!("string"));
    for k in ["pattern", "minLength", "maxLength", "not", "enum", "const"] {
        if let Some(v) = schema.get(k) {
            check.insert(k.into(), v.clone());
        }
    }
    let fits = jsonschema::validator_for(&Value::Object(check)).ok();
    let chosen = candidates
        .iter()
        .find(|c| fits.as_ref().is_none_or(|v| v.is_valid(&json!(c))))
        .cloned()
        .unwrap_or_else(|| "sample-x".into());
    Value::String(chosen)
}

fn number_from(schema: &Value, integer: bool) -> Value {
    let mut n = match (
        schema.get("minimum").and_then(Value::as_f64),
        schema.get("exclusiveMinimum").and_then(Value::as_f64),
    ) {
        (Some(min), _) => min,
        (None, Some(ex)) => ex + 1.0,
        _ => 1.0,
    };
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        n = max;
    }
    if integer { json!(n as i64) } else { json!(n) }
}

/// A value valid for `schema` (resolving `$ref` against the input schema `root`).
fn sample_value(name: &str, schema: &Value, root: &Value, fill: Fill, depth: usize) -> Value {
    let schema = resolve_local(root, schema);
    if depth > 6 {
        return Value::Null;
    }
    if fill == Fill::Defaults
        && let Some(default) = schema.get("default").filter(|d| !d.is_null())
    {
        return default.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.iter().find(|v| !v.is_null()))
    {
        return first.clone();
    }
    for combinator in ["anyOf", "oneOf"] {
        if let Some(branch) = schema
            .get(combinator)
            .and_then(Value::as_array)
            .and_then(|branches| {
                branches.iter().find(|b| {
                    first_type(resolve_local(root, b)).is_some_and(|t| t != "null") || b.get("enum").is_some()
                })
            })
        {
            return sample_value(name, branch, root, fill, depth + 1);
        }
    }
    if let Some(branch) = schema
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|b| b.first())
        && first_type(schema).is_none()
    {
        return sample_value(name, branch, root, fill, depth + 1);
    }
    match first_type(schema).as_deref() {
        Some("boolean") => json!(fill != Fill::ValuesFalse),
        Some("integer") => number_from(schema, true),
        Some("number") => number_from(schema, false),
        Some("array") => {
            let items = schema.get("items").cloned().unwrap_or(json!({"type": "string"}));
            let count = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
            Value::Array(
                (0..count)
                    .map(|_| sample_value(name, &items, root, fill, depth + 1))
                    .collect(),
            )
        }
        Some("object") => {
            let mut out = Map::new();
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, s) in props.into_iter().flatten() {
                out.insert(k.clone(), sample_value(k, s, root, fill, depth + 1));
            }
            if out.is_empty() {
                match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {}
                    Some(s @ Value::Object(_)) => {
                        out.insert(
                            "sample_key".into(),
                            sample_value("sample_key", s, root, fill, depth + 1),
                        );
                    }
                    _ => {
                        out.insert("sample_key".into(), json!("sample-x"));
                    }
                }
            }
            Value::Object(out)
        }
        _ => sample_string(name, schema),
    }
}

/// Argument sets for one variant (`None`: a single-action tool), named: only what is
/// required, optionals as explicit nulls, everything with defaults, everything with
/// synthesised values, booleans flipped.
pub(crate) fn argument_sets(
    tool: &CompiledTool,
    variant: Option<(&str, &str)>,
    action: &Action,
) -> Vec<(String, Map<String, Value>)> {
    // The schema calls are checked against (null and defaults included), not the lean copy;
    // its text was written from a parsed map at load, so reading it back does not fail (and
    // the tool's validator, built from the same text, reports it if it ever did).
    let schema = Value::Object(tool.input_schema().unwrap_or_default());
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut required: BTreeSet<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    required.extend(action.requires.iter().cloned());
    let build = |fill: Fill, all: bool| -> Map<String, Value> {
        let mut args = Map::new();
        for (name, s) in &props {
            if all || required.contains(name) {
                args.insert(name.clone(), sample_value(name, s, &schema, fill, 0));
            }
        }
        if let Some((argument, value)) = variant {
            args.insert(argument.to_owned(), json!(value));
        }
        args
    };
    // Optional arguments whose schema accepts null, given as an explicit null.
    let mut nulls = build(Fill::Defaults, false);
    for (name, s) in &props {
        let accepts_null = jsonschema::validator_for(s).is_ok_and(|v| v.is_valid(&Value::Null));
        if !nulls.contains_key(name) && accepts_null {
            nulls.insert(name.clone(), Value::Null);
        }
    }
    let mut sets: Vec<(String, Map<String, Value>)> = Vec::new();
    for (label, args) in [
        ("required only", build(Fill::Defaults, false)),
        ("optionals null", nulls),
        ("all set, defaults", build(Fill::Defaults, true)),
        ("all set, values", build(Fill::Values, true)),
        ("all set, booleans false", build(Fill::ValuesFalse, true)),
    ] {
        if !sets.iter().any(|(_, a)| *a == args) {
            sets.push((label.to_owned(), args));
        }
    }
    sets
}
