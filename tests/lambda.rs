//! The Lambda stage functions (`zagg::lambda`) on local stores: the whole chain catalog →
//! template → process (every item of the catalog) → consolidate against a fake CMR serving
//! the demo granules, and one failure per `errorType`.

mod common;

use std::time::Duration;

use common::fake_cmr::{load_items, FakeCmr};
use common::http::{serve, Response};
use common::{fixture, root};
use serde_json::{json, Value};
use zagg::catalog::Catalog;
use zagg::events::{
    CatalogEvent, CatalogResult, ConsolidateEvent, ConsolidateResult, ProcessResult,
};
use zagg::lambda::{handle, ErrorKind, Services, Stage};
use zagg::shard::ShardStatus;
use zagg::source::CloudOptions;
use zagg::web::RetryPolicy;

fn services(cmr_url: &str) -> Services {
    let mut s = Services::new(CloudOptions::default(), None);
    s.cmr_url = cmr_url.to_string();
    s.cmr_retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        timeout: Duration::from_secs(10),
    };
    s
}

fn run<T: serde::de::DeserializeOwned>(stage: Stage, s: &Services, event: Value) -> T {
    let out = handle(stage, s, event).unwrap_or_else(|e| panic!("{}: {e:?}", stage.name()));
    serde_json::from_value(out).expect("result type")
}

fn error_type(stage: Stage, s: &Services, event: Value) -> (String, String) {
    let e = handle(stage, s, event).expect_err("the stage should fail");
    (e.error_type().to_string(), e.message)
}

