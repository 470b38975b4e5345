//! A flow's inputs → the JSON Schema of its tool's arguments; its outputs → the tool's output
//! schema (docs/flow-tools.md has the table).
//!
//! Kestra gives inputs as `GET /flows/{namespace}/{id}` returns them: 1.3 and 2.0 both say
//! `required` on each input and give `defaults` as text (`"5"`, `"true"`, `"[\"x\"]"`), which
//! becomes the typed default here. An argument is required only when Kestra requires the input
//! and has no default for it. FILE inputs cannot be sent by a tool call (they are left out and
//! reported in [`FlowInputs::files`]); FORM inputs (2.0) give one argument per child,
//! `form.child`, the name Kestra reads in a multipart execution.

use serde_json::{Map, Value, json};

/// The tool's arguments as a JSON Schema, with what the schema cannot carry.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowInputs {
    /// `{type: object, properties, required, additionalProperties: false}`.
    pub schema: Value,
    /// The FILE inputs, left out of the schema.
    pub files: Vec<FileInput>,
}

/// A FILE input: a call cannot upload a file yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInput {
    /// Its argument name (`form.child` inside a FORM).
    pub id: String,
    /// Kestra requires it and has no default: no call can start the flow.
    pub blocking: bool,
}

/// An input as Kestra describes it, with the name its argument gets.
struct InputDef<'a> {
    name: String,
    def: &'a Map<String, Value>,
    /// Inside an optional FORM: never required.
    parent_optional: bool,
}

impl InputDef<'_> {
    fn kind(&self) -> &str {
        self.def.get("type").and_then(Value::as_str).unwrap_or("STRING")
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.def
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// Kestra requires an input unless it says `required: false`.
    fn kestra_requires(&self) -> bool {
        !self.parent_optional && self.def.get("required").and_then(Value::as_bool) != Some(false)
    }

    fn raw_default(&self) -> Option<&Value> {
        self.def.get("defaults").filter(|d| !d.is_null())
    }
}

/// The argument schema of `flow`'s inputs.
pub fn flow_inputs(flow: &Value) -> FlowInputs {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut files = Vec::new();
    for input in input_defs(flow) {
        let has_default = input.raw_default().is_some();
        if input.kind() == "FILE" {
            files.push(FileInput {
                id: input.name.clone(),
                blocking: input.kestra_requires() && !has_default,
            });
            continue;
        }
        let property = property_of(&input);
        // Required: Kestra requires it and nothing fills it in. A default the schema cannot
        // give (an expression) is still Kestra's to apply.
        if input.kestra_requires() && !has_default {
            required.push(Value::String(input.name.clone()));
        }
        properties.insert(input.name, property);
    }
    FlowInputs {
        schema: json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        }),
        files,
    }
}

/// The flow's inputs in order, a FORM's children in its place as `form.child`.
fn input_defs(flow: &Value) -> Vec<InputDef<'_>> {
    let mut defs = Vec::new();
    for input in flow.get("inputs").and_then(Value::as_array).into_iter().flatten() {
        let Some((id, def)) = identified(input) else {
            continue;
        };
        if def.get("type").and_then(Value::as_str) == Some("FORM") {
            let optional = def.get("required").and_then(Value::as_bool) == Some(false);
            for child in def.get("inputs").and_then(Value::as_array).into_iter().flatten() {
                if let Some((child_id, child_def)) = identified(child) {
                    defs.push(InputDef {
                        name: format!("{id}.{child_id}"),
                        def: child_def,
                        parent_optional: optional,
                    });
                }
            }
            continue;
        }
        defs.push(InputDef {
            name: id.to_owned(),
            def,
            parent_optional: false,
        });
    }
    defs
}

fn identified(input: &Value) -> Option<(&str, &Map<String, Value>)> {
    let def = input.as_object()?;
    let id = def
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())?;
    Some((id, def))
}

