//! Areas of interest: which shards (cells at the parent order) a run covers.
//!
//! The built-in AOI `basins` is the set of 1334 order-6 cells that cover the 27 Antarctic
//! drainage basins (Zwally et al. 2012), shipped as data in `config/aoi/`. Any GeoJSON
//! Polygon or MultiPolygon (bare geometry, Feature or FeatureCollection), from a file or an
//! `http(s)://` URL (fetched with retries, [`crate::web`]), is accepted too; its
//! shards are every cell the outer rings intersect (cdshealpix exact polygon coverage, on the
//! sphere, so edges are great-circle arcs and the antimeridian needs no special care).

use std::collections::BTreeSet;
use std::path::Path;

use crate::grid::{self, Ellipsoid};

/// Built-in AOI name: the Antarctic drainage basins.
pub const BASINS: &str = "basins";

const BASINS_O6: &str = include_str!("../config/aoi/antarctic_basins_o6.txt");

/// Order of the built-in basins list.
pub const BASINS_ORDER: u8 = 6;

/// Errors of AOI loading.
#[derive(Debug, thiserror::Error)]
pub enum AoiError {
    /// The file could not be read.
    #[error("AOI {path}: cannot read: {message}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        message: String,
    },
    /// The file is not a usable GeoJSON polygon.
    #[error("AOI {path}: {message}")]
    Invalid {
        /// Path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A set of shards at one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aoi {
    /// Where it came from (`basins` or a path).
    pub name: String,
    /// Order of the cells.
    pub order: u8,
    /// Nested ids of the cells.
    pub cells: BTreeSet<u64>,
}

impl Aoi {
    /// Load `basins`, a GeoJSON file or a GeoJSON `http(s)://` URL, as cells at `order`.
    ///
    /// # Errors
    /// [`AoiError`] when the file or URL cannot be read or holds no polygon, or when the
    /// basins are asked for at an order coarser than they are stored at.
    pub fn load(spec: &str, order: u8, ellipsoid: Ellipsoid) -> Result<Self, AoiError> {
        if spec == BASINS {
            return Self::basins(order);
        }
        if spec.starts_with("http://") || spec.starts_with("https://") {
            let read = |message: String| AoiError::Read {
                path: spec.to_string(),
                message,
            };
            let http = crate::web::HttpGet::new(crate::web::RetryPolicy::default())
                .map_err(|e| read(e.to_string()))?;
            let reply = http.get(spec, &[], &[]).map_err(|e| read(e.to_string()))?;
            let text =
                String::from_utf8(reply.body).map_err(|e| read(format!("not UTF-8 text: {e}")))?;
            return Self::from_geojson(spec, &text, order, ellipsoid);
        }
        let text = std::fs::read_to_string(Path::new(spec)).map_err(|e| AoiError::Read {
            path: spec.to_string(),
            message: e.to_string(),
        })?;
        Self::from_geojson(spec, &text, order, ellipsoid)
    }

