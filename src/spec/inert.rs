//! Constructs that parse and compile but would do nothing: a `response` no request uses, a
//! `result` no action reads, an `output_schema` outside the tool's own `response`. A tool author
//! who writes one expects an effect, so loading refuses them, saying where (`file:line: field`)
//! and what to write instead.

use super::SpecError;
use super::raw::{RequestSpec, ResponseSpec, StepSpec, ToolSpec, VariantSpec};

const STEPS_SHAPE: &str = "give each request step its own `response`, and build the result with `result`";
const OUTPUT_SCHEMA_HOME: &str = "`output_schema` is read only from the tool's own top-level `response` (the tool's outputSchema); move it there";
const NEVER_USED: &str = "every request here has its own `response`, so this one is never used; remove it";

/// The first inert construct of `spec` (read from `text`), as a load error with its line.
pub fn check(spec: &ToolSpec, text: &str, origin: &str) -> Result<(), SpecError> {
    match first_inert(spec) {
        None => Ok(()),
        Some((field, message)) => Err(SpecError {
            origin: origin.to_owned(),
            line: line_of_field(text, &field),
            field: Some(field),
            message,
        }),
    }
}

/// Whether a `response` changes anything besides the advertised output schema.
fn shapes(response: &ResponseSpec) -> bool {
    response.select.is_some()
        || response.fields.is_some()
        || response.template.is_some()
        || response.wrap.is_some()
        || !response.on_status.is_empty()
}

/// The requests of a `request`/`requests` pair.
fn requests<'a>(one: Option<&'a RequestSpec>, many: Option<&'a [RequestSpec]>) -> Vec<&'a RequestSpec> {
    one.into_iter().chain(many.into_iter().flatten()).collect()
}

/// Whether every one of `requests` (at least one) overrides the response around it.
fn all_override(requests: &[&RequestSpec]) -> bool {
    !requests.is_empty() && requests.iter().all(|r| r.response.is_some())
}

fn first_inert(spec: &ToolSpec) -> Option<(String, String)> {
    if spec.read_only_description.is_some() && spec.variants.is_none() {
        return Some((
            "read_only_description".into(),
            "is read only for a tool with `variants` (read-only mode serves such a tool with its reading variants, or not at all); remove it".into(),
        ));
    }
    let top = spec.response.as_ref();
    if spec.steps.is_some() && top.is_some_and(shapes) {
        return Some((
            "response".into(),
            format!(
                "does nothing on a tool with `steps`: {STEPS_SHAPE} (only `response.output_schema` is read here)"
            ),
        ));
    }
    if top.is_some_and(shapes) && all_override(&requests(spec.request.as_ref(), spec.requests.as_deref())) {
        return Some(("response".into(), NEVER_USED.into()));
    }
    if let Some(variants) = &spec.variants {
        if spec.result.is_some() {
            return Some((
                "result".into(),
                "does nothing on a tool with `variants`: give each variant with `steps` its own `result`"
                    .into(),
            ));
        }
        if top.is_some_and(shapes) && !variants.values().any(uses_tool_response) {
            return Some((
                "response".into(),
                "no variant uses it: each has `steps` or its own `response`; remove it or move it to the variants it is for".into(),
            ));
        }
        for (key, variant) in variants {
            if let Some((field, message)) = inert_in_variant(variant) {
                return Some((format!("variants.{key}.{field}"), message));
            }
        }
    }
    inert_in_requests(spec.request.as_ref(), spec.requests.as_deref()).or_else(|| {
        spec.steps
            .as_deref()
            .and_then(|steps| inert_in_steps(steps, spec.result.is_some()))
    })
}

/// Whether a variant falls back to the tool's `response`.
fn uses_tool_response(variant: &VariantSpec) -> bool {
    variant.steps.is_none()
        && variant.response.is_none()
        && !all_override(&requests(variant.request.as_ref(), variant.requests.as_deref()))
}

