//! The catalog tools (logs, namespace files, namespaces, flow search and AI generation): the
//! exact requests sent and the results returned, on Kestra 1.3 and 2.0 where they differ.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::stub::{Bed, body_json, body_text, header, json, line, lines, multipart_parts};

pub const EXERCISED: &[&str] = &[
    "delete_execution_logs",
    "delete_flow_logs",
    "download_execution_logs",
    "find_flow",
    "generate_dashboard",
    "generate_flow",
    "get_execution_logs",
    "list_flows_with_triggers",
    "list_namespace_dependencies",
    "list_namespaces",
    "manage_flow[list_dependencies]",
    "namespace_directory_action[create]",
    "namespace_directory_action[delete]",
    "namespace_directory_action[list]",
    "namespace_directory_action[move]",
    "namespace_file_action[create]",
    "namespace_file_action[delete]",
    "namespace_file_action[get]",
    "namespace_file_action[move]",
    "namespace_file_action[search]",
    "search_logs",
];

/// Log entries as Kestra 0.23 recorded them (logs.json logs-of-execution).
fn log_entries() -> Value {
    json!([
        {"namespace": "company.team", "flowId": "hello", "taskId": "log", "executionId": "1Xdwr5sTIamFbpr434xKPo",
         "taskRunId": "xQpGq1nlGHAmN7MC2yVxM", "attemptNumber": 0, "timestamp": "2026-11-25T14:10:08.015196Z",
         "level": "INFO", "thread": "worker_0", "message": "Hello kestra x3", "deleted": false}
    ])
}

fn empty() -> ResponseTemplate {
    ResponseTemplate::new(200)
}

fn text(body: &str, content_type: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_owned(), content_type)
}

fn not_found(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": message, "_embedded": {}}))
}

// --- logs ------------------------------------------------------------------------------------

#[tokio::test]
async fn get_execution_logs_filters_per_version() {
    let args = json!({"execution_id": "1Xdwr5sTIamFbpr434xKPo", "min_level": "WARN", "task_run_id": "xQpGq1nlGHAmN7MC2yVxM", "task_id": "log", "attempt": 0});
    for (version, query) in [
        (
            "1.3",
            "attempt=0&minLevel=WARN&taskId=log&taskRunId=xQpGq1nlGHAmN7MC2yVxM",
        ),
        (
            "2.0",
            "filters%5BattemptNumber%5D%5BEQUALS%5D=0&filters%5Blevel%5D%5BGREATER_THAN_OR_EQUAL_TO%5D=WARN&filters%5BtaskId%5D%5BEQUALS%5D=log&filters%5BtaskRunId%5D%5BEQUALS%5D=xQpGq1nlGHAmN7MC2yVxM",
        ),
    ] {
        let mut bed = Bed::with_env(&[("KESTRA_VERSION", version)]).await;
        bed.answer(
            "GET",
            "/api/v1/main/logs/1Xdwr5sTIamFbpr434xKPo",
            json(log_entries()),
        )
        .await;
        let result = bed.server.call_ok("get_execution_logs", args.clone()).await;
        assert_eq!(result, json!({"results": log_entries()}), "Kestra {version}");
        assert_eq!(
            line(&bed.only_request().await),
            format!("GET /api/v1/main/logs/1Xdwr5sTIamFbpr434xKPo?{query}"),
            "Kestra {version}"
        );
        // Without filters nothing but the path is sent.
        bed.server
            .call_ok(
                "get_execution_logs",
                json!({"execution_id": "1Xdwr5sTIamFbpr434xKPo"}),
            )
            .await;
        assert_eq!(
            line(&bed.only_request().await),
            "GET /api/v1/main/logs/1Xdwr5sTIamFbpr434xKPo"
        );
        // A level outside ERROR/WARN/INFO/DEBUG/TRACE fails before any request.
        bed.server
            .call_err(
                "get_execution_logs",
                json!({"execution_id": "x", "min_level": "LOUD"}),
            )
            .await;
        assert!(bed.requests().await.is_empty());
    }
}

