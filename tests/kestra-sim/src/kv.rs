//! KV store with types. There is no type parameter: the type comes from the body, which a real
//! Kestra reads with Jackson's ION mapper (webserver/.../controllers/api/KVController.java;
//! recorded pairs kv/put-* and INDEX.md notes). The rules below reproduce the recorded reads.
//! GET returns `KvDetail {type, value, revision, updated}` (the 1.3/2.0 descriptions; 0.23 only
//! sent `{type, value}`). 1.3 lists keys with `GET /namespaces/{ns}/kv` (KVEntry with `version`),
//! 2.0 drops it for `GET /kv?filters[namespace][EQUALS]=` (KVEntry with `revision`).

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use crate::KestraVersion;
use crate::http::{Req, climbing, empty, ok_json, paged, paginate};
use crate::state::{Tenant, fmt_duration, fmt_time, parse_duration, parse_time};

#[derive(Debug, Clone)]
pub struct KvEntry {
    pub ty: &'static str,
    pub value: Option<Value>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub expiration: Option<DateTime<Utc>>,
    pub revision: u32,
    pub description: Option<String>,
}

fn key_ok(k: &str) -> bool {
    let mut c = k.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphanumeric())
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '.' | '_' | '-'))
}

const KEY_MSG: &str = "Illegal argument: Key must start with an alphanumeric character (uppercase or lowercase) and can contain alphanumeric characters (uppercase or lowercase), dots (.), underscores (_), and hyphens (-) only.";

fn guard(req: &Req, ns: &str, key: Option<&str>) -> Option<Response> {
    for v in std::iter::once(ns).chain(key) {
        if climbing(v) {
            return Some(req.error(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: '{v}' contains '/' or '..' (refused by the simulator)"),
            ));
        }
    }
    if let Some(k) = key
        && !key_ok(k)
    {
        return Some(req.error(StatusCode::UNPROCESSABLE_ENTITY, KEY_MSG));
    }
    None
}

fn is_date(s: &str) -> bool {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// Reads a body the way the recorded server did. `Err(status, message)` on refusal.
pub fn infer(body: &str) -> Result<(&'static str, Option<Value>), (StatusCode, String)> {
    let b = body.trim();
    if b.is_empty() {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid route params: Required Body [value] not specified".into(),
        ));
    }
    if b == "null" {
        return Ok(("STRING", None));
    }
    if b.starts_with('"') {
        let s: String = serde_json::from_str(b).map_err(|_| {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Illegal argument: Invalid JSON value for: {b}"),
            )
        })?;
        // A quoted ISO duration is a DURATION, normalised like Java's Duration ("P1DT2H" → "PT26H").
        if s.starts_with('P')
            && let Some(d) = parse_duration(&s)
        {
            return Ok(("DURATION", Some(json!(fmt_duration(d)))));
        }
        return Ok(("STRING", Some(json!(s))));
    }
    if b.starts_with('{') || b.starts_with('[') {
        let v: Value = serde_json::from_str(b).map_err(|_| {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Illegal argument: Invalid JSON value for: {b}"),
            )
        })?;
        return Ok(("JSON", Some(v)));
    }
    if b == "true" || b == "false" {
        return Ok(("BOOLEAN", Some(json!(b == "true"))));
    }
    if let Ok(n) = b.parse::<i64>() {
        return Ok(("NUMBER", Some(json!(n))));
    }
    if b.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-')
        && let Ok(f) = b.parse::<f64>()
    {
        return Ok(("NUMBER", Some(json!(f))));
    }
    // ION timestamps.
    if b.len() >= 10 && is_date(&b[..10]) {
        let rest = &b[10..];
        if rest.is_empty() || rest == "T" {
            return Ok(("DATE", Some(json!(&b[..10]))));
        }
        if b.ends_with('Z') && parse_time(b).is_some() {
            return Ok(("DATETIME", Some(json!(b))));
        }
        if parse_time(b).is_some() {
            // An offset other than Z came back typed JSON with a string value (recorded
            // kv/get-datetime-offset).
            return Ok(("JSON", Some(json!(b))));
        }
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Internal server error: a bad character was encountered in {b}"),
        ));
    }
    if b.starts_with('P')
        && let Some(d) = parse_duration(b)
    {
        return Ok(("DURATION", Some(json!(fmt_duration(d)))));
    }
    // An unquoted word is an ION symbol: a STRING holding only the first token.
    let first = b.split_whitespace().next().unwrap_or("");
    Ok(("STRING", Some(json!(first))))
}

