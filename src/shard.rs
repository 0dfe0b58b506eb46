//! Processing one shard: read its points from every granule, aggregate, write one chunk per
//! array (SPEC §4).
//!
//! A granule that cannot be read is recorded in the report with its cause and the rest of
//! the shard goes on; only a store failure fails the shard.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregator, PointBuffer};
use crate::config::{dataset_path, PipelineConfig, SourceConfig};
use crate::granule::{ByteSource, Granule, GranuleError, Presence};
use crate::grid::{self, Hasher};
use crate::select::LatitudeChunks;
use crate::store::{Store, StoreError};

/// Row and beam counts; summed over granules and shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// Beams read.
    pub beams_read: u64,
    /// Beams listed in the config but absent from the granule.
    pub beams_missing: u64,
    /// Beams present with zero rows (or without a latitude dataset).
    pub beams_empty: u64,
    /// Rows whose latitude/longitude could not be hashed (non-finite, |lat| > 90°).
    pub invalid_positions: u64,
    /// Rows inside the shard, before filtering.
    pub points_in_shard: u64,
    /// Rows dropped by the quality filter.
    pub dropped_quality: u64,
    /// Rows dropped because a value equals the dataset's fill value.
    pub dropped_fill: u64,
    /// Rows dropped because a value is NaN or infinite.
    pub dropped_nonfinite: u64,
    /// Rows dropped because a weight column cannot give a weight (e.g. sigma ≤ 0).
    pub dropped_weight: u64,
    /// Rows aggregated.
    pub observations: u64,
    /// Latitude and longitude chunks decoded to find the shard's rows.
    #[serde(default)]
    pub position_chunks_read: u64,
    /// Latitude and longitude chunks of the beams read (what reading positions in full costs).
    #[serde(default)]
    pub position_chunks_total: u64,
    /// Granules given more than once (by name) for a shard: each is read once, so duplicate
    /// inputs never count a row twice.
    #[serde(default)]
    pub duplicate_granules: u64,
}

impl Counts {
    /// Add another set of counts.
    pub fn add(&mut self, o: &Counts) {
        self.beams_read += o.beams_read;
        self.beams_missing += o.beams_missing;
        self.beams_empty += o.beams_empty;
        self.invalid_positions += o.invalid_positions;
        self.points_in_shard += o.points_in_shard;
        self.dropped_quality += o.dropped_quality;
        self.dropped_fill += o.dropped_fill;
        self.dropped_nonfinite += o.dropped_nonfinite;
        self.dropped_weight += o.dropped_weight;
        self.observations += o.observations;
        self.position_chunks_read += o.position_chunks_read;
        self.position_chunks_total += o.position_chunks_total;
        self.duplicate_granules += o.duplicate_granules;
    }
}

/// A granule that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GranuleFailure {
    /// Granule path or URL.
    pub granule: String,
    /// The error message.
    pub error: String,
}

/// What reading one granule for one shard cost and gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GranuleRead {
    /// Granule path or URL.
    pub granule: String,
    /// Read requests: network requests for remote granules, reader requests for local ones.
    pub requests: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Rows of this granule aggregated into the shard.
    pub observations: u64,
}

/// The rows and counts read from one granule, or why it failed.
type GranuleOutcome = Result<(PointBuffer, Counts), GranuleError>;

/// Outcome of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShardStatus {
    /// Observations were aggregated and written.
    Ok,
    /// No valid observation: nothing written.
    Empty,
    /// Every granule failed to read: nothing written.
    Failed,
}

