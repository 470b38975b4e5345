//! Request templates (compiled from a spec's `request`) and the requests they render to.
//! Rendering is pure: the HTTP stage (`http.rs`) sends what this produces.

use std::collections::BTreeSet;

use minijinja::Value as JinjaValue;
use serde_json::Value;

use crate::render::{JsonTemplate, TemplateError, TemplateId, Templates, ValueTemplate};
use crate::spec::raw::{BodySpec, Method, PartSpec, RequestSpec, Scope};

/// Where a request goes: its method, root and path template, as written in the spec
/// (`method:`/`path:`) or implied by its `operation` (src/spec/operations.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub method: Method,
    pub scope: Scope,
    pub path: String,
    /// Whether the spec wrote `method` and `path` itself.
    pub written: bool,
}

impl Target {
    /// The target a spec writes out, when it gives both `method` and `path`.
    pub fn written(spec: &RequestSpec) -> Option<Target> {
        Some(Target {
            method: spec.method?,
            scope: spec.scope.unwrap_or_default(),
            path: spec.path.clone()?,
            written: true,
        })
    }
}

/// A compiled request.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    /// The OpenAPI operation ids the spec says this request calls (empty: not declared).
    pub operations: Vec<String>,
    pub method: Method,
    pub scope: Scope,
    /// The path template, as written in the spec or implied by the operation, for listings
    /// and contract checks.
    pub path_source: String,
    /// Whether the spec wrote `method` and `path` itself (else the operation implied them).
    pub route_written: bool,
    path: TemplateId,
    query: Vec<(String, ValueTemplate)>,
    headers: Vec<(String, ValueTemplate)>,
    body: Option<BodyTemplate>,
    stream: Option<StreamTemplate>,
}

#[derive(Debug, Clone)]
struct StreamTemplate {
    max_events: ValueTemplate,
    max_seconds: ValueTemplate,
    stop_on: Vec<String>,
}

pub use crate::events::StreamLimits;

#[derive(Debug, Clone)]
enum BodyTemplate {
    Json(JsonTemplate),
    Text {
        template: TemplateId,
        content_type: String,
    },
    Multipart(Vec<PartTemplate>),
}

#[derive(Debug, Clone)]
enum PartTemplate {
    Field {
        name: ValueTemplate,
        value: ValueTemplate,
        filename: Option<ValueTemplate>,
        content_type: Option<String>,
    },
    Each(ValueTemplate),
}

/// A request ready to send: method, encoded path relative to its scope, query pairs, headers
/// and body.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedRequest {
    pub method: Method,
    pub scope: Scope,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: RenderedBody,
    /// Read the answer as an event stream within these limits.
    pub stream: Option<StreamLimits>,
}

impl RenderedRequest {
    /// A plain GET with query parameters (probes, checks, tests).
    pub fn get(scope: Scope, path: &str, query: &[(&str, &str)]) -> Self {
        RenderedRequest {
            method: Method::Get,
            scope,
            path: path.to_owned(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: vec![],
            body: RenderedBody::None,
            stream: None,
        }
    }
}

/// A rendered request body.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderedBody {
    None,
    Json(Value),
    Text { content_type: String, text: String },
    Multipart(Vec<RenderedPart>),
}

/// One multipart part.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPart {
    pub name: String,
    pub value: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

/// A compile error with the spec field it is about (relative to the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn at(field: impl Into<String>) -> impl FnOnce(TemplateError) -> FieldError {
    let field = field.into();
    move |e| FieldError { field, message: e.0 }
}