#[tokio::test]
async fn download_execution_logs_returns_text_per_version() {
    // Built from the JSON entries (the download endpoint's text has no task id), INFO and above
    // unless min_level says otherwise.
    let entries = json!([
        {"taskId": "fail", "timestamp": "2026-11-25T14:10:18.106459Z", "level": "ERROR", "message": "Intentional failure"},
        {"timestamp": "2026-11-25T14:10:18.209498Z", "level": "ERROR", "message": "no task"}
    ]);
    let logs = "2026-11-25T14:10:18.106459Z ERROR [fail] Intentional failure\n2026-11-25T14:10:18.209498Z ERROR [-] no task";
    for (version, query) in [
        ("1.3", "minLevel=ERROR"),
        // 2.0: EQUALS on level is a 400 (pair logs/search-filters-syntax).
        ("2.0", "filters%5Blevel%5D%5BGREATER_THAN_OR_EQUAL_TO%5D=ERROR"),
    ] {
        let mut bed = Bed::with_env(&[("KESTRA_VERSION", version)]).await;
        bed.answer(
            "GET",
            "/api/v1/main/logs/7TTX54vdm6oLvgSXp3wfJ8",
            json(entries.clone()),
        )
        .await;
        let result = bed
            .server
            .call_ok(
                "download_execution_logs",
                json!({"execution_id": "7TTX54vdm6oLvgSXp3wfJ8", "min_level": "ERROR"}),
            )
            .await;
        assert_eq!(result, json!({"result": logs}));
        assert_eq!(
            line(&bed.only_request().await),
            format!("GET /api/v1/main/logs/7TTX54vdm6oLvgSXp3wfJ8?{query}")
        );
    }
    // An execution without logs answers an empty list: an empty text.
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    bed.answer("GET", "/api/v1/main/logs/doesnotexist", json(json!([])))
        .await;
    let result = bed
        .server
        .call_ok("download_execution_logs", json!({"execution_id": "doesnotexist"}))
        .await;
    assert_eq!(result, json!({"result": ""}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/logs/doesnotexist?minLevel=INFO"
    );
    bed.server
        .call_err(
            "download_execution_logs",
            json!({"execution_id": "x", "min_level": "info"}),
        )
        .await;
    assert!(
        bed.requests().await.is_empty(),
        "only the first call reached Kestra"
    );
}

#[tokio::test]
async fn search_logs_sends_filters_and_paging() {
    // 1.3 reads level EQUALS as the minimum and refuses GREATER_THAN_OR_EQUAL_TO on it; 2.0 is the
    // opposite (400 `Operation EQUALS is not supported for field LEVEL`).
    for (version, level) in [
        ("1.3", "filters%5Blevel%5D%5BEQUALS%5D=INFO"),
        ("2.0", "filters%5Blevel%5D%5BGREATER_THAN_OR_EQUAL_TO%5D=INFO"),
    ] {
        let mut bed = Bed::with_env(&[("KESTRA_VERSION", version)]).await;
        let page = json!({"results": log_entries(), "total": 1});
        bed.answer("GET", "/api/v1/main/logs/search", json(page.clone()))
            .await;
        let result = bed
            .server
            .call_ok(
                "search_logs",
                json!({"query": "Hello", "namespace": "company.team", "flow_id": "hello", "min_level": "INFO",
                       "start_date": "2026-11-24T14:10:23Z", "end_date": "2026-11-25T15:10:23Z", "page": 2, "size": 5}),
            )
            .await;
        // Rows keep what an agent reads (full_detail gives whole entries).
        let row = json!({"timestamp": "2026-11-25T14:10:08.015196Z", "level": "INFO", "namespace": "company.team",
                         "flowId": "hello", "executionId": "1Xdwr5sTIamFbpr434xKPo", "taskId": "log",
                         "message": "Hello kestra x3"});
        assert_eq!(result, json!({"results": [row], "total": 1}));
        assert_eq!(
            line(&bed.only_request().await),
            format!(
                "GET /api/v1/main/logs/search?filters%5BendDate%5D%5BLESS_THAN_OR_EQUAL_TO%5D=2026-11-25T15%3A10%3A23Z\
&filters%5BflowId%5D%5BEQUALS%5D=hello&{level}\
&filters%5Bnamespace%5D%5BEQUALS%5D=company.team&filters%5Bq%5D%5BEQUALS%5D=Hello\
&filters%5BstartDate%5D%5BGREATER_THAN_OR_EQUAL_TO%5D=2026-11-24T14%3A10%3A23Z&page=2&size=5"
            )
        );
        bed.server.call_ok("search_logs", json!({})).await;
        assert_eq!(
            line(&bed.only_request().await),
            "GET /api/v1/main/logs/search?page=1&size=25"
        );
        bed.server
            .call_err("search_logs", json!({"min_level": "FATAL"}))
            .await;
        assert!(bed.requests().await.is_empty());
    }
}

#[tokio::test]
async fn delete_execution_logs_and_flow_logs_confirm_empty_answers() {
    let mut bed = Bed::start().await;
    bed.answer("DELETE", "/api/v1/main/logs/4OP0oANPqoxBh9fFE3F8d3", empty())
        .await;
    let result = bed
        .server
        .call_ok(
            "delete_execution_logs",
            json!({"execution_id": "4OP0oANPqoxBh9fFE3F8d3", "min_level": "DEBUG", "task_id": "log"}),
        )
        .await;
    assert_eq!(result, json!({"status": "deleted"}));
    assert_eq!(
        line(&bed.only_request().await),
        "DELETE /api/v1/main/logs/4OP0oANPqoxBh9fFE3F8d3?minLevel=DEBUG&taskId=log"
    );

    bed.answer("DELETE", "/api/v1/main/logs/company.team/scheduled", empty())
        .await;
    let result = bed
        .server
        .call_ok(
            "delete_flow_logs",
            json!({"namespace": "company.team", "flow_id": "scheduled", "trigger_id": "every_hour"}),
        )
        .await;
    assert_eq!(result, json!({"status": "deleted"}));
    assert_eq!(
        line(&bed.only_request().await),
        "DELETE /api/v1/main/logs/company.team/scheduled?triggerId=every_hour"
    );
    bed.server
        .call_ok(
            "delete_flow_logs",
            json!({"namespace": "company.team", "flow_id": "scheduled"}),
        )
        .await;
    assert_eq!(
        line(&bed.only_request().await),
        "DELETE /api/v1/main/logs/company.team/scheduled"
    );
    bed.server
        .call_err("delete_flow_logs", json!({"namespace": "..", "flow_id": "x"}))
        .await;
    assert!(bed.requests().await.is_empty());
}

// --- namespace files -------------------------------------------------------------------------

const FILES: &str = "/api/v1/main/namespaces/company.team/files";

#[tokio::test]
async fn namespace_file_action_get_create_delete_search() {
    let mut bed = Bed::start().await;
    bed.answer(
        "GET",
        FILES,
        text("print('hello again')\n", "application/octet-stream"),
    )
    .await;
    let got = bed
        .server
        .call_ok(
            "namespace_file_action",
            json!({"namespace": "company.team", "path": "/scripts/hello.py"}),
        )
        .await;
    assert_eq!(got, json!({"content": "print('hello again')\n"}));
    assert_eq!(
        line(&bed.only_request().await),
        format!("GET {FILES}?path=%2Fscripts%2Fhello.py")
    );

    bed.answer("POST", FILES, empty()).await;
    let created = bed
        .server
        .call_ok(
            "namespace_file_action",
            json!({"namespace": "company.team", "action": "create", "path": "/scripts/hello.py", "file_content": "print('hi')\n"}),
        )
        .await;
    assert_eq!(created, json!({"status": "created"}));
    let req = bed.only_request().await;
    assert_eq!(line(&req), format!("POST {FILES}?path=%2Fscripts%2Fhello.py"));
    assert_eq!(
        multipart_parts(&req),
        vec![(
            "fileContent".to_owned(),
            Some("/scripts/hello.py".to_owned()),
            "print('hi')\n".to_owned()
        )]
    );
    assert!(
        body_text(&req).contains("Content-Type: application/octet-stream"),
        "{}",
        body_text(&req)
    );
    // create without content fails before any request.
    bed.server
        .call_err(
            "namespace_file_action",
            json!({"namespace": "company.team", "action": "create", "path": "/x.txt"}),
        )
        .await;
    assert!(bed.requests().await.is_empty());

    bed.answer("DELETE", FILES, empty()).await;
    let deleted = bed
        .server
        .call_ok(
            "namespace_file_action",
            json!({"namespace": "company.team", "action": "delete", "path": "/scripts/main.py"}),
        )
        .await;
    assert_eq!(deleted, json!({"status": "deleted"}));
    assert_eq!(
        line(&bed.only_request().await),
        format!("DELETE {FILES}?path=%2Fscripts%2Fmain.py")
    );

    bed.answer(
        "GET",
        &format!("{FILES}/search"),
        json(json!(["/scripts/hello.py"])),
    )
    .await;
    let found = bed
        .server
        .call_ok(
            "namespace_file_action",
            json!({"namespace": "company.team", "action": "search", "q": "hello"}),
        )
        .await;
    assert_eq!(found, json!({"results": ["/scripts/hello.py"]}));
    assert_eq!(
        line(&bed.only_request().await),
        format!("GET {FILES}/search?q=hello")
    );
    // Without `q` (or with an empty one) every file is listed: Kestra requires `q` and matches it
    // anywhere in the path, and every path starts with `/`.
    for args in [
        json!({"namespace": "company.team", "action": "search"}),
        json!({"namespace": "company.team", "action": "search", "q": ""}),
    ] {
        let found = bed.server.call_ok("namespace_file_action", args).await;
        assert_eq!(found, json!({"results": ["/scripts/hello.py"]}));
        assert_eq!(
            line(&bed.only_request().await),
            format!("GET {FILES}/search?q=%2F")
        );
    }
}

/// The arguments of `namespace_file_action` or `namespace_directory_action` moving `from` to `to`
/// in `company.team`.
fn moving(from: &str, to: &str) -> Value {
    json!({"namespace": "company.team", "action": "move", "path": from, "to_path": to})
}

/// Answers `GET {FILES}/stats?path={of}` with `response`.
async fn answer_stats(bed: &Bed, of: &str, response: ResponseTemplate) {
    bed.answer_query("GET", &format!("{FILES}/stats"), &[("path", of)], response)
        .await;
}

fn stats(kind: &str, name: &str) -> ResponseTemplate {
    json(json!({"type": kind, "size": 2, "fileName": name, "metadata": {}}))
}

fn server_error(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(500).set_body_json(json!({"message": message, "_embedded": {}}))
}

/// Kestra 2.0's answer to a move onto the existing `file` (pair v13-move-file-to-existing-file).
fn already_exists(file: &str) -> ResponseTemplate {
    server_error(&format!(
        "Internal server error: File '{file}' already exists in namespace 'company.team'."
    ))
}

/// Asserts that a move error says the destination exists and quotes Kestra about `file`.
fn assert_says_already_exists(err: &str, file: &str) {
    assert!(err.contains("the destination already exists"), "{err}");
    let quoted = format!("Kestra said: Internal server error: File '{file}' already exists");
    assert!(err.contains(&quoted), "{err}");
}

#[tokio::test]
async fn namespace_file_action_move_checks_the_source_and_reads_the_destination_back() {
    let mut bed = Bed::start().await;
    let stats_at = format!("{FILES}/stats");
    // Kestra 1.3 creates a missing destination directory (pair v13-move-file-into-missing-dir).
    answer_stats(&bed, "/m.txt", stats("File", "m.txt")).await;
    answer_stats(&bed, "/nodir/m.txt", stats("File", "m.txt")).await;
    bed.answer("PUT", FILES, empty()).await;
    let moved = bed
        .server
        .call_ok("namespace_file_action", moving("/m.txt", "/nodir/m.txt"))
        .await;
    assert_eq!(
        moved,
        json!({"status": "moved", "from": "/m.txt", "to": "/nodir/m.txt"})
    );
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            format!("GET {stats_at}?path=%2Fm.txt"),
            format!("PUT {FILES}?from=%2Fm.txt&to=%2Fnodir%2Fm.txt"),
            format!("GET {stats_at}?path=%2Fnodir%2Fm.txt"),
        ]
    );

    // Kestra answers 200 to the move of a missing file (pair move-missing-source): refused first.
    bed.reset().await;
    bed.answer(
        "GET",
        &stats_at,
        not_found("Not Found: File '/nope.txt' was not found"),
    )
    .await;
    bed.answer("PUT", FILES, empty()).await;
    let err = bed
        .server
        .call_err("namespace_file_action", moving("/nope.txt", "/nope2.txt"))
        .await;
    assert_eq!(
        err,
        "The source file '/nope.txt' does not exist in namespace 'company.team'; nothing was moved."
    );
    assert_eq!(
        lines(&bed.requests().await),
        vec![format!("GET {stats_at}?path=%2Fnope.txt")]
    );

    // A 200 after which the destination is missing is not a success.
    bed.reset().await;
    answer_stats(&bed, "/a.txt", stats("File", "a.txt")).await;
    answer_stats(&bed, "/b.txt", not_found("Not Found")).await;
    bed.answer("PUT", FILES, empty()).await;
    let err = bed
        .server
        .call_err("namespace_file_action", moving("/a.txt", "/b.txt"))
        .await;
    assert!(err.contains("'/b.txt' does not exist afterwards"), "{err}");

    // A directory is sent to namespace_directory_action.
    bed.reset().await;
    bed.answer("GET", &stats_at, stats("Directory", "scripts")).await;
    let err = bed
        .server
        .call_err("namespace_file_action", moving("/scripts", "/code"))
        .await;
    assert!(err.contains("use namespace_directory_action"), "{err}");
    assert_eq!(bed.requests().await.len(), 1);

    // Kestra 2.0 refuses to overwrite (pair v13-move-file-to-existing-file): the error says so.
    bed.reset().await;
    bed.answer("GET", &stats_at, stats("File", "b.txt")).await;
    bed.answer("PUT", FILES, already_exists("/d2/sub/a.txt")).await;
    let err = bed
        .server
        .call_err("namespace_file_action", moving("/d2/b.txt", "/d2/sub/a.txt"))
        .await;
    assert!(
        err.starts_with("Kestra refused to move '/d2/b.txt' to '/d2/sub/a.txt' in namespace 'company.team': the destination already exists"),
        "{err}"
    );
    assert_says_already_exists(&err, "/d2/sub/a.txt");

    // Any other 500 keeps the explanation of 2.x versioned names and Kestra's message.
    bed.reset().await;
    bed.answer("GET", &stats_at, stats("File", "a.txt")).await;
    bed.answer("PUT", FILES, server_error("Internal server error"))
        .await;
    let err = bed
        .server
        .call_err("namespace_file_action", moving("/a.txt", "/b.txt"))
        .await;
    assert!(
        err.starts_with("Kestra could not move '/a.txt' to '/b.txt' in namespace 'company.team'."),
        "{err}"
    );
    assert_eq!(bed.requests().await.len(), 2);
    bed.server
        .call_err(
            "namespace_file_action",
            json!({"namespace": "company.team", "action": "move", "path": "/a.txt"}),
        )
        .await;
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn namespace_directory_action_list_create_delete_move() {
    let mut bed = Bed::start().await;
    let dir = format!("{FILES}/directory");
    let entries = json!([{"type": "File", "size": 21, "fileName": "hello.py", "lastModifiedTime": 1795615826446_u64, "creationTime": 1795615826436_u64}]);
    bed.answer("GET", &dir, json(entries.clone())).await;
    let listed = bed
        .server
        .call_ok(
            "namespace_directory_action",
            json!({"namespace": "company.team", "path": "/scripts", "action": "list"}),
        )
        .await;
    assert_eq!(listed, json!({"results": entries}));
    assert_eq!(
        line(&bed.only_request().await),
        format!("GET {dir}?path=%2Fscripts")
    );

    bed.answer("POST", &dir, empty()).await;
    let created = bed
        .server
        .call_ok(
            "namespace_directory_action",
            json!({"namespace": "company.team", "path": "/data/raw", "action": "create"}),
        )
        .await;
    assert_eq!(created, json!({"status": "directory_created"}));
    assert_eq!(
        line(&bed.only_request().await),
        format!("POST {dir}?path=%2Fdata%2Fraw")
    );

    bed.answer("DELETE", FILES, empty()).await;
    let deleted = bed
        .server
        .call_ok(
            "namespace_directory_action",
            json!({"namespace": "company.team", "path": "/data", "action": "delete"}),
        )
        .await;
    assert_eq!(deleted, json!({"status": "directory_deleted"}));
    assert_eq!(
        line(&bed.only_request().await),
        format!("DELETE {FILES}?path=%2Fdata")
    );

    bed.server
        .call_err(
            "namespace_directory_action",
            json!({"namespace": "company.team", "path": "/data", "action": "move"}),
        )
        .await;
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn namespace_directory_action_turns_404_into_error_results() {
    let mut bed = Bed::start().await;
    let dir = format!("{FILES}/directory");
    bed.answer("GET", &dir, not_found("Not Found: nope")).await;
    bed.answer("DELETE", FILES, not_found("Not Found: nope")).await;
    bed.answer("GET", &format!("{FILES}/stats"), not_found("Not Found: nope"))
        .await;
    let missing = "The directory '/nope' does not exist in namespace 'company.team'.";
    let listed = bed
        .server
        .call_err(
            "namespace_directory_action",
            json!({"namespace": "company.team", "path": "/nope", "action": "list"}),
        )
        .await;
    assert_eq!(listed, missing);
    let deleted = bed
        .server
        .call_err(
            "namespace_directory_action",
            json!({"namespace": "company.team", "path": "/nope", "action": "delete"}),
        )
        .await;
    assert_eq!(deleted, missing);
    let moved = bed
        .server
        .call_err("namespace_directory_action", moving("/nope", "/a/other"))
        .await;
    assert_eq!(
        moved,
        "The source directory '/nope' does not exist in namespace 'company.team'; nothing was moved."
    );
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            format!("GET {dir}?path=%2Fnope"),
            format!("DELETE {FILES}?path=%2Fnope"),
            format!("GET {FILES}/stats?path=%2Fnope"),
        ]
    );
}

