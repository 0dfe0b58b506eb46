//! Drawing the map: cells, graticule, colour bar, scale bar, title and footer.

use cdshealpix::compass_point::Cardinal;
use serde::Serialize;
use tiny_skia::{
    Color, FillRule, Mask, Paint, PathBuilder, Pixmap, Rect, Stroke, StrokeDash, Transform,
};

use super::colormap::{Colormap, Scale};
use super::projection::{geodetic_from_authalic, PolarStereographic, Pole};
use super::text::{self, Align, Fonts};
use super::PlotError;
use crate::grid::Ellipsoid;

/// Canvas background.
pub const BACKGROUND: [u8; 3] = [255, 255, 255];
/// Map area without data.
pub const NO_DATA: [u8; 3] = [232, 236, 240];
const INK: [u8; 3] = [33, 37, 41];
const GRATICULE: [u8; 3] = [150, 158, 168];

/// What to draw.
#[derive(Debug, Clone)]
pub struct MapInput {
    /// Order of the cells.
    pub order: u8,
    /// Latitude convention the cells were hashed with.
    pub ellipsoid: Ellipsoid,
    /// (nested id at `order`, value) of every cell to draw.
    pub cells: Vec<(u64, f64)>,
    /// First title line (bold).
    pub title: String,
    /// Second title line.
    pub subtitle: String,
    /// Units shown above the colour bar.
    pub units: Option<String>,
    /// Colour map.
    pub colormap: Colormap,
    /// Value scale.
    pub scale: Scale,
    /// Colour bar range; default: 1st–99th percentile (min–max for log scales of counts).
    pub range: Option<(f64, f64)>,
    /// Image size, pixels.
    pub width: u32,
    /// Image size, pixels.
    pub height: u32,
    /// Pole of the projection; default: the hemisphere holding most cells.
    pub pole: Option<Pole>,
}

/// Where things are on the image (pixels, origin top left) and how the map is scaled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layout {
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
    /// Map area `[x0, y0, x1, y1]`.
    pub map: [f32; 4],
    /// Colour bar `[x0, y0, x1, y1]`; the low end of the range is at the bottom.
    pub colorbar: [f32; 4],
    /// Projection pole.
    pub pole: Pole,
    /// EPSG code of the projection.
    pub epsg: Option<u32>,
    /// Order of the cells drawn.
    pub order: u8,
    /// Cells drawn.
    pub cells: usize,
    /// Colour bar range.
    pub range: [f64; 2],
    /// Value scale.
    pub scale: Scale,
    /// Colour map.
    pub colormap: Colormap,
    /// Projected x (m) of the map's left edge.
    pub x_min_m: f64,
    /// Projected y (m) of the map's top edge.
    pub y_max_m: f64,
    /// Metres per pixel.
    pub metres_per_pixel: f64,
}

impl Layout {
    /// Pixel position of projected coordinates (metres).
    pub fn to_pixel(&self, x: f64, y: f64) -> (f32, f32) {
        (
            self.map[0] + ((x - self.x_min_m) / self.metres_per_pixel) as f32,
            self.map[1] + ((self.y_max_m - y) / self.metres_per_pixel) as f32,
        )
    }

    /// Projected coordinates (metres) of a pixel position.
    pub fn to_metres(&self, px: f32, py: f32) -> (f64, f64) {
        (
            self.x_min_m + f64::from(px - self.map[0]) * self.metres_per_pixel,
            self.y_max_m - f64::from(py - self.map[1]) * self.metres_per_pixel,
        )
    }

    /// The colour of a value on this map.
    pub fn colour_of(&self, value: f64) -> [u8; 3] {
        self.colormap
            .at(self.scale.position(value, self.range[0], self.range[1]))
    }
}

/// A rendered map.
#[derive(Debug, Clone)]
pub struct Plot {
    /// The image (opaque RGBA).
    pub pixmap: Pixmap,
    /// Where things are on it.
    pub layout: Layout,
}

impl Plot {
    /// The image as PNG bytes.
    ///
    /// # Errors
    /// [`PlotError::Encode`] when PNG encoding fails.
    pub fn png(&self) -> Result<Vec<u8>, PlotError> {
        self.pixmap
            .encode_png()
            .map_err(|e| PlotError::Encode(e.to_string()))
    }
}