impl RequestTemplate {
    /// Compiles a request spec sent to `target`; `allowed` lists the variables templates may
    /// read.
    pub fn compile(
        spec: &RequestSpec,
        target: &Target,
        templates: &mut Templates,
        allowed: &BTreeSet<String>,
    ) -> Result<Self, FieldError> {
        // An implied path's errors come from the operation (and its `params`).
        let path_field = if target.written { "path" } else { "operation" };
        let path = templates.path(&target.path, allowed).map_err(at(path_field))?;
        let query = compile_pairs(&spec.query, "query", templates, allowed)?;
        let headers = compile_pairs(&spec.headers, "headers", templates, allowed)?;
        for (name, _) in &headers {
            if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("host") {
                return Err(FieldError {
                    field: format!("headers.{name}"),
                    message: format!("header '{name}' is set by the engine and cannot be templated"),
                });
            }
        }
        let body = match &spec.body {
            Some(body) => Some(compile_body(body, templates, allowed)?),
            None => None,
        };
        let stream = match &spec.stream {
            Some(st) => Some(StreamTemplate {
                max_events: templates
                    .value(&st.max_events, allowed)
                    .map_err(at("stream.max_events"))?,
                max_seconds: templates
                    .value(&st.max_seconds, allowed)
                    .map_err(at("stream.max_seconds"))?,
                stop_on: st.stop_on.clone(),
            }),
            None => None,
        };
        if target.method == Method::Get && body.is_some() {
            return Err(FieldError {
                field: "body".into(),
                message: "a GET request cannot have a body".into(),
            });
        }
        Ok(RequestTemplate {
            operations: spec.operation.as_ref().map(|o| o.to_vec()).unwrap_or_default(),
            method: target.method,
            scope: target.scope,
            path_source: target.path.clone(),
            route_written: target.written,
            path,
            query,
            headers,
            body,
            stream,
        })
    }

    /// Renders the request with a call's context.
    pub fn render(&self, templates: &Templates, ctx: &JinjaValue) -> Result<RenderedRequest, TemplateError> {
        let path = templates
            .render(&self.path, ctx)
            .map_err(|e| TemplateError(format!("cannot build the request path: {e}")))?;
        let mut query = Vec::new();
        for (name, t) in &self.query {
            for value in flatten(templates.render_value(t, ctx)?) {
                query.push((name.clone(), value));
            }
        }
        let mut headers = Vec::new();
        for (name, t) in &self.headers {
            if let Some(value) = flatten(templates.render_value(t, ctx)?).into_iter().next() {
                headers.push((name.clone(), value));
            }
        }
        let body = match &self.body {
            None => RenderedBody::None,
            Some(b) => render_body(b, templates, ctx)?,
        };
        let stream = match &self.stream {
            Some(st) => Some(StreamLimits {
                max_events: positive(templates.render_value(&st.max_events, ctx)?, "stream.max_events")?
                    as usize,
                max_duration: std::time::Duration::try_from_secs_f64(positive(
                    templates.render_value(&st.max_seconds, ctx)?,
                    "stream.max_seconds",
                )?)
                .map_err(|e| TemplateError(format!("`stream.max_seconds` is out of range: {e}")))?,
                stop_on: st.stop_on.clone(),
                watch: None,
            }),
            None => None,
        };
        Ok(RenderedRequest {
            method: self.method,
            scope: self.scope,
            path,
            query,
            headers,
            body,
            stream,
        })
    }
}

/// A positive number from a rendered value (a number or numeric text).
fn positive(value: Value, field: &str) -> Result<f64, TemplateError> {
    let n = value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
    match n {
        Some(n) if n > 0.0 && n.is_finite() => Ok(n),
        _ => Err(TemplateError(format!(
            "`{field}` must give a positive number, got {value}"
        ))),
    }
}

