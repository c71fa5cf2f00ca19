//! `Tensor`: a contiguous, row-major GPU buffer with a shape, an element type and, when it takes
//! part in autograd, a graph node. Cloning is cheap (an `Arc`).

use crate::autograd::{self, BackwardFn, Node};
use crate::runtime::{Device, GpuBuffer};
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Element type. Compute is f32; u32 carries labels and indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
}

pub(crate) struct Inner {
    id: u64,
    buf: Arc<GpuBuffer>,
    shape: Vec<usize>,
    dtype: DType,
    device: Device,
    node: Option<Node>,
    param: bool,
    /// A frozen parameter takes no part in autograd until unfrozen (see `set_requires_grad`).
    frozen: AtomicBool,
    grad: Mutex<Option<Tensor>>,
}

/// A GPU tensor. See the crate docs for the op list.
#[derive(Clone)]
pub struct Tensor(Arc<Inner>);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?}, {:?}", self.shape(), self.dtype())?;
        if let Some(n) = self.node() {
            write!(f, ", op={}", n.op)?;
        }
        write!(f, ")")
    }
}

/// Refuses shapes with a zero-sized dimension (GPU buffers cannot be empty).
pub(crate) fn check_shape(op: &'static str, shape: &[usize]) -> Result<usize> {
    if shape.contains(&0) {
        return Err(Error::ZeroSized {
            op,
            shape: shape.to_vec(),
        });
    }
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| Error::Invalid {
            op,
            msg: format!("shape {shape:?} has more elements than fit in memory"),
        })
}

