//! What lives as long as the process, across reloads of the tools: the HTTP client and its
//! connection pool, what was learned from Kestra (version, edition; a failed probe is asked
//! again after a back-off), the secrets to scrub from messages and the `kestra` template
//! context. A reload replaces the [`ToolSet`](crate::toolset::ToolSet) and keeps this.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::answer::decode_body;
use crate::config::Config;
use crate::error::CallError;
use crate::exchange::{CallContext, Delivery};
use crate::filter::edition_hides_enterprise;
use crate::http::{HttpError, KestraClient};
use crate::request::RenderedRequest;
use crate::secrets::Secrets;
use crate::spec::raw::Scope;

/// The process-wide part of the engine.
pub struct Runtime {
    pub(crate) client: KestraClient,
    /// What templates see as `kestra`.
    kestra: Value,
    secrets: Secrets,
    version: tokio::sync::OnceCell<semver::Version>,
    /// When and why learning the version last failed.
    version_failure: Mutex<Option<(Instant, CallError)>>,
    /// Learn the edition from Kestra and hide the `ee` tools on OSS (no explicit disabled list).
    edition_aware: bool,
    probe_timeout: Duration,
    /// After a failed `GET /configs`, how long to wait before asking again.
    probe_backoff: Duration,
    /// The edition probe: what it learned, or when it last failed (held while probing, so
    /// concurrent calls wait for one probe).
    edition: tokio::sync::Mutex<EditionProbe>,
    /// What is wrong with `KESTRA_BASE_URL`, said with every 404.
    base_url_problem: Option<String>,
    /// `KESTRA_MCP_MAX_RESULT_BYTES` (`0`: results are not bounded).
    result_limit: usize,
    /// `KESTRA_MCP_READ_ONLY`: requests that write are refused at the exchange point.
    read_only: bool,
    /// The exchange point's policies (read-only, `KESTRA_MCP_NAMESPACES`).
    guards: crate::exchange::Guards,
    /// `KESTRA_MCP_WAIT_LIMIT`: the longest a `wait` step waits unless its spec says otherwise.
    wait_limit: Duration,
    /// `KESTRA_MCP_KILL_ON_CANCEL`: a cancelled wait sends its `on_cancel` request.
    kill_on_cancel: bool,
    /// `KESTRA_MCP_TOOLS_PAGE_SIZE`: tools per `tools/list` page (`None`: one page).
    tools_page_size: Option<usize>,
    /// The tasks extension's limits.
    tasks: crate::tasks::TaskSettings,
    /// Canned answers that replace Kestra (spec tests); `None` in the server.
    canned: Option<std::sync::Arc<dyn crate::exchange::Transport>>,
}

/// What the edition probe knows.
#[derive(Debug, Default)]
struct EditionProbe {
    /// Whether the Enterprise tools are hidden, once Kestra has answered.
    hides_enterprise: Option<bool>,
    /// When the last probe failed (Kestra down, starting, 5xx).
    failed_at: Option<Instant>,
}

/// What `GET /configs` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KestraConfigs {
    pub status: u16,
    pub version: Option<String>,
    pub edition: Option<String>,
}

impl KestraConfigs {
    /// Whether the Enterprise tools are hidden: Kestra reports OSS and no disabled list was
    /// given.
    pub fn hides_enterprise(&self, disabled_explicit: bool) -> bool {
        edition_hides_enterprise(disabled_explicit, self.edition.as_deref())
    }
}

/// What [`Runtime::edition`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditionAnswer {
    /// Hide the `ee` tools (Kestra reports OSS and no disabled list was given).
    pub hides_enterprise: bool,
    /// Learned by this very call (so the caller can say so once).
    pub just_learned: bool,
}

/// Whether a failed probe is recent enough to not ask Kestra again yet.
fn within_backoff(failed_at: Option<Instant>, backoff: Duration) -> bool {
    failed_at.is_some_and(|at| at.elapsed() < backoff)
}

impl Runtime {
    /// Prepares the runtime; no request is sent until a call or a listing needs one.
    pub fn new(config: &Config) -> Result<Self, HttpError> {
        Ok(Runtime {
            client: KestraClient::new(config)?,
            kestra: kestra_context(config),
            secrets: Secrets::from_auth(&config.auth),
            version: tokio::sync::OnceCell::new_with(config.kestra_version.clone()),
            version_failure: Mutex::new(None),
            edition_aware: !config.disabled_explicit,
            probe_timeout: config.connect_timeout,
            probe_backoff: config.probe_backoff,
            edition: tokio::sync::Mutex::new(EditionProbe::default()),
            base_url_problem: config.base_url_problem(),
            result_limit: config.max_result_bytes,
            read_only: config.read_only,
            guards: crate::exchange::Guards {
                read_only: config.read_only,
                namespaces: config.namespaces.clone().map(std::sync::Arc::new),
            },
            wait_limit: config.wait_limit,
            kill_on_cancel: config.kill_on_cancel,
            tools_page_size: config.tools_page_size,
            tasks: config.tasks,
            canned: None,
        })
    }