/// The property of one input.
fn property_of(input: &InputDef) -> Value {
    let mut property = Map::new();
    let mut notes: Vec<String> = Vec::new();
    type_keywords(input, &mut property, &mut notes);
    // A secret's default stays in Kestra: the schema is shown to every client.
    let shown_default = match input.kind() {
        "SECRET" => None,
        kind => input.raw_default().and_then(|d| typed_default(kind, d)),
    };
    match shown_default {
        Some(d) => {
            property.insert("default".into(), d);
        }
        None if input.raw_default().is_some() && input.kind() == "SECRET" => {
            notes.push("Has a default in the flow (not shown), used when left out.".into())
        }
        None if input.raw_default().is_some() => {
            notes.push("Default: computed by Kestra when left out.".into())
        }
        None => {}
    }
    if let Some(description) = description_of(input, &notes) {
        property.insert("description".into(), Value::String(description));
    }
    Value::Object(property)
}

/// The input's display name and description, then the constraints said in words.
fn description_of(input: &InputDef, notes: &[String]) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    match (input.text("displayName"), input.text("description")) {
        (Some(name), Some(text)) if name != text => parts.push(format!("{name}: {text}")),
        (Some(name), _) => parts.push(name.to_owned()),
        (None, Some(text)) => parts.push(text.to_owned()),
        (None, None) => {}
    }
    parts.extend(notes.iter().cloned());
    let text = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| match p.ends_with(['.', '!', '?', ':']) {
            true => p.to_owned(),
            false => format!("{p}."),
        })
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then_some(text)
}

/// The JSON Schema keywords of the input's type and constraints; `notes` gets what JSON
/// Schema cannot say.
fn type_keywords(input: &InputDef, property: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let def = input.def;
    let mut set = |k: &str, v: Value| {
        property.insert(k.to_owned(), v);
    };
    match input.kind() {
        "STRING" => {
            set("type", json!("string"));
            validator_words(def, notes);
        }
        "SECRET" => {
            set("type", json!("string"));
            set("writeOnly", json!(true));
            validator_words(def, notes);
            notes.push("A secret: Kestra stores it encrypted (its encryption must be configured).".into());
        }
        "INT" => {
            set("type", json!("integer"));
            bounds(def, "min", "max", property, notes);
        }
        "FLOAT" => {
            set("type", json!("number"));
            bounds(def, "min", "max", property, notes);
        }
        "BOOLEAN" | "BOOL" => set("type", json!("boolean")),
        "SELECT" | "ENUM" => select(def, property, notes),
        "MULTISELECT" => multiselect(def, property, notes),
        "DATETIME" => temporal(
            def,
            "date-time",
            "ISO 8601 date-time, e.g. 2026-01-15T10:30:00Z",
            property,
            notes,
        ),
        "DATE" => temporal(def, "date", "ISO 8601 date, e.g. 2026-01-15", property, notes),
        "TIME" => temporal(def, "time", "ISO 8601 time, e.g. 10:30:00", property, notes),
        "DURATION" => {
            set("type", json!("string"));
            set("format", json!("duration"));
            notes.push("ISO 8601 duration, e.g. PT1H30M.".into());
            words_for_bounds(def, "min", "max", "at least", "at most", notes);
        }
        "JSON" => json_input(def, property, notes),
        "YAML" => {
            set("type", json!(["string", "object", "array"]));
            notes.push("YAML text (or a JSON value, sent as its JSON text).".into());
        }
        "ARRAY" => {
            let item = item_schema(def.get("itemType").and_then(Value::as_str).unwrap_or("STRING"));
            set("type", json!("array"));
            set("items", item);
        }
        "URI" => {
            set("type", json!("string"));
            set("format", json!("uri"));
        }
        "EMAIL" => {
            set("type", json!("string"));
            set("format", json!("email"));
        }
        other => {
            set("type", json!("string"));
            notes.push(format!("Kestra input type {other}, sent as text."));
        }
    }
}

