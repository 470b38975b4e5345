//! Namespace files as Kestra 1.3 serves them (recorded-1.3.0 namespace-files.json, pairs
//! `v13-*`). Kestra 1.3 keeps an index of namespace files (`NamespaceFileMetadata`, one entry
//! per file and directory) next to the internal storage, and answers listings, stats, search and
//! the "not found" of reads from that index. The index and the storage can disagree, and the
//! recorded 1.3.0 server showed where:
//!
//! - a nested `mkdir /e1/e2` indexes `/e1/e2` only, so `/e1` is unknown (404) and the root does
//!   not list it (recorded-1.3.0 namespace-files/v13-list-root-after-nested-mkdir, v13-list-e1);
//! - moving a directory renames its own index entry and moves its storage, but leaves the index
//!   entries of its files at the old paths: the files are lost to the API (recorded-1.3.0
//!   namespace-files/v13-move-dir-d1-to-d2 and the `v13-*` pairs after it);
//! - moving a missing source answers 200 and does nothing (recorded-1.3.0
//!   namespace-files/move-missing-source); moving a file into a missing directory creates it
//!   (recorded-1.3.0 namespace-files/v13-move-file-into-missing-dir).
//!
//! The storage itself is [`crate::state::Tenant::files`] (shared with the other modes); the
//! index is [`crate::state::Tenant::file_index_v13`]. Only the 1.3 mode calls this module.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::files::{Node, check_path, mkdirs, normalise, ns_guard, parent, storage_path};
use crate::http::{Req, empty, ok_json, text};
use crate::state::Tenant;

/// One index entry (Kestra's `NamespaceFileMetadata`).
#[derive(Debug, Clone)]
pub struct Entry {
    pub dir: bool,
    pub size: usize,
    pub created: i64,
    pub modified: i64,
}

type Index = BTreeMap<String, Entry>;

macro_rules! tryr {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

fn is_under(path: &str, dir: &str) -> bool {
    path == dir || path.starts_with(&format!("{dir}/"))
}

/// A path as the index sees it: reads and listings do not refuse `..`, they simply find nothing
/// (recorded-1.3.0 namespace-files/traversal-query-path-read and traversal-query-path-list:
/// 404 naming the path; uploads and moves still answer 422).
fn lookup_path(p: &str) -> String {
    normalise(p)
}

fn file_not_found(req: &Req, ns: &str, p: &str) -> Response {
    // recorded-1.3.0 namespace-files/read-missing-file, stats-missing.
    req.error(
        StatusCode::NOT_FOUND,
        &format!("Not Found: File '{p}' was not found in namespace '{ns}'."),
    )
}

fn directory_not_found(req: &Req, p: &str) -> Response {
    // recorded-1.3.0 namespace-files/list-missing-dir, v13-list-e1.
    req.error(
        StatusCode::NOT_FOUND,
        &format!("Not Found: Directory not found: {p}"),
    )
}

/// Directories have size 0 and every entry carries `metadata` on 1.3
/// (recorded-1.3.0 namespace-files/list-root, stats-file).
fn attrs(name: &str, e: &Entry) -> Value {
    json!({
        "type": if e.dir { "Directory" } else { "File" },
        "size": if e.dir { 0 } else { e.size },
        "fileName": name,
        "lastModifiedTime": e.modified,
        "creationTime": e.created,
        "metadata": {},
    })
}

fn index_mut<'a>(t: &'a mut Tenant, ns: &str) -> &'a mut Index {
    t.file_index_v13.entry(ns.to_string()).or_default()
}

fn index_dir(index: &mut Index, p: &str, ms: i64) {
    index.entry(p.to_string()).or_insert(Entry {
        dir: true,
        size: 0,
        created: ms,
        modified: ms,
    });
}

