//! The operations table: each `operationId` of the bundled Kestra OpenAPI descriptions
//! (openapi/*.yml, one per known Kestra version) with its method, root (tenant or instance)
//! and path template in each version, plus the operations the reviewed overlay
//! (openapi/overlay.yaml) adds to a version whose description misses them. build.rs extracts
//! it whatever the cargo features, so a request may name its `operation` alone and get its
//! method and path from here.
//!
//! [`resolve`] turns a request spec into its targets: the written `method`/`path`, or the
//! operation's route per Kestra version with its path parameters bound (from `params`, else
//! from the argument named like the parameter in snake_case). Versions whose routes differ
//! (Kestra 2.0's `/actions/` paths) give one target each, with a `kestra` range as a spec
//! would write it. [`audit`] compares a written method/path with the table, for
//! `kestra-mcp tools validate`.

use std::collections::BTreeSet;

use semver::{Comparator, Op, Prerelease, Version, VersionReq};

use super::raw::{Method, RequestSpec, Scope};
use crate::request::{FieldError, Target};

/// Where an operation is served in one Kestra version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub scope: Scope,
    /// Relative to the scope's root, OpenAPI style: `/executions/{executionId}/kill`.
    pub path: &'static str,
}

impl Route {
    const fn new(method: Method, scope: Scope, path: &'static str) -> Self {
        Route { method, scope, path }
    }

    /// The names of the path parameters, in order (`executionId`).
    pub fn params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }

    /// `POST /executions/{executionId}/kill` (instance routes say so).
    fn shown(&self) -> String {
        let root = match self.scope {
            Scope::Tenant => "",
            Scope::Instance => " (instance)",
        };
        format!("{} {}{root}", self.method.as_str(), self.path)
    }
}

include!(concat!(env!("OUT_DIR"), "/operations_table.rs"));

/// The Kestra versions with a bundled description, in table order.
pub fn described_versions() -> &'static [&'static str] {
    DESCRIBED
}

/// The routes of operation `id` in each described version (`None`: not in that version);
/// `None` when no description has it.
pub fn routes(id: &str) -> Option<&'static [Option<Route>]> {
    OPERATIONS
        .binary_search_by(|(known, _)| known.cmp(&id))
        .ok()
        .map(|i| OPERATIONS[i].1)
}

/// The route in described version `index` of the first of `names` that version has (a list
/// names one operation that versions call differently).
fn route_in(names: &[String], index: usize) -> Option<Route> {
    names
        .iter()
        .find_map(|name| routes(name)?.get(index).copied().flatten())
}

/// Every route of every described version, once each (the namespace guard places a rendered
/// request by matching its path against them).
pub fn all_routes() -> Vec<Route> {
    let mut seen = BTreeSet::new();
    OPERATIONS
        .iter()
        .flat_map(|(_, routes)| routes.iter().flatten().copied())
        .filter(|route| seen.insert((route.method.as_str(), route.scope == Scope::Tenant, route.path)))
        .collect()
}

/// Up to three known operation ids nearest to `name` (edit distance, ignoring case).
pub fn nearest(name: &str) -> Vec<&'static str> {
    let wanted = name.to_ascii_lowercase();
    let mut scored: Vec<(usize, &'static str)> = OPERATIONS
        .iter()
        .map(|(id, _)| (edit_distance(&wanted, &id.to_ascii_lowercase()), *id))
        .filter(|(distance, _)| *distance <= (wanted.len() / 3).max(3))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, id)| id).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// `executionId` -> `execution_id`: the argument a path parameter binds to by default.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn fail(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The described versions, parsed, with their table index, oldest first.
fn described_in_order() -> Vec<(usize, Version)> {
    let mut versions: Vec<(usize, Version)> = DESCRIBED
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i, Version::parse(v).ok()?)))
        .collect();
    versions.sort_by(|a, b| a.1.cmp(&b.1));
    versions
}