impl Tensor {
    /// Wraps a buffer as a fresh leaf tensor (no graph).
    pub(crate) fn from_buffer(
        device: &Device,
        buf: Arc<GpuBuffer>,
        shape: Vec<usize>,
        dtype: DType,
    ) -> Tensor {
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            buf,
            shape,
            dtype,
            device: device.clone(),
            node: None,
            param: false,
            frozen: AtomicBool::new(false),
            grad: Mutex::new(None),
        }))
    }

    /// An uninitialized tensor for an op to write.
    pub(crate) fn empty(
        device: &Device,
        op: &'static str,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        let n = check_shape(op, shape)?;
        let buf = device.alloc(op, 4 * n as u64)?;
        Ok(Tensor::from_buffer(device, buf, shape.to_vec(), dtype))
    }

    /// Attaches a graph node to an op's output if grad is on and any parent requires grad.
    /// `backward` follows the contract in `autograd`: `None` for each parent not needed.
    pub(crate) fn with_grad(
        self,
        op: &'static str,
        parents: &[&Tensor],
        backward: Box<BackwardFn>,
    ) -> Tensor {
        if !autograd::grad_enabled() || !parents.iter().any(|p| p.requires_grad()) {
            return self;
        }
        let inner =
            Arc::try_unwrap(self.0).unwrap_or_else(|_| unreachable!("fresh op output is unshared"));
        Tensor(Arc::new(Inner {
            node: Some(Node {
                op,
                parents: parents.iter().map(|p| (*p).clone()).collect(),
                backward,
            }),
            ..inner
        }))
    }

    /// [`Tensor::with_grad`] for one parent: `rule` maps the output's gradient to the parent's
    /// (autograd calls it only when the parent is needed).
    pub(crate) fn with_grad1(
        self,
        op: &'static str,
        parent: &Tensor,
        rule: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
    ) -> Tensor {
        self.with_grad(
            op,
            &[parent],
            Box::new(move |g, _| Ok(vec![Some(rule(g)?)])),
        )
    }

    /// A tensor from host data.
    pub fn from_slice(device: &Device, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        Self::upload(
            device,
            bytemuck::cast_slice(data),
            data.len(),
            shape,
            DType::F32,
        )
    }

    /// A u32 tensor (labels, indices) from host data.
    pub fn from_u32(device: &Device, data: &[u32], shape: &[usize]) -> Result<Tensor> {
        Self::upload(
            device,
            bytemuck::cast_slice(data),
            data.len(),
            shape,
            DType::U32,
        )
    }

    fn upload(
        device: &Device,
        bytes: &[u8],
        len: usize,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        let n = check_shape("from_slice", shape)?;
        if n != len {
            return Err(Error::Invalid {
                op: "from_slice",
                msg: format!("{len} values do not fill shape {shape:?} ({n} elements)"),
            });
        }
        let t = Tensor::empty(device, "from_slice", shape, dtype)?;
        device.upload(&t.0.buf, bytes);
        Ok(t)
    }

    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.shape.iter().product()
    }

    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    pub fn device(&self) -> &Device {
        &self.0.device
    }

    pub(crate) fn buf(&self) -> &Arc<GpuBuffer> {
        &self.0.buf
    }

    pub(crate) fn id(&self) -> u64 {
        self.0.id
    }

    pub(crate) fn node(&self) -> Option<&Node> {
        self.0.node.as_ref()
    }

    /// Whether the tensor is an unfrozen parameter or depends on one.
    pub fn requires_grad(&self) -> bool {
        (self.0.param && !self.0.frozen.load(Ordering::Relaxed)) || self.0.node.is_some()
    }

    /// Freezes (`false`) or unfreezes (`true`) a parameter, PyTorch's `requires_grad_`: a frozen
    /// parameter is a constant to the ops recorded while it is frozen, so `backward` neither
    /// computes nor accumulates its gradient. Every handle shares the flag (an optimizer's too).
    /// Toggle it between steps: the ops and `backward` read it when they run.
    pub fn set_requires_grad(&self, on: bool) -> Result<()> {
        if !self.0.param {
            return Err(Error::Invalid {
                op: "set_requires_grad",
                msg: format!(
                    "{self:?} is not a parameter (use into_param to train it, detach to cut it)"
                ),
            });
        }
        self.0.frozen.store(!on, Ordering::Relaxed);
        Ok(())
    }

    pub fn is_param(&self) -> bool {
        self.0.param
    }

    /// The same data as a trainable leaf: `backward` accumulates into its `.grad()`.
    pub fn into_param(self) -> Tensor {
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            buf: self.0.buf.clone(),
            shape: self.0.shape.clone(),
            dtype: self.0.dtype,
            device: self.0.device.clone(),
            node: None,
            param: true,
            frozen: AtomicBool::new(false),
            grad: Mutex::new(None),
        }))
    }

    /// The same data, cut from the graph.
    pub fn detach(&self) -> Tensor {
        Tensor::from_buffer(
            &self.0.device,
            self.0.buf.clone(),
            self.0.shape.clone(),
            self.0.dtype,
        )
    }

    /// Same buffer, new shape (element count must match). Differentiable.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let n = check_shape("reshape", shape)?;
        if n != self.numel() {
            return Err(Error::Shape {
                op: "reshape",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        let out = Tensor::from_buffer(
            &self.0.device,
            self.0.buf.clone(),
            shape.to_vec(),
            self.0.dtype,
        );
        let in_shape = self.shape().to_vec();
        Ok(out.with_grad1("reshape", self, move |g| g.reshape(&in_shape)))
    }

    /// Overwrites this tensor's values with `src`'s (same shape and dtype), in place: every
    /// handle to this buffer (an optimizer's parameter list, say) sees the new values. Records a
    /// GPU copy; not differentiable.
    pub fn assign(&self, src: &Tensor) -> Result<()> {
        if src.shape() != self.shape() || src.dtype() != self.dtype() {
            return Err(Error::Shape {
                op: "assign",
                lhs: self.shape().to_vec(),
                rhs: src.shape().to_vec(),
            });
        }
        let bytes = 4 * self.numel() as u64;
        self.0.device.copy(src.buf(), 0, self.buf(), 0, bytes);
        Ok(())
    }

    /// The accumulated gradient of a parameter.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().unwrap().clone()
    }

    /// Clears the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.lock().unwrap() = None;
    }

    pub(crate) fn accumulate_grad(&self, g: &Tensor) -> Result<()> {
        let mut slot = self.0.grad.lock().unwrap();
        *slot = Some(match slot.take() {
            Some(prev) => prev.add(g)?,
            None => g.detach(),
        });
        Ok(())
    }

    /// Backpropagates from this scalar (one-element) tensor.
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::Invalid {
                op: "backward",
                msg: format!(
                    "needs a one-element tensor, got shape {:?}; use backward_with",
                    self.shape()
                ),
            });
        }
        let seed = Tensor::full(self.device(), self.shape(), 1.0)?;
        autograd::backward(self, seed)
    }

    /// Backpropagates with an explicit upstream gradient of this tensor's shape.
    pub fn backward_with(&self, grad: &Tensor) -> Result<()> {
        if grad.shape() != self.shape() {
            return Err(Error::Shape {
                op: "backward_with",
                lhs: self.shape().to_vec(),
                rhs: grad.shape().to_vec(),
            });
        }
        autograd::backward(self, grad.detach())
    }

    /// Reads the values back (f32; u32 tensors are converted).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        match self.dtype() {
            DType::F32 => self.device().read_f32(self.buf(), self.numel()),
            DType::U32 => Ok(self.to_vec_u32()?.into_iter().map(|v| v as f32).collect()),
        }
    }

    /// Reads a u32 tensor back.
    pub fn to_vec_u32(&self) -> Result<Vec<u32>> {
        let bytes = self
            .device()
            .read_many(&[(self.buf(), 4 * self.numel() as u64)])?;
        Ok(bytemuck::pod_collect_to_vec(&bytes[0]))
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::Invalid {
                op: "item",
                msg: format!("shape {:?} is not one element", self.shape()),
            });
        }
        Ok(self.to_vec()?[0])
    }

    pub(crate) fn expect_f32(&self, op: &'static str) -> Result<()> {
        if self.dtype() != DType::F32 {
            return Err(Error::Invalid {
                op,
                msg: format!("expects an f32 tensor, got {:?}", self.dtype()),
            });
        }
        Ok(())
    }
}

/// Reads several tensors back with one submit and one wait (use it for losses and metrics).
pub fn read_all(tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
    let Some(first) = tensors.first() else {
        return Ok(vec![]);
    };
    let bufs: Vec<_> = tensors
        .iter()
        .map(|t| (t.buf(), 4 * t.numel() as u64))
        .collect();
    let raw = first.device().read_many(&bufs)?;
    Ok(raw
        .iter()
        .zip(tensors)
        .map(|(b, t)| match t.dtype() {
            DType::F32 => bytemuck::pod_collect_to_vec(b),
            DType::U32 => bytemuck::pod_collect_to_vec::<u8, u32>(b)
                .into_iter()
                .map(|v| v as f32)
                .collect(),
        })
        .collect())
}
