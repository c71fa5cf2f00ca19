//! Run state: named modules, optimizers, extra tensors of any dtype and counters survive a save
//! and load bit for bit; a missing, extra or mistyped entry is `Error::Checkpoint` naming it.

mod common;
use common::{dev, scratch};
use tailgrad::nn::{self, BatchNorm2d, Linear, Module};
use tailgrad::optim::{Adam, AdamConfig, Optimizer};
use tailgrad::report::Checkpoint;
use tailgrad::train::{StateReader, StateWriter};
use tailgrad::{DType, EntryProblem, Error, Generator, Tensor};

fn bits(t: &Tensor) -> Vec<u32> {
    match t.dtype() {
        DType::F32 => t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect(),
        DType::U32 => t.to_vec_u32().unwrap(),
    }
}

/// A linear layer, a BN layer (its running stats are buffers) and an Adam that took two steps.
struct Run {
    lin: Linear,
    bn: BatchNorm2d,
    opt: Adam,
}

fn run(seed: u64, steps: usize) -> Run {
    let d = dev();
    let mut gen = Generator::new(seed, 0);
    let lin = Linear::new(&d, &mut gen, 5, 3).unwrap();
    let bn = BatchNorm2d::new(&d, 3).unwrap();
    let mut opt = Adam::new(nn::parameters(&lin), AdamConfig::default()).unwrap();
    for _ in 0..steps {
        let x = gen.normal(&d, &[4, 5], 0.0, 1.0).unwrap();
        let y = lin.forward(&x, nn::Mode::Train).unwrap();
        let y = y.reshape(&[4, 3, 1, 1]).unwrap();
        let y = bn.forward(&y, nn::Mode::Train).unwrap();
        y.mul(&y).unwrap().mean_all().unwrap().backward().unwrap();
        opt.step().unwrap();
        opt.zero_grad();
    }
    Run { lin, bn, opt }
}

fn save(r: &Run, path: &std::path::Path, extra: &Tensor) {
    let mut w = StateWriter::new();
    w.module("lin", &r.lin)
        .module("bn", &r.bn)
        .optimizer("adam", &r.opt)
        .unwrap()
        .tensor("indices", extra)
        .counter("step", u64::MAX - 3)
        .meta("note", "résumé ✓");
    w.save(path).unwrap();
}

#[test]
fn everything_round_trips_with_its_dtype() {
    let dir = scratch("state-roundtrip");
    let path = dir.join("s.safetensors");
    let a = run(1, 2);
    let idx = Tensor::from_u32(&dev(), &[0, 7, u32::MAX], &[3]).unwrap();
    save(&a, &path, &idx);
    // The optimizer's step counts are stored as u32, not converted.
    let ck = Checkpoint::load(&path).unwrap();
    assert_eq!(ck.u32("optim.adam.step").unwrap().1, &[2, 2]);
    assert!(
        ck.f32("module.bn.running_var").is_ok(),
        "BN buffers are saved"
    );

    let mut b = run(2, 0);
    let r = StateReader::load(&path).unwrap();
    r.module("lin", &b.lin).unwrap();
    r.module("bn", &b.bn).unwrap();
    r.optimizer("adam", &mut b.opt).unwrap();
    let got = r.tensor("indices", DType::U32, &[3]).unwrap();
    assert_eq!(r.counter("step").unwrap(), u64::MAX - 3);
    assert_eq!(r.meta("note").unwrap(), "résumé ✓");
    r.finish().unwrap();
    assert_eq!(bits(&got), bits(&idx));
    for (x, y) in nn::state_of(&a.lin).iter().zip(nn::state_of(&b.lin)) {
        assert_eq!(bits(&x.tensor), bits(&y.tensor), "{}", x.name);
    }
    for (x, y) in nn::state_of(&a.bn).iter().zip(nn::state_of(&b.bn)) {
        assert_eq!(bits(&x.tensor), bits(&y.tensor), "{}", x.name);
    }
    let (sa, sb) = (a.opt.state().unwrap(), b.opt.state().unwrap());
    for ((n, x), (_, y)) in sa.iter().zip(&sb) {
        assert_eq!(bits(x), bits(y), "optimizer state {n}");
    }
}

fn entry_problem(e: Error) -> (String, EntryProblem) {
    match e {
        Error::Checkpoint { entry, problem, .. } => (entry, problem),
        e => panic!("not a checkpoint entry error: {e}"),
    }
}

#[test]
fn missing_extra_and_mistyped_entries_are_named() {
    let dir = scratch("state-errors");
    let path = dir.join("s.safetensors");
    let a = run(1, 1);
    let idx = Tensor::from_u32(&dev(), &[1, 2, 3], &[3]).unwrap();
    save(&a, &path, &idx);

    // Missing: a module the file does not hold.
    let r = StateReader::load(&path).unwrap();
    let (entry, p) = entry_problem(r.module("head", &a.lin).unwrap_err());
    assert_eq!(
        (entry.as_str(), p),
        ("module.head.weight", EntryProblem::Missing)
    );
    let (entry, p) = entry_problem(r.counter("epoch").unwrap_err());
    assert_eq!(
        (entry.as_str(), p),
        ("counter.epoch", EntryProblem::Missing)
    );

    // Mistyped: the u32 tensor asked for as f32, then with another shape; a counter that is not.
    let (entry, p) = entry_problem(r.tensor("indices", DType::F32, &[3]).unwrap_err());
    assert_eq!(entry, "tensor.indices");
    let want = EntryProblem::Mistyped {
        want: "F32 [3]".into(),
        got: "U32 [3]".into(),
    };
    assert_eq!(p, want);
    let (_, p) = entry_problem(r.tensor("indices", DType::U32, &[4]).unwrap_err());
    assert!(matches!(p, EntryProblem::Mistyped { .. }), "{p:?}");
    // A layer of another width under the same name.
    let mut gen = Generator::new(3, 0);
    let wide = Linear::new(&dev(), &mut gen, 6, 3).unwrap();
    let (entry, p) = entry_problem(r.module("lin", &wide).unwrap_err());
    assert_eq!(entry, "module.lin.weight");
    assert!(matches!(p, EntryProblem::Mistyped { .. }), "{p:?}");

    // Extra: everything taken but the BN module and the optimizer.
    let r = StateReader::load(&path).unwrap();
    r.module("lin", &a.lin).unwrap();
    r.tensor("indices", DType::U32, &[3]).unwrap();
    r.counter("step").unwrap();
    let (entry, p) = entry_problem(r.finish().unwrap_err());
    assert_eq!(p, EntryProblem::Extra);
    assert!(
        entry.starts_with("module.bn.") || entry.starts_with("optim.adam."),
        "{entry}"
    );
    let msg = Error::Checkpoint {
        path: "x".into(),
        entry: "module.bn.gamma".into(),
        problem: EntryProblem::Extra,
    }
    .to_string();
    assert!(msg.contains("module.bn.gamma"), "{msg}");
}
