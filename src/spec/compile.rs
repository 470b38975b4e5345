//! From a raw [`ToolSpec`] to a [`CompiledTool`]: every template compiled, the JSONPath parsed,
//! the input schema compiled into a validator, and every cross-field rule checked. A spec that
//! passes here cannot fail on its first call for a reason the spec could have told.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value};

use super::SpecError;
use super::action::{Action, ActionParts, Step, StepKind};
use super::advertise;
use super::inert::line_of_field;
use super::raw::{AnnotationsSpec, Method, ToolSpec};
use super::source::SpecSource;
use crate::render::{ARGUMENTS, RESERVED_NAMES, Templates};

/// The groups users know from the Python server; `KESTRA_MCP_DISABLED_TOOLS` names these and
/// any group a source declares ([`ToolSource::groups`](super::ToolSource::groups)).
pub const KNOWN_GROUPS: &[&str] = &[
    "backfill",
    "ee",
    "execution",
    "files",
    "flow",
    "kv",
    "logs",
    "namespace",
    "replay",
    "restart",
    "resume",
];

/// A tool ready to serve.
#[derive(Debug)]
pub struct CompiledTool {
    /// What `tools/list` shows.
    pub tool: Tool,
    pub group: String,
    /// Where the spec came from (`builtin:search_flows.yaml` or a file path).
    pub origin: String,
    /// What compiling on first use found: the argument validator (with the actions, for a tool
    /// whose actions were left for then), or why the spec does not compile. Set at load when
    /// the tool was compiled eagerly; otherwise on the first [`ready`](CompiledTool::ready),
    /// once, concurrent first calls waiting for it.
    pub(crate) compiled: OnceLock<Result<Ready, SpecError>>,
    /// The input schema as the spec writes it, which `validator` checks calls against
    /// (`tool.input_schema` is the lean copy clients see, `advertise.rs`), as compact JSON:
    /// it is read once, to build the validator, and a `serde_json` map of it costs about ten
    /// times its text (see [`input_schema`](Self::input_schema)).
    input_schema: Box<str>,
    /// Declared argument names with their defaults (`null` when the schema gives none).
    pub defaults: Map<String, Value>,
    /// Its actions, built at load or left for the first call.
    actions: Actions,
    /// What the listing reads of its actions, known without them.
    pub outline: Outline,
    /// The description advertised when read-only mode removes some variants (`readonly.rs`).
    pub read_only_description: Option<String>,
    /// Values its templates read by name besides the arguments (a flow tool's `flow_tool`:
    /// the flow's namespace, id, labels...), set by the source that made the tool; a call's
    /// arguments cannot replace them.
    pub constants: Option<Arc<Map<String, Value>>>,
}

impl AsRef<Tool> for CompiledTool {
    fn as_ref(&self) -> &Tool {
        &self.tool
    }
}

/// What a call runs: the actions, and the template environment they render through: the
/// environment of the tool's source (shared by the tools that source compiled together), or
/// its own for a tool compiled alone. Replacing one source's tools never touches another
/// source's environment. Shared by the tools made from one prototype
/// ([`CompiledTool::with_actions_of`]).
#[derive(Debug, Clone)]
pub struct Body {
    pub dispatch: Arc<Dispatch>,
    pub templates: Arc<Templates>,
}

/// Where a tool's [`Body`] comes from.
#[derive(Debug, Clone)]
enum Actions {
    /// Built at load.
    Built(Body),
    /// Compiled again from the spec on the first call: a tool that is listed but never called
    /// (most of thousands) holds its text, not its compiled actions.
    FromSource(Arc<SpecSource>),
}

/// What a tool's first call prepared.
#[derive(Debug)]
pub(crate) struct Ready {
    validator: Arc<jsonschema::Validator>,
    /// The actions compiled then ([`Actions::FromSource`]).
    body: Option<Body>,
}

