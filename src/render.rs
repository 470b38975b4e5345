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

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

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
///
/// Eager (`new`): each template is parsed and checked when it is added, in one environment
/// that a source's tools share. Deferred (`deferred`): adding a template only records it (with
/// the cheap checks that need no parsing); the environment is built, every recorded template
/// parsed and checked, on the first render or [`Templates::ready`], once, whichever thread
/// asks first (the others wait for it). A server compiles each tool's templates on its first
/// call this way, so start-up parses none.
pub struct Templates {
    /// The environment of an eager set (boxed, as the next one: an environment is large, and
    /// a deferred set per tool that is never called should cost little).
    eager: Option<Box<Environment<'static>>>,
    /// The templates a deferred set compiles on first use.
    pending: Vec<Pending>,
    /// A deferred set's environment, built on first use.
    built: OnceLock<Result<Box<Environment<'static>>, TemplateError>>,
    next_id: AtomicUsize,
    /// Sources already compiled in an eager set with the variables they read: an identical
    /// template (a field many specs repeat) is parsed once.
    seen: HashMap<String, (TemplateId, Arc<BTreeSet<String>>)>,
}

/// A template a deferred set compiles on first use.
#[derive(Debug)]
struct Pending {
    name: String,
    source: String,
    /// The variables it may read (shared by the templates of one spec field).
    allowed: Arc<BTreeSet<String>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("deferred", &self.eager.is_none())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

/// An environment with the engine's settings, filters and globals and no template.
fn environment() -> Environment<'static> {
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
    env
}

impl Templates {
    /// An empty eager set with the engine's environment settings.
    pub fn new() -> Self {
        Templates {
            eager: Some(Box::new(environment())),
            pending: Vec::new(),
            built: OnceLock::new(),
            next_id: AtomicUsize::new(0),
            seen: HashMap::new(),
        }
    }

    /// An empty deferred set: templates are parsed on first use (see the type's docs).
    pub fn deferred() -> Self {
        Templates {
            eager: None,
            pending: Vec::new(),
            built: OnceLock::new(),
            next_id: AtomicUsize::new(0),
            seen: HashMap::new(),
        }
    }

    /// Gives back the room a deferred set's list of recorded templates grew into (its
    /// templates are all added: it is about to be shared).
    pub fn shrink_to_fit(&mut self) {
        self.pending.shrink_to_fit();
    }

    /// Whether templates are recorded to be compiled on first use.
    pub fn is_deferred(&self) -> bool {
        self.eager.is_none()
    }

    /// Compiles what a deferred set recorded (once; later calls return the first outcome);
    /// an eager set is always ready.
    pub fn ready(&self) -> Result<(), TemplateError> {
        self.environment().map(|_| ())
    }

