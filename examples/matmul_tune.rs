//! Times every matmul variant on this device.
//!
//! `cargo run --release --example matmul_tune -- [reps] [variant,...] [MxNxK | N]...`
//! (default: 5 reps, every variant the device runs and auto, 256 512 1024 2048 16x144x65536).
//! A shape prefixed with `t` takes A stored transposed ([K, M], as a convolution's weight
//! gradient gᵀ·cols does). Each timed run records the whole op
//! (texture packing included), submits and waits; the median of `reps` runs after one warm-up
//! is reported, with the process CPU time per run (lavapipe runs on CPU threads, so on a busy
//! machine `cpu-norm` = flop / (cpu seconds / cores) estimates the unloaded rate).
use std::time::Instant;
use tailgrad::ops::matmul::{matmul_ex, variants, Variant};
use tailgrad::runtime::DeviceClass;
use tailgrad::{Device, Tensor};

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU seconds used by the whole process (all threads).
fn cpu_seconds() -> f64 {
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn parse(s: &str) -> (usize, usize, usize) {
    let d: Vec<usize> = s
        .split('x')
        .map(|x| x.parse().expect("MxNxK or N"))
        .collect();
    match d[..] {
        [n] => (n, n, n),
        [m, n, k] => (m, n, k),
        _ => panic!("shape {s}: use MxNxK or N"),
    }
}

fn main() -> tailgrad::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let reps: usize = match args.first().map(|s| s.parse()) {
        Some(Ok(r)) => {
            args.remove(0);
            r
        }
        _ => 5,
    };
    let dev = Device::get()?;
    let mut chosen = variants(&dev);
    chosen.push(Variant::Auto);
    let named = |s: &str| s.split(',').all(|n| chosen.iter().any(|v| v.name() == n));
    if args.first().is_some_and(|s| named(s)) {
        let names = args.remove(0);
        chosen.retain(|v| names.split(',').any(|n| n == v.name()));
    }
    let mut shapes: Vec<&str> = args.iter().map(String::as_str).collect();
    if shapes.is_empty() {
        shapes = vec!["256", "512", "1024", "2048", "16x144x65536"];
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "{} ({}), {reps} reps",
        dev.report().name,
        dev.report().backend
    );
    for s in shapes {
        let trans_a = s.starts_with('t');
        let (m, n, k) = parse(s.trim_start_matches('t'));
        let a_shape = if trans_a { [k, m] } else { [m, k] };
        let a = Tensor::from_slice(&dev, &vec![0.5; m * k], &a_shape)?;
        let b = Tensor::from_slice(&dev, &vec![0.25; k * n], &[k, n])?;
        let flop = 2.0 * (m * n * k) as f64;
        for &v in &chosen {
            let run = || -> tailgrad::Result<()> {
                drop(matmul_ex(&a, &b, trans_a, false, v)?);
                dev.sync()
            };
            let t0 = Instant::now();
            run()?;
            let first = t0.elapsed().as_secs_f64();
            let (mut wall, mut cpu) = (vec![], vec![]);
            for _ in 0..reps {
                let (t, c) = (Instant::now(), cpu_seconds());
                run()?;
                wall.push(t.elapsed().as_secs_f64());
                cpu.push(cpu_seconds() - c);
            }
            let (w, c) = (median(wall), median(cpu));
            let norm = if dev.class() == DeviceClass::Software {
                format!("  cpu-norm {:7.2}", flop / (c / cores) / 1e9)
            } else {
                String::new()
            };
            println!(
                "{s:>14} {:>8}: {:9.2} ms  {:8.2} GFLOP/s{norm}  (first {:.0} ms)",
                v.name(),
                w * 1e3,
                flop / w / 1e9,
                first * 1e3
            );
        }
    }
    Ok(())
}
