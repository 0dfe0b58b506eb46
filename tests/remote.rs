//! Granules over HTTP range requests, against a small local server that can require a bearer
//! token, fail with 503, drop connections, answer 404, or send truncated bodies.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::http::{ranged, serve, Response, Server};
use common::*;
use zagg::granule::ByteSource;
use zagg::source::{Cloud, CloudOptions, S3Auth, Secret};

/// How the server misbehaves.
#[derive(Clone, Copy, Default)]
struct Faults {
    /// Answer 503 to this many requests first.
    fail_first: usize,
    /// Close the connection without answering this many requests (after the 503s).
    reset_first: usize,
    /// Send only half of every body (with the full Content-Length: a truncated transfer).
    truncate: bool,
}

/// Serve `files` (name → bytes) with Range support; `token` is required as
/// `Authorization: Bearer …` when given.
fn serve_files(files: Vec<(String, Vec<u8>)>, token: Option<&str>, faults: Faults) -> Server {
    let token = token.map(str::to_string);
    serve(move |req| {
        if req.index < faults.fail_first {
            return Response::new("503 Service Unavailable", "slow down");
        }
        if req.index < faults.fail_first + faults.reset_first {
            return Response::default();
        }
        if let Some(t) = &token {
            if req.headers.get("authorization") != Some(&format!("Bearer {t}")) {
                return Response::new("403 Forbidden", "forbidden");
            }
        }
        let name = req.path.trim_start_matches('/');
        match files.iter().find(|(n, _)| n == name) {
            None => Response::new("404 Not Found", "no such object"),
            Some((_, data)) => Response {
                truncate: faults.truncate,
                ..ranged(req, data)
            },
        }
    })
}

fn cloud(token: Option<&str>, retries: usize) -> Arc<Cloud> {
    let options = CloudOptions {
        allow_http: true,
        s3_auth: S3Auth::Anonymous,
        https_token: token.map(Secret::new),
        max_retries: retries,
        request_timeout: Duration::from_secs(10),
        min_fetch: 64 * 1024,
        ..CloudOptions::default()
    };
    Arc::new(Cloud::new(options).expect("cloud"))
}

fn fixture_bytes(name: &str) -> (String, Vec<u8>) {
    (
        name.to_string(),
        std::fs::read(fixture(name)).expect("fixture"),
    )
}

#[test]
fn http_reads_give_the_same_store_as_local_reads() {
    let names = ["libver_latest.h5", "pole_and_antimeridian.h5", "nan_inf.h5"];
    let server = serve_files(
        names.iter().map(|n| fixture_bytes(n)).collect(),
        Some("edl-token-123"),
        Faults::default(),
    );
    let cloud = cloud(Some("edl-token-123"), 2);
    let remote: Vec<Arc<dyn ByteSource>> = names
        .iter()
        .map(|n| cloud.open(&format!("{}/{n}", server.url)).expect("open"))
        .collect();
    let local = sources(&names.iter().map(|n| fixture(n)).collect::<Vec<_>>());

    let (a, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let ra = run(config(), remote, a.path());
    let rb = run(config(), local, b.path());
    assert_eq!(ra.counts, rb.counts);
    assert!(ra.requests > 0 && ra.bytes_read > 0);
    // Whole blocks are fetched: far fewer requests than the reader's small reads.
    assert!(
        ra.requests * 10 < rb.requests,
        "{} remote vs {} local reads",
        ra.requests,
        rb.requests
    );
    let (ta, tb) = (data_only(tree(a.path())), data_only(tree(b.path())));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(tb[k] == *v, "{k} differs between http and local reads");
    }
    assert!(server.requests() as u64 >= ra.requests);
}

#[test]
fn retries_ride_out_503s_and_resets() {
    let server = serve_files(
        vec![fixture_bytes("libver_latest.h5")],
        None,
        Faults {
            fail_first: 2,
            reset_first: 1,
            truncate: false,
        },
    );
    let cloud = cloud(None, 5);
    let source = cloud
        .open(&format!("{}/libver_latest.h5", server.url))
        .expect("open");
    let session = source.session().expect("first block after retries");
    assert_eq!(
        session.len(),
        std::fs::read(fixture("libver_latest.h5"))
            .expect("read")
            .len() as u64
    );
    assert!(server.requests() >= 4);
}

