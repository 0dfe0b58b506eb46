//! Unit tests of the event types: example round trips, the committed schemas, and that no
//! event can carry a secret.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::*;

/// One realistic example of each event type, by schema stem.
pub(crate) fn examples() -> Vec<(&'static str, Value)> {
    vec![
        (
            "execution_input",
            json!({"cycle": "latest-complete", "aoi": "basins", "config": "atl06",
                   "store": "s3://zagg-output/cycle-latest.zarr", "max_concurrency": 200,
                   "tolerated_failure_percentage": 5.0}),
        ),
        (
            "resolve_event",
            json!({"resolve": {"cycle": "latest-complete", "aoi": "basins", "config": "atl06",
                               "store": "s3://zagg-output/atl06/c{cycle}.zarr", "access": "s3",
                               "max_concurrency": 500, "tolerated_failure_percentage": 5.0}}),
        ),
        (
            "resolve_result",
            json!({"input": {"cycle": 22, "aoi": "basins", "config": "atl06",
                             "store": "s3://zagg-output/atl06/c22.zarr", "access": "s3",
                             "max_concurrency": 500, "tolerated_failure_percentage": 5.0},
                   "complete": true, "report": "s3://zagg-output/atl06/c22.zarr/run.json"}),
        ),
        (
            "catalog_event",
            json!({"cycle": 22, "aoi": "basins", "config": "atl06",
                   "store": "s3://zagg-output/c22.zarr"}),
        ),
        (
            "catalog_result",
            json!({"cycle": 22,
                   "catalog": {"url": "s3://zagg-output/c22.zarr/catalog.json",
                               "bucket": "zagg-output", "path": "c22.zarr/catalog.json"},
                   "meta": {"url": "s3://zagg-output/c22.zarr/catalog.meta.json",
                            "bucket": "zagg-output", "path": "c22.zarr/catalog.meta.json"},
                   "shards": 1330, "granules": 14710, "pairs": 76575, "skipped": 3}),
        ),
        (
            "template_event",
            json!({"store": "s3://zagg-output/c22.zarr", "config": "atl06"}),
        ),
        (
            "template_result",
            json!({"store": "s3://zagg-output/c22.zarr", "leaf_order": 12, "parent_order": 6,
                   "variables": ["count", "h_min", "h_max", "h_mean", "h_sigma",
                                 "h_variance", "h_q25", "h_q50", "h_q75"]}),
        ),
        (
            // A Distributed Map item of catalog.json plus the ItemSelector's run context.
            "process_event",
            json!({"shard": 41066, "morton": -5112333, "parent_order": 6,
                   "granules": [
                       {"s3": "s3://nsidc-cumulus-prod-protected/ATLAS/ATL06/007/2023/12/20/ATL06_20231220111111_00222211_007_01.h5",
                        "https": "https://data.nsidc.earthdatacloud.nasa.gov/nsidc-cumulus-prod-protected/ATLAS/ATL06/007/2023/12/20/ATL06_20231220111111_00222211_007_01.h5",
                        "id": "ATL06_20231220111111_00222211_007_01.h5"},
                       {"s3": null,
                        "https": "https://data.nsidc.earthdatacloud.nasa.gov/nsidc-cumulus-prod-protected/ATLAS/ATL06/007/2024/01/05/ATL06_20240105101010_02502212_007_01.h5",
                        "id": "ATL06_20240105101010_02502212_007_01.h5"}],
                   "store": "s3://zagg-output/c22.zarr", "config": "atl06", "access": "s3"}),
        ),
        (
            "process_result",
            json!({"shard": 41066, "morton": -5112333, "status": "ok",
                   "observations": 88211, "cells": 802, "granules": 2, "granules_read": 1,
                   "granules_failed": 1,
                   "failures": [{"granule": "ATL06_20240105101010_02502212_007_01.h5",
                                 "error": "ATL06_20240105101010_02502212_007_01.h5: the catalog has no s3 URL for it"}],
                   "requests": 41, "bytes": 9_830_400, "seconds": 3.2,
                   "counts": {"beams_read": 6, "beams_missing": 0, "beams_empty": 0,
                              "invalid_positions": 0, "points_in_shard": 90000,
                              "dropped_quality": 1700, "dropped_fill": 89,
                              "dropped_nonfinite": 0, "dropped_weight": 0,
                              "observations": 88211}}),
        ),
        (
            "consolidate_event",
            json!({"store": "s3://zagg-output/c22.zarr", "config": "atl06",
                   "run": "zagg-c22-0123456789ab",
                   "catalog": "s3://zagg-output/c22.zarr/catalog.json", "cycle": 22,
                   "tolerated_failure_percentage": 5.0,
                   "result_manifest": "s3://zagg-output/map-results/0c7d/manifest.json",
                   "map_error": null}),
        ),
        (
            "consolidate_result",
            json!({"version": "0.1.0", "store": "s3://zagg-output/c22.zarr",
                   "report": "s3://zagg-output/c22.zarr/run.json",
                   "run": "zagg-c22-0123456789ab", "cycle": 22,
                   "shards": 1330, "shards_ok": 1301, "shards_empty": 27, "shards_failed": 2,
                   "shards_retried": 1,
                   "failed": [{"shard": 41066, "error": "Zagg.Transient", "attempts": 5,
                               "cause": "store s3://zagg-output/c22.zarr: write 12/h_mean/c/41066: timeout"},
                              {"shard": 41067, "error": "Zagg.NoResult", "attempts": 0,
                               "cause": "no attempt left a result"}],
                   "retried": [{"shard": 40001, "attempts": 2,
                                "errors": [{"error": "Zagg.Transient", "cause": "503"}]}],
                   "failed_percentage": 0.15, "tolerated_failure_percentage": 5.0,
                   "within_tolerance": true,
                   "observations": 151_000_000, "cells": 1_900_000, "granules_failed": 4,
                   "requests": 2_500_000, "bytes": 640_000_000_000_u64,
                   "chunks_written": 83_000, "shard_seconds": 9876.5,
                   "cost": {"lambda_gb_seconds": 19753.0, "lambda_invocations": 1336,
                            "s3_get_requests": 2_500_000, "s3_put_requests": 84_336,
                            "state_transitions": 5338, "lambda_usd": 0.26, "s3_usd": 1.42,
                            "step_functions_usd": 0.13, "total_usd": 1.81,
                            "prices": {"lambda_gb_second": 0.0000133334, "lambda_request": 0.0000002,
                                       "s3_get": 0.0000004, "s3_put": 0.000005,
                                       "state_transition": 0.000025}}}),
        ),
        (
            "shard_record",
            json!({"run": "zagg-c22-0123456789ab", "shard": 40001, "attempts": 2,
                   "earlier_errors": [{"error": "Zagg.Transient", "cause": "503 SlowDown"}],
                   "result": {"shard": 40001, "morton": -5112333, "status": "ok",
                              "observations": 10, "cells": 3, "granules": 1, "granules_read": 1,
                              "granules_failed": 0, "failures": [], "requests": 4,
                              "bytes": 4_000_000, "seconds": 1.5, "chunks_written": 63,
                              "memory_mb": 2048,
                              "counts": {"beams_read": 6, "beams_missing": 0, "beams_empty": 0,
                                         "invalid_positions": 0, "points_in_shard": 10,
                                         "dropped_quality": 0, "dropped_fill": 0,
                                         "dropped_nonfinite": 0, "dropped_weight": 0,
                                         "observations": 10}}}),
        ),
    ]
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &Value) {
    let t: T = serde_json::from_value(v.clone()).expect("example parses");
    let back = serde_json::to_value(&t).expect("serialise");
    let again: T = serde_json::from_value(back).expect("re-parse");
    assert_eq!(t, again);
}

