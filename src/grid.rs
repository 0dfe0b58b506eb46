//! The HEALPix grid: hashing lat/lon to nested cell ids, cell hierarchy, and "morton" ids.
//!
//! See SPEC §2. Cells are HEALPix cells in the NESTED scheme: at order `o` there are
//! `12·4^o` cells, numbered `nested = base·4^o + offset` with base cell `0..12`. The parent of a
//! cell at order `o + k` is `nested >> 2k`; the children of a cell are the contiguous range
//! `[nested·4^k, (nested + 1)·4^k)`.
//!
//! A *morton id* is the signed decimal encoding of a nested cell used by the mortie package and the
//! original Python zagg: a leading digit `(base mod 6) + 1`, then one digit per order, each the
//! 2-bit quadrant of that level plus 1 (so `1..=4`), most significant level first; base cells
//! `6..12` make the whole number negative. The order is the number of digits minus one, so orders
//! up to [`MAX_ORDER`] (18) fit in an `i64`. Example: nested 41066 at order 6 ↔ morton −5112333.
//!
//! Hashing uses the `cdshealpix` crate. Latitudes are either converted from geodetic (WGS84) to
//! authalic latitude first ([`Ellipsoid::Wgs84`], the default), or hashed as given
//! ([`Ellipsoid::Sphere`], what the original zagg and mortie did).

use std::f64::consts::FRAC_PI_2;
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use cdshealpix::nested::Layer;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod bounds;
pub use bounds::CellBounds;

/// Deepest order a morton id can encode: 19 decimal digits, which still fit in an `i64`.
pub const MAX_ORDER: u8 = 18;

/// Deepest order [`Hasher`] accepts (the maximum depth of `cdshealpix`, 29).
pub const MAX_HASH_ORDER: u8 = cdshealpix::DEPTH_MAX;

/// WGS84 semi-major axis, in metres (informative: the authalic latitude depends only on the
/// flattening).
pub const WGS84_SEMIMAJOR_AXIS: f64 = 6_378_137.0;

/// WGS84 inverse flattening `1/f`.
pub const WGS84_INVERSE_FLATTENING: f64 = 298.257_223_563;

/// Latitude convention used before hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum Ellipsoid {
    /// Input latitudes are geodetic WGS84 latitudes; they are converted to authalic latitude
    /// before hashing, so that the equal-area HEALPix cells are equal-area on the ellipsoid.
    /// Serialized as `"WGS84"`.
    #[default]
    #[serde(rename = "WGS84")]
    Wgs84,
    /// Input latitudes are hashed as given, as on a sphere (the original zagg and mortie).
    /// Serialized as `"sphere"`.
    #[serde(rename = "sphere")]
    Sphere,
}

/// Why an `i64` is not a valid morton id.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum MortonDefect {
    /// Zero encodes no cell (every morton id has a leading digit 1–6).
    #[error("zero is not a cell")]
    Zero,
    /// The leading (base-cell) digit is outside 1–6.
    #[error("leading digit {digit} is outside 1-6")]
    LeadingDigit {
        /// The offending digit.
        digit: u8,
    },
    /// A level digit is outside 1–4. `position` counts digits from the left, the leading digit
    /// being position 0, so position `k` is the digit of order `k`.
    #[error(
        "digit {digit} at position {position} (counting the leading digit as 0) is outside 1-4"
    )]
    Digit {
        /// The offending digit.
        digit: u8,
        /// Its position from the left (0 = leading digit = order 0).
        position: usize,
    },
    /// More digits than an order-[`MAX_ORDER`] id has (19).
    #[error("{digits} digits is too many: the maximum order is {MAX_ORDER} (19 digits)")]
    TooManyDigits {
        /// The number of decimal digits.
        digits: usize,
    },
}

