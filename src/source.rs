//! Granules straight from the cloud: [`ByteSource`]s over S3 and HTTP(S) range requests.
//!
//! [`Cloud`] owns one small async runtime and one `object_store` client per bucket or host,
//! built once and shared by every granule and shard. A [`RemoteObject`] is a granule read
//! by byte ranges: the HDF5 reader asks for many small pieces, so reads go through a read
//! plan (`RangeReader`): a speculative first read that also returns the object's size, then
//! fetches of only the missing bytes with an adaptive read-ahead (small after a jump, growing
//! while reads are sequential), concurrent when one read has several gaps. What was fetched is
//! kept for the reading session (one granule of one shard). Requests and bytes are counted
//! per session.
//!
//! Retries (429 / 5xx / timeouts / resets, exponential backoff with jitter), per-request
//! timeouts and the bounded number of in-flight requests come from [`CloudOptions`].
//! Secrets are held in [`Secret`], whose `Debug` and `Display` never show the value.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::http::HttpBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, RetryConfig, StaticCredentialProvider,
};
use tokio::sync::Semaphore;

use crate::granule::{ByteSource, GranuleError};

mod read_plan;
pub use read_plan::RemoteObject;

/// A secret string (token, key, password): shown as `***` in every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret value; only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How S3 requests are signed.
#[derive(Clone, Debug)]
pub enum S3Auth {
    /// The AWS default chain: environment (`AWS_ACCESS_KEY_ID`, …), web identity, ECS, IMDS.
    DefaultChain,
    /// Fixed keys, e.g. NSIDC temporary credentials.
    Static {
        /// Access key id.
        key_id: String,
        /// Secret access key.
        secret_key: Secret,
        /// Session token of temporary credentials.
        token: Option<Secret>,
    },
    /// Unsigned requests (public buckets).
    Anonymous,
    /// Any object_store credential provider.
    Provider(object_store::aws::AwsCredentialProvider),
}

/// Buckets read with NSIDC's temporary credentials by default.
pub const NSIDC_BUCKETS: &[&str] = &["nsidc-cumulus-prod-protected"];

/// Settings of the cloud byte sources and stores.
#[derive(Clone, Debug)]
pub struct CloudOptions {
    /// AWS region of the buckets (NSIDC's are in `us-west-2`).
    pub region: String,
    /// S3 endpoint for S3-compatible servers (path-style requests are then used).
    pub endpoint: Option<String>,
    /// Allow plain `http://` endpoints and granule URLs (local test servers).
    pub allow_http: bool,
    /// S3 request signing (for buckets not in `nsidc_buckets`).
    pub s3_auth: S3Auth,
    /// NSIDC temporary credentials, used for the buckets in `nsidc_buckets`.
    pub nsidc: Option<Arc<crate::credentials::NsidcCredentials>>,
    /// Buckets signed with the `nsidc` credentials.
    pub nsidc_buckets: Vec<String>,
    /// Earthdata Login bearer token sent with `https://` granule reads.
    pub https_token: Option<Secret>,
    /// Timeout of one request, including reading its body.
    pub request_timeout: Duration,
    /// Retries of one request on 429, 5xx, timeouts and connection resets.
    pub max_retries: usize,
    /// Smallest fetch in bytes (read-ahead for the reader's small metadata reads); also the
    /// size of the first, speculative read of a granule.
    pub min_fetch: u64,
    /// Largest read-ahead in bytes: sequential reads double the read-ahead up to this.
    pub max_fetch: u64,
    /// Requests in flight at once, per [`Cloud`] (bounds a shard's concurrency).
    pub max_in_flight: usize,
}

impl Default for CloudOptions {
    fn default() -> Self {
        Self {
            region: "us-west-2".into(),
            endpoint: None,
            allow_http: false,
            s3_auth: S3Auth::DefaultChain,
            nsidc: None,
            nsidc_buckets: NSIDC_BUCKETS.iter().map(|b| (*b).to_string()).collect(),
            https_token: None,
            request_timeout: Duration::from_secs(30),
            max_retries: 8,
            min_fetch: 1 << 20,
            max_fetch: 8 << 20,
            max_in_flight: 16,
        }
    }
}

