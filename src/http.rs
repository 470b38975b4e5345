//! The HTTP stage: one pooled reqwest client for the process, URLs built only from
//! `KESTRA_BASE_URL` plus an already-encoded path, credentials attached by the engine, bounded
//! reads, redirects followed only within Kestra's origin, and retries for idempotent reads.
//! Timeouts are per request: an ordinary request has `KESTRA_MCP_TIMEOUT` for the whole
//! exchange; an event stream has it until the answer's headers, then its own `max_seconds`.

use std::sync::Arc;
use std::time::Duration;

use percent_encoding::utf8_percent_encode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{Client, Url, multipart, redirect};

use crate::config::{Auth, Config};
use crate::events::{EventParser, EventStream, Stopped};
use crate::request::{RenderedBody, RenderedRequest, StreamLimits};
use crate::spec::raw::{Method, Scope};

/// Statuses after which a GET is tried again.
const RETRY_STATUSES: &[u16] = &[502, 503, 504];
/// Pauses before the second and third attempt of a GET.
const RETRY_BACKOFF: &[Duration] = &[Duration::from_millis(100), Duration::from_millis(400)];
const MAX_REDIRECTS: usize = 5;

/// Kestra's answer, read up to the configured bound.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The body was longer than the bound and was cut off.
    pub truncated: bool,
    /// A successful event stream, parsed (then `body` is empty).
    pub events: Option<EventStream>,
}

impl HttpAnswer {
    /// How many bytes of the answer were read from Kestra.
    pub fn bytes_read(&self) -> usize {
        self.body.len() + self.events.as_ref().map_or(0, |e| e.bytes)
    }
}

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("Kestra did not answer within {0:?} (KESTRA_MCP_TIMEOUT)")]
    Timeout(Duration),
    #[error("cannot connect to Kestra at {origin}: {reason}")]
    Connect { origin: String, reason: String },
    #[error("request to Kestra failed: {0}")]
    Other(String),
    #[error("cannot build the request URL: {0}")]
    Url(String),
}

impl HttpError {
    /// The same error, of the same kind, with `f` applied to each of its texts.
    pub fn map_text(self, f: impl Fn(&str) -> String) -> HttpError {
        match self {
            HttpError::Timeout(d) => HttpError::Timeout(d),
            HttpError::Connect { origin, reason } => HttpError::Connect {
                origin: f(&origin),
                reason: f(&reason),
            },
            HttpError::Other(t) => HttpError::Other(f(&t)),
            HttpError::Url(t) => HttpError::Url(f(&t)),
        }
    }
}

/// The client for one Kestra server.
#[derive(Clone)]
pub struct KestraClient {
    /// Built on first use and shared by clones (one pool for the process).
    http: Arc<std::sync::OnceLock<Result<Client, HttpError>>>,
    base: Url,
    tenant: String,
    tenant_explicit: bool,
    auth: Auth,
    connect_timeout: Duration,
    timeout: Duration,
    max_response_bytes: usize,
}

