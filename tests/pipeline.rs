//! End-to-end behaviour of the local pipeline on the demo, real and fixture granules.

mod common;

use std::sync::Arc;

use common::*;
use zagg::config::PipelineConfig;
use zagg::shard::{process_shard, ShardContext, ShardStatus};
use zagg::store::{Store, StoreError};

#[test]
fn demo_run_writes_a_complete_consolidated_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(config(), zagg::demo::demo_sources(), dir.path());
    assert_eq!(report.granules, 4);
    assert!(report.granules_failed.is_empty());
    assert!(
        report.shards_failed.is_empty(),
        "{:?}",
        report.shards_failed
    );
    assert!(report.shards_ok >= 4, "{}", report.summary());
    assert!(report.counts.observations > 300_000, "{}", report.summary());
    // The demo has a missing beam, an empty beam, bad-quality and fill rows.
    assert!(report.counts.beams_missing > 0 && report.counts.beams_empty > 0);
    assert!(report.counts.dropped_quality > 0 && report.counts.dropped_fill > 0);

    // One chunk per array per shard with data, and nothing else.
    let shards: Vec<u64> = report
        .shard_reports
        .iter()
        .filter(|r| r.status == ShardStatus::Ok)
        .map(|r| r.shard)
        .collect();
    for array in ["cell_ids", "morton", "count", "h_mean", "h_q75"] {
        assert_eq!(chunks(dir.path(), array), shards, "chunks of {array}");
    }

    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("zarr.json")).expect("root"))
            .expect("json");
    let consolidated = &root["consolidated_metadata"];
    assert_eq!(consolidated["kind"], "inline");
    assert_eq!(
        consolidated["metadata"]["12/h_mean"]["data_type"],
        "float32"
    );
    assert_eq!(consolidated["metadata"]["12/count"]["data_type"], "int32");
    assert_eq!(
        consolidated["metadata"]["12"]["attributes"]["dggs"]["refinement_level"],
        12
    );
    assert!(root["attributes"]["zagg"]["config"].is_object());
    let group: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("12/zarr.json")).expect("group"))
            .expect("json");
    assert_eq!(group["attributes"]["dggs"]["ellipsoid"]["name"], "WGS84");
    let array: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("12/h_mean/zarr.json")).expect("array"),
    )
    .expect("json");
    assert_eq!(array["shape"][0], 12u64 << 24);
    assert_eq!(array["chunk_grid"]["configuration"]["chunk_shape"][0], 4096);
    assert_eq!(array["dimension_names"][0], "cells");
    assert!(array["attributes"].get("_zarrs").is_none());

    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(
        run_json["counts"]["observations"],
        report.counts.observations
    );
}

#[test]
fn runs_are_idempotent_and_byte_identical() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let granules = sources(&real_granules());
    let first = run(config(), granules.clone(), a.path());
    run(config(), granules.clone(), b.path());
    assert_same_store(tree(a.path()), tree(b.path()), "two runs into two stores");
    // Rerun into the first store: every shard is taken from the journal, same bytes.
    let again = run(config(), granules.clone(), a.path());
    assert_eq!(again.shards_resumed, first.shards_ok + first.shards_empty);
    assert_same_store(tree(a.path()), tree(b.path()), "a resumed rerun");
    // And processing everything again changes nothing either.
    let store = Store::open_local(a.path()).expect("store");
    let options = zagg::run::RunOptions {
        jobs: 2,
        resume: false,
        ..Default::default()
    };
    let redone = zagg::run::run_local(config(), granules, &store, &options).expect("run");
    assert_eq!(redone.shards_resumed, 0);
    assert_same_store(tree(a.path()), tree(b.path()), "a rerun without resume");
}

#[test]
fn one_shard_by_process_equals_that_shard_of_a_run() {
    let run_dir = tempfile::tempdir().expect("tempdir");
    let granules = sources(&real_granules());
    let report = run(config(), granules.clone(), run_dir.path());
    let shard = report
        .shard_reports
        .iter()
        .find(|r| r.status == ShardStatus::Ok)
        .expect("a shard");

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_local(dir.path()).expect("store");
    store.create_template(&config()).expect("template");
    let ctx = ShardContext::new(config()).expect("context");
    let single = process_shard(&ctx, shard.shard, &granules, &store).expect("process");
    // `process` read both granules, the run only the one that touches the shard.
    assert_eq!(single.counts.observations, shard.counts.observations);
    assert_eq!(single.counts.points_in_shard, shard.counts.points_in_shard);
    assert_eq!(single.cells, shard.cells);
    let whole = tree(run_dir.path());
    for (k, v) in tree(dir.path()).iter().filter(|(k, _)| k.contains("/c/")) {
        assert!(
            k.ends_with(&format!("/c/{}", shard.shard)),
            "unexpected chunk {k}"
        );
        assert!(whole.get(k) == Some(v), "{k} differs");
    }
}

#[test]
fn every_hdf5_layout_gives_the_same_store() {
    // superblock 0 + v1 B-tree, superblock 3 + extensible array: same content.
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    run(
        config(),
        sources(&[fixture("libver_earliest.h5")]),
        a.path(),
    );
    run(config(), sources(&[fixture("libver_latest.h5")]), b.path());
    let (ta, tb) = (data_only(tree(a.path())), data_only(tree(b.path())));
    assert!(ta.keys().any(|k| k.contains("/c/")));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(tb[k] == *v, "{k} differs between layouts");
    }
}

#[test]
fn store_refuses_another_config_and_needs_a_template() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_local(dir.path()).expect("store");
    let ctx = ShardContext::new(config()).expect("context");
    let e = process_shard(&ctx, 41054, &[], &store)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("shard 41054: store ") && e.contains("no zagg template found"),
        "{e}"
    );
    assert!(matches!(
        store.check_template(&config()),
        Err(StoreError::NoTemplate { .. })
    ));

    store.create_template(&config()).expect("template");
    store
        .create_template(&config())
        .expect("template again is a no-op");
    let text = zagg::config::BUILTIN_CONFIGS[0]
        .1
        .replace("ellipsoid: WGS84", "ellipsoid: sphere");
    let sphere = Arc::new(PipelineConfig::from_yaml(&text, "sphere").expect("config"));
    let e = store.create_template(&sphere).unwrap_err().to_string();
    assert!(e.contains("created with a different config"), "{e}");
    assert!(
        e.contains("config.grid.ellipsoid is \"WGS84\" in the store, \"sphere\" in this config"),
        "{e}"
    );
}

#[test]
fn bad_shard_ids_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_local(dir.path()).expect("store");
    store.create_template(&config()).expect("template");
    let ctx = ShardContext::new(config()).expect("context");
    let e = process_shard(&ctx, 49152, &[], &store)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "shard 49152: not a cell at order 6 (there are 49152 cells)"
    );
}