impl CloudOptions {
    /// Defaults overridden by the environment:
    ///
    /// - `AWS_REGION` / `AWS_DEFAULT_REGION`: region (default `us-west-2`);
    /// - `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`): S3-compatible endpoint;
    /// - `AWS_ALLOW_HTTP=true`: allow `http://`;
    /// - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: static keys
    ///   (otherwise the default chain);
    /// - `EARTHDATA_TOKEN`: bearer token for `https://` granules;
    /// - an Earthdata Login (`EARTHDATA_TOKEN`, `EARTHDATA_USERNAME`/`EARTHDATA_PASSWORD` or
    ///   `~/.netrc`): NSIDC temporary credentials for the NSIDC buckets
    ///   (`ZAGG_NSIDC_BUCKETS`, comma-separated, default `nsidc-cumulus-prod-protected`;
    ///   endpoint `ZAGG_S3CREDENTIALS_URL`);
    /// - `ZAGG_REQUEST_TIMEOUT_SECS`, `ZAGG_MAX_RETRIES`, `ZAGG_MIN_FETCH_BYTES`,
    ///   `ZAGG_MAX_FETCH_BYTES`, `ZAGG_MAX_IN_FLIGHT`: the tunables of the same names above.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let num = |k: &str| var(k).and_then(|v| v.parse::<u64>().ok());
        let mut o = Self::default();
        if let Some(r) = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
            o.region = r;
        }
        o.endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
        o.allow_http =
            var("AWS_ALLOW_HTTP").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        if let (Some(key_id), Some(secret)) =
            (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        {
            o.s3_auth = S3Auth::Static {
                key_id,
                secret_key: Secret::new(secret),
                token: var("AWS_SESSION_TOKEN").map(Secret::new),
            };
        }
        o.https_token = var("EARTHDATA_TOKEN").map(Secret::new);
        if let Some(buckets) = var("ZAGG_NSIDC_BUCKETS") {
            o.nsidc_buckets = buckets
                .split(',')
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty())
                .collect();
        }
        if let Some(login) = crate::credentials::EarthdataLogin::from_env() {
            match crate::credentials::NsidcCredentials::new(login, None, None) {
                Ok(p) => o.nsidc = Some(Arc::new(p)),
                Err(e) => tracing::warn!(error = %e, "NSIDC credentials unavailable"),
            }
        }
        if let Some(s) = num("ZAGG_REQUEST_TIMEOUT_SECS") {
            o.request_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(n) = num("ZAGG_MAX_RETRIES") {
            o.max_retries = n as usize;
        }
        if let Some(b) = num("ZAGG_MIN_FETCH_BYTES") {
            o.min_fetch = b.max(4096);
        }
        if let Some(b) = num("ZAGG_MAX_FETCH_BYTES") {
            o.max_fetch = b.max(o.min_fetch);
        }
        if let Some(n) = num("ZAGG_MAX_IN_FLIGHT") {
            o.max_in_flight = (n as usize).max(1);
        }
        o
    }
}

/// Errors setting up cloud access.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The async runtime could not start.
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(String),
    /// A location is not a valid `s3://` or `http(s)://` URL.
    #[error("{location}: {message}")]
    Location {
        /// The location given.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A client could not be built.
    #[error("{location}: cannot build a client: {message}")]
    Client {
        /// The location given.
        location: String,
        /// Cause.
        message: String,
    },
}

/// A parsed remote location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `s3://bucket/key`.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key (may be empty for a bucket root).
        key: String,
    },
    /// `https://host/path` or `http://host/path`.
    Http {
        /// `scheme://host[:port]`.
        base: String,
        /// Path after the host.
        path: String,
    },
}

impl Location {
    /// Parse `s3://…`, `https://…` or `http://…`; `None` for anything else (a local path).
    ///
    /// # Errors
    /// [`CloudError::Location`] for a remote scheme without a bucket or host.
    pub fn parse(location: &str) -> Result<Option<Self>, CloudError> {
        let bad = |m: &str| CloudError::Location {
            location: location.to_string(),
            message: m.to_string(),
        };
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name"));
            }
            return Ok(Some(Location::S3 {
                bucket: bucket.to_string(),
                key: key.trim_matches('/').to_string(),
            }));
        }
        for scheme in ["https://", "http://"] {
            if let Some(rest) = location.strip_prefix(scheme) {
                let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                if host.is_empty() {
                    return Err(bad("no host name"));
                }
                return Ok(Some(Location::Http {
                    base: format!("{scheme}{host}"),
                    path: path.to_string(),
                }));
            }
        }
        Ok(None)
    }
}

