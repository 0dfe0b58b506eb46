//! A cheap test that rules out points which cannot lie in a cell, so that only points near a
//! shard pay for hashing (an authalic latitude, trigonometry and the HEALPix projection).
//!
//! The bounds are a latitude band in the latitude the caller has (geodetic for
//! [`Ellipsoid::Wgs84`], as given for the sphere) and a longitude range around the cell's
//! centre, both taken from the cell's vertices and 64 points along each edge, widened by
//! 10⁻⁶° plus 1 % of the extent. Cells with a vertex at a pole, or wider than 180° in
//! longitude, have no longitude bound.

use std::f64::consts::FRAC_PI_2;

use super::{authalic_latitude, Ellipsoid};

/// Bounds around one cell (see the module docs). Every point whose hash at the cell's order
/// is the cell passes [`CellBounds::may_contain`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellBounds {
    /// Latitude band, degrees, in the caller's latitude (geodetic for WGS84).
    lat: (f64, f64),
    /// Centre longitude, degrees, and the range of longitude offsets from it, degrees
    /// (`None`: every longitude).
    lon: Option<(f64, f64, f64)>,
}

/// Geodetic latitude (degrees) whose authalic latitude is `beta_deg`: bisection on the
/// monotonic [`authalic_latitude`].
fn geodetic_of_authalic(beta_deg: f64) -> f64 {
    let target = beta_deg.to_radians();
    let (mut lo, mut hi) = (-FRAC_PI_2, FRAC_PI_2);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if authalic_latitude(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).to_degrees()
}

/// `lon - centre` reduced to `(-180, 180]` degrees.
#[inline]
fn offset(lon: f64, centre: f64) -> f64 {
    let d = (lon - centre).rem_euclid(360.0);
    if d > 180.0 {
        d - 360.0
    } else {
        d
    }
}

