//! How a binary head's held-out results differ between groups of people:
//! per group of each protected column (the plugin's `fairness:`), the
//! counts and rates a fairness review asks for, and the gaps between the
//! groups (demographic parity, the four-fifths rule, equalised odds).
//!
//! "Selected" means predicted as the head's positive class (its second
//! class, e.g. `bad` for a credit risk), as the served decision rule
//! decides it.

use indus_data::{RawTable, feature_columns};
use indus_engine::metrics::ranking_metrics;
use indus_spec::{FairnessSpec, PluginManifest};
use serde::{Deserialize, Serialize};

/// The group of rows whose protected value is missing.
pub const MISSING_GROUP: &str = "(missing)";

/// The share of the most-selected group's rate that every group must
/// reach under the four-fifths rule (US EEOC guidelines on adverse
/// impact).
pub const FOUR_FIFTHS: f64 = 0.8;

/// A run's per-group report (`metrics.json` `fairness`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessReport {
    /// The class counted as selected (the head's positive class).
    pub positive_class: String,
    /// Held-out rows the figures cover.
    pub rows: usize,
    /// Held-out rows a group needs for its rates to be called stable.
    pub min_group_rows: usize,
    /// One table per protected column, in the plugin's order.
    pub columns: Vec<ColumnFairness>,
}

/// The groups of one protected column and the gaps between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnFairness {
    /// The protected column.
    pub column: String,
    /// Every group the column declares (those without held-out rows too),
    /// then missing values when there are any.
    pub groups: Vec<GroupRates>,
    /// Largest minus smallest selection rate over the groups with rows.
    pub demographic_parity_difference: f64,
    /// Smallest over largest selection rate (absent when no group is
    /// selected at all).
    pub demographic_parity_ratio: Option<f64>,
    /// Whether every group's selection rate is at least four fifths of the
    /// highest (the ratio is at least 0.8).
    pub four_fifths_rule: Option<bool>,
    /// The larger of the true-positive-rate and false-positive-rate gaps
    /// (largest minus smallest), over the groups where each is defined.
    pub equalized_odds_difference: Option<f64>,
    /// What a reader must know to weigh the gaps: groups too small for a
    /// stable rate, rates left undefined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Counts and rates of one group on the held-out rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRates {
    /// The group's name (a category value, a named group, a bin).
    pub group: String,
    /// Held-out rows in the group.
    pub count: usize,
    /// Share of the group truly positive.
    pub base_rate: Option<f64>,
    /// Share of the group selected (predicted positive).
    pub selection_rate: Option<f64>,
    /// Share of the truly positive rows selected (absent without any).
    pub true_positive_rate: Option<f64>,
    /// Share of the truly negative rows selected (absent without any).
    pub false_positive_rate: Option<f64>,
    /// Share of the selected rows truly positive (absent when none is).
    pub precision: Option<f64>,
    /// Ranking quality of the positive-class score inside the group
    /// (absent when it holds one class only).
    pub roc_auc: Option<f64>,
    /// Fewer rows than `min_group_rows`: the rates are reported but are
    /// not stable enough to act on alone.
    pub too_few_rows: bool,
}

/// Each protected column's group per row, taken from rows before they are
/// consumed by training.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowGroups {
    /// `(column, group per row)` in the plugin's order.
    pub columns: Vec<(String, Vec<String>)>,
}

impl RowGroups {
    /// The groups of every row of `rows` under the plugin's `fairness:`;
    /// empty without one.
    pub fn of(plugin: &PluginManifest, rows: &RawTable) -> RowGroups {
        let Some(spec) = &plugin.fairness else {
            return RowGroups::default();
        };
        let mut offsets = Vec::new();
        let mut at = 0;
        for c in feature_columns(plugin) {
            offsets.push((c, at));
            at += c.width();
        }
        let width = rows.width.max(1);
        let columns = spec
            .protected
            .iter()
            .filter_map(|p| {
                let (column, offset) = offsets.iter().find(|(c, _)| c.name == p.column)?;
                let groups = rows
                    .features
                    .chunks_exact(width)
                    .map(|row| {
                        p.group_of(column, row[*offset])
                            .unwrap_or_else(|| MISSING_GROUP.to_string())
                    })
                    .collect();
                Some((p.column.clone(), groups))
            })
            .collect();
        RowGroups { columns }
    }

    /// The groups of rows `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> RowGroups {
        RowGroups {
            columns: self
                .columns
                .iter()
                .map(|(c, g)| (c.clone(), indices.iter().map(|&i| g[i].clone()).collect()))
                .collect(),
        }
    }
}

