//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod fake_cmr;
pub mod http;
pub mod sphere;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zagg::config::PipelineConfig;
use zagg::granule::{ByteSource, LocalFile};
use zagg::run::{run_local, RunOptions, RunReport};
use zagg::store::Store;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture under `tests/data/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/data/fixtures").join(name)
}

/// The two real ATL06 granules in `../shared/data/atl06-real` (or `$ZAGG_SHARED_DIR`).
pub fn real_granules() -> Vec<PathBuf> {
    let shared = std::env::var_os("ZAGG_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"));
    let dir = shared.join("data/atl06-real");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "h5"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        2,
        "expected the two real granules in {}",
        dir.display()
    );
    files
}

/// Open local files as byte sources.
pub fn sources(paths: &[PathBuf]) -> Vec<Arc<dyn ByteSource>> {
    paths
        .iter()
        .map(|p| Arc::new(LocalFile::open(p).expect("open granule")) as Arc<dyn ByteSource>)
        .collect()
}

/// The built-in config.
pub fn config() -> Arc<PipelineConfig> {
    Arc::new(PipelineConfig::builtin_default().expect("built-in config"))
}

/// Run locally into `dir` with two workers.
pub fn run(
    config: Arc<PipelineConfig>,
    granules: Vec<Arc<dyn ByteSource>>,
    dir: &Path,
) -> RunReport {
    let store = Store::open_local(dir).expect("open store");
    let options = RunOptions {
        jobs: 2,
        aoi: None,
        progress: false,
    };
    run_local(config, granules, &store, &options).expect("run")
}

/// Every file of a directory tree, relative path → bytes.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir)
            .expect("read dir")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .expect("prefix")
                    .display()
                    .to_string();
                out.insert(rel, std::fs::read(&path).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Chunk keys written for one array, as chunk indices.
pub fn chunks(dir: &Path, array: &str) -> Vec<u64> {
    let mut out: Vec<u64> = tree(dir)
        .keys()
        .filter_map(|k| {
            k.strip_prefix(&format!("12/{array}/c/"))
                .and_then(|c| c.parse().ok())
        })
        .collect();
    out.sort_unstable();
    out
}
