//! Unit tests of the config module: the built-in config, the schema, every kind of mistake.
use super::*;

fn builtin_text() -> &'static str {
    BUILTIN_CONFIGS[0].1
}

fn err_of(text: &str) -> String {
    match PipelineConfig::from_yaml(text, "test.yaml") {
        Ok(_) => panic!("config was accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn builtin_config_is_valid_and_matches_spec_table() {
    let c = PipelineConfig::builtin_default().expect("built-in config");
    let names: Vec<_> = c.aggregation.variables.keys().cloned().collect();
    assert_eq!(
        names,
        [
            "count",
            "h_min",
            "h_max",
            "h_mean",
            "h_sigma",
            "h_variance",
            "h_q25",
            "h_q50",
            "h_q75"
        ]
    );
    assert_eq!(c.aggregation.variables["count"].dtype(), DType::Int32);
    assert_eq!(c.aggregation.variables["count"].fill(), 0.0);
    assert!(c.aggregation.variables["h_mean"].fill().is_nan());
    assert_eq!(c.grid.parent_order, 6);
    assert_eq!(c.grid.leaf_order, 12);
    assert_eq!(c.grid.ellipsoid, Ellipsoid::Wgs84);
    assert_eq!(c.grid.orders(), [12, 11, 10, 9, 8, 7, 6]);
    assert_eq!(c.used_columns(), ["h_li", "h_li_sigma"]);
}

#[test]
fn committed_schema_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/schema/pipeline.schema.json"
    );
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != schema_json() {
        if std::env::var_os("ZAGG_UPDATE_SCHEMAS").is_some() {
            std::fs::write(path, schema_json()).expect("write schema");
        } else {
            panic!(
                "config/schema/pipeline.schema.json is stale; regenerate it with \
                 `ZAGG_UPDATE_SCHEMAS=1 cargo test committed_schema_is_current` or `zagg schema`"
            );
        }
    }
}

fn replaced(from: &str, to: &str) -> String {
    let text = builtin_text();
    assert!(text.contains(from), "fixture text {from:?} not in config");
    text.replacen(from, to, 1)
}

#[test]
fn unknown_reduction_names_path_and_value() {
    let e = err_of(&replaced("reduce: weighted_mean", "reduce: avg"));
    assert!(
        e.contains("aggregation.variables.h_mean.reduce: unknown reduction \"avg\" (expected one of count, sum,"),
        "{e}"
    );
}

