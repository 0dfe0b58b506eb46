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
        resume: true,
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

/// A store's objects with what legitimately differs between two runs of the same inputs
/// taken out of the run report (`run.json`) and the local journal (`runs/…json`): start
/// times, durations and the store's own location. Every other byte must be equal.
pub fn without_timing(mut objects: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for k in ["seconds", "started_unix", "store"] {
                    map.remove(k);
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    for (key, bytes) in objects.iter_mut() {
        if key == "run.json" || (key.starts_with("runs/") && key.ends_with(".json")) {
            let mut v: serde_json::Value = serde_json::from_slice(bytes).expect("report JSON");
            strip(&mut v);
            *bytes = serde_json::to_vec(&v).expect("encode");
        }
    }
    objects
}

/// The store's data and metadata without the run's records (`run.json` and the journal
/// under `runs/`), which name the granules: for comparing stores made from differently named
/// copies of the same granules.
pub fn data_only(mut objects: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    objects.retain(|k, _| k != "run.json" && !k.starts_with("runs/"));
    objects
}

/// Assert two stores hold the same objects, byte for byte but for [`without_timing`].
pub fn assert_same_store(a: BTreeMap<String, Vec<u8>>, b: BTreeMap<String, Vec<u8>>, what: &str) {
    let (a, b) = (without_timing(a), without_timing(b));
    assert!(a.len() > 10, "{what}: only {} objects", a.len());
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: different objects"
    );
    for (k, v) in &a {
        assert!(
            b[k] == *v,
            "{what}: {k} differs:\n{}\n{}",
            String::from_utf8_lossy(v)
                .chars()
                .take(400)
                .collect::<String>(),
            String::from_utf8_lossy(&b[k])
                .chars()
                .take(400)
                .collect::<String>()
        );
    }
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
