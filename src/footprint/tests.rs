//! Unit tests of `footprint`.

use super::*;
use crate::grid::Hasher;
use proptest::prelude::*;
use rstar::Envelope;

/// A swath `width_km` wide along the great circle from (lon0, lat0) with initial azimuth
/// `az` (degrees from north), `length_km` long, sampled every ~`step_km`; vertices in
/// counter-clockwise or clockwise order. Returns the polygon and points inside it.
pub(crate) fn swath(
    lon0: f64,
    lat0: f64,
    az: f64,
    length_km: f64,
    width_km: f64,
    step_km: f64,
    clockwise: bool,
) -> (Footprint, Vec<[f64; 2]>) {
    const R: f64 = 6371.0;
    let p0 = unit(lon0.to_radians(), lat0.to_radians());
    // East and north at p0, then the direction of travel.
    let (slo, clo) = lon0.to_radians().sin_cos();
    let (sla, cla) = lat0.to_radians().sin_cos();
    let east = [-slo, clo, 0.0];
    let north = [-sla * clo, -sla * slo, cla];
    let (sa, ca) = az.to_radians().sin_cos();
    let dir = [
        ca * north[0] + sa * east[0],
        ca * north[1] + sa * east[1],
        ca * north[2] + sa * east[2],
    ];
    // Pole of the track's great circle: p0 × dir.
    let pole = [
        p0[1] * dir[2] - p0[2] * dir[1],
        p0[2] * dir[0] - p0[0] * dir[2],
        p0[0] * dir[1] - p0[1] * dir[0],
    ];
    let at = |s: f64, off: f64| -> [f64; 2] {
        let (ss, cs) = (s / R).sin_cos();
        let c = [
            cs * p0[0] + ss * dir[0],
            cs * p0[1] + ss * dir[1],
            cs * p0[2] + ss * dir[2],
        ];
        let (so, co) = (off / R).sin_cos();
        let v = [
            co * c[0] + so * pole[0],
            co * c[1] + so * pole[1],
            co * c[2] + so * pole[2],
        ];
        [
            v[1].atan2(v[0]).to_degrees(),
            v[2].clamp(-1.0, 1.0).asin().to_degrees(),
        ]
    };
    let n = (length_km / step_km).ceil().max(1.0) as usize;
    let stations: Vec<f64> = (0..=n).map(|i| length_km * i as f64 / n as f64).collect();
    let half = width_km / 2.0;
    let mut ring: Vec<[f64; 2]> = stations.iter().map(|&s| at(s, -half)).collect();
    ring.extend(stations.iter().rev().map(|&s| at(s, half)));
    if clockwise {
        ring.reverse();
    }
    ring.push(ring[0]);
    // Points well inside: along the centre line and near both edges.
    let inside: Vec<[f64; 2]> = (0..=200)
        .flat_map(|i| {
            let s = length_km * f64::from(i) / 200.0;
            [at(s, 0.0), at(s, -0.8 * half), at(s, 0.8 * half)]
        })
        .collect();
    (
        Footprint {
            outer: ring,
            holes: Vec::new(),
        },
        inside,
    )
}

fn basins_index() -> &'static ShardIndex {
    static INDEX: std::sync::OnceLock<ShardIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| ShardIndex::new(&Aoi::basins(6).unwrap(), Ellipsoid::Wgs84))
}

fn point_cells(points: &[[f64; 2]], order: u8, ellipsoid: Ellipsoid) -> BTreeSet<u64> {
    let h = Hasher::new(order, ellipsoid).unwrap();
    points.iter().map(|p| h.hash(p[1], p[0]).unwrap()).collect()
}

#[test]
fn antimeridian_swath_stays_narrow() {
    let (fp, inside) = swath(179.0, -70.0, 80.0, 300.0, 12.6, 50.0, false);
    assert!(fp.outer.iter().any(|p| p[0] > 179.0) && fp.outer.iter().any(|p| p[0] < -179.0));
    for e in [Ellipsoid::Wgs84, Ellipsoid::Sphere] {
        let cells = footprint_cells(&fp, 6, e).unwrap();
        let points = point_cells(&inside, 6, e);
        assert!(points.is_subset(&cells), "{points:?} ⊄ {cells:?}");
        // A 300 km swath touches a handful of ~100 km cells, not the long way round.
        assert!(cells.len() <= 12, "{} cells", cells.len());
    }
}

