//! What `metrics.json` holds: the held-out numbers of a run, how they were
//! obtained, and the decisions fitted with them.

use crate::decision::{AnomalyDecision, Decision, RatingDecision};
use crate::fairness::FairnessReport;
use crate::importance::PermutationImportance;
use crate::novelty_guard::GuardReport;
use crate::secondary_heads::SecondaryHeadMetrics;
use indus_engine::Head;
use indus_engine::metrics::ClassificationMetrics;
use indus_engine::multilabel::MultilabelMetrics;
use indus_engine::rating::{RegressionMetrics, TopKMetrics};
use serde::{Deserialize, Serialize};

/// What `metrics.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Scenario name.
    pub scenario: String,
    /// Plugin name.
    pub plugin: String,
    /// Run id.
    pub run_id: String,
    /// The evaluated head.
    pub head: String,
    /// Backend the model was trained on.
    pub backend: String,
    /// Rows used for training, validation and test.
    pub rows: RowCounts,
    /// Epochs actually run.
    pub epochs_run: usize,
    /// Epoch whose weights were kept (best validation epoch), if validating.
    pub best_epoch: Option<usize>,
    /// True when early stopping ended training.
    pub stopped_early: bool,
    /// Seconds spent in optimisation steps (validation excluded), every
    /// network of an ensemble included.
    pub train_seconds: f64,
    /// Trainable parameters.
    pub parameters: usize,
    /// How `test` was obtained (official split, holdout, cross-validation).
    #[serde(default)]
    pub evaluation: String,
    /// Classification metrics on the held-out test rows (for
    /// cross-validation without an official test file: on the pooled
    /// out-of-fold predictions). Absent for a regression head, whose
    /// numbers are in `regression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<ClassificationMetrics>,
    /// Metrics on the validation rows, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<ClassificationMetrics>,
    /// Binary heads: the positive-class probability at or above which the
    /// served model predicts the positive class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// Per-fold metrics and their mean ± std, for cross-validated scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_validation: Option<CrossValidation>,
    /// Heads that predict a number: error of the predictions on the test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<RegressionMetrics>,
    /// Recommenders: quality of the top-k lists for the test users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<TopKMetrics>,
    /// Rating heads: how a predicted rating becomes "liked" (the
    /// classification numbers in `test` are of that view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<RatingDecision>,
    /// Reconstruction heads: the error above which a row is an anomaly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyDecision>,
    /// Multilabel heads: per-label and pooled metrics on the test rows
    /// (instead of `test`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multilabel: Option<MultilabelMetrics>,
    /// Heads trained beside `head` on the same trunk, each with its metrics
    /// on the same test rows.
    /// (The JSON key keeps its first name, so older runs and scripts read on.)
    #[serde(
        default,
        rename = "auxiliary_heads",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secondary_heads: Vec<SecondaryHeadMetrics>,
    /// The novelty guard beside the classifier, when the scenario has one:
    /// its threshold, and the classifier's own metrics without it (`test`
    /// holds the guarded decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novelty_guard: Option<GuardReport>,
    /// Which input columns the model leans on: the headline metric's loss
    /// when each column is shuffled across the held-out rows (each fold's
    /// for cross-validation). Absent for images, autoencoders, recommenders
    /// and multilabel heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permutation_importance: Option<PermutationImportance>,
    /// Training rows left out under `data.on_bad_rows: skip`: how many,
    /// and the first reasons (file, row, column).
    #[serde(default, skip_serializing_if = "indus_data::SkippedRows::is_empty")]
    pub skipped_rows: indus_data::SkippedRows,
    /// Per-group counts, rates and gaps on the held-out rows, for each
    /// protected column the plugin names under `fairness:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<FairnessReport>,
    /// What the training (and test) rows say about trusting the model:
    /// likely leakage, duplicate rows, constant columns, test rows that
    /// training holds too, each with the rule that found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_quality: Option<indus_data::DataQuality>,
}

impl RunMetrics {
    /// The primary head's decision rule as this run recorded it: what
    /// serving applies, and what training-time evaluation applied.
    pub fn decision(&self, head: Head) -> Decision {
        Decision::from_parts(head, self.threshold, self.rating, self.anomaly)
    }

    /// Whether the held-out numbers are out-of-fold predictions of the
    /// training rows themselves (cross-validation without a test file):
    /// every row was tested once, by the fold model that had not seen it.
    pub fn out_of_fold(&self) -> bool {
        self.cross_validation.is_some()
            && !self
                .evaluation
                .starts_with(crate::evaluation::OFFICIAL_TEST)
    }

    /// The headline metric of a run of `plugin` (the metric of its first
    /// published baseline, else accuracy, micro F1 or RMSE by head) with its
    /// held-out value as the target reads it (the mean over folds for a
    /// cross-validated run).
    pub fn headline(&self, plugin: &indus_spec::PluginManifest) -> (String, Option<f64>) {
        let name = plugin.baselines.first().map_or_else(
            || {
                match (&self.test, &self.multilabel) {
                    (Some(_), _) => "accuracy",
                    (None, Some(_)) => "micro_f1",
                    (None, None) => "rmse",
                }
                .to_string()
            },
            |b| b.metric.clone(),
        );
        let value = self.held_out(&name);
        (name, value)
    }

