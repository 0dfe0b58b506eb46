//! Per-cell statistics of one shard's points.
//!
//! [`PointBuffer`] collects the valid rows of a shard (leaf cell + the used columns);
//! [`Aggregator::aggregate`] buckets them by leaf cell in one counting-sort pass (no scan of all
//! points per cell) and computes every configured reduction with f64 accumulation. Results are
//! f64; the store rounds them to the configured dtype.

use crate::config::{PipelineConfig, Reduction, WeightTransform};

/// The valid rows of one shard, in columnar form.
#[derive(Debug, Clone, Default)]
pub struct PointBuffer {
    /// Leaf cell of each row, as an offset from the shard's first leaf (`0..cells_per_shard`).
    leaf: Vec<u32>,
    /// One vector per used column, each as long as `leaf`.
    columns: Vec<Vec<f64>>,
}

impl PointBuffer {
    /// An empty buffer for `n_columns` columns.
    pub fn new(n_columns: usize) -> Self {
        Self {
            leaf: Vec::new(),
            columns: vec![Vec::new(); n_columns],
        }
    }

    /// Reserve room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        self.leaf.reserve(additional);
        for c in &mut self.columns {
            c.reserve(additional);
        }
    }

    /// Append one row. `values` has one entry per column, in column order.
    pub fn push(&mut self, leaf: u32, values: &[f64]) {
        debug_assert_eq!(values.len(), self.columns.len());
        self.leaf.push(leaf);
        for (column, &v) in self.columns.iter_mut().zip(values) {
            column.push(v);
        }
    }

    /// Append every row of another buffer with the same columns.
    pub fn append(&mut self, other: &PointBuffer) {
        debug_assert_eq!(other.columns.len(), self.columns.len());
        self.leaf.extend_from_slice(&other.leaf);
        for (mine, theirs) in self.columns.iter_mut().zip(&other.columns) {
            mine.extend_from_slice(theirs);
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.leaf.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.leaf.is_empty()
    }

    /// Number of columns.
    pub fn n_columns(&self) -> usize {
        self.columns.len()
    }

    /// Leaf cell of each row, as an offset from the shard's first leaf.
    pub fn leaves(&self) -> &[u32] {
        &self.leaf
    }

    /// Values of column `i` (in [`PipelineConfig::used_columns`] order), one per row.
    pub fn column(&self, i: usize) -> &[f64] {
        self.columns.get(i).map_or(&[], Vec::as_slice)
    }
}

/// The weight of a row: `None` when the value cannot be a weight (the row is then dropped).
pub fn weight(transform: WeightTransform, x: f64) -> Option<f64> {
    let w = match transform {
        WeightTransform::InverseSquare if x > 0.0 => 1.0 / (x * x),
        WeightTransform::Identity if x >= 0.0 => x,
        _ => return None,
    };
    (w.is_finite()).then_some(w)
}

/// One variable's reduction, with columns resolved to indices into the [`PointBuffer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Count,
    Sum(usize),
    Min(usize),
    Max(usize),
    Mean(usize),
    WeightedMean(usize, usize, WeightTransform),
    WeightedMeanSigma(usize, WeightTransform),
    Variance(usize),
    Std(usize),
    Quantile(usize, f64),
}

/// Statistics of one shard: one f64 per leaf cell per variable, NaN where a cell is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardStats {
    /// Valid rows per leaf cell.
    pub counts: Vec<u32>,
    /// One vector of `counts.len()` values per configured variable, in config order.
    pub values: Vec<Vec<f64>>,
}

impl ShardStats {
    /// Number of cells with at least one valid row.
    pub fn occupied_cells(&self) -> usize {
        self.counts.iter().filter(|&&c| c > 0).count()
    }

    /// Total valid rows.
    pub fn observations(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }
}

/// Computes the configured statistics; built once per config, reused for every shard.
#[derive(Debug, Clone)]
pub struct Aggregator {
    ops: Vec<Op>,
    n_columns: usize,
    cells_per_shard: usize,
    /// For each column, the quantile variables on it: (variable index, q).
    quantiles: Vec<Vec<(usize, f64)>>,
    /// Weight transforms per column used as a weight (for row validation).
    weight_checks: Vec<(usize, WeightTransform)>,
}

