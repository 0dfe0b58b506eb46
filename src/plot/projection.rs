//! Polar stereographic projection on the WGS84 ellipsoid (Snyder 1987, *Map Projections — A
//! Working Manual*, §21, the "standard parallel" form), with the two standard Arctic and
//! Antarctic parameter sets, and the authalic → geodetic latitude conversion that takes
//! HEALPix cell vertices (hashed on the authalic sphere) back to the ellipsoid.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

use crate::grid::{WGS84_INVERSE_FLATTENING, WGS84_SEMIMAJOR_AXIS};

/// Which pole the map is centred on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pole {
    /// South pole (Antarctica).
    South,
    /// North pole (Greenland, the Arctic).
    North,
}

/// A polar stereographic projection: (latitude, longitude) in degrees → (x, y) in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolarStereographic {
    pole: Pole,
    /// Central meridian, radians.
    lon0: f64,
    /// Semi-major axis, m.
    a: f64,
    /// First eccentricity.
    e: f64,
    /// `a·m_c / t_c` of the standard parallel, m.
    k: f64,
    /// Standard parallel, degrees (signed).
    lat_ts: f64,
}

impl PolarStereographic {
    /// Antarctic Polar Stereographic (EPSG:3031): WGS84, true scale at 71°S, central
    /// meridian 0° (Greenwich towards the top of the map, 90°E to the right).
    pub fn antarctic() -> Self {
        Self::new(Pole::South, -71.0, 0.0, WGS84_SEMIMAJOR_AXIS, wgs84_e())
    }

    /// NSIDC Sea Ice Polar Stereographic North (EPSG:3413): WGS84, true scale at 70°N,
    /// central meridian 45°W.
    pub fn arctic() -> Self {
        Self::new(Pole::North, 70.0, -45.0, WGS84_SEMIMAJOR_AXIS, wgs84_e())
    }

    /// The standard projection of a pole: [`Self::antarctic`] or [`Self::arctic`].
    pub fn for_pole(pole: Pole) -> Self {
        match pole {
            Pole::South => Self::antarctic(),
            Pole::North => Self::arctic(),
        }
    }

    /// Any polar stereographic projection: standard parallel `lat_ts` (degrees, same sign
    /// as the pole), central meridian `lon0` (degrees), ellipsoid semi-major axis `a` (m) and
    /// eccentricity `e`.
    pub fn new(pole: Pole, lat_ts: f64, lon0: f64, a: f64, e: f64) -> Self {
        let phi_c = lat_ts.abs().to_radians();
        let m_c = phi_c.cos() / (1.0 - e * e * phi_c.sin().powi(2)).sqrt();
        let t_c = t(phi_c, e);
        Self {
            pole,
            lon0: lon0.to_radians(),
            a,
            e,
            k: a * m_c / t_c,
            lat_ts,
        }
    }

    /// The pole.
    pub fn pole(&self) -> Pole {
        self.pole
    }

    /// Standard parallel (latitude of true scale), degrees.
    pub fn true_scale_latitude(&self) -> f64 {
        self.lat_ts
    }

    /// Central meridian, degrees.
    pub fn central_meridian(&self) -> f64 {
        self.lon0.to_degrees()
    }

    /// EPSG code of the two standard parameter sets, if this is one of them.
    pub fn epsg(&self) -> Option<u32> {
        if *self == Self::antarctic() {
            Some(3031)
        } else if *self == Self::arctic() {
            Some(3413)
        } else {
            None
        }
    }

    /// Project geodetic latitude and longitude (degrees) to x, y (metres).
    pub fn forward(&self, lat_deg: f64, lon_deg: f64) -> (f64, f64) {
        // The south aspect is the north one with the signs of φ, λ, λ0, x and y changed.
        let s = self.sign();
        let phi = s * lat_deg.to_radians();
        let dlon = s * lon_deg.to_radians() - s * self.lon0;
        let rho = self.k * t(phi, self.e);
        (s * rho * dlon.sin(), -s * rho * dlon.cos())
    }

