//! End-to-end scenarios: the real `kestra-mcp` binary driven over stdio by an MCP client, walking
//! what a user of an AI client does, on Kestra 1.3 and 2.0.
//!
//! Targets (see tests/e2e/README.md):
//! - the test bed (`tests/testbed/start.sh`): kestra-sim, a SIMULATOR of Kestra's API, with Prism
//!   in front validating every request and response against Kestra's own OpenAPI description.
//!   kestra-mcp talks to Prism; the scenarios read the state back from the simulator directly.
//!   After the scenarios, Prism's logs are scanned and any request violation fails the suite.
//! - a real Kestra, when `KESTRA_E2E_BASE_URL` is set (no simulator, no Prism).
//!
//! One test (`scenarios`) runs every scenario on every target, prints a report, then checks the
//! Prism logs: the test bed is started once per run (tests/testbed/run-e2e.sh), not per test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod bed;
mod client;
mod ctx;
mod prism;
mod runner;
mod scenarios;
#[path = "../integration/util.rs"]
#[allow(dead_code)]
mod util;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenarios() {
    runner::run_all().await;
}