#[test]
fn catalog_template_process_consolidate_on_a_local_store() {
    let cmr = FakeCmr::start(load_items(
        &root().join("tests/data/cmr/demo_cycle22.json"),
        &root().join("tests/data/demo"),
    ));
    let s = services(&cmr.url);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("c22.zarr").display().to_string();

    let cat: CatalogResult = run(
        Stage::Catalog,
        &s,
        serde_json::to_value(CatalogEvent {
            cycle: zagg::events::CycleInput::Number(22),
            aoi: "basins".into(),
            config: "atl06".into(),
            store: store.clone(),
            product_version: Some("006".into()),
            catalog_prefix: None,
            access: zagg::events::AccessInput::Https,
            max_concurrency: Some(10),
            tolerated_failure_percentage: Some(5.0),
        })
        .expect("event"),
    );
    assert_eq!(cat.cycle, 22);
    assert_eq!(cat.granules, 4);
    assert!(cat.shards > 0);
    assert_eq!(cat.catalog.url, format!("{store}/catalog.json"));
    assert_eq!(cat.catalog.bucket, None);
    let items: Catalog = serde_json::from_slice(&std::fs::read(&cat.catalog.url).expect("read"))
        .expect("catalog.json");
    assert_eq!(items.0.len() as u64, cat.shards);
    assert!(std::path::Path::new(&cat.meta.url).exists());

    let t = run::<Value>(
        Stage::Template,
        &s,
        json!({"store": store, "config": "atl06"}),
    );
    assert_eq!(t["parent_order"], 6);

    // Each Map iteration: the catalog item as read from catalog.json, plus the ItemSelector's
    // context. The demo CMR's https URLs are file:// URLs of the demo granules.
    // As the state machine runs them: with the execution name as `run`, so each shard's
    // outcome is recorded. The first shard's first attempt fails (its granule is not
    // there) and is retried; the last shard never runs.
    let mut results = Vec::new();
    let all_items = serde_json::to_value(&items).expect("items");
    let all_items = all_items.as_array().expect("array");
    assert!(all_items.len() >= 2, "the demo crosses several shards");
    for (i, item) in all_items.iter().enumerate() {
        let mut event = item.clone();
        event["store"] = json!(store);
        event["config"] = json!("atl06");
        event["access"] = json!("https");
        event["run"] = json!("zagg-c22-test");
        if i == 0 {
            let mut gone = event.clone();
            gone["granules"] = json!([{"s3": null, "https": "/nonexistent/ATL06_x.h5", "id": "x"}]);
            let (kind, _) = error_type(Stage::Process, &s, gone);
            assert_eq!(kind, "Zagg.GranulesUnreadable");
        }
        if i == all_items.len() - 1 {
            let r: ProcessResult = run(Stage::Process, &s, {
                let mut e = event.clone();
                e.as_object_mut().expect("object").remove("run");
                e
            });
            results.push(r);
            continue;
        }
        let r: ProcessResult = run(Stage::Process, &s, event);
        assert_eq!(r.granules_failed, 0, "{:?}", r.failures);
        assert_eq!(r.granules_read, r.granules);
        assert!(r.bytes > 0 && r.requests > 0);
        results.push(r);
    }
    let observations: u64 = results.iter().map(|r| r.observations).sum();
    assert!(observations > 0);
    let ok = results
        .iter()
        .filter(|r| r.status == ShardStatus::Ok)
        .count() as u64;

    // The Map's ResultWriter: a manifest and a results file (here the "bucket" is a directory).
    let out = dir.path().join("map");
    std::fs::create_dir_all(out.join("run1")).expect("mkdir");
    let entries: Vec<Value> = results
        .iter()
        .map(|r| json!({"Status": "SUCCEEDED", "Output": serde_json::to_string(r).expect("json")}))
        .chain([json!({"Status": "FAILED", "Input": "{\"shard\": 12345}",
                       "Error": "Zagg.GranulesUnreadable", "Cause": "shard 12345: …"})])
        .collect();
    std::fs::write(
        out.join("run1/SUCCEEDED_0.json"),
        serde_json::to_vec(&entries[..results.len()]).expect("json"),
    )
    .expect("write");
    std::fs::write(
        out.join("run1/FAILED_0.json"),
        serde_json::to_vec(&entries[results.len()..]).expect("json"),
    )
    .expect("write");
    let manifest = json!({"DestinationBucket": out.display().to_string(), "MapRunArn": "arn:x",
        "ResultFiles": {"SUCCEEDED": [{"Key": "run1/SUCCEEDED_0.json", "Size": 1}],
                        "FAILED": [{"Key": "run1/FAILED_0.json", "Size": 1}], "PENDING": []}});
    let manifest_path = out.join("run1/manifest.json");
    std::fs::write(&manifest_path, manifest.to_string()).expect("write");

    let c: ConsolidateResult = run(
        Stage::Consolidate,
        &s,
        serde_json::to_value(ConsolidateEvent {
            store: store.clone(),
            config: "atl06".into(),
            result_manifest: Some(manifest_path.display().to_string()),
            results: None,
            run: None,
            catalog: None,
            cycle: Some(22),
            tolerated_failure_percentage: Some(50.0),
            map_error: None,
        })
        .expect("event"),
    );
    assert_eq!(c.observations, observations);
    assert_eq!(c.shards_ok, ok);
    assert_eq!(c.shards_failed, 1);
    assert_eq!(c.failed[0].shard, Some(12345));
    assert_eq!(c.failed[0].error, "Zagg.GranulesUnreadable");
    assert_eq!(c.shards, results.len() as u64 + 1);
    let report: Value =
        serde_json::from_slice(&std::fs::read(&c.report).expect("run.json")).expect("json");
    assert_eq!(report["observations"], observations);
    assert_eq!(
        report["results"].as_array().map(Vec::len),
        Some(results.len())
    );
    assert!(c.within_tolerance);
    assert!(c.cost.total_usd > 0.0 && c.cost.lambda_gb_seconds > 0.0);

    // From the shard records of the run, for every catalog item: the last item left no
    // result (it ran without `run`), the first one was retried.
    let consolidate = |tolerated: f64| -> ConsolidateResult {
        run(
            Stage::Consolidate,
            &s,
            json!({"store": store, "config": "atl06", "run": "zagg-c22-test",
                   "catalog": cat.catalog.url, "cycle": 22,
                   "tolerated_failure_percentage": tolerated, "result_manifest": null,
                   "map_error": null}),
        )
    };
    let c = consolidate(0.0);
    let n = all_items.len() as u64;
    assert_eq!(c.shards, n);
    assert_eq!(c.shards_ok + c.shards_empty, n - 1);
    assert_eq!(c.shards_failed, 1);
    assert_eq!(c.failed[0].error, zagg::lambda::NO_RESULT);
    assert_eq!(c.failed[0].shard, Some(items.0[items.0.len() - 1].shard));
    assert_eq!(c.shards_retried, 1);
    assert_eq!(c.retried[0].shard, items.0[0].shard);
    assert_eq!(c.retried[0].attempts, 2);
    assert_eq!(c.retried[0].errors[0].error, "Zagg.GranulesUnreadable");
    assert!(!c.within_tolerance, "1 of {n} failed, none tolerated");
    assert!((c.failed_percentage - 100.0 / n as f64).abs() < 1e-9);
    let last = &results[results.len() - 1];
    assert_eq!(
        c.observations,
        observations - last.observations,
        "the shard without a record does not count"
    );
    assert!(consolidate(100.0).within_tolerance);
    let report: Value =
        serde_json::from_slice(&std::fs::read(&c.report).expect("run.json")).expect("json");
    assert_eq!(report["run"], "zagg-c22-test");
    assert_eq!(
        report["results"].as_array().map(Vec::len),
        Some(results.len() - 1)
    );
    // A corrupt record is that shard's failure; the report is still written.
    let last_shard = items.0[items.0.len() - 1].shard;
    std::fs::write(
        format!("{store}/runs/zagg-c22-test/shards/{last_shard}.json"),
        b"{not json",
    )
    .expect("write");
    let c = consolidate(100.0);
    assert_eq!(c.shards_failed, 1);
    assert_eq!(c.failed[0].shard, Some(last_shard));
    assert_eq!(c.failed[0].error, "Zagg.Internal");
    assert!(
        c.failed[0].cause.contains("unreadable"),
        "{}",
        c.failed[0].cause
    );
    // A Map that failed fails the run, whatever the counts.
    let failed_map: ConsolidateResult = run(
        Stage::Consolidate,
        &s,
        json!({"store": store, "run": "zagg-c22-test", "catalog": cat.catalog.url,
               "tolerated_failure_percentage": 100.0,
               "map_error": {"Error": "States.ItemReaderFailed", "Cause": "x"}}),
    );
    assert!(!failed_map.within_tolerance);

    // The store is consolidated.
    let root_meta: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("c22.zarr/zarr.json")).expect("zarr.json"),
    )
    .expect("json");
    assert!(root_meta.get("consolidated_metadata").is_some());
}

