//! Accuracy on the balanced test set: overall top-1, per class, and per many/medium/few split
//! (classes grouped by their number of training images, methods.md §1.6).

use crate::data::long_tail::Split;
use serde::Serialize;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Evaluation {
    pub top1: f64,
    /// Accuracy over the test images of many-shot classes; `None` when the split is empty.
    pub many: Option<f64>,
    pub medium: Option<f64>,
    pub few: Option<f64>,
    pub per_class: Vec<f64>,
}

impl Evaluation {
    /// From predicted and true labels of the whole test set; `splits[c]` is class c's split.
    pub fn new(pred: &[u32], truth: &[u32], splits: &[Split]) -> Evaluation {
        let classes = splits.len();
        let (mut hit, mut total) = (vec![0usize; classes], vec![0usize; classes]);
        for (&p, &t) in pred.iter().zip(truth) {
            total[t as usize] += 1;
            hit[t as usize] += (p == t) as usize;
        }
        let ratio = |h: usize, n: usize| if n == 0 { 0.0 } else { h as f64 / n as f64 };
        let split = |g: Split| {
            let (h, n) = (0..classes)
                .filter(|&c| splits[c] == g)
                .fold((0, 0), |(h, n), c| (h + hit[c], n + total[c]));
            (n > 0).then(|| ratio(h, n))
        };
        Evaluation {
            top1: ratio(hit.iter().sum(), total.iter().sum()),
            many: split(Split::Many),
            medium: split(Split::Medium),
            few: split(Split::Few),
            per_class: (0..classes).map(|c| ratio(hit[c], total[c])).collect(),
        }
    }

    /// The accuracy of one split.
    pub fn split(&self, s: Split) -> Option<f64> {
        match s {
            Split::Many => self.many,
            Split::Medium => self.medium,
            Split::Few => self.few,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::long_tail::SplitThresholds;

    #[test]
    fn splits_and_accuracies() {
        // Training counts 500 (many), 50 (medium), 5 (few); two test images per class.
        let th = SplitThresholds::default();
        let splits: Vec<Split> = [500, 50, 5].iter().map(|&n| th.split_of(n)).collect();
        let truth = [0, 0, 1, 1, 2, 2];
        let pred = [0, 1, 1, 1, 0, 0];
        let e = Evaluation::new(&pred, &truth, &splits);
        assert_eq!(e.per_class, vec![0.5, 1.0, 0.0]);
        assert_eq!((e.many, e.medium, e.few), (Some(0.5), Some(1.0), Some(0.0)));
        assert!((e.top1 - 0.5).abs() < 1e-12);
        let e = Evaluation::new(&[0], &[0], &[Split::Medium]);
        assert_eq!((e.many, e.medium, e.few), (None, Some(1.0), None));
    }
}
