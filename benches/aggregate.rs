//! Shard aggregation (leaf order, and with the pyramid) and shard extraction throughput.
//!
//! `cargo bench --bench aggregate` — results and the machine are recorded in
//! `docs/benchmarks.md`. Throughput is reported in points (rows) per second.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use zagg::aggregate::{Aggregator, PointBuffer};
use zagg::config::PipelineConfig;
use zagg::granule::Granule;
use zagg::shard::{read_shard_points, Counts, ShardContext};

/// A dense shard at real density: `n` points along 36 track segments (6 beams × 6 granules)
/// crossing the shard, so ~1/4 of the 4096 cells are occupied with ~100 points each.
fn dense_shard(agg: &Aggregator, n: usize) -> PointBuffer {
    let mut buf = agg.buffer();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tracks = 36;
    for i in 0..n {
        let track = (i % tracks) as u64;
        let along = (i / tracks) as u64;
        // Each track runs diagonally through the 64×64 leaf grid of the shard.
        let x = (along * 64 / (n as u64 / tracks as u64 + 1)) % 64;
        let y = (track * 7 + x / 2) % 64;
        let leaf = (y * 64 + x) as u32;
        let h = 1500.0 + (next() % 10_000) as f64 * 1e-3;
        let s = 0.02 + (next() % 480) as f64 * 1e-3;
        buf.push(leaf, &[f64::from(h as f32), f64::from(s as f32)]);
    }
    buf
}

fn bench_aggregate(c: &mut Criterion) {
    let config = PipelineConfig::builtin_default().expect("config");
    let agg = Aggregator::new(&config);
    let mut group = c.benchmark_group("aggregate");
    for n in [10_000usize, 110_000, 400_000] {
        let points = dense_shard(&agg, n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("shard", n), &points, |b, p| {
            b.iter(|| black_box(agg.aggregate(black_box(p))))
        });
    }
    group.finish();
}

/// The leaf order plus the six pyramid orders of the built-in config (11..6), as a shard
/// computes them before writing.
fn bench_pyramid(c: &mut Criterion) {
    let config = PipelineConfig::builtin_default().expect("config");
    let agg = Aggregator::new(&config);
    let orders = config.grid.orders();
    let mut group = c.benchmark_group("pyramid");
    for n in [110_000usize, 400_000] {
        let points = dense_shard(&agg, n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("shard_levels", n), &points, |b, p| {
            b.iter(|| {
                let bucketed = agg.bucket(black_box(p));
                black_box(zagg::pyramid::shard_levels(&agg, &bucketed, 12, &orders))
            })
        });
    }
    group.finish();
}

fn bench_extract(c: &mut Criterion) {
    // Read + filter + hash one demo granule for its densest shard (in memory: no I/O).
    let config = Arc::new(PipelineConfig::builtin_default().expect("config"));
    let ctx = ShardContext::new(config.clone()).expect("context");
    let source = zagg::demo::demo_sources().remove(0);
    let granule = Granule::open(source.clone()).expect("granule");
    let parent =
        zagg::grid::Hasher::new(config.grid.parent_order, config.grid.ellipsoid).expect("hasher");
    let shards = zagg::run::granule_shards(&config, &parent, source.clone()).expect("shards");
    let (shard, rows) = shards
        .iter()
        .map(|&s| {
            let mut p = ctx_buffer(&config);
            let mut counts = Counts::default();
            read_shard_points(&ctx, &granule, s, &mut p, &mut counts).expect("read");
            (s, counts.points_in_shard)
        })
        .max_by_key(|&(_, n)| n)
        .expect("a shard");
    let mut group = c.benchmark_group("extract");
    group.sample_size(20);
    group.throughput(Throughput::Elements(rows));
    group.bench_function("demo_granule_densest_shard", |b| {
        b.iter(|| {
            let granule = Granule::open(source.clone()).expect("granule");
            let mut p = ctx_buffer(&config);
            let mut counts = Counts::default();
            read_shard_points(&ctx, &granule, shard, &mut p, &mut counts).expect("read");
            black_box(p.len())
        })
    });
    group.finish();
}

fn ctx_buffer(config: &PipelineConfig) -> PointBuffer {
    Aggregator::new(config).buffer()
}

fn bench_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("hash");
    let n = 100_000;
    let pts: Vec<(f64, f64)> = (0..n)
        .map(|i| (-75.0 - (i as f64) * 3e-5, -107.0 + (i as f64) * 1e-5))
        .collect();
    group.throughput(Throughput::Elements(n as u64));
    for (name, e) in [
        ("wgs84", zagg::grid::Ellipsoid::Wgs84),
        ("sphere", zagg::grid::Ellipsoid::Sphere),
    ] {
        let h = zagg::grid::Hasher::new(12, e).expect("hasher");
        group.bench_function(name, |b| {
            b.iter(|| {
                pts.iter()
                    .map(|&(la, lo)| h.hash(la, lo).unwrap_or(0))
                    .fold(0u64, u64::wrapping_add)
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_aggregate,
    bench_pyramid,
    bench_extract,
    bench_hash
);
criterion_main!(benches);
