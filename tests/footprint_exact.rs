//! The catalog's footprint → shard intersection (`ShardIndex::shards_of`: R-tree prefilter,
//! cdshealpix polygon coverage, AOI) against the independent exact check of
//! `tests/common/sphere.rs`, on random swaths anywhere on the sphere: across the antimeridian,
//! over and near the poles, in both vertex orders, with both latitude conventions.

mod common;

use std::collections::BTreeSet;

use common::sphere::{self, Cell, Polygon, Relation, TOL};
use proptest::prelude::*;
use zagg::aoi::Aoi;
use zagg::footprint::{Footprint, ShardIndex};
use zagg::grid::{Ellipsoid, Hasher};

const R_KM: f64 = 6371.0;
const ORDER: u8 = 6;

/// A point `s` km along the great circle from `p0` in direction `dir`, then `off` km to the
/// side (towards `pole`), as `[lon, lat]` degrees.
fn along(p0: [f64; 3], dir: [f64; 3], pole: [f64; 3], s: f64, off: f64) -> [f64; 2] {
    let (ss, cs) = (s / R_KM).sin_cos();
    let c: Vec<f64> = (0..3).map(|k| cs * p0[k] + ss * dir[k]).collect();
    let (so, co) = (off / R_KM).sin_cos();
    let v: Vec<f64> = (0..3).map(|k| co * c[k] + so * pole[k]).collect();
    [
        v[1].atan2(v[0]).to_degrees(),
        v[2].clamp(-1.0, 1.0).asin().to_degrees(),
    ]
}

/// A footprint like CMR's: a `width_km` wide swath along the great circle that starts at
/// (`lon0`, `lat0`) with azimuth `az` (degrees from north), `length_km` long, a vertex on each
/// side every ~`step_km`, closed, in either order. Also returns a function placing points
/// relative to the track (along, across, in km).
#[allow(clippy::too_many_arguments)]
fn swath(
    lon0: f64,
    lat0: f64,
    az: f64,
    length_km: f64,
    width_km: f64,
    step_km: f64,
    clockwise: bool,
) -> (Footprint, impl Fn(f64, f64) -> [f64; 2]) {
    let (lo, la, a) = (lon0.to_radians(), lat0.to_radians(), az.to_radians());
    let p0 = [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()];
    let east = [-lo.sin(), lo.cos(), 0.0];
    let north = [-la.sin() * lo.cos(), -la.sin() * lo.sin(), la.cos()];
    let dir: [f64; 3] = std::array::from_fn(|k| a.cos() * north[k] + a.sin() * east[k]);
    let pole = [
        p0[1] * dir[2] - p0[2] * dir[1],
        p0[2] * dir[0] - p0[0] * dir[2],
        p0[0] * dir[1] - p0[1] * dir[0],
    ];
    let at = move |s: f64, off: f64| along(p0, dir, pole, s, off);
    let n = (length_km / step_km).ceil().max(1.0) as usize;
    let stations: Vec<f64> = (0..=n).map(|i| length_km * i as f64 / n as f64).collect();
    let half = width_km / 2.0;
    let mut ring: Vec<[f64; 2]> = stations.iter().map(|&s| at(s, -half)).collect();
    ring.extend(stations.iter().rev().map(|&s| at(s, half)));
    if clockwise {
        ring.reverse();
    }
    ring.push(ring[0]);
    let fp = Footprint {
        outer: ring,
        holes: Vec::new(),
    };
    (fp, at)
}

/// The cells of points within ~`reach` km of the track (every 10 km along and across, from
/// `reach` before the start to `reach` after the end): the swath's cells and their
/// surroundings.
fn cells_near(
    at: &impl Fn(f64, f64) -> [f64; 2],
    length_km: f64,
    reach: f64,
    ellipsoid: Ellipsoid,
) -> BTreeSet<u64> {
    let h = Hasher::new(ORDER, ellipsoid).unwrap();
    let mut cells = BTreeSet::new();
    let mut s = -reach;
    while s <= length_km + reach {
        let mut off = -reach;
        while off <= reach {
            let p = at(s, off);
            cells.insert(h.hash(p[1], p[0]).unwrap());
            off += 10.0;
        }
        s += 10.0;
    }
    cells
}

