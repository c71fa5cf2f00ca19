//! GAN evaluation (`train::gan::Evaluator`, `tailgrad eval gan`) at a tiny size on the bundled
//! set: the fid.json bookkeeping (per class, splits, KID), evaluation during training and after
//! a resume, determinism, and the errors. The metrics themselves are checked against golden
//! vectors in tests/fid.rs.

mod common;
use common::gan::tiny;
use common::scratch;
use std::path::{Path, PathBuf};
use tailgrad::train::gan::{
    load_generator, train_counts, train_gan, EvalConfig, Evaluator, GanConfig, GanEval,
    GanRunOptions,
};
use tailgrad::train::{train_classifier, RunOptions, TrainConfig};
use tailgrad::Error;

fn quiet() -> GanRunOptions {
    GanRunOptions {
        quiet: true,
        ..GanRunOptions::default()
    }
}

/// A one-epoch small CNN on the bundled set, trained on `image_size` (0: its 28×28 images).
fn classifier(dir: &Path, image_size: usize) -> PathBuf {
    let cfg = TrainConfig {
        image_size,
        epochs: 1,
        out: dir.to_path_buf(),
        ..TrainConfig::demo()
    };
    let quiet = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    train_classifier(&cfg, &quiet).unwrap();
    dir.join("checkpoint.safetensors")
}

/// A feature extractor: the classifier on the GAN's 32×32 canvas.
fn extractor(dir: &Path) -> PathBuf {
    classifier(dir, 32)
}

fn eval_config(features: PathBuf) -> EvalConfig {
    EvalConfig {
        features,
        n: 60,
        every: 2,
        kid_subsets: 5,
        kid_subset_size: 30,
        ..EvalConfig::default()
    }
}