/// Indexes every missing ancestor of `p` as a directory (an upload or a file move does;
/// recorded-1.3.0 namespace-files/list-root lists `scripts` after uploading /scripts/hello.py).
fn index_ancestors(index: &mut Index, p: &str, ms: i64) {
    let mut cur = String::new();
    let segments: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    for seg in segments.iter().take(segments.len().saturating_sub(1)) {
        cur.push('/');
        cur.push_str(seg);
        index_dir(index, &cur, ms);
    }
}

/// Called by [`crate::files::upload`] after the storage write: indexes the file and its
/// directories; an overwrite keeps the creation time (recorded-1.3.0 namespace-files/list-scripts).
pub fn index_upload(t: &mut Tenant, ns: &str, p: &str, size: usize, ms: i64) {
    let index = index_mut(t, ns);
    index_ancestors(index, p, ms);
    let created = index.get(p).map_or(ms, |e| e.created);
    index.insert(
        p.to_string(),
        Entry {
            dir: false,
            size,
            created,
            modified: ms,
        },
    );
}

/// A read answers from the index first: unknown → "was not found in namespace"; indexed but
/// absent from storage → the storage's 404 (recorded-1.3.0
/// namespace-files/v13-read-d1-sub-a-after-move).
pub fn get(req: &Req, t: &Tenant) -> Response {
    let ns = tryr!(ns_guard(req));
    let p = lookup_path(tryr!(req.required_q("path")));
    if p.starts_with("/_flows") {
        return req.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Illegal argument: Forbidden path: {p}"),
        );
    }
    if !t.file_index_v13.get(&ns).is_some_and(|i| i.contains_key(&p)) {
        return file_not_found(req, &ns, &p);
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

/// Lists the index entries whose parent is `path`. An unindexed directory → 404; a file → 200
/// `[]` (recorded-1.3.0 namespace-files/list-file-as-dir).
pub fn list_directory(req: &Req, t: &Tenant) -> Response {
    let ns = tryr!(ns_guard(req));
    let p = lookup_path(req.q("path").unwrap_or("/"));
    let empty_index = Index::new();
    let index = t.file_index_v13.get(&ns).unwrap_or(&empty_index);
    if p != "/" && !index.contains_key(&p) {
        return directory_not_found(req, &p);
    }
    let out: Vec<Value> = index
        .iter()
        .filter(|(k, _)| *k != &p && parent(k) == p)
        .map(|(k, e)| attrs(k.rsplit('/').next().unwrap_or(""), e))
        .collect();
    ok_json(&Value::Array(out))
}

/// Indexes the directory itself but not its parents: a nested empty directory is not kept
/// (recorded-1.3.0 namespace-files/v13-mkdir-nested, v13-list-root-after-nested-mkdir,
/// v13-list-e1). GUESS: `/e1/e2` itself stays listable (not recorded).
pub fn create_directory(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let ns = tryr!(ns_guard(req));
    let p = tryr!(check_path(req, req.q("path").unwrap_or("/")));
    let ms = now.timestamp_millis();
    mkdirs(t.files.entry(ns.clone()).or_default(), &p, ms);
    if p != "/" {
        index_dir(index_mut(t, &ns), &p, ms);
    }
    empty(StatusCode::OK)
}

/// Stats answer from the index (recorded-1.3.0 namespace-files/v13-stats-empty-dir, stats-missing).
pub fn stats(req: &Req, t: &Tenant) -> Response {
    let ns = tryr!(ns_guard(req));
    let p = lookup_path(req.q("path").unwrap_or("/"));
    match t.file_index_v13.get(&ns).and_then(|i| i.get(&p)) {
        Some(e) => ok_json(&attrs(p.rsplit('/').next().unwrap_or(""), e)),
        None if p == "/" => ok_json(&json!({"type": "Directory", "size": 0, "fileName": "",
            "lastModifiedTime": 0, "creationTime": 0, "metadata": {}})),
        None => file_not_found(req, &ns, &p),
    }
}

/// Search returns the indexed file paths, stale ones included (recorded-1.3.0
/// namespace-files/v13-search-after-dir-move, v13-search-final).
pub fn search(req: &Req, t: &Tenant) -> Response {
    let ns = tryr!(ns_guard(req));
    let q = tryr!(req.required_q("q")).to_lowercase();
    let out: Vec<&String> = t
        .file_index_v13
        .get(&ns)
        .into_iter()
        .flatten()
        .filter(|(k, e)| !e.dir && k.to_lowercase().contains(&q))
        .map(|(k, _)| k)
        .collect();
    ok_json(&json!(out))
}

/// Deletes the path and everything under it, in the index and in storage (recorded-1.3.0
/// namespace-files/v13-delete-dir-d2: the stale `/d1/...` entries survive, being elsewhere).
pub fn delete(req: &Req, t: &mut Tenant) -> Response {
    let ns = tryr!(ns_guard(req));
    let p = tryr!(check_path(req, tryr!(req.required_q("path"))));
    let keep = |k: &String| p != "/" && !is_under(k, &p);
    if let Some(index) = t.file_index_v13.get_mut(&ns) {
        index.retain(|k, _| keep(k));
    }
    if let Some(tree) = t.files.get_mut(&ns) {
        tree.retain(|k, _| keep(k));
    }
    empty(StatusCode::OK)
}

/// `PUT files?from&to` as 1.3 does it: a missing source → 200, nothing moves (recorded-1.3.0
/// namespace-files/move-missing-source); a file moves with its content, its new directories
/// indexed, an existing target overwritten (recorded-1.3.0 namespace-files/move-file,
/// v13-move-file-into-missing-dir, v13-move-file-to-existing-file); a directory loses its files
/// (see [`move_directory`]).
pub fn move_(req: &Req, t: &mut Tenant, now: DateTime<Utc>) -> Response {
    let ns = tryr!(ns_guard(req));
    let from = tryr!(check_path(req, tryr!(req.required_q("from"))));
    let to = tryr!(check_path(req, tryr!(req.required_q("to"))));
    let ms = now.timestamp_millis();
    let Some(entry) = t.file_index_v13.get(&ns).and_then(|i| i.get(&from)).cloned() else {
        return empty(StatusCode::OK);
    };
    move_storage(t.files.entry(ns.clone()).or_default(), &from, &to, ms);
    let index = index_mut(t, &ns);
    index.remove(&from);
    index_ancestors(index, &to, ms);
    if entry.dir {
        move_directory(index, &to, ms);
    } else {
        index.insert(
            to,
            Entry {
                modified: ms,
                ..entry
            },
        );
    }
    empty(StatusCode::OK)
}

/// Kestra 1.3's directory move re-creates the directory's own index entry at the target and
/// moves the storage, but does not re-index what the directory held: `/d2` lists nothing, the
/// files are unreadable under both paths and search still returns the old paths (recorded-1.3.0
/// namespace-files/v13-move-dir-d1-to-d2, v13-list-d2-after-move, v13-read-d2-sub-a,
/// v13-read-d1-sub-a-after-move, v13-search-after-dir-move). The simulator reproduces this
/// data loss on purpose, so that the tests prove kestra-mcp does not move directories this way.
fn move_directory(index: &mut Index, to: &str, ms: i64) {
    index.insert(
        to.to_string(),
        Entry {
            dir: true,
            size: 0,
            created: ms,
            modified: ms,
        },
    );
}

fn move_storage(tree: &mut BTreeMap<String, Node>, from: &str, to: &str, ms: i64) {
    let moved: Vec<(String, Node)> = tree
        .iter()
        .filter(|(k, _)| is_under(k, from))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    mkdirs(tree, &parent(to), ms);
    for (k, mut v) in moved {
        tree.remove(&k);
        v.modified = ms;
        tree.insert(format!("{to}{}", &k[from.len()..]), v);
    }
}
