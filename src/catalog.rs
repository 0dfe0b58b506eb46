//! The catalog stage: a cycle's ATL06 granules from CMR, the shards of an AOI, and which
//! granules can touch which shard (SPEC §1, §6).
//!
//! [`make_catalog`] queries CMR once ([`crate::cmr`]), intersects every footprint with the AOI
//! shards ([`crate::footprint::ShardIndex`]) and returns
//!
//! - the [`Catalog`], written as `catalog.json`: a JSON array with one [`CatalogItem`] per shard
//!   that at least one granule touches, `{shard, morton, parent_order, granules: [{s3, https,
//!   id}]}`, ascending by shard, each granule list ascending by id (so the output does not
//!   depend on the order CMR or the index return things). This is what the Step Functions
//!   Distributed Map reads with `ItemReader`.
//! - the [`CatalogMeta`], written as `catalog.meta.json`: the query, the AOI, counts, skipped
//!   granules with reasons, and timings.
//!
//! Their JSON Schemas are committed under `config/schema/` ([`catalog_schema_json`],
//! [`meta_schema_json`]). Outputs are written as bytes to a [`Destination`] (a local directory
//! today; object stores later).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aoi::Aoi;
use crate::cmr::{self, BoundingBox, CmrClient, CmrError, CmrGranule, GranuleQuery, Skipped};
use crate::cycle::{self, CycleError, CycleSpec};
use crate::footprint::{cell_cap, ShardIndex};
use crate::grid::{self, Ellipsoid};

mod output;
pub use output::{
    catalog_bytes, catalog_schema_json, meta_schema_json, read_catalog, write_catalog, Destination,
};

/// File name of the catalog.
pub const CATALOG_FILE: &str = "catalog.json";

/// File name of the catalog's metadata.
pub const META_FILE: &str = "catalog.meta.json";

/// Latitude padding of the automatic bounding box, degrees: more than the largest difference
/// between geodetic and authalic latitude (0.13°).
const BBOX_PAD_DEG: f64 = 0.25;

/// A granule of a shard item: where to read it, and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct CatalogGranule {
    /// `s3://` URL of the granule (in-region reads), or null when CMR has none.
    #[schemars(required, extend("type" = ["string", "null"]))]
    pub s3: Option<String>,
    /// `https://` URL of the granule, or null when CMR has none.
    #[schemars(required, extend("type" = ["string", "null"]))]
    pub https: Option<String>,
    /// Granule id (`GranuleUR`, the file name).
    pub id: String,
}

/// How granules are read: which URL of a [`CatalogGranule`] is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// The `s3://` URL (default; in us-west-2).
    #[default]
    S3,
    /// The `https://` URL (anywhere, with an Earthdata Login token).
    Https,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::S3 => "s3",
            Self::Https => "https",
        })
    }
}

impl CatalogGranule {
    /// The location to read the granule from with `access`, if the catalog has one.
    #[must_use]
    pub fn location(&self, access: Access) -> Option<&str> {
        match access {
            Access::S3 => self.s3.as_deref(),
            Access::Https => self.https.as_deref(),
        }
    }
}

/// One shard and the granules that can touch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogItem {
    /// Nested HEALPix id of the shard at `parent_order`.
    pub shard: u64,
    /// The shard's morton id (SPEC §2).
    pub morton: i64,
    /// Order of the shard (6 in the built-in config).
    #[schemars(range(max = 18))]
    pub parent_order: u8,
    /// Granules whose footprint intersects the shard, ascending by id; never empty.
    #[schemars(length(min = 1))]
    pub granules: Vec<CatalogGranule>,
}

/// `catalog.json`: one item per shard with at least one granule, ascending by shard.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Catalog(pub Vec<CatalogItem>);

/// The cycle a catalog is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CycleInfo {
    /// As asked for: a number or `latest-complete`.
    pub requested: String,
    /// The cycle number.
    pub number: u32,
    /// Fitted start (RFC 3339, UTC; approximate, see SPEC §6).
    pub fitted_start: String,
    /// Fitted end (RFC 3339, UTC).
    pub fitted_end: String,
}

/// The AOI of a catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AoiInfo {
    /// `basins`, a path or a URL.
    pub name: String,
    /// Order of its cells.
    pub order: u8,
    /// Number of cells (shards) in it.
    pub cells: u64,
}

