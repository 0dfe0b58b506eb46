//! Embeds the demo granules (`tests/data/demo/*.h5`) so `zagg run` works offline from any
//! directory.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not when it was compiled: a build script binary reused from
    // another checkout must still embed this checkout's files.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&manifest).join("tests/data/demo");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "h5"))
            .collect(),
        Err(e) => panic!("cannot read the demo granules in {}: {e}", dir.display()),
    };
    if names.is_empty() {
        panic!("no demo granules (*.h5) in {}", dir.display());
    }
    names.sort();
    let mut code = String::from("/// The embedded demo granules: (file name, bytes).\npub static DEMO_GRANULES: &[(&str, &[u8])] = &[\n");
    for path in &names {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let _ = writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("demo_granules.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
