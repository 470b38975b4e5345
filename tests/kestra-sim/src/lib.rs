//! kestra-sim: a stateful SIMULATOR of the Kestra REST API for kestra-mcp's test bed.
//!
//! It is not Kestra. It keeps flows, executions (with a small state machine), logs, KV entries,
//! namespace files, triggers/backfills and the Enterprise objects the `ee` tools use, in memory,
//! and answers with the status codes, bodies and routing of a real server as far as the
//! recorded corpora (`../shared/kestra-api/recorded-0.23`, and `recorded-1.3.0`, which the
//! 1.3 mode follows where 1.3 differs from 0.23), the 1.3/2.0 OpenAPI
//! descriptions (openapi/) and Kestra's controllers show them. Where it guesses,
//! the module says so. See tests/testbed/README.md.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use kestra_sim::{KestraVersion, Simulator};
//! let sim = Simulator::spawn(KestraVersion::V1_3, 0).await?;
//! println!("{}", sim.api_url()); // http://127.0.0.1:PORT/api/v1
//! # Ok(()) }
//! ```

// Handlers return the HTTP error response as `Err`: its size does not matter in a test simulator.
#![allow(clippy::result_large_err)]

pub mod ee;
pub mod executions;
pub mod files;
pub mod files_v13;
pub mod flow_outputs;
pub mod flows;
pub mod http;
pub mod kv;
pub mod logs;
pub mod namespaces;
pub mod routes;
pub mod state;
pub mod triggers;
pub mod v2;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};

use crate::http::{Req, error_body, json_response};
use crate::routes::{Op, Resolved, Route};
use crate::state::{Clock, Core, SharedCore};

/// The Kestra version the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KestraVersion {
    V1_3,
    V2_0,
}

impl std::str::FromStr for KestraVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.3" | "1.3.0" | "1" => Ok(KestraVersion::V1_3),
            "2.0" | "2.0.0" | "2" => Ok(KestraVersion::V2_0),
            other => Err(format!("unsupported Kestra version {other:?} (use 1.3 or 2.0)")),
        }
    }
}

/// Options for [`Simulator::spawn_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// How long each task (other than Pause/Sleep) takes on the clock.
    pub task_delay: Duration,
    /// `Some(start)` runs on a manual clock starting at `start` (see [`RunningSim::advance`]).
    pub manual_clock: Option<DateTime<Utc>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            task_delay: Duration::from_millis(50),
            manual_clock: None,
        }
    }
}

/// Entry point for in-process use.
pub struct Simulator;

impl Simulator {
    /// Starts a simulator on `127.0.0.1:port` (0 = any free port) with the real clock and the
    /// default task delay; returns once it accepts connections.
    pub async fn spawn(version: KestraVersion, port: u16) -> std::io::Result<RunningSim> {
        Self::spawn_with(version, port, Options::default()).await
    }

    pub async fn spawn_with(version: KestraVersion, port: u16, opts: Options) -> std::io::Result<RunningSim> {
        let clock = match opts.manual_clock {
            Some(t) => Clock::Manual(std::sync::Mutex::new(t)),
            None => Clock::Real,
        };
        let core = Arc::new(Core::new(version, clock, opts.task_delay));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let app = router(core.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RunningSim {
            addr,
            core,
            shutdown: Some(tx),
            handle,
        })
    }
}

