//! The stage functions behind the four Lambdas.

use std::sync::Arc;
use std::time::Instant;

use object_store::ObjectStoreExt;
use serde_json::Value;

use super::{Services, StageError};
use crate::aoi::Aoi;
use crate::catalog::{make_catalog, Access, CatalogOptions, CATALOG_FILE, META_FILE};
use crate::cmr::CmrClient;
use crate::config::PipelineConfig;
use crate::events::{
    CatalogEvent, CatalogResult, ConsolidateEvent, ConsolidateResult, FailedShard, ObjectLocation,
    ProcessEvent, ProcessResult, TemplateEvent, TemplateResult, MAX_LISTED_FAILURES,
};
use crate::granule::ByteSource;
use crate::run::RUN_REPORT_KEY;
use crate::shard::{process_shard, GranuleFailure, ShardContext, ShardStatus};
use crate::source::{Cloud, Location};
use crate::store::Store;

/// The bytes of an object: `s3://bucket/key` through the cloud clients, or a local file.
///
/// # Errors
/// `Zagg.BadInput` for a location that is not `s3://` or local, or a missing object;
/// `Zagg.Transient` when the read fails.
pub fn read_object(cloud: &Cloud, location: &str) -> Result<Vec<u8>, StageError> {
    let fail = |kind, m: String| StageError::new(kind, format!("{location}: {m}"));
    match Location::parse(location)? {
        None => std::fs::read(location.strip_prefix("file://").unwrap_or(location))
            .map_err(|e| fail(super::ErrorKind::BadInput, e.to_string())),
        Some(parsed @ Location::S3 { .. }) => {
            let client = cloud.client(&parsed)?;
            let Location::S3 { key, .. } = parsed else {
                return Err(fail(super::ErrorKind::Internal, "not s3".into()));
            };
            let path = object_store::path::Path::from(key.as_str());
            cloud
                .block_on(async {
                    let got = client.get(&path).await?;
                    got.bytes().await
                })
                .map(|b| b.to_vec())
                .map_err(|e| match e {
                    object_store::Error::NotFound { .. } => {
                        fail(super::ErrorKind::BadInput, "no such object".into())
                    }
                    e => fail(super::ErrorKind::Transient, e.to_string()),
                })
        }
        Some(Location::Http { .. }) => Err(fail(
            super::ErrorKind::BadInput,
            "only s3:// and local locations are supported here".into(),
        )),
    }
}

/// A pipeline config: a built-in name, a local YAML file or an `s3://` YAML object.
///
/// # Errors
/// `Zagg.BadInput` for a missing or invalid config; `Zagg.Transient` when it cannot be read.
pub fn load_config(cloud: &Cloud, location: &str) -> Result<Arc<PipelineConfig>, StageError> {
    if location.starts_with("s3://") {
        let bytes = read_object(cloud, location)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| StageError::bad_input(format!("config {location}: not UTF-8")))?;
        return Ok(Arc::new(PipelineConfig::from_yaml(&text, location)?));
    }
    Ok(Arc::new(PipelineConfig::load(location)?))
}

/// Where an object under `prefix` is, for an `ItemReader`.
fn object_location(prefix: &str, name: &str) -> ObjectLocation {
    let url = format!("{}/{name}", prefix.trim_end_matches('/'));
    match Location::parse(&url) {
        Ok(Some(Location::S3 { bucket, key })) => ObjectLocation {
            url,
            bucket: Some(bucket),
            path: Some(key),
        },
        _ => ObjectLocation {
            url,
            bucket: None,
            path: None,
        },
    }
}

fn encode(what: &str, v: &impl serde::Serialize) -> Result<Value, StageError> {
    serde_json::to_value(v).map_err(|e| StageError::internal(format!("encode {what}: {e}")))
}

