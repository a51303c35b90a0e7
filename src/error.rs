//! The library's error type. Every message names the file or camera concerned and says what to
//! do; the CLI prints it on one line and maps [`Error::is_usage`] to exit status 2.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something the user typed is wrong and can be fixed on the command line.
    #[error("{0}")]
    Usage(String),

    #[error("{}: file not found; check the path", .0.display())]
    NotFound(PathBuf),

    #[error("{}: {msg}", .path.display())]
    Io {
        path: PathBuf,
        msg: String,
        #[source]
        source: std::io::Error,
    },

    /// The content of an input file is unusable (no video stream, corrupt, unsupported).
    #[error("{}: {msg}", .path.display())]
    Input { path: PathBuf, msg: String },

    /// The inputs do not fit together (resolutions differ, a time outside one camera).
    #[error("{0}")]
    Rig(String),

    /// Writing an output failed.
    #[error("{}: {msg}", .path.display())]
    Output { path: PathBuf, msg: String },
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub fn input(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub fn output(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Output {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, what: &str, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound && what.starts_with("cannot read") {
            return Error::NotFound(path);
        }
        Error::Io {
            msg: format!("{what}: {source}"),
            path,
            source,
        }
    }

    /// Usage errors exit with status 2, everything else with 1.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_) | Error::NotFound(_))
    }
}