/// What processing one shard did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardReport {
    /// Nested id of the shard at the parent order.
    pub shard: u64,
    /// Morton id of the shard.
    pub morton: i64,
    /// Outcome.
    pub status: ShardStatus,
    /// Granules given.
    pub granules: u64,
    /// Granules that failed, with causes.
    pub granules_failed: Vec<GranuleFailure>,
    /// Row and beam counts.
    pub counts: Counts,
    /// Leaf cells with at least one observation.
    pub cells: u64,
    /// Read requests made to the granule sources.
    pub requests: u64,
    /// Bytes read from the granule sources.
    pub bytes_read: u64,
    /// Requests and bytes per granule, in the order given.
    pub granule_reads: Vec<GranuleRead>,
    /// Chunk objects written (every order and array).
    #[serde(default)]
    pub chunks_written: u64,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Errors that fail a whole shard.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// The shard id is not a cell of the parent order.
    #[error("shard {shard}: not a cell at order {order} (there are {cells} cells)")]
    BadShard {
        /// The id given.
        shard: u64,
        /// The parent order.
        order: u8,
        /// Number of cells at that order.
        cells: u64,
    },
    /// The grid could not be set up.
    #[error("shard {shard}: {source}")]
    Grid {
        /// The shard.
        shard: u64,
        /// Cause.
        source: grid::GridError,
    },
    /// A granule's host failed in a way that may pass (see [`GranuleError::Unavailable`]):
    /// nothing was written, so that a retry gives the complete shard rather than one
    /// silently missing that granule.
    #[error("shard {shard}: nothing written, retry later: {source}")]
    Unavailable {
        /// The shard.
        shard: u64,
        /// The first unavailable granule.
        source: GranuleError,
    },
    /// Writing the shard's chunks failed.
    #[error("shard {shard}: {source}")]
    Store {
        /// The shard.
        shard: u64,
        /// Cause.
        source: StoreError,
    },
}

/// Everything that is the same for every shard of a run: built once.
#[derive(Debug, Clone)]
pub struct ShardContext {
    /// The validated config.
    pub config: Arc<PipelineConfig>,
    hasher: Hasher,
    aggregator: Aggregator,
    columns: Vec<String>,
}

impl ShardContext {
    /// Prepare the hasher and aggregator of a config.
    ///
    /// # Errors
    /// [`grid::GridError`] when the config's leaf order is not supported.
    pub fn new(config: Arc<PipelineConfig>) -> Result<Self, grid::GridError> {
        let hasher = Hasher::new(config.grid.leaf_order, config.grid.ellipsoid)?;
        let aggregator = Aggregator::new(&config);
        let columns = config
            .used_columns()
            .into_iter()
            .map(String::from)
            .collect();
        Ok(Self {
            config,
            hasher,
            aggregator,
            columns,
        })
    }

    /// The leaf-order hasher.
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }
}