/// What the catalog says, what the exact check says, and the cells where either is right.
struct Outcome {
    got: BTreeSet<u64>,
    yes: BTreeSet<u64>,
    either: BTreeSet<u64>,
    aoi: usize,
}

/// Index the cells near a random swath (and one far away) as an AOI, ask the catalog's index
/// which the swath touches, and check every AOI cell exactly.
fn compare(
    lon: f64,
    lat: f64,
    az: f64,
    len: f64,
    step: f64,
    clockwise: bool,
    wgs84: bool,
) -> (Footprint, Outcome) {
    compare_width(lon, lat, az, len, 12.6, step, clockwise, wgs84)
}

/// [`compare`] for a footprint `width` km wide.
#[allow(clippy::too_many_arguments)]
fn compare_width(
    lon: f64,
    lat: f64,
    az: f64,
    len: f64,
    width: f64,
    step: f64,
    clockwise: bool,
    wgs84: bool,
) -> (Footprint, Outcome) {
    let e = if wgs84 {
        Ellipsoid::Wgs84
    } else {
        Ellipsoid::Sphere
    };
    let (fp, at) = swath(lon, lat, az, len, width, step, clockwise);
    let mut cells = cells_near(&at, len, 60.0 + width / 2.0, e);
    cells.insert(if lat > 0.0 { 10 << 12 } else { 2 << 12 });
    let aoi = Aoi {
        name: "near".into(),
        order: ORDER,
        cells: cells.clone(),
    };
    let index = ShardIndex::new(&aoi, e);
    let got: BTreeSet<u64> = index.shards_of(&fp).unwrap().into_iter().collect();
    let polygon = Polygon::new(&fp.outer, &[], wgs84);
    let geoms: Vec<Cell> = cells.iter().map(|&c| Cell::new(ORDER, c)).collect();
    let (yes, either) = sphere::brute_force(&polygon, &geoms, TOL);
    let aoi = cells.len();
    (
        fp,
        Outcome {
            got,
            yes,
            either,
            aoi,
        },
    )
}

/// Latitudes: anywhere, and often near a pole.
fn latitude() -> impl Strategy<Value = f64> {
    prop_oneof![
        -89.9..89.9_f64,
        -89.9..-80.0_f64,
        80.0..89.9_f64,
        -89.99..-89.5_f64
    ]
}

