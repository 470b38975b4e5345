//! Dynamic tool discovery (`KESTRA_MCP_TOOLSETS=dynamic`): a session starts with three small
//! tools, named as in GitHub's MCP server, that list the toolsets and enable them for the
//! session; enabling one makes its tools appear (the transport sends
//! `notifications/tools/list_changed`). Toolsets are the tools' groups.
//!
//! These functions work on the tools a session could see ([`Engine::available_tools`]: after
//! `KESTRA_MCP_DISABLED_TOOLS`, the edition and read-only mode) and the session's
//! [`Toolsets`]; they never touch Kestra.
//!
//! [`Engine::available_tools`]: crate::engine::Engine::available_tools

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value, json};

use crate::error::CallError;
use crate::filter::{ALL, DEFAULT, DEFAULT_LEAVES_OUT, Toolsets};
use crate::spec::CompiledTool;

/// Lists the toolsets, each with one line per tool.
pub const LIST_AVAILABLE_TOOLSETS: &str = "list_available_toolsets";
/// The tools of one toolset, with their whole descriptions.
pub const GET_TOOLSET_TOOLS: &str = "get_toolset_tools";
/// Enables one or more toolsets for the session.
pub const ENABLE_TOOLSET: &str = "enable_toolset";

/// Why `enable_toolset` refuses over HTTP without a session.
pub const NO_SESSION: &str = "enable_toolset needs a session, and this client speaks MCP over HTTP without one (the 2026-07-28 revision has no handshake): an enabled toolset would not last beyond this request; set KESTRA_MCP_TOOLSETS to the toolsets you need instead";

/// How long a tool's line in [`LIST_AVAILABLE_TOOLSETS`] may be, in characters.
const LINE_CHARS: usize = 100;

/// Whether `name` is one of the discovery tools.
pub fn is_discovery_tool(name: &str) -> bool {
    [LIST_AVAILABLE_TOOLSETS, GET_TOOLSET_TOOLS, ENABLE_TOOLSET].contains(&name)
}

