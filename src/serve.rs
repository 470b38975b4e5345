//! The MCP adapter: rmcp's `ServerHandler` over the [`Engine`]. Thin on purpose: tool failures
//! become `isError` results, only an unknown tool is a JSON-RPC error, and a call cancelled by
//! the client (`notifications/cancelled`) drops its HTTP request.

use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::model::{CancelTaskParams, CreateTaskResult, GetTaskParams, GetTaskResult, UpdateTaskParams};
use rmcp::model::{ClientResult, ServerRequest};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};
use serde_json::Value;

use crate::discovery;
use crate::elicit::{ElicitError, Elicitation};
use crate::elicit_wire::{elicit_request, elicited};
use crate::engine::SharedEngine;
use crate::error::CallError;
use crate::exchange::{
    CallContext, ClientCapabilities, ProgressSink, READ_ONLY_HEADER, SessionLimits, arguments_digest,
};
use crate::filter::Toolsets;
use crate::guard::Namespaces;
use crate::policy::Grant;
use crate::reload::Subscribers;

/// What the server tells clients about itself: what the tools reach and how they fit together,
/// not how to write the answer. Chores often take several calls (find, then act), so it does not
/// ask for a single one; it does not name Enterprise tools, which an OSS Kestra does not serve.
const INSTRUCTIONS: &str = "Tools for the Kestra workflow orchestrator: flows, executions, logs, \
KV store and namespace files of one Kestra tenant. Find things with the search and list tools \
(they take filters and time ranges), then act on them by id; a chore may take several calls. \
Results larger than the server's bound are cut and carry a `truncated` field that says what was \
left out and which arguments narrow the answer. Flow schedules (cron) run in UTC unless the \
trigger sets a timezone.";

/// Added to [`INSTRUCTIONS`] when the session starts with the discovery tools.
const DYNAMIC_INSTRUCTIONS: &str = " Only some tools are listed at first: call \
list_available_toolsets to see the toolsets and their tools, then enable_toolset to add the ones \
you need.";

/// The rmcp handler: one per session (the stdio client, or each Streamable HTTP session).
#[derive(Clone)]
pub struct KestraMcp {
    engine: SharedEngine,
    /// With hot reload: the tool list can change (announced in the capabilities), and each
    /// initialized session subscribes to the change notifications.
    subscribers: Option<Subscribers>,
    /// The toolsets this session sees (`KESTRA_MCP_TOOLSETS`, plus those it enabled with
    /// dynamic discovery). Kept here, not in the engine, so that a reload keeps them and one
    /// session's choice is not another's.
    toolsets: Arc<Mutex<Toolsets>>,
}

impl KestraMcp {
    /// A session that sees every tool.
    pub fn new(engine: SharedEngine, subscribers: Option<Subscribers>) -> Self {
        KestraMcp {
            engine,
            subscribers,
            toolsets: Arc::default(),
        }
    }

    /// The same session starting with `toolsets` (its own copy).
    pub fn with_toolsets(self, toolsets: Toolsets) -> Self {
        KestraMcp {
            toolsets: Arc::new(Mutex::new(toolsets)),
            ..self
        }
    }

