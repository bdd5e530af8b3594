//! Whether new rows still look like the rows a model was trained on: each
//! input column's distribution is kept with the run (deciles of numbers,
//! shares of categories, the share missing) and compared with later inputs
//! by the population stability index (PSI), the measure credit-risk teams
//! already monitor scorecards with.

use indus_data::{RawTable, feature_columns};
use indus_spec::{ColumnType, PluginManifest};
use serde::{Deserialize, Serialize};

/// PSI below this: the column is stable.
pub const MODERATE: f64 = 0.1;
/// PSI from this on: the column has shifted enough to question the model.
pub const MAJOR: f64 = 0.25;

/// Shares are floored at this before the logarithm, so an empty bin on
/// one side counts as a large, finite change.
const FLOOR: f64 = 1e-4;
/// Numeric columns are cut at their training deciles.
const QUANTILE_BINS: usize = 10;

/// Fewest rows a drift check compares: ten per bin. A few rows drawn from
/// the training distribution itself scatter over ten bins unevenly enough
/// to read as a major shift (three rows did on every column), so a smaller
/// sample is refused as too small rather than reported as drift.
pub const MIN_DRIFT_ROWS: usize = 10 * QUANTILE_BINS;

/// Every scalar input column's training distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Training rows summarised.
    pub rows: usize,
    /// One entry per scalar feature column (image columns are left out).
    pub columns: Vec<ColumnReference>,
}

/// One column's bins and the share of training rows in each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnReference {
    /// The plugin's column.
    pub column: String,
    /// Its position in a raw row.
    pub offset: usize,
    /// How values fall into bins.
    pub bins: Bins,
    /// Share of training rows per bin, then the share missing (last).
    pub shares: Vec<f64>,
    /// A `sensitive` column: reports name its bins by number (`decile
    /// 3 of 10`), never by the training values at their edges.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// How a column's values are binned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bins {
    /// A value goes to the first bin whose upper edge it does not pass;
    /// above the last edge, to the final bin.
    Numbers {
        /// Training deciles (distinct, ascending).
        upper_edges: Vec<f64>,
    },
    /// One bin per declared value, then one for values outside them.
    Categories {
        /// The declared values, in order.
        values: Vec<String>,
    },
}

impl Bins {
    fn count(&self) -> usize {
        match self {
            Bins::Numbers { upper_edges } => upper_edges.len() + 1,
            Bins::Categories { values } => values.len() + 1,
        }
    }

    /// The bin of a raw value (categories are stored as their index).
    fn of(&self, v: f32) -> usize {
        let v = f64::from(v);
        match self {
            Bins::Numbers { upper_edges } => upper_edges.partition_point(|&e| e < v),
            Bins::Categories { values } => (v.max(0.0) as usize).min(values.len()),
        }
    }

    /// A bin's name for a report: its range or its value.
    fn label(&self, bin: usize) -> String {
        match self {
            Bins::Numbers { upper_edges } => match (bin.checked_sub(1), upper_edges.get(bin)) {
                (None, Some(hi)) => format!("≤ {}", short(*hi)),
                (Some(lo), Some(hi)) => format!("{} to {}", short(upper_edges[lo]), short(*hi)),
                (Some(lo), None) => format!("> {}", short(upper_edges[lo])),
                (None, None) => "any value".into(),
            },
            Bins::Categories { values } => values
                .get(bin)
                .cloned()
                .unwrap_or_else(|| "(a value not declared)".into()),
        }
    }
}

fn short(v: f64) -> String {
    let rounded = (v * 1e3).round() / 1e3;
    format!("{rounded}")
}

/// One column's shift between the training rows and an input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// The plugin's column.
    pub column: String,
    /// Population stability index.
    pub psi: f64,
    /// `stable` (PSI < 0.1), `moderate` (< 0.25) or `major`.
    pub verdict: String,
    /// The bin whose share moved most, with both shares.
    pub largest_change: String,
}

/// Every column's shift, most shifted first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Training rows of the reference.
    pub reference_rows: usize,
    /// Input rows compared.
    pub rows: usize,
    /// Columns, largest PSI first.
    pub columns: Vec<ColumnDrift>,
}

