//! Unit tests of `cmr`.

use super::*;

const PAGE: &str = include_str!("../../tests/data/cmr/atl06_cycle22.json");

fn parsed() -> Vec<Result<CmrGranule, Skipped>> {
    parse_page(PAGE.as_bytes()).unwrap().items
}

fn by_id(id: &str) -> CmrGranule {
    parsed()
        .into_iter()
        .filter_map(Result::ok)
        .find(|g| g.id == id)
        .unwrap_or_else(|| panic!("{id} not parsed"))
}

#[test]
fn urls_size_and_footprint_of_a_granule() {
    let g = by_id("ATL06_20231219003354_00042211_007_01.h5");
    assert_eq!(
        g.s3.as_deref(),
        Some("s3://nsidc-cumulus-prod-protected/ATLAS/ATL06/007/2023/12/19/ATL06_20231219003354_00042211_007_01.h5")
    );
    assert_eq!(
        g.https.as_deref(),
        Some("https://data.example.test/ATLAS/ATL06/007/2023/12/19/ATL06_20231219003354_00042211_007_01.h5")
    );
    // "Size": 103.0, "SizeUnit": "MB" (MB taken as 2^20 bytes).
    assert_eq!(g.size_bytes, Some(103 * 1024 * 1024));
    assert_eq!(g.footprints.len(), 1);
    let ring = &g.footprints[0].outer;
    assert_eq!(ring.len(), 33);
    assert_eq!(ring.first(), ring.last(), "closed ring");
    assert_eq!(ring[0], [130.729902, -59.494255]);
    assert!(g.footprints[0].holes.is_empty());
}

#[test]
fn multiple_polygons_and_holes() {
    let g = by_id("ATL06_20231220111111_00222211_007_01.h5");
    assert_eq!(g.footprints.len(), 2, "two GPolygons");
    assert_eq!(g.footprints[0].holes.len(), 1, "first has a hole");
    assert_eq!(g.footprints[0].holes[0].len(), 5);
    assert!(g.footprints[1].holes.is_empty());
    assert_eq!(g.size_bytes, Some(96_468_992), "SizeInBytes wins");
}

#[test]
fn unusable_items_are_skipped_with_a_reason() {
    let skipped: Vec<Skipped> = parsed().into_iter().filter_map(Result::err).collect();
    let reasons: Vec<String> = skipped
        .iter()
        .map(|s| format!("{}: {}", s.id, s.reason))
        .collect();
    assert!(
        reasons.contains(
            &"ATL06_20231221000000_00302211_007_01.h5: no GPolygons footprint".to_string()
        ),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with(
            "ATL06_20231221010000_00312211_007_01.h5: no \"GET DATA VIA DIRECT ACCESS\""
        )),
        "{reasons:?}"
    );
}

#[test]
fn malformed_page_names_the_path() {
    let e =
        parse_page(br#"{"hits": 1, "items": [{"umm": {"RelatedUrls": [{"Type": "GET DATA"}]}}]}"#)
            .err()
            .unwrap();
    assert!(e.starts_with("items[0].umm.RelatedUrls[0]"), "{e}");
    assert!(e.contains("URL"), "{e}");
    let e = parse_page(b"<html>").err().unwrap();
    assert!(e.contains("expected value"), "{e}");
}

#[test]
fn query_parameters() {
    let mut q = GranuleQuery::atl06(22);
    q.temporal = Some(cycle::window(22, 1.0).unwrap().into());
    q.bounding_box = Some(BoundingBox::parse("-180,-90,180,-60").unwrap());
    let p = q.params().unwrap();
    let get = |k: &str| p.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    assert_eq!(get("readable_granule_name[]"), Some("ATL06_*_????22??_*"));
    assert_eq!(get("options[readable_granule_name][pattern]"), Some("true"));
    assert_eq!(get("version"), Some("007"));
    assert_eq!(get("provider"), Some("NSIDC_CPRD"));
    assert_eq!(get("page_size"), Some("2000"));
    assert_eq!(get("bounding_box"), Some("-180,-90,180,-60"));
    assert_eq!(
        get("temporal[]"),
        Some("2023-12-17T21:15:37Z,2024-03-19T16:55:26Z")
    );
    q.page_size = 2001;
    assert!(q.params().is_err());
    for bad in ["1,2,3", "a,b,c,d", "-190,0,0,1", "0,10,1,5", "0,-91,1,0"] {
        assert!(BoundingBox::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        BoundingBox::parse(" 170, -80, -170, -70 ").unwrap().west,
        170.0
    );
}

#[test]
fn base_url_resolution() {
    // The flag wins over everything; trailing slashes go.
    assert_eq!(
        resolve_base_url(Some("http://127.0.0.1:9/")),
        "http://127.0.0.1:9"
    );
    if std::env::var_os(CMR_URL_ENV).is_none() {
        assert_eq!(resolve_base_url(None), DEFAULT_CMR_URL);
    }
}

#[test]
fn the_request_url_carries_every_parameter_in_order() {
    let mut q = GranuleQuery::atl06(22);
    q.temporal = Some(Temporal {
        start: "2023-12-17T21:15:37Z".into(),
        end: "2024-03-19T16:55:26Z".into(),
    });
    q.bounding_box = Some(BoundingBox {
        west: 170.0,
        south: -90.0,
        east: -170.0,
        north: -60.5,
    });
    let r = q.request("https://cmr.example.test/", None).unwrap();
    assert_eq!(
        r.url,
        "https://cmr.example.test/search/granules.umm_json?short_name=ATL06&version=007\
         &provider=NSIDC_CPRD&page_size=2000&readable_granule_name%5B%5D=ATL06_*_%3F%3F%3F%3F22%3F%3F_*\
         &options%5Breadable_granule_name%5D%5Bpattern%5D=true\
         &temporal%5B%5D=2023-12-17T21%3A15%3A37Z%2C2024-03-19T16%3A55%3A26Z\
         &bounding_box=170%2C-90%2C-170%2C-60.5"
    );
    let decoded: Vec<(String, String)> = reqwest::Url::parse(&r.url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(decoded, q.params().unwrap());
    assert_eq!(r.headers, [("Client-Id".to_string(), "zagg".to_string())]);
    let later = q
        .request("https://cmr.example.test", Some("[\"a\",1]"))
        .unwrap();
    assert_eq!(later.url, r.url, "later pages ask for the same URL");
    assert_eq!(
        later.headers[1],
        ("CMR-Search-After".into(), "[\"a\",1]".into())
    );
    let text = later.to_text();
    assert!(
        text.starts_with(&format!("GET {}\nClient-Id: zagg\n", r.url)),
        "{text}"
    );
    assert!(text.contains("\nUser-Agent: zagg/"), "{text}");
    assert!(
        text.ends_with(
            "until CMR-Hits granules have arrived (429 and 5xx answers are retried with backoff)\n"
        ),
        "{text}"
    );
    // Invalid queries and base URLs are errors, not panics.
    q.page_size = 0;
    assert!(matches!(
        q.url("https://cmr.example.test"),
        Err(CmrError::Query(_))
    ));
    q.page_size = 10;
    assert!(matches!(q.url("not a url"), Err(CmrError::Query(_))));
}
