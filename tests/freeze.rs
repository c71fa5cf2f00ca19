//! Freezing: a backward through a frozen model into another computes the input gradients only.
//! A frozen parameter's `.grad()` is left as it was, no weight-gradient kernel runs for it, and
//! the step dispatches exactly what it would with the frozen weights as plain constants.
mod common;
use common::*;
use tailgrad::nn::{BatchNorm2d, Conv2d, Linear, Mode, Module};
use tailgrad::runtime::DeviceClass;
use tailgrad::{Device, Error, Generator, Result, Tensor};

fn total(c: &Counts) -> u64 {
    c.values().sum()
}

/// Dispatches of the conv2d weight-gradient kernels (texture and tiled variants).
fn wgrad(c: &Counts) -> u64 {
    c.iter()
        .filter(|((name, _), _)| name.starts_with("conv2d_wgrad"))
        .map(|(_, n)| n)
        .sum()
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
}

/// Each parameter's gradient as bits, `None` where it has none.
fn grads(params: &[Tensor]) -> Vec<Option<Vec<u32>>> {
    params.iter().map(|p| p.grad().map(|g| bits(&g))).collect()
}

/// The model that is frozen: conv → batch norm + ReLU → linear.
struct Critic {
    conv: Conv2d,
    bn: BatchNorm2d,
    fc: Linear,
}

impl Critic {
    fn new(d: &Device, gen: &mut Generator) -> Critic {
        Critic {
            conv: Conv2d::new(d, gen, 3, 4, 3, 1, 1, true).unwrap(),
            bn: BatchNorm2d::new(d, 4).unwrap(),
            fc: Linear::new(d, gen, 4 * 6 * 6, 5).unwrap(),
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.conv.forward(x, Mode::Train)?;
        let h = self.bn.forward_relu(&h, Mode::Train)?;
        self.fc
            .forward(&h.reshape(&[x.shape()[0], 4 * 6 * 6])?, Mode::Train)
    }

    fn params(&self) -> Vec<Tensor> {
        let (c, bn, fc) = (&self.conv, &self.bn, &self.fc);
        let (bias, fc_bias) = (c.bias.clone().unwrap(), fc.bias.clone().unwrap());
        [&c.weight, &bias, &bn.gamma, &bn.beta, &fc.weight, &fc_bias]
            .map(Tensor::clone)
            .to_vec()
    }

    fn set_requires_grad(&self, on: bool) {
        for p in self.params() {
            p.set_requires_grad(on).unwrap();
        }
    }

    /// The same model with its parameters as plain tensors (no autograd).
    fn constants(&self) -> Critic {
        let (c, bn, fc) = (&self.conv, &self.bn, &self.fc);
        Critic {
            conv: Conv2d {
                weight: c.weight.detach(),
                bias: c.bias.as_ref().map(Tensor::detach),
                stride: c.stride,
                pad: c.pad,
            },
            bn: BatchNorm2d {
                gamma: bn.gamma.detach(),
                beta: bn.beta.detach(),
                running_mean: bn.running_mean.detach(),
                running_var: bn.running_var.detach(),
                eps: bn.eps,
                momentum: bn.momentum,
            },
            fc: Linear {
                weight: fc.weight.detach(),
                bias: fc.bias.as_ref().map(Tensor::detach),
            },
        }
    }
}

/// A generator-like model (a trained linear layer whose output is reshaped into images) feeding
/// a critic, with a fixed input and labels.
struct Setup {
    x: Tensor,
    labels: Tensor,
    gen: Linear,
    critic: Critic,
}

impl Setup {
    fn new(d: &Device, seed: u64) -> Setup {
        let mut g = Generator::new(seed, 0);
        Setup {
            x: g.randn(d, &[2, 10]).unwrap(),
            labels: Tensor::from_u32(d, &[1, 3], &[2]).unwrap(),
            gen: Linear::new(d, &mut g, 10, 3 * 6 * 6).unwrap(),
            critic: Critic::new(d, &mut g),
        }
    }

    fn gen_params(&self) -> Vec<Tensor> {
        vec![self.gen.weight.clone(), self.gen.bias.clone().unwrap()]
    }