fn demo_event(store: &str, granule: &str) -> Value {
    // A shard the first demo granule crosses.
    let config = zagg::config::PipelineConfig::builtin_default().expect("config");
    let hasher = zagg::grid::Hasher::new(6, config.grid.ellipsoid).expect("hasher");
    let source = zagg::granule::open_source(granule).expect("open");
    let shard = *zagg::run::granule_shards(&config, &hasher, source)
        .expect("shards")
        .first()
        .expect("a shard");
    json!({"shard": shard, "morton": zagg::grid::nested_to_morton(shard, 6).expect("morton"),
           "parent_order": 6, "granules": [{"s3": granule, "https": null, "id": "g.h5"}],
           "store": store})
}

#[test]
fn each_error_type_is_reached() {
    let s = services("http://127.0.0.1:9");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("s.zarr").display().to_string();
    let granule = root()
        .join("tests/data/demo/ATL06_20240122041137_02782212_006_01.h5")
        .display()
        .to_string();

    // BadInput: no template yet; then a morton id that is not the shard's; a bad order;
    // an unknown config; a cycle out of range.
    let event = demo_event(&store, &granule);
    let (t, m) = error_type(Stage::Process, &s, event.clone());
    assert_eq!(t, "Zagg.BadInput", "{m}");
    assert!(m.contains("template"), "{m}");
    run::<Value>(Stage::Template, &s, json!({ "store": store }));
    let mut bad = event.clone();
    bad["morton"] = json!(-1);
    assert_eq!(error_type(Stage::Process, &s, bad).0, "Zagg.BadInput");
    let mut bad = event.clone();
    bad["parent_order"] = json!(5);
    assert_eq!(error_type(Stage::Process, &s, bad).0, "Zagg.BadInput");
    let (t, m) = error_type(
        Stage::Template,
        &s,
        json!({"store": store, "config": "no-such.yaml"}),
    );
    assert_eq!(t, "Zagg.BadInput", "{m}");
    let (t, _) = error_type(Stage::Catalog, &s, json!({"cycle": 0, "store": store}));
    assert_eq!(t, "Zagg.BadInput");
    let sphere = dir.path().join("sphere.yaml");
    let yaml = std::fs::read_to_string(root().join("config/atl06.yaml")).expect("config");
    std::fs::write(
        &sphere,
        yaml.replace("ellipsoid: WGS84 ", "ellipsoid: sphere "),
    )
    .expect("w");
    let (t, m) = error_type(
        Stage::Template,
        &s,
        json!({"store": store, "config": sphere.display().to_string()}),
    );
    assert_eq!(t, "Zagg.BadInput", "{m}");

    // The good event works now.
    let r: ProcessResult = run(Stage::Process, &s, event.clone());
    assert_eq!(r.status, ShardStatus::Ok);

    // GranulesUnreadable: every granule missing or not HDF5.
    let mut bad = event.clone();
    bad["granules"] = json!([
        {"s3": fixture("not_hdf5.h5").display().to_string(), "https": null, "id": "a.h5"},
        {"s3": "/no/such/granule.h5", "https": null, "id": "b.h5"},
        {"s3": null, "https": "https://example.test/c.h5", "id": "c.h5"}]);
    let (t, m) = error_type(Stage::Process, &s, bad);
    assert_eq!(t, "Zagg.GranulesUnreadable", "{m}");

    // Some granules failing is not an error: they are counted.
    let mut partial = event.clone();
    partial["granules"]
        .as_array_mut()
        .expect("granules")
        .push(json!({"s3": null, "https": "https://example.test/c.h5", "id": "c.h5"}));
    let r: ProcessResult = run(Stage::Process, &s, partial);
    assert_eq!((r.granules, r.granules_read, r.granules_failed), (2, 1, 1));
    assert!(
        r.failures[0].error.contains("no s3 URL"),
        "{:?}",
        r.failures
    );

    // Transient: CMR unreachable.
    let (t, m) = error_type(Stage::Catalog, &s, json!({"cycle": 22, "store": store}));
    assert_eq!(t, "Zagg.Transient", "{m}");

    // Internal: a store whose root zarr.json is corrupt.
    std::fs::write(dir.path().join("s.zarr/zarr.json"), b"{not json").expect("write");
    let (t, m) = error_type(Stage::Consolidate, &s, json!({ "store": store }));
    assert_eq!(t, "Zagg.Internal", "{m}");
}

