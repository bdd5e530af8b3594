//! Errors of the host runtime: everything below it, plus run-folder problems.

use std::path::PathBuf;

/// Why a run, an evaluation or a prediction could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A YAML file is wrong.
    #[error(transparent)]
    Spec(#[from] indus_spec::SpecError),
    /// Data is missing, damaged or breaks the schema.
    #[error(transparent)]
    Data(#[from] indus_data::DataError),
    /// A native plugin could not be loaded or a hook failed.
    #[error(transparent)]
    Plugin(#[from] indus_plugin::PluginError),
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] indus_engine::EngineError),
    /// A run folder is incomplete, damaged or inconsistent.
    #[error("run folder {dir}: {message}")]
    RunFolder {
        /// The run folder.
        dir: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A file or folder could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The request itself is inconsistent (e.g. a head the runtime cannot evaluate).
    #[error("{0}")]
    Invalid(String),
    /// A user or item the run has not learned (a recommendation request).
    #[error("{0}")]
    NotFound(String),
}

impl RuntimeError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn run_folder(dir: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        RuntimeError::RunFolder {
            dir: dir.into(),
            message: message.into(),
        }
    }
}