    fn loss(&self, critic: &Critic) -> Tensor {
        let h = self
            .gen
            .forward(&self.x, Mode::Train)
            .unwrap()
            .relu()
            .unwrap();
        let logits = critic.forward(&h.reshape(&[2, 3, 6, 6]).unwrap()).unwrap();
        logits.cross_entropy(&self.labels).unwrap()
    }

    /// Backward from a fresh loss through `critic` (the generator's gradients zeroed first): the
    /// dispatches it recorded and the generator's gradients.
    fn step(&self, d: &Device, critic: &Critic) -> (Counts, Vec<Option<Vec<u32>>>) {
        let loss = self.loss(critic);
        self.zero_gen();
        let counts = dispatched(d, || loss.backward().unwrap());
        (counts, grads(&self.gen_params()))
    }

    fn zero_gen(&self) {
        self.gen_params().iter().for_each(Tensor::zero_grad);
    }
}

#[test]
fn a_frozen_model_costs_what_constants_cost() {
    let _serial = serial();
    let d = dev();
    let s = Setup::new(&d, 11);
    s.critic.set_requires_grad(false);
    let (frozen, g_frozen) = s.step(&d, &s.critic);
    assert!(grads(&s.critic.params()).iter().all(Option::is_none));
    assert!(g_frozen.iter().all(Option::is_some), "the generator trains");
    assert_eq!(wgrad(&frozen), 0, "weight-gradient kernels ran: {frozen:?}");

    // The same step with the critic's weights as plain tensors: same gradients, same kernels.
    let (constants, g_constants) = s.step(&d, &s.critic.constants());
    assert_eq!(g_constants, g_frozen);
    assert_eq!(constants, frozen);

    // Trained, the critic costs more: its weight gradients (the conv's among them).
    s.critic.set_requires_grad(true);
    let (trained, g_trained) = s.step(&d, &s.critic);
    assert_eq!(g_trained, g_frozen);
    assert!(grads(&s.critic.params()).iter().all(Option::is_some));
    assert!(
        total(&trained) > total(&frozen),
        "trained {trained:?}, frozen {frozen:?}"
    );
    let implicit_gemm = d.class() == DeviceClass::Gpu || d.storage_textures();
    if implicit_gemm && std::env::var_os("TAILGRAD_CONV").is_none() {
        assert_eq!(wgrad(&trained), 1, "the critic's conv: {trained:?}");
    }
}

#[test]
fn freezing_between_forward_and_backward_counts() {
    let _serial = serial();
    let d = dev();
    let s = Setup::new(&d, 12);
    s.critic.set_requires_grad(false);
    let (frozen, g_frozen) = s.step(&d, &s.critic);
    s.critic.set_requires_grad(true);
    let loss = s.loss(&s.critic);
    s.critic.set_requires_grad(false);
    s.zero_gen();
    let late = dispatched(&d, || loss.backward().unwrap());
    assert_eq!(late, frozen);
    assert_eq!(grads(&s.gen_params()), g_frozen);
    assert!(grads(&s.critic.params()).iter().all(Option::is_none));

    // A tensor computed from frozen parameters alone needs no gradient either.
    let x = upload(&d, &[1.0, -1.0], &[2]).into_param();
    let w = upload(&d, &[0.5, 2.0], &[2]).into_param();
    let loss = || x.mul(&w.exp().unwrap()).unwrap().sum_all().unwrap();
    let late = loss();
    w.set_requires_grad(false).unwrap();
    let early = loss();
    let late = dispatched(&d, || late.backward().unwrap());
    x.zero_grad();
    assert_eq!(late, dispatched(&d, || early.backward().unwrap()));
    assert!(w.grad().is_none());
}

#[test]
fn frozen_gradients_stay_as_they_were_and_unfreezing_resumes() {
    let _serial = serial();
    let d = dev();
    let s = Setup::new(&d, 13);
    let critic = s.critic.params();
    s.loss(&s.critic).backward().unwrap();
    let before = grads(&critic);
    assert!(before.iter().all(Option::is_some));

    s.critic.set_requires_grad(false);
    s.loss(&s.critic).backward().unwrap();
    assert_eq!(
        grads(&critic),
        before,
        "a frozen parameter's gradient changed"
    );

    // Unfrozen, the same step adds the same gradient again: exactly twice the first.
    s.critic.set_requires_grad(true);
    s.loss(&s.critic).backward().unwrap();
    for (p, b) in critic.iter().zip(&before) {
        let twice: Vec<u32> = b
            .as_ref()
            .unwrap()
            .iter()
            .map(|&v| (2.0 * f32::from_bits(v)).to_bits())
            .collect();
        assert_eq!(bits(&p.grad().unwrap()), twice);
    }
}

#[test]
fn set_requires_grad_needs_a_parameter() {
    let _serial = serial();
    let d = dev();
    let p = upload(&d, &[1.0, 2.0], &[2]).into_param();
    let not_params = [
        upload(&d, &[1.0, 2.0], &[2]),
        p.scale(2.0).unwrap(),
        p.detach(),
    ];
    for t in not_params {
        let e = t.set_requires_grad(false).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Invalid {
                    op: "set_requires_grad",
                    ..
                }
            ),
            "{e}"
        );
    }
    p.set_requires_grad(false).unwrap();
    assert!(!p.requires_grad());
    assert!(!p.scale(2.0).unwrap().requires_grad(), "frozen: no graph");
    p.set_requires_grad(true).unwrap();
    assert!(p.scale(2.0).unwrap().requires_grad());
}

