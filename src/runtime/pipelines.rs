//! Compile-once caches: shader modules per source, bind-group layouts per binding signature,
//! pipelines per (kernel, entry, specialization constants).

use super::kernel::{Bind, Kernel};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A ready pipeline and the layout its bind groups are made against.
#[derive(Clone)]
pub struct Pipeline {
    pub raw: Arc<wgpu::ComputePipeline>,
    pub layout: Arc<wgpu::BindGroupLayout>,
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    modules: Mutex<HashMap<(&'static str, bool), Arc<wgpu::ShaderModule>>>,
    layouts: Mutex<HashMap<Vec<Bind>, Arc<wgpu::BindGroupLayout>>>,
    pipelines: Mutex<HashMap<(&'static str, &'static str, String), Pipeline>>,
}

fn layout_entry(binding: u32, ty: wgpu::BindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty,
        count: None,
    }
}

fn binding_type(b: Bind) -> wgpu::BindingType {
    match b {
        Bind::Read | Bind::ReadWrite => wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage {
                read_only: b == Bind::Read,
            },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        Bind::Texture => wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: false },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        Bind::StorageTexture | Bind::ReadStorageTexture => wgpu::BindingType::StorageTexture {
            access: if b == Bind::StorageTexture {
                wgpu::StorageTextureAccess::WriteOnly
            } else {
                wgpu::StorageTextureAccess::ReadOnly
            },
            format: wgpu::TextureFormat::Rgba32Float,
            view_dimension: wgpu::TextureViewDimension::D2,
        },
    }
}

impl PipelineCache {
    /// Number of compiled pipelines (each costs a JIT on first dispatch; keep it small).
    pub fn len(&self) -> usize {
        self.pipelines.lock().unwrap().len()
    }

    fn layout(&self, device: &wgpu::Device, binds: &[Bind]) -> Arc<wgpu::BindGroupLayout> {
        let mut map = self.layouts.lock().unwrap();
        map.entry(binds.to_vec())
            .or_insert_with(|| {
                let uniform = wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                };
                let mut entries = vec![layout_entry(0, uniform)];
                for (i, b) in binds.iter().enumerate() {
                    entries.push(layout_entry(i as u32 + 1, binding_type(*b)));
                }
                Arc::new(
                    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: None,
                        entries: &entries,
                    }),
                )
            })
            .clone()
    }

    fn module(
        &self,
        device: &wgpu::Device,
        k: &'static Kernel,
        checked: bool,
    ) -> Arc<wgpu::ShaderModule> {
        let trusted = k.trusted && !checked;
        let mut map = self.modules.lock().unwrap();
        map.entry((k.source_key(), trusted))
            .or_insert_with(|| {
                let desc = wgpu::ShaderModuleDescriptor {
                    label: Some(k.name),
                    source: wgpu::ShaderSource::Wgsl(k.source.into()),
                };
                Arc::new(if trusted {
                    // SAFETY: trusted kernels index only inside ranges that their awkward-shape
                    // tests cover; TAILGRAD_DEBUG forces the checked module.
                    unsafe {
                        device.create_shader_module_trusted(
                            desc,
                            wgpu::ShaderRuntimeChecks::unchecked(),
                        )
                    }
                } else {
                    device.create_shader_module(desc)
                })
            })
            .clone()
    }

    /// The pipeline for `k` specialized with WGSL `override` constants.
    pub fn get(
        &self,
        device: &wgpu::Device,
        k: &'static Kernel,
        consts: &[(&str, f64)],
        checked: bool,
    ) -> Pipeline {
        let key = (k.source_key(), k.entry, format!("{consts:?}"));
        if let Some(p) = self.pipelines.lock().unwrap().get(&key) {
            return p.clone();
        }
        let layout = self.layout(device, k.bindings);
        let module = self.module(device, k, checked);
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let raw = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(k.entry),
            layout: Some(&pl),
            module: &module,
            entry_point: Some(k.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: consts,
                zero_initialize_workgroup_memory: true,
            },
            cache: None,
        });
        let p = Pipeline {
            raw: Arc::new(raw),
            layout,
        };
        self.pipelines.lock().unwrap().insert(key, p.clone());
        p
    }
}

impl Kernel {
    /// Modules are keyed by source text address: one module per WGSL file.
    fn source_key(&self) -> &'static str {
        self.name
    }
}
