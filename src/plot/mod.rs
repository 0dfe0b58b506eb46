//! `zagg plot`: a polar stereographic map of one variable of a store, rendered in Rust
//! (tiny-skia for shapes, ab_glyph with the embedded DejaVu Sans for text) to PNG.
//!
//! Each occupied cell is drawn as its HEALPix outline (vertices converted from the authalic
//! sphere back to WGS84 when the store was hashed that way) projected with the standard polar
//! stereographic projection of its hemisphere: EPSG:3031 for Antarctica, EPSG:3413 for the
//! Arctic; the hemisphere is the one holding most cells. The map has a graticule, a scale
//! bar, a colour bar with units, a title and a footer naming the projection.
//!
//! Without `--order`, the order is chosen from the store's orders (the leaf order and the
//! pyramid): the finest whose cells are at least 1.5 pixels wide at the map's scale, so a
//! continent is drawn from a coarse order and a glacier from the leaves.

pub mod colormap;
mod graticule;
mod legend;
pub mod projection;
pub mod render;
pub mod text;

use std::collections::BTreeSet;

pub use colormap::{Colormap, Scale};
pub use projection::{PolarStereographic, Pole};
pub use render::{Layout, MapInput, Plot};

use crate::aoi::Aoi;
use crate::config::{PipelineConfig, Reduction};
use crate::inspect::cell_size_km;
use crate::store::{Store, StoreError};

/// Smallest width of a cell on the map, pixels, when the order is chosen automatically.
pub const MIN_CELL_PIXELS: f64 = 1.5;

/// Errors of `zagg plot`.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The store could not be read.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The location holds no zagg store.
    #[error("store {store}: not a zagg store: {message}")]
    NotAStore {
        /// Store location.
        store: String,
        /// What is missing.
        message: String,
    },
    /// The variable is not in the store.
    #[error("store {store}: no variable {name:?} (it has {})", known.join(", "))]
    UnknownVariable {
        /// Store location.
        store: String,
        /// The name asked for.
        name: String,
        /// The variables the store has.
        known: Vec<String>,
    },
    /// The order is not in the store.
    #[error("store {store}: order {order} is not written (orders: {orders:?})")]
    NoSuchOrder {
        /// Store location.
        store: String,
        /// The order asked for.
        order: u8,
        /// The orders the store has.
        orders: Vec<u8>,
    },
    /// Nothing to draw.
    #[error("nothing to plot: {0}")]
    NoData(String),
    /// The image cannot be made at that size.
    #[error("image: {0}")]
    Canvas(String),
    /// A bad colour-bar range.
    #[error("--range: {0}")]
    Range(String),
    /// The embedded font could not be loaded.
    #[error("font: {0}")]
    Font(String),
    /// PNG encoding failed.
    #[error("PNG encoding: {0}")]
    Encode(String),
}

/// What to plot.
#[derive(Debug, Clone)]
pub struct PlotOptions {
    /// Variable name (an array of the store).
    pub variable: String,
    /// Order to draw; default: chosen from the map scale (see the module documentation).
    pub order: Option<u8>,
    /// Only shards in this area of interest (cells at the shard order).
    pub aoi: Option<Aoi>,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
    /// Colour map; default by reduction (heights viridis, spreads magma, counts cividis).
    pub colormap: Option<Colormap>,
    /// Value scale; default log for counts and variances, linear otherwise.
    pub scale: Option<Scale>,
    /// Colour-bar range; default 1st–99th percentile of the drawn values.
    pub range: Option<(f64, f64)>,
}

impl PlotOptions {
    /// Defaults for a variable: automatic order, 1200×960 pixels.
    pub fn new(variable: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            order: None,
            aoi: None,
            width: 1200,
            height: 960,
            colormap: None,
            scale: None,
            range: None,
        }
    }
}

/// The pipeline config recorded in a store's root `zagg` attribute.
///
/// # Errors
/// [`PlotError::NotAStore`] when the store records no readable config;
/// [`PlotError::Store`] when the root metadata cannot be read.
pub fn recorded_config(store: &Store) -> Result<PipelineConfig, PlotError> {
    let not_a_store = |message: String| PlotError::NotAStore {
        store: store.location().to_string(),
        message,
    };
    let root = store
        .read_json("zarr.json")?
        .ok_or_else(|| not_a_store("no root zarr.json".into()))?;
    let config = root
        .pointer("/attributes/zagg/config")
        .cloned()
        .ok_or_else(|| not_a_store("the root group records no zagg config".into()))?;
    serde_json::from_value(config)
        .map_err(|e| not_a_store(format!("the recorded config is unreadable: {e}")))
}

