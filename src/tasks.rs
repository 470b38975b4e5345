//! The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663, as rmcp 3.11 implements it):
//! a client that declares the extension gets, for a call of a tool that can wait, a task
//! handle at once (`resultType: "task"`) and reads the result later with `tasks/get`; it
//! answers the task's questions (elicitation, status `input_required`) with `tasks/update` and
//! stops it with `tasks/cancel`. SEP-2663 has no `tasks/result` or `tasks/list`: `tasks/get`
//! carries the result once the task is `completed`.
//!
//! Which tools may become tasks is read from their spec: those with a `wait` step. Tasks live
//! `KESTRA_MCP_TASK_TTL` from their creation (a task still running then fails, and a finished
//! one is kept for that long again); at most `KESTRA_MCP_MAX_TASKS` are held at once, running
//! or kept, and past that a call runs as a plain call. `0` turns the extension off.
//!
//! The store is one per process, not per session: over Streamable HTTP without a session each
//! request has a fresh handler, and a task must outlive the request that created it. Task ids
//! are random UUIDs, known only to the client that got them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, DetailedTask, ElicitResult, InputRequest, InputResponses, Task};
use rmcp::task_manager::{TaskContext, TaskExit, TaskManager, TaskOptions};
use tokio_util::sync::CancellationToken;

pub use crate::config::TaskSettings;
use crate::elicit::{ElicitError, Elicitation};
use crate::exchange::{CallContext, ProgressSink};
use crate::spec::CompiledTool;

/// How often a client is asked to poll `tasks/get`.
const POLL_INTERVAL_MS: u64 = 1000;

/// Whether calls of `tool` may become tasks: it has a `wait` step (it can run for long), at
/// the top or in a `repeat` group.
pub fn can_wait(tool: &CompiledTool) -> bool {
    tool.outline.waits
}

/// The process's tasks.
pub fn shared() -> &'static Tasks {
    static TASKS: OnceLock<Tasks> = OnceLock::new();
    TASKS.get_or_init(Tasks::default)
}

/// The task store: rmcp's [`TaskManager`] (lifecycle, TTL, `input_required`), and the ids of
/// the tasks it holds, to bound their count.
#[derive(Default)]
pub struct Tasks {
    manager: TaskManager,
    held: Mutex<VecDeque<String>>,
}

/// What a task runs: the engine's call, given its call context.
pub type Run = Box<
    dyn FnOnce(
            CallContext,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<CallToolResult, ErrorData>> + Send>>
        + Send,
>;

impl Tasks {
    /// Starts `run` as a task with `call` (its cancellation, progress and elicitation replaced
    /// by the task's); `None` when `settings.max` tasks are held already.
    pub fn start(&self, settings: TaskSettings, call: CallContext, run: Run) -> Option<Task> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget the tasks the manager has let go (past their TTL).
        held.retain(|id| self.manager.get_task(id).is_ok());
        if held.len() >= settings.max {
            return None;
        }
        let ttl_ms = u64::try_from(settings.ttl.as_millis()).unwrap_or(u64::MAX);
        let options = TaskOptions::new()
            .with_ttl_ms(ttl_ms)
            .with_poll_interval_ms(POLL_INTERVAL_MS);
        let task = self
            .manager
            .spawn(options, move |context| Box::pin(run_in_task(context, call, run)));
        held.push_back(task.task_id.clone());
        Some(task)
    }

    /// `tasks/get`.
    pub fn get(&self, task_id: &str) -> Result<DetailedTask, ErrorData> {
        self.manager.get_task(task_id)
    }

    /// `tasks/update`: the client's answers to the task's questions.
    pub fn update(&self, task_id: &str, responses: InputResponses) -> Result<(), ErrorData> {
        self.manager.update_task(task_id, responses)
    }

    /// `tasks/cancel`: stops the call as `notifications/cancelled` stops a plain one (a wait's
    /// `on_cancel` is sent with `KESTRA_MCP_KILL_ON_CANCEL`).
    pub fn cancel(&self, task_id: &str) -> Result<(), ErrorData> {
        self.manager.cancel_task(task_id)
    }
}

/// Runs the call until it ends or the client cancels the task. On cancellation the call's
/// token is cancelled before its future is dropped, so that a wait's cancellation hook acts.
async fn run_in_task(context: TaskContext, call: CallContext, run: Run) -> Result<CallToolResult, TaskExit> {
    let cancel = CancellationToken::new();
    let call = CallContext {
        cancel: cancel.clone(),
        progress: Some(status_through(context.clone())),
        elicitation: call
            .client
            .elicitation
            .then(|| elicitation_through(context.clone())),
        ..call
    };
    let tool = call.tool.clone();
    let running = run(call);
    tokio::pin!(running);
    tokio::select! {
        outcome = &mut running => outcome.map_err(TaskExit::Error),
        _ = context.cancelled() => {
            cancel.cancel();
            tracing::info!(tool = tool.as_deref().unwrap_or("-"), task = context.task_id(), "task cancelled by the client");
            Err(TaskExit::Cancelled)
        }
    }
}

/// Progress reports become the task's status message (`tasks/get` shows it).
fn status_through(context: TaskContext) -> ProgressSink {
    ProgressSink::new(move |progress, total, message| {
        let count = match total {
            Some(total) => format!("{progress}/{total}"),
            None => progress.to_string(),
        };
        context.set_status_message(match message {
            Some(message) => format!("{count}: {message}"),
            None => count,
        });
    })
}

/// Questions asked during a task: the task turns `input_required` with the request in its
/// `inputRequests`, until the client answers with `tasks/update`.
fn elicitation_through(context: TaskContext) -> Elicitation {
    let asked = Arc::new(AtomicUsize::new(0));
    Elicitation::new(move |message, schema| {
        let context = context.clone();
        // Keys are unique over the task's life.
        let key = format!("ask-{}", asked.fetch_add(1, Ordering::Relaxed) + 1);
        Box::pin(async move {
            let request = crate::elicit_wire::elicit_request(message, schema)?;
            let answer = context
                .request_input(key, InputRequest::Elicitation(request))
                .await
                .map_err(|_| ElicitError("the task was cancelled while asking".to_owned()))?;
            let result: ElicitResult = serde_json::from_value(answer)
                .map_err(|e| ElicitError(format!("the client's answer is not an elicitation result: {e}")))?;
            Ok(crate::elicit_wire::elicited(result))
        })
    })
}
