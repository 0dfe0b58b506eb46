//! A minimal HTTP/1.1 server on 127.0.0.1 for tests: each connection is one request, answered
//! by a handler. Enough for range GETs, redirects, cookies and fault injection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// Path and query, e.g. `/a/b.h5?x=1`.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// Index of this request since the server started (0-based).
    pub index: usize,
    /// Body (from Content-Length).
    pub body: Vec<u8>,
}

/// What to answer.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// Status line after `HTTP/1.1 `, e.g. `200 OK`; empty: drop the connection.
    pub status: String,
    /// Extra header lines, each without CRLF.
    pub headers: Vec<String>,
    /// Body.
    pub body: Vec<u8>,
    /// Send only the first half of the body (Content-Length stays full).
    pub truncate: bool,
    /// Send these bytes verbatim instead (a relayed upstream response).
    pub raw: Option<Vec<u8>>,
    /// Send the response in 1 KiB pieces with this pause between them (a slow body).
    pub slow: Option<Duration>,
}

impl Response {
    /// A response with a status and body.
    pub fn new(status: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: status.into(),
            body: body.into(),
            ..Self::default()
        }
    }
    /// Add a header line.
    pub fn header(mut self, line: impl Into<String>) -> Self {
        self.headers.push(line.into());
        self
    }
}

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Port.
    pub port: u16,
    requests: Arc<AtomicUsize>,
}

impl Server {
    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Start a server answering every request with `handler`.
pub fn serve(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let index = count.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, index, &*handler);
            });
        }
    });
    Server {
        url: format!("http://127.0.0.1:{port}"),
        port,
        requests,
    }
}

fn answer(
    mut stream: TcpStream,
    index: usize,
    handler: &dyn Fn(&Request) -> Response,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let response = handler(&Request {
        method: method.clone(),
        path,
        headers,
        index,
        body,
    });
    let send = |stream: &mut TcpStream, bytes: &[u8]| -> std::io::Result<()> {
        match response.slow {
            None => stream.write_all(bytes),
            Some(pause) => {
                for piece in bytes.chunks(1024) {
                    stream.write_all(piece)?;
                    stream.flush()?;
                    std::thread::sleep(pause);
                }
                Ok(())
            }
        }
    };
    if let Some(raw) = &response.raw {
        // `truncate` cuts a relayed response (headers included) in the middle.
        let raw = if response.truncate {
            &raw[..raw.len() / 2]
        } else {
            &raw[..]
        };
        send(&mut stream, raw)?;
        return stream.flush();
    }
    if response.status.is_empty() {
        return Ok(());
    }
    write!(
        stream,
        "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.body.len()
    )?;
    for h in &response.headers {
        write!(stream, "{h}\r\n")?;
    }
    stream.write_all(b"\r\n")?;
    if method != "HEAD" {
        let body = if response.truncate {
            &response.body[..response.body.len() / 2]
        } else {
            &response.body[..]
        };
        send(&mut stream, body)?;
    }
    stream.flush()
}

/// Serve byte ranges of `data` for a GET/HEAD request (a `Range: bytes=a-b` header).
pub fn ranged(request: &Request, data: &[u8]) -> Response {
    let range = request
        .headers
        .get("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .map(|r| {
            let (a, b) = r.split_once('-').unwrap_or(("0", ""));
            let a = a.parse::<usize>().unwrap_or(0).min(data.len());
            let b = b
                .parse::<usize>()
                .map_or(data.len(), |b| (b + 1).min(data.len()));
            (a, b.max(a))
        });
    let (start, end) = range.unwrap_or((0, data.len()));
    Response::new(
        if range.is_some() {
            "206 Partial Content"
        } else {
            "200 OK"
        },
        data[start..end].to_vec(),
    )
    .header(format!(
        "Content-Range: bytes {start}-{}/{}",
        end.saturating_sub(1),
        data.len()
    ))
    .header("Accept-Ranges: bytes")
    .header("Last-Modified: Wed, 01 Jan 2025 00:00:00 GMT")
    .header("ETag: \"fixture\"")
}

/// Relay a request to `upstream` (`host:port`) over a fresh connection and return its raw
/// response (the upstream is asked to close the connection, so the response ends at EOF).
pub fn relay(upstream: &str, req: &Request) -> Response {
    let relayed = (|| -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(upstream)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(s, "{} {} HTTP/1.1\r\n", req.method, req.path)?;
        for (k, v) in &req.headers {
            if k != "connection" {
                write!(s, "{k}: {v}\r\n")?;
            }
        }
        write!(s, "connection: close\r\n\r\n")?;
        s.write_all(&req.body)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(out)
    })();
    match relayed {
        Ok(raw) => Response {
            raw: Some(raw),
            ..Response::default()
        },
        Err(e) => Response::new("502 Bad Gateway", e.to_string()),
    }
}
