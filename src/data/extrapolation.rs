//! The data side of category extrapolation (methods.md §4, Part B.1–B.5, B.8): a neighbour map
//! (target class → auxiliary neighbour classes, read from TOML), the training union of the
//! long-tailed target classes and the auxiliary classes, the target-only test set, the
//! neighbour-silencing mask of §B.3, and the target-only baseline on the same images.
//! See docs/data.md, "Category extrapolation".

use super::long_tail::{long_tailed_indices, Profile};
use super::shuffle::SplitMix64;
use super::Dataset;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// Keys the auxiliary draws away from the target stream: `SplitMix64::keyed(seed, AUX_STREAM +
/// base label)`, so an auxiliary class draws the same images whatever else the map lists.
const AUX_STREAM: u64 = 1 << 32;

/// A parsed neighbour-map file. Class names are those of `Dataset::class_names`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighbourMap {
    /// Target classes, head first: their long-tailed counts follow this order.
    pub targets: Vec<String>,
    /// Auxiliary classes, in the order of their labels T..K.
    pub auxiliary: Vec<String>,
    /// Target → its auxiliary neighbours nb(c), in target order; targets without an entry have
    /// no neighbours.
    pub neighbours: Vec<(String, Vec<String>)>,
    /// Where the map came from, for error messages.
    pub source: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    targets: Vec<String>,
    auxiliary: Vec<String>,
    #[serde(default)]
    neighbours: BTreeMap<String, Vec<String>>,
}

impl NeighbourMap {
    pub fn from_file(path: &Path) -> Result<NeighbourMap> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks a map; errors name `path_for_errors`.
    pub fn from_toml(text: &str, path_for_errors: &str) -> Result<NeighbourMap> {
        let file: MapFile =
            toml::from_str(text).map_err(|e| Error::Config(format!("{path_for_errors}: {e}")))?;
        let mut neighbours: Vec<(String, Vec<String>)> = file.neighbours.into_iter().collect();
        // Target order; keys that are not targets sort last and `check` reports them.
        neighbours.sort_by_key(|(t, _)| {
            file.targets
                .iter()
                .position(|x| x == t)
                .unwrap_or(usize::MAX)
        });
        let map = NeighbourMap {
            targets: file.targets,
            auxiliary: file.auxiliary,
            neighbours,
            source: path_for_errors.to_string(),
        };
        map.check()?;
        Ok(map)
    }

    fn error(&self, msg: impl std::fmt::Display) -> Error {
        Error::Config(format!("{}: {msg}", self.source))
    }

    /// The structure, without a dataset: non-empty, no duplicates, targets and auxiliary
    /// classes disjoint, neighbour keys are targets and neighbour lists name auxiliary classes.
    fn check(&self) -> Result<()> {
        if self.targets.is_empty() || self.auxiliary.is_empty() {
            return Err(self.error("`targets` and `auxiliary` must each list at least one class"));
        }
        let all = self.targets.iter().chain(&self.auxiliary);
        if let Some(name) = first_repeat(all) {
            return Err(self.error(format_args!(
                "class `{name}` is listed twice (a class is one target or one auxiliary class)"
            )));
        }
        for (i, (target, list)) in self.neighbours.iter().enumerate() {
            if !self.targets.contains(target) {
                return Err(self.error(format_args!(
                    "[neighbours] key `{target}` is not a target class"
                )));
            }
            if self.neighbours[..i].iter().any(|(t, _)| t == target) {
                return Err(self.error(format_args!("target `{target}` has two neighbour lists")));
            }
            if let Some(a) = list.iter().find(|a| !self.auxiliary.contains(a)) {
                return Err(self.error(format_args!(
                    "target `{target}` lists `{a}`, which is not an auxiliary class"
                )));
            }
            if let Some(a) = first_repeat(list.iter()) {
                return Err(self.error(format_args!("target `{target}` lists `{a}` twice")));
            }
        }
        Ok(())
    }

    /// Base-dataset labels of the targets and the auxiliary classes, and each target's
    /// neighbours as union labels (T..K).
    fn resolve(&self, names: &[String]) -> Result<Resolved> {
        self.check()?;
        let label = |name: &String| {
            names
                .iter()
                .position(|n| n == name)
                .map(|i| i as u32)
                .ok_or_else(|| {
                    self.error(format_args!(
                        "unknown class `{name}`; the dataset's classes are {names:?}"
                    ))
                })
        };
        let targets = self.targets.iter().map(label).collect::<Result<Vec<_>>>()?;
        let auxiliary = self
            .auxiliary
            .iter()
            .map(label)
            .collect::<Result<Vec<_>>>()?;
        let aux_label = |a: &String| self.auxiliary.iter().position(|x| x == a);
        let nb = self
            .targets
            .iter()
            .map(|c| match self.neighbours.iter().find(|(t, _)| t == c) {
                Some((_, list)) => list
                    .iter()
                    .filter_map(aux_label)
                    .map(|a| targets.len() + a)
                    .collect(),
                None => Vec::new(),
            })
            .collect();
        Ok(Resolved {
            targets,
            auxiliary,
            nb,
        })
    }
}

