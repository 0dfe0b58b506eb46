//! The multi-resolution pyramid: statistics of a shard's region at coarser orders, built from
//! the leaves towards the root.
//!
//! A shard (a cell of the parent order, e.g. order 6) holds `4^(leaf − parent)` leaf cells.
//! Every coarser order `k` with `parent ≤ k < leaf` tiles the same region with
//! `4^(k − parent)` cells, each the union of `4^(leaf − k)` contiguous leaves, so a shard can
//! compute and write its own chunk of every order without seeing any other shard.
//!
//! The coarse statistics are **merged** from per-cell partial sums kept in f64, never from the
//! rounded f32 output: count and sum add; min and max take the extreme; mean keeps `Σx`;
//! weighted mean keeps `Σw` and `Σw·x`; the weighted-mean sigma keeps `Σw`; variance and
//! standard deviation keep the mean and `M2 = Σ(x − mean)²` and merge them with the parallel
//! formula of Chan, Golub & LeVeque:
//! `δ = mean_b − mean_a`, `mean = mean_a + δ·n_b/n`, `M2 = M2_a + M2_b + δ²·n_a·n_b/n`.
//! Each order is merged from the next finer one, four children at a time.
//!
//! Quantiles do not merge. They are instead computed **exactly** at every coarse order from the
//! shard's raw values, which are in memory: the rows of a coarse cell are one contiguous slice
//! of the rows bucketed by leaf ([`Bucketed`]), so this costs one selection per cell per order.

use crate::aggregate::{
    mean, quantiles_type7, variance, weight, Aggregator, Bucketed, Op, ShardStats,
};
use crate::config::WeightTransform;

/// Statistics of one shard at one order.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// HEALPix order of the cells.
    pub order: u8,
    /// One value per cell of the shard at this order (`4^(order − parent)` cells), per variable.
    pub stats: ShardStats,
}

/// Mergeable partial statistics of every cell of a shard at one order, per variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Partials {
    /// Valid rows per cell.
    n: Vec<u64>,
    /// One accumulator per configured variable, in config order.
    acc: Vec<Acc>,
}

/// The state a reduction needs to be merged; vectors run over the cells.
#[derive(Debug, Clone, PartialEq)]
enum Acc {
    /// Needs only the count.
    Count,
    /// Σx.
    Sum(Vec<f64>),
    /// Smallest x.
    Min(Vec<f64>),
    /// Largest x.
    Max(Vec<f64>),
    /// Σx, divided by the count at the end.
    Mean(Vec<f64>),
    /// Σw and Σw·x.
    Weighted { sw: Vec<f64>, swx: Vec<f64> },
    /// Σw.
    WeightSum(Vec<f64>),
    /// Mean and M2 = Σ(x − mean)²; `std` gives √(M2/n) instead of M2/n.
    Moments {
        mean: Vec<f64>,
        m2: Vec<f64>,
        std: bool,
    },
    /// Not mergeable: computed from the raw values.
    Quantile,
}

