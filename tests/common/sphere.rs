//! An exact, independent check of "does a footprint polygon intersect a HEALPix cell", on the
//! sphere, to test the catalog's footprint → shard intersection against.
//!
//! zagg decides it in `src/footprint/exact.rs` (chord prefilter, drawn sides, margins) and
//! used to with cdshealpix's polygon coverage; this shares no code with either. The polygon is
//! a list of unit vectors joined by great-circle arcs (latitudes converted geodetic → authalic with the
//! formula written out below, not zagg's), and the cell is its boundary as cdshealpix draws it
//! (`path_along_cell_edge`, 64 points per side, joined by chords whose distance to the true
//! edge is under 2 m, below the tolerance). A polygon and a cell intersect iff
//!
//! - their boundaries cross, or
//! - a point of the cell lies inside the polygon (the cell inside the polygon), or
//! - a vertex of the polygon lies inside the cell (the polygon inside the cell).
//!
//! Point-in-polygon is a winding number on unit vectors: the sum over the edges of the signed
//! angle each edge subtends at the point (`atan2(p·(a×b), a·b − (p·a)(p·b))`, exact in
//! (−π, π) for a minor arc) is ±2π when the ring separates the point from its antipode and 0
//! otherwise; the inside is then the side within the ring's bounding cap (every footprint
//! fits in a cap smaller than a hemisphere, which is also the side cdshealpix takes as the
//! interior, whatever the vertex order).
//!
//! Answers are [`Relation::Yes`] or [`Relation::No`] when moving every boundary by up to the
//! tolerance cannot change them, and [`Relation::Either`] otherwise (a cell edge within the
//! tolerance of the polygon's boundary without a robust crossing): the property tests are
//! strict everywhere but in that thin band.

use std::f64::consts::FRAC_PI_2;

use cdshealpix::compass_point::Cardinal;

/// A unit vector.
pub type V3 = [f64; 3];

/// Tolerance band, radians (~6.4 m on the Earth): above the distance within which zagg counts
/// a cell as touched (`zagg::footprint::TOUCH_MARGIN`, 6 cm, plus the error of its drawn cell
/// sides, under 2 m) added to the error of the cell boundaries drawn here (under 2 m).
pub const TOL: f64 = 1e-6;

/// Points per cell side.
const PER_SIDE: u32 = 64;

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

fn scale(a: V3, k: f64) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// Angle between two unit vectors (accurate at small angles).
pub fn angle(a: V3, b: V3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b))
}

/// Unit vector of a longitude and latitude in radians.
pub fn unit_rad(lon: f64, lat: f64) -> V3 {
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// WGS84 geodetic → authalic latitude, radians: `β = asin(q(φ)/q(π/2))` with
/// `q(φ) = (1−e²)·(sin φ/(1 − e² sin² φ) − ln((1 − e sin φ)/(1 + e sin φ))/(2e))`.
pub fn authalic(phi: f64) -> f64 {
    let f: f64 = 1.0 / 298.257_223_563;
    let e2 = f * (2.0 - f);
    let e = e2.sqrt();
    let q = |s: f64| {
        (1.0 - e2) * (s / (1.0 - e2 * s * s) - ((1.0 - e * s) / (1.0 + e * s)).ln() / (2.0 * e))
    };
    (q(phi.sin()) / q(1.0)).clamp(-1.0, 1.0).asin()
}

/// Unit vector of a footprint vertex `[lon, lat]` in degrees (latitude geodetic, converted
/// to authalic when `wgs84`).
pub fn vertex(p: [f64; 2], wgs84: bool) -> V3 {
    let lat = p[1].to_radians().clamp(-FRAC_PI_2, FRAC_PI_2);
    unit_rad(p[0].to_radians(), if wgs84 { authalic(lat) } else { lat })
}

/// Distance from `p` to the minor arc `a`–`b`, radians.
pub fn arc_distance(p: V3, a: V3, b: V3) -> f64 {
    let n = cross(a, b);
    let len = norm(n);
    if len < 1e-15 {
        return angle(p, a).min(angle(p, b));
    }
    let n = scale(n, 1.0 / len);
    let off = dot(p, n);
    let q = add(p, scale(n, -off));
    // The foot of the perpendicular lies on the arc iff it is between a and b.
    if dot(cross(a, q), n) >= 0.0 && dot(cross(q, b), n) >= 0.0 {
        off.abs().atan2(norm(q))
    } else {
        angle(p, a).min(angle(p, b))
    }
}

/// Signed distance of `p` from the great circle through `a` and `b` (sign: side of `a × b`).
fn side(p: V3, a: V3, b: V3) -> f64 {
    let n = cross(a, b);
    (dot(p, n) / norm(n)).asin()
}

/// How two minor arcs meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meet {
    /// They cross, and still do after moving any endpoint by up to the tolerance.
    Cross,
    /// They come within the tolerance of each other (maybe crossing) but not robustly.
    Near,
    /// Farther apart than the tolerance.
    Apart,
}

