//! The graticule (latitude circles and meridians with their labels) and the scale bar.

use tiny_skia::{Mask, Pixmap};

use super::projection::{PolarStereographic, Pole};
use super::render::{fill_rect, stroke_polyline, Layout, GRATICULE, INK};
use super::text::{self, Align, Fonts};

fn nice_step(span: f64, steps: &[f64], max_lines: f64) -> f64 {
    steps
        .iter()
        .copied()
        .find(|s| span / s <= max_lines)
        .unwrap_or(steps[steps.len() - 1])
}

fn lat_label(lat: f64) -> String {
    let v = format_degrees(lat.abs());
    match lat.partial_cmp(&0.0) {
        Some(std::cmp::Ordering::Less) => format!("{v}°S"),
        Some(std::cmp::Ordering::Greater) => format!("{v}°N"),
        _ => "0°".into(),
    }
}

pub(super) fn lon_label(lon: f64) -> String {
    let lon = (lon + 540.0).rem_euclid(360.0) - 180.0;
    let v = format_degrees(lon.abs());
    if lon.abs() < 1e-9 || (lon.abs() - 180.0).abs() < 1e-9 {
        format!("{v}°")
    } else if lon < 0.0 {
        format!("{v}°W")
    } else {
        format!("{v}°E")
    }
}

