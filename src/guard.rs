//! Namespace guardrails (`KESTRA_MCP_NAMESPACES`, and over HTTP a session's `X-MCP-Namespaces`):
//! where a rendered request is in Kestra's namespaces, whether a policy allows it, and which
//! items of a listing's answer are left out. The exchange point (`exchange.rs`) calls it for
//! every request; no spec says anything about it.
//!
//! A request is placed from what it names, never from the tool that sent it:
//! - its path, matched against the operations table (`spec::operations::all_routes`): a
//!   `{namespace}` parameter, the `{id}` of `/namespaces/{id}...`, an `{executionId}` and an
//!   app's `{uid}` (whose namespace the exchange point asks Kestra: `GET /executions/{id}`,
//!   `GET /apps/{uid}`); a dashboard belongs to no namespace (Kestra's `Dashboard` has none), so
//!   a dashboard by id cannot be placed and is refused;
//! - its query: `namespace`, `filters[namespace][EQUALS|IN]` (namespaces), and
//!   `filters[namespace][PREFIX|STARTS_WITH]`, `prefix` (prefixes some allowed namespace must
//!   start with);
//! - its body: a YAML body's top-level `namespace` (flows, tests, apps), and, when the path
//!   names no namespace, a JSON body's `namespace` (an object, or each object of an array) and
//!   the execution ids of a `by-ids` request under `/executions`.
//!
//! What names nothing is either namespace-free and harmless ([`FREE`]), a listing (a GET of a
//! route without path parameters: sent, and every item of its answer outside the policy is
//! left out, said in the result), or refused: the guard denies what it cannot place.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value;

use crate::request::{RenderedBody, RenderedRequest};
use crate::spec::operations::{self, Route};
use crate::spec::raw::{Method, Scope};

/// The setting, as messages name it.
pub const SETTING: &str = "KESTRA_MCP_NAMESPACES";
/// The per-session header over HTTP (GitHub's MCP server names its own `X-MCP-*`).
pub const HEADER: &str = "X-MCP-Namespaces";

/// Requests that name no namespace and are let through whatever the policy: Kestra's own
/// settings and plugin documentation, and AI generation (it returns text; creating what it
/// generated is a request of its own, checked like any other). Paths under the scope's root;
/// `*` is one segment, a trailing `**` any number of them.
pub const FREE: &[(Method, &str)] = &[
    (Method::Get, "/configs"),
    (Method::Get, "/license-info"),
    (Method::Get, "/plugins/**"),
    (Method::Post, "/ai/generate/*"),
];

/// The searches that take Kestra's `filters[namespace][...]` query filter (1.3 and 2.0, from
/// the recorded pairs): without a namespace filter of their own, the guard adds one when a
/// policy is a single pattern, so that Kestra's pages hold what the policy allows.
pub const FILTERED_SEARCHES: &[&str] = &["/flows/search", "/executions/search", "/logs/search", "/kv"];

/// One allowed name or tree of names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `company.team`: that namespace only.
    Exact(String),
    /// `company.*`: `company` itself and every namespace under it (`company.team.x`), not
    /// `companyx`.
    Tree(String),
    /// `*`: every namespace.
    Any,
}

impl Pattern {
    fn parse(text: &str) -> Result<Pattern, String> {
        if text == "*" {
            return Ok(Pattern::Any);
        }
        let (base, tree) = match text.strip_suffix(".*") {
            Some(base) => (base, true),
            None => (text, false),
        };
        let valid_segment = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !base.split('.').all(valid_segment) {
            return Err(format!(
                "'{text}' is not a namespace or a 'prefix.*' pattern (dot-separated names of letters, digits, '_' and '-')"
            ));
        }
        Ok(match tree {
            true => Pattern::Tree(base.to_owned()),
            false => Pattern::Exact(base.to_owned()),
        })
    }

    fn allows(&self, namespace: &str) -> bool {
        match self {
            Pattern::Exact(name) => namespace == name,
            Pattern::Tree(base) => in_tree(base, namespace),
            Pattern::Any => true,
        }
    }