    /// The environment holding the compiled templates, compiling a deferred set's first.
    fn environment(&self) -> Result<&Environment<'static>, TemplateError> {
        if let Some(env) = &self.eager {
            return Ok(env);
        }
        self.built
            .get_or_init(|| {
                let mut env = environment();
                for p in &self.pending {
                    compile_into(&mut env, &p.name, &p.source, &p.allowed)?;
                }
                Ok(Box::new(env))
            })
            .as_ref()
            .map(|env| &**env)
            .map_err(Clone::clone)
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
        let Some(env) = self.eager.as_mut() else {
            // A spec's fields read a few sets of variables: each set is held once.
            let shared = self.pending.iter().rev().find(|p| *p.allowed == *allowed);
            let allowed = match shared {
                Some(p) => p.allowed.clone(),
                None => Arc::new(allowed.clone()),
            };
            self.pending.push(Pending {
                name: name.clone(),
                source,
                allowed,
            });
            return Ok(TemplateId(name));
        };
        // NUL keeps a text template from meeting a path template of the same text.
        let key = format!("{suffix}\0{source}");
        if let Some((id, reads)) = self.seen.get(&key) {
            check_reads(reads.iter(), allowed)?;
            return Ok(id.clone());
        }
        let reads = compile_into(env, &name, &source, allowed)?;
        let id = TemplateId(name);
        self.seen.insert(key, (id.clone(), Arc::new(reads)));
        Ok(id)
    }

    /// Renders a text or path template.
    pub fn render(&self, id: &TemplateId, ctx: &JinjaValue) -> Result<String, TemplateError> {
        let template = self.environment()?.get_template(&id.0)?;
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

/// Adds `source` to `env` as `name` and checks that it reads only `allowed` variables (and
/// the engine's globals and functions); returns the variables it reads.
fn compile_into(
    env: &mut Environment<'static>,
    name: &str,
    source: &str,
    allowed: &BTreeSet<String>,
) -> Result<BTreeSet<String>, TemplateError> {
    env.add_template_owned(name.to_owned(), source.to_owned())?;
    let reads: BTreeSet<String> = match known_names_only(source, allowed) {
        // Every name it could read is known: nothing to look for, and no second parse.
        Some(names) => names,
        // minijinja's `undeclared_variables` parses the source again.
        None => env
            .get_template(name)?
            .undeclared_variables(false)
            .into_iter()
            .collect(),
    };
    check_reads(reads.iter(), allowed)?;
    Ok(reads)
}

/// Refuses a template reading a variable that is not in `allowed`, a global or a function.
fn check_reads<'a>(
    reads: impl Iterator<Item = &'a String>,
    allowed: &BTreeSet<String>,
) -> Result<(), TemplateError> {
    let mut unknown = reads.filter(|v| {
        !allowed.contains(*v)
            && !BUILTIN_GLOBALS.contains(&v.as_str())
            && !crate::filters::FUNCTIONS.contains(&v.as_str())
    });
    match unknown.next() {
        None => Ok(()),
        Some(first) => Err(TemplateError(format!(
            "unknown variable '{first}' (declare it in `input.properties`; known: {})",
            allowed.iter().cloned().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Words of the expression language that are never variables.
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "else", "elif", "endif", "true", "false", "none", "True", "False",
    "None",
];

/// Without parsing: the names `source` reads when every identifier in its tags (outside
/// string literals, and not an attribute after `.` or a filter after `|`) is a keyword or
/// one of `allowed`; `None` when some other identifier appears (a loop variable, a `set`, a
/// test name, an unknown variable...), and then only the parser can tell.
///
/// Sound because a variable the template reads is an identifier of one of its tags: when
/// they are all known, none is unknown.
fn known_names_only(source: &str, allowed: &BTreeSet<String>) -> Option<BTreeSet<String>> {
    let mut reads = BTreeSet::new();
    let mut rest = source;
    while let Some(open) = rest.find(['{']) {
        let after = &rest[open + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') | Some(b'#') => return None,
            _ => {
                rest = after;
                continue;
            }
        };
        let end = after.find(close)?;
        scan_tag(&after[1..end], allowed, &mut reads)?;
        rest = &after[end + close.len()..];
    }
    Some(reads)
}

/// The identifiers of one `{{ }}` tag into `reads`; `None` at one that is not known.
fn scan_tag(tag: &str, allowed: &BTreeSet<String>, reads: &mut BTreeSet<String>) -> Option<()> {
    let bytes = tag.as_bytes();
    let mut i = 0;
    // The last character that is not a space before the current one.
    let mut previous = b' ';
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' || c == b'"' {
            // Escapes in literals: a backslash keeps the next character inside the literal.
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != c {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            if j >= bytes.len() {
                // A literal holding the closing `}}`: the tag ends elsewhere.
                return None;
            }
            i = j + 1;
            previous = c;
            continue;
        }
        if c == b'{' || c == b'}' {
            // A map literal: the `}}` found may have closed it rather than the tag.
            return None;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &tag[start..i];
            let global = BUILTIN_GLOBALS.contains(&word) || crate::filters::FUNCTIONS.contains(&word);
            if previous != b'.' && previous != b'|' && !KEYWORDS.contains(&word) {
                if !allowed.contains(word) && !global {
                    return None;
                }
                reads.insert(word.to_owned());
            }
            previous = b'a';
            continue;
        }
        if c.is_ascii_digit() {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_')
            {
                i += 1;
            }
            previous = b'0';
            continue;
        }
        if !c.is_ascii_whitespace() {
            previous = c;
        }
        i += 1;
    }
    Some(())
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
    fn a_deferred_set_parses_on_first_use_once_and_reports_the_same_outcome() {
        let allowed = names(&["namespace"]);
        let mut t = Templates::deferred();
        // Nothing is parsed when added: the syntax error shows on first use.
        let good = t.text("ns={{ namespace }}", &allowed).unwrap();
        t.text("{{ namespace", &allowed).unwrap();
        assert!(t.is_deferred());
        let first = t.ready().unwrap_err();
        assert!(first.0.contains("syntax error"), "{first}");
        assert_eq!(t.ready().unwrap_err(), first);
        assert!(t.render(&good, &ctx(json!({"namespace": "a"}))).is_err());

        let mut t = Templates::deferred();
        let id = t.text("ns={{ namespace }}", &allowed).unwrap();
        let unknown = {
            let mut u = Templates::deferred();
            u.text("{{ nmespace }}", &allowed).unwrap();
            u.ready().unwrap_err()
        };
        assert_eq!(
            unknown.0,
            "unknown variable 'nmespace' (declare it in `input.properties`; known: namespace)"
        );
        // Concurrent first renders share one compilation.
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| assert_eq!(t.render(&id, &ctx(json!({"namespace": "a"}))).unwrap(), "ns=a"));
            }
        });
        assert!(t.built.get().is_some());
    }

    #[test]
    fn an_identical_template_is_compiled_once_and_checked_against_each_set_of_names() {
        let mut t = Templates::new();
        let a = t.text("{{ x }}-{{ y | upper }}", &names(&["x", "y"])).unwrap();
        let b = t
            .text("{{ x }}-{{ y | upper }}", &names(&["x", "y", "z"]))
            .unwrap();
        assert_eq!(a, b);
        let err = t.text("{{ x }}-{{ y | upper }}", &names(&["x"])).unwrap_err();
        assert!(err.0.starts_with("unknown variable 'y'"), "{err}");
        // The same text as a path template is another template (it is escaped as a path).
        let path = t.path("/{{ x }}", &names(&["x"])).unwrap();
        let text = t.text("/{{ x }}", &names(&["x"])).unwrap();
        assert_ne!(path, text);
    }

    #[test]
    fn the_scan_that_skips_the_second_parse_agrees_with_the_parser() {
        let allowed = names(&["namespace", "id", "page", "e", "kestra", "arguments"]);
        let cases = [
            "/flows/{{ namespace }}/{{ id }}",
            "{{ (page | default(1)) | typed_json }}",
            "{{ e.state.current if e.state else 'x }} y' }}",
            "{{ arguments['form.child'] ~ \"a\\\"b\" ~ namespace }}",
            "{{ kestra.version is none }}",
            "{{ namespace }}{{ nope }}",
            "{{ '}}' ~ nope }}",
            "{{ {'a': {'b': 1}} ~ nope }}",
            "{{ {'a': namespace} }}",
            "{% for f in e %}{{ f }}{% endfor %}",
            "{# {{ nope }} #}{{ id }}",
            "{{ [1.5, 2e3] | length }}{{ namespace[0:2] }}",
            "{{ now_utc() }}{{ dict(a=namespace) }}",
            "{{ e | map(attribute='id') | join(',') }}",
            "{{ nope.id }}",
            "plain {text} without tags",
        ];
        let mut env = environment();
        for (n, source) in cases.iter().enumerate() {
            let name = format!("c{n}");
            env.add_template_owned(name.clone(), source.to_string()).unwrap();
            let parsed: BTreeSet<String> = env
                .get_template(&name)
                .unwrap()
                .undeclared_variables(false)
                .into_iter()
                .collect();
            // The scan may give up (None); when it answers, it finds every name the parser
            // does (and may find more: minijinja's own walk skips a slice's operand).
            if let Some(scanned) = known_names_only(source, &allowed) {
                assert!(scanned.is_superset(&parsed), "{source}: {scanned:?} {parsed:?}");
            }
            assert_eq!(
                check_reads(parsed.iter(), &allowed).is_ok(),
                compile_into(&mut environment(), "x", source, &allowed).is_ok(),
                "{source}"
            );
        }
        assert!(known_names_only("/flows/{{ namespace }}/{{ id }}", &allowed).is_some());
        assert!(known_names_only("{{ '}}' ~ nope }}", &allowed).is_none());
        assert!(known_names_only("{{ {'a': {'b': 1}} ~ nope }}", &allowed).is_none());
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
