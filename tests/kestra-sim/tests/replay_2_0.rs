//! Replays the corpus recorded from a real Kestra 2.0.0-SNAPSHOT (tests/recorded-2.0.0-SNAPSHOT,
//! a copy of ../shared/kestra-api/recorded-2.0.0-SNAPSHOT) against the simulator in 2.0 mode,
//! with the shared harness in `common/` (status + body shape, id mapping, manual clock). Every
//! difference is listed in KNOWN_DIFFERENCES with its reason; stale entries fail.

mod common;

use kestra_sim::KestraVersion;

/// (recorded pair name, reason). Names are `file/name` as in INDEX.md.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "errors/diff-2.0-kv-inheritance",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "errors/dotdot-encoded-in-flow-path",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-in-namespace-segment",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-kv-key",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-kv-put",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-files",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-files-2",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    (
        "errors/dotdot-encoded-namespace-kv",
        "climbing guard: 400 for `..` or `/` in a decoded segment, stricter than real Kestra on purpose",
    ),
    ("errors/unauth-bearer-token", "no authentication in the simulator"),
    (
        "errors/unauth-malformed-basic",
        "no authentication in the simulator",
    ),
    (
        "errors/unauth-no-credentials",
        "no authentication in the simulator",
    ),
    (
        "errors/unauth-on-unknown-path",
        "no authentication in the simulator",
    ),
    ("errors/unauth-unknown-user", "no authentication in the simulator"),
    (
        "errors/unauth-wrong-password",
        "no authentication in the simulator",
    ),
    (
        "flows/dashboard-create",
        "a dashboard without id gets a generated one (0.23's rule, recorded-0.23 flows/dashboard-create, that the ee tools rely on); the recorded OSS answers 422 `Dashboard id is mandatory`",
    ),
    (
        "flows/dashboard-create-invalid",
        "chart validation is not simulated and the id is generated (see flows/dashboard-create); the recorded OSS refused it for its missing id",
    ),
    (
        "misc/ee-apps-search",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/ee-banners-search",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/ee-tests-create",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/license-info",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/me-root-probe",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "misc/tenant-other-than-main",
        "simulator accepts any tenant (state per tenant); the recorded OSS routes only `main`",
    ),
    (
        "namespaces/create-namespace-ee",
        "the simulator plays an Enterprise server; the recorded 2.0 is OSS",
    ),
    (
        "v20/inv3-executions-t0",
        "replay clock: sent < 0.9 s after its backfill's create, which the 1 s per request clock cannot place; triggers/backfill-pause, as close to its create, already shows the first slot, which the simulator follows (src/v2.rs FIRST_SLOT_AFTER)",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_corpus_matches_simulator_2_0() {
    common::Replay {
        corpus: "recorded-2.0.0-SNAPSHOT",
        // The 2.0-only investigations of this recording.
        extra_files: &["v20"],
        version: KestraVersion::V2_0,
        // The 2.0.0-SNAPSHOT corpus was recorded on 2026-12-06 from about 10:00 UTC.
        clock_start: "2026-12-06T10:00:00Z",
        known_differences: KNOWN_DIFFERENCES,
    }
    .assert_known_differences_only()
    .await;
}
