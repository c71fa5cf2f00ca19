//! Reverse-mode autograd, micrograd-style: each op output keeps its parents and a backward closure;
//! `backward` walks them in reverse topological order and accumulates gradients by addition.
//!
//! CONTRACT for every backward rule: it receives the gradient of its output (`g`) and must chain
//! it — never assume `g` is ones. `tests/gradcheck.rs` checks each rule mid-graph with a non-unit
//! upstream coefficient.

use crate::{Result, Tensor};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

/// Returns the gradient of each parent (in order), `None` where a parent gets none.
pub type BackwardFn = dyn Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync;

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

/// Backpropagates from `root` (any shape) with upstream gradient `seed` of the same shape,
/// accumulating into the `.grad` of every parameter reached.
pub(crate) fn backward(root: &Tensor, seed: Tensor) -> Result<()> {
    let _guard = no_grad();
    let order = topo_order(root);
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    grads.insert(root.id(), seed);
    for t in order.iter().rev() {
        let Some(g) = grads.remove(&t.id()) else {
            continue;
        };
        if t.is_param() && t.requires_grad() {
            t.accumulate_grad(&g)?;
        }
        let Some(node) = t.node() else { continue };
        let parent_grads = (node.backward)(&g)?;
        for (p, pg) in node.parents.iter().zip(parent_grads) {
            let Some(pg) = pg else { continue };
            if !p.requires_grad() {
                continue;
            }
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