#[test]
fn every_kind_of_mistake_is_reported_with_its_path() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "    h_min:\n      reduce: min\n      column: h_li\n",
            "    h_min:\n      reduce: min\n      column: h_lu\n",
            "aggregation.variables.h_min.column: unknown column \"h_lu\"",
        ),
        (
            "      q: 0.25\n",
            "      q: 1.25\n",
            "aggregation.variables.h_q25.q: 1.25 is outside 0..=1",
        ),
        (
            "      q: 0.25\n",
            "",
            "aggregation.variables.h_q25.q: reduction quantile needs q",
        ),
        (
            "    h_max:\n      reduce: max\n",
            "    h_max:\n      reduce: max\n      dtype: float16\n",
            "aggregation.variables.h_max.dtype: unknown dtype \"float16\"",
        ),
        (
            "    h_max:\n      reduce: max\n",
            "    h_max:\n      reduce: max\n      dtype: int32\n",
            "aggregation.variables.h_max.dtype: int32 cannot hold",
        ),
        (
            "    h_max:\n      reduce: max\n",
            "    h_max:\n      reduce: max\n      colour: red\n",
            "aggregation.variables.h_max.colour: unknown field `colour`, expected one of `reduce`",
        ),
        (
            "    count:\n      reduce: count\n",
            "    count:\n      reduce: count\n      fill: 0.5\n",
            "aggregation.variables.count.fill: 0.5 is not a valid int32 value",
        ),
        (
            "    count:\n      reduce: count\n",
            "    count:\n      reduce: count\n      fill: NaN\n",
            "aggregation.variables.count.fill: NaN is not a valid int32 value",
        ),
        (
            "    count:\n      reduce: count\n",
            "    count:\n      reduce: count\n      column: h_li\n",
            "aggregation.variables.count.column: \"h_li\" is not used by reduction count",
        ),
        (
            "    count:\n      reduce: count\n",
            "    cell_ids:\n      reduce: count\n",
            "aggregation.variables.cell_ids: \"cell_ids\" is reserved",
        ),
        (
            "    count:\n      reduce: count\n",
            "    9count:\n      reduce: count\n",
            "aggregation.variables.9count: \"9count\" is not a valid name",
        ),
        (
            // Found by the config_yaml fuzz target: it validated, then the template failed.
            "    count:\n      reduce: count\n",
            "    __count:\n      reduce: count\n",
            "aggregation.variables.__count: \"__count\" starts with \"__\", which Zarr reserves",
        ),
        (
            "      weight: { column: h_li_sigma, transform: inverse_square }\n      units: m\n      long_name: inverse",
            "      units: m\n      long_name: inverse",
            "aggregation.variables.h_mean.weight: reduction weighted_mean needs a weight",
        ),
        (
            "transform: inverse_square }\n      units: m\n      long_name: standard",
            "transform: square }\n      units: m\n      long_name: standard",
            "aggregation.variables.h_sigma.weight.transform: unknown weight transform \"square\"",
        ),
        (
            "leaf_order: 12",
            "leaf_order: 19",
            "grid.leaf_order: 19 is above the deepest supported order 18",
        ),
        (
            "leaf_order: 12",
            "leaf_order: 5",
            "grid.parent_order: 6 is deeper than grid.leaf_order 5",
        ),
        (
            "leaf_order: 12",
            "leaf_order: -1",
            "grid.leaf_order: invalid type: integer `-1`, expected u8",
        ),
        (
            "parent_order: 6",
            "parent_order: 1",
            "grid.parent_order: 1 is more than 10 orders above",
        ),
        (
            "pyramid: [11,",
            "pyramid: [12,",
            "grid.pyramid[0]: order 12 is outside 6..=11",
        ),
        (
            "pyramid: [11, 10,",
            "pyramid: [5, 10,",
            "grid.pyramid[0]: order 5 is outside 6..=11",
        ),
        (
            "pyramid: [11, 10,",
            "pyramid: [10, 10,",
            "grid.pyramid[1]: order 10 is listed twice",
        ),
        (
            "ellipsoid: WGS84",
            "ellipsoid: GRS80",
            "grid.ellipsoid: unknown variant `GRS80`",
        ),
        (
            "beams: [gt1l, gt1r,",
            "beams: [gt1l, gt1l,",
            "source.beams[1]: \"gt1l\" is listed twice",
        ),
        (
            "beams: [gt1l, gt1r, gt2l, gt2r, gt3l, gt3r]",
            "beams: []",
            "source.beams: at least one beam is required",
        ),
        (
            "latitude: /{beam}/land_ice_segments/latitude",
            "latitude: /gt1l/land_ice_segments/latitude",
            "source.latitude: \"/gt1l/land_ice_segments/latitude\" has no {beam} placeholder",
        ),
        (
            "h_li: /{beam}/land_ice_segments/h_li",
            "h_li: /{beam}/{granule}/h_li",
            "source.columns.h_li: \"/{beam}/{granule}/h_li\" has a placeholder other than {beam}",
        ),
        (
            "keep: [0]",
            "keep: []",
            "source.quality.keep: at least one kept flag value is required",
        ),
        (
            "keep: [0]",
            "keep: [zero]",
            "source.quality.keep[0]: invalid type: string \"zero\"",
        ),
        (
            "aggregation:",
            "aggregations:",
            "aggregations: unknown field `aggregations`",
        ),
    ];
    for (from, to, expected) in cases {
        let e = err_of(&replaced(from, to));
        assert!(e.contains(expected), "expected {expected:?} in error:\n{e}");
        assert!(e.starts_with("config test.yaml: "), "{e}");
    }
}

#[test]
fn malformed_yaml_and_missing_file_are_clear() {
    let e = err_of("source: [unclosed\n");
    assert!(e.contains("config test.yaml"), "{e}");
    let e = err_of("");
    assert!(e.contains("config test.yaml"), "{e}");
    let e = PipelineConfig::load("/nonexistent/zagg.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot read config file /nonexistent/zagg.yaml"),
        "{e}"
    );
}

#[test]
fn yaml_round_trip_keeps_variable_order() {
    let c = PipelineConfig::builtin_default().expect("built-in");
    let text = serde_yaml::to_string(&c).expect("serialize");
    let back = PipelineConfig::from_yaml(&text, "round trip").expect("reparse");
    assert_eq!(c, back);
}
