//! The catalog stage against a fake CMR on 127.0.0.1 serving the UMM-G fixtures of
//! `tests/data/cmr/`: paging, retries, parsing, cycle selection, footprint–shard intersection
//! and the catalog.json schema.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::fake_cmr::{load_items, Failure, FakeCmr};
use common::http::Response;
use common::root;
use common::sphere::{self, Cell};
use serde_json::Value;
use zagg::aoi::Aoi;
use zagg::catalog::{
    catalog_bytes, make_catalog, BboxChoice, Catalog, CatalogMeta, CatalogOptions,
};
use zagg::cmr::{CmrClient, CmrError, GranuleQuery, SearchResult};
use zagg::cycle::{self, CycleSpec};
use zagg::grid::{Ellipsoid, Hasher};
use zagg::web::{RetryPolicy, WebError};

const START_OF_CYCLE: &str = "ATL06_20231218212014_00012211_007_01.h5";
const SECOND: &str = "ATL06_20231219003354_00042211_007_01.h5";
const TWO_POLYGONS: &str = "ATL06_20231220111111_00222211_007_01.h5";
const NO_FOOTPRINT: &str = "ATL06_20231221000000_00302211_007_01.h5";
const NO_URL: &str = "ATL06_20231221010000_00312211_007_01.h5";
const CYCLE_21: &str = "ATL06_20231218201500_13872111_007_01.h5";
const ARCTIC: &str = "ATL06_20231230120000_01702203_007_01.h5";
const ANTIMERIDIAN: &str = "ATL06_20240105101010_02502212_007_01.h5";
const POLE_RING: &str = "ATL06_20240110050505_03012211_007_01.h5";
const END_OF_CYCLE: &str = "ATL06_20240318160000_13872211_007_01.h5";
const CYCLE_23: &str = "ATL06_20240318170000_00012311_007_01.h5";

fn server() -> FakeCmr {
    FakeCmr::start(load_items(
        &root().join("tests/data/cmr/atl06_cycle22.json"),
        &root().join("tests/data/demo"),
    ))
}

fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        timeout: Duration::from_secs(20),
    }
}

fn client(s: &FakeCmr) -> CmrClient {
    CmrClient::new(&s.url, fast(4)).expect("client")
}

fn ids(r: &SearchResult) -> BTreeSet<&str> {
    r.granules.iter().map(|g| g.id.as_str()).collect()
}

fn skipped(r: &SearchResult) -> BTreeSet<&str> {
    r.skipped.iter().map(|g| g.id.as_str()).collect()
}

fn query(page_size: u32) -> GranuleQuery {
    let mut q = GranuleQuery::atl06(22);
    q.page_size = page_size;
    q
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The cycle-22, version-007 granules of the fixtures that can be used.
fn usable() -> BTreeSet<&'static str> {
    [
        START_OF_CYCLE,
        SECOND,
        TWO_POLYGONS,
        ARCTIC,
        ANTIMERIDIAN,
        POLE_RING,
        END_OF_CYCLE,
    ]
    .into()
}

#[test]
fn pages_follow_cmr_search_after() {
    let s = server();
    let r = client(&s).search(&query(3)).expect("search");
    assert_eq!(ids(&r), usable());
    assert_eq!(skipped(&r), [NO_FOOTPRINT, NO_URL].into());
    assert_eq!(r.hits, 9);
    assert_eq!(r.pages, 3);
    assert_eq!(r.retries, 0);
    let seen = s.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|q| q.status == 200));
    assert!(!seen[0].headers.contains_key("cmr-search-after"));
    let t1 = &seen[1].headers["cmr-search-after"];
    let t2 = &seen[2].headers["cmr-search-after"];
    assert_ne!(
        t1, t2,
        "each page's token is echoed, not the first one again"
    );
    for q in &seen {
        assert_eq!(q.path, "/search/granules.umm_json");
        assert_eq!(q.headers.get("client-id").map(String::as_str), Some("zagg"));
        assert_eq!(q.param("short_name"), Some("ATL06"));
        assert_eq!(q.param("version"), Some("007"));
        assert_eq!(q.param("provider"), Some("NSIDC_CPRD"));
        assert_eq!(q.param("page_size"), Some("3"));
        assert_eq!(
            q.param("readable_granule_name[]"),
            Some("ATL06_*_????22??_*")
        );
        assert_eq!(
            q.param("options[readable_granule_name][pattern]"),
            Some("true")
        );
    }
    // One page holds everything: one request.
    let s = server();
    let r = client(&s).search(&query(2000)).expect("search");
    assert_eq!((r.pages, ids(&r)), (1, usable()));
    // Page sizes that divide the hits exactly end without an extra request.
    let s = server();
    assert_eq!(client(&s).search(&query(1)).expect("search").pages, 9);
    assert_eq!(s.seen().len(), 9);
}