/// The catalog stage: query CMR for the cycle, intersect with the AOI's shards, write
/// `catalog.json` and `catalog.meta.json` under `catalog_prefix` (default: the store).
///
/// # Errors
/// [`StageError`]: a bad cycle, AOI or config is `Zagg.BadInput`; CMR or write failures
/// are `Zagg.Transient`.
pub fn catalog(services: &Services, event: &CatalogEvent) -> Result<CatalogResult, StageError> {
    let cloud = services.cloud()?;
    let config = load_config(&cloud, &event.config)?;
    let aoi = Aoi::load(&event.aoi, config.grid.parent_order, config.grid.ellipsoid)?;
    let client = CmrClient::new(&services.cmr_url, services.cmr_retry)?;
    let mut options = CatalogOptions::new(event.cycle.spec());
    if let Some(v) = &event.product_version {
        options.version.clone_from(v);
    }
    let (catalog, meta) = make_catalog(
        &client,
        &options,
        &aoi,
        config.grid.ellipsoid,
        chrono::Utc::now(),
    )?;
    let prefix = event.catalog_prefix.as_deref().unwrap_or(&event.store);
    let dest = Store::open(prefix, Some(&cloud))?;
    dest.write_json(CATALOG_FILE, &encode("catalog", &catalog)?)?;
    dest.write_json(META_FILE, &encode("catalog meta", &meta)?)?;
    Ok(CatalogResult {
        cycle: meta.cycle.number,
        catalog: object_location(prefix, CATALOG_FILE),
        meta: object_location(prefix, META_FILE),
        shards: meta.counts.shards,
        granules: meta.counts.granules,
        pairs: meta.counts.pairs,
        skipped: meta.counts.skipped,
    })
}

/// The template stage: create the store's group and arrays (idempotent) and consolidate
/// their metadata.
///
/// # Errors
/// `Zagg.BadInput` for a bad config or a store made with another config;
/// `Zagg.Transient` when the store cannot be written.
pub fn template(services: &Services, event: &TemplateEvent) -> Result<TemplateResult, StageError> {
    let cloud = services.cloud()?;
    let config = load_config(&cloud, &event.config)?;
    let store = Store::open(&event.store, Some(&cloud))?;
    store.create_template(&config)?;
    store.consolidate(&config)?;
    Ok(TemplateResult {
        store: event.store.clone(),
        leaf_order: config.grid.leaf_order,
        parent_order: config.grid.parent_order,
        variables: config.aggregation.variables.keys().cloned().collect(),
    })
}

/// The process stage: read the shard's granules, aggregate, write one chunk per array.
/// Granules that cannot be opened or read are counted and listed; the shard still succeeds.
///
/// # Errors
/// `Zagg.BadInput` when the shard, morton id or order do not match the config, or the store
/// has no template of this config; `Zagg.GranulesUnreadable` when no granule could be read;
/// `Zagg.Transient` when the chunks cannot be written.
pub fn process(services: &Services, event: &ProcessEvent) -> Result<ProcessResult, StageError> {
    let started = Instant::now();
    let cloud = services.cloud()?;
    let config = load_config(&cloud, &event.config)?;
    let order = config.grid.parent_order;
    if event.parent_order != order {
        return Err(StageError::bad_input(format!(
            "shard {} is at order {}, the config's shards are at order {order}",
            event.shard, event.parent_order
        )));
    }
    if crate::grid::nested_to_morton(event.shard, order).ok() != Some(event.morton) {
        return Err(StageError::bad_input(format!(
            "shard {} at order {order}: morton id {} does not match it",
            event.shard, event.morton
        )));
    }
    let store = Store::open(&event.store, Some(&cloud))?;
    store.check_template(&config)?;

    let access = Access::from(event.access);
    let mut failures: Vec<GranuleFailure> = Vec::new();
    let mut sources: Vec<Arc<dyn ByteSource>> = Vec::new();
    for g in &event.granules {
        let opened = match g.location(access) {
            None => Err(format!("{}: the catalog has no {access} URL for it", g.id)),
            Some(loc) => cloud.open(loc).map_err(|e| e.to_string()),
        };
        match opened {
            Ok(s) => sources.push(s),
            Err(error) => failures.push(GranuleFailure {
                granule: g.id.clone(),
                error,
            }),
        }
    }
    if sources.is_empty() {
        return Err(StageError::new(
            super::ErrorKind::GranulesUnreadable,
            format!(
                "shard {}: none of its {} granules could be opened; first: {}",
                event.shard,
                event.granules.len(),
                failures.first().map_or("", |f| f.error.as_str())
            ),
        ));
    }
    let ctx = ShardContext::new(config)?;
    let report = process_shard(&ctx, event.shard, &sources, &store)?;
    failures.extend(report.granules_failed.iter().cloned());
    if report.status == ShardStatus::Failed {
        return Err(StageError::new(
            super::ErrorKind::GranulesUnreadable,
            format!(
                "shard {}: all {} granules failed; first: {}",
                event.shard,
                event.granules.len(),
                failures.first().map_or("", |f| f.error.as_str())
            ),
        ));
    }
    let granules = event.granules.len() as u64;
    let granules_failed = failures.len() as u64;
    failures.truncate(MAX_LISTED_FAILURES);
    Ok(ProcessResult {
        shard: report.shard,
        morton: report.morton,
        status: report.status,
        observations: report.counts.observations,
        cells: report.cells,
        granules,
        granules_read: granules.saturating_sub(granules_failed),
        granules_failed,
        failures,
        requests: report.requests,
        bytes: report.bytes_read,
        seconds: started.elapsed().as_secs_f64(),
        counts: report.counts,
    })
}

