//! Colour maps and value scales of the map and its colour bar.
//!
//! The maps are piecewise-linear through nine sRGB anchors taken at 0, 1/8, …, 1 from
//! matplotlib's perceptually uniform maps (viridis, magma and cividis, published under CC0 by
//! their authors): enough anchors that the interpolation stays within a few 8-bit steps.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::config::Reduction;

/// A colour map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Colormap {
    /// Dark blue–green–yellow; the default for heights.
    Viridis,
    /// Black–purple–orange–cream; the default for uncertainties and spreads.
    Magma,
    /// Blue–grey–yellow, readable with colour-vision deficiency; the default for counts.
    Cividis,
}

const VIRIDIS: [[u8; 3]; 9] = [
    [0x44, 0x01, 0x54],
    [0x47, 0x2d, 0x7b],
    [0x3b, 0x52, 0x8b],
    [0x2c, 0x72, 0x8e],
    [0x21, 0x91, 0x8c],
    [0x28, 0xae, 0x80],
    [0x5e, 0xc9, 0x62],
    [0xad, 0xdc, 0x30],
    [0xfd, 0xe7, 0x25],
];

const MAGMA: [[u8; 3]; 9] = [
    [0x00, 0x00, 0x04],
    [0x1c, 0x10, 0x44],
    [0x4f, 0x12, 0x7b],
    [0x81, 0x25, 0x81],
    [0xb5, 0x36, 0x7a],
    [0xe5, 0x50, 0x64],
    [0xfb, 0x88, 0x61],
    [0xfe, 0xc2, 0x87],
    [0xfc, 0xfd, 0xbf],
];

const CIVIDIS: [[u8; 3]; 9] = [
    [0x00, 0x22, 0x4e],
    [0x12, 0x35, 0x70],
    [0x3b, 0x49, 0x6c],
    [0x57, 0x5d, 0x6d],
    [0x70, 0x71, 0x73],
    [0x8a, 0x87, 0x79],
    [0xa6, 0x9d, 0x75],
    [0xc4, 0xb5, 0x6c],
    [0xfe, 0xe8, 0x38],
];

impl Colormap {
    /// Every map, for messages.
    pub const NAMES: &'static [&'static str] = &["viridis", "magma", "cividis"];

    /// The default for a reduction: viridis for heights, magma for spreads and
    /// uncertainties, cividis for counts.
    pub fn for_reduction(reduce: Reduction) -> Self {
        match reduce {
            Reduction::Count => Colormap::Cividis,
            Reduction::Variance | Reduction::Std | Reduction::WeightedMeanSigma => Colormap::Magma,
            _ => Colormap::Viridis,
        }
    }

    fn anchors(self) -> &'static [[u8; 3]; 9] {
        match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Magma => &MAGMA,
            Colormap::Cividis => &CIVIDIS,
        }
    }

    /// The colour at `t` in 0..=1 (clamped; NaN gives the low end).
    pub fn at(self, t: f64) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let a = self.anchors();
        let pos = t * (a.len() - 1) as f64;
        let i = (pos.floor() as usize).min(a.len() - 2);
        let f = pos - i as f64;
        let mix = |k: usize| {
            let (x, y) = (f64::from(a[i][k]), f64::from(a[i + 1][k]));
            (x + (y - x) * f).round().clamp(0.0, 255.0) as u8
        };
        [mix(0), mix(1), mix(2)]
    }
}

impl fmt::Display for Colormap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Colormap::Viridis => "viridis",
            Colormap::Magma => "magma",
            Colormap::Cividis => "cividis",
        })
    }
}

impl FromStr for Colormap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "viridis" => Ok(Colormap::Viridis),
            "magma" => Ok(Colormap::Magma),
            "cividis" => Ok(Colormap::Cividis),
            other => Err(format!(
                "unknown colour map {other:?} (expected one of {})",
                Colormap::NAMES.join(", ")
            )),
        }
    }
}

/// How values map to 0..=1 along the colour bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Linear.
    Linear,
    /// Logarithmic (positive values only).
    Log,
}

impl Scale {
    /// The default for a reduction: log for counts and variances (they span decades),
    /// linear otherwise.
    pub fn for_reduction(reduce: Reduction) -> Self {
        match reduce {
            Reduction::Count | Reduction::Variance => Scale::Log,
            _ => Scale::Linear,
        }
    }

    /// Position of `v` in `lo..=hi`, in 0..=1 (clamped). With [`Scale::Log`], non-positive
    /// values map to 0.
    pub fn position(self, v: f64, lo: f64, hi: f64) -> f64 {
        let (v, lo, hi) = match self {
            Scale::Linear => (v, lo, hi),
            Scale::Log => {
                if v <= 0.0 {
                    return 0.0;
                }
                (v.log10(), lo.log10(), hi.log10())
            }
        };
        if hi > lo {
            ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.5
        }
    }