/// Kestra 1.3's `PUT /kv/{key}` consumes only `text/plain`: 415 otherwise (recorded-1.3.0
/// kv/put-json-object, kv/put-string-quoted-json, kv/put-wrong-content-type); no Content-Type
/// is accepted (recorded-1.3.0 kv/put-no-content-type).
fn v13_refuse_content_type(req: &Req) -> Option<Response> {
    let ct = req.header("content-type")?;
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    (essence != "text/plain").then(|| {
        req.error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!(
                "Unsupported Media Type: Content Type [{essence}] not allowed. Allowed types: [text/plain]"
            ),
        )
    })
}

/// Kestra 1.3 stores a text/plain body that starts like JSON but does not parse (recorded-1.3.0
/// kv/put-invalid-json-text-plain: 200). GUESS: as the STRING it reads (the get was not recorded).
fn v13_unparsed_json_is_text(body: &str) -> bool {
    let b = body.trim();
    b.starts_with('{') || b.starts_with('[')
}

pub fn put(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let (ns, key) = (req.param("namespace").to_string(), req.param("key").to_string());
    if let Some(r) = guard(req, &ns, Some(&key)) {
        return r;
    }
    // 2.0 follows the same two rules (recorded-2.0.0-SNAPSHOT kv/put-json-object,
    // kv/put-string-quoted-json, kv/put-invalid-json: 415; kv/put-invalid-json-text-plain: 200).
    if let Some(r) = v13_refuse_content_type(req) {
        return r;
    }
    let (ty, value) = match infer(&req.body_str()) {
        Ok(x) => x,
        Err(_) if v13_unparsed_json_is_text(&req.body_str()) => {
            ("STRING", Some(json!(req.body_str().trim())))
        }
        Err((status, msg)) => return req.error(status, &msg),
    };
    let expiration = match req.header("ttl") {
        None => None,
        Some(ttl) => match parse_duration(ttl) {
            Some(d) => Some(now + d),
            None => {
                return req.error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error: Text cannot be parsed to a Duration",
                );
            }
        },
    };
    let description = req.header("description").map(String::from);
    let k = (ns, key);
    let (created, revision) = match t.kv.get(&k) {
        Some(e) => (e.created, e.revision + 1),
        None => (now, 1),
    };
    t.kv.insert(
        k,
        KvEntry {
            ty,
            value,
            created,
            updated: now,
            expiration,
            revision,
            description,
        },
    );
    empty(StatusCode::OK)
}

pub fn get(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let (ns, key) = (req.param("namespace").to_string(), req.param("key").to_string());
    if let Some(r) = guard(req, &ns, Some(&key)) {
        return r;
    }
    let k = (ns.clone(), key.clone());
    let not_found = || {
        req.error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: No value found for key '{key}' in namespace '{ns}'"),
        )
    };
    let Some(e) = t.kv.get(&k).cloned() else {
        return not_found();
    };
    if e.expiration.is_some_and(|x| x <= now) {
        // Expired: 410 once (the read purges it), then 404 (recorded kv/get-expired*).
        t.kv.remove(&k);
        return req.error(
            StatusCode::GONE,
            "Resource has expired: The requested value has expired",
        );
    }
    let mut m = Map::new();
    m.insert("type".into(), json!(e.ty));
    if let Some(v) = e.value {
        m.insert("value".into(), v);
    }
    m.insert("revision".into(), json!(e.revision));
    m.insert("updated".into(), json!(fmt_time(&e.updated)));
    ok_json(&Value::Object(m))
}

/// DELETE → 200 `true`, again → 200 `false`, never 404 (recorded kv/delete-key*).
pub fn delete(req: &Req, t: &mut Tenant) -> Response {
    let (ns, key) = (req.param("namespace").to_string(), req.param("key").to_string());
    if let Some(r) = guard(req, &ns, Some(&key)) {
        return r;
    }
    let existed = t.kv.remove(&(ns, key)).is_some();
    ok_json(&json!(existed))
}

