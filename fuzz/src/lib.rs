//! Setup shared by the granule fuzz targets: the built-in config, its shard context and an
//! in-memory store with the template, made once per process.

use std::sync::{Arc, OnceLock};

use zagg::config::PipelineConfig;
use zagg::granule::{ByteSource, Granule, MemorySource};
use zagg::shard::{beam_positions, process_shard, Counts, ShardContext};
use zagg::store::Store;

/// The order-6 shard every fixture lies in (West Antarctica; tests/bad_input.rs).
pub const SHARD: u64 = 41054;

/// The fixtures the corruption target starts from (tests/data/fixtures): the three HDF5
/// layouts the reader meets (earliest and latest library versions, small chunks).
pub const FIXTURES: [&[u8]; 3] = [
    include_bytes!("../../tests/data/fixtures/libver_latest.h5"),
    include_bytes!("../../tests/data/fixtures/libver_earliest.h5"),
    include_bytes!("../../tests/data/fixtures/libver_latest_smallchunks.h5"),
];

struct Setup {
    ctx: ShardContext,
    store: Store,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let config = Arc::new(PipelineConfig::builtin_default().expect("built-in config"));
        let storage = Arc::new(zarrs::storage::store::MemoryStore::new());
        let store = Store::from_storage(storage, "memory://fuzz".into());
        store.create_template(&config).expect("template");
        let ctx = ShardContext::new(config).expect("shard context");
        Setup { ctx, store }
    })
}

/// Read `bytes` as a granule everywhere the pipeline does: the shard's points (chunk
/// selection, value columns, quality flags, fill values), aggregated and written to the
/// in-memory store, and every beam's positions in full (`zagg inspect`, `zagg plot`).
/// Errors are expected; a panic, hang or runaway allocation is a finding.
pub fn read_granule(bytes: &[u8]) {
    let s = setup();
    let source: Arc<dyn ByteSource> = Arc::new(MemorySource::new("fuzz.h5", bytes.to_vec()));
    let report = process_shard(&s.ctx, SHARD, std::slice::from_ref(&source), &s.store);
    if let Ok(report) = &report {
        // Every granule is either read or listed as failed.
        assert_eq!(report.granules, 1);
    }
    if let Ok(granule) = Granule::open(source) {
        let mut counts = Counts::default();
        for beam in &s.ctx.config.source.beams {
            let _ = beam_positions(&granule, &s.ctx.config.source, beam, &mut counts);
        }
    }
}