/// The stub of a namespace holding `/d1/b.txt` and `/d1/sub/a.txt` (pairs v13-upload-d1-*),
/// with `/d2` free before the move and there after it; search also answers a path outside `/d1`
/// that contains `/d1/`.
async fn directory_to_move(bed: &Bed) {
    let stats_at = format!("{FILES}/stats");
    answer_stats(bed, "/d1", stats("Directory", "d1")).await;
    Mock::given(method("GET"))
        .and(path(stats_at.as_str()))
        .and(query_param("path", "/d2"))
        .respond_with(not_found("Not Found: /d2"))
        .up_to_n_times(1)
        .mount(&bed.kestra)
        .await;
    answer_stats(bed, "/d2", stats("Directory", "d2")).await;
    bed.answer_query(
        "GET",
        &format!("{FILES}/search"),
        &[("q", "/d1/")],
        json(json!(["/d1/b.txt", "/d1/sub/a.txt", "/old/d1/c.txt"])),
    )
    .await;
}

/// Asserts that nothing was deleted since the last look at the requests.
async fn assert_source_kept(bed: &mut Bed) {
    let sent = lines(&bed.requests().await);
    assert!(!sent.iter().any(|l| l.starts_with("DELETE")), "{sent:?}");
}

/// Both files of `/d1` read back under `/d2` after the move.
async fn both_files_arrive(bed: &Bed) {
    answer_stats(bed, "/d2/b.txt", stats("File", "b.txt")).await;
    answer_stats(bed, "/d2/sub/a.txt", stats("File", "a.txt")).await;
}