/// Occupied cells of `shards` at `order`: (nested id, value of `name`), with `name` finite.
fn read_cells(
    store: &Store,
    order: u8,
    parent_order: u8,
    name: &str,
    shards: &BTreeSet<u64>,
) -> Result<Vec<(u64, f64)>, PlotError> {
    let counts = store.chunk_reader(order, "count")?;
    let values = store.chunk_reader(order, name)?;
    let shift = 2 * u32::from(order - parent_order);
    let mut out = Vec::new();
    for &shard in shards {
        let (Some(c), Some(v)) = (counts.read(shard)?, values.read(shard)?) else {
            continue;
        };
        let first = shard << shift;
        out.extend(
            c.iter()
                .zip(&v)
                .enumerate()
                .filter(|(_, (&n, &x))| n > 0.0 && x.is_finite())
                .map(|(i, (_, &x))| (first + i as u64, x)),
        );
    }
    Ok(out)
}

/// Draw one variable of a store.
///
/// # Errors
/// [`PlotError`] for a store that is not a zagg store, an unknown variable or order, no data
/// (in the AOI), a bad range, or a read failure.
pub fn plot_store(store: &Store, options: &PlotOptions) -> Result<Plot, PlotError> {
    let config = recorded_config(store)?;
    let var = config
        .aggregation
        .variables
        .get(&options.variable)
        .ok_or_else(|| PlotError::UnknownVariable {
            store: store.location().to_string(),
            name: options.variable.clone(),
            known: config.aggregation.variables.keys().cloned().collect(),
        })?;
    if let Some((lo, hi)) = options.range {
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return Err(PlotError::Range(format!("need MIN < MAX, got {lo} {hi}")));
        }
    }
    let orders = config.grid.orders();
    let (leaf, parent) = (config.grid.leaf_order, config.grid.parent_order);
    let ellipsoid = config.grid.ellipsoid;
    let mut shards: BTreeSet<u64> = store.written_chunks(leaf, "count")?.into_iter().collect();
    if let Some(aoi) = &options.aoi {
        shards.retain(|s| aoi.cells.contains(s));
    }
    if shards.is_empty() {
        return Err(PlotError::NoData(match &options.aoi {
            Some(a) => format!("no shard with data in the AOI {}", a.name),
            None => "the store has no shard with data".into(),
        }));
    }
    let order = match options.order {
        Some(k) if orders.contains(&k) => k,
        Some(k) => {
            return Err(PlotError::NoSuchOrder {
                store: store.location().to_string(),
                order: k,
                orders,
            })
        }
        None => {
            // Extent from the coarsest order, then the finest order that stays visible.
            let coarsest = *orders.last().unwrap_or(&leaf);
            let coarse = read_cells(store, coarsest, parent, "count", &shards)?;
            let pole = render::pole_of(coarsest, &coarse, ellipsoid);
            let proj = PolarStereographic::for_pole(pole);
            let b = render::extent(coarsest, coarse.iter().map(|c| c.0), ellipsoid, &proj)
                .unwrap_or([0.0, 0.0, 1.0, 1.0]);
            let mpp = (b[2] - b[0]).max(b[3] - b[1]) * 1.08
                / f64::from(render::map_width(options.width, options.height));
            orders
                .iter()
                .copied()
                .find(|&k| cell_size_km(k) * 1000.0 / mpp >= MIN_CELL_PIXELS)
                .unwrap_or(coarsest)
        }
    };
    let cells = read_cells(store, order, parent, &options.variable, &shards)?;
    tracing::info!(
        variable = %options.variable,
        order,
        auto = options.order.is_none(),
        shards = shards.len(),
        cells = cells.len(),
        "plot"
    );
    if cells.is_empty() {
        return Err(PlotError::NoData(format!(
            "{} has no finite value at order {order}",
            options.variable
        )));
    }
    let fonts = text::Fonts::load().map_err(PlotError::Font)?;
    let store_name = std::path::Path::new(store.location())
        .file_name()
        .map_or_else(
            || store.location().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
    let mut title = options.variable.clone();
    if let Some(long) = &var.long_name {
        let full = format!("{}: {long}", options.variable);
        if text::width(&fonts.bold, 22.0, &full) < options.width as f32 - 40.0 {
            title = full;
        }
    }
    let km = cell_size_km(order);
    let subtitle = format!(
        "HEALPix order {order} (≈{} km cells) · {} cells · {}{}",
        if km >= 10.0 {
            format!("{km:.0}")
        } else {
            format!("{km:.1}")
        },
        cells.len(),
        store_name,
        options
            .aoi
            .as_ref()
            .map(|a| format!(" · AOI {}", a.name))
            .unwrap_or_default(),
    );
    let input = MapInput {
        order,
        ellipsoid,
        cells,
        title,
        subtitle,
        units: var.units.clone(),
        colormap: options
            .colormap
            .unwrap_or_else(|| Colormap::for_reduction(var.reduce)),
        scale: options.scale.unwrap_or_else(|| {
            if var.reduce == Reduction::Count {
                Scale::Log
            } else {
                Scale::for_reduction(var.reduce)
            }
        }),
        range: options.range,
        width: options.width,
        height: options.height,
        pole: None,
    };
    render::render(&input, &fonts)
}
