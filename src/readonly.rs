//! Read-only mode (`KESTRA_MCP_READ_ONLY=true`): which requests write, which tools and variants
//! are left, and how a tool is advertised with only its reading variants.
//!
//! "Writes" is decided from a request's HTTP method and path in one function,
//! [`request_writes`]: a GET reads; POST, PUT, PATCH and DELETE write, except the POSTs of
//! [`READING_POSTS`], which only check what they are sent. The engine uses it twice: on the
//! compiled templates, to hide and refuse writing tools and variants before any request, and at
//! the exchange point on every rendered request, as a second line of defence.

use std::collections::BTreeSet;
use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value};

use crate::spec::raw::Method;
use crate::spec::{Action, CompiledTool};

/// The setting, as messages name it.
pub const SETTING: &str = "KESTRA_MCP_READ_ONLY";

/// POSTs that change nothing on Kestra (validation endpoints), as paths under the tenant; `*`
/// stands for one path segment. No built-in tool sends one today.
pub const READING_POSTS: &[&str] = &[
    "/flows/validate",
    "/flows/validate/task",
    "/flows/validate/trigger",
    "/executions/*/*/validate",
    "/executions/*/resume/validate",
    "/executions/*/actions/resume/validate",
    "/tests/validate",
];

/// Whether a request with `method` to `path` (a template's path as written, or a rendered
/// path) may change something on Kestra.
pub fn request_writes(method: Method, path: &str) -> bool {
    match method {
        Method::Get => false,
        Method::Post => !READING_POSTS.iter().any(|pattern| path_matches(pattern, path)),
        Method::Put | Method::Patch | Method::Delete => true,
    }
}

/// Whether `path` matches `pattern` segment by segment, `*` matching any one segment.
fn path_matches(pattern: &str, path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let wanted: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let given: Vec<&str> = path.trim_matches('/').split('/').collect();
    wanted.len() == given.len() && wanted.iter().zip(&given).all(|(w, g)| *w == "*" || w == g)
}

/// Whether any request `action` may send writes.
pub fn action_writes(action: &Action) -> bool {
    action
        .requests()
        .iter()
        .any(|(_, r)| request_writes(r.template.method, &r.template.path_source))
}

/// The variants of `tool` that write (`None` stands for the single action of a tool without
/// variants).
pub fn writing_variants(tool: &CompiledTool) -> Vec<Option<&str>> {
    tool.outline
        .actions
        .iter()
        .filter(|action| requests_write(&action.requests))
        .map(|action| action.variant.as_deref())
        .collect()
}

/// Whether any of an action's outlined requests (method, path as written) writes.
fn requests_write(requests: &[(Method, String)]) -> bool {
    requests
        .iter()
        .any(|(method, path)| request_writes(*method, path))
}

/// Whether every action of `tool` writes: the tool is not served in read-only mode.
pub fn every_action_writes(tool: &CompiledTool) -> bool {
    tool.outline
        .actions
        .iter()
        .all(|action| requests_write(&action.requests))
}

/// Why a call of `tool` (with the picked `variant`) is refused in read-only mode.
pub fn refusal(tool: &str, variant: Option<&str>) -> String {
    refusal_naming(tool, variant, SETTING)
}

/// [`refusal`] naming `setting` (a session's `X-MCP-Readonly` header, say).
pub fn refusal_naming(tool: &str, variant: Option<&str>, setting: &str) -> String {
    match variant {
        Some(variant) => format!(
            "refused: {tool} '{variant}' changes Kestra and {setting} is set; only reading tools and actions are served"
        ),
        None => format!(
            "refused: {tool} changes Kestra and {setting} is set; only reading tools and actions are served"
        ),
    }
}

/// Why a rendered request is refused at the exchange point in read-only mode.
pub fn request_refusal(method: Method, path: &str) -> String {
    format!(
        "refused: {} {path} changes Kestra and {SETTING} is set",
        method.as_str()
    )
}

