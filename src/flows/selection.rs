//! Which flows become tools: `kind: flow_tools` files in a tools directory (the format is in
//! docs/tool-spec.md, "Flow tools: selecting flows"). A file is parsed strictly into a raw form
//! ([`RawSelection`]), then checked and compiled into a [`Selection`]; errors name the file, the
//! line when the parser knows it, the field and the reason, as spec errors do.
//!
//! Then, for the flows Kestra lists: which rule selects each flow ([`choose`]), and the tool
//! names, collisions resolved as the design says ([`assign_names`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{FLOWS_GROUP, FlowToolSettings};
use crate::spec::{SpecError, parse_spec_error};

/// The `kind` of a selection file.
pub const KIND: &str = "flow_tools";
/// Kestra 2.x's trigger that makes a flow an MCP tool.
pub const MCP_TOOL_TRIGGER: &str = "io.kestra.plugin.core.trigger.McpToolTrigger";
/// The default seconds between re-listings of Kestra's flows.
pub const DEFAULT_REFRESH_SECS: u64 = 60;
/// The longest MCP tool name kept.
const MAX_NAME: usize = 64;
/// The annotations a rule may set (MCP's tool annotations).
const ANNOTATIONS: &[&str] = &[
    "title",
    "readOnlyHint",
    "destructiveHint",
    "idempotentHint",
    "openWorldHint",
];

/// A selection file as written: which of Kestra's flows become MCP tools (a `kind: flow_tools`
/// file in the tools directory; docs/tool-spec.md, "Flow tools: selecting flows").
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "FlowToolsSelection")]
pub struct RawSelection {
    /// Always `flow_tools`: what makes this file a selection rather than a tool spec.
    #[schemars(extend("const" = "flow_tools"))]
    pub kind: String,
    /// The rules: a flow is selected if any rule matches it (and it is not disabled).
    #[schemars(length(min = 1))]
    pub select: Vec<RawRule>,
    /// Group of the generated tools (default `flows`), for `KESTRA_MCP_DISABLED_TOOLS` and
    /// toolsets.
    #[serde(default)]
    pub group: Option<String>,
    /// Prefix of the generated tool names (default none).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Seconds a call waits for the execution it starts (default `KESTRA_MCP_WAIT_LIMIT`).
    #[serde(default)]
    pub wait_limit: Option<u64>,
    /// Seconds between re-listings of Kestra's flows (default 60; 0: listed once).
    #[serde(default)]
    pub refresh: Option<u64>,
    /// Extra labels on every execution these tools start.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, Value>>,
}

/// One rule of `select` as written: `namespace` and/or `labels`, or `flow` (with optional
/// overrides), or `mcp_trigger: true`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// An exact namespace, or `prefix.*`: the namespace and its children.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels the flow must all carry (with `namespace`: both must match).
    #[serde(default)]
    pub labels: Option<BTreeMap<String, Value>>,
    /// One flow, `namespace.flowId` (the last dot splits).
    #[serde(default)]
    pub flow: Option<String>,
    /// With `flow`: the tool's name instead of the flow id.
    #[serde(default)]
    pub name: Option<String>,
    /// With `flow`: the tool's description instead of the flow's.
    #[serde(default)]
    pub description: Option<String>,
    /// With `flow`: MCP tool annotations (`title`, `readOnlyHint`, `destructiveHint`,
    /// `idempotentHint`, `openWorldHint`).
    #[serde(default)]
    pub annotations: Option<Value>,
    /// `true`: every flow carrying an enabled McpToolTrigger (Kestra 2.x), named and described
    /// by the trigger.
    #[serde(default)]
    pub mcp_trigger: Option<bool>,
}

/// The JSON Schema of selection files, for editors (published as docs/flow-tools.schema.json).
pub fn selection_json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(RawSelection)).unwrap_or(Value::Null)
}

/// A namespace a rule selects: one, or one and its children (`prefix.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespacePattern {
    Exact(String),
    Tree(String),
}

