//! The Enterprise (`ee`) tools, called over stdio against the stub: the exact requests sent
//! (method, path, query, content type, body) and the results returned, in 1.3 and 2.0 where
//! the requests differ. Bodies follow the 1.3/2.0 OpenAPI descriptions (and kestra-sim's ee.rs).

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::stub::{Bed, body_json, body_text, header, json, line, lines};

/// Every (tool, variant) these tests exercise.
pub const EXERCISED: &[&str] = &[
    "generate_app",
    "generate_test",
    "get_instance_info[configuration]",
    "get_instance_info[license_info]",
    "invite_user",
    "manage_announcements[create]",
    "manage_announcements[delete]",
    "manage_announcements[list]",
    "manage_announcements[update]",
    "manage_apps[create]",
    "manage_apps[delete]",
    "manage_apps[disable]",
    "manage_apps[enable]",
    "manage_group[create]",
    "manage_group[delete]",
    "manage_group[get]",
    "manage_group[update]",
    "manage_invitations[delete]",
    "manage_invitations[get]",
    "manage_tests[create]",
    "manage_tests[delete]",
    "manage_tests[run]",
    "search_apps",
];

const APP_YAML: &str = "id: expense\nnamespace: company.team\ntype: io.kestra.plugin.ee.apps.Execution\ndisplayName: Expense form\nflowId: expense_flow\n";
const TEST_YAML: &str = "id: test_healthcheck\nnamespace: tutorial\nflowId: healthcheck\ntestCases:\n  - id: ok\n    type: io.kestra.core.tests.flow.UnitTest\n";

fn invitation(id: &str, email: &str) -> Value {
    json!({
        "id": id, "email": email, "tenantId": "main", "status": "PENDING", "superAdmin": false,
        "groups": [], "roles": [], "sentAt": "2026-05-01T10:00:00Z",
        "expiredAt": "2026-05-08T10:00:00Z", "link": format!("/ui/invitations/{id}")
    })
}

fn app(uid: &str, id: &str) -> Value {
    json!({
        "uid": uid, "id": id, "name": "Expense form", "type": "io.kestra.plugin.ee.apps.Execution",
        "namespace": "company.team", "flowId": "expense_flow", "tags": [], "enabled": true,
        "created": "2026-05-01T10:00:00Z", "updated": "2026-05-01T10:00:00Z"
    })
}

// ---- get_instance_info ----

#[tokio::test]
async fn get_instance_info_reads_configs_or_license_at_the_instance_root() {
    let mut bed = Bed::start().await;
    let config = json!({"uuid": "7d1c", "version": "1.3.2", "edition": "EE", "isAiEnabled": true});
    bed.answer("GET", "/api/v1/configs", json(config.clone())).await;
    let license = json!({"type": "ENTERPRISE", "expiry": "2027-01-01T00:00:00Z", "expired": false});
    bed.answer("GET", "/api/v1/license-info", json(license.clone()))
        .await;

    let got = bed.server.call_ok("get_instance_info", json!({})).await;
    assert_eq!(got, config);
    assert_eq!(line(&bed.only_request().await), "GET /api/v1/configs");

    let got = bed
        .server
        .call_ok("get_instance_info", json!({"info": "configuration"}))
        .await;
    assert_eq!(got, config);
    assert_eq!(line(&bed.only_request().await), "GET /api/v1/configs");

    let got = bed
        .server
        .call_ok("get_instance_info", json!({"info": "license_info"}))
        .await;
    assert_eq!(got, license);
    assert_eq!(line(&bed.only_request().await), "GET /api/v1/license-info");

    let err = bed
        .server
        .call_err("get_instance_info", json!({"info": "users"}))
        .await;
    assert!(err.starts_with("invalid arguments"), "{err}");
    assert!(bed.requests().await.is_empty());
}

// ---- manage_invitations ----

#[tokio::test]
async fn manage_invitations_gets_and_deletes_by_id() {
    let mut bed = Bed::start().await;
    let inv = invitation("inv1", "jane@example.com");
    bed.answer("GET", "/api/v1/main/invitations/inv1", json(inv.clone()))
        .await;
    bed.answer(
        "DELETE",
        "/api/v1/main/invitations/inv1",
        ResponseTemplate::new(204),
    )
    .await;

    let got = bed
        .server
        .call_ok("manage_invitations", json!({"action": "get", "id_": "inv1"}))
        .await;
    assert_eq!(got, inv);
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/invitations/inv1"
    );

    let got = bed
        .server
        .call_ok("manage_invitations", json!({"action": "delete", "id_": "inv1"}))
        .await;
    assert_eq!(got, json!({}));
    assert_eq!(
        line(&bed.only_request().await),
        "DELETE /api/v1/main/invitations/inv1"
    );

    for action in ["get", "delete"] {
        let err = bed
            .server
            .call_err("manage_invitations", json!({"action": action}))
            .await;
        assert_eq!(err, format!("invalid arguments: action '{action}' needs 'id_'"));
    }
    assert!(bed.requests().await.is_empty());
}

// ---- manage_announcements ----

