//! The local runner: every stage in one process (`zagg run`).
//!
//! 1. find the shards the granules touch (hash every point at the parent order), optionally
//!    restricted to an AOI;
//! 2. create the store template;
//! 3. process the shards concurrently on a bounded worker pool, each exactly as a process
//!    Lambda would;
//! 4. consolidate the metadata and write the run report `run.json` into the store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::aoi::Aoi;
use crate::config::PipelineConfig;
use crate::granule::{ByteSource, Granule, GranuleError};
use crate::grid::{self, Hasher};
use crate::shard::{
    beam_positions, process_shard, Counts, GranuleFailure, ShardContext, ShardReport, ShardStatus,
};
use crate::store::{Store, StoreError};

/// Key of the run report in the store.
pub const RUN_REPORT_KEY: &str = "run.json";

/// Options of a local run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads for shards (≥ 1).
    pub jobs: usize,
    /// Restrict to these shards.
    pub aoi: Option<Aoi>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// A shard that failed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFailure {
    /// Nested id at the parent order.
    pub shard: u64,
    /// The error message.
    pub error: String,
}

/// The run report, written as `run.json` and summarised on the terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// zagg version.
    pub version: String,
    /// Store location.
    pub store: String,
    /// Start time, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Granules given.
    pub granules: u64,
    /// Granules that could not be read while finding shards (left out of every shard).
    pub granules_failed: Vec<GranuleFailure>,
    /// Shards processed.
    pub shards: u64,
    /// Shards with observations.
    pub shards_ok: u64,
    /// Shards without observations.
    pub shards_empty: u64,
    /// Shards that failed (store errors, or all their granules failed).
    pub shards_failed: Vec<ShardFailure>,
    /// Leaf cells with observations.
    pub cells: u64,
    /// Summed row and beam counts.
    pub counts: Counts,
    /// Bytes read from granule sources by the shards.
    pub bytes_read: u64,
    /// Read requests made by the shards.
    pub requests: u64,
    /// Per-shard reports, by shard id.
    pub shard_reports: Vec<ShardReport>,
    /// Orders written, finest first (the leaf order, then the pyramid orders).
    #[serde(default)]
    pub orders: Vec<u8>,
}

impl RunReport {
    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let mut s = format!(
            "store        {}\n\
             granules     {} ({} unreadable)\n\
             shards       {} with data, {} empty, {} failed\n\
             observations {} in {} cells\n\
             dropped      {} quality, {} fill, {} non-finite, {} bad weight, {} bad position\n\
             read         {:.1} MB in {} requests\n\
             orders       {}\n\
             wall time    {:.2} s{}\n",
            self.store,
            self.granules,
            self.granules_failed.len(),
            self.shards_ok,
            self.shards_empty,
            self.shards_failed.len(),
            c.observations,
            self.cells,
            c.dropped_quality,
            c.dropped_fill,
            c.dropped_nonfinite,
            c.dropped_weight,
            c.invalid_positions,
            self.bytes_read as f64 / 1e6,
            self.requests,
            format_orders(&self.orders),
            self.seconds,
            self.slowest_shard()
                .map(|r| format!(" (slowest shard {}: {:.2} s)", r.shard, r.seconds))
                .unwrap_or_default(),
        );
        for f in &self.granules_failed {
            s.push_str(&format!("unreadable   {}\n", f.error));
        }
        for f in &self.shards_failed {
            s.push_str(&format!("failed shard {}: {}\n", f.shard, f.error));
        }
        s
    }
}

impl RunReport {
    /// The shard that took longest, if any was processed.
    pub fn slowest_shard(&self) -> Option<&ShardReport> {
        self.shard_reports
            .iter()
            .max_by(|a, b| a.seconds.total_cmp(&b.seconds))
    }
}

