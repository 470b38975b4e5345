//! The call pipeline: validate arguments → pick the action → render → send → map the status →
//! project. Plain async functions with no MCP types, so tests can call them directly; `serve.rs`
//! adapts them to rmcp.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::filter::Filtered;
use crate::http::{HttpAnswer, HttpError, KestraClient};
use crate::render::Templates;
use crate::request::RenderedRequest;
use crate::spec::compile::VersionedRequest;
use crate::spec::raw::{Method, Scope};
use crate::spec::{Action, CompiledTool, Dispatch, Outcome, ResponseTemplate};

/// Bytes of Kestra's error body quoted in an error message.
const ERROR_BODY_QUOTE: usize = 500;

/// Why a call produced no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The tool does not exist or is disabled: a protocol error, not a tool result.
    #[error("tool '{0}' not found")]
    UnknownTool(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("{0}")]
    Render(String),
    #[error("Kestra answered {status} to {method} {path}: {message}")]
    Kestra {
        status: u16,
        method: &'static str,
        path: String,
        message: String,
    },
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{0}")]
    BadAnswer(String),
    /// An error the spec declares for a status (`on_status.<code>.error`).
    #[error("{0}")]
    Declared(String),
}

impl CallError {
    /// Whether this is a JSON-RPC error rather than an `isError` tool result.
    pub fn is_protocol_error(&self) -> bool {
        matches!(self, CallError::UnknownTool(_))
    }
}

/// The tools being served and everything needed to call them.
#[derive(Debug)]
pub struct Engine {
    tools: BTreeMap<String, CompiledTool>,
    templates: Templates,
    client: KestraClient,
    kestra: Value,
    secrets: Vec<String>,
    version: tokio::sync::OnceCell<semver::Version>,
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
            kestra: json!({"tenant": config.tenant}),
            secrets: config.secrets(),
            version: tokio::sync::OnceCell::new_with(config.kestra_version.clone()),
        })
    }

    /// The served tools, sorted by name.
    pub fn tools(&self) -> impl Iterator<Item = &CompiledTool> {
        self.tools.values()
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
        self.call_inner(name, args).await.map_err(|e| self.scrub(e))
    }

    async fn call_inner(
        &self,
        name: &str,
        args: Option<Map<String, Value>>,
    ) -> Result<Map<String, Value>, CallError> {
        let (action, ctx) = self.prepare(name, args.unwrap_or_default())?;
        let version = match action.needs_version() {
            true => Some(self.version().await?),
            false => None,
        };
        let chosen = choose(action, version)?;
        let request = render(&self.templates, chosen, &ctx)?;
        let answer = self.client.send(&request).await?;
        self.outcome(action.response_for(chosen), &request, answer, ctx)
    }

    /// The request a call would send to a Kestra of `version`, without sending it.
    pub fn render_only(
        &self,
        name: &str,
        args: Map<String, Value>,
        version: &semver::Version,
    ) -> Result<RenderedRequest, CallError> {
        let (action, ctx) = self.prepare(name, args)?;
        render(&self.templates, choose(action, Some(version))?, &ctx)
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

    /// The server's version: `KESTRA_VERSION` if set, else asked once from `GET /configs`.
    async fn version(&self) -> Result<&semver::Version, CallError> {
        self.version
            .get_or_try_init(|| async {
                let answer = self.client.send(&version_probe()).await?;
                let body = decode_body(&answer)?;
                let found = body.get("version").and_then(Value::as_str).filter(|_| answer.status == 200);
                let Some(text) = found else {
                    return Err(CallError::BadAnswer(format!(
                        "cannot learn the Kestra version from GET /configs (status {}); set KESTRA_VERSION, e.g. 1.3 or 2.0",
                        answer.status
                    )));
                };
                crate::config::parse_version(text)
                    .map_err(|e| CallError::BadAnswer(format!("Kestra reports version '{text}': {e}; set KESTRA_VERSION")))
            })
            .await
    }

    fn outcome(
        &self,
        response: &ResponseTemplate,
        request: &RenderedRequest,
        answer: HttpAnswer,
        mut ctx: Map<String, Value>,
    ) -> Result<Map<String, Value>, CallError> {
        if let Some(outcome) = response.on_status.get(&answer.status) {
            ctx.insert("status".into(), Value::from(answer.status));
            let jinja_ctx = crate::render::context(&ctx);
            return match outcome {
                Outcome::Result(t) => {
                    let value = self
                        .templates
                        .render_json(t, &jinja_ctx)
                        .map_err(|e| CallError::Render(e.0))?;
                    Ok(crate::project::wrap(value, None))
                }
                Outcome::Error(t) => Err(CallError::Declared(
                    self.templates
                        .render(t, &jinja_ctx)
                        .map_err(|e| CallError::Render(e.0))?,
                )),
            };
        }
        if answer.status >= 300 {
            return Err(kestra_error(request, &answer));
        }
        let body = decode_body(&answer)?;
        response
            .projection
            .apply(body, &self.templates, &ctx)
            .map_err(|e| CallError::Render(format!("cannot shape Kestra's answer: {}", e.0)))
    }

    fn scrub(&self, err: CallError) -> CallError {
        let text = err.to_string();
        if self
            .secrets
            .iter()
            .any(|s| !s.is_empty() && text.contains(s.as_str()))
        {
            let mut clean = text;
            for secret in &self.secrets {
                clean = clean.replace(secret.as_str(), "***");
            }
            return CallError::BadAnswer(clean);
        }
        err
    }
}

