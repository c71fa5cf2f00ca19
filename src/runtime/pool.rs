//! Buffer pool keyed by (power-of-two size class, usage). A buffer returns to its free list when the
//! last `Arc<GpuBuffer>` drops; recorded commands hold clones, so a buffer is never reused before
//! the commands that read it are submitted, and the queue is in order after that.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

type Key = (u64, wgpu::BufferUsages);

/// A pooled wgpu buffer. `size` is the class size (≥ the bytes asked for).
pub struct GpuBuffer {
    raw: Option<wgpu::Buffer>,
    pub size: u64,
    usage: wgpu::BufferUsages,
    pool: Weak<PoolInner>,
}

impl GpuBuffer {
    pub fn raw(&self) -> &wgpu::Buffer {
        self.raw.as_ref().expect("buffer present until drop")
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let (Some(pool), Some(raw)) = (self.pool.upgrade(), self.raw.take()) {
            if !pool.disabled {
                let mut free = pool.free.lock().unwrap();
                free.entry((self.size, self.usage)).or_default().push(raw);
            }
        }
    }
}

type TexEntry = (Arc<wgpu::Texture>, Arc<wgpu::TextureView>);

/// A pooled `rgba32float` 2-D storage texture (`width` x `height` are the class size). Like
/// buffers, recorded commands hold the `Arc`, so it returns to the pool only after they are
/// submitted; another thread can never record a write into it between an op's copy and its read.
pub struct GpuTexture {
    raw: Option<TexEntry>,
    pub width: u32,
    pub height: u32,
    pool: Weak<PoolInner>,
}

impl GpuTexture {
    pub fn texture(&self) -> &Arc<wgpu::Texture> {
        &self.raw.as_ref().expect("texture present until drop").0
    }

    pub fn view(&self) -> &Arc<wgpu::TextureView> {
        &self.raw.as_ref().expect("texture present until drop").1
    }
}

impl Drop for GpuTexture {
    fn drop(&mut self) {
        if let (Some(pool), Some(raw)) = (self.pool.upgrade(), self.raw.take()) {
            if !pool.disabled {
                let mut free = pool.tex_free.lock().unwrap();
                free.entry((self.width, self.height)).or_default().push(raw);
            }
        }
    }
}

pub(crate) struct PoolInner {
    free: Mutex<HashMap<Key, Vec<wgpu::Buffer>>>,
    tex_free: Mutex<HashMap<(u32, u32), Vec<TexEntry>>>,
    created: AtomicU64,
    bytes_created: AtomicU64,
    /// Bytes of every buffer and texture handed out, reused or new.
    bytes_handed: AtomicU64,
    /// `TAILGRAD_DEBUG=nopool`: never reuse, to rule the pool out when hunting a bug.
    disabled: bool,
}

/// The pool. Cheap to clone.
#[derive(Clone)]
pub struct BufferPool(Arc<PoolInner>);

/// Smallest class: 256 bytes, a common uniform-offset alignment, so tiny buffers share one class.
const MIN_CLASS: u64 = 256;

pub fn size_class(bytes: u64) -> u64 {
    bytes.max(MIN_CLASS).next_power_of_two()
}

impl BufferPool {
    pub fn new(disabled: bool) -> Self {
        BufferPool(Arc::new(PoolInner {
            free: Mutex::new(HashMap::new()),
            tex_free: Mutex::new(HashMap::new()),
            created: AtomicU64::new(0),
            bytes_created: AtomicU64::new(0),
            bytes_handed: AtomicU64::new(0),
            disabled,
        }))
    }

    /// A buffer of at least `bytes`, reused when one of its class is free. Contents are undefined.
    pub fn get(
        &self,
        device: &wgpu::Device,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Arc<GpuBuffer> {
        self.get_capped(device, bytes, usage, u64::MAX)
    }

    /// As [`BufferPool::get`], but never larger than `cap`: a request whose power-of-two class
    /// would exceed it (a binding limit that is no power of two, like an H100's 2047 MiB) gets an
    /// exact-size buffer of its own class instead.
    pub fn get_capped(
        &self,
        device: &wgpu::Device,
        bytes: u64,
        usage: wgpu::BufferUsages,
        cap: u64,
    ) -> Arc<GpuBuffer> {
        let class = size_class(bytes);
        let size = if class > cap {
            bytes.next_multiple_of(256).min(cap)
        } else {
            class
        };
        self.0.bytes_handed.fetch_add(size, Ordering::Relaxed);
        let reused = self
            .0
            .free
            .lock()
            .unwrap()
            .get_mut(&(size, usage))
            .and_then(|v| v.pop());
        let raw = reused.unwrap_or_else(|| {
            self.0.created.fetch_add(1, Ordering::Relaxed);
            self.0.bytes_created.fetch_add(size, Ordering::Relaxed);
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tailgrad"),
                size,
                usage,
                mapped_at_creation: false,
            })
        });
        Arc::new(GpuBuffer {
            raw: Some(raw),
            size,
            usage,
            pool: Arc::downgrade(&self.0),
        })
    }

    /// An `rgba32float` storage texture of exactly `width` x `height`, reused when one is free.
    /// Contents are undefined.
    pub fn texture(&self, device: &wgpu::Device, width: u32, height: u32) -> Arc<GpuTexture> {
        self.0
            .bytes_handed
            .fetch_add(16 * width as u64 * height as u64, Ordering::Relaxed);
        let reused = self
            .0
            .tex_free
            .lock()
            .unwrap()
            .get_mut(&(width, height))
            .and_then(|v| v.pop());
        let raw = reused.unwrap_or_else(|| {
            self.0.created.fetch_add(1, Ordering::Relaxed);
            self.0
                .bytes_created
                .fetch_add(16 * width as u64 * height as u64, Ordering::Relaxed);
            let tex = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("tailgrad"),
                size: wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba32Float,
                usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let view = Arc::new(tex.create_view(&Default::default()));
            (Arc::new(tex), view)
        });
        Arc::new(GpuTexture {
            raw: Some(raw),
            width,
            height,
            pool: Arc::downgrade(&self.0),
        })
    }

    /// How many wgpu buffers and textures this pool has ever created (the steady-state test
    /// watches this).
    pub fn buffers_created(&self) -> u64 {
        self.0.created.load(Ordering::Relaxed)
    }

    /// Bytes of all buffers and textures ever created.
    pub fn bytes_created(&self) -> u64 {
        self.0.bytes_created.load(Ordering::Relaxed)
    }

    pub fn bytes_handed(&self) -> u64 {
        self.0.bytes_handed.load(Ordering::Relaxed)
    }
}
