//! Projection: turns Kestra's decoded answer into the tool result. JSONPath selection (RFC 9535,
//! parsed once at load), field trimming, an optional text template, and wrapping so that the
//! result is always a JSON object (MCP's `structuredContent` must be one). No I/O.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::{Map, Value};

use crate::render::{TemplateError, TemplateId, Templates};

/// A compiled JSONPath selection.
#[derive(Debug, Clone)]
pub struct Selection {
    query: JpQuery,
    singular: bool,
    source: String,
}

impl Selection {
    /// Parses a JSONPath expression.
    pub fn parse(path: &str) -> Result<Self, String> {
        let query = parse_json_path(path).map_err(|e| format!("invalid JSONPath '{path}': {e}"))?;
        let singular = query.segments.iter().all(|s| {
            matches!(
                s,
                Segment::Selector(Selector::Name(_)) | Segment::Selector(Selector::Index(_))
            )
        });
        Ok(Selection {
            query,
            singular,
            source: path.to_owned(),
        })
    }

    /// The JSONPath as written in the spec.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The selected value: one value (or null) for a singular path, else the list of matches.
    pub fn apply(&self, doc: &Value) -> Value {
        let found = js_path_process(&self.query, doc).unwrap_or_default();
        if self.singular {
            found
                .into_iter()
                .next()
                .map(|r| r.val().clone())
                .unwrap_or(Value::Null)
        } else {
            Value::Array(found.into_iter().map(|r| r.val().clone()).collect())
        }
    }
}

/// The compiled `response` of a spec, minus its status outcomes.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub select: Option<Selection>,
    pub fields: Option<Vec<String>>,
    pub template: Option<TemplateId>,
    pub wrap: Option<String>,
}

impl Projection {
    /// Applies selection, trimming, the template and the `wrap` key if any. `ctx` is the
    /// template context (arguments, steps); `result` is added to it for the template.
    pub fn value(
        &self,
        body: &Value,
        templates: &Templates,
        ctx: &Map<String, Value>,
    ) -> Result<Value, TemplateError> {
        let mut result = match &self.select {
            Some(sel) => sel.apply(body),
            None => body.clone(),
        };
        if let Some(fields) = &self.fields {
            result = trim_fields(result, fields);
        }
        if let Some(template) = &self.template {
            let mut ctx = ctx.clone();
            ctx.insert("result".to_owned(), result);
            let text = templates.render(template, &crate::render::context(&ctx))?;
            result = Value::String(text);
        }
        Ok(match &self.wrap {
            Some(key) => Value::Object(wrap(result, Some(key))),
            None => result,
        })
    }
}

/// Keeps only `fields` in an object, or in each object of a list.
fn trim_fields(value: Value, fields: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            fields
                .iter()
                .filter_map(|f| map.get(f).map(|v| (f.clone(), v.clone())))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| trim_fields(v, fields)).collect()),
        other => other,
    }
}

/// Wraps `value` under `key`; a non-object is always wrapped (under `result` by default).
pub fn wrap(value: Value, key: Option<&str>) -> Map<String, Value> {
    match (value, key) {
        (value, Some(key)) => Map::from_iter([(key.to_owned(), value)]),
        (Value::Object(map), None) => map,
        (other, None) => Map::from_iter([("result".to_owned(), other)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn singular_paths_give_one_value_and_others_a_list() {
        let doc = json!({"results": [{"id": "a", "s": "FAILED"}, {"id": "b", "s": "SUCCESS"}], "total": 2});
        assert_eq!(Selection::parse("$.total").unwrap().apply(&doc), json!(2));
        assert_eq!(Selection::parse("$.missing").unwrap().apply(&doc), Value::Null);
        assert_eq!(
            Selection::parse("$.results[0].id").unwrap().apply(&doc),
            json!("a")
        );
        assert_eq!(
            Selection::parse("$.results[*].id").unwrap().apply(&doc),
            json!(["a", "b"])
        );
        assert_eq!(
            Selection::parse("$.results[?@.s == 'FAILED'].id")
                .unwrap()
                .apply(&doc),
            json!(["a"])
        );
    }

    #[test]
    fn invalid_paths_are_reported() {
        let err = Selection::parse("$.results[").unwrap_err();
        assert!(err.starts_with("invalid JSONPath '$.results['"), "{err}");
    }

    #[test]
    fn projection_trims_and_wraps() {
        let p = Projection {
            select: Some(Selection::parse("$.results").unwrap()),
            fields: Some(vec!["id".into(), "namespace".into()]),
            template: None,
            wrap: Some("results".into()),
        };
        let body = json!({"results": [{"id": "a", "namespace": "n", "tasks": []}], "total": 1});
        let out = p.value(&body, &Templates::new(), &Map::new()).unwrap();
        assert_eq!(out, json!({"results": [{"id": "a", "namespace": "n"}]}));
    }

    #[test]
    fn non_objects_are_wrapped_under_result() {
        assert_eq!(
            Value::Object(wrap(json!("yaml: text"), None)),
            json!({"result": "yaml: text"})
        );
        assert_eq!(Value::Object(wrap(json!({"a": 1}), None)), json!({"a": 1}));
    }

    #[test]
    fn template_renders_the_selected_result() {
        let mut templates = Templates::new();
        let allowed = ["result".to_owned()].into_iter().collect();
        let id = templates
            .text("{% for r in result %}{{ r.id }};{% endfor %}", &allowed)
            .unwrap();
        let p = Projection {
            select: Some(Selection::parse("$[*]").unwrap()),
            template: Some(id),
            ..Projection::default()
        };
        let out = p
            .value(&json!([{"id": "a"}, {"id": "b"}]), &templates, &Map::new())
            .unwrap();
        assert_eq!(Value::Object(wrap(out, None)), json!({"result": "a;b;"}));
    }
}
