//! In-process benchmarks of the engine: loading and compiling the built-in specs (and 500
//! generated ones), building the HTTP client, rendering one request, serialising the
//! `tools/list` answer, and JSONPath projection of a large answer.
//! Whole-process figures (spawn, stdio round trip, throughput) are in `scripts/bench.sh`.
//!
//! `cargo bench --bench engine` (sample sizes are small: the reference machine has 2 cores).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kestra_mcp::config::Config;
use kestra_mcp::engine::Engine;
use kestra_mcp::filter::apply_disabled;
use kestra_mcp::http::KestraClient;
use kestra_mcp::project::{Projection, Selection};
use kestra_mcp::render::Templates;
use kestra_mcp::spec::load::builtin_sources;
use kestra_mcp::spec::{LoadOptions, load_catalog, parse_spec};
use serde_json::{Map, Value, json};

fn config() -> Config {
    Config::from_lookup(|key| match key {
        "KESTRA_BASE_URL" => Some("http://127.0.0.1:8080/api/v1".to_owned()),
        _ => None,
    })
    .expect("config")
}

fn engine() -> Engine {
    let config = config();
    let catalog = load_catalog(&LoadOptions::default()).expect("built-in specs load");
    let filtered = apply_disabled(catalog.tools, &config.disabled);
    Engine::new(filtered, catalog.layers, &config).expect("engine")
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("arguments must be an object"),
    }
}

/// A page of `n` flows shaped like Kestra's `/flows/search` answer.
fn large_body(n: usize) -> Value {
    let results: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("flow_{i}"),
                "namespace": format!("company.team{}", i % 17),
                "revision": i % 9 + 1,
                "disabled": i % 5 == 0,
                "deleted": false,
                "labels": [{"key": "env", "value": "prod"}, {"key": "owner", "value": format!("team{}", i % 7)}],
                "inputs": [{"id": "day", "type": "STRING", "required": false, "defaults": "monday"}],
                "tasks": [
                    {"id": "hello", "type": "io.kestra.plugin.core.log.Log", "message": "Hello {{ inputs.day }}"},
                    {"id": "fetch", "type": "io.kestra.plugin.core.http.Request", "uri": "https://example.com/api", "method": "GET"},
                    {"id": "store", "type": "io.kestra.plugin.core.storage.Write", "content": "{{ outputs.fetch.body }}", "extension": ".json"}
                ],
                "triggers": [{"id": "daily", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "0 9 * * *"}],
                "source": "id: flow\nnamespace: company.team\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: Hello\n"
            })
        })
        .collect();
    json!({"results": results, "total": n})
}

/// The built-in `list_flows_in_namespace` spec renamed to `NAME` in group `flow`.
fn spec_template() -> String {
    let text = builtin_sources()
        .into_iter()
        .find(|s| {
            s.text
                .lines()
                .any(|l| l.trim() == "name: list_flows_in_namespace")
        })
        .expect("built-in list_flows_in_namespace spec")
        .text;
    text.lines()
        .map(|line| match line {
            l if l.starts_with("name:") => "name: NAME",
            l if l.starts_with("group:") => "group: flow",
            l => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A temporary tools directory with `n` copies of the template.
fn spec_dir(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let template = spec_template();
    for i in 0..n {
        let name = format!("bench_tool_{i:05}");
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            template.replace("NAME", &name),
        )
        .expect("write");
    }
    dir
}

fn bench_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("builtin_catalog", |b| {
        b.iter(|| black_box(load_catalog(&LoadOptions::default()).expect("load")))
    });
    let one = spec_template().replace("NAME", "bench_tool_00000");
    group.bench_function("parse_one_spec_yaml", |b| {
        b.iter(|| black_box(parse_spec(&one, "bench_tool_00000.yaml").expect("parse")))
    });
    let dir = spec_dir(500);
    let options = LoadOptions {
        tools_dir: Some(dir.path().to_path_buf()),
        no_builtin: true,
        ..LoadOptions::default()
    };
    group.sample_size(10);
    group.bench_function("tools_dir_500_specs", |b| {
        b.iter(|| black_box(load_catalog(&options).expect("load")))
    });
    group.sample_size(20);
    group.bench_function("engine_new_from_builtin", |b| b.iter(|| black_box(engine())));
    let config = config();
    group.bench_function("http_client_new", |b| {
        b.iter(|| black_box(KestraClient::new(&config).expect("client")))
    });
    group.finish();
}

fn bench_render(c: &mut Criterion) {
    let engine = engine();
    let version = semver::Version::new(1, 3, 0);
    let mut group = c.benchmark_group("render");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(2));
    let cases = [
        ("list_flows_in_namespace", json!({"namespace": "company.team"})),
        ("search_flows", json!({"query": "hello", "size": 50, "page": 2})),
    ];
    for (tool, arguments) in cases {
        if engine.tool(tool).is_none() {
            continue;
        }
        let arguments = args(arguments);
        engine
            .render_only(tool, arguments.clone(), &version)
            .expect("the request renders");
        group.bench_function(tool, |b| {
            b.iter_batched(
                || arguments.clone(),
                |a| black_box(engine.render_only(tool, a, &version).expect("render")),
                BatchSize::SmallInput,
            )
        });
    }
    group.bench_function("tools_list_json", |b| {
        b.iter(|| {
            let tools: Vec<&rmcp::model::Tool> = engine.tools().map(|t| &t.tool).collect();
            black_box(serde_json::to_vec(&json!({"tools": tools})).expect("serialise"))
        })
    });
    group.finish();
}

fn bench_project(c: &mut Criterion) {
    let body = large_body(1000);
    let bytes = serde_json::to_vec(&body).expect("serialise").len() as u64;
    let templates = Templates::new();
    let ctx = Map::new();
    let ids = Selection::parse("$.results[*].id").expect("path");
    let filtered = Selection::parse("$.results[?@.disabled == false]").expect("path");
    let trimmed = Projection {
        select: Some(Selection::parse("$.results").expect("path")),
        fields: Some(vec!["id".into(), "namespace".into(), "revision".into()]),
        template: None,
        wrap: Some("results".into()),
    };
    let mut group = c.benchmark_group("project_1000_flows");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("decode_body", |b| {
        let raw = serde_json::to_vec(&body).expect("serialise");
        b.iter(|| black_box(serde_json::from_slice::<Value>(&raw).expect("decode")))
    });
    group.bench_function("select_ids", |b| b.iter(|| black_box(ids.apply(&body))));
    group.bench_function("select_filter", |b| b.iter(|| black_box(filtered.apply(&body))));
    group.bench_function("select_and_trim_fields", |b| {
        b.iter(|| black_box(trimmed.value(&body, &templates, &ctx).expect("project")))
    });
    group.finish();
}

criterion_group!(benches, bench_load, bench_render, bench_project);
criterion_main!(benches);
