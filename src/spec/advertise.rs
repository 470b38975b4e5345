//! The input schema clients see, made lean: every tool definition is sent to the model with
//! every turn, so the advertised schema says what a client needs to build a call and nothing
//! twice. The engine validates calls with the spec's own schema (which still accepts `null`
//! for optional arguments, as the Python server does); only the advertised copy is leaned:
//!
//! - `default: null` and `default: ""` are dropped: an optional argument without a default, or
//!   whose default is the empty text, is left out;
//! - `type: [T, "null"]` becomes `type: T` (and `null` leaves an `enum`, and a `{type: null}`
//!   branch an `anyOf`): a client never needs to send `null`, and some clients'
//!   function-calling schemas take a single type only;
//! - variant requirements with the same `then` are merged into one `if` on an `enum` of the
//!   variants, and the `if` needs no `required` when the dispatch argument is always required.

use serde_json::{Map, Value, json};

/// The lean copy of an advertised input schema.
pub fn lean_input(mut schema: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        properties.values_mut().for_each(lean_property);
    }
    let always: Vec<String> = match schema.get("required") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Array(conditions)) = schema.get_mut("allOf") {
        *conditions = merge_variant_requirements(std::mem::take(conditions), &always);
    }
    schema
}

fn lean_property(property: &mut Value) {
    let Value::Object(p) = property else { return };
    if matches!(p.get("default"), Some(Value::Null)) || p.get("default") == Some(&json!("")) {
        p.remove("default");
    }
    if let Some(Value::Array(types)) = p.get("type") {
        let kept: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        let single = (kept.len() == 1).then(|| kept[0].clone());
        if kept.len() < types.len() {
            p.insert("type".into(), single.unwrap_or(Value::Array(kept)));
        }
    }
    if let Some(Value::Array(values)) = p.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(branches)) = p.get_mut("anyOf") {
        branches.retain(|b| b != &json!({"type": "null"}));
    }
}

/// One requirement of a variant, as `with_variant_requirements` writes it:
/// `{if: {properties: {ARG: {const: NAME}}, required: [ARG]}, then: THEN}`.
fn variant_condition(condition: &Value) -> Option<(&str, &Value, &Value)> {
    let when = condition.get("if")?.as_object()?;
    let properties = when.get("properties")?.as_object()?;
    let (argument, test) = properties.iter().next().filter(|_| properties.len() == 1)?;
    let name = test
        .get("const")
        .filter(|_| test.as_object().map(Map::len) == Some(1))?;
    let required = when.get("required").cloned().unwrap_or(json!([]));
    let expected = json!([argument]);
    (when.len() <= 2 && (required == expected || when.len() == 1)).then_some((
        argument.as_str(),
        name,
        condition.get("then")?,
    ))
}