#[test]
fn the_dry_run_request_is_the_one_sent() {
    // The query `make_catalog` sends (cycle window, AOI bounding box), as a dry run prints it.
    let mut o = CatalogOptions::new(CycleSpec::Number(22));
    o.page_size = 3;
    let aoi = Aoi::basins(6).unwrap();
    let q = o.query(Some(&aoi), utc("2024-05-01T00:00:00Z")).unwrap();
    let s = server();
    let planned = q.request(&s.url, None).unwrap();
    assert!(planned.url.starts_with(&format!(
        "{}/search/granules.umm_json?short_name=ATL06&version=007&provider=NSIDC_CPRD&page_size=3&",
        s.url
    )));
    let r = client(&s).search(&q).expect("search");
    assert!(r.pages >= 2, "{} pages", r.pages);
    let seen = s.seen();
    assert_eq!(seen.len() as u32, r.pages);
    for (i, got) in seen.iter().enumerate() {
        // Every page: the same URL, byte for byte; the first page's headers, plus the
        // previous page's token on later ones.
        assert_eq!(format!("{}{}", s.url, got.target), planned.url, "page {i}");
        let token = got.headers.get("cmr-search-after").map(String::as_str);
        assert_eq!(token.is_some(), i > 0);
        let want = q.request(&s.url, token).unwrap();
        for (k, v) in &want.headers {
            assert_eq!(got.headers.get(&k.to_ascii_lowercase()), Some(v), "{k}");
        }
    }
    // The bounding box and the temporal window went out as planned.
    let b = q.bounding_box.unwrap().to_param();
    assert_eq!(seen[0].param("bounding_box"), Some(b.as_str()));
    let t = q.temporal.as_ref().unwrap();
    let window = format!("{},{}", t.start, t.end);
    assert_eq!(seen[0].param("temporal[]"), Some(window.as_str()));
}

#[test]
fn retries_429_5xx_and_dropped_connections() {
    let s = server();
    s.fail_next(&[Failure::Status(429), Failure::Status(503), Failure::Drop]);
    // And the first attempt at page 3 (request 5: three failures, pages 1 and 2).
    s.fail_request(5, Failure::Status(500));
    let r = client(&s).search(&query(3)).expect("search");
    assert_eq!(ids(&r), usable());
    assert_eq!(r.retries, 4);
    let seen = s.seen();
    let statuses: Vec<u16> = seen.iter().map(|q| q.status).collect();
    assert_eq!(statuses, [429, 503, 0, 200, 200, 500, 200]);
    // The retried page asks with the same token as the failed attempt.
    assert_eq!(
        seen[5].headers["cmr-search-after"],
        seen[6].headers["cmr-search-after"]
    );
}

