//! What a table's rows say about whether a model trained on them can be
//! trusted: columns that nearly give the answer away (likely leakage),
//! exact duplicate rows, constant columns, and test rows that training
//! saw too. Every finding states the rule and threshold that raised it.
//!
//! Rows are compared by a hash of their feature cells (a stable FNV-1a
//! over the values as read, a cell at a time), so the same rows hash alike in training, in
//! a later `indus eval` and on another machine.

use crate::table::{RawTable, feature_columns, primary_head};
use indus_spec::{ColumnType, PluginManifest, Task};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A column whose single-column ROC-AUC against a binary target reaches
/// this (or falls to 1 − this) alone nearly determines the target.
pub const LEAKAGE_AUC: f64 = 0.95;
/// A value whose rows are at least this pure in one class…
pub const LEAKAGE_PURITY: f64 = 0.99;
/// …and that marks at least this share of the class's rows (a column
/// recorded after the outcome marks nearly all of them; a strong honest
/// signal, such as a SYN-error rate of 1 for flood attacks, marks some)…
pub const LEAKAGE_COVERAGE: f64 = 0.9;
/// …of a class no larger than this share of all rows (in a class of 95 %
/// of the rows, any common value is "pure").
pub const LEAKAGE_CLASS_SHARE: f64 = 0.9;
/// A numeric target correlated with one column at least this strongly
/// (absolute Pearson correlation) is likely leaked by it.
pub const LEAKAGE_CORRELATION: f64 = 0.99;
/// A column whose most common value (missing counts as one) covers at
/// least this share of rows carries next to no information.
pub const NEAR_CONSTANT_SHARE: f64 = 0.99;
/// Rows the per-column checks read at most (spread over the table): the
/// rates they estimate are stable long before, and the cost stays flat
/// for any table.
pub const QUALITY_SAMPLE_ROWS: usize = 200_000;
/// Most findings of one kind kept in a report.
const KEPT: usize = 20;

/// The data-quality report of a run's (or a proposal's) rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    /// Training rows checked for duplicates.
    pub rows: usize,
    /// Rows whose feature cells repeat an earlier row's exactly.
    pub duplicate_rows: usize,
    /// Of those, rows whose target differs from the earlier row's.
    pub conflicting_duplicates: usize,
    /// Rows the per-column checks read (all, or a spread sample).
    pub sampled_rows: usize,
    /// Columns that alone nearly determine the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leakage: Vec<LeakageSuspect>,
    /// Columns with one value (nearly) everywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constant_columns: Vec<ConstantColumn>,
    /// Test rows checked against the training rows (absent when every row
    /// is tested out of fold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_rows: Option<usize>,
    /// Test rows whose feature cells also occur among the training rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_rows_in_training: Option<usize>,
}

/// A column that nearly gives the answer away, with the rule that said so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakageSuspect {
    /// The column.
    pub column: String,
    /// The rule and its threshold, in words.
    pub rule: String,
    /// The measured value (ROC-AUC, purity or correlation).
    pub value: f64,
}

/// A column with one value (nearly) everywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstantColumn {
    /// The column.
    pub column: String,
    /// Share of rows holding its most common value (1 for a constant).
    pub top_share: f64,
}

