//! Route tables for the Kestra versions the simulator plays, and a resolver that follows the
//! precedence of Kestra's router (Micronaut 4):
//!
//! 1. candidates are the routes whose template matches the path and whose method matches;
//! 2. when the request carries a `Content-Type`, routes that do not consume it are dropped
//!    (Micronaut filters by `@Consumes`; a route without an explicit `consumes` takes JSON).
//!    This is why a multipart `POST /executions/{id}/pause` reached *createExecution* on a real
//!    0.23 server (recorded pair errors/diff-1.x-shadow-pause-as-create);
//! 3. among what is left, the most specific template wins: fewer path variables first, then
//!    more literal characters (Micronaut's `UriMatchTemplate` ordering).
//!
//! If the path matches but no method does → 405 listing the allowed methods; if methods match
//! but no route consumes the content type → 415; otherwise 404.
//!
//! Path templates come from the OpenAPI descriptions vendored in openapi/
//! (generated from Kestra's controllers, e.g. webserver/src/main/java/io/kestra/webserver/
//! controllers/api/ExecutionController.java): on 1.3 per-execution actions are
//! `/executions/{executionId}/{action}`, on 2.0 `/executions/{executionId}/actions/{action}`.
//! On 2.0, a 1.x-style `POST /executions/{id}/pause` therefore matches
//! `POST /executions/{namespace}/{id}` and starts a flow named `pause`.

use std::collections::HashMap;

use axum::http::Method;

use crate::KestraVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    // flows
    CreateFlow,
    SearchFlows,
    SearchFlowsBySource,
    DistinctNamespaces,
    ValidateFlows,
    BulkFlows,
    EnableFlowsByIds,
    DisableFlowsByIds,
    DeleteFlowsByIds,
    ListFlowsByNamespace,
    GetFlow,
    UpdateFlow,
    DeleteFlow,
    FlowRevisions,
    FlowDependencies,
    // executions
    CreateExecution,
    SearchExecutions,
    ListExecutionsByFlow,
    GetExecution,
    DeleteExecution,
    FollowExecution,
    GetExecutionFlow,
    ResumeByIds,
    ReplayByIds,
    RestartByIds,
    ExecutionGraph,
    KillByIds,
    ChangeStatusByIds,
    LabelsByIds,
    DeleteExecutionsByIds,
    Kill,
    Pause,
    Resume,
    ResumeValidate,
    ValidateExecutionInputs,
    Restart,
    Replay,
    ReplayWithInputs,
    ChangeStatus,
    SetLabels,
    ChangeTaskRunState,
    ForceRun,
    Unqueue,
    // 2.0 only: task run outputs (v2.rs)
    ListOutputs,
    GetOutputs,
    AiProviders,
    // logs
    SearchLogs,
    ListLogs,
    DeleteLogs,
    DownloadLogs,
    FollowLogs,
    DeleteFlowLogs,
    // kv
    ListKv,
    ListAllKv,
    ListKvInheritance,
    GetKv,
    PutKv,
    DeleteKv,
    DeleteKvBulk,
    // namespace files
    GetFile,
    UploadFile,
    MoveFile,
    DeleteFile,
    ListDirectory,
    CreateDirectory,
    FileStats,
    SearchFiles,
    // namespaces
    SearchNamespaces,
    GetNamespace,
    CreateNamespace,
    NamespaceDependencies,
    // triggers
    SearchTriggers,
    TriggersOfFlow,
    UpdateTrigger,
    BackfillCreate,
    BackfillPause,
    BackfillUnpause,
    BackfillDelete,
    SetTriggerDisabled,
    SetDisabledByTriggers,
    UnlockTrigger,
    // EE, tenant-scoped
    CreateGroup,
    SearchGroups,
    GetGroup,
    UpdateGroup,
    DeleteGroup,
    CreateInvitation,
    SearchInvitations,
    InvitationsByEmail,
    GetInvitation,
    DeleteInvitation,
    CreateApp,
    SearchApps,
    GetApp,
    UpdateApp,
    DeleteApp,
    EnableApp,
    DisableApp,
    CreateTest,
    SearchTests,
    GetTest,
    UpdateTest,
    DeleteTest,
    RunTest,
    CreateBinding,
    SearchBindings,
    AiGenerate,
    CreateDashboard,
    GetDashboard,
    // root (no tenant)
    Configs,
    LicenseInfo,
    Me,
    CreateBanner,
    SearchBanners,
    UpdateBanner,
    DeleteBanner,
}