/// What `tools/list` and the checks before a call read of a tool's actions (read-only mode,
/// task support, the dispatch argument), kept when the actions themselves are not.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    /// The argument that picks the action, for a tool with several.
    pub argument: Option<String>,
    /// Each action, in the order of [`Dispatch::actions`].
    pub actions: Vec<OutlinedAction>,
    /// Whether an action has a `wait` step (at the top or in a `repeat` group): its calls may
    /// run long and become tasks.
    pub waits: bool,
}

/// One action of an [`Outline`].
#[derive(Debug, Clone)]
pub struct OutlinedAction {
    /// Its variant (`None` for a tool with one action).
    pub variant: Option<String>,
    /// The requests it may send: method and path as the spec writes it.
    pub requests: Vec<(Method, String)>,
}

impl Outline {
    fn of(dispatch: &Dispatch) -> Self {
        let compiled = dispatch.actions();
        let actions = compiled
            .iter()
            .map(|(variant, action)| OutlinedAction {
                variant: variant.map(str::to_owned),
                requests: action
                    .requests()
                    .into_iter()
                    .map(|(_, r)| (r.template.method, r.template.path_source.clone()))
                    .collect(),
            })
            .collect();
        Outline {
            argument: dispatch.argument().map(str::to_owned),
            waits: compiled.iter().any(|(_, a)| has_wait(&a.steps)),
            actions,
        }
    }
}

fn has_wait(steps: &[Step]) -> bool {
    steps.iter().any(|step| match &step.kind {
        StepKind::Wait(_) => true,
        StepKind::Loop(group) => has_wait(&group.steps),
        _ => false,
    })
}

/// How a call picks its action.
#[derive(Debug)]
pub enum Dispatch {
    Single(Box<Action>),
    ByArgument {
        argument: String,
        actions: BTreeMap<String, Action>,
    },
}

impl Dispatch {
    /// The argument that picks the action, for a tool with several.
    pub fn argument(&self) -> Option<&str> {
        match self {
            Dispatch::Single(_) => None,
            Dispatch::ByArgument { argument, .. } => Some(argument),
        }
    }

    /// The actions, with their variant names (`None` for a single request).
    pub fn actions(&self) -> Vec<(Option<&str>, &Action)> {
        match self {
            Dispatch::Single(a) => vec![(None, a.as_ref())],
            Dispatch::ByArgument { actions, .. } => {
                actions.iter().map(|(k, a)| (Some(k.as_str()), a)).collect()
            }
        }
    }
}

impl CompiledTool {
    /// Compiles what loading deferred (the argument validator, the templates, the check of
    /// the output schema), on the first call only; the error names the spec's file.
    pub fn ready(&self) -> Result<(), SpecError> {
        self.prepared().map(|_| ())
    }

