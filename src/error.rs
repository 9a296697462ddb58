//! One error type for the crate. Messages name the file, line, op or limit
//! involved and what was expected, so a person can act on them.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad flag or argument: the CLI exits with status 2.
    #[error("{0}")]
    Usage(String),
    /// A file that cannot be opened, read or written.
    #[error("{}: {msg}", path.display())]
    Io { path: PathBuf, msg: String },
    /// Bad content in an input file; `line` is 1-based as an editor shows it (0: whole file).
    #[error("{}{}: {msg}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Input { path: PathBuf, line: usize, msg: String },
    /// The backends list no adapter at all.
    #[error(
        "GPU: no adapter found (install a Vulkan driver, e.g. Mesa's lavapipe: apt-get install mesa-vulkan-drivers)"
    )]
    NoAdapter,
    /// An adapter that does not match or cannot open, a lost device, or a failed GPU operation.
    #[error("GPU: {0}")]
    Gpu(String),
    /// Work that does not fit the adapter's limits.
    #[error("{what} needs {asked} but this adapter allows at most {limit} ({name}); {hint}")]
    Limit { what: String, name: &'static str, asked: u64, limit: u64, hint: &'static str },
    /// Training diverged.
    #[error("{0}")]
    Numeric(String),
    /// Stopped by SIGINT/SIGTERM after saving its state.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        Error::Io { path: path.into(), msg: e.to_string() }
    }
    pub fn input(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Input { path: path.into(), line, msg: msg.into() }
    }
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
    /// The process exit status for this error: 2 for usage errors, 130 for an interrupt, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Interrupted => 130,
            _ => 1,
        }
    }
}