#[tokio::test]
async fn namespace_directory_action_moves_file_by_file_on_kestra_1() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    let stats_at = format!("{FILES}/stats");
    directory_to_move(&bed).await;
    both_files_arrive(&bed).await;
    // `/d1` also holds an empty directory `/d1/empty` (no file of search lists it).
    bed.answer(
        "GET",
        &format!("{FILES}/directory"),
        json(json!([
            {"type": "Directory", "size": 0, "fileName": "sub"},
            {"type": "Directory", "size": 0, "fileName": "empty"},
            {"type": "File", "size": 2, "fileName": "b.txt"}
        ])),
    )
    .await;
    bed.answer("POST", &format!("{FILES}/directory"), empty()).await;
    bed.answer("PUT", FILES, empty()).await;
    bed.answer("DELETE", FILES, empty()).await;
    let moved = bed
        .server
        .call_ok("namespace_directory_action", moving("/d1", "/d2"))
        .await;
    assert_eq!(
        moved,
        json!({"status": "directory_moved", "from": "/d1", "to": "/d2", "failed": [], "moved": [
            {"from": "/d1/b.txt", "to": "/d2/b.txt"},
            {"from": "/d1/sub/a.txt", "to": "/d2/sub/a.txt"}
        ]})
    );
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            format!("GET {stats_at}?path=%2Fd1"),
            format!("GET {stats_at}?path=%2Fd2"),
            format!("GET {FILES}/search?q=%2Fd1%2F"),
            format!("POST {FILES}/directory?path=%2Fd2"),
            format!("GET {FILES}/directory?path=%2Fd1"),
            format!("POST {FILES}/directory?path=%2Fd2%2Fsub"),
            format!("POST {FILES}/directory?path=%2Fd2%2Fempty"),
            format!("PUT {FILES}?from=%2Fd1%2Fb.txt&to=%2Fd2%2Fb.txt"),
            format!("PUT {FILES}?from=%2Fd1%2Fsub%2Fa.txt&to=%2Fd2%2Fsub%2Fa.txt"),
            format!("GET {stats_at}?path=%2Fd2%2Fb.txt"),
            format!("GET {stats_at}?path=%2Fd2%2Fsub%2Fa.txt"),
            format!("GET {stats_at}?path=%2Fd2"),
            format!("DELETE {FILES}?path=%2Fd1"),
        ]
    );
}

