//! The exchange point: every request the engine sends to Kestra, for a tool call or for the
//! server's own probes, passes through [`exchange`] (called as `Runtime::exchange`, with the
//! runtime's client) with the [`CallContext`] of the
//! call it serves. It is the one place that knows which tool, which call and which client a
//! request belongs to: where guardrails, progress, limits and audit logging go.
//!
//! It enforces the guards (read-only, namespaces: the server's settings and a session's
//! narrowing of them), the call's budgets (a deadline and a total of bytes read), stops when the
//! call is cancelled, and logs each exchange (target `exchange`, debug level).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::error::CallError;
use crate::guard::{self, Filtered, Namespaces, Placement};
use crate::http::{HttpAnswer, KestraClient};
use crate::readonly;
use crate::request::RenderedRequest;
use crate::spec::raw::Scope;

/// Everything known about one tool call while it runs.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The tool called; `None` for the server's own requests (version and edition probes).
    pub tool: Option<Arc<str>>,
    /// The arguments as the client sent them (before defaults).
    pub arguments: Arc<Map<String, Value>>,
    /// What the client said it supports in its `initialize` request.
    pub client: ClientCapabilities,
    /// Where to report progress, when the client asked for it (a `progressToken`).
    pub progress: Option<ProgressSink>,
    /// A way to ask the client's user, when the client declared the `elicitation` capability.
    pub elicitation: Option<crate::elicit::Elicitation>,
    /// Cancelled when the client cancels the call (`notifications/cancelled`).
    pub cancel: CancellationToken,
    /// Limits on the whole call.
    pub budget: Arc<Budget>,
    /// How the client's session narrows the server's settings (over HTTP, its headers).
    pub session: SessionLimits,
    /// What the guards learned and did during the call (execution namespaces, items left out).
    pub guard: Arc<GuardMemo>,
    /// Listings whose later pages the call did not fetch (past the result bound).
    pub unfetched: Arc<Unfetched>,
}

/// The listings a call stopped paging through because what it had already read would not fit
/// in a result (`KESTRA_MCP_MAX_RESULT_BYTES`): the result's `truncated` note says so.
#[derive(Debug, Default)]
pub struct Unfetched(Mutex<Vec<Value>>);

impl Unfetched {
    /// Notes that paging stopped after `pages` pages and `items` items, of `total` when Kestra
    /// said how many there are.
    pub fn note(&self, pages: u64, items: usize, total: Option<u64>) {
        let mut entry = serde_json::json!({"pages_fetched": pages, "items_fetched": items});
        if let Some(total) = total {
            entry["items_in_kestra"] = total.into();
        }
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    }

    /// What was noted, for the result.
    pub fn notes(&self) -> Vec<Value> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// A session's narrowing of the server's settings: it may only add restrictions.
#[derive(Debug, Clone, Default)]
pub struct SessionLimits {
    /// Refuse writing requests even when `KESTRA_MCP_READ_ONLY` is not set.
    pub read_only: bool,
    /// Namespace policies checked besides the server's (all must allow): the session's header,
    /// the user's policy rule.
    pub namespaces: Vec<Arc<Namespaces>>,
    /// The authenticated user (OAuth `sub`): the `mcp.user` label of the executions the call
    /// starts, and an audit line per request.
    pub user: Option<Arc<str>>,
    /// `read_only` comes from the user's policy rule (refusals name the policy file).
    pub read_only_by_policy: bool,
}

impl SessionLimits {
    /// What made the session read-only, as refusals name it.
    pub fn read_only_setting(&self) -> &'static str {
        match self.read_only_by_policy {
            true => crate::policy::SOURCE,
            false => READ_ONLY_HEADER,
        }
    }
}

/// The label naming the user on the executions started through the server.
pub const USER_LABEL: &str = "mcp.user";

/// The header that makes a session read-only (GitHub's MCP server's name).
pub const READ_ONLY_HEADER: &str = "X-MCP-Readonly";

/// What the guards remember during one call.
#[derive(Debug, Default)]
pub struct GuardMemo {
    /// The namespace of each execution and app already asked of Kestra, by [`Owned::key`].
    executions: Mutex<BTreeMap<String, String>>,
    /// Notes for the result (items left out of listings).
    notes: Mutex<Vec<String>>,
}