/// Outline of a cell on the ellipsoid: (latitude, longitude) in degrees, counter-clockwise;
/// edges of coarse cells are sampled so they stay curved.
pub fn cell_outline(order: u8, cell: u64, ellipsoid: Ellipsoid) -> Vec<(f64, f64)> {
    let layer = cdshealpix::nested::get(order);
    let per_side = if order >= 9 {
        1
    } else {
        1u32 << (9 - order).min(4)
    };
    let points: Vec<(f64, f64)> = if per_side == 1 {
        layer.vertices(cell).to_vec()
    } else {
        layer
            .path_along_cell_edge(cell, &Cardinal::S, false, per_side)
            .to_vec()
    };
    points
        .into_iter()
        .map(|(lon, lat)| (to_geodetic(lat, ellipsoid).to_degrees(), lon.to_degrees()))
        .collect()
}

/// Centre of a cell on the ellipsoid: (latitude, longitude) in degrees.
pub fn cell_center(order: u8, cell: u64, ellipsoid: Ellipsoid) -> (f64, f64) {
    let (lon, lat) = cdshealpix::nested::get(order).center(cell);
    (to_geodetic(lat, ellipsoid).to_degrees(), lon.to_degrees())
}

fn to_geodetic(lat: f64, ellipsoid: Ellipsoid) -> f64 {
    match ellipsoid {
        Ellipsoid::Wgs84 => geodetic_from_authalic(lat),
        Ellipsoid::Sphere => lat,
    }
}

/// The hemisphere holding most of the cells (south on a tie).
pub fn pole_of(order: u8, cells: &[(u64, f64)], ellipsoid: Ellipsoid) -> Pole {
    let north = cells
        .iter()
        .filter(|(c, _)| cell_center(order, *c, ellipsoid).0 > 0.0)
        .count();
    if 2 * north > cells.len() {
        Pole::North
    } else {
        Pole::South
    }
}

/// Projected bounding box `[x_min, y_min, x_max, y_max]` (m) of the cells' outlines.
pub fn extent(
    order: u8,
    cells: impl Iterator<Item = u64>,
    ellipsoid: Ellipsoid,
    proj: &PolarStereographic,
) -> Option<[f64; 4]> {
    let mut b: Option<[f64; 4]> = None;
    for cell in cells {
        for (lat, lon) in cell_outline(order, cell, ellipsoid) {
            let (x, y) = proj.forward(lat, lon);
            b = Some(match b {
                None => [x, y, x, y],
                Some([a, c, d, e]) => [a.min(x), c.min(y), d.max(x), e.max(y)],
            });
        }
    }
    b
}

/// Geometry of the canvas for a size.
fn frame(width: u32, height: u32) -> ([f32; 4], [f32; 4]) {
    let (w, h) = (width as f32, height as f32);
    let map = [16.0, 78.0, w - 150.0, h - 56.0];
    let colorbar = [w - 124.0, map[1] + 40.0, w - 100.0, map[3] - 30.0];
    (map, colorbar)
}

