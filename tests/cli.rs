//! The `zagg` command: exit codes and the messages a user sees for bad input.

mod common;

use std::process::{Command, Output};

use common::*;

fn zagg(args: &[&str], cwd: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zagg"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("run zagg")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn demo_run_from_any_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = zagg(&["run", "--jobs", "2"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("granules     4 (0 unreadable)"), "{out}");
    assert!(out.contains("0 failed"), "{out}");
    assert!(dir.path().join("zagg-demo.zarr/zarr.json").is_file());
    assert!(dir.path().join("zagg-demo.zarr/run.json").is_file());
}

#[test]
fn template_then_process_one_shard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("s.zarr");
    let store = store.to_str().expect("utf8");
    let o = zagg(&["template", "--store", store], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let granule = fixture("libver_latest.h5");
    let g = granule.to_str().expect("utf8");
    // nested:41054 and its morton id name the same shard.
    let morton = zagg::grid::nested_to_morton(41054, 6)
        .expect("morton")
        .to_string();
    for shard in ["nested:41054", morton.as_str()] {
        let o = zagg(
            &[
                "process",
                "--shard",
                shard,
                "--granules",
                g,
                "--store",
                store,
                "--json",
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{}", text(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
        assert_eq!(report["shard"], 41054);
        assert_eq!(report["status"], "ok");
    }
}

#[test]
fn bad_input_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let store = d.join("s.zarr");
    let store = store.to_str().expect("utf8");
    let g = fixture("libver_latest.h5");
    let g = g.to_str().expect("utf8");
    std::fs::write(d.join("bad.yaml"), "source: {}\n").expect("write");
    std::fs::write(
        d.join("bad.geojson"),
        "{\"type\": \"Point\", \"coordinates\": [0, 0]}",
    )
    .expect("write");
    // A catalog whose second item is malformed.
    std::fs::write(
        d.join("bad-catalog.json"),
        r#"[{"shard": 41054, "parent_order": 6, "morton": -1, "granules": []}, {"shard": "x"}]"#,
    )
    .expect("write");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--catalog", "bad-catalog.json", "--store", store],
            "catalog bad-catalog.json: [1].shard: invalid type: string \"x\"",
        ),
        (
            vec![
                "process",
                "--shard",
                "-9112333",
                "--granules",
                g,
                "--store",
                store,
            ],
            "--shard -9112333",
        ),
        (
            vec![
                "process",
                "--shard",
                "nested:99999999",
                "--granules",
                g,
                "--store",
                store,
            ],
            "nested id 99999999 is out of range for order 6",
        ),
        (
            vec![
                "process",
                "--shard",
                "nested:41054",
                "--granules",
                g,
                "--store",
                store,
            ],
            "no zagg template found",
        ),
        (
            vec![
                "process",
                "--shard",
                "nested:41054",
                "--granules",
                "/nonexistent.h5",
                "--store",
                store,
            ],
            "granule /nonexistent.h5: cannot open",
        ),
        (
            vec!["run", "--config", "nope.yaml"],
            "cannot read config file nope.yaml",
        ),
        (
            vec!["run", "--config", "bad.yaml"],
            "config bad.yaml: source: missing field `beams`",
        ),
        (
            vec!["run", "--aoi", "bad.geojson"],
            "AOI bad.geojson: geometry type Point is not a Polygon or MultiPolygon",
        ),
        (
            vec!["run", "--granules", "/nonexistent.h5"],
            "granule /nonexistent.h5: cannot open: No such file",
        ),
        (vec!["run", "--jobs", "0"], "--jobs must be at least 1"),
    ];
    for (args, expected) in cases {
        let o = zagg(&args, d);
        assert!(!o.status.success(), "{args:?} succeeded");
        let out = text(&o);
        assert!(
            out.contains(expected),
            "{args:?}: expected {expected:?} in:\n{out}"
        );
        assert!(!out.contains("panicked"), "{out}");
    }
}

#[test]
fn a_failed_shard_sets_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = fixture("corrupt_deflate.h5");
    let o = zagg(
        &[
            "run",
            "--granules",
            g.to_str().expect("utf8"),
            "--store",
            "x.zarr",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("decompression error"), "{}", text(&o));
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["run", "template", "process", "inspect"] {
        let o = zagg(&[sub, "--help"], dir.path());
        assert!(o.status.success());
        assert!(text(&o).contains("zagg "), "{sub} help has no example");
    }
    let o = zagg(&["schema"], dir.path());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        zagg::config::schema_json()
    );
}

#[test]
#[cfg(unix)]
fn more_granules_than_open_files_allowed() {
    // 300 granules (links to one fixture under different names) with 64 open files allowed:
    // files are opened while read, not held from the start of the run.
    let dir = tempfile::tempdir().expect("tempdir");
    let links = dir.path().join("granules");
    std::fs::create_dir(&links).expect("mkdir");
    let fixture = fixture("libver_latest.h5");
    for i in 0..300 {
        std::os::unix::fs::symlink(&fixture, links.join(format!("g{i:03}.h5"))).expect("link");
    }
    let script = format!(
        "ulimit -n 64 && exec '{}' run --granules granules/*.h5 --store s.zarr --jobs 2 --json",
        env!("CARGO_BIN_EXE_zagg")
    );
    let o = Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .expect("bash");
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("report");
    assert_eq!(report["granules"], 300);
    assert_eq!(report["granules_failed"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["counts"]["duplicate_granules"], 0);
}
