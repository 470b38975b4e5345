//! Namespace files and directories.

use serde_json::{Value, json};

use crate::api::Api;
use crate::ctx::Ctx;

fn names(listing: &Value) -> Vec<String> {
    listing["results"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| listing.as_array().cloned().unwrap_or_default())
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
        // Kestra moves into an existing directory only (recorded pair
        // namespace-files/move-file-into-missing-dir: 404); the tool explains which side is missing.
        let into_missing = c
            .call(
                "namespace_file_action",
                json!({"namespace": ns, "action": "move", "path": "/scripts/hello.py", "to_path": "/archive/hello.py"}),
            )
            .await;
        assert!(
            into_missing.text.contains("/archive") && into_missing.text.contains("does not exist"),
            "move into a missing directory: {}",
            into_missing.text
        );
        assert_eq!(
            c.api.file(&ns, "/scripts/hello.py").await.text,
            content,
            "a failed move lost the file"
        );
        let mk = c
            .api
            .post_empty(&format!(
                "/namespaces/{}/files/directory?path=%2Farchive",
                Api::enc(&ns)
            ))
            .await;
        assert!(mk.ok(), "create /archive: {} {}", mk.status, mk.text);
        c.ok(
            "namespace_file_action",
            json!({"namespace": ns, "action": "move", "path": "/scripts/hello.py", "to_path": "/archive/hello.py"}),
        )
        .await;
        assert_eq!(
            c.api.file(&ns, "/scripts/hello.py").await.status,
            404,
            "moved file still at its old path"
        );
        let moved = c.api.file(&ns, "/archive/hello.py").await;
        assert_eq!(moved.text, content, "moved file: {} {}", moved.status, moved.text);
        let missing = c
            .call(
                "namespace_file_action",
                json!({"namespace": ns, "action": "move", "path": "/nowhere/x.py", "to_path": "/archive/y.py"}),
            )
            .await;
        assert!(
            missing.text.to_lowercase().contains("not"),
            "move of a missing file: {}",
            missing.text
        );
        c.ok(
            "namespace_file_action",
            json!({"namespace": ns, "action": "delete", "path": "/archive/hello.py"}),
        )
        .await;
        assert_eq!(
            c.api.file(&ns, "/archive/hello.py").await.status,
            404,
            "deleted file still readable"
        );
    } else {
        c.ok(
            "namespace_file_action",
            json!({"namespace": ns, "action": "delete", "path": "/scripts/hello.py"}),
        )
        .await;
        assert_eq!(
            c.api.file(&ns, "/scripts/hello.py").await.status,
            404,
            "deleted file still readable"
        );
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
    c.made().made.files.insert((ns.clone(), "/data".into()));
    c.made().made.files.insert((ns.clone(), "/warehouse".into()));
    let out = c
        .ok(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "create", "path": "/data/incoming"}),
        )
        .await;
    let _ = out;
    let root = c.api.directory(&ns, "/data").await.json("directory /data");
    assert!(names(&root).contains(&"incoming".to_owned()), "{root}");

    let listed = c
        .ok(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "list", "path": "/data"}),
        )
        .await;
    assert!(listed.to_string().contains("incoming"), "list: {listed}");

    if c.has("namespace_directory_action[move]") {
        c.ok(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "move", "path": "/data", "to_path": "/warehouse"}),
        )
        .await;
        let moved = c
            .api
            .directory(&ns, "/warehouse")
            .await
            .json("directory /warehouse");
        assert!(names(&moved).contains(&"incoming".to_owned()), "{moved}");
        assert!(
            !c.api.directory(&ns, "/data").await.ok(),
            "/data still there after the move"
        );
    }
    if c.has("namespace_directory_action[delete]") {
        let path = if c.api.directory(&ns, "/warehouse").await.ok() {
            "/warehouse"
        } else {
            "/data"
        };
        c.ok(
            "namespace_directory_action",
            json!({"namespace": ns, "action": "delete", "path": path}),
        )
        .await;
        assert!(
            !c.api.directory(&ns, path).await.ok(),
            "{path} still there after delete"
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
