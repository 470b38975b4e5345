//! Kestra's OpenAPI descriptions, bundled (see build.rs) with the reviewed overlay applied, and
//! what the checks need from them: routing a path the way Kestra's router does, parameters,
//! and JSON Schema validators for bodies and query values.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use super::ContractError;
use super::overlay::apply_overlay;
use crate::spec::KNOWN_KESTRA_VERSIONS;

pub(crate) const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// The bundled files: name and deflated text.
const BUNDLED: &[(&str, &[u8])] = &[
    (
        "openapi-1.3.0.yml",
        include_bytes!(concat!(env!("OUT_DIR"), "/openapi-1.3.0.yml.deflate")),
    ),
    (
        "openapi-2.0.0-SNAPSHOT.yml",
        include_bytes!(concat!(env!("OUT_DIR"), "/openapi-2.0.0-SNAPSHOT.yml.deflate")),
    ),
];
const OVERLAY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/overlay.yaml.deflate"));

/// One description per known Kestra version (`1.3.0`, `2.0.0`).
pub struct Descriptions {
    by_version: BTreeMap<String, Description>,
}

/// The description used for one known Kestra version.
pub struct Description {
    /// The known version (`1.3.0`).
    pub version: String,
    /// The bundled file it comes from (`openapi-1.3.0.yml`).
    pub file: String,
    /// The description with the overlay applied.
    pub spec: Value,
    /// Overlay entries applied: `id: n change(s)`.
    pub overlay: Vec<String>,
    pub(crate) paths: Vec<PathItem>,
    /// `{"schemas": ...}` converted to JSON Schema 2020-12, embedded in every validator.
    components: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Descriptions {
    /// The descriptions compiled into this binary.
    pub fn bundled() -> Result<Self, ContractError> {
        let overlay = parse_yaml("overlay.yaml", &inflate("overlay.yaml", OVERLAY)?)?;
        let mut raw: BTreeMap<&str, Value> = BTreeMap::new();
        for (file, deflated) in BUNDLED {
            raw.insert(file, parse_yaml(file, &inflate(file, deflated)?)?);
        }
        let mut by_version = BTreeMap::new();
        for known in KNOWN_KESTRA_VERSIONS {
            let key = minor_key(known);
            let prefix = format!("openapi-{key}.");
            let (file, original) = raw
                .iter()
                .find(|(f, _)| f.starts_with(&prefix))
                .ok_or_else(|| ContractError(format!("no bundled OpenAPI description for Kestra {known}")))?;
            let other = overlay["other_version_files"][&key]
                .as_str()
                .and_then(|name| raw.get(name));
            let mut spec = original.clone();
            let applied = apply_overlay(&overlay, &key, &mut spec, other)
                .map_err(|e| ContractError(format!("overlay.yaml on {file}: {e}")))?;
            by_version.insert(known.to_string(), Description::new(known, file, spec, applied));
        }
        Ok(Descriptions { by_version })
    }

    /// `(version, description)`, oldest version first.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Description)> {
        self.by_version.iter()
    }

    pub fn get(&self, version: &str) -> Option<&Description> {
        self.by_version.get(version)
    }
}

/// `1.3.0` → `1.3`, the key the overlay and the file names use.
fn minor_key(version: &str) -> String {
    let mut parts = version.split('.');
    format!(
        "{}.{}",
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default()
    )
}

fn inflate(file: &str, deflated: &[u8]) -> Result<String, ContractError> {
    let bytes = miniz_oxide::inflate::decompress_to_vec(deflated)
        .map_err(|e| ContractError(format!("bundled {file} does not inflate: {e:?}")))?;
    String::from_utf8(bytes).map_err(|e| ContractError(format!("bundled {file} is not UTF-8: {e}")))
}

fn parse_yaml(file: &str, text: &str) -> Result<Value, ContractError> {
    yaml_serde::from_str(text).map_err(|e| ContractError(format!("bundled {file} does not parse: {e}")))
}

