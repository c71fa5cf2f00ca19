//! A small MLP training loop: the loss falls on a learnable synthetic task, and after the second
//! step the loop allocates no GPU buffers, compiles no pipelines and submits once per step.
mod common;
use common::*;
use tailgrad::optim::{Adam, AdamConfig, Optimizer};
use tailgrad::{read_all, Device, Result, Tensor};

struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

impl Mlp {
    fn new(d: &Device, sizes: [usize; 3], rng: &mut Rng) -> Mlp {
        let init = |fan_in: usize, shape: &[usize], rng: &mut Rng| {
            let bound = (1.0 / fan_in as f64).sqrt();
            upload(d, &rng.vec(shape.iter().product(), -bound, bound), shape).into_param()
        };
        Mlp {
            w1: init(sizes[0], &[sizes[0], sizes[1]], rng),
            b1: init(sizes[0], &[sizes[1]], rng),
            w2: init(sizes[1], &[sizes[1], sizes[2]], rng),
            b2: init(sizes[1], &[sizes[2]], rng),
        }
    }

    fn params(&self) -> Vec<Tensor> {
        vec![
            self.w1.clone(),
            self.b1.clone(),
            self.w2.clone(),
            self.b2.clone(),
        ]
    }

    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let h = x.matmul(&self.w1)?.add(&self.b1)?.relu()?;
        h.matmul(&self.w2)?.add(&self.b2)?.cross_entropy(y)
    }
}

/// Inputs in [-1, 1) and labels from a fixed random linear teacher: learnable by the MLP.
fn task(d: &Device, rng: &mut Rng, batch: usize, dim: usize, classes: usize) -> (Tensor, Tensor) {
    let x = rng.vec(batch * dim, -1.0, 1.0);
    let teacher = rng.vec(dim * classes, -1.0, 1.0);
    let labels: Vec<u32> = (0..batch)
        .map(|b| {
            let score = |c: usize| {
                (0..dim)
                    .map(|i| x[b * dim + i] * teacher[i * classes + c])
                    .sum::<f64>()
            };
            (0..classes)
                .max_by(|&p, &q| score(p).total_cmp(&score(q)))
                .unwrap() as u32
        })
        .collect();
    (
        upload(d, &x, &[batch, dim]),
        Tensor::from_u32(d, &labels, &[batch]).unwrap(),
    )
}

#[test]
fn mlp_learns_and_reaches_a_steady_state() {
    let d = dev();
    let mut rng = Rng::new(42);
    let (x, y) = task(&d, &mut rng, 128, 32, 4);
    let net = Mlp::new(&d, [32, 64, 4], &mut rng);
    let mut opt = Adam::new(
        net.params(),
        AdamConfig {
            lr: 1e-2,
            ..AdamConfig::default()
        },
    )
    .unwrap();
    let mut losses = Vec::new();
    let mut marks = Vec::new();
    for step in 0..41 {
        let loss = net.loss(&x, &y).unwrap();
        opt.zero_grad();
        loss.backward().unwrap();
        opt.step().unwrap();
        // Read the loss back every 10 steps only (from step 0, so the readback path is warm before
        // the steady state is checked), batched: never inside a step.
        if step % 10 == 0 {
            losses.push(read_all(&[&loss]).unwrap()[0][0]);
        } else {
            d.flush();
        }
        marks.push((d.buffers_created(), d.pipelines_compiled(), d.counters().1));
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(
        last.is_finite() && last < 0.3 * first,
        "loss did not fall: {losses:?}"
    );
    assert_steady(&marks);
}
