//! Granules over HTTP range requests, against a small local server that can require a bearer
//! token, fail with 503, drop connections, answer 404, or send truncated bodies.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

struct Server {
    url: String,
    requests: Arc<AtomicUsize>,
}

/// Serve `files` (name → bytes) on 127.0.0.1 with Range support; `token` is required as
/// `Authorization: Bearer …` when given.
fn serve(files: Vec<(String, Vec<u8>)>, token: Option<&str>, faults: Faults) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    let files = Arc::new(files);
    let token = token.map(str::to_string);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let files = files.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                let _ = handle(stream, &files, token.as_deref(), faults, n);
            });
        }
    });
    Server { url, requests }
}

fn handle(
    mut stream: TcpStream,
    files: &[(String, Vec<u8>)],
    token: Option<&str>,
    f: Faults,
    n: usize,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    let mut auth = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range: bytes=") {
            let (a, b) = v.trim().split_once('-').unwrap_or(("0", ""));
            range = Some((a.parse::<usize>().unwrap_or(0), b.parse::<usize>().ok()));
        }
        if lower.starts_with("authorization:") {
            auth = Some(line["authorization:".len()..].trim().to_string());
        }
    }
    let respond = |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        )?;
        stream.write_all(body)
    };
    if n < f.fail_first {
        return respond(&mut stream, "503 Service Unavailable", "", b"slow down");
    }
    if n < f.fail_first + f.reset_first {
        return Ok(()); // drop the connection
    }
    if let Some(t) = token {
        if auth.as_deref() != Some(&format!("Bearer {t}")) {
            return respond(&mut stream, "403 Forbidden", "", b"forbidden");
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    let Some((_, data)) = files.iter().find(|(name, _)| *name == path) else {
        return respond(&mut stream, "404 Not Found", "", b"no such object");
    };
    let head = request_line.starts_with("HEAD");
    let (start, end) = match range {
        Some((a, b)) => (
            a.min(data.len()),
            b.map_or(data.len(), |b| (b + 1).min(data.len())),
        ),
        None => (0, data.len()),
    };
    let body = &data[start..end];
    let headers = format!(
        "Content-Range: bytes {start}-{}/{}\r\nAccept-Ranges: bytes\r\nLast-Modified: Wed, 01 Jan 2025 00:00:00 GMT\r\nETag: \"x\"\r\n",
        end.saturating_sub(1),
        data.len()
    );
    let status = if range.is_some() {
        "206 Partial Content"
    } else {
        "200 OK"
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )?;
    if head {
        return Ok(());
    }
    if f.truncate {
        stream.write_all(&body[..body.len() / 2])?;
    } else {
        stream.write_all(body)?;
    }
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    Ok(())
}

fn cloud(token: Option<&str>, retries: usize) -> Arc<Cloud> {
    let options = CloudOptions {
        allow_http: true,
        s3_auth: S3Auth::Anonymous,
        https_token: token.map(Secret::new),
        max_retries: retries,
        request_timeout: Duration::from_secs(10),
        block_size: 256 * 1024,
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
    let server = serve(
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
    let (mut ta, mut tb) = (tree(a.path()), tree(b.path()));
    ta.remove("run.json");
    tb.remove("run.json");
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(tb[k] == *v, "{k} differs between http and local reads");
    }
    assert!(server.requests.load(Ordering::SeqCst) as u64 >= ra.requests);
}

#[test]
fn retries_ride_out_503s_and_resets() {
    let server = serve(
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
    assert!(server.requests.load(Ordering::SeqCst) >= 4);
}

#[test]
fn clear_errors_for_403_404_truncation_and_exhausted_retries() {
    let files = vec![fixture_bytes("libver_latest.h5")];
    let server = serve(files.clone(), Some("right"), Faults::default());
    let c = cloud(Some("wrong"), 0);
    let e = c
        .open(&format!("{}/libver_latest.h5", server.url))
        .expect("location")
        .session()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("libver_latest.h5: cannot open: access denied (403)"),
        "{e}"
    );
    assert!(!e.contains("wrong"), "the token leaked into an error: {e}");

    let c = cloud(Some("right"), 0);
    let e = c
        .open(&format!("{}/gone.h5", server.url))
        .expect("location")
        .session()
        .unwrap_err()
        .to_string();
    assert!(e.contains("gone.h5: cannot open: not found (404)"), "{e}");

    let truncating = serve(
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
    assert!(e.contains("libver_latest.h5: cannot open:"), "{e}");

    let failing = serve(
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
    assert_eq!(
        failing.requests.load(Ordering::SeqCst),
        3,
        "one try and two retries"
    );
}

#[test]
fn plain_http_needs_allow_http() {
    let c = Arc::new(Cloud::new(CloudOptions::default()).expect("cloud"));
    let e = c.open("http://127.0.0.1:9/x.h5").unwrap_err().to_string();
    assert!(e.contains("plain http:// is not allowed"), "{e}");
}
