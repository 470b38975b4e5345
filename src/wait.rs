//! The `wait` step: follow something (an execution) until a condition holds. Its event stream
//! first (each event's data is the whole current value), then polling with backoff when the
//! stream fails or ends early, up to a time limit (`KESTRA_MCP_WAIT_LIMIT` or the spec's)
//! that is independent of `KESTRA_MCP_TIMEOUT` (which bounds each request). While it waits it
//! reports progress to a client that asked for it, at a bounded rate. A cancelled call stops at
//! once; the step's `on_cancel` request (a kill) is sent only with `KESTRA_MCP_KILL_ON_CANCEL`.
//!
//! Nothing here knows about executions: what is read, when waiting ends and what progress is
//! are the spec's templates.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::answer::{decode_body, kestra_error};
use crate::error::CallError;
use crate::events::{Event, EventWatch};
use crate::exchange::{CallContext, Delivery};
use crate::render::{Templates, ValueTemplate, truthy};
use crate::request::RenderedRequest;
use crate::runtime::Runtime;
use crate::spec::action::{Pacing, VersionedRequest, WAIT_VALUE, WaitStep, request_for};

/// Progress notifications are at least this far apart (at most 2 a second)...
const MIN_REPORT_GAP: Duration = Duration::from_millis(500);
/// ...and, while nothing changes, one is sent this often so that clients that reset their
/// request timeout on progress keep waiting. A follow stream silent this long is checked by a
/// poll.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// What a `wait` step gives: the last value read, whether `until` held, how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Waited {
    pub value: Value,
    pub reached: bool,
    pub elapsed: Duration,
}

impl Waited {
    /// The step's value as templates see it: `{"value", "reached", "seconds"}`.
    pub fn to_json(&self) -> Value {
        let seconds = (self.elapsed.as_secs_f64() * 10.0).round() / 10.0;
        json!({"value": self.value, "reached": self.reached, "seconds": seconds})
    }
}

/// One `wait` step being run for one call.
pub struct Wait<'a> {
    pub runtime: &'a Arc<Runtime>,
    pub call: &'a CallContext,
    pub templates: &'a Templates,
    pub step: &'a WaitStep,
    pub ctx: &'a Map<String, Value>,
    pub version: Option<&'a semver::Version>,
}