    fn toolsets(&self) -> Toolsets {
        self.toolsets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The session's toolsets narrowed by the user's policy rule (over HTTP with OAuth) and the
    /// request's headers, and its other limits.
    fn narrowed(&self, context: &RequestContext<RoleServer>) -> (Toolsets, SessionLimits) {
        let runtime = self.engine.load().runtime().clone();
        let Narrowing { toolsets, mut limits } =
            narrowing(context, runtime.namespaces(), runtime.read_only());
        let mut session = self.toolsets();
        if let Some(grant) = granted(context) {
            if let Some(ceiling) = grant.toolsets {
                session = session.narrowed(ceiling);
            }
            if grant.read_only && !limits.read_only {
                limits.read_only = true;
                limits.read_only_by_policy = true;
            }
            limits.namespaces.extend(grant.namespaces);
            limits.user = Some(grant.user);
        }
        if let Some(ceiling) = toolsets {
            session = session.narrowed(ceiling);
        }
        (session, limits)
    }

    /// Runs a discovery tool (they answer from the session's state, never from Kestra).
    async fn discover(
        &self,
        name: &str,
        arguments: serde_json::Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let engine = self.engine.load_full();
        let (toolsets, limits) = self.narrowed(context);
        let available = engine.available_tools_for(limits.read_only).await;
        let outcome = match name {
            discovery::LIST_AVAILABLE_TOOLSETS => Ok(discovery::list(&available, &toolsets)),
            discovery::GET_TOOLSET_TOOLS => discovery::get(&available, &toolsets, &arguments),
            _ => self.enable(&available, &arguments, context).await,
        };
        to_call_result(outcome)
    }

    /// `enable_toolset`: enables the toolsets in this session's copy and, when its tool list
    /// changed, tells its client.
    async fn enable(
        &self,
        available: &[(&crate::spec::CompiledTool, Tool)],
        arguments: &serde_json::Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<serde_json::Map<String, Value>, CallError> {
        if sessionless_http(context) {
            return Err(CallError::Refused(discovery::NO_SESSION.to_owned()));
        }
        let enabled = {
            let mut toolsets = self.toolsets.lock().unwrap_or_else(PoisonError::into_inner);
            discovery::enable(available, &mut toolsets, arguments)?
        };
        if enabled.changed
            && let Err(e) = context.peer.notify_tool_list_changed().await
        {
            tracing::info!("cannot send tools/list_changed: {e}");
        }
        Ok(enabled.result)
    }
}

/// Converts an engine outcome into an MCP result (or a protocol error for an unknown tool):
/// the data once, as compact JSON text. See [`to_structured_call_result`] for a tool with an
/// `outputSchema`.
pub fn to_call_result(
    outcome: Result<serde_json::Map<String, Value>, CallError>,
) -> Result<CallToolResult, ErrorData> {
    call_result(outcome, false)
}

/// As [`to_call_result`], with the data also as `structuredContent`: MCP requires it of a tool
/// that advertises an `outputSchema` (and asks for the same JSON as text beside it). Other tools
/// answer text only: hosts forward both to the model when both are there, which doubled the bytes
/// of every answer.
pub fn to_structured_call_result(
    outcome: Result<serde_json::Map<String, Value>, CallError>,
) -> Result<CallToolResult, ErrorData> {
    call_result(outcome, true)
}

fn call_result(
    outcome: Result<serde_json::Map<String, Value>, CallError>,
    structured: bool,
) -> Result<CallToolResult, ErrorData> {
    match outcome {
        Ok(result) => {
            let text = serde_json::to_string(&result).unwrap_or_default();
            let mut out = CallToolResult::success(vec![ContentBlock::text(text)]);
            if structured {
                out.structured_content = Some(Value::Object(result));
            }
            Ok(out)
        }
        Err(e) if e.is_protocol_error() => Err(ErrorData::invalid_params(e.to_string(), None)),
        // Kestra's error text reaches the model too: no hidden characters in it.
        Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(
            crate::sanitize::clean_text(&e.to_string()).into_owned(),
        )])),
    }
}

/// The engine's view of one `tools/call`: the tool, its arguments, what the client supports,
/// a progress sink when the client sent a `progressToken`, and the call's cancellation. The
/// handle, when there is a sink, ends once every report has been sent (in order): the result is
/// sent after it, so that the last progress notification comes before the result.
fn call_context(
    name: &str,
    arguments: Option<serde_json::Map<String, Value>>,
    context: &RequestContext<RoleServer>,
) -> (CallContext, Option<tokio::task::JoinHandle<()>>) {
    let client = client_capabilities(context);
    let (progress, reporting) = match context.meta.get_progress_token() {
        Some(token) => {
            let (sink, reporting) = progress_through(context.peer.clone(), token);
            (Some(sink), Some(reporting))
        }
        None => (None, None),
    };
    let elicitation = client
        .elicitation
        .then(|| elicitation_through(context.peer.clone()));
    let call = CallContext {
        client,
        progress,
        elicitation,
        cancel: context.ct.child_token(),
        ..CallContext::for_tool(name, arguments)
    };
    (call, reporting)
}

/// What the client said it supports in its `initialize` request.
fn client_capabilities(context: &RequestContext<RoleServer>) -> ClientCapabilities {
    let info = context.peer.peer_info();
    ClientCapabilities {
        elicitation: info
            .as_ref()
            .is_some_and(|i| i.capabilities.elicitation.is_some()),
        sampling: info.as_ref().is_some_and(|i| i.capabilities.sampling.is_some()),
        name: info
            .as_ref()
            .map(|i| format!("{} {}", i.client_info.name, i.client_info.version)),
    }
}

