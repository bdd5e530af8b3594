//! Which input columns a trained model leans on: permutation importance on
//! held-out rows. Each column's values are shuffled across the rows (the
//! link to the label is cut, its spread kept) and the headline metric is
//! scored again; the loss is how much the model relied on that column.
//! A governance reviewer reads it as "what drives this model", without
//! trusting the network's internals.

use crate::RuntimeError;
use crate::decision::{Decision, class_columns};
use crate::model::TrainedModel;
use indus_data::RawTable;
use indus_engine::Head;
use indus_engine::metrics::predict_classes;
use indus_engine::rating::regression_metrics;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Shuffles per column: enough to tell a real dependence from the noise of
/// one shuffle, few enough to cost a handful of test-set evaluations.
pub(crate) const REPEATS: usize = 3;

/// The permutation importance of every input column of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermutationImportance {
    /// The metric re-scored: `roc_auc` (binary), `accuracy` (multiclass) or
    /// `rmse` (regression).
    pub metric: String,
    /// The metric on the untouched rows (the mean over folds for
    /// cross-validation).
    pub baseline: f64,
    /// Shuffles per column (per fold for cross-validation).
    pub repeats: usize,
    /// Held-out rows scored per shuffle (all folds together).
    pub rows: usize,
    /// Columns, most relied upon first.
    pub columns: Vec<ColumnImportance>,
}

/// How much the model loses when one column is shuffled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnImportance {
    /// The plugin's column (a derived column is shuffled as it is, not
    /// recomputed from the columns it comes from).
    pub column: String,
    /// Mean loss of the metric: ROC-AUC or accuracy lower, RMSE higher,
    /// always as a positive number when the column helps. Near zero (or
    /// below) means the model does not use it.
    pub loss: f64,
    /// Standard deviation of the loss over the shuffles.
    pub std: f64,
}

/// Losses collected over shuffles and folds, summarised at the end.
#[derive(Debug, Clone)]
pub(crate) struct ImportanceSamples {
    metric: &'static str,
    higher_is_better: bool,
    baselines: Vec<f64>,
    rows: usize,
    /// Per column: its name and every loss measured.
    losses: Vec<(String, Vec<f64>)>,
}

/// One scalar feature column of the raw table: its name, offset and width.
pub(crate) struct ColumnSlot {
    pub name: String,
    pub offset: usize,
    pub width: usize,
}

impl ImportanceSamples {
    /// An empty collection for `metric`.
    pub(crate) fn new(metric: &'static str, higher_is_better: bool) -> ImportanceSamples {
        ImportanceSamples {
            metric,
            higher_is_better,
            baselines: Vec::new(),
            rows: 0,
            losses: Vec::new(),
        }
    }

    /// Scores `rows` as they are, then with each column shuffled
    /// [`REPEATS`] times, adding the losses. `score` returns the metric for
    /// a table of rows.
    pub(crate) fn measure(
        &mut self,
        columns: &[ColumnSlot],
        rows: &RawTable,
        seed: u64,
        mut score: impl FnMut(RawTable) -> Result<f64, RuntimeError>,
    ) -> Result<(), RuntimeError> {
        let baseline = score(rows.clone())?;
        self.baselines.push(baseline);
        self.rows += rows.len();
        let mut rng = StdRng::seed_from_u64(seed);
        let n = rows.len();
        for (c, slot) in columns.iter().enumerate() {
            if self.losses.len() <= c {
                self.losses.push((slot.name.clone(), Vec::new()));
            }
            for _ in 0..REPEATS {
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rng);
                let mut shuffled = rows.clone();
                for (to, &from) in order.iter().enumerate() {
                    let src = from * rows.width + slot.offset;
                    let dst = to * rows.width + slot.offset;
                    shuffled.features[dst..dst + slot.width]
                        .copy_from_slice(&rows.features[src..src + slot.width]);
                }
                let permuted = score(shuffled)?;
                let loss = if self.higher_is_better {
                    baseline - permuted
                } else {
                    permuted - baseline
                };
                self.losses[c].1.push(loss);
            }
        }
        Ok(())
    }

    /// Mean and spread of each column's losses, most relied upon first.
    pub(crate) fn finish(self) -> PermutationImportance {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let mut columns: Vec<ColumnImportance> = self
            .losses
            .iter()
            .map(|(name, losses)| {
                let m = mean(losses);
                let var = losses.iter().map(|l| (l - m).powi(2)).sum::<f64>()
                    / (losses.len().saturating_sub(1)).max(1) as f64;
                ColumnImportance {
                    column: name.clone(),
                    loss: m,
                    std: var.sqrt(),
                }
            })
            .collect();
        columns.sort_by(|a, b| b.loss.total_cmp(&a.loss));
        PermutationImportance {
            metric: self.metric.to_string(),
            baseline: mean(&self.baselines),
            repeats: REPEATS,
            rows: self.rows,
            columns,
        }
    }
}

/// Held-out rows scored per shuffle at most: beyond a few thousand rows
/// the losses hardly move, and each column costs three scorings.
pub(crate) const IMPORTANCE_ROWS: usize = 2000;

