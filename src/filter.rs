//! Selection of the tools to serve: `KESTRA_MCP_DISABLED_TOOLS` names groups or tools, trimmed
//! and case-insensitive. Filtering never fails: it reports what it skipped and which names it
//! did not recognise.

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

    #[test]
    fn unknown_names_warn_with_the_valid_groups() {
        let out = apply_disabled(builtin(), &["flows".into()]);
        assert_eq!(out.warnings.len(), 1);
        assert!(out.warnings[0].contains("'flows' is neither a group nor a tool"));
        assert!(out.warnings[0].contains("backfill, ee, execution"));
        assert!(out.skipped.is_empty());
    }
}
