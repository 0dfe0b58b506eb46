//! `zagg inspect`: what a store holds, and whether it is laid out as promised.
//!
//! Reads only metadata and the written chunks: the root `zagg` attribute (version, orders,
//! config), the consolidated metadata, each order's group and array metadata, every written
//! `count` chunk of every order, the chunks of the variables at one order, and `run.json`.
//! The result is an [`Inspection`]: shards, occupied cells and observations per order, the
//! range and NaN counts of each variable, a list of named layout checks, and the run report.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{DType, PipelineConfig};
use crate::grid;
use crate::run::{RunReport, RUN_REPORT_KEY};
use crate::store::{dggs_attributes, Store, StoreError, DIMENSION};

mod text;

/// Authalic radius of WGS84, km: the sphere of the same area, for cell sizes.
pub const AUTHALIC_RADIUS_KM: f64 = 6371.0072;

/// Mean size (square root of the area) of a HEALPix cell at `order`, km.
pub fn cell_size_km(order: u8) -> f64 {
    let area = 4.0 * std::f64::consts::PI * AUTHALIC_RADIUS_KM * AUTHALIC_RADIUS_KM;
    (area / grid::n_cells(order) as f64).sqrt()
}

/// Errors that stop an inspection (a store that is merely wrong is reported in the checks).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
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
    /// The order asked for is not in the store.
    #[error("store {store}: order {order} is not written (orders: {orders:?})")]
    NoSuchOrder {
        /// Store location.
        store: String,
        /// The order asked for.
        order: u8,
        /// The orders the store has.
        orders: Vec<u8>,
    },
}

/// Totals of one order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderSummary {
    /// HEALPix order.
    pub order: u8,
    /// Mean cell size, km.
    pub cell_km: f64,
    /// Chunks (shards) written of the `count` array.
    pub shards: u64,
    /// Cells with `count > 0`.
    pub occupied_cells: u64,
    /// Σ count.
    pub observations: u64,
}

/// Range and NaN counts of one array at one order, over its written chunks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariableSummary {
    /// Array name.
    pub name: String,
    /// Zarr data type.
    pub data_type: String,
    /// Units attribute, if any.
    pub units: Option<String>,
    /// Chunks written.
    pub chunks: u64,
    /// Smallest finite value in an occupied cell.
    pub min: Option<f64>,
    /// Largest finite value in an occupied cell.
    pub max: Option<f64>,
    /// Occupied cells (count > 0) whose value is NaN: should be 0.
    pub nan_in_occupied: u64,
    /// Empty cells (count = 0) inside written chunks whose value is not the fill value: should
    /// be 0.
    pub filled_in_empty: u64,
}

/// One named check of the layout or the contents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it holds.
    pub ok: bool,
    /// The first problem found, empty when ok.
    pub detail: String,
}

/// Everything `zagg inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Store location.
    pub store: String,
    /// zagg version that made the template.
    pub zagg_version: Option<String>,
    /// Orders written, finest first.
    pub orders: Vec<u8>,
    /// Shard order.
    pub parent_order: u8,
    /// Latitude convention (`WGS84` or `sphere`).
    pub ellipsoid: String,
    /// Whether the root holds consolidated metadata.
    pub consolidated: bool,
    /// Per-order totals, finest first.
    pub order_summaries: Vec<OrderSummary>,
    /// The order whose variables are summarised.
    pub variables_order: u8,
    /// Per-variable ranges at `variables_order` (the configured variables; the coordinates
    /// `cell_ids` and `morton` are checked, not summarised).
    pub variables: Vec<VariableSummary>,
    /// Layout and consistency checks.
    pub checks: Vec<Check>,
    /// The run report (`run.json`), if the store has one.
    pub run: Option<RunReport>,
}

impl Inspection {
    /// Whether every check holds.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// Shards the run report lists as failed (none without a report).
    pub fn failed_shards(&self) -> usize {
        self.run.as_ref().map_or(0, |r| r.shards_failed.len())
    }
}

/// Collects checks.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, name: impl Into<String>, problem: Option<String>) {
        self.0.push(Check {
            name: name.into(),
            ok: problem.is_none(),
            detail: problem.unwrap_or_default(),
        });
    }
}

