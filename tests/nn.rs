//! Layers and models: parameter counts against PyTorch's, shapes, state dicts, train/eval modes,
//! and the cosine head's forward and backward against f64 references.

mod common;
use common::*;
use tailgrad::nn::{
    self, Arch, BatchNorm2d, Classifier, HeadKind, Linear, Mode, Module, NormedLinear, Stateful,
};
use tailgrad::{Generator, Tensor};

fn count(m: &dyn Stateful) -> usize {
    nn::parameters(m).iter().map(Tensor::numel).sum()
}

#[test]
fn resnet_parameter_counts_match_pytorch() {
    // The CIFAR ResNets of He et al. with option-A shortcuts and a Linear(64, 10) head, as
    // counted by PyTorch (akamaster/pytorch_resnet_cifar10): ResNet-20 269,722; ResNet-32 464,154.
    let d = dev();
    for (depth, want) in [(20, 269_722), (32, 464_154)] {
        let m = Classifier::new(&d, 0, Arch::ResNet(depth), HeadKind::Linear, 3, 10).unwrap();
        assert_eq!(count(&m), want, "resnet{depth}");
    }
    // Names follow PyTorch's state dict, buffers included.
    let m = Classifier::new(&d, 0, Arch::ResNet(8), HeadKind::Normed, 1, 7).unwrap();
    let names: Vec<String> = nn::state_of(&m).into_iter().map(|s| s.name).collect();
    for n in [
        "conv1.weight",
        "bn1.running_var",
        "layer2.0.conv1.weight",
        "layer3.0.bn2.bias",
        "fc.weight",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    assert_eq!(
        nn::state_of(&m)
            .iter()
            .find(|s| s.name == "fc.weight")
            .unwrap()
            .tensor
            .shape(),
        [64, 7]
    );
}

#[test]
fn bad_depth_and_names_are_config_errors() {
    assert!("resnet21".parse::<Arch>().is_err());
    assert!("resnet".parse::<Arch>().is_err());
    assert_eq!("resnet56".parse::<Arch>().unwrap(), Arch::ResNet(56));
    assert!("bilinear".parse::<HeadKind>().is_err());
}

#[test]
fn forward_shapes_gradients_and_modes() {
    let d = dev();
    for arch in [Arch::ResNet(8), Arch::SmallCnn] {
        let m = Classifier::new(&d, 1, arch, HeadKind::Linear, 1, 10).unwrap();
        let x = Generator::new(5, 0).randn(&d, &[3, 1, 28, 28]).unwrap();
        let y = m.forward(&x, Mode::Train).unwrap();
        assert_eq!(y.shape(), [3, 10], "{arch}");
        let labels = Tensor::from_u32(&d, &[0, 4, 9], &[3]).unwrap();
        y.cross_entropy(&labels).unwrap().backward().unwrap();
        for s in nn::state_of(&m) {
            assert_eq!(s.tensor.grad().is_some(), s.trainable, "{arch} {}", s.name);
        }
        // Eval mode reads running statistics: deterministic and batch-independent.
        let a = m.forward(&x, Mode::Eval).unwrap().to_vec().unwrap();
        let one = m
            .forward(&x.slice(0, 0, 1).unwrap(), Mode::Eval)
            .unwrap()
            .to_vec()
            .unwrap();
        assert_close(
            &format!("{arch} eval batch independence"),
            &one,
            &a[..10].iter().map(|&v| v as f64).collect::<Vec<_>>(),
            Tol {
                rel: 1e-4,
                abs: 1e-5,
            },
        );
    }
}

#[test]
fn load_state_round_trips_in_place() {
    let d = dev();
    let a = Classifier::new(&d, 1, Arch::ResNet(8), HeadKind::Linear, 3, 10).unwrap();
    let b = Classifier::new(&d, 2, Arch::ResNet(8), HeadKind::Linear, 3, 10).unwrap();
    let x = Generator::new(9, 0).randn(&d, &[2, 3, 32, 32]).unwrap();
    // One training forward moves a's running statistics away from their init.
    a.forward(&x, Mode::Train).unwrap();
    let held = nn::parameters(&b); // handles an optimizer would hold
    let src = nn::state_of(&a);
    nn::load_state(&b, &|name| {
        src.iter()
            .find(|s| s.name == name)
            .map(|s| s.tensor.clone())
    })
    .unwrap();
    let ya = a.forward(&x, Mode::Eval).unwrap().to_vec().unwrap();
    let yb = b.forward(&x, Mode::Eval).unwrap().to_vec().unwrap();
    assert_eq!(ya, yb);
    assert_eq!(
        held[0].to_vec().unwrap(),
        nn::parameters(&a)[0].to_vec().unwrap()
    );
    let err = nn::load_state(&b, &|_| None).unwrap_err().to_string();
    assert!(err.contains("conv1.weight"), "{err}");
}

#[test]
fn batch_norm_running_stats_are_checkpointed_buffers() {
    let d = dev();
    let a = BatchNorm2d::new(&d, 3).unwrap();
    // x ~ N(2, 3²): one training step moves the running mean off 0 and the variance off 1.
    let x = Generator::new(4, 0)
        .normal(&d, &[4, 3, 5, 5], 2.0, 3.0)
        .unwrap();
    a.forward(&x, Mode::Train).unwrap();
    let listed: Vec<(String, bool)> = nn::state_of(&a)
        .into_iter()
        .map(|s| (s.name, s.trainable))
        .collect();
    let want = [
        ("weight", true),
        ("bias", true),
        ("running_mean", false),
        ("running_var", false),
    ];
    assert_eq!(listed, want.map(|(n, t)| (n.to_string(), t)));
    assert_eq!(nn::parameters(&a).len(), 2, "buffers are not parameters");

    let b = BatchNorm2d::new(&d, 3).unwrap();
    let src = nn::state_of(&a);
    nn::load_state(&b, &|name| {
        src.iter()
            .find(|s| s.name == name)
            .map(|s| s.tensor.clone())
    })
    .unwrap();
    let moved = a.running_mean.to_vec().unwrap();
    assert!(moved.iter().all(|&m| m > 0.05), "running mean {moved:?}");
    assert_eq!(b.running_mean.to_vec().unwrap(), moved);
    assert_eq!(
        b.running_var.to_vec().unwrap(),
        a.running_var.to_vec().unwrap()
    );
    // Eval mode reads the loaded statistics, so the two layers now agree exactly.
    assert_eq!(
        b.forward(&x, Mode::Eval).unwrap().to_vec().unwrap(),
        a.forward(&x, Mode::Eval).unwrap().to_vec().unwrap()
    );
}

/// Which of `m`'s state entries got a gradient from one forward/backward of `model`.
fn with_grad(model: &Classifier, m: &dyn Stateful, x: &Tensor, labels: &Tensor) -> Vec<bool> {
    for p in nn::parameters(model) {
        p.zero_grad();
    }
    let y = model.forward(x, Mode::Train).unwrap();
    y.cross_entropy(labels).unwrap().backward().unwrap();
    nn::state_of(m)
        .iter()
        .map(|s| s.tensor.grad().is_some())
        .collect()
}

#[test]
fn freeze_keeps_parameters_listed_but_stops_their_gradients() {
    let d = dev();
    let m = Classifier::new(&d, 3, Arch::SmallCnn, HeadKind::Linear, 1, 4).unwrap();
    let x = Generator::new(6, 0).randn(&d, &[2, 1, 12, 12]).unwrap();
    let labels = Tensor::from_u32(&d, &[1, 3], &[2]).unwrap();
    let before = count(&m);
    let backbone = m.backbone.as_ref();

    nn::freeze(backbone).unwrap();
    assert_eq!(count(&m), before, "frozen parameters stay listed");
    assert!(nn::parameters(backbone).iter().all(|p| !p.requires_grad()));
    assert!(nn::parameters(&m.head).iter().all(Tensor::requires_grad));
    let buffers = nn::state_of(backbone).into_iter().filter(|s| !s.trainable);
    assert!(buffers.map(|s| s.tensor).all(|b| !b.is_param()));
    assert!(with_grad(&m, backbone, &x, &labels).iter().all(|&g| !g));
    assert!(with_grad(&m, &m.head, &x, &labels).iter().all(|&g| g));

    nn::unfreeze(backbone).unwrap();
    assert!(nn::parameters(&m).iter().all(Tensor::requires_grad));
    let got = with_grad(&m, backbone, &x, &labels);
    let trainable: Vec<bool> = nn::state_of(backbone).iter().map(|s| s.trainable).collect();
    assert_eq!(
        got, trainable,
        "after unfreeze every parameter gets a gradient again"
    );
}

#[test]
fn freeze_refuses_a_trainable_entry_that_is_not_a_parameter() {
    let d = dev();
    let l = Linear {
        weight: Tensor::zeros(&d, &[2, 3]).unwrap().into_param(),
        bias: Some(Tensor::zeros(&d, &[2]).unwrap()),
    };
    let err = nn::freeze(&l).unwrap_err().to_string();
    assert!(err.contains("freeze") && err.contains("bias"), "{err}");
    assert!(l.weight.requires_grad(), "a refused freeze changes nothing");
}

/// f64 cosine logits: rows of x [b, d] and columns of w [d, c] normalised.
fn cosine_ref(x: &[f64], w: &[f64], b: usize, dd: usize, c: usize) -> Vec<f64> {
    let xn: Vec<f64> = (0..b)
        .map(|i| (0..dd).map(|k| x[i * dd + k].powi(2)).sum::<f64>().sqrt())
        .collect();
    let wn: Vec<f64> = (0..c)
        .map(|j| (0..dd).map(|k| w[k * c + j].powi(2)).sum::<f64>().sqrt())
        .collect();
    let mut out = vec![0.0; b * c];
    for i in 0..b {
        for j in 0..c {
            let dot: f64 = (0..dd).map(|k| x[i * dd + k] * w[k * c + j]).sum();
            out[i * c + j] = dot / (xn[i] * wn[j]);
        }
    }
    out
}

#[test]
fn normed_linear_forward_and_gradients() {
    let d = dev();
    let (b, dd, c) = (5, 7, 3);
    let mut rng = Rng::new(3);
    let x = as_f32(&rng.vec(b * dd, -1.0, 1.0));
    let w = as_f32(&rng.vec(dd * c, -1.0, 1.0));
    let layer = NormedLinear {
        weight: upload(&d, &w, &[dd, c]).into_param(),
    };
    let got = layer
        .forward(&upload(&d, &x, &[b, dd]), Mode::Train)
        .unwrap();
    assert_close(
        "normed_linear",
        &got.to_vec().unwrap(),
        &cosine_ref(&x, &w, b, dd, c),
        Tol {
            rel: 1e-5,
            abs: 1e-6,
        },
    );
    gradcheck(
        "normed_linear",
        &[(x, vec![b, dd]), (w, vec![dd, c])],
        &|p| {
            NormedLinear {
                weight: p[1].clone(),
            }
            .forward(&p[0], Mode::Train)
        },
        &|v| cosine_ref(&v[0], &v[1], b, dd, c),
        Tol {
            rel: 2e-3,
            abs: 2e-4,
        },
    );
    // Init: unit columns.
    let l = NormedLinear::new(&d, &mut Generator::new(1, 0), 64, 10).unwrap();
    let w = l.weight.to_vec().unwrap();
    for j in 0..10 {
        let n: f64 = (0..64)
            .map(|k| (w[k * 10 + j] as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((n - 1.0).abs() < 1e-5, "column {j} norm {n}");
    }
}