#[tokio::test]
async fn manage_announcements_list_and_create_at_the_instance_root() {
    let mut bed = Bed::start().await;
    let banners = json!([{"id": "b1", "message": "Maintenance tonight", "type": "WARNING", "active": true}]);
    bed.answer("GET", "/api/v1/banners/search", json(banners.clone()))
        .await;
    let got = bed
        .server
        .call_ok("manage_announcements", json!({"action": "list"}))
        .await;
    assert_eq!(got, json!({"results": banners}));
    assert_eq!(line(&bed.only_request().await), "GET /api/v1/banners/search");

    let stored = json!({"id": "b2", "message": "Hello", "active": true});
    bed.answer("POST", "/api/v1/banners", json(stored.clone())).await;
    let got = bed
        .server
        .call_ok(
            "manage_announcements",
            json!({"action": "create", "message": "Hello"}),
        )
        .await;
    assert_eq!(got, stored);
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/banners");
    assert_eq!(header(&req, "content-type").as_deref(), Some("application/json"));
    assert_eq!(body_json(&req), json!({"message": "Hello", "active": true}));

    bed.server
        .call_ok(
            "manage_announcements",
            json!({"action": "create", "message": "Upgrade", "type": "INFO",
                   "startDate": "2026-06-01T00:00:00Z", "endDate": "2026-06-02T00:00:00Z",
                   "active": false, "tenantId": "main"}),
        )
        .await;
    assert_eq!(
        body_json(&bed.only_request().await),
        json!({"message": "Upgrade", "type": "INFO", "startDate": "2026-06-01T00:00:00Z",
               "endDate": "2026-06-02T00:00:00Z", "active": false, "tenantId": "main"})
    );

    let err = bed
        .server
        .call_err("manage_announcements", json!({"action": "create"}))
        .await;
    assert_eq!(err, "invalid arguments: action 'create' needs 'message'");
    let err = bed
        .server
        .call_err(
            "manage_announcements",
            json!({"action": "create", "message": "x", "type": "DEBUG"}),
        )
        .await;
    assert!(err.starts_with("invalid arguments"), "{err}");
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn manage_announcements_update_and_delete() {
    let mut bed = Bed::start().await;
    let full = json!({"id": "b1", "message": "Moved", "type": "ERROR",
                      "startDate": "2026-06-01T00:00:00Z", "endDate": "2026-06-02T00:00:00Z",
                      "active": true});
    bed.answer("PUT", "/api/v1/banners/b1", json(full.clone())).await;
    bed.answer("DELETE", "/api/v1/banners/b1", ResponseTemplate::new(204))
        .await;

    let err = bed
        .server
        .call_err(
            "manage_announcements",
            json!({"action": "update", "id_": "b1", "message": "Moved"}),
        )
        .await;
    assert_eq!(
        err,
        "invalid arguments: action 'update' needs 'type', 'startDate', 'endDate'"
    );
    assert!(bed.requests().await.is_empty());

    let got = bed
        .server
        .call_ok(
            "manage_announcements",
            json!({"action": "update", "id_": "b1", "message": "Moved", "type": "ERROR",
                   "startDate": "2026-06-01T00:00:00Z", "endDate": "2026-06-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(got, full);
    let req = bed.only_request().await;
    assert_eq!(line(&req), "PUT /api/v1/banners/b1");
    assert_eq!(body_json(&req), full);

    let got = bed
        .server
        .call_ok("manage_announcements", json!({"action": "delete", "id_": "b1"}))
        .await;
    assert_eq!(got, json!({}));
    assert_eq!(line(&bed.only_request().await), "DELETE /api/v1/banners/b1");
}

// ---- manage_tests ----

#[tokio::test]
async fn manage_tests_create_falls_back_to_update() {
    let mut bed = Bed::start().await;
    let suite = json!({"id": "test_healthcheck", "namespace": "tutorial", "flowId": "healthcheck",
                       "revision": 1, "disabled": false, "testCases": [{"id": "ok"}]});
    bed.answer("POST", "/api/v1/main/tests", json(suite.clone()))
        .await;
    let got = bed
        .server
        .call_ok(
            "manage_tests",
            json!({"action": "create", "yaml_source": TEST_YAML}),
        )
        .await;
    assert_eq!(got, suite);
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/main/tests");
    assert_eq!(
        header(&req, "content-type").as_deref(),
        Some("application/x-yaml")
    );
    assert_eq!(body_text(&req), TEST_YAML);

    for status in [409, 422] {
        bed.reset().await;
        bed.answer(
            "POST",
            "/api/v1/main/tests",
            ResponseTemplate::new(status).set_body_json(json!({"message": "Test suite id already exists"})),
        )
        .await;
        let updated = json!({"id": "test_healthcheck", "namespace": "tutorial", "revision": 2});
        bed.answer(
            "PUT",
            "/api/v1/main/tests/tutorial/test_healthcheck",
            json(updated.clone()),
        )
        .await;
        let got = bed
            .server
            .call_ok(
                "manage_tests",
                json!({"action": "create", "yaml_source": TEST_YAML}),
            )
            .await;
        assert_eq!(got, updated);
        let sent = bed.requests().await;
        assert_eq!(
            lines(&sent),
            vec![
                "POST /api/v1/main/tests",
                "PUT /api/v1/main/tests/tutorial/test_healthcheck"
            ]
        );
        assert_eq!(
            header(&sent[1], "content-type").as_deref(),
            Some("application/x-yaml")
        );
        assert_eq!(body_text(&sent[1]), TEST_YAML);
    }

    // Any other error is Kestra's.
    bed.reset().await;
    bed.answer(
        "POST",
        "/api/v1/main/tests",
        ResponseTemplate::new(400).set_body_json(json!({"message": "Invalid test suite"})),
    )
    .await;
    let err = bed
        .server
        .call_err(
            "manage_tests",
            json!({"action": "create", "yaml_source": TEST_YAML}),
        )
        .await;
    assert!(err.contains("400") && err.contains("Invalid test suite"), "{err}");
    assert_eq!(bed.requests().await.len(), 1);
}

#[tokio::test]
async fn manage_tests_checks_its_arguments_before_sending() {
    let mut bed = Bed::start().await;
    let err = bed
        .server
        .call_err("manage_tests", json!({"action": "create"}))
        .await;
    assert_eq!(err, "invalid arguments: action 'create' needs 'yaml_source'");
    for yaml in ["id: [unclosed", "namespace: tutorial\n", "- a\n"] {
        let err = bed
            .server
            .call_err("manage_tests", json!({"action": "create", "yaml_source": yaml}))
            .await;
        assert!(
            err.contains("invalid YAML") || err.contains("must be a mapping with `id` and `namespace`"),
            "{yaml:?}: {err}"
        );
    }
    for action in ["run", "delete"] {
        let err = bed
            .server
            .call_err("manage_tests", json!({"action": action, "namespace": "tutorial"}))
            .await;
        assert_eq!(err, format!("invalid arguments: action '{action}' needs 'id_'"));
    }
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn manage_tests_runs_and_deletes() {
    let mut bed = Bed::start().await;
    let run = json!({"id": "run1", "testSuiteId": "test_healthcheck", "namespace": "tutorial",
                     "flowId": "healthcheck", "state": "SUCCESS",
                     "startDate": "2026-05-01T10:00:00Z", "endDate": "2026-05-01T10:00:02Z",
                     "results": [{"testId": "ok", "state": "SUCCESS", "assertionResults": [], "errors": []}]});
    bed.answer(
        "POST",
        "/api/v1/main/tests/tutorial/test_healthcheck/run",
        json(run.clone()),
    )
    .await;
    bed.answer(
        "DELETE",
        "/api/v1/main/tests/tutorial/test_healthcheck",
        ResponseTemplate::new(204),
    )
    .await;

    let got = bed
        .server
        .call_ok(
            "manage_tests",
            json!({"action": "run", "namespace": "tutorial", "id_": "test_healthcheck"}),
        )
        .await;
    let mut with_url = run.clone();
    with_url["url"] = json!(format!(
        "{}/ui/main/tests/tutorial/test_healthcheck",
        bed.kestra.uri()
    ));
    assert_eq!(got, with_url);
    let req = bed.only_request().await;
    assert_eq!(
        line(&req),
        "POST /api/v1/main/tests/tutorial/test_healthcheck/run"
    );
    assert!(req.body.is_empty());

    let got = bed
        .server
        .call_ok(
            "manage_tests",
            json!({"action": "delete", "namespace": "tutorial", "id_": "test_healthcheck"}),
        )
        .await;
    assert_eq!(got, json!({}));
    assert_eq!(
        line(&bed.only_request().await),
        "DELETE /api/v1/main/tests/tutorial/test_healthcheck"
    );
}

// ---- manage_apps / search_apps ----

#[tokio::test]
async fn manage_apps_create_posts_the_yaml() {
    let mut bed = Bed::start().await;
    let created = app("company.team_expense", "expense");
    bed.answer("POST", "/api/v1/main/apps", json(created.clone()))
        .await;
    let got = bed
        .server
        .call_ok(
            "manage_apps",
            json!({"action": "create", "yaml_source": APP_YAML}),
        )
        .await;
    assert_eq!(got, created);
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/main/apps");
    assert_eq!(
        header(&req, "content-type").as_deref(),
        Some("application/x-yaml")
    );
    assert_eq!(body_text(&req), APP_YAML);

    let err = bed
        .server
        .call_err("manage_apps", json!({"action": "create"}))
        .await;
    assert_eq!(err, "invalid arguments: action 'create' needs 'yaml_source'");
    let err = bed
        .server
        .call_err(
            "manage_apps",
            json!({"action": "create", "yaml_source": "type: io.kestra.plugin.ee.apps.Execution\n"}),
        )
        .await;
    assert!(
        err.contains("must be a mapping with `id` and `namespace`"),
        "{err}"
    );
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn manage_apps_create_updates_an_existing_app_on_1_3() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    bed.answer(
        "POST",
        "/api/v1/main/apps",
        ResponseTemplate::new(422).set_body_json(json!({"message": "App id already exists"})),
    )
    .await;
    // The full-text search also matches another app: the exact id wins.
    let page = json!({"results": [app("company.team_expense_v2", "expense_v2"), app("company.team_expense", "expense")], "total": 2});
    bed.answer("GET", "/api/v1/main/apps/search", json(page)).await;
    let mut updated = app("company.team_expense", "expense");
    updated["updated"] = json!("2026-05-02T10:00:00Z");
    bed.answer(
        "PUT",
        "/api/v1/main/apps/company.team_expense",
        json(updated.clone()),
    )
    .await;
    let got = bed
        .server
        .call_ok(
            "manage_apps",
            json!({"action": "create", "yaml_source": APP_YAML}),
        )
        .await;
    assert_eq!(got, updated);
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec![
            "POST /api/v1/main/apps",
            "GET /api/v1/main/apps/search?flowId=expense_flow&namespace=company.team&page=1&q=expense&size=100",
            "PUT /api/v1/main/apps/company.team_expense"
        ]
    );
    assert_eq!(
        header(&sent[2], "content-type").as_deref(),
        Some("application/x-yaml")
    );
    assert_eq!(body_text(&sent[2]), APP_YAML);

    // An unchanged source: Kestra answers 304 and the app is as found.
    bed.reset().await;
    bed.answer("POST", "/api/v1/main/apps", ResponseTemplate::new(409))
        .await;
    let found = app("company.team_expense", "expense");
    bed.answer(
        "GET",
        "/api/v1/main/apps/search",
        json(json!({"results": [found.clone()], "total": 1})),
    )
    .await;
    bed.answer(
        "PUT",
        "/api/v1/main/apps/company.team_expense",
        ResponseTemplate::new(304),
    )
    .await;
    let got = bed
        .server
        .call_ok(
            "manage_apps",
            json!({"action": "create", "yaml_source": APP_YAML}),
        )
        .await;
    assert_eq!(got, found);
    assert_eq!(bed.requests().await.len(), 3);

    // No app with that exact id: a clear error, nothing overwritten.
    bed.reset().await;
    bed.answer("POST", "/api/v1/main/apps", ResponseTemplate::new(422))
        .await;
    bed.answer(
        "GET",
        "/api/v1/main/apps/search",
        json(json!({"results": [app("company.team_expense_v2", "expense_v2")], "total": 1})),
    )
    .await;
    let err = bed
        .server
        .call_err(
            "manage_apps",
            json!({"action": "create", "yaml_source": APP_YAML}),
        )
        .await;
    assert_eq!(
        err,
        "Could not find existing app with id 'expense' in namespace 'company.team'"
    );
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            "POST /api/v1/main/apps",
            "GET /api/v1/main/apps/search?flowId=expense_flow&namespace=company.team&page=1&q=expense&size=100"
        ]
    );
}

#[tokio::test]
async fn manage_apps_create_searches_with_filters_on_2_0() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "2.0")]).await;
    bed.answer("POST", "/api/v1/main/apps", ResponseTemplate::new(422))
        .await;
    bed.answer(
        "GET",
        "/api/v1/main/apps/search",
        json(json!({"results": [app("company.team_expense", "expense")], "total": 1})),
    )
    .await;
    let updated = app("company.team_expense", "expense");
    bed.answer(
        "PUT",
        "/api/v1/main/apps/company.team_expense",
        json(updated.clone()),
    )
    .await;
    let yaml = "id: expense\nnamespace: company.team\ntype: io.kestra.plugin.ee.apps.Execution\n";
    let got = bed
        .server
        .call_ok("manage_apps", json!({"action": "create", "yaml_source": yaml}))
        .await;
    assert_eq!(got, updated);
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            "POST /api/v1/main/apps",
            "GET /api/v1/main/apps/search?filters%5Bnamespace%5D%5BEQUALS%5D=company.team&filters%5Bq%5D%5BEQUALS%5D=expense&page=1&size=100",
            "PUT /api/v1/main/apps/company.team_expense"
        ]
    );
}