/// Inspect a store. `order` selects the order whose variables are summarised (default: the
/// leaf order).
///
/// # Errors
/// [`InspectError::NotAStore`] without a root `zagg` attribute holding a config;
/// [`InspectError::NoSuchOrder`] for an order the store does not have;
/// [`InspectError::Store`] when metadata or a chunk cannot be read.
pub fn inspect(store: &Store, order: Option<u8>) -> Result<Inspection, InspectError> {
    let not_a_store = |message: &str| InspectError::NotAStore {
        store: store.location().to_string(),
        message: message.to_string(),
    };
    let root = store
        .read_json("zarr.json")?
        .ok_or_else(|| not_a_store("no root zarr.json"))?;
    let zagg = root
        .pointer("/attributes/zagg")
        .ok_or_else(|| not_a_store("the root group has no `zagg` attribute"))?;
    let config: PipelineConfig = zagg
        .get("config")
        .cloned()
        .ok_or_else(|| not_a_store("the `zagg` attribute records no config"))
        .and_then(|c| {
            serde_json::from_value(c)
                .map_err(|e| not_a_store(&format!("the recorded config is unreadable: {e}")))
        })?;
    let mut checks = Checks::default();
    let orders: Vec<u8> = match zagg.get("orders").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(|v| v.as_u64().and_then(|o| u8::try_from(o).ok()))
            .collect(),
        None => Vec::new(),
    };
    checks.add(
        "root attribute zagg.orders lists the config's orders",
        (orders != config.grid.orders()).then(|| {
            format!(
                "lists {orders:?}, the config gives {:?}",
                config.grid.orders()
            )
        }),
    );
    let orders = config.grid.orders();
    let variables_order = order.unwrap_or(config.grid.leaf_order);
    if !orders.contains(&variables_order) {
        return Err(InspectError::NoSuchOrder {
            store: store.location().to_string(),
            order: variables_order,
            orders,
        });
    }

    // Metadata of every group and array, and the consolidated copy.
    let consolidated = root.pointer("/consolidated_metadata/metadata");
    checks.add(
        "root zarr.json holds consolidated metadata (kind inline)",
        (root.pointer("/consolidated_metadata/kind") != Some(&json!("inline")))
            .then(|| "missing or not inline".to_string()),
    );
    let mut array_names = vec!["cell_ids".to_string(), "morton".to_string()];
    array_names.extend(config.aggregation.variables.keys().cloned());
    for &k in &orders {
        let group = store.read_json(&format!("{k}/zarr.json"))?;
        let want = Value::Object(dggs_attributes(k, config.grid.ellipsoid));
        checks.add(
            format!("group {k} has the DGGS attributes of level {k}"),
            match &group {
                None => Some("no zarr.json".into()),
                Some(g) if g.get("attributes") != Some(&want) => Some(format!(
                    "attributes are {}",
                    g.get("attributes").unwrap_or(&Value::Null)
                )),
                Some(_) => None,
            },
        );
        check_consolidated(&mut checks, consolidated, &k.to_string(), group.as_ref());
        let chunk = 1u64 << (2 * u32::from(k - config.grid.parent_order));
        for name in &array_names {
            let path = format!("{k}/{name}");
            let meta = store.read_json(&format!("{path}/zarr.json"))?;
            let dtype = match name.as_str() {
                "cell_ids" => "uint64".to_string(),
                "morton" => DType::Int64.to_string(),
                v => config.aggregation.variables[v].dtype().to_string(),
            };
            checks.add(
                format!("array {path}: {dtype}, shape 12·4^{k}, chunk {chunk}, over {DIMENSION}"),
                match &meta {
                    None => Some("no zarr.json".into()),
                    Some(m) => array_problem(m, &dtype, grid::n_cells(k), chunk),
                },
            );
            check_consolidated(&mut checks, consolidated, &path, meta.as_ref());
        }
    }

    // Written chunks and counts of every order.
    let leaf_shards: BTreeSet<u64> = store
        .written_chunks(config.grid.leaf_order, "count")?
        .into_iter()
        .collect();
    let mut order_summaries = Vec::new();
    for &k in &orders {
        let mut shards_of: Vec<(String, BTreeSet<u64>)> = Vec::new();
        for name in &array_names {
            shards_of.push((
                name.clone(),
                store.written_chunks(k, name)?.into_iter().collect(),
            ));
        }
        let count_shards = shards_of
            .iter()
            .find(|(n, _)| n == "count")
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let odd = shards_of.iter().find(|(_, s)| *s != leaf_shards);
        checks.add(
            format!("order {k}: every array has a chunk for exactly the shards of order {} (one per shard with data)", config.grid.leaf_order),
            odd.map(|(n, s)| {
                format!(
                    "{k}/{n} has {} chunks, {}/count has {}",
                    s.len(),
                    config.grid.leaf_order,
                    leaf_shards.len()
                )
            }),
        );
        let reader = store.chunk_reader(k, "count")?;
        let (mut occupied, mut observations) = (0u64, 0u64);
        for &shard in &count_shards {
            if let Some(values) = reader.read(shard)? {
                occupied += values.iter().filter(|&&c| c > 0.0).count() as u64;
                observations += values.iter().map(|&c| c.max(0.0) as u64).sum::<u64>();
            }
        }
        order_summaries.push(OrderSummary {
            order: k,
            cell_km: cell_size_km(k),
            shards: count_shards.len() as u64,
            occupied_cells: occupied,
            observations,
        });
    }
    if let Some(leaf) = order_summaries.first() {
        let differing = order_summaries
            .iter()
            .find(|o| o.observations != leaf.observations);
        checks.add(
            "every order holds the same observations (Σ count)",
            differing.map(|o| {
                format!(
                    "order {} holds {}, order {} holds {}",
                    o.order, o.observations, leaf.order, leaf.observations
                )
            }),
        );
    }

    // Variables at one order.
    let (variables, content_problem) =
        summarise_variables(store, &config, variables_order, &leaf_shards, &array_names)?;
    checks.add(
        format!("order {variables_order}: cell_ids and morton hold the ids of their cells; values are NaN exactly in empty cells"),
        content_problem,
    );

    let run: Option<RunReport> = match store.read_json(RUN_REPORT_KEY)? {
        Some(v) => match serde_json::from_value(v) {
            Ok(r) => Some(r),
            Err(e) => {
                checks.add(
                    format!("{RUN_REPORT_KEY} is a run report"),
                    Some(e.to_string()),
                );
                None
            }
        },
        None => None,
    };
    if let (Some(r), Some(leaf)) = (&run, order_summaries.first()) {
        checks.add(
            format!("{RUN_REPORT_KEY} agrees with the store (shards with data, cells, observations)"),
            (r.shards_ok != leaf.shards
                || r.cells != leaf.occupied_cells
                || r.counts.observations != leaf.observations)
                .then(|| {
                    format!(
                        "report: {} shards, {} cells, {} observations; store: {} shards, {} cells, {} observations",
                        r.shards_ok,
                        r.cells,
                        r.counts.observations,
                        leaf.shards,
                        leaf.occupied_cells,
                        leaf.observations
                    )
                }),
        );
    }

    tracing::debug!(
        store = store.location(),
        checks = checks.0.len(),
        failed = checks.0.iter().filter(|c| !c.ok).count(),
        "inspected"
    );
    Ok(Inspection {
        store: store.location().to_string(),
        zagg_version: zagg
            .get("version")
            .and_then(Value::as_str)
            .map(String::from),
        orders,
        parent_order: config.grid.parent_order,
        ellipsoid: match config.grid.ellipsoid {
            grid::Ellipsoid::Wgs84 => "WGS84".into(),
            grid::Ellipsoid::Sphere => "sphere".into(),
        },
        consolidated: consolidated.is_some(),
        order_summaries,
        variables_order,
        variables,
        checks: checks.0,
        run,
    })
}