/// Longitudes: anywhere, and often next to the antimeridian.
fn longitude() -> impl Strategy<Value = f64> {
    prop_oneof![-180.0..180.0_f64, 179.0..180.0_f64, -180.0..-179.0_f64]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Every cell the exact check finds certainly intersected is in the catalog's answer,
    /// and every cell of the answer is intersected (or within the tolerance band).
    #[test]
    fn catalog_shards_agree_with_the_exact_check(
        lon in longitude(), lat in latitude(), az in 0.0..360.0_f64,
        len in 20.0..3000.0_f64, step in 50.0..150.0_f64,
        clockwise in any::<bool>(), wgs84 in any::<bool>(),
    ) {
        let (fp, o) = compare(lon, lat, az, len, step, clockwise, wgs84);
        let missed: Vec<&u64> = o.yes.difference(&o.got).collect();
        let extra: Vec<&u64> = o.got.iter()
            .filter(|c| !o.yes.contains(c) && !o.either.contains(c)).collect();
        prop_assert!(missed.is_empty() && extra.is_empty(),
            "missed {missed:?}, extra {extra:?} (either {:?}) of {} AOI cells; footprint {:?}",
            o.either, o.aoi, fp.outer);
        // The swath does touch something: the cells of its own track.
        prop_assert!(!o.yes.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The same for footprints from 0.2 to 400 km wide and 0.5 to 1500 km long: cells wholly
    /// inside a footprint, and footprints wholly inside a cell.
    #[test]
    fn wide_and_tiny_footprints_agree_with_the_exact_check(
        lon in longitude(), lat in latitude(), az in 0.0..360.0_f64,
        len in prop_oneof![0.5..20.0_f64, 20.0..1500.0_f64],
        width in prop_oneof![0.2..12.6_f64, 12.6..400.0_f64],
        clockwise in any::<bool>(), wgs84 in any::<bool>(),
    ) {
        let (fp, o) = compare_width(lon, lat, az, len, width, 100.0, clockwise, wgs84);
        let missed: Vec<&u64> = o.yes.difference(&o.got).collect();
        let extra: Vec<&u64> = o.got.iter()
            .filter(|c| !o.yes.contains(c) && !o.either.contains(c)).collect();
        prop_assert!(missed.is_empty() && extra.is_empty(),
            "missed {missed:?}, extra {extra:?} (either {:?}) of {} AOI cells; footprint {:?}",
            o.either, o.aoi, fp.outer);
    }
}

/// cdshealpix's polygon coverage of a footprint's outer ring (the previous method), with the
/// latitudes converted like zagg converts them.
fn chord_coverage(fp: &Footprint, wgs84: bool) -> BTreeSet<u64> {
    let ring: Vec<(f64, f64)> = fp.outer[..fp.outer.len() - 1]
        .iter()
        .map(|p| {
            let lat = p[1].to_radians();
            let lat = if wgs84 { sphere::authalic(lat) } else { lat };
            (p[0].to_radians().rem_euclid(std::f64::consts::TAU), lat)
        })
        .collect();
    cdshealpix::nested::get(ORDER)
        .polygon_coverage(&ring, true)
        .flat_iter()
        .collect()
}

/// Cases the exact check found, kept as fixed tests. cdshealpix's polygon coverage takes a
/// cell's edges as the great-circle chords between its vertices; the true edges stray from
/// them by up to 6.5 km near the poles (order 6).
#[test]
fn cases_found_by_the_exact_check() {
    let agree = |o: &Outcome| {
        let missed: Vec<&u64> = o.yes.difference(&o.got).collect();
        assert!(missed.is_empty(), "missed {missed:?}");
        let extra: Vec<&u64> = o
            .got
            .iter()
            .filter(|c| !o.yes.contains(c) && !o.either.contains(c))
            .collect();
        assert!(extra.is_empty(), "extra {extra:?}");
    };
    // A swath ending 70 m short of cell 7677 (77°N): the chord coverage holds the cell.
    let (fp, o) = compare(
        -179.083_328_791_559_58,
        82.640_362_685_349_37,
        184.383_002_135_989_07,
        570.607_091_167_595_5,
        50.0,
        false,
        true,
    );
    agree(&o);
    assert!(chord_coverage(&fp, true).contains(&7677) && !o.got.contains(&7677));
    // A swath passing 100 km from the south pole reaches the polar cell 32768 past its
    // curved north-east side: the chord coverage misses it.
    let (fp, o) = compare(
        179.951_250_441_213_74,
        -86.952_177_672_378_61,
        195.682_084_554_089_87,
        2_847.838_212_777_527,
        111.002_483_645_796_06,
        false,
        false,
    );
    agree(&o);
    assert!(!chord_coverage(&fp, false).contains(&32768) && o.got.contains(&32768));
    // Swaths that reach a cell only between a side and its chord (found while testing the
    // chord prefilter of the side test).
    let (_, o) = compare(
        -179.840_449_122_283_62,
        83.956_439_012_986_1,
        113.467_238_339_831_08,
        2_387.730_767_150_334_5,
        137.924_920_965_238_24,
        false,
        true,
    );
    agree(&o);
    assert!(o.got.contains(&12264));
    let (_, o) = compare_width(
        -179.0,
        86.444_970_605_255_08,
        21.440_598_133_129_52,
        210.191_660_857_334_45,
        141.502_753_726_675_22,
        100.0,
        false,
        false,
    );
    agree(&o);
    assert!(o.got.contains(&12286));
}

/// Many swaths: the tolerance band decides only a tiny share of the cells, so the property
/// above is strict almost everywhere (and the check is not vacuous).
#[test]
fn the_tolerance_band_is_rarely_used() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut yes, mut either, mut no) = (0, 0, 0);
    for i in 0..40 {
        let lat = if i % 4 == 0 {
            -89.0 + next()
        } else {
            -89.0 + 178.0 * next()
        };
        let lon = 360.0 * next() - 180.0;
        let (_, o) = compare(
            lon,
            lat,
            360.0 * next(),
            20.0 + 2000.0 * next(),
            100.0,
            i % 2 == 0,
            i % 3 != 0,
        );
        assert!(o.yes.is_subset(&o.got));
        yes += o.yes.len();
        either += o.either.len();
        no += o.aoi - o.yes.len() - o.either.len();
    }
    eprintln!("exact check: {yes} yes, {no} no, {either} either");
    assert!(yes > 200 && no > 200, "{yes} yes, {no} no");
    assert!(either * 100 <= yes + no, "{either} either");
}