#[tokio::test]
async fn manage_apps_enable_disable_and_delete_by_uid() {
    let mut bed = Bed::start().await;
    for action in ["enable", "disable"] {
        let mut answer = app("company.team_expense", "expense");
        answer["enabled"] = json!(action == "enable");
        let at = format!("/api/v1/main/apps/company.team_expense/{action}");
        bed.answer("POST", &at, json(answer.clone())).await;
        let got = bed
            .server
            .call_ok(
                "manage_apps",
                json!({"action": action, "uid": "company.team_expense"}),
            )
            .await;
        assert_eq!(got, answer);
        let req = bed.only_request().await;
        assert_eq!(line(&req), format!("POST {at}"));
        assert!(req.body.is_empty());
    }
    bed.answer(
        "DELETE",
        "/api/v1/main/apps/company.team_expense",
        ResponseTemplate::new(204),
    )
    .await;
    let got = bed
        .server
        .call_ok(
            "manage_apps",
            json!({"action": "delete", "uid": "company.team_expense"}),
        )
        .await;
    assert_eq!(got, json!({}));
    assert_eq!(
        line(&bed.only_request().await),
        "DELETE /api/v1/main/apps/company.team_expense"
    );
    for action in ["enable", "disable", "delete"] {
        let err = bed
            .server
            .call_err("manage_apps", json!({"action": action}))
            .await;
        assert_eq!(err, format!("invalid arguments: action '{action}' needs 'uid'"));
    }
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn search_apps_passes_criteria_as_parameters_or_filters() {
    let page = json!({"results": [app("company.team_expense", "expense")], "total": 1});

    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    bed.answer("GET", "/api/v1/main/apps/search", json(page.clone()))
        .await;
    let got = bed.server.call_ok("search_apps", json!({})).await;
    assert_eq!(got, page);
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/apps/search?page=1&size=10"
    );
    bed.server
        .call_ok(
            "search_apps",
            json!({"page": 2, "size": 5, "sort": ["name:asc"], "tags": ["finance", "hr"],
                   "q": "expense", "namespace": "company.team", "flowId": "expense_flow"}),
        )
        .await;
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/apps/search?flowId=expense_flow&namespace=company.team&page=2&q=expense&size=5&sort=name%3Aasc&tags=finance&tags=hr"
    );

    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "2.0")]).await;
    bed.answer("GET", "/api/v1/main/apps/search", json(page.clone()))
        .await;
    let got = bed
        .server
        .call_ok(
            "search_apps",
            json!({"tags": ["finance", "hr"], "q": "expense", "namespace": "company.team",
                   "flowId": "expense_flow", "sort": ["name:asc"]}),
        )
        .await;
    assert_eq!(got, page);
    assert_eq!(
        line(&bed.only_request().await),
        "GET /api/v1/main/apps/search?filters%5BflowId%5D%5BEQUALS%5D=expense_flow&filters%5Bnamespace%5D%5BEQUALS%5D=company.team&filters%5Bq%5D%5BEQUALS%5D=expense&filters%5Btags%5D%5BIN%5D=finance%2Chr&page=1&size=10&sort=name%3Aasc"
    );

    let err = bed.server.call_err("search_apps", json!({"page": 0})).await;
    assert!(err.starts_with("invalid arguments"), "{err}");
    assert!(bed.requests().await.is_empty());
}