/// The discovery tools, as `tools/list` shows them.
pub fn tools() -> Vec<Tool> {
    let toolset = |what: &str| {
        json!({
            "type": "object",
            "properties": {"toolset": {"type": "string", "description": what}},
            "required": ["toolset"],
            "additionalProperties": false,
        })
    };
    vec![
        tool(
            LIST_AVAILABLE_TOOLSETS,
            "List the toolsets of Kestra tools (flows, executions, logs, KV store, files...) that this session can enable, whether each is enabled, and one line per tool. Enable one with enable_toolset before using its tools.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
        tool(
            GET_TOOLSET_TOOLS,
            "Describe the tools of one toolset in full (description, whether it only reads), to decide whether to enable it.",
            toolset("A toolset name from list_available_toolsets."),
        ),
        tool(
            ENABLE_TOOLSET,
            "Enable one or more toolsets for this session: their tools appear in the tool list (the client is notified that it changed).",
            toolset(
                "A toolset name from list_available_toolsets, or several separated by commas (e.g. \"flow,execution\").",
            ),
        ),
    ]
}

fn tool(name: &'static str, description: &'static str, schema: Value) -> Tool {
    let schema = match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    // They change no state on Kestra; enabling changes only what this session lists.
    let annotations = ToolAnnotations::new()
        .read_only(true)
        .idempotent(true)
        .open_world(false);
    Tool::new(name, description, Arc::new(schema)).with_annotations(annotations)
}

/// What a toolset (a group) is for; a group a source declares gets a generic line.
pub fn toolset_description(group: &str) -> String {
    let known = match group {
        "backfill" => "Backfill a scheduled flow's executions over a past time window",
        "ee" => {
            "Enterprise Edition administration: users and invitations, groups, apps, announcements, test suites, instance information"
        }
        "execution" => "Start flows; list, inspect, pause, kill, delete and label executions",
        "files" => "Namespace files and directories: list, read, create, move, delete",
        "flow" => {
            "Find, read, create, enable, disable and delete flows; generate flows and dashboards with AI"
        }
        "kv" => "A namespace's key-value store: list, get, set, delete",
        "logs" => "Search, read, follow, download and delete execution logs",
        "namespace" => "Namespaces, their flows and their dependencies",
        "replay" => "Replay past executions as new ones",
        "restart" => "Restart failed executions; change a task run's state",
        "resume" => "Resume paused executions; force-run executions",
        other => return format!("The tools of the group '{other}'"),
    };
    known.to_owned()
}

/// The available tools by toolset.
fn by_toolset<'a>(available: &'a [(&'a CompiledTool, Tool)]) -> BTreeMap<&'a str, Vec<&'a Tool>> {
    let mut out: BTreeMap<&str, Vec<&Tool>> = BTreeMap::new();
    for (compiled, advertised) in available {
        out.entry(compiled.group.as_str()).or_default().push(advertised);
    }
    out
}

/// `list_available_toolsets`: every toolset with at least one tool the session could see.
pub fn list(available: &[(&CompiledTool, Tool)], toolsets: &Toolsets) -> Map<String, Value> {
    let listed: Vec<Value> = by_toolset(available)
        .into_iter()
        .map(|(name, tools)| {
            json!({
                "name": name,
                "description": toolset_description(name),
                "enabled": toolsets.enables(name),
                "tools": tools.iter().map(|t| one_line(t)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("toolsets".into(), Value::Array(listed));
    out.insert(
        "note".into(),
        Value::String(format!(
            "enable_toolset also takes '{ALL}' (every toolset) and '{DEFAULT}' (every toolset but {})",
            DEFAULT_LEAVES_OUT.join(", ")
        )),
    );
    out
}

/// `name: the first sentence of its description`, cut to [`LINE_CHARS`].
fn one_line(tool: &Tool) -> String {
    let description = tool.description.as_deref().unwrap_or_default();
    let first = description
        .split(". ")
        .next()
        .unwrap_or_default()
        .trim_end_matches('.');
    let line = match first.chars().count() > LINE_CHARS {
        true => format!("{}...", first.chars().take(LINE_CHARS).collect::<String>()),
        false => first.to_owned(),
    };
    format!("{}: {line}", tool.name)
}

/// `get_toolset_tools`: the toolset's tools with their whole descriptions.
pub fn get(
    available: &[(&CompiledTool, Tool)],
    toolsets: &Toolsets,
    arguments: &Map<String, Value>,
) -> Result<Map<String, Value>, CallError> {
    let name = toolset_argument(arguments)?;
    let grouped = by_toolset(available);
    let tools = grouped
        .get(name.as_str())
        .ok_or_else(|| unknown_toolset(&name, &grouped))?;
    let described: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "read_only": t.annotations.as_ref().and_then(|a| a.read_only_hint).unwrap_or(false),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("toolset".into(), Value::String(name.clone()));
    out.insert("enabled".into(), Value::Bool(toolsets.enables(&name)));
    out.insert("tools".into(), Value::Array(described));
    Ok(out)
}

/// What enabling did.
#[derive(Debug)]
pub struct Enabled {
    /// The result for the client.
    pub result: Map<String, Value>,
    /// Whether the session's tool list changed (then the client is told).
    pub changed: bool,
}

/// `enable_toolset`: enables the named toolsets in `toolsets`; every name must be a toolset
/// with tools the session could see, `all` or `default` (nothing is enabled otherwise).
pub fn enable(
    available: &[(&CompiledTool, Tool)],
    toolsets: &mut Toolsets,
    arguments: &Map<String, Value>,
) -> Result<Enabled, CallError> {
    let names: Vec<String> = toolset_argument(arguments)?
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    let grouped = by_toolset(available);
    if let Some(unknown) = names
        .iter()
        .find(|n| !grouped.contains_key(n.as_str()) && !matches!(n.as_str(), ALL | DEFAULT))
    {
        return Err(unknown_toolset(unknown, &grouped));
    }
    let visible = |toolsets: &Toolsets| -> Vec<String> {
        available
            .iter()
            .filter(|(t, _)| toolsets.admits(t))
            .map(|(_, a)| a.name.to_string())
            .collect()
    };
    let before = visible(toolsets);
    toolsets.enable(names.iter().map(String::as_str));
    let added: Vec<String> = visible(toolsets)
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    let mut result = Map::new();
    result.insert("enabled".into(), json!(names));
    result.insert(
        "message".into(),
        Value::String(match added.len() {
            0 => "nothing new: these toolsets were already enabled".to_owned(),
            n => format!("{n} tools added to the tool list"),
        }),
    );
    let changed = !added.is_empty();
    result.insert("tools_added".into(), json!(added));
    Ok(Enabled { result, changed })
}

fn toolset_argument(arguments: &Map<String, Value>) -> Result<String, CallError> {
    match arguments.get("toolset") {
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(name.trim().to_ascii_lowercase()),
        _ => Err(CallError::InvalidArguments(
            "'toolset' must be a toolset name (see list_available_toolsets)".into(),
        )),
    }
}

fn unknown_toolset(name: &str, grouped: &BTreeMap<&str, Vec<&Tool>>) -> CallError {
    CallError::InvalidArguments(format!(
        "'{name}' is not an available toolset; available: {}",
        grouped.keys().copied().collect::<Vec<_>>().join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LoadOptions, load_catalog};

    fn available(tools: &[Arc<CompiledTool>]) -> Vec<(&CompiledTool, Tool)> {
        tools.iter().map(|t| (&**t, t.tool.clone())).collect()
    }

    fn args(toolset: &str) -> Map<String, Value> {
        json!({"toolset": toolset}).as_object().unwrap().clone()
    }

    #[test]
    fn the_discovery_tools_are_small() {
        let bytes = serde_json::to_vec(&tools()).unwrap().len();
        assert!(bytes < 2_000, "{bytes} bytes");
    }

    #[test]
    fn listing_gives_every_toolset_with_a_line_per_tool() {
        let tools = load_catalog(&LoadOptions::default()).unwrap().tools;
        let available = available(&tools);
        let toolsets = Toolsets::from_names(&["dynamic".into(), "kv".into()]);
        let listed = Value::Object(list(&available, &toolsets));
        let sets = listed["toolsets"].as_array().unwrap();
        let names: Vec<&str> = sets.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            vec![
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
                "resume"
            ]
        );
        let kv = sets.iter().find(|s| s["name"] == "kv").unwrap();
        assert_eq!(kv["enabled"], true);
        assert_eq!(
            kv["tools"],
            json!(["manage_kv_store: Read and write a namespace's key-value store"])
        );
        let lines: usize = sets.iter().map(|s| s["tools"].as_array().unwrap().len()).sum();
        assert_eq!(lines, tools.len());
        for line in sets.iter().flat_map(|s| s["tools"].as_array().unwrap()) {
            assert!(line.as_str().unwrap().chars().count() < LINE_CHARS + 40, "{line}");
        }
    }

    #[test]
    fn enabling_adds_the_toolsets_tools_once_and_refuses_unknown_names() {
        let tools = load_catalog(&LoadOptions::default()).unwrap().tools;
        let available = available(&tools);
        let mut toolsets = Toolsets::from_names(&["dynamic".into()]);
        let enabled = enable(&available, &mut toolsets, &args(" KV, logs")).unwrap();
        assert!(enabled.changed);
        let added = enabled.result["tools_added"].as_array().unwrap();
        assert!(added.contains(&json!("manage_kv_store")) && added.contains(&json!("search_logs")));
        let again = enable(&available, &mut toolsets, &args("kv")).unwrap();
        assert!(!again.changed);
        let err = enable(&available, &mut toolsets, &args("kv,flows")).unwrap_err();
        assert!(
            err.to_string().contains("'flows' is not an available toolset"),
            "{err}"
        );
        assert!(!toolsets.enables("flows"));
        assert!(enable(&available, &mut toolsets, &Map::new()).is_err());

        let described = get(&available, &toolsets, &args("kv")).unwrap();
        assert_eq!(described["enabled"], true);
        assert_eq!(described["tools"][0]["name"], "manage_kv_store");
        assert_eq!(described["tools"][0]["read_only"], false);
    }
}