/// The results and failures a Map's `ResultWriter` manifest points to.
fn manifest_results(
    cloud: &Cloud,
    manifest: &str,
) -> Result<(Vec<ProcessResult>, Vec<FailedShard>), StageError> {
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
        serde_json::from_slice(&read_object(cloud, location)?)
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
            failed.push(FailedShard {
                shard,
                error: text("Error"),
                cause: text("Cause"),
            });
        }
    }
    Ok((results, failed))
}

/// The consolidate stage: consolidated metadata, and the run report `run.json` summing the
/// Map's results (inline or from its `ResultWriter` manifest).
///
/// # Errors
/// `Zagg.BadInput` for a store without this config's template or an unreadable manifest;
/// `Zagg.Transient` when the store cannot be written.
pub fn consolidate(
    services: &Services,
    event: &ConsolidateEvent,
) -> Result<ConsolidateResult, StageError> {
    let cloud = services.cloud()?;
    let config = load_config(&cloud, &event.config)?;
    let store = Store::open(&event.store, Some(&cloud))?;
    store.consolidate(&config)?;
    let (mut results, failed) = match &event.result_manifest {
        Some(m) => manifest_results(&cloud, m)?,
        None => (Vec::new(), Vec::new()),
    };
    results.extend(event.results.iter().flatten().cloned());
    results.sort_by_key(|r| r.shard);
    let shards_failed = (failed.len() as u64).max(event.shards_failed.unwrap_or(0));
    let count = |s: ShardStatus| results.iter().filter(|r| r.status == s).count() as u64;
    let sum = |f: fn(&ProcessResult) -> u64| results.iter().map(f).sum::<u64>();
    let result = ConsolidateResult {
        version: env!("CARGO_PKG_VERSION").to_string(),
        store: event.store.clone(),
        report: object_location(&event.store, RUN_REPORT_KEY).url,
        shards: results.len() as u64 + shards_failed,
        shards_ok: count(ShardStatus::Ok),
        shards_empty: count(ShardStatus::Empty),
        shards_failed,
        failed,
        observations: sum(|r| r.observations),
        cells: sum(|r| r.cells),
        granules_failed: sum(|r| r.granules_failed),
        requests: sum(|r| r.requests),
        bytes: sum(|r| r.bytes),
        shard_seconds: results.iter().map(|r| r.seconds).sum(),
    };
    let mut report = encode("run report", &result)?;
    if let Value::Object(fields) = &mut report {
        fields.insert("results".into(), encode("results", &results)?);
    }
    store.write_json(RUN_REPORT_KEY, &report)?;
    Ok(result)
}