// ---- manage_group ----

#[tokio::test]
async fn manage_group_create_posts_name_and_description() {
    let mut bed = Bed::start().await;
    let group = json!({"id": "grp1", "name": "data-team", "description": ""});
    bed.answer("POST", "/api/v1/main/groups", json(group.clone()))
        .await;
    let got = bed
        .server
        .call_ok(
            "manage_group",
            json!({"action": "create", "name": "data-team", "role": "viewer"}),
        )
        .await;
    assert_eq!(got, group);
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/main/groups");
    assert_eq!(body_json(&req), json!({"name": "data-team", "description": ""}));

    let err = bed
        .server
        .call_err("manage_group", json!({"action": "create"}))
        .await;
    assert_eq!(err, "invalid arguments: action 'create' needs 'name'");
    let err = bed
        .server
        .call_err(
            "manage_group",
            json!({"action": "create", "name": "x", "role": "owner"}),
        )
        .await;
    assert!(err.starts_with("invalid arguments"), "{err}");
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn manage_group_create_finds_an_existing_group() {
    // 1.3: the search takes `q`; with a description the group is updated.
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    bed.answer(
        "POST",
        "/api/v1/main/groups",
        ResponseTemplate::new(422).set_body_json(json!({"message": "Group name already exists"})),
    )
    .await;
    let page = json!({"results": [{"id": "grp0", "name": "data-team-2"}, {"id": "grp1", "name": "data-team"}], "total": 2});
    bed.answer("GET", "/api/v1/main/groups/search", json(page.clone()))
        .await;
    let updated = json!({"id": "grp1", "name": "data-team", "description": "Data engineers"});
    bed.answer("PUT", "/api/v1/main/groups/grp1", json(updated.clone()))
        .await;
    let got = bed
        .server
        .call_ok(
            "manage_group",
            json!({"action": "create", "name": "data-team", "description": "Data engineers"}),
        )
        .await;
    assert_eq!(got, updated);
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec![
            "POST /api/v1/main/groups",
            "GET /api/v1/main/groups/search?page=1&q=data-team&size=100",
            "PUT /api/v1/main/groups/grp1"
        ]
    );
    assert_eq!(
        body_json(&sent[0]),
        json!({"name": "data-team", "description": "Data engineers"})
    );
    assert_eq!(
        body_json(&sent[2]),
        json!({"name": "data-team", "description": "Data engineers"})
    );

    // Without a description the existing group is returned as found.
    let got = bed
        .server
        .call_ok("manage_group", json!({"action": "create", "name": "data-team"}))
        .await;
    assert_eq!(got, json!({"id": "grp1", "name": "data-team"}));
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            "POST /api/v1/main/groups",
            "GET /api/v1/main/groups/search?page=1&q=data-team&size=100"
        ]
    );

    // No group with that exact name.
    let err = bed
        .server
        .call_err("manage_group", json!({"action": "create", "name": "data"}))
        .await;
    assert_eq!(err, "Group 'data' not found after 422 error");

    // 2.0: the search takes a filter.
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "2.0")]).await;
    bed.answer("POST", "/api/v1/main/groups", ResponseTemplate::new(409))
        .await;
    bed.answer("GET", "/api/v1/main/groups/search", json(page)).await;
    let got = bed
        .server
        .call_ok("manage_group", json!({"action": "create", "name": "data-team"}))
        .await;
    assert_eq!(got, json!({"id": "grp1", "name": "data-team"}));
    assert_eq!(
        lines(&bed.requests().await),
        vec![
            "POST /api/v1/main/groups",
            "GET /api/v1/main/groups/search?filters%5Bq%5D%5BEQUALS%5D=data-team&page=1&size=100"
        ]
    );
}

