//! NASA CMR granule search for one cycle of ATL06 (SPEC §6), and the UMM-G fields zagg uses.
//!
//! `GET {base}/search/granules.umm_json` with `short_name`, `version`, `provider`,
//! `page_size`, the cycle as a `readable_granule_name[]` pattern (`ATL06_*_????CC??_*`,
//! with `options[readable_granule_name][pattern]=true`), optionally `temporal[]` and
//! `bounding_box`. Pages are chained by echoing the `CMR-Search-After` response header;
//! `CMR-Hits` gives the total, and a search that ends with fewer granules than that is an
//! error (a granule missed here is data silently missing from the product). Requests are
//! retried on 429 and 5xx with exponential backoff ([`crate::web`]).
//!
//! The base URL is [`DEFAULT_CMR_URL`] unless a flag or the environment variable
//! [`CMR_URL_ENV`] (`ZAGG_CMR_URL`) names another (a mirror, or a local fake in tests): see
//! [`resolve_base_url`].
//!
//! Each UMM-G item becomes a [`CmrGranule`]: `GranuleUR`, the `s3://` URL of the `.h5` from the
//! `RelatedUrls` entry of type "GET DATA VIA DIRECT ACCESS", the `https://` URL from "GET DATA",
//! the size from `DataGranule.ArchiveAndDistributionInformation`, and every footprint polygon
//! (`SpatialExtent.HorizontalSpatialDomain.Geometry.GPolygons[]`, outer `Boundary` and the
//! holes of its `ExclusiveZone`). Items that cannot be used (no footprint, no URL, a name of
//! another cycle) are listed with the reason instead of being dropped silently.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cycle::{self, GranuleName};
use crate::footprint::Footprint;
use crate::web::{HttpGet, RetryPolicy, WebError};

mod umm;
pub use umm::{parse_page, ParsedPage};

/// The CMR used when neither a flag nor [`CMR_URL_ENV`] names another.
pub const DEFAULT_CMR_URL: &str = "https://cmr.earthdata.nasa.gov";

/// Environment variable with the CMR base URL (read by [`resolve_base_url`]).
pub const CMR_URL_ENV: &str = "ZAGG_CMR_URL";

/// Path of the granule search (UMM-G JSON).
pub const SEARCH_PATH: &str = "/search/granules.umm_json";

/// Product short name.
pub const SHORT_NAME: &str = "ATL06";

/// Default product version.
pub const DEFAULT_VERSION: &str = "007";

/// Default provider (NSIDC's cloud archive).
pub const DEFAULT_PROVIDER: &str = "NSIDC_CPRD";

/// Largest page CMR serves.
pub const MAX_PAGE_SIZE: u32 = 2000;

/// Value of the `Client-Id` header CMR asks clients to send.
pub const CLIENT_ID: &str = "zagg";

/// UMM-G `RelatedUrls` type of the S3 (in-region) link.
pub const TYPE_DIRECT: &str = "GET DATA VIA DIRECT ACCESS";

/// UMM-G `RelatedUrls` type of the HTTPS link.
pub const TYPE_HTTPS: &str = "GET DATA";

