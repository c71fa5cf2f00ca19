//! PNG plots: files decode to the documented size, curves and bars land where their values say
//! in their palette colours, bad input gives errors naming the problem, NaN/empty input draws.

mod common;
use common::scratch;
use std::fs;
use std::io::BufReader;
use std::path::PathBuf;
use tailgrad::report::plots::{HEIGHT, PALETTE, WIDTH};
use tailgrad::report::{class_bars, line_chart, Series};
use tailgrad::Error;

/// A decoded RGB image.
struct Image {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Image {
    fn load(path: &PathBuf) -> Image {
        let file = BufReader::new(fs::File::open(path).unwrap());
        let mut reader = png::Decoder::new(file).read_info().unwrap();
        let mut px = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut px).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        assert_eq!((info.width as usize, info.height as usize), (WIDTH, HEIGHT));
        Image {
            w: WIDTH,
            h: HEIGHT,
            px,
        }
    }

    fn is(&self, x: usize, y: usize, c: [u8; 3]) -> bool {
        let i = 3 * (y * self.w + x);
        self.px[i..i + 3] == c
    }

    /// (row, start column, length) of the longest horizontal run of colour `c`.
    fn longest_row_run(&self, c: [u8; 3]) -> (usize, usize, usize) {
        let mut best = (0, 0, 0);
        for y in 0..self.h {
            let mut start = 0;
            for x in 0..=self.w {
                if x < self.w && self.is(x, y, c) {
                    continue;
                }
                if x - start > best.2 {
                    best = (y, start, x - start);
                }
                start = x + 1;
            }
        }
        best
    }

    /// Horizontal runs of colour `c` in row `y`, as (start, length).
    fn runs_in_row(&self, y: usize, c: [u8; 3]) -> Vec<(usize, usize)> {
        let mut runs = vec![];
        let mut start = None;
        for x in 0..=self.w {
            match (x < self.w && self.is(x, y, c), start) {
                (true, None) => start = Some(x),
                (false, Some(s)) => {
                    runs.push((s, x - s));
                    start = None;
                }
                _ => {}
            }
        }
        runs
    }

    /// Per column, the longest vertical run of colour `c`; returns (column, run) of columns
    /// whose run is at least `min`.
    fn column_runs(&self, c: [u8; 3], min: usize) -> Vec<(usize, usize)> {
        (0..self.w)
            .filter_map(|x| {
                let (mut best, mut cur) = (0, 0);
                for y in 0..self.h {
                    cur = if self.is(x, y, c) { cur + 1 } else { 0 };
                    best = best.max(cur);
                }
                (best >= min).then_some((x, best))
            })
            .collect()
    }

    fn count(&self, c: [u8; 3]) -> usize {
        self.px.chunks_exact(3).filter(|p| **p == c).count()
    }
}

fn line(points: &[(f64, f64)]) -> Series<'_> {
    Series { label: "s", points }
}

#[test]
fn line_chart_draws_each_series_at_its_height_in_its_colour() {
    let dir = scratch("lines");
    let path = dir.join("loss.png");
    let high: Vec<_> = (0..=10).map(|x| (x as f64, 1.0)).collect();
    let low: Vec<_> = (0..=10).map(|x| (x as f64, 0.0)).collect();
    let series = [
        Series {
            label: "train",
            points: &high,
        },
        Series {
            label: "test",
            points: &low,
        },
    ];
    line_chart(&path, "loss", "epoch", "loss", &series).unwrap();
    let img = Image::load(&path);
    let (row_hi, x_hi, len_hi) = img.longest_row_run(PALETTE[0]);
    let (row_lo, x_lo, len_lo) = img.longest_row_run(PALETTE[1]);
    // Both curves span the x range: most of the image width, from the same left edge.
    assert!(
        len_hi > WIDTH * 3 / 4 && len_lo > WIDTH * 3 / 4,
        "{len_hi} {len_lo}"
    );
    assert_eq!(x_hi, x_lo);
    // y = 1 is drawn above y = 0, by most of the plot height.
    assert!(row_hi + HEIGHT / 2 < row_lo, "rows {row_hi} {row_lo}");
    // Text (title, tick labels, legend) is drawn in black.
    assert!(img.count([0, 0, 0]) > 1000);
}