#[test]
fn gives_up_after_the_last_attempt_and_names_page_and_url() {
    let s = server();
    s.fail_request(1, Failure::Status(503));
    s.fail_request(2, Failure::Status(503));
    s.fail_request(3, Failure::Status(503));
    let c = CmrClient::new(&s.url, fast(3)).unwrap();
    let e = c.search(&query(5)).unwrap_err();
    match &e {
        CmrError::Http {
            page: 2,
            source:
                WebError::Status {
                    status: 503,
                    attempts: 3,
                    ..
                },
        } => {}
        other => panic!("unexpected {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("CMR page 2: GET http://127.0.0.1:"),
        "{msg}"
    );
    assert!(
        msg.contains("/search/granules.umm_json?short_name=ATL06"),
        "{msg}"
    );
    assert!(msg.contains("HTTP 503 after 3 attempt(s)"), "{msg}");
    // A 400 is not retried.
    let s = server();
    s.fail_next(&[Failure::Status(400)]);
    let e = client(&s).search(&query(5)).unwrap_err().to_string();
    assert!(
        e.contains("HTTP 400 after 1 attempt(s): {\"errors\":[\"injected failure\"]}"),
        "{e}"
    );
    assert_eq!(s.seen().len(), 1);
}

#[test]
fn a_search_that_ends_short_of_cmr_hits_is_an_error() {
    let s = server();
    s.inflate_hits(1);
    let e = client(&s).search(&query(4)).unwrap_err().to_string();
    assert!(
        e.contains("only 9 of 10 granules (CMR-Hits) arrived in 4 page(s)"),
        "{e}"
    );
}

#[test]
fn cycle_selection_includes_the_start_of_the_cycle() {
    let s = server();
    let mut q = query(4);
    q.temporal = Some(
        cycle::window(22, cycle::DEFAULT_MARGIN_DAYS)
            .unwrap()
            .into(),
    );
    let r = client(&s).search(&q).expect("search");
    // The first granule (21:20, minutes after the fitted start) and the last one are in;
    // the neighbours of cycles 21 and 23 inside the margin, and version 006, are not.
    assert_eq!(ids(&r), usable());
    // The original's window (2018-10-13 + 91·(c−1) days, by date) missed the start.
    let orig = cycle::original_start_date(22).unwrap();
    let start = format!("{orig}T00:00:00Z");
    let end = format!("{}T00:00:00Z", orig + chrono::Duration::days(91));
    q.temporal = Some(zagg::cmr::Temporal { start, end });
    let r = client(&s).search(&q).expect("search");
    assert!(!ids(&r).contains(START_OF_CYCLE));
    assert!(!ids(&r).contains(SECOND));
    assert!(ids(&r).contains(END_OF_CYCLE));
}

#[test]
fn names_of_other_cycles_are_skipped_when_a_mirror_ignores_the_pattern() {
    let s = server();
    s.ignore_name_pattern();
    let r = client(&s).search(&query(5)).expect("search");
    assert_eq!(ids(&r), usable());
    let reasons: Vec<String> = r
        .skipped
        .iter()
        .map(|k| format!("{} {}", k.id, k.reason))
        .collect();
    assert!(
        reasons.contains(&format!("{CYCLE_21} name gives cycle 21, not 22")),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&format!("{CYCLE_23} name gives cycle 23, not 22")),
        "{reasons:?}"
    );
}

#[test]
fn every_footprint_polygon_and_hole_is_parsed() {
    let s = server();
    let r = client(&s).search(&query(50)).expect("search");
    let g = r.granules.iter().find(|g| g.id == TWO_POLYGONS).unwrap();
    assert_eq!(g.footprints.len(), 2);
    assert_eq!(g.footprints[0].holes.len(), 1);
    assert_eq!(g.footprints[1].holes.len(), 0);
    assert_eq!(g.size_bytes, Some(96_468_992));
    for g in &r.granules {
        assert!(g
            .s3
            .as_deref()
            .is_some_and(|u| u.starts_with("s3://") && u.ends_with(&g.id)));
        assert!(g
            .https
            .as_deref()
            .is_some_and(|u| u.starts_with("https://") && u.ends_with(&g.id)));
    }
}

fn validate(schema_file: &str, instance: &Value) {
    let path = root().join("config/schema").join(schema_file);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:?}");
}

fn catalog_of(s: &FakeCmr, page_size: u32, bbox: BboxChoice) -> (Catalog, CatalogMeta) {
    let mut o = CatalogOptions::new(CycleSpec::Number(22));
    o.page_size = page_size;
    o.bbox = bbox;
    let aoi = Aoi::basins(6).unwrap();
    make_catalog(
        &client(s),
        &o,
        &aoi,
        Ellipsoid::Wgs84,
        utc("2024-05-01T00:00:00Z"),
    )
    .expect("catalog")
}