/// Process one shard: read, aggregate, write. Granule failures are recorded, not fatal.
///
/// # Errors
/// [`ShardError`] for a bad shard id or a store failure.
pub fn process_shard(
    ctx: &ShardContext,
    shard: u64,
    granules: &[Arc<dyn ByteSource>],
    store: &Store,
) -> Result<ShardReport, ShardError> {
    let started = Instant::now();
    let config = &ctx.config;
    let parent_order = config.grid.parent_order;
    if shard >= grid::n_cells(parent_order) {
        return Err(ShardError::BadShard {
            shard,
            order: parent_order,
            cells: grid::n_cells(parent_order),
        });
    }
    let morton = grid::nested_to_morton(shard, parent_order)
        .map_err(|source| ShardError::Grid { shard, source })?;
    // Fail fast, before any granule is read, when the store cannot take this shard.
    store
        .check_template(config)
        .map_err(|source| ShardError::Store { shard, source })?;
    // A granule given twice is read once.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&Arc<dyn ByteSource>> = granules
        .iter()
        .filter(|g| {
            let first = seen.insert(g.name());
            if !first {
                tracing::warn!(shard, granule = g.name(), "granule given twice; read once");
            }
            first
        })
        .collect();
    let duplicates = (granules.len() - unique.len()) as u64;
    // Granules are read in parallel (one granule's fetches overlap another's decoding) and
    // merged in the order given, so results do not depend on scheduling.
    let results: Vec<(GranuleRead, GranuleOutcome)> = unique
        .par_iter()
        .map(|source| {
            let mut read = GranuleRead {
                granule: source.name().to_string(),
                ..GranuleRead::default()
            };
            let mut granule_points = ctx.aggregator.buffer();
            let mut granule_counts = Counts::default();
            let result = Granule::open(Arc::clone(source)).and_then(|g| {
                let r = read_shard_points(ctx, &g, shard, &mut granule_points, &mut granule_counts);
                (read.requests, read.bytes_read) = g.io();
                r.map_err(|e| match e {
                    // A read that failed because the host did, not because of the file.
                    GranuleError::Dataset {
                        granule, message, ..
                    } if g.unavailable() => GranuleError::Unavailable { granule, message },
                    e => e,
                })
            });
            read.observations = granule_counts.observations;
            (read, result.map(|()| (granule_points, granule_counts)))
        })
        .collect();
    let mut points = ctx.aggregator.buffer();
    let mut counts = Counts {
        duplicate_granules: duplicates,
        ..Counts::default()
    };
    let mut failures = Vec::new();
    let (mut requests, mut bytes_read) = (0, 0);
    let mut granule_reads = Vec::with_capacity(results.len());
    for (read, result) in results {
        requests += read.requests;
        bytes_read += read.bytes_read;
        match result {
            Ok((granule_points, granule_counts)) => {
                points.append(&granule_points);
                counts.add(&granule_counts);
            }
            Err(e @ GranuleError::Unavailable { .. }) => {
                tracing::warn!(shard, granule = %read.granule, error = %e, "granule unavailable");
                return Err(ShardError::Unavailable { shard, source: e });
            }
            Err(e) => {
                tracing::warn!(shard, granule = %read.granule, error = %e, "granule failed");
                failures.push(GranuleFailure {
                    granule: read.granule.clone(),
                    error: e.to_string(),
                });
            }
        }
        granule_reads.push(read);
    }
    if !unique.is_empty() && failures.len() == unique.len() {
        // Nothing could be read: write nothing, so chunks an earlier run wrote stay.
        return Ok(ShardReport {
            shard,
            morton,
            status: ShardStatus::Failed,
            granules: granules.len() as u64,
            granules_failed: failures,
            counts,
            cells: 0,
            requests,
            bytes_read,
            granule_reads,
            chunks_written: 0,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    // The leaf order and every pyramid order, merged from the leaves (crate::pyramid).
    let bucketed = ctx.aggregator.bucket(&points);
    let levels = crate::pyramid::shard_levels(
        &ctx.aggregator,
        &bucketed,
        config.grid.leaf_order,
        &config.grid.orders(),
    );
    let mut chunks_written = 0;
    for level in &levels {
        let written = store
            .write_shard_order(config, level.order, shard, &level.stats)
            .map_err(|source| ShardError::Store { shard, source })?;
        chunks_written += written.chunks_written as u64;
    }
    let stats = &levels[0].stats;
    let status = if stats.observations() > 0 {
        ShardStatus::Ok
    } else {
        ShardStatus::Empty
    };
    Ok(ShardReport {
        shard,
        morton,
        status,
        granules: granules.len() as u64,
        granules_failed: failures,
        counts,
        cells: stats.occupied_cells() as u64,
        requests,
        bytes_read,
        granule_reads,
        chunks_written,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Positions of every row of one beam.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamPositions {
    /// Latitudes, degrees north.
    pub lat: Vec<f64>,
    /// Longitudes, degrees east.
    pub lon: Vec<f64>,
}

/// Latitude and longitude (degrees) of every row of one beam; `None` when the beam is absent
/// (counted in `beams_missing`) or has no rows (counted in `beams_empty`), else counted in
/// `beams_read`.
///
/// # Errors
/// [`GranuleError`] when a dataset cannot be read or the two differ in length.
pub fn beam_positions(
    granule: &Granule,
    src: &SourceConfig,
    beam: &str,
    counts: &mut Counts,
) -> Result<Option<BeamPositions>, GranuleError> {
    if !granule.has_group(beam)? {
        counts.beams_missing += 1;
        return Ok(None);
    }
    let lat_path = dataset_path(&src.latitude, beam);
    if granule.presence(&lat_path)? == Presence::Absent {
        counts.beams_empty += 1;
        return Ok(None);
    }
    let lat = granule.read_f64(&lat_path, None)?;
    let lon_path = dataset_path(&src.longitude, beam);
    same_rows(granule, &lon_path, &lat_path, lat.len() as u64)?;
    let lon = granule.read_f64(&lon_path, None)?;
    if lat.is_empty() {
        counts.beams_empty += 1;
        return Ok(None);
    }
    counts.beams_read += 1;
    Ok(Some(BeamPositions { lat, lon }))
}

/// The latitude chunks of one beam, read through the granule.
struct BeamLatitudes<'a> {
    granule: &'a Granule,
    path: &'a str,
    rows: u64,
    per: u64,
}

impl LatitudeChunks for BeamLatitudes<'_> {
    type Error = GranuleError;
    fn rows(&self) -> u64 {
        self.rows
    }
    fn chunk_rows(&self) -> u64 {
        self.per
    }
    fn chunk(&mut self, index: u64) -> Result<Vec<f64>, GranuleError> {
        let start = index * self.per;
        let end = (start + self.per).min(self.rows);
        self.granule.read_f64(self.path, Some(start..end))
    }
}

/// Read the valid rows of one granule that fall in `shard` into `points`.
///
/// Positions are read chunk-selectively ([`crate::select`]): the latitude chunks that can
/// hold the shard's latitude band, the longitude chunks of those, and the value columns and
/// quality flag of the rows `[first kept, last kept + 1)` of each run of such chunks.
///
/// # Errors
/// [`GranuleError`] when a dataset cannot be read; `points` may then hold part of the
/// granule, so callers collect into a per-granule buffer.
pub fn read_shard_points(
    ctx: &ShardContext,
    granule: &Granule,
    shard: u64,
    points: &mut PointBuffer,
    counts: &mut Counts,
) -> Result<(), GranuleError> {
    let config = &ctx.config;
    let src = &config.source;
    let (leaf_order, parent_order) = (config.grid.leaf_order, config.grid.parent_order);
    let first_leaf = grid::children(shard, parent_order, leaf_order).start;
    // Points that cannot be in the shard skip hashing (most rows of a candidate chunk), and
    // the chunk search works in the granule's own latitudes: the shard's band is converted
    // once instead of every latitude (the conversion is monotonic).
    let bounds = grid::CellBounds::new(shard, parent_order, config.grid.ellipsoid);
    let band = bounds.latitude_band();
    let mut kept: Vec<(u64, u32)> = Vec::new();
    let mut row = vec![0.0; ctx.columns.len()];
    for beam in &src.beams {
        if !granule.has_group(beam)? {
            counts.beams_missing += 1;
            continue;
        }
        let lat_path = dataset_path(&src.latitude, beam);
        if granule.presence(&lat_path)? == Presence::Absent {
            counts.beams_empty += 1;
            continue;
        }
        let n = granule.len_of(&lat_path)?;
        let lon_path = dataset_path(&src.longitude, beam);
        same_rows(granule, &lon_path, &lat_path, n)?;
        if n == 0 {
            counts.beams_empty += 1;
            continue;
        }
        counts.beams_read += 1;
        let per = granule.chunk_rows(&lat_path)?.unwrap_or(n).max(1);
        let mut beam_lat = BeamLatitudes {
            granule,
            path: &lat_path,
            rows: n,
            per,
        };
        let selection = crate::select::candidate_chunks(&mut beam_lat, band)?;
        let lon_per = granule.chunk_rows(&lon_path)?.unwrap_or(n).max(1);
        counts.position_chunks_total += n.div_ceil(per) + n.div_ceil(lon_per);
        counts.position_chunks_read += selection.decoded;
        // Runs of consecutive candidate chunks: one longitude read and one value read each.
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &c in &selection.candidates {
            match runs.last_mut() {
                Some((_, last)) if *last + 1 == c => *last = c,
                _ => runs.push((c, c)),
            }
        }
        for (c0, c1) in runs {
            let rows = c0 * per..((c1 + 1) * per).min(n);
            let lon = granule.read_f64(&lon_path, Some(rows.clone()))?;
            counts.position_chunks_read += (rows.end - 1) / lon_per - rows.start / lon_per + 1;
            let lat = (c0..=c1).flat_map(|c| selection.latitudes[&c].iter().copied());
            kept.clear();
            for (k, (la, &lo)) in lat.zip(&lon).enumerate() {
                // Invalid positions go on to the hash, which counts them.
                if la.abs() <= 90.0 && lo.is_finite() && !bounds.may_contain(la, lo) {
                    continue;
                }
                match ctx.hasher.hash(la, lo) {
                    Ok(leaf) if grid::parent(leaf, leaf_order, parent_order) == shard => {
                        kept.push((rows.start + k as u64, (leaf - first_leaf) as u32));
                    }
                    Ok(_) => {}
                    Err(_) => counts.invalid_positions += 1,
                }
            }
            aggregate_rows(ctx, granule, beam, n, &kept, &mut row, points, counts)?;
        }
    }
    Ok(())
}

/// Check that dataset `path` has the `n` rows of the beam's latitude `lat_path`.
fn same_rows(granule: &Granule, path: &str, lat_path: &str, n: u64) -> Result<(), GranuleError> {
    let len = granule.len_of(path)?;
    if len == n {
        return Ok(());
    }
    Err(GranuleError::Dataset {
        granule: granule.name().to_string(),
        object: path.to_string(),
        message: format!("has {len} rows but {lat_path} has {n}"),
    })
}

/// Read the value columns and quality flag of the rows `[first kept, last kept + 1)` of one
/// beam and push the valid kept rows into `points`.
#[allow(clippy::too_many_arguments)]
fn aggregate_rows(
    ctx: &ShardContext,
    granule: &Granule,
    beam: &str,
    n: u64,
    kept: &[(u64, u32)],
    row: &mut [f64],
    points: &mut PointBuffer,
    counts: &mut Counts,
) -> Result<(), GranuleError> {
    let src = &ctx.config.source;
    let (Some(&(first, _)), Some(&(last, _))) = (kept.first(), kept.last()) else {
        return Ok(());
    };
    let lat_path = dataset_path(&src.latitude, beam);
    counts.points_in_shard += kept.len() as u64;
    let rows = first..last + 1;
    let mut columns = Vec::with_capacity(ctx.columns.len());
    for name in &ctx.columns {
        let path = dataset_path(&src.columns[name.as_str()], beam);
        same_rows(granule, &path, &lat_path, n)?;
        let fill = granule.fill_value(&path)?;
        columns.push((granule.read_f64(&path, Some(rows.clone()))?, fill));
    }
    let quality = match &src.quality {
        Some(q) => {
            let path = dataset_path(&q.path, beam);
            Some(granule.read_i64(&path, Some(rows.clone()))?)
        }
        None => None,
    };
    points.reserve(kept.len());
    'rows: for &(i, leaf) in kept {
        let k = (i - first) as usize;
        if let (Some(flags), Some(q)) = (&quality, &src.quality) {
            if !q.keep.contains(&flags[k]) {
                counts.dropped_quality += 1;
                continue;
            }
        }
        for (slot, (values, fill)) in row.iter_mut().zip(&columns) {
            let v = values[k];
            if !v.is_finite() {
                counts.dropped_nonfinite += 1;
                continue 'rows;
            }
            if fill.is_some_and(|f| v == f || (f >= f64::from(f32::MAX) && v >= f)) {
                counts.dropped_fill += 1;
                continue 'rows;
            }
            *slot = v;
        }
        if !ctx.aggregator.weights_valid(row) {
            counts.dropped_weight += 1;
            continue;
        }
        points.push(leaf, row);
        counts.observations += 1;
    }
    Ok(())
}
