//! The consolidate stage: consolidated metadata, and the run report `run.json`.
//!
//! Every shard of the run's `catalog.json` gets one outcome, taken from (in this order) its
//! [`ShardRecord`] in the store, the Map's `ResultWriter` files and results given inline; a
//! shard with none of these failed without leaving a result (`Zagg.NoResult`: a Lambda
//! timeout or crash, throttling that outlasted the retries, or a Map that stopped first).

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde_json::Value;

use super::stages::{encode, load_config, object_location, read_object};
use super::{Services, StageError};
use crate::catalog::CatalogItem;
use crate::cost::{CostEstimate, Usage, US_WEST_2};
use crate::events::{
    shard_record_key, AttemptError, ConsolidateEvent, ConsolidateResult, FailedShard,
    ProcessResult, RetriedShard, ShardRecord, MAX_LISTED_FAILURES,
};
use crate::run::RUN_REPORT_KEY;
use crate::shard::ShardStatus;
use crate::source::Cloud;
use crate::store::Store;

/// The `errorType` of a shard that left no result.
pub const NO_RESULT: &str = "Zagg.NoResult";

/// What is known of one shard.
#[derive(Debug, Clone)]
enum Outcome {
    Done {
        result: Box<ProcessResult>,
        attempts: u32,
        earlier: Vec<AttemptError>,
    },
    Failed {
        error: AttemptError,
        attempts: u32,
    },
}

/// A failed Map item from the `ResultWriter` files: its shard (when its input says) and error.
type ItemFailure = (Option<u64>, AttemptError);