impl Reference {
    /// The distributions of `rows`' scalar feature columns.
    pub fn of(plugin: &PluginManifest, rows: &RawTable) -> Reference {
        let mut columns = Vec::new();
        let mut offset = 0;
        for c in feature_columns(plugin) {
            let width = c.width();
            if width == 1 {
                let values: Vec<f32> = column_values(rows, offset).collect();
                let bins = match c.kind {
                    ColumnType::Category => Bins::Categories {
                        values: c.values.clone().unwrap_or_default(),
                    },
                    _ => Bins::Numbers {
                        upper_edges: decile_edges(&values),
                    },
                };
                let shares = shares(&bins, values.into_iter());
                columns.push(ColumnReference {
                    column: c.name.clone(),
                    offset,
                    bins,
                    shares,
                    sensitive: c.sensitive,
                });
            }
            offset += width;
        }
        Reference {
            rows: rows.len(),
            columns,
        }
    }

    /// How far `rows` have moved from the training rows, column by column.
    pub fn compare(&self, rows: &RawTable) -> DriftReport {
        let mut counts = self.new_counts();
        self.count(rows, &mut counts);
        self.compare_counts(&counts)
    }

    /// Empty bin counts for every column, for [`Self::count`] to add to.
    pub fn new_counts(&self) -> DriftCounts {
        DriftCounts {
            rows: 0,
            counts: self
                .columns
                .iter()
                .map(|c| vec![0; c.bins.count() + 1])
                .collect(),
        }
    }

    /// Adds `rows` (one batch of an input) to the per-bin counts of every
    /// column: counts add up, so a file of any size is compared batch by
    /// batch with the same result as at once.
    pub fn count(&self, rows: &RawTable, into: &mut DriftCounts) {
        for (c, counts) in self.columns.iter().zip(&mut into.counts) {
            add_to_bins(&c.bins, column_values(rows, c.offset), counts);
        }
        into.rows += rows.len();
    }

    /// The report for the rows counted so far.
    pub fn compare_counts(&self, counted: &DriftCounts) -> DriftReport {
        let mut columns: Vec<ColumnDrift> = self
            .columns
            .iter()
            .zip(&counted.counts)
            .map(|(c, counts)| {
                let now = shares_of(counts);
                let psi = psi(&c.shares, &now);
                let (bin, _) = c
                    .shares
                    .iter()
                    .zip(&now)
                    .map(|(e, a)| (a - e).abs())
                    .enumerate()
                    .fold(
                        (0, -1.0),
                        |best, (i, d)| if d > best.1 { (i, d) } else { best },
                    );
                let name = if bin == c.bins.count() {
                    "missing".to_string()
                } else if c.sensitive {
                    format!("bin {} of {}", bin + 1, c.bins.count())
                } else {
                    c.bins.label(bin)
                };
                ColumnDrift {
                    column: c.column.clone(),
                    psi,
                    verdict: verdict(psi).into(),
                    largest_change: format!(
                        "{name}: {:.1} % → {:.1} %",
                        100.0 * c.shares[bin],
                        100.0 * now[bin]
                    ),
                }
            })
            .collect();
        columns.sort_by(|a, b| b.psi.total_cmp(&a.psi));
        DriftReport {
            reference_rows: self.rows,
            rows: counted.rows,
            columns,
        }
    }
}

/// Input rows counted into each reference column's bins (the last bin of
/// each: missing), batch after batch; made by [`Reference::new_counts`].
#[derive(Debug, Clone, PartialEq)]
pub struct DriftCounts {
    rows: usize,
    counts: Vec<Vec<usize>>,
}

impl DriftCounts {
    /// Rows counted so far.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// The usual reading of a PSI value.
pub fn verdict(psi: f64) -> &'static str {
    if psi < MODERATE {
        "stable"
    } else if psi < MAJOR {
        "moderate"
    } else {
        "major"
    }
}

fn column_values(rows: &RawTable, offset: usize) -> impl Iterator<Item = f32> + '_ {
    rows.features
        .chunks_exact(rows.width.max(1))
        .map(move |row| row[offset])
}

/// The distinct deciles of the non-missing values.
fn decile_edges(values: &[f32]) -> Vec<f64> {
    let mut present: Vec<f64> = values
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| f64::from(v))
        .collect();
    if present.is_empty() {
        return Vec::new();
    }
    present.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..QUANTILE_BINS)
        .map(|q| present[(q * present.len() / QUANTILE_BINS).min(present.len() - 1)])
        .collect();
    edges.dedup();
    // The largest value needs no edge of its own: it falls in the last bin.
    if edges.last() == present.last() {
        edges.pop();
    }
    edges
}