impl Description {
    fn new(version: &str, file: &str, spec: Value, overlay: Vec<String>) -> Self {
        let components = json!({"schemas": to_json_schema(spec["components"]["schemas"].clone())});
        let mut paths: Vec<PathItem> = spec["paths"]
            .as_object()
            .map(|p| p.keys().map(|t| PathItem::parse(t)).collect())
            .unwrap_or_default();
        paths.sort_by(|a, b| a.template.cmp(&b.template));
        Description {
            version: version.to_owned(),
            file: file.to_owned(),
            spec,
            overlay,
            paths,
            components,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The operation for `method` at a path template, if the description has one.
    pub(crate) fn operation(&self, template: &str, method: &str) -> Option<&Value> {
        self.spec["paths"][template].get(method).filter(|o| o.is_object())
    }

    /// The path templates matching `segments` (decoded), most specific first: fewest
    /// variables, then most literal characters (Micronaut's order).
    pub(crate) fn matching(&self, segments: &[String]) -> Vec<&PathItem> {
        let mut matching: Vec<&PathItem> = self.paths.iter().filter(|p| p.matches(segments)).collect();
        matching.sort_by(|a, b| {
            a.variables
                .cmp(&b.variables)
                .then(b.literal_chars.cmp(&a.literal_chars))
        });
        matching
    }

    /// Schema errors of `instance` against `schema` (an OpenAPI 3.0 schema of this
    /// description), except those about stand-ins for values only known at run time.
    pub(crate) fn validate(&self, key: &str, schema: &Value, instance: &Value) -> Vec<String> {
        match self.validator(key, schema) {
            Err(e) => vec![e],
            Ok(v) => v
                .iter_errors(instance)
                .filter(|e| {
                    !from_stand_in(
                        instance,
                        &e.instance_path().to_string(),
                        &e.schema_path().to_string(),
                    )
                })
                .map(|e| {
                    let at = e.instance_path().to_string();
                    match at.is_empty() {
                        true => e.to_string(),
                        false => format!("at {at}: {e}"),
                    }
                })
                .collect(),
        }
    }

    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = cache.get(key) {
            return Ok(v.clone());
        }
        let document = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [to_json_schema(schema.clone())],
            "components": self.components,
        });
        let validator = jsonschema::options()
            .build(&document)
            .map(Arc::new)
            .map_err(|e| format!("the description's schema for {key} does not compile: {e}"))?;
        cache.insert(key.to_owned(), validator.clone());
        Ok(validator)
    }

    /// Follows a local `$ref` (`#/components/...`).
    pub(crate) fn deref<'a>(&'a self, node: &'a Value) -> &'a Value {
        resolve_local(&self.spec, node)
    }

    /// The JSON type a (converted) schema describes, looking through `$ref` and combinators.
    pub(crate) fn type_of(&self, schema: &Value, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        if let Some(t) = first_type(schema) {
            return Some(t);
        }
        if let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            return self.type_of(&self.components["schemas"][name], depth + 1);
        }
        ["allOf", "anyOf", "oneOf"]
            .iter()
            .flat_map(|c| schema.get(*c).and_then(Value::as_array).into_iter().flatten())
            .find_map(|branch| self.type_of(branch, depth + 1).filter(|t| t != "null"))
    }
}

/// Follows local `$ref`s (`#/...`) in `root`, a few levels deep.
pub(crate) fn resolve_local<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut node = schema;
    for _ in 0..8 {
        match node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
        {
            Some(found) => node = found,
            None => break,
        }
    }
    node
}

/// The first non-null `type` of a schema.
pub(crate) fn first_type(schema: &Value) -> Option<String> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(str::to_owned),
        _ => None,
    }
}

/// A path template split into segments, with what ranks it among templates that match.
pub(crate) struct PathItem {
    pub(crate) template: String,
    segments: Vec<Segment>,
    variables: usize,
    literal_chars: usize,
}

enum Segment {
    Literal(String),
    /// `{name}`, or a segment mixing text and a variable (`prefix{name}suffix`).
    Variable {
        prefix: String,
        suffix: String,
    },
}

impl PathItem {
    fn parse(template: &str) -> Self {
        let segments: Vec<Segment> = template
            .trim_start_matches('/')
            .split('/')
            .map(|s| match (s.find('{'), s.rfind('}')) {
                (Some(open), Some(close)) if open < close => Segment::Variable {
                    prefix: s[..open].to_owned(),
                    suffix: s[close + 1..].to_owned(),
                },
                _ => Segment::Literal(s.to_owned()),
            })
            .collect();
        let variables = segments
            .iter()
            .filter(|s| matches!(s, Segment::Variable { .. }))
            .count();
        let literal_chars = segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.len(),
                Segment::Variable { prefix, suffix } => prefix.len() + suffix.len(),
            })
            .sum();
        PathItem {
            template: template.to_owned(),
            segments,
            variables,
            literal_chars,
        }
    }

    fn matches(&self, segments: &[String]) -> bool {
        self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(t, s)| match t {
                Segment::Literal(l) => l == s,
                Segment::Variable { prefix, suffix } => {
                    s.len() > prefix.len() + suffix.len()
                        && s.starts_with(prefix.as_str())
                        && s.ends_with(suffix.as_str())
                }
            })
    }
}

