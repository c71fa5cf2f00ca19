//! PNG charts for training runs: loss/accuracy curves and per-class accuracy bars.
//! Both images are [`WIDTH`] × [`HEIGHT`]; series and groups take [`PALETTE`] colours in order.
//! Non-finite values are left out (a NaN splits a curve, a NaN bar is not drawn).

use super::canvas::{text_width, Canvas, Rect, Rgb, TEXT_H};
use crate::{Error, Result};
use std::path::Path;

/// Image width in pixels.
pub const WIDTH: usize = 960;
/// Image height in pixels.
pub const HEIGHT: usize = 540;

/// Series `i` and group `i` are drawn in `PALETTE[i % 10]` (matplotlib's tab10).
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
/// Top margin: the title row, then the legend row.
const TOP: i64 = 48;
/// Gap between the data range and the frame, so extreme values do not hide in the frame.
const INSET: i64 = 8;

/// One curve: a legend label and its (x, y) points in drawing order.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    pub label: &'a str,
    pub points: &'a [(f64, f64)],
}

/// A data interval mapped onto a pixel interval, with its tick step.
#[derive(Clone, Copy, Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    step: f64,
    p0: f64,
    p1: f64,
}

/// 1, 2 or 5 × 10^k: the round step nearest `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    }
}

impl Axis {
    /// Covers the finite values (0..1 if none) with round ends, from pixel p0 to p1.
    fn new(values: impl Iterator<Item = f64>, p0: i64, p1: i64) -> Axis {
        let (mut lo, mut hi) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        } else if lo == hi {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo, hi) = (lo - pad, hi + pad);
        }
        // Halves and fifths keep spans of values near ±f64::MAX finite.
        let step = nice_step(hi / 5.0 - lo / 5.0);
        let (rlo, rhi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        if rlo.is_finite() && rhi.is_finite() {
            (lo, hi) = (rlo, rhi);
        }
        Axis {
            lo,
            hi,
            step,
            p0: p0 as f64,
            p1: p1 as f64,
        }
    }

    fn px(&self, v: f64) -> f64 {
        self.p0 + (v / 2.0 - self.lo / 2.0) / self.half_span() * (self.p1 - self.p0)
    }

    fn half_span(&self) -> f64 {
        self.hi / 2.0 - self.lo / 2.0
    }

    /// Tick values and their labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        let n = (self.half_span() / (self.step / 2.0) + 1e-6).floor();
        if !(n.is_finite() && n <= 50.0) {
            return vec![];
        }
        (0..=n as i64)
            .map(|i| {
                let v = self.lo + i as f64 * self.step;
                let v = if v.abs() < self.step * 1e-9 { 0.0 } else { v };
                (v, self.label(v))
            })
            .collect()
    }

    fn label(&self, v: f64) -> String {
        if self.step >= 1e5 || self.step < 1e-4 {
            return format!("{v:.1e}");
        }
        let decimals = (-self.step.log10()).ceil().max(0.0) as usize;
        format!("{v:.decimals$}")
    }
}

/// The plot rectangle for margins (left, top, right, bottom).
fn plot_area(left: i64, top: i64, right: i64, bottom: i64) -> Rect {
    Rect {
        x0: left,
        y0: top,
        x1: WIDTH as i64 - right,
        y1: HEIGHT as i64 - bottom,
    }
}

/// Title, grid lines and tick labels of both axes (x ticks only when `x` is given).
fn axes(c: &mut Canvas, area: Rect, title: &str, x: Option<&Axis>, y: &Axis) {
    c.text_bold((WIDTH as i64 - text_width(title)) / 2, 8, title, BLACK);
    for (v, label) in y.ticks() {
        let py = y.px(v).round() as i64;
        c.fill(
            Rect {
                y0: py,
                y1: py + 1,
                ..area
            },
            GRID,
        );
        let lx = area.x0 - 6 - text_width(&label);
        c.text(lx, py - TEXT_H / 2, &label, BLACK);
    }
    if let Some(x) = x {
        for (v, label) in x.ticks() {
            let px = x.px(v).round() as i64;
            c.fill(
                Rect {
                    x0: px,
                    x1: px + 1,
                    ..area
                },
                GRID,
            );
            c.text(px - text_width(&label) / 2, area.y1 + 6, &label, BLACK);
        }
    }
    c.frame(area, BLACK);
}