#[test]
fn the_check_itself_on_known_cases() {
    // A ring around the south pole holds the four cells at the pole and nothing at 80°S.
    let ring: Vec<[f64; 2]> = (0..36)
        .map(|i| [f64::from(i) * 10.0 - 180.0, -88.0])
        .collect();
    for r in [ring.clone(), ring.iter().rev().copied().collect()] {
        let p = Polygon::new(&r, &[], true);
        for b in 8..12_u64 {
            let cell = Cell::new(ORDER, b << 12);
            assert_eq!(sphere::relation(&p, &cell, TOL), Relation::Yes);
        }
        assert!(p.contains(sphere::vertex([0.0, -90.0], true)));
        assert!(!p.contains(sphere::vertex([0.0, -87.0], true)));
        let h = Hasher::new(ORDER, Ellipsoid::Wgs84).unwrap();
        let far = Cell::new(ORDER, h.hash(-80.0, 33.0).unwrap());
        assert_eq!(sphere::relation(&p, &far, TOL), Relation::No);
    }
    // A swath across the antimeridian: points on its centre line are inside, points 10 km
    // outside it are not, and their cells relate accordingly.
    let (fp, at) = swath(179.5, -72.0, 85.0, 400.0, 12.6, 100.0, false);
    let p = Polygon::new(&fp.outer, &[], true);
    let h = Hasher::new(ORDER, Ellipsoid::Wgs84).unwrap();
    for s in [0.5, 50.0, 200.0, 399.5] {
        let q = at(s, 0.0);
        assert!(p.contains(sphere::vertex(q, true)), "{q:?}");
        let cell = Cell::new(ORDER, h.hash(q[1], q[0]).unwrap());
        assert_eq!(sphere::relation(&p, &cell, TOL), Relation::Yes);
        assert!(!p.contains(sphere::vertex(at(s, 16.3), true)));
        assert!(!p.contains(sphere::vertex(at(s, -16.3), true)));
    }
    assert!(!p.contains(sphere::vertex(at(-10.0, 0.0), true)));
    assert!(!p.contains(sphere::vertex(at(410.0, 0.0), true)));
    // A swath inside one cell: the polygon-in-cell case (no cell point is in it).
    let h = Hasher::new(ORDER, Ellipsoid::Sphere).unwrap();
    let c = h.hash(-75.0, 40.0).unwrap();
    let (lon, lat) = cdshealpix::nested::get(ORDER).center(c);
    let (fp, _) = swath(
        lon.to_degrees(),
        lat.to_degrees(),
        30.0,
        5.0,
        1.0,
        5.0,
        true,
    );
    let p = Polygon::new(&fp.outer, &[], false);
    assert_eq!(
        sphere::relation(&p, &Cell::new(ORDER, c), TOL),
        Relation::Yes
    );
    // The authalic conversion: 0 and the poles fixed, 45° → 44.8717°.
    assert_eq!(sphere::authalic(0.0), 0.0);
    assert!(
        (sphere::authalic(std::f64::consts::FRAC_PI_2) - std::f64::consts::FRAC_PI_2).abs() < 1e-7
    );
    let a = sphere::authalic(45f64.to_radians()).to_degrees();
    assert!((a - zagg::grid::authalic_latitude(45f64.to_radians()).to_degrees()).abs() < 1e-9);
    assert!((a - 44.8717).abs() < 1e-3, "{a}");
}