/// The CMR base URL: `explicit` (a flag) if given, else `$ZAGG_CMR_URL` if set and not empty,
/// else [`DEFAULT_CMR_URL`]. A trailing `/` is removed.
#[must_use]
pub fn resolve_base_url(explicit: Option<&str>) -> String {
    let from_env = std::env::var(CMR_URL_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let url = explicit
        .map(str::to_string)
        .or(from_env)
        .unwrap_or_else(|| DEFAULT_CMR_URL.to_string());
    url.trim().trim_end_matches('/').to_string()
}

/// Errors of a CMR search. Each names the URL and, where it applies, the page.
#[derive(Debug, thiserror::Error)]
pub enum CmrError {
    /// The HTTP client could not be created.
    #[error("CMR: {0}")]
    Client(WebError),
    /// A page could not be fetched (after retries).
    #[error("CMR page {page}: {source}")]
    Http {
        /// 1-based page number.
        page: u32,
        /// The HTTP error (it names the URL).
        source: WebError,
    },
    /// A page is not UMM-G JSON.
    #[error("CMR page {page} from {url}: not a UMM-G JSON page: {message}")]
    Parse {
        /// 1-based page number.
        page: u32,
        /// The URL.
        url: String,
        /// The parser's message, with the JSON path.
        message: String,
    },
    /// A header that must be a number is not.
    #[error("CMR page {page} from {url}: header {header}: {value:?} is not a number")]
    Header {
        /// 1-based page number.
        page: u32,
        /// The URL.
        url: String,
        /// Header name.
        header: &'static str,
        /// Its value.
        value: String,
    },
    /// Paging ended before `CMR-Hits` granules arrived, or did not end.
    #[error("CMR search at {url}: {message}")]
    Paging {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The query is not valid.
    #[error("CMR query: {0}")]
    Query(String),
}

/// A bounding box in degrees (geodetic). `west > east` crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BoundingBox {
    /// Western longitude, degrees in [-180, 180].
    pub west: f64,
    /// Southern latitude, degrees in [-90, 90].
    pub south: f64,
    /// Eastern longitude, degrees in [-180, 180].
    pub east: f64,
    /// Northern latitude, degrees in [-90, 90], ≥ south.
    pub north: f64,
}

impl BoundingBox {
    /// Parse `W,S,E,N` (degrees).
    ///
    /// # Errors
    /// [`CmrError::Query`] for anything but four numbers within range with south ≤ north.
    pub fn parse(text: &str) -> Result<Self, CmrError> {
        let bad = |why: &str| CmrError::Query(format!("bounding box {text:?}: {why}"));
        let v: Vec<f64> = text
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("expected four numbers W,S,E,N (degrees)"))?;
        let [west, south, east, north] = v[..] else {
            return Err(bad("expected four numbers W,S,E,N (degrees)"));
        };
        let b = Self {
            west,
            south,
            east,
            north,
        };
        b.validate().map_err(|why| bad(&why))?;
        Ok(b)
    }

    fn validate(&self) -> Result<(), String> {
        let lon_ok = |x: f64| (-180.0..=180.0).contains(&x);
        let lat_ok = |x: f64| (-90.0..=90.0).contains(&x);
        if !lon_ok(self.west) || !lon_ok(self.east) {
            return Err("longitudes must be within [-180, 180]".into());
        }
        if !lat_ok(self.south) || !lat_ok(self.north) || self.south > self.north {
            return Err("latitudes must be within [-90, 90] with south ≤ north".into());
        }
        Ok(())
    }

    /// CMR's form, `W,S,E,N`.
    #[must_use]
    pub fn to_param(&self) -> String {
        format!("{},{},{},{}", self.west, self.south, self.east, self.north)
    }
}

/// A temporal window, RFC 3339 UTC (`2023-12-17T21:15:37Z`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Temporal {
    /// Start, inclusive.
    pub start: String,
    /// End, inclusive.
    pub end: String,
}

impl From<cycle::Window> for Temporal {
    /// Whole seconds, rounded outwards (the start down, the end up).
    fn from(w: cycle::Window) -> Self {
        let f =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Self {
            start: f(w.start),
            end: f(w.end + chrono::Duration::milliseconds(999)),
        }
    }
}

/// A granule search for one cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GranuleQuery {
    /// Product short name (`ATL06`).
    pub short_name: String,
    /// Product version (`007`, `006`).
    pub version: String,
    /// CMR provider (`NSIDC_CPRD`).
    pub provider: String,
    /// Cycle, selected by the `cc` field of the granule name.
    pub cycle: u32,
    /// Optional temporal narrowing (the cycle's fitted dates with a margin).
    pub temporal: Option<Temporal>,
    /// Optional spatial narrowing.
    pub bounding_box: Option<BoundingBox>,
    /// Granules per page (1..=2000).
    pub page_size: u32,
}

impl GranuleQuery {
    /// ATL06 of `cycle`, default version and provider, full pages, no narrowing.
    #[must_use]
    pub fn atl06(cycle: u32) -> Self {
        Self {
            short_name: SHORT_NAME.into(),
            version: DEFAULT_VERSION.into(),
            provider: DEFAULT_PROVIDER.into(),
            cycle,
            temporal: None,
            bounding_box: None,
            page_size: MAX_PAGE_SIZE,
        }
    }