/// (method, template, unused, op, consumes) of a per-execution action route.
type Action = (
    Method,
    &'static str,
    &'static str,
    Op,
    Option<&'static [&'static str]>,
);

#[derive(Debug, Clone)]
enum Seg {
    Lit(&'static str),
    Var(&'static str),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub template: &'static str,
    segs: Vec<Seg>,
    pub op: Op,
    /// Content types the route consumes; `None` = anything (routes whose controller method
    /// takes no body and that we do not want to make stricter than needed).
    pub consumes: Option<&'static [&'static str]>,
    /// Root-level (`/api/v1/...`, no tenant).
    pub root: bool,
}

const JSON: &[&str] = &["application/json"];
const MULTIPART: &[&str] = &["multipart/form-data"];
const YAML: &[&str] = &["application/x-yaml"];
// FlowController keeps a deprecated JSON create route beside the YAML one (recorded pairs
// errors/flow-create-json-flow and errors/flow-create-content-type-json-with-yaml).
const YAML_OR_JSON: &[&str] = &["application/x-yaml", "application/json"];
/// 1.3's deprecated JSON flow route also takes `text/plain` (and fails converting it: recorded-1.3.0
/// errors/flow-create-content-type-text-plain, 422); 2.0 answers 415 (recorded-2.0.0-SNAPSHOT).
const V13_CREATE_FLOW: &[&str] = &["application/x-yaml", "application/json", "text/plain"];
// KVController.setKeyValue consumes text/plain and application/json
// (recorded pair kv/put-wrong-content-type: "Allowed types: [application/json, text/plain]").
const KV_PUT: &[&str] = &["application/json", "text/plain"];

fn route(method: Method, template: &'static str, op: Op, consumes: Option<&'static [&'static str]>) -> Route {
    let segs = template
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Seg::Var(&s[1..s.len() - 1])
            } else {
                Seg::Lit(s)
            }
        })
        .collect();
    Route {
        method,
        template,
        segs,
        op,
        consumes,
        root: false,
    }
}

