//! What a training run leaves on disk: safetensors checkpoints and PNG plots.

mod canvas;
pub mod checkpoint;
mod font;
pub mod plots;

pub use checkpoint::{Checkpoint, Entry};
pub use plots::{class_bars, compare_class_bars, line_chart, Series};
