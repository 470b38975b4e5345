//! Namespace files and directories (webserver/.../controllers/api/NamespaceFileController.java,
//! recorded namespace-files.json). Paths are normalised to a leading `/`; any `..` segment in
//! `path`/`from`/`to` → 422 as real Kestra answers; a climbing namespace → 400 (simulator rule).
//! In 1.3 mode every operation goes through `files_v13` (Kestra 1.3's file index, recorded-1.3.0).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::http::{Req, climbing, empty, ok_json, text};
use crate::state::Tenant;

#[derive(Debug, Clone)]
pub struct Node {
    pub dir: bool,
    pub content: Bytes,
    pub created: i64,
    pub modified: i64,
}

const DOTDOT: &str =
    "Illegal argument: File should be accessed with their full path and not using relative '..' path.";

pub(crate) fn normalise(p: &str) -> String {
    let trimmed = p.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        format!("/{trimmed}")
    }
}

pub(crate) fn parent(p: &str) -> String {
    match p.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => p[..i].to_string(),
    }
}

pub(crate) fn check_path(req: &Req, p: &str) -> Result<String, Response> {
    if p.split('/').any(|s| s == "..") {
        return Err(req.error(StatusCode::UNPROCESSABLE_ENTITY, DOTDOT));
    }
    Ok(normalise(p))
}

pub(crate) fn ns_guard(req: &Req) -> Result<String, Response> {
    let ns = req.param("namespace").to_string();
    if climbing(&ns) {
        return Err(req.error(
            StatusCode::BAD_REQUEST,
            &format!("Bad Request: '{ns}' contains '/' or '..' (refused by the simulator)"),
        ));
    }
    Ok(ns)
}

pub(crate) fn storage_path(req: &Req, ns: &str, p: &str) -> String {
    format!(
        "<kestra-sim>/storage/{}/{}/_files{}",
        req.tenant,
        ns.replace('.', "/"),
        p
    )
}

pub(crate) fn mkdirs(tree: &mut BTreeMap<String, Node>, p: &str, ms: i64) {
    let mut cur = String::new();
    for seg in p.split('/').filter(|s| !s.is_empty()) {
        cur.push('/');
        cur.push_str(seg);
        tree.entry(cur.clone()).or_insert(Node {
            dir: true,
            content: Bytes::new(),
            created: ms,
            modified: ms,
        });
    }
}

fn attrs(name: &str, n: &Node) -> Value {
    json!({
        "type": if n.dir { "Directory" } else { "File" },
        "size": if n.dir { 4096 } else { n.content.len() },
        "fileName": name,
        "lastModifiedTime": n.modified,
        "creationTime": n.created,
    })
}

/// Kestra 1.3 answers namespace files from an index kept next to the storage: see
/// [`crate::files_v13`].
fn is_v13(req: &Req) -> bool {
    req.core.version == crate::KestraVersion::V1_3
}

macro_rules! tryr {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

pub fn get(req: &Req, t: &Tenant) -> Response {
    if is_v13(req) {
        return crate::files_v13::get(req, t);
    }
    let ns = tryr!(ns_guard(req));
    let p = tryr!(check_path(req, tryr!(req.required_q("path"))));
    if p.starts_with("/_flows") {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Illegal argument: Forbidden path: {p}"),
        );
    }
    match t.files.get(&ns).and_then(|tree| tree.get(&p)) {
        Some(n) if !n.dir => text(StatusCode::OK, "application/octet-stream", n.content.clone()),
        Some(_) => req.error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: {} (Is a directory)", storage_path(req, &ns, &p)),
        ),
        None => req.error(
            StatusCode::NOT_FOUND,
            &format!(
                "Not Found: {} (No such file or directory)",
                storage_path(req, &ns, &p)
            ),
        ),
    }
}

pub async fn upload(req: Req) -> Response {
    let ns = tryr!(ns_guard(&req));
    let p = tryr!(check_path(&req, tryr!(req.required_q("path"))));
    let parts = tryr!(req.multipart().await);
    let Some(part) = parts.into_iter().find(|p| p.name == "fileContent") else {
        return req.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error: Required Part [fileContent] not specified",
        );
    };
    let core = req.core.clone();
    let mut w = core.world();
    let now = core.clock.now();
    let t = w.tenant(&req.tenant);
    if p.starts_with("/_flows/") {
        // Uploading under _flows imports the YAML as a flow of this namespace (recorded
        // namespace-files/upload-into-_flows-imports-flow). GUESS: namespace rewritten in YAML.
        return import_flow(&req, t, &ns, &part.data);
    }
    let ms = now.timestamp_millis();
    if is_v13(&req) {
        crate::files_v13::index_upload(t, &ns, &p, part.data.len(), ms);
    }
    let tree = t.files.entry(ns).or_default();
    mkdirs(tree, &parent(&p), ms);
    let created = tree.get(&p).map_or(ms, |n| n.created);
    tree.insert(
        p,
        Node {
            dir: false,
            content: part.data,
            created,
            modified: ms,
        },
    );
    empty(StatusCode::OK)
}