fn inert_in_variant(variant: &VariantSpec) -> Option<(String, String)> {
    if let Some(response) = &variant.response {
        if variant.steps.is_some() {
            return Some((
                "response".into(),
                format!("does nothing on a variant with `steps`: {STEPS_SHAPE}"),
            ));
        }
        if response.output_schema.is_some() {
            return Some(("response.output_schema".into(), OUTPUT_SCHEMA_HOME.into()));
        }
        if shapes(response) && all_override(&requests(variant.request.as_ref(), variant.requests.as_deref()))
        {
            return Some(("response".into(), NEVER_USED.into()));
        }
    }
    inert_in_requests(variant.request.as_ref(), variant.requests.as_deref()).or_else(|| {
        variant
            .steps
            .as_deref()
            .and_then(|steps| inert_in_steps(steps, variant.result.is_some()))
    })
}

/// Whether a step only computes a value (no request, no failure).
fn computes(step: &StepSpec) -> bool {
    step.set.is_some() || step.map.is_some()
}

/// A string that is only `{{ omit }}`: its key or element is always left out.
fn always_omitted(text: &str) -> bool {
    let inner = text.trim().strip_prefix("{{").and_then(|t| t.strip_suffix("}}"));
    inner.is_some_and(|t| t.trim_matches(|c: char| c == '-' || c.is_whitespace()) == crate::render::OMIT)
}

/// The path (`.key`, `[i]`) of the first part of a JSON document that is always left out.
fn omitted_part(doc: &serde_json::Value) -> Option<String> {
    match doc {
        serde_json::Value::Object(map) => map.iter().find_map(|(key, value)| match value {
            serde_json::Value::String(s) if always_omitted(s) => Some(format!(".{key}")),
            other => omitted_part(other).map(|rest| format!(".{key}{rest}")),
        }),
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, value)| match value {
            serde_json::Value::String(s) if always_omitted(s) => Some(format!("[{i}]")),
            other => omitted_part(other).map(|rest| format!("[{i}]{rest}")),
        }),
        _ => None,
    }
}

/// A computed value nobody reads: an unnamed `set` or `map` step that is not the last step of
/// an action without `result` (nothing can name it), and keys that are always left out.
fn unread_value(i: usize, step: &StepSpec, last: bool, has_result: bool) -> Option<(String, String)> {
    let at = |field: &str| format!("steps[{i}].{field}");
    if computes(step) && step.name.is_none() && (!last || has_result) {
        let field = if step.set.is_some() { "set" } else { "map" };
        return Some((
            at(field),
            "its value is never read: the step has no `name` and is not the result; name it or remove it"
                .into(),
        ));
    }
    for (field, doc) in [("set", step.set.as_ref()), ("to", step.to.as_ref())] {
        if let Some(part) = doc.and_then(omitted_part) {
            return Some((
                at(&format!("{field}{part}")),
                "is always `omit`, so it is always left out; remove it".into(),
            ));
        }
    }
    None
}

fn inert_in_steps(steps: &[StepSpec], has_result: bool) -> Option<(String, String)> {
    steps.iter().enumerate().find_map(|(i, step)| {
        if let Some(found) = unread_value(i, step, i + 1 == steps.len(), has_result) {
            return Some(found);
        }
        let at = |field: &str| format!("steps[{i}].{field}");
        if let Some(response) = &step.response {
            if response.output_schema.is_some() {
                return Some((at("response.output_schema"), OUTPUT_SCHEMA_HOME.into()));
            }
            if all_override(&requests(step.request.as_ref(), step.requests.as_deref())) {
                return Some((at("response"), NEVER_USED.into()));
            }
        }
        inert_in_requests(step.request.as_ref(), step.requests.as_deref())
            .map(|(field, message)| (at(&field), message))
    })
}

fn inert_in_requests(one: Option<&RequestSpec>, many: Option<&[RequestSpec]>) -> Option<(String, String)> {
    let labelled = one.map(|r| ("request".to_owned(), r)).into_iter().chain(
        many.into_iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| (format!("requests[{i}]"), r)),
    );
    for (label, request) in labelled {
        if request
            .response
            .as_ref()
            .is_some_and(|r| r.output_schema.is_some())
        {
            return Some((
                format!("{label}.response.output_schema"),
                OUTPUT_SCHEMA_HOME.into(),
            ));
        }
    }
    None
}

