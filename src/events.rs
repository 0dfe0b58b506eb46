//! Inputs and results of the Step Functions execution and of its four Lambdas (SPEC §7).
//!
//! Every type derives `serde` and `schemars`; their JSON Schemas are committed under
//! `config/schema/events/<name>.schema.json` ([`schemas`]) and a test keeps them current
//! (`ZAGG_UPDATE_SCHEMAS=1 cargo test committed_event_schemas_are_current` rewrites them).
//!
//! The flow:
//!
//! 1. the execution starts with an [`ExecutionInput`] — declarative: a cycle and an AOI, never
//!    file paths;
//! 2. the catalog Lambda gets a [`CatalogEvent`], writes `catalog.json` and
//!    `catalog.meta.json` and returns a [`CatalogResult`] whose `catalog` location the
//!    Distributed Map's `ItemReader` reads;
//! 3. the template Lambda gets a [`TemplateEvent`] and returns a [`TemplateResult`];
//! 4. each Map iteration gets a [`ProcessEvent`]: one catalog item (`shard`, `morton`,
//!    `parent_order`, `granules`) plus the run context the ASL adds with `ItemSelector`
//!    (`store`, `config`, `access`), and returns a [`ProcessResult`] (per-shard metrics);
//! 5. the consolidate Lambda gets a [`ConsolidateEvent`] (the Map's `ResultWriter` manifest
//!    or the results themselves) and returns a [`ConsolidateResult`].
//!
//! No event or result holds a credential: the process Lambda gets its Earthdata Login from a
//! secret it is granted (see the `lambdas/` README), so nothing secret appears in the
//! execution history.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, CatalogGranule, CatalogItem};
use crate::cycle::CycleSpec;
use crate::shard::{Counts, GranuleFailure, ShardStatus};

/// The default AOI: the Antarctic drainage basins.
pub const DEFAULT_AOI: &str = crate::aoi::BASINS;

/// Most granule failures a [`ProcessResult`] lists (the count is always complete); keeps a
/// Map result far below the 256 KiB state payload limit.
pub const MAX_LISTED_FAILURES: usize = 10;

/// Default Distributed Map concurrency (the ASL's `Defaults` state holds the same value).
pub const DEFAULT_MAX_CONCURRENCY: u32 = 500;

/// Default tolerated failed shards, percent (the ASL's `Defaults` state holds the same value).
pub const DEFAULT_TOLERATED_FAILURE_PERCENTAGE: f64 = 5.0;

fn default_aoi() -> String {
    DEFAULT_AOI.to_string()
}

fn default_config() -> String {
    crate::config::DEFAULT_CONFIG.to_string()
}

/// The only named cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CycleName {
    /// The last cycle whose fitted end has passed.
    LatestComplete,
}

/// A cycle as the execution input gives it: a number (1–99) or `"latest-complete"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CycleInput {
    /// This cycle.
    Number(#[schemars(range(min = 1, max = 99))] u32),
    /// A named cycle.
    Named(CycleName),
}

impl CycleInput {
    /// As a [`CycleSpec`] (the range of a number is checked when it is resolved).
    #[must_use]
    pub fn spec(self) -> CycleSpec {
        match self {
            Self::Number(n) => CycleSpec::Number(n),
            Self::Named(CycleName::LatestComplete) => CycleSpec::LatestComplete,
        }
    }
}

/// Which URL of a catalog granule the process Lambda reads (`s3` in us-west-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessInput {
    /// The `s3://` URL.
    #[default]
    S3,
    /// The `https://` URL.
    Https,
}

impl From<AccessInput> for Access {
    fn from(a: AccessInput) -> Self {
        match a {
            AccessInput::S3 => Access::S3,
            AccessInput::Https => Access::Https,
        }
    }
}