#[test]
fn nan_splits_a_curve_and_rising_data_rises() {
    let dir = scratch("nan");
    let path = dir.join("nan.png");
    let flat = [
        (0.0, 0.0),
        (1.0, 0.0),
        (2.0, f64::NAN),
        (3.0, 0.0),
        (4.0, 0.0),
    ];
    let rising = [(0.0, 0.0), (4.0, 1.0)];
    line_chart(&path, "t", "x", "y", &[line(&flat), line(&rising)]).unwrap();
    let img = Image::load(&path);
    let (row, _, _) = img.longest_row_run(PALETTE[0]);
    let runs: Vec<_> = img
        .runs_in_row(row, PALETTE[0])
        .into_iter()
        .filter(|r| r.1 > 50)
        .collect();
    assert_eq!(runs.len(), 2, "two segments around the NaN: {runs:?}");
    let gap = runs[1].0 - (runs[0].0 + runs[0].1);
    assert!(gap > WIDTH / 3, "the gap spans x = 1..3 of 0..4: {gap}");
    // The rising line: its leftmost pixel is low in the plot, its rightmost high.
    let cols = img.column_runs(PALETTE[1], 1);
    let rows_at = |x: usize| (0..HEIGHT).filter(|&y| img.is(x, y, PALETTE[1])).max();
    let (left, right) = (cols.first().unwrap().0, cols.last().unwrap().0);
    assert!(right - left > WIDTH / 2);
    assert!(rows_at(left).unwrap() > rows_at(left + (right - left) * 3 / 4).unwrap() + 100);
}

#[test]
fn class_bars_have_heights_proportional_to_values_in_group_colours() {
    let dir = scratch("bars");
    let path = dir.join("acc.png");
    let names: Vec<String> = ["airplane", "automobile", "bird", "cat"]
        .map(String::from)
        .to_vec();
    let values = [1.0, 0.5, 0.25, f64::NAN];
    class_bars(
        &path,
        "per-class accuracy",
        &names,
        &values,
        &[0, 1, 2, 0],
        &["many", "medium", "few"],
    )
    .unwrap();
    let img = Image::load(&path);
    // Bars are the only tall runs of each group colour (legend swatches are short).
    let bar = |g: usize| img.column_runs(PALETTE[g], 20);
    let (many, medium, few) = (bar(0), bar(1), bar(2));
    let height = |b: &[(usize, usize)]| b.iter().map(|c| c.1).max().unwrap();
    let (h0, h1, h2) = (height(&many), height(&medium), height(&few));
    assert!(
        h0.abs_diff(2 * h1) <= 2 && h1.abs_diff(2 * h2) <= 2,
        "{h0} {h1} {h2}"
    );
    assert!(
        h0 > HEIGHT / 3,
        "the tallest bar fills most of the plot: {h0}"
    );
    // Left to right in class order; the NaN class (group 0) draws no second bar.
    assert!(many.last().unwrap().0 < medium[0].0 && medium.last().unwrap().0 < few[0].0);
    let width = |b: &[(usize, usize)]| b.last().unwrap().0 - b[0].0 + 1;
    assert_eq!(width(&many), many.len(), "one contiguous bar for group 0");
    assert!(width(&many).abs_diff(width(&few)) <= 1);
    // Each group has a legend swatch: a short run of its colour above the plot.
    for (g, c) in PALETTE.iter().take(3).enumerate() {
        let top = (0..60).flat_map(|y| img.runs_in_row(y, *c)).count();
        assert!(top > 0, "legend swatch for group {g}");
    }
}

