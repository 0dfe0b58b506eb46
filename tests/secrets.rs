//! Secrets never appear in logs, errors, reports or written objects: a run with sentinel
//! credentials at the most verbose log level, with a granule that fails, scanned end to end.

mod common;

use std::process::Command;

use common::http::{ranged, serve, Response};
use common::*;

const SENTINEL: &str = "SENTINEL-7f3a9c";

#[test]
fn no_secret_in_any_output() {
    let data = std::fs::read(fixture("libver_latest.h5")).expect("fixture");
    let token = format!("{SENTINEL}-edl-token");
    let expected = format!("Bearer {token}");
    let server = serve(move |req| {
        if req.headers.get("authorization") != Some(&expected) {
            return Response::new("403 Forbidden", "forbidden");
        }
        match req.path.as_str() {
            "/good.h5" => ranged(req, &data),
            "/denied.h5" => Response::new("403 Forbidden", "denied"),
            _ => Response::new("404 Not Found", "gone"),
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("out.zarr");
    let output = Command::new(env!("CARGO_BIN_EXE_zagg"))
        .args(["run", "--jobs", "2", "--json", "--store"])
        .arg(&store)
        .arg("--granules")
        .args([
            format!("{}/good.h5", server.url),
            format!("{}/denied.h5", server.url),
            format!("{}/gone.h5", server.url),
        ])
        .env("RUST_LOG", "trace")
        .env("AWS_ALLOW_HTTP", "true")
        .env("EARTHDATA_TOKEN", &token)
        .env("EARTHDATA_USERNAME", "user")
        .env("EARTHDATA_PASSWORD", format!("{SENTINEL}-password"))
        .env("AWS_ACCESS_KEY_ID", format!("{SENTINEL}-AKID"))
        .env("AWS_SECRET_ACCESS_KEY", format!("{SENTINEL}-secret"))
        .env("AWS_SESSION_TOKEN", format!("{SENTINEL}-session"))
        .output()
        .expect("run zagg");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // The run worked and the failures were reported...
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json report");
    assert_eq!(
        report["granules_failed"].as_array().map(Vec::len),
        Some(2),
        "{stdout}"
    );
    assert!(
        stdout.contains("denied.h5: cannot open: access denied (403)"),
        "{stdout}"
    );
    assert!(report["shards_ok"].as_u64() >= Some(1));
    assert!(stderr.len() > 1000, "trace logging produced little output");
    // ...and no secret is anywhere.
    assert!(!stdout.contains(SENTINEL), "secret in stdout");
    assert!(!stderr.contains(SENTINEL), "secret in the logs");
    let files = tree(&store);
    assert!(files.keys().any(|k| k == "run.json"));
    for (name, bytes) in files {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SENTINEL),
            "secret in {name}"
        );
    }
}
