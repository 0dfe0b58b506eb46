//! Granule footprints on the sphere, and which shards (HEALPix cells at the parent order) they
//! touch.
//!
//! A footprint is a polygon in longitude/latitude degrees with optional holes, as CMR gives it
//! (a coarse envelope of the ~12.6 km wide ground swath, up to thousands of km long). Its
//! edges are great-circle arcs. Everything is computed on the sphere: the antimeridian needs
//! no care, a polygon may enclose a pole, and the vertex order (clockwise or
//! counter-clockwise) does not matter — the interior is the side that does not hold the
//! poles, or, for a ring that winds around the polar axis, the side that holds the pole of the
//! hemisphere of the ring's vertices (cdshealpix's convention).
//!
//! The cells a footprint touches are the cells its region (outer ring less holes)
//! intersects, with the cells' true edges, which are not great circles ([`exact`]; cdshealpix's
//! polygon coverage, which takes the edges for great-circle chords, is not used). A cell is
//! touched when a footprint vertex lies in it, when an edge of a ring crosses or comes within
//! [`TOUCH_MARGIN`] (~6 cm) of its boundary, or when its center lies in the region; that is
//! every cell the region intersects. So a cell that lies entirely inside a hole is not
//! touched, and a cell that a hole only covers partly still is.
//!
//! Latitudes are converted like the point hashing converts them ([`Ellipsoid::Wgs84`]:
//! geodetic → authalic), so the cells match the shards the points hash to.
//!
//! [`ShardIndex`] answers "which shards of an AOI does this footprint touch" quickly: an R-tree
//! (`rstar`) over the 3-D bounding boxes of the AOI cells' bounding caps discards footprints
//! far from the AOI, and then gives, for each footprint edge, the few cells it can reach, and
//! for the footprint, the cells whose centers can lie in it. The AOI cells' shapes are
//! computed once.

use std::collections::{BTreeSet, HashMap};
use std::f64::consts::{FRAC_PI_2, PI, TAU};

use cdshealpix::compass_point::Cardinal;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::{Deserialize, Serialize};

use crate::aoi::Aoi;
use crate::grid::{self, Ellipsoid};

pub mod exact;
use exact::{angle, dot, unit, Region, V3};
pub use exact::{CellShape, TOUCH_MARGIN};

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

/// A prepared footprint: rings in radians (latitudes converted), ready for cell tests at any
/// order.
#[derive(Debug, Clone)]
pub struct PreparedFootprint {
    outer: Vec<(f64, f64)>,
    holes: Vec<Vec<(f64, f64)>>,
    ellipsoid: Ellipsoid,
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
        Ok(Self {
            outer,
            holes,
            ellipsoid,
        })
    }

    /// Every cell at `order` (nested ids) that the footprint touches (see the module
    /// documentation): the cells under its bounding cap (every cell at `order` for a footprint
    /// no cap smaller than a hemisphere holds) are indexed and tested. The cost grows with that
    /// number of cells; for many footprints over one set of cells use [`ShardIndex`].
    #[must_use]
    pub fn cells(&self, order: u8) -> BTreeSet<u64> {
        let cap = self.bounding_cap();
        let mut cells = BTreeSet::new();
        let mut stack: Vec<(u8, u64)> = (0..12).map(|h| (0, h)).collect();
        while let Some((depth, hash)) = stack.pop() {
            if let Some(cap) = &cap {
                let c = cell_cap(depth, hash);
                if angle(c.center, cap.center) > c.radius + cap.radius + TOUCH_MARGIN {
                    continue;
                }
            }
            if depth == order {
                cells.insert(hash);
            } else {
                stack.extend((0..4).map(|k| (depth + 1, (hash << 2) | k)));
            }
        }
        let aoi = Aoi {
            name: "footprint".into(),
            order,
            cells,
        };
        ShardIndex::new(&aoi, self.ellipsoid)
            .touched(self, cap)
            .into_iter()
            .collect()
    }

    /// The rings, outer first.
    fn rings(&self) -> impl Iterator<Item = &Vec<(f64, f64)>> {
        std::iter::once(&self.outer).chain(&self.holes)
    }

    /// Every edge of every ring, as unit vectors.
    fn edges(&self) -> Vec<(V3, V3)> {
        self.rings()
            .flat_map(|ring| {
                let units: Vec<V3> = ring.iter().map(|&(lon, lat)| unit(lon, lat)).collect();
                let next: Vec<V3> = units
                    .iter()
                    .copied()
                    .cycle()
                    .skip(1)
                    .take(units.len())
                    .collect();
                units.into_iter().zip(next)
            })
            .collect()
    }

    /// A cap that holds the footprint, or `None` when no cap smaller than a hemisphere does.
    #[must_use]
    pub fn bounding_cap(&self) -> Option<Cap> {
        let points: Vec<[f64; 3]> = self.outer.iter().map(|&(lo, la)| unit(lo, la)).collect();
        Cap::around(&points)
    }
}