/// Counts of a catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogCounts {
    /// `CMR-Hits` of the search.
    pub hits: u64,
    /// Granules with a footprint and a URL, of the cycle.
    pub granules: u64,
    /// Granules left out (see `skipped`).
    pub skipped: u64,
    /// Granules that touch at least one AOI shard.
    pub granules_in_aoi: u64,
    /// Usable granules that touch no AOI shard.
    pub granules_outside_aoi: u64,
    /// Shards with at least one granule (items of `catalog.json`).
    pub shards: u64,
    /// Shard–granule pairs.
    pub pairs: u64,
    /// Fewest granules of a shard (0 when there is no shard).
    pub granules_per_shard_min: u64,
    /// Most granules of a shard.
    pub granules_per_shard_max: u64,
    /// Mean granules per shard.
    pub granules_per_shard_mean: f64,
}

/// Timings of a catalog, seconds (wall time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogTimings {
    /// CMR search, all pages.
    pub cmr_seconds: f64,
    /// Building the AOI shard index.
    pub index_seconds: f64,
    /// Footprint–shard intersection.
    pub intersect_seconds: f64,
    /// Everything.
    pub total_seconds: f64,
    /// Pages fetched.
    pub pages: u32,
    /// Requests retried.
    pub retries: u32,
}

/// `catalog.meta.json`: how a catalog was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogMeta {
    /// zagg version.
    pub zagg_version: String,
    /// When the catalog was made (RFC 3339, UTC).
    pub created: String,
    /// CMR base URL.
    pub cmr_url: String,
    /// The CMR query, as sent.
    pub query: GranuleQuery,
    /// The cycle.
    pub cycle: CycleInfo,
    /// The AOI.
    pub aoi: AoiInfo,
    /// Latitude convention used for the footprints (the grid's).
    pub ellipsoid: Ellipsoid,
    /// Counts.
    pub counts: CatalogCounts,
    /// Granules left out, with the reason (no footprint, no URL, other cycle, bad polygon).
    pub skipped: Vec<Skipped>,
    /// Timings.
    pub timings: CatalogTimings,
}

impl CatalogMeta {
    /// A few lines for the terminal, ending with the locations in `written`.
    #[must_use]
    pub fn summary(&self, written: &[String]) -> String {
        let meta = self;
        let c = &meta.counts;
        let t = &meta.timings;
        let mut s = format!(
        "cycle        {} ({} to {})\n\
         aoi          {} ({} shards)\n\
         cmr          {} hits in {} pages ({} retries), {:.2} s\n\
         granules     {} usable, {} skipped, {} in the AOI, {} outside\n\
         shards       {} with granules, {} shard-granule pairs, {}-{} granules per shard (mean {:.1})\n\
         intersect    {:.3} s (index {:.3} s)\n",
        meta.cycle.number,
        meta.cycle.fitted_start,
        meta.cycle.fitted_end,
        meta.aoi.name,
        meta.aoi.cells,
        c.hits,
        t.pages,
        t.retries,
        t.cmr_seconds,
        c.granules,
        c.skipped,
        c.granules_in_aoi,
        c.granules_outside_aoi,
        c.shards,
        c.pairs,
        c.granules_per_shard_min,
        c.granules_per_shard_max,
        c.granules_per_shard_mean,
        t.intersect_seconds,
        t.index_seconds,
    );
        for k in &meta.skipped {
            s.push_str(&format!("skipped      {}: {}\n", k.id, k.reason));
        }
        for w in written {
            s.push_str(&format!("wrote        {w}\n"));
        }
        s
    }
}

/// Errors of the catalog stage.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The cycle could not be resolved.
    #[error("{0}")]
    Cycle(#[from] CycleError),
    /// The CMR search failed.
    #[error("{0}")]
    Cmr(#[from] CmrError),
    /// The grid (morton ids) failed.
    #[error("{0}")]
    Grid(#[from] grid::GridError),
    /// An output could not be written.
    #[error("cannot write {location}: {message}")]
    Write {
        /// Where.
        location: String,
        /// Cause.
        message: String,
    },
    /// A catalog file could not be read or is not a catalog.
    #[error("catalog {location}: {message}")]
    Read {
        /// Where.
        location: String,
        /// Cause.
        message: String,
    },
    /// An unsupported destination.
    #[error("destination {location}: {message}")]
    Destination {
        /// The destination as given.
        location: String,
        /// Why it is not supported.
        message: String,
    },
}

/// Spatial narrowing of the CMR query.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum BboxChoice {
    /// The latitude band of the AOI (all longitudes), padded; none if it spans the globe.
    #[default]
    Auto,
    /// No spatial narrowing (a global query).
    None,
    /// This box.
    Box(BoundingBox),
}

impl BboxChoice {
    /// Parse `auto`, `none` or `W,S,E,N` (degrees).
    ///
    /// # Errors
    /// [`CmrError::Query`] for a bad box.
    pub fn parse(text: &str) -> Result<Self, CmrError> {
        match text.trim() {
            "auto" => Ok(Self::Auto),
            "none" => Ok(Self::None),
            other => BoundingBox::parse(other).map(Self::Box),
        }
    }
}

/// What to catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogOptions {
    /// The cycle.
    pub cycle: CycleSpec,
    /// ATL06 version (`007`).
    pub version: String,
    /// CMR provider (`NSIDC_CPRD`).
    pub provider: String,
    /// Temporal narrowing: the cycle's fitted dates widened by this many days on both sides;
    /// `None` for no temporal narrowing (the name pattern alone selects the cycle).
    pub temporal_margin_days: Option<f64>,
    /// Spatial narrowing.
    pub bbox: BboxChoice,
    /// Granules per CMR page (1..=2000).
    pub page_size: u32,
}

