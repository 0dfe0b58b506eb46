//! The demo granules embedded in the binary: four synthetic ATL06-shaped granules over West
//! Antarctica, made by `tests/data/gen_granules.py` (see `tests/data/README.md`).

use std::sync::Arc;

use crate::granule::{ByteSource, MemorySource};

include!(concat!(env!("OUT_DIR"), "/demo_granules.rs"));

/// The demo granules as byte sources, named `demo:<file name>`.
pub fn demo_sources() -> Vec<Arc<dyn ByteSource>> {
    DEMO_GRANULES
        .iter()
        .map(|(name, bytes)| {
            Arc::new(MemorySource::new(format!("demo:{name}"), *bytes)) as Arc<dyn ByteSource>
        })
        .collect()
}