    fn prepared(&self) -> Result<&Ready, SpecError> {
        self.compiled
            .get_or_init(|| self.compile_deferred())
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The validator of the arguments (compiling the deferred parts first, see [`ready`](Self::ready)).
    pub fn validator(&self) -> Result<&jsonschema::Validator, SpecError> {
        self.prepared().map(|ready| ready.validator.as_ref())
    }

    /// What a call runs: built at load, or compiled now (once) from the spec.
    pub fn body(&self) -> Result<&Body, SpecError> {
        match &self.actions {
            Actions::Built(body) => Ok(body),
            Actions::FromSource(source) => self.prepared()?.body.as_ref().ok_or_else(|| {
                SpecError::new(&source.origin, None, "its actions were not compiled".to_owned())
            }),
        }
    }

    /// The input schema calls are checked against (defaults and nulls kept; not the lean copy
    /// `tools/list` shows), parsed from the text kept at load.
    pub fn input_schema(&self) -> Result<Map<String, Value>, SpecError> {
        serde_json::from_str(&self.input_schema)
            .map_err(|e| SpecError::new(&self.origin, Some("input"), format!("cannot be read back: {e}")))
    }

    fn compile_deferred(&self) -> Result<Ready, SpecError> {
        let body = match &self.actions {
            Actions::Built(body) => body,
            Actions::FromSource(source) => return compile_again(source),
        };
        let err = |field: Option<&str>, message: String| SpecError::new(&self.origin, field, message);
        let validator = input_validator(&self.input_schema()?).map_err(|m| err(Some("input"), m))?;
        if let Some(schema) = &self.tool.output_schema {
            output_schema(&Value::Object((**schema).clone()))
                .map_err(|m| err(Some("response.output_schema"), m))?;
        }
        body.templates
            .ready()
            .map_err(|e| err(None, format!("a template does not compile: {e}")))?;
        Ok(Ready {
            validator: Arc::new(validator),
            body: None,
        })
    }

    /// A tool that shows `face` (its name, description, schemas, annotations, group, origin)
    /// and runs the actions and templates of `prototype`, shared, not copied, with
    /// `constants`: how a source serves many tools whose steps differ only in values (the flow
    /// tools: one compiled prototype, a face per flow). The face's validator is built on its
    /// first call, as for any lazily compiled tool.
    pub fn with_actions_of(
        face: &CompiledTool,
        prototype: &CompiledTool,
        constants: Map<String, Value>,
    ) -> Self {
        CompiledTool {
            tool: face.tool.clone(),
            group: face.group.clone(),
            origin: face.origin.clone(),
            compiled: OnceLock::new(),
            input_schema: face.input_schema.clone(),
            defaults: face.defaults.clone(),
            actions: prototype.actions.clone(),
            outline: prototype.outline.clone(),
            read_only_description: face.read_only_description.clone(),
            constants: Some(Arc::new(constants)),
        }
    }

    /// The actions of this tool, with their variant names (`None` for a single request),
    /// compiled first if they were left for the first call.
    pub fn actions(&self) -> Result<Vec<(Option<&str>, &Action)>, SpecError> {
        Ok(self.body()?.dispatch.actions())
    }

    /// Compiles `spec`, read from `origin`, into a tool with its own template environment
    /// (what a source adding one tool at run time uses; a whole source shares one, see
    /// [`Unbound`]). Which names and groups a source may use is the source's rule
    /// ([`check_identity`](super::load::check_identity)), not the compiler's.
    pub fn from_spec(spec: ToolSpec, origin: &str) -> Result<Self, SpecError> {
        let mut templates = Templates::new();
        let unbound = Unbound::compile(spec, origin, &mut templates)?;
        Ok(unbound.bind(Arc::new(templates)))
    }
}

/// A compiled tool whose templates are in an environment still being filled (the one its
/// source's tools share); [`Unbound::bind`] gives it that environment once all are compiled.
#[derive(Debug)]
pub struct Unbound {
    tool: Tool,
    group: String,
    origin: String,
    /// The validator, when the templates are compiled eagerly (`None`: on first use).
    validator: Option<Arc<jsonschema::Validator>>,
    input_schema: Box<str>,
    defaults: Map<String, Value>,
    dispatch: Dispatch,
    read_only_description: Option<String>,
}

impl Unbound {
    /// The tool with its templates' environment.
    pub fn bind(self, templates: Arc<Templates>) -> CompiledTool {
        let Unbound {
            tool,
            group,
            origin,
            validator,
            input_schema,
            defaults,
            dispatch,
            read_only_description,
        } = self;
        let compiled = OnceLock::new();
        if let Some(validator) = validator {
            let _ = compiled.set(Ok(Ready {
                validator,
                body: None,
            }));
        }
        let outline = Outline::of(&dispatch);
        let body = Body {
            dispatch: Arc::new(dispatch),
            templates,
        };
        CompiledTool {
            tool,
            group,
            origin,
            compiled,
            input_schema,
            defaults,
            actions: Actions::Built(body),
            outline,
            read_only_description,
            constants: None,
        }
    }

    /// The tool without its actions (they are outlined, then dropped), which its first call
    /// compiles again from `source`, the spec it was compiled from.
    pub fn defer(self, source: Arc<SpecSource>) -> CompiledTool {
        let outline = Outline::of(&self.dispatch);
        CompiledTool {
            tool: self.tool,
            group: self.group,
            origin: self.origin,
            compiled: OnceLock::new(),
            input_schema: self.input_schema,
            defaults: self.defaults,
            actions: Actions::FromSource(source),
            outline,
            read_only_description: self.read_only_description,
            constants: None,
        }
    }

