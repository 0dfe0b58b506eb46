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

// --- UMM-G, the fields zagg reads -------------------------------------------------------------

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    hits: Option<u64>,
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    meta: Option<Meta>,
    umm: Umm,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "concept-id", default)]
    concept_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Umm {
    #[serde(rename = "GranuleUR", default)]
    granule_ur: Option<String>,
    #[serde(default)]
    related_urls: Vec<RelatedUrl>,
    #[serde(default)]
    spatial_extent: Option<SpatialExtent>,
    #[serde(default)]
    data_granule: Option<DataGranule>,
}

#[derive(Deserialize)]
struct RelatedUrl {
    #[serde(rename = "URL")]
    url: String,
    #[serde(rename = "Type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SpatialExtent {
    #[serde(default)]
    horizontal_spatial_domain: Option<HorizontalSpatialDomain>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HorizontalSpatialDomain {
    #[serde(default)]
    geometry: Option<Geometry>,
}

#[derive(Deserialize)]
struct Geometry {
    #[serde(rename = "GPolygons", default)]
    gpolygons: Vec<GPolygon>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GPolygon {
    boundary: Boundary,
    #[serde(default)]
    exclusive_zone: Option<ExclusiveZone>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Boundary {
    points: Vec<Point>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExclusiveZone {
    #[serde(default)]
    boundaries: Vec<Boundary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Point {
    longitude: f64,
    latitude: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataGranule {
    #[serde(default)]
    archive_and_distribution_information: Vec<ArchiveInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveInfo {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    size: Option<f64>,
    #[serde(default)]
    size_unit: Option<String>,
    #[serde(default)]
    size_in_bytes: Option<u64>,
}

impl ArchiveInfo {
    fn bytes(&self) -> Option<u64> {
        if let Some(b) = self.size_in_bytes {
            return Some(b);
        }
        let factor = match self.size_unit.as_deref()?.to_ascii_uppercase().as_str() {
            "B" => 1.0,
            "KB" => 1024.0,
            // CMR does not say whether MB is 10^6 or 2^20 bytes; the larger is the safer guess.
            "MB" => 1024.0 * 1024.0,
            "GB" => 1024.0 * 1024.0 * 1024.0,
            _ => return None,
        };
        let size = self.size?;
        (size.is_finite() && size >= 0.0).then(|| (size * factor).round() as u64)
    }
}

/// The URL of a `.h5` among `urls` of UMM-G type `kind` with scheme `scheme` (`s3://`).
fn pick_url(urls: &[RelatedUrl], kind: &str, scheme: &str) -> Option<String> {
    let candidates: Vec<&str> = urls
        .iter()
        .filter(|u| u.kind.as_deref() == Some(kind) && u.url.starts_with(scheme))
        .map(|u| u.url.as_str())
        .collect();
    candidates
        .iter()
        .find(|u| u.ends_with(".h5"))
        .or(candidates.first())
        .map(|u| (*u).to_string())
}

fn ring(b: &Boundary) -> Vec<[f64; 2]> {
    b.points.iter().map(|p| [p.longitude, p.latitude]).collect()
}

/// Turn one UMM-G item into a granule, or say why it cannot be used.
fn granule_of(item: Item) -> Result<CmrGranule, Skipped> {
    let concept = item.meta.and_then(|m| m.concept_id);
    let umm = item.umm;
    let Some(id) = umm.granule_ur.filter(|s| !s.is_empty()) else {
        return Err(Skipped {
            id: concept.unwrap_or_else(|| "(no GranuleUR)".into()),
            reason: "no GranuleUR".into(),
        });
    };
    let skip = |reason: String| Skipped {
        id: id.clone(),
        reason,
    };
    let footprints: Vec<Footprint> = umm
        .spatial_extent
        .and_then(|s| s.horizontal_spatial_domain)
        .and_then(|h| h.geometry)
        .map(|g| {
            g.gpolygons
                .iter()
                .map(|p| Footprint {
                    outer: ring(&p.boundary),
                    holes: p
                        .exclusive_zone
                        .as_ref()
                        .map(|z| z.boundaries.iter().map(ring).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    if footprints.is_empty() {
        return Err(skip("no GPolygons footprint".into()));
    }
    let s3 = pick_url(&umm.related_urls, TYPE_DIRECT, "s3://");
    let https = pick_url(&umm.related_urls, TYPE_HTTPS, "https://")
        // Local mirrors and tests may serve granules as files.
        .or_else(|| pick_url(&umm.related_urls, TYPE_HTTPS, "file://"))
        .or_else(|| pick_url(&umm.related_urls, TYPE_HTTPS, "http://"));
    if s3.is_none() && https.is_none() {
        return Err(skip(format!(
            "no \"{TYPE_DIRECT}\" s3:// or \"{TYPE_HTTPS}\" https:// URL"
        )));
    }
    let size_bytes = umm.data_granule.and_then(|d| {
        let infos = &d.archive_and_distribution_information;
        infos
            .iter()
            .find(|i| i.name.as_deref().is_some_and(|n| n.ends_with(".h5")))
            .or(infos.first())
            .and_then(ArchiveInfo::bytes)
    });
    Ok(CmrGranule {
        id,
        s3,
        https,
        size_bytes,
        footprints,
    })
}

/// One UMM-G page, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPage {
    /// `hits` of the body, if present (the `CMR-Hits` header is preferred).
    pub hits: Option<u64>,
    /// Each item as a granule, or why it cannot be used.
    pub items: Vec<Result<CmrGranule, Skipped>>,
}

/// Parse one UMM-G JSON page into granules and skipped items.
///
/// # Errors
/// The parser's message with the JSON path, when the page is not UMM-G JSON.
pub fn parse_page(text: &[u8]) -> Result<ParsedPage, String> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    let page: Page = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        format!("{path}: {}", e.into_inner())
    })?;
    Ok(ParsedPage {
        hits: page.hits,
        items: page.items.into_iter().map(granule_of).collect(),
    })
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

    /// Run a search to the end, following `CMR-Search-After`.
    ///
    /// Granules whose name gives another cycle than the query's are skipped (a mirror may
    /// ignore the name pattern); duplicates (same `GranuleUR`) are kept once.
    ///
    /// # Errors
    /// [`CmrError`] when a page cannot be fetched after the retries, is not UMM-G JSON, or when
    /// fewer than `CMR-Hits` items arrive.
    pub fn search(&self, query: &GranuleQuery) -> Result<SearchResult, CmrError> {
        let started = Instant::now();
        let params = query.params()?;
        let url = format!("{}{SEARCH_PATH}", self.base_url);
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
            let mut headers = vec![("Client-Id", CLIENT_ID.to_string())];
            if let Some(token) = &search_after {
                headers.push(("CMR-Search-After", token.clone()));
            }
            let reply = self
                .http
                .get(&url, &params, &headers)
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
mod tests {
    use super::*;

    const PAGE: &str = include_str!("../tests/data/cmr/atl06_cycle22.json");

    fn parsed() -> Vec<Result<CmrGranule, Skipped>> {
        parse_page(PAGE.as_bytes()).unwrap().items
    }

    fn by_id(id: &str) -> CmrGranule {
        parsed()
            .into_iter()
            .filter_map(Result::ok)
            .find(|g| g.id == id)
            .unwrap_or_else(|| panic!("{id} not parsed"))
    }

    #[test]
    fn urls_size_and_footprint_of_a_granule() {
        let g = by_id("ATL06_20231219003354_00042211_007_01.h5");
        assert_eq!(
            g.s3.as_deref(),
            Some("s3://nsidc-cumulus-prod-protected/ATLAS/ATL06/007/2023/12/19/ATL06_20231219003354_00042211_007_01.h5")
        );
        assert_eq!(
            g.https.as_deref(),
            Some("https://data.example.test/ATLAS/ATL06/007/2023/12/19/ATL06_20231219003354_00042211_007_01.h5")
        );
        // "Size": 103.0, "SizeUnit": "MB" (MB taken as 2^20 bytes).
        assert_eq!(g.size_bytes, Some(103 * 1024 * 1024));
        assert_eq!(g.footprints.len(), 1);
        let ring = &g.footprints[0].outer;
        assert_eq!(ring.len(), 33);
        assert_eq!(ring.first(), ring.last(), "closed ring");
        assert_eq!(ring[0], [130.729902, -59.494255]);
        assert!(g.footprints[0].holes.is_empty());
    }

    #[test]
    fn multiple_polygons_and_holes() {
        let g = by_id("ATL06_20231220111111_00222211_007_01.h5");
        assert_eq!(g.footprints.len(), 2, "two GPolygons");
        assert_eq!(g.footprints[0].holes.len(), 1, "first has a hole");
        assert_eq!(g.footprints[0].holes[0].len(), 5);
        assert!(g.footprints[1].holes.is_empty());
        assert_eq!(g.size_bytes, Some(96_468_992), "SizeInBytes wins");
    }

    #[test]
    fn unusable_items_are_skipped_with_a_reason() {
        let skipped: Vec<Skipped> = parsed().into_iter().filter_map(Result::err).collect();
        let reasons: Vec<String> = skipped
            .iter()
            .map(|s| format!("{}: {}", s.id, s.reason))
            .collect();
        assert!(
            reasons.contains(
                &"ATL06_20231221000000_00302211_007_01.h5: no GPolygons footprint".to_string()
            ),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.starts_with(
                "ATL06_20231221010000_00312211_007_01.h5: no \"GET DATA VIA DIRECT ACCESS\""
            )),
            "{reasons:?}"
        );
    }

    #[test]
    fn malformed_page_names_the_path() {
        let e = parse_page(
            br#"{"hits": 1, "items": [{"umm": {"RelatedUrls": [{"Type": "GET DATA"}]}}]}"#,
        )
        .err()
        .unwrap();
        assert!(e.starts_with("items[0].umm.RelatedUrls[0]"), "{e}");
        assert!(e.contains("URL"), "{e}");
        let e = parse_page(b"<html>").err().unwrap();
        assert!(e.contains("expected value"), "{e}");
    }

    #[test]
    fn query_parameters() {
        let mut q = GranuleQuery::atl06(22);
        q.temporal = Some(cycle::window(22, 1.0).unwrap().into());
        q.bounding_box = Some(BoundingBox::parse("-180,-90,180,-60").unwrap());
        let p = q.params().unwrap();
        let get = |k: &str| p.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("readable_granule_name[]"), Some("ATL06_*_????22??_*"));
        assert_eq!(get("options[readable_granule_name][pattern]"), Some("true"));
        assert_eq!(get("version"), Some("007"));
        assert_eq!(get("provider"), Some("NSIDC_CPRD"));
        assert_eq!(get("page_size"), Some("2000"));
        assert_eq!(get("bounding_box"), Some("-180,-90,180,-60"));
        assert_eq!(
            get("temporal[]"),
            Some("2023-12-17T21:15:37Z,2024-03-19T16:55:26Z")
        );
        q.page_size = 2001;
        assert!(q.params().is_err());
        for bad in ["1,2,3", "a,b,c,d", "-190,0,0,1", "0,10,1,5", "0,-91,1,0"] {
            assert!(BoundingBox::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            BoundingBox::parse(" 170, -80, -170, -70 ").unwrap().west,
            170.0
        );
    }

    #[test]
    fn base_url_resolution() {
        // The flag wins over everything; trailing slashes go.
        assert_eq!(
            resolve_base_url(Some("http://127.0.0.1:9/")),
            "http://127.0.0.1:9"
        );
        if std::env::var_os(CMR_URL_ENV).is_none() {
            assert_eq!(resolve_base_url(None), DEFAULT_CMR_URL);
        }
    }
}