    /// Whether some namespace this pattern allows starts with `prefix`.
    fn meets_prefix(&self, prefix: &str) -> bool {
        match self {
            Pattern::Exact(name) => name.starts_with(prefix),
            Pattern::Tree(base) => base.starts_with(prefix) || in_tree(base, prefix),
            Pattern::Any => true,
        }
    }

    fn shown(&self) -> String {
        match self {
            Pattern::Exact(name) => name.clone(),
            Pattern::Tree(base) => format!("{base}.*"),
            Pattern::Any => "*".to_owned(),
        }
    }
}

/// Whether `namespace` is `base` or under it.
fn in_tree(base: &str, namespace: &str) -> bool {
    namespace == base
        || namespace
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// A namespace policy: the patterns of `KESTRA_MCP_NAMESPACES` (or of a session's header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    patterns: Vec<Pattern>,
    /// Where the policy comes from, as refusals name it.
    source: &'static str,
}

impl Namespaces {
    /// From a comma-separated list (trimmed; empty entries skipped). `None` when the list
    /// names nothing: no policy.
    pub fn parse(list: &str, source: &'static str) -> Result<Option<Namespaces>, String> {
        let patterns = list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Pattern::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((!patterns.is_empty()).then_some(Namespaces { patterns, source }))
    }

    /// A policy that allows no namespace at all (what an unreadable session header narrows to).
    pub fn nothing(source: &'static str) -> Namespaces {
        Namespaces {
            patterns: Vec::new(),
            source,
        }
    }

    /// Whether `namespace` is allowed.
    pub fn allows(&self, namespace: &str) -> bool {
        self.patterns.iter().any(|p| p.allows(namespace))
    }

    /// Whether some allowed namespace starts with `prefix`.
    pub fn meets_prefix(&self, prefix: &str) -> bool {
        self.patterns.iter().any(|p| p.meets_prefix(prefix))
    }

    /// The patterns of `narrower` that this policy does not cover (a session header naming
    /// them would widen the server's setting), as written.
    pub fn not_covered(&self, narrower: &Namespaces) -> Vec<String> {
        narrower
            .patterns
            .iter()
            .filter(|p| !self.covers(p))
            .map(Pattern::shown)
            .collect()
    }

    fn covers(&self, pattern: &Pattern) -> bool {
        match pattern {
            Pattern::Exact(name) => self.allows(name),
            Pattern::Tree(base) => self.patterns.iter().any(|mine| match mine {
                Pattern::Any => true,
                Pattern::Tree(root) => in_tree(root, base),
                Pattern::Exact(_) => false,
            }),
            Pattern::Any => self.patterns.contains(&Pattern::Any),
        }
    }

    /// The patterns, comma-separated.
    pub fn shown(&self) -> String {
        self.patterns
            .iter()
            .map(Pattern::shown)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Why a request naming `namespace` is refused.
    pub fn refusal(&self, what: &str, namespace: &str) -> String {
        format!(
            "refused: {what} is in namespace '{namespace}', outside {}={}; nothing was sent for it",
            self.source,
            self.shown()
        )
    }

    /// Why a request filtering on `prefix` is refused.
    fn prefix_refusal(&self, what: &str, prefix: &str) -> String {
        format!(
            "refused: {what} asks for namespaces starting with '{prefix}', none of which {}={} allows; nothing was sent",
            self.source,
            self.shown()
        )
    }
}

/// The query filter that narrows a search of [`FILTERED_SEARCHES`] to `policies`, when the
/// request has no namespace filter and one of the policies is a single name or tree.
pub fn search_filter(request: &RenderedRequest, policies: &[&Namespaces]) -> Option<(String, String)> {
    let path = request.path.split(['?', '#']).next().unwrap_or_default();
    let filters_namespace = request.query.iter().any(|(key, value)| {
        !value.is_empty() && (key == "namespace" || key.starts_with("filters[namespace]"))
    });
    if request.method != Method::Get || !FILTERED_SEARCHES.contains(&path) || filters_namespace {
        return None;
    }
    policies
        .iter()
        .find_map(|policy| match policy.patterns.as_slice() {
            [Pattern::Exact(name)] => Some(("filters[namespace][EQUALS]".to_owned(), name.clone())),
            [Pattern::Tree(base)] => Some(("filters[namespace][PREFIX]".to_owned(), base.clone())),
            _ => None,
        })
}

/// Where a request is, as far as it says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The namespaces it names (path, query, body); each must be allowed.
    pub namespaces: Vec<String>,
    /// Prefixes it filters on; each must be met by some allowed namespace.
    pub prefixes: Vec<String>,
    /// Execution ids it names; each execution's namespace must be allowed (asked of Kestra).
    pub executions: Vec<String>,
    /// App uids it names (`/apps/{uid}...`); each app's namespace must be allowed (asked of
    /// Kestra).
    pub apps: Vec<String>,
    /// A YAML body whose namespace cannot be read.
    pub unreadable_body: bool,
    /// Whether its answer is a listing whose items are checked one by one.
    pub listing: bool,
    /// Whether it is on the [`FREE`] list.
    pub free: bool,
}