pub fn delete_bulk(req: &Req, t: &mut Tenant) -> Response {
    let ns = req.param("namespace").to_string();
    if let Some(r) = guard(req, &ns, None) {
        return r;
    }
    let body = match req.json_body("request") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut deleted = Vec::new();
    for k in body
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if t.kv.remove(&(ns.clone(), k.to_string())).is_some() {
            deleted.push(k.to_string());
        }
    }
    ok_json(&json!({"keys": deleted}))
}

fn entry_json(v: crate::KestraVersion, ns: &str, key: &str, e: &KvEntry) -> Value {
    let mut m = Map::new();
    m.insert("namespace".into(), json!(ns));
    m.insert("key".into(), json!(key));
    let rev_name = if v == KestraVersion::V1_3 {
        "version"
    } else {
        "revision"
    };
    m.insert(rev_name.into(), json!(e.revision));
    m.insert("description".into(), json!(e.description));
    m.insert("creationDate".into(), json!(fmt_time(&e.created)));
    m.insert("updateDate".into(), json!(fmt_time(&e.updated)));
    if let Some(x) = e.expiration {
        m.insert("expirationDate".into(), json!(fmt_time(&x)));
    }
    Value::Object(m)
}

/// 1.3 `GET /namespaces/{ns}/kv`: an array of KVEntry; unknown namespace → [] .
pub fn list(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    let ns = req.param("namespace");
    if let Some(r) = guard(req, ns, None) {
        return r;
    }
    let out: Vec<Value> =
        t.kv.iter()
            .filter(|((n, _), e)| n == ns && e.expiration.is_none_or(|x| x > now))
            .map(|((n, k), e)| entry_json(req.core.version, n, k, e))
            .collect();
    ok_json(&Value::Array(out))
}

/// `GET /kv` (listAllKeys): paged, filtered by `filters[namespace][...]` / `filters[q]`.
pub fn list_all(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    let (page, size) = match req.paging("listAllKeys") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut ns_filters: Vec<(String, String)> = Vec::new();
    let mut q = None;
    for (f, op, v) in req.filters() {
        match f.as_str() {
            "namespace" => ns_filters.push((op, v)),
            "q" | "key" => q = Some(v.to_lowercase()),
            _ => {}
        }
    }
    let items: Vec<Value> =
        t.kv.iter()
            .filter(|((n, k), e)| {
                e.expiration.is_none_or(|x| x > now)
                    && ns_filters.iter().all(|(op, v)| match op.as_str() {
                        "STARTS_WITH" => n.starts_with(v.as_str()),
                        // The namespace and its children (recorded-2.0.0-SNAPSHOT
                        // kv/list-namespace-prefix: `company` lists company.team and
                        // company.analytics keys).
                        "PREFIX" => n == v || n.starts_with(&format!("{v}.")),
                        "IN" => v.split(',').any(|x| x == n),
                        "CONTAINS" => n.contains(v.as_str()),
                        _ => n == v,
                    })
                    && q.as_ref().is_none_or(|q| k.to_lowercase().contains(q.as_str()))
            })
            .map(|((n, k), e)| entry_json(req.core.version, n, k, e))
            .collect();
    let total = items.len();
    ok_json(&paged(paginate(&items, page, size), total))
}

/// `GET /namespaces/{ns}/kv/inheritance`: the keys of the namespace and its parents.
/// Kestra 1.3 lists only the keys inherited from parent namespaces: company.team's own keys are
/// not listed (recorded-1.3.0 errors/diff-2.0-kv-inheritance: `[]` while company.team held keys).
fn v13_inheritance_excludes_own(req: &Req) -> bool {
    req.core.version == KestraVersion::V1_3
}

pub fn list_inheritance(req: &Req, t: &Tenant, now: DateTime<Utc>) -> Response {
    let ns = req.param("namespace");
    if let Some(r) = guard(req, ns, None) {
        return r;
    }
    let out: Vec<Value> =
        t.kv.iter()
            .filter(|((n, _), e)| {
                let own = n == ns && !v13_inheritance_excludes_own(req);
                (own || ns.starts_with(&format!("{n}."))) && e.expiration.is_none_or(|x| x > now)
            })
            .map(|((n, k), e)| entry_json(req.core.version, n, k, e))
            .collect();
    ok_json(&Value::Array(out))
}