/// Cloud access shared by a whole run: runtime, clients, request budget.
pub struct Cloud {
    /// The I/O runtime.
    runtime: tokio::runtime::Runtime,
    options: CloudOptions,
    clients: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    in_flight: Arc<Semaphore>,
}

impl fmt::Debug for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cloud")
            .field("options", &self.options)
            .finish()
    }
}

impl Cloud {
    /// Start the I/O runtime (two worker threads).
    ///
    /// # Errors
    /// [`CloudError::Runtime`] when the runtime cannot start.
    pub fn new(options: CloudOptions) -> Result<Self, CloudError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("zagg-io")
            .enable_all()
            .build()
            .map_err(|e| CloudError::Runtime(e.to_string()))?;
        let in_flight = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
        Ok(Self {
            runtime,
            options,
            clients: Mutex::new(HashMap::new()),
            in_flight,
        })
    }

    /// The options in use.
    pub fn options(&self) -> &CloudOptions {
        &self.options
    }

    /// Run a future to completion on the I/O runtime (from synchronous code only).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A handle to the I/O runtime.
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions::new()
            .with_allow_http(self.options.allow_http)
            .with_timeout(self.options.request_timeout)
            .with_connect_timeout(Duration::from_secs(10))
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(15),
                base: 2.0,
            },
            max_retries: self.options.max_retries,
            retry_timeout: Duration::from_secs(180),
        }
    }

    /// The client for a location (one per bucket or host, built once).
    ///
    /// # Errors
    /// [`CloudError`] for a bad location or a client that cannot be built.
    pub fn client(&self, location: &Location) -> Result<Arc<dyn ObjectStore>, CloudError> {
        let key = match location {
            Location::S3 { bucket, .. } => format!("s3://{bucket}"),
            Location::Http { base, .. } => base.clone(),
        };
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let client_err = |e: object_store::Error| CloudError::Client {
            location: key.clone(),
            message: e.to_string(),
        };
        let client: Arc<dyn ObjectStore> = match location {
            Location::S3 { bucket, .. } => {
                let nsidc = self
                    .options
                    .nsidc
                    .as_ref()
                    .filter(|_| self.options.nsidc_buckets.iter().any(|n| n == bucket));
                let auth = match nsidc {
                    Some(p) => S3Auth::Provider(p.clone()),
                    None => self.options.s3_auth.clone(),
                };
                // Bucket, region, endpoint and client settings below override the environment.
                let base = match auth {
                    S3Auth::DefaultChain => AmazonS3Builder::from_env(),
                    _ => AmazonS3Builder::new(),
                };
                let mut b = base
                    .with_bucket_name(bucket)
                    .with_region(&self.options.region)
                    .with_client_options(self.client_options())
                    .with_retry(self.retry());
                if let Some(endpoint) = &self.options.endpoint {
                    b = b
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                b = match &auth {
                    // The base builder already holds the environment's chain (keys,
                    // web identity, container credentials, else instance metadata).
                    S3Auth::DefaultChain => b,
                    S3Auth::Static {
                        key_id,
                        secret_key,
                        token,
                    } => {
                        b.with_credentials(Arc::new(StaticCredentialProvider::new(AwsCredential {
                            key_id: key_id.clone(),
                            secret_key: secret_key.expose().to_string(),
                            token: token.as_ref().map(|t| t.expose().to_string()),
                        })))
                    }
                    S3Auth::Anonymous => b.with_skip_signature(true),
                    S3Auth::Provider(p) => b.with_credentials(p.clone()),
                };
                Arc::new(b.build().map_err(client_err)?)
            }
            Location::Http { base, .. } => {
                let mut options = self.client_options();
                if let Some(token) = &self.options.https_token {
                    let mut headers = object_store::HeaderMap::new();
                    let mut value =
                        object_store::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                            .map_err(|_| CloudError::Client {
                                location: key.clone(),
                                message: "the Earthdata token is not a valid HTTP header value"
                                    .into(),
                            })?;
                    value.set_sensitive(true);
                    headers.insert("authorization", value);
                    options = options.with_default_headers(headers);
                }
                Arc::new(
                    HttpBuilder::new()
                        .with_url(base)
                        .with_client_options(options)
                        .with_retry(self.retry())
                        .build()
                        .map_err(client_err)?,
                )
            }
        };
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// A granule by location: `s3://`, `https://`, `http://` (when allowed) or a local path.
    /// Nothing is fetched until a granule is opened for reading ([`ByteSource::session`]);
    /// a missing or forbidden object is then an error of that granule only.
    ///
    /// # Errors
    /// [`GranuleError::Open`] naming the location: a malformed URL, `http://` when not
    /// allowed, a client that cannot be built, or a local file that cannot be opened.
    pub fn open(self: &Arc<Self>, location: &str) -> Result<Arc<dyn ByteSource>, GranuleError> {
        let open_err = |message: String| GranuleError::Open {
            granule: location.to_string(),
            message,
        };
        let parsed = match Location::parse(location).map_err(|e| open_err(e.to_string()))? {
            None => return crate::granule::open_source(location),
            Some(l) => l,
        };
        if let Location::Http { base, .. } = &parsed {
            if base.starts_with("http://") && !self.options.allow_http {
                return Err(open_err(
                    "plain http:// is not allowed (set AWS_ALLOW_HTTP=true for a local server)"
                        .into(),
                ));
            }
        }
        let client = self.client(&parsed).map_err(|e| open_err(e.to_string()))?;
        let key = match &parsed {
            Location::S3 { key, .. } => key.clone(),
            Location::Http { path, .. } => path.clone(),
        };
        let path = ObjectPath::from_url_path(&key).map_err(|e| open_err(e.to_string()))?;
        Ok(Arc::new(RemoteObject {
            name: location.to_string(),
            cloud: self.clone(),
            client,
            path,
        }))
    }
}

/// A response shorter than the range asked for: the object is truncated (a permanent fault of
/// the granule, unlike a network error).
#[derive(Debug)]
pub(crate) struct TruncatedObject(pub(crate) String);

impl std::fmt::Display for TruncatedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TruncatedObject {}

/// Whether an object_store error (after the client's own retries) may pass if the read is
/// tried again later: server errors, throttling, timeouts and connection failures. A missing
/// or forbidden object, a bad request and a truncated object are permanent.
pub(crate) fn is_transient(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    match e {
        E::NotFound { .. }
        | E::PermissionDenied { .. }
        | E::Unauthenticated { .. }
        | E::InvalidPath { .. }
        | E::NotSupported { .. }
        | E::NotImplemented { .. }
        | E::Precondition { .. }
        | E::NotModified { .. }
        | E::AlreadyExists { .. }
        | E::UnknownConfigurationKey { .. } => false,
        E::Generic { source, .. } => source.downcast_ref::<TruncatedObject>().is_none(),
        _ => true,
    }
}

/// A user-facing description of an object_store error, with the usual causes.
fn describe_error(e: &object_store::Error) -> String {
    match e {
        object_store::Error::NotFound { .. } => {
            "not found (404): the granule is gone or the URL is wrong".into()
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            format!("access denied (403): check the credentials (NSIDC S3 credentials work only in us-west-2; elsewhere read https:// with an Earthdata token): {e}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let auth = S3Auth::Static {
            key_id: "AKIA".into(),
            secret_key: Secret::new("hunter2-very-secret"),
            token: Some(Secret::new("hunter2-token")),
        };
        let o = CloudOptions {
            s3_auth: auth,
            https_token: Some(Secret::new("hunter2-edl")),
            ..CloudOptions::default()
        };
        let shown = format!("{o:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://nsidc-cumulus-prod-protected/ATLAS/ATL06/006/x.h5").expect("ok"),
            Some(Location::S3 {
                bucket: "nsidc-cumulus-prod-protected".into(),
                key: "ATLAS/ATL06/006/x.h5".into()
            })
        );
        assert_eq!(
            Location::parse("https://example.org/a/b.h5").expect("ok"),
            Some(Location::Http {
                base: "https://example.org".into(),
                path: "a/b.h5".into()
            })
        );
        assert_eq!(Location::parse("/data/a.h5").expect("ok"), None);
        assert!(Location::parse("s3:///key").is_err());
        assert!(Location::parse("https:///x").is_err());
    }
}