pub(super) fn format_degrees(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// Latitude circles and meridians (lines when `lines`, else their labels).
pub(super) fn graticule(
    canvas: &mut Pixmap,
    layout: &Layout,
    proj: &PolarStereographic,
    fonts: &Fonts,
    mask: &Mask,
    lines: bool,
) {
    let map = layout.map;
    // Sample the visible area.
    let mut lats = Vec::new();
    let mut lons = Vec::new();
    for i in 0..=24 {
        for j in 0..=24 {
            let px = map[0] + (map[2] - map[0]) * i as f32 / 24.0;
            let py = map[1] + (map[3] - map[1]) * j as f32 / 24.0;
            let (x, y) = layout.to_metres(px, py);
            let (lat, lon) = proj.inverse(x, y);
            lats.push(lat);
            lons.push(lon);
        }
    }
    let (lat_lo, lat_hi) = lats
        .iter()
        .fold((90.0f64, -90.0f64), |(a, b), &l| (a.min(l), b.max(l)));
    let (pole_x, pole_y) = layout.to_pixel(0.0, 0.0);
    let pole_visible = pole_x >= map[0] && pole_x <= map[2] && pole_y >= map[1] && pole_y <= map[3];
    let lon_span = if pole_visible {
        360.0
    } else {
        let (_, c_lon) = {
            let (x, y) = layout.to_metres((map[0] + map[2]) / 2.0, (map[1] + map[3]) / 2.0);
            proj.inverse(x, y)
        };
        let rel: Vec<f64> = lons
            .iter()
            .map(|l| (l - c_lon + 540.0).rem_euclid(360.0) - 180.0)
            .collect();
        let (a, b) = rel
            .iter()
            .fold((0.0f64, 0.0f64), |(a, b), &r| (a.min(r), b.max(r)));
        b - a
    };
    let lat_step = nice_step(lat_hi - lat_lo, &[0.5, 1.0, 2.0, 5.0, 10.0], 6.0);
    let lon_step = nice_step(lon_span, &[1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0], 8.0);
    // Inside the map, away from its edges and from the scale bar (bottom left).
    let inside = |(px, py): (f32, f32)| {
        px > map[0] + 2.0
            && px < map[2] - 2.0
            && py > map[1] + 2.0
            && py < map[3] - 2.0
            && !(px < map[0] + 230.0 && py > map[3] - 50.0)
    };
    let small = 13.0;

    // Latitude circles.
    let first = (lat_lo / lat_step).ceil() as i64;
    let last = (lat_hi / lat_step).floor() as i64;
    for k in first..=last {
        let lat = k as f64 * lat_step;
        if lat.abs() >= 90.0 {
            continue;
        }
        let pts: Vec<(f32, f32)> = (0..=1440)
            .map(|i| {
                let (x, y) = proj.forward(lat, -180.0 + f64::from(i) * 0.25);
                layout.to_pixel(x, y)
            })
            .collect();
        if lines {
            stroke_polyline(canvas, &pts, GRATICULE, 0.8, true, Some(mask));
        } else if let Some(&p) = pts
            .iter()
            .filter(|p| inside(**p) && p.0 < map[2] - 60.0 && p.1 > map[1] + 16.0)
            .min_by(|a, b| a.0.total_cmp(&b.0))
        {
            label(canvas, fonts, small, p.0 + 3.0, p.1 - 3.0, &lat_label(lat));
        }
    }
    // Meridians, from the pole outwards.
    let s = if layout.pole == Pole::South {
        -1.0
    } else {
        1.0
    };
    let n_lon = (360.0 / lon_step).round() as i64;
    // Meridians run from the pole to a little beyond the visible latitude nearest the equator.
    let equatorward = (lat_lo.abs().min(lat_hi.abs()) - 2.0 * lat_step).max(0.0);
    for k in 0..n_lon {
        let lon = -180.0 + k as f64 * lon_step;
        let pts: Vec<(f32, f32)> = (0..=400)
            .map(|i| {
                let lat = s * (90.0 - f64::from(i) / 400.0 * (90.0 - equatorward));
                let (x, y) = proj.forward(lat, lon);
                layout.to_pixel(x, y)
            })
            .collect();
        if lines {
            stroke_polyline(canvas, &pts, GRATICULE, 0.8, true, Some(mask));
        } else if let Some(&p) = pts
            .iter()
            .rev()
            .find(|p| inside(**p) && p.1 < map[3] - 20.0)
        {
            label(canvas, fonts, small, p.0 + 3.0, p.1 - 3.0, &lon_label(lon));
        }
    }
}

/// A small grey label on a white box.
fn label(canvas: &mut Pixmap, fonts: &Fonts, px: f32, x: f32, y: f32, text: &str) {
    let w = text::width(&fonts.regular, px, text);
    fill_rect(
        canvas,
        [x - 2.0, y - px + 1.0, x + w + 2.0, y + 4.0],
        [250, 250, 250],
    );
    text::draw(
        canvas,
        &fonts.regular,
        px,
        x,
        y,
        Align::Left,
        text,
        [90, 98, 108],
    );
}

pub(super) fn scale_bar(canvas: &mut Pixmap, layout: &Layout, fonts: &Fonts) {
    let map = layout.map;
    let target_km = (map[2] - map[0]) as f64 * 0.2 * layout.metres_per_pixel / 1000.0;
    let mag = 10f64.powf(target_km.log10().floor());
    let km = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .rfind(|&v| v <= target_km)
        .unwrap_or(mag);
    let len = (km * 1000.0 / layout.metres_per_pixel) as f32;
    let (x0, y0) = (map[0] + 16.0, map[3] - 16.0);
    fill_rect(
        canvas,
        [x0 - 6.0, y0 - 26.0, x0 + len + 6.0, y0 + 8.0],
        [250, 250, 250],
    );
    fill_rect(canvas, [x0, y0 - 4.0, x0 + len / 2.0, y0], INK);
    fill_rect(
        canvas,
        [x0 + len / 2.0, y0 - 4.0, x0 + len, y0],
        [160, 166, 172],
    );
    let text = if km >= 1.0 {
        format!("{} km", format_degrees(km))
    } else {
        format!("{} m", format_degrees(km * 1000.0))
    };
    text::draw(
        canvas,
        &fonts.regular,
        13.0,
        x0,
        y0 - 9.0,
        Align::Left,
        &text,
        INK,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_like_a_map() {
        assert_eq!(lat_label(-75.0), "75°S");
        assert_eq!(lat_label(72.5), "72.5°N");
        assert_eq!(lon_label(-100.0), "100°W");
        assert_eq!(lon_label(180.0), "180°");
        assert_eq!(lon_label(-180.0), "180°");
        assert_eq!(lon_label(45.0), "45°E");
        assert_eq!(nice_step(25.0, &[1.0, 2.0, 5.0, 10.0], 6.0), 5.0);
    }
}
