//! `tailgrad bench`: measures the device peaks, then the selected entries of
//! `tailgrad::bench::registry`, printing a table and optionally JSON lines.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;
use tailgrad::bench::{measure, registry, Bench, Bound, Measurement, Opts};
use tailgrad::{Device, Error, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Kernels to run, matched as prefixes of the entry names (all when omitted). The peaks
    /// (`peak_fma`, `peak_copy`) always run first: the percentages are relative to them.
    kernels: Vec<String>,
    /// Also write one JSON object per result line to FILE [default: the table only].
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Reps per entry, median over them [default: 10 within 4 s, or 3 within 1 s with --quick].
    #[arg(long, value_name = "N")]
    reps: Option<usize>,
    /// Small shapes and few reps (CI smoke test).
    #[arg(long)]
    quick: bool,
    /// Only entries of these variants (repeatable; e.g. `--variant auto --variant small` for
    /// matmul's default path and the GAN entries at the small widths).
    #[arg(long)]
    variant: Vec<String>,
}

/// One JSON line. The first eight keys are the contract shared with the peers in `benches/peers`.
#[derive(serde::Serialize)]
struct Record<'a> {
    kernel: &'a str,
    shape: &'a str,
    device: &'a str,
    backend: &'a str,
    variant: &'a str,
    median_ms: f64,
    gflops: f64,
    gbps: f64,
    /// Percent of the FMA peak (compute-bound) or the copy peak (memory-bound).
    peak_pct: Option<f64>,
    bound: Bound,
    min_ms: f64,
    /// First iteration, pipeline compilation included.
    first_ms: f64,
    reps: usize,
    iters: u64,
    /// Images per second, for whole-model entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    images_per_sec: Option<f64>,
    /// Dispatches and submits of one iteration.
    dispatches: u64,
    submits: u64,
}

/// The measured peaks, filled in as the peak entries finish.
#[derive(Default)]
struct Peaks {
    gflops: Option<f64>,
    gbps: Option<f64>,
}

pub fn run(args: Args) -> Result<()> {
    // pick() reports a bad TAILGRAD_BACKEND or a missing adapter as the library's own error;
    // Device::get() would flatten it into a string. The process-wide device is what every op
    // (and any helper an entry calls) uses, so entries never mix two devices.
    tailgrad::runtime::adapter::pick()?;
    let dev = Device::get()?;
    let mut out = match &args.json {
        Some(path) => Some(std::fs::File::create(path).map_err(Error::io(path))?),
        None => None,
    };
    let entries = registry(&dev, args.quick);
    let (peaks, rest): (Vec<&Bench>, Vec<&Bench>) =
        entries.iter().partition(|b| b.kernel.starts_with("peak_"));
    let chosen: Vec<&Bench> = rest
        .into_iter()
        .filter(|b| b.matches(&args.kernels))
        .filter(|b| args.variant.is_empty() || args.variant.contains(&b.variant))
        .collect();
    if chosen.is_empty() && !peaks.iter().any(|b| b.matches(&args.kernels)) {
        let mut names: Vec<&str> = entries.iter().map(|b| b.kernel).collect();
        names.dedup();
        return Err(Error::Invalid {
            op: "bench",
            msg: format!(
                "no entry matches {:?}; known kernels: {}",
                args.kernels,
                names.join(", ")
            ),
        });
    }
    let opts = Opts::new(args.quick, args.reps);
    let report = dev.report();
    let todo: Vec<&Bench> = peaks.into_iter().chain(chosen).collect();
    let mut peak = Peaks::default();
    let start = Instant::now();
    print_header();
    for (i, b) in todo.iter().enumerate() {
        eprint!(
            "[{}/{}] {} {} {} ... ",
            i + 1,
            todo.len(),
            b.kernel,
            b.shape,
            b.variant
        );
        let t = Instant::now();
        let m = measure(b, &dev, &opts)?;
        eprintln!(
            "{:.1} s (first iteration {:.0} ms)",
            t.elapsed().as_secs_f64(),
            m.first_ms
        );
        let rec = record(b, &m, &mut peak, &report.name, &report.backend);
        print_row(&rec);
        if let Some(f) = out.as_mut() {
            let line = serde_json::to_string(&rec).expect("plain data serializes");
            writeln!(f, "{line}").map_err(Error::io(args.json.as_ref().unwrap()))?;
        }
    }
    eprintln!(
        "{} entries in {:.1} s",
        todo.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn record<'a>(
    b: &'a Bench,
    m: &Measurement,
    peak: &mut Peaks,
    device: &'a str,
    backend: &'a str,
) -> Record<'a> {
    let secs = m.median_ms / 1e3;
    let (gflops, gbps) = (b.flops / secs / 1e9, b.bytes / secs / 1e9);
    match b.kernel {
        "peak_fma" => peak.gflops = Some(gflops),
        "peak_copy" => peak.gbps = Some(gbps),
        _ => {}
    }
    let peak_pct = match b.bound {
        Bound::Compute => peak.gflops.map(|p| 100.0 * gflops / p),
        Bound::Memory => peak.gbps.map(|p| 100.0 * gbps / p),
    };
    Record {
        kernel: b.kernel,
        shape: &b.shape,
        device,
        backend,
        variant: &b.variant,
        median_ms: m.median_ms,
        gflops,
        gbps,
        peak_pct,
        bound: b.bound,
        min_ms: m.min_ms,
        first_ms: m.first_ms,
        reps: m.reps,
        iters: m.iters,
        images_per_sec: (b.items > 0.0).then(|| b.items / secs),
        dispatches: m.dispatches,
        submits: m.submits,
    }
}

fn print_header() {
    println!(
        "{:<16} {:<18} {:<34} {:<7} {:<10} {:>10} {:>9} {:>8} {:>7}",
        "kernel", "shape", "device", "backend", "variant", "median ms", "GFLOP/s", "GB/s", "% peak"
    );
}

fn print_row(r: &Record) {
    let pct = r.peak_pct.map_or("-".into(), |p| format!("{p:.1}"));
    let items = r.images_per_sec.map_or(String::new(), |v| {
        format!(
            "  {v:.1} img/s, {} dispatches, {} submits",
            r.dispatches, r.submits
        )
    });
    println!(
        "{:<16} {:<18} {:<34} {:<7} {:<10} {:>10.3} {:>9.2} {:>8.2} {:>7}{items}",
        r.kernel, r.shape, r.device, r.backend, r.variant, r.median_ms, r.gflops, r.gbps, pct
    );
}