#[tokio::test]
async fn namespace_directory_action_reports_what_did_not_move_and_keeps_the_source() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    directory_to_move(&bed).await;
    answer_stats(&bed, "/d2/b.txt", stats("File", "b.txt")).await;
    answer_stats(&bed, "/d2/sub/a.txt", not_found("Not Found")).await;
    bed.answer("POST", &format!("{FILES}/directory"), empty()).await;
    bed.answer_query("PUT", FILES, &[("from", "/d1/b.txt")], empty())
        .await;
    bed.answer_query(
        "PUT",
        FILES,
        &[("from", "/d1/sub/a.txt")],
        server_error("Internal server error: disk full"),
    )
    .await;
    bed.answer("DELETE", FILES, empty()).await;
    let err = bed
        .server
        .call_err("namespace_directory_action", moving("/d1", "/d2"))
        .await;
    assert!(
        err.starts_with("The move of '/d1' to '/d2' in namespace 'company.team' is incomplete: 1 of 2 files moved, the source directory was kept."),
        "{err}"
    );
    let report: Value = serde_json::from_str(&err[err.find('{').unwrap()..]).unwrap();
    assert_eq!(
        report,
        json!({"status": "incomplete", "from": "/d1", "to": "/d2",
               "moved": [{"from": "/d1/b.txt", "to": "/d2/b.txt"}],
               "failed": [{"from": "/d1/sub/a.txt", "to": "/d2/sub/a.txt", "reason": "Kestra answered 500: Internal server error: disk full"}]})
    );
    assert_source_kept(&mut bed).await;
}

#[tokio::test]
async fn namespace_directory_action_keeps_an_empty_source_whose_destination_did_not_appear() {
    // Kestra 1.3 keeps no trace of a nested empty directory (pair v13-list-e1): deleting the
    // source would lose it.
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    let stats_at = format!("{FILES}/stats");
    answer_stats(&bed, "/e1", stats("Directory", "e1")).await;
    bed.answer("GET", &stats_at, not_found("Not Found")).await;
    bed.answer("GET", &format!("{FILES}/search"), json(json!([])))
        .await;
    bed.answer("GET", &format!("{FILES}/directory"), json(json!([])))
        .await;
    bed.answer("POST", &format!("{FILES}/directory"), empty()).await;
    let err = bed
        .server
        .call_err("namespace_directory_action", moving("/e1", "/x/e2"))
        .await;
    assert!(
        err.starts_with("The move of '/e1' to '/x/e2' in namespace 'company.team' is incomplete: 0 of 0 files moved, the source directory was kept."),
        "{err}"
    );
    assert!(
        err.contains("the destination directory does not exist after the move"),
        "{err}"
    );
    assert_source_kept(&mut bed).await;
}

#[tokio::test]
async fn namespace_directory_action_moves_the_whole_directory_on_kestra_2_and_checks_it() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "2.0")]).await;
    let stats_at = format!("{FILES}/stats");
    directory_to_move(&bed).await;
    both_files_arrive(&bed).await;
    bed.answer("PUT", FILES, empty()).await;
    let moved = bed
        .server
        .call_ok("namespace_directory_action", moving("d1/", "/d2"))
        .await;
    assert_eq!(moved["status"], json!("directory_moved"));
    assert_eq!(moved["moved"].as_array().unwrap().len(), 2, "{moved}");
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            format!("GET {stats_at}?path=%2Fd1"),
            format!("GET {stats_at}?path=%2Fd2"),
            format!("GET {FILES}/search?q=%2Fd1%2F"),
            format!("PUT {FILES}?from=%2Fd1&to=%2Fd2"),
            format!("GET {stats_at}?path=%2Fd2%2Fb.txt"),
            format!("GET {stats_at}?path=%2Fd2%2Fsub%2Fa.txt"),
            format!("GET {stats_at}?path=%2Fd2"),
        ]
    );

    // A destination that exists is refused before anything moves.
    bed.reset().await;
    bed.answer("GET", &stats_at, stats("Directory", "d")).await;
    let err = bed
        .server
        .call_err("namespace_directory_action", moving("/d1", "/d2"))
        .await;
    assert!(err.starts_with("The destination '/d2' already exists"), "{err}");
    assert_eq!(bed.requests().await.len(), 2);

    // Kestra's own `already exists` (a race with another writer) is said plainly.
    bed.reset().await;
    directory_to_move(&bed).await;
    bed.answer("PUT", FILES, already_exists("/d2/b.txt")).await;
    let err = bed
        .server
        .call_err("namespace_directory_action", moving("/d1", "/d2"))
        .await;
    assert_says_already_exists(&err, "/d2/b.txt");
}

