//! Selection of the tools to serve: `KESTRA_MCP_DISABLED_TOOLS` names groups or tools, trimmed
//! and case-insensitive. Filtering never fails: it reports what it skipped and which names it
//! did not recognise.
//!
//! `KESTRA_MCP_TOOLSETS` ([`Toolsets`]) chooses, among the tools left, those a session sees;
//! with `dynamic` the session can enable more while it runs (see [`crate::discovery`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::spec::{CompiledTool, KNOWN_GROUPS};

/// The outcome of filtering.
#[derive(Debug, Default)]
pub struct Filtered {
    pub kept: Vec<Arc<CompiledTool>>,
    /// The names filtered out, trimmed and lower-cased (kept to filter again when a source
    /// adds or removes tools at run time).
    pub disabled: Vec<String>,
    /// `(tool, reason)` for every tool left out.
    pub skipped: Vec<(String, String)>,
    /// Warnings for names that match no group and no tool.
    pub warnings: Vec<String>,
}

/// The group left out on a Kestra that reports the OSS edition.
pub const ENTERPRISE_GROUP: &str = "ee";

/// Whether the Enterprise tools are left out: Kestra reports the OSS edition and
/// `KESTRA_MCP_DISABLED_TOOLS` is not set (an explicit setting always wins).
pub fn edition_hides_enterprise(disabled_explicit: bool, edition: Option<&str>) -> bool {
    !disabled_explicit && edition == Some("OSS")
}

/// Removes the tools that `disabled` names by group or by tool name.
/// A group is one of [`KNOWN_GROUPS`], one a source declares (`extra_groups`), or the group
/// of one of the tools.
pub fn apply_disabled(tools: Vec<Arc<CompiledTool>>, disabled: &[String]) -> Filtered {
    apply_disabled_with_groups(tools, disabled, &[])
}

