//! The Streamable HTTP transport (`kestra-mcp serve --http 127.0.0.1:8000`, endpoint `/mcp`),
//! with the protections the MCP specification's security section asks for: loopback by default,
//! `Host` checked against an allow-list (DNS rebinding), a request with a foreign `Origin`
//! refused with 403, and an optional bearer token required from clients
//! (`KESTRA_MCP_HTTP_TOKEN`). A client's credentials are never forwarded to Kestra: the engine
//! only ever sends the configured ones.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::engine::SharedEngine;
use crate::filter::Toolsets;
use crate::reload::Subscribers;
use crate::serve::KestraMcp;

/// How the HTTP endpoint is exposed.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// Bearer token clients must send (`KESTRA_MCP_HTTP_TOKEN`); `None`: no client auth.
    pub token: Option<String>,
    /// Extra `Host` values accepted besides loopback names (for a server behind a proxy).
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins accepted besides `http://localhost:*` and `http://127.0.0.1:*`.
    pub allowed_origins: Vec<String>,
    /// With hot reload: the sessions to tell when the tool list changes.
    pub subscribers: Option<Subscribers>,
    /// The toolsets each new session starts with (`KESTRA_MCP_TOOLSETS`); a session that
    /// enables more changes only its own copy.
    pub toolsets: Toolsets,
}

/// The `/mcp` router for `engine` (separate from `serve_http` so tests can mount it).
pub fn router(engine: SharedEngine, options: &HttpOptions, shutdown: CancellationToken) -> axum::Router {
    let mut hosts: Vec<String> = vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
        "[::1]".into(),
    ];
    hosts.extend(options.allowed_hosts.iter().cloned());
    let mut origins: Vec<String> = vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()];
    origins.extend(options.allowed_origins.iter().cloned());
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation();
    config.cancellation_token = shutdown;
    let engine_for_health = engine.clone();
    let subscribers = options.subscribers.clone();
    let toolsets = options.toolsets.clone();
    let service = StreamableHttpService::new(
        move || Ok(KestraMcp::new(engine.clone(), subscribers.clone()).with_toolsets(toolsets.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let token = Arc::new(options.token.clone());
    let health = crate::health::routes(engine_for_health);
    axum::Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(token, require_token))
        .merge(health)
}

/// Serves MCP over HTTP until Ctrl-C or SIGTERM.
pub async fn serve_http(engine: SharedEngine, options: HttpOptions) -> std::io::Result<()> {
    if !options.addr.ip().is_loopback() && options.token.is_none() {
        tracing::warn!(
            target: "startup",
            "serving MCP on {} without KESTRA_MCP_HTTP_TOKEN: anyone who can reach it can use your Kestra credentials",
            options.addr
        );
    }
    let shutdown = CancellationToken::new();
    let app = router(engine, &options, shutdown.clone());
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    eprintln!("kestra-mcp: serving MCP on http://{}/mcp", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            wait_for_signal().await;
            shutdown.cancel();
        })
        .await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn require_token(State(token): State<Arc<Option<String>>>, request: Request, next: Next) -> Response {
    match token.as_deref() {
        Some(expected) if !bearer_matches(request.headers(), expected) => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid bearer token is required (KESTRA_MCP_HTTP_TOKEN)",
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

/// Compares without an early exit, so the time taken says nothing about the token.
fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        assert!(bearer_matches(&headers(Some("Bearer s3cret")), "s3cret"));
        for bad in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("bearer s3cret"),
            Some("Basic s3cret"),
        ] {
            assert!(!bearer_matches(&headers(bad), "s3cret"), "{bad:?}");
        }
    }
}