#[test]
fn examples_round_trip() {
    for (name, v) in examples() {
        match name {
            "execution_input" => round_trip::<ExecutionInput>(&v),
            "catalog_event" => round_trip::<CatalogEvent>(&v),
            "catalog_result" => round_trip::<CatalogResult>(&v),
            "template_event" => round_trip::<TemplateEvent>(&v),
            "template_result" => round_trip::<TemplateResult>(&v),
            "process_event" => round_trip::<ProcessEvent>(&v),
            "process_result" => round_trip::<ProcessResult>(&v),
            "consolidate_event" => round_trip::<ConsolidateEvent>(&v),
            "consolidate_result" => round_trip::<ConsolidateResult>(&v),
            "shard_record" => round_trip::<ShardRecord>(&v),
            "resolve_event" => round_trip::<ResolveEvent>(&v),
            "resolve_result" => round_trip::<ResolveResult>(&v),
            other => panic!("no type for example {other}"),
        }
    }
}

#[test]
fn examples_match_their_schemas() {
    let schemas: std::collections::BTreeMap<_, _> = schemas().into_iter().collect();
    assert_eq!(schemas.len(), examples().len());
    for (name, v) in examples() {
        let schema: Value = serde_json::from_str(&schemas[name]).expect("schema JSON");
        let validator = jsonschema::validator_for(&schema).expect("valid schema");
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn the_cycle_fills_the_store_template() {
    let e: ExecutionInput = serde_json::from_value(json!({
        "cycle": "latest-complete", "store": "s3://b/atl06/c{cycle}.zarr",
        "catalog_prefix": "s3://b/catalogs/{cycle}"}))
    .expect("parse");
    let r = e.for_cycle(7);
    assert_eq!(r.cycle, CycleInput::Number(7));
    assert_eq!(r.store, "s3://b/atl06/c07.zarr");
    assert_eq!(r.catalog_prefix.as_deref(), Some("s3://b/catalogs/07"));
    assert_eq!(
        r.for_cycle(22).store,
        "s3://b/atl06/c07.zarr",
        "already filled"
    );
    let plain: ExecutionInput =
        serde_json::from_value(json!({"cycle": 22, "store": "s3://b/x.zarr"})).expect("parse");
    assert_eq!(plain.for_cycle(22), plain);
}

#[test]
fn execution_input_defaults_and_cycle_forms() {
    let e: ExecutionInput =
        serde_json::from_value(json!({"cycle": 22, "store": "s3://b/c22.zarr"})).expect("parse");
    assert_eq!(e.cycle, CycleInput::Number(22));
    assert_eq!(e.cycle.spec(), CycleSpec::Number(22));
    assert_eq!(e.aoi, "basins");
    assert_eq!(e.config, "atl06");
    assert_eq!(e.access, AccessInput::S3);
    assert_eq!(e.max_concurrency, None);
    let e: ExecutionInput = serde_json::from_value(
        json!({"cycle": "latest-complete", "store": "s3://b/x.zarr", "access": "https"}),
    )
    .expect("parse");
    assert_eq!(e.cycle.spec(), CycleSpec::LatestComplete);
    assert_eq!(Access::from(e.access), Access::Https);
    for bad in [
        json!({"cycle": "latest", "store": "s"}),
        json!({"cycle": -1, "store": "s"}),
        json!({"cycle": 22}),
        json!({"cycle": 22, "store": "s", "granules": ["a.h5"]}),
    ] {
        assert!(
            serde_json::from_value::<ExecutionInput>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn a_catalog_item_is_a_process_event_with_context() {
    let item = json!({"shard": 41066, "morton": -5112333, "parent_order": 6,
                      "granules": [{"s3": "s3://b/g.h5", "https": null, "id": "g.h5"}]});
    let catalog_item: CatalogItem = serde_json::from_value(item.clone()).expect("item");
    let mut event = item;
    event["store"] = json!("s3://out/c22.zarr");
    let e: ProcessEvent = serde_json::from_value(event).expect("event");
    assert_eq!(e.item(), catalog_item);
    assert_eq!(e.config, "atl06");
    assert_eq!(e.access, AccessInput::S3);
}

/// Names that would hold a secret.
fn secret_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "key",
        "secret",
        "token",
        "password",
        "passwd",
        "credential",
        "auth",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn object_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                object_names(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| object_names(x, out)),
        _ => {}
    }
}

#[test]
fn no_event_can_hold_a_secret() {
    // Every field of every example...
    for (name, v) in examples() {
        let mut names = Vec::new();
        object_names(&v, &mut names);
        let bad: Vec<_> = names.iter().filter(|n| secret_like(n)).collect();
        assert!(bad.is_empty(), "{name}: {bad:?}");
    }
    // ...and every property any schema allows (examples may leave optional fields out).
    for (name, text) in schemas() {
        let schema: Value = serde_json::from_str(&text).expect("schema");
        let mut props = Vec::new();
        collect_properties(&schema, &mut props);
        let bad: Vec<_> = props.iter().filter(|n| secret_like(n)).collect();
        assert!(bad.is_empty(), "{name}: {bad:?}");
        assert!(!props.is_empty(), "{name}: no properties found");
    }
}

fn collect_properties(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(p)) = m.get("properties") {
                out.extend(p.keys().cloned());
            }
            m.values().for_each(|x| collect_properties(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_properties(x, out)),
        _ => {}
    }
}

#[test]
fn committed_event_schemas_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/schema/events");
    let update = std::env::var_os("ZAGG_UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (stem, text) in schemas() {
        let path = dir.join(format!("{stem}.schema.json"));
        if std::fs::read_to_string(&path).unwrap_or_default() != text {
            if update {
                std::fs::create_dir_all(&dir).expect("create schema dir");
                std::fs::write(&path, &text).expect("write schema");
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    // No schema files of types that no longer exist.
    let known: Vec<String> = schemas()
        .iter()
        .map(|(s, _)| format!("{s}.schema.json"))
        .collect();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !known.contains(&name) {
            stale.push(format!("{} (no such event type)", entry.path().display()));
        }
    }
    assert!(
        stale.is_empty(),
        "stale event schemas: {stale:?}; regenerate with \
         `ZAGG_UPDATE_SCHEMAS=1 cargo test committed_event_schemas_are_current`"
    );
}