/// The held-out answers of a binary head, row by row, as fairness needs
/// them.
pub(crate) struct BinaryAnswers<'a> {
    /// Whether each row is truly positive.
    pub truth: &'a [bool],
    /// Whether each row was selected (predicted positive).
    pub selected: &'a [bool],
    /// Each row's positive-class score.
    pub scores: &'a [f32],
}

/// The report of `answers` over `groups`, or `None` without a `fairness:`
/// section (or rows to report on).
pub(crate) fn fairness_report(
    plugin: &PluginManifest,
    positive_class: &str,
    groups: &RowGroups,
    answers: &BinaryAnswers<'_>,
) -> Option<FairnessReport> {
    let spec: &FairnessSpec = plugin.fairness.as_ref()?;
    let rows = answers.truth.len();
    if rows == 0 || groups.columns.is_empty() {
        return None;
    }
    let min_rows = spec.min_group_rows();
    let declared = |column: &str| {
        let p = spec.protected.iter().find(|p| p.column == column)?;
        let c = plugin.data.columns.iter().find(|c| c.name == column)?;
        Some(p.all_groups(c))
    };
    let columns = groups
        .columns
        .iter()
        .map(|(column, of_row)| {
            let mut names = declared(column).unwrap_or_default();
            if of_row.iter().any(|g| g == MISSING_GROUP) {
                names.push(MISSING_GROUP.to_string());
            }
            for g in of_row {
                if !names.contains(g) {
                    names.push(g.clone());
                }
            }
            let rates: Vec<GroupRates> = names
                .iter()
                .map(|name| {
                    let members: Vec<usize> = (0..rows).filter(|&i| of_row[i] == *name).collect();
                    group_rates(name, &members, answers, min_rows)
                })
                .collect();
            gaps(column, rates, min_rows)
        })
        .collect();
    Some(FairnessReport {
        positive_class: positive_class.to_string(),
        rows,
        min_group_rows: min_rows,
        columns,
    })
}

/// The report of a binary head's scored rows: `probs` two per row
/// (negative, positive), `predicted` and `labels` class indices.
pub(crate) fn of_scored(
    plugin: &PluginManifest,
    classes: &[String],
    groups: &RowGroups,
    probs: &[f32],
    predicted: &[usize],
    labels: &[u32],
) -> Option<FairnessReport> {
    let positive = classes.get(1).filter(|_| classes.len() == 2)?;
    let rows = labels.len();
    if predicted.len() != rows || probs.len() != 2 * rows {
        return None;
    }
    let truth: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
    let selected: Vec<bool> = predicted.iter().map(|&p| p == 1).collect();
    let scores: Vec<f32> = probs.chunks_exact(2).map(|p| p[1]).collect();
    fairness_report(
        plugin,
        positive,
        groups,
        &BinaryAnswers {
            truth: &truth,
            selected: &selected,
            scores: &scores,
        },
    )
}

impl ColumnFairness {
    /// The gaps in one sentence, as the CLI, the dashboard and the model
    /// card print them: "demographic parity difference 0.333, ratio 0.414
    /// (below the four-fifths rule); equalised-odds difference 0.313".
    pub fn gaps_sentence(&self) -> String {
        let three = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
        format!(
            "demographic parity difference {:.3}, ratio {}{}; equalised-odds difference {}",
            self.demographic_parity_difference,
            three(self.demographic_parity_ratio),
            match self.four_fifths_rule {
                Some(true) => " (meets the four-fifths rule)",
                Some(false) => " (below the four-fifths rule)",
                None => "",
            },
            three(self.equalized_odds_difference)
        )
    }
}

/// `part / whole`, absent for an empty whole.
fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The counts and rates of the rows `members`.
fn group_rates(
    name: &str,
    members: &[usize],
    answers: &BinaryAnswers<'_>,
    min_rows: usize,
) -> GroupRates {
    let count = members.len();
    let (mut positives, mut selected, mut tp, mut fp) = (0, 0, 0, 0);
    for &i in members {
        let (t, s) = (answers.truth[i], answers.selected[i]);
        positives += usize::from(t);
        selected += usize::from(s);
        tp += usize::from(t && s);
        fp += usize::from(!t && s);
    }
    let scores: Vec<f32> = members.iter().map(|&i| answers.scores[i]).collect();
    let truth: Vec<bool> = members.iter().map(|&i| answers.truth[i]).collect();
    GroupRates {
        group: name.to_string(),
        count,
        base_rate: share(positives, count),
        selection_rate: share(selected, count),
        true_positive_rate: share(tp, positives),
        false_positive_rate: share(fp, count - positives),
        precision: share(tp, selected),
        roc_auc: ranking_metrics(&scores, &truth).map(|r| r.roc_auc),
        too_few_rows: count < min_rows,
    }
}

