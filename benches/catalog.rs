//! The catalog stage on a synthetic cycle (~14.8k granules, `tests/common/synth.rs`):
//! footprint–shard intersection over the 1334 basin shards (the catalog build), compared with
//! cdshealpix's chord-based polygon coverage, and the whole `make_catalog` through a fake CMR
//! on 127.0.0.1 (UMM-G pages of 2000). Prints wall times; run with
//! `cargo bench --bench catalog`.

#[allow(dead_code)]
#[path = "../tests/common/fake_cmr.rs"]
mod fake_cmr;
#[allow(dead_code)]
#[path = "../tests/common/synth.rs"]
mod synth;

use std::time::Instant;

use zagg::aoi::Aoi;
use zagg::catalog::{intersect, make_catalog, BboxChoice, CatalogOptions};
use zagg::cmr::CmrClient;
use zagg::cycle::CycleSpec;
use zagg::footprint::ShardIndex;
use zagg::grid::Ellipsoid;
use zagg::web::RetryPolicy;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: then a quick smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let t = Instant::now();
    let mut granules = synth::synthetic_cycle(22);
    if !full {
        granules.truncate(600);
    }
    let vertices: usize = granules.iter().map(|g| g.footprints[0].outer.len()).sum();
    println!(
        "synthetic cycle: {} granules, {vertices} footprint vertices, made in {:.2} s",
        granules.len(),
        t.elapsed().as_secs_f64()
    );
    let aoi = Aoi::basins(6).expect("basins");
    let threads = rayon::current_num_threads();

    let mut index_s = Vec::new();
    let mut inter_s = Vec::new();
    let mut last = None;
    for _ in 0..if full { 3 } else { 1 } {
        let t = Instant::now();
        let index = ShardIndex::new(&aoi, Ellipsoid::Wgs84);
        index_s.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let r = intersect(&granules, &index).expect("intersect");
        inter_s.push(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    let r = last.expect("ran");
    let pairs: usize = r.catalog.0.iter().map(|i| i.granules.len()).sum();
    println!(
        "intersect ({threads} threads): index {:.3} s, intersection {:.3} s (median of the runs); \
         {} granules in the basins, {} shards, {pairs} pairs",
        median(index_s),
        median(inter_s),
        r.granules_in_aoi,
        r.catalog.0.len(),
    );

    // For comparison: cdshealpix's polygon coverage of every footprint (the method the exact
    // test replaced; it takes cell edges for great-circle chords), restricted to the basins.
    let t = Instant::now();
    let chord: Vec<std::collections::BTreeSet<u64>> = {
        use rayon::prelude::*;
        let layer = cdshealpix::nested::get(6);
        granules
            .par_iter()
            .map(|g| {
                let outer = &g.footprints[0].outer;
                let ring: Vec<(f64, f64)> = outer[..outer.len() - 1]
                    .iter()
                    .map(|p| {
                        let lat = zagg::grid::authalic_latitude(p[1].to_radians());
                        (p[0].to_radians().rem_euclid(std::f64::consts::TAU), lat)
                    })
                    .collect();
                layer
                    .polygon_coverage(&ring, true)
                    .flat_iter()
                    .filter(|c| aoi.cells.contains(c))
                    .collect()
            })
            .collect()
    };
    let chord_s = t.elapsed().as_secs_f64();
    let mut exact: std::collections::HashMap<&str, Vec<u64>> = Default::default();
    for item in &r.catalog.0 {
        for g in &item.granules {
            exact.entry(g.id.as_str()).or_default().push(item.shard);
        }
    }
    let (mut only_chord, mut only_exact) = (0, 0);
    for (g, c) in granules.iter().zip(&chord) {
        let e: std::collections::BTreeSet<u64> = exact
            .get(g.id.as_str())
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        only_chord += c.difference(&e).count();
        only_exact += e.difference(c).count();
    }
    println!(
        "cdshealpix chord coverage of all footprints (no index): {chord_s:.3} s; against the \
         catalog: {only_chord} pairs only in the chord coverage, {only_exact} only in the catalog"
    );

    let items: Vec<serde_json::Value> = granules.iter().map(synth::umm_item).collect();
    // The client's share of the CMR time: parsing the 8 UMM-G pages.
    let pages: Vec<Vec<u8>> = items
        .chunks(2000)
        .map(|c| serde_json::to_vec(&serde_json::json!({"hits": items.len(), "items": c})))
        .collect::<Result<_, _>>()
        .expect("pages");
    let t = Instant::now();
    let parsed: usize = pages
        .iter()
        .map(|p| zagg::cmr::parse_page(p).map_or(0, |r| r.items.len()))
        .sum();
    println!(
        "parsing {} UMM-G pages ({parsed} items, {:.1} MB): {:.3} s",
        pages.len(),
        pages.iter().map(Vec::len).sum::<usize>() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let server = fake_cmr::FakeCmr::start(items);
    let client = CmrClient::new(&server.url, RetryPolicy::default()).expect("client");
    let mut options = CatalogOptions::new(CycleSpec::Number(22));
    options.temporal_margin_days = None;
    options.bbox = BboxChoice::None;
    let t = Instant::now();
    let (catalog, meta) = make_catalog(
        &client,
        &options,
        &aoi,
        Ellipsoid::Wgs84,
        chrono::Utc::now(),
    )
    .expect("catalog");
    println!(
        "make_catalog via fake CMR: {:.2} s total = CMR {:.2} s ({} pages from the fake server, \
         parsed) + catalog build {:.3} s (index {:.3} s, intersection {:.3} s); \
         {} granules, {} shards, {} pairs",
        t.elapsed().as_secs_f64(),
        meta.timings.cmr_seconds,
        meta.timings.pages,
        meta.timings.index_seconds + meta.timings.intersect_seconds,
        meta.timings.index_seconds,
        meta.timings.intersect_seconds,
        meta.counts.granules,
        catalog.0.len(),
        meta.counts.pairs
    );
}