/// The line (1-based) of a field path such as `variants.get.steps[1].response` in a YAML text
/// written in block style; `None` when a key is not found (e.g. written inline).
pub fn line_of_field(text: &str, field: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut at = 0;
    let mut parent_indent: Option<usize> = None;
    for segment in field.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let (found, indent) = (at..lines.len()).find_map(|i| {
            let (key, indent) = key_of(lines[i])?;
            // Top-level keys first (column 0), then keys deeper than their parent.
            let deeper = parent_indent.map_or(indent == 0, |p| indent > p);
            (key == name && deeper).then_some((i, indent))
        })?;
        at = found;
        parent_indent = Some(indent);
        if let Some(n) = index {
            let (item, item_indent) = list_item(&lines, found, indent, n)?;
            at = item;
            // The keys of the item (`- request:` and the lines under it) are deeper than its dash.
            parent_indent = Some(item_indent);
        }
    }
    Some(at + 1)
}

/// The key a block-style YAML line starts, and its column (after a `- ` list marker).
fn key_of(line: &str) -> Option<(&str, usize)> {
    let content = line.trim_start();
    let mut indent = line.len() - content.len();
    let content = match content.strip_prefix("- ") {
        Some(rest) => {
            indent += 2;
            rest.trim_start()
        }
        None => content,
    };
    let key = content.split(':').next()?.trim();
    let is_key = content.contains(':')
        && !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    is_key.then_some((key, indent))
}

/// The `n`-th `- ` item of the list under the key at line `key_line` (indented `key_indent`).
fn list_item(lines: &[&str], key_line: usize, key_indent: usize, n: usize) -> Option<(usize, usize)> {
    let mut seen = 0;
    let mut dash_indent = None;
    for (i, line) in lines.iter().enumerate().skip(key_line + 1) {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if indent < key_indent || (indent == key_indent && !content.starts_with("- ")) {
            return None;
        }
        if content.starts_with("- ") && dash_indent.is_none_or(|d| d == indent) {
            dash_indent = Some(indent);
            if seen == n {
                return Some((i, indent));
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: t
response:
  select: $.a
variants:
  get:
    steps:
      - name: one
        request: {method: GET, path: /a}
      - request:
          method: GET
          path: /b
        response:
          select: $.b
";

    fn inert(text: &str) -> Option<(String, String)> {
        first_inert(&crate::spec::parse_spec(text, "t.yaml").unwrap())
    }

    const HEAD: &str = "name: t\ngroup: flow\ndescription: d\n";

    #[test]
    fn a_read_only_description_without_variants_is_inert() {
        let single = format!("{HEAD}read_only_description: r\nrequest: {{operation: searchFlows}}\n");
        assert_eq!(inert(&single).unwrap().0, "read_only_description");
    }

    #[test]
    fn unread_values_and_always_omitted_keys_are_inert() {
        let unnamed = format!("{HEAD}steps:\n  - set: 1\n  - name: b\n    set: 2\n");
        assert_eq!(inert(&unnamed).unwrap().0, "steps[0].set");
        let unnamed_map = format!("{HEAD}steps:\n  - map: '{{{{ [1] }}}}'\n    pick: [a]\nresult: 1\n");
        assert_eq!(inert(&unnamed_map).unwrap().0, "steps[0].map");
        let omitted = format!(
            "{HEAD}steps:\n  - name: a\n    map: '{{{{ [1] }}}}'\n    to: {{x: [1, '{{{{ omit }}}}']}}\n"
        );
        assert_eq!(inert(&omitted).unwrap().0, "steps[0].to.x[1]");
        let fine = format!(
            "{HEAD}steps:\n  - name: a\n    map: '{{{{ [1] }}}}'\n    to: {{x: '{{{{ item or omit }}}}'}}\n  - set: 3\n"
        );
        assert_eq!(inert(&fine), None);
    }

    #[test]
    fn fields_are_found_on_their_lines() {
        assert_eq!(line_of_field(TEXT, "response"), Some(2));
        assert_eq!(line_of_field(TEXT, "variants.get"), Some(5));
        assert_eq!(line_of_field(TEXT, "variants.get.steps[0]"), Some(7));
        assert_eq!(line_of_field(TEXT, "variants.get.steps[1].response"), Some(12));
        assert_eq!(line_of_field(TEXT, "variants.get.steps[1].request"), Some(9));
        assert_eq!(line_of_field(TEXT, "variants.put"), None);
    }
}