impl Aggregator {
    /// Build from a validated config. Columns are indexed in
    /// [`PipelineConfig::used_columns`] order, which is the order of a [`PointBuffer`].
    pub fn new(config: &PipelineConfig) -> Self {
        let columns = config.used_columns();
        let idx = |name: &str| columns.iter().position(|c| *c == name).unwrap_or(0);
        let mut ops = Vec::new();
        let mut weight_checks = Vec::new();
        for v in config.aggregation.variables.values() {
            let col = v.column.as_deref().map(idx).unwrap_or(0);
            let w = v.weight.as_ref().map(|w| (idx(&w.column), w.transform));
            if let Some(check) = w {
                if !weight_checks.contains(&check) {
                    weight_checks.push(check);
                }
            }
            let (wcol, wt) = w.unwrap_or((0, WeightTransform::Identity));
            ops.push(match v.reduce {
                Reduction::Count => Op::Count,
                Reduction::Sum => Op::Sum(col),
                Reduction::Min => Op::Min(col),
                Reduction::Max => Op::Max(col),
                Reduction::Mean => Op::Mean(col),
                Reduction::WeightedMean => Op::WeightedMean(col, wcol, wt),
                Reduction::WeightedMeanSigma => Op::WeightedMeanSigma(wcol, wt),
                Reduction::Variance => Op::Variance(col),
                Reduction::Std => Op::Std(col),
                Reduction::Quantile => Op::Quantile(col, v.q.unwrap_or(0.5)),
            });
        }
        let mut quantiles = vec![Vec::new(); columns.len()];
        for (i, op) in ops.iter().enumerate() {
            if let Op::Quantile(c, q) = *op {
                quantiles[c].push((i, q));
            }
        }
        let span = u32::from(config.grid.leaf_order - config.grid.parent_order);
        Self {
            ops,
            n_columns: columns.len(),
            cells_per_shard: 1usize << (2 * span),
            quantiles,
            weight_checks,
        }
    }

    /// Number of leaf cells in one shard.
    pub fn cells_per_shard(&self) -> usize {
        self.cells_per_shard
    }

    /// An empty buffer with this aggregator's columns.
    pub fn buffer(&self) -> PointBuffer {
        PointBuffer::new(self.n_columns)
    }

    /// Whether a row's values can be weights for every weighted variable.
    pub fn weights_valid(&self, values: &[f64]) -> bool {
        self.weight_checks
            .iter()
            .all(|&(c, t)| weight(t, values[c]).is_some())
    }

    /// The configured reductions, in config order.
    pub(crate) fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// For each column, the quantile variables on it: (variable index, q).
    pub(crate) fn quantile_ops(&self) -> &[Vec<(usize, f64)>] {
        &self.quantiles
    }

    /// Group the rows of a shard by leaf cell with a counting sort (O(n + cells)).
    pub fn bucket(&self, points: &PointBuffer) -> Bucketed {
        let n_cells = self.cells_per_shard;
        let mut counts = vec![0u32; n_cells];
        for &leaf in &points.leaf {
            counts[leaf as usize] += 1;
        }
        let mut starts = Vec::with_capacity(n_cells + 1);
        let mut acc = 0usize;
        starts.push(0);
        for &c in &counts {
            acc += c as usize;
            starts.push(acc);
        }
        let mut cursor = starts.clone();
        let mut order = vec![0u32; points.len()];
        for (row, &leaf) in points.leaf.iter().enumerate() {
            let slot = &mut cursor[leaf as usize];
            order[*slot] = row as u32;
            *slot += 1;
        }
        let columns: Vec<Vec<f64>> = points
            .columns
            .iter()
            .map(|col| order.iter().map(|&r| col[r as usize]).collect())
            .collect();
        Bucketed {
            counts,
            starts,
            columns,
        }
    }

    /// Compute every variable for every leaf cell of the shard.
    ///
    /// Rows are bucketed by leaf with a counting sort (O(n + cells)); each cell's statistics
    /// are then computed from its contiguous slice.
    pub fn aggregate(&self, points: &PointBuffer) -> ShardStats {
        self.aggregate_bucketed(&self.bucket(points))
    }

