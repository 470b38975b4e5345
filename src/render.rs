//! Templates: compiled once when specs load, rendered per call. Owns the minijinja environment
//! and the rules that keep arguments from changing where a request goes:
//! - every value printed in a path template is one percent-encoded path segment, and `/`, `\`,
//!   `.`, `..` (also percent-encoded) or an empty value is refused;
//! - argument values are data: they are passed in the context, never compiled as templates;
//! - an unknown variable is an error when the template compiles (`Templates::add`), so at render
//!   time every top-level name exists; a missing attribute or item of a value (`e.state.current`
//!   where Kestra sent no `state`) is undefined, chains (`UndefinedBehavior::Chainable`),
//!   prints as nothing, serialises as `null` and is false (`is none` is false for it too);
//!   using one in arithmetic is an error, and so is a path value that is none or missing
//!   (`path_segment`); `none` prints as an empty string.
//!
//! Never performs I/O.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value as JinjaValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;

/// Bytes left unencoded in a path segment: RFC 3986 "unreserved" characters only. Shared by
/// path arguments and the tenant id (`http.rs`).
pub const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const PATH_ESCAPE: &str = "path-segment";
const PATH_SUFFIX: &str = "#path";

/// The variable holding every argument (after defaults) as one object: `arguments['form.child']`.
pub const ARGUMENTS: &str = "arguments";

/// Names the engine puts in every template context besides the arguments.
pub const RESERVED_NAMES: &[&str] = &[
    "kestra", ARGUMENTS, "result", "answer", "steps", "item", "paging", "omit",
];

/// minijinja globals a template may use without declaring them.
const BUILTIN_GLOBALS: &[&str] = &["range", "dict", "namespace", "debug", "loop", "super", OMIT];

/// The global whose value, given by a lone expression in a JSON document, leaves the key (or
/// the list element) out: `inputs: "{{ e.inputs or omit }}"`.
pub const OMIT: &str = "omit";

/// The filter a lone expression is rendered through: JSON text, or nothing for `omit` (which
/// no JSON text can be).
const TYPED_FILTER: &str = "typed_json";

/// The value of `omit`.
#[derive(Debug)]
struct Omit;

impl minijinja::value::Object for Omit {
    fn render(self: &std::sync::Arc<Self>, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

/// A lone expression's value as JSON text; `omit` gives an empty text.
fn typed_json(value: &JinjaValue) -> Result<String, minijinja::Error> {
    if value.downcast_object_ref::<Omit>().is_some() {
        return Ok(String::new());
    }
    serde_json::to_string(value)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, format!("cannot give JSON: {e}")))
}

/// A template context from any serializable value (arguments, results).
pub fn context<T: serde::Serialize>(value: &T) -> JinjaValue {
    JinjaValue::from(minijinja::value::Serde(value))
}

/// Why a template did not compile or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

impl From<minijinja::Error> for TemplateError {
    fn from(err: minijinja::Error) -> Self {
        let line = match (err.kind(), err.line()) {
            (ErrorKind::SyntaxError, Some(line)) => format!(" (line {line})"),
            _ => String::new(),
        };
        TemplateError(match err.detail() {
            Some(detail) if err.kind() == ErrorKind::InvalidOperation => detail.to_owned(),
            Some(detail) => format!("{}: {detail}{line}", err.kind()),
            None => format!("{}{line}", err.kind()),
        })
    }
}

/// A handle to a compiled template in [`Templates`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateId(String);

#[cfg(test)]
impl TemplateId {
    pub(crate) fn for_test(name: &str) -> Self {
        Self(name.to_owned())
    }

    pub(crate) fn name_for_test(&self) -> &str {
        &self.0
    }
}

/// A template producing a JSON value: a lone `{{ expression }}` keeps its type, anything else
/// renders as a string.
#[derive(Debug, Clone)]
pub enum ValueTemplate {
    /// A literal string without template syntax.
    Literal(String),
    /// A string template.
    Text(TemplateId),
    /// A lone expression, rendered through `tojson` and parsed back.
    Typed(TemplateId),
}