    /// The query parameters, in a fixed order.
    ///
    /// # Errors
    /// [`CmrError::Query`] for a page size outside 1..=2000, a cycle outside 1..=99 or a bad
    /// bounding box.
    pub fn params(&self) -> Result<Vec<(String, String)>, CmrError> {
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(CmrError::Query(format!(
                "page size {} is outside 1..={MAX_PAGE_SIZE}",
                self.page_size
            )));
        }
        if !(1..=cycle::MAX_CYCLE).contains(&self.cycle) {
            return Err(CmrError::Query(format!(
                "cycle {} is outside 1..={}",
                self.cycle,
                cycle::MAX_CYCLE
            )));
        }
        let mut p: Vec<(String, String)> = vec![
            ("short_name".into(), self.short_name.clone()),
            ("version".into(), self.version.clone()),
            ("provider".into(), self.provider.clone()),
            ("page_size".into(), self.page_size.to_string()),
            (
                "readable_granule_name[]".into(),
                cycle::name_pattern(&self.short_name, self.cycle),
            ),
            (
                "options[readable_granule_name][pattern]".into(),
                "true".into(),
            ),
        ];
        if let Some(t) = &self.temporal {
            p.push(("temporal[]".into(), format!("{},{}", t.start, t.end)));
        }
        if let Some(b) = &self.bounding_box {
            b.validate()
                .map_err(|why| CmrError::Query(format!("bounding box: {why}")))?;
            p.push(("bounding_box".into(), b.to_param()));
        }
        Ok(p)
    }
}

/// One CMR request exactly as [`CmrClient::search`] sends it: `GET` of `url` (the query
/// string percent-encoded) with `headers` (and the HTTP client's `User-Agent`,
/// [`crate::web::USER_AGENT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmrRequest {
    /// The URL with its query string.
    pub url: String,
    /// Headers zagg adds: `Client-Id`, and `CMR-Search-After` on every page after the first.
    pub headers: Vec<(String, String)>,
}

impl CmrRequest {
    /// The request as text: `GET URL`, then one `Name: value` line per header (the
    /// `User-Agent` included), then a comment line on how later pages differ.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = format!("GET {}\n", self.url);
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\n"));
        }
        s.push_str(&format!("User-Agent: {}\n", crate::web::USER_AGENT));
        s.push_str(&format!("# {}\n", LATER_PAGES));
        s
    }
}

/// How the requests after the first differ from it (printed by [`CmrRequest::to_text`]).
pub const LATER_PAGES: &str = "later pages: the same GET with the header `CMR-Search-After: <the \
     CMR-Search-After header of the previous response>`, until CMR-Hits granules have arrived \
     (429 and 5xx answers are retried with backoff)";

impl GranuleQuery {
    /// The URL of this search at the CMR `base_url` (no trailing `/`): the search path and
    /// [`GranuleQuery::params`], percent-encoded. Every page is fetched from this URL.
    ///
    /// # Errors
    /// [`CmrError::Query`] for an invalid query or a base URL that is not a URL.
    pub fn url(&self, base_url: &str) -> Result<String, CmrError> {
        let params = self.params()?;
        let base = format!("{}{SEARCH_PATH}", base_url.trim().trim_end_matches('/'));
        reqwest::Url::parse_with_params(&base, &params)
            .map(String::from)
            .map_err(|e| CmrError::Query(format!("CMR URL {base:?}: {e}")))
    }

    /// The request for a page of this search at `base_url`: the first page without
    /// `search_after`, later ones with the previous response's `CMR-Search-After` value.
    ///
    /// # Errors
    /// As [`GranuleQuery::url`].
    pub fn request(
        &self,
        base_url: &str,
        search_after: Option<&str>,
    ) -> Result<CmrRequest, CmrError> {
        let mut headers = vec![("Client-Id".to_string(), CLIENT_ID.to_string())];
        if let Some(token) = search_after {
            headers.push(("CMR-Search-After".to_string(), token.to_string()));
        }
        Ok(CmrRequest {
            url: self.url(base_url)?,
            headers,
        })
    }
}

/// One granule as the catalog needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmrGranule {
    /// `GranuleUR`, the file name (`ATL06_…_007_01.h5`).
    pub id: String,
    /// The `s3://` URL of the `.h5` ("GET DATA VIA DIRECT ACCESS").
    pub s3: Option<String>,
    /// The `https://` URL of the `.h5` ("GET DATA").
    pub https: Option<String>,
    /// Size in bytes, when CMR gives it.
    pub size_bytes: Option<u64>,
    /// Footprint polygons (all `GPolygons`, with their holes).
    pub footprints: Vec<Footprint>,
}

/// A granule CMR returned that the catalog does not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Skipped {
    /// `GranuleUR`, or the concept id when the item has none.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// What a search returned.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Usable granules, in the order CMR returned them, without duplicates.
    pub granules: Vec<CmrGranule>,
    /// Items left out, with the reason.
    pub skipped: Vec<Skipped>,
    /// `CMR-Hits` of the search.
    pub hits: u64,
    /// Pages fetched.
    pub pages: u32,
    /// Requests retried (429, 5xx, transport errors).
    pub retries: u32,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// A CMR granule search client.
#[derive(Debug, Clone)]
pub struct CmrClient {
    base_url: String,
    http: HttpGet,
}

