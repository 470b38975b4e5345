//! Kestra's flows as tools (issue 17). A `kind: flow_tools` file in a tools directory selects
//! flows ([`selection`]); the live source lists the selected flows in Kestra and serves one tool
//! per flow, following Kestra as flows change ([`source`]); each flow becomes an ordinary tool
//! spec ([`tool`], with its input and output schemas from [`schema`]), so a flow tool is loaded,
//! validated, guarded and run like every other tool, and `kestra-mcp tools from-flow` prints the
//! same spec for a user to keep in `tools.d/`.

pub mod schema;
pub mod selection;
pub mod source;
pub mod tool;

use serde_json::Value;

/// The group flow tools belong to unless the selection names another (so
/// `KESTRA_MCP_DISABLED_TOOLS=flows` switches them all off).
pub const FLOWS_GROUP: &str = "flows";

/// How one flow becomes a tool, as the selection (and a 2.x `McpToolTrigger`) decide it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowToolSettings {
    /// The MCP tool name, already valid and unique among the served tools.
    pub name: String,
    /// The tool's group (default [`FLOWS_GROUP`]).
    pub group: String,
    /// A title for clients that show one (`McpToolTrigger.title`).
    pub title: Option<String>,
    /// A description that replaces the one made from the flow (`McpToolTrigger.toolDescription`
    /// or the selection's).
    pub description: Option<String>,
    /// MCP annotations (`McpToolTrigger.annotations` or the selection's); `None`: destructive,
    /// as Kestra 2.0 assumes.
    pub annotations: Option<Value>,
    /// `McpToolTrigger.additionalToolArguments`, as Kestra gives it.
    pub additional_arguments: Option<Value>,
    /// How long a call waits for the execution to end, in seconds (`None`: KESTRA_MCP_WAIT_LIMIT).
    pub wait_limit_secs: Option<u64>,
    /// Labels added to every execution the tool starts, besides `system.from: mcp`-like marks.
    pub labels: Vec<(String, String)>,
}

impl FlowToolSettings {
    /// Settings with only a name: the flows group, nothing overridden.
    pub fn named(name: impl Into<String>) -> Self {
        FlowToolSettings {
            name: name.into(),
            group: FLOWS_GROUP.to_owned(),
            title: None,
            description: None,
            annotations: None,
            additional_arguments: None,
            wait_limit_secs: None,
            labels: Vec::new(),
        }
    }
}

/// Why a flow cannot become a tool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("flow {namespace}.{flow_id}: {reason}")]
pub struct FlowToolError {
    pub namespace: String,
    pub flow_id: String,
    pub reason: String,
}
