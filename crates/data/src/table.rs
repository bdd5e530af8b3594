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
    /// Target values per row, for heads that predict a number (ratings,
    /// amounts), when the input carries the target.
    pub values: Option<Vec<f32>>,
    /// Each `role: split` column present in the data, with its text per row.
    pub splits: Vec<(String, Vec<String>)>,
    /// Targets of the heads after the first (trained on the same trunk),
    /// by head name, for those whose target column the input carries.
    pub head_targets: Vec<(String, HeadTargets)>,
    /// Multilabel heads: the label indices each row carries, when the input
    /// carries the target.
    pub label_sets: Option<Vec<Vec<u32>>>,
    /// Each row's sample weight (the plugin's `role: weight` column), when
    /// the input carries it: how much the row counts in the training loss.
    pub weights: Option<Vec<f32>>,
    /// Columns of the file that the plugin's schema does not declare, read
    /// past unparsed; listed only under `data.extra_columns: warn`, so that
    /// the caller can tell the user which file carried them.
    pub undeclared_columns: Vec<String>,
    /// What reading the input found that the user should hear about
    /// (images resized, files skipped), one line each.
    pub notes: Vec<String>,
}

/// What a head after the first learns from, one entry per row.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadTargets {
    /// Class index per row (binary and multiclass heads).
    Classes(Vec<u32>),
    /// Value per row (regression heads).
    Values(Vec<f32>),
}

impl RawTable {
    /// Multilabel targets as 0/1 values, `labels` per row, row-major.
    pub fn multi_hot(&self, labels: usize) -> Option<Vec<f32>> {
        self.label_sets.as_ref().map(|sets| {
            let mut out = vec![0.0; sets.len() * labels];
            for (r, set) in sets.iter().enumerate() {
                for &l in set {
                    if let Some(v) = out.get_mut(r * labels + l as usize) {
                        *v = 1.0;
                    }
                }
            }
            out
        })
    }
}

impl HeadTargets {
    fn truncate(&mut self, n: usize) {
        match self {
            HeadTargets::Classes(c) => c.truncate(n),
            HeadTargets::Values(v) => v.truncate(n),
        }
    }

    fn select(&self, indices: &[usize]) -> HeadTargets {
        match self {
            HeadTargets::Classes(c) => {
                HeadTargets::Classes(indices.iter().map(|&i| c[i]).collect())
            }
            HeadTargets::Values(v) => HeadTargets::Values(indices.iter().map(|&i| v[i]).collect()),
        }
    }
}

impl RawTable {
    /// The text of the `role: split` column `name` per row, if read.
    pub fn split_column(&self, name: &str) -> Option<&[String]> {
        self.splits
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

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
        if let Some(v) = &mut self.values {
            v.truncate(n);
        }
        for (_, s) in &mut self.splits {
            s.truncate(n);
        }
        for (_, t) in &mut self.head_targets {
            t.truncate(n);
        }
        if let Some(sets) = &mut self.label_sets {
            sets.truncate(n);
        }
        if let Some(w) = &mut self.weights {
            w.truncate(n);
        }
    }

