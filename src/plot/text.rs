//! Text on the map, with DejaVu Sans (shipped inside the `dejavu` crate; Bitstream Vera
//! licence with public-domain DejaVu changes, which allows embedding) rasterised by
//! `ab_glyph` and blended into the canvas.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use tiny_skia::Pixmap;

/// The two faces used.
#[derive(Debug, Clone)]
pub struct Fonts {
    /// DejaVu Sans.
    pub regular: FontRef<'static>,
    /// DejaVu Sans Bold.
    pub bold: FontRef<'static>,
}

impl Fonts {
    /// Load the embedded faces.
    ///
    /// # Errors
    /// A message if a font cannot be parsed (only if the embedded data were damaged).
    pub fn load() -> Result<Self, String> {
        let parse = |bytes: &'static [u8], name: &str| {
            FontRef::try_from_slice(bytes).map_err(|e| format!("font {name}: {e}"))
        };
        Ok(Self {
            regular: parse(dejavu::sans::regular(), "DejaVu Sans")?,
            bold: parse(dejavu::sans::bold(), "DejaVu Sans Bold")?,
        })
    }
}

/// Width in pixels of `text` at size `px`.
pub fn width(font: &FontRef<'_>, px: f32, text: &str) -> f32 {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            w += scaled.kern(p, id);
        }
        w += scaled.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Where a text's x coordinate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// x is the left end.
    Left,
    /// x is the centre.
    Center,
    /// x is the right end.
    Right,
}

/// Draw `text` with its baseline at `y` in an opaque colour, anti-aliased; returns its width.
#[allow(clippy::too_many_arguments)]
pub fn draw(
    canvas: &mut Pixmap,
    font: &FontRef<'_>,
    px: f32,
    x: f32,
    y: f32,
    align: Align,
    text: &str,
    rgb: [u8; 3],
) -> f32 {
    let total = width(font, px, text);
    let mut pen = match align {
        Align::Left => x,
        Align::Center => x - total / 2.0,
        Align::Right => x - total,
    };
    let scaled = font.as_scaled(PxScale::from(px));
    let (w, h) = (canvas.width(), canvas.height());
    let data = canvas.data_mut();
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), ab_glyph::point(pen, y));
        pen += scaled.h_advance(id);
        prev = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px_x = bounds.min.x as i64 + i64::from(gx);
            let px_y = bounds.min.y as i64 + i64::from(gy);
            if px_x < 0 || px_y < 0 || px_x >= i64::from(w) || px_y >= i64::from(h) {
                return;
            }
            let i = 4 * (px_y as usize * w as usize + px_x as usize);
            let a = coverage.clamp(0.0, 1.0);
            for k in 0..3 {
                let dst = f32::from(data[i + k]);
                data[i + k] = (f32::from(rgb[k]) * a + dst * (1.0 - a)).round() as u8;
            }
            data[i + 3] = 255;
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_inside_its_advance_box() {
        let fonts = Fonts::load().expect("fonts");
        let mut canvas = Pixmap::new(200, 40).expect("canvas");
        canvas.fill(tiny_skia::Color::WHITE);
        let w = draw(
            &mut canvas,
            &fonts.regular,
            20.0,
            10.0,
            30.0,
            Align::Left,
            "h_mean m²",
            [0, 0, 0],
        );
        assert!(w > 60.0 && w < 150.0, "{w}");
        let dark: Vec<(u32, u32)> = (0..40)
            .flat_map(|y| (0..200).map(move |x| (x, y)))
            .filter(|&(x, y)| canvas.pixel(x, y).is_some_and(|p| p.red() < 128))
            .collect();
        assert!(dark.len() > 100, "{} dark pixels", dark.len());
        assert!(dark
            .iter()
            .all(|&(x, y)| x >= 9 && f32::from(x as u16) <= 11.0 + w && y <= 35));
        assert!(width(&fonts.bold, 20.0, "abc") > width(&fonts.bold, 10.0, "abc"));
    }
}