/// The results and failures a Map's `ResultWriter` manifest points to. Result files that do
/// not exist are skipped (a local emulator writes only the manifest).
fn manifest_outcomes(
    cloud: &Cloud,
    manifest: &str,
) -> Result<(Vec<ProcessResult>, Vec<ItemFailure>), StageError> {
    let bad = |m: String| StageError::bad_input(format!("result manifest {manifest}: {m}"));
    let m: Value = serde_json::from_slice(&read_object(cloud, manifest)?)
        .map_err(|e| bad(format!("not JSON: {e}")))?;
    let bucket = m
        .get("DestinationBucket")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no DestinationBucket".into()))?;
    let files = |status: &str| -> Vec<String> {
        m.pointer(&format!("/ResultFiles/{status}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.get("Key").and_then(Value::as_str))
                    .map(|k| {
                        // In S3 the keys are in the bucket; in local tests the "bucket" is a
                        // directory.
                        if manifest.starts_with("s3://") {
                            format!("s3://{bucket}/{k}")
                        } else {
                            format!("{}/{k}", bucket.trim_end_matches('/'))
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let entries = |location: &str| -> Result<Vec<Value>, StageError> {
        let bytes = match read_object(cloud, location) {
            Ok(b) => b,
            Err(e) if e.kind == super::ErrorKind::BadInput => {
                tracing::warn!(file = location, error = %e, "a result file is missing");
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("{location}: not a JSON array: {e}")))
    };
    let mut results = Vec::new();
    for file in files("SUCCEEDED") {
        for entry in entries(&file)? {
            let output = entry.get("Output").and_then(Value::as_str).unwrap_or("");
            let r: ProcessResult = serde_json::from_str(output)
                .map_err(|e| bad(format!("{file}: an Output is not a process result: {e}")))?;
            results.push(r);
        }
    }
    let mut failed = Vec::new();
    for file in files("FAILED") {
        for entry in entries(&file)? {
            let text = |k: &str| {
                entry
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let shard = serde_json::from_str::<Value>(&text("Input"))
                .ok()
                .and_then(|i| i.get("shard").and_then(Value::as_u64));
            failed.push((
                shard,
                AttemptError {
                    error: text("Error"),
                    cause: text("Cause"),
                },
            ));
        }
    }
    Ok((results, failed))
}

/// The shards of `catalog.json`.
fn catalog_shards(cloud: &Cloud, location: &str) -> Result<Vec<u64>, StageError> {
    let items: Vec<CatalogItem> = serde_json::from_slice(&read_object(cloud, location)?)
        .map_err(|e| StageError::bad_input(format!("catalog {location}: {e}")))?;
    Ok(items.iter().map(|i| i.shard).collect())
}

/// The records of `shards` in run `run`, by shard (absent ones are left out). A record that
/// is not a valid shard record is that shard's failure, not the run's: consolidate still
/// writes run.json.
///
/// # Errors
/// `Zagg.Transient` when a record cannot be read.
fn shard_records(
    store: &Store,
    run: &str,
    shards: &[u64],
) -> Result<Vec<(u64, Outcome)>, StageError> {
    let read: Vec<Result<Option<(u64, Outcome)>, StageError>> = shards
        .par_iter()
        .map(|&shard| {
            let key = shard_record_key(run, shard);
            let Some(bytes) = store.read_bytes(&key)? else {
                return Ok(None);
            };
            let record = match serde_json::from_slice::<ShardRecord>(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    let error = AttemptError {
                        error: "Zagg.Internal".into(),
                        cause: format!("shard record {key} is unreadable: {e}"),
                    };
                    return Ok(Some((shard, Outcome::Failed { error, attempts: 0 })));
                }
            };
            Ok(match (record.result, record.error) {
                (Some(result), _) => Some((
                    shard,
                    Outcome::Done {
                        result: Box::new(result),
                        attempts: record.attempts,
                        earlier: record.earlier_errors,
                    },
                )),
                (None, Some(error)) => Some((
                    shard,
                    Outcome::Failed {
                        error,
                        attempts: record.attempts,
                    },
                )),
                (None, None) => None,
            })
        })
        .collect();
    read.into_iter().filter_map(Result::transpose).collect()
}

/// The consolidate stage: consolidated metadata, and the run report `run.json` (every
/// shard's outcome, failures with reasons, totals, estimated cost, and the verdict against
/// the tolerated failure percentage). The result is the summary, with the lists cut to
/// [`MAX_LISTED_FAILURES`] to stay far below the Step Functions payload limit.
///
/// # Errors
/// `Zagg.BadInput` for a store without this config's template or an unreadable catalog or
/// manifest; `Zagg.Transient` when the store cannot be read or written. A corrupt shard
/// record counts as that shard's failure.
pub fn consolidate(
    services: &Services,
    event: &ConsolidateEvent,
) -> Result<ConsolidateResult, StageError> {
    let cloud = services.cloud()?;
    let config = load_config(&cloud, &event.config)?;
    let store = Store::open(&event.store, Some(&cloud))?;
    store.consolidate(&config)?;

    let mut outcomes: BTreeMap<u64, Outcome> = BTreeMap::new();
    let mut unknown_failures: Vec<AttemptError> = Vec::new();
    let expected: Option<Vec<u64>> = match &event.catalog {
        Some(c) => Some(catalog_shards(&cloud, c)?),
        None => None,
    };
    if let (Some(run), Some(shards)) = (&event.run, &expected) {
        outcomes.extend(shard_records(&store, run, shards)?);
    }
    if let Some(m) = &event.result_manifest {
        let (results, failed) = manifest_outcomes(&cloud, m)?;
        for result in results {
            outcomes.entry(result.shard).or_insert(Outcome::Done {
                result: Box::new(result),
                attempts: 1,
                earlier: Vec::new(),
            });
        }
        for (shard, error) in failed {
            match shard {
                Some(s) => {
                    outcomes
                        .entry(s)
                        .or_insert(Outcome::Failed { error, attempts: 1 });
                }
                None => unknown_failures.push(error),
            }
        }
    }
    for result in event.results.iter().flatten() {
        outcomes.entry(result.shard).or_insert(Outcome::Done {
            result: Box::new(result.clone()),
            attempts: 1,
            earlier: Vec::new(),
        });
    }
    let shards: BTreeSet<u64> = match &expected {
        Some(e) => e.iter().copied().collect(),
        None => outcomes.keys().copied().collect(),
    };
    for &s in &shards {
        outcomes.entry(s).or_insert(Outcome::Failed {
            error: AttemptError {
                error: NO_RESULT.into(),
                cause: "no attempt left a result: a Lambda timeout or crash, throttling that \
                        outlasted the retries, or a Map that stopped before this shard"
                    .into(),
            },
            attempts: 0,
        });
    }

    let mut results: Vec<ProcessResult> = Vec::new();
    let mut failed: Vec<FailedShard> = Vec::new();
    let mut retried: Vec<RetriedShard> = Vec::new();
    let mut usage = Usage::default();
    for (&shard, outcome) in outcomes.iter().filter(|(s, _)| shards.contains(s)) {
        match outcome {
            Outcome::Done {
                result,
                attempts,
                earlier,
            } => {
                if *attempts > 1 || !earlier.is_empty() {
                    retried.push(RetriedShard {
                        shard,
                        attempts: *attempts,
                        errors: earlier.clone(),
                    });
                }
                usage.add_shard(result.seconds, result.memory_mb);
                usage.attempts += u64::from((*attempts).max(1));
                usage.get_requests += result.requests;
                usage.chunks_written += result.chunks_written;
                results.push(ProcessResult::clone(result));
            }
            Outcome::Failed { error, attempts } => {
                usage.attempts += u64::from(*attempts);
                failed.push(FailedShard {
                    shard: Some(shard),
                    error: error.error.clone(),
                    cause: error.cause.clone(),
                    attempts: *attempts,
                });
            }
        }
    }
    failed.extend(unknown_failures.into_iter().map(|e| FailedShard {
        shard: None,
        error: e.error,
        cause: e.cause,
        attempts: 1,
    }));
    usage.items = shards.len() as u64;

    let total = shards.len() as u64 + failed.iter().filter(|f| f.shard.is_none()).count() as u64;
    let shards_failed = failed.len() as u64;
    let failed_percentage = if total == 0 {
        0.0
    } else {
        100.0 * shards_failed as f64 / total as f64
    };
    let tolerated = event.tolerated_failure_percentage.unwrap_or(0.0);
    let count = |s: ShardStatus| results.iter().filter(|r| r.status == s).count() as u64;
    let sum = |f: fn(&ProcessResult) -> u64| results.iter().map(f).sum::<u64>();
    let mut result = ConsolidateResult {
        version: env!("CARGO_PKG_VERSION").to_string(),
        store: event.store.clone(),
        report: object_location(&event.store, RUN_REPORT_KEY).url,
        run: event.run.clone(),
        cycle: event.cycle,
        shards: total,
        shards_ok: count(ShardStatus::Ok),
        shards_empty: count(ShardStatus::Empty),
        shards_failed,
        shards_retried: retried.len() as u64,
        failed,
        retried,
        failed_percentage,
        tolerated_failure_percentage: tolerated,
        within_tolerance: event.map_error.is_none() && failed_percentage <= tolerated,
        map_error: event.map_error.clone(),
        observations: sum(|r| r.observations),
        cells: sum(|r| r.cells),
        granules_failed: sum(|r| r.granules_failed),
        requests: sum(|r| r.requests),
        bytes: sum(|r| r.bytes),
        chunks_written: sum(|r| r.chunks_written),
        shard_seconds: results.iter().map(|r| r.seconds).sum(),
        cost: CostEstimate::new(&usage, US_WEST_2),
    };
    let mut report = encode("run report", &result)?;
    if let Value::Object(fields) = &mut report {
        fields.insert("results".into(), encode("results", &results)?);
    }
    store.write_json(RUN_REPORT_KEY, &report)?;
    // In Lambda, the run's numbers become CloudWatch metrics (for alarms and the dashboard)
    // through an embedded-metric-format line on stdout.
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!(
            "{}",
            metrics_line(&result, chrono::Utc::now().timestamp_millis())
        );
    }
    result.failed.truncate(MAX_LISTED_FAILURES);
    result.retried.truncate(MAX_LISTED_FAILURES);
    Ok(result)
}

/// CloudWatch namespace of the run metrics.
pub const METRICS_NAMESPACE: &str = "Zagg";

/// The run's metrics as one CloudWatch embedded-metric-format line (namespace
/// [`METRICS_NAMESPACE`], no dimensions): `ShardsTotal`, `ShardsFailed`, `ShardsRetried`,
/// `FailedShardPercentage`, `Observations`, `EstimatedCostUSD`, and the run, cycle and store
/// as properties.
#[must_use]
pub fn metrics_line(r: &ConsolidateResult, timestamp_ms: i64) -> String {
    let metric = |name: &str, unit: &str| serde_json::json!({"Name": name, "Unit": unit});
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [
                    metric("ShardsTotal", "Count"),
                    metric("ShardsFailed", "Count"),
                    metric("ShardsRetried", "Count"),
                    metric("FailedShardPercentage", "Percent"),
                    metric("Observations", "Count"),
                    metric("EstimatedCostUSD", "None"),
                ],
            }],
        },
        "ShardsTotal": r.shards,
        "ShardsFailed": r.shards_failed,
        "ShardsRetried": r.shards_retried,
        "FailedShardPercentage": r.failed_percentage,
        "Observations": r.observations,
        "EstimatedCostUSD": r.cost.total_usd,
        "run": r.run,
        "cycle": r.cycle,
        "store": r.store,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_an_embedded_metric_format_line() {
        let example = crate::events::tests::examples()
            .into_iter()
            .find(|(n, _)| *n == "consolidate_result")
            .map(|(_, v)| v)
            .expect("example");
        let r: ConsolidateResult = serde_json::from_value(example).expect("result");
        let line = metrics_line(&r, 1_764_000_000_000);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).expect("JSON");
        let spec = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], METRICS_NAMESPACE);
        for m in spec["Metrics"].as_array().expect("metrics") {
            let name = m["Name"].as_str().expect("name");
            assert!(v[name].is_number(), "{name} has no value");
        }
        assert_eq!(v["ShardsFailed"], 2);
        assert_eq!(v["_aws"]["Timestamp"], 1_764_000_000_000_i64);
    }
}