impl NamespacePattern {
    pub fn matches(&self, namespace: &str) -> bool {
        match self {
            NamespacePattern::Exact(n) => namespace == n,
            NamespacePattern::Tree(root) => {
                namespace == root
                    || namespace
                        .strip_prefix(root.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            }
        }
    }
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Flows of a namespace (or tree) and/or carrying all these labels.
    Match {
        namespace: Option<NamespacePattern>,
        labels: Vec<(String, String)>,
    },
    /// One flow, with optional overrides.
    Flow {
        namespace: String,
        id: String,
        name: Option<String>,
        description: Option<String>,
        annotations: Option<Value>,
    },
    /// Every flow carrying an enabled `McpToolTrigger` (Kestra 2.x).
    McpTrigger,
}

/// A compiled selection file.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub origin: String,
    pub rules: Vec<Rule>,
    pub group: String,
    pub prefix: String,
    pub wait_limit_secs: Option<u64>,
    /// `None`: never re-list (`refresh: 0`).
    pub refresh: Option<Duration>,
    pub labels: Vec<(String, String)>,
}

/// Parses and checks one selection file; every problem found is returned.
pub fn parse(text: &str, origin: &str) -> Result<Selection, Vec<SpecError>> {
    let raw: RawSelection = yaml_serde::from_str(text).map_err(|e| vec![parse_spec_error(&e, origin)])?;
    compile(raw, origin)
}

/// The selection files among `dir`'s YAML files, parsed (sorted by file name).
pub fn load_dir(dir: &Path) -> Result<Vec<Selection>, Vec<SpecError>> {
    let files = crate::spec::source::dir_selection_sources(dir).map_err(|e| vec![e])?;
    let mut selections = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match parse(&file.text, &file.origin) {
            Ok(selection) => selections.push(selection),
            Err(problems) => errors.extend(problems),
        }
    }
    match errors.is_empty() {
        true => Ok(selections),
        false => Err(errors),
    }
}

fn compile(raw: RawSelection, origin: &str) -> Result<Selection, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String| errors.push(SpecError::new(origin, Some(field), message));
    if raw.kind != KIND {
        err(
            "kind",
            format!(
                "'{}' is not a kind of file this server reads (expected '{KIND}'; a tool spec has no kind)",
                raw.kind
            ),
        );
    }
    if raw.select.is_empty() {
        err("select", "no rule: the file selects no flow".to_owned());
    }
    let group = raw.group.unwrap_or_else(|| FLOWS_GROUP.to_owned());
    if group.is_empty()
        || !group
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        err(
            "group",
            format!("'{group}' is not a group name (lower-case letters, digits, '_')"),
        );
    }
    let prefix = raw.prefix.unwrap_or_default();
    if !prefix.chars().all(valid_name_char) {
        err(
            "prefix",
            format!("'{prefix}' may hold only letters, digits, '_' and '-' (it starts tool names)"),
        );
    }
    let labels = match raw.labels {
        Some(labels) => label_pairs(&labels, "labels", &mut err),
        None => Vec::new(),
    };
    let rules: Vec<Rule> = raw
        .select
        .into_iter()
        .enumerate()
        .filter_map(|(i, rule)| compile_rule(rule, &format!("select[{i}]"), &mut err))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Selection {
        origin: origin.to_owned(),
        rules,
        group,
        prefix,
        wait_limit_secs: raw.wait_limit,
        refresh: match raw.refresh.unwrap_or(DEFAULT_REFRESH_SECS) {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        },
        labels,
    })
}

