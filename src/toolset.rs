//! What a reload replaces: the compiled tools and their templates, built from the specs and
//! swapped whole (see [`Engine::with_tools`](crate::engine::Engine::with_tools)); everything
//! that lives as long as the process is in the [`Runtime`](crate::runtime::Runtime).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::filter::{ENTERPRISE_GROUP, Filtered};
use crate::render::Templates;
use crate::spec::CompiledTool;

/// The tools being served, by name, with the templates they render through.
pub struct ToolSet {
    tools: BTreeMap<String, CompiledTool>,
    pub(crate) templates: Templates,
    /// The names of the Enterprise (`ee`) tools, hidden when Kestra reports the OSS edition.
    enterprise: Arc<BTreeSet<String>>,
}

impl ToolSet {
    /// The tools left after `KESTRA_MCP_DISABLED_TOOLS`, with their templates.
    pub fn new(filtered: Filtered, templates: Templates) -> Self {
        let tools: BTreeMap<String, CompiledTool> = filtered
            .kept
            .into_iter()
            .map(|t| (t.tool.name.to_string(), t))
            .collect();
        let enterprise = tools
            .values()
            .filter(|t| t.group == ENTERPRISE_GROUP)
            .map(|t| t.tool.name.to_string())
            .collect();
        ToolSet {
            tools,
            templates,
            enterprise: Arc::new(enterprise),
        }
    }

    /// The tools, sorted by name.
    pub fn tools(&self) -> impl Iterator<Item = &CompiledTool> {
        self.tools.values()
    }

    /// One tool.
    pub fn get(&self, name: &str) -> Option<&CompiledTool> {
        self.tools.get(name)
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The names of the Enterprise tools.
    pub fn enterprise(&self) -> &Arc<BTreeSet<String>> {
        &self.enterprise
    }

    /// The tool names, for debugging output.
    pub(crate) fn names(&self) -> Vec<&String> {
        self.tools.keys().collect()
    }
}
