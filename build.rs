//! Two things Cargo cannot see by itself:
//! - the built-in tool specs are embedded with `include_dir!`, which Cargo does not track, so
//!   anything under tools.d/ changing triggers a rebuild;
//! - the Kestra OpenAPI descriptions and their overlay (openapi/, about 1.3 MB of YAML) are
//!   embedded deflated (about 110 kB), for `kestra-mcp tools validate` (src/contract).

use std::path::Path;

const BUNDLED: &[&str] = &["openapi-1.3.0.yml", "openapi-2.0.0-SNAPSHOT.yml", "overlay.yaml"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=tools.d");
    println!("cargo:rerun-if-changed=openapi");
    let out_dir = std::env::var("OUT_DIR")?;
    for name in BUNDLED {
        let source = Path::new("openapi").join(name);
        let text = std::fs::read(&source).map_err(|e| format!("{}: {e}", source.display()))?;
        let deflated = miniz_oxide::deflate::compress_to_vec(&text, 9);
        std::fs::write(Path::new(&out_dir).join(format!("{name}.deflate")), deflated)?;
    }
    Ok(())
}