/// Errors of the grid functions. Every variant names the offending value.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum GridError {
    /// A latitude that is NaN, infinite, or outside [-90, 90] degrees.
    #[error("invalid latitude {value}: must be a finite number of degrees within [-90, 90]")]
    InvalidLatitude {
        /// The latitude, in degrees.
        value: f64,
    },
    /// A longitude that is NaN or infinite.
    #[error("invalid longitude {value}: must be a finite number of degrees")]
    InvalidLongitude {
        /// The longitude, in degrees.
        value: f64,
    },
    /// An order (HEALPix depth) larger than supported.
    #[error("order {order} is out of range: the maximum is {max}")]
    OrderOutOfRange {
        /// The requested order.
        order: u8,
        /// The largest order allowed in this context.
        max: u8,
    },
    /// An `i64` that is not a valid morton id.
    #[error("invalid morton id {value}: {reason}")]
    InvalidMorton {
        /// The rejected value.
        value: i64,
        /// What is wrong with it.
        reason: MortonDefect,
    },
    /// A nested id that is not below `12·4^order`.
    #[error("nested id {id} is out of range for order {order} (it must be below {})", n_cells(*order))]
    NestedOutOfRange {
        /// The rejected nested id.
        id: u64,
        /// The order it was given at.
        order: u8,
    },
    /// A morton id whose own order differs from the order expected by the caller.
    #[error("morton id {morton} has order {morton_order}, but order {expected} is expected")]
    OrderMismatch {
        /// The morton id.
        morton: i64,
        /// Its order (number of digits minus one).
        morton_order: u8,
        /// The order the caller asked for.
        expected: u8,
    },
    /// Cell id text that is neither a morton id nor `nested:<id>`.
    #[error("cannot parse cell id {text:?}: {reason}")]
    UnparsableCell {
        /// The text as given.
        text: String,
        /// Why it could not be parsed.
        reason: String,
    },
}

/// Number of cells at `order`: `12·4^order`.
///
/// Meaningful for orders `0..=29` ([`MAX_HASH_ORDER`]); the result overflows `u64` beyond
/// order 30 (checked by a debug assertion).
#[must_use]
pub const fn n_cells(order: u8) -> u64 {
    debug_assert!(order <= 30);
    12_u64 << (2 * order as u32)
}

/// Constants of the WGS84 authalic latitude.
struct Authalic {
    /// First eccentricity `e`.
    e: f64,
    /// `e²`.
    e2: f64,
    /// `1 − e²`.
    one_minus_e2: f64,
    /// `q_p = q(π/2)`.
    qp: f64,
}

static AUTHALIC: LazyLock<Authalic> = LazyLock::new(|| {
    let f = 1.0 / WGS84_INVERSE_FLATTENING;
    let e2 = f * (2.0 - f);
    let e = e2.sqrt();
    let one_minus_e2 = 1.0 - e2;
    // q(π/2) = 1 + (1 − e²)·atanh(e)/e
    let qp = 1.0 + one_minus_e2 * e.atanh() / e;
    Authalic {
        e,
        e2,
        one_minus_e2,
        qp,
    }
});

/// Converts a geodetic WGS84 latitude to the authalic latitude, both in **radians**.
///
/// WGS84: `a = 6378137 m`, `1/f = 298.257223563`. The authalic latitude `β` of a geodetic
/// latitude `φ` is the latitude on the sphere of equal area: `sin β = q(φ) / q_p` with
/// `q(φ) = (1 − e²)·[sin φ / (1 − e² sin² φ) + atanh(e sin φ) / e]` and `q_p = q(π/2)`.
/// This closed form is evaluated directly near the equator; near the poles it is evaluated
/// through `q_p − q(φ)` (rewritten without cancellation) and `β = π/2 − 2·asin(√((1 − sin β)/2))`,
/// which keeps full precision up to the poles.
///
/// The function is odd (`β(−φ) = −β(φ)`, exactly), increasing (up to rounding: the result is
/// within a few ulps of the exact value), and maps `0` and `±π/2` exactly to themselves.
/// Inputs are expected in `[−π/2, π/2]`; values beyond are treated as the pole of their sign,
/// and NaN gives NaN.
#[must_use]
pub fn authalic_latitude(geodetic_lat_rad: f64) -> f64 {
    let phi = geodetic_lat_rad.abs();
    if phi.is_nan() {
        return geodetic_lat_rad;
    }
    if phi >= FRAC_PI_2 {
        return FRAC_PI_2.copysign(geodetic_lat_rad);
    }
    let k = &*AUTHALIC;
    let (s, c) = phi.sin_cos();
    let beta = if s < 0.7 {
        let q = k.one_minus_e2 * (s / (1.0 - k.e2 * s * s) + (k.e * s).atanh() / k.e);
        (q / k.qp).min(1.0).asin()
    } else {
        // d = 1 − sin φ, computed without cancellation.
        let d = c * c / (1.0 + s);
        let delta = d * (1.0 + k.e2 * s) / (1.0 - k.e2 * s * s)
            + k.one_minus_e2 / k.e * (k.e * d / (1.0 - k.e2 * s)).atanh();
        // t = 1 − sin β = 2 sin²((π/2 − β)/2)
        let t = delta / k.qp;
        FRAC_PI_2 - 2.0 * (0.5 * t).sqrt().min(1.0).asin()
    };
    beta.copysign(geodetic_lat_rad)
}