#[test]
fn many_classes_draw_without_names() {
    let dir = scratch("many");
    let path = dir.join("many.png");
    let n = 1000;
    let names: Vec<String> = (0..n).map(|i| format!("class_{i}")).collect();
    let values: Vec<f64> = (0..n).map(|i| 1.0 - i as f64 / n as f64).collect();
    let groups: Vec<usize> = (0..n).map(|i| [0, 1, 2][(i * 3) / n]).collect();
    class_bars(
        &path,
        "1000 classes",
        &names,
        &values,
        &groups,
        &["many", "medium", "few"],
    )
    .unwrap();
    let img = Image::load(&path);
    for (g, colour) in PALETTE.iter().take(3).enumerate() {
        assert!(img.column_runs(*colour, 20).len() > 100, "group {g} bars");
    }
}

#[test]
fn empty_nan_and_extreme_inputs_draw_without_panicking() {
    let dir = scratch("edge");
    let nan = [(f64::NAN, 1.0), (2.0, f64::NAN), (f64::INFINITY, 0.0)];
    let huge = [(0.0, -1e300), (1.0, 1e300), (2.0, f64::MAX)];
    let single = [(3.0, 3.0)];
    let tiny = [(0.0, 1e-12), (1e-9, 2e-12)];
    let cases: [&[Series]; 7] = [
        &[],
        &[line(&[])],
        &[line(&nan)],
        &[line(&huge)],
        &[line(&single)],
        &[line(&tiny), line(&single)],
        &[line(&[(0.0, 5.0), (1.0, 5.0)])],
    ];
    for (i, series) in cases.iter().enumerate() {
        let path = dir.join(format!("line{i}.png"));
        line_chart(&path, "é ünïcode ✓", "", "", series).unwrap();
        Image::load(&path);
    }
    // A lone point is drawn as a dot.
    let img = Image::load(&dir.join("line4.png"));
    assert!(img.count(PALETTE[0]) >= 16 + 20, "dot plus legend swatch");
    let bars: [(&[f64], &[usize]); 4] = [
        (&[], &[]),
        (&[f64::NAN, f64::NAN], &[0, 1]),
        (&[-0.5, 0.25], &[1, 0]),
        (&[0.0, 0.0], &[0, 0]),
    ];
    for (i, (values, groups)) in bars.iter().enumerate() {
        let path = dir.join(format!("bars{i}.png"));
        let names: Vec<String> = values.iter().map(|v| format!("{v}")).collect();
        class_bars(&path, "", &names, values, groups, &["a", "b"]).unwrap();
        Image::load(&path);
    }
}

#[test]
fn bad_input_and_unwritable_paths_are_errors() {
    let dir = scratch("errors");
    let bad = dir.join("no_such_dir").join("x.png");
    for r in [
        line_chart(&bad, "t", "x", "y", &[line(&[(0.0, 1.0)])]),
        class_bars(&bad, "t", &["a".into()], &[1.0], &[0], &["g"]),
    ] {
        match r {
            Err(e @ Error::Io { .. }) => assert!(e.to_string().contains("no_such_dir"), "{e}"),
            other => panic!("expected Error::Io, got {other:?}"),
        }
    }
    let ok = dir.join("ok.png");
    let names = ["a".to_string(), "b".to_string()];
    assert!(matches!(
        class_bars(&ok, "t", &names, &[1.0], &[0, 0], &["g"]),
        Err(Error::Shape {
            op: "class_bars",
            ..
        })
    ));
    assert!(matches!(
        class_bars(&ok, "t", &names, &[1.0, 2.0], &[0], &["g"]),
        Err(Error::Shape {
            op: "class_bars",
            ..
        })
    ));
    match class_bars(&ok, "t", &names, &[1.0, 2.0], &[0, 3], &["g", "h"]) {
        Err(e @ Error::Invalid { .. }) => assert!(e.to_string().contains("group 3"), "{e}"),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
    assert!(!ok.exists(), "nothing written for bad input");
}
