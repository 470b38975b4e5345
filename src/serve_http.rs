//! The Streamable HTTP transport (`kestra-mcp serve --http 127.0.0.1:8000`, endpoint `/mcp`),
//! with the protections the MCP specification's security section asks for: loopback by default,
//! `Host` checked against an allow-list (DNS rebinding), a request with a foreign `Origin`
//! refused with 403, and client authentication: a static bearer token
//! (`KESTRA_MCP_HTTP_TOKEN`) or OAuth access tokens (`oauth.rs`, `KESTRA_MCP_OAUTH_*`). A
//! client's credentials are never forwarded to Kestra: the engine only ever sends the
//! configured ones.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::engine::SharedEngine;
use crate::filter::Toolsets;
use crate::oauth::{OAuthSettings, Principal, Rejection, Verifier};
use crate::policy::{Grant, Policy};
use crate::reload::Subscribers;
use crate::serve::KestraMcp;

/// How the HTTP endpoint is exposed.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// Bearer token clients must send (`KESTRA_MCP_HTTP_TOKEN`); `None`: no client auth.
    pub token: Option<String>,
    /// OAuth access tokens clients must send (`KESTRA_MCP_OAUTH_*`); exclusive with `token`.
    pub oauth: Option<Arc<Verifier>>,
    /// With OAuth: the per-user policy (`KESTRA_MCP_POLICY_FILE`); `None`: every valid token
    /// gets what the server allows.
    pub policy: Option<Arc<Policy>>,
    /// Serve a non-loopback address without client authentication
    /// (`KESTRA_MCP_HTTP_ALLOW_UNAUTHENTICATED`); refused otherwise.
    pub allow_unauthenticated: bool,
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
    let auth = Arc::new(Auth {
        token: options.token.clone(),
        oauth: options.oauth.clone(),
        policy: options.policy.clone(),
        sessions: SessionOwners::default(),
    });
    let mcp = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(auth, authenticate));
    let mcp = match &options.oauth {
        Some(verifier) => mcp.merge(metadata_routes(verifier.settings().metadata())),
        None => mcp,
    };
    mcp.merge(crate::health::routes(engine_for_health))
}

/// `GET /.well-known/oauth-protected-resource` and its path-suffixed forms (`.../mcp`): the
/// protected resource metadata (RFC 9728), public.
fn metadata_routes(metadata: serde_json::Value) -> axum::Router {
    let body = Arc::new(metadata.to_string());
    let serve = move || {
        let body = body.clone();
        // Public, and read by browser-based clients from other origins.
        let headers = [
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ];
        async move { (headers, body.as_str().to_owned()) }
    };
    axum::Router::new()
        .route("/.well-known/oauth-protected-resource", get(serve.clone()))
        .route("/.well-known/oauth-protected-resource/{*path}", get(serve))
}

/// Serves MCP over HTTP until Ctrl-C or SIGTERM.
pub async fn serve_http(engine: SharedEngine, options: HttpOptions) -> std::io::Result<()> {
    if let Some(problem) = exposure_problem(&options) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, problem));
    }
    if !options.addr.ip().is_loopback() && !authenticates(&options) {
        tracing::warn!(
            target: "startup",
            "serving MCP on {} without client authentication ({ALLOW_UNAUTHENTICATED}): anyone who can reach it can use your Kestra credentials",
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

/// The setting that allows serving a non-loopback address without client authentication.
pub const ALLOW_UNAUTHENTICATED: &str = "KESTRA_MCP_HTTP_ALLOW_UNAUTHENTICATED";

fn authenticates(options: &HttpOptions) -> bool {
    options.token.is_some() || options.oauth.is_some()
}

/// Why `options` must not be served: a non-loopback address without client authentication,
/// unless explicitly allowed (anyone who reaches it would act with the server's Kestra rights).
pub fn exposure_problem(options: &HttpOptions) -> Option<String> {
    let open = !options.addr.ip().is_loopback() && !authenticates(options);
    (open && !options.allow_unauthenticated).then(|| {
        format!(
            "refusing to serve MCP on {} without client authentication: anyone who can reach it \
             would use Kestra with this server's credentials. Set KESTRA_MCP_HTTP_TOKEN or KESTRA_MCP_OAUTH_ISSUER, listen \
             on a loopback address (127.0.0.1), or set {ALLOW_UNAUTHENTICATED}=true if something \
             in front of it authenticates clients",
            options.addr
        )
    })
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

/// How clients authenticate.
struct Auth {
    token: Option<String>,
    oauth: Option<Arc<Verifier>>,
    policy: Option<Arc<Policy>>,
    sessions: SessionOwners,
}

/// The user who opened each MCP session (with OAuth): a session is bound to its user, as the
/// MCP security best practices ask, so another user who learns its `Mcp-Session-Id` cannot use
/// it. Forgotten when the session is deleted; a session abandoned without `DELETE` leaves its
/// small entry behind.
#[derive(Default)]
struct SessionOwners(Mutex<HashMap<String, Arc<str>>>);

const SESSION_HEADER: &str = "mcp-session-id";

impl SessionOwners {
    /// Runs `request` for `user`: refused (as an unknown session, 404) when it names a session
    /// another user opened; a session it opens is bound to `user`.
    async fn run_as(&self, user: Arc<str>, request: Request, next: Next) -> Response {
        let session = request
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(id) = &session
            && self.owner(id).is_some_and(|owner| owner != user)
        {
            tracing::warn!(target: "audit", user = %user, "refused: a session another user opened");
            return (StatusCode::NOT_FOUND, "no such session for this user").into_response();
        }
        let deleting = request.method() == axum::http::Method::DELETE;
        let response = next.run(request).await;
        let mut owners = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match (&session, response.headers().get(SESSION_HEADER)) {
            (None, Some(opened)) => {
                if let Ok(id) = opened.to_str() {
                    owners.insert(id.to_owned(), user);
                }
            }
            (Some(id), _) if deleting && response.status().is_success() => {
                owners.remove(id);
            }
            _ => {}
        }
        response
    }

    fn owner(&self, id: &str) -> Option<Arc<str>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }
}

/// Admits a request with the static token or a valid OAuth access token (whose principal
/// goes in the request's extensions, for the session's policy); refuses the others, and the
/// users the policy does not admit.
async fn authenticate(State(auth): State<Arc<Auth>>, mut request: Request, next: Next) -> Response {
    if let Some(verifier) = &auth.oauth {
        let Some(token) = bearer_token(request.headers()).map(str::to_owned) else {
            return challenge(verifier.settings(), Rejection::Missing);
        };
        let grant = match verifier.verify(&token).await {
            Ok(principal) => match grant(auth.policy.as_deref(), &principal) {
                Ok(grant) => grant,
                Err(why) => {
                    let text = format!("refused by this server's policy: {why}");
                    return (StatusCode::FORBIDDEN, text).into_response();
                }
            },
            Err(rejection) => {
                tracing::info!(target: "oauth", "token refused: {rejection:?}");
                return challenge(verifier.settings(), rejection);
            }
        };
        let user = grant.user.clone();
        request.extensions_mut().insert(grant);
        return auth.sessions.run_as(user, request, next).await;
    } else if let Some(expected) = &auth.token
        && !bearer_matches(request.headers(), expected)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid bearer token is required (KESTRA_MCP_HTTP_TOKEN)",
        )
            .into_response();
    }
    next.run(request).await
}

