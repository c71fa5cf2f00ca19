//! A run directory, shared by every trainer: `config.toml`, `metrics.jsonl` (one JSON object a
//! line, of any line type: per epoch or per N steps), `summary.json`, the checkpoint, the plots,
//! and the progress bar that reports it/s and the ETA while the run goes.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The checkpoint's file name in a run directory.
pub const CHECKPOINT: &str = "checkpoint.safetensors";
const METRICS: &str = "metrics.jsonl";

/// The output directory of one run (created on [`RunDir::create`]).
#[derive(Clone, Debug)]
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn create(path: &Path) -> Result<RunDir> {
        std::fs::create_dir_all(path).map_err(Error::io(path))?;
        Ok(RunDir(path.to_path_buf()))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.join(CHECKPOINT)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.join(name);
        std::fs::write(&path, bytes).map_err(Error::io(&path))
    }

    /// `summary.json`, pretty-printed.
    pub fn write_summary<S: Serialize>(&self, summary: &S) -> Result<()> {
        let text = serde_json::to_string_pretty(summary).expect("summaries serialise");
        self.write("summary.json", text.as_bytes())
    }

    /// Replaces `metrics.jsonl` with `lines` (a resumed run drops what its checkpoint lacks).
    pub fn rewrite_metrics<L: Serialize>(&self, lines: &[L]) -> Result<()> {
        let text: String = lines.iter().map(|l| json_line(l) + "\n").collect();
        self.write(METRICS, text.as_bytes())
    }

    pub fn append_metrics<L: Serialize>(&self, line: &L) -> Result<()> {
        let path = self.join(METRICS);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        writeln!(f, "{}", json_line(line)).map_err(Error::io(&path))
    }

    /// The first `n` lines of `metrics.jsonl` (those the checkpoint covers: a line after them
    /// may be cut short by the kill being resumed from).
    pub fn read_metrics<L: DeserializeOwned>(&self, n: usize) -> Result<Vec<L>> {
        let path = self.join(METRICS);
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        let fail = |offset, msg| Error::Format {
            path: path.display().to_string(),
            offset,
            msg,
        };
        let mut offset = 0u64;
        let mut out = Vec::new();
        for line in text.lines().take(n) {
            out.push(serde_json::from_str(line).map_err(|e| fail(offset, e.to_string()))?);
            offset += line.len() as u64 + 1;
        }
        if out.len() < n {
            let msg = format!("has {} lines, the checkpoint covers {n}", out.len());
            return Err(fail(offset, msg));
        }
        Ok(out)
    }
}

fn json_line<L: Serialize>(line: &L) -> String {
    serde_json::to_string(line).expect("metric lines serialise")
}

/// A progress bar on stderr with it/s and the ETA; hidden when quiet or when stderr is not a
/// terminal (logs and CI get the per-epoch lines only).
pub fn progress(len: u64, quiet: bool, what: &str) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}