#[test]
fn clockwise_and_counter_clockwise_give_the_same_cells() {
    for (lon, lat, az) in [
        (-100.0, -75.0, 10.0),
        (179.5, -80.0, 100.0),
        (20.0, 60.0, 200.0),
    ] {
        let (ccw, _) = swath(lon, lat, az, 800.0, 12.6, 100.0, false);
        let (cw, _) = swath(lon, lat, az, 800.0, 12.6, 100.0, true);
        assert_eq!(
            footprint_cells(&ccw, 6, Ellipsoid::Wgs84).unwrap(),
            footprint_cells(&cw, 6, Ellipsoid::Wgs84).unwrap()
        );
    }
}

#[test]
fn ring_around_the_south_pole_holds_the_pole() {
    // A closed band around the pole at 88°S, both orders of vertices.
    let mut ring: Vec<[f64; 2]> = (0..36)
        .map(|i| [f64::from(i) * 10.0 - 180.0, -88.0])
        .collect();
    for clockwise in [false, true] {
        if clockwise {
            ring.reverse();
        }
        let fp = Footprint {
            outer: ring.clone(),
            holes: vec![],
        };
        let cells = footprint_cells(&fp, 6, Ellipsoid::Wgs84).unwrap();
        let inner: Vec<[f64; 2]> = (0..720)
            .map(|i| [f64::from(i) * 0.5 - 180.0, -88.1 - f64::from(i % 19) * 0.1])
            .chain([[0.0, -90.0], [123.0, -89.99]])
            .collect();
        assert!(point_cells(&inner, 6, Ellipsoid::Wgs84).is_subset(&cells));
        // Nothing north of 86°S: the cap, not its complement.
        let far: Vec<[f64; 2]> = (0..360).map(|i| [f64::from(i) - 180.0, -86.0]).collect();
        assert!(point_cells(&far, 6, Ellipsoid::Wgs84).is_disjoint(&cells));
        let polar: BTreeSet<u64> = (0..4).map(|b| (8 + b) << 12).collect();
        assert!(polar.is_subset(&cells), "the four cells at the pole");
    }
}

#[test]
fn swath_over_the_pole() {
    // A track that passes right over the south pole.
    let (fp, inside) = swath(0.0, -80.0, 180.0, 2200.0, 12.6, 100.0, false);
    let cells = footprint_cells(&fp, 6, Ellipsoid::Wgs84).unwrap();
    assert!(point_cells(&inside, 6, Ellipsoid::Wgs84).is_subset(&cells));
    assert!(cells.len() < 60, "{} cells", cells.len());
}

#[test]
fn cells_inside_a_hole_are_not_touched() {
    // A 6° × 4° box with a 4° × 2° hole in the middle (well apart from the edges).
    let outer = vec![[0.0, 0.0], [6.0, 0.0], [6.0, 4.0], [0.0, 4.0]];
    let hole = vec![[1.0, 1.0], [1.0, 3.0], [5.0, 3.0], [5.0, 1.0]];
    let solid = Footprint {
        outer: outer.clone(),
        holes: vec![],
    };
    let holed = Footprint {
        outer,
        holes: vec![hole.clone()],
    };
    let all = footprint_cells(&solid, 6, Ellipsoid::Sphere).unwrap();
    let kept = footprint_cells(&holed, 6, Ellipsoid::Sphere).unwrap();
    let hole_cells = footprint_cells(
        &Footprint {
            outer: hole,
            holes: vec![],
        },
        6,
        Ellipsoid::Sphere,
    )
    .unwrap();
    assert!(kept.is_subset(&all));
    let dropped: BTreeSet<u64> = all.difference(&kept).copied().collect();
    assert!(!dropped.is_empty(), "some cells lie wholly inside the hole");
    assert!(dropped.is_subset(&hole_cells));
    // Cells on the hole's boundary (partly outside it) are kept.
    let edge: Vec<[f64; 2]> = (0..=40).map(|i| [1.0 + f64::from(i) * 0.1, 1.0]).collect();
    assert!(point_cells(&edge, 6, Ellipsoid::Sphere).is_subset(&kept));
}