/// Share of values per bin, then the share missing.
fn shares(bins: &Bins, values: impl Iterator<Item = f32>) -> Vec<f64> {
    let mut counts = vec![0usize; bins.count() + 1];
    add_to_bins(bins, values, &mut counts);
    shares_of(&counts)
}

/// Counts each value into its bin (the last one: missing).
fn add_to_bins(bins: &Bins, values: impl Iterator<Item = f32>, counts: &mut [usize]) {
    for v in values {
        let bin = if v.is_nan() { bins.count() } else { bins.of(v) };
        counts[bin] += 1;
    }
}

/// Each bin's share of the values counted.
fn shares_of(counts: &[usize]) -> Vec<f64> {
    let n: usize = counts.iter().sum();
    counts.iter().map(|&c| c as f64 / n.max(1) as f64).collect()
}

/// Population stability index of `actual` shares against `expected`.
fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_matches_a_hand_computed_value() {
        // 50/50 becoming 70/30: 0.2·ln(1.4) + (−0.2)·ln(0.6) = 0.1695.
        let p = psi(&[0.5, 0.5], &[0.7, 0.3]);
        assert!((p - 0.16946).abs() < 1e-4, "{p}");
        assert_eq!(psi(&[0.25, 0.75], &[0.25, 0.75]), 0.0);
        assert_eq!(verdict(0.05), "stable");
        assert_eq!(verdict(p), "moderate");
        assert_eq!(verdict(0.3), "major");
    }

    #[test]
    fn deciles_bin_numbers_and_the_last_bin_takes_the_rest() {
        let values: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        let edges = decile_edges(&values);
        assert_eq!(
            edges,
            [11.0, 21.0, 31.0, 41.0, 51.0, 61.0, 71.0, 81.0, 91.0]
        );
        let bins = Bins::Numbers { upper_edges: edges };
        assert_eq!(bins.of(1.0), 0);
        assert_eq!(bins.of(11.0), 0);
        assert_eq!(bins.of(11.5), 1);
        assert_eq!(bins.of(1000.0), 9);
        assert_eq!(bins.label(0), "≤ 11");
        assert_eq!(bins.label(9), "> 91");
        let s = shares(&bins, values.iter().copied().chain([f32::NAN]));
        assert_eq!(s.len(), 11);
        assert!(
            (s[10] - 1.0 / 101.0).abs() < 1e-12,
            "one missing value of 101"
        );
        // A column with few distinct values keeps one bin per value.
        assert_eq!(decile_edges(&[0.0, 0.0, 1.0, 1.0, 1.0]), [0.0]);
    }

    #[test]
    fn a_shifted_column_is_found_and_an_unchanged_one_is_stable() {
        let plugin = indus_spec::parse_plugin(
            std::path::Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: amount, type: number, role: feature}\n    - {name: kind, type: category, role: feature, values: [a, b], unknown_values: bucket}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y, classes: [good, bad]}\n",
        )
        .expect("plugin");
        let table = |rows: &[(f32, f32)]| RawTable {
            features: rows.iter().flat_map(|&(a, k)| [a, k]).collect(),
            width: 2,
            ..RawTable::default()
        };
        let train: Vec<(f32, f32)> = (0..200).map(|i| (i as f32, (i % 2) as f32)).collect();
        let reference = Reference::of(&plugin, &table(&train));
        assert_eq!(reference.columns.len(), 2);
        let same = reference.compare(&table(&train));
        assert!(same.columns.iter().all(|c| c.psi < 1e-9), "{same:?}");
        // Amounts doubled; a third of the kinds never seen in training.
        let later: Vec<(f32, f32)> = (0..200).map(|i| (2.0 * i as f32, (i % 3) as f32)).collect();
        let report = reference.compare(&table(&later));
        let column = |name: &str| report.columns.iter().find(|c| c.column == name).unwrap();
        let amount = column("amount");
        assert_eq!(amount.verdict, "major", "{report:?}");
        // Half the doubled amounts pass the largest training value.
        assert!(amount.largest_change.starts_with("> "), "{report:?}");
        let kind = column("kind");
        assert_eq!(kind.verdict, "major", "{report:?}");
        assert!(
            kind.largest_change
                .starts_with("(a value not declared): 0.0 % → 33."),
            "{kind:?}"
        );
        // Counted batch by batch (a streamed file), the report is the same.
        let mut counts = reference.new_counts();
        for part in later.chunks(67) {
            reference.count(&table(part), &mut counts);
        }
        assert_eq!(counts.rows(), 200);
        assert_eq!(reference.compare_counts(&counts), report);
    }
}
