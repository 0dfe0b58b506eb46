//! Granule footprints on the sphere, and which shards (HEALPix cells at the parent order) they
//! touch.
//!
//! A footprint is a polygon in longitude/latitude degrees with optional holes, as CMR gives it
//! (a coarse envelope of the ~12.6 km wide ground swath, up to thousands of km long). Its
//! edges are great-circle arcs. The shards a footprint touches are every cell that the
//! polygon intersects, computed with `cdshealpix`'s exact polygon coverage, which works on the
//! sphere: the antimeridian needs no care, a polygon may enclose a pole, and the vertex order
//! (clockwise or counter-clockwise) does not matter — the interior is the side that does not
//! hold the poles, or, for a ring that winds around the polar axis, the side that holds the
//! pole of the hemisphere of the ring's vertices. A cell that lies entirely inside a hole is
//! not touched; a cell that a hole only covers partly still is.
//!
//! Latitudes are converted like the point hashing converts them ([`Ellipsoid::Wgs84`]:
//! geodetic → authalic), so the cells match the shards the points hash to.
//!
//! [`ShardIndex`] answers "which shards of an AOI does this footprint touch" quickly: an R-tree
//! (`rstar`) over the 3-D bounding boxes of the AOI cells' bounding caps discards footprints
//! far from the AOI before the exact coverage is computed, and the exact coverage is then
//! intersected with the AOI.

use std::collections::{BTreeSet, HashSet};
use std::f64::consts::{FRAC_PI_2, PI, TAU};

use cdshealpix::compass_point::Cardinal;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::{Deserialize, Serialize};

use crate::aoi::Aoi;
use crate::grid::{self, Ellipsoid};

/// A footprint polygon: an outer ring and holes, each a list of `[longitude, latitude]` in
/// degrees (geodetic), open or closed (a repeated first vertex is ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    /// The outer boundary.
    pub outer: Vec<[f64; 2]>,
    /// Holes (CMR `ExclusiveZone` boundaries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holes: Vec<Vec<[f64; 2]>>,
}

/// Why a footprint cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FootprintError {
    /// A vertex with a non-finite coordinate or a latitude beyond ±90°.
    #[error("{ring}: vertex {index} ({lon}, {lat}) is not a valid longitude/latitude in degrees")]
    Vertex {
        /// `outer` or `hole N`.
        ring: String,
        /// Vertex index in the ring.
        index: usize,
        /// Longitude, degrees.
        lon: f64,
        /// Latitude, degrees.
        lat: f64,
    },
    /// Fewer than three distinct vertices.
    #[error("{ring}: fewer than 3 distinct vertices")]
    TooFewVertices {
        /// `outer` or `hole N`.
        ring: String,
    },
}

/// A ring prepared for `cdshealpix`: `(lon, lat)` radians, longitude in `[0, 2π)`, latitude
/// converted per the ellipsoid convention, no repeated vertices.
fn prepare_ring(
    points: &[[f64; 2]],
    ring: &str,
    ellipsoid: Ellipsoid,
) -> Result<Vec<(f64, f64)>, FootprintError> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (index, &[lon, lat]) in points.iter().enumerate() {
        if !lon.is_finite() || !lat.is_finite() || lat.abs() > 90.0 {
            return Err(FootprintError::Vertex {
                ring: ring.to_string(),
                index,
                lon,
                lat,
            });
        }
        let lat = lat.to_radians().clamp(-FRAC_PI_2, FRAC_PI_2);
        let lat = match ellipsoid {
            Ellipsoid::Wgs84 => grid::authalic_latitude(lat),
            Ellipsoid::Sphere => lat,
        };
        let v = (lon.to_radians().rem_euclid(TAU), lat);
        // Consecutive duplicates make zero-length edges, whose great circle is undefined.
        if out.last().is_none_or(|&p| !same_point(p, v)) {
            out.push(v);
        }
    }
    while out.len() > 1
        && out
            .first()
            .zip(out.last())
            .is_some_and(|(&a, &b)| same_point(a, b))
    {
        out.pop();
    }
    if out.len() < 3 {
        return Err(FootprintError::TooFewVertices {
            ring: ring.to_string(),
        });
    }
    Ok(out)
}

/// Equal positions: same latitude and longitude, or both on the same pole.
fn same_point(a: (f64, f64), b: (f64, f64)) -> bool {
    a.1 == b.1 && (a.0 == b.0 || a.1.abs() == FRAC_PI_2)
}

