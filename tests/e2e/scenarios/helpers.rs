//! What several scenarios read the same way: the items of an answer, log messages, the end
//! states of an execution, and a wait for something the server does asynchronously.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::Reply;
use crate::ctx::Ctx;

/// The states an execution ends in.
pub const TERMINAL: &[&str] = &["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"];

/// The items of a page (`{"results": [...]}`) or of a bare list.
pub fn results(v: &Value) -> Vec<Value> {
    v["results"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| v.as_array().cloned().unwrap_or_default())
}

/// The messages of a list or page of log entries, one a line.
pub fn log_messages(logs: &Value) -> String {
    results(logs)
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a tool reply is a failure (an MCP error or a result `{"error": ...}`).
pub fn failed(r: &Reply) -> bool {
    r.is_error || r.value.get("error").is_some()
}

/// Asks `probe` every `every` until it answers `Ok`, for `within` at most; past that, fails
/// with the last `Err` (what was awaited and what was seen). The probe runs at least once.
pub async fn poll<T, F, Fut>(within: Duration, every: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(found) => return found,
            Err(why) => assert!(Instant::now() < deadline, "{why}"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Waits until the logs the API holds for `execution` satisfy `done` (a real Kestra writes
/// logs asynchronously); `awaited` says what was waited for when they never do.
pub async fn wait_logs(c: &Ctx, execution: &str, awaited: &str, done: impl Fn(&Value) -> bool) {
    let within = Duration::from_secs(if c.sim() { 10 } else { 60 });
    poll(within, Duration::from_millis(200), || async {
        let logs = c.api.logs(execution).await.json("logs");
        if done(&logs) {
            Ok(())
        } else {
            Err(format!("{awaited} for {execution}: {logs}"))
        }
    })
    .await
}
