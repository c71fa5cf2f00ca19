//! The per-split table printed at the end of a run, by `train`, `eval` and `demo`.

use tailgrad::data::long_tail::Split;
use tailgrad::train::Summary;

pub fn print_table(s: &Summary) {
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}", 100.0 * v));
    if let Some(s1) = &s.stage1 {
        println!(
            "\nstage 1 (representation learning): top-1 {:.2}%",
            100.0 * s1.eval.top1
        );
    }
    println!(
        "\n{} {} on {}, {} epochs{}, {:.0} train images/s on {}",
        s.model,
        s.method,
        s.dataset,
        s.epochs,
        if s.stage1.is_some() {
            " of stage 2"
        } else {
            ""
        },
        s.train_images_per_sec,
        s.device
    );
    println!(
        "{:<8} {:>7} {:>12} {:>9}",
        "split", "classes", "train imgs", "top-1 %"
    );
    for split in Split::ALL {
        let name = split.name();
        let members: Vec<usize> = (0..s.class_split.len())
            .filter(|&c| s.class_split[c] == name)
            .collect();
        let imgs: usize = members.iter().map(|&c| s.train_counts[c]).sum();
        let acc = s.eval.split(split);
        println!("{name:<8} {:>7} {imgs:>12} {:>9}", members.len(), pct(acc));
    }
    let total: usize = s.train_counts.iter().sum();
    println!(
        "{:<8} {:>7} {total:>12} {:>9}",
        "all",
        s.train_counts.len(),
        pct(Some(s.eval.top1))
    );
}