/// A JSON document whose strings are [`ValueTemplate`]s.
#[derive(Debug, Clone)]
pub enum JsonTemplate {
    Value(Value),
    Template(ValueTemplate),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

/// All compiled templates of the loaded specs.
pub struct Templates {
    env: Environment<'static>,
    next_id: AtomicUsize,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An empty set with the engine's environment settings.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.set_auto_escape_callback(|name| {
            if name.ends_with(PATH_SUFFIX) {
                AutoEscape::Custom(PATH_ESCAPE.into())
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(format_value);
        crate::filters::register(&mut env);
        env.add_global(OMIT, JinjaValue::from_object(Omit));
        env.add_filter(TYPED_FILTER, typed_json);
        Templates {
            env,
            next_id: AtomicUsize::new(0),
        }
    }

    /// Compiles a text template; `allowed` lists the variables it may read.
    pub fn text(&mut self, source: &str, allowed: &BTreeSet<String>) -> Result<TemplateId, TemplateError> {
        self.add(source.to_owned(), "", allowed)
    }

    /// Compiles a path template (see the module docs for the segment rules).
    pub fn path(&mut self, source: &str, allowed: &BTreeSet<String>) -> Result<TemplateId, TemplateError> {
        check_static_path(source)?;
        self.add(source.to_owned(), PATH_SUFFIX, allowed)
    }

    /// Compiles a value template.
    pub fn value(
        &mut self,
        source: &str,
        allowed: &BTreeSet<String>,
    ) -> Result<ValueTemplate, TemplateError> {
        if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
            return Ok(ValueTemplate::Literal(source.to_owned()));
        }
        match lone_expression(source) {
            Some(expr) => Ok(ValueTemplate::Typed(self.add(
                format!("{{{{ ({expr}) | {TYPED_FILTER} }}}}"),
                "",
                allowed,
            )?)),
            None => Ok(ValueTemplate::Text(self.text(source, allowed)?)),
        }
    }

    /// Compiles every string of a JSON document as a value template.
    pub fn json(&mut self, doc: &Value, allowed: &BTreeSet<String>) -> Result<JsonTemplate, TemplateError> {
        Ok(match doc {
            Value::String(s) => JsonTemplate::Template(self.value(s, allowed)?),
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .map(|item| self.json(item, allowed))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.json(v, allowed)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => JsonTemplate::Value(other.clone()),
        })
    }

    fn add(
        &mut self,
        source: String,
        suffix: &str,
        allowed: &BTreeSet<String>,
    ) -> Result<TemplateId, TemplateError> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{n}{suffix}");
        self.env.add_template_owned(name.clone(), source)?;
        let template = self.env.get_template(&name)?;
        let unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| {
                !allowed.contains(v)
                    && !BUILTIN_GLOBALS.contains(&v.as_str())
                    && !crate::filters::FUNCTIONS.contains(&v.as_str())
            })
            .collect();
        if let Some(first) = unknown.first() {
            return Err(TemplateError(format!(
                "unknown variable '{first}' (declare it in `input.properties`; known: {})",
                allowed.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(TemplateId(name))
    }

    /// Renders a text or path template.
    pub fn render(&self, id: &TemplateId, ctx: &JinjaValue) -> Result<String, TemplateError> {
        let template = self.env.get_template(&id.0)?;
        template.render(ctx).map_err(|e| match e.kind() {
            // Which expression read the missing value, not only that one was missing.
            ErrorKind::UndefinedError => TemplateError(format!(
                "undefined value in `{}`",
                failing_expression(template.source(), e.range())
            )),
            _ => TemplateError::from(e),
        })
    }

    /// Renders a value template; `omit` gives `null` (outside a JSON document nothing can be
    /// left out).
    pub fn render_value(&self, t: &ValueTemplate, ctx: &JinjaValue) -> Result<Value, TemplateError> {
        Ok(self.render_entry(t, ctx)?.unwrap_or(Value::Null))
    }

    /// Renders a value template; `None` when a lone expression gave `omit`.
    fn render_entry(&self, t: &ValueTemplate, ctx: &JinjaValue) -> Result<Option<Value>, TemplateError> {
        match t {
            ValueTemplate::Literal(s) => Ok(Some(Value::String(s.clone()))),
            ValueTemplate::Text(id) => Ok(Some(Value::String(self.render(id, ctx)?))),
            ValueTemplate::Typed(id) => {
                let json = self.render(id, ctx)?;
                if json.is_empty() {
                    return Ok(None);
                }
                serde_json::from_str(&json)
                    .map(Some)
                    .map_err(|e| TemplateError(format!("expression did not give JSON: {e}")))
            }
        }
    }

    /// Renders a JSON template into a document. A key or list element whose lone expression
    /// gives `omit` is left out; a whole document that is `omit` is `null`.
    pub fn render_json(&self, t: &JsonTemplate, ctx: &JinjaValue) -> Result<Value, TemplateError> {
        Ok(self.render_part(t, ctx)?.unwrap_or(Value::Null))
    }

    fn render_part(&self, t: &JsonTemplate, ctx: &JinjaValue) -> Result<Option<Value>, TemplateError> {
        Ok(Some(match t {
            JsonTemplate::Value(v) => v.clone(),
            JsonTemplate::Template(vt) => return self.render_entry(vt, ctx),
            JsonTemplate::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.extend(self.render_part(item, ctx)?);
                }
                Value::Array(out)
            }
            JsonTemplate::Object(fields) => {
                let mut out = serde_json::Map::with_capacity(fields.len());
                for (key, value) in fields {
                    if let Some(v) = self.render_part(value, ctx)? {
                        out.insert(key.clone(), v);
                    }
                }
                Value::Object(out)
            }
        }))
    }
}

