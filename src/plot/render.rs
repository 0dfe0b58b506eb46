//! Drawing the map: cells, graticule, colour bar, scale bar, title and footer.

use cdshealpix::compass_point::Cardinal;
use serde::Serialize;
use tiny_skia::{
    Color, FillRule, Mask, Paint, PathBuilder, Pixmap, Rect, Stroke, StrokeDash, Transform,
};

use super::colormap::{Colormap, Scale};
use super::graticule::{graticule, scale_bar};
use super::legend::{colour_bar, titles};
use super::projection::{geodetic_from_authalic, PolarStereographic, Pole};
use super::text::Fonts;
use super::PlotError;
use crate::grid::Ellipsoid;

/// Canvas background.
pub const BACKGROUND: [u8; 3] = [255, 255, 255];
/// Map area without data.
pub const NO_DATA: [u8; 3] = [232, 236, 240];
pub(super) const INK: [u8; 3] = [33, 37, 41];
pub(super) const GRATICULE: [u8; 3] = [150, 158, 168];

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

pub(super) fn paint(rgb: [u8; 3], anti_alias: bool) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(rgb[0], rgb[1], rgb[2], 255);
    p.anti_alias = anti_alias;
    p
}

pub(super) fn fill_rect(canvas: &mut Pixmap, r: [f32; 4], rgb: [u8; 3]) {
    if let Some(rect) = Rect::from_ltrb(r[0], r[1], r[2], r[3]) {
        canvas.fill_rect(rect, &paint(rgb, false), Transform::identity(), None);
    }
}

pub(super) fn stroke_polyline(
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

#[cfg(test)]
mod tests {
    use super::*;

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