#[tokio::test]
async fn manage_group_get_update_and_delete() {
    let mut bed = Bed::start().await;
    let group = json!({"id": "grp1", "name": "data-team", "description": "Data engineers"});
    bed.answer("GET", "/api/v1/main/groups/grp1", json(group.clone()))
        .await;
    bed.answer("PUT", "/api/v1/main/groups/grp1", json(group.clone()))
        .await;
    bed.answer("DELETE", "/api/v1/main/groups/grp1", ResponseTemplate::new(204))
        .await;

    let got = bed
        .server
        .call_ok("manage_group", json!({"action": "get", "id_": "grp1"}))
        .await;
    assert_eq!(got, group);
    assert_eq!(line(&bed.only_request().await), "GET /api/v1/main/groups/grp1");

    let got = bed
        .server
        .call_ok(
            "manage_group",
            json!({"action": "update", "id_": "grp1", "name": "data-team", "description": "Data engineers"}),
        )
        .await;
    assert_eq!(got, group);
    let req = bed.only_request().await;
    assert_eq!(line(&req), "PUT /api/v1/main/groups/grp1");
    assert_eq!(body_json(&req), group);

    let got = bed
        .server
        .call_ok("manage_group", json!({"action": "delete", "id_": "grp1"}))
        .await;
    assert_eq!(got, json!({}));
    assert_eq!(line(&bed.only_request().await), "DELETE /api/v1/main/groups/grp1");

    let err = bed
        .server
        .call_err(
            "manage_group",
            json!({"action": "update", "id_": "grp1", "name": "data-team"}),
        )
        .await;
    assert_eq!(err, "invalid arguments: action 'update' needs 'description'");
    for action in ["get", "delete"] {
        let err = bed
            .server
            .call_err("manage_group", json!({"action": action}))
            .await;
        assert_eq!(err, format!("invalid arguments: action '{action}' needs 'id_'"));
    }
    assert!(bed.requests().await.is_empty());
}

