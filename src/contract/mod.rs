//! Contract checks: every request a tool can send, checked against Kestra's OpenAPI
//! description of each Kestra version the request claims (`kestra-mcp tools validate`, and the
//! contract tests on the built-in tools).
//!
//! For each tool and each variant, arguments are synthesised from the tool's input schema
//! ([`samples`]), the engine renders every request of the action for each known Kestra version
//! without sending it (`Engine::sample_requests`, stand-ins for earlier steps and loop items),
//! and each rendered request is checked ([`check`]) against the description of that version,
//! bundled in the binary with the reviewed overlay applied ([`openapi`], [`overlay`]):
//!
//! - the path resolves to an operation the way Kestra's router (Micronaut) does: among the path
//!   templates that match segment by segment and have the method (and, for a body, consume its
//!   content type when one does), the one with the fewest variables, then the most literal
//!   characters; its `operationId` must be one the spec declares in `operation` — so a 1.x
//!   action path that lands on createExecution on 2.0 fails;
//! - required query parameters are present, no unknown query parameter is sent (PHP-style
//!   `filters[...]` keys are accepted when the operation has that parameter), and values fit
//!   the parameter's type;
//! - a required request body is sent, its content type is declared, and a JSON body (or the
//!   named fields of a multipart body, or a text body) validates against the schema.
//!
//! All violations are reported at once, located at the request's `path:` line when it can be
//! found: `file:line: tool[variant] version request: reason`.

mod check;
mod openapi;
mod overlay;
mod rendering;
mod samples;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

pub use openapi::{Description, Descriptions};

use crate::config::Config;
use crate::engine::Engine;
use crate::error::CallError;
use crate::filter::apply_disabled;
use crate::request::{RequestTemplate, Target};
use crate::spec::load::{builtin_sources, dir_sources};
use crate::spec::operations::{self, Audit};
use crate::spec::{Action, Catalog, CompiledTool, LoadOptions};

/// The tenant requests are rendered for (any name would do: only the path shape matters).
const SAMPLE_TENANT: &str = "main";

/// A problem with the descriptions themselves (never with a tool spec).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ContractError(pub String);

/// One way a spec breaks the contract, where it is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.origin, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// What a check covered and found.
#[derive(Debug, Default)]
pub struct Report {
    pub tools: usize,
    pub variants: usize,
    pub argument_sets: usize,
    /// Rendered requests checked, per known version.
    pub checked: BTreeMap<String, usize>,
    /// Each violation → the argument sets it happened with (`-`: not tied to one).
    pub violations: BTreeMap<Violation, BTreeSet<String>>,
    /// Facts worth knowing that are not violations (a tool with no request for a version).
    pub notes: BTreeSet<String>,
}

impl Report {
    /// One line per violation: `file:line: message  [args: ...]`.
    pub fn lines(&self) -> Vec<String> {
        self.violations
            .iter()
            .map(|(violation, sets)| {
                let sets: Vec<&str> = sets.iter().map(String::as_str).filter(|s| *s != "-").collect();
                match sets.is_empty() {
                    true => violation.to_string(),
                    false => format!("{violation}  [args: {}]", sets.join("; ")),
                }
            })
            .collect()
    }

    pub fn summary(&self) -> String {
        let per_version: Vec<String> = self.checked.iter().map(|(v, n)| format!("{v}: {n}")).collect();
        format!(
            "{} tools, {} variants, {} argument sets; rendered requests checked against the OpenAPI description of Kestra {}; {} violation(s)",
            self.tools,
            self.variants,
            self.argument_sets,
            per_version.join(", "),
            self.violations.len()
        )
    }

    fn violation(&mut self, at: &Location, message: String, args: &str) {
        let violation = Violation {
            origin: at.origin.clone(),
            line: at.line,
            message,
        };
        self.violations
            .entry(violation)
            .or_default()
            .insert(args.to_owned());
    }
}

/// The text of every spec `options` loads, by origin, to locate violations.
pub fn spec_texts(options: &LoadOptions) -> BTreeMap<String, String> {
    let builtin = match options.no_builtin {
        true => vec![],
        false => builtin_sources(),
    };
    let from_dir = options
        .tools_dir
        .as_deref()
        .and_then(|dir| dir_sources(dir).ok())
        .unwrap_or_default();
    builtin
        .into_iter()
        .chain(from_dir)
        .map(|s| (s.origin, s.text))
        .collect()
}

/// An engine for checking a catalog: every tool enabled, requests rendered, never sent.
pub fn offline_engine(catalog: Catalog) -> Result<Engine, ContractError> {
    let config = Config::from_lookup(|name| match name {
        "KESTRA_BASE_URL" => Some("http://127.0.0.1:9/api/v1".to_owned()),
        "KESTRA_TENANT_ID" => Some(SAMPLE_TENANT.to_owned()),
        _ => None,
    })
    .map_err(|e| ContractError(format!("configuration for checking: {e}")))?;
    let filtered = apply_disabled(catalog.tools, &[]);
    Engine::new(filtered, catalog.layers, &config)
        .map_err(|e| ContractError(format!("engine for checking: {e}")))
}