/// Hashes points (latitude, longitude in degrees) to nested cell ids at one order.
///
/// Build it once and use it for millions of points; it is cheap to clone and `Send + Sync`.
#[derive(Clone)]
pub struct Hasher {
    order: u8,
    ellipsoid: Ellipsoid,
    layer: &'static Layer,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("order", &self.order)
            .field("ellipsoid", &self.ellipsoid)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// Creates a hasher for cells of `order` (`0..=29`, see [`MAX_HASH_ORDER`]) with the given
    /// latitude convention.
    ///
    /// # Errors
    ///
    /// [`GridError::OrderOutOfRange`] if `order > 29`.
    pub fn new(order: u8, ellipsoid: Ellipsoid) -> Result<Self, GridError> {
        if order > MAX_HASH_ORDER {
            return Err(GridError::OrderOutOfRange {
                order,
                max: MAX_HASH_ORDER,
            });
        }
        Ok(Self {
            order,
            ellipsoid,
            layer: cdshealpix::nested::get(order),
        })
    }

    /// The order of the cells this hasher returns.
    #[must_use]
    pub fn order(&self) -> u8 {
        self.order
    }

    /// The latitude convention this hasher applies.
    #[must_use]
    pub fn ellipsoid(&self) -> Ellipsoid {
        self.ellipsoid
    }

    /// Returns the nested id (in `0..12·4^order`) of the cell containing the point at latitude
    /// `lat_deg` and longitude `lon_deg`, both in **degrees**.
    ///
    /// The longitude may be any finite value: values of magnitude ≥ 360° are reduced modulo 360°
    /// (keeping their sign, which matters on the poles, as in mortie). With
    /// [`Ellipsoid::Wgs84`] the latitude is taken as geodetic and converted to authalic latitude
    /// first; with [`Ellipsoid::Sphere`] it is hashed as given. Never panics.
    ///
    /// # Errors
    ///
    /// - [`GridError::InvalidLongitude`] if `lon_deg` is NaN or infinite;
    /// - [`GridError::InvalidLatitude`] if `lat_deg` is NaN, infinite, or `|lat_deg| > 90`.
    #[inline]
    pub fn hash(&self, lat_deg: f64, lon_deg: f64) -> Result<u64, GridError> {
        if !lon_deg.is_finite() {
            return Err(GridError::InvalidLongitude { value: lon_deg });
        }
        if lat_deg.is_nan() || lat_deg.abs() > 90.0 {
            return Err(GridError::InvalidLatitude { value: lat_deg });
        }
        // `%` is exact and returns its input unchanged when |lon| < 360 (including −0.0).
        let lon_deg = if lon_deg.abs() >= 360.0 {
            lon_deg % 360.0
        } else {
            lon_deg
        };
        // 90° in radians may round above π/2, which cdshealpix rejects.
        let lat_rad = lat_deg.to_radians().clamp(-FRAC_PI_2, FRAC_PI_2);
        let lat_rad = match self.ellipsoid {
            Ellipsoid::Wgs84 => authalic_latitude(lat_rad),
            Ellipsoid::Sphere => lat_rad,
        };
        Ok(self.layer.hash(lon_deg.to_radians(), lat_rad))
    }
}

/// The ancestor at `parent_order` of `cell` given at `order`: `cell >> 2·(order − parent_order)`.
///
/// `parent_order` must not exceed `order` (checked by a debug assertion; in release builds a
/// larger `parent_order` returns `cell` unchanged).
#[inline]
#[must_use]
pub fn parent(cell: u64, order: u8, parent_order: u8) -> u64 {
    debug_assert!(
        parent_order <= order,
        "parent order {parent_order} > order {order}"
    );
    cell >> (2 * u32::from(order.saturating_sub(parent_order)))
}