fn read_evals(dir: &Path) -> Vec<GanEval> {
    std::fs::read_to_string(dir.join("fid.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Everything but the wall time.
fn without_time(mut e: GanEval) -> GanEval {
    e.seconds = 0.0;
    e
}

#[test]
fn training_evaluates_every_n_steps_and_resumes_the_same() {
    let s = scratch("gan-eval-train");
    let features = extractor(&s.0.join("features"));
    let cfg = |out: &Path| GanConfig {
        eval: Some(eval_config(features.clone())),
        ..tiny(out)
    };
    let full = cfg(&s.0.join("full"));
    train_gan(&full, &quiet()).unwrap();
    let evals = read_evals(&full.out);
    let steps: Vec<u64> = evals.iter().map(|e| e.step).collect();
    assert_eq!(steps, [2, 4, 6]);
    for f in ["fid.json", "fid.png", "fid_classes.png"] {
        assert!(full.out.join(f).is_file(), "{f} missing");
    }
    let last: GanEval =
        serde_json::from_str(&std::fs::read_to_string(full.out.join("fid.json")).unwrap()).unwrap();
    assert_eq!(without_time(last.clone()), without_time(evals[2].clone()));
    check_bookkeeping(&last, &full);
    // Killed after step 5 (last checkpoint at 3): the evaluation at 4 is redone after the resume.
    let cut = cfg(&s.0.join("cut"));
    let stop = GanRunOptions {
        stop_at: Some(5),
        ..quiet()
    };
    assert!(matches!(train_gan(&cut, &stop), Err(Error::Stopped(_))));
    assert_eq!(read_evals(&cut.out).len(), 2);
    let resume = GanRunOptions {
        resume: true,
        ..quiet()
    };
    train_gan(&cut, &resume).unwrap();
    let a: Vec<_> = evals.into_iter().map(without_time).collect();
    let b: Vec<_> = read_evals(&cut.out).into_iter().map(without_time).collect();
    assert_eq!(a, b);
}

/// fid.json adds up: per-class counts, the means over classes and splits, the extractor named.
fn check_bookkeeping(e: &GanEval, run: &GanConfig) {
    let counts = train_counts(run).unwrap();
    assert_eq!(e.classes.len(), counts.len());
    assert_eq!(e.n_generated, 60);
    assert!(e.extractor.contains("small-cnn") && e.extractor.contains("bundled"));
    assert_eq!(e.feature_dim, 64);
    let mean = |fids: Vec<f64>| fids.iter().sum::<f64>() / fids.len() as f64;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    assert!(close(
        e.intra_fid,
        mean(e.classes.iter().map(|c| c.fid).collect())
    ));
    for (c, &n) in e.classes.iter().zip(&counts) {
        assert_eq!(c.train_count, n);
        assert_eq!(c.n_generated, 6, "{}: labels are j mod K", c.name);
        assert!(c.n_real > 1 && c.fid.is_finite() && c.fid > 0.0, "{c:?}");
    }
    let of = |split: &str| {
        let v: Vec<f64> = e
            .classes
            .iter()
            .filter(|c| c.split == split)
            .map(|c| c.fid)
            .collect();
        (!v.is_empty()).then(|| mean(v))
    };
    for (got, split) in [
        (e.splits.many, "many"),
        (e.splits.medium, "medium"),
        (e.splits.few, "few"),
    ] {
        match (got, of(split)) {
            (Some(a), Some(b)) => assert!(close(a, b), "{split}: {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "{split}"),
        }
    }
    assert_eq!(e.n_real, e.classes.iter().map(|c| c.n_real).sum::<usize>());
    assert!(
        e.fid.is_finite() && e.fid > 0.0 && e.kid.std >= 0.0,
        "{e:?}"
    );
    assert_eq!((e.kid.subsets, e.kid.subset_size), (5, 30));
}

#[test]
fn an_evaluation_is_a_function_of_its_seed() {
    let s = scratch("gan-eval-seed");
    let features = extractor(&s.0.join("features"));
    let run = GanConfig {
        steps: 2,
        ..tiny(&s.0.join("gan"))
    };
    train_gan(&run, &quiet()).unwrap();
    let (g, run, _) = load_generator(&run.out.join("checkpoint.safetensors")).unwrap();
    let counts = train_counts(&run).unwrap();
    let eval = |seed| {
        let cfg = EvalConfig {
            seed,
            ..eval_config(features.clone())
        };
        without_time(
            Evaluator::new(&run, &cfg, &counts)
                .unwrap()
                .evaluate(&g, 2)
                .unwrap(),
        )
    };
    let a = eval(0);
    assert_eq!(a, eval(0));
    assert_ne!(a.fid, eval(1).fid);
}

#[test]
fn bad_evaluations_are_errors() {
    let s = scratch("gan-eval-errors");
    let run = tiny(&s.0.join("gan"));
    let counts = train_counts(&run).unwrap();
    let missing = s.0.join("no-such-extractor.safetensors");
    let err = Evaluator::new(&run, &eval_config(missing.clone()), &counts)
        .err()
        .unwrap();
    assert!(err.to_string().contains("no-such-extractor"), "{err}");
    // An extractor trained on another canvas would see generated images differently.
    let ck = classifier(&s.0.join("features-28"), 0);
    let err = Evaluator::new(&run, &eval_config(ck.clone()), &counts)
        .err()
        .unwrap();
    assert!(err.to_string().contains("image_size"), "{err}");
    // Too few images for every class to have two; an empty extractor path in a config.
    let few = EvalConfig {
        n: 3,
        ..eval_config(ck)
    };
    let err = Evaluator::new(&run, &few, &counts).err().unwrap();
    assert!(matches!(err, Error::Config(_)), "{err}");
    let no_path = GanConfig {
        eval: Some(EvalConfig::default()),
        ..tiny(&s.0.join("gan2"))
    };
    let err = train_gan(&no_path, &quiet()).err().unwrap();
    assert!(err.to_string().contains("eval.features"), "{err}");
}
