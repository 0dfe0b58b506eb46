//! The output store: one Zarr v3 hierarchy per run (SPEC §5).
//!
//! Layout: root group (attribute `zagg` records the version, the config and the orders),
//! one child group per order — the leaf order (`12`) and the pyramid orders of
//! `grid.pyramid` (`11` … `6`) — with the DGGS convention attributes, and in each the 1-D
//! arrays `cell_ids`, `morton` and the configured variables, all over the dimension `cells`
//! of the full sphere (`12·4^order`), chunked by shard (`4^(order-parent)`), so the chunk
//! index of a shard is its nested id at the parent order and a shard writes exactly one
//! chunk per array per order. Chunks whose values all equal the fill value are not written.
//!
//! The storage is any `zarrs` readable/writable/listable store: a local directory now, S3
//! through `zarrs_object_store` later; nothing here depends on which.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use zarrs::array::codec::ZstdCodec;
use zarrs::array::{data_type, Array, ArrayBuilder, ArrayMetadataOptions};
use zarrs::group::GroupBuilder;
use zarrs::storage::{ReadableWritableListableStorage, StoreKey};

use crate::aggregate::ShardStats;
use crate::config::{DType, PipelineConfig};
use crate::grid::{self, Ellipsoid};

mod local;
pub use local::TEMP_DIR;

/// Runs zarrs' async storage calls on the cloud I/O runtime.
struct BlockOn(tokio::runtime::Handle);

impl zarrs::storage::storage_adapter::async_to_sync::AsyncToSyncBlockOn for BlockOn {
    fn block_on<F: core::future::Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
}

/// An array of the store, on a type-erased storage.
type StoreArray = Array<dyn zarrs::storage::ReadableWritableListableStorageTraits>;

/// Name, dtype (`None`: uint64 cell ids), fill value and attributes of one array.
type ArraySpec = (String, Option<DType>, f64, Map<String, Value>);

/// Name of the dimension every array runs over.
pub const DIMENSION: &str = "cells";

/// zstd level of the chunk codec: fast, and NaN-heavy chunks shrink well.
const ZSTD_LEVEL: i32 = 3;

/// Errors of the output store. Each names the store and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store location could not be opened or created.
    #[error("store {store}: cannot open: {message}")]
    Open {
        /// Store location.
        store: String,
        /// Cause.
        message: String,
    },
    /// The store has no template (run `zagg template` first).
    #[error("store {store}: no zagg template found ({message}); create it with `zagg template --store {store}`")]
    NoTemplate {
        /// Store location.
        store: String,
        /// What was missing.
        message: String,
    },
    /// The store was created with another config.
    #[error(
        "store {store}: it was created with a different config ({message}); write to a new store"
    )]
    ConfigMismatch {
        /// Store location.
        store: String,
        /// First difference found.
        message: String,
    },
    /// A read or write failed.
    #[error("store {store}: {action}: {message}")]
    Io {
        /// Store location.
        store: String,
        /// What was being done (e.g. `write shard 41066 array h_mean`).
        action: String,
        /// Cause.
        message: String,
    },
}

/// An output store.
#[derive(Clone)]
pub struct Store {
    storage: ReadableWritableListableStorage,
    location: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish()
    }
}

/// What one shard wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Arrays that got a chunk.
    pub chunks_written: usize,
}