/// How `tool` is advertised in read-only mode: `None` when every action writes; otherwise the
/// tool with the writing values removed from its dispatch enum (and their `allOf` requirement
/// entries, and a writing default), its spec's `read_only_description` when it has one,
/// annotated as reading.
pub fn restrict(tool: &CompiledTool) -> Option<Tool> {
    if every_action_writes(tool) {
        return None;
    }
    let mut advertised = tool.tool.clone();
    if let Some(argument) = &tool.outline.argument {
        let writing: BTreeSet<&str> = writing_variants(tool).into_iter().flatten().collect();
        if !writing.is_empty() {
            let mut schema = (*advertised.input_schema).clone();
            drop_variants(&mut schema, argument, &writing);
            advertised.input_schema = Arc::new(schema);
            if let Some(description) = &tool.read_only_description {
                advertised.description = Some(description.clone().into());
            }
        }
    }
    advertised.annotations = Some(reading_annotations(advertised.annotations.take()));
    Some(advertised)
}

/// Every remaining action reads: read-only, hence idempotent; `destructiveHint` has no meaning.
fn reading_annotations(annotations: Option<ToolAnnotations>) -> ToolAnnotations {
    let mut a = annotations.unwrap_or_default();
    a.read_only_hint = Some(true);
    a.destructive_hint = None;
    a.idempotent_hint = Some(true);
    a
}

/// Removes `writing` from the enum of `argument` in `schema`, with its default when it is one
/// of them, and the `allOf` entries that state what those values require.
fn drop_variants(schema: &mut Map<String, Value>, argument: &str, writing: &BTreeSet<&str>) {
    let is_writing = |v: &Value| v.as_str().is_some_and(|s| writing.contains(s));
    if let Some(Value::Object(property)) = schema.get_mut("properties").and_then(|p| p.get_mut(argument)) {
        if let Some(Value::Array(values)) = property.get_mut("enum") {
            values.retain(|v| !is_writing(v));
        }
        if property.get("default").is_some_and(is_writing) {
            property.remove("default");
        }
    }
    if let Some(Value::Array(conditions)) = schema.get_mut("allOf") {
        conditions.retain_mut(|c| keep_condition(c, argument, &is_writing));
        if conditions.is_empty() {
            schema.remove("allOf");
        }
    }
}

