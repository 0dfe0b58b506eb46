//! The colour bar (with ticks and units), the titles and the footer naming the projection.

use tiny_skia::Pixmap;

use super::colormap::Scale;
use super::graticule::lon_label;
use super::projection::{PolarStereographic, Pole};
use super::render::{fill_rect, stroke_polyline, Layout, MapInput, INK};
use super::text::{self, Align, Fonts};

/// Pretty units: `m^2`/`m2` → `m²`.
fn pretty_units(u: &str) -> String {
    u.replace("^2", "²").replace("^3", "³").replace("m2", "m²")
}

fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.0e}");
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

pub(super) fn colour_bar(canvas: &mut Pixmap, layout: &Layout, units: Option<&str>, fonts: &Fonts) {
    let [x0, y0, x1, y1] = layout.colorbar;
    let h = y1 - y0;
    for row in 0..h.ceil() as u32 {
        let t = 1.0 - (f64::from(row) + 0.5) / f64::from(h);
        let rgb = layout.colormap.at(t);
        fill_rect(
            canvas,
            [x0, y0 + row as f32, x1, (y0 + row as f32 + 1.0).min(y1)],
            rgb,
        );
    }
    let outline = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
    stroke_polyline(canvas, &outline, INK, 1.0, false, None);
    let (lo, hi) = (layout.range[0], layout.range[1]);
    let ticks = layout.scale.ticks(lo, hi);
    let step = if ticks.len() > 1 {
        ticks[1] - ticks[0]
    } else {
        (hi - lo).abs()
    };
    for v in ticks {
        let t = layout.scale.position(v, lo, hi) as f32;
        let y = y1 - t * h;
        stroke_polyline(canvas, &[(x1, y), (x1 + 5.0, y)], INK, 1.0, false, None);
        let text = if layout.scale == Scale::Log {
            format_tick(v, v.min(1.0))
        } else {
            format_tick(v, step)
        };
        text::draw(
            canvas,
            &fonts.regular,
            14.0,
            x1 + 8.0,
            y + 5.0,
            Align::Left,
            &text,
            INK,
        );
    }
    let units = units.map(pretty_units).unwrap_or_default();
    if !units.is_empty() {
        text::draw(
            canvas,
            &fonts.bold,
            15.0,
            (x0 + x1) / 2.0,
            y0 - 14.0,
            Align::Center,
            &units,
            INK,
        );
    }
    if layout.scale == Scale::Log {
        text::draw(
            canvas,
            &fonts.regular,
            13.0,
            (x0 + x1) / 2.0,
            y1 + 20.0,
            Align::Center,
            "log scale",
            [110, 117, 125],
        );
    }
}

pub(super) fn titles(
    canvas: &mut Pixmap,
    layout: &Layout,
    input: &MapInput,
    proj: &PolarStereographic,
    fonts: &Fonts,
) {
    let x = layout.map[0];
    text::draw(
        canvas,
        &fonts.bold,
        22.0,
        x,
        32.0,
        Align::Left,
        &input.title,
        INK,
    );
    text::draw(
        canvas,
        &fonts.regular,
        15.0,
        x,
        58.0,
        Align::Left,
        &input.subtitle,
        [73, 80, 87],
    );
    let hemi = if proj.pole() == Pole::South { "S" } else { "N" };
    let footer = format!(
        "Polar stereographic{}, WGS84, true scale at {}°{hemi}, central meridian {}",
        proj.epsg()
            .map(|c| format!(" (EPSG:{c})"))
            .unwrap_or_default(),
        proj.true_scale_latitude().abs(),
        lon_label(proj.central_meridian()),
    );
    text::draw(
        canvas,
        &fonts.regular,
        13.0,
        x,
        layout.height as f32 - 22.0,
        Align::Left,
        &footer,
        [110, 117, 125],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_ticks_read_well() {
        assert_eq!(pretty_units("m^2"), "m²");
        assert_eq!(format_tick(1200.0, 200.0), "1200");
        assert_eq!(format_tick(0.05, 0.05), "0.05");
        assert_eq!(format_tick(1e-5, 1e-5), "1e-5");
    }
}