/// Input of one execution of the state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionInput {
    /// The cycle: a number or `"latest-complete"`.
    pub cycle: CycleInput,
    /// AOI: `basins` (default), or a GeoJSON `https://` URL.
    #[serde(default = "default_aoi")]
    pub aoi: String,
    /// Pipeline config: a built-in name (`atl06`, default) or an `s3://` YAML location.
    #[serde(default = "default_config")]
    pub config: String,
    /// Output store: `s3://bucket/prefix` (or a local directory in tests).
    pub store: String,
    /// ATL06 version (CMR collection version); default `007`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_version: Option<String>,
    /// Where `catalog.json` and `catalog.meta.json` go; default: the store itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_prefix: Option<String>,
    /// Which granule URL is read.
    #[serde(default)]
    pub access: AccessInput,
    /// Distributed Map concurrency cap (shards processed at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_concurrency: Option<u32>,
    /// Failed shards tolerated by the Map, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub tolerated_failure_percentage: Option<f64>,
}

/// What `{cycle}` in an execution input's `store` (and `catalog_prefix`) stands for: the
/// resolved cycle, two digits (`s3://bucket/atl06/c{cycle}.zarr` → `…/c22.zarr`), so that a
/// schedule asking for `latest-complete` writes each cycle to its own store.
pub const CYCLE_PLACEHOLDER: &str = "{cycle}";

impl ExecutionInput {
    /// This input for cycle `cycle`: the cycle as a number, `{cycle}` replaced in the store
    /// and the catalog prefix.
    #[must_use]
    pub fn for_cycle(&self, cycle: u32) -> Self {
        let fill = |s: &str| s.replace(CYCLE_PLACEHOLDER, &format!("{cycle:02}"));
        Self {
            cycle: CycleInput::Number(cycle),
            store: fill(&self.store),
            catalog_prefix: self.catalog_prefix.as_deref().map(fill),
            ..self.clone()
        }
    }
}

/// Input of the catalog Lambda's first step: the execution input to resolve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveEvent {
    /// The execution input (with the state machine's defaults merged in).
    pub resolve: ExecutionInput,
}

/// Result of the resolve step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveResult {
    /// The input with its cycle resolved to a number and `{cycle}` filled in: what the rest of
    /// the execution runs on.
    pub input: ExecutionInput,
    /// The store already holds a successful run of this cycle (its `run.json` says so): the
    /// execution ends here, successfully.
    pub complete: bool,
    /// That run's report, when `complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

/// Input of the catalog Lambda: the whole execution input (with the ASL's defaults merged
/// in), so that the catalog step validates every field before any shard runs.
pub type CatalogEvent = ExecutionInput;

/// An object written by a Lambda: its URL and, for S3, what an `ItemReader` needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectLocation {
    /// `s3://bucket/path` or a local path.
    pub url: String,
    /// The S3 bucket, when in S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The object's path in the bucket (the S3 object key), when in S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Result of the catalog Lambda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogResult {
    /// The cycle number (`latest-complete` resolved).
    pub cycle: u32,
    /// `catalog.json`: the JSON array of shard items the Map reads.
    pub catalog: ObjectLocation,
    /// `catalog.meta.json`.
    pub meta: ObjectLocation,
    /// Shards with at least one granule (items of `catalog.json`).
    pub shards: u64,
    /// Usable granules CMR returned.
    pub granules: u64,
    /// Shard–granule pairs.
    pub pairs: u64,
    /// Granules skipped (no URL, no usable footprint).
    pub skipped: u64,
}

/// Input of the template Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateEvent {
    /// The output store.
    pub store: String,
    /// Pipeline config.
    #[serde(default = "default_config")]
    pub config: String,
}

/// Result of the template Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateResult {
    /// The store.
    pub store: String,
    /// Leaf (cell) order.
    pub leaf_order: u8,
    /// Shard order.
    pub parent_order: u8,
    /// The statistics arrays, in config order.
    pub variables: Vec<String>,
}

/// Input of the process Lambda: one `catalog.json` item and the run context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessEvent {
    /// Nested id of the shard at `parent_order`.
    pub shard: u64,
    /// Its morton id (checked against `shard`).
    pub morton: i64,
    /// Order of the shard (must be the config's parent order).
    #[schemars(range(max = 18))]
    pub parent_order: u8,
    /// The granules that can touch the shard.
    #[schemars(length(min = 1))]
    pub granules: Vec<CatalogGranule>,
    /// The output store (its template must exist).
    pub store: String,
    /// Pipeline config (must be the one the store was made with).
    #[serde(default = "default_config")]
    pub config: String,
    /// Which granule URL to read.
    #[serde(default)]
    pub access: AccessInput,
    /// The execution's name (`$$.Execution.Name`): when given, the shard's outcome is also
    /// recorded in the store as a [`ShardRecord`] at [`shard_record_key`], which the
    /// consolidate step reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 80), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub run: Option<String>,
}

