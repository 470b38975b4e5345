//! What a reload replaces: the compiled tools, each with its own templates, built from the
//! specs and swapped whole (see [`Engine::with_tools`](crate::engine::Engine::with_tools));
//! everything that lives as long as the process is in the [`Runtime`](crate::runtime::Runtime).
//!
//! A tool set keeps each source's compiled tools apart ([`Layer`]s), so that a new set for one
//! changed source (a reload of the tools directory, a tool a source adds or removes at run
//! time) reuses the other sources' compiled tools as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::filter::{ENTERPRISE_GROUP, Filtered, apply_disabled_with_groups};
use crate::spec::{CompiledTool, Layer, merge};

/// The label of the one layer of a tool set built from tools without their sources.
pub const UNSOURCED: &str = "(tools given without their sources)";

/// The tools being served, by name, and the sources they came from.
pub struct ToolSet {
    /// The tools served (after `KESTRA_MCP_DISABLED_TOOLS`).
    tools: BTreeMap<String, Arc<CompiledTool>>,
    /// Each source's compiled tools, in load order (later ones win a name).
    layers: Vec<Layer>,
    /// `KESTRA_MCP_DISABLED_TOOLS`, to filter again a set rebuilt from layers.
    disabled: Vec<String>,
    /// The names of the Enterprise (`ee`) tools, hidden when Kestra reports the OSS edition.
    enterprise: Arc<BTreeSet<String>>,
}

impl ToolSet {
    /// The tools left after `KESTRA_MCP_DISABLED_TOOLS`, with the sources' layers they were
    /// merged from. Without layers, the kept tools make one layer ([`UNSOURCED`]), so that a
    /// source added later does not drop them (a reload compiles every source again then).
    pub fn new(filtered: Filtered, mut layers: Vec<Layer>) -> Self {
        let tools: BTreeMap<String, Arc<CompiledTool>> = filtered
            .kept
            .into_iter()
            .map(|t| (t.tool.name.to_string(), t))
            .collect();
        if layers.is_empty() {
            let mut layer = Layer::empty(UNSOURCED, Vec::new());
            layer.tools = tools.clone();
            layers.push(layer);
        }
        let enterprise = tools
            .values()
            .filter(|t| t.group == ENTERPRISE_GROUP)
            .map(|t| t.tool.name.to_string())
            .collect();
        ToolSet {
            tools,
            layers,
            disabled: filtered.disabled,
            enterprise: Arc::new(enterprise),
        }
    }

    /// Merges `layers` (a later one's tool replacing an earlier one's) and filters them with
    /// `disabled`; returns the set and the warnings (replacements, unknown disabled names).
    pub fn from_layers(layers: Vec<Layer>, disabled: &[String]) -> (Self, Vec<String>) {
        let (merged, mut warnings) = merge(&layers);
        let groups: Vec<String> = layers.iter().flat_map(|l| l.groups.iter().cloned()).collect();
        let filtered = apply_disabled_with_groups(merged.into_values().collect(), disabled, &groups);
        warnings.extend(filtered.warnings.iter().cloned());
        (ToolSet::new(filtered, layers), warnings)
    }

    /// This set with the layer of `layer.label` replaced by `layer` (appended when there is
    /// none); the other layers' compiled tools are shared, not recompiled.
    pub fn with_layer(&self, layer: Layer) -> Self {
        let mut layers = self.layers.clone();
        match layers.iter_mut().find(|l| l.label == layer.label) {
            Some(slot) => *slot = layer,
            None => layers.push(layer),
        }
        ToolSet::from_layers(layers, &self.disabled).0
    }

    /// This set with `tool` added to (or replacing its namesake in) the source `source`.
    pub fn with_tool(&self, source: &str, tool: CompiledTool) -> Self {
        let mut layer = self
            .layer(source)
            .cloned()
            .unwrap_or_else(|| Layer::empty(source, Vec::new()));
        layer.tools.insert(tool.tool.name.to_string(), Arc::new(tool));
        self.with_layer(layer)
    }

    /// This set without the tool `name` of the source `source`; `None` when that source has
    /// no such tool.
    pub fn without_tool(&self, source: &str, name: &str) -> Option<Self> {
        let mut layer = self.layer(source)?.clone();
        layer.tools.remove(name)?;
        Some(self.with_layer(layer))
    }

    /// The compiled tools of one source.
    pub fn layer(&self, label: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.label == label)
    }

    /// Each source's compiled tools, in load order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The tools, sorted by name.
    pub fn tools(&self) -> impl Iterator<Item = &CompiledTool> {
        self.tools.values().map(|t| &**t)
    }

    /// One tool.
    pub fn get(&self, name: &str) -> Option<&CompiledTool> {
        self.tools.get(name).map(|t| &**t)
    }

    /// One tool, shared (to compare or keep it).
    pub fn get_shared(&self, name: &str) -> Option<&Arc<CompiledTool>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::apply_disabled;
    use crate::spec::{LoadOptions, SpecSource, compile_spec, known_groups, load_catalog};

    fn tool(name: &str, group: &str) -> CompiledTool {
        let text = format!(
            "name: {name}\ngroup: {group}\ndescription: d\ninput:\n  type: object\n  properties: {{}}\nrequest:\n  method: GET\n  path: /flows/search\n"
        );
        let groups = known_groups(&[])
            .into_iter()
            .chain(["flows".to_owned()])
            .collect();
        compile_spec(&SpecSource::named_by_itself("test", text), &groups).unwrap()
    }

    #[test]
    fn a_source_added_later_keeps_the_other_tools_and_its_group_can_be_disabled() {
        let catalog = load_catalog(&LoadOptions::default()).unwrap();
        let count = catalog.tools.len();
        let set = ToolSet::new(apply_disabled(catalog.tools, &[]), catalog.layers);
        let added = set.with_tool("flows", tool("flow_a", "flows"));
        assert_eq!(added.len(), count + 1);
        assert!(Arc::ptr_eq(
            set.get_shared("search_flows").unwrap(),
            added.get_shared("search_flows").unwrap()
        ));
        let removed = added.without_tool("flows", "flow_a").unwrap();
        assert_eq!(removed.len(), count);
        assert!(
            added.without_tool("flows", "search_flows").is_none(),
            "not that source's tool"
        );

        // Without layers, the given tools survive a source added later.
        let bare = ToolSet::new(apply_disabled(vec![Arc::new(tool("lone", "flow"))], &[]), vec![]);
        assert_eq!(bare.with_tool("flows", tool("flow_a", "flows")).len(), 2);

        // A declared group is a group KESTRA_MCP_DISABLED_TOOLS may name.
        let mut flows = Layer::empty("flows", vec!["flows".into()]);
        let (empty, warnings) = ToolSet::from_layers(vec![flows.clone()], &["flows".into()]);
        assert!(empty.is_empty() && warnings.is_empty(), "{warnings:?}");
        flows
            .tools
            .insert("flow_a".into(), Arc::new(tool("flow_a", "flows")));
        flows
            .tools
            .insert("flow_b".into(), Arc::new(tool("flow_b", "flow")));
        let (set, warnings) = ToolSet::from_layers(vec![flows], &["FLOWS".into()]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(set.names(), vec!["flow_b"]);
        let (_, warnings) = ToolSet::from_layers(vec![], &["flowz".into()]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
