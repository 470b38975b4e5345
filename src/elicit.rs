//! Asking the user a question in the middle of a call (MCP elicitation): the handle a step or
//! the exchange point finds in [`CallContext::elicitation`](crate::exchange::CallContext) when
//! the client declared the `elicitation` capability. Free of rmcp types, as the progress sink
//! is; `serve.rs` builds it on the session's peer (`elicitation/create`). Nothing asks yet.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

/// What the user did with the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answered; the content is in [`Elicited::content`].
    Accept,
    /// Declined to answer; the call may go on without.
    Decline,
    /// Cancelled: the call should stop.
    Cancel,
}

/// The user's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Elicited {
    pub answer: Answer,
    /// The values given, shaped by the requested schema (only with [`Answer::Accept`]).
    pub content: Option<Map<String, Value>>,
}

/// Why no answer came: the client refused the request, the session closed, or the request
/// was not a valid elicitation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot ask the user: {0}")]
pub struct ElicitError(pub String);

/// The future of one question.
pub type Asking = Pin<Box<dyn Future<Output = Result<Elicited, ElicitError>> + Send>>;

type Ask = dyn Fn(String, Value) -> Asking + Send + Sync;

/// A way to ask the client's user; cheap to clone.
#[derive(Clone)]
pub struct Elicitation(Arc<Ask>);

impl Elicitation {
    /// A handle that asks through `ask(message, requested_schema)`.
    pub fn new(ask: impl Fn(String, Value) -> Asking + Send + Sync + 'static) -> Self {
        Elicitation(Arc::new(ask))
    }

    /// Asks the user `message`; `requested_schema` is a flat JSON Schema object of the values
    /// wanted (MCP allows primitive properties only). Waits for the answer.
    pub async fn ask(&self, message: &str, requested_schema: Value) -> Result<Elicited, ElicitError> {
        (self.0)(message.to_owned(), requested_schema).await
    }
}

impl std::fmt::Debug for Elicitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Elicitation")
    }
}
