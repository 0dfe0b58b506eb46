//! Whether a footprint touches a HEALPix cell, with the cell's true (curved) edges.
//!
//! HEALPix cell edges are not great circles: at order 6 they stray from the great-circle
//! chords between the cell's vertices by 50–500 m typically and by up to 6.5 km next to the
//! poles. cdshealpix's polygon coverage takes the chords for the edges, so it holds cells that a
//! footprint only reaches past a chord (a swath ending 70 m short of a cell at 77°N) and, more
//! rarely, misses cells that a footprint reaches only past a curved edge (a swath passing
//! 100 km from the south pole and the polar cell next to it). zagg does not use it for
//! footprints.
//!
//! [`CellShape::boundary_near_arc`] tests a footprint edge against a cell's true boundary:
//! each side is compared with its chord first (a side strays at most its measured deviation
//! from it), and only when the edge comes that close, with the side itself, drawn as 64 short
//! segments. Edges that come within [`TOUCH_MARGIN`] (plus the error of that drawing) count as
//! touching, so the test errs on the side of keeping a cell.

use cdshealpix::compass_point::Cardinal;
use cdshealpix::sph_geom::coo3d::{Coo3D, LonLat};
use cdshealpix::sph_geom::Polygon;

/// A unit vector.
pub(crate) type V3 = [f64; 3];

/// A footprint boundary within this distance of a cell's boundary (radians, ~6 cm, far above
/// the rounding errors) touches the cell. The drawn sides add their own allowance (how far a
/// side strays from its 64 segments, measured per cell: at order 6, under 0.3 m except next
/// to the poles, where it reaches 2 m).
pub const TOUCH_MARGIN: f64 = 1e-8;

/// Segments per side of the fine test; the sides are measured at twice as many.
const FINE: u32 = 64;

/// Added to every measured distance, radians (~0.6 mm): covers the rounding of the
/// measurements and the sampling of smooth curves.
const FLOOR: f64 = 1e-10;

/// Unit vector of `(lon, lat)` in radians.
pub(crate) fn unit(lon: f64, lat: f64) -> V3 {
    let (sl, cl) = lat.sin_cos();
    let (so, co) = lon.sin_cos();
    [cl * co, cl * so, sl]
}

pub(crate) fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Angle between unit vectors, radians (accurate for small angles too).
pub(crate) fn angle(a: V3, b: V3) -> f64 {
    let c = cross(a, b);
    dot(c, c).sqrt().atan2(dot(a, b))
}

/// Distance from `p` to the minor great-circle arc `a`–`b`, radians.
pub(crate) fn arc_distance(p: V3, a: V3, b: V3) -> f64 {
    let n = cross(a, b);
    let len = dot(n, n).sqrt();
    if len < 1e-15 {
        return angle(p, a).min(angle(p, b));
    }
    let n = [n[0] / len, n[1] / len, n[2] / len];
    let off = dot(p, n);
    let q = [p[0] - off * n[0], p[1] - off * n[1], p[2] - off * n[2]];
    // The foot of the perpendicular is on the arc iff it lies between a and b.
    if dot(cross(a, q), n) >= 0.0 && dot(cross(q, b), n) >= 0.0 {
        off.abs().atan2(dot(q, q).sqrt())
    } else {
        angle(p, a).min(angle(p, b))
    }
}

/// Whether the minor arcs `a`–`b` and `c`–`d` cross or come within `margin` of each other.
pub(crate) fn arcs_within(a: V3, b: V3, c: V3, d: V3, margin: f64) -> bool {
    let (n1, n2) = (cross(a, b), cross(c, d));
    let crossing = dot(c, n1) * dot(d, n1) <= 0.0
        && dot(a, n2) * dot(b, n2) <= 0.0
        // The same crossing point, not antipodal ones.
        && dot([a[0] + b[0], a[1] + b[1], a[2] + b[2]], [c[0] + d[0], c[1] + d[1], c[2] + d[2]]) > 0.0;
    crossing
        || arc_distance(c, a, b) <= margin
        || arc_distance(d, a, b) <= margin
        || arc_distance(a, c, d) <= margin
        || arc_distance(b, c, d) <= margin
}

/// The sides of a cell, as (from, to) vertex directions, in the order of `Layer::vertices`
/// (S, E, N, W).
const SIDES: [(Cardinal, Cardinal); 4] = [
    (Cardinal::S, Cardinal::E),
    (Cardinal::E, Cardinal::N),
    (Cardinal::N, Cardinal::W),
    (Cardinal::W, Cardinal::S),
];

/// A HEALPix cell's geometry: center, a cap that holds it, its vertices, and how far each
/// side strays from the great-circle chord between its vertices.
#[derive(Debug, Clone)]
pub struct CellShape {
    order: u8,
    hash: u64,
    /// Center as `(lon, lat)` radians.
    center_lonlat: (f64, f64),
    center: V3,
    radius: f64,
    corners: [V3; 4],
    /// How far each side strays from its chord.
    deviation: [f64; 4],
    /// How far each side strays from its drawing in [`FINE`] segments.
    fine: [f64; 4],
}

