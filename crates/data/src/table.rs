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
    /// Target columns the input carried but that could not be used (a
    /// blank or unknown label), each with its first problem: rows to
    /// predict need no target, so they are read past; evaluating names why
    /// there is nothing to score against.
    pub ignored_targets: Vec<String>,
    /// Each row's 1-based number in the file it was read from, once rows
    /// were selected (split, dropped, dealt into folds); `None` while row
    /// `i` is still the file's row `i + 1`. A run keeps these numbers for
    /// its held-out rows, so they can be found again.
    pub source_rows: Option<Vec<usize>>,
    /// Training rows left out because a cell could not be read, under
    /// `data.on_bad_rows: skip`; empty otherwise. Belongs to the file
    /// read, so a selection of rows does not carry it.
    pub skipped: SkippedRows,
}

/// How many rows were left out under `data.on_bad_rows: skip`, and why
/// (the first few located reasons), for the run's log and `metrics.json`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SkippedRows {
    /// Rows left out.
    pub count: usize,
    /// The first reasons, each naming its file, row and column.
    pub reasons: Vec<String>,
}

impl SkippedRows {
    /// Reasons kept: enough to see the pattern, bounded for any file.
    pub const KEPT_REASONS: usize = 10;

    /// Adds the rows skipped in another batch or split.
    pub fn merge(&mut self, other: SkippedRows) {
        self.count += other.count;
        let room = Self::KEPT_REASONS.saturating_sub(self.reasons.len());
        self.reasons.extend(other.reasons.into_iter().take(room));
    }

    /// True when no row was left out.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
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

    /// The 1-based number of row `i` in the file it was read from.
    pub fn source_row(&self, i: usize) -> usize {
        self.source_rows
            .as_ref()
            .and_then(|rows| rows.get(i).copied())
            .unwrap_or(i + 1)
    }

    /// Keeps the first `n` rows (no-op when there are fewer).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.features.truncate(n * self.width);
        if let Some(rows) = &mut self.source_rows {
            rows.truncate(n);
        }
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

    /// Adds the rows of `next`, the batch read after these from the same
    /// file. A column that one side lacks (a target read past in one
    /// batch as blank) is dropped from the whole table, never half-filled;
    /// notes and read-past targets are kept once each.
    pub fn append(&mut self, next: RawTable) {
        fn join<T>(mine: &mut Option<Vec<T>>, theirs: Option<Vec<T>>) {
            match (mine.as_mut(), theirs) {
                (Some(a), Some(b)) => a.extend(b),
                _ => *mine = None,
            }
        }
        debug_assert!(self.width == next.width || next.is_empty() || self.is_empty());
        if self.is_empty() && self.features.is_empty() {
            self.width = next.width;
        }
        self.features.extend(next.features);
        join(&mut self.labels, next.labels);
        join(&mut self.ids, next.ids);
        join(&mut self.values, next.values);
        join(&mut self.label_sets, next.label_sets);
        join(&mut self.weights, next.weights);
        join(&mut self.source_rows, next.source_rows);
        let mut splits = next.splits;
        self.splits.retain_mut(
            |(name, values)| match splits.iter_mut().find(|(n, _)| n == name) {
                Some((_, more)) => {
                    values.append(more);
                    true
                }
                None => false,
            },
        );
        let mut heads = next.head_targets;
        self.head_targets.retain_mut(|(name, targets)| {
            match heads.iter_mut().find(|(n, _)| n == name) {
                Some((_, more)) => match (targets, more) {
                    (HeadTargets::Classes(a), HeadTargets::Classes(b)) => {
                        a.append(b);
                        true
                    }
                    (HeadTargets::Values(a), HeadTargets::Values(b)) => {
                        a.append(b);
                        true
                    }
                    _ => false,
                },
                None => false,
            }
        });
        for note in next.notes {
            if !self.notes.contains(&note) {
                self.notes.push(note);
            }
        }
        self.skipped.merge(next.skipped);
        for why in next.ignored_targets {
            if !self.ignored_targets.contains(&why) {
                self.ignored_targets.push(why);
            }
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
            ignored_targets: self.ignored_targets.clone(),
            source_rows: Some(indices.iter().map(|&i| self.source_row(i)).collect()),
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
            skipped: SkippedRows::default(),
        }
    }