/// The consolidated entry of `path` must equal the node's own metadata.
fn check_consolidated(
    checks: &mut Checks,
    consolidated: Option<&Value>,
    path: &str,
    own: Option<&Value>,
) {
    let entry = consolidated.and_then(|m| m.get(path));
    checks.add(
        format!("consolidated metadata has {path}, equal to {path}/zarr.json"),
        match (entry, own) {
            (None, _) => Some("no entry".into()),
            (Some(_), None) => Some("entry for a node that does not exist".into()),
            (Some(e), Some(o)) if e != o => Some("entry differs from the node's zarr.json".into()),
            _ => None,
        },
    );
}

/// The first way an array's metadata differs from the layout of SPEC §5.
fn array_problem(meta: &Value, dtype: &str, shape: u64, chunk: u64) -> Option<String> {
    let got = |p: &str| meta.pointer(p).cloned().unwrap_or(Value::Null);
    if got("/data_type") != json!(dtype) {
        return Some(format!("data_type {}", got("/data_type")));
    }
    if got("/shape") != json!([shape]) {
        return Some(format!("shape {}", got("/shape")));
    }
    if got("/chunk_grid/configuration/chunk_shape") != json!([chunk]) {
        return Some(format!("chunk grid {}", got("/chunk_grid")));
    }
    if got("/dimension_names") != json!([DIMENSION]) {
        return Some(format!("dimension_names {}", got("/dimension_names")));
    }
    let separator = meta
        .pointer("/chunk_key_encoding/configuration/separator")
        .and_then(Value::as_str)
        .unwrap_or("/");
    if got("/chunk_key_encoding/name") != json!("default") || separator != "/" {
        return Some(format!("chunk key encoding {}", got("/chunk_key_encoding")));
    }
    None
}