#[test]
fn the_earthdata_login_comes_from_the_secrets_extension() {
    let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let seen = answers.clone();
    let server = serve(move |req| {
        seen.lock().expect("lock").push((
            req.path.clone(),
            req.headers
                .get("x-aws-parameters-secrets-token")
                .cloned()
                .unwrap_or_default(),
        ));
        if req.path.contains("missing") {
            Response::new("404 Not Found", "no such secret")
        } else if req.path.contains("flaky") {
            Response::new("503 Service Unavailable", "")
        } else {
            Response::new(
                "200 OK",
                json!({"ARN": "arn:aws:secretsmanager:us-west-2:1:secret:edl",
                       "SecretString": "{\"username\": \"u\", \"password\": \"sentinel-pw\"}"})
                .to_string(),
            )
        }
    });
    std::env::set_var("ZAGG_SECRETS_EXTENSION_URL", &server.url);
    std::env::set_var("AWS_SESSION_TOKEN", "session-sentinel");

    let login =
        zagg::lambda::earthdata_login_from_extension("arn:aws:secretsmanager:edl").expect("login");
    assert!(
        matches!(login, zagg::credentials::EarthdataLogin::Password { ref username, .. } if username == "u")
    );
    let (path, header) = answers.lock().expect("lock")[0].clone();
    assert!(
        path.starts_with("/secretsmanager/get?secretId=arn%3Aaws%3Asecretsmanager%3Aedl"),
        "{path}"
    );
    assert_eq!(header, "session-sentinel");

    // The cloud clients read it once per container.
    let s = Services::new(CloudOptions::default(), Some("edl".into()));
    s.cloud().expect("cloud");
    s.cloud().expect("cloud");
    assert_eq!(answers.lock().expect("lock").len(), 2);

    let e = zagg::lambda::earthdata_login_from_extension("missing").expect_err("404");
    assert_eq!(e.kind, ErrorKind::Internal);
    let e = zagg::lambda::earthdata_login_from_extension("flaky").expect_err("503");
    assert_eq!(e.kind, ErrorKind::Transient);
    assert!(!e.message.contains("sentinel"), "{}", e.message);
    // A process event fails with the same class when the secret cannot be read.
    let s = Services::new(CloudOptions::default(), Some("flaky".into()));
    let (t, _) = error_type(
        Stage::Template,
        &s,
        json!({"store": "/tmp/unused-zagg-store"}),
    );
    assert_eq!(t, "Zagg.Transient");
}