/// A STRING/SECRET `validator`, in words: Kestra checks it (and says which input failed). Not
/// a `pattern`: Kestra's regexes are Java's (the schema's dialect is ECMA 262's), and `tools
/// validate` could not synthesise a value that matches an arbitrary pattern to check the spec.
fn validator_words(def: &Map<String, Value>, notes: &mut Vec<String>) {
    if let Some(validator) = def.get("validator").and_then(Value::as_str) {
        notes.push(format!(
            "Must match the regular expression {validator} (checked by Kestra)."
        ));
    }
}

/// `minimum`/`maximum` from Kestra's `min`/`max`.
fn bounds(
    def: &Map<String, Value>,
    min: &str,
    max: &str,
    property: &mut Map<String, Value>,
    notes: &mut Vec<String>,
) {
    for (key, keyword, words) in [(min, "minimum", "at least"), (max, "maximum", "at most")] {
        match def.get(key) {
            Some(n @ Value::Number(_)) => {
                property.insert(keyword.into(), n.clone());
            }
            // A number given as text (or an expression): said, not checked.
            Some(Value::String(s)) => match s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                Some(n) => {
                    property.insert(keyword.into(), Value::Number(n));
                }
                None => notes.push(format!("Must be {words} {s}.")),
            },
            _ => {}
        }
    }
}

/// Constraints JSON Schema cannot check on text (dates, durations), in words.
fn words_for_bounds(
    def: &Map<String, Value>,
    low: &str,
    high: &str,
    low_words: &str,
    high_words: &str,
    notes: &mut Vec<String>,
) {
    for (key, words) in [(low, low_words), (high, high_words)] {
        if let Some(v) = def.get(key).filter(|v| !v.is_null()) {
            let text = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
            notes.push(format!("Must be {words} {text}."));
        }
    }
}

fn temporal(
    def: &Map<String, Value>,
    format: &str,
    words: &str,
    property: &mut Map<String, Value>,
    notes: &mut Vec<String>,
) {
    property.insert("type".into(), json!("string"));
    property.insert("format".into(), json!(format));
    notes.push(format!("{words}."));
    words_for_bounds(def, "after", "before", "on or after", "on or before", notes);
}

/// A SELECT/MULTISELECT's choices: `values` (1.3, 2.0) or `options`, each a string or
/// `{label, value}` (2.0); `(value, label)`.
fn choices(def: &Map<String, Value>) -> Vec<(String, Option<String>)> {
    let list = def
        .get("values")
        .or_else(|| def.get("options"))
        .and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .filter_map(|choice| match choice {
            Value::String(s) => Some((s.clone(), None)),
            Value::Object(o) => {
                let value = o.get("value").and_then(Value::as_str)?.to_owned();
                let label = o.get("label").and_then(Value::as_str).filter(|l| *l != value);
                Some((value, label.map(str::to_owned)))
            }
            Value::Number(_) | Value::Bool(_) => Some((choice.to_string(), None)),
            _ => None,
        })
        .collect()
}

fn allows_custom(def: &Map<String, Value>) -> bool {
    def.get("allowCustomValue").and_then(Value::as_bool) == Some(true)
}

/// Labels that differ from their value, in words (`low: Low priority`).
fn label_notes(choices: &[(String, Option<String>)], notes: &mut Vec<String>) {
    let labelled: Vec<String> = choices
        .iter()
        .filter_map(|(v, l)| l.as_ref().map(|l| format!("{v} = {l}")))
        .collect();
    if !labelled.is_empty() {
        notes.push(format!("Choices: {}.", labelled.join("; ")));
    }
}

fn select(def: &Map<String, Value>, property: &mut Map<String, Value>, notes: &mut Vec<String>) {
    property.insert("type".into(), json!("string"));
    one_of_the_choices(def, property, notes);
}

fn multiselect(def: &Map<String, Value>, property: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let mut items = Map::new();
    items.insert("type".into(), json!("string"));
    one_of_the_choices(def, &mut items, notes);
    property.insert("type".into(), json!("array"));
    property.insert("items".into(), Value::Object(items));
    property.insert("uniqueItems".into(), json!(true));
}