/// Conditions on the same argument with equal `then` merged into one on an `enum` of the
/// variants; other conditions kept as they are, in their order.
fn merge_variant_requirements(conditions: Vec<Value>, always: &[String]) -> Vec<Value> {
    let mut merged: Vec<(String, Vec<Value>, Value)> = Vec::new();
    let mut others = Vec::new();
    for condition in conditions {
        match variant_condition(&condition) {
            Some((argument, name, then)) => {
                let (argument, name, then) = (argument.to_owned(), name.clone(), then.clone());
                match merged.iter_mut().find(|(a, _, t)| *a == argument && *t == then) {
                    Some((_, names, _)) => names.push(name),
                    None => merged.push((argument, vec![name], then)),
                }
            }
            None => others.push(condition),
        }
    }
    let rebuilt = merged.into_iter().map(|(argument, names, then)| {
        let test = match names.as_slice() {
            [one] => json!({"const": one}),
            _ => json!({"enum": names}),
        };
        let mut when = json!({"properties": {argument.as_str(): test}});
        if !always.contains(&argument) {
            when["required"] = json!([argument]);
        }
        json!({"if": when, "then": then})
    });
    others.into_iter().chain(rebuilt).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn requirement(action: &str, needed: &[&str]) -> Value {
        json!({"if": {"properties": {"action": {"const": action}}, "required": ["action"]}, "then": {"required": needed}})
    }

    #[test]
    fn optional_nulls_are_not_advertised() {
        let schema = object(json!({
            "type": "object",
            "properties": {
                "key": {"type": ["string", "null"], "default": null, "description": "Key"},
                "status": {"type": ["string", "null"], "enum": ["FAILED", "SUCCESS", null], "default": null},
                "value": {"default": null},
                "either": {"type": ["string", "integer", "null"]},
                "flow_id": {"type": "string", "default": ""},
                "size": {"type": "integer", "default": 10},
                "labels": {"anyOf": [{"type": "object"}, {"type": "array"}, {"type": "null"}]}
            }
        }));
        assert_eq!(
            Value::Object(lean_input(schema)),
            json!({
                "type": "object",
                "properties": {
                    "key": {"type": "string", "description": "Key"},
                    "status": {"type": "string", "enum": ["FAILED", "SUCCESS"]},
                    "value": {},
                    "either": {"type": ["string", "integer"]},
                    "flow_id": {"type": "string"},
                    "size": {"type": "integer", "default": 10},
                    "labels": {"anyOf": [{"type": "object"}, {"type": "array"}]}
                }
            })
        );
    }

    #[test]
    fn variants_needing_the_same_arguments_share_one_condition() {
        let schema = object(json!({
            "type": "object",
            "properties": {"action": {"type": "string"}},
            "required": ["action"],
            "allOf": [
                requirement("delete", &["key"]),
                requirement("get", &["key"]),
                requirement("set", &["key", "value"]),
                {"not": {"required": ["x"]}}
            ]
        }));
        assert_eq!(
            lean_input(schema)["allOf"],
            json!([
                {"not": {"required": ["x"]}},
                {"if": {"properties": {"action": {"enum": ["delete", "get"]}}}, "then": {"required": ["key"]}},
                {"if": {"properties": {"action": {"const": "set"}}}, "then": {"required": ["key", "value"]}}
            ])
        );
    }

    #[test]
    fn an_optional_dispatch_argument_keeps_required_in_the_condition() {
        // `info` has a default: without `required` an absent `info` would match every `if`.
        let schema = object(json!({
            "type": "object",
            "properties": {"action": {"type": "string", "default": "get"}},
            "allOf": [requirement("get", &["key"]), requirement("delete", &["key"])]
        }));
        assert_eq!(
            lean_input(schema)["allOf"],
            json!([{"if": {"properties": {"action": {"enum": ["get", "delete"]}}, "required": ["action"]}, "then": {"required": ["key"]}}])
        );
    }

    #[test]
    fn the_lean_schema_accepts_and_refuses_the_same_calls_as_the_full_one() {
        let full = json!({
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["get", "set", "list"]},
                "key": {"type": ["string", "null"], "default": null},
                "value": {"default": null}
            },
            "required": ["action"],
            "additionalProperties": false,
            "allOf": [requirement("get", &["key"]), requirement("set", &["key", "value"])]
        });
        let lean = Value::Object(lean_input(object(full.clone())));
        let (full, lean) = match (jsonschema::validator_for(&full), jsonschema::validator_for(&lean)) {
            (Ok(f), Ok(l)) => (f, l),
            _ => panic!("schemas compile"),
        };
        let calls = [
            json!({"action": "list"}),
            json!({"action": "get"}),
            json!({"action": "get", "key": "k"}),
            json!({"action": "set", "key": "k"}),
            json!({"action": "set", "key": "k", "value": 1}),
            json!({"key": "k"}),
            json!({"action": "list", "other": 1}),
        ];
        for call in calls {
            assert_eq!(full.is_valid(&call), lean.is_valid(&call), "{call}");
        }
    }
}
