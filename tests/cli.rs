//! The `tailgrad` binary: `devices`, `bench --json` output contract, and clean failures.

use std::process::{Command, Output};

fn tailgrad(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tailgrad"));
    cmd.args(args)
        .env_remove("TAILGRAD_BACKEND")
        .env_remove("TAILGRAD_ADAPTER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the tailgrad binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic(out: &Output) {
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "panic in stderr:\n{err}");
}

#[test]
fn devices_lists_and_marks_the_picked_adapter() {
    let out = tailgrad(&["devices"], &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let s = text(&out.stdout);
    let picked: Vec<&str> = s.lines().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(picked.len(), 1, "exactly one adapter is marked:\n{s}");
    assert!(s.contains("max storage binding"), "{s}");
    assert!(s.contains("subgroup size"), "{s}");
}

#[test]
fn devices_json_has_the_report_fields() {
    let out = tailgrad(&["devices", "--json"], &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let list = v.as_array().expect("a JSON array");
    assert!(!list.is_empty());
    for a in list {
        for key in [
            "name",
            "backend",
            "device_type",
            "driver",
            "max_storage_binding",
            "max_workgroup_size",
            "subgroup_size",
            "features",
            "selected",
        ] {
            assert!(a.get(key).is_some(), "missing {key} in {a}");
        }
    }
    let selected = list.iter().filter(|a| a["selected"] == true).count();
    assert_eq!(selected, 1, "{v}");
}

#[test]
fn devices_marks_the_backend_the_env_asks_for() {
    let all: serde_json::Value =
        serde_json::from_slice(&tailgrad(&["devices", "--json"], &[]).stdout).unwrap();
    for backend in ["vulkan", "gl"] {
        if !all
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["backend"] == backend)
        {
            continue;
        }
        let out = tailgrad(&["devices", "--json"], &[("TAILGRAD_BACKEND", backend)]);
        assert!(out.status.success(), "stderr: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let picked: Vec<_> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["selected"] == true)
            .collect();
        assert_eq!(picked.len(), 1, "{v}");
        assert_eq!(picked[0]["backend"], backend, "{v}");
    }
}

#[test]
fn unmatched_adapter_name_lists_what_exists_and_fails() {
    let out = tailgrad(&["devices"], &[("TAILGRAD_ADAPTER", "no-such-gpu")]);
    assert_no_panic(&out);
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("0: "),
        "still lists the adapters"
    );
    let err = text(&out.stderr);
    assert!(err.contains("error: no GPU adapter found"), "{err}");
    assert!(err.contains("no-such-gpu"), "{err}");
    assert!(err.contains("mesa-vulkan-drivers"), "{err}");
}

#[test]
fn bench_writes_json_lines_with_the_contract_keys() {
    let path = std::env::temp_dir().join(format!("tailgrad-cli-{}.jsonl", std::process::id()));
    let file = path.to_str().unwrap();
    let out = tailgrad(&["bench", "add", "--quick", "--json", file], &[]);
    assert_no_panic(&out);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let lines = std::fs::read_to_string(&path).expect("JSON file written");
    std::fs::remove_file(&path).ok();
    let recs: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    let names: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| {
            (
                r["kernel"].as_str().unwrap(),
                r["variant"].as_str().unwrap(),
            )
        })
        .collect();
    // Peaks first (the percentages refer to them), then only the selected kernel.
    let want = [
        ("peak_fma", "default"),
        ("peak_copy", "default"),
        ("add", "default"),
        ("add", "vec4_ref"),
    ];
    assert_eq!(names, want, "{lines}");
    for r in &recs {
        for key in ["kernel", "shape", "device", "backend", "variant"] {
            assert!(r[key].is_string(), "{key} in {r}");
        }
        for key in ["median_ms", "gflops", "gbps"] {
            let x = r[key].as_f64().unwrap_or(-1.0);
            assert!(x.is_finite() && x >= 0.0, "{key} in {r}");
        }
        assert!(r["median_ms"].as_f64().unwrap() > 0.0, "{r}");
    }
    for add in &recs[2..] {
        assert!(add["gbps"].as_f64().unwrap() > 0.0, "{add}");
        assert!(add["peak_pct"].as_f64().unwrap() > 0.0, "{add}");
    }
    // The table goes to stdout, one row per result.
    let rows = text(&out.stdout);
    assert_eq!(
        rows.lines().filter(|l| l.starts_with("add ")).count(),
        2,
        "{rows}"
    );
}

