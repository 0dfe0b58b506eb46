//! One dense shard end to end: `process_shard` for shard 41054 over full-length granules
//! (read, hash, filter, aggregate with the pyramid, write into a local store).
//!
//! The granules are generated, not committed: `scripts/make_dense_shard.py /tmp/dense/g
//! --granules 10`, then `ZAGG_BENCH_GRANULES=/tmp/dense/g cargo bench --bench shard`. The
//! first 10 `*.h5` files of that directory (by name) are used; without the variable or the
//! files the bench prints why and does nothing. Results are in `docs/benchmarks.md`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zagg::config::PipelineConfig;
use zagg::granule::{open_source, ByteSource};
use zagg::shard::{process_shard, ShardContext};
use zagg::store::Store;

const SHARD: u64 = 41054;
const GRANULES: usize = 10;

/// The first `GRANULES` granules of `$ZAGG_BENCH_GRANULES`, or why there are none.
fn granules() -> Result<Vec<PathBuf>, String> {
    let dir = std::env::var_os("ZAGG_BENCH_GRANULES")
        .ok_or("ZAGG_BENCH_GRANULES is not set (see scripts/make_dense_shard.py)")?;
    let dir = PathBuf::from(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "h5"))
        .collect();
    files.sort();
    files.truncate(GRANULES);
    if files.is_empty() {
        return Err(format!("no *.h5 granules in {}", dir.display()));
    }
    Ok(files)
}

fn bench_shard(c: &mut Criterion) {
    let paths = match granules() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("shard bench skipped: {why}");
            return;
        }
    };
    let config = Arc::new(PipelineConfig::builtin_default().expect("built-in config"));
    let ctx = ShardContext::new(config.clone()).expect("shard context");
    let sources: Vec<Arc<dyn ByteSource>> = paths
        .iter()
        .map(|p| open_source(&p.display().to_string()).expect("open granule"))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_local(dir.path()).expect("open store");
    store.create_template(&config).expect("template");
    let observations = process_shard(&ctx, SHARD, &sources, &store)
        .expect("process shard")
        .counts
        .observations;
    eprintln!(
        "shard {SHARD}: {} granules, {observations} observations",
        sources.len()
    );

    let mut group = c.benchmark_group("shard");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(observations));
    group.bench_function(format!("process/{SHARD}/{}_granules", sources.len()), |b| {
        b.iter(|| black_box(process_shard(&ctx, SHARD, &sources, &store).expect("process shard")))
    });
    group.finish();
}

criterion_group!(benches, bench_shard);
criterion_main!(benches);
