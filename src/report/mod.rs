//! What a training run leaves on disk: safetensors checkpoints, PNG plots and image grids.

mod canvas;
pub mod checkpoint;
mod font;
pub mod grid;
pub mod plots;

pub use checkpoint::{Checkpoint, Entry};
pub use grid::image_grid;
pub use plots::{class_bars, compare_class_bars, line_chart, Series};
