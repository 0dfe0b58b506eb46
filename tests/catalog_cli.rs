//! `zagg catalog` and `zagg run --cycle/--catalog` against a fake CMR on 127.0.0.1.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::fake_cmr::{load_items, FakeCmr};
use common::root;
use serde_json::Value;

fn zagg(args: &[&str], cwd: &Path, cmr_env: Option<&str>) -> Output {
    // No cloud credentials or endpoints from the caller's environment: s3:// reads go to a
    // closed port on 127.0.0.1 with static keys (never to an instance metadata service).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let mut c = Command::new(env!("CARGO_BIN_EXE_zagg"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("EARTHDATA_TOKEN")
        .env_remove("EARTHDATA_USERNAME")
        .env_remove("EARTHDATA_PASSWORD")
        .env("HOME", cwd)
        .env("ZAGG_NSIDC_BUCKETS", "no-such-bucket")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-west-2")
        .env("AWS_ENDPOINT_URL", format!("http://{closed}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("ZAGG_MAX_RETRIES", "0");
    match cmr_env {
        Some(url) => c.env("ZAGG_CMR_URL", url),
        None => c.env_remove("ZAGG_CMR_URL"),
    };
    c.output().expect("run zagg")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn cycle22_server() -> FakeCmr {
    FakeCmr::start(load_items(
        &root().join("tests/data/cmr/atl06_cycle22.json"),
        &root().join("tests/data/demo"),
    ))
}

fn demo_server() -> FakeCmr {
    FakeCmr::start(load_items(
        &root().join("tests/data/cmr/demo_cycle22.json"),
        &root().join("tests/data/demo"),
    ))
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("JSON")
}

fn validate(schema_file: &str, instance: &Value) {
    let schema = json_file(&root().join("config/schema").join(schema_file));
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:?}");
}

#[test]
fn catalog_help_has_examples() {
    let dir = tempfile::tempdir().unwrap();
    let o = zagg(&["catalog", "--help"], dir.path(), None);
    assert!(o.status.success());
    let out = text(&o);
    assert!(
        out.contains("Examples:\n  zagg catalog --cycle 22"),
        "{out}"
    );
    assert!(out.contains("ZAGG_CMR_URL"), "{out}");
    assert!(out.contains("latest-complete"), "{out}");
}

#[test]
fn catalog_command_writes_catalog_and_meta() {
    let s = cycle22_server();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("c22");
    let out = out_dir.to_str().unwrap();
    let o = zagg(
        &[
            "catalog",
            "--cycle",
            "22",
            "--out",
            out,
            "--page-size",
            "4",
            "--bbox",
            "none",
        ],
        dir.path(),
        Some(&s.url),
    );
    assert!(o.status.success(), "{}", text(&o));
    let summary = text(&o);
    assert!(
        summary.contains("cmr          9 hits in 3 pages (0 retries)"),
        "{summary}"
    );
    assert!(
        summary.contains("granules     7 usable, 2 skipped, 6 in the AOI, 1 outside"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "skipped      ATL06_20231221000000_00302211_007_01.h5: no GPolygons footprint"
        ),
        "{summary}"
    );
    let catalog = json_file(&out_dir.join("catalog.json"));
    let meta = json_file(&out_dir.join("catalog.meta.json"));
    validate("catalog.schema.json", &catalog);
    validate("catalog.meta.schema.json", &meta);
    let items = catalog.as_array().unwrap();
    assert_eq!(meta["counts"]["shards"].as_u64(), Some(items.len() as u64));
    assert_eq!(meta["cmr_url"].as_str(), Some(s.url.as_str()));
    assert_eq!(meta["query"]["cycle"], 22);
    assert!(items.iter().all(|i| i["parent_order"] == 6));

    // The flag wins over the environment variable.
    let o = zagg(
        &[
            "catalog",
            "--cycle",
            "22",
            "--out",
            out,
            "--cmr-url",
            &s.url,
            "--json",
        ],
        dir.path(),
        Some("http://127.0.0.1:1"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let printed: Value = serde_json::from_slice(&o.stdout).expect("meta JSON on stdout");
    assert_eq!(
        printed["counts"]["granules"], 6,
        "auto bbox: the Arctic granule is not returned"
    );
}

#[test]
fn unreachable_cmr_is_reported_with_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let o = zagg(
        &[
            "catalog",
            "--cycle",
            "22",
            "--cmr-url",
            &url,
            "--cmr-attempts",
            "1",
        ],
        dir.path(),
        None,
    );
    assert!(!o.status.success());
    let e = text(&o);
    assert!(
        e.contains(&format!("CMR page 1: GET {url}/search/granules.umm_json?")),
        "{e}"
    );
    assert!(e.contains("(after 1 attempt(s))"), "{e}");
    let o = zagg(&["catalog", "--cycle", "cycle22"], dir.path(), None);
    assert!(
        text(&o).contains("expected a number 1-99 or \"latest-complete\""),
        "{}",
        text(&o)
    );
    let o = zagg(
        &["catalog", "--cycle", "22", "--bbox", "1,2,3"],
        dir.path(),
        None,
    );
    assert!(text(&o).contains("bounding box \"1,2,3\""), "{}", text(&o));
}

#[test]
fn catalog_dry_run_prints_the_request_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A closed port: any request would fail the command.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}");
    let o = zagg(
        &[
            "catalog",
            "--cycle",
            "22",
            "--dry-run",
            "--cmr-attempts",
            "1",
        ],
        d,
        Some(&url),
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("# dry run, nothing sent"), "{out}");
    let get = format!(
        "GET {url}/search/granules.umm_json?short_name=ATL06&version=007&provider=NSIDC_CPRD\
         &page_size=2000&readable_granule_name%5B%5D=ATL06_*_%3F%3F%3F%3F22%3F%3F_*\
         &options%5Breadable_granule_name%5D%5Bpattern%5D=true\
         &temporal%5B%5D=2023-12-17T21%3A15%3A37Z%2C2024-03-19T16%3A55%3A26Z\
         &bounding_box=-180%2C-90%2C180%2C-61."
    );
    assert!(lines[1].starts_with(&get), "{out}");
    assert_eq!(lines[2], "Client-Id: zagg");
    assert!(lines[3].starts_with("User-Agent: zagg/"), "{out}");
    assert!(lines[4].contains("CMR-Search-After"), "{out}");
    assert!(!d.join("catalog.json").exists(), "a dry run writes nothing");

    // The printed URL is the one a real run sends first.
    let s = cycle22_server();
    let o = zagg(
        &["catalog", "--cycle", "22", "--dry-run", "--json"],
        d,
        Some(&s.url),
    );
    assert!(o.status.success(), "{}", text(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).expect("JSON plan");
    assert!(s.seen().is_empty(), "the dry run sent a request");
    assert_eq!(plan["method"], "GET");
    assert_eq!(plan["headers"]["Client-Id"], "zagg");
    assert_eq!(plan["query"]["cycle"], 22);
    let o = zagg(
        &["catalog", "--cycle", "22", "--out", "c22"],
        d,
        Some(&s.url),
    );
    assert!(o.status.success(), "{}", text(&o));
    let first = &s.seen()[0];
    assert_eq!(
        plan["url"].as_str(),
        Some(format!("{}{}", s.url, first.target).as_str())
    );

    // An AOI given by URL is not fetched: with --bbox none the request needs no AOI, with
    // the automatic box the dry run says why it cannot print one.
    let aoi = format!("{url}/region.geojson");
    let args = ["catalog", "--cycle", "22", "--dry-run", "--aoi", &aoi];
    let o = zagg(&[&args[..], &["--bbox", "none"]].concat(), d, Some(&url));
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("bounding_box"), "{}", text(&o));
    let o = zagg(&args, d, Some(&url));
    assert!(!o.status.success());
    assert!(text(&o).contains("give --bbox none"), "{}", text(&o));
}

/// Every chunk file of a store: relative path → bytes.
fn chunks(store: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![store.join("12")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.parent().is_some_and(|d| d.ends_with("c")) {
                let rel = p.strip_prefix(store).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn run_cycle_reads_the_catalog_granules() {
    let s = demo_server();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let demo: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(root().join("tests/data/demo"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "h5"))
            .map(|p| p.display().to_string())
            .collect();
        v.sort();
        v
    };
    // Reference: the granules given as files, restricted to the basins.
    let mut args = vec![
        "run",
        "--aoi",
        "basins",
        "--store",
        "files.zarr",
        "--jobs",
        "2",
        "--json",
        "--granules",
    ];
    args.extend(demo.iter().map(String::as_str));
    let o = zagg(&args, d, None);
    assert!(o.status.success(), "{}", text(&o));
    let files: Value = serde_json::from_slice(&o.stdout).unwrap();

    // From CMR, read through the catalog's "GET DATA" URLs.
    let o = zagg(
        &[
            "run",
            "--cycle",
            "22",
            "--product-version",
            "006",
            "--access",
            "https",
            "--store",
            "cycle.zarr",
            "--jobs",
            "2",
            "--json",
        ],
        d,
        Some(&s.url),
    );
    assert!(o.status.success(), "{}", text(&o));
    let cycle: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cycle["granules"], 4);
    assert_eq!(cycle["granules_failed"].as_array().map(Vec::len), Some(0));
    for k in ["shards_ok", "cells"] {
        assert_eq!(cycle[k], files[k], "{k}");
    }
    // Same points and observations; the empty extra shards read more beams.
    for k in [
        "points_in_shard",
        "observations",
        "dropped_quality",
        "dropped_fill",
    ] {
        assert_eq!(cycle["counts"][k], files["counts"][k], "{k}");
    }
    assert!(cycle["counts"]["beams_read"].as_u64() >= files["counts"]["beams_read"].as_u64());
    assert!(
        cycle["shards"].as_u64() >= files["shards"].as_u64(),
        "footprints may add empty shards"
    );
    // The same chunks, byte for byte.
    let a = chunks(&d.join("files.zarr"));
    assert!(!a.is_empty());
    assert_eq!(a, chunks(&d.join("cycle.zarr")));
    // The catalog went into the store; running from it gives the same again.
    assert!(d.join("cycle.zarr/catalog.meta.json").is_file());
    let o = zagg(
        &[
            "run",
            "--catalog",
            "cycle.zarr/catalog.json",
            "--access",
            "https",
            "--store",
            "again.zarr",
            "--jobs",
            "2",
            "--json",
        ],
        d,
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(a, chunks(&d.join("again.zarr")));
}

#[test]
fn run_cycle_reports_granules_it_cannot_open() {
    let s = demo_server();
    let dir = tempfile::tempdir().unwrap();
    // The default access is s3://, which this machine cannot reach: a host that cannot be
    // reached may come back, so each shard fails as a whole (nothing written, "retry later")
    // naming the granule it could not read, rather than being written without it (exit 2).
    let o = zagg(
        &[
            "run",
            "--cycle",
            "22",
            "--product-version",
            "006",
            "--store",
            "s3.zarr",
            "--jobs",
            "2",
            "--json",
        ],
        dir.path(),
        Some(&s.url),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    // A granule fails when it is opened or when it is read, depending on the source.
    let mut errors: Vec<String> = report["granules_failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["error"].as_str().unwrap().to_string())
        .collect();
    for shard in report["shard_reports"].as_array().unwrap() {
        for f in shard["granules_failed"].as_array().unwrap() {
            errors.push(format!("{} {}", f["granule"], f["error"]));
        }
    }
    let failed = report["shards_failed"].as_array().unwrap();
    assert!(!failed.is_empty());
    for f in failed {
        errors.push(f["error"].as_str().unwrap().to_string());
    }
    let url = "s3://nsidc-cumulus-prod-protected/ATLAS/ATL06/006/";
    for f in failed {
        let e = f["error"].as_str().unwrap();
        assert!(
            e.contains(url) && e.contains("temporarily unavailable"),
            "{e}"
        );
    }
    assert!(
        [
            "ATL06_20240122041137_02782212_006_01.h5",
            "ATL06_20240126035118_03392212_006_01.h5",
            "ATL06_20240216140209_06522210_006_01.h5",
            "ATL06_20240314112744_10962210_006_01.h5",
        ]
        .iter()
        .any(|name| errors.iter().any(|e| e.contains(name))),
        "{errors:?}"
    );
    assert_eq!(report["shards_ok"], 0);
    let o = zagg(
        &["run", "--cycle", "22", "--granules", "a.h5"],
        dir.path(),
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot be used with"), "{}", text(&o));
}
