//! NSIDC temporary S3 credentials from an Earthdata Login (SPEC §6).
//!
//! NSIDC's `s3credentials` endpoint returns `{accessKeyId, secretAccessKey, sessionToken,
//! expiration}` for an Earthdata Login, valid about an hour and usable only in us-west-2.
//! [`NsidcCredentials`] fetches them on first use, caches them, and fetches new ones a few
//! minutes before they expire; it plugs into the S3 client as its credential provider. With a
//! bearer token the endpoint answers directly; with a user name and password the request is
//! redirected to Earthdata Login, which is answered with HTTP basic auth and cookies.
//!
//! Every secret stays in a [`Secret`]; nothing here logs, formats or returns one.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::aws::AwsCredential;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::source::Secret;

/// NSIDC's credentials endpoint (overridden by `ZAGG_S3CREDENTIALS_URL`).
pub const NSIDC_S3CREDENTIALS_URL: &str =
    "https://data.nsidc.earthdatacloud.nasa.gov/s3credentials";

/// The Earthdata Login host that receives the user name and password (overridden by
/// `ZAGG_EDL_HOST`).
pub const EDL_HOST: &str = "urs.earthdata.nasa.gov";

/// Fetch new credentials this long before the current ones expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(10 * 60);

/// An Earthdata Login.
#[derive(Clone, PartialEq, Eq)]
pub enum EarthdataLogin {
    /// A bearer token (`EARTHDATA_TOKEN`).
    Token(Secret),
    /// User name and password (`EARTHDATA_USERNAME`/`EARTHDATA_PASSWORD`, or `~/.netrc`).
    Password {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
}

impl fmt::Debug for EarthdataLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EarthdataLogin::Token(_) => f.write_str("EarthdataLogin::Token(***)"),
            EarthdataLogin::Password { username, .. } => {
                write!(
                    f,
                    "EarthdataLogin::Password {{ username: {username:?}, password: *** }}"
                )
            }
        }
    }
}

impl EarthdataLogin {
    /// The login from the environment: `EARTHDATA_TOKEN`, else `EARTHDATA_USERNAME` +
    /// `EARTHDATA_PASSWORD`, else the `machine urs.earthdata.nasa.gov` entry of `~/.netrc`
    /// (or `$NETRC`). `None` when there is none.
    pub fn from_env() -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("EARTHDATA_TOKEN") {
            return Some(Self::Token(Secret::new(token)));
        }
        if let (Some(username), Some(password)) =
            (var("EARTHDATA_USERNAME"), var("EARTHDATA_PASSWORD"))
        {
            return Some(Self::Password {
                username,
                password: Secret::new(password),
            });
        }
        let netrc = var("NETRC")
            .map(std::path::PathBuf::from)
            .or_else(|| var("HOME").map(|h| std::path::Path::new(&h).join(".netrc")))?;
        let text = std::fs::read_to_string(netrc).ok()?;
        let host = var("ZAGG_EDL_HOST").unwrap_or_else(|| EDL_HOST.to_string());
        netrc_login(&text, &host)
    }
}

/// The login of `machine <host>` in `.netrc` text.
pub fn netrc_login(text: &str, host: &str) -> Option<EarthdataLogin> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "machine" && tokens.get(i + 1) == Some(&host) {
            let (mut user, mut pass) = (None, None);
            let mut j = i + 2;
            while j + 1 < tokens.len() && tokens[j] != "machine" && tokens[j] != "default" {
                match tokens[j] {
                    "login" => user = Some(tokens[j + 1].to_string()),
                    "password" => pass = Some(tokens[j + 1].to_string()),
                    _ => {}
                }
                j += 2;
            }
            return match (user, pass) {
                (Some(username), Some(p)) => Some(EarthdataLogin::Password {
                    username,
                    password: Secret::new(p),
                }),
                _ => None,
            };
        }
        i += 1;
    }
    None
}