    /// Inverse: x, y (metres) to geodetic latitude and longitude (degrees, longitude in
    /// −180..=180).
    pub fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let s = self.sign();
        let (xn, yn) = (s * x, s * y);
        let rho = xn.hypot(yn);
        let tt = rho / self.k;
        // φ = π/2 − 2·atan(t·((1 − e sinφ)/(1 + e sinφ))^(e/2)), by fixed-point iteration.
        let mut phi = FRAC_PI_2 - 2.0 * tt.atan();
        for _ in 0..15 {
            let es = self.e * phi.sin();
            let next = FRAC_PI_2 - 2.0 * (tt * ((1.0 - es) / (1.0 + es)).powf(self.e / 2.0)).atan();
            let done = (next - phi).abs() < 1e-14;
            phi = next;
            if done {
                break;
            }
        }
        if rho == 0.0 {
            return (s * 90.0, self.lon0.to_degrees());
        }
        let lon = s * (s * self.lon0 + xn.atan2(-yn));
        let lon = (lon.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
        (s * phi.to_degrees(), lon)
    }

    /// Scale factor (ratio of map distance to true distance) at a latitude, degrees.
    pub fn scale_factor(&self, lat_deg: f64) -> f64 {
        let phi = self.sign() * lat_deg.to_radians();
        let m = phi.cos() / (1.0 - self.e * self.e * phi.sin().powi(2)).sqrt();
        if m == 0.0 {
            // At the pole: the limit of ρ/(a·m).
            let e = self.e;
            return self.k / self.a * ((1.0 + e).powf(1.0 + e) * (1.0 - e).powf(1.0 - e)).sqrt()
                / 2.0;
        }
        self.k * t(phi, self.e) / (self.a * m)
    }

    fn sign(&self) -> f64 {
        match self.pole {
            Pole::North => 1.0,
            Pole::South => -1.0,
        }
    }
}

/// Snyder's t(φ) = tan(π/4 − φ/2) / ((1 − e sinφ)/(1 + e sinφ))^(e/2).
fn t(phi: f64, e: f64) -> f64 {
    let es = e * phi.sin();
    (FRAC_PI_4 - phi / 2.0).tan() / ((1.0 - es) / (1.0 + es)).powf(e / 2.0)
}

/// First eccentricity of WGS84.
pub fn wgs84_e() -> f64 {
    let f = 1.0 / WGS84_INVERSE_FLATTENING;
    (f * (2.0 - f)).sqrt()
}