impl GuardMemo {
    fn execution(&self, id: &str) -> Option<String> {
        self.executions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn remember(&self, id: &str, namespace: &str) {
        self.executions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), namespace.to_owned());
    }

    fn note(&self, note: String) {
        self.notes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(note);
    }

    /// The notes of the call, for its result.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The client's capabilities that matter to a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    /// The client can answer `elicitation/create` (ask its user for input mid-call).
    pub elicitation: bool,
    /// The client can answer `sampling/createMessage`.
    pub sampling: bool,
    /// The client's name and version, for logs.
    pub name: Option<String>,
}

/// What receives a progress report: `(progress, total, message)`.
type Report = dyn Fn(f64, Option<f64>, Option<String>) + Send + Sync;

/// Progress reports of one call.
#[derive(Clone)]
pub struct ProgressSink(Arc<Report>);

impl ProgressSink {
    pub fn new(report: impl Fn(f64, Option<f64>, Option<String>) + Send + Sync + 'static) -> Self {
        ProgressSink(Arc::new(report))
    }

    /// Reports progress; never blocks the call.
    pub fn report(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        (self.0)(progress, total, message);
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// Limits on one call, across all its requests. Unset limits do not apply.
#[derive(Debug, Default)]
pub struct Budget {
    /// No request starts after this instant, and one under way is cut at it.
    pub deadline: Option<tokio::time::Instant>,
    /// The most bytes the call may read from Kestra, all answers together.
    pub max_bytes: Option<usize>,
    /// Bytes read so far.
    read: AtomicUsize,
}

impl Budget {
    pub fn new(deadline: Option<tokio::time::Instant>, max_bytes: Option<usize>) -> Self {
        Budget {
            deadline,
            max_bytes,
            read: AtomicUsize::new(0),
        }
    }

    /// Bytes read so far by the call.
    pub fn bytes_read(&self) -> usize {
        self.read.load(Ordering::Relaxed)
    }

    /// Counts an answer's bytes; an error once the call has read more than it may.
    fn charge(&self, bytes: usize) -> Result<(), CallError> {
        let total = self.read.fetch_add(bytes, Ordering::Relaxed) + bytes;
        match self.max_bytes {
            Some(max) if total > max => Err(CallError::Budget(format!(
                "the call read {total} bytes from Kestra, more than its budget of {max}"
            ))),
            _ => Ok(()),
        }
    }
}

impl CallContext {
    /// The context of a call of `tool` with `arguments`, with no client information, no
    /// progress sink and no limits (what tests and the library API use).
    pub fn for_tool(tool: &str, arguments: Option<Map<String, Value>>) -> Self {
        CallContext {
            tool: Some(Arc::from(tool)),
            arguments: Arc::new(arguments.unwrap_or_default()),
            ..CallContext::default()
        }
    }

    /// The tool's name, or `-` for the server's own requests (logs).
    fn tool_name(&self) -> &str {
        self.tool.as_deref().unwrap_or("-")
    }
}

/// What answers in place of Kestra: canned answers installed at the exchange point (the spec
/// tests of `kestra-mcp tools test`), so that no network and no Kestra are needed.
pub trait Transport: Send + Sync {
    /// The answer to `request`, or why there is none.
    fn answer(&self, request: &RenderedRequest) -> Result<HttpAnswer, CallError>;
}

/// How a request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// With the HTTP stage's retries for idempotent reads.
    Retried,
    /// Once (probes that must stay quick).
    Once,
}

/// The policies every request is checked against before it is sent.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    /// `KESTRA_MCP_READ_ONLY`: a request that writes is refused. The second line of defence:
    /// the engine hides and refuses writing tools and variants before rendering anything.
    pub read_only: bool,
    /// `KESTRA_MCP_NAMESPACES`: a request must stay inside these namespaces (`guard.rs`).
    pub namespaces: Option<Arc<Namespaces>>,
}

impl Guards {
    /// Why `request` must not be sent, if it must not (read-only: the server's or `session`'s).
    pub fn check(&self, request: &RenderedRequest) -> Result<(), CallError> {
        self.check_for(request, &SessionLimits::default())
    }

    fn check_for(&self, request: &RenderedRequest, session: &SessionLimits) -> Result<(), CallError> {
        if !readonly::request_writes(request.method, &request.path) {
            return Ok(());
        }
        if self.read_only {
            return Err(CallError::Refused(readonly::request_refusal(
                request.method,
                &request.path,
            )));
        }
        if session.read_only {
            return Err(CallError::Refused(format!(
                "refused: {} {} changes Kestra and this session is read-only ({})",
                request.method.as_str(),
                request.path,
                session.read_only_setting()
            )));
        }
        Ok(())
    }