/// Starts the call as a task (`crate::tasks`) when the client declared the tasks extension
/// (at `initialize` or in the request's `_meta`) and the tool can wait; `None`: run it now.
fn as_task(
    engine: &Arc<crate::engine::Engine>,
    name: &str,
    arguments: Option<&serde_json::Map<String, Value>>,
    session: &SessionLimits,
    context: &RequestContext<RoleServer>,
) -> Option<CreateTaskResult> {
    let settings = engine.runtime().tasks();
    let declared = context
        .client_capabilities()
        .is_some_and(|caps| caps.supports_tasks());
    if !settings.enabled() || !declared || !engine.tool(name).is_some_and(crate::tasks::can_wait) {
        return None;
    }
    let call = CallContext {
        client: client_capabilities(context),
        session: session.clone(),
        ..CallContext::for_tool(name, arguments.cloned())
    };
    let engine = engine.clone();
    let run: crate::tasks::Run =
        Box::new(move |call| Box::pin(async move { to_call_result(engine.call_with(call).await) }));
    let task = crate::tasks::shared().start(settings, call, run);
    if task.is_none() {
        tracing::info!(tool = %name, "KESTRA_MCP_MAX_TASKS tasks held: the call runs as a plain call");
    }
    task.map(CreateTaskResult::new)
}

/// `call`, with a panic while it runs turned into an error: rmcp runs each request in a task of
/// its own, so a panic would end only that task, but the client would never get an answer.
/// (Other sessions and requests are not affected either way; the release profile unwinds so
/// that this holds there too.)
pub async fn contain_panic<T>(call: impl Future<Output = T>) -> Result<T, String> {
    CatchPanic(Box::pin(call)).await
}

struct CatchPanic<F>(std::pin::Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(payload) => std::task::Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// The longest a result waits for the progress reports queued before it.
const REPORTS_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// A progress sink whose reports go out as `notifications/progress` for `token`, in the order
/// they were made, from one task that ends when the sink (every clone) is dropped.
fn progress_through(
    peer: rmcp::Peer<RoleServer>,
    token: rmcp::model::ProgressToken,
) -> (ProgressSink, tokio::task::JoinHandle<()>) {
    let (sender, mut reports) = tokio::sync::mpsc::unbounded_channel::<ProgressNotificationParam>();
    let reporting = tokio::spawn(async move {
        while let Some(param) = reports.recv().await {
            if let Err(e) = peer.notify_progress(param).await {
                tracing::debug!("cannot send a progress notification: {e}");
            }
        }
    });
    let sink = ProgressSink::new(move |progress, total, message| {
        let mut param = ProgressNotificationParam::new(token.clone(), progress);
        param.total = total;
        param.message = message;
        let _ = sender.send(param);
    });
    (sink, reporting)
}

/// Whether `context` is a request over HTTP without a session: rmcp serves the 2026-07-28
/// revision (no handshake) statelessly, each request with a fresh handler, so nothing a
/// session enables could last.
fn sessionless_http(context: &RequestContext<RoleServer>) -> bool {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .is_some_and(|parts| !parts.headers.contains_key("mcp-session-id"))
}

/// What a `tools/list` cursor starts with (the rest is the offset of the page's first tool).
const CURSOR_PREFIX: &str = "tools:";

/// The page of `tools` that `cursor` points at (`None`: the first), `size` tools long (`None`:
/// all), and the cursor of the next page when there is one. A cursor this server did not give
/// (or one past the end) is an error, which the client gets as invalid params.
fn page_of(
    tools: Vec<Tool>,
    cursor: Option<&str>,
    size: Option<usize>,
) -> Result<(Vec<Tool>, Option<String>), String> {
    let start = match cursor {
        None => 0,
        Some(text) => text
            .strip_prefix(CURSOR_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= tools.len())
            .ok_or_else(|| {
                format!("invalid cursor '{text}': not one this server gave (list again without a cursor)")
            })?,
    };
    let Some(size) = size else {
        return Ok((tools.into_iter().skip(start).collect(), None));
    };
    let end = start.saturating_add(size).min(tools.len());
    let next = (end < tools.len()).then(|| format!("{CURSOR_PREFIX}{end}"));
    Ok((tools.into_iter().skip(start).take(end - start).collect(), next))
}

/// The header that narrows a session's toolsets (GitHub's MCP server's name).
pub const TOOLSETS_HEADER: &str = "X-MCP-Toolsets";

/// What a request's headers ask to narrow (over HTTP; nothing on stdio). Every request of a
/// session carries them, so they are read per request and never stored: a later request
/// cannot widen what an earlier one narrowed, since there is nothing to widen from.
#[derive(Debug, Default)]
struct Narrowing {
    toolsets: Option<Toolsets>,
    limits: SessionLimits,
}

fn narrowing(
    context: &RequestContext<RoleServer>,
    server: Option<&Namespaces>,
    server_read_only: bool,
) -> Narrowing {
    let Some(parts) = context.extensions.get::<axum::http::request::Parts>() else {
        return Narrowing::default();
    };
    let header = |name: &str| {
        let values: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    Narrowing {
        toolsets: header(TOOLSETS_HEADER).map(|list| {
            let names: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            Toolsets::from_names(&names)
        }),
        limits: SessionLimits {
            read_only: header(READ_ONLY_HEADER).is_some_and(|v| read_only_header(&v, server_read_only)),
            namespaces: header(crate::guard::HEADER)
                .map(|list| Arc::new(namespaces_header(&list, server)))
                .into_iter()
                .collect(),
            user: None,
            read_only_by_policy: false,
        },
    }
}

/// What the user's policy grants (set by the HTTP transport once the token is validated).
fn granted(context: &RequestContext<RoleServer>) -> Option<Grant> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Grant>())
        .cloned()
}

