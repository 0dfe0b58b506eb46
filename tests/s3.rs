//! Granules and stores on a real S3-compatible server (moto, SPEC §8).
//!
//! These tests need the server: `scripts/test-all.sh` starts moto and runs them with
//! `ZAGG_TEST_S3_ENDPOINT=http://127.0.0.1:PORT cargo test --test s3 -- --ignored`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use zagg::granule::ByteSource;
use zagg::run::{run_local, RunOptions};
use zagg::source::{Cloud, CloudOptions, Location, S3Auth, Secret};
use zagg::store::Store;

fn endpoint() -> String {
    std::env::var("ZAGG_TEST_S3_ENDPOINT")
        .expect("ZAGG_TEST_S3_ENDPOINT must point at an S3-compatible server (scripts/test-all.sh starts moto)")
}

fn cloud() -> Arc<Cloud> {
    let options = CloudOptions {
        endpoint: Some(endpoint()),
        allow_http: true,
        s3_auth: S3Auth::Static {
            key_id: "testing".into(),
            secret_key: Secret::new("testing"),
            token: None,
        },
        ..CloudOptions::default()
    };
    Arc::new(Cloud::new(options).expect("cloud"))
}

/// Create a bucket with a plain unsigned PUT (moto accepts it).
fn create_bucket(name: &str) {
    let host = endpoint().trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&host).expect("connect to the S3 server");
    let body = "<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>";
    write!(
        s,
        "PUT /{name} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read");
    assert!(
        response.starts_with("HTTP/1.1 200") || response.contains("BucketAlreadyOwnedByYou"),
        "{response}"
    );
}

fn client(cloud: &Cloud, bucket: &str) -> Arc<dyn ObjectStore> {
    cloud
        .client(&Location::S3 {
            bucket: bucket.into(),
            key: String::new(),
        })
        .expect("client")
}

fn upload(cloud: &Cloud, bucket: &str, files: &[PathBuf]) -> Vec<String> {
    let c = client(cloud, bucket);
    files
        .iter()
        .map(|f| {
            let name = f
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_string();
            let bytes = std::fs::read(f).expect("read");
            cloud
                .block_on(c.put(
                    &ObjectPath::from(format!("granules/{name}")),
                    PutPayload::from(bytes),
                ))
                .expect("upload");
            format!("s3://{bucket}/granules/{name}")
        })
        .collect()
}

fn s3_tree(
    cloud: &Cloud,
    bucket: &str,
    prefix: &str,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let c = client(cloud, bucket);
    let listed: Vec<_> = cloud
        .block_on(
            c.list(Some(&ObjectPath::from(prefix)))
                .try_collect::<Vec<_>>(),
        )
        .expect("list");
    listed
        .into_iter()
        .map(|m| {
            let key = m
                .location
                .as_ref()
                .strip_prefix(&format!("{prefix}/"))
                .expect("prefix")
                .to_string();
            let bytes = cloud
                .block_on(async { c.get(&m.location).await?.bytes().await })
                .expect("get");
            (key, bytes.to_vec())
        })
        .collect()
}