    /// The targets of head `name` (a head after the first), if read.
    pub fn head_target(&self, name: &str) -> Option<&HeadTargets> {
        self.head_targets
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
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
            values: self
                .values
                .as_ref()
                .map(|v| indices.iter().map(|&i| v[i]).collect()),
            undeclared_columns: self.undeclared_columns.clone(),
            notes: self.notes.clone(),
            splits: self
                .splits
                .iter()
                .map(|(name, s)| {
                    (
                        name.clone(),
                        indices.iter().map(|&i| s[i].clone()).collect(),
                    )
                })
                .collect(),
            head_targets: self
                .head_targets
                .iter()
                .map(|(name, t)| (name.clone(), t.select(indices)))
                .collect(),
            label_sets: self
                .label_sets
                .as_ref()
                .map(|sets| indices.iter().map(|&i| sets[i].clone()).collect()),
            weights: self
                .weights
                .as_ref()
                .map(|w| indices.iter().map(|&i| w[i]).collect()),
        }
    }

    /// The first `n` rows back as JSON objects in the plugin's input schema
    /// (category names, numbers, pixel arrays, the target's label and the
    /// id when known): real example rows for documentation, the dashboard's
    /// "try it" form and tests. Missing values come back as `null`.
    pub fn to_json_rows(&self, manifest: &PluginManifest, n: usize) -> Vec<serde_json::Value> {
        use serde_json::{Value, json};
        let cols = feature_columns(manifest);
        let target = crate::rows::target_classes(manifest);
        let id_col = manifest
            .data
            .columns
            .iter()
            .find(|c| c.role == ColumnRole::Id);
        (0..n.min(self.len()))
            .map(|r| {
                let row = &self.features[r * self.width..(r + 1) * self.width];
                let mut obj = serde_json::Map::new();
                let mut at = 0;
                for c in &cols {
                    let w = c.width();
                    let v = &row[at..at + w];
                    at += w;
                    if c.derived {
                        continue;
                    }
                    let value = match c.kind {
                        ColumnType::Image => json!(v),
                        _ if v[0].is_nan() => Value::Null,
                        ColumnType::Category => c
                            .values
                            .as_ref()
                            .and_then(|vals| vals.get(v[0] as usize))
                            .map_or(Value::Null, |s| json!(s)),
                        ColumnType::Boolean => json!(v[0] != 0.0),
                        ColumnType::Integer => json!(v[0] as i64),
                        _ => json!(v[0]),
                    };
                    obj.insert(c.name.clone(), value);
                }
                if let (Some((t, classes)), Some(labels)) = (&target, &self.labels)
                    && let Some(label) = classes.get(labels[r] as usize)
                {
                    obj.insert(t.name.clone(), json!(label));
                }
                if let (Some(t), Some(values)) =
                    (crate::rows::numeric_target(manifest), &self.values)
                {
                    obj.insert(t.name.clone(), json!(values[r]));
                }
                if let (Some(c), Some(ids)) = (id_col, &self.ids) {
                    obj.insert(c.name.clone(), json!(ids[r]));
                }
                Value::Object(obj)
            })
            .collect()
    }
}

/// Rows (0-based) with a missing value in a `missing: drop` column, each
/// with the first such column's name.
pub fn rows_missing_required(manifest: &PluginManifest, table: &RawTable) -> Vec<(usize, String)> {
    let mut at = 0;
    let mut positions = Vec::new();
    for c in feature_columns(manifest) {
        if c.missing == indus_spec::Missing::Drop && !c.derived {
            positions.push((at, c.name.clone()));
        }
        at += c.width();
    }
    if positions.is_empty() {
        return Vec::new();
    }
    table
        .features
        .chunks_exact(table.width.max(1))
        .enumerate()
        .filter_map(|(r, row)| {
            positions
                .iter()
                .find(|(p, _)| row[*p].is_nan())
                .map(|(_, name)| (r, name.clone()))
        })
        .collect()
}

/// Leaves out the rows with a missing value in a `missing: drop` column;
/// returns how many went.
pub fn drop_missing(manifest: &PluginManifest, table: &mut RawTable) -> usize {
    let gone = rows_missing_required(manifest, table);
    if gone.is_empty() {
        return 0;
    }
    let drop: std::collections::HashSet<usize> = gone.iter().map(|(r, _)| *r).collect();
    let keep: Vec<usize> = (0..table.len()).filter(|r| !drop.contains(r)).collect();
    *table = table.select(&keep);
    gone.len()
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

/// The plugin's one feature column when it is an image: what IDX, NPZ and
/// image files feed (a plugin with other features reads rows instead).
pub fn image_column(manifest: &PluginManifest) -> Option<&ColumnSpec> {
    match feature_columns(manifest).as_slice() {
        [c] if c.kind == ColumnType::Image => Some(*c),
        _ => None,
    }
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