/// One row above the plot, right-aligned: a colour swatch and a label per entry (in the margin,
/// so it never hides data).
fn legend(
    c: &mut Canvas,
    area: Rect,
    rows: &[(&str, Rgb)],
    swatch: impl Fn(&mut Canvas, Rect, Rgb),
) {
    let y = area.y0 - TEXT_H - 6;
    let mut x = area.x1;
    for (label, colour) in rows.iter().rev() {
        x -= text_width(label);
        c.text(x, y, label, BLACK);
        x -= 24;
        let s = Rect {
            x0: x,
            y0: y + 2,
            x1: x + 20,
            y1: y + TEXT_H - 2,
        };
        swatch(c, s, *colour);
        x -= 16;
    }
}

fn no_data(c: &mut Canvas, area: Rect) {
    let msg = "no finite data";
    let (cx, cy) = ((area.x0 + area.x1) / 2, (area.y0 + area.y1) / 2);
    c.text(cx - text_width(msg) / 2, cy - TEXT_H / 2, msg, BLACK);
}

/// Curves of `series` (e.g. train and test loss per epoch) with axes, labels and a legend.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let mut c = Canvas::new(WIDTH, HEIGHT, WHITE);
    let area = plot_area(80, TOP, 20, 55);
    let finite = || {
        series
            .iter()
            .flat_map(|s| s.points)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let x = Axis::new(finite().map(|p| p.0), area.x0 + INSET, area.x1 - 1 - INSET);
    let y = Axis::new(finite().map(|p| p.1), area.y1 - 1 - INSET, area.y0 + INSET);
    axes(&mut c, area, title, Some(&x), &y);
    let (xl, yl) = (text_width(x_label), text_width(y_label));
    c.text(
        (area.x0 + area.x1 - xl) / 2,
        HEIGHT as i64 - TEXT_H - 8,
        x_label,
        BLACK,
    );
    c.text_up(12, (area.y0 + area.y1 + yl) / 2, y_label, BLACK);
    if finite().next().is_none() {
        no_data(&mut c, area);
    }
    for (s, colour) in series.iter().zip(PALETTE.iter().cycle()) {
        curve(&mut c, area, (&x, &y), s.points, *colour);
    }
    let rows: Vec<_> = series
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|(s, col)| (s.label, *col))
        .collect();
    legend(&mut c, area, &rows, |c, r, col| {
        let mid = ((r.y0 + r.y1) / 2) as f64;
        c.line((r.x0 as f64, mid), (r.x1 as f64 - 1.0, mid), 2, col, r);
    });
    c.save_png(path)
}

/// One series: segments between consecutive finite points; a lone point gets a dot.
fn curve(c: &mut Canvas, area: Rect, (x, y): (&Axis, &Axis), points: &[(f64, f64)], col: Rgb) {
    let px = |&(a, b): &(f64, f64)| (a.is_finite() && b.is_finite()).then(|| (x.px(a), y.px(b)));
    let pts: Vec<_> = points.iter().map(px).collect();
    for (i, p) in pts.iter().enumerate() {
        let Some(p) = *p else { continue };
        let prev = i.checked_sub(1).and_then(|j| pts[j]);
        let next = pts.get(i + 1).copied().flatten();
        if let Some(q) = next {
            c.line(p, q, 2, col, area);
        } else if prev.is_none() {
            c.line(p, p, 4, col, area);
        }
    }
}

fn check_len(op_len: usize, other: usize) -> Result<()> {
    if op_len != other {
        return Err(Error::Shape {
            op: "class_bars",
            lhs: vec![op_len],
            rhs: vec![other],
        });
    }
    Ok(())
}

