//! `zagg plot` on a demo run: the image has the asked size, the cells are drawn where the
//! projection puts them in the colour of their value, the colour bar runs through the colour
//! map, and the order is chosen from the map scale.

mod common;

use std::process::Command;

use common::*;
use tiny_skia::Pixmap;
use zagg::grid::{Ellipsoid, Hasher};
use zagg::plot::render::{cell_center, render, MapInput, NO_DATA};
use zagg::plot::text::Fonts;
use zagg::plot::{plot_store, Colormap, PlotError, PlotOptions, PolarStereographic, Pole, Scale};
use zagg::store::Store;

fn rgb(p: &Pixmap, x: f32, y: f32) -> [u8; 3] {
    let c = p.pixel(x as u32, y as u32).expect("pixel inside");
    [c.red(), c.green(), c.blue()]
}

fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    a.iter()
        .zip(b)
        .all(|(&x, y)| (i32::from(x) - i32::from(y)).abs() <= tol)
}

/// Colour-map colours that the map uses (any position on the map's colour bar).
fn is_map_colour(c: [u8; 3], map: Colormap) -> bool {
    (0..=256).any(|i| close(c, map.at(f64::from(i) / 256.0), 2))
}

#[test]
fn demo_map_has_the_cells_where_the_projection_puts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(config(), zagg::demo::demo_sources(), dir.path());
    let store = Store::open_local(dir.path()).expect("store");
    let plot = plot_store(&store, &PlotOptions::new("h_mean")).expect("plot");
    let l = &plot.layout;
    let img = &plot.pixmap;

    // Size, projection and order.
    assert_eq!((img.width(), img.height()), (1200, 960));
    assert_eq!((l.width, l.height), (1200, 960));
    assert_eq!(l.pole, Pole::South);
    assert_eq!(l.epsg, Some(3031));
    assert_eq!(
        l.order, 12,
        "the demo region is small enough for the leaf order"
    );
    assert_eq!(l.cells as u64, report.cells);
    assert_eq!(l.colormap, Colormap::Viridis);
    assert_eq!(l.scale, Scale::Linear);
    // Heights of the demo lie in 775..1599 m; the default range is their 1–99 % span.
    assert!(l.range[0] > 770.0 && l.range[1] < 1600.0 && l.range[0] < l.range[1]);

    // Data pixels: many pixels of the map area have a colour-map colour.
    let [x0, y0, x1, y1] = l.map;
    let mut data_pixels = 0;
    let mut no_data = 0;
    for y in (y0 as u32 + 1..y1 as u32).step_by(2) {
        for x in (x0 as u32 + 1..x1 as u32).step_by(2) {
            let c = rgb(img, x as f32, y as f32);
            if c == NO_DATA {
                no_data += 1;
            } else if is_map_colour(c, Colormap::Viridis) {
                data_pixels += 1;
            }
        }
    }
    assert!(data_pixels > 5_000, "{data_pixels} data pixels");
    assert!(no_data > data_pixels, "the tracks do not fill the map");

    // Each cell's centre, projected here, has its value's colour.
    let proj = PolarStereographic::antarctic();
    let values = store.chunk_reader(12, "h_mean").expect("reader");
    let counts = store.chunk_reader(12, "count").expect("reader");
    let (mut checked, mut matched) = (0, 0);
    for shard in store.written_chunks(12, "count").expect("chunks") {
        let v = values.read(shard).expect("read").expect("chunk");
        let n = counts.read(shard).expect("read").expect("chunk");
        for i in (0..4096).filter(|&i| n[i] > 0.0) {
            let (lat, lon) = cell_center(12, (shard << 12) + i as u64, Ellipsoid::Wgs84);
            let (x, y) = proj.forward(lat, lon);
            let (px, py) = l.to_pixel(x, y);
            assert!(
                px > x0 && px < x1 && py > y0 && py < y1,
                "cell outside the map"
            );
            checked += 1;
            if close(rgb(img, px, py), l.colour_of(v[i]), 1) {
                matched += 1;
            }
        }
    }
    assert_eq!(checked as u64, report.cells);
    // Graticule labels drawn over the data may hide a few centres.
    assert!(
        matched * 100 >= checked * 98,
        "{matched} of {checked} cell centres"
    );

    // The colour bar runs from the low end (bottom) to the high end (top) of the map.
    let [bx0, by0, bx1, by1] = l.colorbar;
    let cx = (bx0 + bx1) / 2.0;
    assert!(close(rgb(img, cx, by0 + 2.0), Colormap::Viridis.at(1.0), 3));
    assert!(close(rgb(img, cx, by1 - 2.0), Colormap::Viridis.at(0.0), 3));
    assert!(close(
        rgb(img, cx, (by0 + by1) / 2.0),
        Colormap::Viridis.at(0.5),
        3
    ));
    let distinct: std::collections::BTreeSet<[u8; 3]> = (by0 as u32 + 1..by1 as u32)
        .map(|y| rgb(img, cx, y as f32))
        .collect();
    assert!(
        distinct.len() > 100,
        "{} colours in the bar",
        distinct.len()
    );
    // Tick labels (dark text) right of the bar, a title above the map.
    let dark = |r: [f32; 4]| {
        (r[1] as u32..r[3] as u32)
            .flat_map(|y| (r[0] as u32..r[2] as u32).map(move |x| (x, y)))
            .filter(|&(x, y)| rgb(img, x as f32, y as f32).iter().all(|&c| c < 100))
            .count()
    };
    assert!(dark([bx1 + 6.0, by0, bx1 + 90.0, by1]) > 100, "tick labels");
    assert!(dark([x0, 0.0, x1, y0]) > 500, "title");

    // The PNG decodes to the same image.
    let png = plot.png().expect("png");
    assert!(png.len() < 300_000, "{} bytes", png.len());
    let back = Pixmap::decode_png(&png).expect("decode");
    assert_eq!(back.data(), img.data());
}