// ---- invite_user ----

/// `@` is percent-encoded in a path segment; Kestra decodes it.
const BY_EMAIL: &str = "/api/v1/main/invitations/email/jane%40example.com";

#[tokio::test]
async fn invite_user_returns_an_existing_invitation() {
    let mut bed = Bed::start().await;
    let inv = invitation("inv1", "jane@example.com");
    bed.answer("GET", BY_EMAIL, json(json!([inv.clone()]))).await;
    let got = bed
        .server
        .call_ok(
            "invite_user",
            json!({"email": "jane@example.com", "group_names": ["data-team"], "role": "admin"}),
        )
        .await;
    assert_eq!(got, inv);
    assert_eq!(line(&bed.only_request().await), format!("GET {BY_EMAIL}"));

    // Some versions nest the list.
    bed.reset().await;
    bed.answer("GET", BY_EMAIL, json(json!([[inv.clone()]]))).await;
    let got = bed
        .server
        .call_ok("invite_user", json!({"email": "jane@example.com"}))
        .await;
    assert_eq!(got, inv);
    assert_eq!(bed.requests().await.len(), 1);

    for email in ["jane", "jane@example", "a/b@example.com", ""] {
        let err = bed.server.call_err("invite_user", json!({"email": email})).await;
        assert!(err.starts_with("invalid arguments"), "{email}: {err}");
    }
    let err = bed
        .server
        .call_err(
            "invite_user",
            json!({"email": "jane@example.com", "role": "owner"}),
        )
        .await;
    assert!(err.starts_with("invalid arguments"), "{err}");
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn invite_user_maps_group_names_and_posts_the_invitation() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    bed.answer("GET", BY_EMAIL, json(json!([]))).await;
    bed.answer(
        "GET",
        "/api/v1/main/groups/search",
        json(json!({"results": [{"id": "grp0", "name": "data-team-2"}, {"id": "grp1", "name": "data-team"}, {"id": "grp2", "name": "ops"}], "total": 3})),
    )
    .await;
    let inv = invitation("inv9", "jane@example.com");
    bed.answer("POST", "/api/v1/main/invitations", json(inv.clone()))
        .await;
    let got = bed
        .server
        .call_ok(
            "invite_user",
            json!({"email": "jane@example.com", "group_names": ["data-team", "ops"], "role": "viewer"}),
        )
        .await;
    assert_eq!(got, inv);
    let sent = bed.requests().await;
    let summary: Vec<String> = sent.iter().map(line).collect();
    assert_eq!(summary.len(), 4, "{summary:?}");
    assert_eq!(summary[0], format!("GET {BY_EMAIL}"));
    assert_eq!(
        summary[1..],
        [
            "GET /api/v1/main/groups/search?page=1&q=data-team&size=100",
            "GET /api/v1/main/groups/search?page=1&q=ops&size=100",
            "POST /api/v1/main/invitations"
        ]
    );
    assert_eq!(
        header(&sent[3], "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        body_json(&sent[3]),
        json!({"email": "jane@example.com", "userType": "STANDARD",
               "groupIds": ["grp1", "grp2"], "groups": ["grp1", "grp2"]})
    );

    // An unknown group name: an error, and no invitation is sent.
    let err = bed
        .server
        .call_err(
            "invite_user",
            json!({"email": "jane@example.com", "group_names": ["data-team", "finance"]}),
        )
        .await;
    assert_eq!(err.trim(), "Group 'finance' not found.");
    let summary: Vec<String> = bed.requests().await.iter().map(line).collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert!(!summary.iter().any(|l| l.starts_with("POST")));

    // 2.0: the group search takes a filter; no group names, no search.
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "2.0")]).await;
    bed.answer("GET", BY_EMAIL, ResponseTemplate::new(404)).await;
    bed.answer(
        "GET",
        "/api/v1/main/groups/search",
        json(json!({"results": [{"id": "grp1", "name": "data-team"}], "total": 1})),
    )
    .await;
    bed.answer("POST", "/api/v1/main/invitations", json(inv.clone()))
        .await;
    bed.server
        .call_ok(
            "invite_user",
            json!({"email": "jane@example.com", "group_names": ["data-team"]}),
        )
        .await;
    let sent = bed.requests().await;
    assert_eq!(
        line(&sent[1]),
        "GET /api/v1/main/groups/search?filters%5Bq%5D%5BEQUALS%5D=data-team&page=1&size=100"
    );
    assert_eq!(body_json(&sent[2])["groupIds"], json!(["grp1"]));
    bed.server
        .call_ok("invite_user", json!({"email": "jane@example.com"}))
        .await;
    let sent = bed.requests().await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        body_json(&sent[1]),
        json!({"email": "jane@example.com", "userType": "STANDARD", "groupIds": [], "groups": []})
    );
}