fn root(method: Method, template: &'static str, op: Op, consumes: Option<&'static [&'static str]>) -> Route {
    let mut r = route(method, template, op, consumes);
    r.root = true;
    r
}

/// The route table of one version. Templates are relative to `/api/v1/{tenant}` (or `/api/v1`
/// for root routes).
pub fn table(v: KestraVersion) -> Vec<Route> {
    use Method as M;
    use Op::*;
    let mut t = vec![
        // FlowController
        route(
            M::POST,
            "/flows",
            CreateFlow,
            Some(match v {
                KestraVersion::V1_3 => V13_CREATE_FLOW,
                KestraVersion::V2_0 => YAML_OR_JSON,
            }),
        ),
        route(M::GET, "/flows/search", SearchFlows, None),
        route(M::GET, "/flows/source", SearchFlowsBySource, None),
        route(M::GET, "/flows/distinct-namespaces", DistinctNamespaces, None),
        route(M::POST, "/flows/validate", ValidateFlows, Some(YAML)),
        route(M::POST, "/flows/bulk", BulkFlows, Some(YAML)),
        route(M::POST, "/flows/enable/by-ids", EnableFlowsByIds, Some(JSON)),
        route(M::POST, "/flows/disable/by-ids", DisableFlowsByIds, Some(JSON)),
        route(M::DELETE, "/flows/delete/by-ids", DeleteFlowsByIds, Some(JSON)),
        route(M::GET, "/flows/{namespace}", ListFlowsByNamespace, None),
        route(M::GET, "/flows/{namespace}/{id}", GetFlow, None),
        route(M::PUT, "/flows/{namespace}/{id}", UpdateFlow, Some(YAML)),
        route(M::DELETE, "/flows/{namespace}/{id}", DeleteFlow, None),
        route(M::GET, "/flows/{namespace}/{id}/revisions", FlowRevisions, None),
        route(
            M::GET,
            "/flows/{namespace}/{id}/dependencies",
            FlowDependencies,
            None,
        ),
        // ExecutionController
        route(
            M::POST,
            "/executions/{namespace}/{id}",
            CreateExecution,
            Some(MULTIPART),
        ),
        route(
            M::POST,
            "/executions/{namespace}/{id}/validate",
            ValidateExecutionInputs,
            Some(MULTIPART),
        ),
        route(M::GET, "/executions/search", SearchExecutions, None),
        route(M::GET, "/executions", ListExecutionsByFlow, None),
        route(M::GET, "/executions/{executionId}", GetExecution, None),
        route(M::DELETE, "/executions/{executionId}", DeleteExecution, None),
        route(M::GET, "/executions/{executionId}/follow", FollowExecution, None),
        route(M::GET, "/executions/{executionId}/flow", GetExecutionFlow, None),
        route(M::GET, "/executions/{executionId}/graph", ExecutionGraph, None),
        route(M::POST, "/executions/resume/by-ids", ResumeByIds, Some(JSON)),
        route(M::POST, "/executions/replay/by-ids", ReplayByIds, Some(JSON)),
        route(M::POST, "/executions/restart/by-ids", RestartByIds, Some(JSON)),
        route(M::DELETE, "/executions/kill/by-ids", KillByIds, Some(JSON)),
        route(
            M::POST,
            "/executions/change-status/by-ids",
            ChangeStatusByIds,
            Some(JSON),
        ),
        route(M::POST, "/executions/labels/by-ids", LabelsByIds, Some(JSON)),
        route(M::DELETE, "/executions/by-ids", DeleteExecutionsByIds, Some(JSON)),
        // LogController
        route(M::GET, "/logs/search", SearchLogs, None),
        route(M::GET, "/logs/{executionId}", ListLogs, None),
        route(M::DELETE, "/logs/{executionId}", DeleteLogs, None),
        route(M::GET, "/logs/{executionId}/download", DownloadLogs, None),
        // The 1.3 spec file lacks /follow, but the OSS LogController declares it
        // (ENDPOINTS.md §2.2); both versions serve it.
        route(M::GET, "/logs/{executionId}/follow", FollowLogs, None),
        route(M::DELETE, "/logs/{namespace}/{flowId}", DeleteFlowLogs, None),
        // KVController
        route(M::GET, "/kv", ListAllKv, None),
        route(
            M::GET,
            "/namespaces/{namespace}/kv/inheritance",
            ListKvInheritance,
            None,
        ),
        route(M::GET, "/namespaces/{namespace}/kv/{key}", GetKv, None),
        route(M::PUT, "/namespaces/{namespace}/kv/{key}", PutKv, Some(KV_PUT)),
        route(M::DELETE, "/namespaces/{namespace}/kv/{key}", DeleteKv, None),
        route(M::DELETE, "/namespaces/{namespace}/kv", DeleteKvBulk, Some(JSON)),
        // NamespaceFileController
        route(M::GET, "/namespaces/{namespace}/files", GetFile, None),
        route(
            M::POST,
            "/namespaces/{namespace}/files",
            UploadFile,
            Some(MULTIPART),
        ),
        route(M::PUT, "/namespaces/{namespace}/files", MoveFile, None),
        route(M::DELETE, "/namespaces/{namespace}/files", DeleteFile, None),
        route(
            M::GET,
            "/namespaces/{namespace}/files/directory",
            ListDirectory,
            None,
        ),
        route(
            M::POST,
            "/namespaces/{namespace}/files/directory",
            CreateDirectory,
            None,
        ),
        route(M::GET, "/namespaces/{namespace}/files/stats", FileStats, None),
        route(M::GET, "/namespaces/{namespace}/files/search", SearchFiles, None),
        // NamespaceController
        route(M::GET, "/namespaces/search", SearchNamespaces, None),
        route(M::GET, "/namespaces/{id}", GetNamespace, None),
        route(M::POST, "/namespaces", CreateNamespace, Some(JSON)),
        route(
            M::GET,
            "/namespaces/{namespace}/dependencies",
            NamespaceDependencies,
            None,
        ),
        // TriggerController
        route(M::GET, "/triggers/search", SearchTriggers, None),
        route(M::GET, "/triggers/{namespace}/{flowId}", TriggersOfFlow, None),
        route(M::PUT, "/triggers/backfill/pause", BackfillPause, Some(JSON)),
        route(M::PUT, "/triggers/backfill/unpause", BackfillUnpause, Some(JSON)),
        route(M::POST, "/triggers/backfill/delete", BackfillDelete, Some(JSON)),
        route(
            M::POST,
            "/triggers/set-disabled/by-triggers",
            SetDisabledByTriggers,
            Some(JSON),
        ),
        route(
            M::POST,
            "/triggers/{namespace}/{flowId}/{triggerId}/unlock",
            UnlockTrigger,
            None,
        ),
        // EE (tenant-scoped)
        route(M::POST, "/groups", CreateGroup, Some(JSON)),
        route(M::GET, "/groups/search", SearchGroups, None),
        route(M::GET, "/groups/{id}", GetGroup, None),
        route(M::PUT, "/groups/{id}", UpdateGroup, Some(JSON)),
        route(M::DELETE, "/groups/{id}", DeleteGroup, None),
        route(M::POST, "/invitations", CreateInvitation, Some(JSON)),
        route(M::GET, "/invitations/search", SearchInvitations, None),
        route(M::GET, "/invitations/email/{email}", InvitationsByEmail, None),
        route(M::GET, "/invitations/{id}", GetInvitation, None),
        route(M::DELETE, "/invitations/{id}", DeleteInvitation, None),
        route(M::POST, "/apps", CreateApp, Some(YAML)),
        route(M::GET, "/apps/search", SearchApps, None),
        route(M::GET, "/apps/{uid}", GetApp, None),
        route(M::PUT, "/apps/{uid}", UpdateApp, Some(YAML)),
        route(M::DELETE, "/apps/{uid}", DeleteApp, None),
        route(M::POST, "/apps/{uid}/enable", EnableApp, None),
        route(M::POST, "/apps/{uid}/disable", DisableApp, None),
        route(M::POST, "/tests", CreateTest, Some(YAML)),
        route(M::GET, "/tests/search", SearchTests, None),
        route(M::GET, "/tests/{namespace}/{id}", GetTest, None),
        route(M::PUT, "/tests/{namespace}/{id}", UpdateTest, Some(YAML)),
        route(M::DELETE, "/tests/{namespace}/{id}", DeleteTest, None),
        route(M::POST, "/tests/{namespace}/{id}/run", RunTest, None),
        route(M::POST, "/bindings", CreateBinding, Some(JSON)),
        route(M::GET, "/bindings/search", SearchBindings, None),
        route(M::POST, "/ai/generate/flow", AiGenerate, Some(JSON)),
        route(M::POST, "/ai/generate/app", AiGenerate, Some(JSON)),
        route(M::POST, "/ai/generate/test", AiGenerate, Some(JSON)),
        route(M::POST, "/ai/generate/dashboard", AiGenerate, Some(JSON)),
        route(M::POST, "/dashboards", CreateDashboard, Some(YAML)),
        route(M::GET, "/dashboards/{id}", GetDashboard, None),
        // root
        root(M::GET, "/configs", Configs, None),
        root(M::GET, "/license-info", LicenseInfo, None),
        root(M::GET, "/me", Me, None),
        root(M::POST, "/banners", CreateBanner, Some(JSON)),
        root(M::GET, "/banners/search", SearchBanners, None),
        root(M::PUT, "/banners/{id}", UpdateBanner, Some(JSON)),
        root(M::DELETE, "/banners/{id}", DeleteBanner, None),
    ];
    // Per-execution actions: the only routing difference between the two versions that
    // matters for shadowing. Bodyless POSTs keep Micronaut's default JSON `consumes`.
    let actions: [Action; 12] = match v {
        KestraVersion::V1_3 => [
            (M::DELETE, "/executions/{executionId}/kill", "", Kill, None),
            (M::POST, "/executions/{executionId}/pause", "", Pause, Some(JSON)),
            (
                M::POST,
                "/executions/{executionId}/resume",
                "",
                Resume,
                Some(MULTIPART),
            ),
            (
                M::POST,
                "/executions/{executionId}/resume/validate",
                "",
                ResumeValidate,
                Some(MULTIPART),
            ),
            (
                M::POST,
                "/executions/{executionId}/restart",
                "",
                Restart,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/replay",
                "",
                Replay,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/replay-with-inputs",
                "",
                ReplayWithInputs,
                Some(MULTIPART),
            ),
            (
                M::POST,
                "/executions/{executionId}/change-status",
                "",
                ChangeStatus,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/labels",
                "",
                SetLabels,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/state",
                "",
                ChangeTaskRunState,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/force-run",
                "",
                ForceRun,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/unqueue",
                "",
                Unqueue,
                Some(JSON),
            ),
        ],
        KestraVersion::V2_0 => [
            (
                M::DELETE,
                "/executions/{executionId}/actions/kill",
                "",
                Kill,
                None,
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/pause",
                "",
                Pause,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/resume",
                "",
                Resume,
                Some(MULTIPART),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/resume/validate",
                "",
                ResumeValidate,
                Some(MULTIPART),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/restart",
                "",
                Restart,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/replay",
                "",
                Replay,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/replay-with-inputs",
                "",
                ReplayWithInputs,
                Some(MULTIPART),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/change-status",
                "",
                ChangeStatus,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/labels",
                "",
                SetLabels,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/state",
                "",
                ChangeTaskRunState,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/force-run",
                "",
                ForceRun,
                Some(JSON),
            ),
            (
                M::POST,
                "/executions/{executionId}/actions/unqueue",
                "",
                Unqueue,
                Some(JSON),
            ),
        ],
    };
    for (m, tpl, _, op, consumes) in actions {
        t.push(route(m, tpl, op, consumes));
    }
    match v {
        KestraVersion::V1_3 => {
            // 1.3 only: listKeys per namespace, PUT /triggers (updateTrigger, carries backfill).
            t.push(route(M::GET, "/namespaces/{namespace}/kv", ListKv, None));
            t.push(route(M::PUT, "/triggers", UpdateTrigger, Some(JSON)));
        }
        KestraVersion::V2_0 => {
            // 2.0 only: task run outputs left the execution (v20/inv2-outputs-*).
            t.push(route(M::GET, "/outputs/{executionId}", ListOutputs, None));
            // 2.0 only: AI providers (v20/inv4-ai-providers).
            t.push(route(M::GET, "/ai/providers", AiProviders, None));
            t.push(route(
                M::GET,
                "/outputs/{executionId}/{taskRunId}",
                GetOutputs,
                None,
            ));
            // 2.0 only: backfill/create and set-disabled replace PUT /triggers.
            t.push(route(
                M::PUT,
                "/triggers/backfill/create",
                BackfillCreate,
                Some(JSON),
            ));
            t.push(route(
                M::PUT,
                "/triggers/set-disabled",
                SetTriggerDisabled,
                Some(JSON),
            ));
        }
    }
    t
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Found {
        op: Op,
        tenant: String,
        params: HashMap<&'static str, String>,
    },
    NotFound,
    MethodNotAllowed(Vec<String>),
    UnsupportedMediaType {
        content_type: String,
        allowed: Vec<String>,
    },
}

fn match_route(r: &Route, segs: &[&str]) -> Option<HashMap<&'static str, String>> {
    if r.segs.len() != segs.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (s, raw) in r.segs.iter().zip(segs) {
        match s {
            Seg::Lit(l) => {
                if l != raw {
                    return None;
                }
            }
            Seg::Var(name) => {
                if raw.is_empty() {
                    return None;
                }
                params.insert(*name, crate::http::decode_segment(raw));
            }
        }
    }
    Some(params)
}