/// [`apply_disabled`] knowing the groups the sources declare.
pub fn apply_disabled_with_groups(
    tools: Vec<Arc<CompiledTool>>,
    disabled: &[String],
    extra_groups: &[String],
) -> Filtered {
    let wanted: Vec<String> = disabled.iter().map(|d| d.trim().to_ascii_lowercase()).collect();
    let groups: BTreeSet<&str> = KNOWN_GROUPS
        .iter()
        .copied()
        .chain(extra_groups.iter().map(String::as_str))
        .chain(tools.iter().map(|t| t.group.as_str()))
        .collect();
    let mut out = Filtered {
        disabled: wanted.clone(),
        ..Filtered::default()
    };
    for name in &wanted {
        let is_group = groups.contains(name.as_str());
        let is_tool = tools.iter().any(|t| t.tool.name.eq_ignore_ascii_case(name));
        if !is_group && !is_tool {
            out.warnings.push(format!(
                "KESTRA_MCP_DISABLED_TOOLS: '{name}' is neither a group nor a tool; valid groups: {}",
                groups.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for tool in tools {
        let name = tool.tool.name.to_ascii_lowercase();
        if wanted.contains(&tool.group) {
            out.skipped.push((
                tool.tool.name.to_string(),
                format!("group '{}' disabled", tool.group),
            ));
        } else if wanted.contains(&name) {
            out.skipped
                .push((tool.tool.name.to_string(), "disabled by name".to_owned()));
        } else {
            out.kept.push(tool);
        }
    }
    out
}

/// The `KESTRA_MCP_TOOLSETS` name for every tool.
pub const ALL: &str = "all";
/// The `KESTRA_MCP_TOOLSETS` name for [`DEFAULT_LEAVES_OUT`]'s complement.
pub const DEFAULT: &str = "default";
/// The `KESTRA_MCP_TOOLSETS` name that starts a session with the discovery tools.
pub const DYNAMIC: &str = "dynamic";
/// What the `default` toolset leaves out: the Enterprise administration tools (users, groups,
/// apps, announcements, test suites, instance information), which answer 404 on Kestra OSS, are
/// not everyday workflow work and carry the longest schemas.
pub const DEFAULT_LEAVES_OUT: &[&str] = &[ENTERPRISE_GROUP];

/// The toolsets a session sees: groups and tool names, `all`, `default`; and whether the
/// discovery tools are served (`dynamic`). Names are lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolsets {
    names: BTreeSet<String>,
    dynamic: bool,
    /// A session's own choice (over HTTP, `X-MCP-Toolsets`) that these can only narrow:
    /// a tool must be admitted by both, and enabling more cannot pass it.
    ceiling: Option<Box<Toolsets>>,
}

impl Default for Toolsets {
    /// Every tool, as the Python server serves them.
    fn default() -> Self {
        Toolsets {
            names: BTreeSet::from([ALL.to_owned()]),
            dynamic: false,
            ceiling: None,
        }
    }
}

impl Toolsets {
    /// From `KESTRA_MCP_TOOLSETS`, split and trimmed: empty is every tool; `dynamic` alone
    /// starts with none but the discovery tools.
    pub fn from_names(names: &[String]) -> Self {
        if names.is_empty() {
            return Toolsets::default();
        }
        let names: BTreeSet<String> = names.iter().map(|n| n.trim().to_ascii_lowercase()).collect();
        let dynamic = names.contains(DYNAMIC);
        Toolsets {
            names: names.into_iter().filter(|n| n != DYNAMIC).collect(),
            dynamic,
            ceiling: None,
        }
    }

    /// These toolsets narrowed by `ceiling` (a session's header): only the tools both admit.
    /// `dynamic` in the ceiling has no effect (a header cannot add the discovery tools).
    pub fn narrowed(self, ceiling: Toolsets) -> Toolsets {
        let ceiling = Toolsets {
            dynamic: false,
            ..ceiling
        };
        // Narrowing twice (a user's policy, then a header) keeps both ceilings.
        let ceiling = match self.ceiling {
            Some(earlier) => earlier.narrowed(ceiling),
            None => ceiling,
        };
        Toolsets {
            ceiling: Some(Box::new(ceiling)),
            ..self
        }
    }

    /// Whether the discovery tools are served.
    pub fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    /// The names chosen (enabled), without `dynamic`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether the session sees `tool`.
    pub fn admits(&self, tool: &CompiledTool) -> bool {
        self.names.iter().any(|name| match name.as_str() {
            ALL => true,
            DEFAULT => !DEFAULT_LEAVES_OUT.contains(&tool.group.as_str()),
            name => tool.group == name || tool.tool.name.eq_ignore_ascii_case(name),
        }) && self.ceiling.as_ref().is_none_or(|c| c.admits(tool))
    }

    /// Whether the toolset `name` (a group, `all` or `default`) is enabled as a whole.
    pub fn enables(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        (self.names.contains(&lower)
            || self.names.contains(ALL)
            || (self.names.contains(DEFAULT) && !DEFAULT_LEAVES_OUT.contains(&lower.as_str())))
            && self.ceiling.as_ref().is_none_or(|c| c.enables(name))
    }

    /// Enables more toolsets.
    pub fn enable<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        self.names
            .extend(names.into_iter().map(|n| n.trim().to_ascii_lowercase()));
    }

    /// A warning per name that is neither `all`, `default`, a group of `groups` nor a tool of
    /// `tools`.
    pub fn unknown_names<'a>(
        &self,
        groups: &BTreeSet<String>,
        tools: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Vec<String> {
        self.names
            .iter()
            .filter(|name| {
                !matches!(name.as_str(), ALL | DEFAULT)
                    && !groups.contains(*name)
                    && !tools.clone().into_iter().any(|t| t.eq_ignore_ascii_case(name))
            })
            .map(|name| {
                format!(
                    "KESTRA_MCP_TOOLSETS: '{name}' is neither a toolset nor a tool; valid toolsets: {ALL}, {DEFAULT}, {DYNAMIC}, {}",
                    groups.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
                )
            })
            .collect()
    }
}

/// Every group the tools may be in: [`KNOWN_GROUPS`], those sources declare and the tools' own.
pub fn all_groups<'a>(
    extra_groups: &[String],
    tools: impl IntoIterator<Item = &'a CompiledTool>,
) -> BTreeSet<String> {
    KNOWN_GROUPS
        .iter()
        .map(|g| (*g).to_owned())
        .chain(extra_groups.iter().cloned())
        .chain(tools.into_iter().map(|t| t.group.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LoadOptions, load_catalog};

    fn builtin() -> Vec<Arc<CompiledTool>> {
        load_catalog(&LoadOptions::default()).unwrap().tools
    }

    #[test]
    fn groups_and_names_are_case_insensitive_and_trimmed() {
        let all = builtin();
        let total = all.len();
        let kv_count = all.iter().filter(|t| t.group == "kv").count();
        let out = apply_disabled(all, &[" KV ".into(), "Search_Flows".into()]);
        assert_eq!(out.kept.len(), total - kv_count - 1);
        assert!(
            out.kept
                .iter()
                .all(|t| t.group != "kv" && t.tool.name != "search_flows")
        );
        assert!(
            out.skipped
                .contains(&("search_flows".into(), "disabled by name".into()))
        );
        assert!(out.warnings.is_empty());
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn toolsets_select_groups_and_tools_and_default_leaves_out_the_enterprise_tools() {
        let all = builtin();
        let count = |toolsets: &Toolsets| all.iter().filter(|t| toolsets.admits(t)).count();
        assert_eq!(count(&Toolsets::from_names(&[])), all.len());
        assert_eq!(count(&Toolsets::from_names(&names(&["all"]))), all.len());
        let ee = all.iter().filter(|t| t.group == "ee").count();
        assert!(ee > 0);
        assert_eq!(count(&Toolsets::from_names(&names(&["DEFAULT"]))), all.len() - ee);
        let kv_and_one = Toolsets::from_names(&names(&["kv", "search_flows"]));
        let admitted: Vec<&str> = all
            .iter()
            .filter(|t| kv_and_one.admits(t))
            .map(|t| t.tool.name.as_ref())
            .collect();
        assert_eq!(admitted, vec!["manage_kv_store", "search_flows"]);
        assert!(!kv_and_one.is_dynamic());
    }

    #[test]
    fn dynamic_starts_with_the_named_toolsets_only_and_enabling_adds() {
        let all = builtin();
        let mut toolsets = Toolsets::from_names(&names(&["dynamic"]));
        assert!(toolsets.is_dynamic());
        assert_eq!(all.iter().filter(|t| toolsets.admits(t)).count(), 0);
        toolsets.enable(["KV"]);
        assert!(toolsets.enables("kv") && !toolsets.enables("flow"));
        assert_eq!(all.iter().filter(|t| toolsets.admits(t)).count(), 1);
        let with_flow = Toolsets::from_names(&names(&["dynamic", "flow"]));
        assert!(with_flow.is_dynamic() && with_flow.enables("flow"));
        let default = Toolsets::from_names(&names(&["default"]));
        assert!(default.enables("flow") && !default.enables("ee"));
    }

    #[test]
    fn a_ceiling_only_narrows_even_when_more_is_enabled() {
        let all = builtin();
        let admitted = |t: &Toolsets| {
            all.iter()
                .filter(|tool| t.admits(tool))
                .map(|tool| tool.tool.name.to_string())
                .collect::<Vec<_>>()
        };
        let narrowed = Toolsets::from_names(&names(&["kv", "flow"]))
            .narrowed(Toolsets::from_names(&names(&["kv", "ee", "dynamic"])));
        assert_eq!(admitted(&narrowed), vec!["manage_kv_store"]);
        assert!(!narrowed.enables("ee") && narrowed.enables("kv"));
        let mut dynamic =
            Toolsets::from_names(&names(&["dynamic"])).narrowed(Toolsets::from_names(&names(&["kv"])));
        dynamic.enable(["flow", "kv"]);
        assert!(dynamic.is_dynamic());
        assert_eq!(admitted(&dynamic), vec!["manage_kv_store"]);
    }

    #[test]
    fn unknown_toolset_names_warn() {
        let all = builtin();
        let groups = all_groups(&[], all.iter().map(|t| &**t));
        let tools: Vec<&str> = all.iter().map(|t| t.tool.name.as_ref()).collect();
        let toolsets = Toolsets::from_names(&names(&["flows", "flow", "search_flows", "default", "dynamic"]));
        let warnings = toolsets.unknown_names(&groups, tools.iter().copied());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("KESTRA_MCP_TOOLSETS: 'flows' is neither a toolset nor a tool; valid toolsets: all, default, dynamic, backfill, ee,"), "{}", warnings[0]);
    }

    #[test]
    fn unknown_names_warn_with_the_valid_groups() {
        let out = apply_disabled(builtin(), &["flows".into()]);
        assert_eq!(out.warnings.len(), 1);
        assert!(out.warnings[0].contains("'flows' is neither a group nor a tool"));
        assert!(out.warnings[0].contains("backfill, ee, execution"));
        assert!(out.skipped.is_empty());
    }
}
