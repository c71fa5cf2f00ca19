//! `tailgrad sample`: images from a GAN checkpoint as a PNG grid (a row per class) and as raw
//! f32 values in a safetensors file that Python reads (`safetensors.numpy.load_file`).

use std::path::PathBuf;
use tailgrad::report::{image_grid, Checkpoint};
use tailgrad::train::gan::{generate, load_generator};
use tailgrad::{Error, Result};

#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint written by `tailgrad train gan`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Only this class (0-based); default every class.
    #[arg(long)]
    class: Option<u32>,
    /// Images per class.
    #[arg(long, default_value_t = 8)]
    n: usize,
    /// The PNG grid; the images go beside it with the extension .safetensors
    /// (`images` [N, C, 32, 32] f32 in [-1, 1], `labels` [N] u32).
    #[arg(long, default_value = "samples.png")]
    out: PathBuf,
    /// Seed of z.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Images per G forward (G normalises with the batch's statistics).
    #[arg(long, default_value_t = 64)]
    batch: usize,
}

pub fn run(a: Args) -> Result<()> {
    let (g, _cfg, names) = load_generator(&a.checkpoint)?;
    let k = names.len() as u32;
    let classes: Vec<u32> = match a.class {
        Some(c) if c < k => vec![c],
        Some(c) => {
            return Err(Error::Config(format!(
                "--class {c}: the checkpoint's G has classes 0..{k}"
            )))
        }
        None => (0..k).collect(),
    };
    if a.n == 0 {
        return Err(Error::Config("--n must be >= 1".into()));
    }
    let labels: Vec<u32> = classes.iter().flat_map(|&c| vec![c; a.n]).collect();
    let images = generate(&g, &labels, a.seed, a.batch)?;
    let channels = images.len() / (labels.len() * 32 * 32);
    let shape = [labels.len(), channels, 32, 32];
    let rows: Vec<&str> = classes
        .iter()
        .map(|&c| names[c as usize].as_str())
        .collect();
    image_grid(&a.out, &images, shape, &rows)?;
    let raw = a.out.with_extension("safetensors");
    let mut ck = Checkpoint::new();
    ck.insert_f32("images", &shape, images)?;
    ck.insert_u32("labels", &[labels.len()], labels)?;
    ck.save(&raw)?;
    println!("wrote {} and {}", a.out.display(), raw.display());
    Ok(())
}
