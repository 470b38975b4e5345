//! The `map` step: a list (or one object) shaped element by element, with no request. Runs at
//! the run stage ([`crate::run`]) like `set`, with the same context plus the element.

use serde_json::{Map, Value};

use crate::render::{TemplateError, Templates, context};
use crate::spec::action::{MapShape, MapStep};

/// The step's value: each element of the source list shaped (a list), or the source object
/// shaped (one object). `null` gives an empty list, as for `for_each`.
pub fn run_map(
    templates: &Templates,
    step: &MapStep,
    ctx: &Map<String, Value>,
) -> Result<Value, TemplateError> {
    let base = context(ctx);
    let source = templates.render_value(&step.source, &base)?;
    let shape_one = |element: Value| shape(templates, step, &base, element);
    match source {
        Value::Array(elements) => elements
            .into_iter()
            .map(shape_one)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Null => Ok(Value::Array(Vec::new())),
        object @ Value::Object(_) => shape_one(object),
        other => Err(TemplateError(format!(
            "`map` must give a list or an object, got {}",
            crate::request::json_kind(&other)
        ))),
    }
}

fn shape(
    templates: &Templates,
    step: &MapStep,
    base: &minijinja::Value,
    element: Value,
) -> Result<Value, TemplateError> {
    match &step.shape {
        MapShape::Pick(keys) => Ok(pick(keys, element)),
        MapShape::To(doc) => {
            // The element over the call's context, without copying the context per element.
            let element = std::collections::BTreeMap::from([(step.name.clone(), context(&element))]);
            let with_element = minijinja::value::merge_maps([minijinja::Value::from(element), base.clone()]);
            templates.render_json(doc, &with_element)
        }
    }
}

/// `keys` of `element` in their order; an element that is not an object gives `null`.
fn pick(keys: &[String], element: Value) -> Value {
    let Value::Object(mut fields) = element else {
        return Value::Null;
    };
    let kept: Map<String, Value> = keys
        .iter()
        .filter_map(|k| fields.remove(k).map(|v| (k.clone(), v)))
        .collect();
    Value::Object(kept)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::spec::{CompiledTool, StepKind, parse_spec};

    /// The `map` step of a one-step tool whose step is `step` (YAML), run with `ctx`.
    fn run(step: &str, ctx: Value) -> Result<Value, String> {
        let text = format!(
            "name: t\ngroup: flow\ndescription: d\ninput: {{type: object, properties: {{rows: {{}}, n: {{}}}}}}\nsteps:\n  - name: out\n{step}"
        );
        let tool = CompiledTool::from_spec(parse_spec(&text, "t.yaml").map_err(|e| e.to_string())?, "t.yaml")
            .map_err(|e| e.to_string())?;
        let (_, action) = tool
            .actions()
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or("no action")?;
        let StepKind::Map(map) = &action.steps[0].kind else {
            return Err("not a map step".into());
        };
        let Value::Object(ctx) = ctx else {
            return Err("context must be an object".into());
        };
        let body = tool.body().map_err(|e| e.to_string())?;
        run_map(&body.templates, map, &ctx).map_err(|e| e.0)
    }

    #[test]
    fn to_shapes_each_element_and_leaves_omitted_keys_out() {
        let step = "    map: '{{ rows }}'\n    as: e\n    to: {id: '{{ e.id }}', n: '{{ n }}', tags: '{{ e.tags or omit }}', state: {s: '{{ e.state.current }}'}}\n";
        let rows = json!([{"id": "a", "tags": ["x"], "state": {"current": "OK"}}, {"id": "b", "tags": []}]);
        assert_eq!(
            run(step, json!({"rows": rows, "n": 2})).unwrap(),
            json!([
                {"id": "a", "n": 2, "tags": ["x"], "state": {"s": "OK"}},
                {"id": "b", "n": 2, "state": {"s": null}}
            ])
        );
        assert_eq!(
            run(step, json!({"rows": {"id": "one"}, "n": 1})).unwrap(),
            json!({"id": "one", "n": 1, "state": {"s": null}})
        );
        assert_eq!(run(step, json!({"rows": null, "n": 1})).unwrap(), json!([]));
        assert!(
            run(step, json!({"rows": "text", "n": 1}))
                .unwrap_err()
                .contains("a string")
        );
    }

    #[test]
    fn pick_keeps_the_named_keys_in_order() {
        let step = "    map: '{{ rows }}'\n    pick: [b, a]\n";
        let rows = json!([{"a": 1, "b": 2, "c": 3}, {"c": 4}, 5]);
        assert_eq!(
            run(step, json!({"rows": rows, "n": 0})).unwrap(),
            json!([{"b": 2, "a": 1}, {}, null])
        );
    }

    #[test]
    fn wrong_map_steps_are_load_errors() {
        let cases = [
            ("    map: '{{ rows }}'\n", "exactly one of `to` and `pick`"),
            (
                "    map: '{{ rows }}'\n    to: 1\n    pick: [a]\n",
                "exactly one of `to` and `pick`",
            ),
            ("    map: 'rows'\n    to: 1\n", "single {{ expression }}"),
            ("    map: '{{ rows }}'\n    as: n\n    to: 1\n", "would hide"),
            ("    map: '{{ rows }}'\n    as: steps\n    to: 1\n", "would hide"),
            ("    map: '{{ rows }}'\n    as: a-b\n    to: 1\n", "not a name"),
            ("    map: '{{ rows }}'\n    as: e\n    pick: [a]\n", "never read"),
            ("    map: '{{ rows }}'\n    pick: []\n", "at least one key"),
            (
                "    map: '{{ rows }}'\n    to: '{{ e.id }}'\n",
                "unknown variable 'e'",
            ),
            ("    set: 1\n    to: 1\n", "apply to `map` steps only"),
            ("    map: '{{ rows }}'\n    set: 1\n    to: 1\n", "exactly one of"),
        ];
        for (step, expected) in cases {
            let err = run(step, json!({})).unwrap_err();
            assert!(err.contains(expected), "{step}: {err}");
        }
    }
}