#[tokio::test]
async fn invite_user_reads_the_invitation_back_after_an_empty_or_failed_answer() {
    let mut bed = Bed::start().await;
    let inv = invitation("inv9", "jane@example.com");

    // 201 without a body, and the invitation readable afterwards.
    bed.answer("GET", BY_EMAIL, json(json!([]))).await;
    bed.answer("POST", "/api/v1/main/invitations", ResponseTemplate::new(201))
        .await;
    let got = bed
        .server
        .call_ok("invite_user", json!({"email": "jane@example.com"}))
        .await;
    assert_eq!(got, json!({"email": "jane@example.com", "status": "CREATED"}));
    let summary: Vec<String> = bed.requests().await.iter().map(line).collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert_eq!(summary[1], "POST /api/v1/main/invitations");
    assert_eq!(summary[2], format!("GET {BY_EMAIL}"));

    // A 500 (an SMTP failure after the invitation was stored): the first read finds nothing,
    // the one after the POST finds the invitation.
    bed.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(BY_EMAIL))
        .respond_with(json(json!([])))
        .up_to_n_times(1)
        .mount(&bed.kestra)
        .await;
    bed.answer("GET", BY_EMAIL, json(json!([inv.clone()]))).await;
    bed.answer(
        "POST",
        "/api/v1/main/invitations",
        ResponseTemplate::new(500).set_body_json(json!({"message": "Mail server unreachable"})),
    )
    .await;
    let got = bed
        .server
        .call_ok("invite_user", json!({"email": "jane@example.com"}))
        .await;
    assert_eq!(got, inv);
    assert_eq!(bed.requests().await.len(), 3);

    // A 409 and still no invitation: an error carrying the status.
    bed.reset().await;
    bed.answer("GET", BY_EMAIL, json(json!([]))).await;
    bed.answer(
        "POST",
        "/api/v1/main/invitations",
        ResponseTemplate::new(409)
            .set_body_json(json!({"message": "Illegal state: the user already has access"})),
    )
    .await;
    let err = bed
        .server
        .call_err("invite_user", json!({"email": "jane@example.com"}))
        .await;
    assert_eq!(
        err,
        "Kestra answered 409 to POST /invitations and no invitation for jane@example.com exists"
    );
    assert_eq!(bed.requests().await.len(), 3);
}

// ---- generate_app / generate_test ----

fn assert_prompt(body: &Value, extra: &[(&str, &str)], prompt: &str) {
    let obj = body.as_object().expect("object");
    let id = obj["conversationId"].as_str().expect("conversationId");
    assert_eq!(id.len(), 36, "uuid: {id}");
    assert_eq!(id.matches('-').count(), 4, "uuid: {id}");
    let mut want = serde_json::Map::new();
    want.insert("conversationId".into(), json!(id));
    want.insert("userPrompt".into(), json!(prompt));
    for (k, v) in extra {
        want.insert((*k).into(), json!(v));
    }
    assert_eq!(obj, &want);
}