/// A string schema limited to the input's choices: an `enum` when only they are accepted, a
/// note when other values are too or when Kestra computes them; the choices' labels in notes.
fn one_of_the_choices(def: &Map<String, Value>, schema: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let choices = choices(def);
    let values: Vec<&str> = choices.iter().map(|(v, _)| v.as_str()).collect();
    match (allows_custom(def), values.is_empty()) {
        (_, true) => notes.push("Choices are computed by Kestra.".into()),
        (true, false) => notes.push(format!(
            "Suggested: {}; other values accepted.",
            values.join(", ")
        )),
        (false, false) => {
            schema.insert("enum".into(), json!(values));
        }
    }
    label_notes(&choices, notes);
}

/// JSON: any JSON value (sent as its JSON text; a string is sent as is, so JSON text works
/// too), or the input's own `jsonSchema` (2.0) when it gives one.
fn json_input(def: &Map<String, Value>, property: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let own = def
        .get("jsonSchema")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .filter(|s| s.is_object() && jsonschema::validator_for(s).is_ok());
    match own {
        Some(Value::Object(schema)) => {
            for (k, v) in schema {
                if !matches!(k.as_str(), "$schema" | "$id") {
                    property.insert(k, v);
                }
            }
        }
        _ => {
            property.insert(
                "type".into(),
                json!(["object", "array", "string", "number", "integer", "boolean"]),
            );
            notes.push("Any JSON value (text is sent as is: JSON text works too).".into());
        }
    }
}

/// The schema of an ARRAY's items by `itemType`.
fn item_schema(item_type: &str) -> Value {
    match item_type {
        "INT" => json!({"type": "integer"}),
        "FLOAT" => json!({"type": "number"}),
        "BOOLEAN" | "BOOL" => json!({"type": "boolean"}),
        "DATETIME" => json!({"type": "string", "format": "date-time"}),
        "DATE" => json!({"type": "string", "format": "date"}),
        "TIME" => json!({"type": "string", "format": "time"}),
        "DURATION" => json!({"type": "string", "format": "duration"}),
        "URI" => json!({"type": "string", "format": "uri"}),
        "EMAIL" => json!({"type": "string", "format": "email"}),
        "JSON" => json!({}),
        _ => json!({"type": "string"}),
    }
}

/// Kestra's default (text in 1.3 and 2.0: `"5"`, `"true"`, `"[\"x\"]"`) as the typed value
/// the schema gives; `None` when it is not one (an expression such as `{{ now() }}`: Kestra
/// computes it when the argument is left out).
pub fn typed_default(kind: &str, raw: &Value) -> Option<Value> {
    if let Value::String(s) = raw
        && (s.contains("{{") || s.contains("{%"))
    {
        return None;
    }
    let text = raw.as_str();
    match kind {
        "INT" => match raw {
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(raw.clone()),
            _ => text?.trim().parse::<i64>().ok().map(Value::from),
        },
        "FLOAT" => match raw {
            Value::Number(_) => Some(raw.clone()),
            _ => text?
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
        },
        "BOOLEAN" | "BOOL" => match raw {
            Value::Bool(_) => Some(raw.clone()),
            _ => match text?.trim() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
        },
        "MULTISELECT" | "ARRAY" => match raw {
            Value::Array(_) => Some(raw.clone()),
            _ => serde_json::from_str::<Value>(text?).ok().filter(Value::is_array),
        },
        "JSON" => match raw {
            Value::String(s) => serde_json::from_str(s).ok(),
            other => Some(other.clone()),
        },
        "YAML" => match raw {
            Value::String(_) => Some(raw.clone()),
            other => Some(other.clone()),
        },
        _ => match raw {
            Value::String(_) => Some(raw.clone()),
            Value::Number(_) | Value::Bool(_) => Some(Value::String(raw.to_string())),
            _ => None,
        },
    }
}

