//! The long-tail methods end to end on the bundled subset: every `--method` trains, post-hoc
//! logit adjustment, GCL's two stages (frozen backbone, stage 2 alone from the stage-1
//! checkpoint), and category extrapolation with neighbour silencing.

mod common;
use common::scratch;
use std::path::{Path, PathBuf};
use tailgrad::report::Checkpoint;
use tailgrad::train::{
    evaluate_checkpoint, train_classifier, train_stage2, Extrapolation, Method, RunOptions, Stage2,
    TrainConfig,
};

fn quiet() -> RunOptions {
    RunOptions {
        quiet: true,
        ..RunOptions::default()
    }
}

fn tiny(method: Method, out: &Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        method,
        epochs,
        out: out.to_path_buf(),
        stage2: Stage2 {
            epochs,
            ..Stage2::default()
        },
        ..TrainConfig::demo()
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_method_trains_and_posthoc_adjustment_matches_its_run() {
    let dir = scratch("methods");
    let mut ce = None;
    for m in Method::ALL {
        let out = dir.join(m.name());
        let s = train_classifier(&tiny(m, &out, 1), &quiet()).unwrap();
        assert_eq!(s.method, m);
        let line = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        let line: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
        let loss = line["train_loss"].as_f64().unwrap();
        assert!(loss.is_finite() && loss > 0.0, "{m}: train loss {loss}");
        assert_eq!(s.eval.per_class.len(), 10, "{m}");
        match m {
            Method::Ce => ce = Some(s),
            // Same seed, same training as ce: only the prediction differs, and re-evaluating the
            // ce checkpoint with the post-hoc adjustment gives exactly this run's numbers.
            Method::LaPosthoc => {
                let ck = dir.join("ce").join("checkpoint.safetensors");
                let (adjusted, _) = evaluate_checkpoint(&ck, Some(1.0)).unwrap();
                assert_eq!(adjusted.eval, s.eval);
                let (plain, _) = evaluate_checkpoint(&ck, Some(0.0)).unwrap();
                assert_eq!(plain.eval, ce.as_ref().unwrap().eval);
            }
            _ => {}
        }
    }
}

fn model_tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let ck = Checkpoint::load(path).unwrap();
    ck.tensors
        .keys()
        .filter(|k| k.starts_with("module.model."))
        .map(|k| (k.clone(), ck.f32(k).unwrap().1.to_vec()))
        .collect()
}

#[test]
fn gcl_runs_both_stages_and_stage_two_alone_matches() {
    let dir = scratch("gcl");
    let out = dir.join("run");
    let s = train_classifier(&tiny(Method::Gcl, &out, 2), &quiet()).unwrap();
    let (s1, s2) = (s.stage1.as_ref().unwrap(), s.stage2.as_ref().unwrap());
    assert_eq!(s.eval, s2.eval);
    assert_eq!((s1.epochs, s2.epochs), (2, 2));
    let summary = json(&out.join("summary.json"));
    for k in ["stage1", "stage2", "top1"] {
        assert!(summary.get(k).is_some(), "summary.json lacks {k}");
    }
    assert!(out.join("stage2").join("summary.json").is_file());

    // Stage 2 re-trains only the classifier; the backbone, BN running statistics included
    // (eval mode), is the stage-1 one bit for bit.
    let before = model_tensors(&out.join("checkpoint.safetensors"));
    let after = model_tensors(&out.join("stage2").join("checkpoint.safetensors"));
    assert_eq!(before.len(), after.len());
    let mut head_moved = false;
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        if name.starts_with("module.model.fc.") {
            head_moved |= a != b;
        } else {
            assert!(a == b, "{name} changed in stage 2");
        }
    }
    assert!(head_moved, "stage 2 did not train the classifier");

    // `--stage 2 --from` on the stage-1 checkpoint repeats the in-run stage 2 exactly.
    let alone_out: PathBuf = dir.join("alone");
    let alone = train_stage2(
        &out.join("checkpoint.safetensors"),
        &tiny(Method::Gcl, &alone_out, 2),
        &quiet(),
    )
    .unwrap();
    assert_eq!(alone.eval, s2.eval);

    // A stage-2 run needs its checkpoint.
    let err = train_stage2(
        &dir.join("missing.safetensors"),
        &tiny(Method::Gcl, &out, 1),
        &quiet(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing.safetensors"), "{err}");
}

#[test]
fn category_extrapolation_trains_on_targets_and_neighbours() {
    let dir = scratch("extrapolation");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = |auxiliary: bool, name: &str| TrainConfig {
        method: Method::Balce,
        rho: Some(10.0),
        epochs: 1,
        out: dir.join(name),
        extrapolation: Some(Extrapolation {
            neighbours: root.join("configs/extrapolation/fashion-mnist-neighbours.toml"),
            auxiliary,
            aux_per_class: 40,
            ..Extrapolation::default()
        }),
        ..TrainConfig::demo()
    };
    let with = train_classifier(&cfg(true, "with"), &quiet()).unwrap();
    let base = train_classifier(&cfg(false, "base"), &quiet()).unwrap();
    // Both are judged on the same target classes; only the first trains on auxiliary images.
    assert_eq!(with.class_names, base.class_names);
    assert_eq!(with.train_counts, base.train_counts);
    assert!(with.class_names.len() < 10);
    assert_eq!(with.eval.per_class.len(), with.class_names.len());
    assert!(with.auxiliary_images > 0 && base.auxiliary_images == 0);

    let mut wrong = cfg(true, "wrong");
    wrong.method = Method::Ce;
    let err = train_classifier(&wrong, &quiet()).unwrap_err().to_string();
    assert!(err.contains("balce"), "{err}");
}
