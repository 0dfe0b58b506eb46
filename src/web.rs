//! HTTP GET with retries and exponential backoff, for CMR searches ([`crate::cmr`]) and AOIs
//! given by URL ([`crate::aoi`]).
//!
//! A request is retried on HTTP 429 and 5xx and on transport errors (connection refused or
//! reset, timeouts), waiting `base_delay · 2^(attempt − 1)` (capped at `max_delay`), or the
//! server's `Retry-After` seconds when it sends them (capped the same way). Other statuses are
//! returned to the caller at once, which reports them with the body's first bytes.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("zagg/", env!("CARGO_PKG_VERSION"));

/// How many times, and how patiently, a request is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, at least 1.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled before each further one.
    pub base_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
    /// Timeout of one attempt (connect + headers + body).
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// 6 attempts, 1 s doubling to at most 30 s, 120 s per attempt.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            timeout: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed, given
    /// the server's `Retry-After`, if any.
    #[must_use]
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1_u32
                .checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        retry_after.unwrap_or(exp).min(self.max_delay)
    }
}

/// Errors of an HTTP GET, each naming the URL.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The HTTP client could not be created (TLS setup).
    #[error("cannot create the HTTP client: {message}")]
    Client {
        /// Cause.
        message: String,
    },
    /// The server answered with an error status (after all retries for 429/5xx).
    #[error("GET {url}: HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The URL asked for, with its query.
        url: String,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The start of the response body.
        body: String,
    },
    /// No answer: connection or timeout errors on every attempt.
    #[error("GET {url}: {message} (after {attempts} attempt(s))")]
    Transport {
        /// The URL asked for, with its query.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        message: String,
    },
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status (2xx).
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// Attempts that failed before this answer (0 when the first one succeeded).
    pub retries: u32,
}

impl Reply {
    /// A header as text, if present and ASCII.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A blocking HTTP client (rustls) with a retry policy.
#[derive(Debug, Clone)]
pub struct HttpGet {
    client: reqwest::blocking::Client,
    retry: RetryPolicy,
}

/// First bytes of a body, for messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl HttpGet {
    /// A client with this retry policy.
    ///
    /// # Errors
    /// [`WebError::Client`] when the TLS backend cannot be set up.
    pub fn new(retry: RetryPolicy) -> Result<Self, WebError> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(retry.timeout)
            .build()
            .map_err(|e| WebError::Client {
                message: e.to_string(),
            })?;
        Ok(Self { client, retry })
    }

    /// The retry policy.
    #[must_use]
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// GET `url` with query parameters (encoded here and appended to any query `url` already
    /// has; none when `query` is empty, so a complete URL is sent as given) and extra
    /// headers, retrying 429, 5xx and transport errors.
    ///
    /// # Errors
    /// [`WebError::Status`] for a non-2xx answer (immediately for other 4xx, after the last
    /// attempt for 429/5xx), [`WebError::Transport`] when no attempt got an answer.
    pub fn get(
        &self,
        url: &str,
        query: &[(String, String)],
        headers: &[(&str, String)],
    ) -> Result<Reply, WebError> {
        let attempts = self.retry.max_attempts.max(1);
        let mut shown = url.to_string();
        for attempt in 1..=attempts {
            let mut request = self.client.get(url);
            if !query.is_empty() {
                request = request.query(query);
            }
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let outcome = request.build().and_then(|r| {
                shown = r.url().to_string();
                self.client.execute(r)
            });
            let (retry_after, failure) = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let retry_after = headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    match response.bytes() {
                        Ok(body) if (200..300).contains(&status) => {
                            return Ok(Reply {
                                status,
                                headers,
                                body: body.to_vec(),
                                retries: attempt - 1,
                            })
                        }
                        Ok(body) => {
                            let error = WebError::Status {
                                url: shown.clone(),
                                status,
                                attempts: attempt,
                                body: snippet(&body),
                            };
                            if status != 429 && !(500..600).contains(&status) {
                                return Err(error);
                            }
                            (retry_after, error)
                        }
                        Err(e) => (
                            retry_after,
                            WebError::Transport {
                                url: shown.clone(),
                                attempts: attempt,
                                message: format!("reading the body: {e}"),
                            },
                        ),
                    }
                }
                Err(e) => (
                    None,
                    WebError::Transport {
                        url: shown.clone(),
                        attempts: attempt,
                        message: error_chain(&e),
                    },
                ),
            };
            if attempt == attempts {
                return Err(failure);
            }
            let wait = self.retry.delay(attempt, retry_after);
            tracing::warn!(url = %shown, attempt, error = %failure, wait_ms = wait.as_millis() as u64, "retrying");
            std::thread::sleep(wait);
        }
        // The loop returns on its last attempt.
        Err(WebError::Transport {
            url: shown,
            attempts,
            message: "no attempt made".into(),
        })
    }
}

/// An error and its sources, joined (reqwest's own message omits the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        };
        let waits: Vec<u128> = (1..=6).map(|a| p.delay(a, None).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay(1, Some(Duration::from_secs(0))), Duration::ZERO);
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_secs(1)
        );
        assert_eq!(p.delay(200, None), Duration::from_secs(1));
    }

    #[test]
    fn refused_connection_is_a_transport_error_after_all_attempts() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = HttpGet::new(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            timeout: Duration::from_secs(5),
        })
        .unwrap();
        let url = format!("http://127.0.0.1:{port}/x");
        let e = http
            .get(&url, &[("a".into(), "b c".into())], &[])
            .unwrap_err();
        match &e {
            WebError::Transport { url, attempts, .. } => {
                assert_eq!(*attempts, 3);
                assert!(url.ends_with("/x?a=b+c"), "{url}");
            }
            other => panic!("unexpected {other}"),
        }
    }
}