#[test]
fn catalog_over_the_basins() {
    let s = server();
    let (catalog, meta) = catalog_of(&s, 4, BboxChoice::None);
    let c = &meta.counts;
    assert_eq!((c.hits, c.granules, c.skipped), (9, 7, 2));
    assert_eq!(c.granules_outside_aoi, 1, "the Arctic granule");
    assert_eq!(c.granules_in_aoi, 6);
    assert_eq!(c.shards, catalog.0.len() as u64);
    assert_eq!(
        c.pairs,
        catalog
            .0
            .iter()
            .map(|i| i.granules.len() as u64)
            .sum::<u64>()
    );
    assert_eq!(meta.cycle.number, 22);
    assert_eq!(meta.aoi.cells, 1334);
    assert!(meta.query.temporal.is_some());
    assert_eq!(meta.timings.pages, 3);

    let basins = Aoi::basins(6).unwrap();
    let shards_of = |id: &str| -> BTreeSet<u64> {
        catalog
            .0
            .iter()
            .filter(|i| i.granules.iter().any(|g| g.id == id))
            .map(|i| i.shard)
            .collect()
    };
    assert!(shards_of(ARCTIC).is_empty());
    // Every footprint vertex lies in a shard of its granule (when the shard is in the AOI).
    let r = client(&s).search(&query(50)).unwrap();
    let h = Hasher::new(6, Ellipsoid::Wgs84).unwrap();
    for g in &r.granules {
        let mine = shards_of(&g.id);
        for fp in &g.footprints {
            for &[lon, lat] in &fp.outer {
                let cell = h.hash(lat, lon).unwrap();
                if basins.cells.contains(&cell) {
                    assert!(
                        mine.contains(&cell),
                        "{}: vertex ({lon}, {lat}) cell {cell}",
                        g.id
                    );
                }
            }
        }
    }
    // The antimeridian swath touches shards on both sides of 180°, and no shard far from it.
    let layer = cdshealpix::nested::get(6);
    let lons: Vec<f64> = shards_of(ANTIMERIDIAN)
        .iter()
        .map(|&c| layer.center(c).0.to_degrees())
        .collect();
    assert!(lons.iter().any(|&l| l > 170.0 && l < 180.0), "{lons:?}");
    assert!(lons.iter().any(|&l| l > 180.0 && l < 190.0), "{lons:?}");
    assert!(lons.iter().all(|&l| l > 150.0 && l < 210.0), "{lons:?}");
    // The ring around the pole holds the four cells at the pole.
    let polar: BTreeSet<u64> = (8..12).map(|b| b << 12).collect();
    assert!(polar.is_subset(&shards_of(POLE_RING)));
    // Items ascend by shard, granules by id.
    assert!(catalog.0.windows(2).all(|w| w[0].shard < w[1].shard));
    for item in &catalog.0 {
        assert!(item.granules.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(item.parent_order, 6);
    }
    // The files validate against the committed schemas.
    validate(
        "catalog.schema.json",
        &serde_json::to_value(&catalog).unwrap(),
    );
    validate(
        "catalog.meta.schema.json",
        &serde_json::to_value(&meta).unwrap(),
    );
    // Another paging gives the same bytes.
    let (again, _) = catalog_of(&s, 1, BboxChoice::None);
    assert_eq!(
        catalog_bytes(&again).unwrap(),
        catalog_bytes(&catalog).unwrap()
    );
}

#[test]
fn catalog_matches_an_exact_brute_force_intersection() {
    // Pages of 4 (three pages with search-after tokens), the first answer a 429.
    let s = server();
    s.fail_next(&[Failure::Status(429)]);
    let (catalog, meta) = catalog_of(&s, 4, BboxChoice::None);
    assert_eq!((meta.timings.retries, meta.timings.pages), (1, 3));
    assert_eq!(s.seen()[0].status, 429);
    // Every granule's polygons, read from the fixture directly, against all 1334 basin cells
    // with the independent check of tests/common/sphere.rs (WGS84 latitudes, as the catalog).
    let basins: Vec<Cell> = Aoi::basins(6)
        .unwrap()
        .cells
        .iter()
        .map(|&c| Cell::new(6, c))
        .collect();
    assert_eq!(basins.len(), 1334);
    let items = load_items(
        &root().join("tests/data/cmr/atl06_cycle22.json"),
        &root().join("tests/data/demo"),
    );
    let mut pairs = 0;
    for id in usable() {
        let item = items.iter().find(|i| i["umm"]["GranuleUR"] == id).unwrap();
        let (mut yes, mut either) = (BTreeSet::new(), BTreeSet::new());
        for polygon in sphere::umm_polygons(item, true) {
            let (y, e) = sphere::brute_force(&polygon, &basins, sphere::TOL);
            yes.extend(y);
            either.extend(e);
        }
        let got: BTreeSet<u64> = catalog
            .0
            .iter()
            .filter(|i| i.granules.iter().any(|g| g.id == id))
            .map(|i| i.shard)
            .collect();
        let missed: Vec<&u64> = yes.difference(&got).collect();
        let extra: Vec<&u64> = got
            .difference(&yes)
            .filter(|c| !either.contains(c))
            .collect();
        assert!(
            missed.is_empty() && extra.is_empty(),
            "{id}: missed {missed:?}, extra {extra:?}"
        );
        assert_eq!(yes.is_empty(), id == ARCTIC, "{id}");
        pairs += got.len();
    }
    assert_eq!(pairs as u64, meta.counts.pairs);
}

#[test]
fn the_default_bounding_box_is_the_aoi_band() {
    let s = server();
    let (catalog, meta) = catalog_of(&s, 50, BboxChoice::Auto);
    let b = meta.query.bounding_box.expect("bbox");
    assert_eq!((b.west, b.south, b.east), (-180.0, -90.0, 180.0));
    let last = s.seen().pop().unwrap();
    assert_eq!(last.param("bounding_box"), Some(b.to_param().as_str()));
    // The Arctic granule is not even returned; the catalog is the same.
    assert_eq!(meta.counts.granules, 6);
    let (global, _) = catalog_of(&s, 50, BboxChoice::None);
    assert_eq!(catalog, global);
}

#[test]
fn latest_complete_resolves_against_now() {
    let s = server();
    let mut o = CatalogOptions::new(CycleSpec::LatestComplete);
    o.page_size = 50;
    let aoi = Aoi::basins(6).unwrap();
    // 2024-04-01: cycle 23 is running, 22 is the latest complete one.
    let (_, meta) = make_catalog(
        &client(&s),
        &o,
        &aoi,
        Ellipsoid::Wgs84,
        utc("2024-04-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(meta.cycle.number, 22);
    assert_eq!(meta.cycle.requested, "latest-complete");
    assert_eq!(meta.query.cycle, 22);
    let e = make_catalog(
        &client(&s),
        &o,
        &aoi,
        Ellipsoid::Wgs84,
        utc("2018-10-01T00:00:00Z"),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("no complete cycle before"), "{e}");
}

#[test]
fn aoi_from_a_url() {
    const ROSS: &str = r#"{"type":"Polygon","coordinates":[[[178,-80],[178,-78],[-178,-78],[-178,-80],[178,-80]]]}"#;
    let server = common::http::serve(|r| match r.path.as_str() {
        "/ross.geojson" => Response::new("200 OK", ROSS),
        _ => Response::new("404 Not Found", "no such AOI"),
    });
    let url = format!("{}/ross.geojson", server.url);
    let aoi = Aoi::load(&url, 6, Ellipsoid::Sphere).expect("AOI by URL");
    let file = Aoi::from_geojson(&url, ROSS, 6, Ellipsoid::Sphere).unwrap();
    assert_eq!(aoi, file);
    assert_eq!(aoi.cells.len(), 8);
    let url = format!("{}/missing.geojson", server.url);
    let e = Aoi::load(&url, 6, Ellipsoid::Sphere)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("AOI {url}: cannot read: GET {url}: HTTP 404")),
        "{e}"
    );
    assert!(e.contains("no such AOI"), "{e}");
}

#[allow(dead_code)]
#[path = "common/synth.rs"]
mod synth;

#[test]
fn a_synthetic_cycle_over_the_basins() {
    let granules = synth::synthetic_cycle(22);
    assert!(
        (14_000..15_500).contains(&granules.len()),
        "{}",
        granules.len()
    );
    let aoi = Aoi::basins(6).unwrap();
    let index = zagg::footprint::ShardIndex::new(&aoi, Ellipsoid::Wgs84);
    let t = std::time::Instant::now();
    let r = zagg::catalog::intersect(&granules, &index).expect("intersect");
    eprintln!(
        "synthetic cycle: intersection {:.2} s (debug build)",
        t.elapsed().as_secs_f64()
    );
    assert!(r.skipped.is_empty());
    // Regions 10–12 (3 of 14) reach the basins; region 9 and 13 granules stop at 59.5°S.
    assert!(
        (2_500..3_500).contains(&r.granules_in_aoi),
        "{}",
        r.granules_in_aoi
    );
    assert!(r.catalog.0.len() >= 1300, "{} shards", r.catalog.0.len());
    let mut of: std::collections::HashMap<&str, BTreeSet<u64>> = Default::default();
    for item in &r.catalog.0 {
        assert!(item.granules.windows(2).all(|w| w[0].id < w[1].id));
        for g in &item.granules {
            of.entry(g.id.as_str()).or_default().insert(item.shard);
        }
    }
    // Every footprint vertex in a basin shard is in a shard of its granule.
    let h = Hasher::new(6, Ellipsoid::Wgs84).unwrap();
    let empty = BTreeSet::new();
    for g in &granules {
        let mine = of.get(g.id.as_str()).unwrap_or(&empty);
        for &[lon, lat] in &g.footprints[0].outer {
            let cell = h.hash(lat, lon).unwrap();
            assert!(
                !aoi.cells.contains(&cell) || mine.contains(&cell),
                "{} ({lon}, {lat})",
                g.id
            );
        }
    }
}