/// The descendants at `child_order` of `cell` given at `order`, a contiguous range of nested ids:
/// `[cell·4^k, (cell + 1)·4^k)` with `k = child_order − order`.
///
/// `child_order` must not be below `order` (checked by a debug assertion; in release builds a
/// smaller `child_order` returns `cell..cell + 1`). Orders up to 29.
#[inline]
#[must_use]
pub fn children(cell: u64, order: u8, child_order: u8) -> Range<u64> {
    debug_assert!(
        child_order >= order,
        "child order {child_order} < order {order}"
    );
    let shift = 2 * u32::from(child_order.saturating_sub(order));
    (cell << shift)..((cell + 1) << shift)
}

/// Encodes the nested id `nested` of a cell at `order` (`0..=18`) as a morton id.
///
/// # Errors
///
/// - [`GridError::OrderOutOfRange`] if `order > 18` ([`MAX_ORDER`]);
/// - [`GridError::NestedOutOfRange`] if `nested >= 12·4^order`.
pub fn nested_to_morton(nested: u64, order: u8) -> Result<i64, GridError> {
    if order > MAX_ORDER {
        return Err(GridError::OrderOutOfRange {
            order,
            max: MAX_ORDER,
        });
    }
    if nested >= n_cells(order) {
        return Err(GridError::NestedOutOfRange { id: nested, order });
    }
    let base = nested >> (2 * u32::from(order));
    // At most 19 digits, the first ≤ 6: at most 6_444_444_444_444_444_444 < i64::MAX.
    let mut value = (base % 6 + 1) as i64;
    for level in (0..u32::from(order)).rev() {
        value = value * 10 + ((nested >> (2 * level)) & 3) as i64 + 1;
    }
    Ok(if base >= 6 { -value } else { value })
}

/// Decodes a morton id into `(nested, order)`: the nested id and its order (`0..=18`, the number
/// of digits minus one).
///
/// # Errors
///
/// [`GridError::InvalidMorton`] if `morton` is 0, its leading digit is outside 1–6, any other
/// digit is outside 1–4, or it has more than 19 digits.
pub fn morton_to_nested(morton: i64) -> Result<(u64, u8), GridError> {
    let invalid = |reason| GridError::InvalidMorton {
        value: morton,
        reason,
    };
    if morton == 0 {
        return Err(invalid(MortonDefect::Zero));
    }
    let mut digits = [0_u8; 20];
    let mut n = 0;
    let mut rest = morton.unsigned_abs();
    while rest > 0 {
        digits[n] = (rest % 10) as u8;
        rest /= 10;
        n += 1;
    }
    // `digits[..n]` holds the digits least significant first.
    if n > usize::from(MAX_ORDER) + 1 {
        return Err(invalid(MortonDefect::TooManyDigits { digits: n }));
    }
    let leading = digits[n - 1];
    if !(1..=6).contains(&leading) {
        return Err(invalid(MortonDefect::LeadingDigit { digit: leading }));
    }
    let mut base = u64::from(leading - 1);
    if morton < 0 {
        base += 6;
    }
    let mut nested = base;
    for (position, &digit) in digits[..n - 1].iter().rev().enumerate() {
        if !(1..=4).contains(&digit) {
            return Err(invalid(MortonDefect::Digit {
                digit,
                position: position + 1,
            }));
        }
        nested = (nested << 2) | u64::from(digit - 1);
    }
    // n ≤ 19, so the order fits in u8.
    Ok((nested, (n - 1) as u8))
}