/// Width of the map area for an image width, pixels (for choosing an order).
pub fn map_width(width: u32, height: u32) -> f32 {
    let (m, _) = frame(width, height);
    (m[2] - m[0]).min(m[3] - m[1])
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The default colour-bar range: 1st–99th percentile of the finite values (positive ones on
/// a log scale); widened when degenerate.
pub fn default_range(values: &[f64], scale: Scale) -> (f64, f64) {
    let mut v: Vec<f64> = values
        .iter()
        .copied()
        .filter(|x| x.is_finite() && (scale == Scale::Linear || *x > 0.0))
        .collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(f64::total_cmp);
    let (lo, hi) = (percentile(&v, 0.01), percentile(&v, 0.99));
    if hi > lo {
        (lo, hi)
    } else if scale == Scale::Log {
        (lo / 2.0, lo * 2.0)
    } else {
        (lo - 0.5, lo + 0.5)
    }
}

fn paint(rgb: [u8; 3], anti_alias: bool) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(rgb[0], rgb[1], rgb[2], 255);
    p.anti_alias = anti_alias;
    p
}

fn fill_rect(canvas: &mut Pixmap, r: [f32; 4], rgb: [u8; 3]) {
    if let Some(rect) = Rect::from_ltrb(r[0], r[1], r[2], r[3]) {
        canvas.fill_rect(rect, &paint(rgb, false), Transform::identity(), None);
    }
}

fn stroke_polyline(
    canvas: &mut Pixmap,
    points: &[(f32, f32)],
    rgb: [u8; 3],
    width: f32,
    dash: bool,
    mask: Option<&Mask>,
) {
    let mut pb = PathBuilder::new();
    let mut started = false;
    for &(x, y) in points {
        if !x.is_finite() || !y.is_finite() {
            started = false;
            continue;
        }
        if started {
            pb.line_to(x, y);
        } else {
            pb.move_to(x, y);
            started = true;
        }
    }
    let Some(path) = pb.finish() else { return };
    let stroke = Stroke {
        width,
        dash: if dash {
            StrokeDash::new(vec![4.0, 4.0], 0.0)
        } else {
            None
        },
        ..Stroke::default()
    };
    canvas.stroke_path(
        &path,
        &paint(rgb, true),
        &stroke,
        Transform::identity(),
        mask,
    );
}

fn set_pixel(canvas: &mut Pixmap, x: f32, y: f32, rgb: [u8; 3]) {
    let (w, h) = (canvas.width() as f32, canvas.height() as f32);
    if x < 0.0 || y < 0.0 || x >= w || y >= h {
        return;
    }
    let i = 4 * (y as usize * canvas.width() as usize + x as usize);
    let data = canvas.data_mut();
    data[i..i + 4].copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
}

/// Render a map.
///
/// # Errors
/// [`PlotError::Canvas`] for an image size that cannot be allocated or is too small;
/// [`PlotError::NoData`] without cells.
pub fn render(input: &MapInput, fonts: &Fonts) -> Result<Plot, PlotError> {
    if input.width < 400 || input.height < 300 {
        return Err(PlotError::Canvas(format!(
            "{}×{} is too small; the map needs at least 400×300 pixels",
            input.width, input.height
        )));
    }
    if input.cells.is_empty() {
        return Err(PlotError::NoData("no cell to draw".into()));
    }
    let mut canvas = Pixmap::new(input.width, input.height).ok_or_else(|| {
        PlotError::Canvas(format!("cannot allocate {}×{}", input.width, input.height))
    })?;
    canvas.fill(Color::from_rgba8(
        BACKGROUND[0],
        BACKGROUND[1],
        BACKGROUND[2],
        255,
    ));
    let pole = input
        .pole
        .unwrap_or_else(|| pole_of(input.order, &input.cells, input.ellipsoid));
    let proj = PolarStereographic::for_pole(pole);
    let (map, colorbar) = frame(input.width, input.height);

    // Projected outlines, once.
    let outlines: Vec<Vec<(f64, f64)>> = input
        .cells
        .iter()
        .map(|&(c, _)| {
            cell_outline(input.order, c, input.ellipsoid)
                .into_iter()
                .map(|(lat, lon)| proj.forward(lat, lon))
                .collect()
        })
        .collect();
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for &(x, y) in outlines.iter().flatten() {
        b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    }
    // Fit with a 4 % margin, same scale on both axes, centred.
    let (mw, mh) = (f64::from(map[2] - map[0]), f64::from(map[3] - map[1]));
    let (dx, dy) = ((b[2] - b[0]).max(1.0), (b[3] - b[1]).max(1.0));
    let mpp = (dx / mw).max(dy / mh) * 1.08;
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let values: Vec<f64> = input.cells.iter().map(|c| c.1).collect();
    let range = input
        .range
        .unwrap_or_else(|| default_range(&values, input.scale));
    let layout = Layout {
        width: input.width,
        height: input.height,
        map,
        colorbar,
        pole,
        epsg: proj.epsg(),
        order: input.order,
        cells: input.cells.len(),
        range: [range.0, range.1],
        scale: input.scale,
        colormap: input.colormap,
        x_min_m: cx - mw / 2.0 * mpp,
        y_max_m: cy + mh / 2.0 * mpp,
        metres_per_pixel: mpp,
    };

    fill_rect(&mut canvas, map, NO_DATA);
    let mut mask = Mask::new(input.width, input.height)
        .ok_or_else(|| PlotError::Canvas("cannot allocate the clip mask".into()))?;
    if let Some(r) = Rect::from_ltrb(map[0], map[1], map[2], map[3]) {
        mask.fill_path(
            &PathBuilder::from_rect(r),
            FillRule::Winding,
            false,
            Transform::identity(),
        );
    }
    graticule(&mut canvas, &layout, &proj, fonts, &mask, true);

    // Cells: filled outlines without anti-aliasing (no seams between neighbours), and the
    // centre pixel, so cells smaller than a pixel still show.
    for ((_, value), outline) in input.cells.iter().zip(&outlines) {
        let rgb = layout.colour_of(*value);
        let mut pb = PathBuilder::new();
        for (i, &(x, y)) in outline.iter().enumerate() {
            let (px, py) = layout.to_pixel(x, y);
            if i == 0 {
                pb.move_to(px, py);
            } else {
                pb.line_to(px, py);
            }
        }
        pb.close();
        if let Some(path) = pb.finish() {
            canvas.fill_path(
                &path,
                &paint(rgb, false),
                FillRule::Winding,
                Transform::identity(),
                Some(&mask),
            );
        }
        let n = outline.len() as f64;
        let (sx, sy) = outline
            .iter()
            .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x / n, b + y / n));
        let (px, py) = layout.to_pixel(sx, sy);
        if px >= map[0] && px < map[2] && py >= map[1] && py < map[3] {
            set_pixel(&mut canvas, px, py, rgb);
        }
    }
    // Graticule labels over the data.
    graticule(&mut canvas, &layout, &proj, fonts, &mask, false);
    frame_lines(&mut canvas, map);
    scale_bar(&mut canvas, &layout, fonts);
    colour_bar(&mut canvas, &layout, input.units.as_deref(), fonts);
    titles(&mut canvas, &layout, input, &proj, fonts);
    Ok(Plot {
        pixmap: canvas,
        layout,
    })
}

