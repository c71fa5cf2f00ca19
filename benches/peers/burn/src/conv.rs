//! conv2d (3×3, pad 1, no bias) forward at the ResNet stem, and forward, grad-input and
//! grad-weight at the five ResNet-32 layer shapes, batch 128.
//!
//! Each pass is one call of the backend op burn's autodiff itself calls for a conv
//! (`conv2d`, `conv2d_x_backward`, `conv2d_weight_backward` of the `Dispatch` backend, autotuned
//! cubek kernels), given a random output gradient: a timing is that pass alone, no forward and
//! no autodiff bookkeeping. Before timing, every result is checked at sampled points against an
//! f64 CPU reference (burn has returned wrong reductions on lavapipe, see the lavapipe notes).

use crate::{emit, median_ms};
use burn::backend::ops::ModuleOps;
use burn::backend::Dispatch;
use burn::prelude::*;
use burn::tensor::module::{conv2d, conv2d_weight_backward};
use burn::tensor::ops::ConvOptions;
use burn::tensor::Distribution;

const K: usize = 3;
/// Points of each result compared with the CPU reference.
const CHECKS: usize = 64;

#[derive(Clone, Copy)]
enum Pass {
    Forward,
    GradInput,
    GradWeight,
}

impl Pass {
    fn kernel(self) -> &'static str {
        match self {
            Pass::Forward => "conv2d",
            Pass::GradInput => "conv2d_grad_input",
            Pass::GradWeight => "conv2d_grad_weight",
        }
    }
}

/// x [b, c, hw, hw] * w [o, c, 3, 3], pad 1, stride `s`.
#[derive(Clone, Copy)]
struct Conv {
    b: usize,
    c: usize,
    hw: usize,
    o: usize,
    s: usize,
}

impl Conv {
    fn out(self) -> usize {
        (self.hw + 2 - K) / self.s + 1
    }

    fn label(self) -> String {
        let Conv { b, c, hw, o, s } = self;
        let suffix = if s == 1 {
            String::new()
        } else {
            format!("s{s}")
        };
        format!("{b}x{c}x{hw}x{hw}-{o}x{K}x{K}{suffix}")
    }

    fn options(self) -> ConvOptions<2> {
        ConvOptions::new([self.s; 2], [1; 2], [1; 2], 1)
    }

    /// 2·B·O·OH·OW·C·KH·KW: the same for all three passes.
    fn flops(self) -> f64 {
        let oo = self.out() * self.out();
        2.0 * (self.b * self.o * oo * self.c * K * K) as f64
    }

    /// x, w and y (or their gradients) moved once: each pass reads two and writes one.
    fn bytes(self) -> f64 {
        let oo = self.out() * self.out();
        4.0 * (self.b * self.c * self.hw * self.hw + self.o * self.c * K * K + self.b * self.o * oo)
            as f64
    }
}

/// Host copies of x, w, dy and the f64 reference for one point of each pass's result.
struct Host {
    conv: Conv,
    x: Vec<f32>,
    w: Vec<f32>,
    dy: Vec<f32>,
}

impl Host {
    fn x(&self, n: usize, c: usize, h: isize, w: isize) -> f64 {
        let hw = self.conv.hw as isize;
        if h < 0 || w < 0 || h >= hw || w >= hw {
            return 0.0;
        }
        let Conv { c: cs, hw, .. } = self.conv;
        self.x[((n * cs + c) * hw + h as usize) * hw + w as usize] as f64
    }

    fn w(&self, o: usize, c: usize, kh: usize, kw: usize) -> f64 {
        self.w[((o * self.conv.c + c) * K + kh) * K + kw] as f64
    }

    fn dy(&self, n: usize, o: usize, i: usize, j: usize) -> f64 {
        let oh = self.conv.out();
        self.dy[((n * self.conv.o + o) * oh + i) * oh + j] as f64
    }

    /// Input row/column that output position `i` reads at kernel offset `k` (pad 1).
    fn at(&self, i: usize, k: usize) -> isize {
        (i * self.conv.s + k) as isize - 1
    }