    /// The runtime with `canned` answering every request instead of Kestra (`tools test`).
    pub fn with_transport(mut self, canned: std::sync::Arc<dyn crate::exchange::Transport>) -> Self {
        self.canned = Some(canned);
        self
    }

    /// The most a tool result may weigh (`0`: no bound).
    pub fn result_limit(&self) -> usize {
        self.result_limit
    }

    /// `KESTRA_MCP_WAIT_LIMIT`: how long a `wait` step waits by default.
    pub fn wait_limit(&self) -> Duration {
        self.wait_limit
    }

    /// Whether `KESTRA_MCP_KILL_ON_CANCEL` is set.
    pub fn kill_on_cancel(&self) -> bool {
        self.kill_on_cancel
    }

    /// `KESTRA_MCP_TOOLS_PAGE_SIZE`: tools per `tools/list` page (`None`: one page).
    pub fn tools_page_size(&self) -> Option<usize> {
        self.tools_page_size
    }

    /// `KESTRA_MCP_TASK_TTL` and `KESTRA_MCP_MAX_TASKS`.
    pub fn tasks(&self) -> crate::tasks::TaskSettings {
        self.tasks
    }

    /// Whether `KESTRA_MCP_READ_ONLY` is set.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// `KESTRA_MCP_NAMESPACES`, when set.
    pub fn namespaces(&self) -> Option<&crate::guard::Namespaces> {
        self.guards.namespaces.as_deref()
    }

    /// The `kestra` template value: tenant, API base URL, UI base URL.
    pub fn kestra(&self) -> &Value {
        &self.kestra
    }

    /// Asks `GET /configs` (within the connect timeout) which edition Kestra is. On OSS the
    /// `ee` group is hidden; on EE, on an older server that does not say, or when Kestra cannot
    /// be reached, nothing is hidden. An answer is kept for the process's life; a failure
    /// (Kestra down or starting, 5xx) is asked again after the back-off.
    pub async fn edition(&self) -> EditionAnswer {
        let known = |hides_enterprise| EditionAnswer {
            hides_enterprise,
            just_learned: false,
        };
        if !self.edition_aware {
            return known(false);
        }
        let mut probe = self.edition.lock().await;
        if let Some(hides) = probe.hides_enterprise {
            return known(hides);
        }
        if within_backoff(probe.failed_at, self.probe_backoff) {
            return known(false);
        }
        match self.probe_edition().await {
            Some(hides) => {
                probe.hides_enterprise = Some(hides);
                probe.failed_at = None;
                EditionAnswer {
                    hides_enterprise: hides,
                    just_learned: true,
                }
            }
            None => {
                tracing::warn!(
                    target: "startup",
                    "cannot learn Kestra's edition from GET /configs; serving every tool for now, asking again in {:?}",
                    self.probe_backoff
                );
                probe.failed_at = Some(Instant::now());
                known(false)
            }
        }
    }

    /// One `GET /configs` within the connect timeout: whether to hide the Enterprise tools, or
    /// `None` when Kestra gave no usable answer.
    async fn probe_edition(&self) -> Option<bool> {
        let own = CallContext::default();
        let probe = tokio::time::timeout(self.probe_timeout, self.ask_configs(&own)).await;
        match probe {
            // Refused (credentials, wrong URL): asking again will not change that.
            Ok(Ok(configs)) if configs.status < 500 => {
                Some(configs.status == 200 && configs.hides_enterprise(!self.edition_aware))
            }
            _ => None,
        }
    }

    /// One `GET /configs`, sent once: what Kestra says of itself. A version it reports is kept
    /// (asked by the edition probe and by `doctor`).
    pub async fn ask_configs(&self, call: &CallContext) -> Result<KestraConfigs, CallError> {
        let answer = self.exchange(call, &version_probe(), Delivery::Once).await?;
        let body = decode_body(&answer).unwrap_or(Value::Null);
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let configs = KestraConfigs {
            status: answer.status,
            version: text("version"),
            edition: text("edition"),
        };
        if answer.status == 200
            && let Some(version) = &configs.version
            && let Ok(version) = crate::config::parse_version(version)
        {
            let _ = self.version.set(version);
        }
        Ok(configs)
    }