#[test]
fn bad_backend_is_a_clear_error() {
    for args in [&["devices"][..], &["bench", "add", "--quick"]] {
        let out = tailgrad(args, &[("TAILGRAD_BACKEND", "nonsense")]);
        assert_no_panic(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = text(&out.stderr);
        assert!(
            err.contains("error: TAILGRAD_BACKEND: unknown backend `nonsense`"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn unknown_kernel_is_a_clear_error() {
    let out = tailgrad(&["bench", "no_such_kernel", "--quick"], &[]);
    assert_no_panic(&out);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("error: bench: no entry matches"), "{err}");
    assert!(err.contains("sum_rows"), "lists the known kernels: {err}");
}

#[test]
fn no_adapter_names_what_was_tried_and_how_to_install_one() {
    // Hide every Vulkan driver from the loader and allow only Vulkan.
    let env = [
        ("TAILGRAD_BACKEND", "vulkan"),
        ("VK_DRIVER_FILES", "/nonexistent.json"),
        ("VK_ICD_FILENAMES", "/nonexistent.json"),
    ];
    for args in [&["devices"][..], &["bench", "add", "--quick"]] {
        let out = tailgrad(args, &env);
        assert_no_panic(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = text(&out.stderr);
        assert!(
            err.contains("error: no GPU adapter found"),
            "{args:?}: {err}"
        );
        assert!(err.contains("VULKAN"), "says what was tried: {err}");
        assert!(
            err.contains("mesa-vulkan-drivers"),
            "says how to fix: {err}"
        );
    }
}

#[test]
fn unwritable_json_path_is_a_clear_error() {
    let out = tailgrad(
        &[
            "bench",
            "add",
            "--quick",
            "--json",
            "/nonexistent-dir/x.jsonl",
        ],
        &[],
    );
    assert_no_panic(&out);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("error: /nonexistent-dir/x.jsonl:"), "{err}");
}

#[test]
fn train_with_a_config_file_then_eval_and_resume() {
    let dir = std::env::temp_dir().join(format!("tailgrad-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("run.toml");
    std::fs::write(
        &cfg,
        "dataset = \"bundled\"\nrho = 1.0\nmodel = \"small-cnn\"\nbatch = 64\n",
    )
    .unwrap();
    let out = dir.join("run");
    let run = |args: &[&str]| {
        let o = tailgrad(args, &[]);
        assert_no_panic(&o);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        text(&o.stdout)
    };
    // Flags override the file: one epoch, into `out`.
    let s = run(&[
        "train",
        "classifier",
        "--config",
        cfg.to_str().unwrap(),
        "--epochs",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(s.contains("many") && s.contains("few"), "{s}");
    let written = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        written.contains("epochs = 1") && written.contains("model = \"small-cnn\""),
        "{written}"
    );
    let ck = out.join("checkpoint.safetensors");
    let e = run(&[
        "eval",
        "classifier",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--json",
    ]);
    assert!(e.contains("\"top1\""), "{e}");
    // Resuming a finished run trains nothing more and reports the same table.
    let r = run(&[
        "train",
        "classifier",
        "--resume",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(
        r.lines()
            .filter(|l| l.starts_with("all"))
            .collect::<Vec<_>>(),
        s.lines()
            .filter(|l| l.starts_with("all"))
            .collect::<Vec<_>>()
    );
    // A bad key is a clean error naming it.
    std::fs::write(&cfg, "epochz = 3\n").unwrap();
    let o = tailgrad(
        &["train", "classifier", "--config", cfg.to_str().unwrap()],
        &[],
    );
    assert_no_panic(&o);
    assert!(
        !o.status.success() && text(&o.stderr).contains("epochz"),
        "{}",
        text(&o.stderr)
    );
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tailgrad-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The report of issue 9: an Adam run could not be resumed (its u32 step counters came back
/// as f32). The same commands, with the small CNN to keep it short.
#[test]
fn an_adam_run_resumes() {
    let dir = scratch_dir("adam");
    let out = dir.join("a");
    let out = out.to_str().unwrap();
    let first = [
        "train",
        "classifier",
        "--dataset",
        "bundled",
        "--rho",
        "1",
        "--model",
        "small-cnn",
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        out,
    ];
    let o = tailgrad(&first, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = tailgrad(
        &[
            "train",
            "classifier",
            "--resume",
            out,
            "--epochs",
            "2",
            "--quiet",
        ],
        &[],
    );
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let lines = std::fs::read_to_string(dir.join("a/metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
}

/// Every config flag of `train classifier` shows its default, taken from the config's own.
#[test]
fn help_shows_the_defaults() {
    let o = tailgrad(&["train", "classifier", "--help"], &[]);
    assert!(o.status.success());
    let help = text(&o.stdout);
    for (flag, default) in [
        ("--lr", "[default: 0.1]"),
        ("--momentum", "[default: 0.9]"),
        ("--weight-decay", "[default: 0.0002]"),
        ("--optimizer", "[default: sgd]"),
        ("--lr-steps", "[default: 160,180]"),
        ("--epochs", "[default: 200]"),
        ("--model", "[default: resnet32]"),
        ("--rho", "[default: 100; the bundled set as it is]"),
        ("--stage2-epochs", "[default: 30]"),
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{flag} ")))
            .unwrap_or_else(|| panic!("no {flag} in\n{help}"));
        assert!(line.contains(default), "{flag}: {line}");
    }
    let o = tailgrad(&["demo", "--help"], &[]);
    let help = text(&o.stdout);
    assert!(
        help.contains("[default: runs/demo]") && help.contains("[default: 5"),
        "{help}"
    );
}

/// `--set` reaches any nested key; a misspelt one is an error naming it, as in a config file.
#[test]
fn set_reaches_nested_keys_and_refuses_unknown_ones() {
    let dir = scratch_dir("set");
    let o = tailgrad(
        &[
            "train",
            "classifier",
            "--dataset",
            "bundled",
            "--model",
            "small-cnn",
            "--epochs",
            "1",
            "--quiet",
            "--set",
            "optim.name=adam",
            "--set",
            "optim.betas=[0.5, 0.9]",
            "--lr",
            "0.001",
            "--out",
            dir.join("r").to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let cfg = std::fs::read_to_string(dir.join("r/config.toml")).unwrap();
    assert!(
        cfg.contains("betas = [0.5, 0.9]") && cfg.contains("name = \"adam\""),
        "{cfg}"
    );
    let o = tailgrad(
        &["train", "classifier", "--set", "optim.betaz=[0.5, 0.9]"],
        &[],
    );
    assert_no_panic(&o);
    assert!(
        !o.status.success() && text(&o.stderr).contains("betaz"),
        "{}",
        text(&o.stderr)
    );
}

/// The bundled set is long-tailed already: unset rho keeps it as it is (the runs above); a rho
/// that leaves classes without images says so and what to do.
#[test]
fn bundled_with_rho_is_a_clear_error() {
    let o = tailgrad(
        &[
            "train",
            "classifier",
            "--dataset",
            "bundled",
            "--rho",
            "100",
        ],
        &[],
    );
    assert_no_panic(&o);
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("long-tailed already"),
        "{err}"
    );
}

/// Without XDG_RUNTIME_DIR, Mesa's Wayland probe printed "error: XDG_RUNTIME_DIR is invalid".
#[test]
fn no_mesa_error_without_xdg_runtime_dir() {
    let o = Command::new(env!("CARGO_BIN_EXE_tailgrad"))
        .arg("devices")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = text(&o.stderr);
    assert!(!err.contains("error"), "stderr:\n{err}");
}

/// The demo shows the problem and the fix side by side (one epoch each here).
#[test]
fn demo_compares_ce_and_balanced_softmax() {
    let dir = scratch_dir("demo");
    let o = tailgrad(
        &[
            "demo",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(
        s.contains("ce %") && s.contains("balce %") && s.contains("difference"),
        "{s}"
    );
    for split in ["many", "medium", "few", "all"] {
        assert!(
            s.lines().any(|l| l.starts_with(split)),
            "no {split} row:\n{s}"
        );
    }
    for f in ["per_class.png", "ce/summary.json", "balce/summary.json"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
}

#[test]
fn eval_gan_writes_fid_json_and_names_the_extractor() {
    let dir = scratch_dir("cli-eval-gan");
    let (feat, gan) = (dir.join("features"), dir.join("gan"));
    let ok = |args: &[&str]| {
        let out = tailgrad(args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let f = feat.to_str().unwrap();
    ok(&[
        "train",
        "classifier",
        "--dataset",
        "bundled",
        "--model",
        "small-cnn",
        "--epochs",
        "1",
        "--set",
        "image_size=32",
        "--quiet",
        "--out",
        f,
    ]);
    let g = gan.to_str().unwrap();
    ok(&[
        "train",
        "gan",
        "--dataset",
        "bundled",
        "--steps",
        "2",
        "--g-width",
        "8",
        "--d-width",
        "8",
        "--batch",
        "8",
        "--quiet",
        "--out",
        g,
    ]);
    let ck = gan.join("checkpoint.safetensors");
    let features = feat.join("checkpoint.safetensors");
    let (ck, features) = (ck.to_str().unwrap(), features.to_str().unwrap());
    let s = ok(&[
        "eval",
        "gan",
        "--checkpoint",
        ck,
        "--features",
        features,
        "--n",
        "40",
        "--kid-subsets",
        "3",
        "--kid-subset-size",
        "20",
    ]);
    assert!(s.contains("FID") && s.contains("small-cnn"), "{s}");
    let fid: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gan.join("fid.json")).unwrap()).unwrap();
    assert_eq!(fid["n_generated"], 40);
    assert_eq!(fid["step"], 2);
    assert!(fid["fid"].as_f64().unwrap() > 0.0, "{fid}");
    assert!(gan.join("fid_classes.png").is_file());
    // A missing extractor names the file; a classifier checkpoint is no GAN checkpoint.
    let out = tailgrad(
        &[
            "eval",
            "gan",
            "--checkpoint",
            ck,
            "--features",
            "/no/such.safetensors",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("/no/such.safetensors"),
        "{}",
        text(&out.stderr)
    );
    assert_no_panic(&out);
    let out = tailgrad(
        &[
            "eval",
            "gan",
            "--checkpoint",
            features,
            "--features",
            features,
        ],
        &[],
    );
    assert!(!out.status.success());
    assert_no_panic(&out);
}