/// A running simulator; dropping it stops the server.
pub struct RunningSim {
    addr: SocketAddr,
    core: SharedCore,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl RunningSim {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `http://127.0.0.1:PORT/api/v1` (what `KESTRA_BASE_URL` takes).
    pub fn api_url(&self) -> String {
        format!("{}/api/v1", self.base_url())
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn version(&self) -> KestraVersion {
        self.core.version
    }
    /// Moves a manual clock forward by `by` (no-op on the real clock).
    pub fn advance(&self, by: Duration) {
        let now = self.core.clock.now();
        self.core
            .clock
            .advance_to(now + chrono::TimeDelta::from_std(by).unwrap_or_default());
    }
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.handle).await;
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

struct AppState {
    core: SharedCore,
    table: Vec<Route>,
}

/// The axum router: a single fallback handler that resolves with [`routes::resolve`].
pub fn router(core: SharedCore) -> Router {
    let table = routes::table(core.version);
    Router::new()
        .fallback(handle)
        .with_state(Arc::new(AppState { core, table }))
}

const MAX_BODY: usize = 64 * 1024 * 1024;

async fn handle(State(app): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().map(String::from);
    let href = match &raw_query {
        Some(q) => format!("{raw_path}?{q}"),
        None => raw_path.clone(),
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty());
    let method = parts.method.clone();
    // HEAD is answered like GET without a body (Micronaut does the same).
    let lookup_method = if method == axum::http::Method::HEAD {
        axum::http::Method::GET
    } else {
        method.clone()
    };
    let resolved = routes::resolve(&app.table, &lookup_method, &raw_path, content_type.as_deref());
    let (op, tenant, params) = match resolved {
        Resolved::Found { op, tenant, params } => (op, tenant, params),
        Resolved::NotFound => {
            return json_response(StatusCode::NOT_FOUND, &error_body("Not Found", &href, None));
        }
        Resolved::MethodNotAllowed(allowed) => {
            let msg = format!(
                "Method Not Allowed: Method [{method}] not allowed for URI [{raw_path}]. Allowed methods: [{}]",
                allowed.join(", ")
            );
            return json_response(StatusCode::METHOD_NOT_ALLOWED, &error_body(&msg, &href, None));
        }
        Resolved::UnsupportedMediaType {
            content_type,
            allowed,
        } => {
            let msg = format!(
                "Unsupported Media Type: Content Type [{content_type}] not allowed. Allowed types: [{}]",
                allowed.join(", ")
            );
            return json_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &error_body(&msg, &href, None));
        }
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &error_body(&format!("Bad Request: unreadable body: {e}"), &href, None),
            );
        }
    };
    let req = Req {
        core: app.core.clone(),
        method,
        raw_path,
        query: http::parse_query(raw_query.as_deref()),
        raw_query,
        tenant,
        params,
        headers: parts.headers,
        body,
    };
    let mut resp = if app.core.version == KestraVersion::V2_0 {
        dispatch_v2(op, req).await
    } else {
        dispatch(op, req).await
    };
    if lookup_method != parts.method {
        *resp.body_mut() = Body::empty();
    }
    resp
}

/// Runs one operation on the 2.0 simulator: the 2.0-only rules (v2.rs) around the shared ones.
async fn dispatch_v2(op: Op, mut req: Req) -> Response {
    if let Some(r) = v2::before(op, &mut req) {
        return r;
    }
    let (core, tenant) = (req.core.clone(), req.tenant.clone());
    let bulk = v2::bulk_items(op, &req);
    let resp = dispatch(op, req).await;
    v2::after(op, &core, &tenant, bulk, resp).await
}

