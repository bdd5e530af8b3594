//! Errors of the data layer, each naming the file, field or row at fault.

use std::path::PathBuf;

/// Everything that can go wrong between a file on disk (or a mirror) and a
/// checked feature matrix.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file exists but could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A file could not be written (cache, output).
    #[error("{file}: cannot write: {source}")]
    Write {
        /// The file.
        file: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A file's content is not what its format promises.
    #[error("{file}: {message}")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A file's SHA-256 does not match the one the plugin declares.
    #[error("{file}: checksum mismatch: expected sha256 {expected}, got {actual}{hint}")]
    Checksum {
        /// The file.
        file: PathBuf,
        /// Declared digest.
        expected: String,
        /// Digest of what we read.
        actual: String,
        /// What happened to the file and what to do.
        hint: String,
    },
    /// The data is nowhere to be found and cannot be downloaded.
    #[error("data set `{dataset}` is not available: {reason}\n{instructions}")]
    Unavailable {
        /// The data set folder name.
        dataset: String,
        /// Why the download did not happen or failed.
        reason: String,
        /// Which files to put where.
        instructions: String,
    },
    /// A row of user data breaks the schema.
    #[error("{source_name}: row {row}{}: {message}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    Row {
        /// The input (file name or "request").
        source_name: String,
        /// 1-based row number (header excluded).
        row: usize,
        /// The column at fault, if one is.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Several cells break the schema: every problem found (up to a cap),
    /// so a user fixes a file or a request in one go.
    #[error("{source_name}: {} problems{}:{}", problems.len() + omitted, if *omitted > 0 { format!(" (first {} shown)", problems.len()) } else { String::new() }, problems.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Rows {
        /// The input (file name or "request").
        source_name: String,
        /// The problems kept, in row order.
        problems: Vec<DataError>,
        /// Problems found beyond the cap.
        omitted: usize,
    },
    /// The input as a whole does not fit the schema (missing column, ...).
    #[error("{source_name}: {message}")]
    Schema {
        /// The input (file name or "request").
        source_name: String,
        /// What is wrong.
        message: String,
    },
}

impl DataError {
    /// Problems of many rows: one stays a plain error, several become one
    /// report with the first `cap` shown.
    pub fn rows(source_name: &str, mut problems: Vec<DataError>, cap: usize) -> Self {
        if problems.len() == 1 {
            return problems.remove(0);
        }
        let omitted = problems.len().saturating_sub(cap);
        problems.truncate(cap);
        DataError::Rows {
            source_name: source_name.to_string(),
            problems,
            omitted,
        }
    }

    /// A row-level problem, optionally in one column.
    pub fn row(
        source_name: &str,
        row: usize,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        DataError::Row {
            source_name: source_name.to_string(),
            row,
            column: column.map(str::to_string),
            message: message.into(),
        }
    }
}
