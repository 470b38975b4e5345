//! Namespace files and directories.

use serde_json::{Value, json};

use crate::api::Api;
use crate::ctx::Ctx;
use crate::scenarios::helpers::{failed, results};

fn names(listing: &Value) -> Vec<String> {
    results(listing)
        .iter()
        .filter_map(|f| f["fileName"].as_str().map(str::to_owned))
        .collect()
}

pub async fn namespace_files(mut c: Ctx) {
    if !c.require(&[
        "namespace_file_action[create]",
        "namespace_file_action[get]",
        "namespace_file_action[delete]",
    ]) {
        return;
    }
    let ns = c.ns.clone();
    let content = "print('hello from kestra-mcp')\n";
    c.made().made.files.insert((ns.clone(), "/scripts".into()));
    c.made().made.files.insert((ns.clone(), "/archive".into()));
    c.ok(
        "namespace_file_action",
        json!({"namespace": ns, "action": "create", "path": "/scripts/hello.py", "file_content": content}),
    )
    .await;
    let held = c.api.file(&ns, "/scripts/hello.py").await;
    assert!(
        held.ok(),
        "uploaded file not readable: {} {}",
        held.status,
        held.text
    );
    assert_eq!(held.text, content, "uploaded content differs");
    let dir = c.api.directory(&ns, "/scripts").await.json("directory");
    assert!(names(&dir).contains(&"hello.py".to_owned()), "{dir}");

    let got = c
        .ok(
            "namespace_file_action",
            json!({"namespace": ns, "action": "get", "path": "/scripts/hello.py"}),
        )
        .await;
    assert_eq!(got["content"], json!(content), "get: {got}");

    if c.has("namespace_file_action[search]") {
        let found = c
            .ok(
                "namespace_file_action",
                json!({"namespace": ns, "action": "search", "q": "hello"}),
            )
            .await;
        assert!(found.to_string().contains("hello.py"), "search: {found}");
    }
    if c.has("namespace_file_action[move]") {
        file_moves(&mut c, &ns, content).await;
    } else {
        delete_file(&mut c, &ns, "/scripts/hello.py").await;
    }
}

/// Deletes a namespace file with the tool and checks the server no longer serves it.
async fn delete_file(c: &mut Ctx, ns: &str, path: &str) {
    c.ok(
        "namespace_file_action",
        json!({"namespace": ns, "action": "delete", "path": path}),
    )
    .await;
    assert_eq!(
        c.api.file(ns, path).await.status,
        404,
        "deleted file {path} still readable"
    );
}

/// Single-file moves as real Kestra does them, on 1.3 and 2.0: into a missing directory the move
/// succeeds and creates it (recorded-1.3.0 and recorded-2.0.0-SNAPSHOT
/// namespace-files/v13-move-file-into-missing-dir); a missing source moves nothing (both:
/// namespace-files/move-missing-source, 200); onto an existing file 1.3 answers 200 and 2.0 500
/// `already exists` (namespace-files/v13-move-file-to-existing-file).
async fn file_moves(c: &mut Ctx, ns: &str, content: &str) {
    c.ok(
        "namespace_file_action",
        json!({"namespace": ns, "action": "move", "path": "/scripts/hello.py", "to_path": "/archive/hello.py"}),
    )
    .await;
    assert_eq!(
        c.api.file(ns, "/scripts/hello.py").await.status,
        404,
        "moved file still at its old path"
    );
    let moved = c.api.file(ns, "/archive/hello.py").await;
    assert_eq!(moved.text, content, "moved file: {} {}", moved.status, moved.text);
    let root = c.api.directory(ns, "/").await.json("directory /");
    assert!(
        names(&root).contains(&"archive".to_owned()),
        "root after the move: {root}"
    );

    // Into a directory that exists (made directly through the API).
    c.made().made.files.insert((ns.to_owned(), "/kept".into()));
    let mk = c
        .api
        .post_empty(&format!(
            "/namespaces/{}/files/directory?path=%2Fkept",
            Api::enc(ns)
        ))
        .await;
    assert!(mk.ok(), "create /kept: {} {}", mk.status, mk.text);
    c.ok(
        "namespace_file_action",
        json!({"namespace": ns, "action": "move", "path": "/archive/hello.py", "to_path": "/kept/hello.py"}),
    )
    .await;
    let kept = c.api.file(ns, "/kept/hello.py").await;
    assert_eq!(kept.text, content, "moved file: {} {}", kept.status, kept.text);

    let missing = c
        .call(
            "namespace_file_action",
            json!({"namespace": ns, "action": "move", "path": "/nowhere/x.py", "to_path": "/archive/y.py"}),
        )
        .await;
    assert!(
        !c.api.file(ns, "/archive/y.py").await.ok(),
        "a move of a missing file created its target: {}",
        missing.text
    );

    let other = "print('other')\n";
    c.ok(
        "namespace_file_action",
        json!({"namespace": ns, "action": "create", "path": "/kept/other.py", "file_content": other}),
    )
    .await;
    let onto = c
        .call(
            "namespace_file_action",
            json!({"namespace": ns, "action": "move", "path": "/kept/hello.py", "to_path": "/kept/other.py"}),
        )
        .await;
    if c.v2() {
        assert!(
            failed(&onto) && c.api.file(ns, "/kept/hello.py").await.text == content,
            "[2.0] a move onto an existing file must fail and keep the source: {}",
            onto.text
        );
        assert_eq!(c.api.file(ns, "/kept/other.py").await.text, other);
    } else {
        assert!(
            !failed(&onto),
            "[1.3] a move onto an existing file: {}",
            onto.text
        );
        assert!(
            c.api.file(ns, "/kept/other.py").await.ok(),
            "[1.3] the target of a move onto an existing file is gone"
        );
    }
    for path in ["/kept/hello.py", "/kept/other.py"] {
        if !c.api.file(ns, path).await.ok() {
            continue; // 1.3 moved hello.py onto other.py
        }
        delete_file(c, ns, path).await;
    }
}

