//! Two things Cargo cannot see by itself:
//! - the built-in tool specs are embedded with `include_dir!`, which Cargo does not track, so
//!   anything under tools.d/ changing triggers a rebuild;
//! - the Kestra OpenAPI descriptions and their overlay (openapi/*.yml and overlay.yaml, about
//!   1.3 MB of YAML) are embedded deflated (about 110 kB) for `kestra-mcp tools validate`
//!   (src/contract), through a generated `openapi_bundle.rs` listing them.

use std::fmt::Write as _;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=tools.d");
    // Only the contract checker reads the descriptions (`contract` feature).
    if std::env::var_os("CARGO_FEATURE_CONTRACT").is_none() {
        return Ok(());
    }
    println!("cargo:rerun-if-changed=openapi");
    let out_dir = std::env::var("OUT_DIR")?;
    let mut descriptions: Vec<String> = std::fs::read_dir("openapi")?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yml"))
        .collect();
    descriptions.sort();
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
