//! `zagg inspect` on a demo run: totals agree with the run report and with each other across
//! orders, every layout check passes on a good store and the right one fails on a damaged one.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use zagg::inspect::inspect;
use zagg::store::Store;

fn failed(dir: &Path) -> Vec<String> {
    let store = Store::open_local(dir).expect("store");
    inspect(&store, None)
        .expect("inspect")
        .checks
        .into_iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect()
}

#[test]
fn inspect_reports_what_the_run_wrote_and_catches_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(config(), zagg::demo::demo_sources(), dir.path());
    let store = Store::open_local(dir.path()).expect("store");
    let ins = inspect(&store, None).expect("inspect");
    assert!(ins.ok(), "{}", ins.to_text());
    assert_eq!(ins.orders, [12, 11, 10, 9, 8, 7, 6]);
    assert!(ins.consolidated);
    // 7 orders × (group + 11 arrays) metadata and consolidated entries, plus the rest.
    assert!(ins.checks.len() > 7 * 12 * 2, "{} checks", ins.checks.len());
    let leaf = &ins.order_summaries[0];
    assert_eq!(leaf.shards, report.shards_ok);
    assert_eq!(leaf.occupied_cells, report.cells);
    assert_eq!(leaf.observations, report.counts.observations);
    // Coarser orders: same observations, never more occupied cells than the finer order,
    // and at least a quarter of them (four children per parent).
    for pair in ins.order_summaries.windows(2) {
        let (fine, coarse) = (&pair[0], &pair[1]);
        assert_eq!(coarse.observations, fine.observations);
        assert!(coarse.occupied_cells <= fine.occupied_cells);
        assert!(4 * coarse.occupied_cells >= fine.occupied_cells);
        assert_eq!(coarse.shards, fine.shards);
    }
    let names: Vec<&str> = ins.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names[0], "count");
    assert_eq!(names.len(), 9);
    for v in &ins.variables {
        assert_eq!(v.nan_in_occupied, 0, "{}", v.name);
        assert_eq!(v.chunks, report.shards_ok, "{}", v.name);
        let (lo, hi) = (v.min.expect("min"), v.max.expect("max"));
        assert!(lo <= hi, "{}", v.name);
    }
    let h_min = &ins.variables[1];
    assert_eq!(h_min.units.as_deref(), Some("m"));
    // The demo heights (Thwaites / Pine Island) lie between 0 and 4000 m.
    assert!(h_min.min.expect("min") > 0.0 && h_min.max.expect("max") < 4000.0);
    let text = ins.to_text();
    assert!(text.contains("checks       "), "{text}");
    assert!(text.contains("failed shards: none"), "{text}");
    assert!(text.contains("observations"), "{text}");
    // Another order's variables.
    let coarse = inspect(&store, Some(8)).expect("order 8");
    assert_eq!(coarse.variables_order, 8);
    assert!(inspect(&store, Some(5)).is_err());

    // Damage 1: a pyramid chunk goes missing.
    let shard = report.shard_reports[0].shard;
    std::fs::remove_file(dir.path().join(format!("10/h_mean/c/{shard}"))).expect("rm");
    let f = failed(dir.path());
    assert!(
        f.iter()
            .any(|m| m.starts_with("order 10: every array has a chunk")),
        "{f:?}"
    );
    // Damage 2: a group claims the wrong refinement level.
    let group = dir.path().join("9/zarr.json");
    let text = std::fs::read_to_string(&group).expect("read");
    std::fs::write(
        &group,
        text.replace("\"refinement_level\": 9", "\"refinement_level\": 8"),
    )
    .expect("write");
    let f = failed(dir.path());
    assert!(
        f.iter().any(|m| m.starts_with("group 9 has the DGGS")),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|m| m.starts_with("consolidated metadata has 9,")),
        "{f:?}"
    );
}

#[test]
fn inspect_cli_prints_a_table_or_json_and_signals_failed_shards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zagg = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zagg"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run zagg")
    };
    assert!(zagg(&["run", "--jobs", "2"]).status.success());
    let o = zagg(&["inspect", "zagg-demo.zarr"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("order  cell size  shards  occupied cells  observations"));
    assert!(out.contains("h_mean"));
    let o = zagg(&["inspect", "zagg-demo.zarr", "--json", "--order", "7"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["variables_order"], 7);
    assert_eq!(v["order_summaries"].as_array().map(Vec::len), Some(7));

    // A run whose only shard failed: inspect exits 2 and lists the shard.
    let g = fixture("corrupt_deflate.h5");
    let o = zagg(&[
        "run",
        "--granules",
        g.to_str().expect("utf8"),
        "--store",
        "bad.zarr",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = zagg(&["inspect", "bad.zarr"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("failed shard"), "{out}");
    // Not a store at all.
    let o = zagg(&["inspect", "nowhere.zarr"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a Zarr store"));
}
