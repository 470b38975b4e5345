//! Enterprise objects used by kestra-mcp's `ee` tools: groups, invitations, apps, test suites,
//! bindings, banners, instance configuration, license info, AI generation. Shapes follow the
//! 1.3/2.0 OpenAPI descriptions (IAMGroupController, IAMInvitationController, AppController,
//! TestSuiteController, BannerController, MiscController); the recorded 0.23 server was OSS and
//! answered 404 to all of these, so behaviour here is a GUESS from the descriptions: duplicate
//! names/ids answer 422 like flows do, deletes answer what each description declares (204, or 200
//! with no body or with the deleted object), unknown ids 404 `Not Found`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use crate::KestraVersion;
use crate::http::{Req, empty, json_response, ok_json, paged, paginate, text};
use crate::state::{Core, Tenant, World, fmt_time};

#[derive(Debug, Default)]
pub struct EeState {
    pub namespaces: BTreeMap<String, Value>,
    pub groups: BTreeMap<String, Value>,
    pub invitations: BTreeMap<String, Value>,
    pub apps: BTreeMap<String, Value>,
    pub tests: BTreeMap<(String, String), Value>,
    pub bindings: Vec<Value>,
    pub dashboards: BTreeMap<String, Value>,
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn search_paged(req: &Req, items: Vec<Value>, fields: &[&str]) -> Response {
    let (page, size) = match req.paging("search") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut q: Vec<String> = req.q_all("q").into_iter().map(str::to_lowercase).collect();
    for (f, _op, v) in req.filters() {
        if f == "q" {
            q.push(v.to_lowercase());
        }
    }
    let items: Vec<Value> = items
        .into_iter()
        .filter(|it| {
            q.iter().all(|q| {
                fields
                    .iter()
                    .any(|f| s(it, f).to_lowercase().contains(q.as_str()))
            }) && ["namespace", "flowId"]
                .iter()
                .all(|f| req.q(f).is_none_or(|v| s(it, f) == v))
        })
        .collect();
    let total = items.len();
    ok_json(&paged(paginate(&items, page, size), total))
}

// ---- groups ----

pub fn create_group(req: &Req, core: &Core, t: &mut Tenant) -> Response {
    let body = match req.json_body("group") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = s(&body, "name").to_string();
    if name.is_empty() {
        return req.validation_error("group.name", "must not be blank");
    }
    if t.ee.groups.values().any(|g| s(g, "name") == name) {
        return req.validation_error("group.name", "Group name already exists");
    }
    let id = core.new_id();
    let g = json!({"id": id, "name": name, "description": body.get("description").cloned().unwrap_or(Value::Null)});
    t.ee.groups.insert(id, g.clone());
    ok_json(&g)
}

pub fn search_groups(req: &Req, t: &Tenant) -> Response {
    search_paged(req, t.ee.groups.values().cloned().collect(), &["name", "id"])
}

pub fn get_group(req: &Req, t: &Tenant) -> Response {
    t.ee.groups
        .get(req.param("id"))
        .map_or_else(|| req.not_found(), ok_json)
}

pub fn update_group(req: &Req, t: &mut Tenant) -> Response {
    let body = match req.json_body("group") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(g) = t.ee.groups.get_mut(req.param("id")) else {
        return req.not_found();
    };
    if let (Value::Object(m), Value::Object(b)) = (&mut *g, &body) {
        for (k, v) in b {
            if k != "id" {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    ok_json(g)
}

pub fn delete_group(req: &Req, t: &mut Tenant) -> Response {
    // The 1.3 and 2.0 descriptions declare 200 (and 404) for deleteGroup, not 204.
    match t.ee.groups.remove(req.param("id")) {
        Some(_) => empty(StatusCode::OK),
        None => req.not_found(),
    }
}

// ---- invitations ----

pub fn create_invitation(req: &Req, core: &Core, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let body = match req.json_body("invitation") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let email = s(&body, "email").to_string();
    if !email.contains('@') {
        return req.validation_error("invitation.email", "must be a well-formed email address");
    }
    if t.ee
        .invitations
        .values()
        .any(|i| s(i, "email") == email && s(i, "status") == "PENDING")
    {
        return req.error(
            StatusCode::CONFLICT,
            "Illegal state: An invitation already exists for this email",
        );
    }
    let id = core.new_id();
    let mut inv = Map::new();
    inv.insert("id".into(), json!(id));
    inv.insert("email".into(), json!(email));
    inv.insert("tenantId".into(), json!(req.tenant));
    inv.insert("status".into(), json!("PENDING"));
    inv.insert(
        "userType".into(),
        body.get("userType").cloned().unwrap_or(json!("STANDARD")),
    );
    inv.insert(
        "groupIds".into(),
        body.get("groupIds").cloned().unwrap_or(json!([])),
    );
    inv.insert(
        "bindings".into(),
        body.get("bindings").cloned().unwrap_or(json!([])),
    );
    inv.insert("superAdmin".into(), json!(false));
    inv.insert("sentAt".into(), json!(fmt_time(&now)));
    inv.insert("expiredAt".into(), json!(fmt_time(&(now + TimeDelta::days(7)))));
    inv.insert("link".into(), json!(format!("/ui/invitations/{id}")));
    let v = Value::Object(inv);
    t.ee.invitations.insert(id, v.clone());
    // The descriptions declare 201 (or 204, 403, 409) for createInvitation, not 200.
    json_response(StatusCode::CREATED, &v)
}

pub fn search_invitations(req: &Req, t: &Tenant) -> Response {
    search_paged(req, t.ee.invitations.values().cloned().collect(), &["email"])
}

pub fn invitations_by_email(req: &Req, t: &Tenant) -> Response {
    let email = req.param("email");
    let out: Vec<Value> =
        t.ee.invitations
            .values()
            .filter(|i| s(i, "email") == email)
            .cloned()
            .collect();
    ok_json(&Value::Array(out))
}

pub fn get_invitation(req: &Req, t: &Tenant) -> Response {
    t.ee.invitations
        .get(req.param("id"))
        .map_or_else(|| req.not_found(), ok_json)
}

pub fn delete_invitation(req: &Req, t: &mut Tenant) -> Response {
    match t.ee.invitations.remove(req.param("id")) {
        Some(_) => empty(StatusCode::NO_CONTENT),
        None => req.not_found(),
    }
}

// ---- apps (YAML) ----

fn parse_yaml(req: &Req) -> Result<Map<String, Value>, Response> {
    match yaml_serde::from_str::<Value>(&req.body_str()) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(req.validation_error_raw("Illegal source: not a mapping", "source")),
        Err(e) => Err(req.validation_error_raw(&format!("Illegal source: {e}"), "source")),
    }
}

fn app_json(def: &Map<String, Value>, source: &str, enabled: bool, now: DateTime<Utc>) -> Value {
    let ns = def.get("namespace").and_then(Value::as_str).unwrap_or("");
    let id = def.get("id").and_then(Value::as_str).unwrap_or("");
    json!({
        "uid": format!("{ns}_{id}"), "id": id, "namespace": ns,
        "name": def.get("displayName").cloned().unwrap_or(json!(id)),
        "type": def.get("type"), "flowId": def.get("source").and_then(|s| s.get("flowId")).or_else(|| def.get("flowId")),
        "tags": def.get("tags").cloned().unwrap_or(json!([])),
        "enabled": enabled, "created": fmt_time(&now), "updated": fmt_time(&now), "source": source,
    })
}

pub fn create_app(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let def = match parse_yaml(req) {
        Ok(d) => d,
        Err(r) => return r,
    };
    if def.get("id").and_then(Value::as_str).is_none()
        || def.get("namespace").and_then(Value::as_str).is_none()
    {
        return req.validation_error("app.id", "must not be null");
    }
    let v = app_json(
        &def,
        &req.body_str(),
        !def.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        now,
    );
    let uid = s(&v, "uid").to_string();
    if t.ee.apps.contains_key(&uid) {
        return req.validation_error("app.id", "App id already exists");
    }
    t.ee.apps.insert(uid, v.clone());
    ok_json(&v)
}

pub fn search_apps(req: &Req, t: &Tenant) -> Response {
    search_paged(
        req,
        t.ee.apps.values().cloned().collect(),
        &["id", "name", "namespace"],
    )
}

pub fn get_app(req: &Req, t: &Tenant) -> Response {
    t.ee.apps
        .get(req.param("uid"))
        .map_or_else(|| req.not_found(), ok_json)
}

pub fn update_app(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let def = match parse_yaml(req) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some(old) = t.ee.apps.get(req.param("uid")).cloned() else {
        return req.not_found();
    };
    if s(&old, "source") == req.body_str() {
        // GUESS: an unchanged source answers 304 (the Python server handles it that way).
        return empty(StatusCode::NOT_MODIFIED);
    }
    let enabled = old.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let v = app_json(&def, &req.body_str(), enabled, now);
    t.ee.apps.insert(req.param("uid").to_string(), v.clone());
    ok_json(&v)
}

pub fn delete_app(req: &Req, t: &mut Tenant) -> Response {
    // The descriptions declare 200 with a JSON object for deleteApp. GUESS: the object is the
    // deleted app (no EE server was recorded).
    match t.ee.apps.remove(req.param("uid")) {
        Some(app) => ok_json(&app),
        None => req.not_found(),
    }
}

pub fn set_app_enabled(req: &Req, t: &mut Tenant, enabled: bool) -> Response {
    let Some(a) = t.ee.apps.get_mut(req.param("uid")) else {
        return req.not_found();
    };
    if let Value::Object(m) = a {
        m.insert("enabled".into(), json!(enabled));
    }
    ok_json(a)
}

// ---- test suites (YAML) ----

fn test_json(def: &Map<String, Value>, source: &str, revision: u32) -> Value {
    let mut m = def.clone();
    m.insert(
        "disabled".into(),
        json!(def.get("disabled").and_then(Value::as_bool).unwrap_or(false)),
    );
    m.insert("source".into(), json!(source));
    m.insert("revision".into(), json!(revision));
    m.entry("testCases").or_insert(json!([]));
    Value::Object(m)
}

pub fn create_test(req: &Req, t: &mut Tenant) -> Response {
    let def = match parse_yaml(req) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (Some(id), Some(ns)) = (
        def.get("id").and_then(Value::as_str),
        def.get("namespace").and_then(Value::as_str),
    ) else {
        return req.validation_error("testSuite.id", "must not be null");
    };
    let k = (ns.to_string(), id.to_string());
    if t.ee.tests.contains_key(&k) {
        return req.validation_error("testSuite.id", "Test suite id already exists");
    }
    let v = test_json(&def, &req.body_str(), 1);
    t.ee.tests.insert(k, v.clone());
    ok_json(&v)
}

pub fn search_tests(req: &Req, t: &Tenant) -> Response {
    search_paged(
        req,
        t.ee.tests.values().cloned().collect(),
        &["id", "namespace", "flowId"],
    )
}

fn test_key(req: &Req) -> (String, String) {
    (req.param("namespace").to_string(), req.param("id").to_string())
}

pub fn get_test(req: &Req, t: &Tenant) -> Response {
    t.ee.tests
        .get(&test_key(req))
        .map_or_else(|| req.not_found(), ok_json)
}

pub fn update_test(req: &Req, t: &mut Tenant) -> Response {
    let def = match parse_yaml(req) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let k = test_key(req);
    let Some(old) = t.ee.tests.get(&k) else {
        return req.not_found();
    };
    if def.get("id").and_then(Value::as_str) != Some(k.1.as_str()) {
        return req.validation_error("testSuite.id", "Illegal test suite id update");
    }
    let rev = old.get("revision").and_then(Value::as_u64).unwrap_or(1) as u32 + 1;
    let v = test_json(&def, &req.body_str(), rev);
    t.ee.tests.insert(k, v.clone());
    ok_json(&v)
}

pub fn delete_test(req: &Req, t: &mut Tenant) -> Response {
    // The descriptions declare 200 with a JSON object for deleteTestSuite (as for deleteApp).
    // GUESS: the object is the deleted suite (no EE server was recorded).
    match t.ee.tests.remove(&test_key(req)) {
        Some(suite) => ok_json(&suite),
        None => req.not_found(),
    }
}

/// Running a test suite: a canned all-green result (GUESS: no assertion is evaluated).
pub fn run_test(req: &Req, core: &Core, t: &Tenant, now: DateTime<Utc>) -> Response {
    let Some(suite) = t.ee.tests.get(&test_key(req)) else {
        return req.not_found();
    };
    let results: Vec<Value> = suite
        .get("testCases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        // core/src/main/java/io/kestra/core/test/flow/UnitTestResult.java: testId, testType (the
        // case's `type`), executionId, url, state, assertionResults, errors, fixtures. GUESS:
        // every case succeeds without running anything.
        .map(|c| {
            json!({"testId": s(c, "id"), "testType": s(c, "type"), "state": "SUCCESS",
                   "assertionResults": [], "errors": []})
        })
        .collect();
    ok_json(&json!({
        "id": core.new_id(), "testSuiteId": s(suite, "id"), "namespace": s(suite, "namespace"),
        "flowId": s(suite, "flowId"), "state": "SUCCESS", "startDate": fmt_time(&now),
        "endDate": fmt_time(&now), "results": results,
    }))
}

// ---- bindings, dashboards, AI ----

pub fn create_binding(req: &Req, core: &Core, t: &mut Tenant) -> Response {
    let mut body = match req.json_body("binding") {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Value::Object(m) = &mut body {
        m.insert("id".into(), json!(core.new_id()));
    }
    t.ee.bindings.push(body.clone());
    ok_json(&body)
}

pub fn search_bindings(req: &Req, t: &Tenant) -> Response {
    search_paged(req, t.ee.bindings.clone(), &["externalId", "roleId"])
}

/// `POST /dashboards`: the stored Dashboard (recorded dashboard-create-with-id of 1.3.0 and 2.0:
/// tenantId, the given id, title, timeWindow, charts, created, updated, sourceCode). With an id,
/// as the recorded 1.3.0 and 2.0 accept it; without one the id is generated, the rule of 0.23
/// (recorded-0.23 flows/dashboard-create) that the ee tools rely on, where the recorded 1.3.0
/// and 2.0 OSS refuse it (`Dashboard id is mandatory`). Chart validation is not simulated.
pub fn create_dashboard(req: &Req, core: &Core, t: &mut Tenant) -> Response {
    let def = match parse_yaml(req) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let id = match def.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(_) => return req.validation_error("dashboard.id", "must be a string"),
        None => core.new_id(),
    };
    let now = crate::state::fmt_time(&core.clock.now());
    let time_window = def
        .get("timeWindow")
        .cloned()
        .unwrap_or_else(|| json!({"max": "PT8784H", "default": "PT720H"}));
    let v = json!({"tenantId": req.tenant, "id": id, "title": def.get("title"),
        "timeWindow": time_window, "charts": charts_with_defaults(def.get("charts")),
        "deleted": false, "created": now, "updated": now, "sourceCode": req.body_str()});
    t.ee.dashboards.insert(id, v.clone());
    ok_json(&v)
}

/// Charts as Kestra stores them: `chartOptions` gains its defaults `width: 6`, `tooltip: ALL`,
/// `legend: {enabled: true}` (recorded dashboard-create-with-id of 1.3.0 and 2.0).
fn charts_with_defaults(charts: Option<&Value>) -> Value {
    let mut charts = charts.cloned().unwrap_or(json!([]));
    for chart in charts.as_array_mut().into_iter().flatten() {
        if let Some(Value::Object(opts)) = chart.get_mut("chartOptions") {
            opts.entry("width").or_insert(json!(6));
            opts.entry("tooltip").or_insert(json!("ALL"));
            opts.entry("legend").or_insert(json!({"enabled": true}));
        }
    }
    charts
}

/// `GET /dashboards/{id}` (recorded-0.23 flows/dashboard-get): the stored dashboard, else 404.
pub fn get_dashboard(req: &Req, t: &Tenant) -> Response {
    match t.ee.dashboards.get(req.param("id")) {
        Some(d) => ok_json(d),
        None => req.not_found(),
    }
}

/// `POST /ai/generate/*`: a canned answer (the simulator has no model).
pub fn ai_generate(req: &Req) -> Response {
    if let Err(r) = req.json_body("request") {
        return r;
    }
    let what = req.raw_path.rsplit('/').next().unwrap_or("flow");
    let canned = match what {
        "flow" => {
            "id: generated\nnamespace: company.team\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: Hello from kestra-sim\n"
        }
        "app" => {
            "id: generated_app\ntype: io.kestra.plugin.ee.apps.Execution\ndisplayName: Generated app\nnamespace: company.team\nflowId: generated\n"
        }
        "test" => {
            "id: generated_test\nnamespace: company.team\nflowId: generated\ntestCases:\n  - id: ok\n    type: io.kestra.core.tests.flow.UnitTest\n"
        }
        _ => "title: Generated dashboard\ncharts: []\n",
    };
    // The descriptions declare `application/yaml` for every /ai/generate/* answer.
    text(StatusCode::OK, "application/yaml", canned)
}

// ---- root-level ----

pub fn configs(core: &Core) -> Response {
    let version = match core.version {
        KestraVersion::V1_3 => "1.3.0",
        KestraVersion::V2_0 => "2.0.0",
    };
    let mut configs = json!({
        "uuid": "kestra-sim", "version": version, "edition": "EE", "commitId": "kestra-sim",
        "isBasicAuthEnabled": false, "isTaskRunEnabled": true, "isAnonymousUsageEnabled": false,
        "isTemplateEnabled": false, "isAiEnabled": true, "isCustomDashboardsEnabled": true,
        "preview": {"initial": 100, "max": 5000}, "systemNamespace": "system",
        "hiddenLabelsPrefixes": ["system."], "resourceToFilters": [], "simulator": true,
    });
    add_v13_configs(&mut configs);
    if core.version == KestraVersion::V2_0 {
        add_v20_configs(&mut configs);
    }
    ok_json(&configs)
}

/// Keys a real 1.3.0 adds to `/configs` (recorded-1.3.0 misc/configs); 2.0 has them too
/// (recorded-2.0.0-SNAPSHOT misc/configs).
fn add_v13_configs(configs: &mut Value) {
    if let Value::Object(m) = configs {
        for (k, v) in [
            ("chartDefaultDuration", json!("PT24H")),
            ("isUiAnonymousUsageEnabled", json!(false)),
            ("isBasicAuthInitialized", json!(true)),
            ("pluginsHash", json!(0)),
            ("isConcurrencyViewEnabled", json!(true)),
        ] {
            m.insert(k.to_string(), v);
        }
    }
}

/// Keys a real 2.0.0-SNAPSHOT adds to 1.3's (recorded-2.0.0-SNAPSHOT misc/configs,
/// v20/inv10-configs-with-credentials: `flowTemplate`, `commitDate`, `isAiApiKeyConfigured`).
fn add_v20_configs(configs: &mut Value) {
    if let Value::Object(m) = configs {
        for (k, v) in [
            ("flowTemplate", json!("")),
            ("commitDate", json!("2026-07-01T17:44:44+02:00")),
            ("isAiApiKeyConfigured", json!(false)),
        ] {
            m.insert(k.to_string(), v);
        }
    }
}

pub fn license_info() -> Response {
    ok_json(
        &json!({"type": "ENTERPRISE", "expiry": "2099-12-31T00:00:00Z", "expired": false, "workerGroups": true, "simulator": true}),
    )
}

pub fn me() -> Response {
    ok_json(
        &json!({"id": "kestra-sim-user", "username": "admin@kestra.io", "email": "admin@kestra.io", "superAdmin": true, "tenants": [{"id": "main"}]}),
    )
}

pub fn create_banner(req: &Req, core: &Core, w: &mut World) -> Response {
    let mut body = match req.json_body("banner") {
        Ok(b) => b,
        Err(r) => return r,
    };
    if s(&body, "message").is_empty() {
        return req.validation_error("banner.message", "must not be blank");
    }
    let id = core.new_id();
    if let Value::Object(m) = &mut body {
        m.insert("id".into(), json!(id));
        m.entry("active").or_insert(json!(true));
    }
    w.banners.insert(id, body.clone());
    ok_json(&body)
}

pub fn search_banners(req: &Req, w: &World) -> Response {
    // The descriptions declare a plain array of Banner for searchBanners (not a paged result).
    let _ = req;
    ok_json(&Value::Array(w.banners.values().cloned().collect()))
}

pub fn update_banner(req: &Req, w: &mut World) -> Response {
    let mut body = match req.json_body("banner") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = req.param("id").to_string();
    if !w.banners.contains_key(&id) {
        return req.not_found();
    }
    if let Value::Object(m) = &mut body {
        m.insert("id".into(), json!(id));
    }
    w.banners.insert(id, body.clone());
    ok_json(&body)
}

/// 200 with no body: the descriptions declare only `deleteBanner 200 response` without content,
/// which is what Micronaut's OpenAPI generator writes for a `void` controller method, and a
/// `void` Micronaut method answers 200 with an empty body (as the OSS `public void pause` did:
/// recorded executions/pause-running → 200, empty). BannerController is EE: GUESS.
pub fn delete_banner(req: &Req, w: &mut World) -> Response {
    match w.banners.remove(req.param("id")) {
        Some(_) => empty(StatusCode::OK),
        None => req.not_found(),
    }
}