    /// (value, sum of |terms|) of the result of `pass` at index `p`.
    fn reference(&self, pass: Pass, p: [usize; 4]) -> (f64, f64) {
        let Conv { b, c, o, s, .. } = self.conv;
        let oh = self.conv.out();
        let (mut v, mut mag) = (0.0, 0.0);
        let mut add = |t: f64| {
            v += t;
            mag += t.abs();
        };
        match pass {
            Pass::Forward => {
                let [n, oc, i, j] = p;
                for ci in 0..c {
                    for kh in 0..K {
                        for kw in 0..K {
                            add(self.x(n, ci, self.at(i, kh), self.at(j, kw))
                                * self.w(oc, ci, kh, kw));
                        }
                    }
                }
            }
            Pass::GradInput => {
                let [n, ci, h, w] = p;
                for oc in 0..o {
                    for kh in 0..K {
                        for kw in 0..K {
                            let (ih, iw) =
                                (h as isize + 1 - kh as isize, w as isize + 1 - kw as isize);
                            let (si, ss) = (s as isize, oh as isize);
                            if ih < 0 || iw < 0 || ih % si != 0 || iw % si != 0 {
                                continue;
                            }
                            let (i, j) = (ih / si, iw / si);
                            if i < ss && j < ss {
                                add(self.dy(n, oc, i as usize, j as usize) * self.w(oc, ci, kh, kw));
                            }
                        }
                    }
                }
            }
            Pass::GradWeight => {
                let [oc, ci, kh, kw] = p;
                for n in 0..b {
                    for i in 0..oh {
                        for j in 0..oh {
                            add(self.dy(n, oc, i, j)
                                * self.x(n, ci, self.at(i, kh), self.at(j, kw)));
                        }
                    }
                }
            }
        }
        (v, mag)
    }
}

/// Runs one pass; `x`, `w`, `dy` are consumed (callers pass clones, which share the buffers).
fn run(pass: Pass, conv: Conv, x: Tensor<4>, w: Tensor<4>, dy: Tensor<4>) -> Tensor<4> {
    let opt = conv.options();
    match pass {
        Pass::Forward => conv2d(x, w, None, opt),
        Pass::GradInput => Tensor::from_dispatch(Dispatch::conv2d_x_backward(
            x.into_dispatch(),
            w.into_dispatch(),
            dy.into_dispatch(),
            opt,
        )),
        Pass::GradWeight => conv2d_weight_backward(x, w, dy, opt),
    }
}

/// Compares `CHECKS` pseudo-random points of `got` with the f64 reference: |err| ≤ 1e-4·Σ|terms|
/// + 1e-6 (f32 accumulation of up to 131k terms). Panics with the first mismatch.
fn check(pass: Pass, host: &Host, got: Tensor<4>) {
    let dims = got.dims();
    let data = got.into_data().try_to_vec::<f32>().expect("f32 result");
    let mut seed = 0x9e3779b97f4a7c15u64;
    for _ in 0..CHECKS {
        let mut p = [0; 4];
        for (d, &n) in p.iter_mut().zip(&dims) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *d = (seed >> 33) as usize % n;
        }
        let flat = ((p[0] * dims[1] + p[1]) * dims[2] + p[2]) * dims[3] + p[3];
        let (want, mag) = host.reference(pass, p);
        let err = (data[flat] as f64 - want).abs();
        assert!(
            err <= 1e-4 * mag + 1e-6,
            "{} {}: at {p:?} got {} want {want} (err {err:.3e}, Σ|terms| {mag:.3e})",
            pass.kernel(),
            host.conv.label(),
            data[flat]
        );
    }
}

fn bench(device: &Device, conv: Conv, passes: &[Pass], reps: usize, adapter: &(String, String)) {
    let Conv { b, c, hw, o, .. } = conv;
    let oh = conv.out();
    let u = Distribution::Uniform(-1.0, 1.0);
    let x = Tensor::<4>::random([b, c, hw, hw], u, device);
    let w = Tensor::<4>::random([o, c, K, K], u, device);
    let dy = Tensor::<4>::random([b, o, oh, oh], u, device);
    let host = Host {
        conv,
        x: x.to_data().try_to_vec().expect("x"),
        w: w.to_data().try_to_vec().expect("w"),
        dy: dy.to_data().try_to_vec().expect("dy"),
    };
    for &pass in passes {
        let label = conv.label();
        eprintln!(
            "{} {label}: warm-up (JIT + autotune) and check ...",
            pass.kernel()
        );
        check(
            pass,
            &host,
            run(pass, conv, x.clone(), w.clone(), dy.clone()),
        );
        let ms = median_ms(reps, || {
            // Held across the sync so a lazy backend cannot skip an unused result.
            let r = run(pass, conv, x.clone(), w.clone(), dy.clone());
            device.sync().expect("conv");
            drop(r);
        });
        emit(
            pass.kernel(),
            &label,
            adapter,
            ms,
            conv.flops(),
            conv.bytes(),
        );
    }
}

/// The stem forward (batch 64) and the five ResNet-32 layer shapes (batch 128), all passes.
pub fn entries(device: &Device, reps: usize, adapter: &(String, String)) {
    let stem = Conv {
        b: 64,
        c: 3,
        hw: 32,
        o: 16,
        s: 1,
    };
    bench(device, stem, &[Pass::Forward], reps, adapter);
    let all = [Pass::Forward, Pass::GradInput, Pass::GradWeight];
    for (c, hw, o, s) in [
        (16, 32, 16, 1),
        (16, 32, 32, 2),
        (32, 16, 32, 1),
        (32, 16, 64, 2),
        (64, 8, 64, 1),
    ] {
        bench(
            device,
            Conv {
                b: 128,
                c,
                hw,
                o,
                s,
            },
            &all,
            reps,
            adapter,
        );
    }
}