// --- namespaces and dependencies -------------------------------------------------------------

#[tokio::test]
async fn list_namespaces_pages_until_a_short_page_per_version() {
    let page = |items: Value| json(json!({"results": items, "total": 3}));
    for (version, before, after) in [
        ("1.3", "", "&q=company"),
        ("2.0", "filters%5Bq%5D%5BEQUALS%5D=company&", ""),
    ] {
        let mut bed = Bed::with_env(&[("KESTRA_VERSION", version)]).await;
        for (n, items) in [
            (
                "1",
                json!([{"disabled": false, "id": "company", "deleted": false}, {"disabled": true, "id": "company.analytics", "deleted": false}]),
            ),
            ("2", json!([{"id": "company.team", "deleted": false}])),
        ] {
            bed.answer_query(
                "GET",
                "/api/v1/main/namespaces/search",
                &[("page", n)],
                page(items),
            )
            .await;
        }
        let result = bed
            .server
            .call_ok("list_namespaces", json!({"query": "company", "page_size": 2}))
            .await;
        assert_eq!(
            result,
            json!({"results": ["company (created)", "company.analytics (not created)", "company.team (created)"]}),
            "Kestra {version}"
        );
        assert_eq!(
            lines(&bed.requests().await),
            vec![
                format!("GET /api/v1/main/namespaces/search?{before}page=1{after}&size=2"),
                format!("GET /api/v1/main/namespaces/search?{before}page=2{after}&size=2"),
            ],
            "Kestra {version}"
        );
    }
}

#[tokio::test]
async fn list_namespaces_with_flows_only_and_empty_search() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    let names = json!(["company.analytics", "company.bulk", "company.team"]);
    bed.answer(
        "GET",
        "/api/v1/main/flows/distinct-namespaces",
        json(names.clone()),
    )
    .await;
    bed.answer(
        "GET",
        "/api/v1/main/namespaces/search",
        json(json!({"results": [], "total": 0})),
    )
    .await;
    let result = bed
        .server
        .call_ok("list_namespaces", json!({"with_flows_only": true}))
        .await;
    assert_eq!(result, json!({"results": names}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/distinct-namespaces"
    );
    let result = bed.server.call_ok("list_namespaces", json!({})).await;
    assert_eq!(result, json!({"results": []}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/namespaces/search?page=1&size=100"
    );
    bed.server
        .call_err("list_namespaces", json!({"page_size": 0}))
        .await;
    assert!(bed.requests().await.is_empty());
}

const LEGEND: &str = "\nLegend:\n  ────▶ FLOW_TRIGGER  (flow-trigger-based dependency)\n  ====▶ FLOW_TASK     (subflow-task-based dependency)\n";

#[tokio::test]
async fn list_namespace_dependencies_draws_the_graph() {
    let mut bed = Bed::start().await;
    // Recorded namespaces.json dependencies (shortened), plus a flow trigger.
    let graph = json!({
        "nodes": [
            {"uid": "main_company.team_hello", "namespace": "company.team", "id": "hello"},
            {"uid": "company.team_failing", "namespace": "company.team", "id": "failing"},
            {"uid": "main_company.team_parent", "namespace": "company.team", "id": "parent"},
            {"uid": "company.team_report", "namespace": "company.team", "id": "report"}
        ],
        "edges": [
            {"source": "main_company.team_parent", "target": "main_company.team_hello", "relation": "FLOW_TASK"},
            {"source": "main_company.team_hello", "target": "company.team_report", "relation": "FLOW_TRIGGER"}
        ]
    });
    bed.answer(
        "GET",
        "/api/v1/main/namespaces/company.team/dependencies",
        json(graph),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "list_namespace_dependencies",
            json!({"namespace": "company.team"}),
        )
        .await;
    let want = format!(
        "failing\nparent ====▶ hello\n             hello ────▶ report\n                         report\n{LEGEND}Flows listed without arrows have no dependencies within this namespace."
    );
    assert_eq!(result, json!({"result": want}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/namespaces/company.team/dependencies"
    );
}

#[tokio::test]
async fn manage_flow_list_dependencies_draws_the_graph() {
    let mut bed = Bed::start().await;
    // Recorded flows.json dependencies-hello (with its duplicated node).
    let graph = json!({
        "nodes": [
            {"uid": "main_company.team_parent", "namespace": "company.team", "id": "parent"},
            {"uid": "main_company.team_hello", "namespace": "company.team", "id": "hello"},
            {"uid": "main_company.team_hello", "namespace": "company.team", "id": "hello"},
            {"uid": "main_company.analytics_downstream", "namespace": "company.analytics", "id": "downstream"}
        ],
        "edges": [
            {"source": "main_company.team_parent", "target": "main_company.team_hello", "relation": "FLOW_TASK"},
            {"source": "main_company.team_hello", "target": "main_company.analytics_downstream", "relation": "FLOW_TRIGGER"}
        ]
    });
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team/hello/dependencies",
        json(graph),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "manage_flow",
            json!({"action": "list_dependencies", "namespace": "company.team", "flow_id": "hello"}),
        )
        .await;
    let want = format!(
        "parent ====▶ hello\n             hello ────▶ downstream\n                         downstream\n{LEGEND}Flows listed without arrows have no dependencies within this flow."
    );
    assert_eq!(result, json!({"result": want}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/company.team/hello/dependencies"
    );

    // No dependencies (recorded dependencies-unknown-flow): only the legend.
    bed.reset().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team/nope/dependencies",
        json(json!({"nodes": [], "edges": []})),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "manage_flow",
            json!({"action": "list_dependencies", "namespace": "company.team", "flow_id": "nope"}),
        )
        .await;
    assert_eq!(
        result,
        json!({"result": format!("{LEGEND}Flows listed without arrows have no dependencies within this flow.")})
    );
}

// --- flows -----------------------------------------------------------------------------------

fn flow(id: &str, namespace: &str) -> Value {
    json!({"id": id, "namespace": namespace, "revision": 1, "disabled": false, "deleted": false,
           "tasks": [{"id": "log", "type": "io.kestra.plugin.core.log.Log", "message": "hi"}], "triggers": []})
}

#[tokio::test]
async fn find_flow_ranks_and_picks_a_clear_match() {
    let mut bed = Bed::start().await;
    let page = json!({"results": [flow("report_daily", "company.team"), flow("hello_world", "company.team"), flow("goodbye", "company.hello")], "total": 3});
    bed.answer("GET", "/api/v1/main/flows/search", json(page)).await;
    let result = bed
        .server
        .call_ok(
            "find_flow",
            json!({"query": "Hello-World", "namespace": "company.team"}),
        )
        .await;
    // Normalised "hello_world": equal to hello_world (1.0); the others score difflib's ratio.
    assert_eq!(
        result,
        json!({
            "found": true,
            "message": "Found flow 'hello_world' in namespace 'company.team'",
            "match": {"namespace": "company.team", "flow_id": "hello_world"},
            "matches": [
                {"namespace": "company.team", "flow_id": "hello_world", "score": 1.0},
                {"namespace": "company.team", "flow_id": "report_daily", "score": 0.348},
                {"namespace": "company.hello", "flow_id": "goodbye", "score": 0.111}
            ]
        })
    );
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/search?filters%5Bnamespace%5D%5BEQUALS%5D=company.team&filters%5Bq%5D%5BEQUALS%5D=Hello-World&page=1&size=20"
    );
}

