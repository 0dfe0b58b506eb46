//! A fake CMR granule search on 127.0.0.1: serves UMM-G items from the fixtures under
//! `tests/data/cmr/`, filtered and paged the way CMR does it, with failures on demand.
//!
//! It implements what zagg's client uses of `GET /search/granules.umm_json`: `short_name`,
//! `version`, `provider` (exact), `readable_granule_name[]` (`*`/`?` patterns when
//! `options[readable_granule_name][pattern]=true`), `temporal[]` (`start,end`, overlapping the
//! granule's `RangeDateTime`), `bounding_box` (`W,S,E,N`; a footprint vertex inside it),
//! `page_size`; paging with `CMR-Hits` and `CMR-Search-After` (an opaque token per page; an
//! unknown token is a 400, like CMR). Unknown parameters are a 400 too.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A failure the server answers with instead of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// This status, with `Retry-After: 0`.
    Status(u16),
    /// Close the connection without answering.
    Drop,
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request target as it arrived (path and raw query string).
    pub target: String,
    /// Path without the query.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The status answered.
    pub status: u16,
}

impl Seen {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    items: Vec<Value>,
    failures: VecDeque<Failure>,
    seen: Vec<Seen>,
    tokens: HashMap<String, usize>,
    next_token: u64,
    extra_hits: u64,
    scheduled: HashMap<usize, Failure>,
    ignore_pattern: bool,
}

/// The running server; stopped when dropped.
pub struct FakeCmr {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// The items of a fixture page, with `{DEMO_DIR}` replaced by `demo_dir`.
pub fn load_items(file: &Path, demo_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).expect("fixture");
    let text = text.replace("{DEMO_DIR}", &demo_dir.display().to_string());
    let page: Value = serde_json::from_str(&text).expect("fixture JSON");
    page["items"].as_array().expect("items").clone()
}

impl FakeCmr {
    /// Serve `items` on a free port.
    pub fn start(items: Vec<Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            items,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let s = s.clone();
                    std::thread::spawn(move || handle(stream, &s));
                }
            }
        });
        Self {
            url,
            state,
            stop,
            handle: Some(handle),
        }
    }

    /// Answer the next requests with these failures, in order.
    pub fn fail_next(&self, failures: &[Failure]) {
        self.state
            .lock()
            .unwrap()
            .failures
            .extend(failures.iter().copied());
    }

    /// Answer request number `n` (0-based, counting every request seen) with `failure`.
    pub fn fail_request(&self, n: usize, failure: Failure) {
        self.state.lock().unwrap().scheduled.insert(n, failure);
    }

    /// Ignore `readable_granule_name[]` (a mirror that does not implement it).
    pub fn ignore_name_pattern(&self) {
        self.state.lock().unwrap().ignore_pattern = true;
    }

    /// Report `extra` more hits than there are items (a search that cannot complete).
    pub fn inflate_hits(&self, extra: u64) {
        self.state.lock().unwrap().extra_hits = extra;
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

impl Drop for FakeCmr {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `*` any run, `?` one character.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s.trim())
        .expect("RFC 3339 time")
        .with_timezone(&Utc)
}

fn vertices(item: &Value) -> Vec<(f64, f64)> {
    let mut v = Vec::new();
    if let Some(polys) =
        item["umm"]["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"]["GPolygons"].as_array()
    {
        for p in polys {
            for pt in p["Boundary"]["Points"].as_array().into_iter().flatten() {
                v.push((
                    pt["Longitude"].as_f64().unwrap_or(f64::NAN),
                    pt["Latitude"].as_f64().unwrap_or(f64::NAN),
                ));
            }
        }
    }
    v
}