    /// Compiles `spec`, read from `origin`, adding its templates to `templates`. With a
    /// deferred `templates` ([`Templates::deferred`]), what only a call needs (parsing the
    /// templates, the argument validator, checking the output schema) is left for the first
    /// call ([`CompiledTool::ready`]): what `tools/list` shows is all that is built.
    pub fn compile(mut spec: ToolSpec, origin: &str, templates: &mut Templates) -> Result<Self, SpecError> {
        let err = |field: &str, message: String| SpecError::new(origin, Some(field), message);
        let eager = !templates.is_deferred();
        check_name(&spec.name).map_err(|m| err("name", m))?;
        check_name(&spec.group).map_err(|m| err("group", m.replace("tool name", "group name")))?;
        let input = input_schema(std::mem::take(&mut spec.input)).map_err(|m| err("input", m))?;
        let validator = match eager {
            true => Some(Arc::new(input_validator(&input).map_err(|m| err("input", m))?)),
            false => None,
        };
        let defaults = defaults_of(&input);
        let mut allowed: BTreeSet<String> = defaults.keys().cloned().collect();
        allowed.insert("kestra".into());
        allowed.insert(ARGUMENTS.into());

        let shared_response = spec.response.clone().unwrap_or_default();
        let has_request = spec.request.is_some() || spec.requests.is_some() || spec.steps.is_some();
        let dispatch = match (&spec.variants, has_request) {
            (None, true) => {
                if spec.dispatch.is_some() {
                    return Err(err("dispatch", "`dispatch` needs `variants`".into()));
                }
                let parts = ActionParts {
                    requires: &[],
                    request: spec.request.as_ref(),
                    requests: spec.requests.as_deref(),
                    steps: spec.steps.as_deref(),
                    result: spec.result.as_ref(),
                    response: &shared_response,
                };
                let action = parts
                    .compile(templates, &allowed)
                    .map_err(|e| err(&e.field, e.message))?;
                Dispatch::Single(Box::new(action))
            }
            (Some(variants), false) => {
                let argument = spec.dispatch.clone().unwrap_or_else(|| "action".into());
                check_dispatch_enum(&input, &argument, variants.keys()).map_err(|m| err("dispatch", m))?;
                let mut actions = BTreeMap::new();
                for (key, variant) in variants {
                    let at = |f: &str| format!("variants.{key}.{f}");
                    for required in &variant.requires {
                        if !defaults.contains_key(required) {
                            return Err(err(
                                &at("requires"),
                                format!("'{required}' is not a declared input property"),
                            ));
                        }
                    }
                    let parts = ActionParts {
                        requires: &variant.requires,
                        request: variant.request.as_ref(),
                        requests: variant.requests.as_deref(),
                        steps: variant.steps.as_deref(),
                        result: variant.result.as_ref(),
                        response: variant.response.as_ref().unwrap_or(&shared_response),
                    };
                    let action = parts
                        .compile(templates, &allowed)
                        .map_err(|e| err(&at(&e.field), e.message))?;
                    actions.insert(key.clone(), action);
                }
                Dispatch::ByArgument { argument, actions }
            }
            _ => {
                return Err(err(
                    "request",
                    "give exactly one of `request`, `requests`, `steps` and `variants`".into(),
                ));
            }
        };

        let output_schema = match &shared_response.output_schema {
            // Any object says nothing a client can use (every result is one): none is advertised.
            None => None,
            Some(Value::Null) => None,
            Some(schema) if eager => {
                Some(output_schema(schema).map_err(|m| err("response.output_schema", m))?)
            }
            // Checked on the first call (`CompiledTool::ready`).
            Some(Value::Object(map)) if map.get("type") == Some(&Value::String("object".into())) => {
                Some(map.clone())
            }
            Some(_) => return Err(err("response.output_schema", OUTPUT_SHAPE.into())),
        };
        let methods: Vec<Method> = match &dispatch {
            Dispatch::Single(a) => a.methods(),
            Dispatch::ByArgument { actions, .. } => actions.values().flat_map(Action::methods).collect(),
        };
        // Advertised with each variant's requirements; the validator keeps the plain schema so
        // that the engine's own check (and its message) is what refuses a call.
        let input_schema = serde_json::to_string(&input)
            .map_err(|e| err("input", format!("cannot be written as JSON: {e}")))?
            .into_boxed_str();
        let advertised = advertise::lean_input(with_variant_requirements(input, &dispatch));
        let mut tool =
            Tool::new(spec.name.clone(), spec.description.clone(), Arc::new(advertised)).with_annotations(
                annotations(spec.annotations.as_ref(), &methods, spec.title.clone()),
            );
        if let Some(title) = spec.title {
            tool = tool.with_title(title);
        }
        if let Some(schema) = output_schema {
            tool = tool.with_raw_output_schema(Arc::new(schema));
        }
        Ok(Unbound {
            tool,
            group: spec.group,
            origin: origin.to_owned(),
            validator,
            input_schema,
            defaults,
            dispatch,
            read_only_description: spec.read_only_description,
        })
    }
}

/// What a first call prepares for a tool whose actions were left for it: the spec compiled
/// again, eagerly, into a template environment of its own.
fn compile_again(source: &SpecSource) -> Result<Ready, SpecError> {
    let mut templates = Templates::new();
    let unbound = Unbound::compile(source.parse()?, &source.origin, &mut templates).map_err(|mut e| {
        // The text is at hand: the error names the line of the field it is about.
        e.line = e
            .line
            .or_else(|| line_of_field(&source.text, e.field.as_deref()?));
        e
    })?;
    // An eager compilation builds the validator.
    let validator = unbound.validator.ok_or_else(|| {
        SpecError::new(
            &source.origin,
            Some("input"),
            "the argument validator was not built".to_owned(),
        )
    })?;
    Ok(Ready {
        validator,
        body: Some(Body {
            dispatch: Arc::new(unbound.dispatch),
            templates: Arc::new(templates),
        }),
    })
}

/// MCP's tool-name rule, narrowed to the snake_case the Python server uses.
fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(format!(
            "'{name}' is not a valid tool name (expected snake_case, e.g. search_flows)"
        ));
    }
    Ok(())
}