impl CellShape {
    /// The shape of cell `hash` at `order` (nested).
    #[must_use]
    pub fn new(order: u8, hash: u64) -> Self {
        let layer = cdshealpix::nested::get(order);
        let center_lonlat = layer.center(hash);
        let center = unit(center_lonlat.0, center_lonlat.1);
        let v = layer.vertices(hash);
        let corners = v.map(|(lon, lat)| unit(lon, lat));
        let mut deviation = [0.0; 4];
        let mut fine = [0.0; 4];
        let mut radius: f64 = 0.0;
        for (k, (from, to)) in SIDES.iter().enumerate() {
            let (a, b) = (corners[k], corners[(k + 1) % 4]);
            // Points 0, 2, 4, … are the vertices of the drawing in FINE segments; the odd
            // ones are midway along the side between them.
            let probe: Vec<V3> = layer
                .path_along_cell_side(hash, from, to, true, 2 * FINE)
                .iter()
                .map(|&(lon, lat)| unit(lon, lat))
                .collect();
            let far = probe
                .iter()
                .map(|&p| arc_distance(p, a, b))
                .fold(0.0, f64::max);
            let sagitta = probe
                .windows(3)
                .step_by(2)
                .map(|w| arc_distance(w[1], w[0], w[2]))
                .fold(0.0, f64::max);
            let step = probe
                .windows(2)
                .map(|w| angle(w[0], w[1]))
                .fold(0.0, f64::max);
            // Between two samples a smooth side strays from a line by little more than at
            // them (about quadratically along the side): a quarter more, twice the sagitta.
            deviation[k] = 1.25 * far + FLOOR;
            fine[k] = 2.0 * sagitta + FLOOR;
            radius = probe
                .iter()
                .map(|&p| angle(center, p) + step / 2.0)
                .fold(radius, f64::max);
        }
        Self {
            order,
            hash,
            center_lonlat,
            center,
            radius: radius + 1e-9,
            corners,
            deviation,
            fine,
        }
    }

    /// Nested id.
    #[must_use]
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Center, unit vector.
    #[must_use]
    pub fn center(&self) -> [f64; 3] {
        self.center
    }

    /// Center, `(lon, lat)` radians.
    #[must_use]
    pub fn center_lonlat(&self) -> (f64, f64) {
        self.center_lonlat
    }

    /// How far side `k` (S–E, E–N, N–W, W–S) strays from its chord at most, radians.
    #[cfg(test)]
    pub(crate) fn deviation(&self, k: usize) -> f64 {
        self.deviation[k % 4]
    }

    /// How far side `k` strays from its drawing in 64 segments at most, radians.
    #[cfg(test)]
    pub(crate) fn fine(&self, k: usize) -> f64 {
        self.fine[k % 4]
    }

    /// Most any side strays from its chord, radians.
    #[must_use]
    pub fn max_deviation(&self) -> f64 {
        self.deviation.iter().copied().fold(0.0, f64::max)
    }

    /// Whether the great-circle arc `a`–`b` crosses the cell's true boundary or comes within
    /// `margin` (radians) of it.
    #[must_use]
    pub fn boundary_near_arc(&self, a: V3, b: V3, margin: f64) -> bool {
        if arc_distance(self.center, a, b) > self.radius + margin {
            return false;
        }
        let layer = cdshealpix::nested::get(self.order);
        for (k, (from, to)) in SIDES.iter().enumerate() {
            let (u, w) = (self.corners[k], self.corners[(k + 1) % 4]);
            let dev = self.deviation[k];
            if !arcs_within(a, b, u, w, dev + margin) {
                continue;
            }
            let fine = self.fine[k];
            let side: Vec<V3> = layer
                .path_along_cell_side(self.hash, from, to, true, FINE)
                .iter()
                .map(|&(lon, lat)| unit(lon, lat))
                .collect();
            if side
                .windows(2)
                .any(|s| arcs_within(a, b, s[0], s[1], margin + fine))
            {
                return true;
            }
        }
        false
    }
}

/// A footprint's region for point tests: cdshealpix polygons of the outer ring and the holes
/// (rings of `(lon, lat)` radians), with cdshealpix's interior convention.
pub(crate) struct Region {
    outer: Polygon,
    holes: Vec<Polygon>,
}

impl Region {
    pub(crate) fn new(outer: &[(f64, f64)], holes: &[Vec<(f64, f64)>]) -> Self {
        let polygon = |ring: &[(f64, f64)]| {
            Polygon::new(ring.iter().map(|&(lon, lat)| LonLat { lon, lat }).collect())
        };
        Self {
            outer: polygon(outer),
            holes: holes.iter().map(|h| polygon(h)).collect(),
        }
    }

    /// Whether `(lon, lat)` (radians) is inside the outer ring and in no hole.
    pub(crate) fn contains(&self, (lon, lat): (f64, f64)) -> bool {
        let p = Coo3D::from_sph_coo(lon, lat);
        self.outer.contains(&p) && !self.holes.iter().any(|h| h.contains(&p))
    }
}