impl Partials {
    /// Partial statistics of every leaf cell, from rows grouped by [`Aggregator::bucket`].
    ///
    /// Each accumulator is computed with the same arithmetic as [`Aggregator::aggregate`], so
    /// [`Partials::finalize`] of the leaves reproduces its non-quantile values bit for bit.
    pub fn from_leaves(aggregator: &Aggregator, bucketed: &Bucketed) -> Self {
        let n_cells = bucketed.counts.len();
        let n: Vec<u64> = bucketed.counts.iter().map(|&c| u64::from(c)).collect();
        let cells = |f: &dyn Fn(usize, usize) -> f64| -> Vec<f64> {
            (0..n_cells)
                .map(|i| {
                    let (a, b) = (bucketed.starts[i], bucketed.starts[i + 1]);
                    if a == b {
                        f64::NAN
                    } else {
                        f(a, b)
                    }
                })
                .collect()
        };
        let col = |c: usize, a: usize, b: usize| &bucketed.columns[c][a..b];
        let weights = |w: usize, t: WeightTransform, a: usize, b: usize| {
            col(w, a, b).iter().filter_map(move |&x| weight(t, x))
        };
        let acc = aggregator
            .ops()
            .iter()
            .map(|op| match *op {
                Op::Count => Acc::Count,
                Op::Sum(c) => Acc::Sum(cells(&|a, b| col(c, a, b).iter().sum())),
                Op::Min(c) => Acc::Min(cells(&|a, b| {
                    col(c, a, b).iter().copied().fold(f64::INFINITY, f64::min)
                })),
                Op::Max(c) => Acc::Max(cells(&|a, b| {
                    col(c, a, b)
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max)
                })),
                Op::Mean(c) => Acc::Mean(cells(&|a, b| col(c, a, b).iter().sum())),
                Op::WeightedMean(c, w, t) => Acc::Weighted {
                    sw: cells(&|a, b| weights(w, t, a, b).sum()),
                    swx: cells(&|a, b| {
                        col(c, a, b)
                            .iter()
                            .zip(col(w, a, b))
                            .filter_map(|(&x, &s)| weight(t, s).map(|w| w * x))
                            .sum()
                    }),
                },
                Op::WeightedMeanSigma(w, t) => {
                    Acc::WeightSum(cells(&|a, b| weights(w, t, a, b).sum()))
                }
                Op::Variance(c) | Op::Std(c) => Acc::Moments {
                    mean: cells(&|a, b| mean(col(c, a, b))),
                    m2: cells(&|a, b| variance(col(c, a, b)) * (b - a) as f64),
                    std: matches!(op, Op::Std(_)),
                },
                Op::Quantile(..) => Acc::Quantile,
            })
            .collect();
        Self { n, acc }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.n.len()
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.n.is_empty()
    }

    /// The partials of the parent order: cell `j` merges the four children `4j..4j + 4`.
    /// Empty children are skipped; a parent without observations stays empty.
    pub fn coarsen(&self) -> Self {
        let parents = self.n.len() / 4;
        let kids = |j: usize| (4 * j..4 * j + 4).filter(|&i| self.n[i] > 0);
        let n: Vec<u64> = (0..parents)
            .map(|j| kids(j).map(|i| self.n[i]).sum())
            .collect();
        let fold = |v: &[f64], f: fn(f64, f64) -> f64| -> Vec<f64> {
            (0..parents)
                .map(|j| kids(j).map(|i| v[i]).reduce(f).unwrap_or(f64::NAN))
                .collect()
        };
        let add = |a: f64, b: f64| a + b;
        let acc = self
            .acc
            .iter()
            .map(|acc| match acc {
                Acc::Count => Acc::Count,
                Acc::Sum(v) => Acc::Sum(fold(v, add)),
                Acc::Min(v) => Acc::Min(fold(v, f64::min)),
                Acc::Max(v) => Acc::Max(fold(v, f64::max)),
                Acc::Mean(v) => Acc::Mean(fold(v, add)),
                Acc::Weighted { sw, swx } => Acc::Weighted {
                    sw: fold(sw, add),
                    swx: fold(swx, add),
                },
                Acc::WeightSum(v) => Acc::WeightSum(fold(v, add)),
                Acc::Moments { mean, m2, std } => {
                    let mut out_mean = vec![f64::NAN; parents];
                    let mut out_m2 = vec![f64::NAN; parents];
                    for j in 0..parents {
                        let mut merged: Option<(u64, f64, f64)> = None;
                        for i in kids(j) {
                            let child = (self.n[i], mean[i], m2[i]);
                            merged = Some(match merged {
                                None => child,
                                Some(a) => merge_moments(a, child),
                            });
                        }
                        if let Some((_, m, s)) = merged {
                            out_mean[j] = m;
                            out_m2[j] = s;
                        }
                    }
                    Acc::Moments {
                        mean: out_mean,
                        m2: out_m2,
                        std: *std,
                    }
                }
                Acc::Quantile => Acc::Quantile,
            })
            .collect();
        Self { n, acc }
    }

    /// Final values of every variable (quantiles are left NaN: see [`shard_levels`]).
    pub fn finalize(&self) -> ShardStats {
        let n = &self.n;
        let per_cell = |f: &dyn Fn(usize) -> f64| -> Vec<f64> {
            (0..n.len())
                .map(|i| if n[i] == 0 { f64::NAN } else { f(i) })
                .collect()
        };
        let values = self
            .acc
            .iter()
            .map(|acc| match acc {
                Acc::Count => per_cell(&|i| n[i] as f64),
                Acc::Sum(v) | Acc::Min(v) | Acc::Max(v) => per_cell(&|i| v[i]),
                Acc::Mean(v) => per_cell(&|i| v[i] / n[i] as f64),
                Acc::Weighted { sw, swx } => per_cell(&|i| swx[i] / sw[i]),
                Acc::WeightSum(sw) => per_cell(&|i| 1.0 / sw[i].sqrt()),
                Acc::Moments { m2, std, .. } => per_cell(&|i| {
                    let var = m2[i] / n[i] as f64;
                    if *std {
                        var.sqrt()
                    } else {
                        var
                    }
                }),
                Acc::Quantile => vec![f64::NAN; n.len()],
            })
            .collect();
        ShardStats {
            counts: n
                .iter()
                .map(|&c| u32::try_from(c).unwrap_or(u32::MAX))
                .collect(),
            values,
        }
    }
}

