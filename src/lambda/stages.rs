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
    shard_record_key, AttemptError, CatalogEvent, CatalogResult, ExecutionInput, ObjectLocation,
    ProcessEvent, ProcessResult, ResolveEvent, ResolveResult, ShardRecord, TemplateEvent,
    TemplateResult, CYCLE_PLACEHOLDER, MAX_LISTED_FAILURES,
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
pub(super) fn object_location(prefix: &str, name: &str) -> ObjectLocation {
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

pub(super) fn encode(what: &str, v: &impl serde::Serialize) -> Result<Value, StageError> {
    serde_json::to_value(v).map_err(|e| StageError::internal(format!("encode {what}: {e}")))
}

/// The catalog stage: query CMR for the cycle, intersect with the AOI's shards, write
/// `catalog.json` and `catalog.meta.json` under `catalog_prefix` (default: the store).
///
/// # Errors
/// [`StageError`]: a bad cycle, AOI or config is `Zagg.BadInput`; CMR or write failures
/// are `Zagg.Transient`.
pub fn catalog(services: &Services, event: &CatalogEvent) -> Result<CatalogResult, StageError> {
    check_input(event)?;
    if event.store.contains(CYCLE_PLACEHOLDER) {
        return Err(StageError::bad_input(format!(
            "catalog event: store {}: {CYCLE_PLACEHOLDER} is not filled in (the resolve step does that)",
            event.store
        )));
    }
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

/// The ranges serde does not check.
fn check_input(input: &ExecutionInput) -> Result<(), StageError> {
    if let Some(n) = input.max_concurrency {
        if !(1..=10_000).contains(&n) {
            return Err(StageError::bad_input(format!(
                "execution input: max_concurrency: {n} is out of range (expected 1-10000)"
            )));
        }
    }
    if let Some(p) = input.tolerated_failure_percentage {
        if !(0.0..=100.0).contains(&p) {
            return Err(StageError::bad_input(format!(
                "execution input: tolerated_failure_percentage: {p} is out of range (expected 0-100)"
            )));
        }
    }
    Ok(())
}

/// The resolve step (the catalog Lambda's first call in an execution): check the input,
/// resolve `latest-complete` to a cycle number (now), fill `{cycle}` into the store, and
/// tell whether that store already holds a successful run of the cycle, so a schedule that
/// fires again within a cycle ends early.
///
/// # Errors
/// `Zagg.BadInput` for an out-of-range field, a cycle that cannot be resolved or a bad store
/// location; `Zagg.Transient` when the store's report cannot be read.
pub fn resolve(services: &Services, event: &ResolveEvent) -> Result<ResolveResult, StageError> {
    let input = &event.resolve;
    check_input(input)?;
    let cycle = input.cycle.spec().resolve(chrono::Utc::now())?;
    let input = input.for_cycle(cycle);
    let cloud = services.cloud()?;
    let store = Store::open(&input.store, Some(&cloud))?;
    let report = store.read_json(RUN_REPORT_KEY)?;
    let complete = report.as_ref().is_some_and(|r| {
        r.get("cycle").and_then(Value::as_u64) == Some(u64::from(cycle))
            && r.get("within_tolerance").and_then(Value::as_bool) == Some(true)
    });
    Ok(ResolveResult {
        report: complete.then(|| object_location(&input.store, RUN_REPORT_KEY).url),
        input,
        complete,
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
    let Some(run) = &event.run else {
        return process_shard_event(services, event);
    };
    if run.is_empty()
        || run.len() > 80
        || !run
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(StageError::bad_input(format!(
            "process event: run {run:?}: expected 1-80 characters of A-Z a-z 0-9 - _ (an execution name)"
        )));
    }
    let outcome = process_shard_event(services, event);
    // Record the outcome in the store for consolidate; the last attempt wins and keeps the
    // errors of the earlier ones.
    let recorded = (|| -> Result<(), StageError> {
        let cloud = services.cloud()?;
        let store = Store::open(&event.store, Some(&cloud))?;
        let key = shard_record_key(run, event.shard);
        let earlier: Option<ShardRecord> = match store.read_json(&key) {
            Ok(Some(v)) => match serde_json::from_value(v) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(shard = event.shard, error = %e, "earlier shard record is not one; rewritten");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(shard = event.shard, error = %e, "earlier shard record unreadable");
                None
            }
        };
        let (attempts, mut earlier_errors) =
            earlier
                .filter(|r| r.run == *run)
                .map_or((0, Vec::new()), |r| {
                    let mut errors = r.earlier_errors;
                    errors.extend(r.error);
                    (r.attempts, errors)
                });
        earlier_errors.truncate(MAX_LISTED_FAILURES);
        let record = ShardRecord {
            run: run.clone(),
            shard: event.shard,
            attempts: attempts + 1,
            result: outcome.as_ref().ok().cloned(),
            error: outcome.as_ref().err().map(|e| AttemptError {
                error: e.error_type().to_string(),
                cause: e.message.clone(),
            }),
            earlier_errors,
        };
        store.write_json(&key, &encode("shard record", &record)?)?;
        Ok(())
    })();
    match (outcome, recorded) {
        // Without its record the run report would count the shard as failed: retry it.
        (Ok(_), Err(e)) => Err(StageError::new(
            super::ErrorKind::Transient,
            format!(
                "shard {}: written, but its record was not: {}",
                event.shard, e.message
            ),
        )),
        (Err(e), Err(record_error)) => {
            tracing::warn!(shard = event.shard, error = %record_error, "failure not recorded");
            Err(e)
        }
        (outcome, Ok(())) => outcome,
    }
}

/// The process stage itself (without the run record).
fn process_shard_event(
    services: &Services,
    event: &ProcessEvent,
) -> Result<ProcessResult, StageError> {
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
        chunks_written: report.chunks_written,
        // Set by the Lambda runtime.
        memory_mb: std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .ok()
            .and_then(|v| v.parse().ok()),
        counts: report.counts,
    })
}