/// Largest minus smallest of the defined values, absent when none is.
fn spread(values: impl Iterator<Item = Option<f64>>) -> Option<(f64, f64)> {
    values.flatten().fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// The column's table with its gaps and notes.
fn gaps(column: &str, groups: Vec<GroupRates>, min_rows: usize) -> ColumnFairness {
    let with_rows = || groups.iter().filter(|g| g.count > 0);
    let selection = spread(with_rows().map(|g| g.selection_rate));
    let (dp_difference, dp_ratio) = match selection {
        Some((lo, hi)) => (hi - lo, (hi > 0.0).then(|| lo / hi)),
        None => (0.0, None),
    };
    let tpr = spread(with_rows().map(|g| g.true_positive_rate));
    let fpr = spread(with_rows().map(|g| g.false_positive_rate));
    let equalized_odds = match (tpr, fpr) {
        (None, None) => None,
        (t, f) => Some(
            t.map_or(0.0, |(lo, hi)| hi - lo)
                .max(f.map_or(0.0, |(lo, hi)| hi - lo)),
        ),
    };
    let mut notes = Vec::new();
    let small: Vec<String> = with_rows()
        .filter(|g| g.too_few_rows)
        .map(|g| format!("`{}` ({} rows)", g.group, g.count))
        .collect();
    if !small.is_empty() {
        notes.push(format!(
            "fewer than {min_rows} held-out rows, rates not stable: {}; the gaps include them",
            small.join(", ")
        ));
    }
    let empty: Vec<&str> = groups
        .iter()
        .filter(|g| g.count == 0)
        .map(|g| g.group.as_str())
        .collect();
    if !empty.is_empty() {
        notes.push(format!(
            "no held-out rows: {}",
            empty
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let one_class: Vec<String> = with_rows()
        .filter(|g| g.true_positive_rate.is_none() || g.false_positive_rate.is_none())
        .map(|g| format!("`{}`", g.group))
        .collect();
    if !one_class.is_empty() {
        notes.push(format!(
            "one class only, so a true- or false-positive rate is undefined and left out of the equalised-odds gap: {}",
            one_class.join(", ")
        ));
    }
    ColumnFairness {
        column: column.to_string(),
        demographic_parity_difference: dp_difference,
        demographic_parity_ratio: dp_ratio,
        four_fifths_rule: dp_ratio.map(|r| r >= FOUR_FIFTHS),
        equalized_odds_difference: equalized_odds,
        groups,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(rows: &[(bool, bool, f32)]) -> (Vec<bool>, Vec<bool>, Vec<f32>) {
        (
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
        )
    }

    #[test]
    fn rates_and_gaps_follow_their_definitions() {
        // Group a: 4 rows, 2 positive; selects one positive and one
        // negative. Group b: 2 rows, both negative, none selected.
        let (truth, selected, scores) = answers(&[
            (true, true, 0.9),
            (true, false, 0.4),
            (false, true, 0.6),
            (false, false, 0.1),
            (false, false, 0.2),
            (false, false, 0.3),
        ]);
        let a = group_rates(
            "a",
            &[0, 1, 2, 3],
            &BinaryAnswers {
                truth: &truth,
                selected: &selected,
                scores: &scores,
            },
            3,
        );
        assert_eq!(a.base_rate, Some(0.5));
        assert_eq!(a.selection_rate, Some(0.5));
        assert_eq!(a.true_positive_rate, Some(0.5));
        assert_eq!(a.false_positive_rate, Some(0.5));
        assert_eq!(a.precision, Some(0.5));
        assert_eq!(a.roc_auc, Some(0.75));
        assert!(!a.too_few_rows);
        let b = group_rates(
            "b",
            &[4, 5],
            &BinaryAnswers {
                truth: &truth,
                selected: &selected,
                scores: &scores,
            },
            3,
        );
        assert_eq!(
            (b.true_positive_rate, b.precision, b.roc_auc),
            (None, None, None)
        );
        assert_eq!(b.false_positive_rate, Some(0.0));
        assert!(b.too_few_rows);
        let c = gaps("g", vec![a, b], 3);
        assert_eq!(c.demographic_parity_difference, 0.5);
        assert_eq!(c.demographic_parity_ratio, Some(0.0));
        assert_eq!(c.four_fifths_rule, Some(false));
        // TPR is defined for `a` only (gap 0); FPR 0.5 vs 0.
        assert_eq!(c.equalized_odds_difference, Some(0.5));
        assert!(
            c.notes.iter().any(|n| n.contains("`b` (2 rows)")),
            "{:?}",
            c.notes
        );
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("one class only") && n.contains("`b`"))
        );
    }
}