impl ProcessEvent {
    /// The catalog item part of the event.
    #[must_use]
    pub fn item(&self) -> CatalogItem {
        CatalogItem {
            shard: self.shard,
            morton: self.morton,
            parent_order: self.parent_order,
            granules: self.granules.clone(),
        }
    }
}

/// Result of the process Lambda: the shard's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessResult {
    /// Nested id of the shard.
    pub shard: u64,
    /// Morton id of the shard.
    pub morton: i64,
    /// `ok` (written), `empty` (no valid observation, nothing written).
    pub status: ShardStatus,
    /// Observations aggregated.
    pub observations: u64,
    /// Leaf cells with observations.
    pub cells: u64,
    /// Granules given.
    pub granules: u64,
    /// Granules read.
    pub granules_read: u64,
    /// Granules that could not be opened or read.
    pub granules_failed: u64,
    /// The first failures (at most [`MAX_LISTED_FAILURES`]).
    pub failures: Vec<GranuleFailure>,
    /// Read requests.
    pub requests: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Wall time of the shard, seconds.
    pub seconds: f64,
    /// Chunk objects written (0 for an empty shard).
    #[serde(default)]
    pub chunks_written: u64,
    /// Memory of the Lambda that ran it, MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`), for the cost
    /// estimate; absent outside Lambda.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// Row and beam counts.
    pub counts: Counts,
}

/// Where the process step records a shard's outcome for run `run`.
#[must_use]
pub fn shard_record_key(run: &str, shard: u64) -> String {
    format!("runs/{run}/shards/{shard}.json")
}

/// One failed attempt at a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptError {
    /// The `errorType` (e.g. `Zagg.Transient`).
    pub error: String,
    /// The message.
    pub cause: String,
}

/// The outcome of one shard in one run, as the process step records it in the store
/// ([`shard_record_key`]); rewritten by every attempt, so the last one wins and earlier
/// failures stay listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShardRecord {
    /// The run (execution name).
    pub run: String,
    /// Nested id of the shard.
    pub shard: u64,
    /// Attempts that reached the process step (retries by the state machine included).
    pub attempts: u32,
    /// The result, when the last attempt succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ProcessResult>,
    /// The error, when the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AttemptError>,
    /// Errors of the earlier attempts (at most [`MAX_LISTED_FAILURES`]).
    #[serde(default)]
    pub earlier_errors: Vec<AttemptError>,
}

/// The error a Map state ended with (`Catch` result), as Step Functions gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MapError {
    /// The error name (e.g. `States.ExceedToleratedFailureThreshold`).
    #[serde(rename = "Error", default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cause.
    #[serde(rename = "Cause", default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// Input of the consolidate Lambda: the store, the run, and where the shards' outcomes are.
///
/// The outcome of each shard of `catalog` is taken from, in order: its [`ShardRecord`] in
/// the store (when `run` is given), the Map's `ResultWriter` files (`result_manifest`), and
/// `results` given inline. A shard with none of these is counted as failed ("no result").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsolidateEvent {
    /// The output store.
    pub store: String,
    /// Pipeline config.
    #[serde(default = "default_config")]
    pub config: String,
    /// The execution's name: the shard records to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// `catalog.json` of the run: the shards expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// The cycle number, for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<u32>,
    /// Failed shards tolerated, percent (default 0): decides `within_tolerance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub tolerated_failure_percentage: Option<f64>,
    /// `s3://bucket/…/manifest.json` written by the Map's `ResultWriter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_manifest: Option<String>,
    /// The error the Map ended with, when it failed (the run then fails too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_error: Option<MapError>,
    /// Results given inline (e.g. a Map without `ResultWriter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<ProcessResult>>,
}