impl DataQuality {
    /// The findings as sentences, for the CLI, the run log and the model
    /// card; empty when nothing was found.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for l in &self.leakage {
            out.push(format!(
                "likely leakage: `{}` alone nearly determines the target ({}: {:.3}); check that it is known before the outcome",
                l.column, l.rule, l.value
            ));
        }
        if self.duplicate_rows > 0 {
            out.push(format!(
                "{} of {} training rows ({:.1} %) repeat an earlier row exactly{}; splits and folds keep copies with the same target together",
                self.duplicate_rows,
                self.rows,
                100.0 * self.duplicate_rows as f64 / self.rows.max(1) as f64,
                if self.conflicting_duplicates > 0 {
                    format!(
                        ", {} of them with another target",
                        self.conflicting_duplicates
                    )
                } else {
                    String::new()
                }
            ));
        }
        let (constant, nearly): (Vec<&ConstantColumn>, Vec<&ConstantColumn>) = self
            .constant_columns
            .iter()
            .partition(|c| c.top_share >= 1.0);
        if !constant.is_empty() {
            out.push(format!(
                "constant, so they tell the model nothing: {}",
                constant
                    .iter()
                    .map(|c| format!("`{}`", c.column))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !nearly.is_empty() {
            out.push(format!(
                "nearly constant (one value in at least {:.0} % of rows): {}",
                100.0 * NEAR_CONSTANT_SHARE,
                nearly
                    .iter()
                    .map(|c| match 100.0 * c.top_share {
                        p if p > 99.99 => format!("`{}` >99.99 %", c.column),
                        p => format!("`{}` {p:.2} %", c.column),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let (Some(test), Some(seen)) = (self.test_rows, self.test_rows_in_training)
            && seen > 0
        {
            out.push(format!(
                "{seen} of {test} test rows ({:.1} %) also occur among the training rows: the test metrics overstate how the model does on new rows",
                100.0 * seen as f64 / test.max(1) as f64
            ));
        }
        out
    }
}

/// Which cells of a row identify it, and their stable 64-bit hash
/// (FNV-1a taken a 32-bit cell at a time; every NaN alike, and -0 as 0).
#[derive(Debug, Clone)]
pub struct RowHasher {
    /// Cell offsets hashed; `None`: every cell.
    cells: Option<Vec<usize>>,
}

impl RowHasher {
    /// Hashes every cell: for rows read and filled alike (splits, folds).
    pub fn all() -> RowHasher {
        RowHasher { cells: None }
    }

    /// Hashes the cells the data file holds, not those the plugin's hooks
    /// derive: a row read by `indus eval` hashes as it did in training
    /// before its derived cells are filled.
    pub fn declared(plugin: &PluginManifest) -> RowHasher {
        let mut cells = Vec::new();
        let mut at = 0;
        for c in feature_columns(plugin) {
            if !c.derived {
                cells.extend(at..at + c.width());
            }
            at += c.width();
        }
        RowHasher { cells: Some(cells) }
    }

    /// The hash of row `i` of `table`.
    pub fn hash(&self, table: &RawTable, i: usize) -> u64 {
        let row = &table.features[i * table.width..(i + 1) * table.width];
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut add = |v: f32| {
            let bits = if v.is_nan() {
                f32::NAN.to_bits()
            } else if v == 0.0 {
                0
            } else {
                v.to_bits()
            };
            h ^= u64::from(bits);
            h = h.wrapping_mul(0x0100_0000_01b3);
        };
        match &self.cells {
            None => row.iter().for_each(|&v| add(v)),
            Some(cells) => cells
                .iter()
                .filter_map(|&c| row.get(c))
                .for_each(|&v| add(v)),
        }
        h
    }
}

/// A stable 64-bit hash of a text (FNV-1a over its bytes): an id's
/// identity when rows are dealt by id.
pub fn text_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Checks `train` (and `test`, when the test rows are apart from it).
pub fn assess(plugin: &PluginManifest, train: &RawTable, test: Option<&RawTable>) -> DataQuality {
    let mut q = DataQuality {
        rows: train.len(),
        ..DataQuality::default()
    };
    let hasher = RowHasher::all();
    // 16 bytes a row: the row's hash and its target's.
    let mut first_target: HashMap<u64, u64> = HashMap::with_capacity(train.len());
    for i in 0..train.len() {
        let key = target_hash(train, i);
        match first_target.entry(hasher.hash(train, i)) {
            std::collections::hash_map::Entry::Occupied(e) => {
                q.duplicate_rows += 1;
                if *e.get() != key {
                    q.conflicting_duplicates += 1;
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(key);
            }
        }
    }
    if let Some(test) = test {
        q.test_rows = Some(test.len());
        q.test_rows_in_training = Some(
            (0..test.len())
                .filter(|&i| first_target.contains_key(&hasher.hash(test, i)))
                .count(),
        );
    }
    drop(first_target);
    let sample: Vec<usize> = spread_indices(train.len(), QUALITY_SAMPLE_ROWS);
    q.sampled_rows = sample.len();
    let mut at = 0;
    for c in feature_columns(plugin) {
        let offset = at;
        at += c.width();
        if c.width() != 1 || c.kind == ColumnType::Image {
            continue;
        }
        let cells: Vec<f32> = sample
            .iter()
            .map(|&i| train.features[i * train.width + offset])
            .collect();
        if let Some(top_share) = top_share(&cells)
            && top_share >= NEAR_CONSTANT_SHARE
            && q.constant_columns.len() < KEPT
        {
            q.constant_columns.push(ConstantColumn {
                column: c.name.clone(),
                top_share,
            });
            continue;
        }
        if let Some(suspect) = leakage(plugin, &c.name, c.kind, &cells, train, &sample)
            && q.leakage.len() < KEPT
        {
            q.leakage.push(suspect);
        }
    }
    q
}

/// A row's target as a number, for telling conflicting duplicates apart
/// (a class, a value's bits, or a label set's hash).
fn target_hash(t: &RawTable, i: usize) -> u64 {
    if let Some(l) = &t.labels {
        u64::from(l[i])
    } else if let Some(v) = &t.values {
        u64::from(v[i].to_bits())
    } else if let Some(s) = &t.label_sets {
        let text: Vec<String> = s[i].iter().map(u32::to_string).collect();
        text_hash(&text.join(","))
    } else {
        0
    }
}

/// At most `max` row indices spread evenly over `len` rows.
fn spread_indices(len: usize, max: usize) -> Vec<usize> {
    if len <= max {
        return (0..len).collect();
    }
    (0..max).map(|k| k * len / max).collect()
}

/// The share of the most common value (every NaN alike).
fn top_share(cells: &[f32]) -> Option<f64> {
    if cells.is_empty() {
        return None;
    }
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for v in cells {
        let key = if v.is_nan() { u32::MAX } else { v.to_bits() };
        *counts.entry(key).or_default() += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    Some(top as f64 / cells.len() as f64)
}

/// The first leakage rule `cells` (one column over `sample`) trips.
fn leakage(
    plugin: &PluginManifest,
    column: &str,
    kind: ColumnType,
    cells: &[f32],
    train: &RawTable,
    sample: &[usize],
) -> Option<LeakageSuspect> {
    let head = primary_head(plugin);
    if let Some(labels) = &train.labels {
        let labels: Vec<u32> = sample.iter().map(|&i| labels[i]).collect();
        if head.task == Task::Binary && kind != ColumnType::Category {
            let auc = single_column_auc(cells, &labels)?;
            if auc.max(1.0 - auc) >= LEAKAGE_AUC {
                return Some(LeakageSuspect {
                    column: column.to_string(),
                    rule: format!(
                        "single-column ROC-AUC at least {LEAKAGE_AUC} (or at most {:.2})",
                        1.0 - LEAKAGE_AUC
                    ),
                    value: auc,
                });
            }
        }
        return pure_value(column, cells, &labels);
    }
    if let Some(values) = &train.values
        && kind != ColumnType::Category
    {
        let target: Vec<f32> = sample.iter().map(|&i| values[i]).collect();
        let r = correlation(cells, &target)?;
        if r.abs() >= LEAKAGE_CORRELATION {
            return Some(LeakageSuspect {
                column: column.to_string(),
                rule: format!(
                    "absolute correlation with the target at least {LEAKAGE_CORRELATION}"
                ),
                value: r,
            });
        }
    }
    None
}

/// ROC-AUC of the raw value as a score for class 1 (ties count one half;
/// missing cells left out), `None` with one class.
fn single_column_auc(cells: &[f32], labels: &[u32]) -> Option<f64> {
    let mut pairs: Vec<(f32, bool)> = cells
        .iter()
        .zip(labels)
        .filter(|(v, _)| !v.is_nan())
        .map(|(&v, &l)| (v, l == 1))
        .collect();
    let positives = pairs.iter().filter(|p| p.1).count();
    let negatives = pairs.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mann–Whitney: sum of positive ranks, tied values sharing their mean.
    let (mut rank_sum, mut i) = (0.0f64, 0);
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        let mean_rank = (i + j + 1) as f64 / 2.0; // ranks i+1 ..= j
        rank_sum += mean_rank * pairs[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// A value whose rows are nearly all one (not overwhelming) class and mark
/// most of that class.
fn pure_value(column: &str, cells: &[f32], labels: &[u32]) -> Option<LeakageSuspect> {
    const MOST_VALUES: usize = 10_000;
    let classes = labels.iter().copied().max()? as usize + 1;
    let mut class_rows = vec![0usize; classes];
    let mut by_value: HashMap<u32, Vec<usize>> = HashMap::new();
    for (v, &l) in cells.iter().zip(labels) {
        class_rows[l as usize] += 1;
        let key = if v.is_nan() { u32::MAX } else { v.to_bits() };
        if by_value.len() >= MOST_VALUES && !by_value.contains_key(&key) {
            continue;
        }
        by_value.entry(key).or_insert_with(|| vec![0; classes])[l as usize] += 1;
    }
    let rows = labels.len() as f64;
    let mut best: Option<(f64, f64)> = None;
    for counts in by_value.values() {
        let held: usize = counts.iter().sum();
        let (class, &in_class) = counts.iter().enumerate().max_by_key(|(_, c)| **c)?;
        let purity = in_class as f64 / held as f64;
        let coverage = in_class as f64 / class_rows[class].max(1) as f64;
        let class_share = class_rows[class] as f64 / rows;
        if purity >= LEAKAGE_PURITY
            && coverage >= LEAKAGE_COVERAGE
            && class_share <= LEAKAGE_CLASS_SHARE
            && best.is_none_or(|(p, _)| purity > p)
        {
            best = Some((purity, coverage));
        }
    }
    let (purity, coverage) = best?;
    Some(LeakageSuspect {
        column: column.to_string(),
        rule: format!(
            "one value marks {:.0} % of a class's rows (at least {:.0} %) and its rows are that class at least {:.0} % of the time; purity",
            100.0 * coverage,
            100.0 * LEAKAGE_COVERAGE,
            100.0 * LEAKAGE_PURITY
        ),
        value: purity,
    })
}

/// Pearson correlation, `None` when either side is constant.
fn correlation(x: &[f32], y: &[f32]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(&a, &b)| (f64::from(a), f64::from(b)))
        .collect();
    let n = pairs.len() as f64;
    if n < 2.0 {
        return None;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in &pairs {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// The declared-cell hashes of a run's training rows, sorted and
/// distinct, for telling later inputs that training saw.
pub fn sorted_hashes(plugin: &PluginManifest, table: &RawTable) -> Vec<u64> {
    let hasher = RowHasher::declared(plugin);
    let mut h: Vec<u64> = (0..table.len()).map(|i| hasher.hash(table, i)).collect();
    h.sort_unstable();
    h.dedup();
    h
}

/// How many of `table`'s rows occur in `sorted` (from [`sorted_hashes`]).
pub fn rows_seen(plugin: &PluginManifest, table: &RawTable, sorted: &[u64]) -> usize {
    let hasher = RowHasher::declared(plugin);
    (0..table.len())
        .filter(|&i| sorted.binary_search(&hasher.hash(table, i)).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(columns: &str, head: &str) -> PluginManifest {
        indus_spec::parse_plugin(
            std::path::Path::new("p.yaml"),
            &format!("name: p\nindustry: t\ndescription: t\ndata:\n  source: {{format: csv, dataset: p, files: {{train: {{name: t.csv}}}}}}\n  columns:\n{columns}heads:\n  - {head}\n"),
        )
        .unwrap()
    }

    #[test]
    fn a_column_zero_for_every_refused_row_is_named_as_leakage() {
        let p = plugin(
            "    - {name: paid_back, type: number, role: feature}\n    - {name: income, type: number, role: feature}\n    - {name: same, type: number, role: feature}\n    - {name: y, type: category, role: target, values: [ok, refused]}\n",
            "{name: y, task: binary, target: y, classes: [ok, refused]}",
        );
        // 100 rows: `paid_back` is 0 for every refused row and positive for
        // the others; `income` is noise; `same` is constant; rows 90..100
        // repeat rows 0..10.
        let n = 100;
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let k = if i >= 90 { i - 90 } else { i };
            let refused = k % 3 == 0;
            features.extend([
                if refused { 0.0 } else { 1.0 + k as f32 },
                ((k * 37) % 101) as f32,
                5.0,
            ]);
            labels.push(u32::from(refused));
        }
        let train = RawTable {
            features,
            width: 3,
            labels: Some(labels),
            ..RawTable::default()
        };
        let test = train.select(&[0, 1, 50]);
        let q = assess(&p, &train, Some(&test));
        assert_eq!(q.leakage.len(), 1, "{q:?}");
        assert_eq!(q.leakage[0].column, "paid_back");
        assert!(q.leakage[0].value <= 0.05, "{q:?}");
        assert_eq!(q.duplicate_rows, 10);
        assert_eq!(q.conflicting_duplicates, 0);
        assert_eq!(q.constant_columns[0].column, "same");
        assert_eq!(q.test_rows_in_training, Some(3));
        let said = q.findings().join("\n");
        assert!(
            said.contains("likely leakage: `paid_back`") && said.contains("ROC-AUC"),
            "{said}"
        );
        assert!(said.contains("10 of 100 training rows"), "{said}");
        assert!(
            said.contains("constant, so they tell the model nothing: `same`"),
            "{said}"
        );
        assert!(said.contains("3 of 3 test rows"), "{said}");
        assert_eq!(rows_seen(&p, &test, &sorted_hashes(&p, &train)), 3);
    }

    #[test]
    fn a_category_value_that_marks_one_class_is_named_and_a_fair_column_is_not() {
        let p = plugin(
            "    - {name: flag, type: category, role: feature, values: [a, b, c]}\n    - {name: region, type: category, role: feature, values: [n, s]}\n    - {name: y, type: category, role: target, values: [x, y, z]}\n",
            "{name: y, task: multiclass, target: y, classes: [x, y, z]}",
        );
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for i in 0..300u32 {
            let class = i % 3;
            // Value `c` (2) marks every class-2 row and no other.
            let flag = if class == 2 { 2.0 } else { (i % 2) as f32 };
            features.extend([flag, ((i / 3) % 2) as f32]);
            labels.push(class);
        }
        let train = RawTable {
            features,
            width: 2,
            labels: Some(labels),
            ..RawTable::default()
        };
        let q = assess(&p, &train, None);
        assert_eq!(q.leakage.len(), 1, "{q:?}");
        assert_eq!(q.leakage[0].column, "flag");
        assert_eq!(q.leakage[0].value, 1.0);
        assert_eq!(q.test_rows, None);
        assert!(q.constant_columns.is_empty());
    }

    #[test]
    fn the_row_hash_is_stable_across_machines() {
        let t = RawTable {
            features: vec![1.5, f32::NAN, -0.0, 1.5, f32::NAN, 0.0],
            width: 3,
            ..RawTable::default()
        };
        let h = RowHasher::all();
        assert_eq!(h.hash(&t, 0), h.hash(&t, 1));
        // A fixed value: a change to the hash would orphan every saved
        // run's training-row hashes.
        assert_eq!(h.hash(&t, 0), 0x9a5e_8fdd_788f_2fb7, "{:#x}", h.hash(&t, 0));
    }
}
