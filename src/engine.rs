//! The call pipeline: validate arguments → pick the action → render → send → map the status →
//! project. Plain async functions with no MCP types, so tests can call them directly; `serve.rs`
//! adapts them to rmcp.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::answer::decode_body;
use crate::config::Config;
use crate::error::CallError;
use crate::filter::{ENTERPRISE_GROUP, Filtered, edition_hides_enterprise};
use crate::http::{HttpError, KestraClient};
use crate::render::Templates;
use crate::request::RenderedRequest;
use crate::secrets::Secrets;
use crate::spec::raw::Scope;
use crate::spec::{Action, CompiledTool, Dispatch};

/// The tools being served and everything needed to call them.
pub struct Engine {
    tools: BTreeMap<String, CompiledTool>,
    pub(crate) templates: Templates,
    pub(crate) client: KestraClient,
    kestra: Value,
    secrets: Secrets,
    version: tokio::sync::OnceCell<semver::Version>,
    /// Learn the edition from Kestra and hide the `ee` tools on OSS (no explicit disabled list).
    edition_aware: bool,
    probe_timeout: std::time::Duration,
    /// After a failed `GET /configs`, how long to wait before asking again.
    probe_backoff: Duration,
    /// The edition probe: what it learned, or when it last failed (held while probing, so
    /// concurrent calls wait for one probe).
    edition: tokio::sync::Mutex<EditionProbe>,
    /// When and why learning the version last failed.
    version_failure: std::sync::Mutex<Option<(Instant, CallError)>>,
    /// What is wrong with `KESTRA_BASE_URL`, said with every 404.
    base_url_problem: Option<String>,
}

/// What the edition probe knows.
#[derive(Debug, Default)]
struct EditionProbe {
    /// The tools hidden by edition, once Kestra has answered.
    hidden: Option<Arc<BTreeSet<String>>>,
    /// When the last probe failed (Kestra down, starting, 5xx).
    failed_at: Option<Instant>,
}

/// Whether a failed probe is recent enough to not ask Kestra again yet.
fn within_backoff(failed_at: Option<Instant>, backoff: Duration) -> bool {
    failed_at.is_some_and(|at| at.elapsed() < backoff)
}

impl Engine {
    /// Builds the engine from the filtered tools, their templates and the configuration.
    pub fn new(filtered: Filtered, templates: Templates, config: &Config) -> Result<Self, HttpError> {
        Ok(Engine {
            tools: filtered
                .kept
                .into_iter()
                .map(|t| (t.tool.name.to_string(), t))
                .collect(),
            templates,
            client: KestraClient::new(config)?,
            kestra: kestra_context(config),
            secrets: Secrets::from_auth(&config.auth),
            probe_timeout: config.connect_timeout,
            version: tokio::sync::OnceCell::new_with(config.kestra_version.clone()),
            edition_aware: !config.disabled_explicit,
            probe_backoff: config.probe_backoff,
            edition: tokio::sync::Mutex::new(EditionProbe::default()),
            version_failure: std::sync::Mutex::new(None),
            base_url_problem: config.base_url_problem(),
        })
    }

    /// The loaded tools after `KESTRA_MCP_DISABLED_TOOLS`, sorted by name.
    pub fn tools(&self) -> impl Iterator<Item = &CompiledTool> {
        self.tools.values()
    }

    /// The tools to list: [`Engine::tools`] minus the Enterprise tools when the server reports
    /// the OSS edition and no disabled list was given.
    pub async fn served_tools(&self) -> Vec<&CompiledTool> {
        let hidden = self.hidden_by_edition().await;
        self.tools
            .values()
            .filter(|t| !hidden.contains(t.tool.name.as_ref()))
            .collect()
    }