impl std::fmt::Debug for KestraClient {
    /// Written by hand so that no credential can show: the auth prints redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KestraClient")
            .field("base", &self.base.as_str())
            .field("tenant", &self.tenant)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KestraClient {
    /// Prepares the client; the connection pool itself (which reads the system's CA
    /// certificates, several milliseconds) is built on the first request, off the start-up path.
    pub fn new(config: &Config) -> Result<Self, HttpError> {
        Ok(KestraClient {
            http: Arc::new(std::sync::OnceLock::new()),
            base: config.base_url.clone(),
            tenant: config.tenant.clone(),
            tenant_explicit: config.tenant_explicit,
            auth: config.auth.clone(),
            connect_timeout: config.connect_timeout,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes,
        })
    }

    fn http(&self) -> Result<&Client, HttpError> {
        self.http
            .get_or_init(|| build_client(&self.base, self.connect_timeout))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The full URL of a rendered request; always under `KESTRA_BASE_URL`.
    pub fn url_for(&self, req: &RenderedRequest) -> Result<Url, HttpError> {
        let base = self.base.as_str().trim_end_matches('/');
        let root = match req.scope {
            Scope::Tenant => format!(
                "{base}/{}",
                utf8_percent_encode(&self.tenant, crate::render::SEGMENT)
            ),
            Scope::Instance => base.to_owned(),
        };
        let mut url =
            Url::parse(&format!("{root}{}", req.path)).map_err(|e| HttpError::Url(e.to_string()))?;
        let base_path = format!("{}/", self.base.path().trim_end_matches('/'));
        if url.origin() != self.base.origin() || !url.path().starts_with(&base_path) {
            return Err(HttpError::Url(format!("'{}' leaves KESTRA_BASE_URL", req.path)));
        }
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(req.query.iter());
        }
        Ok(url)
    }

    /// Sends a request, retrying a GET on 502/503/504 and connection failures.
    pub async fn send(&self, req: &RenderedRequest) -> Result<HttpAnswer, HttpError> {
        let url = self.url_for(req)?;
        let mut attempt = 0;
        loop {
            let result = self.send_once(req, url.clone()).await;
            let retryable = match &result {
                Ok(answer) => RETRY_STATUSES.contains(&answer.status),
                Err(HttpError::Connect { .. }) => true,
                Err(_) => false,
            };
            match RETRY_BACKOFF.get(attempt) {
                Some(pause) if retryable && req.method == Method::Get => {
                    tracing::debug!(attempt, method = req.method.as_str(), path = %url.path(), "retrying");
                    tokio::time::sleep(*pause).await;
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    /// Sends a request once, without retries (for probes that must stay quick).
    pub async fn send_no_retry(&self, req: &RenderedRequest) -> Result<HttpAnswer, HttpError> {
        let url = self.url_for(req)?;
        self.send_once(req, url).await
    }

    async fn send_once(&self, req: &RenderedRequest, url: Url) -> Result<HttpAnswer, HttpError> {
        let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes())
            .map_err(|e| HttpError::Other(e.to_string()))?;
        let mut builder = self.http()?.request(method, url.clone());
        builder = match &self.auth {
            Auth::None => builder,
            Auth::Basic { username, password } => builder.basic_auth(username, Some(password)),
            Auth::Bearer(token) => builder.bearer_auth(token),
        };
        if self.tenant_explicit {
            builder = builder.header("X-Kestra-Tenant", &self.tenant);
        }
        for (name, value) in &req.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| HttpError::Other(format!("header '{name}': {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| HttpError::Other(format!("header '{name}': {e}")))?;
            if name != AUTHORIZATION {
                builder = builder.header(name, value);
            }
        }
        builder = match &req.body {
            RenderedBody::None => builder,
            RenderedBody::Json(doc) => builder.json(doc),
            RenderedBody::Text { content_type, text } => {
                builder.header(CONTENT_TYPE, content_type).body(text.clone())
            }
            // An empty form is no body at all: Kestra reads a zero-part multipart body as broken.
            RenderedBody::Multipart(parts) if parts.is_empty() => builder,
            RenderedBody::Multipart(parts) => builder.multipart(multipart_form(parts)?),
        };
        tracing::debug!(method = req.method.as_str(), url = %url, "sending");
        let Some(limits) = &req.stream else {
            let response = builder
                .timeout(self.timeout)
                .send()
                .await
                .map_err(|e| self.classify(&e))?;
            return self.read_answer(response).await;
        };
        // A stream's own limit applies once it has started: KESTRA_MCP_TIMEOUT covers only the
        // wait for the answer's headers (and a refusal's body).
        let response = tokio::time::timeout(self.timeout, builder.send())
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))?
            .map_err(|e| self.classify(&e))?;
        if !response.status().is_success() {
            return tokio::time::timeout(self.timeout, self.read_answer(response))
                .await
                .map_err(|_| HttpError::Timeout(self.timeout))?;
        }
        let status = response.status().as_u16();
        let content_type = content_type_of(&response);
        let events = read_events(response, limits, self.max_response_bytes).await;
        tracing::debug!(status, events = events.events.len(), bytes = events.bytes, stopped = %events.stopped, "streamed");
        Ok(HttpAnswer {
            status,
            content_type,
            body: Vec::new(),
            truncated: false,
            events: Some(events),
        })
    }

    /// The status and the body, read up to the bound.
    async fn read_answer(&self, response: reqwest::Response) -> Result<HttpAnswer, HttpError> {
        let status = response.status().as_u16();
        let content_type = content_type_of(&response);
        let (body, truncated) = self.read_bounded(response).await?;
        tracing::debug!(status, bytes = body.len(), truncated, "answered");
        Ok(HttpAnswer {
            status,
            content_type,
            body,
            truncated,
            events: None,
        })
    }

    async fn read_bounded(&self, mut response: reqwest::Response) -> Result<(Vec<u8>, bool), HttpError> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&e))? {
            let room = self.max_response_bytes.saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                return Ok((body, true));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, false))
    }

    fn classify(&self, err: &reqwest::Error) -> HttpError {
        if err.is_timeout() {
            HttpError::Timeout(self.timeout)
        } else if err.is_connect() {
            HttpError::Connect {
                origin: self.base.origin().ascii_serialization(),
                reason: error_chain(err),
            }
        } else {
            HttpError::Other(error_chain(err))
        }
    }
}