impl CellBounds {
    /// Bounds of cell `cell` (nested id) at `order`, for points hashed with `ellipsoid`.
    pub fn new(cell: u64, order: u8, ellipsoid: Ellipsoid) -> Self {
        let layer = cdshealpix::nested::get(order);
        let mut points: Vec<(f64, f64)> = layer.vertices(cell).to_vec();
        for side in [
            cdshealpix::compass_point::Cardinal::S,
            cdshealpix::compass_point::Cardinal::E,
            cdshealpix::compass_point::Cardinal::N,
            cdshealpix::compass_point::Cardinal::W,
        ] {
            points.extend(layer.path_along_cell_edge(cell, &side, false, 64).iter());
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &(_, lat) in &points {
            lo = lo.min(lat.to_degrees());
            hi = hi.max(lat.to_degrees());
        }
        let margin = 1e-6 + 0.01 * (hi - lo);
        let (lo, hi) = ((lo - margin).max(-90.0), (hi + margin).min(90.0));
        let lat = match ellipsoid {
            Ellipsoid::Sphere => (lo, hi),
            // The band is in authalic latitude; the points come geodetic.
            Ellipsoid::Wgs84 => (
                if lo <= -90.0 {
                    -90.0
                } else {
                    geodetic_of_authalic(lo) - 1e-9
                },
                if hi >= 90.0 {
                    90.0
                } else {
                    geodetic_of_authalic(hi) + 1e-9
                },
            ),
        };
        let polar = points.iter().any(|&(_, la)| la.abs() > FRAC_PI_2 - 1e-9);
        let (clon, _) = layer.center(cell);
        let centre = clon.to_degrees();
        let (mut olo, mut ohi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &(lon, _) in &points {
            let d = offset(lon.to_degrees(), centre);
            olo = olo.min(d);
            ohi = ohi.max(d);
        }
        let margin = 1e-6 + 0.01 * (ohi - olo);
        let lon = if polar || ohi - olo > 180.0 {
            None
        } else {
            Some((centre, olo - margin, ohi + margin))
        };
        Self { lat, lon }
    }

    /// The latitude band (degrees, in the caller's latitude: geodetic for WGS84), widened by
    /// the margins: every point of the cell has a latitude inside it.
    pub fn latitude_band(&self) -> (f64, f64) {
        self.lat
    }

    /// Whether the point (degrees, finite, |lat| ≤ 90°) may lie in the cell; `false` means
    /// it certainly does not. Not meaningful for invalid positions (hash those).
    #[inline]
    pub fn may_contain(&self, lat_deg: f64, lon_deg: f64) -> bool {
        if lat_deg < self.lat.0 || lat_deg > self.lat.1 {
            return false;
        }
        match self.lon {
            None => true,
            Some((centre, lo, hi)) => {
                let d = offset(lon_deg, centre);
                d >= lo && d <= hi
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{n_cells, parent, Hasher};
    use proptest::prelude::*;

    /// Every point hashed into `cell` passes its bounds.
    fn check(cell: u64, order: u8, ellipsoid: Ellipsoid, lat: f64, lon: f64) {
        let leaf = Hasher::new(12, ellipsoid).expect("hasher");
        let bounds = CellBounds::new(cell, order, ellipsoid);
        if let Ok(h) = leaf.hash(lat, lon) {
            if parent(h, 12, order) == cell {
                assert!(
                    bounds.may_contain(lat, lon),
                    "cell {cell}@{order} ({ellipsoid:?}): ({lat}, {lon}) is inside but ruled out by {bounds:?}"
                );
            }
        }
    }

    fn ellipsoid() -> impl Strategy<Value = Ellipsoid> {
        prop_oneof![Just(Ellipsoid::Wgs84), Just(Ellipsoid::Sphere)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Points scattered around a random cell's centre, up to three cell widths away.
        #[test]
        fn points_of_a_cell_are_never_ruled_out(
            order in 2u8..=8,
            frac in 0.0f64..1.0,
            e in ellipsoid(),
            offsets in proptest::collection::vec((-3.0f64..3.0, -3.0f64..3.0), 200),
        ) {
            let cell = ((n_cells(order) as f64 * frac) as u64).min(n_cells(order) - 1);
            let layer = cdshealpix::nested::get(order);
            let (clon, clat) = layer.center(cell);
            let size = (4.0 * std::f64::consts::PI / n_cells(order) as f64).sqrt().to_degrees();
            for (dy, dx) in offsets {
                let lat = (clat.to_degrees() + dy * size).clamp(-90.0, 90.0);
                let lon = clon.to_degrees() + dx * size / clat.cos().max(0.05);
                // The hash takes geodetic latitude for WGS84: the cell's own latitudes then
                // sit a little away from the centre's, which the scatter covers.
                check(cell, order, e, lat, lon);
            }
        }

        /// Any point on the sphere against the cell it hashes to (any longitude form).
        #[test]
        fn any_point_passes_the_bounds_of_its_own_cell(
            lat in -90.0f64..=90.0,
            lon in -720.0f64..720.0,
            order in 0u8..=8,
            e in ellipsoid(),
        ) {
            let h = Hasher::new(order, e).expect("hasher");
            let cell = h.hash(lat, lon).expect("valid");
            prop_assert!(CellBounds::new(cell, order, e).may_contain(lat, lon));
        }
    }

    #[test]
    fn polar_and_antimeridian_cells() {
        for e in [Ellipsoid::Wgs84, Ellipsoid::Sphere] {
            let h = Hasher::new(6, e).expect("hasher");
            for (lat, lon) in [
                (-90.0, 0.0),
                (-89.99, 45.0),
                (-89.99, -135.0),
                (89.999, 170.0),
                (-77.0, 179.999),
                (-77.0, -179.999),
                (-77.0, 180.0),
                (0.0, 180.0),
                (0.0, -180.0),
                (41.8, 0.0),
            ] {
                let cell = h.hash(lat, lon).expect("valid");
                let b = CellBounds::new(cell, 6, e);
                assert!(b.may_contain(lat, lon), "({lat}, {lon}) cell {cell} {b:?}");
                assert!(b.may_contain(lat, lon + 360.0));
                assert!(b.may_contain(lat, lon - 360.0));
            }
        }
    }

    #[test]
    fn bounds_rule_out_far_points() {
        let h = Hasher::new(6, Ellipsoid::Wgs84).expect("hasher");
        let cell = h.hash(-76.8, -107.5).expect("valid");
        let b = CellBounds::new(cell, 6, Ellipsoid::Wgs84);
        assert!(b.may_contain(-76.8, -107.5));
        assert!(!b.may_contain(-70.0, -107.5));
        assert!(!b.may_contain(-76.8, -90.0));
        assert!(!b.may_contain(-76.8, 72.5));
    }

    #[test]
    fn geodetic_of_authalic_inverts() {
        for deg in [-89.9, -77.0, -45.0, 0.0, 12.5, 60.0, 89.9] {
            let beta = authalic_latitude(f64::to_radians(deg)).to_degrees();
            assert!((geodetic_of_authalic(beta) - deg).abs() < 1e-9, "{deg}");
        }
    }
}
