//! The local runner's journal: after a shard's chunks are all written, its report is recorded
//! in the store at [`journal_key`], with a digest of everything the shard's output depends on
//! (zagg's version, the config, the shard and its granules in order). A run that was killed
//! and started again with the same inputs takes the recorded reports instead of processing
//! those shards again, so it finishes the rest and writes the same store and run report as
//! an uninterrupted run. A shard whose inputs changed, or that failed, is processed again.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::PipelineConfig;
use crate::granule::ByteSource;
use crate::shard::{ShardReport, ShardStatus};
use crate::store::{Store, StoreError};

/// Where the journal lives in the store.
pub const JOURNAL_PREFIX: &str = "runs/local/shards";

/// Key of one shard's journal entry.
pub fn journal_key(shard: u64) -> String {
    format!("{JOURNAL_PREFIX}/{shard}.json")
}

/// One finished shard, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalEntry {
    /// SHA-256 (hex) of the shard's inputs ([`Inputs::digest`]).
    pub inputs: String,
    /// The shard's report.
    pub report: ShardReport,
}

/// What every shard of a run shares in its input digest.
#[derive(Debug, Clone)]
pub struct Inputs {
    base: Sha256,
}

impl Inputs {
    /// The part of the digest common to every shard: the version and the config.
    pub fn new(config: &PipelineConfig) -> Self {
        let mut base = Sha256::new();
        base.update(env!("CARGO_PKG_VERSION").as_bytes());
        base.update([0]);
        // A config always encodes; an encoding failure only makes every digest the same
        // fallback, which the version and granules still separate.
        base.update(serde_json::to_vec(config).unwrap_or_default());
        base.update([0]);
        Self { base }
    }

    /// The digest of one shard's inputs: the shared part, the shard id and its granules by
    /// name, in the order they are merged.
    pub fn digest(&self, shard: u64, granules: &[Arc<dyn ByteSource>]) -> String {
        let mut h = self.base.clone();
        h.update(shard.to_le_bytes());
        for g in granules {
            h.update((g.name().len() as u64).to_le_bytes());
            h.update(g.name().as_bytes());
        }
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    }
}

/// The recorded report of `shard` when its entry exists and was made from the same inputs.
/// An entry that cannot be read or decoded is ignored (with a warning): the shard is then
/// simply processed again.
pub fn recorded(store: &Store, shard: u64, inputs: &str) -> Option<ShardReport> {
    let key = journal_key(shard);
    let value = match store.read_json(&key) {
        Ok(Some(v)) => v,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(shard, error = %e, "cannot read the journal entry; processing again");
            return None;
        }
    };
    match serde_json::from_value::<JournalEntry>(value) {
        Ok(entry)
            if entry.inputs == inputs
                && entry.report.shard == shard
                && matches!(entry.report.status, ShardStatus::Ok | ShardStatus::Empty) =>
        {
            Some(entry.report)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(shard, error = %e, key, "journal entry unreadable; processing again");
            None
        }
    }
}

/// Record a finished shard (only `Ok` and `Empty` shards are recorded: a failed shard is
/// processed again by the next run).
///
/// # Errors
/// [`StoreError`] when the entry cannot be written.
pub fn record(store: &Store, inputs: &str, report: &ShardReport) -> Result<(), StoreError> {
    if !matches!(report.status, ShardStatus::Ok | ShardStatus::Empty) {
        return Ok(());
    }
    let entry = JournalEntry {
        inputs: inputs.to_string(),
        report: report.clone(),
    };
    let value = serde_json::to_value(&entry)
        .map_err(|e| store.io(format!("encode journal entry of shard {}", report.shard), e))?;
    store.write_json(&journal_key(report.shard), &value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::granule::MemorySource;

    fn sources(names: &[&str]) -> Vec<Arc<dyn ByteSource>> {
        names
            .iter()
            .map(|n| Arc::new(MemorySource::new(*n, Vec::new())) as Arc<dyn ByteSource>)
            .collect()
    }

    #[test]
    fn digests_change_with_every_input() {
        let config = PipelineConfig::builtin_default().expect("config");
        let inputs = Inputs::new(&config);
        let a = inputs.digest(7, &sources(&["g1", "g2"]));
        assert_eq!(a, inputs.digest(7, &sources(&["g1", "g2"])));
        assert_ne!(a, inputs.digest(8, &sources(&["g1", "g2"])));
        assert_ne!(a, inputs.digest(7, &sources(&["g2", "g1"])));
        assert_ne!(a, inputs.digest(7, &sources(&["g1g2"])));
        assert_ne!(a, inputs.digest(7, &sources(&["g1"])));
        let mut other = config.clone();
        other.grid.pyramid.clear();
        assert_ne!(a, Inputs::new(&other).digest(7, &sources(&["g1", "g2"])));
    }
}