/// A shard that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedShard {
    /// The shard, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u64>,
    /// The `errorType` (e.g. `Zagg.Transient`), or `Zagg.NoResult` when no attempt left a
    /// result (a Lambda timeout or crash, throttling that outlasted the retries, or a Map
    /// that stopped first).
    pub error: String,
    /// The error message.
    pub cause: String,
    /// Attempts recorded.
    #[serde(default)]
    pub attempts: u32,
}

/// A shard that succeeded after failed attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetriedShard {
    /// The shard.
    pub shard: u64,
    /// Attempts recorded.
    pub attempts: u32,
    /// The errors of the failed attempts.
    pub errors: Vec<AttemptError>,
}

/// Result of the consolidate Lambda (the run's summary, which is also the execution's
/// output); `run.json` in the store holds the same fields plus every shard's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsolidateResult {
    /// zagg version.
    pub version: String,
    /// The store.
    pub store: String,
    /// `run.json` in the store.
    pub report: String,
    /// The run (execution name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<u32>,
    /// Shards expected (catalog items), or seen when there is no catalog.
    pub shards: u64,
    /// Shards written.
    pub shards_ok: u64,
    /// Shards without observations.
    pub shards_empty: u64,
    /// Shards that failed or left no result.
    pub shards_failed: u64,
    /// Shards that succeeded after failed attempts.
    pub shards_retried: u64,
    /// Failed shards with reasons (all in `run.json`; the first
    /// [`MAX_LISTED_FAILURES`] in the execution output).
    pub failed: Vec<FailedShard>,
    /// Retried shards (as `failed`).
    pub retried: Vec<RetriedShard>,
    /// `shards_failed` as a percentage of `shards`.
    pub failed_percentage: f64,
    /// The tolerance the run was held to, percent.
    pub tolerated_failure_percentage: f64,
    /// Whether the run succeeded: no Map error and `failed_percentage` within the tolerance.
    pub within_tolerance: bool,
    /// The error the Map ended with, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_error: Option<MapError>,
    /// Observations aggregated.
    pub observations: u64,
    /// Leaf cells with observations.
    pub cells: u64,
    /// Granule reads that failed, summed over shards.
    pub granules_failed: u64,
    /// Read requests.
    pub requests: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Chunk objects written.
    pub chunks_written: u64,
    /// Summed shard wall time (Lambda seconds of the process step), seconds.
    pub shard_seconds: f64,
    /// Estimated AWS cost of the run.
    pub cost: crate::cost::CostEstimate,
}

/// The JSON Schema of every event type, by file stem (`config/schema/events/<stem>.schema.json`).
#[must_use]
pub fn schemas() -> Vec<(&'static str, String)> {
    fn pretty(schema: &schemars::Schema) -> String {
        let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
        text.push('\n');
        text
    }
    vec![
        (
            "execution_input",
            pretty(&schemars::schema_for!(ExecutionInput)),
        ),
        (
            "resolve_event",
            pretty(&schemars::schema_for!(ResolveEvent)),
        ),
        (
            "resolve_result",
            pretty(&schemars::schema_for!(ResolveResult)),
        ),
        (
            "catalog_event",
            pretty(&schemars::schema_for!(CatalogEvent)),
        ),
        (
            "catalog_result",
            pretty(&schemars::schema_for!(CatalogResult)),
        ),
        (
            "template_event",
            pretty(&schemars::schema_for!(TemplateEvent)),
        ),
        (
            "template_result",
            pretty(&schemars::schema_for!(TemplateResult)),
        ),
        (
            "process_event",
            pretty(&schemars::schema_for!(ProcessEvent)),
        ),
        (
            "process_result",
            pretty(&schemars::schema_for!(ProcessResult)),
        ),
        (
            "consolidate_event",
            pretty(&schemars::schema_for!(ConsolidateEvent)),
        ),
        (
            "consolidate_result",
            pretty(&schemars::schema_for!(ConsolidateResult)),
        ),
        ("shard_record", pretty(&schemars::schema_for!(ShardRecord))),
    ]
}

#[cfg(test)]
pub(crate) mod tests;