pub async fn namespace_directories(mut c: Ctx) {
    if !c.require(&[
        "namespace_directory_action[create]",
        "namespace_directory_action[list]",
    ]) {
        return;
    }
    let ns = c.ns.clone();
    for dir in ["/data", "/e1", "/d1", "/d2"] {
        c.made().made.files.insert((ns.clone(), dir.into()));
    }
    // A top-level empty directory is kept and listed (recorded-1.3.0 and recorded-2.0.0-SNAPSHOT
    // namespace-files/v13-list-root-after-mkdir, v13-list-data-after-mkdir).
    c.ok(
        "namespace_directory_action",
        json!({"namespace": ns, "action": "create", "path": "/data"}),
    )
    .await;
    let root = c.api.directory(&ns, "/").await.json("directory /");
    assert!(names(&root).contains(&"data".to_owned()), "{root}");
    let listed = c
        .ok(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "list", "path": "/data"}),
        )
        .await;
    assert!(names(&listed).is_empty(), "list of the empty /data: {listed}");

    // A nested empty directory leaves no trace on Kestra 1.3 and 2.0: /e1 answers 404 and the
    // root does not list it (both corpora: namespace-files/v13-mkdir-nested,
    // v13-list-root-after-nested-mkdir, v13-list-e1).
    c.ok(
        "namespace_directory_action",
        json!({"namespace": ns, "action": "create", "path": "/e1/e2"}),
    )
    .await;
    assert_eq!(
        c.api.directory(&ns, "/e1").await.status,
        404,
        "[{}] /e1 exists after creating /e1/e2: Kestra keeps no nested empty directory",
        c.target.label
    );

    if c.has("namespace_directory_action[move]") && c.has("namespace_file_action[create]") {
        directory_move_keeps_files(&mut c, &ns).await;
    }
    if c.has("namespace_directory_action[delete]") {
        c.ok(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "delete", "path": "/data"}),
        )
        .await;
        assert!(
            !c.api.directory(&ns, "/data").await.ok(),
            "/data still there after delete"
        );
        let missing = c
            .call(
                "namespace_directory_action",
                json!({"namespace": ns, "action": "list", "path": "/no/such/dir"}),
            )
            .await;
        assert!(
            missing.text.to_lowercase().contains("not") || missing.text.contains("error"),
            "list of a missing dir: {}",
            missing.text
        );
    }
}

/// Moving a directory must not lose a file. Kestra 1.3's own directory move does
/// (recorded-1.3.0 namespace-files/v13-move-dir-d1-to-d2: `/d2` lists nothing and `sub/a.txt`
/// is unreadable under both paths), 2.0's keeps them (recorded-2.0.0-SNAPSHOT
/// namespace-files/v13-read-d2-sub-a); the tool must move every file and say what it moved.
async fn directory_move_keeps_files(c: &mut Ctx, ns: &str) {
    let files = [
        ("/d1/sub/a.txt", "/d2/sub/a.txt", "A\n"),
        ("/d1/b.txt", "/d2/b.txt", "B\n"),
    ];
    for (from, _, content) in files {
        c.ok(
            "namespace_file_action",
            json!({"namespace": ns, "action": "create", "path": from, "file_content": content}),
        )
        .await;
    }
    let reply = c
        .ok(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "move", "path": "/d1", "to_path": "/d2"}),
        )
        .await;
    for (from, to, content) in files {
        let moved = c.api.file(ns, to).await;
        assert_eq!(
            (moved.status, moved.text.as_str()),
            (200, content),
            "[{}] moving /d1 to /d2 lost {from}: {to} answers {} {}",
            c.target.label,
            moved.status,
            moved.text
        );
        assert!(
            !c.api.file(ns, from).await.ok(),
            "[{}] {from} still readable after the move",
            c.target.label
        );
    }
    let said = reply.to_string();
    for (from, to, _) in files {
        let name = to.rsplit('/').next().unwrap_or(to);
        assert!(
            said.contains(name),
            "[{}] the move's reply does not list {from} -> {to}: {said}",
            c.target.label
        );
    }
    assert!(
        !c.api.directory(ns, "/d1").await.ok(),
        "[{}] /d1 still listed after the move",
        c.target.label
    );
    if c.has("namespace_directory_action[delete]") {
        c.ok(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "delete", "path": "/d2"}),
        )
        .await;
        assert!(
            !c.api.file(ns, "/d2/b.txt").await.ok(),
            "/d2 still there after delete"
        );
    }
}