#[test]
fn clear_errors_for_403_404_truncation_and_exhausted_retries() {
    let files = vec![fixture_bytes("libver_latest.h5")];
    let server = serve_files(files.clone(), Some("right"), Faults::default());
    for token in [Some("wrong"), None] {
        let c = cloud(token, 0);
        let e = c
            .open(&format!("{}/libver_latest.h5", server.url))
            .expect("location")
            .session()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("libver_latest.h5: cannot open: access denied (403)"),
            "{token:?}: {e}"
        );
        assert!(!e.contains("wrong"), "the token leaked into an error: {e}");
    }

    let c = cloud(Some("right"), 0);
    let e = c
        .open(&format!("{}/gone.h5", server.url))
        .expect("location")
        .session()
        .unwrap_err()
        .to_string();
    assert!(e.contains("gone.h5: cannot open: not found (404)"), "{e}");

    let truncating = serve_files(
        files.clone(),
        None,
        Faults {
            truncate: true,
            ..Faults::default()
        },
    );
    let c = cloud(None, 1);
    let e = c
        .open(&format!("{}/libver_latest.h5", truncating.url))
        .expect("location")
        .session()
        .unwrap_err()
        .to_string();
    // A body cut short of its Content-Length is a network fault, not a bad granule: the
    // shard is retried rather than written without it. (A granule file that is itself too
    // short fails as the granule's own error: see the `truncated.h5` fixture.)
    assert!(
        e.contains("libver_latest.h5: temporarily unavailable:"),
        "{e}"
    );

    let failing = serve_files(
        files,
        None,
        Faults {
            fail_first: 1000,
            ..Faults::default()
        },
    );
    let c = cloud(None, 2);
    let e = c
        .open(&format!("{}/libver_latest.h5", failing.url))
        .expect("location")
        .session()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("503") || e.to_lowercase().contains("service unavailable"),
        "{e}"
    );
    assert!(e.contains("temporarily unavailable"), "{e}");
    assert_eq!(failing.requests(), 3, "one try and two retries");
}

#[test]
fn plain_http_needs_allow_http() {
    let c = Arc::new(Cloud::new(CloudOptions::default()).expect("cloud"));
    let e = c.open("http://127.0.0.1:9/x.h5").unwrap_err().to_string();
    assert!(e.contains("plain http:// is not allowed"), "{e}");
}

/// Process the shards of `libver_latest.h5` from `source` into a store that already holds a
/// good run of it; returns the outcomes, and checks that nothing in the store changed.
fn rerun_over_good_store(
    source: Arc<dyn ByteSource>,
) -> Vec<Result<zagg::shard::ShardReport, zagg::shard::ShardError>> {
    let dir = tempfile::tempdir().expect("dir");
    let local = sources(&[fixture("libver_latest.h5")]);
    run(config(), local.clone(), dir.path());
    let before = tree(dir.path());
    let config = config();
    let hasher =
        zagg::grid::Hasher::new(config.grid.parent_order, config.grid.ellipsoid).expect("hasher");
    let shards = zagg::run::granule_shards(&config, &hasher, local[0].clone())
        .expect("the fixture's shards");
    assert!(!shards.is_empty());
    let ctx = zagg::shard::ShardContext::new(config).expect("context");
    let store = zagg::store::Store::open_local(dir.path()).expect("store");
    let outcomes = shards
        .iter()
        .map(|&shard| {
            zagg::shard::process_shard(&ctx, shard, std::slice::from_ref(&source), &store)
        })
        .collect();
    assert!(
        tree(dir.path()) == before,
        "a shard whose granule could not be read changed the store"
    );
    outcomes
}

#[test]
fn a_host_that_keeps_failing_fails_the_shard_and_writes_nothing() {
    let (name, data) = fixture_bytes("libver_latest.h5");
    // The first block (superblock, root group) comes; every later read gets 503s.
    for ok_first in [0, 1] {
        let data = data.clone();
        let server = serve(move |req| {
            if req.index < ok_first {
                ranged(req, &data)
            } else {
                Response::new("503 Service Unavailable", "slow down")
            }
        });
        let source = cloud(None, 1)
            .open(&format!("{}/{name}", server.url))
            .expect("open");
        for outcome in rerun_over_good_store(source) {
            match outcome {
                Err(e @ zagg::shard::ShardError::Unavailable { .. }) => {
                    let text = e.to_string();
                    assert!(text.contains("temporarily unavailable"), "{text}");
                    assert!(text.contains("libver_latest.h5"), "{text}");
                    let stage = zagg::lambda::StageError::from(e);
                    assert_eq!(stage.error_type(), "Zagg.Transient");
                }
                other => panic!("503s after {ok_first} good reads: {other:?}"),
            }
        }
    }
}

#[test]
fn a_shard_whose_granules_are_all_gone_keeps_the_earlier_chunks() {
    let server = serve(|_| Response::new("404 Not Found", "no such object"));
    let source = cloud(None, 1)
        .open(&format!("{}/libver_latest.h5", server.url))
        .expect("open");
    for outcome in rerun_over_good_store(source) {
        let report = outcome.expect("a missing granule is the granule's failure");
        assert_eq!(report.status, zagg::shard::ShardStatus::Failed);
        assert_eq!(report.chunks_written, 0);
        assert!(report.granules_failed[0].error.contains("404"));
    }
}
