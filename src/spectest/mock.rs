//! Canned Kestra: the transport `tools test` installs at the exchange point. It compares each
//! request the call sends with the next one the case expects and gives its canned answer;
//! every difference is kept as a failure of the case.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value, json};

use super::case::{CannedAnswer, Exchange, ExpectedRequest};
use crate::error::CallError;
use crate::events::{EventParser, EventStream, Stopped};
use crate::exchange::Transport;
use crate::http::HttpAnswer;
use crate::request::{RenderedBody, RenderedRequest, StreamLimits};
use crate::spec::raw::Scope;

/// The canned answers of the case being run, and what went wrong so far.
#[derive(Default)]
pub struct CannedKestra {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    expected: VecDeque<Exchange>,
    sent: usize,
    failures: Vec<String>,
}

impl CannedKestra {
    /// Starts a case: these exchanges, in order, and no failure yet.
    pub fn start(&self, exchanges: &[Exchange]) {
        *self.lock() = State {
            expected: exchanges.iter().cloned().collect(),
            ..State::default()
        };
    }

    /// Ends a case: its failures, including the expected requests never sent.
    pub fn finish(&self) -> Vec<String> {
        let mut state = self.lock();
        let missing = state.expected.len();
        if missing > 0 {
            let first = state
                .expected
                .front()
                .map(|e| describe(&expected_form(&e.request)));
            state.failures.push(format!(
                "{missing} expected request(s) not sent, the first: {}",
                first.unwrap_or_default()
            ));
        }
        std::mem::take(&mut state.failures)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Transport for CannedKestra {
    fn answer(&self, request: &RenderedRequest) -> Result<HttpAnswer, CallError> {
        let mut state = self.lock();
        state.sent += 1;
        let number = state.sent;
        let actual = sent_form(request);
        let Some(exchange) = state.expected.pop_front() else {
            state.failures.push(format!(
                "request #{number} was not expected: {}",
                describe(&actual)
            ));
            return Err(stop("an unexpected request"));
        };
        let expected = expected_form(&exchange.request);
        let actual = super::mask(&expected, &actual);
        if expected != actual {
            state.failures.push(format!(
                "request #{number} differs from the expected one (- expected, + sent):\n{}",
                super::diff(&expected, &actual)
            ));
            return Err(stop("a request that differs"));
        }
        Ok(canned(&exchange.answer, request.stream.as_ref()))
    }
}

/// The error that stops a call whose request failed the case (the failure itself is kept).
fn stop(what: &str) -> CallError {
    CallError::BadAnswer(format!("tools test: the call sent {what}"))
}

/// One line naming a request: method, path and query.
fn describe(form: &Value) -> String {
    let text = |k: &str| form.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let query = form.get("query").map(Value::to_string).unwrap_or_default();
    format!("{} {} {query}", text("method"), text("path"))
}

/// A sent request in the shape of an expected one, for comparison and diffs.
fn sent_form(request: &RenderedRequest) -> Value {
    let mut query: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in &request.query {
        query.entry(k.clone()).or_default().push(Value::String(v.clone()));
    }
    let headers: Map<String, Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut form = json!({
        "method": request.method.as_str(),
        "path": request.path,
        "scope": match request.scope { Scope::Tenant => "tenant", Scope::Instance => "instance" },
        "query": query_form(query),
        "headers": headers,
    });
    let body = match &request.body {
        RenderedBody::None => json!({}),
        RenderedBody::Json(doc) => json!({"body": doc}),
        RenderedBody::Text { content_type, text } => json!({"text": text, "content_type": content_type}),
        RenderedBody::Multipart(parts) => {
            let parts: Vec<Value> = parts
                .iter()
                .map(|p| {
                    let mut part = json!({"name": p.name, "value": p.value});
                    if let Some(f) = &p.filename {
                        part["filename"] = json!(f);
                    }
                    if let Some(c) = &p.content_type {
                        part["content_type"] = json!(c);
                    }
                    part
                })
                .collect();
            json!({ "multipart": parts })
        }
    };
    merge(&mut form, body);
    form
}

/// An expected request in the same shape as [`sent_form`].
fn expected_form(request: &ExpectedRequest) -> Value {
    let mut query: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in &request.query {
        let values = match v {
            Value::Array(items) => items.iter().map(scalar_text).collect(),
            one => vec![scalar_text(one)],
        };
        query.insert(k.clone(), values);
    }
    let mut form = json!({
        "method": request.method.to_ascii_uppercase(),
        "path": request.path,
        "scope": request.scope.as_deref().unwrap_or("tenant"),
        "query": query_form(query),
        "headers": request.headers,
    });
    if let Some(body) = &request.body {
        merge(&mut form, json!({"body": body}));
    }
    if let Some(text) = &request.text {
        merge(&mut form, json!({"text": text}));
    }
    if let Some(content_type) = &request.content_type {
        merge(&mut form, json!({"content_type": content_type}));
    }
    if let Some(parts) = &request.multipart {
        merge(&mut form, json!({"multipart": parts}));
    }
    form
}

/// One value per name when the parameter appears once, else the list.
fn query_form(query: BTreeMap<String, Vec<Value>>) -> Value {
    let map: Map<String, Value> = query
        .into_iter()
        .map(|(k, mut v)| match v.len() {
            1 => (k, v.remove(0)),
            _ => (k, Value::Array(v)),
        })
        .collect();
    Value::Object(map)
}

/// YAML scalars as the query text they stand for (`size: 10` is `"10"`).
fn scalar_text(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.clone()),
        Value::Null => Value::String(String::new()),
        other => Value::String(other.to_string()),
    }
}

