//! Two things Cargo cannot see by itself:
//! - the built-in tool specs are embedded with `include_dir!`, which Cargo does not track, so
//!   anything under tools.d/ changing triggers a rebuild;
//! - the Kestra OpenAPI descriptions and their overlay (openapi/*.yml and overlay.yaml, about
//!   1.3 MB of YAML) are embedded deflated (about 110 kB) for `kestra-mcp tools validate`
//!   (src/contract), through a generated `openapi_bundle.rs` listing them;
//! - the built-in specs are also converted to JSON (`builtin_json.rs`): at start-up the server
//!   reads them with serde_json, several times faster than parsing their YAML (a spec that does
//!   not convert is left out, and read from its YAML as any other);
//! - whatever the features, the operations table of src/spec/operations.rs (operationId ->
//!   method, scope and path in each described Kestra version) is extracted from the same
//!   descriptions, plus the operations the overlay adds to a version, into a generated
//!   `operations_table.rs`.

use std::fmt::Write as _;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=tools.d");
    println!("cargo:rerun-if-changed=openapi");
    let out_dir = std::env::var("OUT_DIR")?;
    let mut descriptions: Vec<String> = std::fs::read_dir("openapi")?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yml"))
        .collect();
    descriptions.sort();
    write_operations_table(&descriptions, &out_dir)?;
    write_builtin_json(&out_dir)?;
    // Only the contract checker reads the whole descriptions (`contract` feature).
    if std::env::var_os("CARGO_FEATURE_CONTRACT").is_none() {
        return Ok(());
    }
    let mut bundle = String::from(
        "/// The bundled descriptions: file name and deflated text.\nconst BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for name in &descriptions {
        deflate(name, &out_dir)?;
        writeln!(
            bundle,
            "    ({name:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.deflate\"))),"
        )?;
    }
    bundle.push_str("];\n");
    deflate("overlay.yaml", &out_dir)?;
    bundle.push_str(
        "const OVERLAY: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/overlay.yaml.deflate\"));\n",
    );
    std::fs::write(Path::new(&out_dir).join("openapi_bundle.rs"), bundle)?;
    Ok(())
}

fn deflate(name: &str, out_dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let source = Path::new("openapi").join(name);
    let text = std::fs::read(&source).map_err(|e| format!("{}: {e}", source.display()))?;
    let deflated = miniz_oxide::deflate::compress_to_vec(&text, 9);
    std::fs::write(Path::new(out_dir).join(format!("{name}.deflate")), deflated)?;
    Ok(())
}

/// One operation of one description: (operationId, method, path as written, e.g.
/// `/api/v1/{tenant}/executions/{executionId}/kill`).
type Operation = (String, String, String);

/// The operations of a description. Kestra's descriptions are machine-written with a fixed
/// layout (paths at two spaces, methods at four, `operationId` at six), so a line scan of the
/// `paths:` section is enough and keeps a YAML parser out of the build dependencies.
fn scan_operations(text: &str) -> Vec<Operation> {
    let mut out = Vec::new();
    let (mut in_paths, mut path, mut method) = (false, None::<String>, None::<String>);
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|p| p.strip_suffix(':')) {
            path = Some(format!("/{}", p.trim_matches(['\'', '"'])));
            method = None;
        } else if let Some(m) = line.strip_prefix("    ").and_then(|m| m.strip_suffix(':'))
            && ["get", "post", "put", "patch", "delete"].contains(&m)
        {
            method = Some(m.to_owned());
        } else if let Some(id) = line.strip_prefix("      operationId: ")
            && let (Some(p), Some(m)) = (&path, &method)
        {
            out.push((id.trim().to_owned(), m.clone(), p.clone()));
        }
    }
    out
}

/// The Kestra version a description is of: `openapi-2.0.0-SNAPSHOT.yml` -> `2.0.0`.
fn described_version(file: &str) -> String {
    let stem = file.trim_start_matches("openapi-").trim_end_matches(".yml");
    stem.split('-').next().unwrap_or(stem).to_owned()
}

/// The Rust expression of one route: `Some(Route::new(Method::Post, Scope::Tenant, "/x"))`.
fn route_expr(method: &str, path: &str) -> Option<String> {
    let (scope, relative) = match path.strip_prefix("/api/v1/{tenant}") {
        Some(rest) => ("Tenant", rest),
        None => ("Instance", path.strip_prefix("/api/v1")?),
    };
    let mut variant = method.to_owned();
    variant[..1].make_ascii_uppercase();
    Some(format!(
        "Some(Route::new(Method::{variant}, Scope::{scope}, {relative:?}))"
    ))
}