#[test]
#[ignore = "needs an S3 server: run by scripts/test-all.sh"]
fn s3_granules_and_s3_store_equal_local_ones() {
    let cloud = cloud();
    let bucket = format!("zagg-test-{}", std::process::id());
    create_bucket(&bucket);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/data/demo"))
        .expect("demo dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "h5"))
        .collect();
    files.sort();
    files.extend(real_granules());
    let urls = upload(&cloud, &bucket, &files);
    let remote: Vec<Arc<dyn ByteSource>> =
        urls.iter().map(|u| cloud.open(u).expect("open")).collect();

    let store_url = format!("s3://{bucket}/out/run.zarr");
    let store = Store::open(&store_url, Some(&cloud)).expect("s3 store");
    let options = RunOptions {
        jobs: 2,
        aoi: None,
        progress: false,
        resume: true,
    };
    let remote_report = run_local(config(), remote, &store, &options).expect("run on s3");
    let dir = tempfile::tempdir().expect("tempdir");
    let local_report = run(config(), sources(&files), dir.path());
    assert_eq!(remote_report.counts, local_report.counts);
    assert!(remote_report.shards_failed.is_empty());
    // Few requests: the read plan turns the reader's small reads into a few large fetches.
    assert!(
        remote_report.requests < local_report.requests / 20,
        "{} vs {}",
        remote_report.requests,
        local_report.requests
    );

    let on_s3 = data_only(s3_tree(&cloud, &bucket, "out/run.zarr"));
    let on_disk = data_only(tree(dir.path()));
    assert!(on_s3.keys().any(|k| k.contains("/c/")));
    assert_eq!(
        on_s3.keys().collect::<Vec<_>>(),
        on_disk.keys().collect::<Vec<_>>()
    );
    for (k, v) in &on_s3 {
        assert!(
            on_disk[k] == *v,
            "{k} differs between the S3 and the local store"
        );
    }

    // The S3 store reads back through inspect and plot (chunk listing, chunk reads) as the
    // local one does.
    let local = Store::open_local(dir.path()).expect("local store");
    let ins = zagg::inspect::inspect(&store, None).expect("inspect the s3 store");
    assert!(ins.ok(), "{}", ins.to_text());
    let local_ins = zagg::inspect::inspect(&local, None).expect("inspect the local store");
    assert_eq!(ins.order_summaries, local_ins.order_summaries);
    assert_eq!(ins.variables, local_ins.variables);
    let options = zagg::plot::PlotOptions::new("h_mean");
    let on_s3 = zagg::plot::plot_store(&store, &options).expect("plot the s3 store");
    let on_disk = zagg::plot::plot_store(&local, &options).expect("plot the local store");
    assert_eq!(on_s3.layout, on_disk.layout);
}

#[test]
#[ignore = "needs an S3 server: run by scripts/test-all.sh"]
fn missing_and_forbidden_objects_fail_only_their_granule() {
    let cloud = cloud();
    let bucket = format!("zagg-test-missing-{}", std::process::id());
    create_bucket(&bucket);
    let urls = upload(&cloud, &bucket, &[fixture("libver_latest.h5")]);
    let good = cloud.open(&urls[0]).expect("open");
    let gone = cloud
        .open(&format!("s3://{bucket}/granules/gone.h5"))
        .expect("location");
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(config(), vec![good, gone], dir.path());
    assert_eq!(report.granules_failed.len(), 1);
    let e = &report.granules_failed[0].error;
    assert!(
        e.contains("granules/gone.h5: cannot open: not found (404)"),
        "{e}"
    );
    assert!(report.shards_ok >= 1);
}

#[test]
#[ignore = "needs an S3 server: run by scripts/test-all.sh"]
fn nsidc_buckets_are_read_with_nsidc_credentials_fetched_once() {
    use common::http::{serve, Response};
    // Stand-in for the s3credentials endpoint: moto accepts any key.
    let endpoint_server = serve(|req| {
        if req.headers.get("authorization").map(String::as_str) != Some("Bearer edl") {
            return Response::new("401 Unauthorized", "no");
        }
        let expires =
            (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S+00:00");
        Response::new(
            "200 OK",
            format!(
                r#"{{"accessKeyId":"nsidc","secretAccessKey":"nsidc","sessionToken":"t","expiration":"{expires}"}}"#
            ),
        )
    });
    let provider = Arc::new(
        zagg::credentials::NsidcCredentials::new(
            zagg::credentials::EarthdataLogin::Token(Secret::new("edl")),
            Some(format!("{}/s3credentials", endpoint_server.url)),
            None,
        )
        .expect("provider"),
    );
    let bucket = format!("zagg-test-nsidc-{}", std::process::id());
    create_bucket(&bucket);
    let plain = cloud();
    let urls = upload(
        &plain,
        &bucket,
        &[
            fixture("libver_latest.h5"),
            fixture("pole_and_antimeridian.h5"),
        ],
    );
    let options = CloudOptions {
        endpoint: Some(endpoint()),
        allow_http: true,
        s3_auth: S3Auth::Anonymous,
        nsidc: Some(provider.clone()),
        nsidc_buckets: vec![bucket.clone()],
        ..CloudOptions::default()
    };
    let nsidc_cloud = Arc::new(Cloud::new(options).expect("cloud"));
    let granules: Vec<Arc<dyn ByteSource>> = urls
        .iter()
        .map(|u| nsidc_cloud.open(u).expect("open"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(config(), granules, dir.path());
    assert!(
        report.granules_failed.is_empty(),
        "{:?}",
        report.granules_failed
    );
    assert!(report.shards_ok >= 2);
    assert_eq!(
        provider.fetches(),
        1,
        "credentials are fetched once and reused"
    );
}

/// Kinds of fault the proxy of [`faults_in_front_of_s3_change_nothing`] injects.
const FAULT_KINDS: [&str; 5] = ["503 SlowDown", "reset", "stall", "slow body", "cut body"];

/// A relay to the S3 server that injects faults by request number (deterministic), counting
/// each kind; `faults: false` relays everything.
fn fault_proxy(faults: bool) -> (common::http::Server, Arc<[AtomicUsize; 5]>) {
    use common::http::{relay, serve, Response};
    let upstream = endpoint().trim_start_matches("http://").to_string();
    let counts: Arc<[AtomicUsize; 5]> = Arc::new(Default::default());
    let injected = counts.clone();
    let server = serve(move |req| {
        let n = req.index;
        let kind = match n {
            _ if !faults => None,
            _ if n % 7 == 3 => Some(0),
            _ if n % 11 == 5 => Some(1),
            _ if n % 13 == 7 => Some(2),
            _ if n % 17 == 9 => Some(3),
            _ if n % 19 == 11 => Some(4),
            _ => None,
        };
        if let Some(k) = kind {
            injected[k].fetch_add(1, Ordering::SeqCst);
        }
        match kind {
            Some(0) => Response::new(
                "503 Service Unavailable",
                "<Error><Code>SlowDown</Code></Error>",
            ),
            Some(1) => Response::default(),
            Some(2) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                relay(&upstream, req)
            }
            Some(3) => Response {
                slow: Some(std::time::Duration::from_millis(1)),
                ..relay(&upstream, req)
            },
            Some(4) => Response {
                truncate: true,
                ..relay(&upstream, req)
            },
            _ => relay(&upstream, req),
        }
    });
    (server, counts)
}

#[test]
#[ignore = "needs an S3 server: run by scripts/test-all.sh"]
fn faults_in_front_of_s3_change_nothing() {
    let bucket = format!("zagg-test-faults-{}", std::process::id());
    create_bucket(&bucket);
    let direct = cloud();
    let files = [fixture("libver_latest.h5"), fixture("nan_inf.h5")];
    let urls = upload(&direct, &bucket, &files);
    let dir = tempfile::tempdir().expect("tempdir");
    let local = run(config(), sources(&files), dir.path());
    let on_disk = data_only(tree(dir.path()));

    // The same run through a clean relay and through the faulty one, reading granules from
    // S3 and writing the store to S3.
    let mut requests = Vec::new();
    for faults in [false, true] {
        let (proxy, injected) = fault_proxy(faults);
        let options = CloudOptions {
            endpoint: Some(proxy.url.clone()),
            allow_http: true,
            s3_auth: S3Auth::Static {
                key_id: "testing".into(),
                secret_key: Secret::new("testing"),
                token: None,
            },
            min_fetch: 16 * 1024,
            max_retries: 10,
            ..CloudOptions::default()
        };
        let through = Arc::new(Cloud::new(options).expect("cloud"));
        let granules: Vec<Arc<dyn ByteSource>> = urls
            .iter()
            .map(|u| through.open(u).expect("open"))
            .collect();
        let name = if faults { "faulty.zarr" } else { "clean.zarr" };
        let store_url = format!("s3://{bucket}/{name}");
        let store = Store::open(&store_url, Some(&through)).expect("store");
        let options = RunOptions {
            jobs: 2,
            ..RunOptions::default()
        };
        let report = run_local(config(), granules, &store, &options).expect("run through proxy");
        assert!(
            report.granules_failed.is_empty() && report.shards_failed.is_empty(),
            "{}",
            report.summary()
        );
        assert_eq!(report.counts, local.counts);
        let on_s3 = data_only(s3_tree(&direct, &bucket, name));
        assert_eq!(
            on_s3.keys().collect::<Vec<_>>(),
            on_disk.keys().collect::<Vec<_>>()
        );
        for (k, v) in &on_s3 {
            assert!(on_disk[k] == *v, "{k} differs ({name})");
        }
        let injected: Vec<usize> = injected.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        if faults {
            for (kind, n) in FAULT_KINDS.iter().zip(&injected) {
                assert!(*n >= 1, "no {kind} injected: {injected:?}");
            }
        }
        requests.push((proxy.requests(), injected.iter().sum::<usize>()));
    }
    // Bounded retries: each fault costs at most a couple of extra requests.
    let ((clean, _), (faulty, injected)) = (requests[0], requests[1]);
    println!("requests: {clean} clean, {faulty} with {injected} faults injected");
    assert!(
        faulty <= clean + 2 * injected,
        "{faulty} requests through faults vs {clean} clean with {injected} faults"
    );
}