#[test]
fn resolve_fills_the_cycle_and_sees_a_complete_store() {
    let s = services("http://127.0.0.1:9");
    let dir = tempfile::tempdir().expect("tempdir");
    let template = format!("{}/c{{cycle}}.zarr", dir.path().display());
    let event = |cycle: Value| json!({"resolve": {"cycle": cycle, "store": template}});
    let r: zagg::events::ResolveResult = run(Stage::Catalog, &s, event(json!(22)));
    let store = format!("{}/c22.zarr", dir.path().display());
    assert_eq!(r.input.store, store);
    assert_eq!(r.input.cycle, zagg::events::CycleInput::Number(22));
    assert!(!r.complete && r.report.is_none());

    // latest-complete resolves to a number (and its store).
    let r: zagg::events::ResolveResult = run(Stage::Catalog, &s, event(json!("latest-complete")));
    let zagg::events::CycleInput::Number(n) = r.input.cycle else {
        panic!("not resolved: {:?}", r.input.cycle)
    };
    assert!(n > 22);
    assert!(r.input.store.ends_with(&format!("/c{n}.zarr")));

    // A successful run of the cycle in the store: complete. A failed one, or another
    // cycle's: not.
    std::fs::create_dir_all(&store).expect("mkdir");
    for (report, complete) in [
        (json!({"cycle": 22, "within_tolerance": true}), true),
        (json!({"cycle": 22, "within_tolerance": false}), false),
        (json!({"cycle": 21, "within_tolerance": true}), false),
    ] {
        std::fs::write(format!("{store}/run.json"), report.to_string()).expect("write");
        let r: zagg::events::ResolveResult = run(Stage::Catalog, &s, event(json!(22)));
        assert_eq!(r.complete, complete, "{report}");
        assert_eq!(r.report.is_some(), complete);
    }

    let (kind, message) = error_type(
        Stage::Catalog,
        &s,
        json!({"resolve": {"cycle": 22, "store": template, "max_concurrency": 0}}),
    );
    assert_eq!(kind, "Zagg.BadInput");
    assert!(message.contains("max_concurrency: 0"), "{message}");
    let (kind, message) = error_type(
        Stage::Catalog,
        &s,
        json!({"resolve": {"cycle": 22, "store": template, "colour": "red"}}),
    );
    assert_eq!(kind, "Zagg.BadInput");
    assert!(message.contains("colour"), "{message}");
    // The catalog step refuses a store still holding the placeholder.
    let (kind, message) = error_type(Stage::Catalog, &s, json!({"cycle": 22, "store": template}));
    assert_eq!(kind, "Zagg.BadInput");
    assert!(message.contains("{cycle}"), "{message}");
}