    /// The server's version: `KESTRA_VERSION` if set, else asked from `GET /configs` and kept.
    /// After a failure, the same error is given without asking again until the back-off ends.
    pub async fn version(&self) -> Result<&semver::Version, CallError> {
        self.version_for(&CallContext::default()).await
    }

    /// [`Runtime::version`], asked (when it must be) within the call `call`.
    pub async fn version_for(&self, call: &CallContext) -> Result<&semver::Version, CallError> {
        if let Some(version) = self.version.get() {
            return Ok(version);
        }
        if let Some((at, err)) = self.recent_version_failure()
            && within_backoff(Some(at), self.probe_backoff)
        {
            return Err(err);
        }
        let learned = self.version.get_or_try_init(|| self.ask_version(call)).await;
        // A call's own end (cancelled, out of budget) says nothing about Kestra: not kept.
        if let Err(err) = &learned
            && !matches!(err, CallError::Cancelled | CallError::Budget(_))
        {
            let mut failure = self
                .version_failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *failure = Some((Instant::now(), err.clone()));
        }
        learned
    }

    /// Sends one request for `call` through the exchange point (see [`crate::exchange`]).
    pub async fn exchange(
        &self,
        call: &CallContext,
        request: &RenderedRequest,
        delivery: Delivery,
    ) -> Result<crate::http::HttpAnswer, CallError> {
        let sender = crate::exchange::Sender {
            client: &self.client,
            canned: self.canned.as_deref(),
        };
        crate::exchange::exchange(sender, &self.guards, call, request, delivery).await
    }

    /// The version if it is already known (set or learned), without asking.
    pub fn known_version(&self) -> Option<&semver::Version> {
        self.version.get()
    }

    fn recent_version_failure(&self) -> Option<(Instant, CallError)> {
        self.version_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn ask_version(&self, call: &CallContext) -> Result<semver::Version, CallError> {
        let answer = self.exchange(call, &version_probe(), Delivery::Retried).await?;
        let body = decode_body(&answer)?;
        let found = body
            .get("version")
            .and_then(Value::as_str)
            .filter(|_| answer.status == 200);
        let Some(text) = found else {
            return Err(CallError::BadAnswer(format!(
                "cannot learn the Kestra version from GET /configs (status {}); set KESTRA_VERSION, e.g. 1.3 or 2.0",
                answer.status
            )));
        };
        crate::config::parse_version(text).map_err(|e| {
            CallError::BadAnswer(format!(
                "Kestra reports version '{text}': {e}; set KESTRA_VERSION"
            ))
        })
    }

    /// What the caller reads of a failed call: a 404 from a Kestra whose base URL lacks
    /// `/api/v1` says why, and no configured credential appears, in any form.
    pub fn explain(&self, err: CallError) -> CallError {
        self.scrub(self.explain_404(err))
    }

    fn explain_404(&self, err: CallError) -> CallError {
        match (err, &self.base_url_problem) {
            (
                CallError::Kestra {
                    status: 404,
                    method,
                    path,
                    message,
                },
                Some(problem),
            ) => CallError::Kestra {
                status: 404,
                method,
                path,
                message: format!("{message} ({problem})"),
            },
            (err, _) => err,
        }
    }

    /// The error without the configured credentials, in any form, and of the same kind.
    pub(crate) fn scrub(&self, err: CallError) -> CallError {
        if self.secrets.is_empty() {
            return err;
        }
        err.map_text(|text| self.secrets.scrub(text).into_owned())
    }
}

impl std::fmt::Debug for Runtime {
    /// Written by hand: the credentials never appear (the client shows its auth redacted).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("client", &self.client)
            .field("kestra", &self.kestra)
            .field("secrets", &self.secrets)
            .field("edition_aware", &self.edition_aware)
            .finish_non_exhaustive()
    }
}

/// What templates see as `kestra`: the tenant, the API base URL and the UI's base URL (the API
/// URL without its `/api/v1` suffix), for links in results.
fn kestra_context(config: &Config) -> Value {
    let api = config.base_url.as_str().trim_end_matches('/');
    let ui = api.strip_suffix("/api/v1").unwrap_or(api);
    json!({"tenant": config.tenant, "base_url": api, "ui_url": ui})
}

/// `GET /configs`: Kestra's version and edition.
pub fn version_probe() -> RenderedRequest {
    RenderedRequest::get(Scope::Instance, "/configs", &[])
}

/// The smallest tenant-scoped read (one flow of a search): whether the credentials and the
/// tenant are accepted (`doctor`).
pub fn tenant_probe() -> RenderedRequest {
    RenderedRequest::get(Scope::Tenant, "/flows/search", &[("page", "1"), ("size", "1")])
}