/// The part of `source` an error points at (the whole template when it does not say), cut to
/// a readable length.
/// Jinja truthiness for JSON values (a `when`, a wait's `until`).
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn failing_expression(source: &str, range: Option<std::ops::Range<usize>>) -> String {
    let part = range
        .and_then(|r| source.get(r))
        .filter(|p| !p.trim().is_empty())
        .unwrap_or(source)
        .trim();
    match part.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &part[..cut]),
        None => part.to_owned(),
    }
}

/// The inside of a string that is exactly one `{{ expression }}`, if it is one.
fn lone_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches('-').trim_end_matches('-').trim();
    let nested = inner.contains("{{") || inner.contains("}}") || inner.contains("{%");
    (!nested && !inner.is_empty()).then_some(inner)
}

/// Refuses path templates whose literal parts could leave the API root or add a query.
fn check_static_path(source: &str) -> Result<(), TemplateError> {
    if !source.starts_with('/') {
        return Err(TemplateError(format!(
            "path '{source}' must start with '/' (it is relative to the tenant or instance root)"
        )));
    }
    for bad in ["://", "//", "..", "?", "#", "\\", "{%"] {
        if source.contains(bad) {
            return Err(TemplateError(format!(
                "path '{source}' must not contain '{bad}' (use `query` for parameters; values go in `{{{{ }}}}`)"
            )));
        }
    }
    Ok(())
}

fn format_value(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &JinjaValue,
) -> Result<(), minijinja::Error> {
    if matches!(state.auto_escape(), AutoEscape::Custom(name) if name == PATH_ESCAPE) {
        let segment =
            path_segment(value).map_err(|msg| minijinja::Error::new(ErrorKind::InvalidOperation, msg))?;
        return out.write_str(&segment).map_err(minijinja::Error::from);
    }
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    minijinja::escape_formatter(out, state, value)
}

/// Encodes one value as a single path segment, refusing anything that could climb or split.
pub fn path_segment(value: &JinjaValue) -> Result<String, String> {
    if value.is_none() || value.is_undefined() {
        return Err("a path argument is missing (got none)".to_owned());
    }
    let text = match value.as_str() {
        Some(s) => s.to_owned(),
        None if matches!(
            value.kind(),
            minijinja::value::ValueKind::Number
                | minijinja::value::ValueKind::Bool
                | minijinja::value::ValueKind::Plain
        ) =>
        {
            value.to_string()
        }
        None => return Err(format!("a path argument must be a string, got {}", value.kind())),
    };
    check_segment(&text)?;
    Ok(utf8_percent_encode(&text, SEGMENT).to_string())
}