#[tokio::test]
async fn generate_app_returns_the_yaml_or_creates_the_app() {
    let mut bed = Bed::start().await;
    bed.answer(
        "POST",
        "/api/v1/main/ai/generate/app",
        ResponseTemplate::new(200).set_body_raw(APP_YAML, "application/yaml"),
    )
    .await;
    let got = bed
        .server
        .call_ok("generate_app", json!({"user_prompt": "An expense form"}))
        .await;
    assert_eq!(got, json!({"result": APP_YAML}));
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/main/ai/generate/app");
    assert_eq!(header(&req, "content-type").as_deref(), Some("application/json"));
    assert_prompt(&body_json(&req), &[], "An expense form");

    let created = app("company.team_expense", "expense");
    bed.answer("POST", "/api/v1/main/apps", json(created.clone()))
        .await;
    let got = bed
        .server
        .call_ok(
            "generate_app",
            json!({"user_prompt": "Add a field", "app_yaml": "id: old\n", "provider_id": "openai",
                   "auto_create": true}),
        )
        .await;
    assert_eq!(got, created);
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec!["POST /api/v1/main/ai/generate/app", "POST /api/v1/main/apps"]
    );
    assert_prompt(
        &body_json(&sent[0]),
        &[("yaml", "id: old\n"), ("providerId", "openai")],
        "Add a field",
    );
    assert_eq!(
        header(&sent[1], "content-type").as_deref(),
        Some("application/x-yaml")
    );
    assert_eq!(body_text(&sent[1]), APP_YAML);

    let err = bed.server.call_err("generate_app", json!({})).await;
    assert!(err.starts_with("invalid arguments"), "{err}");
    assert!(bed.requests().await.is_empty());
}

#[tokio::test]
async fn generate_app_auto_create_updates_an_existing_app() {
    let mut bed = Bed::with_env(&[("KESTRA_VERSION", "1.3")]).await;
    bed.answer(
        "POST",
        "/api/v1/main/ai/generate/app",
        ResponseTemplate::new(200).set_body_raw(APP_YAML, "application/yaml"),
    )
    .await;
    bed.answer("POST", "/api/v1/main/apps", ResponseTemplate::new(422))
        .await;
    bed.answer(
        "GET",
        "/api/v1/main/apps/search",
        json(json!({"results": [app("company.team_expense", "expense")], "total": 1})),
    )
    .await;
    let updated = app("company.team_expense", "expense");
    bed.answer(
        "PUT",
        "/api/v1/main/apps/company.team_expense",
        json(updated.clone()),
    )
    .await;
    let got = bed
        .server
        .call_ok(
            "generate_app",
            json!({"user_prompt": "An expense form", "auto_create": true}),
        )
        .await;
    assert_eq!(got, updated);
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec![
            "POST /api/v1/main/ai/generate/app",
            "POST /api/v1/main/apps",
            "GET /api/v1/main/apps/search?flowId=expense_flow&namespace=company.team&page=1&q=expense&size=100",
            "PUT /api/v1/main/apps/company.team_expense"
        ]
    );
    assert_eq!(body_text(&sent[3]), APP_YAML);
}

#[tokio::test]
async fn generate_test_returns_the_yaml_or_creates_the_suite() {
    let mut bed = Bed::start().await;
    bed.answer(
        "POST",
        "/api/v1/main/ai/generate/test",
        ResponseTemplate::new(200).set_body_raw(TEST_YAML, "application/yaml"),
    )
    .await;
    let got = bed
        .server
        .call_ok(
            "generate_test",
            json!({"user_prompt": "Test the healthcheck", "provider_id": "gemini"}),
        )
        .await;
    assert_eq!(got, json!({"result": TEST_YAML}));
    let req = bed.only_request().await;
    assert_eq!(line(&req), "POST /api/v1/main/ai/generate/test");
    assert_prompt(
        &body_json(&req),
        &[("providerId", "gemini")],
        "Test the healthcheck",
    );

    // auto_create: created, or updated when the suite exists.
    bed.answer("POST", "/api/v1/main/tests", ResponseTemplate::new(409))
        .await;
    let updated = json!({"id": "test_healthcheck", "namespace": "tutorial", "revision": 3});
    bed.answer(
        "PUT",
        "/api/v1/main/tests/tutorial/test_healthcheck",
        json(updated.clone()),
    )
    .await;
    let got = bed
        .server
        .call_ok(
            "generate_test",
            json!({"user_prompt": "Test the healthcheck", "test_yaml": TEST_YAML, "auto_create": true}),
        )
        .await;
    assert_eq!(got, updated);
    let sent = bed.requests().await;
    assert_eq!(
        lines(&sent),
        vec![
            "POST /api/v1/main/ai/generate/test",
            "POST /api/v1/main/tests",
            "PUT /api/v1/main/tests/tutorial/test_healthcheck"
        ]
    );
    assert_prompt(
        &body_json(&sent[0]),
        &[("yaml", TEST_YAML)],
        "Test the healthcheck",
    );
    assert_eq!(body_text(&sent[1]), TEST_YAML);
    assert_eq!(body_text(&sent[2]), TEST_YAML);

    // A generated answer that is not a suite cannot be created.
    bed.reset().await;
    bed.answer(
        "POST",
        "/api/v1/main/ai/generate/test",
        ResponseTemplate::new(200).set_body_raw("I cannot help with that.", "application/yaml"),
    )
    .await;
    let err = bed
        .server
        .call_err("generate_test", json!({"user_prompt": "?", "auto_create": true}))
        .await;
    assert!(err.contains("not a mapping with `id` and `namespace`"), "{err}");
    assert_eq!(bed.requests().await.len(), 1);
}
