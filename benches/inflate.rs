//! Deflate decoding of ATL06-like chunks: the flate2 backend zagg builds with (zlib-rs)
//! against miniz_oxide (flate2's default backend), in one run, so their ratio is measured on
//! the same machine at the same time.
//!
//! The chunks are 10,000 rows like ATL06's: latitudes and longitudes of a ground track
//! (float64, smooth), heights (float32, noisy) and quality flags (int8), compressed at level
//! 6 as the HDF5 files are. `cargo bench --bench inflate`.

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn compress(raw: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(raw).expect("compress");
    e.finish().expect("compress")
}

/// A deterministic pseudo-random sequence in [0, 1).
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

fn chunks() -> Vec<(&'static str, Vec<u8>, usize)> {
    let n = 10_000;
    let r = noise(n, 0x9e37_79b9_7f4a_7c15);
    let lat: Vec<u8> = (0..n)
        .flat_map(|i| (-70.0 - i as f64 * 1.8e-4).to_le_bytes())
        .collect();
    let lon: Vec<u8> = (0..n)
        .flat_map(|i| (-107.0 + i as f64 * 3.1e-5).to_le_bytes())
        .collect();
    let h: Vec<u8> = (0..n)
        .flat_map(|i| ((1500.0 + 30.0 * r[i]) as f32).to_le_bytes())
        .collect();
    let q: Vec<u8> = (0..n).map(|i| u8::from(r[i] > 0.9)).collect();
    [
        ("latitude", lat),
        ("longitude", lon),
        ("h_li", h),
        ("quality", q),
    ]
    .into_iter()
    .map(|(name, raw)| (name, compress(&raw), raw.len()))
    .collect()
}

fn flate2_inflate(data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut d = flate2::Decompress::new(true);
    d.decompress_vec(data, out, flate2::FlushDecompress::Finish)
        .expect("inflate");
}

fn bench(c: &mut Criterion) {
    let chunks = chunks();
    let mut group = c.benchmark_group("inflate");
    for (name, data, raw) in &chunks {
        group.throughput(Throughput::Bytes(*raw as u64));
        let mut out = Vec::with_capacity(*raw);
        // Both give the original bytes.
        flate2_inflate(data, &mut out);
        let m = miniz_oxide::inflate::decompress_to_vec_zlib(data).expect("miniz");
        assert_eq!(out, m);
        group.bench_function(format!("{name}/zlib-rs"), |b| {
            b.iter(|| {
                flate2_inflate(black_box(data), &mut out);
                black_box(out.len())
            });
        });
        group.bench_function(format!("{name}/miniz_oxide"), |b| {
            b.iter(|| {
                black_box(miniz_oxide::inflate::decompress_to_vec_zlib(black_box(
                    data,
                )))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
