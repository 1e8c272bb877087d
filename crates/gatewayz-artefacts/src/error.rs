//! The crate's error: what went wrong and what to do about it.

use std::{fmt, io, path::PathBuf};

/// Everything that can go wrong while reading a configuration or generating, writing or
/// checking artefacts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is not TOML of the expected shape (an unknown key, a wrong type); the
    /// message quotes the line.
    #[error("the deployment configuration does not parse: {0}")]
    Toml(String),
    /// The configuration parses but some values are refused.
    #[error("the deployment configuration is refused:{}", Problems(.0))]
    Invalid(Vec<Problem>),
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A Grafana variable that [`substitute`](crate::promql::substitute) does not know.
    #[error("{0}")]
    Variable(String),
    /// A tool that `check` runs is not installed.
    #[error(
        "{binary} is not installed: install Debian's `{package}` package (`apt-get install \
         {package}`) or Prometheus's release archive, or set {variable}=/path/to/{binary}"
    )]
    MissingTool {
        /// The executable.
        binary: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
        /// The environment variable that overrides where it is.
        variable: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// One refused value of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, e.g. `alerts.provider_error_surge.ratio`.
    pub field: String,
    /// Why it is refused, and what would be accepted.
    pub why: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.why)
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}
