//! The MCP adapter: rmcp's `ServerHandler` over the [`Engine`]. Thin on purpose: tool failures
//! become `isError` results, only an unknown tool is a JSON-RPC error, and a call cancelled by
//! the client (`notifications/cancelled`) drops its HTTP request.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::engine::SharedEngine;
use crate::error::CallError;
use crate::exchange::{CallContext, ClientCapabilities, ProgressSink};
use crate::reload::Subscribers;

/// What the server tells clients about itself, as the Python server does.
const INSTRUCTIONS: &str = "Tools for the Kestra workflow orchestrator: flows, executions, logs, \
KV store, namespace files and Enterprise administration. Select the single most relevant tool for \
the user's request and invoke only that one tool.";

/// The rmcp handler.
#[derive(Clone)]
pub struct KestraMcp {
    engine: SharedEngine,
    /// With hot reload: the tool list can change (announced in the capabilities), and each
    /// initialized session subscribes to the change notifications.
    subscribers: Option<Subscribers>,
}

impl KestraMcp {
    pub fn new(engine: SharedEngine, subscribers: Option<Subscribers>) -> Self {
        KestraMcp { engine, subscribers }
    }
}

/// Converts an engine outcome into an MCP result (or a protocol error for an unknown tool).
pub fn to_call_result(
    outcome: Result<serde_json::Map<String, Value>, CallError>,
) -> Result<CallToolResult, ErrorData> {
    match outcome {
        Ok(result) => {
            let text = serde_json::to_string(&result).unwrap_or_default();
            let mut out = CallToolResult::success(vec![ContentBlock::text(text)]);
            out.structured_content = Some(Value::Object(result));
            Ok(out)
        }
        Err(e) if e.is_protocol_error() => Err(ErrorData::invalid_params(e.to_string(), None)),
        Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(e.to_string())])),
    }
}

/// The engine's view of one `tools/call`: the tool, its arguments, what the client supports,
/// a progress sink when the client sent a `progressToken`, and the call's cancellation.
fn call_context(
    name: &str,
    arguments: Option<serde_json::Map<String, Value>>,
    context: &RequestContext<RoleServer>,
) -> CallContext {
    let info = context.peer.peer_info();
    let client = ClientCapabilities {
        elicitation: info
            .as_ref()
            .is_some_and(|i| i.capabilities.elicitation.is_some()),
        sampling: info.as_ref().is_some_and(|i| i.capabilities.sampling.is_some()),
        name: info
            .as_ref()
            .map(|i| format!("{} {}", i.client_info.name, i.client_info.version)),
    };
    let progress = context.meta.get_progress_token().map(|token| {
        let peer = context.peer.clone();
        ProgressSink::new(move |progress, total, message| {
            let mut param = ProgressNotificationParam::new(token.clone(), progress);
            param.total = total;
            param.message = message;
            let peer = peer.clone();
            tokio::spawn(async move {
                if let Err(e) = peer.notify_progress(param).await {
                    tracing::debug!("cannot send a progress notification: {e}");
                }
            });
        })
    });
    CallContext {
        client,
        progress,
        cancel: context.ct.child_token(),
        ..CallContext::for_tool(name, arguments)
    }
}

impl ServerHandler for KestraMcp {
    fn get_info(&self) -> ServerConfig {
        let capabilities = match self.subscribers {
            Some(_) => ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
            None => ServerCapabilities::builder().enable_tools().build(),
        };
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("kestra-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        if let Some(subscribers) = &self.subscribers {
            subscribers.add(context.peer);
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let engine = self.engine.load_full();
        let tools = engine.served_tools().await;
        Ok(ListToolsResult::with_all_items(
            tools.into_iter().map(|t| t.tool.clone()).collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.engine.load().tool(name).map(|t| t.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let engine = self.engine.load_full();
        let call = engine.call_with(call_context(&name, request.arguments, &context));
        let outcome = tokio::select! {
            outcome = call => outcome,
            _ = context.ct.cancelled() => {
                tracing::info!(tool = %name, "call cancelled by the client");
                return Err(ErrorData::internal_error("request cancelled", None));
            }
        };
        if let Err(e) = &outcome {
            tracing::warn!(tool = %name, error = %e, "tool call failed");
        }
        to_call_result(outcome).map(CallToolResponse::from)
    }
}
