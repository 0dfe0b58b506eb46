//! The catalog stage on a synthetic cycle (~14.7k granules, `tests/common/synth.rs`):
//! footprint–shard intersection over the 1334 basin shards, and the whole `make_catalog`
//! through a fake CMR on 127.0.0.1 (UMM-G pages of 2000). Prints wall times; run with
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

    // For comparison: the exact coverage of every footprint, without the R-tree prefilter.
    let t = Instant::now();
    let covered: usize = {
        use rayon::prelude::*;
        granules
            .par_iter()
            .map(|g| {
                zagg::footprint::footprint_cells(&g.footprints[0], 6, Ellipsoid::Wgs84)
                    .map_or(0, |c| c.len())
            })
            .sum()
    };
    println!(
        "without the index: exact coverage of all footprints {:.3} s ({covered} granule-cell pairs)",
        t.elapsed().as_secs_f64()
    );

    let items = granules.iter().map(synth::umm_item).collect();
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
        "make_catalog via fake CMR: {:.2} s total (CMR {:.2} s in {} pages, intersection {:.3} s); \
         {} granules, {} shards, {} pairs",
        t.elapsed().as_secs_f64(),
        meta.timings.cmr_seconds,
        meta.timings.pages,
        meta.timings.intersect_seconds,
        meta.counts.granules,
        catalog.0.len(),
        meta.counts.pairs
    );
}