/// The output schema of a flow tool's result: the execution's id, state, duration, url, and
/// its outputs as the flow declares them (typed, none required: a failed execution has none).
pub fn output_schema(flow: &Value) -> Value {
    let mut outputs = Map::new();
    for output in flow
        .get("outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some((id, def)) = identified(output) else {
            continue;
        };
        let kind = def.get("type").and_then(Value::as_str).unwrap_or("STRING");
        let mut schema = match kind {
            "FILE" => json!({"type": "string", "description": "Kestra storage URI (kestra:///...)"}),
            "JSON" | "YAML" => json!({}),
            "ARRAY" | "MULTISELECT" => json!({"type": "array"}),
            other => item_schema(other),
        };
        if let Some(text) = def
            .get("description")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
            && let Some(object) = schema.as_object_mut()
        {
            object.insert("description".into(), Value::String(text.to_owned()));
        }
        outputs.insert(id.to_owned(), schema);
    }
    json!({
        "type": "object",
        "properties": {
            "executionId": {"type": "string"},
            "state": {"type": "string"},
            "duration": {"type": ["number", "null"], "description": "Seconds"},
            "outputs": {"type": "object", "properties": outputs},
            "url": {"type": "string"},
        },
        "required": ["executionId", "state"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(inputs: Value) -> Value {
        json!({"id": "f", "namespace": "n", "inputs": inputs})
    }

    fn one(input: Value) -> (Value, Vec<String>) {
        let inputs = flow_inputs(&flow(json!([input])));
        let props = inputs.schema["properties"].clone();
        let required = inputs.schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        (props, required)
    }

    #[test]
    fn a_required_input_without_default_is_required() {
        let (props, required) = one(json!({"id": "s", "type": "STRING", "required": true}));
        assert_eq!(props["s"], json!({"type": "string"}));
        assert_eq!(required, vec!["s"]);
        // Kestra requires inputs unless they say otherwise.
        let (_, required) = one(json!({"id": "s", "type": "STRING"}));
        assert_eq!(required, vec!["s"]);
    }

    #[test]
    fn a_default_or_required_false_makes_it_optional() {
        let (props, required) =
            one(json!({"id": "s", "type": "STRING", "required": true, "defaults": "hello"}));
        assert_eq!(props["s"]["default"], json!("hello"));
        assert!(required.is_empty());
        let (props, required) = one(json!({"id": "s", "type": "STRING", "required": false}));
        assert!(props["s"].get("default").is_none());
        assert!(required.is_empty());
    }

    #[test]
    fn defaults_given_as_text_become_typed() {
        assert_eq!(typed_default("INT", &json!("5")), Some(json!(5)));
        assert_eq!(typed_default("FLOAT", &json!("1.5")), Some(json!(1.5)));
        assert_eq!(typed_default("BOOLEAN", &json!("true")), Some(json!(true)));
        assert_eq!(typed_default("BOOL", &json!("false")), Some(json!(false)));
        assert_eq!(
            typed_default("MULTISELECT", &json!("[\"x\"]")),
            Some(json!(["x"]))
        );
        assert_eq!(typed_default("ARRAY", &json!("[1, 2]")), Some(json!([1, 2])));
        assert_eq!(typed_default("JSON", &json!("{\"k\": 1}")), Some(json!({"k": 1})));
        assert_eq!(typed_default("DURATION", &json!("PT5M")), Some(json!("PT5M")));
        assert_eq!(typed_default("INT", &json!("many")), None);
        assert_eq!(typed_default("STRING", &json!("{{ now() }}")), None);
    }

    #[test]
    fn an_expression_default_is_optional_and_said() {
        let (props, required) =
            one(json!({"id": "d", "type": "DATETIME", "required": true, "defaults": "{{ now() }}"}));
        assert!(required.is_empty());
        assert!(props["d"].get("default").is_none());
        assert!(
            props["d"]["description"]
                .as_str()
                .unwrap()
                .contains("computed by Kestra")
        );
    }

    #[test]
    fn numbers_carry_their_bounds() {
        let (props, _) =
            one(json!({"id": "i", "type": "INT", "min": 0, "max": 100, "displayName": "An integer"}));
        assert_eq!(
            props["i"],
            json!({"type": "integer", "minimum": 0, "maximum": 100, "description": "An integer."})
        );
        let (props, _) = one(json!({"id": "f", "type": "FLOAT", "min": "0.5", "defaults": "1.5"}));
        assert_eq!(
            props["f"],
            json!({"type": "number", "minimum": 0.5, "default": 1.5})
        );
    }

    #[test]
    fn booleans_of_both_names() {
        for kind in ["BOOLEAN", "BOOL"] {
            let (props, _) = one(json!({"id": "b", "type": kind, "defaults": "true"}));
            assert_eq!(props["b"], json!({"type": "boolean", "default": true}));
        }
    }

    #[test]
    fn a_validator_is_said_in_words() {
        let (props, _) =
            one(json!({"id": "s", "type": "STRING", "validator": "[a-z]+", "description": "Code"}));
        assert_eq!(
            props["s"],
            json!({"type": "string", "description": "Code. Must match the regular expression [a-z]+ (checked by Kestra)."})
        );
    }

    #[test]
    fn select_choices_are_an_enum_unless_custom_values_are_allowed() {
        let (props, _) = one(json!({"id": "sel", "type": "SELECT", "values": ["a", "b"], "defaults": "a"}));
        assert_eq!(
            props["sel"],
            json!({"type": "string", "enum": ["a", "b"], "default": "a"})
        );
        let (props, _) =
            one(json!({"id": "sel", "type": "SELECT", "values": ["a"], "allowCustomValue": true}));
        assert!(props["sel"].get("enum").is_none());
        assert!(
            props["sel"]["description"]
                .as_str()
                .unwrap()
                .contains("Suggested: a")
        );
        // 2.0: {label, value} choices; the value is what is sent.
        let (props, _) = one(json!({"id": "p", "type": "SELECT",
            "values": [{"label": "Low priority", "value": "low"}, "high"]}));
        assert_eq!(props["p"]["enum"], json!(["low", "high"]));
        assert_eq!(props["p"]["description"], json!("Choices: low = Low priority."));
        let (props, _) = one(json!({"id": "p", "type": "ENUM", "options": ["x"]}));
        assert_eq!(props["p"]["enum"], json!(["x"]));
    }

    #[test]
    fn multiselect_is_an_array_of_unique_choices() {
        let (props, _) =
            one(json!({"id": "m", "type": "MULTISELECT", "values": ["x", "y"], "defaults": "[\"x\"]"}));
        assert_eq!(
            props["m"],
            json!({"type": "array", "items": {"type": "string", "enum": ["x", "y"]}, "uniqueItems": true, "default": ["x"]})
        );
    }

    #[test]
    fn dates_times_and_durations_have_formats_and_bounds_in_words() {
        let (props, _) = one(json!({"id": "dt", "type": "DATETIME", "after": "2026-01-01T00:00:00Z"}));
        assert_eq!(props["dt"]["format"], json!("date-time"));
        assert!(
            props["dt"]["description"]
                .as_str()
                .unwrap()
                .contains("on or after 2026-01-01T00:00:00Z")
        );
        for (kind, format) in [("DATE", "date"), ("TIME", "time"), ("DURATION", "duration")] {
            let (props, _) = one(json!({"id": "x", "type": kind}));
            assert_eq!(props["x"]["format"], json!(format), "{kind}");
            assert_eq!(props["x"]["type"], json!("string"), "{kind}");
        }
        let (props, _) = one(json!({"id": "x", "type": "DURATION", "max": "PT1H"}));
        assert!(
            props["x"]["description"]
                .as_str()
                .unwrap()
                .contains("at most PT1H")
        );
    }

    #[test]
    fn json_yaml_array_uri_email_secret() {
        let (props, _) = one(json!({"id": "j", "type": "JSON"}));
        assert!(props["j"]["type"].as_array().unwrap().contains(&json!("object")));
        let (props, _) = one(
            json!({"id": "j", "type": "JSON", "jsonSchema": "{\"type\": \"object\", \"required\": [\"k\"]}"}),
        );
        assert_eq!(props["j"], json!({"type": "object", "required": ["k"]}));
        let (props, _) = one(json!({"id": "y", "type": "YAML"}));
        assert_eq!(props["y"]["type"], json!(["string", "object", "array"]));
        let (props, _) = one(json!({"id": "a", "type": "ARRAY", "itemType": "INT"}));
        assert_eq!(props["a"], json!({"type": "array", "items": {"type": "integer"}}));
        let (props, _) = one(json!({"id": "u", "type": "URI"}));
        assert_eq!(props["u"], json!({"type": "string", "format": "uri"}));
        let (props, _) = one(json!({"id": "e", "type": "EMAIL"}));
        assert_eq!(props["e"], json!({"type": "string", "format": "email"}));
        let (props, _) = one(json!({"id": "k", "type": "SECRET"}));
        assert_eq!(props["k"]["writeOnly"], json!(true));
        let (props, required) = one(json!({"id": "k", "type": "SECRET", "defaults": "hunter2"}));
        assert!(props["k"].get("default").is_none());
        assert!(!props["k"].to_string().contains("hunter2"));
        assert!(required.is_empty());
    }

    #[test]
    fn an_unknown_type_is_text_and_says_so() {
        let (props, required) = one(json!({"id": "z", "type": "GEOPOINT", "required": false}));
        assert_eq!(props["z"]["type"], json!("string"));
        assert!(props["z"]["description"].as_str().unwrap().contains("GEOPOINT"));
        assert!(required.is_empty());
    }

    #[test]
    fn files_are_left_out_and_reported() {
        let inputs = flow_inputs(&flow(json!([
            {"id": "f1", "type": "FILE", "required": true},
            {"id": "f2", "type": "FILE", "required": false},
            {"id": "f3", "type": "FILE", "defaults": "nsfile:///x.csv"},
        ])));
        assert_eq!(inputs.schema["properties"], json!({}));
        assert_eq!(inputs.schema["required"], json!([]));
        let blocking: Vec<_> = inputs.files.iter().map(|f| (f.id.as_str(), f.blocking)).collect();
        assert_eq!(blocking, vec![("f1", true), ("f2", false), ("f3", false)]);
    }

    #[test]
    fn a_form_gives_one_argument_per_child() {
        let inputs = flow_inputs(&flow(json!([
            {"id": "env", "type": "FORM", "required": true, "displayName": "Environment", "inputs": [
                {"id": "region", "type": "STRING", "required": true, "defaults": "eu-west-1"},
                {"id": "replicas", "type": "INT", "required": true},
            ]},
            {"id": "opt", "type": "FORM", "required": false, "inputs": [{"id": "x", "type": "STRING"}]},
        ])));
        assert_eq!(
            inputs.schema["properties"],
            json!({
                "env.region": {"type": "string", "default": "eu-west-1"},
                "env.replicas": {"type": "integer"},
                "opt.x": {"type": "string"},
            })
        );
        assert_eq!(inputs.schema["required"], json!(["env.replicas"]));
    }

    #[test]
    fn the_output_schema_types_the_declared_outputs() {
        let schema = output_schema(&json!({"outputs": [
            {"id": "count", "type": "INT", "description": "rows"},
            {"id": "report", "type": "FILE"},
        ]}));
        assert_eq!(
            schema["properties"]["outputs"]["properties"]["count"],
            json!({"type": "integer", "description": "rows"})
        );
        assert_eq!(
            schema["properties"]["outputs"]["properties"]["report"]["type"],
            json!("string")
        );
        assert_eq!(schema["required"], json!(["executionId", "state"]));
    }
}