fn compile_rule(raw: RawRule, at: &str, err: &mut impl FnMut(&str, String)) -> Option<Rule> {
    let field = |name: &str| format!("{at}.{name}");
    let overrides = raw.name.is_some() || raw.description.is_some() || raw.annotations.is_some();
    if let Some(flow) = raw.flow {
        if raw.namespace.is_some() || raw.labels.is_some() || raw.mcp_trigger.is_some() {
            err(
                &field("flow"),
                "a `flow` rule names one flow: no namespace, labels or mcp_trigger beside it".to_owned(),
            );
            return None;
        }
        let Some((namespace, id)) = flow
            .rsplit_once('.')
            .filter(|(n, i)| !n.is_empty() && !i.is_empty())
        else {
            err(
                &field("flow"),
                format!("'{flow}' is not namespace.flowId (the last dot splits them)"),
            );
            return None;
        };
        if let Some(name) = &raw.name
            && !is_valid_name(name)
        {
            err(
                &field("name"),
                format!("'{name}' is not a tool name (1 to 64 letters, digits, '_' or '-')"),
            );
        }
        if let Some(annotations) = &raw.annotations {
            check_annotations(annotations, &field("annotations"), err);
        }
        return Some(Rule::Flow {
            namespace: namespace.to_owned(),
            id: id.to_owned(),
            name: raw.name,
            description: raw.description,
            annotations: raw.annotations,
        });
    }
    if overrides {
        err(
            at,
            "name, description and annotations override one flow: only beside `flow`".to_owned(),
        );
        return None;
    }
    if let Some(trigger) = raw.mcp_trigger {
        if raw.namespace.is_some() || raw.labels.is_some() {
            err(
                &field("mcp_trigger"),
                "an `mcp_trigger` rule stands alone (no namespace or labels beside it)".to_owned(),
            );
            return None;
        }
        if !trigger {
            err(
                &field("mcp_trigger"),
                "false selects nothing: remove the rule".to_owned(),
            );
            return None;
        }
        return Some(Rule::McpTrigger);
    }
    let namespace = raw
        .namespace
        .as_deref()
        .and_then(|n| namespace_pattern(n, &field("namespace"), err));
    let labels = raw
        .labels
        .as_ref()
        .map(|l| label_pairs(l, &field("labels"), err))
        .unwrap_or_default();
    if raw.namespace.is_none() && raw.labels.is_none() {
        err(
            at,
            "a rule needs one of namespace, labels, flow or mcp_trigger".to_owned(),
        );
        return None;
    }
    if raw.labels.is_some() && labels.is_empty() {
        err(&field("labels"), "empty: it would select every flow".to_owned());
        return None;
    }
    Some(Rule::Match { namespace, labels })
}

fn namespace_pattern(
    text: &str,
    field: &str,
    err: &mut impl FnMut(&str, String),
) -> Option<NamespacePattern> {
    let (root, tree) = match text.strip_suffix(".*") {
        Some(root) => (root, true),
        None => (text, false),
    };
    let valid = !root.is_empty()
        && root.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if !valid {
        err(
            field,
            format!("'{text}' is not a namespace or a namespace tree (company.team, company.*)"),
        );
        return None;
    }
    Some(match tree {
        true => NamespacePattern::Tree(root.to_owned()),
        false => NamespacePattern::Exact(root.to_owned()),
    })
}

/// Labels as `key: value` pairs; values are scalars (numbers and booleans as Kestra stores
/// them: text).
fn label_pairs(
    labels: &BTreeMap<String, Value>,
    field: &str,
    err: &mut impl FnMut(&str, String),
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (key, value) in labels {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                err(
                    &format!("{field}.{key}"),
                    "a label value is text, a number or a boolean".to_owned(),
                );
                continue;
            }
        };
        pairs.push((key.clone(), text));
    }
    pairs
}

fn check_annotations(annotations: &Value, field: &str, err: &mut impl FnMut(&str, String)) {
    let Some(map) = annotations.as_object() else {
        err(field, "an object of MCP tool annotations".to_owned());
        return;
    };
    for (key, value) in map {
        let ok = match key.as_str() {
            "title" => value.is_string(),
            k if ANNOTATIONS.contains(&k) => value.is_boolean(),
            _ => {
                err(
                    &format!("{field}.{key}"),
                    format!("unknown annotation (expected one of {})", ANNOTATIONS.join(", ")),
                );
                continue;
            }
        };
        if !ok {
            err(
                &format!("{field}.{key}"),
                "title is text; the hints are true or false".to_owned(),
            );
        }
    }
}