    /// The value at position `t` in 0..=1 of `lo..=hi` (inverse of [`Scale::position`]).
    pub fn value(self, t: f64, lo: f64, hi: f64) -> f64 {
        match self {
            Scale::Linear => lo + (hi - lo) * t,
            Scale::Log => 10f64.powf(lo.log10() + (hi.log10() - lo.log10()) * t),
        }
    }

    /// Tick values inside `lo..=hi`: "nice" steps (1, 2, 5 × 10ⁿ) giving 4–8 ticks, or the
    /// powers of ten (with 2 and 5 between when there are few) on a log scale.
    pub fn ticks(self, lo: f64, hi: f64) -> Vec<f64> {
        if hi <= lo || !lo.is_finite() || !hi.is_finite() {
            return vec![lo];
        }
        match self {
            Scale::Linear => {
                let raw = (hi - lo) / 5.0;
                let mag = 10f64.powf(raw.log10().floor());
                let step = [1.0, 2.0, 2.5, 5.0, 10.0]
                    .iter()
                    .map(|m| m * mag)
                    .find(|s| (hi - lo) / s <= 7.0)
                    .unwrap_or(10.0 * mag);
                let first = (lo / step).ceil() as i64;
                let last = (hi / step).floor() as i64;
                (first..=last).map(|i| i as f64 * step).collect()
            }
            Scale::Log => {
                let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
                let mantissas: &[f64] = if b - a <= 3 { &[1.0, 2.0, 5.0] } else { &[1.0] };
                let mut out = Vec::new();
                for p in a..=b {
                    for m in mantissas {
                        let v = m * 10f64.powi(p);
                        if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                            out.push(v);
                        }
                    }
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_middle_hit_the_anchors() {
        assert_eq!(Colormap::Viridis.at(0.0), [0x44, 0x01, 0x54]);
        assert_eq!(Colormap::Viridis.at(1.0), [0xfd, 0xe7, 0x25]);
        assert_eq!(Colormap::Viridis.at(0.5), [0x21, 0x91, 0x8c]);
        assert_eq!(Colormap::Magma.at(2.0), Colormap::Magma.at(1.0));
        assert_eq!(Colormap::Cividis.at(f64::NAN), Colormap::Cividis.at(0.0));
        assert_eq!("magma".parse::<Colormap>(), Ok(Colormap::Magma));
        assert!("jet".parse::<Colormap>().is_err());
    }

    #[test]
    fn maps_are_monotonic_in_lightness() {
        // Perceptually uniform maps: luma rises from the low end to the high end.
        for map in [Colormap::Viridis, Colormap::Magma, Colormap::Cividis] {
            let luma = |t: f64| {
                let [r, g, b] = map.at(t);
                0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
            };
            for i in 0..100 {
                let (a, b) = (luma(f64::from(i) / 100.0), luma(f64::from(i + 1) / 100.0));
                assert!(b >= a - 1.0, "{map} at {i}: {a} -> {b}");
            }
        }
    }

    #[test]
    fn ticks_are_nice_and_inside() {
        assert_eq!(
            Scale::Linear.ticks(775.5, 1598.1),
            [800.0, 1000.0, 1200.0, 1400.0]
        );
        assert_eq!(
            Scale::Linear.ticks(0.0, 1.0),
            [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(
            Scale::Log.ticks(1.0, 323.0),
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]
        );
        assert_eq!(
            Scale::Log.ticks(1.0, 5e4),
            [1.0, 10.0, 100.0, 1000.0, 10000.0]
        );
        assert_eq!(Scale::Log.ticks(3.0, 40.0), [5.0, 10.0, 20.0]);
        for (lo, hi) in [(0.002, 0.15), (-3.0, 17.0), (1e-4, 24.3)] {
            for scale in [Scale::Linear, Scale::Log] {
                let t = scale.ticks(lo, hi);
                assert!(
                    !t.is_empty() && t.iter().all(|&v| v >= lo && v <= hi),
                    "{lo} {hi} {t:?}"
                );
            }
        }
    }

    #[test]
    fn positions_invert() {
        for scale in [Scale::Linear, Scale::Log] {
            let (lo, hi) = (2.0, 300.0);
            for t in [0.0, 0.25, 0.5, 1.0] {
                let v = scale.value(t, lo, hi);
                assert!((scale.position(v, lo, hi) - t).abs() < 1e-12);
            }
        }
        assert_eq!(Scale::Log.position(0.0, 1.0, 10.0), 0.0);
    }
}