fn import_flow(req: &Req, t: &mut Tenant, ns: &str, data: &Bytes) -> Response {
    let src = String::from_utf8_lossy(data).into_owned();
    let rewritten: String = src
        .lines()
        .map(|l| {
            if l.starts_with("namespace:") {
                format!("namespace: {ns}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut r = req.clone();
    r.body = Bytes::from(rewritten.clone());
    let def = match crate::flows::parse_flow(&r, &rewritten) {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let id = def.get("id").and_then(Value::as_str).unwrap_or("").to_string();
    let entry = t.flows.entry((ns.to_string(), id)).or_default();
    let rev = crate::flows::FlowRev {
        revision: entry.next_revision(),
        source: rewritten,
        disabled: false,
        def,
        deleted: false,
        from_json: false,
        updated: req.core.clock.now(),
    };
    entry.revisions.push(rev);
    empty(StatusCode::OK)
}

pub fn move_(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    if is_v13(req) {
        return crate::files_v13::move_(req, t, now);
    }
    let ns = tryr!(ns_guard(req));
    let from = tryr!(check_path(req, tryr!(req.required_q("from"))));
    let to = tryr!(check_path(req, tryr!(req.required_q("to"))));
    let tree = t.files.entry(ns.clone()).or_default();
    let not_found = || {
        req.error(
            StatusCode::NOT_FOUND,
            &format!(
                "Not Found: {} -> {}",
                storage_path(req, &ns, &from),
                storage_path(req, &ns, &to)
            ),
        )
    };
    if !tree.contains_key(&from) {
        return not_found();
    }
    let to_parent = parent(&to);
    if to_parent != "/" && !tree.get(&to_parent).is_some_and(|n| n.dir) {
        return not_found();
    }
    let moved: Vec<(String, Node)> = tree
        .iter()
        .filter(|(k, _)| *k == &from || k.starts_with(&format!("{from}/")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let ms = now.timestamp_millis();
    for (k, mut v) in moved {
        tree.remove(&k);
        v.modified = ms;
        tree.insert(format!("{to}{}", &k[from.len()..]), v);
    }
    empty(StatusCode::OK)
}

/// Deleting a missing path → 200 (recorded namespace-files/delete-missing).
pub fn delete(req: &Req, t: &mut Tenant) -> Response {
    if is_v13(req) {
        return crate::files_v13::delete(req, t);
    }
    let ns = tryr!(ns_guard(req));
    let p = tryr!(check_path(req, tryr!(req.required_q("path"))));
    if let Some(tree) = t.files.get_mut(&ns) {
        if p == "/" {
            tree.clear();
        } else {
            tree.retain(|k, _| !(k == &p || k.starts_with(&format!("{p}/"))));
        }
    }
    empty(StatusCode::OK)
}

pub fn list_directory(req: &Req, t: &mut Tenant) -> Response {
    if is_v13(req) {
        return crate::files_v13::list_directory(req, t);
    }
    let ns = tryr!(ns_guard(req));
    let p = tryr!(check_path(req, req.q("path").unwrap_or("/")));
    let tree = t.files.entry(ns.clone()).or_default();
    if p != "/" {
        match tree.get(&p) {
            None => {
                return req.error(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "Not Found: {} (No such file or directory)",
                        storage_path(req, &ns, &p)
                    ),
                );
            }
            // A file listed as a directory: 200 `[]` on 2.0 too (recorded-2.0.0-SNAPSHOT
            // namespace-files/list-file-as-dir).
            Some(n) if !n.dir => return ok_json(&json!([])),
            _ => {}
        }
    }
    let out: Vec<Value> = tree
        .iter()
        .filter(|(k, _)| *k != &p && parent(k) == p)
        .map(|(k, n)| attrs(k.rsplit('/').next().unwrap_or(""), n))
        .collect();
    ok_json(&Value::Array(out))
}

pub fn create_directory(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    if is_v13(req) {
        return crate::files_v13::create_directory(req, t, now);
    }
    let ns = tryr!(ns_guard(req));
    let p = tryr!(check_path(req, req.q("path").unwrap_or("/")));
    let tree = t.files.entry(ns).or_default();
    // Only the directory itself: 2.0 keeps no nested empty directory either (a `mkdir /e1/e2`
    // leaves `/e1` unknown, 404, and out of the root listing: recorded-2.0.0-SNAPSHOT
    // namespace-files/v13-list-root-after-nested-mkdir, v13-list-e1). A file uploaded below
    // creates the missing parents (`upload`).
    let ms = now.timestamp_millis();
    tree.entry(p).or_insert(Node {
        dir: true,
        content: Bytes::new(),
        created: ms,
        modified: ms,
    });
    empty(StatusCode::OK)
}

pub fn stats(req: &Req, t: &Tenant) -> Response {
    if is_v13(req) {
        return crate::files_v13::stats(req, t);
    }
    let ns = tryr!(ns_guard(req));
    let p = tryr!(check_path(req, req.q("path").unwrap_or("/")));
    match t.files.get(&ns).and_then(|tree| tree.get(&p)) {
        Some(n) => ok_json(&attrs(p.rsplit('/').next().unwrap_or(""), n)),
        None if p == "/" => ok_json(
            &json!({"type": "Directory", "size": 4096, "fileName": "", "lastModifiedTime": 0, "creationTime": 0}),
        ),
        None => req.error(
            StatusCode::NOT_FOUND,
            &format!(
                "Not Found: {} (No such file or directory)",
                storage_path(req, &ns, &p)
            ),
        ),
    }
}

/// Search returns only file paths (recorded namespace-files/search).
pub fn search(req: &Req, t: &Tenant) -> Response {
    if is_v13(req) {
        return crate::files_v13::search(req, t);
    }
    let ns = tryr!(ns_guard(req));
    let q = tryr!(req.required_q("q")).to_lowercase();
    let out: Vec<&String> = t
        .files
        .get(&ns)
        .into_iter()
        .flatten()
        .filter(|(k, n)| !n.dir && k.to_lowercase().contains(&q))
        .map(|(k, _)| k)
        .collect();
    ok_json(&json!(out))
}
