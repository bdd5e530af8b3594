//! The in-memory form of a data set after loading and before the model:
//! raw feature values in schema order, with labels and ids when present.

use indus_spec::{ColumnRole, ColumnSpec, ColumnType, HeadSpec, PluginManifest};

/// Rows of raw (not yet preprocessed) feature values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawTable {
    /// Row-major raw values; each row is `width` long.
    pub features: Vec<f32>,
    /// Values per row.
    pub width: usize,
    /// Class index per row, when the input carries the target.
    pub labels: Option<Vec<u32>>,
    /// Row identifiers echoed with predictions.
    pub ids: Option<Vec<String>>,
}

impl RawTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.features.len().checked_div(self.width).unwrap_or(0)
    }

    /// True when the table holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the first `n` rows (no-op when there are fewer).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.features.truncate(n * self.width);
        if let Some(l) = &mut self.labels {
            l.truncate(n);
        }
        if let Some(ids) = &mut self.ids {
            ids.truncate(n);
        }
    }

    /// Builds a table from the rows at `indices` (in that order).
    pub fn select(&self, indices: &[usize]) -> RawTable {
        let mut features = Vec::with_capacity(indices.len() * self.width);
        for &i in indices {
            features.extend_from_slice(&self.features[i * self.width..(i + 1) * self.width]);
        }
        RawTable {
            features,
            width: self.width,
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
            ids: self
                .ids
                .as_ref()
                .map(|ids| indices.iter().map(|&i| ids[i].clone()).collect()),
        }
    }
}

/// The feature columns of a manifest, in the order their values appear in a
/// [`RawTable`] row.
pub fn feature_columns(manifest: &PluginManifest) -> Vec<&ColumnSpec> {
    manifest
        .data
        .columns
        .iter()
        .filter(|c| c.role == ColumnRole::Feature)
        .collect()
}

/// Raw width of one row: pixels of images plus one per scalar column.
pub fn raw_width(manifest: &PluginManifest) -> usize {
    feature_columns(manifest).iter().map(|c| c.width()).sum()
}

/// The first head: the one the CLI trains and reports on.
pub fn primary_head(manifest: &PluginManifest) -> &HeadSpec {
    &manifest.heads[0]
}

/// True for column types whose values are plain numbers in a row.
pub fn is_numeric(kind: ColumnType) -> bool {
    matches!(
        kind,
        ColumnType::Number | ColumnType::Integer | ColumnType::Boolean
    )
}