    /// Compute every variable for every leaf cell from rows already grouped by [`Aggregator::bucket`].
    pub fn aggregate_bucketed(&self, bucketed: &Bucketed) -> ShardStats {
        let n_cells = self.cells_per_shard;
        let Bucketed {
            counts,
            starts,
            columns: sorted,
        } = bucketed;
        let mut values = vec![vec![f64::NAN; n_cells]; self.ops.len()];
        let mut scratch = Vec::new();
        let mut q_out = Vec::new();
        for cell in 0..n_cells {
            let (a, b) = (starts[cell], starts[cell + 1]);
            if a == b {
                continue;
            }
            let cols: Vec<&[f64]> = sorted.iter().map(|c| &c[a..b]).collect();
            for (i, op) in self.ops.iter().enumerate() {
                values[i][cell] = match *op {
                    Op::Count => (b - a) as f64,
                    Op::Sum(c) => cols[c].iter().sum(),
                    Op::Min(c) => cols[c].iter().copied().fold(f64::INFINITY, f64::min),
                    Op::Max(c) => cols[c].iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Op::Mean(c) => mean(cols[c]),
                    Op::WeightedMean(c, w, t) => weighted_mean(cols[c], cols[w], t),
                    Op::WeightedMeanSigma(w, t) => {
                        let sw: f64 = cols[w].iter().filter_map(|&x| weight(t, x)).sum();
                        1.0 / sw.sqrt()
                    }
                    Op::Variance(c) => variance(cols[c]),
                    Op::Std(c) => variance(cols[c]).sqrt(),
                    Op::Quantile(..) => continue,
                };
            }
            for (c, qs) in self.quantiles.iter().enumerate() {
                if qs.is_empty() {
                    continue;
                }
                scratch.clear();
                scratch.extend_from_slice(cols[c]);
                q_out.clear();
                quantiles_type7(&mut scratch, qs.iter().map(|&(_, q)| q), &mut q_out);
                for (&(var, _), &v) in qs.iter().zip(&q_out) {
                    values[var][cell] = v;
                }
            }
        }
        ShardStats {
            counts: counts.clone(),
            values,
        }
    }
}

/// The rows of one shard grouped by leaf cell: the rows of leaf `i` (an offset from the
/// shard's first leaf) are `starts[i]..starts[i + 1]` of every column. Because the leaves of a
/// coarser cell are contiguous, so are its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucketed {
    /// Rows per leaf cell.
    pub counts: Vec<u32>,
    /// Start of each leaf's rows, plus the total at the end (`counts.len() + 1` entries).
    pub starts: Vec<usize>,
    /// The used columns, rows sorted by leaf cell (stable within a cell).
    pub columns: Vec<Vec<f64>>,
}

pub(crate) fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

pub(crate) fn weighted_mean(x: &[f64], w: &[f64], t: WeightTransform) -> f64 {
    let (mut swx, mut sw) = (0.0, 0.0);
    for (&x, &w) in x.iter().zip(w) {
        if let Some(w) = weight(t, w) {
            swx += w * x;
            sw += w;
        }
    }
    swx / sw
}

/// Population variance (ddof = 0), two-pass for accuracy.
pub(crate) fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|&v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64
}