    /// Asks `GET /configs` (within the connect timeout) which edition Kestra is. On OSS the
    /// `ee` group is hidden; on EE, on an older server that does not say, or when Kestra cannot
    /// be reached, nothing is hidden. An answer is kept for the server's life; a failure (Kestra
    /// down or starting, 5xx) is asked again after the back-off.
    async fn hidden_by_edition(&self) -> Arc<BTreeSet<String>> {
        if !self.edition_aware {
            return Arc::default();
        }
        let mut probe = self.edition.lock().await;
        if let Some(hidden) = &probe.hidden {
            return hidden.clone();
        }
        if within_backoff(probe.failed_at, self.probe_backoff) {
            return Arc::default();
        }
        match self.probe_edition().await {
            Some(hidden) => {
                let hidden = Arc::new(hidden);
                probe.hidden = Some(hidden.clone());
                probe.failed_at = None;
                hidden
            }
            None => {
                tracing::warn!(
                    target: "startup",
                    "cannot learn Kestra's edition from GET /configs; serving every tool for now, asking again in {:?}",
                    self.probe_backoff
                );
                probe.failed_at = Some(Instant::now());
                Arc::default()
            }
        }
    }

    /// One `GET /configs`: the tools to hide, or `None` when Kestra gave no usable answer.
    async fn probe_edition(&self) -> Option<BTreeSet<String>> {
        let probe =
            tokio::time::timeout(self.probe_timeout, self.client.send_no_retry(&version_probe())).await;
        let answer = match probe {
            Ok(Ok(answer)) if answer.status < 500 => answer,
            _ => return None,
        };
        if answer.status != 200 {
            // Refused (credentials, wrong URL): asking again will not change that.
            return Some(BTreeSet::new());
        }
        let body = decode_body(&answer).unwrap_or(Value::Null);
        if let Some(version) = body.get("version").and_then(Value::as_str)
            && let Ok(version) = crate::config::parse_version(version)
        {
            let _ = self.version.set(version);
        }
        if !edition_hides_enterprise(!self.edition_aware, body.get("edition").and_then(Value::as_str)) {
            return Some(BTreeSet::new());
        }
        let hidden: BTreeSet<String> = self
            .tools
            .values()
            .filter(|t| t.group == ENTERPRISE_GROUP)
            .map(|t| t.tool.name.to_string())
            .collect();
        tracing::warn!(
            target: "startup",
            "Kestra reports the OSS edition: leaving out the {} Enterprise (ee) tools; set KESTRA_MCP_DISABLED_TOOLS to choose the tools yourself",
            hidden.len()
        );
        Some(hidden)
    }

    /// One served tool.
    pub fn tool(&self, name: &str) -> Option<&CompiledTool> {
        self.tools.get(name)
    }

    /// Calls a tool. Every failure the caller should read is a `CallError` that is not a
    /// protocol error; messages never contain the configured secrets.
    pub async fn call(
        &self,
        name: &str,
        args: Option<Map<String, Value>>,
    ) -> Result<Map<String, Value>, CallError> {
        self.call_inner(name, args)
            .await
            .map_err(|e| self.scrub(self.explain_404(e)))
    }

    /// A 404 from a Kestra whose base URL lacks `/api/v1` says why.
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

    async fn call_inner(
        &self,
        name: &str,
        args: Option<Map<String, Value>>,
    ) -> Result<Map<String, Value>, CallError> {
        if self.hidden_by_edition().await.contains(name) {
            return Err(CallError::UnknownTool(name.to_owned()));
        }
        let (action, ctx) = self.prepare(name, args.unwrap_or_default())?;
        self.run(name, action, ctx).await
    }

    /// The first request a call with `args` would send to a Kestra of `version`, without sending.
    pub fn render_only(
        &self,
        name: &str,
        args: Map<String, Value>,
        version: &semver::Version,
    ) -> Result<RenderedRequest, CallError> {
        let mut requests = self.sample_requests(name, args, version)?;
        match requests.is_empty() {
            true => Err(CallError::Render(format!(
                "'{name}' sends no request to Kestra {version}"
            ))),
            false => Ok(requests.swap_remove(0).1),
        }
    }

    /// Every request a call with `args` may send to a Kestra of `version`, rendered without
    /// sending anything; values from earlier steps and loop items are stand-ins (`sample`).
    /// For contract checks against Kestra's OpenAPI descriptions.
    pub fn sample_requests(
        &self,
        name: &str,
        args: Map<String, Value>,
        version: &semver::Version,
    ) -> Result<Vec<(String, RenderedRequest)>, CallError> {
        let (action, mut ctx) = self.prepare(name, args)?;
        let sample = minijinja::Value::from_object(crate::render::Sample);
        let mut out = Vec::new();
        for (label, request) in action.requests() {
            if !request.fits(version) {
                continue;
            }
            ctx.insert("paging".into(), json!({"page": 1}));
            let jinja = minijinja::context! { steps => sample.clone(), item => sample.clone(), ..crate::render::context(&ctx) };
            let rendered = request
                .template
                .render(&self.templates, &jinja)
                .map_err(|e| CallError::Render(e.0))?;
            out.push((label, rendered));
        }
        Ok(out)
    }

