//! A synthetic ATL06 cycle for catalog tests and benchmarks: 1387 reference ground tracks ×
//! 14 granule regions along a circular orbit of inclination 92°, about a quarter of the
//! granules left out (as over open ocean), so ~14.7k granules like cycle 22. Each footprint is
//! a 12.6 km wide swath along the ground track with vertices every ~100 km (the polar regions
//! 4 and 11 turn around the poles). Deterministic.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};
use zagg::cmr::CmrGranule;
use zagg::footprint::Footprint;

const R_KM: f64 = 6371.0;
const INC_DEG: f64 = 92.0;
const RGTS: u32 = 1387;

fn unit(lon: f64, lat: f64) -> [f64; 3] {
    let (lo, la) = (lon.to_radians(), lat.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

fn lonlat(v: [f64; 3]) -> [f64; 2] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    [
        v[1].atan2(v[0]).to_degrees(),
        (v[2] / n).clamp(-1.0, 1.0).asin().to_degrees(),
    ]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Argument of latitude (degrees) where the track crosses `lat`, ascending or descending.
fn u_at(lat: f64, descending: bool) -> f64 {
    let u = (lat.to_radians().sin() / INC_DEG.to_radians().sin())
        .asin()
        .to_degrees();
    if descending {
        180.0 - u
    } else if u < 0.0 {
        360.0 + u
    } else {
        u
    }
}

/// The 14 granule regions as ranges of the argument of latitude (degrees from the
/// ascending node).
fn regions() -> [(f64, f64); 14] {
    let b = [
        0.0,
        u_at(27.0, false),
        u_at(59.5, false),
        u_at(80.0, false),
        u_at(80.0, true),
        u_at(59.5, true),
        u_at(27.0, true),
        180.0,
        u_at(-27.0, true),
        u_at(-59.5, true),
        u_at(-79.0, true),
        u_at(-79.0, false),
        u_at(-59.5, false),
        u_at(-27.0, false),
        360.0,
    ];
    std::array::from_fn(|i| (b[i], b[i + 1]))
}

/// Ground-track unit vectors of RGT `rgt` for arguments of latitude `u0..u1` (degrees),
/// about every `step_km`.
fn track(rgt: u32, u0: f64, u1: f64, step_km: f64) -> Vec<[f64; 3]> {
    let period_s = 91.0 * 86400.0 / f64::from(RGTS);
    let shift = 360.0 * period_s / 86164.0;
    let node = (-(f64::from(rgt - 1)) * shift).rem_euclid(360.0) - 180.0;
    let inc = INC_DEG.to_radians();
    let n = (((u1 - u0).to_radians() * R_KM / step_km).ceil() as usize).max(2);
    (0..=n)
        .map(|k| {
            let u = (u0 + (u1 - u0) * k as f64 / n as f64).to_radians();
            let lat = (inc.sin() * u.sin()).asin();
            let lon = node.to_radians() + (inc.cos() * u.sin()).atan2(u.cos())
                - 2.0 * std::f64::consts::PI / 86164.0 * period_s * u / std::f64::consts::TAU;
            unit(lon.to_degrees(), lat.to_degrees())
        })
        .collect()
}

/// A closed ring around the track, `half_km` to each side.
fn swath(points: &[[f64; 3]], half_km: f64) -> Vec<[f64; 2]> {
    let off = half_km / R_KM;
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for (i, &p) in points.iter().enumerate() {
        let a = points[i.saturating_sub(1)];
        let b = points[(i + 1).min(points.len() - 1)];
        let d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let side = cross(p, d);
        let n = (side[0] * side[0] + side[1] * side[1] + side[2] * side[2]).sqrt();
        let side = [side[0] / n, side[1] / n, side[2] / n];
        let (s, c) = off.sin_cos();
        left.push(lonlat([
            c * p[0] + s * side[0],
            c * p[1] + s * side[1],
            c * p[2] + s * side[2],
        ]));
        right.push(lonlat([
            c * p[0] - s * side[0],
            c * p[1] - s * side[1],
            c * p[2] - s * side[2],
        ]));
    }
    let mut ring = right;
    ring.extend(left.into_iter().rev());
    ring.push(ring[0]);
    ring
}

/// The granules of a synthetic `cycle` (id, URLs and footprint), in acquisition order.
pub fn synthetic_cycle(cycle: u32) -> Vec<CmrGranule> {
    let start = Utc
        .with_ymd_and_hms(2023, 12, 18, 21, 15, 38)
        .single()
        .expect("date");
    let period_s = 91.0 * 86400.0 / f64::from(RGTS);
    let mut out = Vec::new();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for rgt in 1..=RGTS {
        for (r, &(u0, u1)) in regions().iter().enumerate() {
            // xorshift: leave out ~24% of the granules.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state % 100 < 24 {
                continue;
            }
            let t = start
                + Duration::milliseconds(
                    ((f64::from(rgt - 1) + u0 / 360.0) * period_s * 1000.0) as i64,
                );
            let id = format!(
                "ATL06_{}_{rgt:04}{cycle:02}{:02}_007_01.h5",
                t.format("%Y%m%d%H%M%S"),
                r + 1
            );
            let day = t.format("%Y/%m/%d");
            out.push(CmrGranule {
                s3: Some(format!(
                    "s3://nsidc-cumulus-prod-protected/ATLAS/ATL06/007/{day}/{id}"
                )),
                https: Some(format!(
                    "https://data.example.test/ATLAS/ATL06/007/{day}/{id}"
                )),
                size_bytes: Some(50_000_000),
                footprints: vec![Footprint {
                    outer: swath(&track(rgt, u0, u1, 100.0), 6.3),
                    holes: vec![],
                }],
                id,
            });
        }
    }
    out
}

/// A granule as a UMM-G item (the fields zagg reads, shaped like CMR's).
pub fn umm_item(g: &CmrGranule) -> Value {
    let points: Vec<Value> = g.footprints[0]
        .outer
        .iter()
        .map(|p| json!({"Longitude": p[0], "Latitude": p[1]}))
        .collect();
    json!({
        "meta": {"concept-type": "granule", "provider-id": "NSIDC_CPRD", "native-id": g.id},
        "umm": {
            "GranuleUR": g.id,
            "CollectionReference": {"ShortName": "ATL06", "Version": "007"},
            "TemporalExtent": {"RangeDateTime": {
                "BeginningDateTime": "2023-12-19T00:00:00.000Z",
                "EndingDateTime": "2023-12-19T00:05:00.000Z"}},
            "SpatialExtent": {"HorizontalSpatialDomain": {"Geometry": {"GPolygons": [
                {"Boundary": {"Points": points}}]}}},
            "RelatedUrls": [
                {"URL": g.https, "Type": "GET DATA"},
                {"URL": g.s3, "Type": "GET DATA VIA DIRECT ACCESS"}],
            "DataGranule": {"ArchiveAndDistributionInformation": [
                {"Name": g.id, "SizeInBytes": g.size_bytes}]}
        }
    })
}
