//! KV store: every value type, set/get/list/delete, read back from the server.

use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::scenarios::helpers::results;

fn keys(v: &Value) -> Vec<String> {
    results(v)
        .iter()
        .filter_map(|k| k["key"].as_str().map(str::to_owned))
        .collect()
}

pub async fn kv_every_type(mut c: Ctx) {
    if !c.require(&[
        "manage_kv_store[set]",
        "manage_kv_store[get]",
        "manage_kv_store[list]",
        "manage_kv_store[delete]",
    ]) {
        return;
    }
    let ns = c.ns.clone();
    // (key, value as the AI client sends it, Kestra type, value as Kestra then holds it)
    let cases: Vec<(&str, Value, &str, Value)> = vec![
        ("greeting", json!("hello world"), "STRING", json!("hello world")),
        ("numeric_text", json!("42"), "NUMBER", json!(42)),
        ("answer", json!(42), "NUMBER", json!(42)),
        ("ratio", json!(2.5), "NUMBER", json!(2.5)),
        ("enabled", json!(true), "BOOLEAN", json!(true)),
        (
            "config",
            json!({"region": "eu", "replicas": 3, "tags": ["a", "b"]}),
            "JSON",
            json!({"region": "eu", "replicas": 3, "tags": ["a", "b"]}),
        ),
        (
            "items",
            json!([1, "two", false]),
            "JSON",
            json!([1, "two", false]),
        ),
        ("release_day", json!("2026-03-01"), "DATE", json!("2026-03-01")),
        (
            "deployed_at",
            json!("2026-03-01T10:15:30Z"),
            "DATETIME",
            json!("2026-03-01T10:15:30Z"),
        ),
    ];
    for (key, value, kind, held) in &cases {
        c.made().made.kv.insert((ns.clone(), (*key).to_owned()));
        let out = c
            .ok(
                "manage_kv_store",
                json!({"namespace": ns, "action": "set", "key": key, "value": value}),
            )
            .await;
        assert_eq!(out["status"], json!("ok"), "set {key}: {out}");
        let stored = c.api.kv(&ns, key).await.json(&format!("read back KV {key}"));
        assert_eq!(stored["type"], json!(kind), "KV {key} = {value}: {stored}");
        if *kind == "DATETIME" {
            let s = stored["value"].as_str().unwrap_or_default();
            assert!(s.starts_with("2026-03-01T10:15:30"), "KV {key}: {stored}");
        } else {
            assert_eq!(&stored["value"], held, "KV {key} = {value}: {stored}");
        }
        let got = c
            .ok(
                "manage_kv_store",
                json!({"namespace": ns, "action": "get", "key": key}),
            )
            .await;
        assert_eq!(got["type"], stored["type"], "get {key}: {got}");
        assert_eq!(got["value"], stored["value"], "get {key}: {got}");
    }
    // Overwrite: the type follows the new value.
    c.ok(
        "manage_kv_store",
        json!({"namespace": ns, "action": "set", "key": "answer", "value": "forty-two"}),
    )
    .await;
    let stored = c.api.kv(&ns, "answer").await.json("KV answer");
    assert_eq!(
        (stored["type"].clone(), stored["value"].clone()),
        (json!("STRING"), json!("forty-two"))
    );

    let listed = c
        .ok("manage_kv_store", json!({"namespace": ns, "action": "list"}))
        .await;
    let mut got = keys(&listed);
    got.sort();
    let mut want: Vec<String> = cases.iter().map(|(k, ..)| (*k).to_owned()).collect();
    want.sort();
    assert_eq!(got, want, "list: {listed}");

    for (key, ..) in &cases {
        c.ok(
            "manage_kv_store",
            json!({"namespace": ns, "action": "delete", "key": key}),
        )
        .await;
        assert_eq!(c.api.kv(&ns, key).await.status, 404, "KV {key} still there");
    }
    c.err(
        "manage_kv_store",
        json!({"namespace": ns, "action": "get", "key": "greeting"}),
    )
    .await;
    let missing = c
        .call(
            "manage_kv_store",
            json!({"namespace": ns, "action": "delete", "key": "greeting"}),
        )
        .await;
    // A real Kestra answers 200 `false` for a missing key (recorded pair kv/delete-key-again).
    assert!(
        missing.value["deleted"] == json!(false) || missing.text.contains("not found"),
        "delete of a missing key: {}",
        missing.text
    );
    let listed = c
        .ok("manage_kv_store", json!({"namespace": ns, "action": "list"}))
        .await;
    assert!(keys(&listed).is_empty(), "{listed}");
}