/// What the policy grants `principal` (everything the server allows without a policy), or why
/// they are refused.
fn grant(policy: Option<&Policy>, principal: &Principal) -> Result<Grant, String> {
    let Some(policy) = policy else {
        return Ok(Grant::unrestricted(&principal.subject));
    };
    policy.grant(principal).inspect_err(|why| {
        tracing::info!(target: "audit", user = %principal.subject, "refused by the policy: {why}");
    })
}

/// The answer to a refused token (RFC 6750 section 3, RFC 9728 section 5.1): where the
/// protected resource metadata is, and what was wrong with the token when there was one.
fn challenge(settings: &OAuthSettings, rejection: Rejection) -> Response {
    let metadata = settings.metadata_url();
    let (status, challenge, text) = match rejection {
        Rejection::Missing => (
            StatusCode::UNAUTHORIZED,
            format!("Bearer resource_metadata=\"{metadata}\""),
            "an OAuth access token is required".to_owned(),
        ),
        Rejection::Invalid(why) => (
            StatusCode::UNAUTHORIZED,
            format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{metadata}\"",
                quotable(&why)
            ),
            format!("invalid access token: {why}"),
        ),
        Rejection::InsufficientScope(scopes) => (
            StatusCode::FORBIDDEN,
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{metadata}\"",
                quotable(&scopes.join(" "))
            ),
            format!("the access token lacks a required scope ({})", scopes.join(" ")),
        ),
    };
    let mut response = (status, text).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `text` without what cannot stand in a quoted header parameter (RFC 6750: `%x20-21 /
/// %x23-5B / %x5D-7E`).
fn quotable(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

/// The credentials of an `Authorization: Bearer ...` header; the scheme is matched without
/// regard to case (RFC 7235 section 2.1).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether the request carries `expected`. The SHA-256 digests of both are compared in
/// constant time: neither where they differ nor the token's length shows in the time taken.
fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let given = bearer_token(headers).unwrap_or_default();
    let (given, expected) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    given.as_slice().ct_eq(expected.as_slice()).into()
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
        for good in [
            "Bearer s3cret",
            "bearer s3cret",
            "BEARER  s3cret",
            "BeArEr s3cret ",
        ] {
            assert!(bearer_matches(&headers(Some(good)), "s3cret"), "{good}");
        }
        for bad in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("Bearer S3CRET"),
            Some("Bearers3cret"),
            Some("Bearer "),
            Some("Basic s3cret"),
        ] {
            assert!(!bearer_matches(&headers(bad), "s3cret"), "{bad:?}");
        }
    }

    fn options(addr: &str, token: Option<&str>, allow: bool) -> HttpOptions {
        HttpOptions {
            addr: addr.parse().unwrap(),
            token: token.map(str::to_owned),
            oauth: None,
            policy: None,
            allow_unauthenticated: allow,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            subscribers: None,
            toolsets: Toolsets::default(),
        }
    }

    #[test]
    fn a_reachable_address_needs_authentication_or_an_explicit_allowance() {
        let problem = exposure_problem(&options("0.0.0.0:8000", None, false)).unwrap();
        assert!(problem.contains("KESTRA_MCP_HTTP_TOKEN") && problem.contains(ALLOW_UNAUTHENTICATED));
        assert!(exposure_problem(&options("192.168.1.2:8000", None, false)).is_some());
        assert!(exposure_problem(&options("0.0.0.0:8000", Some("t"), false)).is_none());
        assert!(exposure_problem(&options("0.0.0.0:8000", None, true)).is_none());
        assert!(exposure_problem(&options("127.0.0.1:8000", None, false)).is_none());
        assert!(exposure_problem(&options("[::1]:8000", None, false)).is_none());
    }
}
