//! Any text as a pipeline config: parsed and validated; a valid one then goes through what a
//! run does with it at load (orders, used columns, the shard context's hasher and
//! aggregator, the store template and its check) and must serialise back to itself.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use zagg::config::PipelineConfig;
use zagg::shard::ShardContext;
use zagg::store::Store;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = PipelineConfig::from_yaml(text, "fuzz.yaml") else {
        return;
    };
    let orders = config.grid.orders();
    assert_eq!(orders[0], config.grid.leaf_order);
    let _ = config.used_columns();
    // A valid config always gives a shard context.
    let ctx = ShardContext::new(Arc::new(config.clone())).expect("shard context of a valid config");

    // YAML round trip: the config written out reads back as the same config.
    let yaml = serde_yaml::to_string(&config).expect("serialise");
    let again = PipelineConfig::from_yaml(&yaml, "round trip")
        .unwrap_or_else(|e| panic!("a valid config does not read back: {e}\n{yaml}"));
    assert_eq!(
        serde_json::to_value(&again).expect("json"),
        serde_json::to_value(&config).expect("json"),
        "{yaml}"
    );

    // The template of a valid config can be made, and the store then accepts the config.
    let storage = Arc::new(zarrs::storage::store::MemoryStore::new());
    let store = Store::from_storage(storage, "memory://fuzz".into());
    store
        .create_template(&ctx.config)
        .expect("template of a valid config");
    store
        .check_template(&ctx.config)
        .expect("a store accepts the config it was made with");
});