/// `12 (leaf), pyramid 11..6` style description of the orders written.
fn format_orders(orders: &[u8]) -> String {
    match orders {
        [] => "-".into(),
        [leaf] => format!("{leaf}"),
        [leaf, rest @ ..] => {
            let contiguous = rest.windows(2).all(|w| w[0] == w[1] + 1);
            let pyramid = match (contiguous, rest.first(), rest.last()) {
                (true, Some(a), Some(b)) if rest.len() > 1 => format!("{a}..{b}"),
                _ => rest
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            format!("{leaf} (leaf), pyramid {pyramid}")
        }
    }
}

/// Errors that stop a run (shard and granule failures are reported, not raised).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The grid could not be set up.
    #[error("{0}")]
    Grid(#[from] grid::GridError),
    /// The store template, consolidation or report failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The AOI is at a different order than the shards.
    #[error("AOI {name} is at order {aoi_order}, shards are at order {shard_order}")]
    AoiOrder {
        /// AOI name.
        name: String,
        /// Its order.
        aoi_order: u8,
        /// The config's parent order.
        shard_order: u8,
    },
    /// The worker pool could not start.
    #[error("cannot start {jobs} worker threads: {message}")]
    Pool {
        /// Threads asked for.
        jobs: usize,
        /// Cause.
        message: String,
    },
}

/// The shards one granule touches (cells at the parent order holding any of its points).
///
/// # Errors
/// [`GranuleError`] when the granule or a latitude/longitude dataset cannot be read.
pub fn granule_shards(
    config: &PipelineConfig,
    parent_hasher: &Hasher,
    source: Arc<dyn ByteSource>,
) -> Result<BTreeSet<u64>, GranuleError> {
    let granule = Granule::open(source)?;
    let mut shards = BTreeSet::new();
    let mut counts = Counts::default();
    for beam in &config.source.beams {
        let Some(positions) = beam_positions(&granule, &config.source, beam, &mut counts)? else {
            continue;
        };
        let mut last = None;
        for (&la, &lo) in positions.lat.iter().zip(&positions.lon) {
            if let Ok(cell) = parent_hasher.hash(la, lo) {
                if last != Some(cell) {
                    shards.insert(cell);
                    last = Some(cell);
                }
            }
        }
    }
    Ok(shards)
}

/// Run every stage locally over the given granules.
///
/// # Errors
/// [`RunError`] when the store cannot be set up or finished; failures of single granules and
/// shards are in the report instead.
pub fn run_local(
    config: Arc<PipelineConfig>,
    granules: Vec<Arc<dyn ByteSource>>,
    store: &Store,
    options: &RunOptions,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let parent_order = config.grid.parent_order;
    if let Some(aoi) = &options.aoi {
        if aoi.order != parent_order {
            return Err(RunError::AoiOrder {
                name: aoi.name.clone(),
                aoi_order: aoi.order,
                shard_order: parent_order,
            });
        }
    }
    let jobs = options.jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| RunError::Pool {
            jobs,
            message: e.to_string(),
        })?;

    // 1. Shards the granules touch.
    let parent_hasher = Hasher::new(parent_order, config.grid.ellipsoid)?;
    let found: Vec<Result<BTreeSet<u64>, GranuleError>> = pool.install(|| {
        granules
            .par_iter()
            .map(|g| granule_shards(&config, &parent_hasher, g.clone()))
            .collect()
    });
    let mut by_shard: BTreeMap<u64, Vec<Arc<dyn ByteSource>>> = BTreeMap::new();
    let mut granules_failed = Vec::new();
    for (source, result) in granules.iter().zip(found) {
        match result {
            Ok(shards) => {
                for shard in shards {
                    if options
                        .aoi
                        .as_ref()
                        .is_none_or(|a| a.cells.contains(&shard))
                    {
                        by_shard.entry(shard).or_default().push(source.clone());
                    }
                }
            }
            Err(e) => {
                tracing::warn!(granule = source.name(), error = %e, "granule unreadable");
                granules_failed.push(GranuleFailure {
                    granule: source.name().to_string(),
                    error: e.to_string(),
                });
            }
        }
    }
    tracing::info!(
        shards = by_shard.len(),
        granules = granules.len(),
        "shards found"
    );

    // 2. Template.
    store.create_template(&config)?;

    // 3. Shards, on a bounded pool.
    let ctx = ShardContext::new(config.clone())?;
    let bar = if options.progress {
        let bar = ProgressBar::new(by_shard.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} shards {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let observations = AtomicUsize::new(0);
    let results: Vec<(u64, Result<ShardReport, String>)> = pool.install(|| {
        by_shard
            .par_iter()
            .map(|(&shard, sources)| {
                let r = process_shard(&ctx, shard, sources, store).map_err(|e| e.to_string());
                if let Ok(rep) = &r {
                    let total = observations
                        .fetch_add(rep.counts.observations as usize, Ordering::Relaxed)
                        + rep.counts.observations as usize;
                    bar.set_message(format!("{total} observations"));
                }
                bar.inc(1);
                (shard, r)
            })
            .collect()
    });
    bar.finish_and_clear();

    // 4. Report and consolidation.
    let mut report = RunReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        store: store.location().to_string(),
        started_unix,
        seconds: 0.0,
        granules: granules.len() as u64,
        granules_failed,
        shards: results.len() as u64,
        shards_ok: 0,
        shards_empty: 0,
        shards_failed: Vec::new(),
        cells: 0,
        counts: Counts::default(),
        bytes_read: 0,
        requests: 0,
        shard_reports: Vec::new(),
        orders: config.grid.orders(),
    };
    for (shard, result) in results {
        match result {
            Ok(r) => {
                match r.status {
                    ShardStatus::Ok => report.shards_ok += 1,
                    ShardStatus::Empty => report.shards_empty += 1,
                    ShardStatus::Failed => report.shards_failed.push(ShardFailure {
                        shard,
                        error: format!(
                            "all {} granules failed; first: {}",
                            r.granules,
                            r.granules_failed.first().map_or("", |f| f.error.as_str())
                        ),
                    }),
                }
                report.cells += r.cells;
                report.counts.add(&r.counts);
                report.bytes_read += r.bytes_read;
                report.requests += r.requests;
                report.shard_reports.push(r);
            }
            Err(error) => report.shards_failed.push(ShardFailure { shard, error }),
        }
    }
    store.consolidate(&config)?;
    report.seconds = started.elapsed().as_secs_f64();
    let value = serde_json::to_value(&report).map_err(|e| StoreError::Io {
        store: store.location().to_string(),
        action: "encode run report".into(),
        message: e.to_string(),
    })?;
    store.write_json(RUN_REPORT_KEY, &value)?;
    Ok(report)
}
