//! Every bad granule gives a clear error naming the granule, the dataset and the cause; the
//! rest of the shard completes; nothing panics. Fixtures: `tests/data/gen_granules.py`.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use zagg::granule::{ByteSource, Granule, MemorySource};
use zagg::shard::{process_shard, read_shard_points, Counts, ShardContext, ShardStatus};
use zagg::store::Store;

/// Every fixture lies in this order-6 shard (West Antarctica).
const SHARD: u64 = 41054;

fn expected() -> serde_json::Value {
    let path = fixture("expected.json");
    serde_json::from_slice(&std::fs::read(path).expect("expected.json")).expect("json")
}

/// Process one shard of `good + bad` granules; return the failure text of `bad`.
fn failure_of(bad: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_local(dir.path()).expect("store");
    store.create_template(&config()).expect("template");
    let ctx = ShardContext::new(config()).expect("context");
    let good = fixture("libver_latest.h5");
    let granules = sources(&[good.clone(), fixture(bad)]);
    let with_bad = process_shard(&ctx, SHARD, &granules, &store).expect("shard completes");
    let alone = process_shard(&ctx, SHARD, &sources(&[good]), &store).expect("shard completes");
    // The good granule's rows are all there, the bad one contributes nothing.
    assert_eq!(with_bad.status, ShardStatus::Ok);
    assert_eq!(with_bad.counts, alone.counts, "{bad}");
    assert_eq!(with_bad.granules_failed.len(), 1, "{bad}");
    let failure = &with_bad.granules_failed[0];
    assert_eq!(failure.granule, fixture(bad).display().to_string());
    failure.error.clone()
}

#[test]
fn truncated_file() {
    let e = failure_of("truncated.h5");
    assert!(
        e.starts_with(&format!("granule {}: ", fixture("truncated.h5").display())),
        "{e}"
    );
    assert!(e.contains("unexpected end of data"), "{e}");
}

#[test]
fn a_huge_declared_extent_is_refused_not_allocated() {
    // 10^9 rows declared (8 GB of latitudes), one chunk stored.
    let e = failure_of("huge_extent.h5");
    assert!(e.contains("/gt1l/land_ice_segments/latitude"), "{e}");
    assert!(e.contains("read limit"), "{e}");
}

#[test]
fn corrupt_deflate_stream() {
    let e = failure_of("corrupt_deflate.h5");
    assert!(
        e.contains(
            "/gt2l/land_ice_segments/h_li: decompression error: DEFLATE decompression failed: deflate decompression error"
        ),
        "{e}"
    );
}

#[test]
fn wrong_dtype() {
    let e = failure_of("wrong_dtype.h5");
    assert!(
        e.ends_with(
            "/gt1l/land_ice_segments/h_li: expected float32 or float64 values, found a string type"
        ),
        "{e}"
    );
    let e = failure_of("wrong_dtype_int16.h5");
    assert!(
        e.ends_with(
            "/gt1l/land_ice_segments/h_li: expected float32 or float64 values, found int16"
        ),
        "{e}"
    );
}

#[test]
fn missing_dataset() {
    let e = failure_of("missing_dataset.h5");
    assert!(
        e.ends_with("/gt1r/land_ice_segments/h_li_sigma: not found"),
        "{e}"
    );
}

#[test]
fn not_hdf5_and_empty_files() {
    let e = failure_of("not_hdf5.h5");
    assert!(e.ends_with("cannot open: invalid HDF5 magic bytes"), "{e}");
    let e = failure_of("empty_file.h5");
    assert!(
        e.ends_with("cannot open: the file is empty (0 bytes)"),
        "{e}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let e = zagg::granule::LocalFile::open("/nonexistent/ATL06_x.h5")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "granule /nonexistent/ATL06_x.h5: cannot open: No such file or directory (os error 2)"
    );
    let e = zagg::granule::LocalFile::open("/tmp")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "granule /tmp: cannot open: not a regular file");
}

fn counts_of(path: PathBuf) -> Counts {
    let ctx = ShardContext::new(config()).expect("context");
    let source: Arc<dyn ByteSource> =
        Arc::new(zagg::granule::LocalFile::open(&path).expect("open"));
    let granule = Granule::open(source).expect("granule");
    let mut points = zagg::aggregate::Aggregator::new(&config()).buffer();
    let mut counts = Counts::default();
    read_shard_points(&ctx, &granule, SHARD, &mut points, &mut counts).expect("read");
    assert_eq!(points.len() as u64, counts.observations);
    counts
}

#[test]
fn nan_inf_and_out_of_range_positions_are_dropped_and_counted() {
    let c = counts_of(fixture("nan_inf.h5"));
    let beam = &expected()["nan_inf.h5"]["beams"]["gt1l"];
    let n = |k: &str| beam[k].as_u64().expect(k);
    // NaN/±inf in h_li or h_li_sigma; rows with two bad values count once.
    assert_eq!(c.invalid_positions, n("lat_out_of_range") + n("lon_nan"));
    assert_eq!(c.dropped_nonfinite, 21);
    assert_eq!(c.dropped_quality, 0);
    assert_eq!(c.observations, 2374);
}

