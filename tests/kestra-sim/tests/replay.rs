//! Replays the corpus recorded from a real Kestra 0.23 (tests/recorded-0.23, a copy of
//! ../shared/kestra-api/recorded-0.23) against the simulator in 1.3 mode, with the shared
//! harness in `common/` (status + body shape, id mapping, manual clock). Every difference is
//! listed in KNOWN_DIFFERENCES with its reason; where 1.3 behaves differently from 0.23, the
//! reason cites the recorded-1.3.0 pair that shows 1.3's behaviour.

mod common;

use kestra_sim::KestraVersion;

/// (recorded pair name, reason). Names are `file/name` as in INDEX.md.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // The simulator does not authenticate (any or no credentials are accepted). Prism in front
    // checks that a security scheme is present; credentials are never verified.
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
        "no authentication in the simulator (404 instead of 401)",
    ),
    ("errors/unauth-unknown-user", "no authentication in the simulator"),
    (
        "errors/unauth-wrong-password",
        "no authentication in the simulator",
    ),
    (
        "misc/configs-no-auth",
        "1.3 serves /configs without credentials (recorded-1.3.0 misc/configs-no-auth); 0.23: 401",
    ),
    // Climbing guard: stricter than real Kestra on purpose (400 for `..` or `/` in a decoded
    // namespace, id or key; real Kestra climbed or answered 404/422).
    (
        "errors/dotdot-encoded-in-flow-path",
        "climbing guard: 400 (real: 404)",
    ),
    (
        "errors/dotdot-encoded-in-namespace-segment",
        "climbing guard: 400 (real: 200, climbed)",
    ),
    (
        "errors/dotdot-encoded-kv-key",
        "climbing guard: 400 (real: 422 key pattern)",
    ),
    (
        "errors/dotdot-encoded-kv-put",
        "climbing guard: 400 (real: 422 key pattern)",
    ),
    (
        "errors/dotdot-encoded-namespace-files",
        "climbing guard: 400 (real: 200, climbed)",
    ),
    (
        "errors/dotdot-encoded-namespace-files-2",
        "climbing guard: 400 (real: 200, created a folder outside the tenant)",
    ),
    (
        "errors/dotdot-encoded-namespace-kv",
        "climbing guard: 400 (real: 200, read another namespace)",
    ),
    // Version differences: the simulator plays 1.3 (EE description), the corpus is OSS 0.23.
    (
        "errors/diff-2.0-kv-inheritance",
        "1.3 serves GET /namespaces/{ns}/kv/inheritance (recorded-1.3.0 errors/diff-2.0-kv-inheritance); 0.23 read it as a key",
    ),
    (
        "errors/diff-2.0-kv-list-all",
        "1.3 serves GET /kv (recorded-1.3.0 errors/diff-2.0-kv-list-all); 0.23: 404",
    ),
    (
        "misc/ee-ai-generate-dashboard",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/ee-ai-generate-flow",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/ee-apps-search",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/ee-banners-search",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/ee-tests-create",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/license-info",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/me-root-probe",
        "simulator plays an Enterprise server (GET /api/v1/me); 0.23 OSS answered 404",
    ),
    (
        "namespaces/create-namespace-ee",
        "simulator plays an Enterprise server; 0.23 OSS answered 404",
    ),
    (
        "misc/tenant-other-than-main",
        "simulator accepts any tenant (state per tenant); 0.23 OSS routed only `main`",
    ),
    // Content-type routing of flow creation: the simulator answers 415 for text/plain and
    // parses a body without Content-Type as YAML; real 0.23 reached a deprecated JSON route
    // (500) or failed conversion (422).
    // Namespace files: 1.3 answers from its file index (src/files_v13.rs), where 0.23 answered
    // from the storage.
    (
        "namespace-files/list-after-dir-move",
        "1.3 indexes only the leaf of a nested mkdir, so /data/raw is unknown and the move is a no-op: \
         recorded-1.3.0 namespace-files/list-after-dir-move ([]), v13-list-e1",
    ),
    (
        "namespace-files/list-file-as-dir",
        "1.3: 200 [] (recorded-1.3.0 namespace-files/list-file-as-dir); 0.23: 500",
    ),
    (
        "namespace-files/move-file-into-missing-dir",
        "1.3: 200, the directory is created (recorded-1.3.0 namespace-files/move-file-into-missing-dir)",
    ),
    (
        "namespace-files/move-missing-source",
        "1.3: 200, nothing moves (recorded-1.3.0 namespace-files/move-missing-source)",
    ),
    (
        "namespace-files/traversal-query-path-list",
        "1.3: 404 Directory not found (recorded-1.3.0 namespace-files/traversal-query-path-list); 0.23: 422",
    ),
    (
        "namespace-files/traversal-query-path-read",
        "1.3: 404 File not found (recorded-1.3.0 namespace-files/traversal-query-path-read); 0.23: 422",
    ),
    // Other 1.3 rules the simulator's 1.3 mode follows.
    (
        "executions/set-labels-invalid-key",
        "1.3 validates label keys: 422 (recorded-1.3.0 executions/set-labels-invalid-key)",
    ),
    (
        "kv/put-json-object",
        "1.3 PUT /kv consumes only text/plain: 415 (recorded-1.3.0 kv/put-json-object)",
    ),
    (
        "kv/put-string-quoted-json",
        "1.3 PUT /kv consumes only text/plain: 415 (recorded-1.3.0 kv/put-string-quoted-json)",
    ),
    (
        "kv/put-invalid-json",
        "1.3 PUT /kv consumes only text/plain: 415 (recorded-1.3.0 kv/put-invalid-json)",
    ),
    (
        "kv/get-json-object",
        "the JSON put was refused on 1.3: 404 (recorded-1.3.0 kv/get-json-object)",
    ),
    (
        "kv/get-string-quoted-json",
        "the JSON put was refused on 1.3: 404 (recorded-1.3.0 kv/get-string-quoted-json)",
    ),
    (
        "executions/resume-validate",
        "1.3 answers input defaults as strings (recorded-1.3.0 executions/resume-validate)",
    ),
    (
        "executions/create-hello-bad-int",
        "1.3 answers Invalid value for input `count` without embedded errors (recorded-1.3.0 executions/create-hello-bad-int); 0.23 embedded them",
    ),
    (
        "logs/download-unknown-execution",
        "1.3: 404 Execution not found (recorded-1.3.0 logs/download-unknown-execution)",
    ),
    (
        "triggers/backfill-create-mcp-payload-no-tenantId",
        "1.3: 200 without tenantId (recorded-1.3.0 triggers/backfill-create-mcp-payload-no-tenantId)",
    ),
    (
        "triggers/update-disable-trigger-no-tenantId",
        "1.3: 200 without tenantId (recorded-1.3.0 triggers/update-disable-trigger-no-tenantId)",
    ),
    // Not simulated (not used by kestra-mcp's tools).
    (
        "flows/dashboard-create-with-id",
        "1.3 accepts a dashboard's id (recorded-1.3.0 flows/dashboard-create-with-id: 200); 0.23 refused it",
    ),
    (
        "flows/dashboard-create-invalid",
        "dashboard chart validation is not simulated",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_corpus_matches_simulator_1_3() {
    common::Replay {
        corpus: "recorded-0.23",
        extra_files: &[],
        version: KestraVersion::V1_3,
        clock_start: "2026-11-25T14:10:00Z",
        known_differences: KNOWN_DIFFERENCES,
    }
    .assert_known_differences_only()
    .await;
}