/// `X-MCP-Readonly`: `true`/`1`/`yes` narrow; `false` cannot widen a read-only server (a
/// warning says so); anything else is read as `true`, failing closed.
fn read_only_header(value: &str, server_read_only: bool) -> bool {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => true,
        "false" | "0" | "no" | "off" => {
            if server_read_only {
                tracing::warn!(
                    "{READ_ONLY_HEADER}: {value} ignored: it cannot widen KESTRA_MCP_READ_ONLY=true"
                );
            }
            false
        }
        _ => {
            tracing::warn!("{READ_ONLY_HEADER}: '{value}' is not true or false; the session is read-only");
            true
        }
    }
}

/// `X-MCP-Namespaces`: checked besides the server's policy, so it can only narrow; patterns
/// the server's does not cover are said in a warning (they allow nothing more). A list that
/// cannot be read allows no namespace (failing closed).
fn namespaces_header(list: &str, server: Option<&Namespaces>) -> Namespaces {
    match Namespaces::parse(list, crate::guard::HEADER) {
        Ok(Some(session)) => {
            let wider = server.map(|s| s.not_covered(&session)).unwrap_or_default();
            if !wider.is_empty() {
                tracing::warn!(
                    "{}: {} ignored: outside {}, which a session cannot widen",
                    crate::guard::HEADER,
                    wider.join(","),
                    crate::guard::SETTING
                );
            }
            session
        }
        Ok(None) => Namespaces::nothing(crate::guard::HEADER),
        Err(e) => {
            tracing::warn!("{}: {e}; the session may use no namespace", crate::guard::HEADER);
            Namespaces::nothing(crate::guard::HEADER)
        }
    }
}

/// Asks the user through the session's peer (`elicitation/create`, form mode).
pub fn elicitation_through(peer: Peer<RoleServer>) -> Elicitation {
    Elicitation::new(move |message, schema| {
        let peer = peer.clone();
        Box::pin(async move {
            let request = elicit_request(message, schema)?;
            let answer = peer
                .send_request(ServerRequest::ElicitRequest(request))
                .await
                .map_err(|e| ElicitError(e.to_string()))?;
            match answer {
                ClientResult::ElicitResult(result) => Ok(elicited(result)),
                other => Err(ElicitError(format!(
                    "the client answered something else: {other:?}"
                ))),
            }
        })
    })
}

/// `capabilities` with the tasks extension declared.
fn with_tasks(mut capabilities: ServerCapabilities) -> ServerCapabilities {
    let tasks = ServerCapabilities::builder().enable_tasks().build();
    capabilities.extensions = tasks.extensions;
    capabilities
}