    /// The namespace policies that apply to `call`: the server's and its session's.
    fn policies<'a>(&'a self, call: &'a CallContext) -> Vec<&'a Namespaces> {
        self.namespaces
            .as_deref()
            .into_iter()
            .chain(call.session.namespaces.iter().map(Arc::as_ref))
            .collect()
    }
}

/// Where the exchange point sends: the runtime's client, or canned answers in its place.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    pub client: &'a KestraClient,
    pub canned: Option<&'a dyn Transport>,
}

/// Sends one request for `call` with `client` (or has `canned` answer it): checks the guards,
/// cancellation and the budget, sends, counts what was read and logs the exchange. Under a
/// namespace policy, the executions a request names are looked up first and a listing's answer
/// loses the items outside.
pub async fn exchange(
    sender: Sender<'_>,
    guards: &Guards,
    call: &CallContext,
    request: &RenderedRequest,
    delivery: Delivery,
) -> Result<HttpAnswer, CallError> {
    let labelled = call
        .session
        .user
        .as_deref()
        .and_then(|user| labelled(request, user));
    let request = labelled.as_ref().unwrap_or(request);
    let outcome = guarded_exchange(sender, guards, call, request, delivery).await;
    audit(call, request, &outcome);
    outcome
}

/// `request` with the `mcp.user:<user>` label when it starts an execution (and without any such
/// label the client sent: the server says who started it); `None` for other requests.
fn labelled(request: &RenderedRequest, user: &str) -> Option<RenderedRequest> {
    if !guard::starts_execution(request) {
        return None;
    }
    let mut labelled = request.clone();
    let prefix = format!("{USER_LABEL}:");
    labelled
        .query
        .retain(|(k, v)| !(k == "labels" && v.starts_with(&prefix)));
    labelled
        .query
        .push(("labels".to_owned(), format!("{prefix}{user}")));
    Some(labelled)
}

/// One line per request of an authenticated user's call (target `audit`): who, which tool, the
/// SHA-256 of the arguments (not the arguments: they may hold secrets), the Kestra request and
/// its outcome.
fn audit(call: &CallContext, request: &RenderedRequest, outcome: &Result<HttpAnswer, CallError>) {
    let Some(user) = call.session.user.as_deref() else {
        return;
    };
    let status = match outcome {
        Ok(answer) => answer.status.to_string(),
        Err(CallError::Refused(_)) => "refused".to_owned(),
        Err(CallError::Cancelled) => "cancelled".to_owned(),
        Err(CallError::Budget(_)) => "over budget".to_owned(),
        Err(_) => "failed".to_owned(),
    };
    tracing::info!(
        target: "audit",
        user = %user,
        tool = %call.tool_name(),
        arguments_sha256 = %arguments_digest(&call.arguments),
        method = %request.method.as_str(),
        path = %request.path,
        status = %status,
        "audit: kestra request"
    );
}

/// The SHA-256 of the arguments' JSON text, in hex.
pub fn arguments_digest(arguments: &Map<String, Value>) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(arguments).unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// [`exchange`] once the request is final: guards, namespace policies, sending.
async fn guarded_exchange(
    sender: Sender<'_>,
    guards: &Guards,
    call: &CallContext,
    request: &RenderedRequest,
    delivery: Delivery,
) -> Result<HttpAnswer, CallError> {
    guards.check_for(request, &call.session)?;
    let policies = guards.policies(call);
    if policies.is_empty() {
        return send(sender, call, request, delivery).await;
    }
    let placement = guard::place(request);
    check_namespaces(sender, &policies, call, request, &placement).await?;
    let narrowed = guard::search_filter(request, &policies).map(|filter| {
        let mut narrowed = request.clone();
        narrowed.query.push(filter);
        narrowed
    });
    let answer = send(sender, call, narrowed.as_ref().unwrap_or(request), delivery).await?;
    match placement.listing {
        true => filter_answer(answer, &policies, call, request),
        false => Ok(answer),
    }
}

/// Refuses `request` unless every policy allows where it is; asks Kestra the namespace of
/// each execution it names (memoized for the call).
async fn check_namespaces(
    sender: Sender<'_>,
    policies: &[&Namespaces],
    call: &CallContext,
    request: &RenderedRequest,
    placement: &Placement,
) -> Result<(), CallError> {
    let what = format!("{} {}", request.method.as_str(), request.path);
    for policy in policies {
        if let Some(refusal) = guard::refusal(policy, placement, &what) {
            return Err(CallError::Refused(refusal));
        }
    }
    let executions = placement.executions.iter().map(|id| (Owned::Execution, id));
    let apps = placement.apps.iter().map(|uid| (Owned::App, uid));
    for (kind, id) in executions.chain(apps) {
        let namespace = owner_namespace(sender, policies, call, kind, id).await?;
        if let Some(policy) = policies.iter().find(|p| !p.allows(&namespace)) {
            return Err(CallError::Refused(
                policy.refusal(&format!("{what} ({} {id})", kind.word()), &namespace),
            ));
        }
    }
    Ok(())
}