fn meet(a: V3, b: V3, c: V3, d: V3, tol: f64) -> Meet {
    let (sc, sd) = (side(c, a, b), side(d, a, b));
    let (sa, sb) = (side(a, c, d), side(b, c, d));
    // Opposite sides both ways, and the same crossing point (not antipodal ones).
    if sc * sd < 0.0 && sa * sb < 0.0 && dot(add(a, b), add(c, d)) > 0.0 {
        let robust = [sc, sd, sa, sb].iter().all(|s| s.abs() > tol);
        return if robust { Meet::Cross } else { Meet::Near };
    }
    let gap = arc_distance(c, a, b)
        .min(arc_distance(d, a, b))
        .min(arc_distance(a, c, d))
        .min(arc_distance(b, c, d));
    if gap <= tol {
        Meet::Near
    } else {
        Meet::Apart
    }
}

/// Whether a closed ring separates `p` from its antipode (winding number ≠ 0).
fn winds(ring: &[V3], p: V3) -> bool {
    let total: f64 = ring
        .iter()
        .zip(ring.iter().cycle().skip(1))
        .map(|(&a, &b)| dot(p, cross(a, b)).atan2(dot(a, b) - dot(p, a) * dot(p, b)))
        .sum();
    total.abs() > std::f64::consts::PI
}

/// The cap (center, radius) around the normalised mean of `points` that holds them all.
fn cap(points: &[V3]) -> (V3, f64) {
    let s = points.iter().fold([0.0; 3], |s, &p| add(s, p));
    let c = scale(s, 1.0 / norm(s));
    let r = points.iter().map(|&p| angle(c, p)).fold(0.0, f64::max);
    (c, r)
}

fn edges(ring: &[V3]) -> impl Iterator<Item = (V3, V3)> + '_ {
    ring.iter()
        .copied()
        .zip(ring.iter().copied().cycle().skip(1))
}

/// A footprint polygon on the sphere: the outer ring, then the holes.
#[derive(Debug, Clone)]
pub struct Polygon {
    rings: Vec<Vec<V3>>,
    center: V3,
    radius: f64,
}

impl Polygon {
    /// From rings of `[lon, lat]` degrees, open or closed (repeated vertices dropped).
    ///
    /// # Panics
    /// When the polygon does not fit in a cap well inside a hemisphere.
    pub fn new(outer: &[[f64; 2]], holes: &[Vec<[f64; 2]>], wgs84: bool) -> Self {
        let ring = |r: &[[f64; 2]]| -> Vec<V3> {
            let mut v: Vec<V3> = Vec::new();
            for &p in r {
                let u = vertex(p, wgs84);
                if v.last().is_none_or(|&l| angle(l, u) > 1e-12) {
                    v.push(u);
                }
            }
            while v.len() > 1 && angle(v[0], v[v.len() - 1]) <= 1e-12 {
                v.pop();
            }
            v
        };
        let rings: Vec<Vec<V3>> = std::iter::once(ring(outer))
            .chain(holes.iter().map(|h| ring(h)))
            .collect();
        let (center, radius) = cap(&rings[0]);
        assert!(
            radius < 1.4,
            "polygon too large for the check: cap radius {radius}"
        );
        Self {
            rings,
            center,
            radius,
        }
    }

    /// Whether `p` is inside (inside the outer ring and in no hole).
    pub fn contains(&self, p: V3) -> bool {
        dot(p, self.center) > 0.0
            && winds(&self.rings[0], p)
            && !self.rings[1..].iter().any(|h| winds(h, p))
    }

    /// Distance from `p` to the nearest edge of any ring.
    pub fn boundary_distance(&self, p: V3) -> f64 {
        self.rings
            .iter()
            .flat_map(|r| edges(r))
            .map(|(a, b)| arc_distance(p, a, b))
            .fold(f64::INFINITY, f64::min)
    }

    /// Every vertex of every ring.
    pub fn vertices(&self) -> impl Iterator<Item = V3> + '_ {
        self.rings.iter().flatten().copied()
    }
}