/// Where a tool's problems are reported: its file, and the line of a request when known.
#[derive(Clone)]
struct Location {
    origin: String,
    line: Option<usize>,
}

/// The first line of `text` that sets `path:` to `path_source` (1-based).
fn line_of_path(text: &str, path_source: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches("- ");
            line.starts_with("path:") && line.contains(path_source)
        })
        .map(|i| i + 1)
}

/// The first line of `text` that sets `operation:` to (a list holding) `operation` (1-based),
/// for a request whose path the operation implies.
fn line_of_operation(text: &str, operation: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches("- ").trim_start_matches("{");
            line.starts_with("operation:") && line.contains(operation)
        })
        .map(|i| i + 1)
}

/// Checks every request of every tool of `engine` against `descriptions`; `texts` (origin →
/// spec text) locates violations at a line.
pub fn check_engine(
    engine: &Engine,
    descriptions: &Descriptions,
    texts: &BTreeMap<String, String>,
) -> Report {
    let mut report = Report::default();
    for tool in engine.tools() {
        report.tools += 1;
        let actions = match tool.actions() {
            Ok(actions) => actions,
            Err(e) => {
                let violation = Violation {
                    origin: e.origin.clone(),
                    line: e.line,
                    message: match &e.field {
                        Some(field) => format!("{field}: {}", e.message),
                        None => e.message.clone(),
                    },
                };
                report.violations.entry(violation).or_default().insert("-".into());
                continue;
            }
        };
        for (variant, action) in actions {
            report.variants += 1;
            ToolCheck {
                engine,
                tool,
                variant,
                action,
                text: texts.get(&tool.origin).map(String::as_str),
            }
            .run(descriptions, &mut report);
        }
    }
    report
}

/// One variant of one tool under check.
struct ToolCheck<'a> {
    engine: &'a Engine,
    tool: &'a CompiledTool,
    variant: Option<&'a str>,
    action: &'a Action,
    text: Option<&'a str>,
}