/// Chan, Golub & LeVeque's pairwise update of (count, mean, M2).
fn merge_moments(a: (u64, f64, f64), b: (u64, f64, f64)) -> (u64, f64, f64) {
    let (na, ma, sa) = a;
    let (nb, mb, sb) = b;
    let n = na + nb;
    let (naf, nbf, nf) = (na as f64, nb as f64, n as f64);
    let delta = mb - ma;
    (
        n,
        ma + delta * (nbf / nf),
        sa + sb + delta * delta * (naf * nbf / nf),
    )
}

/// Exact quantiles of every cell at a coarse order: each cell is `group` consecutive leaves,
/// whose rows are one contiguous slice of the bucketed columns.
fn coarse_quantiles(
    aggregator: &Aggregator,
    bucketed: &Bucketed,
    group: usize,
    stats: &mut ShardStats,
) {
    let n_cells = stats.counts.len();
    let mut scratch = Vec::new();
    let mut out = Vec::new();
    for (c, qs) in aggregator.quantile_ops().iter().enumerate() {
        if qs.is_empty() {
            continue;
        }
        for cell in 0..n_cells {
            let (a, b) = (
                bucketed.starts[cell * group],
                bucketed.starts[(cell + 1) * group],
            );
            if a == b {
                continue;
            }
            scratch.clear();
            scratch.extend_from_slice(&bucketed.columns[c][a..b]);
            out.clear();
            quantiles_type7(&mut scratch, qs.iter().map(|&(_, q)| q), &mut out);
            for (&(var, _), &v) in qs.iter().zip(&out) {
                stats.values[var][cell] = v;
            }
        }
    }
}