/// Parses a cell id given as text (e.g. on the command line) into its nested id at `order`.
///
/// Accepted forms (surrounding whitespace ignored):
/// - a morton id, e.g. `-5112333`; its own order must equal `order`;
/// - `nested:<id>`, e.g. `nested:41066`, a nested id at `order` (`0..=29`).
///
/// # Errors
///
/// - [`GridError::UnparsableCell`] if the text is neither form or the number does not parse;
/// - [`GridError::InvalidMorton`] for an invalid morton id;
/// - [`GridError::OrderMismatch`] if a morton id's order differs from `order`;
/// - [`GridError::OrderOutOfRange`] if a nested id is given with `order > 29`;
/// - [`GridError::NestedOutOfRange`] if a nested id is not below `12·4^order`.
pub fn parse_cell(text: &str, order: u8) -> Result<u64, GridError> {
    let trimmed = text.trim();
    let unparsable = |reason: String| GridError::UnparsableCell {
        text: text.to_owned(),
        reason,
    };
    if let Some(id) = trimmed.strip_prefix("nested:") {
        let id: u64 = id.trim().parse().map_err(|e| {
            unparsable(format!(
                "the part after \"nested:\" is not a non-negative integer ({e})"
            ))
        })?;
        if order > MAX_HASH_ORDER {
            return Err(GridError::OrderOutOfRange {
                order,
                max: MAX_HASH_ORDER,
            });
        }
        if id >= n_cells(order) {
            return Err(GridError::NestedOutOfRange { id, order });
        }
        return Ok(id);
    }
    let digits = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unparsable(
            "expected a morton id (an optional minus sign and digits 1-6, then 1-4) \
             or nested:<id>"
                .to_owned(),
        ));
    }
    if digits.len() > usize::from(MAX_ORDER) + 1 {
        return Err(unparsable(format!(
            "a morton id has at most {} digits (order {MAX_ORDER}), this one has {}",
            MAX_ORDER + 1,
            digits.len()
        )));
    }
    let morton: i64 = trimmed
        .parse()
        .map_err(|e| unparsable(format!("not a 64-bit integer ({e})")))?;
    let (nested, morton_order) = morton_to_nested(morton)?;
    if morton_order != order {
        return Err(GridError::OrderMismatch {
            morton,
            morton_order,
            expected: order,
        });
    }
    Ok(nested)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn authalic_reference_values() {
        assert_eq!(authalic_latitude(0.0), 0.0);
        assert_eq!(authalic_latitude(FRAC_PI_2), FRAC_PI_2);
        assert_eq!(authalic_latitude(-FRAC_PI_2), -FRAC_PI_2);
        // Reference: the same closed form evaluated with 50 significant digits (mpmath).
        let cases = [
            (10.0_f64, 0.17376843780722873),
            (40.0, 0.6959272405994581),
            (44.0, 0.7657071762910479),
            (45.0, 0.7831589561180227),
            (50.0, 0.870458708208693),
            (-70.0, -1.2202890393506167),
            (89.0, 1.553264738069262),
            (89.999_999_9, 1.5707963250417363),
        ];
        for (phi, beta) in cases {
            let got = authalic_latitude(phi.to_radians());
            assert!((got - beta).abs() <= 4e-16, "{phi}: {got} vs {beta}");
        }
    }

    /// A random order in `orders` and a random nested id at that order.
    fn cell_at(orders: std::ops::RangeInclusive<u8>) -> impl Strategy<Value = (u8, u64)> {
        orders.prop_flat_map(|o| (Just(o), 0..n_cells(o)))
    }

    proptest! {
        #[test]
        fn morton_round_trip((order, nested) in cell_at(0..=MAX_ORDER)) {
            let morton = nested_to_morton(nested, order).unwrap();
            prop_assert_eq!(morton_to_nested(morton), Ok((nested, order)));
            prop_assert_eq!(parse_cell(&morton.to_string(), order), Ok(nested));
            let digits = morton.unsigned_abs().to_string();
            prop_assert_eq!(digits.len(), usize::from(order) + 1);
            prop_assert_eq!(morton < 0, nested >> (2 * order) >= 6);
        }

        #[test]
        fn morton_rejects_or_round_trips(m in any::<i64>()) {
            if let Ok((nested, order)) = morton_to_nested(m) {
                prop_assert_eq!(nested_to_morton(nested, order), Ok(m));
            }
        }

        #[test]
        fn morton_digit_validation(first in 1..=9_u8, negative in any::<bool>(),
                                   // mostly valid digits, sometimes any digit
                                   rest in prop::collection::vec(prop_oneof![9 => 1..=4_u8, 1 => 0..=9_u8], 0..=18)) {
            let digits: Vec<u8> = std::iter::once(first).chain(rest).collect();
            let abs = digits.iter().fold(0_i128, |acc, &d| acc * 10 + i128::from(d));
            let m = i64::try_from(if negative { -abs } else { abs });
            prop_assume!(m.is_ok(), "19 digits beyond the i64 range");
            let m = m.unwrap();
            let valid = (1..=6).contains(&digits[0]) && digits[1..].iter().all(|d| (1..=4).contains(d));
            match morton_to_nested(m) {
                Ok((nested, order)) => {
                    prop_assert!(valid);
                    prop_assert_eq!(usize::from(order) + 1, digits.len());
                    prop_assert_eq!(nested_to_morton(nested, order), Ok(m));
                }
                Err(GridError::InvalidMorton { value, .. }) => {
                    prop_assert!(!valid);
                    prop_assert_eq!(value, m);
                }
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }

        #[test]
        fn parent_children((order, cell) in cell_at(0..=24), k in 0..=5_u8) {
            let kids = children(cell, order, order + k);
            prop_assert_eq!(kids.end - kids.start, 1_u64 << (2 * k));
            prop_assert_eq!(parent(kids.start, order + k, order), cell);
            prop_assert_eq!(parent(kids.end - 1, order + k, order), cell);
            prop_assert_eq!(parent(cell, order, order), cell);
            if cell > 0 {
                prop_assert_eq!(children(cell - 1, order, order + k).end, kids.start);
                prop_assert_eq!(parent(kids.start - 1, order + k, order), cell - 1);
            }
            if cell + 1 < n_cells(order) {
                prop_assert_eq!(children(cell + 1, order, order + k).start, kids.end);
                prop_assert_eq!(parent(kids.end, order + k, order), cell + 1);
            }
        }

        #[test]
        fn authalic_odd_and_monotonic(a in -FRAC_PI_2..=FRAC_PI_2, b in -FRAC_PI_2..=FRAC_PI_2,
                                      tiny in 1e-12..1e-6_f64) {
            prop_assert_eq!(authalic_latitude(-a), -authalic_latitude(a));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(authalic_latitude(lo) <= authalic_latitude(hi));
            let next = (a + tiny).min(FRAC_PI_2);
            prop_assert!(authalic_latitude(a) <= authalic_latitude(next));
            prop_assert!(authalic_latitude(a).abs() <= a.abs());
        }

        #[test]
        fn hash_never_panics(lat in any::<f64>(), lon in any::<f64>(), order in 0..=29_u8) {
            for ellipsoid in [Ellipsoid::Wgs84, Ellipsoid::Sphere] {
                let hasher = Hasher::new(order, ellipsoid).unwrap();
                match hasher.hash(lat, lon) {
                    Ok(cell) => {
                        prop_assert!(lat.abs() <= 90.0 && lon.is_finite());
                        prop_assert!(cell < n_cells(order));
                    }
                    Err(GridError::InvalidLongitude { .. }) => prop_assert!(!lon.is_finite()),
                    Err(GridError::InvalidLatitude { .. }) => {
                        prop_assert!(lon.is_finite() && (lat.is_nan() || lat.abs() > 90.0));
                    }
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            }
        }

        #[test]
        fn hash_is_hierarchical(lat in -90.0..=90.0_f64, lon in -720.0..720.0_f64, k in 0..=18_u8,
                                wgs84 in any::<bool>()) {
            let ellipsoid = if wgs84 { Ellipsoid::Wgs84 } else { Ellipsoid::Sphere };
            let deep = Hasher::new(18, ellipsoid).unwrap().hash(lat, lon).unwrap();
            let coarse = Hasher::new(k, ellipsoid).unwrap().hash(lat, lon).unwrap();
            prop_assert_eq!(parent(deep, 18, k), coarse);
        }

        #[test]
        fn huge_longitudes_wrap(lat in -90.0..=90.0_f64, lon_1024 in 0..360 * 1024_i32,
                                turns in -1_000_000..1_000_000_i32) {
            // Dyadic longitudes in [0°, 360°), so that adding whole turns is exact.
            let lon = f64::from(lon_1024) / 1024.0;
            let far = lon + 360.0 * f64::from(turns);
            for ellipsoid in [Ellipsoid::Wgs84, Ellipsoid::Sphere] {
                let h = Hasher::new(18, ellipsoid).unwrap();
                if far >= 0.0 {
                    prop_assert_eq!(h.hash(lat, far), h.hash(lat, lon));
                } else {
                    prop_assert_eq!(h.hash(lat, far), h.hash(lat, lon - 360.0));
                }
            }
        }
    }
}
