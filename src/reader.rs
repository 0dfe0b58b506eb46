//! Reading a store back: which chunks were written, and their values (for `zagg inspect` and
//! `zagg plot`). Only the written chunks are read, never the full-sphere arrays.

use zarrs::array::Array;
use zarrs::storage::StorePrefix;

use crate::store::{Store, StoreError};

/// One array of one order, opened for reading chunks as f64.
pub struct ChunkReader {
    array: Array<dyn zarrs::storage::ReadableWritableListableStorageTraits>,
    data_type: String,
    path: String,
    store: Store,
}

impl std::fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkReader")
            .field("path", &self.path)
            .field("data_type", &self.data_type)
            .finish_non_exhaustive()
    }
}

impl ChunkReader {
    /// The Zarr data type name (`float32`, `int32`, `uint64`, …).
    pub fn data_type(&self) -> &str {
        &self.data_type
    }

    /// Number of elements in one chunk.
    pub fn chunk_len(&self) -> u64 {
        self.array
            .chunk_shape(&[0])
            .ok()
            .and_then(|s| s.first().map(|n| n.get()))
            .unwrap_or(0)
    }

    /// The values of chunk `index` (a shard's nested id) converted to f64, or `None` when the
    /// chunk was not written. 64-bit integers beyond 2^53 lose precision (cell ids at orders
    /// above 25 only).
    ///
    /// # Errors
    /// [`StoreError::Io`] when the chunk cannot be read or decoded, or has an unsupported type.
    pub fn read(&self, index: u64) -> Result<Option<Vec<f64>>, StoreError> {
        let err = |e: zarrs::array::ArrayError| {
            self.store
                .io(format!("read chunk {index} of {}", self.path), e)
        };
        let idx = [index];
        let values = match self.data_type.as_str() {
            "float32" => self
                .array
                .retrieve_chunk_if_exists::<Vec<f32>>(&idx)
                .map_err(err)?
                .map(|v| v.into_iter().map(f64::from).collect()),
            "float64" => self
                .array
                .retrieve_chunk_if_exists::<Vec<f64>>(&idx)
                .map_err(err)?,
            "int32" => self
                .array
                .retrieve_chunk_if_exists::<Vec<i32>>(&idx)
                .map_err(err)?
                .map(|v| v.into_iter().map(f64::from).collect()),
            "uint32" => self
                .array
                .retrieve_chunk_if_exists::<Vec<u32>>(&idx)
                .map_err(err)?
                .map(|v| v.into_iter().map(f64::from).collect()),
            "int64" => self
                .array
                .retrieve_chunk_if_exists::<Vec<i64>>(&idx)
                .map_err(err)?
                .map(|v| v.into_iter().map(|x| x as f64).collect()),
            "uint64" => self
                .array
                .retrieve_chunk_if_exists::<Vec<u64>>(&idx)
                .map_err(err)?
                .map(|v| v.into_iter().map(|x| x as f64).collect()),
            other => {
                return Err(self.store.io(
                    format!("read chunk {index} of {}", self.path),
                    format!("unsupported data type {other}"),
                ))
            }
        };
        Ok(values)
    }
}

impl Store {
    /// Chunk indices written for array `name` of group `order`, ascending (one per shard with
    /// data). Keys that are not `c/<integer>` are ignored.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the store cannot be listed.
    pub fn written_chunks(&self, order: u8, name: &str) -> Result<Vec<u64>, StoreError> {
        let prefix_text = format!("{order}/{name}/c/");
        let prefix = StorePrefix::new(prefix_text.clone())
            .map_err(|e| self.io(format!("list {prefix_text}"), e))?;
        let keys = self
            .storage()
            .list_prefix(&prefix)
            .map_err(|e| self.io(format!("list {prefix_text}"), e))?;
        let mut out: Vec<u64> = keys
            .iter()
            .filter_map(|k| k.as_str().strip_prefix(&prefix_text)?.parse().ok())
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Open array `name` of group `order` for reading chunks.
    ///
    /// # Errors
    /// [`StoreError::Io`] when its metadata is missing or unreadable.
    pub fn chunk_reader(&self, order: u8, name: &str) -> Result<ChunkReader, StoreError> {
        let path = format!("{order}/{name}");
        let meta = self
            .read_json(&format!("{path}/zarr.json"))?
            .ok_or_else(|| self.io(format!("open array {path}"), "no zarr.json"))?;
        let data_type = meta
            .get("data_type")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_string();
        let array = Array::open(self.storage().clone(), &format!("/{path}"))
            .map_err(|e| self.io(format!("open array {path}"), e))?;
        Ok(ChunkReader {
            array,
            data_type,
            path,
            store: self.clone(),
        })
    }
}
