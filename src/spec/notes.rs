//! Deprecation notes: constructs that work but have a better (v2) form in the spec language.
//! `tools validate` prints them; they never stop a spec from loading.

use super::action::PAGE_SIZE_QUERY;
use super::load::{LoadOptions, builtin_sources, dir_sources, parse_spec};
use super::raw::{RequestSpec, StepSpec, ToolSpec};

/// The notes of every spec `options` loads (the built-in ones, then the tools directory's);
/// a spec that does not parse has none (loading reports it).
pub fn catalog_notes(options: &LoadOptions) -> Vec<String> {
    let builtin = match options.no_builtin {
        true => Vec::new(),
        false => builtin_sources(),
    };
    let from_dir = options
        .tools_dir
        .as_deref()
        .and_then(|dir| dir_sources(dir).ok())
        .unwrap_or_default();
    let parsed = |sources: Vec<super::SpecSource>| -> Vec<(String, ToolSpec)> {
        sources
            .into_iter()
            .filter_map(|s| Some((s.origin.clone(), parse_spec(&s.text, &s.origin).ok()?)))
            .collect()
    };
    let from_dir = parsed(from_dir);
    // A built-in spec a directory's spec replaces is not served: no note for it.
    let builtin = parsed(builtin)
        .into_iter()
        .filter(|(_, spec)| !from_dir.iter().any(|(_, s)| s.name == spec.name));
    builtin
        .chain(from_dir.iter().cloned())
        .flat_map(|(origin, spec)| notes(&spec, &origin))
        .collect()
}

/// The notes for `spec`, each `origin: field: what to write instead`.
pub fn notes(spec: &ToolSpec, origin: &str) -> Vec<String> {
    let mut found = Vec::new();
    let says_no_output_schema = spec
        .response
        .as_ref()
        .is_some_and(|r| r.output_schema == Some(serde_json::Value::Null));
    if says_no_output_schema {
        found.push(
            "response.output_schema: `null` is what a spec without `output_schema` gives (no outputSchema is advertised); remove it".to_owned(),
        );
    }
    if let Some(steps) = &spec.steps {
        step_notes(steps, spec.result.as_ref(), "", &mut found);
    }
    for (key, variant) in spec.variants.iter().flatten() {
        if let Some(steps) = &variant.steps {
            step_notes(
                steps,
                variant.result.as_ref(),
                &format!("variants.{key}."),
                &mut found,
            );
        }
    }
    found.into_iter().map(|n| format!("{origin}: {n}")).collect()
}

fn step_notes(steps: &[StepSpec], result: Option<&serde_json::Value>, prefix: &str, found: &mut Vec<String>) {
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{prefix}steps[{i}]");
        if let Some(size) = repeated_page_size(step) {
            found.push(format!(
                "{at}.paginate.size: `{size}` repeats the request's `{PAGE_SIZE_QUERY}` query parameter, which is the default; remove it"
            ));
        }
        text_json_notes(steps, step.set.as_ref(), &at, found);
    }
    text_json_notes(steps, result, &format!("{prefix}result"), found);
}

fn text_json_notes(
    steps: &[StepSpec],
    reader: Option<&serde_json::Value>,
    at: &str,
    found: &mut Vec<String>,
) {
    for (name, read) in text_json_readers(steps, reader) {
        found.push(format!(
            "{at}: reads step '{name}' (JSON built as text with `tojson` or `{{% for %}}`) through `from_yaml`; build the value with a `map` step instead ({read})"
        ));
    }
}

/// `paginate.size` when it is the text of the request's `size` query parameter.
fn repeated_page_size(step: &StepSpec) -> Option<&str> {
    let size = step.paginate.as_ref()?.size.as_deref()?;
    let requests: Vec<&RequestSpec> = step
        .request
        .iter()
        .chain(step.requests.iter().flatten())
        .collect();
    let repeated = !requests.is_empty()
        && requests
            .iter()
            .all(|r| r.query.get(PAGE_SIZE_QUERY).map(String::as_str) == Some(size));
    repeated.then_some(size)
}

/// The steps `reader` (a `set` or a `result`) reads through `from_yaml` whose `set` builds JSON
/// text, with the expression that reads each.
fn text_json_readers<'a>(
    steps: &'a [StepSpec],
    reader: Option<&serde_json::Value>,
) -> Vec<(&'a str, String)> {
    let Some(serde_json::Value::String(text)) = reader else {
        return Vec::new();
    };
    steps
        .iter()
        .filter_map(|other| {
            let name = other.name.as_deref()?;
            let serde_json::Value::String(built) = other.set.as_ref()? else {
                return None;
            };
            let as_text = built.contains("tojson") || built.contains("{%");
            let read = format!("steps.{name} | from_yaml");
            (as_text && text.contains(&read)).then_some((name, read))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_json_and_repeated_page_sizes_get_notes() {
        let text = "name: t
group: flow
description: d
steps:
  - name: page
    request:
      method: GET
      path: /x
      query: {size: '{{ n }}', page: '{{ paging.page }}'}
    paginate: {items: $.results, size: '{{ n }}'}
  - name: rows_json
    set: \"[{% for e in steps.page %}{{ e | tojson }}{% endfor %}]\"
  - name: rows
    set: '{{ steps.rows_json | from_yaml }}'
  - name: yaml
    set: '{{ n | from_yaml }}'
result: '{{ steps.rows_json | from_yaml }}'
";
        let spec = crate::spec::parse_spec(text, "t.yaml").unwrap();
        let found = notes(&spec, "t.yaml");
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("t.yaml: steps[0].paginate.size: `{{ n }}` repeats"));
        assert!(found[1].starts_with("t.yaml: steps[2]: reads step 'rows_json'"));
        assert!(found[2].starts_with("t.yaml: result: reads step 'rows_json'"));
    }

    #[test]
    fn an_output_schema_of_null_gets_a_note() {
        let text = "name: t\ngroup: flow\ndescription: d\nrequest: {operation: searchFlows}\nresponse:\n  output_schema: null\n";
        let spec = crate::spec::parse_spec(text, "t.yaml").unwrap();
        assert_eq!(
            notes(&spec, "t.yaml"),
            vec![
                "t.yaml: response.output_schema: `null` is what a spec without `output_schema` gives (no outputSchema is advertised); remove it"
            ]
        );
    }
}