fn choose<'a>(
    action: &'a Action,
    version: Option<&semver::Version>,
) -> Result<&'a VersionedRequest, CallError> {
    action.request_for(version).ok_or_else(|| {
        CallError::Render(format!(
            "this action has no request for Kestra {}",
            version
                .map(ToString::to_string)
                .unwrap_or_else(|| "of unknown version".into())
        ))
    })
}

fn render(
    templates: &Templates,
    chosen: &VersionedRequest,
    ctx: &Map<String, Value>,
) -> Result<RenderedRequest, CallError> {
    chosen
        .template
        .render(templates, &crate::render::context(ctx))
        .map_err(|e| CallError::Render(e.0))
}

fn version_probe() -> RenderedRequest {
    RenderedRequest {
        method: Method::Get,
        scope: Scope::Instance,
        path: "/configs".into(),
        query: vec![],
        headers: vec![],
        body: crate::request::RenderedBody::None,
    }
}

fn validate(tool: &CompiledTool, args: &Map<String, Value>) -> Result<(), CallError> {
    let instance = Value::Object(args.clone());
    let problems: Vec<String> = tool
        .validator
        .iter_errors(&instance)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("'{}': {e}", at.trim_start_matches('/'))
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CallError::InvalidArguments(problems.join("; ")))
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

/// JSON when Kestra says so or the body looks like it; otherwise text. Empty is null.
fn decode_body(answer: &HttpAnswer) -> Result<Value, CallError> {
    if answer.body.is_empty() {
        return Ok(Value::Null);
    }
    let is_json_type = answer.content_type.as_deref().is_some_and(|c| c.contains("json"));
    if answer.truncated {
        if is_json_type {
            return Err(CallError::BadAnswer(format!(
                "Kestra's answer is larger than {} bytes (KESTRA_MCP_MAX_RESPONSE_BYTES) and was cut off; ask for less, e.g. a smaller page size or a narrower filter",
                answer.body.len()
            )));
        }
        let text = String::from_utf8_lossy(&answer.body);
        return Ok(Value::String(format!(
            "{text}\n[truncated: the answer is larger than {} bytes (KESTRA_MCP_MAX_RESPONSE_BYTES)]",
            answer.body.len()
        )));
    }
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(value) => Ok(value),
        Err(e) if is_json_type => Err(CallError::BadAnswer(format!("Kestra sent invalid JSON: {e}"))),
        Err(_) => Ok(Value::String(String::from_utf8_lossy(&answer.body).into_owned())),
    }
}

