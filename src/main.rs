//! The `tailgrad` command: train, evaluate, benchmark and list adapters (see `tailgrad --help`).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_wayland_probe();
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Mesa's Vulkan driver probes Wayland when the instance opens and, without XDG_RUNTIME_DIR,
/// prints "error: XDG_RUNTIME_DIR is invalid or not set" (once per instance): a user reads
/// "error:" as a failed run. tailgrad never presents to a window, so point the variable at a
/// private directory first; the probe then finds no compositor and stays silent.
#[cfg(unix)]
fn quiet_wayland_probe() {
    use std::os::unix::fs::PermissionsExt;
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir()) {
        return;
    }
    let dir = std::env::temp_dir().join("tailgrad-runtime");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    // Single-threaded here: nothing else reads the environment yet.
    std::env::set_var("XDG_RUNTIME_DIR", &dir);
}

#[cfg(not(unix))]
fn quiet_wayland_probe() {}
