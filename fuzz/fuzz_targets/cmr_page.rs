//! Any bytes as a CMR UMM-G search page: parsed, then each usable granule's name parsed and
//! its footprints intersected with the built-in AOI's shards, as `zagg catalog` does.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zagg::aoi::Aoi;
use zagg::catalog::intersect;
use zagg::cycle::GranuleName;
use zagg::footprint::ShardIndex;
use zagg::grid::Ellipsoid;

fn index() -> &'static ShardIndex {
    static INDEX: OnceLock<ShardIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let aoi = Aoi::basins(zagg::aoi::BASINS_ORDER).expect("built-in AOI");
        ShardIndex::new(&aoi, Ellipsoid::Wgs84)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(page) = zagg::cmr::parse_page(data) else {
        return;
    };
    let granules: Vec<_> = page.items.into_iter().filter_map(Result::ok).collect();
    for g in &granules {
        let _ = GranuleName::parse(&g.id);
    }
    let _ = intersect(&granules, index());
});