/// A prepared footprint: rings in radians, ready for coverage at any order.
#[derive(Debug, Clone)]
pub struct PreparedFootprint {
    outer: Vec<(f64, f64)>,
    holes: Vec<Vec<(f64, f64)>>,
}

impl PreparedFootprint {
    /// Validate and convert a footprint (latitudes per `ellipsoid`).
    ///
    /// # Errors
    /// [`FootprintError`] for invalid vertices or rings of fewer than 3 distinct vertices.
    pub fn new(footprint: &Footprint, ellipsoid: Ellipsoid) -> Result<Self, FootprintError> {
        let outer = prepare_ring(&footprint.outer, "outer", ellipsoid)?;
        let holes = footprint
            .holes
            .iter()
            .enumerate()
            .map(|(i, h)| prepare_ring(h, &format!("hole {i}"), ellipsoid))
            .collect::<Result<_, _>>()?;
        Ok(Self { outer, holes })
    }

    /// Every cell at `order` (nested ids) that the footprint intersects: the exact coverage of
    /// the outer ring, less the cells that lie entirely inside a hole.
    #[must_use]
    pub fn cells(&self, order: u8) -> BTreeSet<u64> {
        let layer = cdshealpix::nested::get(order);
        let mut cells: BTreeSet<u64> = layer
            .polygon_coverage(&self.outer, true)
            .flat_iter()
            .collect();
        for hole in &self.holes {
            for cell in &layer.polygon_coverage(hole, true) {
                if cell.is_full {
                    let inside = grid::children(cell.hash, cell.depth, order);
                    cells.retain(|c| !inside.contains(c));
                }
            }
        }
        cells
    }

    /// A cap that holds the footprint, or `None` when no cap smaller than a hemisphere does.
    #[must_use]
    pub fn bounding_cap(&self) -> Option<Cap> {
        let points: Vec<[f64; 3]> = self.outer.iter().map(|&(lo, la)| unit(lo, la)).collect();
        Cap::around(&points)
    }
}

/// Every cell at `order` that `footprint` intersects (no AOI, no index).
///
/// # Errors
/// [`FootprintError`] for an unusable footprint.
pub fn footprint_cells(
    footprint: &Footprint,
    order: u8,
    ellipsoid: Ellipsoid,
) -> Result<BTreeSet<u64>, FootprintError> {
    Ok(PreparedFootprint::new(footprint, ellipsoid)?.cells(order))
}

/// Unit vector of `(lon, lat)` in radians.
fn unit(lon: f64, lat: f64) -> [f64; 3] {
    let (sl, cl) = lat.sin_cos();
    let (so, co) = lon.sin_cos();
    [cl * co, cl * so, sl]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Angle between unit vectors, radians (accurate for small angles too).
fn angle(a: [f64; 3], b: [f64; 3]) -> f64 {
    let c = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    dot(c, c).sqrt().atan2(dot(a, b))
}

/// A spherical cap: the points within `radius` (radians) of the unit vector `center`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cap {
    /// Unit vector of the center.
    pub center: [f64; 3],
    /// Angular radius, radians, below π/2.
    pub radius: f64,
}

/// Added to every cap radius, radians (~6 mm): covers rounding in the angle computations.
const CAP_SLACK: f64 = 1e-9;

impl Cap {
    /// The cap centred on the normalised mean of `points` that holds them all, or `None` when
    /// it would reach a hemisphere (then no small cap is known to hold the polygon).
    ///
    /// Caps smaller than a hemisphere are convex, so they hold the (minor) great-circle arcs
    /// between the points too; and the polygon interior that `cdshealpix` uses is the side of
    /// the boundary away from the cap's complement (the complement holds a pole that is
    /// outside, or for a pole-winding ring, the pole of the other hemisphere).
    #[must_use]
    pub fn around(points: &[[f64; 3]]) -> Option<Self> {
        let mut s = [0.0; 3];
        for p in points {
            s = [s[0] + p[0], s[1] + p[1], s[2] + p[2]];
        }
        let norm = dot(s, s).sqrt();
        if norm.is_nan() || norm <= 1e-9 * points.len() as f64 {
            return None;
        }
        let center = [s[0] / norm, s[1] / norm, s[2] / norm];
        let radius = points
            .iter()
            .map(|&p| angle(center, p))
            .fold(0.0_f64, f64::max)
            + CAP_SLACK;
        (radius < FRAC_PI_2).then_some(Self { center, radius })
    }

