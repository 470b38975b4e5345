//! Per-user policy (`KESTRA_MCP_POLICY_FILE`, with OAuth): rules that map a token's claims
//! (subject, groups, scopes) to the guardrails of that user's requests: toolsets, read-only,
//! allowed namespaces. The first rule that matches decides; a user no rule matches is refused
//! (default deny). What a rule grants is applied with the same machinery as the server's
//! settings and the `X-MCP-*` headers (`filter::Toolsets` narrowed, `exchange::SessionLimits`),
//! so it can only narrow what the server allows.
//!
//! ```yaml
//! rules:
//!   - name: admins
//!     match: {groups: [kestra-admins]}
//!   - name: blocked
//!     match: {subjects: [mallory]}
//!     deny: true
//!   - name: team
//!     match: {groups: [data-team], scopes: [kestra-mcp]}
//!     toolsets: [flow, execution, logs]
//!     namespaces: [company.data, company.data.*]
//!   - name: everyone else
//!     read_only: true
//!     namespaces: [sandbox.*]
//! ```

use std::sync::Arc;

use serde::Deserialize;

use crate::filter::Toolsets;
use crate::guard::Namespaces;
use crate::oauth::Principal;

/// What refusals name as the source of a rule's namespaces.
pub const SOURCE: &str = "KESTRA_MCP_POLICY_FILE";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "match")]
    when: Match,
    #[serde(default)]
    deny: bool,
    #[serde(default)]
    toolsets: Option<Vec<String>>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
}

/// Which users a rule is for: every condition given must hold (none given: everyone).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Match {
    /// The token's `sub` is one of these.
    #[serde(default)]
    subjects: Vec<String>,
    /// The user is in at least one of these groups.
    #[serde(default)]
    groups: Vec<String>,
    /// The token carries every one of these scopes.
    #[serde(default)]
    scopes: Vec<String>,
}

impl Match {
    fn holds(&self, who: &Principal) -> bool {
        (self.subjects.is_empty() || self.subjects.contains(&who.subject))
            && (self.groups.is_empty() || self.groups.iter().any(|g| who.groups.contains(g)))
            && self.scopes.iter().all(|s| who.scopes.contains(s))
    }
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    when: Match,
    deny: bool,
    toolsets: Option<Toolsets>,
    read_only: bool,
    namespaces: Option<Arc<Namespaces>>,
}

/// The rules, in order.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
}

/// What a user may do: the guardrails of their requests.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The token's subject: the `mcp.user` label of the executions they start, the audit log.
    pub user: Arc<str>,
    /// The rule that matched (logs).
    pub rule: String,
    /// The toolsets they may see (narrowing the server's); `None`: all the server serves.
    pub toolsets: Option<Toolsets>,
    pub read_only: bool,
    /// The namespaces they may reach (besides the server's policy); `None`: no restriction.
    pub namespaces: Option<Arc<Namespaces>>,
}

impl Grant {
    /// What a user gets without a policy: what the server allows.
    pub fn unrestricted(user: &str) -> Self {
        Grant {
            user: Arc::from(user),
            rule: "no policy".to_owned(),
            toolsets: None,
            read_only: false,
            namespaces: None,
        }
    }
}

impl Policy {
    /// Reads and checks the policy file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a policy (YAML); every rule's namespace patterns are checked here.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let raw: RawPolicy = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        let rules = raw
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| compile(i, rule))
            .collect::<Result<_, _>>()?;
        Ok(Policy { rules })
    }

    /// What `who` may do, or why nothing (no rule matches, or a `deny` rule does).
    pub fn grant(&self, who: &Principal) -> Result<Grant, String> {
        let Some(rule) = self.rules.iter().find(|r| r.when.holds(who)) else {
            return Err(format!("no rule of the policy admits user '{}'", who.subject));
        };
        if rule.deny {
            return Err(format!("rule '{}' denies user '{}'", rule.name, who.subject));
        }
        Ok(Grant {
            user: Arc::from(who.subject.as_str()),
            rule: rule.name.clone(),
            toolsets: rule.toolsets.clone(),
            read_only: rule.read_only,
            namespaces: rule.namespaces.clone(),
        })
    }
}

