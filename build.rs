//! The built-in tool specs are embedded with `include_dir!`, which Cargo does not track:
//! rebuild whenever anything under tools.d/ changes.
fn main() {
    println!("cargo:rerun-if-changed=tools.d");
}
