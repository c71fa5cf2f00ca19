//! The one error type of the crate. User input never reaches a panic: every check returns one of these.

/// Every fallible tailgrad call returns this.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter could be opened; `tried` lists the backends and what each said.
    #[error("no GPU adapter found (tried: {tried}). Install a software Vulkan driver with `apt-get install mesa-vulkan-drivers` (lavapipe), or set TAILGRAD_BACKEND=gl to use Mesa's llvmpipe through OpenGL")]
    NoAdapter { tried: String },
    /// Opening the device on an adapter failed.
    #[error("could not open device on adapter {adapter}: {reason}")]
    DeviceRequest { adapter: String, reason: String },
    /// Operands whose shapes do not fit together.
    #[error("{op}: shape mismatch: {lhs:?} vs {rhs:?}")]
    Shape {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
    },
    /// A bad argument that is not a shape pair (axis out of range, wrong element count, ...).
    #[error("{op}: {msg}")]
    Invalid { op: &'static str, msg: String },
    /// A tensor with a zero-sized dimension: GPU buffers cannot be empty.
    #[error("{op}: zero-sized dimension in shape {shape:?}")]
    ZeroSized { op: &'static str, shape: Vec<usize> },
    /// A tensor larger than the device can bind in one storage binding.
    #[error(
        "{op}: tensor of {bytes} bytes exceeds the device's max storage binding of {limit} bytes"
    )]
    TooLarge {
        op: &'static str,
        bytes: u64,
        limit: u64,
    },
    /// `TAILGRAD_DEBUG=sync` found a NaN or Inf in the output of this op.
    #[error("TAILGRAD_DEBUG=sync: op `{op}` produced a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        op: &'static str,
        index: usize,
        value: f32,
    },
    /// The GPU reported an error (validation, out of memory, lost device).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// A file whose bytes are not what its format says (truncated, bad magic, bad count, ...).
    #[error("{path}: at byte offset {offset}: {msg}")]
    Format {
        path: String,
        offset: u64,
        msg: String,
    },
    /// A run-state checkpoint whose entries do not match the run loading it.
    #[error("{path}: checkpoint entry `{entry}` {problem}")]
    Checkpoint {
        path: String,
        entry: String,
        problem: EntryProblem,
    },
    /// A bad configuration value (TOML file or command-line flag).
    #[error("config: {0}")]
    Config(String),
    /// A run stopped where `RunOptions::stop` said (tests simulate a kill with it).
    #[error("stopped as asked, after {0}")]
    Stopped(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// What is wrong with one checkpoint entry ([`Error::Checkpoint`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryProblem {
    /// The run needs it; the file lacks it.
    Missing,
    /// The file has it; nothing in the run takes it (another model, optimizer or version).
    Extra,
    /// Present with another dtype or shape than the run's tensor.
    Mistyped { want: String, got: String },
}

impl std::fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryProblem::Missing => write!(f, "is missing"),
            EntryProblem::Extra => write!(f, "is not part of this run"),
            EntryProblem::Mistyped { want, got } => write!(f, "is {got}, expected {want}"),
        }
    }
}

impl Error {
    /// The `map_err` adapter for an I/O call on `path`: the error names the file.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The member of `all` whose `name` is `s` (a config or flag value), or `Error::Config` naming
/// `what` and listing every name.
pub(crate) fn parse_name<T: Copy>(
    what: &str,
    s: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T> {
    all.iter().copied().find(|&v| name(v) == s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|&v| name(v)).collect();
        Error::Config(format!(
            "unknown {what} {s:?}: use one of {}",
            names.join(", ")
        ))
    })
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