/// Whether `item` matches the query; `Err` for a query CMR would reject.
fn matches(item: &Value, query: &[(String, String)], ignore_pattern: bool) -> Result<bool, String> {
    let umm = &item["umm"];
    let name = umm["GranuleUR"].as_str().unwrap_or("");
    let pattern = query
        .iter()
        .any(|(k, v)| k == "options[readable_granule_name][pattern]" && v == "true");
    for (k, v) in query {
        let ok = match k.as_str() {
            "short_name" => umm["CollectionReference"]["ShortName"] == v.as_str(),
            "version" => umm["CollectionReference"]["Version"] == v.as_str(),
            "provider" => item["meta"]["provider-id"] == v.as_str(),
            "readable_granule_name[]" => {
                if ignore_pattern {
                    true
                } else if pattern {
                    glob(v.as_bytes(), name.as_bytes())
                } else {
                    name == v
                }
            }
            "options[readable_granule_name][pattern]" | "page_size" => true,
            "temporal[]" => {
                let (a, b) = v.split_once(',').ok_or("temporal[] needs start,end")?;
                let range = &umm["TemporalExtent"]["RangeDateTime"];
                let begin = time(range["BeginningDateTime"].as_str().unwrap_or(""));
                let end = time(range["EndingDateTime"].as_str().unwrap_or(""));
                begin <= time(b) && end >= time(a)
            }
            "bounding_box" => {
                let b: Vec<f64> = v
                    .split(',')
                    .map(|x| x.parse().unwrap_or(f64::NAN))
                    .collect();
                let [w, s, e, n] = b[..] else {
                    return Err("bounding_box needs W,S,E,N".into());
                };
                vertices(item).iter().any(|&(lo, la)| {
                    let lon_in = if w <= e {
                        lo >= w && lo <= e
                    } else {
                        lo >= w || lo <= e
                    };
                    lon_in && la >= s && la <= n
                })
            }
            other => return Err(format!("Parameter [{other}] was not recognized.")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn respond(stream: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let (path, qs) = target.split_once('?').unwrap_or((&target, ""));
    let query: Vec<(String, String)> = qs
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let mut st = state.lock().unwrap();
    let mut seen = Seen {
        target: target.clone(),
        path: path.to_string(),
        query: query.clone(),
        headers: headers.clone(),
        status: 200,
    };
    let n = st.seen.len();
    let injected = st.scheduled.remove(&n).or_else(|| st.failures.pop_front());
    if let Some(f) = injected {
        match f {
            Failure::Status(code) => {
                seen.status = code;
                st.seen.push(seen);
                drop(st);
                respond(
                    &mut stream,
                    code,
                    &[("Retry-After".into(), "0".into())],
                    br#"{"errors":["injected failure"]}"#,
                );
            }
            Failure::Drop => {
                seen.status = 0;
                st.seen.push(seen);
                drop(st);
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
        return;
    }
    let fail = |st: &mut State, mut seen: Seen, stream: &mut TcpStream, code: u16, msg: String| {
        seen.status = code;
        st.seen.push(seen);
        let body = serde_json::json!({ "errors": [msg] }).to_string();
        respond(stream, code, &[], body.as_bytes());
    };
    if path != "/search/granules.umm_json" {
        return fail(&mut st, seen, &mut stream, 404, format!("no route {path}"));
    }
    // Indices of the matching items (the items themselves are only borrowed).
    let mut selected: Vec<usize> = Vec::new();
    for (i, item) in st.items.iter().enumerate() {
        match matches(item, &query, st.ignore_pattern) {
            Ok(true) => selected.push(i),
            Ok(false) => {}
            Err(msg) => return fail(&mut st, seen, &mut stream, 400, msg),
        }
    }
    let page_size: usize = seen
        .param("page_size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    if !(1..=2000).contains(&page_size) {
        return fail(
            &mut st,
            seen,
            &mut stream,
            400,
            "page_size must be 1..=2000".into(),
        );
    }
    let offset = match headers.get("cmr-search-after") {
        None => 0,
        Some(token) => match st.tokens.get(token) {
            Some(&o) => o,
            None => {
                return fail(
                    &mut st,
                    seen,
                    &mut stream,
                    400,
                    format!("Invalid CMR-Search-After {token}"),
                )
            }
        },
    };
    let page: Vec<usize> = selected
        .iter()
        .skip(offset)
        .take(page_size)
        .copied()
        .collect();
    let hits = selected.len() as u64 + st.extra_hits;
    let body = {
        let items: Vec<&Value> = page.iter().map(|&i| &st.items[i]).collect();
        serde_json::json!({ "hits": hits, "took": 5, "items": items }).to_string()
    };
    let mut out_headers = vec![("CMR-Hits".to_string(), hits.to_string())];
    if let Some(&last) = page.last() {
        st.next_token += 1;
        let id = st.items[last]["umm"]["GranuleUR"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let token = format!("[\"{id}\",{}]", st.next_token);
        st.tokens.insert(token.clone(), offset + page.len());
        out_headers.push(("CMR-Search-After".into(), token));
    }
    st.seen.push(seen);
    drop(st);
    respond(&mut stream, 200, &out_headers, body.as_bytes());
}