#[tokio::test]
async fn find_flow_lists_close_matches_and_reports_none() {
    let mut bed = Bed::start().await;
    let flows: Vec<Value> = ["hello", "hello_world", "a", "b", "c", "d"]
        .iter()
        .map(|id| flow(id, "company.team"))
        .collect();
    bed.answer(
        "GET",
        "/api/v1/main/flows/search",
        json(json!({"results": flows, "total": 6})),
    )
    .await;
    let result = bed
        .server
        .call_ok("find_flow", json!({"query": "hello world"}))
        .await;
    // 1.0 does not beat 0.9 by more than 0.1: no single match, the top 5 only.
    assert_eq!(
        result["message"],
        json!("Found 6 possible matches. The top results are listed below.")
    );
    assert_eq!(result["found"], json!(true));
    assert!(result.get("match").is_none(), "{result}");
    let ids: Vec<&str> = result["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["flow_id"].as_str().unwrap())
        .collect();
    // Equal scores keep Kestra's order; "d" shares one letter with the query.
    assert_eq!(ids, vec!["hello_world", "hello", "d", "a", "b"]);
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/search?filters%5Bq%5D%5BEQUALS%5D=hello+world&page=1&size=20"
    );

    bed.reset().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/search",
        json(json!({"results": [], "total": 0})),
    )
    .await;
    let result = bed.server.call_ok("find_flow", json!({"query": "nothing"})).await;
    assert_eq!(
        result,
        json!({"found": false, "message": "No flows found matching 'nothing'. Try a different search term or check available flows with search_flows.", "matches": []})
    );
}

#[tokio::test]
async fn list_flows_with_triggers_scans_namespaces() {
    let mut bed = Bed::start().await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/distinct-namespaces",
        json(json!(["company.analytics", "company.team"])),
    )
    .await;
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.analytics",
        json(json!([flow("downstream", "company.analytics")])),
    )
    .await;
    let mut scheduled = flow("scheduled", "company.team");
    scheduled["triggers"] = json!([
        {"id": "every_hour", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "0 * * * *"},
        {"id": "hook", "type": "io.kestra.plugin.core.trigger.Webhook", "key": "k", "disabled": true}
    ]);
    bed.answer(
        "GET",
        "/api/v1/main/flows/company.team",
        json(json!([flow("hello", "company.team"), scheduled])),
    )
    .await;
    let every_hour = "- `every_hour` (enabled) of type `io.kestra.plugin.core.trigger.Schedule` defined as:\n```json\n{\n  \"id\": \"every_hour\",\n  \"type\": \"io.kestra.plugin.core.trigger.Schedule\",\n  \"cron\": \"0 * * * *\"\n}\n```";
    let hook = "- `hook` (disabled) of type `io.kestra.plugin.core.trigger.Webhook` defined as:\n```json\n{\n  \"id\": \"hook\",\n  \"type\": \"io.kestra.plugin.core.trigger.Webhook\",\n  \"key\": \"k\",\n  \"disabled\": true\n}\n```";
    let head = "Flow `scheduled` in namespace `company.team` with triggers:";
    let result = bed.server.call_ok("list_flows_with_triggers", json!({})).await;
    assert_eq!(
        result,
        json!({"results": [format!("{head}\n{every_hour}\n{hook}")]})
    );
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            "GET /api/v1/main/flows/distinct-namespaces",
            "GET /api/v1/main/flows/company.analytics",
            "GET /api/v1/main/flows/company.team"
        ]
    );

    let result = bed
        .server
        .call_ok(
            "list_flows_with_triggers",
            json!({"namespace": "company.team", "enabled_only": true}),
        )
        .await;
    assert_eq!(result, json!({"results": [format!("{head}\n{every_hour}")]}));
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/flows/company.team"
    );
    let result = bed
        .server
        .call_ok(
            "list_flows_with_triggers",
            json!({"namespace": "company.analytics", "disabled_only": true}),
        )
        .await;
    assert_eq!(result, json!({"results": []}));
    bed.requests().await;
}

// --- AI generation ---------------------------------------------------------------------------

const GENERATED_FLOW: &str = "id: hello_ai\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

fn conversation_id(body: &Value) -> String {
    let id = body["conversationId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{id}");
    id
}