/// Translates an OpenAPI 3.0 schema to JSON Schema 2020-12: `nullable: true` accepts null,
/// boolean `exclusiveMinimum`/`exclusiveMaximum` become numbers, and `readOnly` properties are
/// not required in requests.
pub(crate) fn to_json_schema(node: Value) -> Value {
    match node {
        Value::Array(items) => Value::Array(items.into_iter().map(to_json_schema).collect()),
        Value::Object(map) => {
            let mut map: serde_json::Map<String, Value> =
                map.into_iter().map(|(k, v)| (k, to_json_schema(v))).collect();
            for (flag, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
                if let Some(Value::Bool(on)) = map.get(flag).cloned() {
                    map.remove(flag);
                    if on && let Some(limit) = map.remove(bound) {
                        map.insert(flag.to_owned(), limit);
                    }
                }
            }
            if let (Some(Value::Object(props)), Some(Value::Array(required))) =
                (map.get("properties"), map.get("required"))
            {
                let kept: Vec<Value> = required
                    .iter()
                    .filter(|name| {
                        !name
                            .as_str()
                            .and_then(|n| props.get(n))
                            .is_some_and(|p| p["readOnly"] == true)
                    })
                    .cloned()
                    .collect();
                map.insert("required".into(), Value::Array(kept));
            }
            match map.remove("nullable") {
                Some(Value::Bool(true)) => json!({"anyOf": [{"type": "null"}, Value::Object(map)]}),
                Some(Value::Bool(false)) | None => Value::Object(map),
                Some(other) => {
                    map.insert("nullable".into(), other);
                    Value::Object(map)
                }
            }
        }
        other => other,
    }
}

/// What the engine renders for a value of an earlier step or a loop item when sampling
/// requests (`render::Sample`): its real type is unknown, so schema errors about it are not
/// the spec's (synthesised arguments never use this exact string).
const STAND_IN: &str = "sample";

fn contains_stand_in(value: &Value) -> bool {
    match value {
        Value::String(s) => s == STAND_IN,
        Value::Array(items) => items.iter().any(contains_stand_in),
        Value::Object(map) => map.values().any(contains_stand_in),
        _ => false,
    }
}

/// Whether a schema error is about a stand-in: the value at the error is one, or the error
/// is a failed `anyOf`/`oneOf` over a value that contains one.
fn from_stand_in(instance: &Value, instance_path: &str, schema_path: &str) -> bool {
    let Some(at) = instance.pointer(instance_path) else {
        return false;
    };
    let combinator = schema_path.ends_with("/anyOf") || schema_path.ends_with("/oneOf");
    at.as_str() == Some(STAND_IN) || (combinator && contains_stand_in(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_becomes_an_any_of_with_null_and_boolean_exclusive_bounds_become_numbers() {
        let converted = to_json_schema(json!({
            "type": "integer", "nullable": true, "minimum": 1, "exclusiveMinimum": true
        }));
        assert_eq!(
            converted,
            json!({"anyOf": [{"type": "null"}, {"type": "integer", "exclusiveMinimum": 1}]})
        );
    }

    #[test]
    fn read_only_properties_are_not_required_in_requests() {
        let converted = to_json_schema(json!({
            "type": "object",
            "properties": {"id": {"type": "string", "readOnly": true}, "name": {"type": "string"}},
            "required": ["id", "name"]
        }));
        assert_eq!(converted["required"], json!(["name"]));
    }

    #[test]
    fn a_literal_segment_outranks_a_variable_one() {
        let desc = Description::new(
            "2.0.0",
            "test.yml",
            json!({"paths": {
                "/e/{namespace}/{id}": {"post": {"operationId": "create"}},
                "/e/{id}/actions/pause": {"post": {"operationId": "pause"}},
                "/e/{id}/pause": {}
            }}),
            vec![],
        );
        let segments: Vec<String> = ["e", "x", "pause"].iter().map(|s| s.to_string()).collect();
        let templates: Vec<&str> = desc
            .matching(&segments)
            .iter()
            .map(|p| p.template.as_str())
            .collect();
        assert_eq!(templates, ["/e/{id}/pause", "/e/{namespace}/{id}"]);
    }

    #[test]
    fn the_bundled_descriptions_load_for_every_known_version_with_the_overlay_applied() {
        let descs = Descriptions::bundled().unwrap_or_else(|e| panic!("{e}"));
        for known in KNOWN_KESTRA_VERSIONS {
            let desc = descs
                .get(known)
                .unwrap_or_else(|| panic!("no description for {known}"));
            assert!(desc.paths.len() > 100, "{known}: {} paths", desc.paths.len());
            assert!(!desc.overlay.is_empty(), "{known}: no overlay entry applied");
        }
    }
}
