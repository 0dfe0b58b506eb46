//! The Earthdata Login of the process Lambda, read from a Secrets Manager secret through the
//! AWS Parameters and Secrets Lambda Extension (a layer serving
//! `GET http://localhost:2773/secretsmanager/get?secretId=…` with the header
//! `X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN`), so zagg needs no AWS SDK.
//!
//! The secret's `SecretString` is either a bare token, or JSON with `token` (or
//! `EARTHDATA_TOKEN`), or `username` and `password` (or `EARTHDATA_USERNAME` and
//! `EARTHDATA_PASSWORD`). The value is never logged nor put in an error message.

use std::time::Duration;

use serde_json::Value;

use super::{kind_of_status, ErrorKind, StageError};
use crate::credentials::EarthdataLogin;
use crate::source::Secret;

/// Environment variable naming the Earthdata secret (ARN or name).
pub const SECRET_ARN_ENV: &str = "ZAGG_EARTHDATA_SECRET_ARN";

/// The extension's base URL: `ZAGG_SECRETS_EXTENSION_URL` (tests), else
/// `http://localhost:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` (default port 2773).
fn extension_url() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    var("ZAGG_SECRETS_EXTENSION_URL").unwrap_or_else(|| {
        let port = var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT").unwrap_or_else(|| "2773".into());
        format!("http://localhost:{port}")
    })
}

/// Read the Earthdata Login in secret `arn` through the extension.
///
/// # Errors
/// `Zagg.Transient` when the extension cannot be reached or answers 429/5xx; `Zagg.Internal`
/// when the secret is not granted or not found (4xx), or holds no usable login.
pub fn earthdata_login_from_extension(arn: &str) -> Result<EarthdataLogin, StageError> {
    let url = format!(
        "{}/secretsmanager/get",
        extension_url().trim_end_matches('/')
    );
    let fail = |kind: ErrorKind, m: String| {
        StageError::new(kind, format!("Earthdata secret {arn} from {url}: {m}"))
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| fail(ErrorKind::Internal, e.to_string()))?;
    let session = std::env::var("AWS_SESSION_TOKEN").unwrap_or_default();
    let mut header = reqwest::header::HeaderValue::from_str(&session).map_err(|_| {
        fail(
            ErrorKind::Internal,
            "AWS_SESSION_TOKEN is not a header value".into(),
        )
    })?;
    header.set_sensitive(true);
    let reply = client
        .get(&url)
        .query(&[("secretId", arn)])
        .header("X-Aws-Parameters-Secrets-Token", header)
        .send()
        .map_err(|e| fail(ErrorKind::Transient, e.without_url().to_string()))?;
    let status = reply.status().as_u16();
    if !reply.status().is_success() {
        let kind = match kind_of_status(status) {
            ErrorKind::BadInput => ErrorKind::Internal,
            k => k,
        };
        return Err(fail(kind, format!("HTTP {status}")));
    }
    let bytes = reply
        .bytes()
        .map_err(|e| fail(ErrorKind::Transient, e.without_url().to_string()))?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|_| fail(ErrorKind::Transient, "the answer is not JSON".into()))?;
    let text = body
        .get("SecretString")
        .and_then(Value::as_str)
        .ok_or_else(|| fail(ErrorKind::Internal, "no SecretString in the answer".into()))?;
    parse_login(text).ok_or_else(|| {
        fail(
            ErrorKind::Internal,
            "the secret holds no token, nor username and password".into(),
        )
    })
}

/// The login in a secret's text: a bare token, or JSON with a token or user name and
/// password; `None` when there is none.
#[must_use]
pub fn parse_login(text: &str) -> Option<EarthdataLogin> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Some(EarthdataLogin::Token(Secret::new(text)));
    };
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| v.get(*n).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
    };
    if let Some(t) = field(&["token", "EARTHDATA_TOKEN"]) {
        return Some(EarthdataLogin::Token(Secret::new(t)));
    }
    match (
        field(&["username", "EARTHDATA_USERNAME"]),
        field(&["password", "EARTHDATA_PASSWORD"]),
    ) {
        (Some(u), Some(p)) => Some(EarthdataLogin::Password {
            username: u.to_string(),
            password: Secret::new(p),
        }),
        _ => None,
    }
}
