//! An RGB raster with the few primitives the plots need (rectangles, thick lines, bitmap text)
//! and PNG output. Every primitive clips, so no coordinate can index out of bounds.

use super::font::{GLYPHS, GLYPH_H, GLYPH_W};
use crate::{Error, Result};
use std::path::Path;

pub(super) type Rgb = [u8; 3];

/// Half-open pixel rectangle `[x0, x1) × [y0, y1)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rect {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl Rect {
    fn contains(&self, x: i64, y: i64) -> bool {
        (self.x0..self.x1).contains(&x) && (self.y0..self.y1).contains(&y)
    }
}

pub(super) struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

/// Width in pixels of `s` drawn with [`Canvas::text`].
pub(super) fn text_width(s: &str) -> i64 {
    (s.chars().count() * GLYPH_W) as i64
}

pub(super) const TEXT_H: i64 = GLYPH_H as i64;

fn glyph(c: char) -> &'static [u8; GLYPH_H] {
    let i = (c as usize).wrapping_sub(0x20);
    GLYPHS.get(i).unwrap_or(&GLYPHS[usize::from(b'?' - 0x20)])
}

impl Canvas {
    pub fn new(w: usize, h: usize, bg: Rgb) -> Canvas {
        Canvas {
            w,
            h,
            px: bg.repeat(w * h),
        }
    }

    pub fn bounds(&self) -> Rect {
        Rect {
            x0: 0,
            y0: 0,
            x1: self.w as i64,
            y1: self.h as i64,
        }
    }

    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if self.bounds().contains(x, y) {
            let i = 3 * (y as usize * self.w + x as usize);
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Fills `r` (clipped to the canvas).
    pub fn fill(&mut self, r: Rect, c: Rgb) {
        let b = self.bounds();
        for y in r.y0.max(0)..r.y1.min(b.y1) {
            for x in r.x0.max(0)..r.x1.min(b.x1) {
                self.set(x, y, c);
            }
        }
    }

    /// A one-pixel outline just inside `r`.
    pub fn frame(&mut self, r: Rect, c: Rgb) {
        for (x0, y0, x1, y1) in [
            (r.x0, r.y0, r.x1, r.y0 + 1),
            (r.x0, r.y1 - 1, r.x1, r.y1),
            (r.x0, r.y0, r.x0 + 1, r.y1),
            (r.x1 - 1, r.y0, r.x1, r.y1),
        ] {
            self.fill(Rect { x0, y0, x1, y1 }, c);
        }
    }

    /// A line `width` pixels thick from `a` to `b`, drawn only inside `clip`.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), width: i64, c: Rgb, clip: Rect) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        // Points off by more than the canvas are clipped anyway; the cap bounds the loop.
        let steps = dx.abs().max(dy.abs()).ceil().min(1e5);
        if !steps.is_finite() {
            return;
        }
        let n = steps as i64;
        for i in 0..=n {
            let t = if n == 0 { 0.0 } else { i as f64 / n as f64 };
            let (x, y) = ((a.0 + t * dx).round() as i64, (a.1 + t * dy).round() as i64);
            for oy in 0..width {
                for ox in 0..width {
                    let (px, py) = (x + ox - width / 2, y + oy - width / 2);
                    if clip.contains(px, py) {
                        self.set(px, py, c);
                    }
                }
            }
        }
    }

    /// Text with its top-left corner at (x, y); characters outside printable ASCII show as '?'.
    pub fn text(&mut self, x: i64, y: i64, s: &str, c: Rgb) {
        self.glyphs(s, c, |gx, gy| (x + gx, y + gy));
    }

    /// Bold text: the glyphs drawn twice, one pixel apart.
    pub fn text_bold(&mut self, x: i64, y: i64, s: &str, c: Rgb) {
        self.text(x, y, s, c);
        self.text(x + 1, y, s, c);
    }

    /// Text turned 90° counter-clockwise (read bottom to top), its bottom-left corner at (x, y).
    pub fn text_up(&mut self, x: i64, y: i64, s: &str, c: Rgb) {
        self.glyphs(s, c, |gx, gy| (x + gy, y - gx));
    }

    fn glyphs(&mut self, s: &str, c: Rgb, at: impl Fn(i64, i64) -> (i64, i64)) {
        for (k, ch) in s.chars().enumerate() {
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..GLYPH_W {
                    if bits & (0x80 >> col) != 0 {
                        let (x, y) = at((k * GLYPH_W + col) as i64, row as i64);
                        self.set(x, y, c);
                    }
                }
            }
        }
    }

    /// Writes an 8-bit RGB PNG (encoded in memory, so every I/O error surfaces at the write).
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::new();
        let mut enc = png::Encoder::new(&mut bytes, self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()
            .and_then(|mut w| w.write_image_data(&self.px).and_then(|()| w.finish()))
            .map_err(|e| Error::Invalid {
                op: "png",
                msg: format!("{}: {e}", path.display()),
            })?;
        std::fs::write(path, bytes).map_err(Error::io(path))
    }
}