#[test]
fn fill_values_are_dropped_and_counted() {
    // Over every shard the granule touches (its long beam leaves shard 41054).
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(
        config(),
        sources(&[fixture("libver_latest.h5")]),
        dir.path(),
    );
    let beams = expected()["libver_latest.h5"]["beams"]
        .as_object()
        .expect("beams")
        .clone();
    let sum = |k: &str| -> u64 { beams.values().map(|b| b[k].as_u64().unwrap_or(0)).sum() };
    // Rows with a fill value in h_li or h_li_sigma that pass the quality filter are dropped
    // as fill; every other good row is aggregated.
    assert!(sum("fill_rows_with_quality_0") > 0);
    assert_eq!(report.counts.dropped_fill, sum("fill_rows_with_quality_0"));
    assert_eq!(report.counts.dropped_quality, sum("quality_bad"));
    assert_eq!(report.counts.observations, sum("usable"));
}

#[test]
fn duplicate_granules_are_read_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_local(dir.path()).expect("store");
    store.create_template(&config()).expect("template");
    let ctx = ShardContext::new(config()).expect("context");
    let good = fixture("libver_latest.h5");
    let once =
        process_shard(&ctx, SHARD, &sources(std::slice::from_ref(&good)), &store).expect("shard");
    let twice = process_shard(
        &ctx,
        SHARD,
        &sources(&[good.clone(), fixture("nan_inf.h5"), good]),
        &store,
    )
    .expect("shard");
    let with_other = process_shard(
        &ctx,
        SHARD,
        &sources(&[fixture("libver_latest.h5"), fixture("nan_inf.h5")]),
        &store,
    )
    .expect("shard");
    assert_eq!(once.counts.duplicate_granules, 0);
    assert_eq!(twice.counts.duplicate_granules, 1);
    assert!(twice.granules_failed.is_empty());
    assert_eq!(twice.granule_reads.len(), 2, "each granule read once");
    assert_eq!(
        twice.counts.observations, with_other.counts.observations,
        "no row counted twice"
    );
}

#[test]
fn zero_length_and_missing_beams_are_counted_not_failed() {
    // Demo granule with an empty gt2l (zero-length datasets) and one without gt3r.
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo");
    let granules = [
        demo.join("ATL06_20240126035118_03392212_006_01.h5"),
        demo.join("ATL06_20240216140209_06522210_006_01.h5"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(config(), sources(&granules), dir.path());
    assert!(report.granules_failed.is_empty() && report.shards_failed.is_empty());
    assert!(report.counts.beams_empty > 0, "{:?}", report.counts);
    assert!(report.counts.beams_missing > 0, "{:?}", report.counts);
    assert!(report.counts.observations > 0);
}

#[test]
fn all_bad_quality_gives_an_empty_shard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_local(dir.path()).expect("store");
    store.create_template(&config()).expect("template");
    let ctx = ShardContext::new(config()).expect("context");
    let r = process_shard(
        &ctx,
        SHARD,
        &sources(&[fixture("all_bad_quality.h5")]),
        &store,
    )
    .expect("shard");
    assert_eq!(r.status, ShardStatus::Empty);
    assert_eq!(r.counts.observations, 0);
    assert_eq!(r.counts.dropped_quality, r.counts.points_in_shard);
    assert!(
        chunks(dir.path(), "count").is_empty(),
        "an empty shard writes nothing"
    );
}

#[test]
fn a_shard_whose_granules_all_fail_is_failed_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_local(dir.path()).expect("store");
    store.create_template(&config()).expect("template");
    let ctx = ShardContext::new(config()).expect("context");
    let r = process_shard(
        &ctx,
        SHARD,
        &sources(&[fixture("corrupt_deflate.h5"), fixture("truncated.h5")]),
        &store,
    )
    .expect("shard");
    assert_eq!(r.status, ShardStatus::Failed);
    assert_eq!(r.granules_failed.len(), 2);
    assert!(chunks(dir.path(), "count").is_empty());
}

#[test]
fn arbitrary_bytes_never_panic() {
    // Prefixes of a valid granule and byte-flipped copies: errors, never panics.
    let bytes = std::fs::read(fixture("libver_latest.h5")).expect("read");
    let ctx = ShardContext::new(config()).expect("context");
    let mut cases: Vec<Vec<u8>> = [0, 8, 64, 512, 4096, bytes.len() / 3]
        .iter()
        .map(|&n| bytes[..n].to_vec())
        .collect();
    for step in [97usize, 1009, 7919] {
        let mut b = bytes.clone();
        for i in (0..b.len()).step_by(step) {
            b[i] ^= 0x5a;
        }
        cases.push(b);
    }
    for (i, case) in cases.into_iter().enumerate() {
        let source: Arc<dyn ByteSource> = Arc::new(MemorySource::new(format!("case{i}"), case));
        if let Ok(granule) = Granule::open(source) {
            let mut points = zagg::aggregate::Aggregator::new(&config()).buffer();
            let mut counts = Counts::default();
            let _ = read_shard_points(&ctx, &granule, SHARD, &mut points, &mut counts);
        }
    }
}

#[test]
fn pole_and_antimeridian_track_keeps_every_point() {
    // Every point of the track lands in exactly one shard: the sum over the shards the
    // granule touches equals the granule's valid rows.
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(
        config(),
        sources(&[fixture("pole_and_antimeridian.h5")]),
        dir.path(),
    );
    let beams = &expected()["pole_and_antimeridian.h5"]["beams"];
    let usable: u64 = beams
        .as_object()
        .expect("beams")
        .values()
        .map(|b| b["usable"].as_u64().expect("usable"))
        .sum();
    assert_eq!(report.counts.observations, usable, "{}", report.summary());
    assert!(report.shards_ok >= 2);
}
