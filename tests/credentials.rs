//! NSIDC temporary credentials against a local stand-in for the s3credentials endpoint and
//! Earthdata Login: token and password flows, caching, refresh, refusal; secrets never shown.

mod common;

use std::sync::{Arc, Mutex};

use common::http::{serve, Response};
use zagg::credentials::{EarthdataLogin, NsidcCredentials};
use zagg::source::Secret;

const SECRET_KEY: &str = "SENTINEL-secret-access-key";
const SESSION: &str = "SENTINEL-session-token";

fn answer(expires_in_minutes: i64) -> Response {
    let expires = (chrono::Utc::now() + chrono::Duration::minutes(expires_in_minutes))
        .format("%Y-%m-%d %H:%M:%S+00:00")
        .to_string();
    let body = format!(
        r#"{{"accessKeyId": "ASIATESTKEY", "secretAccessKey": "{SECRET_KEY}", "sessionToken": "{SESSION}", "expiration": "{expires}"}}"#
    );
    Response::new("200 OK", body).header("Content-Type: application/json")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn token_flow_is_cached_until_close_to_expiry() {
    for (minutes, fetches) in [(60, 1), (5, 3)] {
        let server = serve(move |req| {
            if req.headers.get("authorization").map(String::as_str)
                == Some("Bearer SENTINEL-edl-token")
            {
                answer(minutes)
            } else {
                Response::new("401 Unauthorized", "no")
            }
        });
        let provider = NsidcCredentials::new(
            EarthdataLogin::Token(Secret::new("SENTINEL-edl-token")),
            Some(format!("{}/s3credentials", server.url)),
            None,
        )
        .expect("provider");
        let rt = runtime();
        for _ in 0..3 {
            let c = rt.block_on(provider.credentials()).expect("credentials");
            assert_eq!(c.key_id, "ASIATESTKEY");
            assert_eq!(c.token.as_deref(), Some(SESSION));
        }
        // Valid for an hour: fetched once. Expiring within the refresh margin: every time.
        assert_eq!(provider.fetches(), fetches, "expiry in {minutes} min");
        assert_eq!(server.requests(), fetches as usize);
        let shown = format!("{provider:?}");
        assert!(!shown.contains("SENTINEL"), "{shown}");
    }
}

#[test]
fn password_flow_goes_through_earthdata_login_with_cookies() {
    // The endpoint is reached as 127.0.0.1, the login host as localhost: one server, two hosts.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let server = serve(move |req| {
        let host = req.headers.get("host").cloned().unwrap_or_default();
        let auth = req.headers.get("authorization").cloned();
        let cookie = req.headers.get("cookie").cloned().unwrap_or_default();
        log.lock()
            .expect("log")
            .push(format!("{host} {} auth={}", req.path, auth.is_some()));
        let port = host.rsplit(':').next().unwrap_or("0").to_string();
        if host.starts_with("localhost") {
            // Earthdata Login: basic auth alice:pw (base64 "YWxpY2U6cHc=").
            return if auth.as_deref() == Some("Basic YWxpY2U6cHc=") {
                Response::new("302 Found", "").header(format!(
                    "Location: http://127.0.0.1:{port}/s3credentials?code=abc"
                ))
            } else {
                Response::new("401 Unauthorized", "bad login")
            };
        }
        if auth.is_some() {
            return Response::new(
                "400 Bad Request",
                "the password must not reach the endpoint",
            );
        }
        if cookie.contains("session=ok") {
            answer(60)
        } else if req.path.contains("code=abc") {
            Response::new("302 Found", "")
                .header("Set-Cookie: session=ok; Path=/; HttpOnly")
                .header("Location: /s3credentials")
        } else {
            Response::new("302 Found", "").header(format!(
                "Location: http://localhost:{port}/oauth/authorize?client_id=x"
            ))
        }
    });
    let provider = NsidcCredentials::new(
        EarthdataLogin::Password {
            username: "alice".into(),
            password: Secret::new("pw"),
        },
        Some(format!("{}/s3credentials", server.url)),
        Some("localhost".into()),
    )
    .expect("provider");
    let c = runtime()
        .block_on(provider.credentials())
        .expect("credentials");
    assert_eq!(c.secret_key, SECRET_KEY);
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen[1].starts_with("localhost") && seen[1].ends_with("auth=true"),
        "{seen:?}"
    );
}

#[test]
fn refusals_are_clear_and_leak_nothing() {
    let server = serve(|_| Response::new("401 Unauthorized", "no"));
    let provider = NsidcCredentials::new(
        EarthdataLogin::Token(Secret::new("SENTINEL-edl-token")),
        Some(format!("{}/s3credentials", server.url)),
        None,
    )
    .expect("provider");
    let e = runtime()
        .block_on(provider.credentials())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/s3credentials: 401 Unauthorized: the Earthdata Login was refused"),
        "{e}"
    );
    assert!(!e.contains("SENTINEL"), "{e}");

    let garbage = serve(|_| Response::new("200 OK", "<html>maintenance</html>"));
    let provider = NsidcCredentials::new(
        EarthdataLogin::Token(Secret::new("SENTINEL-edl-token")),
        Some(format!("{}/s3credentials", garbage.url)),
        None,
    )
    .expect("provider");
    let e = runtime()
        .block_on(provider.credentials())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unexpected answer (not the credentials JSON)"),
        "{e}"
    );
}
