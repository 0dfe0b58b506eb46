//! The four Lambda stages as library functions: each takes its event (see [`crate::events`])
//! and returns its result or a classified [`StageError`], whose
//! [`error_type`](StageError::error_type) the Lambda binaries in `lambdas/` hand to Step
//! Functions as `errorType`.
//!
//! | `errorType` | meaning | ASL |
//! |---|---|---|
//! | `Zagg.Transient` | network, timeout, throttling, 5xx after the clients' own retries | retry with backoff |
//! | `Zagg.BadInput` | malformed event, bad config/AOI/store/shard, store of another config | fail (a shard counts toward tolerated failures) |
//! | `Zagg.GranulesUnreadable` | none of a shard's granules could be read | retry once, then tolerated failure |
//! | `Zagg.Internal` | a bug, a corrupt stored object, a missing deployment setting | fail |
//!
//! [`Services`] holds what a warm container keeps between invocations: the cloud clients and,
//! through them, the NSIDC credentials provider (fetched on first use, refreshed 10 min
//! before expiry, so at most once per ~50 min).

use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::source::{Cloud, CloudOptions};
use crate::web::RetryPolicy;

mod consolidate;
mod errors;
mod secrets;
mod stages;

pub use consolidate::{consolidate, NO_RESULT};
pub use errors::{bad_event, kind_of_status, ErrorKind, StageError};
pub use secrets::{earthdata_login_from_extension, parse_login, SECRET_ARN_ENV};
pub use stages::{catalog, load_config, process, read_object, resolve, template};

/// The four stages, one Lambda each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// [`catalog`]: cycle + AOI → `catalog.json`.
    Catalog,
    /// [`template`]: the store's arrays.
    Template,
    /// [`process`]: one shard.
    Process,
    /// [`consolidate`]: consolidated metadata and `run.json`.
    Consolidate,
}

impl Stage {
    /// The stage's name (`catalog`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Catalog => "catalog",
            Self::Template => "template",
            Self::Process => "process",
            Self::Consolidate => "consolidate",
        }
    }
}

/// Clients kept by a warm container.
#[derive(Debug)]
pub struct Services {
    options: CloudOptions,
    secret_arn: Option<String>,
    cloud: Mutex<Option<Arc<Cloud>>>,
    /// CMR base URL of the catalog stage (`ZAGG_CMR_URL`, else NASA's).
    pub cmr_url: String,
    /// Retries of CMR requests.
    pub cmr_retry: RetryPolicy,
}

impl Services {
    /// Settings from the environment: [`CloudOptions::from_env`], the Earthdata secret named
    /// by `ZAGG_EARTHDATA_SECRET_ARN` (read on first use, see [`earthdata_login_from_extension`]),
    /// `ZAGG_CMR_URL`.
    #[must_use]
    pub fn from_env() -> Self {
        let secret_arn = std::env::var(SECRET_ARN_ENV).ok().filter(|v| !v.is_empty());
        Self::new(CloudOptions::from_env(), secret_arn)
    }

    /// Services with these cloud options and, optionally, an Earthdata secret to read on
    /// first use.
    #[must_use]
    pub fn new(options: CloudOptions, secret_arn: Option<String>) -> Self {
        Self {
            options,
            secret_arn,
            cloud: Mutex::new(None),
            cmr_url: crate::cmr::resolve_base_url(None),
            cmr_retry: RetryPolicy::default(),
        }
    }

    /// The cloud clients, built on first use and kept. With an Earthdata secret, the login is
    /// read then and becomes the NSIDC credentials provider and the `https://` bearer token.
    ///
    /// # Errors
    /// [`StageError`] when the secret cannot be read (transient: retried on the next
    /// invocation) or the runtime cannot start.
    pub fn cloud(&self) -> Result<Arc<Cloud>, StageError> {
        let mut slot = self.cloud.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let mut options = self.options.clone();
        if let Some(arn) = &self.secret_arn {
            let login = earthdata_login_from_extension(arn)?;
            if let crate::credentials::EarthdataLogin::Token(t) = &login {
                options.https_token = Some(t.clone());
            }
            let provider = crate::credentials::NsidcCredentials::new(login, None, None)?;
            options.nsidc = Some(Arc::new(provider));
        }
        let cloud = Arc::new(Cloud::new(options)?);
        *slot = Some(cloud.clone());
        Ok(cloud)
    }
}

fn parse<T: DeserializeOwned>(stage: Stage, event: Value) -> Result<T, StageError> {
    serde_path_to_error::deserialize(event).map_err(|e| bad_event(stage.name(), &e))
}

fn to_value(result: &impl Serialize) -> Result<Value, StageError> {
    serde_json::to_value(result).map_err(|e| StageError::internal(format!("encode result: {e}")))
}

/// Run one stage on a raw event: parse it (a malformed event is `Zagg.BadInput`), run the
/// stage, return its result as JSON. This is all a Lambda binary's handler does.
///
/// # Errors
/// The stage's [`StageError`].
pub fn handle(stage: Stage, services: &Services, event: Value) -> Result<Value, StageError> {
    let result = match stage {
        // The catalog Lambda also resolves the execution input first: `{"resolve": …}`.
        Stage::Catalog if event.get("resolve").is_some() => {
            to_value(&resolve(services, &parse(stage, event)?)?)
        }
        Stage::Catalog => to_value(&catalog(services, &parse(stage, event)?)?),
        Stage::Template => to_value(&template(services, &parse(stage, event)?)?),
        Stage::Process => to_value(&process(services, &parse(stage, event)?)?),
        Stage::Consolidate => to_value(&consolidate(services, &parse(stage, event)?)?),
    };
    if let Err(e) = &result {
        tracing::error!(stage = stage.name(), error_type = e.error_type(), error = %e, "stage failed");
    }
    result
}

#[cfg(test)]
mod tests;