/// Checks the input schema's shape and closes it to unknown arguments unless it says otherwise.
fn input_schema(input: Value) -> Result<Map<String, Value>, String> {
    let Value::Object(mut schema) = input else {
        return Err("must be a JSON Schema object".into());
    };
    if schema.get("type") != Some(&Value::String("object".into())) {
        return Err("must have `type: object` (tool arguments are an object)".into());
    }
    let properties = match schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(p) => p.clone(),
        _ => return Err("`properties` must be a mapping".into()),
    };
    for name in properties.keys() {
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(format!("property '{name}' is reserved by the engine (rename it)"));
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required {
            let r = r.as_str().unwrap_or_default();
            if !properties.contains_key(r) {
                return Err(format!("required property '{r}' is not declared in `properties`"));
            }
        }
    }
    schema.entry("additionalProperties").or_insert(Value::Bool(false));
    Ok(schema)
}

fn defaults_of(input: &Map<String, Value>) -> Map<String, Value> {
    let Some(Value::Object(properties)) = input.get("properties") else {
        return Map::new();
    };
    properties
        .iter()
        .map(|(name, prop)| (name.clone(), prop.get("default").cloned().unwrap_or(Value::Null)))
        .collect()
}

fn check_dispatch_enum<'a>(
    input: &Map<String, Value>,
    argument: &str,
    variants: impl Iterator<Item = &'a String>,
) -> Result<(), String> {
    let variants: BTreeSet<&str> = variants.map(String::as_str).collect();
    let declared = input
        .get("properties")
        .and_then(|p| p.get(argument))
        .ok_or_else(|| format!("the dispatch argument '{argument}' is not a declared input property"))?;
    let values: Option<BTreeSet<&str>> = declared
        .get("enum")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect());
    match values {
        Some(values) if values == variants => Ok(()),
        Some(values) => Err(format!(
            "the enum of '{argument}' ({}) must list exactly the variants ({})",
            values.into_iter().collect::<Vec<_>>().join(", "),
            variants.into_iter().collect::<Vec<_>>().join(", ")
        )),
        None => Err(format!(
            "input property '{argument}' must be a string enum of the variant names"
        )),
    }
}