/// Errors getting credentials. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// No Earthdata Login was configured.
    #[error("no Earthdata Login: set EARTHDATA_TOKEN, or EARTHDATA_USERNAME and EARTHDATA_PASSWORD, or a ~/.netrc entry for {0}")]
    NoLogin(String),
    /// The endpoint could not be reached or answered with an error.
    #[error("NSIDC credentials from {url}: {message}")]
    Request {
        /// The endpoint (without query).
        url: String,
        /// What happened.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

/// Temporary NSIDC S3 credentials, fetched on demand, cached and refreshed.
pub struct NsidcCredentials {
    url: String,
    edl_host: String,
    login: EarthdataLogin,
    http: reqwest::Client,
    cached: Mutex<Option<(Arc<AwsCredential>, DateTime<Utc>)>>,
    fetches: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for NsidcCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NsidcCredentials")
            .field("url", &self.url)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl NsidcCredentials {
    /// A provider for `login` against `url` (default: `ZAGG_S3CREDENTIALS_URL`, else
    /// [`NSIDC_S3CREDENTIALS_URL`]), sending a password only to `edl_host` (default:
    /// `ZAGG_EDL_HOST`, else [`EDL_HOST`]).
    ///
    /// # Errors
    /// [`CredentialsError::Request`] when the HTTP client cannot be built.
    pub fn new(
        login: EarthdataLogin,
        url: Option<String>,
        edl_host: Option<String>,
    ) -> Result<Self, CredentialsError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let url = url
            .or_else(|| env("ZAGG_S3CREDENTIALS_URL"))
            .unwrap_or_else(|| NSIDC_S3CREDENTIALS_URL.to_string());
        let edl_host = edl_host
            .or_else(|| env("ZAGG_EDL_HOST"))
            .unwrap_or_else(|| EDL_HOST.to_string());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CredentialsError::Request {
                url: url.clone(),
                message: e.to_string(),
            })?;
        Ok(Self {
            url,
            edl_host,
            login,
            http,
            cached: Mutex::new(None),
            fetches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// A provider for the login in the environment.
    ///
    /// # Errors
    /// [`CredentialsError::NoLogin`] when none is configured.
    pub fn from_env() -> Result<Self, CredentialsError> {
        let login =
            EarthdataLogin::from_env().ok_or_else(|| CredentialsError::NoLogin(EDL_HOST.into()))?;
        Self::new(login, None, None)
    }

    /// How many times credentials were fetched (not served from the cache).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Current credentials: cached while more than [`REFRESH_MARGIN`] from expiry.
    ///
    /// # Errors
    /// [`CredentialsError::Request`] when new ones are needed and cannot be fetched.
    pub async fn credentials(&self) -> Result<Arc<AwsCredential>, CredentialsError> {
        let mut cached = self.cached.lock().await;
        if let Some((c, expires)) = cached.as_ref() {
            let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default();
            if Utc::now() + margin < *expires {
                return Ok(c.clone());
            }
        }
        let (credential, expires) = self.fetch().await?;
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(expires = %expires, "fetched NSIDC S3 credentials");
        let credential = Arc::new(credential);
        *cached = Some((credential.clone(), expires));
        Ok(credential)
    }

    fn err(&self, message: impl Into<String>) -> CredentialsError {
        CredentialsError::Request {
            url: self.url.clone(),
            message: message.into(),
        }
    }

    async fn fetch(&self) -> Result<(AwsCredential, DateTime<Utc>), CredentialsError> {
        let mut url = self.url.clone();
        let mut cookies: Vec<(String, String)> = Vec::new();
        for _ in 0..10 {
            let target = reqwest::Url::parse(&url)
                .map_err(|e| self.err(format!("bad URL in the login flow: {e}")))?;
            let mut request = self.http.get(target.clone());
            match &self.login {
                EarthdataLogin::Token(t) => {
                    // The token goes to the credentials endpoint only, never to a redirect target.
                    if url == self.url {
                        request = request.bearer_auth(t.expose());
                    }
                }
                EarthdataLogin::Password { username, password } => {
                    if target.host_str() == Some(self.edl_host.as_str()) {
                        request = request.basic_auth(username, Some(password.expose()));
                    }
                }
            }
            if !cookies.is_empty() {
                let header = cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                request = request.header(reqwest::header::COOKIE, header);
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.err(format!("request failed: {}", e.without_url())))?;
            for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
                if let Some((k, v)) = value
                    .to_str()
                    .ok()
                    .and_then(|s| s.split(';').next())
                    .and_then(|kv| kv.split_once('='))
                {
                    cookies.retain(|(name, _)| name != k.trim());
                    cookies.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| self.err(format!("{status} without a Location")))?;
                url = target
                    .join(location)
                    .map_err(|e| self.err(format!("bad redirect: {e}")))?
                    .to_string();
                continue;
            }
            if status == reqwest::StatusCode::UNAUTHORIZED
                || status == reqwest::StatusCode::FORBIDDEN
            {
                return Err(self.err(format!("{status}: the Earthdata Login was refused (check the token or user name and password, and that the NSIDC application is authorized)")));
            }
            if !status.is_success() {
                return Err(self.err(format!("HTTP {status}")));
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| self.err(format!("reading the answer: {}", e.without_url())))?;
            let parsed: Response = serde_json::from_slice(&body).map_err(|e| {
                self.err(format!("unexpected answer (not the credentials JSON): {e}"))
            })?;
            let expires = parse_expiration(&parsed.expiration).ok_or_else(|| {
                self.err(format!("unreadable expiration {:?}", parsed.expiration))
            })?;
            return Ok((
                AwsCredential {
                    key_id: parsed.access_key_id,
                    secret_key: parsed.secret_access_key,
                    token: Some(parsed.session_token),
                },
                expires,
            ));
        }
        Err(self.err("too many redirects in the Earthdata Login flow"))
    }
}

/// Parse NSIDC's `expiration` (`2026-11-26 01:52:37+00:00`, or RFC 3339).
pub fn parse_expiration(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%:z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[async_trait::async_trait]
impl object_store::CredentialProvider for NsidcCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_entries() {
        let text = "machine other.host login a password b\nmachine urs.earthdata.nasa.gov\n  login alice\n  password s3cr3t\n";
        let login = netrc_login(text, EDL_HOST).expect("entry");
        assert_eq!(
            login,
            EarthdataLogin::Password {
                username: "alice".into(),
                password: Secret::new("s3cr3t")
            }
        );
        assert!(!format!("{login:?}").contains("s3cr3t"));
        assert!(netrc_login("machine urs.earthdata.nasa.gov login alice", EDL_HOST).is_none());
        assert!(netrc_login("", EDL_HOST).is_none());
    }

    #[test]
    fn expirations() {
        let t = parse_expiration("2026-11-26 01:52:37+00:00").expect("nsidc form");
        assert_eq!(t.to_rfc3339(), "2026-11-26T01:52:37+00:00");
        assert!(parse_expiration("2026-11-26T01:52:37Z").is_some());
        assert!(parse_expiration("tomorrow").is_none());
    }
}
