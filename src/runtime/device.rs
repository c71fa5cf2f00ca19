//! The device: one wgpu device and queue plus the pipeline cache, the buffer pool and the recorder.

use super::adapter::{self, AdapterReport};
use super::kernel::Kernel;
use super::pipelines::PipelineCache;
use super::pool::{BufferPool, GpuBuffer, GpuTexture};
use super::recorder::{Cmd, Dispatch, Recorder, Res};
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Which kernel variants suit the adapter (see docs/kernels.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceClass {
    /// A CPU rasterizer (lavapipe, llvmpipe, WARP, SwiftShader): no workgroup-memory tiling,
    /// loads through `textureLoad`, few barriers.
    Software,
    /// A real GPU: workgroup-tiled, register-blocked kernels.
    Gpu,
}

pub(crate) struct Inner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub report: AdapterReport,
    pub class: DeviceClass,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    /// `rgba32float` can be bound as a read-only and as a write-only storage texture.
    pub storage_textures: bool,
    pub pipelines: PipelineCache,
    pub pool: BufferPool,
    pub rec: Mutex<Recorder>,
    /// The submission of the previous [`Device::end_step`], which the next one waits for.
    pub last_step: Mutex<Option<wgpu::SubmissionIndex>>,
    /// Bytes of resources a recording may hand out before `dispatch` submits on its own.
    pub recording_limit: AtomicU64,
    /// `TAILGRAD_DEBUG=sync`: submit and check every op's output for NaN/Inf.
    pub debug_sync: bool,
    /// Any `TAILGRAD_DEBUG` value: build every shader with bounds checks.
    pub checked: bool,
    /// The first error wgpu reported (validation, out of memory); returned by every later call.
    pub gpu_error: Arc<Mutex<Option<String>>>,
}

/// A handle to the GPU. Cheap to clone; all clones share one queue and one recorder.
#[derive(Clone)]
pub struct Device(pub(crate) Arc<Inner>);

static DEFAULT: OnceLock<std::result::Result<Device, String>> = OnceLock::new();

