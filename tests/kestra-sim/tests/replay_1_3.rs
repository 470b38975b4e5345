//! Replays the corpus recorded from a real Kestra OSS 1.3.0 (tests/recorded-1.3.0, a copy of
//! ../shared/kestra-api/recorded-1.3.0) against the simulator in 1.3 mode, with the shared
//! harness in `common/` (status + body shape, id mapping, manual clock). Every difference is
//! listed in KNOWN_DIFFERENCES with its reason; stale entries fail.

mod common;

use kestra_sim::KestraVersion;

/// (recorded pair name `file/name` as in recorded-1.3.0/INDEX.md, reason).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // The simulator does not authenticate (any or no credentials are accepted).
    ("errors/unauth-bearer-token", "no authentication in the simulator"),
    (
        "errors/unauth-malformed-basic",
        "no authentication in the simulator",
    ),
    (
        "errors/unauth-no-credentials",
        "no authentication in the simulator",
    ),
    ("errors/unauth-unknown-user", "no authentication in the simulator"),
    (
        "errors/unauth-wrong-password",
        "no authentication in the simulator",
    ),
    (
        "errors/unauth-on-unknown-path",
        "no authentication in the simulator (404 instead of 401)",
    ),
    // Climbing guard (see src/http.rs `climbing`): real 1.3.0 answered 404/422/200.
    (
        "errors/dotdot-encoded-in-flow-path",
        "climbing guard: 400 for `..` or `/` in a decoded namespace, id or key, stricter than Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-in-namespace-segment",
        "climbing guard: 400 for `..` or `/` in a decoded namespace, id or key, stricter than Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-kv-key",
        "climbing guard: 400 for `..` or `/` in a decoded namespace, id or key, stricter than Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-kv-put",
        "climbing guard: 400 for `..` or `/` in a decoded namespace, id or key, stricter than Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-files",
        "climbing guard: 400 for `..` or `/` in a decoded namespace, id or key, stricter than Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-files-2",
        "climbing guard: 400 for `..` or `/` in a decoded namespace, id or key, stricter than Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-kv",
        "climbing guard: 400 for `..` or `/` in a decoded namespace, id or key, stricter than Kestra on purpose",
    ),
    // The simulator plays a 1.3 Enterprise server (1.3 EE description); the corpus is OSS.
    (
        "misc/ee-ai-generate-dashboard",
        "simulator plays an Enterprise server; 1.3.0 OSS answered 404",
    ),
    (
        "misc/ee-ai-generate-flow",
        "simulator plays an Enterprise server; 1.3.0 OSS answered 404",
    ),
    (
        "misc/ee-apps-search",
        "simulator plays an Enterprise server; 1.3.0 OSS answered 404",
    ),
    (
        "misc/ee-banners-search",
        "simulator plays an Enterprise server; 1.3.0 OSS answered 404",
    ),
    (
        "misc/ee-tests-create",
        "simulator plays an Enterprise server; 1.3.0 OSS answered 404",
    ),
    (
        "misc/license-info",
        "simulator plays an Enterprise server; 1.3.0 OSS answered 404",
    ),
    (
        "misc/me-root-probe",
        "simulator plays an Enterprise server; 1.3.0 OSS answered 404 (GET /api/v1/me)",
    ),
    (
        "namespaces/create-namespace-ee",
        "simulator plays an Enterprise server; 1.3.0 OSS answered 404",
    ),
    (
        "misc/tenant-other-than-main",
        "Enterprise: any tenant is accepted (state per tenant); OSS 1.3.0 answered 400 `Tenant must be 'main'`",
    ),
    (
        "flows/dashboard-create",
        "a dashboard without id gets a generated one (0.23's rule, recorded-0.23 flows/dashboard-create, that the ee tools rely on); the recorded OSS answers 422 `Dashboard id is mandatory`",
    ),
    (
        "flows/dashboard-create-invalid",
        "chart validation is not simulated and the id is generated (see flows/dashboard-create); the recorded OSS refused it for its missing id",
    ),
    // Content-type routing of flow creation (no deprecated JSON route emulation).
    // Not simulated (not used by kestra-mcp's tools).
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_1_3_0_corpus_matches_simulator_1_3() {
    common::Replay {
        corpus: "recorded-1.3.0",
        extra_files: &[],
        version: KestraVersion::V1_3,
        // The 1.3.0 corpus was recorded on 2026-12-07 from 00:02 UTC.
        clock_start: "2026-12-07T00:02:00Z",
        known_differences: KNOWN_DIFFERENCES,
    }
    .assert_known_differences_only()
    .await;
}