fn content_type_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads server-sent events until the stream ends, a stop event, or a limit.
async fn read_events(
    mut response: reqwest::Response,
    limits: &StreamLimits,
    max_bytes: usize,
) -> EventStream {
    let deadline = tokio::time::Instant::now() + limits.max_duration;
    let mut parser = EventParser::default();
    let mut read = 0usize;
    let stopped = loop {
        if let Some(stopped) = parser.stop_reason(limits) {
            break stopped;
        }
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => break Stopped::TimeLimit(limits.max_duration),
            Ok(Err(e)) => break Stopped::Failed(error_chain(&e)),
            Ok(Ok(None)) => break Stopped::Ended,
            Ok(Ok(Some(chunk))) => {
                read += chunk.len();
                if read > max_bytes {
                    break Stopped::ByteLimit(max_bytes);
                }
                parser.feed(&chunk);
            }
        }
    };
    parser.finish(stopped, read, limits)
}

/// The pooled client. No overall timeout here: each request sets its own (see `send_once`).
fn build_client(base: &Url, connect_timeout: Duration) -> Result<Client, HttpError> {
    // Several crates may try to install a provider; the first one wins, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let origin = base.origin();
    let policy = redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS || attempt.url().origin() != origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    Client::builder()
        .user_agent(concat!("kestra-mcp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .redirect(policy)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| HttpError::Other(error_chain(&e)))
}

fn multipart_form(parts: &[crate::request::RenderedPart]) -> Result<multipart::Form, HttpError> {
    let mut form = multipart::Form::new();
    for part in parts {
        let mut p = multipart::Part::text(part.value.clone());
        if let Some(filename) = &part.filename {
            p = multipart::Part::bytes(part.value.clone().into_bytes()).file_name(filename.clone());
        }
        if let Some(ct) = &part.content_type {
            p = p
                .mime_str(ct)
                .map_err(|e| HttpError::Other(format!("part '{}': {e}", part.name)))?;
        }
        form = form.part(part.name.clone(), p);
    }
    Ok(form)
}

/// An error and its causes, innermost last, without the URL reqwest adds (the caller knows it).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        let text = match text.find(" for url (") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        if !parts.contains(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> KestraClient {
        let config =
            Config::from_lookup(|name| (name == "KESTRA_BASE_URL").then(|| base.to_owned())).unwrap();
        KestraClient::new(&config).unwrap()
    }

    fn request(scope: Scope, path: &str, query: &[(&str, &str)]) -> RenderedRequest {
        RenderedRequest::get(scope, path, query)
    }

    #[test]
    fn urls_are_built_under_the_base_and_tenant() {
        let c = client("http://k:8080/api/v1");
        let url = c
            .url_for(&request(
                Scope::Tenant,
                "/flows/search",
                &[("q", "a b&c=d"), ("size", "10")],
            ))
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://k:8080/api/v1/main/flows/search?q=a+b%26c%3Dd&size=10"
        );
        let url = c.url_for(&request(Scope::Instance, "/configs", &[])).unwrap();
        assert_eq!(url.as_str(), "http://k:8080/api/v1/configs");
    }

    #[test]
    fn the_tenant_is_one_segment_encoded_like_path_arguments() {
        let with_tenant = |tenant: &str| {
            let config = Config::from_lookup(|name| match name {
                "KESTRA_BASE_URL" => Some("http://k:8080/api/v1".to_owned()),
                "KESTRA_TENANT_ID" => Some(tenant.to_owned()),
                _ => None,
            })
            .unwrap();
            let url = KestraClient::new(&config)
                .unwrap()
                .url_for(&request(Scope::Tenant, "/flows", &[]))
                .unwrap();
            url.path().to_owned()
        };
        assert_eq!(with_tenant("my-tenant_1"), "/api/v1/my-tenant_1/flows");
        assert_eq!(with_tenant("a.b~c"), "/api/v1/a.b~c/flows");
        assert_eq!(with_tenant("a b:c"), "/api/v1/a%20b%3Ac/flows");
        assert_eq!(with_tenant("..."), "/api/v1/.../flows");
    }

    #[test]
    fn a_path_that_would_leave_the_base_is_refused() {
        let c = client("http://k:8080/api/v1");
        assert!(c.url_for(&request(Scope::Instance, "/../../admin", &[])).is_err());
        assert!(
            c.url_for(&request(Scope::Instance, "@evil.example/x", &[]))
                .is_err()
        );
    }
}