/// What a request names by id whose namespace only Kestra knows.
#[derive(Debug, Clone, Copy)]
enum Owned {
    Execution,
    App,
}

impl Owned {
    fn word(self) -> &'static str {
        match self {
            Owned::Execution => "execution",
            Owned::App => "app",
        }
    }

    /// Where Kestra answers it (with its `namespace`), `encoded` being its id as one segment.
    fn lookup_path(self, encoded: &str) -> String {
        match self {
            Owned::Execution => format!("/executions/{encoded}"),
            Owned::App => format!("/apps/{encoded}"),
        }
    }

    /// Its key in the call's memo: an execution's id as is, an app's prefixed.
    fn key(self, id: &str) -> String {
        match self {
            Owned::Execution => id.to_owned(),
            Owned::App => format!("app:{id}"),
        }
    }
}

/// What an execution id is encoded with in the lookup's path: all but RFC 3986's unreserved
/// characters, so that it stays one segment.
const ID_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The namespace of the execution or app `id`: `GET /executions/{id}` or `GET /apps/{uid}`
/// through the exchange point (its budget, cancellation and log), remembered for the rest of
/// the call.
async fn owner_namespace(
    sender: Sender<'_>,
    policies: &[&Namespaces],
    call: &CallContext,
    kind: Owned,
    id: &str,
) -> Result<String, CallError> {
    if let Some(namespace) = call.guard.execution(&kind.key(id)) {
        return Ok(namespace);
    }
    let word = kind.word();
    let cannot = |why: String| {
        let settings: Vec<String> = policies.iter().map(|p| p.shown()).collect();
        CallError::Refused(format!(
            "refused: cannot tell which namespace {word} '{id}' is in ({why}), and {} restricts namespaces to {}; nothing else was sent",
            guard::SETTING,
            settings.join(" and ")
        ))
    };
    if id.is_empty() || id == "." || id == ".." {
        return Err(cannot(format!("not an {word} id")));
    }
    let encoded = percent_encoding::utf8_percent_encode(id, ID_SEGMENT).to_string();
    let lookup = RenderedRequest::get(Scope::Tenant, &kind.lookup_path(&encoded), &[]);
    let answer = send(sender, call, &lookup, Delivery::Retried).await?;
    if answer.status != 200 {
        return Err(cannot(format!(
            "Kestra answered {} to GET {}",
            answer.status,
            kind.lookup_path(id)
        )));
    }
    let namespace = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("namespace").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| cannot("Kestra's answer has no namespace".into()))?;
    call.guard.remember(&kind.key(id), &namespace);
    Ok(namespace)
}

/// A listing's answer without the items outside the policies, the count noted for the result.
fn filter_answer(
    mut answer: HttpAnswer,
    policies: &[&Namespaces],
    call: &CallContext,
    request: &RenderedRequest,
) -> Result<HttpAnswer, CallError> {
    if !(200..300).contains(&answer.status) || answer.events.is_some() || answer.body.is_empty() {
        return Ok(answer);
    }
    let not_checkable = || {
        CallError::Refused(format!(
            "refused: the answer to GET {} is not a list whose items' namespaces can be checked, and {} is set",
            request.path,
            guard::SETTING
        ))
    };
    let mut body: Value = serde_json::from_slice(&answer.body).map_err(|_| not_checkable())?;
    match guard::filter_listing(&mut body, &request.path, policies) {
        Filtered::Kept => Ok(answer),
        Filtered::NotAList => Err(not_checkable()),
        Filtered::LeftOut(count) => {
            call.guard.note(guard::left_out_note(count, policies));
            answer.body = serde_json::to_vec(&body).map_err(|e| CallError::Render(e.to_string()))?;
            Ok(answer)
        }
    }
}