fn frame_lines(canvas: &mut Pixmap, r: [f32; 4]) {
    let pts = [
        (r[0], r[1]),
        (r[2], r[1]),
        (r[2], r[3]),
        (r[0], r[3]),
        (r[0], r[1]),
    ];
    stroke_polyline(canvas, &pts, [120, 128, 136], 1.0, false, None);
}

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

fn lon_label(lon: f64) -> String {
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

fn format_degrees(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// Latitude circles and meridians (lines when `lines`, else their labels).
fn graticule(
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

fn scale_bar(canvas: &mut Pixmap, layout: &Layout, fonts: &Fonts) {
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

fn colour_bar(canvas: &mut Pixmap, layout: &Layout, units: Option<&str>, fonts: &Fonts) {
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

fn titles(
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
    fn labels_read_like_a_map() {
        assert_eq!(lat_label(-75.0), "75°S");
        assert_eq!(lat_label(72.5), "72.5°N");
        assert_eq!(lon_label(-100.0), "100°W");
        assert_eq!(lon_label(180.0), "180°");
        assert_eq!(lon_label(-180.0), "180°");
        assert_eq!(lon_label(45.0), "45°E");
        assert_eq!(pretty_units("m^2"), "m²");
        assert_eq!(format_tick(1200.0, 200.0), "1200");
        assert_eq!(format_tick(0.05, 0.05), "0.05");
    }

    #[test]
    fn default_range_ignores_outliers_and_non_positive_logs() {
        let mut v: Vec<f64> = (0..1000).map(f64::from).collect();
        v.push(1e9);
        let (lo, hi) = default_range(&v, Scale::Linear);
        assert!(lo < 11.0 && hi < 1000.0, "{lo} {hi}");
        let (lo, _) = default_range(&[0.0, -1.0, 5.0, 50.0], Scale::Log);
        assert!(lo >= 5.0);
        assert_eq!(default_range(&[3.0], Scale::Linear), (2.5, 3.5));
    }

    #[test]
    fn coarse_cells_have_curved_outlines() {
        assert_eq!(cell_outline(12, 168_138_991, Ellipsoid::Wgs84).len(), 4);
        assert_eq!(cell_outline(6, 41045, Ellipsoid::Wgs84).len(), 4 * 8);
    }
}