    /// Validates the arguments, fills in defaults and picks the action.
    fn prepare(
        &self,
        name: &str,
        args: Map<String, Value>,
    ) -> Result<(&Action, Map<String, Value>), CallError> {
        let tool = self
            .tools
            .get(name)
            .ok_or_else(|| CallError::UnknownTool(name.to_owned()))?;
        validate(tool, &args)?;
        let mut ctx = tool.defaults.clone();
        ctx.extend(args);
        let action = pick_action(tool, &ctx)?;
        ctx.insert("kestra".into(), self.kestra.clone());
        Ok((action, ctx))
    }

    /// The server's version: `KESTRA_VERSION` if set, else asked from `GET /configs` and kept.
    /// After a failure, the same error is given without asking again until the back-off ends.
    pub(crate) async fn version(&self) -> Result<&semver::Version, CallError> {
        if let Some(version) = self.version.get() {
            return Ok(version);
        }
        if let Some((at, err)) = self.recent_version_failure()
            && within_backoff(Some(at), self.probe_backoff)
        {
            return Err(err);
        }
        let learned = self.version.get_or_try_init(|| self.ask_version()).await;
        if let Err(err) = &learned {
            let mut failure = self
                .version_failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *failure = Some((Instant::now(), err.clone()));
        }
        learned
    }