#[tokio::test]
async fn generate_flow_returns_the_yaml_or_creates_the_flow() {
    let mut bed = Bed::start().await;
    bed.answer(
        "POST",
        "/api/v1/main/ai/generate/flow",
        text(GENERATED_FLOW, "application/yaml"),
    )
    .await;
    let result = bed
        .server
        .call_ok("generate_flow", json!({"user_prompt": "a flow that logs hi"}))
        .await;
    assert_eq!(result, json!({"result": GENERATED_FLOW}));
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/main/ai/generate/flow");
    assert_eq!(header(&req, "content-type").as_deref(), Some("application/json"));
    let body = body_json(&req);
    let first = conversation_id(&body);
    assert_eq!(
        body,
        json!({"conversationId": first, "userPrompt": "a flow that logs hi"})
    );

    // auto_create: the generated flow exists already (422), so it is updated.
    let stored = json!({"id": "hello_ai", "namespace": "company.team", "revision": 2});
    bed.answer(
        "POST",
        "/api/v1/main/flows",
        ResponseTemplate::new(422).set_body_json(json!({"message": "Flow id already exists"})),
    )
    .await;
    bed.answer(
        "PUT",
        "/api/v1/main/flows/company.team/hello_ai",
        json(stored.clone()),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "generate_flow",
            json!({"user_prompt": "add a task", "flow_yaml": "id: hello_ai", "namespace": "company.team", "provider_id": "openai", "auto_create": true}),
        )
        .await;
    assert_eq!(result, stored);
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec![
            "POST /api/v1/main/ai/generate/flow",
            "POST /api/v1/main/flows",
            "PUT /api/v1/main/flows/company.team/hello_ai"
        ]
    );
    let body = body_json(&sent[0]);
    let second = conversation_id(&body);
    assert_ne!(first, second, "a new conversation per call");
    assert_eq!(
        body,
        json!({"conversationId": second, "userPrompt": "add a task", "yaml": "id: hello_ai", "namespace": "company.team", "providerId": "openai"})
    );
    for req in &sent[1..] {
        assert_eq!(header(req, "content-type").as_deref(), Some("application/x-yaml"));
        assert_eq!(body_text(req), GENERATED_FLOW);
    }
}

#[tokio::test]
async fn generate_tools_say_when_ai_is_not_configured() {
    // 1.3 has no AI controller without a provider (404); 2.0 answers 500 or 503 (pairs
    // v20/inv4-ai-generate-flow, v20/inv4-ai-generate-flow-providerId).
    let answers = [
        (
            404,
            ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found", "_embedded": {}})),
            "Not Found",
        ),
        (
            500,
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Internal server error", "_embedded": {}})),
            "Internal server error",
        ),
        (
            503,
            ResponseTemplate::new(503).set_body_raw(
                "AI Copilot is not available: no AI provider is configured or reachable.",
                "text/plain",
            ),
            "AI Copilot is not available: no AI provider is configured or reachable.",
        ),
    ];
    for (status, answer, said) in answers {
        for (tool, kind) in [("generate_flow", "flow"), ("generate_dashboard", "dashboard")] {
            let mut bed = Bed::start().await;
            bed.answer(
                "POST",
                &format!("/api/v1/main/ai/generate/{kind}"),
                answer.clone(),
            )
            .await;
            let err = bed
                .server
                .call_err(tool, json!({"user_prompt": "logs hello", "auto_create": true}))
                .await;
            assert!(
                err.contains(&format!(
                    "AI is not configured on this Kestra ({status} from POST /ai/generate/{kind})"
                )) || (status == 500
                    && err.contains(&format!(
                        "AI is most likely not configured on this Kestra (500 from POST /ai/generate/{kind})"
                    ))),
                "{err}"
            );
            assert!(
                err.contains("`kestra.ai.type: gemini`") && err.contains("`kestra.ai.providers`"),
                "{err}"
            );
            assert!(err.ends_with(&format!("Kestra said: {said}")), "{err}");
            assert_eq!(bed.requests().await.len(), 1, "nothing created");
        }
    }
}

#[tokio::test]
async fn generate_flow_auto_create_reports_kestras_validation_messages() {
    let mut bed = Bed::start().await;
    bed.answer(
        "POST",
        "/api/v1/main/ai/generate/flow",
        text(GENERATED_FLOW, "application/yaml"),
    )
    .await;
    bed.answer(
        "POST",
        "/api/v1/main/flows",
        ResponseTemplate::new(422).set_body_json(json!({
            "message": "Invalid entity: tasks[0].message: must not be null",
            "_embedded": {"errors": [{"message": "must not be null", "path": "tasks[0].message"}]}
        })),
    )
    .await;
    let err = bed
        .server
        .call_err(
            "generate_flow",
            json!({"user_prompt": "logs", "auto_create": true}),
        )
        .await;
    assert_eq!(
        err,
        "Kestra refused the flow 'company.team.hello_ai' (422): Invalid entity: tasks[0].message: must not be null\n- tasks[0].message: must not be null\nFix the YAML and try again."
    );
    assert_eq!(
        lines(&bed.requests().await),
        vec!["POST /api/v1/main/ai/generate/flow", "POST /api/v1/main/flows"]
    );
}

#[tokio::test]
async fn generate_dashboard_returns_the_yaml_or_creates_it() {
    let mut bed = Bed::start().await;
    let yaml = "title: MCP dashboard\ncharts: []\n";
    bed.answer(
        "POST",
        "/api/v1/main/ai/generate/dashboard",
        text(yaml, "application/yaml"),
    )
    .await;
    let result = bed
        .server
        .call_ok(
            "generate_dashboard",
            json!({"user_prompt": "executions per day", "dashboard_yaml": "title: old"}),
        )
        .await;
    assert_eq!(result, json!({"result": yaml}));
    let body = body_json(&bed.only_request().await);
    let id = conversation_id(&body);
    assert_eq!(
        body,
        json!({"conversationId": id, "userPrompt": "executions per day", "yaml": "title: old"})
    );

    let stored = json!({"tenantId": "main", "id": "5Jd4UeR0dOAzktEB4XLHlF", "title": "MCP dashboard", "charts": [], "deleted": false});
    bed.answer("POST", "/api/v1/main/dashboards", json(stored.clone()))
        .await;
    let result = bed
        .server
        .call_ok(
            "generate_dashboard",
            json!({"user_prompt": "executions per day", "auto_create": true}),
        )
        .await;
    assert_eq!(result, stored);
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec![
            "POST /api/v1/main/ai/generate/dashboard",
            "POST /api/v1/main/dashboards"
        ]
    );
    assert_eq!(
        header(&sent[1], "content-type").as_deref(),
        Some("application/x-yaml")
    );
    assert_eq!(body_text(&sent[1]), yaml);
    bed.server
        .call_err("generate_dashboard", json!({"user_prompt": ""}))
        .await;
    assert!(bed.requests().await.is_empty());
}
