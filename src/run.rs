//! The local runner: every stage in one process (`zagg run`).
//!
//! 1. find the shards: either from a catalog ([`run_catalog`], the shards of an AOI that the
//!    granule footprints touch, see [`crate::catalog`]), or from the granules themselves
//!    ([`run_local`], hashing every point at the parent order), optionally restricted to an
//!    AOI;
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
use crate::catalog::{Access, Catalog};
use crate::config::PipelineConfig;
use crate::granule::{ByteSource, Granule, GranuleError};
use crate::grid::{self, Hasher};
use crate::shard::{
    beam_positions, process_shard, Counts, GranuleFailure, ShardContext, ShardReport, ShardStatus,
};
use crate::store::{Store, StoreError};

pub mod journal;

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
    /// Take the recorded report of shards a previous run of the same inputs finished
    /// (see [`journal`]) instead of processing them again.
    pub resume: bool,
}

impl Default for RunOptions {
    /// One worker, no AOI, no progress bar, resuming.
    fn default() -> Self {
        Self {
            jobs: 1,
            aoi: None,
            progress: false,
            resume: true,
        }
    }
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
    /// Shards whose report was taken from the journal of an earlier run of the same inputs
    /// (not processed again). Not written to `run.json`, which describes the store, not how
    /// often it took to make it.
    #[serde(skip)]
    pub shards_resumed: u64,
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
             wall time    {:.2} s{}\n{}",
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
            if self.shards_resumed > 0 {
                format!(
                    "resumed      {} shards finished by an earlier run were not redone\n",
                    self.shards_resumed
                )
            } else {
                String::new()
            },
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
    /// A catalog made for another parent order than the config's.
    #[error("the catalog has shards at order {catalog_order}, the config's parent order is {shard_order}")]
    CatalogOrder {
        /// Order of the catalog's shards.
        catalog_order: u8,
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

/// Opens a granule by location (a path or URL) for [`run_catalog`]; the error is a message
/// that names the granule.
pub type Opener<'a> = dyn Fn(&str) -> Result<Arc<dyn ByteSource>, String> + Sync + 'a;

/// Shards to process and the granules of each.
#[derive(Debug, Default)]
pub struct RunPlan {
    /// Granule sources of each shard (nested id at the parent order).
    pub by_shard: BTreeMap<u64, Vec<Arc<dyn ByteSource>>>,
    /// Granules considered.
    pub granules: u64,
    /// Granules that could not be opened or read while planning (left out of every shard).
    pub granules_failed: Vec<GranuleFailure>,
    /// Shards that cannot be processed because none of their granules could be opened.
    pub shards_failed: Vec<ShardFailure>,
}

fn start_clock() -> (Instant, u64) {
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (Instant::now(), started_unix)
}

fn pool(jobs: usize) -> Result<rayon::ThreadPool, RunError> {
    let jobs = jobs.max(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| RunError::Pool {
            jobs,
            message: e.to_string(),
        })
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
    let clock = start_clock();
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
    let pool = pool(options.jobs)?;

    // 1. Shards the granules touch.
    let parent_hasher = Hasher::new(parent_order, config.grid.ellipsoid)?;
    let found: Vec<Result<BTreeSet<u64>, GranuleError>> = pool.install(|| {
        granules
            .par_iter()
            .map(|g| granule_shards(&config, &parent_hasher, g.clone()))
            .collect()
    });
    let mut plan = RunPlan {
        granules: granules.len() as u64,
        ..RunPlan::default()
    };
    for (source, result) in granules.iter().zip(found) {
        match result {
            Ok(shards) => {
                for shard in shards {
                    if options
                        .aoi
                        .as_ref()
                        .is_none_or(|a| a.cells.contains(&shard))
                    {
                        plan.by_shard.entry(shard).or_default().push(source.clone());
                    }
                }
            }
            Err(e) => {
                tracing::warn!(granule = source.name(), error = %e, "granule unreadable");
                plan.granules_failed.push(GranuleFailure {
                    granule: source.name().to_string(),
                    error: e.to_string(),
                });
            }
        }
    }
    tracing::info!(
        shards = plan.by_shard.len(),
        granules = granules.len(),
        "shards found"
    );
    execute(&config, plan, store, options, &pool, clock)
}

/// Run every stage locally over the shards of a catalog, reading each granule from its
/// `access` URL, opened once with `open` (e.g. [`crate::granule::open_source`] for local
/// files, or a [`crate::source::Cloud`] for `s3://` and `https://`). A granule that cannot be
/// opened is reported and left out; a shard none of whose granules opens is a failed shard.
/// `options.aoi` is not used: the catalog was made for an AOI already.
///
/// # Errors
/// [`RunError`] when the catalog's order differs from the config's, or the store cannot be
/// set up or finished.
pub fn run_catalog(
    config: Arc<PipelineConfig>,
    catalog: &Catalog,
    access: Access,
    open: &Opener<'_>,
    store: &Store,
    options: &RunOptions,
) -> Result<RunReport, RunError> {
    let clock = start_clock();
    let parent_order = config.grid.parent_order;
    if let Some(item) = catalog.0.iter().find(|i| i.parent_order != parent_order) {
        return Err(RunError::CatalogOrder {
            catalog_order: item.parent_order,
            shard_order: parent_order,
        });
    }
    let pool = pool(options.jobs)?;
    // Each granule once, by id.
    let unique: BTreeMap<&str, &crate::catalog::CatalogGranule> = catalog
        .0
        .iter()
        .flat_map(|i| i.granules.iter().map(|g| (g.id.as_str(), g)))
        .collect();
    type Opened<'a> = (&'a str, Result<Arc<dyn ByteSource>, String>);
    let opened: Vec<Opened> = pool.install(|| {
        unique
            .par_iter()
            .map(|(&id, g)| {
                let source = match g.location(access) {
                    None => Err(format!("{id}: the catalog has no {access} URL for it")),
                    Some(loc) => open(loc),
                };
                (id, source)
            })
            .collect()
    });
    let mut plan = RunPlan {
        granules: unique.len() as u64,
        ..RunPlan::default()
    };
    let mut sources: BTreeMap<&str, Arc<dyn ByteSource>> = BTreeMap::new();
    let mut errors: BTreeMap<&str, String> = BTreeMap::new();
    for (id, result) in opened {
        match result {
            Ok(s) => {
                sources.insert(id, s);
            }
            Err(error) => {
                tracing::warn!(granule = id, %error, "granule cannot be opened");
                plan.granules_failed.push(GranuleFailure {
                    granule: id.to_string(),
                    error: error.clone(),
                });
                errors.insert(id, error);
            }
        }
    }
    for item in &catalog.0 {
        let list: Vec<Arc<dyn ByteSource>> = item
            .granules
            .iter()
            .filter_map(|g| sources.get(g.id.as_str()).cloned())
            .collect();
        if list.is_empty() {
            let first = item
                .granules
                .first()
                .and_then(|g| errors.get(g.id.as_str()))
                .map_or("", String::as_str);
            plan.shards_failed.push(ShardFailure {
                shard: item.shard,
                error: format!(
                    "none of its {} granules could be opened; first: {first}",
                    item.granules.len()
                ),
            });
        } else {
            plan.by_shard.insert(item.shard, list);
        }
    }
    tracing::info!(
        shards = plan.by_shard.len(),
        granules = plan.granules,
        unopened = plan.granules_failed.len(),
        "catalog planned"
    );
    execute(&config, plan, store, options, &pool, clock)
}

/// Stages 2–4 over a plan: template, shards on the pool, report and consolidation.
fn execute(
    config: &Arc<PipelineConfig>,
    plan: RunPlan,
    store: &Store,
    options: &RunOptions,
    pool: &rayon::ThreadPool,
    (started, started_unix): (Instant, u64),
) -> Result<RunReport, RunError> {
    let RunPlan {
        by_shard,
        granules,
        granules_failed,
        shards_failed,
    } = plan;

    // 2. Template.
    store.create_template(config)?;

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
    let resumed = AtomicUsize::new(0);
    let inputs = journal::Inputs::new(config);
    let results: Vec<(u64, Result<ShardReport, String>)> = pool.install(|| {
        by_shard
            .par_iter()
            .map(|(&shard, sources)| {
                let digest = inputs.digest(shard, sources);
                let earlier = if options.resume {
                    journal::recorded(store, shard, &digest)
                } else {
                    None
                };
                let r = match earlier {
                    Some(report) => {
                        resumed.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(shard, "finished by an earlier run; not redone");
                        Ok(report)
                    }
                    None => process_shard(&ctx, shard, sources, store)
                        .map_err(|e| e.to_string())
                        .inspect(|report| {
                            // Only after every chunk of the shard is written.
                            if let Err(e) = journal::record(store, &digest, report) {
                                tracing::warn!(shard, error = %e,
                                    "cannot record the finished shard; a rerun will redo it");
                            }
                        }),
                };
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
        granules,
        granules_failed,
        shards: (results.len() + shards_failed.len()) as u64,
        shards_ok: 0,
        shards_empty: 0,
        shards_failed,
        cells: 0,
        counts: Counts::default(),
        bytes_read: 0,
        requests: 0,
        shard_reports: Vec::new(),
        orders: config.grid.orders(),
        shards_resumed: resumed.into_inner() as u64,
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
    report.shards_failed.sort_by_key(|f| f.shard);
    store.consolidate(config)?;
    report.seconds = started.elapsed().as_secs_f64();
    let value = serde_json::to_value(&report).map_err(|e| StoreError::Io {
        store: store.location().to_string(),
        action: "encode run report".into(),
        message: e.to_string(),
    })?;
    store.write_json(RUN_REPORT_KEY, &value)?;
    Ok(report)
}