/// The footprint polygons of a UMM-G granule item (`GPolygons`: `Boundary` and the
/// `ExclusiveZone` holes), read straight from the JSON.
pub fn umm_polygons(item: &serde_json::Value, wgs84: bool) -> Vec<Polygon> {
    let points = |v: &serde_json::Value| -> Vec<[f64; 2]> {
        let lonlat = |p: &serde_json::Value| {
            [
                p["Longitude"].as_f64().expect("Longitude"),
                p["Latitude"].as_f64().expect("Latitude"),
            ]
        };
        v.as_array().into_iter().flatten().map(lonlat).collect()
    };
    let geometry = &item["umm"]["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"];
    let polygons = geometry["GPolygons"].as_array().into_iter().flatten();
    polygons
        .map(|p| {
            let holes: Vec<Vec<[f64; 2]>> = p["ExclusiveZone"]["Boundaries"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| points(&h["Points"]))
                .collect();
            Polygon::new(&points(&p["Boundary"]["Points"]), &holes, wgs84)
        })
        .collect()
}

/// A HEALPix cell: its boundary as points, its center and a cap that holds it.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Nested id.
    pub hash: u64,
    boundary: Vec<V3>,
    center: V3,
    radius: f64,
}

impl Cell {
    /// The cell `hash` at `order`.
    pub fn new(order: u8, hash: u64) -> Self {
        let layer = cdshealpix::nested::get(order);
        let boundary: Vec<V3> = layer
            .path_along_cell_edge(hash, &Cardinal::S, false, PER_SIDE)
            .iter()
            .map(|&(lon, lat)| unit_rad(lon, lat))
            .collect();
        let (lon, lat) = layer.center(hash);
        let center = unit_rad(lon, lat);
        let radius = boundary
            .iter()
            .map(|&p| angle(center, p))
            .fold(0.0, f64::max);
        Self {
            hash,
            boundary,
            center,
            radius,
        }
    }

    /// Whether `p` is inside the cell.
    pub fn contains(&self, p: V3) -> bool {
        dot(p, self.center) > 0.0 && winds(&self.boundary, p)
    }

    fn boundary_distance(&self, p: V3) -> f64 {
        edges(&self.boundary)
            .map(|(a, b)| arc_distance(p, a, b))
            .fold(f64::INFINITY, f64::min)
    }
}

/// Whether a polygon and a cell intersect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// They do, robustly.
    Yes,
    /// They do not, robustly.
    No,
    /// A boundary of one lies within the tolerance of the other: either answer is right.
    Either,
}

/// Whether `polygon` and `cell` intersect, with the tolerance band `tol` (radians).
pub fn relation(polygon: &Polygon, cell: &Cell, tol: f64) -> Relation {
    if angle(polygon.center, cell.center) > polygon.radius + cell.radius + tol {
        return Relation::No;
    }
    let mut close = false;
    for ring in &polygon.rings {
        for (a, b) in edges(ring) {
            // Only the polygon edges that reach the cell's cap can meet its boundary.
            if arc_distance(cell.center, a, b) > cell.radius + tol {
                continue;
            }
            for (c, d) in edges(&cell.boundary) {
                match meet(a, b, c, d, tol) {
                    Meet::Cross => return Relation::Yes,
                    Meet::Near => close = true,
                    Meet::Apart => {}
                }
            }
        }
    }
    if !close {
        // The boundaries are more than `tol` apart: one holds the other, or they are
        // disjoint, and these tests are robust.
        let cell_in_polygon = polygon.contains(cell.boundary[0]);
        let polygon_in_cell = polygon.vertices().any(|v| cell.contains(v));
        return if cell_in_polygon || polygon_in_cell {
            Relation::Yes
        } else {
            Relation::No
        };
    }
    // The boundaries touch within `tol`: only a point well inside both is certain.
    let inside = cell
        .boundary
        .iter()
        .chain([&cell.center])
        .any(|&p| polygon.contains(p) && polygon.boundary_distance(p) > tol)
        || polygon
            .vertices()
            .any(|v| cell.contains(v) && cell.boundary_distance(v) > tol);
    if inside {
        Relation::Yes
    } else {
        Relation::Either
    }
}

/// The cells of `cells` that `polygon` intersects for certain, and those where either
/// answer is right.
pub fn brute_force(
    polygon: &Polygon,
    cells: &[Cell],
    tol: f64,
) -> (
    std::collections::BTreeSet<u64>,
    std::collections::BTreeSet<u64>,
) {
    let mut yes = std::collections::BTreeSet::new();
    let mut either = std::collections::BTreeSet::new();
    for cell in cells {
        match relation(polygon, cell, tol) {
            Relation::Yes => {
                yes.insert(cell.hash);
            }
            Relation::Either => {
                either.insert(cell.hash);
            }
            Relation::No => {}
        }
    }
    (yes, either)
}
