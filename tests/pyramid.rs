//! The pyramid orders of a demo run against a brute-force recomputation from the leaf points:
//! every coarse cell's statistics recomputed naively (two-pass variance, full sorts) from the
//! raw rows of its shard, compared with what the store holds at that order.

mod common;

use std::sync::Arc;

use common::*;
use zagg::granule::Granule;
use zagg::shard::{read_shard_points, Counts, ShardContext, ShardStatus};
use zagg::store::Store;

/// Naive statistics of (h, sigma) rows: count, min, max, weighted mean, sigma, variance,
/// q25, q50, q75 — the built-in config's variables, in its order.
fn naive(rows: &[(f64, f64)]) -> [f64; 9] {
    let n = rows.len() as f64;
    let mut h: Vec<f64> = rows.iter().map(|r| r.0).collect();
    let sw: f64 = rows.iter().map(|r| 1.0 / (r.1 * r.1)).sum();
    let swh: f64 = rows.iter().map(|r| r.0 / (r.1 * r.1)).sum();
    let m = h.iter().sum::<f64>() / n;
    let var = h.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    h.sort_by(f64::total_cmp);
    let q = |q: f64| {
        let pos = q * (n - 1.0);
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(h.len() - 1);
        h[lo] + (h[hi] - h[lo]) * (pos - lo as f64)
    };
    [
        n,
        h[0],
        h[h.len() - 1],
        swh / sw,
        1.0 / sw.sqrt(),
        var,
        q(0.25),
        q(0.5),
        q(0.75),
    ]
}

#[test]
fn every_pyramid_order_equals_a_brute_force_recomputation_from_the_leaf_points() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config();
    assert_eq!(config.grid.orders(), [12, 11, 10, 9, 8, 7, 6]);
    let report = run(config.clone(), zagg::demo::demo_sources(), dir.path());
    let store = Store::open_local(dir.path()).expect("store");
    let ctx = ShardContext::new(config.clone()).expect("context");
    let names: Vec<&str> = config
        .aggregation
        .variables
        .keys()
        .map(String::as_str)
        .collect();
    let mut compared = 0usize;
    let shards: Vec<u64> = report
        .shard_reports
        .iter()
        .filter(|r| r.status == ShardStatus::Ok)
        .map(|r| r.shard)
        .collect();
    assert!(shards.len() >= 4);
    for &shard in &shards {
        // The shard's valid rows, read again from the granules.
        let mut points = zagg::aggregate::Aggregator::new(&config).buffer();
        let mut counts = Counts::default();
        for source in zagg::demo::demo_sources() {
            let granule = Granule::open(Arc::clone(&source)).expect("granule");
            read_shard_points(&ctx, &granule, shard, &mut points, &mut counts).expect("points");
        }
        let rows: Vec<(u32, f64, f64)> = (0..points.len())
            .map(|i| (points.leaves()[i], points.column(0)[i], points.column(1)[i]))
            .collect();
        for order in config.grid.orders() {
            let shift = 2 * u32::from(12 - order);
            let n_cells = 4096usize >> shift;
            let stored: Vec<Vec<f64>> = names
                .iter()
                .map(|name| {
                    let values = store
                        .chunk_reader(order, name)
                        .expect("reader")
                        .read(shard)
                        .expect("read")
                        .unwrap_or_else(|| panic!("order {order} {name} shard {shard} missing"));
                    assert_eq!(values.len(), n_cells);
                    values
                })
                .collect();
            let ids = store
                .chunk_reader(order, "cell_ids")
                .expect("reader")
                .read(shard)
                .expect("read")
                .expect("cell ids written");
            let first = shard << (2 * u32::from(order - 6));
            assert!(ids
                .iter()
                .enumerate()
                .all(|(i, &c)| c == (first + i as u64) as f64));
            // Group the raw rows by their ancestor at this order.
            let mut by_cell: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n_cells];
            for r in &rows {
                by_cell[(r.0 >> shift) as usize].push((r.1, r.2));
            }
            for (cell, mine) in by_cell.iter().enumerate() {
                let got: Vec<f64> = stored.iter().map(|v| v[cell]).collect();
                if mine.is_empty() {
                    assert_eq!(got[0], 0.0, "order {order} shard {shard} cell {cell}");
                    assert!(got[1..].iter().all(|x| x.is_nan()));
                    continue;
                }
                let want = naive(mine);
                let f32_of = |x: f64| f64::from(x as f32);
                // count, min, max and the quantiles: equal after rounding to float32.
                for i in [0, 1, 2, 6, 7, 8] {
                    assert_eq!(
                        got[i],
                        f32_of(want[i]),
                        "order {order} shard {shard} cell {cell} {}",
                        names[i]
                    );
                }
                let scale = want[1].abs().max(want[2].abs());
                assert!((got[3] - want[3]).abs() <= 1e-6 * scale, "h_mean");
                assert!((got[4] - want[4]).abs() <= 1e-6 * want[4], "h_sigma");
                let mean_sq = mine.iter().map(|r| r.0 * r.0).sum::<f64>() / want[0];
                assert!(
                    (got[5] - want[5]).abs() <= 1e-6 * want[5] + 1e-12 * mean_sq,
                    "h_variance at order {order}: {} vs {}",
                    got[5],
                    want[5]
                );
                compared += 1;
            }
        }
    }
    // 3044 leaf cells and their ancestors at six coarser orders.
    assert!(compared > 3000, "{compared} cells compared");
}