struct Resolved {
    targets: Vec<u32>,
    auxiliary: Vec<u32>,
    nb: Vec<Vec<usize>>,
}

fn first_repeat<'a>(mut names: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let mut seen = std::collections::HashSet::new();
    names.find(|n| !seen.insert(*n))
}

/// Which classes an auxiliary sample's softmax keeps (methods.md §B.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// `no_fm_remove_normal_neg`: target c silences nb(c), auxiliary a silences par(a).
    Normal,
    /// `no_fm_remove_normal_neg_back`: as `Normal`, and auxiliary rows also silence every
    /// other auxiliary class.
    Back,
}

impl FromStr for MaskKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "normal" => Ok(MaskKind::Normal),
            "back" => Ok(MaskKind::Back),
            _ => Err(Error::Config(format!(
                "unknown neighbour-silencing mask `{s}`; valid names: normal, back"
            ))),
        }
    }
}

/// The K×K silencing mask, row-major: `mask[y·K + j]` is true when class j stays in the
/// softmax of a sample labelled y. Classes 0..`targets` are targets, the rest auxiliary;
/// `nb[c]` lists target c's auxiliary neighbours (labels in targets..classes).
pub fn silence_mask(
    targets: usize,
    classes: usize,
    nb: &[Vec<usize>],
    kind: MaskKind,
) -> Result<Vec<bool>> {
    let bad = |msg: String| {
        Err(Error::Invalid {
            op: "silence_mask",
            msg,
        })
    };
    if nb.len() != targets || targets > classes {
        return bad(format!(
            "needs one neighbour list per target and targets <= classes; got {} lists, {targets} targets, {classes} classes",
            nb.len()
        ));
    }
    if let Some(&a) = nb.iter().flatten().find(|&&a| a < targets || a >= classes) {
        return bad(format!(
            "neighbour {a} is not an auxiliary class ({targets}..{classes})"
        ));
    }
    let k = classes;
    let mut mask = vec![true; k * k];
    if kind == MaskKind::Back {
        for a in targets..k {
            mask[a * k + targets..(a + 1) * k].fill(false);
        }
    }
    for (c, list) in nb.iter().enumerate() {
        for &a in list {
            mask[c * k + a] = false; // target c silences its neighbour a
            mask[a * k + c] = false; // auxiliary a silences its parent c
        }
    }
    for y in 0..k {
        mask[y * k + y] = true;
    }
    Ok(mask)
}

/// The training union, the target test set and the silencing mask of one extrapolation run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extrapolation {
    /// Target classes relabelled 0..T (long-tailed, head first), then auxiliary classes T..K;
    /// class names = target names then auxiliary names.
    pub train: Dataset,
    /// The base test images of the target classes only, relabelled 0..T, in file order.
    pub test: Dataset,
    /// T, the number of target classes.
    pub targets: usize,
    /// K×K row-major, true = class j stays in the softmax of a sample labelled y.
    pub mask: Vec<bool>,
    /// The base training-set index of each `train` image.
    pub origin: Vec<usize>,
}

/// Builds the training union: the target classes of `base_train` made long-tailed over T
/// classes exactly as [`targets_only`] does (same seed ⇒ same images), then for each auxiliary
/// class a pool of `aux_per_class` distinct images (fewer if the class has fewer) drawn from
/// `base_train` with its own SplitMix64 stream. `p_aux = None` keeps every pool (the natural
/// proportion); `Some(p)` resizes the auxiliary part to round(p·n_T/(1−p)) images, split evenly
/// over the auxiliary classes (the first classes take the remainder), each class taking the
/// first images of its pool and cycling through it again when it needs more.
#[allow(clippy::too_many_arguments)]
pub fn build(
    base_train: &Dataset,
    base_test: &Dataset,
    map: &NeighbourMap,
    rho: f64,
    profile: Profile,
    aux_per_class: usize,
    p_aux: Option<f64>,
    kind: MaskKind,
    seed: u64,
) -> Result<Extrapolation> {
    let r = map.resolve(&base_train.class_names)?;
    if aux_per_class == 0 {
        return Err(map.error("aux_per_class must be at least 1"));
    }
    let (t, k) = (r.targets.len(), r.targets.len() + r.auxiliary.len());
    let mut origin = target_origin(base_train, &r.targets, rho, profile, seed, map)?;
    let pools = aux_pools(base_train, &r.auxiliary, aux_per_class, seed, map)?;
    let sizes = aux_sizes(&pools, origin.len(), p_aux, map)?;
    for (pool, m) in pools.iter().zip(sizes) {
        origin.extend((0..m).map(|i| pool[i % pool.len()]));
    }
    let base_labels: Vec<u32> = r.targets.iter().chain(&r.auxiliary).copied().collect();
    let names: Vec<String> = map.targets.iter().chain(&map.auxiliary).cloned().collect();
    Ok(Extrapolation {
        train: relabelled(base_train, &origin, &base_labels, &names)?,
        test: target_test(base_train, base_test, &r.targets, map)?,
        targets: t,
        mask: silence_mask(t, k, &r.nb, kind)?,
        origin,
    })
}