fn compile(index: usize, raw: RawRule) -> Result<Rule, String> {
    let name = raw.name.unwrap_or_else(|| format!("#{}", index + 1));
    let namespaces = match raw.namespaces {
        None => None,
        // An empty list allows no namespace (it names none), never every one.
        Some(list) => Some(Arc::new(
            Namespaces::parse(&list.join(","), SOURCE)
                .map_err(|e| format!("rule '{name}': namespaces: {e}"))?
                .unwrap_or_else(|| Namespaces::nothing(SOURCE)),
        )),
    };
    Ok(Rule {
        toolsets: raw.toolsets.map(|names| match names.is_empty() {
            // No toolset named: no tool, rather than Toolsets' "empty is every tool".
            true => Toolsets::from_names(&["none-granted".to_owned()]),
            false => Toolsets::from_names(&names),
        }),
        name,
        when: raw.when,
        deny: raw.deny,
        read_only: raw.read_only,
        namespaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(subject: &str, groups: &[&str], scopes: &[&str]) -> Principal {
        Principal {
            subject: subject.to_owned(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    const POLICY: &str = r#"
rules:
  - name: blocked
    match: {subjects: [mallory]}
    deny: true
  - name: admins
    match: {groups: [kestra-admins]}
  - name: team
    match: {groups: [data-team], scopes: [kestra-mcp]}
    toolsets: [flow, execution]
    namespaces: [company.data, company.data.*]
  - name: readers
    match: {scopes: [kestra-read]}
    read_only: true
"#;

    #[test]
    fn the_first_matching_rule_decides_and_unknown_users_are_denied() {
        let policy = Policy::parse(POLICY).unwrap();
        let admin = policy
            .grant(&who("ann", &["kestra-admins", "data-team"], &[]))
            .unwrap();
        assert_eq!(admin.rule, "admins");
        assert!(admin.toolsets.is_none() && admin.namespaces.is_none() && !admin.read_only);

        let team = policy
            .grant(&who("tom", &["data-team"], &["kestra-mcp"]))
            .unwrap();
        assert_eq!((team.rule.as_str(), &*team.user), ("team", "tom"));
        let ns = team.namespaces.unwrap();
        assert!(ns.allows("company.data") && ns.allows("company.data.etl") && !ns.allows("company.hr"));
        assert!(team.toolsets.unwrap().enables("flow"));

        // In the group but without the scope: not the team rule; no other rule: denied.
        let err = policy.grant(&who("tim", &["data-team"], &[])).unwrap_err();
        assert!(err.contains("no rule of the policy admits user 'tim'"), "{err}");
        let reader = policy.grant(&who("rita", &[], &["kestra-read"])).unwrap();
        assert!(reader.read_only);
        let err = policy
            .grant(&who("mallory", &["kestra-admins"], &[]))
            .unwrap_err();
        assert!(err.contains("rule 'blocked' denies user 'mallory'"), "{err}");
    }

    #[test]
    fn the_json_schema_accepts_what_the_parser_accepts() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../docs/policy.schema.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let policy: serde_json::Value = yaml_serde::from_str(POLICY).unwrap();
        assert!(validator.is_valid(&policy));
        for bad in [
            "rules:\n  - match: {user: x}\n",
            "rules:\n  - readonly: true\n",
            "{}",
        ] {
            let value: serde_json::Value = yaml_serde::from_str(bad).unwrap();
            assert!(!validator.is_valid(&value), "{bad}");
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_lists_grant_nothing_and_bad_policies_are_refused() {
        let policy = Policy::parse("rules:\n  - toolsets: []\n    namespaces: []\n").unwrap();
        let grant = policy.grant(&who("x", &[], &[])).unwrap();
        assert_eq!(grant.rule, "#1");
        assert!(!grant.namespaces.unwrap().allows("company"));
        assert!(!grant.toolsets.unwrap().enables("flow"));
        assert!(Policy::parse("rules:\n  - match: {user: x}\n").is_err());
        assert!(Policy::parse("rules:\n  - readonly: true\n").is_err());
        assert!(Policy::parse("rules:\n  - namespaces: ['a..b']\n").is_err());
    }
}