/// Adds the permutation importance of `model` on held-out `rows` (a seeded
/// sample of at most [`IMPORTANCE_ROWS`]) to `samples`. Heads without one
/// headline number to lose (autoencoders, recommenders, multilabel) and
/// image plugins (a pixel alone means nothing) add nothing.
pub(crate) fn measure_importance(
    samples: &mut Option<ImportanceSamples>,
    plugin: &indus_spec::PluginManifest,
    model: &TrainedModel,
    rows: &RawTable,
    classes: &[String],
    seed: u64,
) -> Result<(), RuntimeError> {
    if indus_data::image_column(plugin).is_some()
        || matches!(model.decision, Decision::Anomaly(_) | Decision::Rating(_))
    {
        return Ok(());
    }
    let (metric, higher_is_better) = match model.head {
        Head::Binary => ("roc_auc", true),
        Head::Multiclass { .. } => ("accuracy", true),
        Head::Regression { .. } => ("rmse", false),
        _ => return Ok(()),
    };
    let mut offset = 0;
    let slots: Vec<ColumnSlot> = indus_data::feature_columns(plugin)
        .into_iter()
        .map(|c| {
            let slot = ColumnSlot {
                name: c.name.clone(),
                offset,
                width: c.width(),
            };
            offset += c.width();
            slot
        })
        .collect();
    let sample;
    let rows = if rows.len() > IMPORTANCE_ROWS {
        use rand::SeedableRng;
        use rand::seq::index::sample as pick;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut chosen = pick(&mut rng, rows.len(), IMPORTANCE_ROWS).into_vec();
        chosen.sort_unstable();
        sample = rows.select(&chosen);
        &sample
    } else {
        rows
    };
    let samples = samples.get_or_insert_with(|| ImportanceSamples::new(metric, higher_is_better));
    // The primary head alone: secondary heads and a novelty guard do not
    // take part, so each shuffle costs one pass of the network.
    samples.measure(&slots, rows, seed, |t| {
        let outputs = model.predictor.predict(&model.preprocessor.transform(&t))?;
        Ok(match model.head {
            Head::Regression { .. } => {
                regression_metrics(&outputs, &t.values.unwrap_or_default()).rmse
            }
            head => {
                let probs = class_columns(head, outputs);
                let labels = t.labels.unwrap_or_default();
                if metric == "roc_auc" {
                    let scores: Vec<f32> = probs.chunks_exact(2).map(|r| r[1]).collect();
                    let positive: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
                    indus_engine::metrics::ranking_metrics(&scores, &positive)
                        .map_or(f64::NAN, |r| r.roc_auc)
                } else {
                    let predicted =
                        predict_classes(&probs, classes.len(), model.decision.threshold());
                    let right = predicted
                        .iter()
                        .zip(&labels)
                        .filter(|(p, l)| **p == **l as usize)
                        .count();
                    right as f64 / labels.len().max(1) as f64
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of two columns where only the first decides the "metric": the
    /// share of rows whose first value still equals the row number.
    #[test]
    fn a_column_the_score_depends_on_loses_and_one_it_ignores_does_not() {
        let n = 50;
        let features: Vec<f32> = (0..n).flat_map(|i| [i as f32, 7.0 * i as f32]).collect();
        let rows = RawTable {
            features,
            width: 2,
            ..RawTable::default()
        };
        let columns = [
            ColumnSlot {
                name: "used".into(),
                offset: 0,
                width: 1,
            },
            ColumnSlot {
                name: "ignored".into(),
                offset: 1,
                width: 1,
            },
        ];
        let mut samples = ImportanceSamples::new("accuracy", true);
        samples
            .measure(&columns, &rows, 1, |t| {
                let right = (0..t.len())
                    .filter(|&i| t.features[i * 2] == i as f32)
                    .count();
                Ok(right as f64 / t.len() as f64)
            })
            .unwrap();
        let result = samples.finish();
        assert_eq!(result.baseline, 1.0);
        assert_eq!(result.rows, n);
        assert_eq!(result.columns[0].column, "used");
        assert!(result.columns[0].loss > 0.8, "{result:?}");
        assert_eq!(result.columns[1].column, "ignored");
        assert_eq!(result.columns[1].loss, 0.0);
        assert_eq!(result.columns[1].std, 0.0);
    }

    #[test]
    fn a_lower_is_better_metric_counts_a_rise_as_the_loss() {
        let rows = RawTable {
            features: (0..20).map(|i| i as f32).collect(),
            width: 1,
            ..RawTable::default()
        };
        let columns = [ColumnSlot {
            name: "x".into(),
            offset: 0,
            width: 1,
        }];
        let mut samples = ImportanceSamples::new("rmse", false);
        // An "error" that is 0 in order and grows when rows move.
        samples
            .measure(&columns, &rows, 3, |t| {
                Ok((0..t.len())
                    .map(|i| (t.features[i] - i as f32).abs() as f64)
                    .sum())
            })
            .unwrap();
        let result = samples.finish();
        assert!(result.columns[0].loss > 0.0, "{result:?}");
    }
}
