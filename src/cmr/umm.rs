//! UMM-G JSON pages: the fields zagg reads, and their translation into [`CmrGranule`]s.

use serde::Deserialize;

use super::{CmrGranule, Skipped, TYPE_DIRECT, TYPE_HTTPS};
use crate::footprint::Footprint;

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