impl ServerHandler for KestraMcp {
    fn get_info(&self) -> ServerConfig {
        let list_changes = self.subscribers.is_some() || self.toolsets().is_dynamic();
        let capabilities = match list_changes {
            true => ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
            false => ServerCapabilities::builder().enable_tools().build(),
        };
        let capabilities = match self.engine.load().runtime().tasks().enabled() {
            true => with_tasks(capabilities),
            false => capabilities,
        };
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("kestra-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(match self.toolsets().is_dynamic() {
                true => format!("{INSTRUCTIONS}{DYNAMIC_INSTRUCTIONS}"),
                false => INSTRUCTIONS.to_owned(),
            })
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        if let Some(subscribers) = &self.subscribers {
            subscribers.add(context.peer);
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let engine = self.engine.load_full();
        let (toolsets, limits) = self.narrowed(&context);
        let mut tools = match toolsets.is_dynamic() {
            true => discovery::tools(),
            false => Vec::new(),
        };
        tools.extend(engine.listed_tools_for(&toolsets, limits.read_only).await);
        let cursor = request.and_then(|r| r.cursor);
        let (page, next) = page_of(tools, cursor.as_deref(), engine.runtime().tools_page_size())
            .map_err(|message| ErrorData::invalid_params(message, None))?;
        let mut result = ListToolsResult::with_all_items(page);
        result.next_cursor = next;
        Ok(result)
    }

    /// Only for rmcp's check of `Mcp-Param-*` headers against the input schema (on HTTP it
    /// asks a fresh handler, not the session's): the tool whatever the session enabled.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        if self.toolsets().is_dynamic() && discovery::is_discovery_tool(name) {
            return discovery::tools().into_iter().find(|t| t.name == name);
        }
        self.engine.load().tool(name).map(|t| t.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let (toolsets, limits) = self.narrowed(&context);
        if toolsets.is_dynamic() && discovery::is_discovery_tool(&name) {
            let arguments = request.arguments.unwrap_or_default();
            return self
                .discover(&name, arguments, &context)
                .await
                .map(CallToolResponse::from);
        }
        let engine = self.engine.load_full();
        let audit = limits.user.clone().map(|user| CallAudit {
            user,
            digest: arguments_digest(request.arguments.as_ref().unwrap_or(&serde_json::Map::new())),
        });
        // A tool the session has not enabled answers as an unknown tool does.
        if engine.tool(&name).is_some_and(|t| !toolsets.admits(t)) {
            let outcome = Err(CallError::UnknownTool(name.clone()));
            audit_call(audit.as_ref(), &name, &outcome);
            return to_call_result(outcome).map(CallToolResponse::from);
        }
        if let Some(task) = as_task(&engine, &name, request.arguments.as_ref(), &limits, &context) {
            return Ok(CallToolResponse::Task(task));
        }
        let (call, reporting) = call_context(&name, request.arguments, &context);
        let call = contain_panic(engine.call_with(CallContext {
            session: limits,
            ..call
        }));
        let outcome = tokio::select! {
            outcome = call => outcome.map_err(|panic| {
                tracing::error!(tool = %name, "the call panicked (a bug in kestra-mcp): {panic}");
                ErrorData::internal_error(format!("kestra-mcp failed while serving this call (a bug): {panic}"), None)
            })?,
            _ = context.ct.cancelled() => {
                tracing::info!(tool = %name, "call cancelled by the client");
                return Err(ErrorData::internal_error("request cancelled", None));
            }
        };
        // The call and its sink are gone: the reports still queued go out before the result.
        // Bounded, should a clone of the sink outlive the call.
        if let Some(reporting) = reporting {
            let _ = tokio::time::timeout(REPORTS_DRAIN, reporting).await;
        }
        if let Err(e) = &outcome {
            tracing::warn!(tool = %name, error = %e, "tool call failed");
        }
        audit_call(audit.as_ref(), &name, &outcome);
        let has_output_schema = engine.tool(&name).is_some_and(|t| t.tool.output_schema.is_some());
        let result = if has_output_schema {
            to_structured_call_result(outcome)
        } else {
            to_call_result(outcome)
        };
        result.map(CallToolResponse::from)
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        crate::tasks::shared()
            .get(&request.task_id)
            .map(GetTaskResult::new)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        crate::tasks::shared().update(&request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        crate::tasks::shared().cancel(&request.task_id)
    }
}

/// Who made a call and the digest of its arguments, for its audit line.
struct CallAudit {
    user: Arc<str>,
    digest: String,
}

