//! Any bytes as a whole granule file: opened, read and aggregated as a shard would.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zagg_fuzz::read_granule(data);
});