impl CmrClient {
    /// A client for the CMR at `base_url` (e.g. [`DEFAULT_CMR_URL`]; see
    /// [`resolve_base_url`]).
    ///
    /// # Errors
    /// [`CmrError::Client`] when the HTTP client cannot be created.
    pub fn new(base_url: &str, retry: RetryPolicy) -> Result<Self, CmrError> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            http: HttpGet::new(retry).map_err(CmrError::Client)?,
        })
    }

    /// The base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Run a search to the end, following `CMR-Search-After`. Each page is the
    /// [`GranuleQuery::request`] of the query at this client's base URL.
    ///
    /// Granules whose name gives another cycle than the query's are skipped (a mirror may
    /// ignore the name pattern); duplicates (same `GranuleUR`) are kept once.
    ///
    /// # Errors
    /// [`CmrError`] when a page cannot be fetched after the retries, is not UMM-G JSON, or when
    /// fewer than `CMR-Hits` items arrive.
    pub fn search(&self, query: &GranuleQuery) -> Result<SearchResult, CmrError> {
        let started = Instant::now();
        let url = query.url(&self.base_url)?;
        let mut result = SearchResult {
            granules: Vec::new(),
            skipped: Vec::new(),
            hits: 0,
            pages: 0,
            retries: 0,
            seconds: 0.0,
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut received: u64 = 0;
        let mut search_after: Option<String> = None;
        loop {
            let page = result.pages + 1;
            let request = query.request(&self.base_url, search_after.as_deref())?;
            let headers: Vec<(&str, String)> = request
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            let reply = self
                .http
                .get(&request.url, &[], &headers)
                .map_err(|source| CmrError::Http { page, source })?;
            result.pages = page;
            result.retries += reply.retries;
            let ParsedPage {
                hits: body_hits,
                items,
            } = parse_page(&reply.body).map_err(|message| CmrError::Parse {
                page,
                url: url.clone(),
                message,
            })?;
            let hits = match reply.header("CMR-Hits") {
                Some(v) => v.trim().parse::<u64>().map_err(|_| CmrError::Header {
                    page,
                    url: url.clone(),
                    header: "CMR-Hits",
                    value: v.to_string(),
                })?,
                None => body_hits.unwrap_or(0),
            };
            result.hits = hits;
            let n = items.len() as u64;
            received += n;
            for item in items {
                match item {
                    Ok(g) => {
                        let cycle = GranuleName::parse(&g.id).map(|n| n.cycle);
                        if cycle != Some(query.cycle) {
                            result.skipped.push(Skipped {
                                reason: match cycle {
                                    Some(c) => format!("name gives cycle {c}, not {}", query.cycle),
                                    None => "not an ICESat-2 granule name".into(),
                                },
                                id: g.id,
                            });
                        } else if seen.insert(g.id.clone()) {
                            result.granules.push(g);
                        } else {
                            tracing::warn!(granule = %g.id, page, "duplicate granule ignored");
                        }
                    }
                    Err(s) => {
                        tracing::warn!(granule = %s.id, reason = %s.reason, "granule skipped");
                        result.skipped.push(s);
                    }
                }
            }
            tracing::debug!(page, items = n, received, hits, "CMR page");
            let next = reply.header("CMR-Search-After").map(str::to_string);
            if n == 0 || received >= hits || next.is_none() {
                break;
            }
            if next == search_after {
                return Err(CmrError::Paging {
                    url,
                    message: format!("page {page} repeated the CMR-Search-After value"),
                });
            }
            let max_pages = hits / u64::from(query.page_size) + 2;
            if u64::from(page) > max_pages {
                return Err(CmrError::Paging {
                    url,
                    message: format!("more than {max_pages} pages for {hits} hits"),
                });
            }
            search_after = next;
        }
        if received < result.hits {
            return Err(CmrError::Paging {
                url,
                message: format!(
                    "only {received} of {} granules (CMR-Hits) arrived in {} page(s)",
                    result.hits, result.pages
                ),
            });
        }
        result.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            granules = result.granules.len(),
            skipped = result.skipped.len(),
            hits = result.hits,
            pages = result.pages,
            retries = result.retries,
            "CMR search done"
        );
        Ok(result)
    }
}

/// Retry policy for CMR: the [`RetryPolicy`] default, with a shorter first wait when
/// `fast` (tests and local mirrors).
#[must_use]
pub fn retry_policy(fast: bool) -> RetryPolicy {
    if fast {
        RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        }
    } else {
        RetryPolicy::default()
    }
}

#[cfg(test)]
mod tests;