/// One line per call of an authenticated user (target `audit`), besides the exchange point's
/// line per Kestra request: a call refused before any request (read-only, not in the user's
/// toolsets) is recorded too.
fn audit_call(
    audit: Option<&CallAudit>,
    tool: &str,
    outcome: &Result<serde_json::Map<String, Value>, CallError>,
) {
    let Some(audit) = audit else {
        return;
    };
    let result = match outcome {
        Ok(_) => "ok",
        Err(CallError::UnknownTool(_)) => "unknown tool",
        Err(CallError::Refused(_)) => "refused",
        Err(_) => "error",
    };
    tracing::info!(
        target: "audit",
        user = %audit.user,
        tool = %tool,
        arguments_sha256 = %audit.digest,
        result = %result,
        "audit: tool call"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::elicit::{Answer, Elicited};
    use crate::engine::{Engine, shared};
    use crate::filter::apply_disabled;
    use crate::spec::{LoadOptions, load_catalog};
    use crate::stdio_client::StdioClient;
    use serde_json::json;

    #[tokio::test]
    async fn a_panicking_call_becomes_an_error_and_the_next_call_runs() {
        let panicked = contain_panic(async {
            tokio::task::yield_now().await;
            let empty: Vec<u8> = Vec::new();
            empty[3]
        })
        .await;
        assert!(panicked.unwrap_err().contains("index out of bounds"));
        assert_eq!(contain_panic(async { 7 }).await, Ok(7));
    }

    #[test]
    fn tools_list_pages_follow_their_cursor() {
        let tools: Vec<Tool> = discovery::tools();
        let n = tools.len();
        assert!(n >= 3);
        let names = |page: &[Tool]| page.iter().map(|t| t.name.to_string()).collect::<Vec<_>>();
        let (all, next) = page_of(tools.clone(), None, None).unwrap();
        assert_eq!((all.len(), next), (n, None));
        let (first, next) = page_of(tools.clone(), None, Some(2)).unwrap();
        assert_eq!(names(&first), names(&tools[..2]));
        let next = next.unwrap();
        let (second, last) = page_of(tools.clone(), Some(&next), Some(n)).unwrap();
        assert_eq!(names(&second), names(&tools[2..]));
        assert_eq!(last, None);
        for bad in ["", "tools:x", "2", "tools:999"] {
            assert!(page_of(tools.clone(), Some(bad), Some(2)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_elicitation_handle_asks_the_client_and_returns_its_answer() {
        let config = Config::from_lookup(|name| {
            (name == "KESTRA_BASE_URL").then(|| "http://127.0.0.1:9/api/v1".to_owned())
        })
        .unwrap();
        let catalog = load_catalog(&LoadOptions::default()).unwrap();
        let engine =
            shared(Engine::new(apply_disabled(catalog.tools, &[]), catalog.layers, &config).unwrap());
        let subscribers = Subscribers::default();
        let mut client = StdioClient::start(engine, subscribers.clone(), json!({"elicitation": {}})).await;
        client.request("tools/list", json!({})).await;
        let peer = subscribers.peers().pop().unwrap();
        assert!(peer.peer_info().unwrap().capabilities.elicitation.is_some());
        let handle = elicitation_through(peer);
        let schema = json!({"type": "object", "properties": {"namespace": {"type": "string"}}, "required": ["namespace"]});

        let asking = tokio::spawn({
            let (handle, schema) = (handle.clone(), schema.clone());
            async move { handle.ask("Which namespace?", schema).await }
        });
        let question = client.wait_for("elicitation/create").await;
        assert_eq!(question["params"]["message"], "Which namespace?");
        assert_eq!(
            question["params"]["requestedSchema"]["properties"],
            schema["properties"]
        );
        client
            .send(json!({"jsonrpc": "2.0", "id": question["id"],
                         "result": {"action": "accept", "content": {"namespace": "company.team"}}}))
            .await;
        let answer = asking.await.unwrap().unwrap();
        assert_eq!(answer.answer, Answer::Accept);
        assert_eq!(answer.content.unwrap()["namespace"], "company.team");

        let asking = tokio::spawn(async move { handle.ask("Again?", schema).await });
        let question = client.wait_for("elicitation/create").await;
        client
            .send(json!({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "decline"}}))
            .await;
        let answer = asking.await.unwrap().unwrap();
        assert_eq!(
            answer,
            Elicited {
                answer: Answer::Decline,
                content: None
            }
        );
    }
}