/// The baseline: the target classes alone, with the long-tailed training images and the test
/// set [`build`] gives for the same arguments (the first n_T images of its `train`).
pub fn targets_only(
    base_train: &Dataset,
    base_test: &Dataset,
    map: &NeighbourMap,
    rho: f64,
    profile: Profile,
    seed: u64,
) -> Result<(Dataset, Dataset)> {
    let r = map.resolve(&base_train.class_names)?;
    let origin = target_origin(base_train, &r.targets, rho, profile, seed, map)?;
    Ok((
        relabelled(base_train, &origin, &r.targets, &map.targets)?,
        target_test(base_train, base_test, &r.targets, map)?,
    ))
}

/// Base indices of the long-tailed target images: the target classes' images in file order,
/// relabelled in map order, through [`long_tailed_indices`].
fn target_origin(
    base: &Dataset,
    targets: &[u32],
    rho: f64,
    profile: Profile,
    seed: u64,
    map: &NeighbourMap,
) -> Result<Vec<usize>> {
    if !(rho.is_finite() && rho >= 1.0) {
        return Err(map.error(format_args!("rho must be >= 1, got {rho}")));
    }
    let (pos, labels): (Vec<usize>, Vec<u32>) = base
        .labels
        .iter()
        .enumerate()
        .filter_map(|(i, y)| Some((i, targets.iter().position(|t| t == y)? as u32)))
        .unzip();
    let keep = long_tailed_indices(&labels, targets.len(), rho, profile, seed)
        .map_err(|e| map.error(e))?;
    Ok(keep.into_iter().map(|i| pos[i]).collect())
}

/// Each auxiliary class's pool: its base indices (file order) shuffled by its own stream, the
/// first `per_class` kept.
fn aux_pools(
    base: &Dataset,
    auxiliary: &[u32],
    per_class: usize,
    seed: u64,
    map: &NeighbourMap,
) -> Result<Vec<Vec<usize>>> {
    auxiliary
        .iter()
        .zip(&map.auxiliary)
        .map(|(&b, name)| {
            let mut idx: Vec<usize> = (0..base.len()).filter(|&i| base.labels[i] == b).collect();
            if idx.is_empty() {
                return Err(map.error(format_args!(
                    "auxiliary class `{name}` has no training images"
                )));
            }
            SplitMix64::keyed(seed, AUX_STREAM + b as u64).shuffle(&mut idx);
            idx.truncate(per_class);
            Ok(idx)
        })
        .collect()
}

/// Images per auxiliary class: the pool sizes, or round(p·n_T/(1−p)) split evenly.
fn aux_sizes(
    pools: &[Vec<usize>],
    n_targets: usize,
    p_aux: Option<f64>,
    map: &NeighbourMap,
) -> Result<Vec<usize>> {
    let Some(p) = p_aux else {
        return Ok(pools.iter().map(Vec::len).collect());
    };
    if !(p > 0.0 && p < 1.0) {
        return Err(map.error(format_args!("p_aux must be in (0, 1), got {p}")));
    }
    let total = (p * n_targets as f64 / (1.0 - p)).round() as usize;
    let a = pools.len();
    if total < a {
        return Err(map.error(format_args!(
            "p_aux {p} gives {total} auxiliary images for {a} auxiliary classes (at least one each)"
        )));
    }
    Ok((0..a)
        .map(|i| total / a + usize::from(i < total % a))
        .collect())
}

/// The images at base indices `origin`, base label `base_labels[j]` becoming label j.
fn relabelled(
    base: &Dataset,
    origin: &[usize],
    base_labels: &[u32],
    names: &[String],
) -> Result<Dataset> {
    let mut ds = base.subset(origin)?;
    for y in &mut ds.labels {
        *y = base_labels.iter().position(|b| b == y).unwrap_or(0) as u32;
    }
    ds.classes = names.len();
    ds.class_names = names.to_vec();
    Ok(ds)
}

/// The base test images of the target classes, in file order, relabelled in map order.
fn target_test(
    base_train: &Dataset,
    base_test: &Dataset,
    targets: &[u32],
    map: &NeighbourMap,
) -> Result<Dataset> {
    let shape = |d: &Dataset| (d.channels, d.height, d.width);
    if base_test.class_names != base_train.class_names || shape(base_test) != shape(base_train) {
        return Err(Error::Invalid {
            op: "extrapolation",
            msg: "the training and test sets differ in class names or image shape".into(),
        });
    }
    let idx: Vec<usize> = (0..base_test.len())
        .filter(|&i| targets.contains(&base_test.labels[i]))
        .collect();
    relabelled(base_test, &idx, targets, &map.targets)
}