    fn recent_version_failure(&self) -> Option<(Instant, CallError)> {
        self.version_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn ask_version(&self) -> Result<semver::Version, CallError> {
        let answer = self.client.send(&version_probe()).await?;
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

    /// The error without the configured credentials, in any form, and of the same kind.
    fn scrub(&self, err: CallError) -> CallError {
        if self.secrets.is_empty() {
            return err;
        }
        err.map_text(|text| self.secrets.scrub(text).into_owned())
    }
}

impl std::fmt::Debug for Engine {
    /// Written by hand: the credentials never appear (the client shows its auth redacted).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
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

/// `GET /configs`: Kestra's version and edition (asked by the engine and by `doctor`).
pub fn version_probe() -> RenderedRequest {
    RenderedRequest::get(Scope::Instance, "/configs", &[])
}

fn validate(tool: &CompiledTool, args: &Map<String, Value>) -> Result<(), CallError> {
    let instance = Value::Object(args.clone());
    let problems: Vec<String> = tool
        .validator
        .iter_errors(&instance)
        .map(|e| {
            let at = e.instance_path().to_string();
            let reason = describe_violation(&e);
            if at.is_empty() {
                reason
            } else {
                format!("'{}': {reason}", at.trim_start_matches('/'))
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CallError::InvalidArguments(problems.join("; ")))
    }
}

/// The reason of one schema violation. jsonschema's own text is kept except for enums, whose
/// message lists only a few allowed values ("or 4 other candidates"): the agent needs them all.
fn describe_violation(e: &jsonschema::ValidationError<'_>) -> String {
    match e.kind() {
        jsonschema::error::ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = match options.as_ref() {
                Value::Array(values) => values.iter().map(Value::to_string).collect(),
                other => vec![other.to_string()],
            };
            format!(
                "{} is not one of the allowed values: {}",
                e.instance(),
                allowed.join(", ")
            )
        }
        _ => e.to_string(),
    }
}

fn pick_action<'t>(tool: &'t CompiledTool, ctx: &Map<String, Value>) -> Result<&'t Action, CallError> {
    let action = match &tool.dispatch {
        Dispatch::Single(action) => action,
        Dispatch::ByArgument { argument, actions } => {
            let chosen = ctx.get(argument).and_then(Value::as_str).unwrap_or_default();
            actions.get(chosen).ok_or_else(|| {
                CallError::InvalidArguments(format!(
                    "'{argument}' must be one of {}",
                    actions.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?
        }
    };
    let missing: Vec<&str> = action
        .requires
        .iter()
        .filter(|r| {
            matches!(ctx.get(*r), None | Some(Value::Null))
                || ctx.get(*r) == Some(&Value::String(String::new()))
        })
        .map(String::as_str)
        .collect();
    if let (false, Dispatch::ByArgument { argument, .. }) = (missing.is_empty(), &tool.dispatch) {
        let chosen = ctx.get(argument).and_then(Value::as_str).unwrap_or_default();
        return Err(CallError::InvalidArguments(format!(
            "{argument} '{chosen}' needs {}",
            missing
                .iter()
                .map(|m| format!("'{m}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::apply_disabled;
    use crate::spec::{LoadOptions, load_catalog};

    fn engine(vars: &[(&str, &str)]) -> Engine {
        let config = Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        let catalog = load_catalog(&LoadOptions::default()).unwrap();
        Engine::new(apply_disabled(catalog.tools, &[]), catalog.templates, &config).unwrap()
    }

    #[test]
    fn debug_output_carries_no_credential() {
        let basic = [
            ("KESTRA_USERNAME", "admin"),
            ("KESTRA_PASSWORD", "hunter2-secret"),
        ];
        let engine = engine(&basic);
        let config = Config::from_lookup(|name| {
            basic
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        for text in [
            format!("{engine:?}"),
            format!("{:?}", engine.client),
            format!("{config:?}"),
            format!("{:?}", config.auth),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        let bearer = self::engine(&[("KESTRA_API_TOKEN", "tok-very-secret")]);
        assert!(!format!("{bearer:?}").contains("tok-very-secret"));
    }

    #[test]
    fn scrubbing_keeps_the_error_kind_and_ordinary_words() {
        let engine = engine(&[("KESTRA_USERNAME", "admin"), ("KESTRA_PASSWORD", "p")]);
        let err = engine.scrub(CallError::Kestra {
            status: 404,
            method: "GET",
            path: "/flows/company.team/broken_by_mcp".into(),
            message: "Flow broken_by_mcp not found; you sent admin:p (YWRtaW46cA==)".into(),
        });
        assert_eq!(
            err,
            CallError::Kestra {
                status: 404,
                method: "GET",
                path: "/flows/company.team/broken_by_mcp".into(),
                message: "Flow broken_by_mcp not found; you sent *** (***)".into(),
            }
        );
        let err = engine.scrub(CallError::InvalidArguments("p is wrong".into()));
        assert_eq!(err, CallError::InvalidArguments("*** is wrong".into()));
        let engine = self::engine(&[("KESTRA_USERNAME", "admin"), ("KESTRA_PASSWORD", "e")]);
        let err = engine.scrub(CallError::Declared("Kestra answered: e".into()));
        assert_eq!(err, CallError::Declared("Kestra answered: ***".into()));
    }

    #[test]
    fn validation_messages_name_the_argument_and_the_reason() {
        let engine = engine(&[]);
        let refused = |args: Value| match engine
            .prepare("list_flows_in_namespace", args.as_object().unwrap().clone())
        {
            Err(CallError::InvalidArguments(message)) => message,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(refused(json!({})), "\"namespace\" is a required property");
        assert_eq!(
            refused(json!({"namespace": 5})),
            "'namespace': 5 is not of type \"string\""
        );
        let unexpected = refused(json!({"namespace": "n", "nmespace": "n"}));
        assert!(unexpected.contains("'nmespace' was unexpected"), "{unexpected}");
    }

    #[test]
    fn an_enum_violation_lists_every_allowed_value() {
        let engine = engine(&[]);
        let args = json!({"state": "NOPE", "execution_id": "e", "task_run_id": "t"});
        let Err(CallError::InvalidArguments(message)) =
            engine.prepare("change_taskrun_state", args.as_object().unwrap().clone())
        else {
            panic!("the arguments should be refused");
        };
        assert!(
            message.starts_with(
                "'state': \"NOPE\" is not one of the allowed values: \"CANCELLED\", \"CREATED\","
            ),
            "{message}"
        );
        assert!(message.ends_with("\"SUCCESS\", \"WARNING\""), "{message}");
        assert!(!message.contains("other candidates"), "{message}");
    }
}