fn compile_pairs(
    pairs: &std::collections::BTreeMap<String, String>,
    field: &str,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<Vec<(String, ValueTemplate)>, FieldError> {
    pairs
        .iter()
        .map(|(name, source)| {
            let t = templates
                .value(source, allowed)
                .map_err(at(format!("{field}.{name}")))?;
            Ok((name.clone(), t))
        })
        .collect()
}

fn compile_body(
    body: &BodySpec,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<BodyTemplate, FieldError> {
    let kinds = [body.json.is_some(), body.text.is_some(), body.multipart.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(FieldError {
            field: "body".into(),
            message: "give exactly one of `json`, `text` or `multipart`".into(),
        });
    }
    if body.content_type.is_some() && body.text.is_none() {
        return Err(FieldError {
            field: "body.content_type".into(),
            message: "`content_type` applies to a `text` body only".into(),
        });
    }
    if let Some(json) = &body.json {
        return Ok(BodyTemplate::Json(
            templates.json(json, allowed).map_err(at("body.json"))?,
        ));
    }
    if let Some(text) = &body.text {
        return Ok(BodyTemplate::Text {
            template: templates.text(text, allowed).map_err(at("body.text"))?,
            content_type: body.content_type.clone().unwrap_or_else(|| "text/plain".into()),
        });
    }
    let parts = body.multipart.iter().flatten().enumerate();
    let parts = parts
        .map(|(i, part)| {
            compile_part(part, templates, allowed).map_err(|e| FieldError {
                field: format!("body.multipart[{i}].{}", e.field),
                message: e.message,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(BodyTemplate::Multipart(parts))
}

fn compile_part(
    part: &PartSpec,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<PartTemplate, FieldError> {
    match (&part.each, &part.name, &part.value) {
        (Some(each), None, None) if part.filename.is_none() && part.content_type.is_none() => {
            Ok(PartTemplate::Each(templates.value(each, allowed).map_err(at("each"))?))
        }
        (None, Some(name), Some(value)) => Ok(PartTemplate::Field {
            name: templates.value(name, allowed).map_err(at("name"))?,
            value: templates.value(value, allowed).map_err(at("value"))?,
            filename: match &part.filename {
                Some(f) => Some(templates.value(f, allowed).map_err(at("filename"))?),
                None => None,
            },
            content_type: part.content_type.clone(),
        }),
        _ => Err(FieldError {
            field: "each".into(),
            message: "a part has either `name` and `value` (and optionally `filename`, `content_type`) or `each` alone".into(),
        }),
    }
}

fn render_body(
    body: &BodyTemplate,
    templates: &Templates,
    ctx: &JinjaValue,
) -> Result<RenderedBody, TemplateError> {
    Ok(match body {
        BodyTemplate::Json(t) => RenderedBody::Json(templates.render_json(t, ctx)?),
        BodyTemplate::Text {
            template,
            content_type,
        } => RenderedBody::Text {
            content_type: content_type.clone(),
            text: templates.render(template, ctx)?,
        },
        BodyTemplate::Multipart(parts) => {
            let mut out = Vec::new();
            for part in parts {
                render_part(part, templates, ctx, &mut out)?;
            }
            RenderedBody::Multipart(out)
        }
    })
}

fn render_part(
    part: &PartTemplate,
    templates: &Templates,
    ctx: &JinjaValue,
    out: &mut Vec<RenderedPart>,
) -> Result<(), TemplateError> {
    match part {
        PartTemplate::Field {
            name,
            value,
            filename,
            content_type,
        } => {
            let value = templates.render_value(value, ctx)?;
            if value.is_null() {
                return Ok(());
            }
            out.push(RenderedPart {
                name: plain_text(templates.render_value(name, ctx)?),
                value: plain_text(value),
                filename: match filename {
                    Some(f) => Some(plain_text(templates.render_value(f, ctx)?)),
                    None => None,
                },
                content_type: content_type.clone(),
            });
        }
        PartTemplate::Each(each) => match templates.render_value(each, ctx)? {
            Value::Null => {}
            // A none value is left out, as a field's is.
            Value::Object(map) => out.extend(map.into_iter().filter(|(_, v)| !v.is_null()).map(
                |(name, value)| RenderedPart {
                    name,
                    value: plain_text(value),
                    filename: None,
                    content_type: None,
                },
            )),
            other => {
                return Err(TemplateError(format!(
                    "multipart `each` needs an object, got {}",
                    json_kind(&other)
                )));
            }
        },
    }
    Ok(())
}

/// A JSON value as form or query text: strings as they are, the rest as JSON.
pub fn plain_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Query/header values: null and "" disappear, lists repeat, the rest is plain text.
fn flatten(value: Value) -> Vec<String> {
    match value {
        Value::Null => vec![],
        Value::String(s) if s.is_empty() => vec![],
        Value::Array(items) => items.into_iter().flat_map(flatten).collect(),
        other => vec![plain_text(other)],
    }
}

/// The JSON type name of a value, for messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(yaml: &str, vars: &[&str]) -> (RequestTemplate, Templates) {
        let spec: RequestSpec = yaml_serde::from_str(yaml).unwrap();
        let mut templates = Templates::new();
        let allowed = vars.iter().map(|s| s.to_string()).collect();
        (
            RequestTemplate::compile(&spec, &Target::written(&spec).unwrap(), &mut templates, &allowed)
                .unwrap(),
            templates,
        )
    }

    fn render(yaml: &str, vars: &[&str], args: Value) -> RenderedRequest {
        let (t, templates) = compile(yaml, vars);
        t.render(&templates, &crate::render::context(&args)).unwrap()
    }

    #[test]
    fn empty_query_values_are_dropped_and_lists_repeat() {
        let req = render(
            "method: GET\npath: /flows/search\nquery:\n  q: '{{ q }}'\n  size: '{{ size }}'\n  namespace: '{{ ns }}'\n  labels: '{{ labels }}'\n",
            &["q", "size", "ns", "labels"],
            json!({"q": "", "size": 10, "ns": null, "labels": ["a:1", "b:2"]}),
        );
        assert_eq!(
            req.query,
            vec![
                ("labels".into(), "a:1".into()),
                ("labels".into(), "b:2".into()),
                ("size".into(), "10".into())
            ]
        );
    }

    #[test]
    fn text_bodies_keep_their_content_type() {
        let req = render(
            "method: POST\npath: /flows\nbody:\n  text: '{{ yaml }}'\n  content_type: application/x-yaml\n",
            &["yaml"],
            json!({"yaml": "id: a\nnamespace: b\n"}),
        );
        assert_eq!(
            req.body,
            RenderedBody::Text {
                content_type: "application/x-yaml".into(),
                text: "id: a\nnamespace: b\n".into()
            }
        );
    }

    #[test]
    fn multipart_each_expands_an_object_and_skips_none() {
        let req = render(
            "method: POST\npath: /executions/{{ ns }}/{{ id }}\nbody:\n  multipart:\n    - each: '{{ inputs }}'\n    - name: fileContent\n      value: '{{ content }}'\n      filename: '{{ path }}'\n",
            &["ns", "id", "inputs", "content", "path"],
            json!({"ns": "n", "id": "f", "inputs": {"a": "x", "b": 2, "c": {"k": true}}, "content": null, "path": "p"}),
        );
        assert_eq!(req.path, "/executions/n/f");
        let RenderedBody::Multipart(parts) = req.body else {
            panic!("not multipart")
        };
        let pairs: Vec<_> = parts
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(pairs, vec![("a", "x"), ("b", "2"), ("c", "{\"k\":true}")]);
    }

    /// The compile error of the request written as `yaml`.
    fn compile_error(yaml: &str) -> FieldError {
        let spec: RequestSpec = yaml_serde::from_str(yaml).unwrap();
        RequestTemplate::compile(
            &spec,
            &Target::written(&spec).unwrap(),
            &mut Templates::new(),
            &BTreeSet::new(),
        )
        .unwrap_err()
    }

    #[test]
    fn malformed_bodies_are_compile_errors() {
        let err = compile_error("method: POST\npath: /x\nbody:\n  json: {}\n  text: a\n");
        assert_eq!(err.field, "body");
        let err = compile_error("method: GET\npath: /x\nbody:\n  json: {}\n");
        assert_eq!(err.message, "a GET request cannot have a body");
        let err = compile_error("method: GET\npath: /x\nheaders:\n  Authorization: x\n");
        assert_eq!(err.field, "headers.Authorization");
    }
}