/// `input` with an `allOf` entry per variant that requires arguments the schema leaves optional:
/// `{if: {properties: {action: {const: set}}, required: [action]}, then: {required: [key, value]}}`,
/// so that clients validating arguments see what each variant needs.
fn with_variant_requirements(mut input: Map<String, Value>, dispatch: &Dispatch) -> Map<String, Value> {
    let Dispatch::ByArgument { argument, actions } = dispatch else {
        return input;
    };
    let always: Vec<Value> = match input.get("required") {
        Some(Value::Array(names)) => names.clone(),
        _ => Vec::new(),
    };
    let conditions: Vec<Value> = actions
        .iter()
        .filter_map(|(name, action)| {
            let needed: Vec<&String> = action
                .requires
                .iter()
                .filter(|r| !always.iter().any(|a| a.as_str() == Some(r.as_str())))
                .collect();
            (!needed.is_empty()).then(|| {
                serde_json::json!({
                    "if": {"properties": {argument.as_str(): {"const": name}}, "required": [argument]},
                    "then": {"required": needed},
                })
            })
        })
        .collect();
    if conditions.is_empty() {
        return input;
    }
    match input.get_mut("allOf") {
        Some(Value::Array(existing)) => existing.extend(conditions),
        _ => {
            input.insert("allOf".into(), Value::Array(conditions));
        }
    }
    input
}

/// The validator of a tool's arguments.
fn input_validator(input: &Map<String, Value>) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(&Value::Object(input.clone()))
        .map_err(|e| format!("not a valid JSON Schema: {e}"))
}

const OUTPUT_SHAPE: &str = "must be an object schema with `type: object` (results are objects)";

fn output_schema(schema: &Value) -> Result<Map<String, Value>, String> {
    jsonschema::validator_for(schema).map_err(|e| format!("not a valid JSON Schema: {e}"))?;
    match schema {
        Value::Object(map) if map.get("type") == Some(&Value::String("object".into())) => Ok(map.clone()),
        _ => Err(OUTPUT_SHAPE.into()),
    }
}

/// Spec hints win; otherwise: read-only when every request is a GET, destructive when any is a
/// DELETE or PUT, idempotent when none is a POST. A hint equal to MCP's default (readOnlyHint
/// false, destructiveHint true, idempotentHint false, openWorldHint true) is left out: clients
/// read its absence as that value, and every definition is sent to the model with every turn.
fn annotations(spec: Option<&AnnotationsSpec>, methods: &[Method], title: Option<String>) -> ToolAnnotations {
    let spec = spec.cloned().unwrap_or_default();
    let read_only = spec
        .read_only_hint
        .unwrap_or(methods.iter().all(|m| *m == Method::Get));
    let destructive = spec
        .destructive_hint
        .unwrap_or(methods.iter().any(|m| matches!(m, Method::Delete | Method::Put)));
    let idempotent = spec
        .idempotent_hint
        .unwrap_or(!methods.iter().any(|m| matches!(m, Method::Post | Method::Patch)));
    let open_world = spec.open_world_hint.unwrap_or(false);
    let mut a = match title {
        Some(t) => ToolAnnotations::with_title(t),
        None => ToolAnnotations::new(),
    };
    if read_only {
        a = a.read_only(true);
    } else if !destructive {
        // destructiveHint means something only for a tool that writes.
        a = a.destructive(false);
    }
    if idempotent {
        a = a.idempotent(true);
    }
    if !open_world {
        a = a.open_world(false);
    }
    a
}