/// The operations the reviewed overlay adds to a version's description
/// (`add-operation-from-other-version`, e.g. 1.3's `/logs/{executionId}/follow`): the versions
/// it names (`1.3`) and each operation's method and path. The overlay is hand-written with one
/// layout (entries at `  - id:`, their keys at four spaces, operations as `["path", method]`).
fn overlay_additions(text: &str) -> Vec<(Vec<String>, String, String)> {
    let mut out = Vec::new();
    let (mut versions, mut action, mut operations) = (Vec::new(), String::new(), Vec::new());
    let mut flush =
        |versions: &mut Vec<String>, action: &mut String, operations: &mut Vec<(String, String)>| {
            if action == "add-operation-from-other-version" {
                for (method, path) in operations.drain(..) {
                    out.push((versions.clone(), method, path));
                }
            }
            versions.clear();
            action.clear();
            operations.clear();
        };
    for line in text.lines() {
        if line.starts_with("  - id:") {
            flush(&mut versions, &mut action, &mut operations);
        } else if let Some(list) = line.strip_prefix("    versions:") {
            versions = list.split('"').skip(1).step_by(2).map(str::to_owned).collect();
        } else if let Some(name) = line.strip_prefix("    action:") {
            action = name.trim().to_owned();
        } else if let Some(pair) = line.trim_start().strip_prefix("- [\"")
            && let Some((path, method)) = pair.trim_end_matches(']').split_once("\", ")
        {
            operations.push((method.trim().to_owned(), path.to_owned()));
        }
    }
    flush(&mut versions, &mut action, &mut operations);
    out
}

/// operationId -> its method and path in each described version (`None`: not there).
type Table = std::collections::BTreeMap<String, Vec<Option<(String, String)>>>;

/// Gives `table` the routes the overlay adds: an operation a version's description lacks is
/// the one another version serves at that method and path.
fn add_overlay_routes(table: &mut Table, versions: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let overlay = std::fs::read_to_string(Path::new("openapi").join("overlay.yaml"))?;
    for (named, method, path) in overlay_additions(&overlay) {
        let wanted = Some((method.clone(), path.clone()));
        let Some(routes) = table.values_mut().find(|routes| routes.contains(&wanted)) else {
            return Err(format!("overlay adds {method} {path}, which no description has").into());
        };
        for (index, version) in versions.iter().enumerate() {
            if named.iter().any(|n| version.starts_with(&format!("{n}."))) && routes[index].is_none() {
                routes[index] = wanted.clone();
            }
        }
    }
    Ok(())
}

fn write_operations_table(descriptions: &[String], out_dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut versions = Vec::new();
    let mut table = Table::new();
    for (index, name) in descriptions.iter().enumerate() {
        let source = Path::new("openapi").join(name);
        let text = std::fs::read_to_string(&source).map_err(|e| format!("{}: {e}", source.display()))?;
        versions.push(described_version(name));
        for (id, method, path) in scan_operations(&text) {
            let routes = table.entry(id).or_insert_with(|| vec![None; descriptions.len()]);
            routes[index] = Some((method, path));
        }
    }
    add_overlay_routes(&mut table, &versions)?;
    let mut code = format!(
        "/// The Kestra versions described, in the order of each operation's routes.\npub(super) const DESCRIBED: &[&str] = &{versions:?};\n\
         /// operationId -> its route in each described version (`None`: not there), sorted by id.\n\
         pub(super) const OPERATIONS: &[(&str, &[Option<Route>])] = &[\n"
    );
    for (id, routes) in &table {
        let routes: Vec<String> = routes
            .iter()
            .map(|r| {
                r.as_ref()
                    .and_then(|(method, path)| route_expr(method, path))
                    .unwrap_or_else(|| "None".to_owned())
            })
            .collect();
        // Routes outside the API root (`/login`) are not the specs' business.
        if routes.iter().all(|r| r == "None") {
            continue;
        }
        writeln!(code, "    ({id:?}, &[{}]),", routes.join(", "))?;
    }
    code.push_str("];\n");
    std::fs::write(Path::new(out_dir).join("operations_table.rs"), code)?;
    Ok(())
}

/// Each built-in spec of tools.d/ (not the `*.test.yaml` spec tests) as JSON text, in a
/// generated `builtin_json.rs`: `(file name, JSON)` sorted by name. The YAML stays the source
/// of truth (messages and lines come from it); a unit test holds the two readings equal.
fn write_builtin_json(out_dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut names: Vec<String> = std::fs::read_dir("tools.d")?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| (n.ends_with(".yaml") || n.ends_with(".yml")) && !n.contains(".test."))
        .collect();
    names.sort();
    let mut code = String::from(
        "/// The built-in specs as JSON: file name and text.\npub(super) const BUILTIN_JSON: &[(&str, &str)] = &[\n",
    );
    for name in names {
        let text = std::fs::read_to_string(Path::new("tools.d").join(&name))?;
        // A spec that is not valid YAML (or whose keys are not strings) is read at run time,
        // which reports the problem with its line.
        let Ok(value) = yaml_serde::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        writeln!(code, "    ({name:?}, {:?}),", serde_json::to_string(&value)?)?;
    }
    code.push_str("];\n");
    std::fs::write(Path::new(out_dir).join("builtin_json.rs"), code)?;
    Ok(())
}