fn specificity(r: &Route) -> (usize, std::cmp::Reverse<usize>) {
    let vars = r.segs.iter().filter(|s| matches!(s, Seg::Var(_))).count();
    let lits: usize = r
        .segs
        .iter()
        .map(|s| if let Seg::Lit(l) = s { l.len() } else { 0 })
        .sum();
    (vars, std::cmp::Reverse(lits))
}

/// Resolves a request path (raw, percent-encoded, without query) against a table.
pub fn resolve(table: &[Route], method: &Method, raw_path: &str, content_type: Option<&str>) -> Resolved {
    let Some(rest) = raw_path.strip_prefix("/api/v1/") else {
        return Resolved::NotFound;
    };
    let all: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    // (route, tenant, params) for every template the path matches, any method.
    let mut matched: Vec<(&Route, String, HashMap<&'static str, String>)> = Vec::new();
    for r in table {
        if r.root {
            if let Some(p) = match_route(r, &all) {
                matched.push((r, String::new(), p));
            }
        } else if all.len() >= 2
            && let Some(p) = match_route(r, &all[1..])
        {
            matched.push((r, crate::http::decode_segment(all[0]), p));
        }
    }
    if matched.is_empty() {
        // Tenant-less legacy paths are served for the `main` tenant (recorded
        // misc/no-tenant-legacy-path of 0.23, 1.3.0 and 2.0: GET /api/v1/flows/search → 200).
        // GUESS: every tenant route, as Kestra kept its pre-tenant controllers.
        for r in table.iter().filter(|r| !r.root) {
            if let Some(p) = match_route(r, &all) {
                matched.push((r, "main".to_string(), p));
            }
        }
    }
    if matched.is_empty() {
        return Resolved::NotFound;
    }
    let by_method: Vec<_> = matched.iter().filter(|(r, _, _)| r.method == *method).collect();
    if by_method.is_empty() {
        let mut allowed: Vec<String> = vec!["HEAD".to_string()];
        for (r, _, _) in &matched {
            let m = r.method.to_string();
            if !allowed.contains(&m) {
                allowed.push(m);
            }
        }
        return Resolved::MethodNotAllowed(allowed);
    }
    let consuming: Vec<_> = match content_type {
        None => by_method.clone(),
        Some(ct) => by_method
            .iter()
            .filter(|(r, _, _)| r.consumes.is_none_or(|c| c.contains(&ct)))
            .copied()
            .collect(),
    };
    if consuming.is_empty() {
        let mut allowed = Vec::new();
        for (r, _, _) in &by_method {
            for c in r.consumes.unwrap_or(&[]) {
                if !allowed.contains(&c.to_string()) {
                    allowed.push(c.to_string());
                }
            }
        }
        return Resolved::UnsupportedMediaType {
            content_type: content_type.unwrap_or("").to_string(),
            allowed,
        };
    }
    let best = consuming
        .iter()
        .min_by_key(|(r, _, _)| specificity(r))
        .map(|(r, t, p)| (r.op, t.clone(), p.clone()));
    match best {
        Some((op, tenant, params)) => Resolved::Found { op, tenant, params },
        None => Resolved::NotFound,
    }
}