/// Sends `request` (or has the canned transport answer it) within the call's cancellation and
/// budget, and logs the exchange.
async fn send(
    sender: Sender<'_>,
    call: &CallContext,
    request: &RenderedRequest,
    delivery: Delivery,
) -> Result<HttpAnswer, CallError> {
    if call.cancel.is_cancelled() {
        return Err(CallError::Cancelled);
    }
    if let Some(canned) = sender.canned {
        let answer = canned.answer(request)?;
        call.budget.charge(answer.bytes_read())?;
        return Ok(answer);
    }
    let client = sender.client;
    let started = Instant::now();
    let send = async {
        match delivery {
            Delivery::Retried => client.send(request).await,
            Delivery::Once => client.send_no_retry(request).await,
        }
    };
    let limited = async {
        match call.budget.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, send)
                .await
                .map_err(|_| CallError::Budget("the call ran out of time (its deadline passed)".into())),
            None => Ok(send.await),
        }
    };
    let answer = tokio::select! {
        answer = limited => answer?,
        _ = call.cancel.cancelled() => return Err(CallError::Cancelled),
    };
    tracing::debug!(
        target: "exchange",
        tool = call.tool_name(),
        method = request.method.as_str(),
        path = %request.path,
        outcome = %answer.as_ref().map(|a| a.status.to_string()).unwrap_or_else(|e| e.to_string()),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "exchange"
    );
    let answer = answer?;
    call.budget.charge(answer.bytes_read())?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::runtime::Runtime;
    use crate::spec::raw::Scope;
    use std::time::Duration;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    async fn runtime_for(kestra: &MockServer) -> Runtime {
        let base = format!("{}/api/v1", kestra.uri());
        let config = Config::from_lookup(|name| (name == "KESTRA_BASE_URL").then(|| base.clone())).unwrap();
        Runtime::new(&config).unwrap()
    }

    fn probe() -> RenderedRequest {
        RenderedRequest::get(Scope::Instance, "/configs", &[])
    }

    #[tokio::test]
    async fn the_byte_budget_covers_every_answer_of_a_call() {
        let kestra = MockServer::start().await;
        Mock::given(wiremock::matchers::path("/api/v1/configs"))
            .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(60)))
            .mount(&kestra)
            .await;
        let runtime = runtime_for(&kestra).await;
        let call = CallContext {
            budget: Arc::new(Budget::new(None, Some(100))),
            ..CallContext::for_tool("t", None)
        };
        assert!(runtime.exchange(&call, &probe(), Delivery::Once).await.is_ok());
        let err = runtime
            .exchange(&call, &probe(), Delivery::Once)
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Budget(_)), "{err:?}");
        assert_eq!(call.budget.bytes_read(), 120);
    }

    #[test]
    fn read_only_refuses_writing_requests_and_lets_reads_and_validation_through() {
        let guards = Guards {
            read_only: true,
            ..Guards::default()
        };
        let mut request = probe();
        assert!(guards.check(&request).is_ok());
        request.method = crate::spec::raw::Method::Post;
        request.path = "/flows/validate".into();
        assert!(guards.check(&request).is_ok());
        request.path = "/flows".into();
        let Err(CallError::Refused(message)) = guards.check(&request) else {
            panic!("a POST /flows should be refused");
        };
        assert_eq!(
            message,
            "refused: POST /flows changes Kestra and KESTRA_MCP_READ_ONLY is set"
        );
        assert!(Guards::default().check(&request).is_ok());
    }

    #[test]
    fn a_read_only_session_refuses_writes_naming_its_header() {
        let mut request = probe();
        request.method = crate::spec::raw::Method::Delete;
        request.path = "/flows/a/f".into();
        let session = SessionLimits {
            read_only: true,
            ..SessionLimits::default()
        };
        let Err(CallError::Refused(message)) = Guards::default().check_for(&request, &session) else {
            panic!("a DELETE should be refused in a read-only session");
        };
        assert_eq!(
            message,
            "refused: DELETE /flows/a/f changes Kestra and this session is read-only (X-MCP-Readonly)"
        );
        assert!(Guards::default().check_for(&probe(), &session).is_ok());
    }

    #[tokio::test]
    async fn a_deadline_or_a_cancellation_stops_the_exchange() {
        let kestra = MockServer::start().await;
        Mock::given(wiremock::matchers::path("/api/v1/configs"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&kestra)
            .await;
        let runtime = runtime_for(&kestra).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        let call = CallContext {
            budget: Arc::new(Budget::new(Some(deadline), None)),
            ..CallContext::for_tool("t", None)
        };
        let started = Instant::now();
        let err = runtime
            .exchange(&call, &probe(), Delivery::Once)
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Budget(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));

        let call = CallContext::for_tool("t", None);
        let cancel = call.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            cancel.cancel();
        });
        let err = runtime
            .exchange(&call, &probe(), Delivery::Once)
            .await
            .unwrap_err();
        assert_eq!(err, CallError::Cancelled);
    }
}