type BinaryOp = fn(&Tensor, &Tensor) -> Result<Tensor>;

const BINARY: [(&str, BinaryOp); 7] = [
    ("add", Tensor::add),
    ("sub", Tensor::sub),
    ("mul", Tensor::mul),
    ("div", Tensor::div),
    ("maximum", Tensor::maximum),
    ("minimum", Tensor::minimum),
    ("pow", Tensor::pow),
];

/// Backward of Σ c ⊙ op(a, b) with a frozen where `frozen[0]`, b where `frozen[1]`: the
/// dispatches it recorded and both gradients.
fn binary_step(
    d: &Device,
    op: BinaryOp,
    operands: &[(Vec<f64>, Vec<usize>); 2],
    frozen: [bool; 2],
) -> (Counts, Vec<Option<Vec<u32>>>) {
    let params: Vec<Tensor> = operands
        .iter()
        .zip(frozen)
        .map(|((v, shape), f)| {
            let p = upload(d, v, shape).into_param();
            p.set_requires_grad(!f).unwrap();
            p
        })
        .collect();
    let y = op(&params[0], &params[1]).unwrap();
    let c = upload(d, &Rng::new(3).vec(y.numel(), -1.0, 1.0), y.shape());
    let loss = y.mul(&c).unwrap().sum_all().unwrap();
    let counts = dispatched(d, || loss.backward().unwrap());
    (counts, grads(&params))
}

/// With one operand frozen, a binary op's backward runs only the other's gradient kernels: the
/// frozen one is broadcast, so its gradient would cost at least the reduction back to its shape.
#[test]
fn binary_ops_compute_only_the_needed_gradient() {
    let _serial = serial();
    let d = dev();
    let mut rng = Rng::new(21);
    for (name, op) in BINARY {
        for trained in [0, 1] {
            // Positive values away from 0 (div, pow) and from each other's (ties in max/min).
            let mut operands = [
                (rng.vec(5, 0.5, 2.0), vec![5]),
                (rng.vec(5, 0.5, 2.0), vec![5]),
            ];
            operands[trained] = (rng.vec(20, 0.5, 2.0), vec![4, 5]);
            let (both, g_both) = binary_step(&d, op, &operands, [false, false]);
            let frozen = [trained != 0, trained != 1];
            let (one, g_one) = binary_step(&d, op, &operands, frozen);
            assert!(
                total(&one) < total(&both),
                "{name}, operand {trained} trained: {one:?} vs both {both:?}"
            );
            assert_eq!(g_one[trained], g_both[trained], "{name}");
            assert!(g_one[1 - trained].is_none(), "{name}");
        }
    }
}