impl Wait<'_> {
    /// Waits until the step's condition holds, the limit passes, or the call is cancelled.
    pub async fn run(&self) -> Result<Waited, CallError> {
        let started = Instant::now();
        let deadline = started + self.limit()?;
        let _hook = self.cancel_hook()?;
        let mut judge = Judge::new(self);
        if let Some(follow) = &self.step.follow
            && let Some(reached) = self.follow(follow, deadline, &mut judge).await?
        {
            return Ok(judge.finish(reached, started));
        }
        let reached = self.poll(deadline, &mut judge).await?;
        Ok(judge.finish(reached, started))
    }

    /// The spec's `limit`, else (no `limit`, or one that gives none) `KESTRA_MCP_WAIT_LIMIT`.
    fn limit(&self) -> Result<Duration, CallError> {
        let Some(limit) = &self.step.limit else {
            return Ok(self.runtime.wait_limit());
        };
        let value = self.eval(limit, self.ctx)?;
        if value.is_null() {
            return Ok(self.runtime.wait_limit());
        }
        value
            .as_f64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .filter(|s| *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| {
                CallError::Render(format!(
                    "`wait.limit` must give a positive number of seconds, got {value}"
                ))
            })
    }

    /// Reads the event stream until `until` holds (`Some(true)`), the deadline passes
    /// (`Some(false)`), or the stream ends or fails first (`None`: polling takes over).
    async fn follow(
        &self,
        follow: &[VersionedRequest],
        deadline: Instant,
        judge: &mut Judge<'_>,
    ) -> Result<Option<bool>, CallError> {
        let mut request = self.render(follow, self.ctx)?;
        let (sender, mut events) = mpsc::unbounded_channel::<Event>();
        if let Some(limits) = request.stream.as_mut() {
            limits.max_duration = limits
                .max_duration
                .min(deadline.saturating_duration_since(Instant::now()));
            limits.watch = Some(EventWatch::new(move |event| {
                let _ = sender.send(event.clone());
                false
            }));
        }
        let exchange = self.runtime.exchange(self.call, &request, Delivery::Once);
        tokio::pin!(exchange);
        let mut streaming = true;
        loop {
            tokio::select! {
                answer = &mut exchange, if streaming => {
                    streaming = false;
                    match answer {
                        Ok(a) if a.status < 300 => {}
                        Ok(a) => tracing::debug!(status = a.status, path = %request.path, "cannot follow; polling"),
                        Err(CallError::Cancelled) => return Err(CallError::Cancelled),
                        Err(e) => tracing::debug!(error = %e, "the follow stream failed; polling"),
                    }
                }
                event = events.recv() => match event {
                    Some(event) if judge.sees_event(&event) => return Ok(Some(true)),
                    Some(_) => {}
                    None => break,
                },
                // A silent stream may be a proxy that holds events back (Prism does) or a stalled
                // one: a poll checks, and reports progress meanwhile.
                _ = tokio::time::sleep(HEARTBEAT) => {
                    if self.poll_once(judge).await? {
                        return Ok(Some(true));
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Ok(Some(false)),
            }
            // The request holds the watch and with it the sender, so the channel never closes:
            // once the stream has been read, an empty channel means every event was seen.
            if !streaming && events.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Polls until `until` holds (`true`) or the deadline passes (`false`).
    async fn poll(&self, deadline: Instant, judge: &mut Judge<'_>) -> Result<bool, CallError> {
        let mut pace = Pace::new(self.step.pacing);
        loop {
            if self.poll_once(judge).await? {
                return Ok(true);
            }
            let pause = pace.next();
            let now = Instant::now();
            if now + pause >= deadline {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => return Ok(false),
                    _ = self.call.cancel.cancelled() => return Err(CallError::Cancelled),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.call.cancel.cancelled() => return Err(CallError::Cancelled),
            }
        }
    }

    /// Sends the poll request once: whether `until` holds on its answer.
    async fn poll_once(&self, judge: &mut Judge<'_>) -> Result<bool, CallError> {
        let request = self.render(&self.step.poll, self.ctx)?;
        let answer = self
            .runtime
            .exchange(self.call, &request, Delivery::Retried)
            .await?;
        if answer.status >= 300 {
            return Err(kestra_error(&request, &answer));
        }
        judge.sees(decode_body(&answer)?)
    }

    /// Watches for the call's cancellation while the wait runs: the transport drops the call's
    /// future when the client cancels, so what to do then runs apart from it.
    fn cancel_hook(&self) -> Result<CancelHook, CallError> {
        let hook = CancelHook {
            finished: CancellationToken::new(),
            cancel: self.call.cancel.clone(),
        };
        let poll = self.render(&self.step.poll, self.ctx)?.path;
        let on_cancel = match (&self.step.on_cancel, self.runtime.kill_on_cancel()) {
            (Some(requests), true) => Some(self.render(requests, self.ctx)?),
            _ => None,
        };
        let has_on_cancel = self.step.on_cancel.is_some();
        let (finished, cancel) = (hook.finished.clone(), hook.cancel.clone());
        let runtime = self.runtime.clone();
        // The cancelled call's token would refuse the request: a fresh one, the same tool.
        let call = CallContext {
            cancel: CancellationToken::new(),
            progress: None,
            ..self.call.clone()
        };
        tokio::spawn(async move {
            tokio::select! {
                _ = finished.cancelled() => {}
                _ = cancel.cancelled() => after_cancel(&runtime, &call, &poll, on_cancel, has_on_cancel).await,
            }
        });
        Ok(hook)
    }

    fn render(
        &self,
        requests: &[VersionedRequest],
        ctx: &Map<String, Value>,
    ) -> Result<RenderedRequest, CallError> {
        let chosen = request_for(requests, self.version)
            .ok_or_else(|| CallError::Render("this wait has no request for this Kestra version".into()))?;
        chosen
            .template
            .render(self.templates, &crate::render::context(ctx))
            .map_err(|e| CallError::Render(e.0))
    }

    fn eval(&self, t: &ValueTemplate, ctx: &Map<String, Value>) -> Result<Value, CallError> {
        self.templates
            .render_value(t, &crate::render::context(ctx))
            .map_err(|e| CallError::Render(e.0))
    }
}

/// What happens once the client has cancelled a waiting call: the `on_cancel` request when
/// `KESTRA_MCP_KILL_ON_CANCEL` allowed it (rendered then), and a log line saying which.
async fn after_cancel(
    runtime: &Runtime,
    call: &CallContext,
    poll: &str,
    on_cancel: Option<RenderedRequest>,
    has_on_cancel: bool,
) {
    let tool = call.tool.as_deref().unwrap_or("-");
    let Some(request) = on_cancel else {
        let why = match has_on_cancel {
            true => "KESTRA_MCP_KILL_ON_CANCEL is not set",
            false => "the tool declares no on_cancel request",
        };
        tracing::info!(
            tool,
            followed = poll,
            "call cancelled while waiting; left running ({why})"
        );
        return;
    };
    match runtime.exchange(call, &request, Delivery::Once).await {
        Ok(answer) if answer.status < 300 => tracing::info!(
            tool, followed = poll, sent = %request.path, status = answer.status,
            "call cancelled while waiting; stopped it (KESTRA_MCP_KILL_ON_CANCEL)"
        ),
        Ok(answer) => tracing::warn!(
            tool, followed = poll, sent = %request.path, status = answer.status,
            "call cancelled while waiting; Kestra refused to stop it"
        ),
        Err(e) => tracing::warn!(
            tool, followed = poll, error = %e,
            "call cancelled while waiting; cannot stop it"
        ),
    }
}

/// Ends the cancellation watch when the wait ends for any other reason than the call's
/// cancellation (then the watch acts).
struct CancelHook {
    finished: CancellationToken,
    cancel: CancellationToken,
}

impl Drop for CancelHook {
    fn drop(&mut self) {
        if !self.cancel.is_cancelled() {
            self.finished.cancel();
        }
    }
}

/// The intervals between polls: `interval`, growing by `backoff`, at most `max_interval`.
struct Pace {
    pacing: Pacing,
    current: f64,
}

impl Pace {
    fn new(pacing: Pacing) -> Self {
        Pace {
            pacing,
            current: pacing.interval,
        }
    }

    fn next(&mut self) -> Duration {
        let pause = self.current;
        self.current = (self.current * self.pacing.backoff).min(self.pacing.max_interval);
        Duration::from_secs_f64(pause)
    }
}

/// Judges each value read: whether `until` holds, and what progress to report.
struct Judge<'a> {
    wait: &'a Wait<'a>,
    ctx: Map<String, Value>,
    last: Value,
    reporter: Reporter,
}

impl<'a> Judge<'a> {
    fn new(wait: &'a Wait<'a>) -> Self {
        Judge {
            wait,
            ctx: wait.ctx.clone(),
            last: Value::Null,
            reporter: Reporter::default(),
        }
    }

    /// An event of the follow stream: its data when it is an object; an event on which the
    /// condition cannot be evaluated (the stream's opening stub) is skipped.
    fn sees_event(&mut self, event: &Event) -> bool {
        let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(&event.data) else {
            return false;
        };
        self.sees(value).unwrap_or_else(|e| {
            tracing::debug!(error = %e, "event skipped");
            false
        })
    }

    /// A value read: reports progress and says whether `until` holds.
    fn sees(&mut self, value: Value) -> Result<bool, CallError> {
        self.ctx.insert(WAIT_VALUE.into(), value.clone());
        let reached = truthy(&self.wait.eval(&self.wait.step.until, &self.ctx)?);
        self.last = value;
        if !reached {
            self.report(false);
        }
        Ok(reached)
    }

    fn report(&mut self, last: bool) {
        let (Some(sink), Some(progress)) = (&self.wait.call.progress, &self.wait.step.progress) else {
            return;
        };
        let wait = self.wait;
        let done = wait
            .eval(&progress.done, &self.ctx)
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        let total = progress
            .total
            .as_ref()
            .and_then(|t| wait.eval(t, &self.ctx).ok())
            .and_then(|v| v.as_f64());
        let message = progress.message.as_ref().and_then(|m| {
            wait.templates
                .render(m, &crate::render::context(&self.ctx))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        });
        if let Some((progress, total, message)) =
            self.reporter.next(Instant::now(), done, total, message, last)
        {
            sink.report(progress, total, message);
        }
    }

    fn finish(mut self, reached: bool, started: Instant) -> Waited {
        if !self.last.is_null() {
            self.report(true);
        }
        Waited {
            value: self.last,
            reached,
            elapsed: started.elapsed(),
        }
    }
}

/// Paces progress reports: at most one per [`MIN_REPORT_GAP`], one per [`HEARTBEAT`] while
/// nothing changes, always the last; the progress value always increases (MCP requires it),
/// so a report at the same count of units done is a fraction further (`n/(n+1)` of a unit).
#[derive(Debug, Default)]
struct Reporter {
    sent_at: Option<Instant>,
    last: Option<(f64, Option<String>)>,
    sent: f64,
    repeats: u32,
}

impl Reporter {
    fn next(
        &mut self,
        now: Instant,
        done: f64,
        total: Option<f64>,
        message: Option<String>,
        last: bool,
    ) -> Option<(f64, Option<f64>, Option<String>)> {
        let since = self.sent_at.map(|at| now.saturating_duration_since(at));
        let changed = self.last.as_ref() != Some(&(done, message.clone()));
        let due = match since {
            None => true,
            Some(_) if last => true,
            Some(gap) if changed => gap >= MIN_REPORT_GAP,
            Some(gap) => gap >= HEARTBEAT,
        };
        if !due {
            return None;
        }
        let progress = match self.sent_at {
            Some(_) if done <= self.sent => {
                self.repeats += 1;
                let base = self.sent.floor();
                base + f64::from(self.repeats) / f64::from(self.repeats + 1)
            }
            _ => {
                self.repeats = 0;
                done
            }
        };
        self.sent_at = Some(now);
        self.sent = progress;
        self.last = Some((done, message.clone()));
        Some((progress, total.map(|t| t.max(progress.ceil())), message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_back_off_up_to_the_longest_interval() {
        let mut pace = Pace::new(Pacing {
            interval: 1.0,
            backoff: 2.0,
            max_interval: 5.0,
        });
        let pauses: Vec<f64> = (0..5).map(|_| pace.next().as_secs_f64()).collect();
        assert_eq!(pauses, vec![1.0, 2.0, 4.0, 5.0, 5.0]);
    }

    #[test]
    fn progress_always_increases_is_paced_and_ends_with_the_last() {
        let mut r = Reporter::default();
        let mut now = Instant::now();
        let b = || Some("RUNNING: b".to_owned());
        let first = r.next(now, 0.0, Some(3.0), Some("RUNNING: a".into()), false);
        assert_eq!(first, Some((0.0, Some(3.0), Some("RUNNING: a".into()))));
        // A change within half a second waits for a later one.
        assert_eq!(r.next(now, 1.0, Some(3.0), b(), false), None);
        now += MIN_REPORT_GAP;
        assert_eq!(r.next(now, 1.0, Some(3.0), b(), false).map(|p| p.0), Some(1.0));
        // Nothing new: nothing until the heartbeat, which is a fraction further.
        now += MIN_REPORT_GAP;
        assert_eq!(r.next(now, 1.0, Some(3.0), b(), false), None);
        now += HEARTBEAT;
        assert_eq!(r.next(now, 1.0, Some(3.0), b(), false).map(|p| p.0), Some(1.5));
        now += HEARTBEAT;
        let again = r.next(now, 1.0, Some(3.0), None, false).map(|p| p.0);
        assert!(again.is_some_and(|p| p > 1.5 && p < 2.0), "{again:?}");
        // The last report goes out at once.
        let last = r.next(now, 3.0, Some(3.0), Some("SUCCESS".into()), true);
        assert_eq!(last.map(|p| p.0), Some(3.0));
    }

    #[test]
    fn a_wait_reads_as_value_reached_and_seconds() {
        let waited = Waited {
            value: json!({"id": "e"}),
            reached: false,
            elapsed: Duration::from_millis(1234),
        };
        assert_eq!(
            waited.to_json(),
            json!({"value": {"id": "e"}, "reached": false, "seconds": 1.2})
        );
    }
}