impl Placement {
    /// Whether the request names nothing the guard can check, is not free and is not a
    /// listing: it is refused.
    pub fn unplaced(&self) -> bool {
        self.namespaces.is_empty()
            && self.executions.is_empty()
            && self.apps.is_empty()
            && self.prefixes.is_empty()
            && !self.listing
            && !self.free
    }
}

/// Where `request` is.
pub fn place(request: &RenderedRequest) -> Placement {
    let path = request.path.split(['?', '#']).next().unwrap_or_default();
    let mut placement = Placement {
        free: FREE
            .iter()
            .any(|(method, pattern)| *method == request.method && pattern_matches(pattern, path)),
        ..Placement::default()
    };
    let route = best_route(request.method, request.scope, path);
    let path_names_namespace = route.as_ref().is_some_and(|(route, bound)| {
        place_path(route, bound, &mut placement);
        !placement.namespaces.is_empty()
    });
    place_query(&request.query, &mut placement);
    place_body(&request.body, path, path_names_namespace, &mut placement);
    placement.listing = request.method == Method::Get
        && !placement.free
        && route
            .as_ref()
            .is_some_and(|(route, _)| route.params().next().is_none());
    placement
}

/// Whether `path` matches `pattern` (`*` one segment, a trailing `**` the rest).
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut given = path.trim_matches('/').split('/');
    for wanted in pattern.trim_matches('/').split('/') {
        if wanted == "**" {
            return true;
        }
        match given.next() {
            Some(segment) if wanted == "*" || wanted == segment => {}
            _ => return false,
        }
    }
    given.next().is_none()
}

/// Whether `request` starts an execution of a flow (Kestra's `createExecution`: the route it
/// matches best in the operations table).
pub fn starts_execution(request: &RenderedRequest) -> bool {
    best_route(request.method, request.scope, &request.path).is_some_and(|(route, _)| {
        route.method == Method::Post && route.path == "/executions/{namespace}/{id}"
    })
}

/// Every route of the table, once.
fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(operations::all_routes)
}