fn valid_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME && name.chars().all(valid_name_char)
}

/// `text` made a valid MCP tool name: other characters become `_`, at most 64 characters.
pub fn sanitize_name(text: &str) -> String {
    text.chars()
        .map(|c| if valid_name_char(c) { c } else { '_' })
        .take(MAX_NAME)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Matching flows

/// What a selection needs to know of a flow, read from Kestra's flow JSON.
#[derive(Debug, Clone)]
pub struct FlowFacts<'a> {
    pub namespace: &'a str,
    pub id: &'a str,
    pub revision: Option<i64>,
    pub disabled: bool,
    pub labels: Vec<(String, String)>,
    /// The first enabled `McpToolTrigger`, if any.
    pub mcp_trigger: Option<&'a Value>,
}

impl<'a> FlowFacts<'a> {
    /// The facts of `flow`; `None` without a namespace or an id.
    pub fn of(flow: &'a Value) -> Option<Self> {
        let namespace = flow.get("namespace")?.as_str()?;
        let id = flow.get("id")?.as_str()?;
        Some(FlowFacts {
            namespace,
            id,
            revision: flow.get("revision").and_then(Value::as_i64),
            disabled: flow.get("disabled").and_then(Value::as_bool).unwrap_or(false)
                || flow.get("deleted").and_then(Value::as_bool).unwrap_or(false),
            labels: flow_labels(flow.get("labels")),
            mcp_trigger: flow
                .get("triggers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|t| {
                    t.get("type").and_then(Value::as_str) == Some(MCP_TOOL_TRIGGER)
                        && !t.get("disabled").and_then(Value::as_bool).unwrap_or(false)
                }),
        })
    }
}

/// Kestra's labels: a list of `{key, value}` (1.x, 2.x) or, in older answers, a map.
fn flow_labels(labels: Option<&Value>) -> Vec<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match labels {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|l| Some((l.get("key")?.as_str()?.to_owned(), text(l.get("value")?))))
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        _ => Vec::new(),
    }
}

impl Rule {
    /// Whether this rule selects `flow` (disabled flows aside: see [`choose`]).
    pub fn matches(&self, flow: &FlowFacts) -> bool {
        match self {
            Rule::Match { namespace, labels } => {
                namespace.as_ref().is_none_or(|n| n.matches(flow.namespace))
                    && labels.iter().all(|wanted| flow.labels.contains(wanted))
            }
            Rule::Flow { namespace, id, .. } => namespace == flow.namespace && id == flow.id,
            Rule::McpTrigger => flow.mcp_trigger.is_some(),
        }
    }
}

/// How one selected flow is to become a tool, before names are made unique.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub namespace: String,
    pub id: String,
    /// The name wanted: the trigger's `toolName`, the rule's `name` or prefix + flow id.
    pub wanted: String,
    /// The prefix of the file that selected it (for the long name of a collision).
    pub prefix: String,
    pub settings: FlowToolSettings,
}

/// Whether any selection selects `flow`, and how: the first file (in name order) whose rules
/// match decides the options; a later file that matches with other options is named in a
/// warning. Within a file, a `flow` rule's overrides apply whatever rule matched first.
/// Disabled flows, and flows whose only reason is a disabled trigger, are not selected.
pub fn choose(selections: &[Selection], flow: &FlowFacts) -> (Option<Choice>, Vec<String>) {
    if flow.disabled {
        return (None, Vec::new());
    }
    let mut chosen: Option<(Choice, &str)> = None;
    let mut warnings = Vec::new();
    for selection in selections {
        if !selection.rules.iter().any(|r| r.matches(flow)) {
            continue;
        }
        let choice = choice_in(selection, flow);
        match &chosen {
            None => chosen = Some((choice, &selection.origin)),
            Some((first, origin)) if *first != choice => warnings.push(format!(
                "flow {}.{}: selected by {origin} and by {} with other options; {origin} wins (first in name order)",
                flow.namespace, flow.id, selection.origin
            )),
            Some(_) => {}
        }
    }
    (chosen.map(|(c, _)| c), warnings)
}