impl CatalogOptions {
    /// ATL06 of `cycle` with the defaults: version 007, NSIDC_CPRD, a 1-day temporal margin,
    /// the AOI's latitude band, pages of 2000.
    #[must_use]
    pub fn new(cycle: CycleSpec) -> Self {
        Self {
            cycle,
            version: cmr::DEFAULT_VERSION.into(),
            provider: cmr::DEFAULT_PROVIDER.into(),
            temporal_margin_days: Some(cycle::DEFAULT_MARGIN_DAYS),
            bbox: BboxChoice::Auto,
            page_size: cmr::MAX_PAGE_SIZE,
        }
    }
}

impl CatalogOptions {
    /// The CMR query [`make_catalog`] sends: the cycle resolved against `now`, its fitted
    /// dates widened by the margin, and the bounding box. `aoi` is needed only for
    /// [`BboxChoice::Auto`] (so a dry run need not load an AOI that is a URL).
    ///
    /// # Errors
    /// [`CatalogError::Cycle`] when the cycle cannot be resolved, [`CatalogError::Cmr`]
    /// ([`CmrError::Query`]) for [`BboxChoice::Auto`] without an AOI or an invalid query.
    pub fn query(
        &self,
        aoi: Option<&Aoi>,
        now: DateTime<Utc>,
    ) -> Result<GranuleQuery, CatalogError> {
        let number = self.cycle.resolve(now)?;
        let temporal = self
            .temporal_margin_days
            .map(|m| cycle::window(number, m))
            .transpose()?
            .map(Into::into);
        let bounding_box = match (self.bbox, aoi) {
            (BboxChoice::Auto, Some(aoi)) => aoi_bounding_box(aoi),
            (BboxChoice::Auto, None) => {
                return Err(CmrError::Query(
                    "the automatic bounding box needs the AOI's cells".into(),
                )
                .into())
            }
            (BboxChoice::None, _) => None,
            (BboxChoice::Box(b), _) => Some(b),
        };
        let query = GranuleQuery {
            short_name: cmr::SHORT_NAME.into(),
            version: self.version.clone(),
            provider: self.provider.clone(),
            cycle: number,
            temporal,
            bounding_box,
            page_size: self.page_size,
        };
        query.params()?;
        Ok(query)
    }
}

/// The latitude band (degrees, geodetic, padded) that holds every cell of `aoi`, all
/// longitudes; `None` when that is the whole globe.
#[must_use]
pub fn aoi_bounding_box(aoi: &Aoi) -> Option<BoundingBox> {
    let mut south = f64::INFINITY;
    let mut north = f64::NEG_INFINITY;
    for &c in &aoi.cells {
        let cap = cell_cap(aoi.order, c);
        let lat = cap.center[2].clamp(-1.0, 1.0).asin();
        south = south.min((lat - cap.radius).to_degrees());
        north = north.max((lat + cap.radius).to_degrees());
    }
    if !south.is_finite() || !north.is_finite() {
        return None;
    }
    let south = (south - BBOX_PAD_DEG).max(-90.0);
    let north = (north + BBOX_PAD_DEG).min(90.0);
    (south > -90.0 || north < 90.0).then_some(BoundingBox {
        west: -180.0,
        south,
        east: 180.0,
        north,
    })
}

/// The result of intersecting granules with shards.
#[derive(Debug, Clone, PartialEq)]
pub struct Intersection {
    /// The catalog items.
    pub catalog: Catalog,
    /// Granules whose footprint could not be used.
    pub skipped: Vec<Skipped>,
    /// Granules touching at least one shard.
    pub granules_in_aoi: u64,
}

