//! nn::Embedding: row lookup against an f64 reference, its scatter-add gradient (duplicate labels
//! accumulate), orthogonal init, state, and bad labels and shapes.

mod common;
use common::*;
use tailgrad::nn::{self, Embedding, Init, Mode, Module};
use tailgrad::{Error, Generator, Tensor};

/// Rows `labels` of the row-major `[k, dim]` table `w`.
fn rows_ref(w: &[f64], dim: usize, labels: &[u32]) -> Vec<f64> {
    labels
        .iter()
        .flat_map(|&y| w[y as usize * dim..(y as usize + 1) * dim].to_vec())
        .collect()
}

fn table(d: &tailgrad::Device, w: &[f64], k: usize, dim: usize) -> Embedding {
    Embedding {
        weight: upload(d, w, &[k, dim]).into_param(),
    }
}

#[test]
fn forward_picks_rows_and_gradients_scatter_add() {
    let d = dev();
    let mut rng = Rng::new(3);
    // Label 2 three times and 5 twice: their gradient rows must be sums; rows 1, 4, 6 get none.
    let (k, dim, labels) = (7, 5, vec![2u32, 0, 5, 2, 3, 5, 2]);
    let w = as_f32(&rng.vec(k * dim, -1.0, 1.0));
    let emb = table(&d, &w, k, dim);
    let y = emb
        .forward(&emb.labels(&d, &labels).unwrap(), Mode::Train)
        .unwrap();
    assert_eq!(y.shape(), [labels.len(), dim]);
    let exact = Tol { rel: 0.0, abs: 0.0 };
    assert_close(
        "rows",
        &y.to_vec().unwrap(),
        &rows_ref(&w, dim, &labels),
        exact,
    );

    let c = as_f32(&rng.vec(y.numel(), -1.0, 1.0));
    let loss = y
        .mul(&upload(&d, &c, y.shape()))
        .unwrap()
        .sum_all()
        .unwrap();
    loss.scale(2.5).unwrap().backward().unwrap();
    let mut want = vec![0.0; k * dim];
    for (j, &r) in labels.iter().enumerate() {
        for i in 0..dim {
            want[r as usize * dim + i] += 2.5 * c[j * dim + i];
        }
    }
    // The sums run in label order in f32 (at most 3 terms): a few ulps.
    let tol = Tol {
        rel: 1e-6,
        abs: 1e-7,
    };
    assert_close(
        "d/dweight",
        &emb.weight.grad().unwrap().to_vec().unwrap(),
        &want,
        tol,
    );
}

#[test]
fn default_init_is_orthogonal_and_the_table_is_its_state() {
    let d = dev();
    let (k, dim) = (10, 16);
    let emb = Embedding::new(&d, &mut Generator::new(5, 0), k, dim).unwrap();
    let w: Vec<f64> = emb
        .weight
        .to_vec()
        .unwrap()
        .iter()
        .map(|&x| x as f64)
        .collect();
    for a in 0..k {
        for b in 0..k {
            let dot: f64 = (0..dim).map(|i| w[a * dim + i] * w[b * dim + i]).sum();
            let want = if a == b { 1.0 } else { 0.0 };
            // An f64 QR rounded to f32: rows are orthonormal to f32 precision.
            assert!((dot - want).abs() < 1e-6, "rows {a}, {b}: {dot}");
        }
    }
    let state = nn::state_of(&emb);
    assert_eq!(state.len(), 1);
    assert_eq!(
        (state[0].name.as_str(), state[0].trainable),
        ("weight", true)
    );
    let normal = Init::Normal { std: 1.0 };
    let e2 = Embedding::with_init(&d, &mut Generator::new(5, 0), 3, 4, normal).unwrap();
    assert_eq!(e2.weight.shape(), [3, 4]);
}

#[test]
fn bad_labels_and_shapes() {
    let d = dev();
    let emb = table(&d, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
    // Host labels are checked before upload.
    let e = emb.labels(&d, &[0, 2, 3]).unwrap_err().to_string();
    assert!(
        e.contains("label 3 at position 2") && e.contains("3 rows"),
        "{e}"
    );
    // Labels already on the GPU cannot be checked without a readback: the bad row is NaN.
    let y = emb
        .forward(&Tensor::from_u32(&d, &[1, 7], &[2]).unwrap(), Mode::Train)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(&y[..2], &[3.0, 4.0]);
    assert!(y[2..].iter().all(|v| v.is_nan()), "{y:?}");
    // Wrong dtype or rank.
    let f = upload(&d, &[0.0, 1.0], &[2]);
    let e = emb.forward(&f, Mode::Eval).unwrap_err().to_string();
    assert!(e.contains("embedding") && e.contains("u32"), "{e}");
    let l2 = Tensor::from_u32(&d, &[0, 1], &[1, 2]).unwrap();
    assert!(matches!(
        emb.forward(&l2, Mode::Eval),
        Err(Error::Invalid { .. })
    ));
    // Empty tables.
    let mut gen = Generator::new(1, 0);
    assert!(matches!(
        Embedding::new(&d, &mut gen, 0, 4),
        Err(Error::ZeroSized { .. })
    ));
}