fn choice_in(selection: &Selection, flow: &FlowFacts) -> Choice {
    let explicit = selection.rules.iter().find_map(|r| match r {
        Rule::Flow {
            name,
            description,
            annotations,
            ..
        } if r.matches(flow) => Some((name, description, annotations)),
        _ => None,
    });
    let trigger = flow.mcp_trigger;
    let trigger_text = |key: &str| {
        trigger
            .and_then(|t| t.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let rule_name = explicit.and_then(|(n, _, _)| n.clone());
    let wanted = trigger_text("toolName")
        .or(rule_name)
        .unwrap_or_else(|| format!("{}{}", selection.prefix, flow.id));
    let mut settings = FlowToolSettings::named(sanitize_name(&wanted));
    settings.group = selection.group.clone();
    settings.title = trigger_text("title");
    settings.description =
        trigger_text("toolDescription").or_else(|| explicit.and_then(|(_, d, _)| d.clone()));
    settings.annotations = trigger
        .and_then(|t| t.get("annotations"))
        .map(trigger_annotations)
        .or_else(|| explicit.and_then(|(_, _, a)| a.clone()));
    settings.additional_arguments = trigger.and_then(|t| t.get("additionalToolArguments")).cloned();
    settings.wait_limit_secs = selection.wait_limit_secs;
    settings.labels = selection.labels.clone();
    Choice {
        namespace: flow.namespace.to_owned(),
        id: flow.id.to_owned(),
        wanted: settings.name.clone(),
        prefix: selection.prefix.clone(),
        settings,
    }
}

/// A `McpToolTrigger`'s annotations (`readOnly`, `destructive`, `idempotent`, `openWorld`) as
/// MCP's hints; MCP's own names are kept as they are.
fn trigger_annotations(annotations: &Value) -> Value {
    let Some(map) = annotations.as_object() else {
        return annotations.clone();
    };
    let hint = |key: &str| match key {
        "readOnly" => "readOnlyHint".to_owned(),
        "destructive" => "destructiveHint".to_owned(),
        "idempotent" => "idempotentHint".to_owned(),
        "openWorld" => "openWorldHint".to_owned(),
        other => other.to_owned(),
    };
    Value::Object(
        map.iter()
            .filter(|(k, _)| k.as_str() != "returnDirect")
            .map(|(k, v)| (hint(k), v.clone()))
            .collect(),
    )
}

/// Makes the chosen names unique among themselves and `taken` (the other tools' names): every
/// party of a clash gets prefix + namespace + `_` + flow id (sanitised), with a warning naming
/// both; names still equal get `_2`, `_3` in (namespace, id) order. Returns the warnings.
pub fn assign_names(choices: &mut [Choice], taken: &BTreeSet<String>) -> Vec<String> {
    let mut warnings = Vec::new();
    choices.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in choices.iter().enumerate() {
        by_name.entry(c.wanted.as_str()).or_default().push(i);
    }
    let mut clashing: Vec<usize> = Vec::new();
    for (name, parties) in &by_name {
        let flows: Vec<String> = parties
            .iter()
            .map(|&i| format!("{}.{}", choices[i].namespace, choices[i].id))
            .collect();
        if taken.contains(*name) {
            warnings.push(format!(
                "tool name '{name}' of flow(s) {} is a built-in tool's: renamed",
                flows.join(", ")
            ));
        } else if parties.len() > 1 {
            warnings.push(format!(
                "flows {} all want the tool name '{name}': each renamed namespace_flowId",
                flows.join(" and ")
            ));
        } else {
            continue;
        }
        clashing.extend(parties);
    }
    for i in clashing {
        let c = &mut choices[i];
        c.settings.name = sanitize_name(&format!("{}{}_{}", c.prefix, c.namespace, c.id));
    }
    let mut used: BTreeSet<String> = taken.clone();
    for c in choices.iter_mut() {
        if used.insert(c.settings.name.clone()) {
            continue;
        }
        let base = c.settings.name.clone();
        let unique = (2..)
            .map(|n| {
                let suffix = format!("_{n}");
                let keep = MAX_NAME.saturating_sub(suffix.len()).min(base.len());
                format!("{}{suffix}", &base[..keep])
            })
            .find(|candidate| !used.contains(candidate))
            .unwrap_or_default();
        warnings.push(format!(
            "flow {}.{}: tool name '{base}' still taken: named '{unique}'",
            c.namespace, c.id
        ));
        used.insert(unique.clone());
        c.settings.name = unique;
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// docs/flow-tools.schema.json is what [`selection_json_schema`] gives (with
    /// `UPDATE_SCHEMAS=1` the test rewrites it).
    #[test]
    fn the_selection_schema_is_published_and_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/flow-tools.schema.json");
        let schema = selection_json_schema();
        assert_eq!(schema["title"], json!("FlowToolsSelection"));
        assert!(schema["properties"]["select"].is_object(), "{schema}");
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            std::fs::write(path, text).unwrap();
        }
        let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            schema, committed,
            "regenerate: UPDATE_SCHEMAS=1 cargo test --lib the_selection_schema"
        );
    }

    fn parse_ok(text: &str) -> Selection {
        parse(text, "tools/flows.yaml").unwrap()
    }

    fn parse_err(text: &str) -> Vec<String> {
        parse(text, "tools/flows.yaml")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const FULL: &str = r#"kind: flow_tools
select:
  - namespace: company.sales
  - namespace: "company.ops.*"
    labels: {mcp: tool}
  - labels: {mcp: tool}
  - flow: company.hr.onboard
    name: onboard_customer
    description: "Onboard a customer"
    annotations: {destructiveHint: false, idempotentHint: true}
  - mcp_trigger: true
group: flows
prefix: ""
wait_limit: 600
refresh: 0
labels: {team: data, n: 3}
"#;

    #[test]
    fn a_full_selection_compiles() {
        let s = parse_ok(FULL);
        assert_eq!(s.rules.len(), 5);
        assert_eq!(
            s.rules[1],
            Rule::Match {
                namespace: Some(NamespacePattern::Tree("company.ops".into())),
                labels: vec![("mcp".into(), "tool".into())]
            }
        );
        assert!(
            matches!(&s.rules[3], Rule::Flow { namespace, id, .. } if namespace == "company.hr" && id == "onboard")
        );
        assert_eq!(s.rules[4], Rule::McpTrigger);
        assert_eq!(s.refresh, None);
        assert_eq!(s.wait_limit_secs, Some(600));
        assert_eq!(
            s.labels,
            vec![("n".into(), "3".into()), ("team".into(), "data".into())]
        );
        let defaults = parse_ok("kind: flow_tools\nselect: [{namespace: a}]\n");
        assert_eq!(defaults.group, FLOWS_GROUP);
        assert_eq!(defaults.refresh, Some(Duration::from_secs(60)));
    }

    #[test]
    fn bad_selections_name_file_field_and_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "kind: flow_tool\nselect: [{namespace: a}]\n",
                "tools/flows.yaml: kind: 'flow_tool' is not a kind of file this server reads",
            ),
            (
                "kind: flow_tools\nselect: [{namespace: a}]\nrefrsh: 3\n",
                "tools/flows.yaml:3: unknown field `refrsh`",
            ),
            (
                "kind: flow_tools\nselect: []\n",
                "tools/flows.yaml: select: no rule",
            ),
            (
                "kind: flow_tools\nselect: [{namespace: 'a.*.b'}]\n",
                "tools/flows.yaml: select[0].namespace: 'a.*.b' is not a namespace",
            ),
            (
                "kind: flow_tools\nselect: [{flow: hello}]\n",
                "tools/flows.yaml: select[0].flow: 'hello' is not namespace.flowId",
            ),
            (
                "kind: flow_tools\nselect: [{flow: a.b, namespace: a}]\n",
                "tools/flows.yaml: select[0].flow: a `flow` rule names one flow",
            ),
            (
                "kind: flow_tools\nselect: [{namespace: a, name: x}]\n",
                "tools/flows.yaml: select[0]: name, description and annotations override one flow",
            ),
            (
                "kind: flow_tools\nselect: [{flow: a.b, name: 'bad name'}]\n",
                "tools/flows.yaml: select[0].name: 'bad name' is not a tool name",
            ),
            (
                "kind: flow_tools\nselect: [{flow: a.b, annotations: {destructive: false}}]\n",
                "tools/flows.yaml: select[0].annotations.destructive: unknown annotation",
            ),
            (
                "kind: flow_tools\nselect: [{mcp_trigger: false}]\n",
                "tools/flows.yaml: select[0].mcp_trigger: false selects nothing",
            ),
            (
                "kind: flow_tools\nselect: [{}]\n",
                "tools/flows.yaml: select[0]: a rule needs one of",
            ),
            (
                "kind: flow_tools\nselect: [{labels: {}}]\n",
                "tools/flows.yaml: select[0].labels: empty",
            ),
            (
                "kind: flow_tools\nselect: [{labels: {a: [1]}}]\n",
                "tools/flows.yaml: select[0].labels.a: a label value is text",
            ),
            (
                "kind: flow_tools\nselect: [{namespace: a}]\ngroup: Flows\nprefix: 'x.'\n",
                "tools/flows.yaml: group: 'Flows' is not a group name",
            ),
        ];
        for (text, expected) in cases {
            let errors = parse_err(text);
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{text}\n=> {errors:?}\nexpected {expected}"
            );
        }
        // Every problem at once.
        assert_eq!(
            parse_err("kind: flow_tools\nselect: [{namespace: a}]\ngroup: Flows\nprefix: 'x.'\n").len(),
            2
        );
    }

    fn flow(namespace: &str, id: &str, labels: &[(&str, &str)]) -> Value {
        let labels: Vec<Value> = labels
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        json!({"namespace": namespace, "id": id, "revision": 1, "labels": labels, "disabled": false})
    }

    fn selects(rule: &str, flow: &Value) -> bool {
        let s = parse_ok(&format!("kind: flow_tools\nselect: [{rule}]\n"));
        choose(&[s], &FlowFacts::of(flow).unwrap()).0.is_some()
    }

    #[test]
    fn rules_match_by_namespace_tree_labels_flow_and_trigger() {
        let sales = flow("company.sales", "report", &[("mcp", "tool")]);
        let ops = flow("company.ops.eu", "restart", &[("mcp", "tool"), ("x", "y")]);
        let opsx = flow("company.opsx", "other", &[("mcp", "tool")]);
        assert!(selects("{namespace: company.sales}", &sales));
        assert!(!selects("{namespace: company}", &sales));
        assert!(selects("{namespace: 'company.ops.*', labels: {mcp: tool}}", &ops));
        assert!(selects(
            "{namespace: 'company.ops.*'}",
            &flow("company.ops", "x", &[])
        ));
        assert!(!selects("{namespace: 'company.ops.*'}", &opsx));
        assert!(!selects(
            "{namespace: 'company.ops.*', labels: {mcp: other}}",
            &ops
        ));
        assert!(selects("{labels: {mcp: tool, x: y}}", &ops));
        assert!(!selects("{labels: {mcp: tool, x: y}}", &sales));
        assert!(selects("{flow: company.sales.report}", &sales));
        assert!(!selects("{flow: company.sales.repor}", &sales));
        let mut disabled = sales.clone();
        disabled["disabled"] = json!(true);
        assert!(!selects("{namespace: company.sales}", &disabled));

        let mut triggered = flow("a", "b", &[]);
        triggered["triggers"] = json!([{"id": "mcp", "type": MCP_TOOL_TRIGGER, "toolName": "do.it",
            "title": "Do it", "toolDescription": "Does it.",
            "annotations": {"readOnly": true, "destructive": false, "returnDirect": false},
            "additionalToolArguments": [{"id": "why", "type": "STRING"}]}]);
        assert!(selects("{mcp_trigger: true}", &triggered));
        assert!(!selects("{mcp_trigger: true}", &sales));
        let s = parse_ok("kind: flow_tools\nselect: [{mcp_trigger: true}]\nprefix: p_\n");
        let choice = choose(&[s], &FlowFacts::of(&triggered).unwrap()).0.unwrap();
        assert_eq!(choice.settings.name, "do_it");
        assert_eq!(choice.settings.title.as_deref(), Some("Do it"));
        assert_eq!(choice.settings.description.as_deref(), Some("Does it."));
        assert_eq!(
            choice.settings.annotations,
            Some(json!({"readOnlyHint": true, "destructiveHint": false}))
        );
        assert!(choice.settings.additional_arguments.is_some());
        triggered["triggers"][0]["disabled"] = json!(true);
        assert!(!selects("{mcp_trigger: true}", &triggered));
    }

    #[test]
    fn the_first_file_decides_and_a_conflict_is_a_warning() {
        let a = parse_ok("kind: flow_tools\nselect: [{namespace: n}]\nprefix: a_\n");
        let b = parse(
            "kind: flow_tools\nselect: [{flow: n.f, name: other}]\n",
            "tools/z.yaml",
        )
        .unwrap();
        let same = parse(
            "kind: flow_tools\nselect: [{namespace: n}]\nprefix: a_\n",
            "tools/y.yaml",
        )
        .unwrap();
        let f = flow("n", "f", &[]);
        let facts = FlowFacts::of(&f).unwrap();
        let (choice, warnings) = choose(&[a.clone(), same, b.clone()], &facts);
        assert_eq!(choice.unwrap().settings.name, "a_f");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("tools/flows.yaml") && warnings[0].contains("tools/z.yaml"));
        let (choice, _) = choose(&[b], &facts);
        assert_eq!(choice.unwrap().settings.name, "other");
    }

    fn choice(namespace: &str, id: &str, wanted: &str) -> Choice {
        Choice {
            namespace: namespace.into(),
            id: id.into(),
            wanted: wanted.into(),
            prefix: String::new(),
            settings: FlowToolSettings::named(wanted),
        }
    }

    #[test]
    fn names_are_sanitised_and_collisions_renamed_with_warnings() {
        assert_eq!(sanitize_name("a.b c/é"), "a_b_c__");
        assert_eq!(sanitize_name(&"x".repeat(80)).len(), 64);
        let taken: BTreeSet<String> = ["search_flows".to_owned()].into();
        let mut choices = vec![
            choice("b.ns", "hello", "hello"),
            choice("a.ns", "hello", "hello"),
            choice("c", "search_flows", "search_flows"),
            choice("d", "alone", "alone"),
            // Both become a_b_c after the rename.
            choice("a", "b_c", "x"),
            choice("a_b", "c", "x"),
        ];
        let warnings = assign_names(&mut choices, &taken);
        let names: Vec<(&str, &str)> = choices
            .iter()
            .map(|c| (c.id.as_str(), c.settings.name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("b_c", "a_b_c"),
                ("hello", "a_ns_hello"),
                ("c", "a_b_c_2"),
                ("hello", "b_ns_hello"),
                ("search_flows", "c_search_flows"),
                ("alone", "alone"),
            ]
        );
        assert!(
            warnings.iter().any(|w| w.contains("a.ns.hello and b.ns.hello")),
            "{warnings:?}"
        );
        assert!(warnings.iter().any(|w| w.contains("built-in")), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("a_b_c_2")), "{warnings:?}");
    }
}