/// The DGGS convention attributes of the group of one order (SPEC §5).
pub fn dggs_attributes(order: u8, ellipsoid: Ellipsoid) -> Map<String, Value> {
    let ellipsoid = match ellipsoid {
        Ellipsoid::Wgs84 => json!({
            "name": "WGS84", "semimajor_axis": 6378137.0, "inverse_flattening": 298.257223563
        }),
        // The named sphere xdggs/healpix-geo resolve "sphere" to.
        Ellipsoid::Sphere => json!({"name": "sphere", "radius": 6370997.0}),
    };
    let value = json!({
        "zarr_conventions": [{
            "schema_url": "https://raw.githubusercontent.com/zarr-conventions/dggs/refs/tags/v1/schema.json",
            "spec_url": "https://github.com/zarr-conventions/dggs/blob/v1/README.md",
            "uuid": "7b255807-140c-42ca-97f6-7a1cfecdbc38",
            "name": "dggs",
            "description": "Discrete Global Grid Systems convention for zarr"
        }],
        "dggs": {
            "name": "healpix",
            "refinement_level": order,
            "indexing_scheme": "nested",
            "spatial_dimension": DIMENSION,
            "ellipsoid": ellipsoid,
            "coordinate": "cell_ids",
            "compression": "none"
        }
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Store {
    /// Open (creating if needed) a store in a local directory. Every write is atomic (a
    /// temporary file renamed over the key), so a killed run never leaves a partial chunk;
    /// temporary files of processes that stopped are removed here.
    ///
    /// # Errors
    /// [`StoreError::Open`] when the directory cannot be created.
    pub fn open_local(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let location = path.display().to_string();
        let store = local::AtomicFilesystem::new(path).map_err(|message| StoreError::Open {
            store: location.clone(),
            message,
        })?;
        Ok(Self::from_storage(Arc::new(store), location))
    }

    /// Open a store by location: a local directory, or `s3://bucket/prefix` through the
    /// cloud clients (`cloud` is then required).
    ///
    /// # Errors
    /// [`StoreError::Open`] for a bad location or a client that cannot be built.
    pub fn open(
        location: &str,
        cloud: Option<&Arc<crate::source::Cloud>>,
    ) -> Result<Self, StoreError> {
        use crate::source::Location;
        let open_err = |message: String| StoreError::Open {
            store: location.to_string(),
            message,
        };
        match Location::parse(location).map_err(|e| open_err(e.to_string()))? {
            None => Self::open_local(location.strip_prefix("file://").unwrap_or(location)),
            Some(parsed @ Location::S3 { .. }) => {
                let cloud =
                    cloud.ok_or_else(|| open_err("an s3:// store needs cloud access".into()))?;
                let client = cloud.client(&parsed).map_err(|e| open_err(e.to_string()))?;
                let Location::S3 { key, .. } = parsed else {
                    return Err(open_err("not an s3:// location".into()));
                };
                let prefixed: Arc<dyn object_store::ObjectStore> = if key.is_empty() {
                    client
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(client, key.as_str()))
                };
                let storage = Arc::new(zarrs_object_store::AsyncObjectStore::new(prefixed));
                let sync =
                    zarrs::storage::storage_adapter::async_to_sync::AsyncToSyncStorageAdapter::new(
                        storage,
                        BlockOn(cloud.handle()),
                    );
                Ok(Self::from_storage(Arc::new(sync), location.to_string()))
            }
            Some(_) => Err(open_err(
                "stores can be local directories or s3:// locations".into(),
            )),
        }
    }

    /// Wrap any zarrs storage.
    pub fn from_storage(storage: ReadableWritableListableStorage, location: String) -> Self {
        Self { storage, location }
    }

    /// Where the store is.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The underlying zarrs storage (for the readers in [`crate::reader`]).
    pub(crate) fn storage(&self) -> &ReadableWritableListableStorage {
        &self.storage
    }

    pub(crate) fn io(&self, action: impl Into<String>, e: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            store: self.location.clone(),
            action: action.into(),
            message: e.to_string(),
        }
    }

    fn group_path(order: u8) -> String {
        format!("/{order}")
    }

    fn array_path(order: u8, name: &str) -> String {
        format!("/{order}/{name}")
    }

    /// The root `zagg` attribute recorded by the template.
    fn root_attribute(config: &PipelineConfig) -> Value {
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "orders": config.grid.orders(),
            "config": config,
        })
    }

    /// Create the root group, one group per order (the leaf order and the pyramid orders) and
    /// every array in each (metadata only).
    ///
    /// Idempotent: on a store that already has the same template this does nothing; a store
    /// made with another config is refused, so data already written is never mixed.
    ///
    /// # Errors
    /// [`StoreError::ConfigMismatch`] for a store made with another config;
    /// [`StoreError::Io`] when metadata cannot be written.
    pub fn create_template(&self, config: &PipelineConfig) -> Result<(), StoreError> {
        match self.check_template(config) {
            Ok(()) => return Ok(()),
            Err(StoreError::NoTemplate { .. }) => {}
            Err(e) => return Err(e),
        }
        let mut root = GroupBuilder::new()
            .build(self.storage.clone(), "/")
            .map_err(|e| self.io("create root group", e))?;
        root.attributes_mut()
            .insert("zagg".into(), Self::root_attribute(config));
        for order in config.grid.orders() {
            let mut group = GroupBuilder::new()
                .build(self.storage.clone(), &Self::group_path(order))
                .map_err(|e| self.io(format!("create group {order}"), e))?;
            *group.attributes_mut() = dggs_attributes(order, config.grid.ellipsoid);
            group
                .store_metadata()
                .map_err(|e| self.io(format!("write metadata of group {order}"), e))?;

            for (name, array) in self.build_arrays(config, order)? {
                array
                    .store_metadata_opt(
                        &ArrayMetadataOptions::default().with_include_zarrs_metadata(false),
                    )
                    .map_err(|e| self.io(format!("write metadata of array {order}/{name}"), e))?;
            }
        }
        // The root goes last: a store with a root `zagg` attribute has a complete template.
        root.store_metadata()
            .map_err(|e| self.io("write root group metadata", e))?;
        Ok(())
    }

    fn build_arrays(
        &self,
        config: &PipelineConfig,
        order: u8,
    ) -> Result<Vec<(String, StoreArray)>, StoreError> {
        let shape = vec![grid::n_cells(order)];
        let chunk = vec![1u64 << (2 * u32::from(order - config.grid.parent_order))];
        // `None` is uint64: the nested cell ids.
        let mut specs: Vec<ArraySpec> = vec![
            (
                "cell_ids".into(),
                None,
                0.0,
                attrs(&[("long_name", "HEALPix nested cell id")]),
            ),
            (
                "morton".into(),
                Some(DType::Int64),
                0.0,
                attrs(&[("long_name", "morton (mortie decimal) id of the cell")]),
            ),
        ];
        for (name, v) in &config.aggregation.variables {
            let mut a = Map::new();
            if let Some(u) = &v.units {
                a.insert("units".into(), Value::String(u.clone()));
            }
            if let Some(l) = &v.long_name {
                a.insert("long_name".into(), Value::String(l.clone()));
            }
            specs.push((name.clone(), Some(v.dtype()), v.fill(), a));
        }
        let mut out = Vec::new();
        for (name, dtype, fill, attributes) in specs {
            let mut builder = match dtype {
                None => ArrayBuilder::new(shape.clone(), chunk.clone(), data_type::uint64(), 0u64),
                Some(DType::Int32) => ArrayBuilder::new(
                    shape.clone(),
                    chunk.clone(),
                    data_type::int32(),
                    fill as i32,
                ),
                Some(DType::Int64) => ArrayBuilder::new(
                    shape.clone(),
                    chunk.clone(),
                    data_type::int64(),
                    fill as i64,
                ),
                Some(DType::UInt32) => ArrayBuilder::new(
                    shape.clone(),
                    chunk.clone(),
                    data_type::uint32(),
                    fill as u32,
                ),
                Some(DType::Float32) => ArrayBuilder::new(
                    shape.clone(),
                    chunk.clone(),
                    data_type::float32(),
                    fill as f32,
                ),
                Some(DType::Float64) => {
                    ArrayBuilder::new(shape.clone(), chunk.clone(), data_type::float64(), fill)
                }
            };
            builder
                .dimension_names(Some([DIMENSION]))
                .attributes(attributes)
                .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(ZSTD_LEVEL, false))]);
            let array = builder
                .build(self.storage.clone(), &Self::array_path(order, &name))
                .map_err(|e| self.io(format!("define array {order}/{name}"), e))?;
            out.push((name, array));
        }
        Ok(out)
    }

    /// Check that the store holds a complete template made with this config.
    ///
    /// # Errors
    /// [`StoreError::NoTemplate`] when it has none; [`StoreError::ConfigMismatch`] when it was
    /// made with another config; [`StoreError::Io`] when metadata cannot be read.
    pub fn check_template(&self, config: &PipelineConfig) -> Result<(), StoreError> {
        let root = self
            .read_json("zarr.json")?
            .ok_or_else(|| StoreError::NoTemplate {
                store: self.location.clone(),
                message: "no root zarr.json".into(),
            })?;
        let Some(recorded) = root.pointer("/attributes/zagg") else {
            return Err(StoreError::NoTemplate {
                store: self.location.clone(),
                message: "the root group has no `zagg` attribute (not a zagg store, or its template was interrupted)".into(),
            });
        };
        let ours = serde_json::to_value(config).map_err(|e| self.io("encode config", e))?;
        match recorded.get("config") {
            Some(theirs) if *theirs == ours => Ok(()),
            Some(theirs) => Err(StoreError::ConfigMismatch {
                store: self.location.clone(),
                message: first_difference("config", theirs, &ours),
            }),
            None => Err(StoreError::ConfigMismatch {
                store: self.location.clone(),
                message: "the store records no config".into(),
            }),
        }
    }

    /// Write one shard's chunks of the leaf order: `cell_ids`, `morton` and every variable.
    ///
    /// A shard without observations writes nothing, and erases chunks an earlier run may have
    /// left, so a rerun always leaves the same bytes. Empty cells get the fill value.
    ///
    /// # Errors
    /// [`StoreError::Io`] naming the shard and the array that could not be written.
    pub fn write_shard(
        &self,
        config: &PipelineConfig,
        shard: u64,
        stats: &ShardStats,
    ) -> Result<WriteSummary, StoreError> {
        self.write_shard_order(config, config.grid.leaf_order, shard, stats)
    }

    /// Write one shard's chunks of the group `order` (the leaf order or a pyramid order):
    /// `stats` holds one value per cell of the shard at that order, `4^(order − parent)`.
    /// As [`Store::write_shard`], a shard without observations erases its chunks instead.
    ///
    /// # Errors
    /// [`StoreError::Io`] naming the shard, the order and the array that could not be written.
    pub fn write_shard_order(
        &self,
        config: &PipelineConfig,
        order: u8,
        shard: u64,
        stats: &ShardStats,
    ) -> Result<WriteSummary, StoreError> {
        let parent_order = config.grid.parent_order;
        let Some(span) = order.checked_sub(parent_order) else {
            return Err(self.io(
                format!("write shard {shard} at order {order}"),
                format!("order {order} is coarser than the shard order {parent_order}"),
            ));
        };
        let cells = grid::children(shard, parent_order, order);
        let n = stats.counts.len();
        let has_data = stats.counts.iter().any(|&c| c > 0);
        let mut summary = WriteSummary::default();
        let chunk = [shard];
        let open = |name: &str| {
            Array::open(self.storage.clone(), &Self::array_path(order, name))
                .map_err(|e| self.io(format!("open array {order}/{name} for shard {shard}"), e))
        };
        let write_err = |name: &str, e: zarrs::array::ArrayError| {
            self.io(
                format!(
                    "write shard {shard} (order {}) array {order}/{name}",
                    config.grid.parent_order
                ),
                e,
            )
        };
        if n as u64 != 1u64 << (2 * u32::from(span)) {
            return Err(self.io(
                format!("write shard {shard} at order {order}"),
                format!(
                    "{n} cell values given, the shard has {} cells at this order",
                    1u64 << (2 * u32::from(span))
                ),
            ));
        }

        if !has_data {
            // Nothing to write; erase what an earlier run may have left so reruns converge.
            let names = config.aggregation.variables.keys().map(String::as_str);
            for name in names.chain(["cell_ids", "morton"]) {
                open(name)?
                    .erase_chunk(&chunk)
                    .map_err(|e| self.io(format!("erase shard {shard} array {order}/{name}"), e))?;
            }
            return Ok(summary);
        }
        // Variables first, coordinates last.
        for ((name, v), values) in config.aggregation.variables.iter().zip(&stats.values) {
            let array = open(name)?;
            let fill = v.fill();
            let value = |i: usize| if stats.counts[i] > 0 { values[i] } else { fill };
            match v.dtype() {
                DType::Int32 => {
                    array.store_chunk(&chunk, (0..n).map(|i| value(i) as i32).collect::<Vec<_>>())
                }
                DType::Int64 => {
                    array.store_chunk(&chunk, (0..n).map(|i| value(i) as i64).collect::<Vec<_>>())
                }
                DType::UInt32 => {
                    array.store_chunk(&chunk, (0..n).map(|i| value(i) as u32).collect::<Vec<_>>())
                }
                DType::Float32 => {
                    array.store_chunk(&chunk, (0..n).map(|i| value(i) as f32).collect::<Vec<_>>())
                }
                DType::Float64 => array.store_chunk(&chunk, (0..n).map(value).collect::<Vec<_>>()),
            }
            .map_err(|e| write_err(name, e))?;
            summary.chunks_written += 1;
        }
        let ids = open("cell_ids")?;
        let morton = open("morton")?;
        let id_values: Vec<u64> = cells.clone().collect();
        let morton_values = id_values
            .iter()
            .map(|&c| grid::nested_to_morton(c, order))
            .collect::<Result<Vec<i64>, _>>()
            .map_err(|e| self.io(format!("morton ids of shard {shard}"), e))?;
        morton
            .store_chunk(&chunk, morton_values)
            .map_err(|e| write_err("morton", e))?;
        ids.store_chunk(&chunk, id_values)
            .map_err(|e| write_err("cell_ids", e))?;
        summary.chunks_written += 2;
        Ok(summary)
    }

    /// Write the consolidated metadata of the whole hierarchy (every order's group and
    /// arrays) into the root `zarr.json` (`kind: inline`, as zarr-python 3 writes and reads it).
    ///
    /// # Errors
    /// [`StoreError::NoTemplate`]/[`StoreError::ConfigMismatch`] as [`Store::check_template`];
    /// [`StoreError::Io`] when metadata cannot be read or written.
    pub fn consolidate(&self, config: &PipelineConfig) -> Result<(), StoreError> {
        self.check_template(config)?;
        let mut entries: Vec<String> = Vec::new();
        for order in config.grid.orders() {
            entries.push(order.to_string());
            entries.push(format!("{order}/cell_ids"));
            entries.push(format!("{order}/morton"));
            entries.extend(
                config
                    .aggregation
                    .variables
                    .keys()
                    .map(|k| format!("{order}/{k}")),
            );
        }
        // Built by hand rather than through zarrs' HashMap so the bytes are the same every run.
        let mut metadata = Map::new();
        for path in entries {
            let value = self
                .read_json(&format!("{path}/zarr.json"))?
                .ok_or_else(|| StoreError::NoTemplate {
                    store: self.location.clone(),
                    message: format!("{path}/zarr.json is missing"),
                })?;
            metadata.insert(path, value);
        }
        let mut root = self
            .read_json("zarr.json")?
            .ok_or_else(|| StoreError::NoTemplate {
                store: self.location.clone(),
                message: "no root zarr.json".into(),
            })?;
        let Value::Object(fields) = &mut root else {
            return Err(self.io("read root zarr.json", "not a JSON object"));
        };
        fields.insert(
            "consolidated_metadata".into(),
            json!({"kind": "inline", "must_understand": false, "metadata": metadata}),
        );
        self.write_json("zarr.json", &root)
    }

    /// Read a JSON object at `key`; `None` when the key does not exist.
    ///
    /// # Errors
    /// [`StoreError::Io`] when it cannot be read or is not JSON.
    pub fn read_json(&self, key: &str) -> Result<Option<Value>, StoreError> {
        match self.read_bytes(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.io(format!("parse {key}"), e)),
        }
    }

    /// Read the object at `key`; `None` when the key does not exist.
    ///
    /// # Errors
    /// [`StoreError::Io`] when it cannot be read.
    pub fn read_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key_ = StoreKey::new(key).map_err(|e| self.io(format!("key {key}"), e))?;
        Ok(self
            .storage
            .get(&key_)
            .map_err(|e| self.io(format!("read {key}"), e))?
            .map(|b| b.to_vec()))
    }

    /// Write a JSON document at `key` (e.g. the run report `run.json`).
    ///
    /// # Errors
    /// [`StoreError::Io`] when it cannot be written.
    pub fn write_json(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        let key_ = StoreKey::new(key).map_err(|e| self.io(format!("key {key}"), e))?;
        let mut bytes =
            serde_json::to_vec_pretty(value).map_err(|e| self.io(format!("encode {key}"), e))?;
        bytes.push(b'\n');
        self.storage
            .set(&key_, bytes.into())
            .map_err(|e| self.io(format!("write {key}"), e))
    }
}

fn attrs(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect()
}

/// A short description of the first place two JSON values differ.
fn first_difference(path: &str, a: &Value, b: &Value) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    None => return format!("{path}.{k} is only in the store"),
                    Some(vb) if va != vb => {
                        return first_difference(&format!("{path}.{k}"), va, vb)
                    }
                    _ => {}
                }
            }
            for k in y.keys() {
                if !x.contains_key(k) {
                    return format!("{path}.{k} is only in this config");
                }
            }
            format!("{path} differs in key order")
        }
        _ => format!("{path} is {a} in the store, {b} in this config"),
    }
}
