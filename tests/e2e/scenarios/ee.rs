//! Enterprise tools: groups, invitations, apps, tests, announcements, instance info, AI
//! generation. Skipped on an OSS server.

use serde_json::json;

use crate::api::Api;
use crate::ctx::Ctx;
use crate::scenarios::helpers::results;

fn tag(c: &Ctx) -> String {
    format!(
        "{}-{}",
        c.prefix.replace('.', "-"),
        c.target.label.replace([' ', '.'], "")
    )
}

pub async fn ee_groups_and_invitations(mut c: Ctx) {
    if !c.require(&[
        "manage_group[create]",
        "manage_group[get]",
        "manage_group[delete]",
    ]) {
        return;
    }
    let name = format!("{}-group", tag(&c));
    let g = c
        .ok(
            "manage_group",
            json!({"action": "create", "name": name, "description": "made by kestra-mcp e2e"}),
        )
        .await;
    let gid = g["id"]
        .as_str()
        .unwrap_or_else(|| panic!("manage_group create: no id: {g}"))
        .to_owned();
    c.made().made.groups.insert(gid.clone());
    let held = c
        .api
        .get(&format!("/groups/{}", Api::enc(&gid)))
        .await
        .json("group");
    assert_eq!(held["name"], json!(name), "{held}");

    let got = c.ok("manage_group", json!({"action": "get", "id_": gid})).await;
    assert_eq!(got["name"], json!(name), "{got}");
    if c.has("manage_group[update]") {
        c.ok(
            "manage_group",
            json!({"action": "update", "id_": gid, "name": name, "description": "updated by kestra-mcp e2e"}),
        )
        .await;
        let held = c
            .api
            .get(&format!("/groups/{}", Api::enc(&gid)))
            .await
            .json("group");
        assert_eq!(held["description"], json!("updated by kestra-mcp e2e"), "{held}");
    }

    if c.has("invite_user") {
        let email = format!("{}@example.invalid", tag(&c));
        let inv = c
            .ok("invite_user", json!({"email": email, "group_names": [name]}))
            .await;
        let by_email = c
            .api
            .get(&format!("/invitations/email/{}", Api::enc(&email)))
            .await
            .json("invitations by email");
        let held = results(&by_email).into_iter().next().unwrap_or_else(|| {
            by_email
                .as_array()
                .and_then(|a| a.first().cloned())
                .unwrap_or_else(|| panic!("no invitation for {email}: {by_email} (tool said {inv})"))
        });
        let iid = held["id"].as_str().expect("invitation id").to_owned();
        c.made().made.invitations.insert(iid.clone());
        assert!(
            held["groupIds"].to_string().contains(&gid),
            "invitation lacks the group: {held}"
        );
        // Inviting again returns the existing invitation.
        let again = c
            .ok("invite_user", json!({"email": email, "group_names": [name]}))
            .await;
        assert!(again.to_string().contains(&email), "{again}");

        if c.has("manage_invitations[get]") {
            let got = c
                .ok("manage_invitations", json!({"action": "get", "id_": iid}))
                .await;
            assert_eq!(got["email"], json!(email), "{got}");
        }
        if c.has("manage_invitations[delete]") {
            c.ok("manage_invitations", json!({"action": "delete", "id_": iid}))
                .await;
            assert_eq!(
                c.api
                    .get(&format!("/invitations/{}", Api::enc(&iid)))
                    .await
                    .status,
                404
            );
        }
    }

    c.ok("manage_group", json!({"action": "delete", "id_": gid}))
        .await;
    assert_eq!(
        c.api.get(&format!("/groups/{}", Api::enc(&gid))).await.status,
        404,
        "group still there"
    );
}