/// Where a request goes, per Kestra version: one target for every version the request is for
/// (its `kestra` range, `None`: all), or, when the operation's route differs between
/// versions, one per run of versions sharing a route, each with the range it covers.
/// `arguments` are the tool's declared arguments (default bindings of path parameters).
pub fn resolve(
    spec: &RequestSpec,
    kestra: Option<&VersionReq>,
    arguments: &BTreeSet<String>,
) -> Result<Vec<(Option<VersionReq>, Target)>, FieldError> {
    if let Some(target) = Target::written(spec) {
        if let Some(name) = spec.params.keys().next() {
            return Err(fail(
                &format!("params.{name}"),
                "`params` binds the path parameters of the route `operation` implies; with a written `path`, put the value in the path",
            ));
        }
        return Ok(vec![(kestra.cloned(), target)]);
    }
    let names = match (&spec.method, &spec.path, &spec.operation) {
        (None, None, Some(operation)) => operation.to_vec(),
        (None, None, None) => {
            return Err(fail(
                "operation",
                "give the `operation` the request calls (its method and path follow from it), or `method` and `path`",
            ));
        }
        (Some(_), None, _) => return Err(fail("path", "give `path` with `method`, or neither")),
        _ => return Err(fail("method", "give `method` with `path`, or neither")),
    };
    check_known(&names)?;
    let runs = runs_of_routes(&names, kestra)?;
    let split = runs.len() > 1;
    let mut targets = Vec::new();
    for run in &runs {
        check_params_exist(spec, &names, &run.route)?;
        let target = Target {
            method: run.route.method,
            scope: run.route.scope,
            path: bind_params(spec, &names, &run.route, arguments)?,
            written: false,
        };
        check_scope(spec, &names, &target)?;
        let range = match split {
            true => Some(run.range(kestra)),
            false => kestra.cloned(),
        };
        targets.push((range, target));
    }
    Ok(targets)
}

/// Every name of the operation must be in some description.
fn check_known(names: &[String]) -> Result<(), FieldError> {
    for name in names {
        if routes(name).is_none() {
            let nearest = nearest(name);
            let hint = match nearest.is_empty() {
                true => String::new(),
                false => format!("; nearest: {}", nearest.join(", ")),
            };
            return Err(fail(
                "operation",
                format!(
                    "unknown operation '{name}': not in the Kestra {} descriptions{hint} (for a route they lack, give `method` and `path`)",
                    DESCRIBED.join(" / ")
                ),
            ));
        }
    }
    Ok(())
}

/// Consecutive described versions (oldest first) that share one route.
struct Run {
    route: Route,
    /// The first version of the run, and the first described version after it (if any).
    from: Version,
    until: Option<Version>,
    first: bool,
}

impl Run {
    /// The run's versions as a `kestra` range (`<2.0`, `>=2.0`), within the request's own.
    fn range(&self, kestra: Option<&VersionReq>) -> VersionReq {
        let mut comparators = kestra.map(|r| r.comparators.clone()).unwrap_or_default();
        let bound = |op, v: &Version| Comparator {
            op,
            major: v.major,
            minor: Some(v.minor),
            patch: None,
            pre: Prerelease::EMPTY,
        };
        if !self.first {
            comparators.push(bound(Op::GreaterEq, &self.from));
        }
        if let Some(until) = &self.until {
            comparators.push(bound(Op::Less, until));
        }
        VersionReq { comparators }
    }
}

fn runs_of_routes(names: &[String], kestra: Option<&VersionReq>) -> Result<Vec<Run>, FieldError> {
    let versions = described_in_order();
    let mut runs: Vec<Run> = Vec::new();
    for (position, (index, version)) in versions.iter().enumerate() {
        if kestra.is_some_and(|r| !r.matches(version)) {
            continue;
        }
        let Some(route) = route_in(names, *index) else {
            return Err(fail(
                "operation",
                format!(
                    "{} is not in the Kestra {version} description; restrict the request with `kestra:` or give `method` and `path`",
                    names.join(" / ")
                ),
            ));
        };
        let next = versions.get(position + 1).map(|(_, v)| v.clone());
        match runs.last_mut() {
            // Extends the run of the previous version when the route is the same.
            Some(run) if run.route == route && run.until.as_ref() == Some(version) => run.until = next,
            _ => runs.push(Run {
                route,
                from: version.clone(),
                until: next,
                first: position == 0,
            }),
        }
    }
    if runs.is_empty() {
        return Err(fail(
            "kestra",
            format!(
                "the range fits none of the described Kestra versions ({}), so `operation` implies no route; give `method` and `path`",
                DESCRIBED.join(", ")
            ),
        ));
    }
    Ok(runs)
}