/// The route `path` matches best (the most literal segments), with its path parameters bound
/// to the decoded segments.
fn best_route(method: Method, scope: Scope, path: &str) -> Option<(Route, Vec<(&'static str, String)>)> {
    let given: Vec<&str> = path.trim_matches('/').split('/').collect();
    routes()
        .iter()
        .filter(|r| r.method == method && r.scope == scope)
        .filter_map(|route| {
            let wanted: Vec<&str> = route.path.trim_matches('/').split('/').collect();
            if wanted.len() != given.len() {
                return None;
            }
            let mut bound = Vec::new();
            let mut literal = 0;
            for (w, g) in wanted.iter().zip(&given) {
                match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some(name) => bound.push((name, decode(g))),
                    None if w == g => literal += 1,
                    None => return None,
                }
            }
            Some((literal, *route, bound))
        })
        .max_by_key(|(literal, _, _)| *literal)
        .map(|(_, route, bound)| (route, bound))
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn place_path(route: &Route, bound: &[(&'static str, String)], placement: &mut Placement) {
    let under_namespaces = route.path.starts_with("/namespaces/{id}");
    let an_app = route.path.starts_with("/apps/{uid}");
    for (name, value) in bound {
        match *name {
            "namespace" => placement.namespaces.push(value.clone()),
            "id" if under_namespaces => placement.namespaces.push(value.clone()),
            "executionId" => placement.executions.push(value.clone()),
            "uid" if an_app => placement.apps.push(value.clone()),
            _ => {}
        }
    }
}

fn place_query(query: &[(String, String)], placement: &mut Placement) {
    // An empty value filters on nothing (Kestra ignores it).
    for (key, value) in query.iter().filter(|(_, value)| !value.is_empty()) {
        let key = key.as_str();
        if key == "namespace" {
            placement.namespaces.push(value.clone());
        } else if key == "prefix" {
            placement.prefixes.push(value.clone());
        } else if let Some(operation) = key.strip_prefix("filters[namespace][") {
            let operation = operation.split(']').next().unwrap_or_default();
            match operation {
                "EQUALS" => placement.namespaces.push(value.clone()),
                "IN" => placement
                    .namespaces
                    .extend(value.split(',').map(str::trim).map(str::to_owned)),
                "PREFIX" | "STARTS_WITH" => placement.prefixes.push(value.clone()),
                // NOT_EQUALS, CONTAINS, REGEX...: they do not narrow; the answer is checked.
                _ => {}
            }
        }
    }
}

fn place_body(body: &RenderedBody, path: &str, path_names_namespace: bool, placement: &mut Placement) {
    match body {
        RenderedBody::Text { content_type, text } if content_type.contains("yaml") => {
            match yaml_serde::from_str::<Value>(text) {
                Ok(Value::Object(document)) => match document.get("namespace").and_then(Value::as_str) {
                    Some(namespace) => placement.namespaces.push(namespace.to_owned()),
                    None => placement.unreadable_body = true,
                },
                _ => placement.unreadable_body = true,
            }
        }
        RenderedBody::Json(json) if !path_names_namespace => {
            let by_ids = path.starts_with("/executions/") && path.split('/').any(|s| s == "by-ids");
            let items: Vec<&Value> = match json {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                match item {
                    Value::String(id) if by_ids => placement.executions.push(id.clone()),
                    Value::Object(object) => {
                        if let Some(namespace) = object.get("namespace").and_then(Value::as_str) {
                            placement.namespaces.push(namespace.to_owned());
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// The first reason `policy` refuses `placement` of a request shown as `what` (`GET /flows`),
/// leaving the executions and apps to the caller.
pub fn refusal(policy: &Namespaces, placement: &Placement, what: &str) -> Option<String> {
    if let Some(namespace) = placement.namespaces.iter().find(|n| !policy.allows(n)) {
        return Some(policy.refusal(what, namespace));
    }
    if let Some(prefix) = placement.prefixes.iter().find(|p| !policy.meets_prefix(p)) {
        return Some(policy.prefix_refusal(what, prefix));
    }
    if placement.unreadable_body {
        return Some(format!(
            "refused: {what} sends a YAML definition whose namespace cannot be read, and {}={} is set",
            policy.source,
            policy.shown()
        ));
    }
    if placement.unplaced() {
        return Some(format!(
            "refused: {what} names no namespace the server can check, and {}={} is set (the guard refuses what it cannot place; see docs/security.md)",
            policy.source,
            policy.shown()
        ));
    }
    None
}

/// The namespace an item of a listing is in: its `namespace` (or its `model`'s, as source
/// searches answer), the `id` of a namespace (listings under `/namespaces`), or the item
/// itself when it is a name (distinct namespaces).
fn item_namespace(item: &Value, lists_namespaces: bool) -> Option<&str> {
    match item {
        Value::String(name) => Some(name),
        Value::Object(object) => object
            .get("namespace")
            .or_else(|| object.get("model").and_then(|model| model.get("namespace")))
            .and_then(Value::as_str)
            .or_else(|| {
                lists_namespaces
                    .then(|| object.get("id").and_then(Value::as_str))
                    .flatten()
            }),
        _ => None,
    }
}

/// What a listing's answer became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filtered {
    /// Nothing was left out.
    Kept,
    /// Items outside the policies (or whose namespace cannot be told) were left out.
    LeftOut(usize),
    /// The answer is not a list the guard can check.
    NotAList,
}

/// Leaves out of `body` (a JSON list, or an object with a `results` list) the items no
/// policy of `policies` allows all of; items whose namespace cannot be told are left out too.
pub fn filter_listing(body: &mut Value, path: &str, policies: &[&Namespaces]) -> Filtered {
    let lists_namespaces = path.starts_with("/namespaces") || path.ends_with("distinct-namespaces");
    let items = match body {
        Value::Array(items) => items,
        Value::Object(object) => match object.get_mut("results") {
            Some(Value::Array(items)) => items,
            _ => return Filtered::NotAList,
        },
        _ => return Filtered::NotAList,
    };
    let before = items.len();
    items.retain(|item| {
        item_namespace(item, lists_namespaces).is_some_and(|n| policies.iter().all(|p| p.allows(n)))
    });
    let left_out = before - items.len();
    // A count Kestra gave would no longer match the list: say how many are shown.
    if left_out > 0
        && let Value::Object(object) = body
        && let Some(total) = object.get_mut("total")
    {
        *total = Value::from(before - left_out);
    }
    match left_out {
        0 => Filtered::Kept,
        n => Filtered::LeftOut(n),
    }
}

/// The note a result carries when a listing lost items.
pub fn left_out_note(count: usize, policies: &[&Namespaces]) -> String {
    let settings: BTreeSet<String> = policies
        .iter()
        .map(|p| format!("{}={}", p.source, p.shown()))
        .collect();
    format!(
        "{count} item(s) outside the allowed namespaces were left out ({})",
        settings.into_iter().collect::<Vec<_>>().join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(list: &str) -> Namespaces {
        Namespaces::parse(list, SETTING).unwrap().unwrap()
    }

    fn get(path: &str, query: &[(&str, &str)]) -> RenderedRequest {
        RenderedRequest::get(Scope::Tenant, path, query)
    }

    #[test]
    fn patterns_are_exact_names_or_trees_that_include_their_root() {
        let p = policy(" company.team , prod.* ");
        assert!(p.allows("company.team"));
        assert!(!p.allows("company.team.sub") && !p.allows("company") && !p.allows("company.teamx"));
        assert!(p.allows("prod") && p.allows("prod.a") && p.allows("prod.a.b"));
        assert!(!p.allows("production") && !p.allows("pro"));
        assert!(policy("*").allows("anything.at.all"));
        assert_eq!(Namespaces::parse(" , ", SETTING).unwrap(), None);
        for bad in ["a..b", "a.*.b", "a/b", "a b", "*.a", "a.*x"] {
            assert!(Namespaces::parse(bad, SETTING).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_must_be_met_by_some_allowed_namespace() {
        let p = policy("company.team,prod.*");
        for ok in ["company", "company.t", "prod", "pro", "prod.a.b", ""] {
            assert!(p.meets_prefix(ok), "{ok}");
        }
        for bad in ["other", "company.other", "company.team.", "production"] {
            assert!(!p.meets_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn a_narrower_policy_is_covered_and_a_wider_one_is_named() {
        let server = policy("company.*,ops.main");
        let session = policy("company.team,company.a.*,ops.main");
        assert!(server.not_covered(&session).is_empty());
        let wider = policy("company.team,ops.*,*,other");
        assert_eq!(server.not_covered(&wider), vec!["ops.*", "*", "other"]);
    }

    #[test]
    fn requests_are_placed_from_path_query_and_body() {
        let placed = place(&get("/flows/company.team/hello", &[]));
        assert_eq!(placed.namespaces, vec!["company.team"]);
        assert!(!placed.listing);
        let placed = place(&get("/namespaces/company.team/kv/k", &[]));
        assert_eq!(placed.namespaces, vec!["company.team"]);
        let placed = place(&get("/executions/5Xn1sY", &[]));
        assert_eq!(placed.executions, vec!["5Xn1sY"]);
        let placed = place(&get("/logs/5Xn1sY/download", &[]));
        assert_eq!(placed.executions, vec!["5Xn1sY"]);
        // An app by uid is looked up; a dashboard by id has no namespace to look up.
        let mut enable = get("/apps/u1/enable", &[]);
        enable.method = Method::Post;
        assert_eq!(place(&enable).apps, vec!["u1"]);
        assert_eq!(place(&get("/apps/u1", &[])).apps, vec!["u1"]);
        let search = place(&get("/apps/search", &[]));
        assert!(search.apps.is_empty() && search.listing);
        assert!(place(&get("/dashboards/d1", &[])).unplaced());
        let placed = place(&get(
            "/executions/search",
            &[
                ("filters[namespace][EQUALS]", "a.b"),
                ("filters[namespace][PREFIX]", "c"),
            ],
        ));
        assert_eq!(
            (placed.namespaces, placed.prefixes),
            (vec!["a.b".to_owned()], vec!["c".to_owned()])
        );
        assert!(placed.executions.is_empty() && placed.listing);
        let placed = place(&get("/flows/search", &[("filters[namespace][EQUALS]", "")]));
        assert!(
            placed.namespaces.is_empty() && placed.listing,
            "an empty filter names nothing"
        );
        let placed = place(&get("/flows/search", &[("namespace", "x%2Fy")]));
        assert_eq!(placed.namespaces, vec!["x%2Fy"]);
        let placed = place(&get("/flows/company%2Eteam/hello", &[]));
        assert_eq!(
            placed.namespaces,
            vec!["company.team"],
            "path segments are decoded"
        );

        let mut create = get("/flows", &[]);
        create.method = Method::Post;
        create.body = RenderedBody::Text {
            content_type: "application/x-yaml".into(),
            text: "id: f\nnamespace: other.team\ntasks: []\n".into(),
        };
        assert_eq!(place(&create).namespaces, vec!["other.team"]);
        create.body = RenderedBody::Text {
            content_type: "application/x-yaml".into(),
            text: "id: f\n tasks: [".into(),
        };
        assert!(place(&create).unreadable_body);

        let mut by_ids = get("/flows/disable/by-ids", &[]);
        by_ids.method = Method::Post;
        by_ids.body =
            RenderedBody::Json(json!([{"namespace": "a", "id": "f"}, {"namespace": "b", "id": "g"}]));
        assert_eq!(place(&by_ids).namespaces, vec!["a", "b"]);
        let mut replay = get("/executions/replay/by-ids", &[]);
        replay.method = Method::Post;
        replay.body = RenderedBody::Json(json!(["e1", "e2"]));
        assert_eq!(place(&replay).executions, vec!["e1", "e2"]);

        // A KV value is content, not a placement: the path's namespace is the one that counts.
        let mut kv = get("/namespaces/a/kv/k", &[]);
        kv.method = Method::Put;
        kv.body = RenderedBody::Json(json!({"namespace": "b"}));
        assert_eq!(place(&kv).namespaces, vec!["a"]);
    }

    #[test]
    fn what_names_nothing_is_free_a_listing_or_unplaced() {
        assert!(place(&get("/configs", &[])).free);
        assert!(place(&get("/plugins/io.kestra.core.tasks.log.Log", &[])).free);
        let mut ai = get("/ai/generate/flow", &[]);
        ai.method = Method::Post;
        assert!(place(&ai).free);
        assert!(place(&get("/flows/distinct-namespaces", &[])).listing);
        assert!(place(&get("/namespaces/search", &[])).listing);
        let group = place(&get("/groups/g1", &[]));
        assert!(group.unplaced(), "{group:?}");
        let mut banner = get("/banners", &[]);
        banner.method = Method::Post;
        banner.scope = Scope::Instance;
        assert!(place(&banner).unplaced());
        assert!(place(&get("/no/such/route", &[])).unplaced());
    }

    #[test]
    fn refusals_name_the_setting_and_the_namespace() {
        let p = policy("company.*");
        let what = "GET /flows/other/f";
        let message = refusal(&p, &place(&get("/flows/other/f", &[])), what).unwrap();
        assert_eq!(
            message,
            "refused: GET /flows/other/f is in namespace 'other', outside KESTRA_MCP_NAMESPACES=company.*; nothing was sent for it"
        );
        assert!(refusal(&p, &place(&get("/flows/company.a/f", &[])), what).is_none());
        let prefix = place(&get("/flows/search", &[("filters[namespace][PREFIX]", "oth")]));
        assert!(
            refusal(&p, &prefix, what)
                .unwrap()
                .contains("starting with 'oth'")
        );
        let unplaced = refusal(&p, &place(&get("/groups/g1", &[])), "GET /groups/g1").unwrap();
        assert!(
            unplaced.contains("names no namespace") && unplaced.contains(SETTING),
            "{unplaced}"
        );
        assert!(refusal(&p, &place(&get("/configs", &[])), what).is_none());
    }

    #[test]
    fn searches_get_a_namespace_filter_when_a_policy_is_one_pattern() {
        let search = get("/executions/search", &[("size", "10")]);
        assert_eq!(
            search_filter(&search, &[&policy("company.*")]),
            Some(("filters[namespace][PREFIX]".into(), "company".into()))
        );
        assert_eq!(
            search_filter(&search, &[&policy("a,b"), &policy("a")]),
            Some(("filters[namespace][EQUALS]".into(), "a".into()))
        );
        assert_eq!(search_filter(&search, &[&policy("a,b")]), None);
        assert_eq!(search_filter(&search, &[&policy("*")]), None);
        let filtered = get("/executions/search", &[("filters[namespace][EQUALS]", "a")]);
        assert_eq!(search_filter(&filtered, &[&policy("a")]), None);
        assert_eq!(
            search_filter(&get("/flows/distinct-namespaces", &[]), &[&policy("a")]),
            None
        );
    }

    #[test]
    fn listings_lose_the_items_outside_and_say_how_many() {
        let p = policy("company.*");
        let mut page = json!({"results": [
            {"id": "a", "namespace": "company.x"},
            {"id": "b", "namespace": "other"},
            {"id": "c"},
            {"model": {"id": "d", "namespace": "company"}, "fragments": []},
        ], "total": 4});
        assert_eq!(
            filter_listing(&mut page, "/flows/search", &[&p]),
            Filtered::LeftOut(2)
        );
        assert_eq!(
            page,
            json!({"results": [
                {"id": "a", "namespace": "company.x"},
                {"model": {"id": "d", "namespace": "company"}, "fragments": []},
            ], "total": 2})
        );
        let mut names = json!(["company", "other", "company.b"]);
        assert_eq!(
            filter_listing(&mut names, "/flows/distinct-namespaces", &[&p]),
            Filtered::LeftOut(1)
        );
        assert_eq!(names, json!(["company", "company.b"]));
        let mut namespaces = json!({"results": [{"id": "company"}, {"id": "x"}]});
        assert_eq!(
            filter_listing(&mut namespaces, "/namespaces/search", &[&p]),
            Filtered::LeftOut(1)
        );
        let narrower = policy("company.b");
        let mut both = json!(["company", "company.b"]);
        filter_listing(&mut both, "/flows/distinct-namespaces", &[&p, &narrower]);
        assert_eq!(both, json!(["company.b"]));
        assert_eq!(
            filter_listing(&mut json!({"a": 1}), "/x", &[&p]),
            Filtered::NotAList
        );
        assert_eq!(
            left_out_note(2, &[&p]),
            "2 item(s) outside the allowed namespaces were left out (KESTRA_MCP_NAMESPACES=company.*)"
        );
    }
}
