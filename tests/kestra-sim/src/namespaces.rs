//! Namespaces (webserver/.../controllers/api/NamespaceController.java, recorded
//! namespaces.json). OSS has no namespace entity store: namespaces are derived from flows,
//! parents included, plus `system` (Kestra's system-flow namespace), all `disabled: true`
//! (the MCP server prints them "not created"). EE-created namespaces (POST /namespaces) are
//! kept per tenant and reported `disabled: false`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::KestraVersion;
use crate::http::{Req, climbing, ok_json, paged, paginate};
use crate::state::Tenant;

fn derived(t: &Tenant) -> Vec<String> {
    let mut out: Vec<String> = vec!["system".into()];
    for r in crate::flows::live_flows(t) {
        let ns = r.def.get("namespace").and_then(Value::as_str).unwrap_or("");
        let mut cur = String::new();
        for part in ns.split('.') {
            if !cur.is_empty() {
                cur.push('.');
            }
            cur.push_str(part);
            out.push(cur.clone());
        }
    }
    out.extend(t.ee.namespaces.keys().cloned());
    out.sort();
    out.dedup();
    out
}

pub fn search(req: &Req, t: &Tenant) -> Response {
    let (page, size) = match req.paging("searchNamespaces") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut q: Vec<String> = req.q_all("q").into_iter().map(|s| s.to_lowercase()).collect();
    if req.core.version == KestraVersion::V2_0 {
        for (f, _op, v) in req.filters() {
            if f == "q" || f == "id" || f == "namespace" {
                q.push(v.to_lowercase());
            }
        }
    }
    // `existing=true` lists the namespaces that exist by their flows (parents included) and
    // `system` (recorded-2.0.0-SNAPSHOT namespaces/search-existing-true: company, company.bulk,
    // company.team, system): the same list as without it.
    let items: Vec<Value> = derived(t)
        .into_iter()
        .filter(|ns| q.iter().all(|q| ns.to_lowercase().contains(q.as_str())))
        .map(|ns| {
            let created = t.ee.namespaces.contains_key(&ns);
            json!({"disabled": !created, "id": ns, "deleted": false})
        })
        .collect();
    let total = items.len();
    ok_json(&paged(paginate(&items, page, size), total))
}

/// Any namespace id answers 200 (recorded namespaces/get-unknown-namespace).
pub fn get(req: &Req, t: &Tenant) -> Response {
    let id = req.param("id");
    if climbing(id) {
        return req.error(
            StatusCode::BAD_REQUEST,
            &format!("Bad Request: '{id}' contains '/' or '..' (refused by the simulator)"),
        );
    }
    match t.ee.namespaces.get(id) {
        Some(v) => ok_json(v),
        None => ok_json(&json!({"id": id, "deleted": false})),
    }
}

pub fn create(req: &Req, t: &mut Tenant) -> Response {
    let body = match req.json_body("namespace") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(id) = body.get("id").and_then(Value::as_str).map(String::from) else {
        return req.validation_error("namespace.id", "must not be null");
    };
    if t.ee.namespaces.contains_key(&id) {
        return req.validation_error("namespace.id", "Namespace already exists");
    }
    let mut v = body.clone();
    if let Value::Object(m) = &mut v {
        m.insert("deleted".into(), json!(false));
    }
    t.ee.namespaces.insert(id, v.clone());
    ok_json(&v)
}