impl ToolCheck<'_> {
    fn who(&self) -> String {
        match self.variant {
            Some(v) => format!("{}[{v}]", self.tool.tool.name),
            None => self.tool.tool.name.to_string(),
        }
    }

    fn location(&self, template: Option<&RequestTemplate>) -> Location {
        Location {
            origin: self.tool.origin.clone(),
            line: template.and_then(|t| match t.route_written {
                true => line_of_path(self.text?, &t.path_source),
                false => line_of_operation(self.text?, t.operations.first()?),
            }),
        }
    }

    /// The action's requests by label, with the Kestra versions each claims.
    fn templates(&self) -> BTreeMap<String, (&RequestTemplate, Option<&semver::VersionReq>)> {
        self.action
            .requests()
            .into_iter()
            .map(|(label, r)| (label, (&r.template, r.kestra.as_ref())))
            .collect()
    }

    fn run(&self, descriptions: &Descriptions, report: &mut Report) {
        let templates = self.templates();
        self.check_claims(&templates, descriptions, report);
        self.audit_written_routes(&templates, report);
        let variant = self
            .variant
            .zip(self.tool.outline.argument.as_deref())
            .map(|(value, argument)| (argument, value));
        let sets = samples::argument_sets(self.tool, variant, self.action);
        report.argument_sets += sets.len();
        for (version_text, desc) in descriptions.iter() {
            let Ok(version) = semver::Version::parse(version_text) else {
                continue;
            };
            self.check_version(desc, &version, &templates, &sets, report);
        }
    }

    /// A request that writes `method` and `path` next to an `operation` of the bundled table:
    /// another route than the table's is a violation, the table's own route a deprecation
    /// note (the operation implies it).
    fn audit_written_routes(
        &self,
        templates: &BTreeMap<String, (&RequestTemplate, Option<&semver::VersionReq>)>,
        report: &mut Report,
    ) {
        for (label, (template, req)) in templates {
            if !template.route_written || template.operations.is_empty() {
                continue;
            }
            let target = Target {
                method: template.method,
                scope: template.scope,
                path: template.path_source.clone(),
                written: true,
            };
            let location = self.location(Some(template));
            match operations::audit(&template.operations, &target, *req) {
                Audit::Unknown => {}
                Audit::Implied => {
                    let at = match location.line {
                        Some(line) => format!("{}:{line}", location.origin),
                        None => location.origin.clone(),
                    };
                    report.notes.insert(format!(
                        "{at}: {} {label}: method/path are implied by operation {}; drop them",
                        self.who(),
                        template.operations.join(" / ")
                    ));
                }
                Audit::Disagrees(why) => {
                    report.violation(&location, format!("{} {label}: {why}", self.who()), "-");
                }
            }
        }
    }

    /// A request whose `kestra:` range fits no described version cannot be checked: a
    /// violation when every known version is described, else only a note.
    fn check_claims(
        &self,
        templates: &BTreeMap<String, (&RequestTemplate, Option<&semver::VersionReq>)>,
        descriptions: &Descriptions,
        report: &mut Report,
    ) {
        let described = descriptions.versions();
        for (label, (template, req)) in templates {
            let fits_any = described
                .iter()
                .any(|v| semver::Version::parse(v).is_ok_and(|v| req.is_none_or(|r| r.matches(&v))));
            if !fits_any && !descriptions.covers_known_versions {
                report.notes.insert(format!(
                    "{} {label}: not checked, `kestra: {}` does not fit Kestra {}",
                    self.who(),
                    req.map(ToString::to_string).unwrap_or_default(),
                    described.join(", ")
                ));
            } else if !fits_any {
                report.violation(
                    &self.location(Some(template)),
                    format!(
                        "{} {label}: `kestra: {}` fits none of the described Kestra versions ({}), so the request cannot be checked",
                        self.who(),
                        req.map(ToString::to_string).unwrap_or_default(),
                        described.join(", ")
                    ),
                    "-",
                );
            }
        }
    }

    fn check_version(
        &self,
        desc: &Description,
        version: &semver::Version,
        templates: &BTreeMap<String, (&RequestTemplate, Option<&semver::VersionReq>)>,
        sets: &[(String, Map<String, Value>)],
        report: &mut Report,
    ) {
        let who = self.who();
        let name = self.tool.tool.name.as_ref();
        // Requests rendered by at least one argument set, and why other sets rendered nothing.
        let mut rendered_labels: BTreeSet<String> = BTreeSet::new();
        let mut render_errors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (set_name, args) in sets {
            let rendered = match self.engine.sample_requests(name, args.clone(), version) {
                Ok(rendered) => rendered,
                Err(e @ CallError::InvalidArguments(_)) => {
                    report.violation(
                        &self.location(None),
                        format!(
                            "{who} {version}: the arguments synthesised from the input schema {} are refused: {e}",
                            Value::Object(args.clone())
                        ),
                        set_name,
                    );
                    continue;
                }
                // Requests are sampled whatever their step's `when` says, so a request guarded
                // against absent arguments may not render with this set; that is a problem only
                // if no set renders it (checked below).
                Err(e) => {
                    render_errors
                        .entry(e.to_string())
                        .or_default()
                        .insert(set_name.clone());
                    continue;
                }
            };
            for (label, req) in rendered {
                *report.checked.entry(version.to_string()).or_default() += 1;
                rendered_labels.insert(label.clone());
                let Some((template, _)) = templates.get(&label) else {
                    report.violation(
                        &self.location(None),
                        format!("{who} {version} {label}: rendered a request the action does not list"),
                        set_name,
                    );
                    continue;
                };
                for problem in check::check_request(desc, template, &req) {
                    report.violation(
                        &self.location(Some(template)),
                        format!("{who} {version} {label}: {problem}"),
                        set_name,
                    );
                }
            }
        }
        let fitting: Vec<(&String, &RequestTemplate)> = templates
            .iter()
            .filter(|(_, (_, req))| req.is_none_or(|r| r.matches(version)))
            .map(|(label, (template, _))| (label, *template))
            .collect();
        if fitting.is_empty() && !templates.is_empty() {
            report
                .notes
                .insert(format!("{who} sends no request to Kestra {version}"));
        }
        for (label, template) in fitting {
            if !rendered_labels.contains(label) {
                report.violation(
                    &self.location(Some(template)),
                    format!(
                        "{who} {version} {label}: no synthesised argument set renders this request, so it is not checked: {}",
                        why_not_rendered(&render_errors)
                    ),
                    "-",
                );
            }
        }
    }
}

fn why_not_rendered(render_errors: &BTreeMap<String, BTreeSet<String>>) -> String {
    if render_errors.is_empty() {
        return "no set was accepted".to_owned();
    }
    let why: Vec<String> = render_errors
        .iter()
        .map(|(e, sets)| {
            format!(
                "{e} (args: {})",
                sets.iter().cloned().collect::<Vec<_>>().join("; ")
            )
        })
        .collect();
    why.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_located_at_its_path_line_quoted_or_not_in_a_list_or_not() {
        let text = "name: x\nrequest:\n  method: GET\n  path: /flows/{{ namespace }}\nrequests:\n  - path: \"/b/{{ id }}\"\n";
        assert_eq!(line_of_path(text, "/flows/{{ namespace }}"), Some(4));
        assert_eq!(line_of_path(text, "/b/{{ id }}"), Some(6));
        assert_eq!(line_of_path(text, "/nowhere"), None);
    }

    #[test]
    fn a_violation_reads_file_line_message() {
        let v = Violation {
            origin: "my-tools/pause.yaml".into(),
            line: Some(7),
            message: "pause 2.0.0: resolves to createExecution".into(),
        };
        assert_eq!(
            v.to_string(),
            "my-tools/pause.yaml:7: pause 2.0.0: resolves to createExecution"
        );
    }
}
