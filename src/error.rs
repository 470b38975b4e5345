//! Why a call produced no result: the one error type of the call pipeline, shared by every
//! stage (answer decoding, the step runner, the engine, the MCP adapter). Its own module so that
//! the stages depend on it and not on each other.

use crate::http::HttpError;

/// Why a call produced no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The tool does not exist or is disabled: a protocol error, not a tool result.
    #[error("tool '{0}' not found")]
    UnknownTool(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The tool's spec did not compile on its first call (a server compiles lazily); the
    /// message names the spec's file.
    #[error("this tool cannot run: its spec does not compile: {0}")]
    BrokenSpec(String),
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
    /// The call's budget (deadline, bytes) ran out (see `exchange::Budget`).
    #[error("{0}")]
    Budget(String),
    /// The client cancelled the call.
    #[error("the call was cancelled")]
    Cancelled,
    /// A setting forbids the call or the request (`KESTRA_MCP_READ_ONLY`); nothing was sent.
    #[error("{0}")]
    Refused(String),
}

impl CallError {
    /// Whether this is a JSON-RPC error rather than an `isError` tool result.
    pub fn is_protocol_error(&self) -> bool {
        matches!(self, CallError::UnknownTool(_))
    }

    /// The same error, of the same kind, with `f` applied to each of its texts.
    pub fn map_text(self, f: impl Fn(&str) -> String) -> CallError {
        match self {
            CallError::UnknownTool(t) => CallError::UnknownTool(f(&t)),
            CallError::InvalidArguments(t) => CallError::InvalidArguments(f(&t)),
            CallError::BrokenSpec(t) => CallError::BrokenSpec(f(&t)),
            CallError::Render(t) => CallError::Render(f(&t)),
            CallError::Kestra {
                status,
                method,
                path,
                message,
            } => CallError::Kestra {
                status,
                method,
                path: f(&path),
                message: f(&message),
            },
            CallError::Http(e) => CallError::Http(e.map_text(f)),
            CallError::BadAnswer(t) => CallError::BadAnswer(f(&t)),
            CallError::Declared(t) => CallError::Declared(f(&t)),
            CallError::Budget(t) => CallError::Budget(f(&t)),
            CallError::Cancelled => CallError::Cancelled,
            CallError::Refused(t) => CallError::Refused(f(&t)),
        }
    }
}