    /// The Antarctic drainage basins at `order` (≥ 6; deeper orders list every child).
    ///
    /// # Errors
    /// [`AoiError::Invalid`] for an order below 6.
    pub fn basins(order: u8) -> Result<Self, AoiError> {
        if order < BASINS_ORDER {
            return Err(AoiError::Invalid {
                path: BASINS.into(),
                message: format!(
                    "the basins are listed at order {BASINS_ORDER}; order {order} is coarser"
                ),
            });
        }
        let mut cells = BTreeSet::new();
        for line in BASINS_O6.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cell = line
                .parse::<i64>()
                .map_err(|e| e.to_string())
                .and_then(|m| grid::morton_to_nested(m).map_err(|e| e.to_string()))
                .map_err(|message| AoiError::Invalid {
                    path: BASINS.into(),
                    message: format!("bad line {line:?}: {message}"),
                })?;
            cells.extend(grid::children(cell.0, cell.1, order));
        }
        Ok(Self {
            name: BASINS.into(),
            order,
            cells,
        })
    }

    /// Cells at `order` that a GeoJSON Polygon/MultiPolygon intersects. Holes are ignored
    /// (a shard that only touches a hole is kept: it costs reads, never data).
    ///
    /// # Errors
    /// [`AoiError::Invalid`] for text that is not GeoJSON or holds no polygon, or for
    /// coordinates outside ±90° latitude.
    pub fn from_geojson(
        name: &str,
        text: &str,
        order: u8,
        ellipsoid: Ellipsoid,
    ) -> Result<Self, AoiError> {
        let invalid = |message: String| AoiError::Invalid {
            path: name.to_string(),
            message,
        };
        let geojson: geojson::GeoJson = text
            .parse()
            .map_err(|e| invalid(format!("not GeoJSON: {e}")))?;
        let mut rings: Vec<Vec<(f64, f64)>> = Vec::new();
        // The outer ring of each polygon, as (lon, lat) degrees.
        let outer = |polygon: &geojson::PolygonType| -> Option<Vec<(f64, f64)>> {
            polygon.first().map(|ring| {
                ring.iter()
                    .map(|c| {
                        let at = |i: usize| c.get(i).copied().unwrap_or(f64::NAN);
                        (at(0), at(1))
                    })
                    .collect()
            })
        };
        let mut add_geometry = |g: &geojson::Geometry| -> Result<(), AoiError> {
            match &g.value {
                geojson::Value::Polygon(p) => rings.extend(outer(p)),
                geojson::Value::MultiPolygon(mp) => rings.extend(mp.iter().filter_map(outer)),
                other => {
                    return Err(invalid(format!(
                        "geometry type {} is not a Polygon or MultiPolygon",
                        other.type_name()
                    )))
                }
            }
            Ok(())
        };
        match &geojson {
            geojson::GeoJson::Geometry(g) => add_geometry(g)?,
            geojson::GeoJson::Feature(f) => {
                if let Some(g) = &f.geometry {
                    add_geometry(g)?;
                }
            }
            geojson::GeoJson::FeatureCollection(fc) => {
                for f in &fc.features {
                    if let Some(g) = &f.geometry {
                        add_geometry(g)?;
                    }
                }
            }
        }
        if rings.is_empty() {
            return Err(invalid("no polygon found".into()));
        }
        let mut cells = BTreeSet::new();
        for (i, ring) in rings.iter().enumerate() {
            let mut vertices: Vec<(f64, f64)> = Vec::with_capacity(ring.len());
            for &(lon, lat) in ring {
                if !lon.is_finite() || !lat.is_finite() || lat.abs() > 90.0 {
                    return Err(invalid(format!(
                        "polygon {i}: vertex ({lon}, {lat}) is not a valid longitude/latitude"
                    )));
                }
                let lat = lat.to_radians();
                let lat = match ellipsoid {
                    Ellipsoid::Wgs84 => grid::authalic_latitude(lat),
                    Ellipsoid::Sphere => lat,
                };
                vertices.push((lon.to_radians().rem_euclid(std::f64::consts::TAU), lat));
            }
            if vertices.len() > 1 && vertices.first() == vertices.last() {
                vertices.pop();
            }
            if vertices.len() < 3 {
                return Err(invalid(format!(
                    "polygon {i}: fewer than 3 distinct vertices"
                )));
            }
            let bmoc = cdshealpix::nested::polygon_coverage(order, &vertices, true);
            cells.extend(bmoc.flat_iter());
        }
        Ok(Self {
            name: name.to_string(),
            order,
            cells,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basins_has_1334_cells_in_the_south() {
        let aoi = Aoi::basins(6).expect("basins");
        assert_eq!(aoi.cells.len(), 1334);
        // Antarctica is base cells 8..11.
        assert!(aoi.cells.iter().all(|&c| (8..12).contains(&(c >> 12))));
        assert_eq!(Aoi::basins(7).expect("order 7").cells.len(), 1334 * 4);
        assert!(Aoi::basins(5).is_err());
    }

    #[test]
    fn geojson_polygon_across_the_antimeridian() {
        let text = r#"{"type":"Polygon","coordinates":[[[178,-80],[178,-78],[-178,-78],[-178,-80],[178,-80]]]}"#;
        let aoi = Aoi::from_geojson("ross.geojson", text, 6, Ellipsoid::Sphere).expect("aoi");
        // The golden vectors' P2_ross_antimeridian_box covers exactly these cells.
        let expected: BTreeSet<u64> =
            [36945, 36948, 36949, 37120, 41122, 41128, 41130, 41472].into();
        assert_eq!(aoi.cells, expected);
    }

    #[test]
    fn bad_geojson_is_named() {
        let e = Aoi::from_geojson("x.geojson", "{", 6, Ellipsoid::Wgs84)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("AOI x.geojson: not GeoJSON"), "{e}");
        let e = Aoi::from_geojson(
            "p.geojson",
            r#"{"type":"Point","coordinates":[1,2]}"#,
            6,
            Ellipsoid::Wgs84,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("Point is not a Polygon"), "{e}");
        let e = Aoi::from_geojson(
            "l.geojson",
            r#"{"type":"Polygon","coordinates":[[[0,95],[1,0],[2,0],[0,95]]]}"#,
            6,
            Ellipsoid::Wgs84,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("vertex (0, 95) is not a valid"), "{e}");
        let e = Aoi::from_geojson(
            "e.geojson",
            r#"{"type":"Polygon","coordinates":[[[],[1,0],[2,1],[]]]}"#,
            6,
            Ellipsoid::Wgs84,
        );
        assert!(e.is_err(), "short positions are an error, not a panic");
        let e = Aoi::load("/nonexistent.geojson", 6, Ellipsoid::Wgs84)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("AOI /nonexistent.geojson: cannot read"),
            "{e}"
        );
    }
}
