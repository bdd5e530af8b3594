//! Errors that point a user at the exact place in a YAML file that is wrong.

use std::fmt;
use std::path::PathBuf;

/// A problem with a plugin manifest or scenario file.
///
/// Every variant carries the file, so a message read on its own (in CI logs,
/// in an HTTP error body) still says where to look.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read at all.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file we tried to read.
        file: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the expected shape.
    #[error("{0}")]
    Invalid(Located),
    /// A scenario names a plugin that does not exist.
    #[error(
        "{scenario}: field `plugin`: no plugin named `{plugin}`{} (looked for {})",
        closest.as_ref().map(|c| format!("; did you mean `{c}`?")).unwrap_or_default(),
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    MissingPlugin {
        /// The scenario file that names the plugin.
        scenario: PathBuf,
        /// The plugin name it asked for.
        plugin: String,
        /// The plugin found in the searched folders whose name is closest
        /// to `plugin`, when one is close enough to be a misspelling.
        closest: Option<String>,
        /// Every manifest path that was tried.
        searched: Vec<PathBuf>,
    },
}

/// A message tied to a file, an optional line/column and a field path.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line, when the parser knows it.
    pub line: Option<usize>,
    /// 1-based column, when the parser knows it.
    pub column: Option<usize>,
    /// Dotted path of the field, e.g. `training.optimizer.learning_rate`.
    pub field: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if self.field.is_empty() || self.field == "." {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": field `{}`: {}", self.field, self.message)
        }
    }
}

impl SpecError {
    /// Builds an error for a field whose value parsed but makes no sense
    /// together with the rest of the file.
    pub fn field(
        file: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        SpecError::Invalid(Located {
            file: file.into(),
            line: None,
            column: None,
            field: field.into(),
            message: message.into(),
        })
    }

    /// Attaches the line of `field`'s last path segment when it can be found
    /// in `text`, so cross-field errors also point at a line.
    pub fn locate_in(mut self, text: &str) -> Self {
        if let SpecError::Invalid(located) = &mut self
            && located.line.is_none()
            && let Some((line, column)) = find_key(text, &located.field)
        {
            located.line = Some(line);
            located.column = Some(column);
        }
        self
    }
}

/// Best-effort search for the line of a dotted field path in YAML text: finds
/// each segment's `key:` in order, so `training.epochs` finds the `epochs:`
/// that follows `training:`.
pub(crate) fn find_key(text: &str, field: &str) -> Option<(usize, usize)> {
    let mut start_line = 0;
    let mut found = None;
    for segment in field.split('.') {
        let key = segment.split('[').next().unwrap_or(segment);
        if key.is_empty() {
            continue;
        }
        let (index, column) = text
            .lines()
            .enumerate()
            .skip(start_line)
            .find_map(|(i, line)| {
                let trimmed = line.trim_start().trim_start_matches("- ");
                let indent = line.len() - trimmed.len();
                trimmed
                    .strip_prefix(key)
                    .filter(|rest| rest.trim_start().starts_with(':'))
                    .map(|_| (i, indent + 1))
            })?;
        start_line = index + 1;
        found = Some((index + 1, column));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_key_after_its_parent() {
        let text = "epochs: 1\ntraining:\n  batch_size: 4\n  epochs: 0\n";
        assert_eq!(find_key(text, "training.epochs"), Some((4, 3)));
    }

    #[test]
    fn display_names_file_line_and_field() {
        let e = SpecError::Invalid(Located {
            file: "s.yaml".into(),
            line: Some(3),
            column: Some(5),
            field: "model.hidden[1]".into(),
            message: "must be at least 1".into(),
        });
        assert_eq!(
            e.to_string(),
            "s.yaml:3:5: field `model.hidden[1]`: must be at least 1"
        );
    }
}