/// One bar per class (e.g. test accuracy), coloured by the class's group (many/medium/few
/// shot), with a legend naming the groups. Class names label the bars when they fit, class
/// indices otherwise.
pub fn class_bars(
    path: &Path,
    title: &str,
    names: &[String],
    values: &[f64],
    colors_by_group: &[usize],
    group_names: &[&str],
) -> Result<()> {
    check_len(names.len(), values.len())?;
    check_len(names.len(), colors_by_group.len())?;
    if let Some(g) = colors_by_group.iter().find(|&&g| g >= group_names.len()) {
        return Err(Error::Invalid {
            op: "class_bars",
            msg: format!(
                "group {g} out of range for {} group names",
                group_names.len()
            ),
        });
    }
    let colour = |_: usize, class: usize| colors_by_group[class];
    bars(path, title, names, &[values], colour, group_names)
}

/// Several values per class side by side (e.g. two methods' per-class accuracy), one colour and
/// legend entry per series.
pub fn compare_class_bars(
    path: &Path,
    title: &str,
    names: &[String],
    series: &[(&str, &[f64])],
) -> Result<()> {
    for (_, values) in series {
        check_len(names.len(), values.len())?;
    }
    let sets: Vec<&[f64]> = series.iter().map(|(_, v)| *v).collect();
    let labels: Vec<&str> = series.iter().map(|(l, _)| *l).collect();
    bars(path, title, names, &sets, |set, _| set, &labels)
}

/// The bar chart behind both: `sets[j][i]` is bar j of class i, filled with palette colour
/// `colour(j, i)`; the legend pairs `legend_names[k]` with palette colour k.
fn bars(
    path: &Path,
    title: &str,
    names: &[String],
    sets: &[&[f64]],
    colour: impl Fn(usize, usize) -> usize,
    legend_names: &[&str],
) -> Result<()> {
    let n = names.len();
    let max_chars = 16;
    let show_names = n > 0 && (WIDTH - 100) / n >= TEXT_H as usize;
    let bottom = if show_names {
        16 + text_width(&"m".repeat(max_chars))
    } else {
        55
    };
    let mut c = Canvas::new(WIDTH, HEIGHT, WHITE);
    let area = plot_area(80, TOP, 20, bottom);
    let all = || sets.iter().flat_map(|v| v.iter().copied());
    let y = Axis::new(all().chain([0.0]), area.y1 - 1, area.y0 + INSET);
    let slot = (area.x1 - area.x0) as f64 / n.max(1) as f64;
    let centre = |i: usize| area.x0 as f64 + (i as f64 + 0.5) * slot;
    // Many classes: ticks at round class indices (exact ends, so index i sits on bar i).
    let x_ticks = (!show_names && n > 1).then(|| Axis {
        lo: 0.0,
        hi: (n - 1) as f64,
        step: nice_step((n - 1) as f64 / 5.0),
        p0: centre(0),
        p1: centre(n - 1),
    });
    axes(&mut c, area, title, x_ticks.as_ref(), &y);
    if x_ticks.is_some() {
        let label = "class index";
        let lx = (area.x0 + area.x1 - text_width(label)) / 2;
        c.text(lx, HEIGHT as i64 - TEXT_H - 8, label, BLACK);
    }
    if all().all(|v| !v.is_finite()) {
        no_data(&mut c, area);
    }
    let k = sets.len().max(1) as f64;
    let half = (slot * 0.35 / k).max(0.5);
    let zero = y.px(0.0);
    for i in 0..n {
        if show_names {
            let name: String = names[i].chars().take(max_chars).collect();
            let tx = centre(i).round() as i64 - TEXT_H / 2;
            c.text_up(tx, area.y1 + 6 + text_width(&name), &name, BLACK);
        }
        for (j, values) in sets.iter().enumerate() {
            let v = values[i];
            if !v.is_finite() {
                continue;
            }
            let mid = centre(i) + (j as f64 - (k - 1.0) / 2.0) * 2.0 * half;
            let (x0, x1) = ((mid - half).round(), (mid + half).round());
            let bar = Rect {
                x0: x0 as i64,
                y0: y.px(v).min(zero).round() as i64,
                x1: x1.max(x0 + 1.0) as i64,
                y1: y.px(v).max(zero).round() as i64 + 1,
            };
            c.fill(bar, PALETTE[colour(j, i) % PALETTE.len()]);
        }
    }
    c.frame(area, BLACK);
    let rows: Vec<_> = legend_names
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|(g, col)| (*g, *col))
        .collect();
    legend(&mut c, area, &rows, |c, r, col| c.fill(r, col));
    c.save_png(path)
}