    /// The axis-aligned 3-D box that holds the cap (on each axis `e`, the cap spans
    /// `cos(min(π, α + r)) ..= cos(max(0, α − r))` with `α` the angle from `e` to the center).
    #[must_use]
    pub fn aabb(&self) -> AABB<[f64; 3]> {
        let mut lo = [0.0; 3];
        let mut hi = [0.0; 3];
        for k in 0..3 {
            let alpha = self.center[k].clamp(-1.0, 1.0).acos();
            lo[k] = (alpha + self.radius).min(PI).cos() - CAP_SLACK;
            hi[k] = (alpha - self.radius).max(0.0).cos() + CAP_SLACK;
        }
        AABB::from_corners(lo, hi)
    }

    /// Whether the unit vector `p` lies in the cap.
    #[must_use]
    pub fn contains(&self, p: [f64; 3]) -> bool {
        angle(self.center, p) <= self.radius
    }
}

/// A cap that holds the HEALPix cell `hash` at `order`: centred on the cell center, through
/// the farthest of 64 points along its edge, widened by the largest gap between two
/// consecutive edge points (the edge between two samples stays that close to them).
#[must_use]
pub fn cell_cap(order: u8, hash: u64) -> Cap {
    let layer = cdshealpix::nested::get(order);
    let (lon, lat) = layer.center(hash);
    let center = unit(lon, lat);
    let edge: Vec<[f64; 3]> = layer
        .path_along_cell_edge(hash, &Cardinal::S, false, 16)
        .iter()
        .map(|&(lo, la)| unit(lo, la))
        .collect();
    let far = edge.iter().map(|&p| angle(center, p)).fold(0.0, f64::max);
    let gap = edge
        .iter()
        .zip(edge.iter().cycle().skip(1))
        .map(|(&a, &b)| angle(a, b))
        .fold(0.0, f64::max);
    Cap {
        center,
        radius: far + gap + CAP_SLACK,
    }
}

type CellBox = GeomWithData<Rectangle<[f64; 3]>, u64>;

/// The shards of an AOI, indexed for footprint queries.
#[derive(Debug)]
pub struct ShardIndex {
    order: u8,
    ellipsoid: Ellipsoid,
    cells: HashSet<u64>,
    tree: RTree<CellBox>,
}

impl ShardIndex {
    /// Index the cells of `aoi` (at its order); footprint latitudes will be converted per
    /// `ellipsoid`, which must be the grid's.
    #[must_use]
    pub fn new(aoi: &Aoi, ellipsoid: Ellipsoid) -> Self {
        let boxes: Vec<CellBox> = aoi
            .cells
            .iter()
            .map(|&c| {
                let b = cell_cap(aoi.order, c).aabb();
                GeomWithData::new(Rectangle::from_aabb(b), c)
            })
            .collect();
        Self {
            order: aoi.order,
            ellipsoid,
            cells: aoi.cells.iter().copied().collect(),
            tree: RTree::bulk_load(boxes),
        }
    }

    /// Order of the shards.
    #[must_use]
    pub fn order(&self) -> u8 {
        self.order
    }

    /// Number of shards indexed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no shard is indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The AOI shards `footprint` touches, ascending.
    ///
    /// # Errors
    /// [`FootprintError`] for an unusable footprint.
    pub fn shards_of(&self, footprint: &Footprint) -> Result<Vec<u64>, FootprintError> {
        let prepared = PreparedFootprint::new(footprint, self.ellipsoid)?;
        if let Some(cap) = prepared.bounding_cap() {
            let envelope = cap.aabb();
            if self
                .tree
                .locate_in_envelope_intersecting(&envelope)
                .next()
                .is_none()
            {
                return Ok(Vec::new());
            }
        }
        Ok(prepared
            .cells(self.order)
            .into_iter()
            .filter(|c| self.cells.contains(c))
            .collect())
    }

    /// The AOI shards any of `footprints` touches, ascending.
    ///
    /// # Errors
    /// The first [`FootprintError`] (its message names the polygon).
    pub fn shards_of_all(&self, footprints: &[Footprint]) -> Result<Vec<u64>, FootprintError> {
        let mut all = BTreeSet::new();
        for fp in footprints {
            all.extend(self.shards_of(fp)?);
        }
        Ok(all.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