/// Geodetic latitude (radians) of an authalic latitude (radians) on WGS84: the inverse of
/// [`crate::grid::authalic_latitude`], by the series of Snyder (3-18), refined by two Newton
/// steps on the forward function; accurate to 1e-12 rad.
pub fn geodetic_from_authalic(beta: f64) -> f64 {
    let e2 = wgs84_e().powi(2);
    let (e4, e6) = (e2 * e2, e2 * e2 * e2);
    let mut phi = beta
        + (e2 / 3.0 + 31.0 * e4 / 180.0 + 517.0 * e6 / 5040.0) * (2.0 * beta).sin()
        + (23.0 * e4 / 360.0 + 251.0 * e6 / 3780.0) * (4.0 * beta).sin()
        + (761.0 * e6 / 45360.0) * (6.0 * beta).sin();
    for _ in 0..2 {
        if phi.abs() >= FRAC_PI_2 - 1e-9 {
            break;
        }
        let h = 1e-7;
        let f = crate::grid::authalic_latitude(phi) - beta;
        let df = (crate::grid::authalic_latitude(phi + h)
            - crate::grid::authalic_latitude(phi - h))
            / (2.0 * h);
        if df > 0.0 {
            phi -= f / df;
        }
    }
    phi.clamp(-FRAC_PI_2, FRAC_PI_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snyder_worked_example_south_polar_ellipsoid() {
        // Snyder (1987), p. 315-316: International ellipsoid (a = 6378388 m, e² = 0.00672267),
        // φc = −71°, λ0 = −100°; φ = −75°, λ = 150° → x = −1,540,033.6 m, y = −560,526.4 m.
        let p = PolarStereographic::new(
            Pole::South,
            -71.0,
            -100.0,
            6_378_388.0,
            0.00672267f64.sqrt(),
        );
        let (x, y) = p.forward(-75.0, 150.0);
        assert!((x - -1_540_033.6).abs() < 0.1, "x {x}");
        assert!((y - -560_526.4).abs() < 0.1, "y {y}");
        let (lat, lon) = p.inverse(x, y);
        assert!(
            (lat + 75.0).abs() < 1e-9 && (lon - 150.0).abs() < 1e-9,
            "{lat} {lon}"
        );
    }

    #[test]
    fn antarctic_axes_and_true_scale() {
        let p = PolarStereographic::antarctic();
        assert_eq!(p.epsg(), Some(3031));
        assert_eq!(p.forward(-90.0, 0.0), (0.0, 0.0));
        // Greenwich points up (+y), 90°E to the right (+x).
        let (x, y) = p.forward(-80.0, 0.0);
        assert!(x.abs() < 1e-6 && y > 1e6, "{x} {y}");
        let (x, y) = p.forward(-80.0, 90.0);
        assert!(x > 1e6 && y.abs() < 1e-6, "{x} {y}");
        assert!((p.scale_factor(-71.0) - 1.0).abs() < 1e-12);
        assert!(p.scale_factor(-90.0) < 1.0 && p.scale_factor(-60.0) > 1.0);
        // True scale at 71°S: 0.01° of latitude spans the meridian arc there,
        // M·Δφ with M = a(1 − e²)/(1 − e² sin²φ)^1.5 (1115.74 m on WGS84).
        let (_, y1) = p.forward(-71.005, 0.0);
        let (_, y2) = p.forward(-70.995, 0.0);
        let e2 = wgs84_e().powi(2);
        let sin2 = f64::to_radians(71.0).sin().powi(2);
        let arc =
            WGS84_SEMIMAJOR_AXIS * (1.0 - e2) / (1.0 - e2 * sin2).powf(1.5) * f64::to_radians(0.01);
        assert!(((y2 - y1) - arc).abs() < 0.01, "{} vs {arc}", y2 - y1);
    }

    #[test]
    fn arctic_central_meridian_points_down() {
        let p = PolarStereographic::arctic();
        assert_eq!(p.epsg(), Some(3413));
        // EPSG:3413: 45°W runs from the pole towards the bottom of the map.
        let (x, y) = p.forward(70.0, -45.0);
        assert!(x.abs() < 1e-6 && y < -1e6, "{x} {y}");
        assert!((p.scale_factor(70.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn forward_and_inverse_round_trip() {
        for p in [
            PolarStereographic::antarctic(),
            PolarStereographic::arctic(),
        ] {
            let s = if p.pole() == Pole::South { -1.0 } else { 1.0 };
            for lat in [60.0, 70.5, 80.0, 89.9] {
                for lon in [-179.5, -90.0, -45.0, 0.0, 33.3, 120.0, 180.0] {
                    let (x, y) = p.forward(s * lat, lon);
                    let (la, lo) = p.inverse(x, y);
                    let dlon = ((lo - lon + 540.0) % 360.0 - 180.0).abs();
                    assert!(
                        (la - s * lat).abs() < 1e-9 && dlon < 1e-9,
                        "{lat} {lon} -> {la} {lo}"
                    );
                }
            }
        }
    }

    #[test]
    fn authalic_round_trip() {
        for deg in [
            -90.0, -89.999, -75.0, -45.0, -1.0, 0.0, 0.5, 30.0, 60.0, 89.5, 90.0,
        ] {
            let phi = f64::to_radians(deg);
            let back = geodetic_from_authalic(crate::grid::authalic_latitude(phi));
            assert!((back - phi).abs() < 1e-12, "{deg}: {}", back.to_degrees());
        }
    }
}
