//! Engine errors: configuration the engine cannot honour, and data that does
//! not fit the network it was asked to train or run.

/// Why the engine refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The requested backend cannot run here.
    #[error("backend `{backend}` is unavailable: {reason}")]
    BackendUnavailable {
        /// Backend name as written in the scenario.
        backend: &'static str,
        /// What is missing and how to fix it.
        reason: String,
    },
    /// Inputs, targets and the network disagree on sizes.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A numeric problem during training (loss became NaN, ...).
    #[error("training diverged: {0}")]
    Diverged(String),
    /// The caller asked training to stop (a cancelled job).
    #[error("training was cancelled after {epochs} finished epochs")]
    Cancelled {
        /// Epochs that had finished.
        epochs: usize,
    },
    /// A weights file is unreadable or does not match the expected network.
    #[error("{file}: {message}")]
    Weights {
        /// The weights file.
        file: String,
        /// What is wrong.
        message: String,
    },
}