/// Which shards of `index` each granule's footprints touch, as catalog items.
///
/// Runs on the current rayon pool. A granule with an unusable polygon is skipped (listed
/// with the reason) rather than cataloged with part of its footprint.
///
/// # Errors
/// [`CatalogError::Grid`] if a shard has no morton id (parent order above 18).
pub fn intersect(
    granules: &[CmrGranule],
    index: &ShardIndex,
) -> Result<Intersection, CatalogError> {
    let found: Vec<Result<Vec<u64>, String>> = granules
        .par_iter()
        .map(|g| {
            index
                .shards_of_all(&g.footprints)
                .map_err(|e| format!("footprint: {e}"))
        })
        .collect();
    let mut by_shard: BTreeMap<u64, Vec<CatalogGranule>> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut granules_in_aoi = 0;
    for (g, shards) in granules.iter().zip(found) {
        match shards {
            Ok(shards) => {
                if !shards.is_empty() {
                    granules_in_aoi += 1;
                }
                for s in shards {
                    by_shard.entry(s).or_default().push(CatalogGranule {
                        s3: g.s3.clone(),
                        https: g.https.clone(),
                        id: g.id.clone(),
                    });
                }
            }
            Err(reason) => {
                tracing::warn!(granule = %g.id, %reason, "granule skipped");
                skipped.push(Skipped {
                    id: g.id.clone(),
                    reason,
                });
            }
        }
    }
    let order = index.order();
    let mut items = Vec::with_capacity(by_shard.len());
    for (shard, mut list) in by_shard {
        list.sort();
        list.dedup();
        items.push(CatalogItem {
            shard,
            morton: grid::nested_to_morton(shard, order)?,
            parent_order: order,
            granules: list,
        });
    }
    Ok(Intersection {
        catalog: Catalog(items),
        skipped,
        granules_in_aoi,
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Query CMR for a cycle and build its catalog over `aoi` (cells at the parent order, made
/// with the grid's `ellipsoid`). `now` resolves `latest-complete`.
///
/// # Errors
/// [`CatalogError`] when the cycle cannot be resolved or the CMR search fails.
pub fn make_catalog(
    client: &CmrClient,
    options: &CatalogOptions,
    aoi: &Aoi,
    ellipsoid: Ellipsoid,
    now: DateTime<Utc>,
) -> Result<(Catalog, CatalogMeta), CatalogError> {
    let started = Instant::now();
    let query = options.query(Some(aoi), now)?;
    let number = query.cycle;
    tracing::info!(cycle = number, url = client.base_url(), "querying CMR");
    let search = client.search(&query)?;

    let t = Instant::now();
    let index = ShardIndex::new(aoi, ellipsoid);
    let index_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let inter = intersect(&search.granules, &index)?;
    let intersect_seconds = t.elapsed().as_secs_f64();

    // Usable granules: those with a footprint cdshealpix accepts.
    let granules = (search.granules.len() - inter.skipped.len()) as u64;
    let mut skipped = search.skipped;
    skipped.extend(inter.skipped);
    let sizes: Vec<u64> = inter
        .catalog
        .0
        .iter()
        .map(|i| i.granules.len() as u64)
        .collect();
    let pairs: u64 = sizes.iter().sum();
    let counts = CatalogCounts {
        hits: search.hits,
        granules,
        skipped: skipped.len() as u64,
        granules_in_aoi: inter.granules_in_aoi,
        granules_outside_aoi: granules - inter.granules_in_aoi,
        shards: sizes.len() as u64,
        pairs,
        granules_per_shard_min: sizes.iter().copied().min().unwrap_or(0),
        granules_per_shard_max: sizes.iter().copied().max().unwrap_or(0),
        granules_per_shard_mean: if sizes.is_empty() {
            0.0
        } else {
            pairs as f64 / sizes.len() as f64
        },
    };
    let meta = CatalogMeta {
        zagg_version: env!("CARGO_PKG_VERSION").into(),
        created: rfc3339(now),
        cmr_url: client.base_url().into(),
        query,
        cycle: CycleInfo {
            requested: options.cycle.to_string(),
            number,
            fitted_start: rfc3339(cycle::cycle_start(number)?),
            fitted_end: rfc3339(cycle::cycle_end(number)?),
        },
        aoi: AoiInfo {
            name: aoi.name.clone(),
            order: aoi.order,
            cells: aoi.cells.len() as u64,
        },
        ellipsoid,
        counts,
        skipped,
        timings: CatalogTimings {
            cmr_seconds: search.seconds,
            index_seconds,
            intersect_seconds,
            total_seconds: started.elapsed().as_secs_f64(),
            pages: search.pages,
            retries: search.retries,
        },
    };
    tracing::info!(
        shards = meta.counts.shards,
        pairs = meta.counts.pairs,
        granules = meta.counts.granules,
        seconds = meta.timings.total_seconds,
        "catalog made"
    );
    Ok((inter.catalog, meta))
}

#[cfg(test)]
mod tests;