fn check_segment(text: &str) -> Result<(), String> {
    let mut decoded = text.to_owned();
    // Decode repeatedly: a server that decodes twice must not see `..` either.
    for _ in 0..3 {
        if decoded.is_empty() {
            return Err("a path argument is empty".to_owned());
        }
        if decoded == "." || decoded == ".." || decoded.contains('/') || decoded.contains('\\') {
            return Err(format!(
                "'{text}' is not allowed in a path segment ('/', '\\', '.' and '..' could change the endpoint)"
            ));
        }
        let next = percent_decode_str(&decoded).decode_utf8_lossy().into_owned();
        if next == decoded {
            break;
        }
        decoded = next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn ctx(v: Value) -> JinjaValue {
        crate::render::context(&v)
    }

    #[test]
    fn path_values_are_encoded_as_single_segments() {
        let mut t = Templates::new();
        let id = t
            .path("/flows/{{ namespace }}/{{ id }}", &names(&["namespace", "id"]))
            .unwrap();
        let out = t
            .render(&id, &ctx(json!({"namespace": "com.a b", "id": "x?y#z"})))
            .unwrap();
        assert_eq!(out, "/flows/com.a%20b/x%3Fy%23z");
    }

    #[test]
    fn path_values_that_could_climb_are_refused() {
        let mut t = Templates::new();
        let id = t.path("/flows/{{ ns }}", &names(&["ns"])).unwrap();
        for bad in ["..", ".", "a/b", "%2e%2e", "%252e%252e", "..%2Fx", "a\\b", ""] {
            let err = t.render(&id, &ctx(json!({"ns": bad}))).unwrap_err();
            assert!(err.0.contains("path"), "{bad}: {err}");
        }
        let err = t.render(&id, &ctx(json!({"ns": null}))).unwrap_err();
        assert!(err.0.contains("missing"), "{err}");
    }

    #[test]
    fn safe_filter_does_not_bypass_segment_encoding() {
        let mut t = Templates::new();
        let id = t.path("/x/{{ ns | safe }}", &names(&["ns"])).unwrap();
        assert!(t.render(&id, &ctx(json!({"ns": "a/b"}))).is_err());
    }

    #[test]
    fn static_paths_that_escape_are_refused_at_compile_time() {
        let mut t = Templates::new();
        for bad in [
            "flows",
            "/a/../b",
            "http://evil/x",
            "//evil/x",
            "/a?x=1",
            "/a#f",
            "/{% if x %}a{% endif %}",
        ] {
            assert!(t.path(bad, &names(&["x"])).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_attribute_is_none_but_a_missing_path_value_stays_an_error() {
        let mut t = Templates::new();
        let data = ctx(json!({"a": {"b": 1}}));
        let text = t
            .text(
                "[{{ a.x }}][{{ a.x.y }}][{{ a.x is defined }}][{{ 'x' if a.x.y }}]",
                &names(&["a"]),
            )
            .unwrap();
        assert_eq!(t.render(&text, &data).unwrap(), "[][][False][]");
        let misuse = t.text("{{ a.x + 1 }}", &names(&["a"])).unwrap();
        assert!(t.render(&misuse, &data).is_err());
        let typed = t.value("{{ a.x.y }}", &names(&["a"])).unwrap();
        assert_eq!(t.render_value(&typed, &data).unwrap(), Value::Null);
        let object = t.value("{{ {'x': a.x, 'b': a.b} }}", &names(&["a"])).unwrap();
        assert_eq!(
            t.render_value(&object, &data).unwrap(),
            json!({"x": null, "b": 1})
        );
        let path = t.path("/flows/{{ a.x }}", &names(&["a"])).unwrap();
        assert!(t.render(&path, &data).unwrap_err().0.contains("missing"));
    }

    #[test]
    fn unknown_variables_are_compile_errors() {
        let mut t = Templates::new();
        let err = t.text("{{ nmespace }}", &names(&["namespace"])).unwrap_err();
        assert_eq!(
            err.0,
            "unknown variable 'nmespace' (declare it in `input.properties`; known: namespace)"
        );
    }

    #[test]
    fn engine_functions_need_no_declaration() {
        let mut t = Templates::new();
        let id = t
            .text(
                "{{ uuid4() | length }} {{ now_utc(days=1) | length }}",
                &names(&[]),
            )
            .unwrap();
        assert_eq!(t.render(&id, &ctx(json!({}))).unwrap(), "36 20");
    }

    #[test]
    fn lone_expressions_keep_their_type() {
        let mut t = Templates::new();
        let allowed = names(&["ids", "n", "s", "none_value"]);
        let c = ctx(json!({"ids": ["a", "b"], "n": 3, "s": "x", "none_value": null}));
        let ids = t.value("{{ ids }}", &allowed).unwrap();
        assert_eq!(t.render_value(&ids, &c).unwrap(), json!(["a", "b"]));
        let n = t.value("{{ n }}", &allowed).unwrap();
        assert_eq!(t.render_value(&n, &c).unwrap(), json!(3));
        let mixed = t.value("n={{ n }} {{ s }}", &allowed).unwrap();
        assert_eq!(t.render_value(&mixed, &c).unwrap(), json!("n=3 x"));
        let none = t.value("{{ none_value }}", &allowed).unwrap();
        assert_eq!(t.render_value(&none, &c).unwrap(), Value::Null);
        let text_none = t.value("a{{ none_value }}", &allowed).unwrap();
        assert_eq!(t.render_value(&text_none, &c).unwrap(), json!("a"));
    }

    #[test]
    fn argument_values_are_never_evaluated_as_templates() {
        let mut t = Templates::new();
        let allowed = names(&["s"]);
        let v = t.value("{{ s }}", &allowed).unwrap();
        let c = ctx(json!({"s": "{{ 7 * 7 }}"}));
        assert_eq!(t.render_value(&v, &c).unwrap(), json!("{{ 7 * 7 }}"));
        let p = t.path("/kv/{{ s }}", &allowed).unwrap();
        assert_eq!(t.render(&p, &c).unwrap(), "/kv/%7B%7B%207%20%2A%207%20%7D%7D");
    }

    #[test]
    fn omit_leaves_keys_and_elements_out_and_is_null_elsewhere() {
        let mut t = Templates::new();
        let allowed = names(&["a"]);
        let doc = json!({"kept": "{{ a.x or omit }}", "gone": "{{ a.y or omit }}",
                         "list": ["{{ omit }}", 1, "{{ a.x }}"], "text": "[{{ omit }}]",
                         "missing": "{{ a.y }}"});
        let jt = t.json(&doc, &allowed).unwrap();
        let out = t.render_json(&jt, &ctx(json!({"a": {"x": 2}}))).unwrap();
        assert_eq!(
            out,
            json!({"kept": 2, "list": [1, 2], "text": "[]", "missing": null})
        );
        let whole = t.json(&json!("{{ omit }}"), &allowed).unwrap();
        assert_eq!(t.render_json(&whole, &ctx(json!({}))).unwrap(), Value::Null);
        let value = t.value("{{ omit }}", &allowed).unwrap();
        assert_eq!(t.render_value(&value, &ctx(json!({}))).unwrap(), Value::Null);
    }

    #[test]
    fn truthiness_follows_jinja() {
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        for true_ in [json!(true), json!(1), json!("x"), json!([0]), json!({"a": null})] {
            assert!(truthy(&true_), "{true_}");
        }
    }

    #[test]
    fn json_templates_render_nested_documents() {
        let mut t = Templates::new();
        let allowed = names(&["ns", "id", "flag"]);
        let doc = json!([{"namespace": "{{ ns }}", "id": "{{ id }}", "fixed": 1, "flag": "{{ flag }}"}]);
        let jt = t.json(&doc, &allowed).unwrap();
        let out = t
            .render_json(&jt, &ctx(json!({"ns": "a", "id": "b", "flag": true})))
            .unwrap();
        assert_eq!(
            out,
            json!([{"namespace": "a", "id": "b", "fixed": 1, "flag": true}])
        );
    }
}
