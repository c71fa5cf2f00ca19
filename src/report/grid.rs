//! Image grids: generated samples as one PNG, a row per class with its name on the left.

use super::canvas::{text_width, Canvas, Rect, TEXT_H};
use crate::{Error, Result};
use std::path::Path;

/// Screen pixels per image pixel (32×32 samples show at 64×64).
const SCALE: usize = 2;
const GAP: usize = 2;
const BACKGROUND: [u8; 3] = [255, 255, 255];

/// Writes `images` ([N, C, H, W] row-major, C 1 or 3, values in [-1, 1]; clipped) as a grid of
/// `labels.len()` rows, each labelled, filled row-major: N must be rows × columns.
pub fn image_grid(path: &Path, images: &[f32], shape: [usize; 4], labels: &[&str]) -> Result<()> {
    let [n, c, h, w] = shape;
    let rows = labels.len();
    if !matches!(c, 1 | 3) || images.len() != n * c * h * w || rows == 0 || n % rows != 0 {
        return Err(Error::Invalid {
            op: "image_grid",
            msg: format!(
                "needs [N, 1 or 3, H, W] images ({} values given for {shape:?}) in a whole \
                 number of rows ({rows})",
                images.len()
            ),
        });
    }
    let cols = n / rows;
    let left = labels.iter().map(|l| text_width(l)).max().unwrap_or(0) as usize + 2 * GAP;
    let (cw, ch) = (w * SCALE + GAP, h * SCALE + GAP);
    let mut canvas = Canvas::new(left + cols * cw + GAP, rows * ch + GAP, BACKGROUND);
    for (r, label) in labels.iter().enumerate() {
        let y0 = (GAP + r * ch) as i64;
        let mid = y0 + (h * SCALE) as i64 / 2 - TEXT_H / 2;
        canvas.text(GAP as i64, mid, label, [0, 0, 0]);
        for col in 0..cols {
            let img = &images[(r * cols + col) * c * h * w..][..c * h * w];
            let x0 = (left + col * cw) as i64;
            draw(&mut canvas, img, [c, h, w], x0, y0);
        }
    }
    canvas.save_png(path)
}

fn draw(canvas: &mut Canvas, img: &[f32], [c, h, w]: [usize; 3], x0: i64, y0: i64) {
    let byte = |v: f32| ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
    for y in 0..h {
        for x in 0..w {
            let at = |ch: usize| byte(img[(ch * h + y) * w + x]);
            let rgb = match c {
                1 => [at(0); 3],
                _ => [at(0), at(1), at(2)],
            };
            let s = SCALE as i64;
            let r = Rect {
                x0: x0 + x as i64 * s,
                y0: y0 + y as i64 * s,
                x1: x0 + (x as i64 + 1) * s,
                y1: y0 + (y as i64 + 1) * s,
            };
            canvas.fill(r, rgb);
        }
    }
}