    /// A held-out metric as targets are stated: the mean over the folds
    /// for cross-validated runs, else [`RunMetrics::value`].
    pub fn held_out(&self, name: &str) -> Option<f64> {
        self.cross_validation
            .as_ref()
            .and_then(|cv| cv.mean.get(name).copied())
            .or_else(|| self.value(name))
    }

    /// A held-out metric by its `metrics.json` name: classification and
    /// plugin metrics first, then `rmse`, `mae`, `r2`, then `hit_rate`,
    /// `ndcg`, `recall` of the top-k lists, and `accuracy_without_guard`
    /// (the classifier's own accuracy in a run with a novelty guard).
    pub fn value(&self, name: &str) -> Option<f64> {
        self.test
            .as_ref()
            .and_then(|t| t.value(name))
            .or_else(|| self.multilabel.as_ref().and_then(|m| m.value(name)))
            .or_else(|| {
                let r = self.regression.as_ref();
                let k = self.top_k.as_ref();
                match name {
                    "rmse" => r.map(|r| r.rmse),
                    "mae" => r.map(|r| r.mae),
                    "r2" => r.map(|r| r.r2),
                    "hit_rate" => k.map(|k| k.hit_rate),
                    "ndcg" => k.map(|k| k.ndcg),
                    "recall" => k.map(|k| k.recall),
                    "accuracy_without_guard" => self
                        .novelty_guard
                        .as_ref()
                        .map(|g| g.classifier_alone.accuracy),
                    _ => None,
                }
            })
    }
}

/// Cross-validation results: every fold, the pooled out-of-fold metrics, and
/// mean ± standard deviation of the headline numbers across folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossValidation {
    /// Classification metrics of each fold's held-out rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<ClassificationMetrics>,
    /// Regression heads: the error on each fold's held-out rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regression_folds: Vec<RegressionMetrics>,
    /// Classification metrics of all out-of-fold predictions together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled: Option<ClassificationMetrics>,
    /// Mean across folds, by metric name.
    pub mean: std::collections::BTreeMap<String, f64>,
    /// Sample standard deviation across folds, by metric name.
    pub std: std::collections::BTreeMap<String, f64>,
    /// How many times the rows were dealt into folds (`data.repeats`);
    /// `folds` holds every fold of every repeat, the mean is over them all.
    #[serde(default = "one_repeat", skip_serializing_if = "is_one_repeat")]
    pub repeats: usize,
}

fn one_repeat() -> usize {
    1
}

fn is_one_repeat(n: &usize) -> bool {
    *n == 1
}

impl CrossValidation {
    /// Number of folds, over every repeat.
    pub fn fold_count(&self) -> usize {
        self.folds.len().max(self.regression_folds.len())
    }

    /// Folds of one repeat (the k of k-fold).
    pub fn folds_per_repeat(&self) -> usize {
        self.fold_count() / self.repeats.max(1)
    }

    pub(crate) fn summarise(
        folds: Vec<ClassificationMetrics>,
        pooled: ClassificationMetrics,
    ) -> Self {
        let headline = |m: &ClassificationMetrics| {
            let mut v = vec![
                ("accuracy", m.accuracy),
                ("balanced_accuracy", m.balanced_accuracy),
                ("macro_f1", m.macro_f1),
            ];
            v.extend(m.log_loss.map(|l| ("log_loss", l)));
            if let Some(r) = &m.ranking {
                v.extend([("roc_auc", r.roc_auc), ("pr_auc", r.pr_auc), ("ks", r.ks)]);
            }
            v
        };
        let (mean, std) = mean_and_std(folds.iter().map(headline).collect());
        CrossValidation {
            folds,
            regression_folds: Vec::new(),
            pooled: Some(pooled),
            mean,
            std,
            repeats: 1,
        }
    }

    pub(crate) fn summarise_regression(folds: Vec<RegressionMetrics>) -> Self {
        let (mean, std) = mean_and_std(
            folds
                .iter()
                .map(|r| vec![("rmse", r.rmse), ("mae", r.mae), ("r2", r.r2)])
                .collect(),
        );
        CrossValidation {
            folds: Vec::new(),
            regression_folds: folds,
            pooled: None,
            mean,
            std,
            repeats: 1,
        }
    }
}

type Summary = std::collections::BTreeMap<String, f64>;

/// Mean and sample standard deviation of each named number across folds
/// (names from the first fold).
fn mean_and_std(folds: Vec<Vec<(&str, f64)>>) -> (Summary, Summary) {
    let mut mean = Summary::new();
    let mut std = Summary::new();
    let names: Vec<&str> = folds
        .first()
        .map(|f| f.iter().map(|(k, _)| *k).collect())
        .unwrap_or_default();
    for name in names {
        let values: Vec<f64> = folds
            .iter()
            .filter_map(|f| f.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
            .collect();
        let n = values.len() as f64;
        let m = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        mean.insert(name.to_string(), m);
        std.insert(name.to_string(), var.sqrt());
    }
    (mean, std)
}

/// Row counts of each split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RowCounts {
    /// Training rows.
    pub train: usize,
    /// Validation rows.
    pub validation: usize,
    /// Test rows.
    pub test: usize,
}
