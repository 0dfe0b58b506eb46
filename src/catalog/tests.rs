//! Unit tests of `catalog`.

use super::*;
use crate::footprint::Footprint;
use std::path::Path;

fn granule(id: &str, ring: Vec<[f64; 2]>) -> CmrGranule {
    CmrGranule {
        id: id.into(),
        s3: Some(format!("s3://bucket/{id}")),
        https: Some(format!("https://host.test/{id}")),
        size_bytes: None,
        footprints: vec![Footprint {
            outer: ring,
            holes: vec![],
        }],
    }
}

#[test]
fn items_are_sorted_and_carry_morton_ids() {
    let aoi = Aoi::basins(6).unwrap();
    let index = ShardIndex::new(&aoi, Ellipsoid::Wgs84);
    // Two overlapping boxes over the same Thwaites cells, given in reverse id order,
    // and one in the Arctic.
    let boxy = |lo: f64| {
        vec![
            [lo, -76.0],
            [lo + 3.0, -76.0],
            [lo + 3.0, -75.0],
            [lo, -75.0],
        ]
    };
    let gs = vec![
        granule("ATL06_b", boxy(-107.0)),
        granule("ATL06_a", boxy(-106.5)),
        granule("ATL06_arctic", vec![[0.0, 80.0], [2.0, 80.0], [1.0, 81.0]]),
        granule("ATL06_bad", vec![[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]),
    ];
    let r = intersect(&gs, &index).unwrap();
    assert_eq!(r.granules_in_aoi, 2);
    assert_eq!(r.skipped.len(), 1);
    assert!(
        r.skipped[0].reason.starts_with("footprint: outer"),
        "{:?}",
        r.skipped
    );
    let items = &r.catalog.0;
    assert!(!items.is_empty());
    assert!(items.windows(2).all(|w| w[0].shard < w[1].shard));
    for item in items {
        assert!(aoi.cells.contains(&item.shard));
        assert_eq!(
            grid::morton_to_nested(item.morton).unwrap(),
            (item.shard, 6)
        );
        let ids: Vec<&str> = item.granules.iter().map(|g| g.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(!ids.contains(&"ATL06_arctic"));
    }
    assert!(items.iter().any(|i| i.granules.len() == 2));
    // The order of the input does not change the output.
    let mut rev = gs.clone();
    rev.reverse();
    assert_eq!(intersect(&rev, &index).unwrap().catalog, r.catalog);
}

#[test]
fn aoi_band_of_the_basins() {
    let b = aoi_bounding_box(&Aoi::basins(6).unwrap()).unwrap();
    assert_eq!((b.west, b.east, b.south), (-180.0, 180.0, -90.0));
    // The basins reach about 60°S (the Peninsula tip and the cells around it).
    assert!(b.north > -62.0 && b.north < -55.0, "{b:?}");
    let everything = Aoi {
        name: "all".into(),
        order: 1,
        cells: (0..48).collect(),
    };
    assert_eq!(aoi_bounding_box(&everything), None);
}

#[test]
fn destinations() {
    assert!(matches!(
        Destination::parse("s3://bucket/run1/"),
        Err(CatalogError::Destination { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let d = Destination::parse(&format!("file://{}", dir.path().join("x").display())).unwrap();
    let loc = d.put("a.json", b"[]\n").unwrap();
    assert_eq!(std::fs::read(&loc).unwrap(), b"[]\n");
    let e = read_catalog(Path::new(&loc)).unwrap();
    assert_eq!(e, Catalog::default());
    std::fs::write(dir.path().join("bad.json"), br#"[{"shard": -1}]"#).unwrap();
    let e = read_catalog(&dir.path().join("bad.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("[0].shard"), "{e}");
}

#[test]
fn committed_schemas_are_current() {
    for (file, text) in [
        ("catalog.schema.json", catalog_schema_json()),
        ("catalog.meta.schema.json", meta_schema_json()),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/schema")
            .join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            if std::env::var_os("ZAGG_UPDATE_SCHEMAS").is_some() {
                std::fs::write(&path, text).expect("write schema");
            } else {
                panic!(
                    "config/schema/{file} is stale; regenerate it with \
                     `ZAGG_UPDATE_SCHEMAS=1 cargo test committed_schemas_are_current`"
                );
            }
        }
    }
}
