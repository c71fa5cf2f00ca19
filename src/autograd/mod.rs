//! Reverse-mode autograd, micrograd-style: each op output keeps its parents and a backward closure;
//! `backward` walks them in reverse topological order and accumulates gradients by addition.
//!
//! CONTRACT for every backward rule: it receives the gradient of its output (`g`) and must chain
//! it — never assume `g` is ones. `tests/common::gradcheck` checks each rule mid-graph with a
//! non-unit upstream coefficient. It also receives `need`, one flag per parent: whether that
//! parent leads to a trainable (unfrozen) parameter. It returns `None` for every parent not
//! needed and launches none of that parent's kernels, so a backward through a frozen model
//! computes input gradients only. A rule is called only when some parent is needed.

use crate::{Result, Tensor};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

/// `(g, need)` → the gradient of each parent (in order), `None` where `need` is false or a
/// parent gets none.
pub type BackwardFn = dyn Fn(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send + Sync;

pub(crate) struct Node {
    pub op: &'static str,
    pub parents: Vec<Tensor>,
    pub backward: Box<BackwardFn>,
}

thread_local! {
    static NO_GRAD: Cell<u32> = const { Cell::new(0) };
}

/// While alive, ops record no graph (evaluation, optimizer updates, backward itself).
pub struct NoGradGuard(());

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        NO_GRAD.with(|c| c.set(c.get() - 1));
    }
}

/// Turns graph recording off on this thread until the guard drops.
pub fn no_grad() -> NoGradGuard {
    NO_GRAD.with(|c| c.set(c.get() + 1));
    NoGradGuard(())
}

/// Whether ops on this thread currently record the graph.
pub fn grad_enabled() -> bool {
    NO_GRAD.with(|c| c.get() == 0)
}

/// Tensors reachable from `root` through graph nodes, parents before children.
fn topo_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // Iterative DFS: (tensor, children already pushed?)
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(node) = t.node() {
            for p in &node.parents {
                if p.requires_grad() && !seen.contains(&p.id()) {
                    stack.push((p.clone(), false));
                }
            }
        }
    }
    order
}

/// Ids of the tensors in `order` (parents first) whose gradient something needs: unfrozen
/// parameters and whatever depends on one. Read now, so freezing between forward and backward
/// counts too.
fn needed(order: &[Tensor]) -> HashSet<u64> {
    let mut need = HashSet::new();
    for t in order {
        let via_parent = t
            .node()
            .is_some_and(|n| n.parents.iter().any(|p| need.contains(&p.id())));
        if via_parent || (t.is_param() && t.requires_grad()) {
            need.insert(t.id());
        }
    }
    need
}

/// Backpropagates from `root` (any shape) with upstream gradient `seed` of the same shape,
/// accumulating into the `.grad` of every parameter reached.
pub(crate) fn backward(root: &Tensor, seed: Tensor) -> Result<()> {
    let _guard = no_grad();
    let order = topo_order(root);
    let needs = needed(&order);
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    grads.insert(root.id(), seed);
    for t in order.iter().rev() {
        if !needs.contains(&t.id()) {
            continue;
        }
        let Some(g) = grads.remove(&t.id()) else {
            continue;
        };
        if t.is_param() {
            t.accumulate_grad(&g)?;
        }
        let Some(node) = t.node() else { continue };
        let need: Vec<bool> = node
            .parents
            .iter()
            .map(|p| needs.contains(&p.id()))
            .collect();
        let parent_grads = (node.backward)(&g, &need)?;
        for ((p, pg), wanted) in node.parents.iter().zip(parent_grads).zip(need) {
            let Some(pg) = pg else { continue };
            debug_assert!(
                wanted,
                "backward of {} computed an unneeded gradient",
                node.op
            );
            debug_assert_eq!(
                pg.shape(),
                p.shape(),
                "backward of {} returned a wrong shape",
                node.op
            );
            let acc = match grads.remove(&p.id()) {
                Some(prev) => prev.add(&pg)?,
                None => pg,
            };
            grads.insert(p.id(), acc);
        }
    }
    Ok(())
}
