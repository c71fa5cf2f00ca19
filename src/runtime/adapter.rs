//! Adapter discovery and ranking: discrete GPU > integrated > virtual > software, with env overrides.

use crate::{Error, Result};

/// What `tailgrad devices` prints for one adapter.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub max_storage_binding: u64,
    pub max_workgroup_size: [u32; 3],
    pub max_invocations: u32,
    pub subgroup_size: [u32; 2],
    pub features: Vec<String>,
}

impl AdapterReport {
    pub fn new(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let l = adapter.limits();
        let f = adapter.features();
        let mut features = Vec::new();
        for (flag, name) in [
            (wgpu::Features::SUBGROUP, "subgroup"),
            (wgpu::Features::SHADER_F16, "shader-f16"),
            (wgpu::Features::TIMESTAMP_QUERY, "timestamp-query"),
            (
                wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
                "timestamp-inside-passes",
            ),
        ] {
            if f.contains(flag) {
                features.push(name.to_string());
            }
        }
        AdapterReport {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend).to_lowercase(),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            max_storage_binding: l.max_storage_buffer_binding_size,
            max_workgroup_size: [
                l.max_compute_workgroup_size_x,
                l.max_compute_workgroup_size_y,
                l.max_compute_workgroup_size_z,
            ],
            max_invocations: l.max_compute_invocations_per_workgroup,
            subgroup_size: [info.subgroup_min_size, info.subgroup_max_size],
            features,
        }
    }
}

/// Backends named by `TAILGRAD_BACKEND` (default: all native ones).
pub fn backends_from_env() -> Result<wgpu::Backends> {
    match std::env::var("TAILGRAD_BACKEND") {
        Err(_) => Ok(wgpu::Backends::VULKAN
            | wgpu::Backends::METAL
            | wgpu::Backends::DX12
            | wgpu::Backends::GL),
        Ok(s) => match s.to_ascii_lowercase().as_str() {
            "vulkan" => Ok(wgpu::Backends::VULKAN),
            "metal" => Ok(wgpu::Backends::METAL),
            "dx12" => Ok(wgpu::Backends::DX12),
            "gl" | "gles" | "opengl" => Ok(wgpu::Backends::GL),
            other => Err(Error::Invalid {
                op: "TAILGRAD_BACKEND",
                msg: format!("unknown backend `{other}`; use vulkan, metal, dx12 or gl"),
            }),
        },
    }
}

/// All adapters on the given backends, best first.
pub fn enumerate(backends: wgpu::Backends) -> (wgpu::Instance, Vec<wgpu::Adapter>) {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
    adapters.sort_by_key(rank);
    (instance, adapters)
}

/// Lower is better. Vulkan wins ties because it is the backend our kernels are tuned on.
fn rank(a: &wgpu::Adapter) -> (u8, u8) {
    let info = a.get_info();
    let ty = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let be = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal => 0,
        wgpu::Backend::Dx12 => 1,
        _ => 2,
    };
    (ty, be)
}

/// Picks the best adapter, honouring `TAILGRAD_BACKEND` and `TAILGRAD_ADAPTER=<name substring>`.
/// Without an explicit backend, GL is only tried when no Vulkan/Metal/DX12 adapter matches: it is
/// the slowest path and its EGL probing is noisy.
pub fn pick() -> Result<(wgpu::Instance, wgpu::Adapter)> {
    let wanted = std::env::var("TAILGRAD_ADAPTER")
        .ok()
        .map(|s| s.to_lowercase());
    let explicit = std::env::var("TAILGRAD_BACKEND").is_ok();
    let all = backends_from_env()?;
    let rounds = if explicit {
        vec![all]
    } else {
        vec![all - wgpu::Backends::GL, wgpu::Backends::GL]
    };
    let mut seen = Vec::new();
    for backends in rounds {
        let (instance, adapters) = enumerate(backends);
        seen.extend(adapters.iter().map(|a| {
            let i = a.get_info();
            format!("{} ({:?})", i.name, i.backend)
        }));
        let chosen = adapters.into_iter().find(|a| match &wanted {
            Some(w) => a.get_info().name.to_lowercase().contains(w),
            None => true,
        });
        if let Some(a) = chosen {
            return Ok((instance, a));
        }
    }
    let mut tried = format!("backends {all:?}");
    if let Some(w) = wanted {
        tried += &format!(", TAILGRAD_ADAPTER={w:?}");
    }
    if seen.is_empty() {
        tried += ", no adapters found";
    } else {
        tried += &format!(", found only: {}", seen.join(", "));
    }
    Err(Error::NoAdapter { tried })
}
