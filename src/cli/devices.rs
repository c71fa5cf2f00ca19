//! `tailgrad devices`: every adapter on every backend, the one `Device::open()` picks marked.

use tailgrad::runtime::adapter::{self, AdapterReport};
use tailgrad::{Error, Result};

#[derive(serde::Serialize)]
struct Row {
    #[serde(flatten)]
    report: AdapterReport,
    /// What `Device::open()` would pick under the current environment.
    selected: bool,
}

/// Each backend is enumerated on its own instance so GL adapters are listed even when a Vulkan
/// one exists.
const BACKENDS: [(wgpu::Backends, &str); 4] = [
    (wgpu::Backends::VULKAN, "vulkan"),
    (wgpu::Backends::METAL, "metal"),
    (wgpu::Backends::DX12, "dx12"),
    (wgpu::Backends::GL, "gl"),
];

pub fn run(json: bool) -> Result<()> {
    // A bad TAILGRAD_BACKEND is an error even though the listing itself does not need it.
    adapter::backends_from_env()?;
    let mut found = Vec::new();
    for (backends, _) in BACKENDS {
        let (_instance, adapters) = adapter::enumerate(backends);
        found.extend(
            adapters
                .iter()
                .map(|a| (a.get_info(), AdapterReport::new(a))),
        );
    }
    if found.is_empty() {
        let names: Vec<_> = BACKENDS.iter().map(|(_, n)| *n).collect();
        return Err(Error::NoAdapter {
            tried: format!("backends {}, no adapters found", names.join(", ")),
        });
    }
    let picked = adapter::pick();
    let chosen = picked.as_ref().ok().map(|(_, a)| a.get_info());
    let rows: Vec<Row> = found
        .into_iter()
        .map(|(info, report)| Row {
            selected: chosen.as_ref() == Some(&info),
            report,
        })
        .collect();
    if json {
        let text = serde_json::to_string_pretty(&rows).expect("plain data serializes");
        println!("{text}");
    } else {
        print_text(&rows);
    }
    // Listed, but nothing matches the environment's choice: say why and fail.
    picked.map(drop)
}

fn print_text(rows: &[Row]) {
    let env = |k| std::env::var(k).unwrap_or_else(|_| "unset".into());
    println!(
        "Adapters (* = what Device::open() picks with TAILGRAD_BACKEND={}, TAILGRAD_ADAPTER={}):",
        env("TAILGRAD_BACKEND"),
        env("TAILGRAD_ADAPTER")
    );
    for (i, row) in rows.iter().enumerate() {
        let r = &row.report;
        let mark = if row.selected { '*' } else { ' ' };
        println!("{mark} {i}: {} [{}, {}]", r.name, r.backend, r.device_type);
        println!("     driver: {}", r.driver);
        println!(
            "     max storage binding: {} MiB, max workgroup size: {:?} ({} invocations)",
            r.max_storage_binding >> 20,
            r.max_workgroup_size,
            r.max_invocations
        );
        println!(
            "     subgroup size: {}..{}, features: {}",
            r.subgroup_size[0],
            r.subgroup_size[1],
            if r.features.is_empty() {
                "none".to_string()
            } else {
                r.features.join(", ")
            }
        );
    }
}