/// Whether a variant requirement (`{if: {properties: {ARG: TEST}}, then: ...}`) still applies to
/// a variant left, TEST being `{const: NAME}` or `{enum: [NAMES]}` (several variants with the
/// same requirement); the writing names leave an `enum`. Other conditions are kept as they are.
fn keep_condition(condition: &mut Value, argument: &str, is_writing: &impl Fn(&Value) -> bool) -> bool {
    let Some(Value::Object(test)) = condition
        .get_mut("if")
        .and_then(|when| when.get_mut("properties"))
        .and_then(|properties| properties.get_mut(argument))
    else {
        return true;
    };
    if test.get("const").is_some_and(is_writing) {
        return false;
    }
    let Some(Value::Array(names)) = test.get_mut("enum") else {
        return true;
    };
    names.retain(|n| !is_writing(n));
    match names.as_slice() {
        [] => false,
        [one] => {
            let one = one.clone();
            test.remove("enum");
            test.insert("const".into(), one);
            true
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LoadOptions, load_catalog};

    fn builtin(name: &str) -> Arc<CompiledTool> {
        let catalog = load_catalog(&LoadOptions::default()).unwrap();
        catalog.tools.into_iter().find(|t| t.tool.name == name).unwrap()
    }

    #[test]
    fn gets_read_validation_posts_read_every_other_method_writes() {
        assert!(!request_writes(Method::Get, "/flows/{{ namespace }}"));
        assert!(!request_writes(Method::Post, "/flows/validate"));
        assert!(!request_writes(
            Method::Post,
            "/flows/validate/task?section=tasks"
        ));
        assert!(!request_writes(
            Method::Post,
            "/executions/{{ namespace }}/{{ flow_id }}/validate"
        ));
        assert!(!request_writes(
            Method::Post,
            "/executions/company.team/hello/validate"
        ));
        assert!(request_writes(Method::Post, "/executions/company.team/hello"));
        assert!(request_writes(Method::Post, "/flows"));
        assert!(request_writes(Method::Post, "/flows/validate/other"));
        assert!(request_writes(Method::Post, "/executions/validate"));
        for method in [Method::Put, Method::Patch, Method::Delete] {
            assert!(request_writes(method, "/flows/validate"), "{method:?}");
        }
    }

    #[test]
    fn a_manage_tool_keeps_only_its_reading_values_and_is_annotated_as_reading() {
        let kv = builtin("manage_kv_store");
        assert_eq!(writing_variants(&kv), vec![Some("delete"), Some("set")]);
        let advertised = restrict(&kv).unwrap();
        let schema = Value::Object((*advertised.input_schema).clone());
        assert_eq!(
            schema.pointer("/properties/action/enum").unwrap(),
            &serde_json::json!(["get", "list"])
        );
        let conditions = schema
            .get("allOf")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for condition in &conditions {
            let value = condition.pointer("/if/properties/action/const").unwrap();
            assert!(["get", "list"].contains(&value.as_str().unwrap()), "{condition}");
        }
        let annotations = advertised.annotations.unwrap();
        assert_eq!(annotations.read_only_hint, Some(true));
        assert_eq!(annotations.destructive_hint, None);
        // The original is left as it was.
        assert_eq!(
            kv.tool.input_schema["properties"]["action"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn a_tool_whose_every_action_writes_is_not_served_and_a_reading_one_is_unchanged_but_its_hints() {
        assert!(restrict(&builtin("execute_flow")).is_none());
        assert!(restrict(&builtin("delete_flow_logs")).is_none());
        let search = builtin("search_flows");
        let advertised = restrict(&search).unwrap();
        assert_eq!(advertised.input_schema, search.tool.input_schema);
        assert_eq!(advertised.annotations.unwrap().read_only_hint, Some(true));
    }

    /// Whether `text` has `name` as a whole word (underscores read as spaces too: `change_status`
    /// is also "change status").
    fn names(text: &str, name: &str) -> bool {
        let words: Vec<String> = text
            .to_lowercase()
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(str::to_owned)
            .collect();
        let spaced = name.replace('_', " ");
        words.iter().any(|w| w == name) || text.to_lowercase().contains(&spaced) && spaced.contains(' ')
    }

    #[test]
    fn read_only_descriptions_name_no_action_the_schema_no_longer_offers() {
        let catalog = load_catalog(&LoadOptions::default()).unwrap();
        let mut restricted = 0;
        for tool in &catalog.tools {
            let writing: Vec<&str> = writing_variants(tool).into_iter().flatten().collect();
            let Some(advertised) = restrict(tool).filter(|_| !writing.is_empty()) else {
                continue;
            };
            restricted += 1;
            let name = &tool.tool.name;
            let description = advertised.description.as_deref().unwrap_or_default();
            assert_ne!(
                Some(description),
                tool.tool.description.as_deref(),
                "{name}: give it a read_only_description"
            );
            for variant in &writing {
                assert!(
                    !names(description, variant),
                    "{name} names '{variant}': {description}"
                );
            }
        }
        assert!(restricted >= 8, "{restricted} tools keep some variants only");
        // Outside read-only mode the description is the spec's own.
        let kv = builtin("manage_kv_store");
        assert!(names(
            kv.tool.description.as_deref().unwrap_or_default(),
            "delete"
        ));
    }

    #[test]
    fn the_requirements_of_removed_variants_go_with_them() {
        let mut schema = serde_json::json!({
            "properties": {"action": {"enum": ["get", "set"], "default": "set"}},
            "allOf": [{"if": {"properties": {"action": {"const": "set"}}}, "then": {"required": ["value"]}}]
        })
        .as_object()
        .unwrap()
        .clone();
        drop_variants(&mut schema, "action", &BTreeSet::from(["set"]));
        assert_eq!(
            Value::Object(schema),
            serde_json::json!({"properties": {"action": {"enum": ["get"]}}})
        );
    }

    #[test]
    fn a_requirement_shared_by_several_variants_keeps_the_reading_ones() {
        let mut schema = serde_json::json!({
            "properties": {"action": {"enum": ["get", "set", "delete", "list"]}},
            "allOf": [
                {"if": {"properties": {"action": {"enum": ["get", "set", "delete"]}}}, "then": {"required": ["key"]}},
                {"if": {"properties": {"action": {"enum": ["set", "delete"]}}}, "then": {"required": ["value"]}},
                {"if": {"properties": {"other": {"const": "x"}}}, "then": {"required": ["key"]}}
            ]
        })
        .as_object()
        .unwrap()
        .clone();
        drop_variants(&mut schema, "action", &BTreeSet::from(["set", "delete"]));
        assert_eq!(
            Value::Object(schema),
            serde_json::json!({
                "properties": {"action": {"enum": ["get", "list"]}},
                "allOf": [
                    {"if": {"properties": {"action": {"const": "get"}}}, "then": {"required": ["key"]}},
                    {"if": {"properties": {"other": {"const": "x"}}}, "then": {"required": ["key"]}}
                ]
            })
        );
    }
}