#[test]
fn the_order_follows_the_map_scale_and_bad_requests_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    run(config(), zagg::demo::demo_sources(), dir.path());
    let store = Store::open_local(dir.path()).expect("store");
    // A small image: leaf cells would be under 1.5 pixels, a coarser order is drawn.
    let mut small = PlotOptions::new("h_sigma");
    small.width = 400;
    small.height = 300;
    let plot = plot_store(&store, &small).expect("plot");
    assert!(plot.layout.order < 12, "order {}", plot.layout.order);
    let cell_px =
        zagg::inspect::cell_size_km(plot.layout.order) * 1000.0 / plot.layout.metres_per_pixel;
    assert!(cell_px >= 1.5, "{cell_px}");
    assert_eq!(plot.layout.colormap, Colormap::Magma);
    // An explicit order, colour map, scale and range.
    let mut o = PlotOptions::new("count");
    o.order = Some(8);
    o.range = Some((1.0, 1000.0));
    let plot = plot_store(&store, &o).expect("plot");
    assert_eq!((plot.layout.order, plot.layout.scale), (8, Scale::Log));
    assert_eq!(plot.layout.colormap, Colormap::Cividis);
    assert_eq!(plot.layout.range, [1.0, 1000.0]);

    let err = |o: PlotOptions| plot_store(&store, &o).expect_err("refused").to_string();
    assert!(err(PlotOptions::new("h_avg")).contains("no variable \"h_avg\" (it has count, h_min"));
    let mut o = PlotOptions::new("h_mean");
    o.order = Some(5);
    assert!(err(o).contains("order 5 is not written"));
    let mut o = PlotOptions::new("h_mean");
    o.range = Some((2.0, 1.0));
    assert!(err(o).contains("--range"));
    let mut o = PlotOptions::new("h_mean");
    o.aoi = Some(zagg::aoi::Aoi {
        name: "nowhere".into(),
        order: 6,
        cells: [0u64].into_iter().collect(),
    });
    assert!(matches!(plot_store(&store, &o), Err(PlotError::NoData(_))));
}

#[test]
fn arctic_cells_get_the_north_polar_projection() {
    // Cells along a line over Greenland, hashed here, drawn directly.
    let hasher = Hasher::new(10, Ellipsoid::Wgs84).expect("hasher");
    let mut cells: Vec<(u64, f64)> = (0..200)
        .map(|i| {
            let lat = 68.0 + f64::from(i) * 0.05;
            let cell = hasher.hash(lat, -40.0 + f64::from(i) * 0.02).expect("hash");
            (cell, 1000.0 + f64::from(i) * 10.0)
        })
        .collect();
    cells.dedup_by_key(|c| c.0);
    let input = MapInput {
        order: 10,
        ellipsoid: Ellipsoid::Wgs84,
        cells,
        title: "test".into(),
        subtitle: "arctic".into(),
        units: Some("m".into()),
        colormap: Colormap::Viridis,
        scale: Scale::Linear,
        range: None,
        width: 800,
        height: 600,
        pole: None,
    };
    let plot = render(&input, &Fonts::load().expect("fonts")).expect("render");
    assert_eq!(plot.layout.pole, Pole::North);
    assert_eq!(plot.layout.epsg, Some(3413));
    assert_eq!((plot.pixmap.width(), plot.pixmap.height()), (800, 600));
}

#[test]
fn plot_cli_writes_a_png() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zagg = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zagg"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run zagg")
    };
    assert!(zagg(&["run", "--jobs", "2"]).status.success());
    let o = zagg(&["plot", "zagg-demo.zarr", "--var", "h_mean", "-o", "map.png"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(dir.path().join("map.png")).expect("map.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let o = zagg(&[
        "plot",
        "zagg-demo.zarr",
        "--var",
        "count",
        "--order",
        "9",
        "--json",
    ]);
    assert!(o.status.success());
    let layout: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(layout["order"], 9);
    assert!(dir.path().join("count.png").is_file());
    let o = zagg(&["plot", "zagg-demo.zarr", "--var", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no variable \"nope\""));
}