fn merge(form: &mut Value, extra: Value) {
    if let (Some(form), Value::Object(extra)) = (form.as_object_mut(), extra) {
        form.extend(extra);
    }
}

/// The canned answer as the HTTP stage would have read it.
fn canned(answer: &CannedAnswer, stream: Option<&StreamLimits>) -> HttpAnswer {
    let success = (200..300).contains(&answer.status);
    if let (Some(limits), Some(events), true) = (stream, &answer.events, success) {
        return HttpAnswer {
            status: answer.status,
            content_type: Some(
                answer
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "text/event-stream".into()),
            ),
            body: Vec::new(),
            truncated: false,
            events: Some(read_events(events, limits)),
        };
    }
    let (body, default_type) = match (&answer.body, &answer.text, &answer.events) {
        (Some(json), _, _) => (json.to_string().into_bytes(), Some("application/json")),
        (None, Some(text), _) => (text.clone().into_bytes(), Some("text/plain")),
        (None, None, Some(events)) => (events.clone().into_bytes(), Some("text/event-stream")),
        (None, None, None) => (Vec::new(), None),
    };
    HttpAnswer {
        status: answer.status,
        content_type: answer
            .content_type
            .clone()
            .or_else(|| default_type.map(str::to_owned)),
        body,
        truncated: false,
        events: None,
    }
}

/// Reads a canned event stream event by event, stopping as the HTTP stage does: at the event
/// limit, after an event the spec stops on, or at the end of the text.
fn read_events(text: &str, limits: &StreamLimits) -> EventStream {
    let mut parser = EventParser::default();
    let mut read = 0;
    let mut lines = text.split_inclusive('\n');
    let mut ended = false;
    let stopped = loop {
        if let Some(stopped) = parser.stop_reason(limits) {
            break stopped;
        }
        if ended {
            break Stopped::Ended;
        }
        match lines.next() {
            Some(line) => {
                read += line.len();
                parser.feed(line.as_bytes());
            }
            None => {
                // A canned stream is written with its events complete: its end closes the last
                // event (YAML block scalars drop the final blank line).
                parser.feed(b"\n");
                ended = true;
            }
        }
    };
    parser.finish(stopped, read, limits)
}