/// An error for a status of 300 or more, carrying Kestra's own message when it has one.
fn kestra_error(request: &RenderedRequest, answer: &HttpAnswer) -> CallError {
    let message = match serde_json::from_slice::<Value>(&answer.body) {
        Ok(Value::Object(body)) => kestra_message(&body),
        Ok(other) if !other.is_null() => quote(&other.to_string()),
        _ => quote(&String::from_utf8_lossy(&answer.body)),
    };
    let message = match (message.is_empty(), answer.status) {
        (false, _) => message,
        (true, 401) => "unauthorized: check KESTRA_API_TOKEN or KESTRA_USERNAME/KESTRA_PASSWORD".into(),
        (true, 403) => "forbidden: the credentials lack the permission for this operation".into(),
        (true, 404) => "not found".into(),
        (true, s) if (300..400).contains(&s) => {
            "a redirect away from KESTRA_BASE_URL was not followed".into()
        }
        (true, _) => "no details in the answer".into(),
    };
    CallError::Kestra {
        status: answer.status,
        method: request.method.as_str(),
        path: request.path.clone(),
        message,
    }
}

fn kestra_message(body: &Map<String, Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = body.get("message").and_then(Value::as_str) {
        parts.push(m.to_owned());
    }
    let nested = body
        .get("_embedded")
        .and_then(|e| e.get("errors"))
        .and_then(Value::as_array);
    for err in nested.into_iter().flatten() {
        if let Some(m) = err.get("message").and_then(Value::as_str)
            && !parts.iter().any(|p| p == m)
        {
            parts.push(m.to_owned());
        }
    }
    if parts.is_empty() {
        return quote(&Value::Object(body.clone()).to_string());
    }
    quote(&parts.join("; "))
}

fn quote(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(ERROR_BODY_QUOTE) {
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, ct: Option<&str>, body: &str) -> HttpAnswer {
        HttpAnswer {
            status,
            content_type: ct.map(str::to_owned),
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    fn request() -> RenderedRequest {
        RenderedRequest {
            method: Method::Get,
            scope: Scope::Tenant,
            path: "/flows/a/b".into(),
            query: vec![],
            headers: vec![],
            body: crate::request::RenderedBody::None,
        }
    }

    #[test]
    fn kestra_errors_carry_status_and_message() {
        let cases = [
            (
                answer(404, Some("application/json"), r#"{"message":"Flow not found"}"#),
                "Kestra answered 404 to GET /flows/a/b: Flow not found",
            ),
            (
                answer(
                    422,
                    Some("application/json"),
                    r#"{"message":"Invalid entity","_embedded":{"errors":[{"message":"id: must match"}]}}"#,
                ),
                "Kestra answered 422 to GET /flows/a/b: Invalid entity; id: must match",
            ),
            (
                answer(401, None, ""),
                "Kestra answered 401 to GET /flows/a/b: unauthorized: check KESTRA_API_TOKEN or KESTRA_USERNAME/KESTRA_PASSWORD",
            ),
            (
                answer(500, Some("text/html"), "<html>Oops</html>"),
                "Kestra answered 500 to GET /flows/a/b: <html>Oops</html>",
            ),
            (
                answer(400, Some("application/json"), "The execution is not terminated"),
                "Kestra answered 400 to GET /flows/a/b: The execution is not terminated",
            ),
        ];
        for (a, want) in cases {
            assert_eq!(kestra_error(&request(), &a).to_string(), want);
        }
    }

    #[test]
    fn long_error_bodies_are_cut() {
        let body = "x".repeat(2000);
        let msg = kestra_error(&request(), &answer(500, None, &body)).to_string();
        assert!(msg.ends_with("… (1500 more bytes)"), "{msg}");
    }

    #[test]
    fn bodies_decode_by_content_type() {
        assert_eq!(decode_body(&answer(200, None, "")).unwrap(), Value::Null);
        assert_eq!(
            decode_body(&answer(200, Some("application/json"), "[1]")).unwrap(),
            json!([1])
        );
        assert_eq!(
            decode_body(&answer(200, Some("application/x-yaml"), "id: a")).unwrap(),
            json!("id: a")
        );
        let err = decode_body(&answer(200, Some("application/json"), "{oops")).unwrap_err();
        assert!(err.to_string().starts_with("Kestra sent invalid JSON"));
        let mut big = answer(200, Some("text/plain"), "line");
        big.truncated = true;
        assert!(
            decode_body(&big)
                .unwrap()
                .as_str()
                .unwrap()
                .contains("[truncated")
        );
        big.content_type = Some("application/json".into());
        assert!(
            decode_body(&big)
                .unwrap_err()
                .to_string()
                .contains("KESTRA_MCP_MAX_RESPONSE_BYTES")
        );
    }
}