/// Recorded commands / uniform bytes after which `dispatch` submits on its own.
const MAX_RECORDED: usize = 8192;
const MAX_ARENA: usize = 16 << 20;
/// Bytes of buffers and textures handed out since the last submit after which `dispatch`
/// submits on its own. Recorded commands hold their resources until submitted, so without this
/// an eval loop over many large batches that reads back once at the end would keep every batch's
/// activations alive. A ResNet-32 training step at batch 128 hands out 2.9 GB, so it stays one
/// submit. [`Device::set_recording_limit`] changes it.
const MAX_HELD: u64 = 4 << 30;

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl Device {
    /// The process-wide default device, opened on first use (see [`Device::open`]).
    pub fn get() -> Result<Device> {
        DEFAULT
            .get_or_init(|| Device::open().map_err(|e| e.to_string()))
            .clone()
            .map_err(|e| Error::Gpu(e.to_string()))
    }

    /// Opens the best adapter (honouring `TAILGRAD_BACKEND` / `TAILGRAD_ADAPTER`) with its own
    /// limits and the optional features it has.
    pub fn open() -> Result<Device> {
        let (_instance, adapter) = adapter::pick()?;
        let report = AdapterReport::new(&adapter);
        let wanted = wgpu::Features::SUBGROUP
            | wgpu::Features::SHADER_F16
            | wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        let features = adapter.features() & wanted;
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("tailgrad"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::DeviceRequest {
            adapter: report.name.clone(),
            reason: e.to_string(),
        })?;
        let tex = adapter.get_texture_format_features(wgpu::TextureFormat::Rgba32Float);
        let storage_textures = tex
            .allowed_usages
            .contains(wgpu::TextureUsages::STORAGE_BINDING)
            && tex.flags.contains(
                wgpu::TextureFormatFeatureFlags::STORAGE_READ_ONLY
                    | wgpu::TextureFormatFeatureFlags::STORAGE_WRITE_ONLY,
            );
        let info = adapter.get_info();
        let class = if info.device_type == wgpu::DeviceType::Cpu
            || ["llvmpipe", "lavapipe", "swiftshader", "warp"]
                .iter()
                .any(|s| info.name.to_lowercase().contains(s))
        {
            DeviceClass::Software
        } else {
            DeviceClass::Gpu
        };
        let debug = std::env::var("TAILGRAD_DEBUG").unwrap_or_default();
        // wgpu's default handler panics; keep the first error and return it as Error::Gpu.
        let gpu_error = Arc::new(Mutex::new(None));
        let slot = gpu_error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            slot.lock().unwrap().get_or_insert_with(|| e.to_string());
        }));
        Ok(Device(Arc::new(Inner {
            device,
            queue,
            report,
            class,
            limits,
            features,
            storage_textures,
            pipelines: PipelineCache::default(),
            pool: BufferPool::new(debug.split(',').any(|s| s == "nopool")),
            rec: Mutex::new(Recorder::default()),
            last_step: Mutex::new(None),
            recording_limit: AtomicU64::new(MAX_HELD),
            debug_sync: debug.split(',').any(|s| s == "sync"),
            checked: !debug.is_empty(),
            gpu_error,
        })))
    }

    pub fn report(&self) -> &AdapterReport {
        &self.0.report
    }

    pub fn class(&self) -> DeviceClass {
        self.0.class
    }

    /// Loop iterations one invocation may run per dispatch: [`SOFTWARE_LOOP_BUDGET`] on software
    /// adapters, unbounded on GPUs.
    ///
    /// [`SOFTWARE_LOOP_BUDGET`]: super::SOFTWARE_LOOP_BUDGET
    pub fn loop_budget(&self) -> u64 {
        match self.0.class {
            DeviceClass::Software => super::kernel::SOFTWARE_LOOP_BUDGET,
            DeviceClass::Gpu => u64::MAX,
        }
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.0.limits
    }

    pub fn has_feature(&self, f: wgpu::Features) -> bool {
        self.0.features.contains(f)
    }

    pub fn wgpu(&self) -> &wgpu::Device {
        &self.0.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.0.queue
    }

    pub fn debug_sync(&self) -> bool {
        self.0.debug_sync
    }

    /// Whether `rgba32float` storage textures can be written and read (`Bind::StorageTexture`,
    /// `Bind::ReadStorageTexture`).
    pub fn storage_textures(&self) -> bool {
        self.0.storage_textures
    }

    /// A pooled `rgba32float` storage texture of `width` x at least `height` texels (heights are
    /// rounded up to a power of two where the device allows, so shapes share textures).
    pub fn texture(&self, op: &'static str, width: u32, height: u32) -> Result<Arc<GpuTexture>> {
        let max = self.0.limits.max_texture_dimension_2d;
        let height = height.max(1);
        if width > max || height > max {
            return Err(Error::TooLarge {
                op,
                bytes: 16 * width as u64 * height as u64,
                limit: 16 * max as u64 * max as u64,
            });
        }
        let class = height.checked_next_power_of_two().filter(|&h| h <= max);
        Ok(self
            .0
            .pool
            .texture(&self.0.device, width, class.unwrap_or(height)))
    }

    /// wgpu buffers and textures created so far; flat in a steady-state training loop.
    pub fn buffers_created(&self) -> u64 {
        self.0.pool.buffers_created()
    }

    /// Bytes of buffers and textures created so far (pool misses).
    pub fn bytes_created(&self) -> u64 {
        self.0.pool.bytes_created()
    }

    /// Sets how many bytes of buffers and textures one recording may hand out before it is
    /// submitted on its own (default 4 GiB): lower it on devices with little memory.
    pub fn set_recording_limit(&self, bytes: u64) {
        self.0.recording_limit.store(bytes, Ordering::Relaxed);
    }

    /// Bytes of buffers and textures handed out so far, reused or new.
    pub fn bytes_handed(&self) -> u64 {
        self.0.pool.bytes_handed()
    }

    /// Compiled pipelines so far.
    pub fn pipelines_compiled(&self) -> usize {
        self.0.pipelines.len()
    }

    /// (dispatches recorded, submits) since the device opened.
    pub fn counters(&self) -> (u64, u64) {
        let r = self.0.rec.lock().unwrap();
        (r.dispatches_total, r.submits_total)
    }

    /// Dispatches recorded since the device opened, per kernel: (shader name, entry point), e.g.
    /// `("conv2d_wgrad_tex", "wgrad")`.
    pub fn dispatch_counts(&self) -> HashMap<(&'static str, &'static str), u64> {
        self.0.rec.lock().unwrap().per_kernel.clone()
    }

    /// Largest byte size one storage binding may have.
    pub fn max_binding(&self) -> u64 {
        self.0
            .limits
            .max_storage_buffer_binding_size
            .min(self.0.limits.max_buffer_size)
    }

    /// A storage buffer for `bytes` bytes (refused with a clear error past the binding limit).
    pub fn alloc(&self, op: &'static str, bytes: u64) -> Result<Arc<GpuBuffer>> {
        if bytes > self.max_binding() {
            return Err(Error::TooLarge {
                op,
                bytes,
                limit: self.max_binding(),
            });
        }
        let cap = self.max_binding() & !3;
        Ok(self.0.pool.get_capped(&self.0.device, bytes, STORAGE, cap))
    }

    /// Writes `data` into a buffer nobody has recorded a command on yet.
    pub fn upload(&self, buf: &GpuBuffer, data: &[u8]) {
        let mut rec = self.0.rec.lock().unwrap();
        self.0.queue.write_buffer(buf.raw(), 0, data);
        rec.pending_writes += 1;
        if rec.pending_writes >= 64 {
            self.submit_locked(&mut rec);
        }
    }

    /// Records one dispatch of `k` specialized by `consts`, with `params` at binding 0 and `res` at
    /// bindings 1... `op` names the op for `TAILGRAD_DEBUG=sync`, which checks the f32 buffers in
    /// `check` (with their element counts) for NaN/Inf right after the dispatch.
    #[allow(clippy::too_many_arguments)] // one flat launch call reads best at every op's call site
    pub fn dispatch(
        &self,
        op: &'static str,
        k: &'static Kernel,
        consts: &[(&str, f64)],
        params: &[u8],
        res: Vec<Res>,
        groups: [u32; 3],
        check: &[(&Arc<GpuBuffer>, usize)],
    ) -> Result<()> {
        debug_assert_eq!(res.len(), k.bindings.len(), "{}: binding count", k.entry);
        self.check_gpu_error()?;
        let lim = self.0.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > lim) {
            return Err(Error::Invalid {
                op,
                msg: format!(
                    "needs a grid of {groups:?} workgroups; the device allows {lim} per dimension"
                ),
            });
        }
        let pipe = self
            .0
            .pipelines
            .get(&self.0.device, k, consts, self.0.checked);
        {
            let mut rec = self.0.rec.lock().unwrap();
            let align = self.0.limits.min_uniform_buffer_offset_alignment as u64;
            let params = rec.push_params(params, align);
            rec.cmds.push(Cmd::Dispatch(Dispatch {
                pipeline: pipe.raw,
                layout: pipe.layout,
                params,
                res,
                groups,
            }));
            rec.dispatches_total += 1;
            *rec.per_kernel.entry((k.name, k.entry)).or_default() += 1;
            // A caller that never reads back must not grow the recording without bound (it
            // holds every intermediate buffer alive); a training step stays far below this.
            let held = self.0.pool.bytes_handed() - rec.handed_mark;
            if rec.cmds.len() >= MAX_RECORDED
                || rec.arena.len() >= MAX_ARENA
                || held >= self.0.recording_limit.load(Ordering::Relaxed)
            {
                self.submit_locked(&mut rec);
            }
        }
        if self.0.debug_sync {
            self.check_finite(op, check)?;
        }
        Ok(())
    }

    fn check_finite(&self, op: &'static str, check: &[(&Arc<GpuBuffer>, usize)]) -> Result<()> {
        for (buf, n) in check {
            let v = self.read_f32(buf, *n)?;
            if let Some((index, value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                return Err(Error::NonFinite {
                    op,
                    index,
                    value: *value,
                });
            }
        }
        Ok(())
    }

    /// Records a buffer-to-buffer copy.
    pub fn copy(
        &self,
        src: &Arc<GpuBuffer>,
        src_off: u64,
        dst: &Arc<GpuBuffer>,
        dst_off: u64,
        bytes: u64,
    ) {
        let mut rec = self.0.rec.lock().unwrap();
        rec.cmds.push(Cmd::Copy {
            src: src.clone(),
            src_off,
            dst: dst.clone(),
            dst_off,
            bytes,
        });
    }

    /// Records a copy of a buffer into an `rgba32float` texture (`bytes_per_row` a multiple of 256).
    pub fn copy_to_texture(
        &self,
        src: &Arc<GpuBuffer>,
        dst: &Arc<GpuTexture>,
        bytes_per_row: u32,
        size: [u32; 2],
    ) {
        let mut rec = self.0.rec.lock().unwrap();
        rec.cmds.push(Cmd::CopyToTexture {
            src: src.clone(),
            dst: dst.clone(),
            bytes_per_row,
            size,
        });
    }

    /// Submits everything recorded so far (one encoder, one submit). Does not wait.
    pub fn flush(&self) {
        let mut rec = self.0.rec.lock().unwrap();
        self.submit_locked(&mut rec);
    }

    fn submit_locked(&self, rec: &mut Recorder) -> Option<wgpu::SubmissionIndex> {
        // Queue writes ride on the next submit, so only skip when there are none pending either.
        rec.handed_mark = self.0.pool.bytes_handed();
        if rec.cmds.is_empty() && rec.pending_writes == 0 {
            return None;
        }
        let uniforms = (!rec.arena.is_empty()).then(|| {
            let u = self.0.pool.get(
                &self.0.device,
                rec.arena.len() as u64,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            );
            self.0.queue.write_buffer(u.raw(), 0, &rec.arena);
            u
        });
        let cb = rec.encode(&self.0.device, uniforms.as_deref());
        Some(self.0.queue.submit([cb]))
    }

    /// Ends a training step: submits it, then waits for the *previous* step's submission, so the
    /// CPU records step n+1 while the GPU runs step n but never runs further ahead (progress bars
    /// and timings stay honest, queued work stays bounded). Reads nothing back.
    pub fn end_step(&self) -> Result<()> {
        let index = {
            let mut rec = self.0.rec.lock().unwrap();
            self.submit_locked(&mut rec)
        };
        let prev = std::mem::replace(&mut *self.0.last_step.lock().unwrap(), index);
        if let Some(prev) = prev {
            self.0
                .device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(prev),
                    timeout: None,
                })
                .map_err(|e| Error::Gpu(e.to_string()))?;
        }
        self.check_gpu_error()
    }

    /// Waits until the GPU has finished everything submitted.
    pub fn sync(&self) -> Result<()> {
        self.flush();
        self.0
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| Error::Gpu(e.to_string()))?;
        self.check_gpu_error()
    }

    /// The first error wgpu reported, if any (it poisons the device: every later call returns it).
    pub fn check_gpu_error(&self) -> Result<()> {
        match &*self.0.gpu_error.lock().unwrap() {
            Some(e) => Err(Error::Gpu(e.clone())),
            None => Ok(()),
        }
    }

    /// Reads several buffers back with one submit and one wait: `(buffer, bytes)` pairs.
    pub fn read_many(&self, bufs: &[(&Arc<GpuBuffer>, u64)]) -> Result<Vec<Vec<u8>>> {
        let mut offsets = Vec::with_capacity(bufs.len());
        let mut total = 0u64;
        for (_, bytes) in bufs {
            offsets.push(total);
            total = (total + bytes).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT.max(4));
        }
        let staging = self.0.pool.get(
            &self.0.device,
            total.max(4),
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        for ((buf, bytes), off) in bufs.iter().zip(&offsets) {
            self.copy(buf, 0, &staging, *off, bytes.next_multiple_of(4));
        }
        self.flush();
        self.check_gpu_error()?;
        let (tx, rx) = std::sync::mpsc::channel();
        let slice = staging.raw().slice(..total.max(4));
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.0
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| Error::Gpu(e.to_string()))?;
        rx.recv()
            .map_err(|e| Error::Gpu(e.to_string()))?
            .map_err(|e| Error::Gpu(e.to_string()))?;
        let out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Gpu(e.to_string()))?;
            bufs.iter()
                .zip(&offsets)
                .map(|((_, bytes), off)| view[*off as usize..(*off + *bytes) as usize].to_vec())
                .collect()
        };
        staging.raw().unmap();
        Ok(out)
    }

    /// Reads `n` f32 values from the start of `buf`.
    pub fn read_f32(&self, buf: &Arc<GpuBuffer>, n: usize) -> Result<Vec<f32>> {
        let bytes = self
            .read_many(&[(buf, 4 * n as u64)])?
            .pop()
            .unwrap_or_default();
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}