/// Statistics of one shard at the leaf order and at every order of `orders` (finest first,
/// as [`crate::config::GridConfig::orders`] gives them).
///
/// The leaf level is [`Aggregator::aggregate`]'s result; coarser levels are merged from the
/// leaves as described in the module documentation. Orders that are not coarser than
/// `leaf_order`, or that are coarser than the shard (fewer than one cell), are skipped: the
/// config validation rules them out.
pub fn shard_levels(
    aggregator: &Aggregator,
    bucketed: &Bucketed,
    leaf_order: u8,
    orders: &[u8],
) -> Vec<Level> {
    let leaf_cells = aggregator.cells_per_shard();
    let span = leaf_cells.trailing_zeros() / 2;
    let mut levels = vec![Level {
        order: leaf_order,
        stats: aggregator.aggregate_bucketed(bucketed),
    }];
    let mut coarse: Vec<u8> = orders
        .iter()
        .copied()
        .filter(|&k| k < leaf_order && u32::from(leaf_order - k) <= span)
        .collect();
    if coarse.is_empty() {
        return levels;
    }
    coarse.sort_unstable_by(|a, b| b.cmp(a));
    coarse.dedup();
    let mut partials = Partials::from_leaves(aggregator, bucketed);
    let mut order = leaf_order;
    for k in coarse {
        while order > k {
            partials = partials.coarsen();
            order -= 1;
        }
        let mut stats = partials.finalize();
        let group = 1usize << (2 * u32::from(leaf_order - k));
        coarse_quantiles(aggregator, bucketed, group, &mut stats);
        levels.push(Level { order: k, stats });
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PipelineConfig;
    use proptest::prelude::*;

    /// Every reduction, on a 4-order shard (256 leaves), pyramid down to the shard.
    fn all_reductions() -> PipelineConfig {
        let text = crate::config::BUILTIN_CONFIGS[0].1;
        let base = PipelineConfig::from_yaml(text, "built-in").expect("built-in");
        let mut c = base.clone();
        c.grid.parent_order = 8;
        c.grid.pyramid = vec![8, 9, 10, 11];
        let extra = r#"
n: { reduce: count }
s: { reduce: sum, column: h_li }
lo: { reduce: min, column: h_li }
hi: { reduce: max, column: h_li }
m: { reduce: mean, column: h_li }
wm: { reduce: weighted_mean, column: h_li, weight: { column: h_li_sigma, transform: inverse_square } }
ws: { reduce: weighted_mean_sigma, weight: { column: h_li_sigma, transform: identity } }
v: { reduce: variance, column: h_li }
sd: { reduce: std, column: h_li_sigma }
q10: { reduce: quantile, column: h_li, q: 0.1 }
q50: { reduce: quantile, column: h_li_sigma, q: 0.5 }
q99: { reduce: quantile, column: h_li, q: 0.99 }
"#;
        c.aggregation.variables = serde_yaml::from_str(extra).expect("variables");
        c.validate("test").expect("valid");
        c
    }

    /// Naive reference for one group of (h, s) rows, in the variable order of `all_reductions`.
    fn naive(rows: &[(f64, f64)]) -> [f64; 12] {
        let n = rows.len() as f64;
        let h: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let s: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let sum: f64 = h.iter().sum();
        let m = sum / n;
        let var = h.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
        let ms = s.iter().sum::<f64>() / n;
        let sd = (s.iter().map(|x| (x - ms).powi(2)).sum::<f64>() / n).sqrt();
        let sw: f64 = s.iter().map(|s| 1.0 / (s * s)).sum();
        let swh: f64 = h.iter().zip(&s).map(|(h, s)| h / (s * s)).sum();
        let q = |v: &[f64], q: f64| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            let pos = q * (v.len() - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(v.len() - 1);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        [
            n,
            sum,
            h.iter().copied().fold(f64::INFINITY, f64::min),
            h.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            m,
            swh / sw,
            1.0 / s.iter().sum::<f64>().sqrt(),
            var,
            sd,
            q(&h, 0.1),
            q(&s, 0.5),
            q(&h, 0.99),
        ]
    }

    fn close(a: f64, b: f64, rel: f64, scale: f64) -> bool {
        (a - b).abs() <= rel * scale.max(a.abs()).max(b.abs()).max(1e-300)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn coarse_orders_equal_brute_force_recomputation(
            points in prop::collection::vec(
                // Cluster the rows on few leaves so cells hold several rows.
                (0u32..40, -100.0f64..4000.0, 0.01f64..5.0)
                    .prop_map(|(c, h, s)| (c * 97 % 256, f64::from(h as f32), f64::from(s as f32))),
                0..400,
            )
        ) {
            let config = all_reductions();
            let agg = Aggregator::new(&config);
            let mut buf = agg.buffer();
            for &(c, h, s) in &points {
                buf.push(c, &[h, s]);
            }
            let bucketed = agg.bucket(&buf);
            let levels = shard_levels(&agg, &bucketed, 12, &config.grid.orders());
            let got_orders: Vec<u8> = levels.iter().map(|l| l.order).collect();
            prop_assert_eq!(got_orders, vec![12, 11, 10, 9, 8]);
            for level in &levels {
                let shift = 2 * u32::from(12 - level.order);
                prop_assert_eq!(level.stats.counts.len(), 256 >> shift);
                prop_assert_eq!(level.stats.observations(), points.len() as u64);
                for cell in 0..level.stats.counts.len() {
                    let rows: Vec<(f64, f64)> = points
                        .iter()
                        .filter(|p| (p.0 >> shift) as usize == cell)
                        .map(|p| (p.1, p.2))
                        .collect();
                    let got: Vec<f64> = level.stats.values.iter().map(|v| v[cell]).collect();
                    prop_assert_eq!(level.stats.counts[cell] as usize, rows.len());
                    if rows.is_empty() {
                        prop_assert!(got.iter().all(|x| x.is_nan()), "empty cell {} at {}: {:?}", cell, level.order, got);
                        continue;
                    }
                    let want = naive(&rows);
                    let scale = want[2].abs().max(want[3].abs());
                    // count, min, max exactly; sums and means to f64 rounding.
                    prop_assert_eq!(got[0], want[0]);
                    prop_assert_eq!(got[2], want[2]);
                    prop_assert_eq!(got[3], want[3]);
                    // Quantiles (9..=11) are exact selections; the naive interpolation formula
                    // may round differently in the last f64 bit.
                    for i in [1, 4, 5, 6, 8, 9, 10, 11] {
                        let s = if i == 1 { scale * want[0] } else { scale };
                        prop_assert!(close(got[i], want[i], 1e-12, s), "order {} cell {} var {}: {} vs {}", level.order, cell, i, got[i], want[i]);
                    }
                    prop_assert!((got[7] - want[7]).abs() <= 1e-9 * (1.0 + scale).powi(2),
                        "variance at order {} cell {}: {} vs {}", level.order, cell, got[7], want[7]);
                }
            }
        }
    }

    #[test]
    fn finalized_leaf_partials_equal_the_leaf_aggregation_bit_for_bit() {
        let config = all_reductions();
        let agg = Aggregator::new(&config);
        let mut buf = agg.buffer();
        for i in 0..2000u32 {
            let h = 1000.0 + f64::from(i % 17) * 3.25 + f64::from(i).sin();
            buf.push(i * 7 % 256, &[h, 0.05 + f64::from(i % 5) * 0.1]);
        }
        let bucketed = agg.bucket(&buf);
        let leaf = agg.aggregate_bucketed(&bucketed);
        let finalized = Partials::from_leaves(&agg, &bucketed).finalize();
        assert_eq!(leaf.counts, finalized.counts);
        for (v, (a, b)) in leaf.values.iter().zip(&finalized.values).enumerate() {
            if matches!(agg.ops()[v], Op::Quantile(..)) {
                continue;
            }
            for (x, y) in a.iter().zip(b) {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "var {v}: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn chan_merge_matches_two_pass_variance() {
        let x: Vec<f64> = (0..101).map(|i| 3000.0 + f64::from(i).sqrt()).collect();
        let (a, b) = x.split_at(37);
        let part = |v: &[f64]| (v.len() as u64, mean(v), variance(v) * v.len() as f64);
        let (n, m, m2) = merge_moments(part(a), part(b));
        assert_eq!(n, 101);
        assert!((m - mean(&x)).abs() < 1e-12 * m);
        assert!((m2 / 101.0 - variance(&x)).abs() < 1e-9);
    }

    #[test]
    fn an_empty_shard_stays_empty_at_every_order() {
        let config = all_reductions();
        let agg = Aggregator::new(&config);
        let levels = shard_levels(&agg, &agg.bucket(&agg.buffer()), 12, &config.grid.orders());
        assert_eq!(levels.len(), 5);
        for l in levels {
            assert_eq!(l.stats.observations(), 0);
            assert!(l.stats.values[1..].iter().flatten().all(|x| x.is_nan()));
        }
    }

    #[test]
    fn orders_outside_the_shard_are_skipped() {
        let config = all_reductions();
        let agg = Aggregator::new(&config);
        let levels = shard_levels(&agg, &agg.bucket(&agg.buffer()), 12, &[12, 7, 10]);
        let orders: Vec<u8> = levels.iter().map(|l| l.order).collect();
        assert_eq!(orders, [12, 10]);
    }
}