    /// `n` rows spread evenly over the table (its first, then every
    /// `len / n`-th), so that examples are not just a file's first lines.
    pub fn spread(&self, n: usize) -> RawTable {
        let len = self.len();
        let n = n.min(len);
        let picked: Vec<usize> = (0..n).map(|k| k * len / n.max(1)).collect();
        self.select(&picked)
    }

    /// The first `n` rows back as JSON objects in the plugin's input schema
    /// (category names, numbers, pixel arrays, the target's label and the
    /// id when known): real example rows for documentation, the dashboard's
    /// "try it" form and tests. Missing values come back as `null`. A
    /// `sensitive` column's value is never copied: it becomes a stand-in
    /// the schema accepts (see [`stand_in`]), and a sensitive target or id
    /// is left out.
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
                    if c.sensitive {
                        obj.insert(c.name.clone(), stand_in(c));
                        continue;
                    }
                    let value = match c.kind {
                        ColumnType::Image => {
                            Value::Array(v.iter().map(|&p| as_written(p)).collect())
                        }
                        _ if v[0].is_nan() => Value::Null,
                        ColumnType::Category => c
                            .values
                            .as_ref()
                            .and_then(|vals| vals.get(v[0] as usize))
                            .map_or(Value::Null, |s| json!(s)),
                        ColumnType::Boolean => json!(v[0] != 0.0),
                        ColumnType::Integer => json!(v[0] as i64),
                        _ => as_written(v[0]),
                    };
                    obj.insert(c.name.clone(), value);
                }
                if let (Some((t, classes)), Some(labels)) = (&target, &self.labels)
                    && !t.sensitive
                    && let Some(label) = classes.get(labels[r] as usize)
                {
                    obj.insert(t.name.clone(), json!(label));
                }
                if let (Some(t), Some(values)) =
                    (crate::rows::numeric_target(manifest), &self.values)
                    && !t.sensitive
                {
                    obj.insert(t.name.clone(), as_written(values[r]));
                }
                if let (Some(c), Some(ids)) = (id_col.filter(|c| !c.sensitive), &self.ids) {
                    obj.insert(c.name.clone(), json!(ids[r]));
                }
                Value::Object(obj)
            })
            .collect()
    }
}

/// What an example row holds in place of a sensitive column's value: a
/// missing value where the column allows one (filled as in training), else
/// the first declared category, `false`, the low end of the range or 0.
pub fn stand_in(c: &ColumnSpec) -> serde_json::Value {
    use serde_json::{Value, json};
    if c.nullable {
        return Value::Null;
    }
    match c.kind {
        ColumnType::Category => c
            .values
            .as_ref()
            .and_then(|v| v.first())
            .map_or(Value::Null, |v| json!(v)),
        ColumnType::Boolean => json!(false),
        ColumnType::Image => {
            let pixels: usize = c.shape.iter().flatten().map(|d| d.get()).product();
            Value::Array(vec![json!(0); pixels])
        }
        ColumnType::Integer => json!(c.range.map_or(0, |[lo, _]| lo.ceil() as i64)),
        _ => c.range.map_or(json!(0), |[lo, _]| as_written(lo as f32)),
    }
}

/// A value read as `f32` back as the number its text was: `153.4`, not
/// the `153.39999389648438` a widening to `f64` would print (the shortest
/// decimal that reads back as the same `f32`).
fn as_written(v: f32) -> serde_json::Value {
    v.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> RawTable {
        RawTable {
            features: (0..n).map(|i| i as f32).collect(),
            width: 1,
            ..Default::default()
        }
    }

    #[test]
    fn selected_rows_remember_their_place_in_the_file() {
        let t = numbered(10);
        assert_eq!(t.source_row(3), 4);
        let picked = t.select(&[7, 2, 9]);
        let again = picked.select(&[2, 0]);
        assert_eq!((again.source_row(0), again.source_row(1)), (10, 8));
        let mut cut = picked.clone();
        cut.truncate(1);
        assert_eq!(cut.source_rows, Some(vec![8]));
    }

    #[test]
    fn examples_are_spread_over_the_rows_and_keep_the_numbers_as_written() {
        let t = numbered(100).spread(5);
        assert_eq!(t.source_rows, Some(vec![1, 21, 41, 61, 81]));
        assert_eq!(as_written(153.4).to_string(), "153.4");
        assert_eq!(as_written(0.1).to_string(), "0.1");
        assert_eq!(numbered(3).spread(5).len(), 3);
    }
}
