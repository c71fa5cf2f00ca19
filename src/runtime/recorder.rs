//! Step recording: ops append dispatches and copies here; `flush` encodes them into one encoder
//! (consecutive dispatches share one compute pass), writes all uniform parameters with one
//! `write_buffer`, and submits once.

use super::pool::{GpuBuffer, GpuTexture};
use std::collections::HashMap;
use std::sync::Arc;

/// A resource bound at binding `i + 1` of a dispatch.
#[derive(Clone)]
pub enum Res {
    Buf(Arc<GpuBuffer>),
    /// A pooled texture: held until submit, like buffers, so the pool never hands it out while
    /// recorded commands still use it.
    Tex(Arc<GpuTexture>),
}

pub(crate) struct Dispatch {
    pub pipeline: Arc<wgpu::ComputePipeline>,
    pub layout: Arc<wgpu::BindGroupLayout>,
    /// Byte range of this dispatch's parameters in the uniform arena.
    pub params: std::ops::Range<u64>,
    pub res: Vec<Res>,
    pub groups: [u32; 3],
}

pub(crate) enum Cmd {
    Dispatch(Dispatch),
    Copy {
        src: Arc<GpuBuffer>,
        src_off: u64,
        dst: Arc<GpuBuffer>,
        dst_off: u64,
        bytes: u64,
    },
    CopyToTexture {
        src: Arc<GpuBuffer>,
        dst: Arc<GpuTexture>,
        bytes_per_row: u32,
        size: [u32; 2],
    },
}

/// Commands recorded since the last submit.
#[derive(Default)]
pub(crate) struct Recorder {
    pub cmds: Vec<Cmd>,
    pub arena: Vec<u8>,
    /// `queue.write_buffer` calls since the last submit (cubecl#1120: submit before 64 pile up).
    pub pending_writes: u32,
    /// The pool's handed-out-bytes counter at the last submit: recorded commands hold their
    /// resources, so a long recording grows memory instead of recycling it.
    pub handed_mark: u64,
    pub dispatches_total: u64,
    /// Dispatches per kernel (shader name, entry point), for tests that check what a step runs.
    pub per_kernel: HashMap<(&'static str, &'static str), u64>,
    pub submits_total: u64,
}

impl Recorder {
    /// Appends uniform bytes at the device's offset alignment, returning their range.
    pub fn push_params(&mut self, bytes: &[u8], align: u64) -> std::ops::Range<u64> {
        let start = (self.arena.len() as u64).next_multiple_of(align);
        self.arena.resize(start as usize, 0);
        self.arena.extend_from_slice(bytes);
        // A uniform binding must be at least 16 bytes and a multiple of 16.
        let end = (self.arena.len() as u64)
            .next_multiple_of(16)
            .max(start + 16);
        self.arena.resize(end as usize, 0);
        start..end
    }

    pub fn encode(
        &mut self,
        device: &wgpu::Device,
        uniforms: Option<&GpuBuffer>,
    ) -> wgpu::CommandBuffer {
        let mut enc = device.create_command_encoder(&Default::default());
        let cmds = std::mem::take(&mut self.cmds);
        let mut i = 0;
        while i < cmds.len() {
            match &cmds[i] {
                Cmd::Dispatch(_) => {
                    let mut pass = enc.begin_compute_pass(&Default::default());
                    while let Some(Cmd::Dispatch(d)) = cmds.get(i) {
                        let bg = bind_group(device, d, uniforms.expect("dispatch has params"));
                        pass.set_pipeline(&d.pipeline);
                        pass.set_bind_group(0, &bg, &[]);
                        pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
                        i += 1;
                    }
                }
                Cmd::Copy {
                    src,
                    src_off,
                    dst,
                    dst_off,
                    bytes,
                } => {
                    enc.copy_buffer_to_buffer(src.raw(), *src_off, dst.raw(), *dst_off, *bytes);
                    i += 1;
                }
                Cmd::CopyToTexture {
                    src,
                    dst,
                    bytes_per_row,
                    size,
                } => {
                    enc.copy_buffer_to_texture(
                        wgpu::TexelCopyBufferInfo {
                            buffer: src.raw(),
                            layout: wgpu::TexelCopyBufferLayout {
                                offset: 0,
                                bytes_per_row: Some(*bytes_per_row),
                                rows_per_image: None,
                            },
                        },
                        dst.texture().as_image_copy(),
                        wgpu::Extent3d {
                            width: size[0],
                            height: size[1],
                            depth_or_array_layers: 1,
                        },
                    );
                    i += 1;
                }
            }
        }
        self.arena.clear();
        self.pending_writes = 0;
        self.submits_total += 1;
        enc.finish()
    }
}

fn bind_group(device: &wgpu::Device, d: &Dispatch, uniforms: &GpuBuffer) -> wgpu::BindGroup {
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: uniforms.raw(),
            offset: d.params.start,
            size: std::num::NonZeroU64::new(d.params.end - d.params.start),
        }),
    }];
    for (i, r) in d.res.iter().enumerate() {
        let resource = match r {
            Res::Buf(b) => b.raw().as_entire_binding(),
            Res::Tex(t) => wgpu::BindingResource::TextureView(t.view()),
        };
        entries.push(wgpu::BindGroupEntry {
            binding: i as u32 + 1,
            resource,
        });
    }
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &d.layout,
        entries: &entries,
    })
}