/// Runs one operation.
pub async fn dispatch(op: Op, req: Req) -> Response {
    use Op::*;
    let core = req.core.clone();
    // Operations that await (multipart bodies, waiting, streams) manage their own locking.
    match op {
        CreateExecution => return executions::create(req).await,
        Resume => return executions::resume(req).await,
        ResumeValidate => return executions::resume_validate(req).await,
        ValidateExecutionInputs => return executions::validate_inputs(req).await,
        ReplayWithInputs => return executions::replay_with_inputs(req).await,
        UploadFile => return files::upload(req).await,
        FollowExecution => return executions::follow(req),
        FollowLogs => return logs::follow(req),
        _ => {}
    }
    let mut w = core.world();
    let now = core.clock.now();
    match op {
        Configs => return ee::configs(&core),
        LicenseInfo => return ee::license_info(),
        Me => return ee::me(),
        CreateBanner => return ee::create_banner(&req, &core, &mut w),
        SearchBanners => return ee::search_banners(&req, &w),
        UpdateBanner => return ee::update_banner(&req, &mut w),
        DeleteBanner => return ee::delete_banner(&req, &mut w),
        _ => {}
    }
    let t = w.tenant(&req.tenant);
    executions::tick(&core, t, now);
    match op {
        CreateFlow => flows::create(&req, t),
        SearchFlows => flows::search(&req, t),
        SearchFlowsBySource => flows::search_by_source(&req, t),
        DistinctNamespaces => flows::distinct_namespaces(&req, t),
        ValidateFlows => flows::validate(&req, t),
        BulkFlows => flows::bulk(&req, t),
        EnableFlowsByIds => flows::set_disabled_by_ids(&req, t, false),
        DisableFlowsByIds => flows::set_disabled_by_ids(&req, t, true),
        DeleteFlowsByIds => flows::delete_by_ids(&req, t),
        ListFlowsByNamespace => flows::list_by_namespace(&req, t),
        GetFlow => flows::get(&req, t),
        UpdateFlow => flows::update(&req, t),
        DeleteFlow => flows::delete(&req, t),
        FlowRevisions => flows::revisions(&req, t),
        FlowDependencies => flows::dependencies(&req, t),
        SearchExecutions => executions::search(&req, t, now),
        ListExecutionsByFlow => executions::list_by_flow(&req, t, now),
        GetExecution => executions::get(&req, t, now),
        DeleteExecution => executions::delete(&req, t),
        GetExecutionFlow => executions::get_flow(&req, t),
        ResumeByIds => executions::resume_by_ids(&req, t, now),
        ReplayByIds => executions::replay_by_ids(&req, &core, t, now),
        RestartByIds => executions::restart_by_ids(&req, t, now),
        ExecutionGraph => executions::graph(&req, t, now),
        KillByIds => executions::kill_by_ids(&req, t, now),
        ChangeStatusByIds => executions::change_status_by_ids(&req, t, now),
        LabelsByIds => executions::labels_by_ids(&req, t),
        DeleteExecutionsByIds => executions::delete_by_ids(&req, t),
        Kill => executions::kill(&req, t, now),
        Pause => executions::pause(&req, t, now),
        Restart => executions::restart(&req, t, now),
        Replay => executions::replay(&req, &core, t, now),
        ChangeStatus => executions::change_status(&req, t, now),
        SetLabels => executions::set_labels(&req, t, now),
        ChangeTaskRunState => executions::change_taskrun_state(&req, t, now),
        ForceRun => executions::force_run(&req, t, now),
        Unqueue => executions::unqueue(&req, t, now),
        SearchLogs => logs::search(&req, t),
        ListLogs => logs::list(&req, t),
        DeleteLogs => logs::delete(&req, t),
        DownloadLogs => logs::download(&req, t),
        DeleteFlowLogs => logs::delete_by_flow(&req, t),
        ListKv => kv::list(&req, t, now),
        ListAllKv => kv::list_all(&req, t, now),
        ListKvInheritance => kv::list_inheritance(&req, t, now),
        GetKv => kv::get(&req, t, now),
        PutKv => kv::put(&req, t, now),
        DeleteKv => kv::delete(&req, t),
        DeleteKvBulk => kv::delete_bulk(&req, t),
        GetFile => files::get(&req, t),
        MoveFile => files::move_(&req, t, now),
        DeleteFile => files::delete(&req, t),
        ListDirectory => files::list_directory(&req, t),
        CreateDirectory => files::create_directory(&req, t, now),
        FileStats => files::stats(&req, t),
        SearchFiles => files::search(&req, t),
        SearchNamespaces => namespaces::search(&req, t),
        GetNamespace => namespaces::get(&req, t),
        CreateNamespace => namespaces::create(&req, t),
        NamespaceDependencies => flows::namespace_dependencies(&req, t),
        SearchTriggers => triggers::search(&req, t, now),
        TriggersOfFlow => triggers::of_flow(&req, t, now),
        UpdateTrigger => triggers::update(&req, t, now),
        BackfillCreate => triggers::backfill_create(&req, t, now),
        BackfillPause => triggers::backfill_set(&req, t, now, "pause"),
        BackfillUnpause => triggers::backfill_set(&req, t, now, "unpause"),
        BackfillDelete => triggers::backfill_set(&req, t, now, "delete"),
        SetTriggerDisabled => triggers::set_disabled(&req, t, now),
        SetDisabledByTriggers => triggers::set_disabled_by_triggers(&req, t),
        UnlockTrigger => triggers::unlock(&req),
        CreateGroup => ee::create_group(&req, &core, t),
        SearchGroups => ee::search_groups(&req, t),
        GetGroup => ee::get_group(&req, t),
        UpdateGroup => ee::update_group(&req, t),
        DeleteGroup => ee::delete_group(&req, t),
        CreateInvitation => ee::create_invitation(&req, &core, t, now),
        SearchInvitations => ee::search_invitations(&req, t),
        InvitationsByEmail => ee::invitations_by_email(&req, t),
        GetInvitation => ee::get_invitation(&req, t),
        DeleteInvitation => ee::delete_invitation(&req, t),
        CreateApp => ee::create_app(&req, t, now),
        SearchApps => ee::search_apps(&req, t),
        GetApp => ee::get_app(&req, t),
        UpdateApp => ee::update_app(&req, t, now),
        DeleteApp => ee::delete_app(&req, t),
        EnableApp => ee::set_app_enabled(&req, t, true),
        DisableApp => ee::set_app_enabled(&req, t, false),
        CreateTest => ee::create_test(&req, t),
        SearchTests => ee::search_tests(&req, t),
        GetTest => ee::get_test(&req, t),
        UpdateTest => ee::update_test(&req, t),
        DeleteTest => ee::delete_test(&req, t),
        RunTest => ee::run_test(&req, &core, t, now),
        CreateBinding => ee::create_binding(&req, &core, t),
        SearchBindings => ee::search_bindings(&req, t),
        AiGenerate => ee::ai_generate(&req),
        CreateDashboard => ee::create_dashboard(&req, &core, t),
        GetDashboard => ee::get_dashboard(&req, t),
        // Handled above.
        CreateExecution
        | Resume
        | ResumeValidate
        | ValidateExecutionInputs
        | ReplayWithInputs
        | UploadFile
        | FollowExecution
        | FollowLogs
        | Configs
        | LicenseInfo
        | Me
        | CreateBanner
        | SearchBanners
        | UpdateBanner
        | DeleteBanner => req.not_found(),
        // 2.0 only, answered by v2::before.
        ListOutputs | GetOutputs | AiProviders => req.not_found(),
    }
}