type VariableResult = (Vec<VariableSummary>, Option<String>);

fn summarise_variables(
    store: &Store,
    config: &PipelineConfig,
    order: u8,
    shards: &BTreeSet<u64>,
    names: &[String],
) -> Result<VariableResult, InspectError> {
    let counts_reader = store.chunk_reader(order, "count")?;
    let mut counts: Vec<(u64, Vec<f64>)> = Vec::new();
    for &shard in shards {
        if let Some(c) = counts_reader.read(shard)? {
            counts.push((shard, c));
        }
    }
    let span = 2 * u32::from(order - config.grid.parent_order);
    let mut problem: Option<String> = None;
    let mut out = Vec::new();
    for name in names {
        let reader = store.chunk_reader(order, name)?;
        let units = store
            .read_json(&format!("{order}/{name}/zarr.json"))?
            .and_then(|m| m.pointer("/attributes/units").cloned())
            .and_then(|u| u.as_str().map(String::from));
        let fill = match name.as_str() {
            "cell_ids" | "morton" => 0.0,
            v => config.aggregation.variables[v].fill(),
        };
        let mut summary = VariableSummary {
            name: name.clone(),
            data_type: reader.data_type().to_string(),
            units,
            chunks: 0,
            min: None,
            max: None,
            nan_in_occupied: 0,
            filled_in_empty: 0,
        };
        for (shard, count) in &counts {
            let Some(values) = reader.read(*shard)? else {
                continue;
            };
            summary.chunks += 1;
            let first = shard << span;
            if name == "cell_ids" {
                if let Some(i) = (0..values.len()).find(|&i| values[i] != (first + i as u64) as f64)
                {
                    problem.get_or_insert(format!(
                        "{order}/cell_ids chunk {shard}: element {i} is {}",
                        values[i]
                    ));
                }
            }
            if name == "morton" {
                let bad = (0..values.len()).find(|&i| {
                    grid::nested_to_morton(first + i as u64, order)
                        .map_or(true, |m| m as f64 != values[i])
                });
                if let Some(i) = bad {
                    problem.get_or_insert(format!(
                        "{order}/morton chunk {shard}: element {i} is {}, not the morton id of cell {}",
                        values[i],
                        first + i as u64
                    ));
                }
            }
            for (&v, &c) in values.iter().zip(count) {
                if c > 0.0 {
                    if v.is_nan() {
                        summary.nan_in_occupied += 1;
                    } else if v.is_finite() {
                        summary.min = Some(summary.min.map_or(v, |m: f64| m.min(v)));
                        summary.max = Some(summary.max.map_or(v, |m: f64| m.max(v)));
                    }
                } else {
                    let is_fill = v == fill || (v.is_nan() && fill.is_nan());
                    let coordinate = matches!(name.as_str(), "cell_ids" | "morton");
                    if !is_fill && !coordinate {
                        summary.filled_in_empty += 1;
                    }
                }
            }
        }
        if summary.nan_in_occupied > 0 {
            problem.get_or_insert(format!(
                "{order}/{name}: {} occupied cells are NaN",
                summary.nan_in_occupied
            ));
        }
        if summary.filled_in_empty > 0 {
            problem.get_or_insert(format!(
                "{order}/{name}: {} empty cells hold a value",
                summary.filled_in_empty
            ));
        }
        // The coordinates are checked above, not summarised.
        if !matches!(name.as_str(), "cell_ids" | "morton") {
            out.push(summary);
        }
    }
    Ok((out, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_sizes_match_the_healpix_resolution_table() {
        // HEALPix mean spacing at order 12 is 0.8590 arcmin: 1.59 km on the authalic sphere.
        assert!(
            (cell_size_km(12) - 1.592).abs() < 0.002,
            "{}",
            cell_size_km(12)
        );
        assert!((cell_size_km(6) - 101.9).abs() < 0.1, "{}", cell_size_km(6));
        assert!((cell_size_km(11) / cell_size_km(12) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn array_problems_name_the_first_difference() {
        let good = json!({
            "data_type": "float32", "shape": [201326592u64],
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4096]}},
            "dimension_names": ["cells"],
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}}
        });
        assert_eq!(array_problem(&good, "float32", 201_326_592, 4096), None);
        let e = array_problem(&good, "float32", 201_326_592, 1024).unwrap_or_default();
        assert!(e.starts_with("chunk grid"), "{e}");
        let e = array_problem(&good, "int32", 201_326_592, 4096).unwrap_or_default();
        assert!(e.contains("data_type \"float32\""), "{e}");
    }
}