pub async fn ee_apps(mut c: Ctx) {
    if !c.require(&["manage_apps[create]", "manage_apps[delete]", "search_apps"]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&format!(
        "id: form\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: app\n"
    ))
    .await;
    let app = |title: &str| {
        format!(
            "id: portal\ntype: io.kestra.plugin.ee.apps.Execution\ndisplayName: \"{title}\"\nnamespace: {ns}\nflowId: form\naccess:\n  type: PRIVATE\ntags:\n  - e2e\nlayout:\n  - on: OPEN\n    blocks:\n      - type: io.kestra.plugin.ee.apps.core.blocks.Markdown\n        content: hello\n"
        )
    };
    let uid_guess = format!("{ns}_portal");
    c.made().made.apps.insert(uid_guess.clone());
    let created = c
        .ok(
            "manage_apps",
            json!({"action": "create", "yaml_source": app("Portal")}),
        )
        .await;
    let found = c.ok("search_apps", json!({"q": "portal", "namespace": ns})).await;
    let hit = results(&found)
        .into_iter()
        .find(|a| a["namespace"] == json!(ns))
        .unwrap_or_else(|| panic!("search_apps did not find the app: {found} (created: {created})"));
    let uid = hit["uid"].as_str().expect("uid").to_owned();
    c.made().made.apps.insert(uid.clone());
    let held = c.api.get(&format!("/apps/{}", Api::enc(&uid))).await.json("app");
    assert_eq!(held["enabled"], json!(true), "{held}");

    // Creating it again updates it.
    c.ok(
        "manage_apps",
        json!({"action": "create", "yaml_source": app("Portal v2")}),
    )
    .await;
    let held = c.api.get(&format!("/apps/{}", Api::enc(&uid))).await.json("app");
    assert!(
        held.to_string().contains("Portal v2"),
        "the app was not updated: {held}"
    );

    if c.has("manage_apps[disable]") {
        c.ok("manage_apps", json!({"action": "disable", "uid": uid}))
            .await;
        let held = c.api.get(&format!("/apps/{}", Api::enc(&uid))).await.json("app");
        assert_eq!(held["enabled"], json!(false), "{held}");
    }
    if c.has("manage_apps[enable]") {
        c.ok("manage_apps", json!({"action": "enable", "uid": uid})).await;
        let held = c.api.get(&format!("/apps/{}", Api::enc(&uid))).await.json("app");
        assert_eq!(held["enabled"], json!(true), "{held}");
    }
    c.ok("manage_apps", json!({"action": "delete", "uid": uid})).await;
    assert_eq!(
        c.api.get(&format!("/apps/{}", Api::enc(&uid))).await.status,
        404,
        "app still there"
    );
}

pub async fn ee_tests(mut c: Ctx) {
    if !c.require(&[
        "manage_tests[create]",
        "manage_tests[run]",
        "manage_tests[delete]",
    ]) {
        return;
    }
    let ns = c.ns.clone();
    c.create_flow(&format!(
        "id: tested\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: tested\n"
    ))
    .await;
    let suite = |desc: &str| {
        format!(
            "id: suite\nnamespace: {ns}\nflowId: tested\ndescription: \"{desc}\"\ntestCases:\n  - id: smoke\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{{{ 1 }}}}\"\n        equalTo: \"1\"\n"
        )
    };
    c.made().made.tests.insert((ns.clone(), "suite".into()));
    c.ok(
        "manage_tests",
        json!({"action": "create", "yaml_source": suite("first")}),
    )
    .await;
    let held = c
        .api
        .get(&format!("/tests/{}/suite", Api::enc(&ns)))
        .await
        .json("test suite");
    assert_eq!(held["flowId"], json!("tested"), "{held}");
    // Creating it again updates it.
    c.ok(
        "manage_tests",
        json!({"action": "create", "yaml_source": suite("second")}),
    )
    .await;
    let held = c
        .api
        .get(&format!("/tests/{}/suite", Api::enc(&ns)))
        .await
        .json("test suite");
    assert!(held.to_string().contains("second"), "{held}");

    let run = c
        .ok(
            "manage_tests",
            json!({"action": "run", "namespace": ns, "id_": "suite"}),
        )
        .await;
    assert!(run.to_string().contains("suite"), "run: {run}");
    c.ok(
        "manage_tests",
        json!({"action": "delete", "namespace": ns, "id_": "suite"}),
    )
    .await;
    assert_eq!(
        c.api.get(&format!("/tests/{}/suite", Api::enc(&ns))).await.status,
        404,
        "test suite still there"
    );
}