/// Linear interpolation as numpy's `_lerp`: exact at both ends, symmetric rounding.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Quantiles with linear interpolation between order statistics (Hyndman–Fan type 7, numpy's
/// default), computed the way numpy does so that results round to the same float32.
///
/// `x` is reordered. Small inputs are sorted once; large ones use selection per quantile.
pub fn quantiles_type7(x: &mut [f64], qs: impl Iterator<Item = f64>, out: &mut Vec<f64>) {
    let n = x.len();
    if n == 0 {
        out.extend(qs.map(|_| f64::NAN));
        return;
    }
    let qs: Vec<f64> = qs.collect();
    let sorted = n <= 64 || qs.len() * 2 > (n as f64).log2() as usize;
    if sorted {
        x.sort_unstable_by(f64::total_cmp);
    }
    for q in qs {
        // numpy's virtual index for method "linear": n*q + (alpha + q*(1 - alpha - beta)) - 1.
        const ALPHA: f64 = 1.0;
        const BETA: f64 = 1.0;
        let virtual_index = (n as f64) * q + (ALPHA + q * (1.0 - ALPHA - BETA)) - 1.0;
        let virtual_index = virtual_index.clamp(0.0, (n - 1) as f64);
        let lo = virtual_index.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let gamma = virtual_index - lo as f64;
        let (a, b) = if sorted {
            (x[lo], x[hi])
        } else {
            let (_, a, rest) = x.select_nth_unstable_by(lo, f64::total_cmp);
            let a = *a;
            let b = if hi == lo {
                a
            } else {
                rest.iter().copied().fold(f64::INFINITY, f64::min)
            };
            (a, b)
        };
        out.push(lerp(a, b, gamma));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn aggregator() -> Aggregator {
        Aggregator::new(&PipelineConfig::builtin_default().expect("config"))
    }

    /// Statistics of one cell from float32 inputs, rounded to float32 as stored.
    fn one_cell(h: &[f32], s: &[f32]) -> Vec<f32> {
        let agg = aggregator();
        let mut buf = agg.buffer();
        for (&h, &s) in h.iter().zip(s) {
            buf.push(7, &[f64::from(h), f64::from(s)]);
        }
        let stats = agg.aggregate(&buf);
        assert_eq!(stats.counts[7] as usize, h.len());
        assert_eq!(stats.occupied_cells(), 1);
        stats.values.iter().map(|v| v[7] as f32).collect()
    }

    fn assert_matches_digits(got: f32, shown: &str) {
        // The SPEC table shows float32 values to the digits given; the last f32 unit may
        // differ between f64 and f32 arithmetic.
        let expected: f32 = shown.parse().expect("number");
        let ulp = (f32::from_bits(expected.to_bits() + 1) - expected).abs();
        let decimals = shown.split('.').nth(1).map_or(0, str::len);
        let same_digits = format!("{got:.decimals$}") == format!("{expected:.decimals$}");
        assert!(
            same_digits || (got - expected).abs() <= ulp,
            "got {got}, expected {shown}"
        );
    }

    #[test]
    fn golden_rows_of_the_spec() {
        let rows: &[(&[f32], &[f32], [&str; 10])] = &[
            (
                &[120.5, 118.3, 122.1, 119.7, 121.0],
                &[0.05, 0.10, 0.03, 0.08, 0.06],
                [
                    "5",
                    "118.3",
                    "122.1",
                    "121.26848",
                    "0.0221125",
                    "1.6255972",
                    "119.7",
                    "120.5",
                    "121.0",
                    "",
                ],
            ),
            (
                &[1234.5],
                &[0.1],
                [
                    "1", "1234.5", "1234.5", "1234.5", "0.1", "0", "1234.5", "1234.5", "1234.5", "",
                ],
            ),
            (
                &[1234.5, 1236.5],
                &[0.1, 0.2],
                [
                    "2",
                    "1234.5",
                    "1236.5",
                    "1234.8999",
                    "0.0894427",
                    "1.0",
                    "1235.0",
                    "1235.5",
                    "1236.0",
                    "",
                ],
            ),
        ];
        for (h, s, expected) in rows {
            let got = one_cell(h, s);
            // count, min, max and quantiles exactly; the rest to the digits shown.
            assert_eq!(got[0], expected[0].parse::<f32>().expect("count"));
            for i in [1, 2, 6, 7, 8] {
                assert_eq!(
                    got[i],
                    expected[i].parse::<f32>().expect("value"),
                    "variable {i}"
                );
            }
            for i in [3, 4, 5] {
                assert_matches_digits(got[i], expected[i]);
            }
        }
    }

    #[test]
    fn empty_cells_are_nan_and_zero_count() {
        let agg = aggregator();
        let stats = agg.aggregate(&agg.buffer());
        assert_eq!(stats.counts.len(), 4096);
        assert_eq!(stats.occupied_cells(), 0);
        assert!(stats.values[1..]
            .iter()
            .all(|v| v.iter().all(|x| x.is_nan())));
    }

    #[test]
    fn weights_reject_nonpositive_sigma() {
        assert_eq!(weight(WeightTransform::InverseSquare, 0.0), None);
        assert_eq!(weight(WeightTransform::InverseSquare, -1.0), None);
        assert_eq!(weight(WeightTransform::InverseSquare, f64::NAN), None);
        assert_eq!(weight(WeightTransform::InverseSquare, 0.5), Some(4.0));
        assert_eq!(weight(WeightTransform::Identity, -0.1), None);
    }

    /// Deliberately naive reference: one full scan of all points per cell, full sorts.
    fn naive(points: &[(u32, f64, f64)], cell: u32) -> Option<[f64; 9]> {
        let mut h: Vec<f64> = points.iter().filter(|p| p.0 == cell).map(|p| p.1).collect();
        let s: Vec<f64> = points.iter().filter(|p| p.0 == cell).map(|p| p.2).collect();
        if h.is_empty() {
            return None;
        }
        let n = h.len() as f64;
        let sw: f64 = s.iter().map(|s| 1.0 / (s * s)).sum();
        let swh: f64 = h.iter().zip(&s).map(|(h, s)| h / (s * s)).sum();
        let m = h.iter().sum::<f64>() / n;
        let var = h.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
        h.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        let q = |q: f64| {
            let pos = q * (n - 1.0);
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(h.len() - 1);
            h[lo] + (h[hi] - h[lo]) * (pos - lo as f64)
        };
        Some([
            n,
            h[0],
            h[h.len() - 1],
            swh / sw,
            1.0 / sw.sqrt(),
            var,
            q(0.25),
            q(0.5),
            q(0.75),
        ])
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
    }

    proptest! {
        #[test]
        fn matches_naive_reference(
            points in prop::collection::vec(
                (0u32..4096, -100.0f64..4000.0, 0.01f64..5.0)
                    .prop_map(|(c, h, s)| (c % 37 * 97 % 4096, f64::from(h as f32), f64::from(s as f32))),
                0..600,
            )
        ) {
            let agg = aggregator();
            let mut buf = agg.buffer();
            for &(c, h, s) in &points {
                buf.push(c, &[h, s]);
            }
            let stats = agg.aggregate(&buf);
            prop_assert_eq!(stats.observations(), points.len() as u64);
            for cell in 0..4096u32 {
                let got: Vec<f64> = stats.values.iter().map(|v| v[cell as usize]).collect();
                match naive(&points, cell) {
                    None => {
                        prop_assert_eq!(stats.counts[cell as usize], 0);
                        prop_assert!(got[1..].iter().all(|x| x.is_nan()));
                    }
                    Some(want) => {
                        prop_assert_eq!(got[0], want[0]);
                        prop_assert_eq!(got[1], want[1]);
                        prop_assert_eq!(got[2], want[2]);
                        for i in [3, 4] {
                            prop_assert!(close(got[i], want[i], 1e-12), "var {} {} vs {}", i, got[i], want[i]);
                        }
                        // Variance: absolute tolerance relative to the scale of the values.
                        prop_assert!((got[5] - want[5]).abs() <= 1e-9 * (1.0 + want[1].abs().max(want[2].abs())).powi(2));
                        for i in 6..9 {
                            prop_assert!(close(got[i], want[i], 1e-12), "quantile {} {} vs {}", i, got[i], want[i]);
                        }
                    }
                }
            }
        }

        #[test]
        fn selection_and_sorting_quantiles_agree(
            mut x in prop::collection::vec(-1e6f64..1e6, 1..3000),
            q in 0.0f64..=1.0,
        ) {
            let mut by_select = Vec::new();
            let mut y = x.clone();
            // Force the selection path with a single quantile on a large input.
            quantiles_type7(&mut y, std::iter::once(q), &mut by_select);
            x.sort_by(f64::total_cmp);
            let mut by_sort = Vec::new();
            quantiles_type7(&mut x, std::iter::once(q), &mut by_sort);
            prop_assert_eq!(by_select, by_sort);
        }
    }
}
