//! Criterion harness over the same entries as `tailgrad bench` (`tailgrad::bench::registry`).
//! `cargo bench --bench kernels [-- FILTER]`; `TAILGRAD_BENCH_QUICK=1` keeps the small shapes.
//! Throughput is bytes/s for memory-bound entries and "elements"/s = FLOP/s for compute-bound ones.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use std::time::Duration;
use tailgrad::bench::{registry, Bound};
use tailgrad::Device;

fn kernels(c: &mut Criterion) {
    let dev = match Device::get() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kernels: skipped: {e}");
            return;
        }
    };
    let quick = std::env::var_os("TAILGRAD_BENCH_QUICK").is_some();
    for b in registry(&dev, quick) {
        let mut g = c.benchmark_group(b.kernel);
        // A software adapter takes up to seconds per iteration: few flat samples (criterion's
        // default linear sampling would run 1+2+...+10 iterations).
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(match b.bound {
                Bound::Compute => Throughput::Elements(b.flops as u64),
                Bound::Memory => Throughput::Bytes(b.bytes as u64),
            });
        let id = BenchmarkId::new(b.variant.as_str(), &b.shape);
        // Set up inside the closure: criterion only calls it when the filter selects the entry.
        g.bench_function(id, |bencher| {
            let mut p = b.prepare(&dev).expect("benchmark setup");
            // The first iteration pays the pipeline JIT; keep it out of criterion's warm-up fit.
            p.time(1).expect("warm-up iteration");
            bencher.iter_custom(|iters| p.time(iters).expect("benchmark iteration"));
        });
        g.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