pub async fn ee_announcements(mut c: Ctx) {
    if !c.require(&[
        "manage_announcements[create]",
        "manage_announcements[list]",
        "manage_announcements[delete]",
    ]) {
        return;
    }
    let message = format!("kestra-mcp e2e {}", tag(&c));
    let created = c
        .ok(
            "manage_announcements",
            json!({"action": "create", "message": message, "type": "INFO",
                   "startDate": "2026-01-01T00:00:00Z", "endDate": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let held = c
        .api
        .get("//banners/search?page=1&size=100")
        .await
        .json("banners");
    let banner = results(&held)
        .into_iter()
        .find(|b| b["message"] == json!(message))
        .unwrap_or_else(|| panic!("no banner {message:?}: {held} (tool said {created})"));
    let id = banner["id"].as_str().expect("banner id").to_owned();
    c.made().made.banners.insert(id.clone());
    assert_eq!(banner["type"], json!("INFO"));

    let listed = c.ok("manage_announcements", json!({"action": "list"})).await;
    assert!(listed.to_string().contains(&message), "list: {listed}");
    if c.has("manage_announcements[update]") {
        c.ok(
            "manage_announcements",
            json!({"action": "update", "id_": id, "message": format!("{message} (updated)"), "type": "WARNING",
                   "startDate": "2026-01-01T00:00:00Z", "endDate": "2099-01-01T00:00:00Z"}),
        )
        .await;
        let held = c
            .api
            .get("//banners/search?page=1&size=100")
            .await
            .json("banners");
        let b = results(&held)
            .into_iter()
            .find(|b| b["id"] == json!(id))
            .unwrap_or_default();
        assert_eq!(b["type"], json!("WARNING"), "{b}");
    }
    c.ok("manage_announcements", json!({"action": "delete", "id_": id}))
        .await;
    let held = c
        .api
        .get("//banners/search?page=1&size=100")
        .await
        .json("banners");
    assert!(
        !results(&held).iter().any(|b| b["id"] == json!(id)),
        "banner still there"
    );
}

pub async fn ee_instance_info(mut c: Ctx) {
    if !c.require(&["get_instance_info"]) {
        return;
    }
    let conf = c.ok("get_instance_info", json!({})).await;
    let held = c.api.get("//configs").await.json("configs");
    assert_eq!(conf["version"], held["version"], "{conf}");
    let lic = c.ok("get_instance_info", json!({"info": "license_info"})).await;
    let held = c.api.get("//license-info").await.json("license");
    assert_eq!(lic["type"], held["type"], "{lic}");
}

pub async fn ai_generate(mut c: Ctx) {
    if !c.sim() && std::env::var("KESTRA_E2E_AI").as_deref() != Ok("1") {
        c.skip("AI generation needs an AI provider on the server: set KESTRA_E2E_AI=1");
        return;
    }
    for (tool, prompt) in [
        ("generate_flow", "a flow that logs hello"),
        ("generate_app", "a form that starts a flow"),
        ("generate_test", "a test for a flow that logs hello"),
        ("generate_dashboard", "executions per day"),
    ] {
        // The 2.0 simulator has no AI provider, like the recorded 2.0 (findings::ai_not_configured).
        let unconfigured = c.sim() && c.v2() && matches!(tool, "generate_flow" | "generate_dashboard");
        if !unconfigured && c.has(tool) {
            let out = c.ok(tool, json!({"user_prompt": prompt})).await;
            let text = out["result"].as_str().unwrap_or_default();
            assert!(!text.trim().is_empty(), "{tool}: {out}");
        }
    }
}