/// Every cell at `order` that `footprint` touches (no AOI; see [`PreparedFootprint::cells`]).
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

    /// A cap that holds the minor great-circle arc `a`–`b` (unit vectors) widened by `margin`
    /// radians.
    #[must_use]
    pub fn of_arc(a: [f64; 3], b: [f64; 3], margin: f64) -> Self {
        let m = [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
        let n = dot(m, m).sqrt();
        if n < 1e-12 {
            // Antipodal ends: no minor arc; a hemisphere-sized cap around a.
            return Self {
                center: a,
                radius: PI,
            };
        }
        Self {
            center: [m[0] / n, m[1] / n, m[2] / n],
            radius: angle(a, b) / 2.0 + margin + CAP_SLACK,
        }
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
    shapes: HashMap<u64, CellShape>,
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
            shapes: aoi
                .cells
                .iter()
                .map(|&c| (c, CellShape::new(aoi.order, c)))
                .collect(),
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
        self.shapes.len()
    }

    /// Whether no shard is indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    /// The AOI shards `footprint` touches, ascending.
    ///
    /// # Errors
    /// [`FootprintError`] for an unusable footprint.
    pub fn shards_of(&self, footprint: &Footprint) -> Result<Vec<u64>, FootprintError> {
        let prepared = PreparedFootprint::new(footprint, self.ellipsoid)?;
        let cap = prepared.bounding_cap();
        if let Some(cap) = &cap {
            if self
                .tree
                .locate_in_envelope_intersecting(&cap.aabb())
                .next()
                .is_none()
            {
                return Ok(Vec::new());
            }
        }
        Ok(self.touched(&prepared, cap))
    }

    /// The indexed cells `fp` touches (`cap`: its bounding cap), ascending: a vertex of a ring
    /// lies in the cell, or an edge of a ring crosses or comes within [`TOUCH_MARGIN`] of the
    /// cell's true boundary, or the cell's center lies in the region (outer ring less holes).
    ///
    /// That is every cell the region intersects: if no boundary meets the cell, the cell lies
    /// inside the region (its center does) or outside it, or a whole ring lies in the cell
    /// (its vertices do).
    fn touched(&self, fp: &PreparedFootprint, cap: Option<Cap>) -> Vec<u64> {
        let layer = cdshealpix::nested::get(self.order);
        let mut touched: BTreeSet<u64> = fp
            .rings()
            .flatten()
            .map(|&(lon, lat)| layer.hash(lon, lat))
            .filter(|c| self.shapes.contains_key(c))
            .collect();
        for (a, b) in fp.edges() {
            let reach = Cap::of_arc(a, b, TOUCH_MARGIN).aabb();
            for cell in self.tree.locate_in_envelope_intersecting(&reach) {
                if touched.contains(&cell.data) {
                    continue;
                }
                if let Some(shape) = self.shapes.get(&cell.data) {
                    if shape.boundary_near_arc(a, b, TOUCH_MARGIN) {
                        touched.insert(cell.data);
                    }
                }
            }
        }
        // Cells inside the region: their centers are inside its bounding cap.
        let region = Region::new(&fp.outer, &fp.holes);
        let inside = |shape: &CellShape| {
            cap.is_none_or(|c| c.contains(shape.center())) && region.contains(shape.center_lonlat())
        };
        let candidates: Vec<u64> = match &cap {
            Some(c) => self
                .tree
                .locate_in_envelope_intersecting(&c.aabb())
                .map(|b| b.data)
                .collect(),
            None => self.shapes.keys().copied().collect(),
        };
        for hash in candidates {
            if !touched.contains(&hash) && self.shapes.get(&hash).is_some_and(inside) {
                touched.insert(hash);
            }
        }
        touched.into_iter().collect()
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