#[test]
fn bad_footprints_are_errors() {
    let fp = Footprint {
        outer: vec![[0.0, 0.0], [1.0, 91.0], [2.0, 0.0]],
        holes: vec![],
    };
    assert!(matches!(
        footprint_cells(&fp, 6, Ellipsoid::Wgs84),
        Err(FootprintError::Vertex { index: 1, .. })
    ));
    let fp = Footprint {
        outer: vec![[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]],
        holes: vec![],
    };
    assert!(matches!(
        footprint_cells(&fp, 6, Ellipsoid::Wgs84),
        Err(FootprintError::TooFewVertices { .. })
    ));
    let fp = Footprint {
        outer: vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]],
        holes: vec![vec![[f64::NAN, 0.0], [1.0, 0.0], [1.0, 1.0]]],
    };
    let e = footprint_cells(&fp, 6, Ellipsoid::Wgs84)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("hole 0: vertex 0"), "{e}");
}

#[test]
fn cell_caps_hold_their_cells() {
    // Every 5th order-6 cell (and all polar and base-cell corner ones): dense points of
    // the cell, from its own hashing, lie in its cap.
    let order = 6;
    let layer = cdshealpix::nested::get(order);
    let n = grid::n_cells(order);
    for hash in (0..n).filter(|h| h % 5 == 0 || h % 4096 == 0 || h % 4096 == 4095) {
        let cap = cell_cap(order, hash);
        assert!(cap.radius < 0.03, "cell {hash}: radius {}", cap.radius);
        let aabb = cap.aabb();
        // sph_coo takes offsets in [0, 1): the last step is just short of the far edge.
        let steps = [
            0.0,
            0.125,
            0.25,
            0.375,
            0.5,
            0.625,
            0.75,
            0.875,
            1.0 - 1e-12,
        ];
        for (i, &dx) in steps.iter().enumerate() {
            for (j, &dy) in steps.iter().enumerate() {
                let (lo, la) = layer.sph_coo(hash, dx, dy);
                let p = unit(lo, la);
                assert!(cap.contains(p), "cell {hash} ({i}, {j})");
                assert!(aabb.contains_point(&p), "cell {hash} ({i}, {j}) box");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// No point of a swath is ever in a cell the coverage misses, and the index gives
    /// exactly the coverage restricted to the AOI — anywhere, antimeridian and poles
    /// included, in both vertex orders.
    #[test]
    fn swath_cells_hold_every_point(lon in -180.0..180.0_f64, lat in -89.0..89.0_f64,
                                    az in 0.0..360.0_f64, len in 20.0..3000.0_f64,
                                    clockwise in any::<bool>(), wgs84 in any::<bool>()) {
        let e = if wgs84 { Ellipsoid::Wgs84 } else { Ellipsoid::Sphere };
        let (fp, inside) = swath(lon, lat, az, len, 12.6, 100.0, clockwise);
        let cells = footprint_cells(&fp, 6, e).unwrap();
        let points = point_cells(&inside, 6, e);
        prop_assert!(points.is_subset(&cells), "missed {:?}", points.difference(&cells).collect::<Vec<_>>());
        // An AOI of the point cells, their neighbours, and a far-away cell.
        let layer = cdshealpix::nested::get(6);
        let mut aoi_cells: BTreeSet<u64> = points.iter()
            .flat_map(|&c| layer.neighbours(c, true).values_vec()).collect();
        aoi_cells.insert(if lat > 0.0 { 10 << 12 } else { 2 << 12 });
        let aoi = Aoi { name: "t".into(), order: 6, cells: aoi_cells.clone() };
        let index = ShardIndex::new(&aoi, e);
        let got: BTreeSet<u64> = index.shards_of(&fp).unwrap().into_iter().collect();
        let want: BTreeSet<u64> = cells.intersection(&aoi_cells).copied().collect();
        prop_assert_eq!(got, want);
    }

    /// The bounding cap of a footprint holds the footprint: every point inside the swath
    /// lies in the cap and in its box.
    #[test]
    fn bounding_cap_holds_the_footprint(lon in -180.0..180.0_f64, lat in -89.0..89.0_f64,
                                        az in 0.0..360.0_f64, len in 20.0..5000.0_f64,
                                        clockwise in any::<bool>()) {
        let (fp, inside) = swath(lon, lat, az, len, 12.6, 100.0, clockwise);
        let prepared = PreparedFootprint::new(&fp, Ellipsoid::Sphere).unwrap();
        let cap = prepared.bounding_cap().unwrap();
        let aabb = cap.aabb();
        for p in inside {
            let v = unit(p[0].to_radians(), p[1].to_radians());
            prop_assert!(cap.contains(v));
            prop_assert!(aabb.contains_point(&v));
        }
    }

    /// A footprint far from the basins (north of 50°S, 500 km long) is discarded.
    #[test]
    fn far_footprints_touch_no_basin(lon in -180.0..180.0_f64, lat in -50.0..60.0_f64,
                                     az in 0.0..360.0_f64) {
        let (fp, _) = swath(lon, lat, az, 500.0, 12.6, 100.0, false);
        prop_assert!(basins_index().shards_of(&fp).unwrap().is_empty());
    }
}

#[test]
fn side_deviation_bounds_the_true_edges() {
    // Every 7th order-6 cell and the polar ones: 256 points along each side lie within the
    // measured deviation of the side's chord. Near the poles the sides stray by kilometres.
    let order = 6;
    let layer = cdshealpix::nested::get(order);
    let sides = [
        (Cardinal::S, Cardinal::E),
        (Cardinal::E, Cardinal::N),
        (Cardinal::N, Cardinal::W),
        (Cardinal::W, Cardinal::S),
    ];
    let mut largest: f64 = 0.0;
    let polar = |h: u64| h % 4096 < 16 || h % 4096 >= 4080;
    for hash in (0..grid::n_cells(order)).filter(|&h| h % 7 == 0 || polar(h)) {
        let shape = CellShape::new(order, hash);
        let v = layer.vertices(hash).map(|(lon, lat)| unit(lon, lat));
        for (k, (from, to)) in sides.iter().enumerate() {
            let dev = shape.deviation(k);
            let side: Vec<[f64; 3]> = layer
                .path_along_cell_side(hash, from, to, true, 512)
                .iter()
                .map(|&(lon, lat)| unit(lon, lat))
                .collect();
            for (i, &p) in side.iter().enumerate() {
                let d = exact::arc_distance(p, v[k], v[(k + 1) % 4]);
                assert!(d <= dev, "cell {hash} side {k}: {d} > {dev}");
                // And within the allowance of the 64-segment drawing (every 8th point is
                // one of its vertices).
                let (a, b) = (side[i / 8 * 8], side[(i / 8 * 8 + 8).min(512)]);
                let d = exact::arc_distance(p, a, b);
                let fine = shape.fine(k);
                assert!(d <= fine, "cell {hash} side {k} point {i}: {d} > {fine}");
            }
        }
        largest = largest.max(shape.max_deviation());
    }
    // 6.5 km (×1.25) at the cells next to the poles.
    assert!((1.0e-3..1.4e-3).contains(&largest), "{largest}");
}

#[test]
fn arcs_within_a_margin() {
    let p = |lon: f64, lat: f64| unit(lon.to_radians(), lat.to_radians());
    // Two crossing arcs, and the same arcs apart by ~0.01° (1.7e-4 rad).
    assert!(exact::arcs_within(
        p(0.0, -1.0),
        p(0.0, 1.0),
        p(-1.0, 0.0),
        p(1.0, 0.0),
        0.0
    ));
    let (a, b) = (p(0.0, -1.0), p(0.0, 1.0));
    let (c, d) = (p(0.01, 0.0), p(1.0, 0.0));
    assert!(!exact::arcs_within(a, b, c, d, 1.7e-4));
    assert!(exact::arcs_within(a, b, c, d, 1.8e-4));
    // Antipodal copies of crossing arcs do not cross.
    let neg = |v: [f64; 3]| [-v[0], -v[1], -v[2]];
    assert!(!exact::arcs_within(
        a,
        b,
        neg(p(-1.0, 0.0)),
        neg(p(1.0, 0.0)),
        1e-6
    ));
    // Distance to an arc: to its interior, or to the nearer end.
    let d = exact::arc_distance(p(0.5, 0.0), a, b).to_degrees();
    assert!((d - 0.5).abs() < 1e-12, "{d}");
    let d = exact::arc_distance(p(0.0, 3.0), a, b).to_degrees();
    assert!((d - 2.0).abs() < 1e-12, "{d}");
}
