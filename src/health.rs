//! Liveness and readiness for whatever runs the HTTP server (Kubernetes probes, a load
//! balancer's health checks): `GET /healthz` answers while the process serves requests,
//! `GET /readyz` once a tool set is loaded, with its size. Both sit outside client
//! authentication and the MCP transport's `Host` checks, since probes come from the platform
//! with neither a token nor a known host name; they say nothing about Kestra or its data.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::engine::SharedEngine;

/// The `/healthz` and `/readyz` routes.
pub fn routes(engine: SharedEngine) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readiness))
        .with_state(engine)
}

/// Ready when at least one tool is served: a server whose every tool was disabled or failed to
/// load cannot do anything a client asks, so a load balancer should send clients elsewhere.
async fn readiness(State(engine): State<SharedEngine>) -> (StatusCode, String) {
    match engine.load().tools().count() {
        0 => (StatusCode::SERVICE_UNAVAILABLE, "no tools loaded\n".into()),
        tools => (StatusCode::OK, format!("ready: {tools} tools\n")),
    }
}