/// The spec-style path of `route`: each `{param}` replaced by its `params` template or by
/// `{{ snake_case_argument }}`; a parameter bound by neither is an error.
fn bind_params(
    spec: &RequestSpec,
    names: &[String],
    route: &Route,
    arguments: &BTreeSet<String>,
) -> Result<String, FieldError> {
    let mut segments = Vec::new();
    for segment in route.path.split('/') {
        let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            segments.push(segment.to_owned());
            continue;
        };
        let argument = snake_case(param);
        let bound = match spec.params.get(param) {
            Some(template) => template.clone(),
            None if arguments.contains(&argument) => format!("{{{{ {argument} }}}}"),
            None => {
                return Err(fail(
                    &format!("params.{param}"),
                    format!(
                        "path parameter `{param}` of {} ({}) is bound neither by `params.{param}` nor by an argument `{argument}` in `input.properties`",
                        names.join(" / "),
                        route.shown()
                    ),
                ));
            }
        };
        segments.push(bound);
    }
    Ok(segments.join("/"))
}

fn check_params_exist(spec: &RequestSpec, names: &[String], route: &Route) -> Result<(), FieldError> {
    for name in spec.params.keys() {
        if !route.params().any(|p| p == name) {
            let known: Vec<&str> = route.params().collect();
            return Err(fail(
                &format!("params.{name}"),
                format!(
                    "{} ({}) has no path parameter `{name}` (it has: {})",
                    names.join(" / "),
                    route.shown(),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn check_scope(spec: &RequestSpec, names: &[String], target: &Target) -> Result<(), FieldError> {
    match spec.scope {
        Some(scope) if scope != target.scope => Err(fail(
            "scope",
            format!(
                "{} is served at the {} root, not the one `scope` names; drop `scope`",
                names.join(" / "),
                scope_name(target.scope)
            ),
        )),
        _ => Ok(()),
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Tenant => "tenant",
        Scope::Instance => "instance",
    }
}

/// How a written method/path compares with the route its operation has in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audit {
    /// The operation is in no description the request is for: nothing to compare.
    Unknown,
    /// Exactly the table's route on every described version the request is for.
    Implied,
    /// Another route than the table's (on the version named in the message).
    Disagrees(String),
}

/// Compares a written `target` (for the versions `kestra` allows) with the route of
/// `operations` in the table. Paths compare by shape: `{{ anything }}` and `{param}` are
/// both one variable segment.
pub fn audit(operations: &[String], target: &Target, kestra: Option<&VersionReq>) -> Audit {
    let mut verdict = Audit::Unknown;
    for (index, version) in described_in_order() {
        if kestra.is_some_and(|r| !r.matches(&version)) {
            continue;
        }
        let Some(route) = route_in(operations, index) else {
            continue;
        };
        let same = route.method == target.method
            && route.scope == target.scope
            && shape(route.path) == shape(&target.path);
        if !same {
            return Audit::Disagrees(format!(
                "{} is {} in the Kestra {version} description, but the request says {} {}{}",
                operations.join(" / "),
                route.shown(),
                target.method.as_str(),
                target.path,
                match target.scope {
                    Scope::Tenant => "",
                    Scope::Instance => " (instance)",
                }
            ));
        }
        verdict = Audit::Implied;
    }
    verdict
}

/// A path with every variable segment as `{}`.
fn shape(path: &str) -> Vec<String> {
    path.split('/')
        .map(|segment| {
            let variable = (segment.starts_with("{{") && segment.ends_with("}}"))
                || (segment.starts_with('{') && segment.ends_with('}'));
            match variable {
                true => "{}".to_owned(),
                false => segment.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::KNOWN_KESTRA_VERSIONS;

    fn spec(yaml: &str) -> RequestSpec {
        yaml_serde::from_str(yaml).unwrap()
    }

    fn args(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn resolved(yaml: &str, arguments: &[&str]) -> Result<Vec<(Option<String>, Target)>, FieldError> {
        let spec = spec(yaml);
        let kestra = spec.kestra.as_deref().map(|k| VersionReq::parse(k).unwrap());
        Ok(resolve(&spec, kestra.as_ref(), &args(arguments))?
            .into_iter()
            .map(|(range, target)| (range.map(|r| r.to_string()), target))
            .collect())
    }

    #[test]
    fn the_table_describes_every_known_version_and_is_sorted() {
        assert_eq!(described_versions(), KNOWN_KESTRA_VERSIONS);
        assert!(OPERATIONS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(OPERATIONS.len() > 500, "{}", OPERATIONS.len());
    }

    #[test]
    fn lookup_gives_method_scope_and_path_per_version() {
        let kill = routes("killExecution").unwrap();
        assert_eq!(
            kill,
            &[
                Some(Route::new(
                    Method::Delete,
                    Scope::Tenant,
                    "/executions/{executionId}/kill"
                )),
                Some(Route::new(
                    Method::Delete,
                    Scope::Tenant,
                    "/executions/{executionId}/actions/kill"
                )),
            ]
        );
        assert_eq!(kill[0].unwrap().params().collect::<Vec<_>>(), ["executionId"]);
        let configs = routes("getConfiguration").unwrap();
        assert_eq!(
            configs[1],
            Some(Route::new(Method::Get, Scope::Instance, "/configs"))
        );
        assert_eq!(routes("execution").unwrap()[1], None, "1.3's name only");
        // Missing from the 1.3 description; the overlay adds it (logs-follow-exists-in-1.3).
        let follow = Some(Route::new(
            Method::Get,
            Scope::Tenant,
            "/logs/{executionId}/follow",
        ));
        assert_eq!(routes("followLogsFromExecution").unwrap(), &[follow, follow]);
        assert!(routes("noSuchOperation").is_none());
    }

    #[test]
    fn path_parameters_bind_to_snake_case_arguments() {
        assert_eq!(snake_case("executionId"), "execution_id");
        assert_eq!(snake_case("taskRunId"), "task_run_id");
        assert_eq!(snake_case("key"), "key");
        let targets = resolved(
            "operation: [flow, getFlow]\nquery: {source: 'false'}",
            &["namespace", "id"],
        )
        .unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].0, None, "same route on every version: no range");
        assert_eq!(targets[0].1.path, "/flows/{{ namespace }}/{{ id }}");
        assert_eq!(targets[0].1.method, Method::Get);
        assert!(!targets[0].1.written);
    }

    #[test]
    fn params_bind_what_no_argument_does() {
        let targets = resolved(
            "operation: [execution, getExecution]\nparams: {executionId: '{{ steps.target.id }}'}",
            &[],
        )
        .unwrap();
        assert_eq!(targets[0].1.path, "/executions/{{ steps.target.id }}");
        let err = resolved(
            "operation: [execution, getExecution]\nparams: {id: x}",
            &["execution_id"],
        )
        .unwrap_err();
        assert_eq!(err.field, "params.id");
        assert!(
            err.message
                .contains("no path parameter `id` (it has: executionId)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_unbound_parameter_is_an_error_naming_it() {
        let err = resolved("operation: killExecution", &["id"]).unwrap_err();
        assert_eq!(err.field, "params.executionId");
        assert!(
            err.message.contains(
                "path parameter `executionId` of killExecution (DELETE /executions/{executionId}/kill) is bound neither by `params.executionId` nor by an argument `execution_id`"
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_unknown_operation_suggests_the_nearest_names() {
        let err = resolved("operation: killExecutoin", &["execution_id"]).unwrap_err();
        assert_eq!(err.field, "operation");
        assert!(
            err.message.contains("unknown operation 'killExecutoin'"),
            "{}",
            err.message
        );
        assert!(err.message.contains("nearest: killExecution"), "{}", err.message);
    }

    #[test]
    fn a_route_that_moved_splits_by_version_within_the_requests_range() {
        let targets = resolved("operation: pauseExecution", &["execution_id"]).unwrap();
        let shown: Vec<(Option<String>, String)> =
            targets.iter().map(|(r, t)| (r.clone(), t.path.clone())).collect();
        assert_eq!(
            shown,
            [
                (
                    Some("<2.0".to_owned()),
                    "/executions/{{ execution_id }}/pause".to_owned()
                ),
                (
                    Some(">=2.0".to_owned()),
                    "/executions/{{ execution_id }}/actions/pause".to_owned()
                ),
            ]
        );
        let only_new = resolved("kestra: '>=2.0'\noperation: pauseExecution", &["execution_id"]).unwrap();
        assert_eq!(only_new.len(), 1);
        assert_eq!(only_new[0].0.as_deref(), Some(">=2.0"));
        assert_eq!(only_new[0].1.path, "/executions/{{ execution_id }}/actions/pause");
    }

    #[test]
    fn an_operation_missing_from_a_version_the_request_is_for_is_an_error() {
        let err = resolved("operation: execution", &["execution_id"]).unwrap_err();
        assert!(
            err.message.contains("not in the Kestra 2.0.0 description"),
            "{}",
            err.message
        );
        assert!(resolved("kestra: '<2.0'\noperation: execution", &["execution_id"]).is_ok());
    }

    #[test]
    fn half_a_written_route_or_a_wrong_scope_is_refused() {
        assert_eq!(
            resolved("operation: [flow, getFlow]\nmethod: GET", &[])
                .unwrap_err()
                .field,
            "path"
        );
        let err = resolved("operation: [configuration, getConfiguration]\nscope: tenant", &[]).unwrap_err();
        assert_eq!(err.field, "scope");
        assert!(
            resolved(
                "operation: [configuration, getConfiguration]\nscope: instance",
                &[]
            )
            .is_ok()
        );
    }

    /// The paths an operation implies get the same one-segment encoding as written ones: no
    /// argument (nor a `params` template fed by one) can climb or add a segment.
    #[test]
    fn operation_derived_paths_encode_values_as_single_segments() {
        use crate::render::{Templates, context};
        use crate::request::RequestTemplate;
        let kill = spec("operation: killExecution\nparams: {}\n");
        let via_params =
            spec("operation: [execution, getExecution]\nparams: {executionId: '{{ steps.target.id }}'}\n");
        let allowed = args(&["execution_id", "steps"]);
        let mut templates = Templates::new();
        let mut compiled = Vec::new();
        for request in [&kill, &via_params] {
            for (_, target) in resolve(request, None, &args(&["execution_id"])).unwrap() {
                compiled.push(RequestTemplate::compile(request, &target, &mut templates, &allowed).unwrap());
            }
        }
        assert_eq!(compiled.len(), 3, "kill splits by version, get does not");
        let with =
            |value: &str| serde_json::json!({"execution_id": value, "steps": {"target": {"id": value}}});
        for template in &compiled {
            let ok = template.render(&templates, &context(&with("a b?#"))).unwrap();
            assert!(ok.path.starts_with("/executions/a%20b%3F%23"), "{}", ok.path);
            for hostile in ["..", ".", "", "a/b", "%2e%2e", "..%2F", "%252e%252e", "a\\b"] {
                assert!(
                    template.render(&templates, &context(&with(hostile))).is_err(),
                    "{hostile:?} was sent in {}",
                    template.path_source
                );
            }
        }
    }

    #[test]
    fn a_written_route_is_implied_redundant_or_disagrees() {
        let target = |method, path: &str| Target {
            method,
            scope: Scope::Tenant,
            path: path.to_owned(),
            written: true,
        };
        let ops = vec!["pauseExecution".to_owned()];
        let old = VersionReq::parse("<2.0").unwrap();
        let new = VersionReq::parse(">=2.0").unwrap();
        let pause = target(Method::Post, "/executions/{{ execution_id }}/pause");
        assert_eq!(audit(&ops, &pause, Some(&old)), Audit::Implied);
        let Audit::Disagrees(message) = audit(&ops, &pause, Some(&new)) else {
            panic!("the 1.x path on 2.0 agrees")
        };
        assert!(
            message
                .contains("is POST /executions/{executionId}/actions/pause in the Kestra 2.0.0 description"),
            "{message}"
        );
        assert!(matches!(audit(&ops, &pause, None), Audit::Disagrees(_)));
        let custom = vec!["notAnOperation".to_owned()];
        assert_eq!(audit(&custom, &pause, None), Audit::Unknown);
    }
}
