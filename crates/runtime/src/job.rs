//! Running a scenario end to end: data, validation split, preprocessing
//! fitted on training rows, training, evaluation on the held-out test split,
//! and an atomically written run folder.

use crate::RuntimeError;
use crate::auxiliary::{
    AuxiliaryMetrics, AuxiliaryModel, AuxiliaryScores, auxiliary_specs, targets_of,
};
use crate::guard::{GUARD_WEIGHTS, GuardModel, GuardReport, GuardScores};
use crate::importance::{ColumnSlot, ImportanceSamples, PermutationImportance};
use crate::project::ResolvedScenario;
use crate::recommend::Catalog;
use crate::run_folder::RunWriter;
use indus_data::{
    DataLocations, Limits, Preprocessor, RawTable, load_dataset, primary_head, stratified_folds,
    stratified_split,
};
use indus_engine::metrics::{
    ClassificationMetrics, ThresholdRule, binary_to_two_columns, choose_threshold,
    classification_metrics_for, predict_classes,
};
use indus_engine::multilabel::{MultilabelMetrics, multilabel_metrics};
use indus_engine::rating::{
    RegressionMetrics, TopKMetrics, fit_logistic, logistic, regression_metrics, top_k_metrics,
};
use indus_engine::{
    BURN_VERSION, EmbeddingShape, EpochRecord, Head, ImageShape, MlpWeights, Predictor,
    ResolvedBackend, Targets, TrainObserver, TrainOutcome, TrainRequest, TrainSet,
};
use indus_spec::{ClassWeighting, DecisionRule};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a run reads data and writes its folder.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Local data folder (`--data-dir`); the scenario's own `data.dir` wins.
    pub data_dir: Option<PathBuf>,
    /// Root of run folders (`runs/` by default).
    pub runs_root: PathBuf,
}

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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auxiliary_heads: Vec<AuxiliaryMetrics>,
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
}

/// How an autoencoder's reconstruction error becomes an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalyDecision {
    /// Mean squared reconstruction error at or above which a row is
    /// flagged.
    pub threshold: f32,
    /// The percentile of normal validation rows' errors it was set at.
    pub percentile: f64,
}

impl AnomalyDecision {
    /// A score in [0, 1) rising with the error, 0.5 at the threshold:
    /// `error / (error + threshold)`. It ranks rows like the error does
    /// (ROC-AUC is the error's), but it is not a calibrated probability.
    pub fn score(&self, error: f32) -> f32 {
        let e = error.max(0.0);
        e / (e + self.threshold.max(f32::MIN_POSITIVE))
    }
}

/// Mean squared difference between each row of `x` and its reconstruction.
pub(crate) fn reconstruction_errors(x: &[f32], reconstructed: &[f32], width: usize) -> Vec<f32> {
    x.chunks_exact(width.max(1))
        .zip(reconstructed.chunks_exact(width.max(1)))
        .map(|(a, b)| a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum::<f32>() / width as f32)
        .collect()
}

/// The value below which `percentile` % of `values` fall (nearest rank).
pub(crate) fn percentile_of(values: &[f32], percentile: f64) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((percentile / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl RunMetrics {
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

/// How a rating head's predicted number becomes a decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatingDecision {
    /// Ratings at or above this count as liked.
    pub liked_at: f64,
    /// Logistic calibration `[a, b]`: P(liked) = 1 / (1 + e^-(a·rating + b)),
    /// fitted on the validation rows (training rows without any).
    pub calibration: [f32; 2],
    /// Predictions are clipped to the target column's declared range.
    pub range: Option<[f64; 2]>,
}

impl RatingDecision {
    /// The clipped rating and its probability of being liked.
    pub fn apply(&self, raw: f32) -> (f32, f32) {
        let rating = match self.range {
            Some([lo, hi]) => raw.clamp(lo as f32, hi as f32),
            None => raw,
        };
        (rating, logistic(self.calibration, rating))
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

    fn summarise(folds: Vec<ClassificationMetrics>, pooled: ClassificationMetrics) -> Self {
        let headline = |m: &ClassificationMetrics| {
            let mut v = vec![
                ("accuracy", m.accuracy),
                ("balanced_accuracy", m.balanced_accuracy),
                ("macro_f1", m.macro_f1),
                ("log_loss", m.log_loss),
            ];
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

    fn summarise_regression(folds: Vec<RegressionMetrics>) -> Self {
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

/// The rows of a table of `rows` that are not in `held_out` (a fold's
/// training rows).
fn rows_outside(rows: usize, held_out: &[usize]) -> Vec<usize> {
    let held: std::collections::HashSet<usize> = held_out.iter().copied().collect();
    (0..rows).filter(|i| !held.contains(i)).collect()
}

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

/// One trained model with the preprocessing fitted for it.
struct Fitted {
    preprocessor: Preprocessor,
    outcome: TrainOutcome,
    predictor: Predictor,
    head: Head,
    validation: Option<ClassificationMetrics>,
    /// Decision threshold of a binary head (positive-class probability).
    threshold: Option<f32>,
    /// Rating heads: clipping and calibration.
    rating: Option<RatingDecision>,
    /// Reconstruction heads: the alarm threshold.
    anomaly: Option<AnomalyDecision>,
    /// Heads trained beside the primary one.
    auxiliary: Vec<AuxiliaryModel>,
    /// Every network's kept weights (the first is `outcome.chosen()`).
    members: Vec<MlpWeights>,
    /// The autoencoder that overrules the classifier on unusual rows.
    guard: Option<GuardModel>,
    /// Optimisation seconds of the networks after the first.
    other_members_seconds: f64,
    rows_train: usize,
    rows_validation: usize,
}

/// Predictions for labelled rows: probability columns, decided classes and
/// the true labels.
struct Scored {
    probs: Vec<f32>,
    predicted: Vec<usize>,
    labels: Vec<u32>,
    /// Rating heads: predicted and true values.
    values: Option<(Vec<f32>, Vec<f32>)>,
    /// Each auxiliary head's predictions for the same rows.
    auxiliary: Vec<AuxiliaryScores>,
    /// Multilabel heads: the rows' labels as 0/1 values (`probs` holds one
    /// independent probability per label).
    multi_hot: Option<Vec<f32>>,
    /// With a novelty guard: its errors and the decisions it overruled.
    guard: Option<GuardScores>,
}

impl Scored {
    fn metrics(&self, classes: &[String]) -> ClassificationMetrics {
        classification_metrics_for(&self.probs, &self.predicted, &self.labels, classes)
    }
}

impl Fitted {
    /// The guard's report on held-out rows scored by this model's kind
    /// (for cross-validation, the pooled folds: each fold's own guard
    /// decided its rows; the threshold reported is the served model's).
    fn guard_report(&self, scored: &Scored, classes: &[String]) -> Option<GuardReport> {
        let (model, scores) = (self.guard.as_ref()?, scored.guard.as_ref()?);
        Some(model.report(scores, &scored.probs, &scored.labels, classes))
    }

    /// Scores labelled raw rows with this model and its decision threshold.
    fn score(&self, rows: RawTable, classes: usize) -> Result<Scored, RuntimeError> {
        let x = self.preprocessor.transform(&rows);
        let auxiliary = self
            .auxiliary
            .iter()
            .map(|a| a.score(&x, &rows))
            .collect::<Result<Vec<_>, _>>()?;
        let mut scored = self.score_primary(rows, &x, classes)?;
        scored.auxiliary = auxiliary;
        Ok(scored)
    }

    fn score_primary(
        &self,
        rows: RawTable,
        x: &[f32],
        classes: usize,
    ) -> Result<Scored, RuntimeError> {
        if let Some(decision) = self.anomaly {
            let errors = reconstruction_errors(x, &self.predictor.predict(x)?, self.head.outputs());
            return Ok(score_anomalies(
                decision,
                &errors,
                rows.labels.unwrap_or_default(),
            ));
        }
        if let Some(decision) = self.rating {
            return Ok(score_ratings(
                decision,
                &self.predictor.predict(x)?,
                rows.values.unwrap_or_default(),
            ));
        }
        if let Head::Regression { .. } = self.head {
            return Ok(Scored {
                probs: Vec::new(),
                predicted: Vec::new(),
                labels: Vec::new(),
                values: Some((self.predictor.predict(x)?, rows.values.unwrap_or_default())),
                auxiliary: Vec::new(),
                multi_hot: None,
                guard: None,
            });
        }
        if let Head::Multilabel { labels } = self.head {
            return Ok(Scored {
                probs: self.predictor.predict(x)?,
                predicted: Vec::new(),
                labels: Vec::new(),
                values: None,
                auxiliary: Vec::new(),
                multi_hot: Some(rows.multi_hot(labels).unwrap_or_default()),
                guard: None,
            });
        }
        let probs = class_columns(self.head, self.predictor.predict(x)?);
        let mut predicted = predict_classes(&probs, classes, self.threshold);
        let guard = match &self.guard {
            Some(g) => Some(g.overrule(x, &mut predicted)?),
            None => None,
        };
        Ok(Scored {
            probs,
            predicted,
            labels: rows.labels.unwrap_or_default(),
            values: None,
            auxiliary: Vec::new(),
            multi_hot: None,
            guard,
        })
    }
}

/// Rating predictions as the liked / not-liked classification view, with
/// the predicted and true values kept for RMSE and friends.
fn score_ratings(decision: RatingDecision, outputs: &[f32], truth: Vec<f32>) -> Scored {
    let (mut ratings, mut probs) = (Vec::new(), Vec::new());
    for &o in outputs {
        let (rating, p) = decision.apply(o);
        ratings.push(rating);
        probs.extend([1.0 - p, p]);
    }
    let predicted = predict_classes(&probs, 2, Some(0.5));
    let labels = truth
        .iter()
        .map(|&t| u32::from(f64::from(t) >= decision.liked_at))
        .collect();
    Scored {
        probs,
        predicted,
        labels,
        values: Some((ratings, truth)),
        auxiliary: Vec::new(),
        multi_hot: None,
        guard: None,
    }
}

/// Reconstruction errors as a normal / anomaly classification.
fn score_anomalies(decision: AnomalyDecision, errors: &[f32], labels: Vec<u32>) -> Scored {
    let probs: Vec<f32> = errors
        .iter()
        .flat_map(|&e| {
            let s = decision.score(e);
            [1.0 - s, s]
        })
        .collect();
    let predicted = errors
        .iter()
        .map(|&e| usize::from(e >= decision.threshold))
        .collect();
    Scored {
        probs,
        predicted,
        labels,
        values: None,
        auxiliary: Vec::new(),
        multi_hot: None,
        guard: None,
    }
}

/// Class names of the liked / not-liked view of a rating head.
pub(crate) const LIKED_CLASSES: [&str; 2] = ["not_liked", "liked"];

/// `rows / (classes × rows of c)` for each class c (1 for a class absent
/// from the rows), so that every class weighs the same in total.
fn balanced_weights(labels: &[u32], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for &l in labels {
        if let Some(c) = counts.get_mut(l as usize) {
            *c += 1;
        }
    }
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                1.0
            } else {
                labels.len() as f32 / (classes as f32 * c as f32)
            }
        })
        .collect()
}

/// Held-out rows scored per shuffle at most: beyond a few thousand rows
/// the losses hardly move, and each column costs three scorings.
const IMPORTANCE_ROWS: usize = 2000;

/// Adds the permutation importance of `fitted` on held-out `rows` (a seeded
/// sample of at most [`IMPORTANCE_ROWS`]) to `samples`. Heads without one
/// headline number to lose (autoencoders, recommenders, multilabel) and
/// image plugins (a pixel alone means nothing) add nothing.
fn measure_importance(
    samples: &mut Option<ImportanceSamples>,
    plugin: &indus_spec::PluginManifest,
    fitted: &Fitted,
    rows: &RawTable,
    classes: &[String],
    seed: u64,
) -> Result<(), RuntimeError> {
    if indus_data::image_column(plugin).is_some()
        || fitted.anomaly.is_some()
        || fitted.rating.is_some()
    {
        return Ok(());
    }
    let (metric, higher_is_better) = match fitted.head {
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
        let outputs = fitted
            .predictor
            .predict(&fitted.preprocessor.transform(&t))?;
        Ok(match fitted.head {
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
                    let predicted = predict_classes(&probs, classes.len(), fitted.threshold);
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

/// A regression head's target scaling: its output column, and the
/// training rows' mean and standard deviation.
#[derive(Debug, Clone, Copy)]
struct TargetScale {
    column: usize,
    mean: f32,
    std: f32,
}

impl TargetScale {
    /// Fits the scaling of one-number targets and rewrites them as
    /// z-scores; `None` when they are not one number per row.
    fn standardize(targets: &mut Targets, column: usize) -> Option<TargetScale> {
        let Targets::Values { values, width: 1 } = targets else {
            return None;
        };
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let variance = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = if variance > 0.0 { variance.sqrt() } else { 1.0 };
        let scale = TargetScale {
            column,
            mean: mean as f32,
            std: std as f32,
        };
        scale.apply(targets);
        Some(scale)
    }

    /// Rewrites values as z-scores on this scale.
    fn apply(self, targets: &mut Targets) {
        if let Targets::Values { values, .. } = targets {
            values
                .iter_mut()
                .for_each(|v| *v = (*v - self.mean) / self.std);
        }
    }

    /// Rewrites z-scores back into the target's unit.
    fn undo(self, targets: &mut Targets) {
        if let Targets::Values { values, .. } = targets {
            values
                .iter_mut()
                .for_each(|v| *v = *v * self.std + self.mean);
        }
    }
}

/// The decision threshold of a binary head: fixed, or chosen on the
/// validation rows' positive-class probabilities.
fn decide_threshold(
    spec: &indus_spec::HeadSpec,
    head: Head,
    validation: Option<(&[f32], &[u32])>,
) -> Result<Option<f32>, RuntimeError> {
    if head != Head::Binary {
        return Ok(None);
    }
    let d = &spec.decision;
    let rule = match d.rule {
        DecisionRule::Fixed => return Ok(Some(d.threshold.map_or(0.5, |t| t.get() as f32))),
        DecisionRule::BestF1 => ThresholdRule::BestF1,
        DecisionRule::MinCost => ThresholdRule::MinCost {
            fp_cost: d.false_positive_cost.map_or(1.0, |c| c.get()),
            fn_cost: d.false_negative_cost.map_or(1.0, |c| c.get()),
        },
    };
    let (probs, labels) = validation.ok_or_else(|| {
        RuntimeError::Invalid(format!(
            "head `{}`: decision rule `{:?}` picks its threshold on validation rows; set data.validation_fraction above 0",
            spec.name, d.rule
        ))
    })?;
    let scores: Vec<f32> = probs.chunks_exact(2).map(|r| r[1]).collect();
    let positive: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
    Ok(Some(choose_threshold(&scores, &positive, rule)))
}

/// Splits validation rows off `rows` (or uses the data set's official
/// validation split when the scenario asks for no share of its own), fits
/// preprocessing on the rest, trains, and builds a predictor from the kept
/// weights.
#[allow(clippy::too_many_arguments)]
fn fit_once(
    plugin: &indus_spec::PluginManifest,
    scenario: &indus_spec::Scenario,
    head: Head,
    classes: &[String],
    backend: indus_spec::BackendKind,
    rows: RawTable,
    official_validation: Option<RawTable>,
    observer: &mut dyn TrainObserver,
) -> Result<Fitted, RuntimeError> {
    // An autoencoder learns what normal rows look like: it never sees the
    // anomalies it will be asked to flag.
    let reconstruction = matches!(head, Head::Reconstruction { .. });
    let (rows, official_validation) = if reconstruction {
        let normal = |t: RawTable| {
            let keep: Vec<usize> = (0..t.len())
                .filter(|&i| t.labels.as_ref().is_some_and(|l| l[i] == 0))
                .collect();
            t.select(&keep)
        };
        (normal(rows), official_validation.map(normal))
    } else {
        (rows, official_validation)
    };
    let (train_rows, val_rows) = match official_validation {
        Some(v) if scenario.data.validation_fraction.get() == 0.0 => (rows, Some(v)),
        _ => stratified_split(rows, scenario.data.validation_fraction.get(), scenario.seed),
    };
    let (rows_train, rows_validation) =
        (train_rows.len(), val_rows.as_ref().map_or(0, RawTable::len));
    if train_rows.is_empty() {
        return Err(RuntimeError::Invalid(format!(
            "no training rows left for head `{}` (an autoencoder trains on rows labelled `{}` only)",
            primary_head(plugin).name,
            classes.first().map_or("", String::as_str)
        )));
    }
    if !reconstruction && let Some(labels) = &train_rows.labels {
        let mut counts = vec![0usize; classes.len()];
        for &l in labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        let missing: Vec<&str> = classes
            .iter()
            .zip(&counts)
            .filter(|(_, n)| **n == 0)
            .map(|(c, _)| c.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(RuntimeError::Invalid(format!(
                "head `{}`: class{} {} {} no training rows after the split ({} training rows); the model could never predict {}. Use more rows, or fewer held out",
                primary_head(plugin).name,
                if missing.len() > 1 { "es" } else { "" },
                missing
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() > 1 { "have" } else { "has" },
                train_rows.len(),
                if missing.len() > 1 { "them" } else { "it" },
            )));
        }
    }
    let preprocessor = Preprocessor::fit(plugin, &train_rows);
    let head = match head {
        Head::Reconstruction { .. } => Head::Reconstruction {
            width: preprocessor.output_width(),
        },
        other => other,
    };
    // Each raw table is dropped once transformed: MNIST's raw training
    // pixels alone are ~190 MB as f32.
    let numeric = indus_data::numeric_target(plugin).is_some();
    let to_set = |t: RawTable| {
        let x = preprocessor.transform(&t);
        let targets = if reconstruction {
            Targets::Values {
                values: x.clone(),
                width: preprocessor.output_width(),
            }
        } else if numeric {
            Targets::Values {
                values: t.values.unwrap_or_default(),
                width: 1,
            }
        } else if let Head::Multilabel { labels } = head {
            Targets::Values {
                values: t.multi_hot(labels).unwrap_or_default(),
                width: labels,
            }
        } else {
            Targets::Classes(t.labels.unwrap_or_default())
        };
        TrainSet {
            x,
            width: preprocessor.output_width(),
            targets,
        }
    };
    let embeddings: Vec<EmbeddingShape> = preprocessor
        .embedding_slots()
        .into_iter()
        .map(|s| EmbeddingShape {
            position: s.position,
            rows: s.rows,
            dim: s.dim,
        })
        .collect();
    // Heads sharing the trunk read their own target columns.
    let aux_specs = auxiliary_specs(plugin, scenario);
    let mut aux_train = aux_specs
        .iter()
        .map(|spec| targets_of(spec, &train_rows))
        .collect::<Result<Vec<_>, _>>()?;
    let aux_validation = match &val_rows {
        Some(v) => aux_specs
            .iter()
            .map(|spec| targets_of(spec, v).map(Some))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![None; aux_specs.len()],
    };
    let aux_heads = aux_specs
        .iter()
        .map(Head::from_spec)
        .collect::<Result<Vec<_>, _>>()?;
    // Regression heads learn z-scores of their targets (the primary's
    // below), folded back into their output columns after training.
    let mut target_scales = Vec::new();
    let mut column = head.outputs();
    for ((spec, aux_head), targets) in aux_specs.iter().zip(&aux_heads).zip(&mut aux_train) {
        if spec.task == indus_spec::Task::Regression
            && let Some(scale) = TargetScale::standardize(targets, column)
        {
            target_scales.push(scale);
        }
        column += aux_head.outputs();
    }
    let aux_class_weights: Vec<Option<Vec<f32>>> = aux_specs
        .iter()
        .zip(&aux_train)
        .map(|(spec, targets)| match (spec.class_weighting, targets) {
            (ClassWeighting::Balanced, Targets::Classes(labels)) => Some(balanced_weights(
                labels,
                indus_data::head_classes(spec).len(),
            )),
            _ => None,
        })
        .collect();
    let auxiliary: Vec<indus_engine::AuxiliaryHead<'_>> = aux_specs
        .iter()
        .zip(&aux_heads)
        .zip(&aux_train)
        .zip(&aux_class_weights)
        .map(
            |(((spec, &head), train), weights)| indus_engine::AuxiliaryHead {
                head,
                loss_weight: spec.loss_weight.get() as f32,
                train,
                class_weights: weights.as_deref(),
            },
        )
        .collect();
    let sample_weights = train_rows.weights.clone();
    if sample_weights
        .as_ref()
        .is_some_and(|w| !w.iter().any(|&v| v > 0.0))
    {
        return Err(RuntimeError::Invalid(format!(
            "every one of the {} training rows has sample weight 0: nothing to learn from",
            train_rows.len()
        )));
    }
    let mut train_set = to_set(train_rows);
    let mut val_set = val_rows.map(to_set);
    // A plain number is learned on the scale of a z-score: the network's
    // last layer starts near zero and moves by about the learning rate per
    // step, so a price in the hundred-thousands or a yield around 100
    // would take thousands of epochs to reach. The scaling is folded back
    // into the output layer after training.
    if primary_head(plugin).task == indus_spec::Task::Regression
        && let Some(scale) = TargetScale::standardize(&mut train_set.targets, 0)
    {
        if let Some(v) = val_set.as_mut() {
            scale.apply(&mut v.targets);
        }
        target_scales.push(scale);
    }
    let class_weights = match primary_head(plugin).class_weighting {
        ClassWeighting::None => None,
        ClassWeighting::Balanced => match &train_set.targets {
            Targets::Classes(labels) => Some(balanced_weights(labels, classes.len())),
            Targets::Values { .. } => None,
        },
    };
    let request = TrainRequest {
        model: &scenario.model,
        training: &scenario.training,
        head,
        seed: scenario.seed,
        backend,
        train: &train_set,
        validation: val_set.as_ref(),
        class_weights: class_weights.as_deref(),
        sample_weights: sample_weights.as_deref(),
        embeddings: &embeddings,
        image: image_shape(plugin, &preprocessor),
        loss_weight: primary_head(plugin).loss_weight.get() as f32,
        auxiliary: &auxiliary,
    };
    let mut outcome = indus_engine::train(&request, observer)?;
    // Every saved network (kept, last, best, other members) answers on the
    // target's own scale.
    let on_target_scale = |weights: &mut indus_engine::MlpWeights| {
        for s in &target_scales {
            weights.unstandardize_output(s.column, s.mean, s.std);
        }
    };
    on_target_scale(&mut outcome.last);
    if let Some(best) = &mut outcome.best {
        on_target_scale(best);
    }
    // Further networks of an ensemble: same rows and preprocessing, their
    // own initial weights, batch order and dropout.
    let mut members = vec![outcome.chosen().clone()];
    let mut other_members_seconds = 0.0;
    for m in 1..scenario.model.ensemble.get() {
        let seeded = TrainRequest {
            seed: member_seed(scenario.seed, m),
            ..request
        };
        let member = indus_engine::train(&seeded, observer)?;
        other_members_seconds += member.history.iter().map(|r| r.seconds).sum::<f64>();
        let mut kept = member.chosen().clone();
        on_target_scale(&mut kept);
        members.push(kept);
    }
    if let Some(primary) = target_scales.iter().find(|s| s.column == 0) {
        for set in std::iter::once(&mut train_set).chain(val_set.as_mut()) {
            primary.undo(&mut set.targets);
        }
    }
    let primary_members = if auxiliary.is_empty() {
        members.clone()
    } else {
        members
            .iter()
            .map(|w| w.output_columns(0, head.outputs()))
            .collect::<Result<Vec<_>, _>>()?
    };
    let predictor = Predictor::ensemble(&primary_members, head, backend)?;
    let mut auxiliary = AuxiliaryModel::all(aux_specs, &members, head.outputs(), &[], backend)?;
    for (model, validation) in auxiliary.iter_mut().zip(&aux_validation) {
        let val_probs = match (&val_set, validation) {
            (Some(v), Some(Targets::Classes(labels))) => Some((
                class_columns(model.head, model.predictor.predict(&v.x)?),
                labels.as_slice(),
            )),
            _ => None,
        };
        model.threshold = decide_threshold(
            &model.spec,
            model.head,
            val_probs.as_ref().map(|(p, l)| (p.as_slice(), *l)),
        )?;
    }
    let decisions = decide(
        plugin,
        head,
        classes,
        &predictor,
        &train_set,
        val_set.as_ref(),
    )?;
    let guard = match &scenario.novelty_guard {
        Some(spec) => {
            if !embeddings.is_empty() {
                return Err(RuntimeError::Invalid(
                    "novelty_guard: the guard reconstructs the model's inputs, and this plugin feeds learned embeddings (ids); it needs plain numeric and one-hot inputs".into(),
                ));
            }
            Some(GuardModel::train(
                spec,
                primary_head(plugin),
                &train_set,
                sample_weights.as_deref(),
                val_set.as_ref(),
                scenario.seed,
                backend,
                observer,
            )?)
        }
        None => None,
    };
    Ok(Fitted {
        preprocessor,
        outcome,
        predictor,
        head,
        validation: decisions.validation,
        threshold: decisions.threshold,
        rating: decisions.rating,
        anomaly: decisions.anomaly,
        auxiliary,
        members,
        guard,
        other_members_seconds,
        rows_train,
        rows_validation,
    })
}

/// How a trained model's outputs become decisions, and its validation
/// metrics in those terms.
#[derive(Default)]
struct Decisions {
    validation: Option<ClassificationMetrics>,
    /// Binary heads (and the liked view of ratings): the threshold.
    threshold: Option<f32>,
    rating: Option<RatingDecision>,
    anomaly: Option<AnomalyDecision>,
}

/// The primary head's decision rule, fitted on the validation rows (the
/// training rows where a rule needs some and there are none).
fn decide(
    plugin: &indus_spec::PluginManifest,
    head: Head,
    classes: &[String],
    predictor: &Predictor,
    train_set: &TrainSet,
    val_set: Option<&TrainSet>,
) -> Result<Decisions, RuntimeError> {
    match (head, primary_head(plugin).task) {
        (Head::Reconstruction { .. }, _) => {
            // The alarm threshold: a high percentile of normal rows' errors
            // on the validation rows (the training rows when there are none).
            let on = val_set.unwrap_or(train_set);
            let errors = reconstruction_errors(&on.x, &predictor.predict(&on.x)?, head.outputs());
            let percentile = primary_head(plugin).threshold_percentile.unwrap_or(99.0);
            let decision = AnomalyDecision {
                threshold: percentile_of(&errors, percentile),
                percentile,
            };
            let validation = match val_set {
                Some(v) => {
                    let errors =
                        reconstruction_errors(&v.x, &predictor.predict(&v.x)?, head.outputs());
                    Some(score_anomalies(decision, &errors, vec![0; errors.len()]).metrics(classes))
                }
                None => None,
            };
            Ok(Decisions {
                validation,
                anomaly: Some(decision),
                ..Decisions::default()
            })
        }
        // A plain number: no decision to make, its error is the metric.
        // Multilabel: every label is decided at 0.5 on its own.
        (_, indus_spec::Task::Regression) | (Head::Multilabel { .. }, _) => {
            Ok(Decisions::default())
        }
        (_, indus_spec::Task::UserItem) => {
            // Calibrate "liked" on the validation rows (the training rows
            // when there are none), then report validation in the same terms.
            let calibrate_on = val_set.unwrap_or(train_set);
            let Targets::Values { values, .. } = &calibrate_on.targets else {
                unreachable!("numeric targets")
            };
            let decision = rating_decision(plugin, &predictor.predict(&calibrate_on.x)?, values)?;
            let validation = match val_set {
                Some(v) => {
                    let Targets::Values { values, .. } = &v.targets else {
                        unreachable!("numeric targets")
                    };
                    let scored = score_ratings(decision, &predictor.predict(&v.x)?, values.clone());
                    Some(scored.metrics(classes))
                }
                None => None,
            };
            Ok(Decisions {
                validation,
                threshold: Some(0.5),
                rating: Some(decision),
                anomaly: None,
            })
        }
        _ => {
            let val_probs = match val_set {
                Some(v) => {
                    let Targets::Classes(labels) = &v.targets else {
                        unreachable!("classification targets")
                    };
                    Some((
                        class_columns(head, predictor.predict(&v.x)?),
                        labels.as_slice(),
                    ))
                }
                None => None,
            };
            let threshold = decide_threshold(
                primary_head(plugin),
                head,
                val_probs.as_ref().map(|(p, l)| (p.as_slice(), *l)),
            )?;
            let validation = val_probs.map(|(probs, labels)| {
                let predicted = predict_classes(&probs, classes.len(), threshold);
                classification_metrics_for(&probs, &predicted, labels, classes)
            });
            Ok(Decisions {
                validation,
                threshold,
                ..Decisions::default()
            })
        }
    }
}

/// Where the plugin's image sits among the model inputs, for a scenario's
/// `model.conv` (the first image column; scenarios are checked to have one).
fn image_shape(
    plugin: &indus_spec::PluginManifest,
    preprocessor: &Preprocessor,
) -> Option<ImageShape> {
    let slot = preprocessor.image_slots().into_iter().next()?;
    let column = plugin.data.columns.iter().find(|c| c.name == slot.column)?;
    match column.shape.as_deref() {
        Some([height, width]) => Some(ImageShape {
            position: slot.position,
            height: height.get(),
            width: width.get(),
        }),
        _ => None,
    }
}

/// The seed of network `member` (0-based) of an ensemble: the scenario's
/// own for the first, so `ensemble: 1` trains exactly what it always did.
fn member_seed(seed: u64, member: usize) -> u64 {
    seed.wrapping_add(1_000_003u64.wrapping_mul(member as u64))
}

/// File of network `member` (0-based, at least 1) of an ensemble; the
/// first is [`WEIGHTS`].
pub(crate) fn member_file(member: usize) -> String {
    format!("member-{}.safetensors", member + 1)
}

/// Clipping and "liked" calibration of a rating head, from predictions of
/// rows whose true ratings are known.
fn rating_decision(
    plugin: &indus_spec::PluginManifest,
    outputs: &[f32],
    truth: &[f32],
) -> Result<RatingDecision, RuntimeError> {
    let head = primary_head(plugin);
    let liked_at = head
        .liked_at
        .ok_or_else(|| RuntimeError::Invalid(format!("head `{}` sets no `liked_at`", head.name)))?;
    let range = indus_data::numeric_target(plugin).and_then(|c| c.range);
    let clip = |v: f32| match range {
        Some([lo, hi]) => v.clamp(lo as f32, hi as f32),
        None => v,
    };
    let ratings: Vec<f32> = outputs.iter().map(|&o| clip(o)).collect();
    let liked: Vec<bool> = truth.iter().map(|&t| f64::from(t) >= liked_at).collect();
    Ok(RatingDecision {
        liked_at,
        calibration: fit_logistic(&ratings, &liked),
        range,
    })
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

/// Software and machine facts recorded with a run, to reproduce it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    /// indus version.
    pub indus_version: String,
    /// burn version.
    pub burn_version: String,
    /// Backend the scenario asked for.
    pub backend_requested: String,
    /// Backend actually used.
    pub backend_used: String,
    /// Why the backend was replaced, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_fallback: Option<String>,
    /// `git rev-parse HEAD` of the working directory, if any.
    pub git_revision: Option<String>,
    /// Operating system and CPU architecture.
    pub platform: String,
    /// Logical CPUs available.
    pub cpus: usize,
    /// Data files read.
    pub data_files: Vec<PathBuf>,
    /// What the data files held that the run read past without stopping
    /// (undeclared columns), so a later reader of the run sees it too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_notes: Vec<String>,
    /// UTC start time (RFC 3339).
    pub started_at: String,
}

/// The result of [`run_scenario`].
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The committed run folder.
    pub dir: PathBuf,
    /// What was written to `metrics.json`.
    pub metrics: RunMetrics,
    /// The learning curve.
    pub history: Vec<EpochRecord>,
    /// Backend used and any fallback.
    pub backend: ResolvedBackend,
}

/// File name of the record of the native library a run used.
pub(crate) const NATIVE: &str = "native.json";

/// Which native library a run used, so serving loads the same one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NativeRecord {
    /// The library file.
    pub library: PathBuf,
    /// Its ABI version.
    pub abi: (u32, u32),
}

/// Example input rows saved with each run.
const EXAMPLE_ROWS: usize = 5;

/// File name of a run's example rows.
pub const EXAMPLES: &str = "examples.json";

/// Trains and evaluates a scenario and writes its run folder. `log` receives
/// human-readable notes (backend fallback, data files).
pub fn run_scenario(
    resolved: &ResolvedScenario,
    options: &RunOptions,
    observer: &mut dyn TrainObserver,
    log: &mut dyn FnMut(&str),
) -> Result<RunSummary, RuntimeError> {
    let started_at = chrono::Utc::now();
    let scenario = &resolved.scenario;
    let plugin = &resolved.plugin;
    let backend = indus_engine::resolve_backend(scenario.backend, scenario.fallback_to_cpu)?;
    if let Some(reason) = &backend.fallback_reason {
        log(&format!("falling back to the `flex` CPU backend: {reason}"));
    }
    let head_spec = primary_head(plugin);
    let head = Head::from_spec(head_spec)?;
    let classes = class_names(plugin, head)?;

    let scenario_dir = resolved.scenario_file.parent().unwrap_or(Path::new("."));
    let data_dir = scenario
        .data
        .dir
        .as_ref()
        .map(|d| scenario_dir.join(d))
        .or_else(|| options.data_dir.clone());
    let plugin_dir = resolved.plugin_file.parent().map(Path::to_path_buf);
    let locations = DataLocations::from_env(data_dir).with_plugin_dir(plugin_dir);
    let limits = Limits {
        train: scenario.data.train_limit.map(|c| c.get()),
        test: scenario.data.test_limit.map(|c| c.get()),
    };
    let mut data = load_dataset(plugin, &locations, limits)?;
    let native = indus_plugin::load_for_manifest(plugin, &resolved.plugin_file)?;
    if let Some(n) = &native {
        log(&format!(
            "native hooks: {} (ABI {}.{})",
            n.path().display(),
            n.abi().0,
            n.abi().1
        ));
        crate::hooks::fill_derived(plugin, n, &mut data.train)?;
        if let Some(t) = data.test.as_mut() {
            crate::hooks::fill_derived(plugin, n, t)?;
        }
        if let Some(v) = data.validation.as_mut() {
            crate::hooks::fill_derived(plugin, n, v)?;
        }
    }
    for f in &data.files {
        log(&format!("data: {}", f.display()));
    }
    for note in &data.notes {
        log(note);
    }
    if data.dropped_rows > 0 {
        log(&format!(
            "left out {} rows with a missing value in a `missing: drop` column",
            data.dropped_rows
        ));
    }
    let data_files = data.files.clone();
    let data_notes = data.notes.clone();
    let official_validation = data.validation;
    let mut evaluation_note = "official test split".to_string();
    if let Some(split) = &scenario.data.split_column {
        let marks = data.train.split_column(&split.name).map(<[String]>::to_vec).ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "data.split_column: plugin `{}` has no `role: split` column named `{}` in its data",
                plugin.name, split.name
            ))
        })?;
        if data.test.is_some() {
            return Err(RuntimeError::Invalid(
                "data.split_column: the plugin already has an official test file".into(),
            ));
        }
        let (test_idx, train_idx): (Vec<usize>, Vec<usize>) =
            (0..marks.len()).partition(|&i| split.test.contains(&marks[i]));
        if test_idx.is_empty() || train_idx.is_empty() {
            return Err(RuntimeError::Invalid(format!(
                "data.split_column: {} of {} rows have `{}` in {:?}; both splits need rows",
                test_idx.len(),
                marks.len(),
                split.name,
                split.test
            )));
        }
        data.test = Some(data.train.select(&test_idx));
        data.train = data.train.select(&train_idx);
        evaluation_note = format!(
            "official split: rows with `{}` in {:?} are the test rows",
            split.name, split.test
        );
    }
    if let Some(split) = &scenario.data.time_split {
        if data.test.is_some() {
            return Err(RuntimeError::Invalid(
                "data.time_split: the plugin already has an official test file".into(),
            ));
        }
        let (train, test) = time_ordered_split(&data.train, split, plugin)?;
        evaluation_note = format!(
            "time-ordered: the latest {:.0} % of rows by `{}` are the test rows",
            split.test_fraction.get() * 100.0,
            split.column
        );
        data.test = Some(test);
        data.train = train;
    }
    // A recommender remembers what each training user rated, and is scored
    // on lists over the items they did not.
    let catalog = match head_spec.task {
        indus_spec::Task::UserItem => {
            if scenario.data.folds.is_some() || data.test.is_none() {
                return Err(RuntimeError::Invalid(format!(
                    "scenario `{}`: a user_item head is evaluated on an official test split (a `test` file or `data.split_column`), not on folds or a random holdout",
                    scenario.name
                )));
            }
            Some(Catalog::build(
                plugin,
                head_spec,
                &data.lookups,
                &data.train,
            )?)
        }
        _ => None,
    };
    let top_k_test = catalog.as_ref().and(data.test.clone());
    // A few real rows for the API's examples and the dashboard's "try it"
    // form, from the held-out split when there is one.
    let examples = data
        .test
        .as_ref()
        .unwrap_or(&data.train)
        .to_json_rows(plugin, EXAMPLE_ROWS);
    // What the training rows looked like, for `indus drift` to compare
    // later inputs with.
    let reference = crate::drift::Reference::of(plugin, &data.train);
    let fit = |rows: RawTable, validation: Option<RawTable>, observer: &mut dyn TrainObserver| {
        fit_once(
            plugin,
            scenario,
            head,
            &classes,
            backend.kind,
            rows,
            validation,
            observer,
        )
    };

    // Held-out metrics, plus the plugin's own when it has a metrics hook.
    let plain_regression = head_spec.task == indus_spec::Task::Regression;
    let multilabel_head = head_spec.task == indus_spec::Task::Multilabel;
    if multilabel_head && scenario.data.folds.is_some() {
        return Err(RuntimeError::Invalid(format!(
            "scenario `{}`: multilabel heads are evaluated on a holdout or an official test split; cross-validation (data.folds) is not supported for them yet",
            scenario.name
        )));
    }
    let mut multilabel = None;
    let test_metrics = |s: &Scored| -> Result<Option<ClassificationMetrics>, RuntimeError> {
        if plain_regression || s.multi_hot.is_some() {
            return Ok(None);
        }
        let mut m = s.metrics(&classes);
        if let Some(n) = &native
            && n.has_metrics()
        {
            m.custom =
                crate::hooks::custom_metrics(n, &classes, &s.probs, &s.predicted, &s.labels)?;
        }
        Ok(Some(m))
    };
    let mut regression = None;
    let mut importance: Option<ImportanceSamples> = None;
    let novelty_guard;
    let (fitted, test, evaluation, cv, test_rows, aux_scores) = match (
        scenario.data.folds,
        data.test,
    ) {
        (Some(k), official_test) => {
            let k = k.get();
            let has_official_test = official_test.is_some();
            let folds = stratified_folds(&data.train, k, scenario.seed);
            let mut pooled_probs = vec![0.0f32; data.train.len() * classes.len()];
            let mut pooled_predicted = vec![0usize; data.train.len()];
            let mut per_fold = Vec::with_capacity(k);
            let mut regression_folds = Vec::new();
            let (mut pooled_values, mut pooled_truth) = (Vec::new(), Vec::new());
            let mut pooled_aux: Vec<AuxiliaryScores> = Vec::new();
            let mut pooled_guard = scenario.novelty_guard.as_ref().map(|_| GuardScores {
                unguarded: vec![0; data.train.len()],
                errors: vec![0.0; data.train.len()],
                fired: vec![false; data.train.len()],
            });
            let repeats = scenario.data.repeats.map_or(1, |r| r.get());
            let fold_label = |repeat: usize, f: usize, rows: usize| {
                let fold = format!("fold {}/{k}: {rows} test rows", f + 1);
                if repeats > 1 {
                    format!("repeat {}/{repeats}, {fold}", repeat + 1)
                } else {
                    fold
                }
            };
            for (f, test_idx) in folds.iter().enumerate() {
                log(&fold_label(0, f, test_idx.len()));
                let train_idx = rows_outside(data.train.len(), test_idx);
                let fold_fit = fit(data.train.select(&train_idx), None, observer)?;
                let fold_test = data.train.select(test_idx);
                if !has_official_test {
                    measure_importance(
                        &mut importance,
                        plugin,
                        &fold_fit,
                        &fold_test,
                        &classes,
                        scenario.seed.wrapping_add(f as u64),
                    )?;
                }
                let mut scored = fold_fit.score(fold_test, classes.len())?;
                // Pooled like the primary head's predictions (order does
                // not change the pooled metrics).
                if pooled_aux.is_empty() {
                    pooled_aux = std::mem::take(&mut scored.auxiliary);
                } else {
                    for (pool, fold) in pooled_aux.iter_mut().zip(scored.auxiliary.drain(..)) {
                        pool.extend(fold);
                    }
                }
                if plain_regression {
                    let (predicted, truth) = scored.values.unwrap_or_default();
                    regression_folds.push(regression_metrics(&predicted, &truth));
                    pooled_values.extend(predicted);
                    pooled_truth.extend(truth);
                    continue;
                }
                for (i, row) in test_idx.iter().enumerate() {
                    let k = classes.len();
                    pooled_probs[row * k..(row + 1) * k]
                        .copy_from_slice(&scored.probs[i * k..(i + 1) * k]);
                    pooled_predicted[*row] = scored.predicted[i];
                    if let (Some(pool), Some(fold)) = (pooled_guard.as_mut(), &scored.guard) {
                        pool.unguarded[*row] = fold.unguarded[i];
                        pool.errors[*row] = fold.errors[i];
                        pool.fired[*row] = fold.fired[i];
                    }
                }
                per_fold.push(scored.metrics(&classes));
            }
            // Further deals of the rows add fold metrics only; the pooled
            // predictions, importance and plots stay those of the first.
            for repeat in 1..repeats {
                let seed = scenario
                    .seed
                    .wrapping_add((repeat as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                for (f, test_idx) in stratified_folds(&data.train, k, seed).iter().enumerate() {
                    log(&fold_label(repeat, f, test_idx.len()));
                    let train_idx = rows_outside(data.train.len(), test_idx);
                    let fold_fit = fit(data.train.select(&train_idx), None, observer)?;
                    let scored = fold_fit.score(data.train.select(test_idx), classes.len())?;
                    if plain_regression {
                        let (predicted, truth) = scored.values.unwrap_or_default();
                        regression_folds.push(regression_metrics(&predicted, &truth));
                    } else {
                        per_fold.push(scored.metrics(&classes));
                    }
                }
            }
            let labels = data.train.labels.clone().unwrap_or_default();
            let rows = data.train.len();
            log(&format!("final model on all {rows} rows"));
            let final_fit = fit(data.train, None, observer)?;
            let mut cv = if plain_regression {
                regression = Some(regression_metrics(&pooled_values, &pooled_truth));
                CrossValidation::summarise_regression(regression_folds)
            } else {
                let pooled =
                    classification_metrics_for(&pooled_probs, &pooled_predicted, &labels, &classes);
                CrossValidation::summarise(per_fold, pooled)
            };
            cv.repeats = repeats;
            let repeated = if repeats > 1 {
                format!(", {repeats} deals of the rows into folds")
            } else {
                String::new()
            };
            match official_test {
                Some(t) => {
                    let n = t.len();
                    measure_importance(
                        &mut importance,
                        plugin,
                        &final_fit,
                        &t,
                        &classes,
                        scenario.seed,
                    )?;
                    let scored = final_fit.score(t, classes.len())?;
                    let m = test_metrics(&scored)?;
                    novelty_guard = final_fit.guard_report(&scored, &classes);
                    if let Some((predicted, truth)) = &scored.values {
                        regression = Some(regression_metrics(predicted, truth));
                    }
                    (
                        final_fit,
                        m,
                        format!(
                            "official test split; {k}-fold cross-validation{repeated} on the training rows"
                        ),
                        Some(cv),
                        n,
                        scored.auxiliary,
                    )
                }
                None => {
                    let n = rows;
                    let pooled = Scored {
                        probs: pooled_probs,
                        predicted: pooled_predicted,
                        labels,
                        values: None,
                        auxiliary: Vec::new(),
                        multi_hot: None,
                        guard: pooled_guard,
                    };
                    let m = test_metrics(&pooled)?;
                    novelty_guard = final_fit.guard_report(&pooled, &classes);
                    (
                        final_fit,
                        m,
                        format!(
                            "{k}-fold {}cross-validation{repeated} (out-of-fold predictions of every row{})",
                            if plain_regression { "" } else { "stratified " },
                            if repeats > 1 { ", first deal" } else { "" }
                        ),
                        Some(cv),
                        n,
                        pooled_aux,
                    )
                }
            }
        }
        (None, Some(t)) => {
            let n = t.len();
            let fitted = fit(data.train, official_validation, observer)?;
            measure_importance(
                &mut importance,
                plugin,
                &fitted,
                &t,
                &classes,
                scenario.seed,
            )?;
            let scored = fitted.score(t, classes.len())?;
            let m = test_metrics(&scored)?;
            novelty_guard = fitted.guard_report(&scored, &classes);
            if let Some((predicted, truth)) = &scored.values {
                regression = Some(regression_metrics(predicted, truth));
            }
            if let Some(truth) = &scored.multi_hot {
                multilabel = Some(multilabel_metrics(&scored.probs, truth, &classes));
            }
            (fitted, m, evaluation_note, None, n, scored.auxiliary)
        }
        (None, None) => {
            let fraction = scenario.data.test_fraction.map_or(0.2, |f| f.get());
            let (rest, held) =
                stratified_split(data.train, fraction, scenario.seed.wrapping_add(7));
            let held = held.ok_or_else(|| {
                RuntimeError::Invalid("too few rows to hold out a test split".into())
            })?;
            let n = held.len();
            let fitted = fit(rest, official_validation, observer)?;
            measure_importance(
                &mut importance,
                plugin,
                &fitted,
                &held,
                &classes,
                scenario.seed,
            )?;
            let scored = fitted.score(held, classes.len())?;
            let m = test_metrics(&scored)?;
            novelty_guard = fitted.guard_report(&scored, &classes);
            if let Some((predicted, truth)) = &scored.values {
                regression = Some(regression_metrics(predicted, truth));
            }
            if let Some(truth) = &scored.multi_hot {
                multilabel = Some(multilabel_metrics(&scored.probs, truth, &classes));
            }
            let how = format!(
                "{} {:.0} % holdout (seed {})",
                if plain_regression || multilabel_head {
                    "random"
                } else {
                    "stratified"
                },
                fraction * 100.0,
                scenario.seed
            );
            (fitted, m, how, None, n, scored.auxiliary)
        }
    };
    let top_k = match (&catalog, top_k_test, fitted.rating) {
        (Some(c), Some(t), Some(decision)) => {
            log("ranking unseen items for every test user");
            Some(evaluate_top_k(plugin, c, &fitted, decision, &t)?)
        }
        _ => None,
    };
    let auxiliary_heads = fitted
        .auxiliary
        .iter()
        .zip(&aux_scores)
        .map(|(model, scores)| model.metrics(scores))
        .collect();
    let Fitted {
        preprocessor,
        outcome,
        validation,
        threshold,
        rating,
        anomaly,
        rows_train,
        rows_validation,
        members,
        other_members_seconds,
        guard,
        ..
    } = fitted;
    let chosen = outcome.chosen();

    let run_id = format!("{}-s{}", started_at.format("%Y%m%dT%H%M%SZ"), scenario.seed);
    let mut writer = RunWriter::create(&options.runs_root, scenario.name.as_str(), &run_id)?;
    let metrics = RunMetrics {
        scenario: scenario.name.to_string(),
        plugin: plugin.name.to_string(),
        run_id: writer.run_id(),
        head: head_spec.name.to_string(),
        backend: backend.kind.as_str().to_string(),
        rows: RowCounts {
            train: rows_train,
            validation: rows_validation,
            test: test_rows,
        },
        epochs_run: outcome.history.len(),
        best_epoch: outcome.best_epoch,
        stopped_early: outcome.stopped_early,
        train_seconds: outcome.history.iter().map(|r| r.seconds).sum::<f64>()
            + other_members_seconds
            + guard.as_ref().map_or(0.0, |g| g.seconds),
        parameters: members
            .iter()
            .map(MlpWeights::parameter_count)
            .sum::<usize>()
            + guard.as_ref().map_or(0, |g| g.weights.parameter_count()),
        evaluation,
        test,
        validation,
        threshold,
        cross_validation: cv,
        regression,
        top_k,
        rating,
        anomaly,
        multilabel,
        auxiliary_heads,
        novelty_guard,
        permutation_importance: importance.map(ImportanceSamples::finish),
    };
    let environment = Environment {
        indus_version: env!("CARGO_PKG_VERSION").to_string(),
        burn_version: BURN_VERSION.to_string(),
        backend_requested: scenario.backend.as_str().to_string(),
        backend_used: backend.kind.as_str().to_string(),
        backend_fallback: backend.fallback_reason.clone(),
        git_revision: git_revision(scenario_dir),
        platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        data_files,
        data_notes,
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    writer.write("scenario.yaml", to_yaml(scenario)?.as_bytes())?;
    writer.write("plugin.yaml", to_yaml(plugin)?.as_bytes())?;
    writer.write(WEIGHTS, &chosen.to_safetensors()?)?;
    for (m, weights) in members.iter().enumerate().skip(1) {
        writer.write(&member_file(m), &weights.to_safetensors()?)?;
    }
    if let Some(g) = &guard {
        writer.write(GUARD_WEIGHTS, &g.weights.to_safetensors()?)?;
    }
    writer.write("last.safetensors", &outcome.last.to_safetensors()?)?;
    if let Some(best) = &outcome.best {
        writer.write("best.safetensors", &best.to_safetensors()?)?;
    }
    writer.write_json("preprocess.json", &preprocessor)?;
    writer.write_json(crate::drift::REFERENCE, &reference)?;
    writer.write_json("history.json", &outcome.history)?;
    writer.write_json(EXAMPLES, &examples)?;
    if let Some(n) = &native {
        writer.write_json(
            NATIVE,
            &NativeRecord {
                library: n.path().to_path_buf(),
                abi: n.abi(),
            },
        )?;
    }
    if let Some(c) = &catalog {
        writer.write_json(crate::recommend::CATALOG, c)?;
    }
    for table in &data.lookups {
        writer.write(&lookup_file(&table.file), &table.bytes)?;
    }
    writer.write_json("environment.json", &environment)?;
    writer.write_json("metrics.json", &metrics)?;
    let dir = writer.commit(scenario.name.as_str(), plugin.name.as_str())?;
    Ok(RunSummary {
        dir,
        metrics,
        history: outcome.history,
        backend,
    })
}

/// Splits off the latest rows by the time column as the test split (ties
/// keep file order; every row of the cut-off time goes to the same side).
fn time_ordered_split(
    table: &RawTable,
    split: &indus_spec::TimeSplit,
    plugin: &indus_spec::PluginManifest,
) -> Result<(RawTable, RawTable), RuntimeError> {
    let is_split_column = plugin
        .data
        .columns
        .iter()
        .any(|c| c.name == split.column && c.role == indus_spec::ColumnRole::Split);
    let marks = table
        .split_column(&split.column)
        .filter(|_| is_split_column)
        .ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "data.time_split: plugin `{}` has no `role: split` column named `{}`",
                plugin.name, split.column
            ))
        })?;
    let mut times = Vec::with_capacity(marks.len());
    for (row, text) in marks.iter().enumerate() {
        let t: f64 = text.parse().map_err(|_| {
            indus_data::DataError::row(
                &format!("column `{}`", split.column),
                row + 1,
                Some(&split.column),
                format!("`{text}` is not a number; a time split needs numeric times"),
            )
        })?;
        times.push(t);
    }
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]).then(a.cmp(&b)));
    let mut cut = ((1.0 - split.test_fraction.get()) * order.len() as f64).round() as usize;
    // Rows stamped with the same time as the first test row are test rows too.
    while cut > 0 && cut < order.len() && times[order[cut - 1]] == times[order[cut]] {
        cut -= 1;
    }
    if cut == 0 || cut == order.len() {
        return Err(RuntimeError::Invalid(format!(
            "data.time_split: `{}` leaves no rows on one side of the cut",
            split.column
        )));
    }
    let mut train_idx = order[..cut].to_vec();
    let mut test_idx = order[cut..].to_vec();
    train_idx.sort_unstable();
    test_idx.sort_unstable();
    Ok((table.select(&train_idx), table.select(&test_idx)))
}

/// List length of the top-k evaluation.
const TOP_K: usize = 10;

/// HR@10, NDCG@10 and recall@10 over the test users: each user's list
/// ranks every item known from training that the user did not rate in
/// training; the relevant items are the user's test items rated at or
/// above `liked_at`.
fn evaluate_top_k(
    plugin: &indus_spec::PluginManifest,
    catalog: &Catalog,
    fitted: &Fitted,
    decision: RatingDecision,
    test: &RawTable,
) -> Result<TopKMetrics, RuntimeError> {
    let pair = crate::recommend::PairKeys::new(plugin, primary_head(plugin))?;
    let truth = test.values.as_deref().unwrap_or_default();
    let mut liked: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (r, row) in test.features.chunks_exact(test.width.max(1)).enumerate() {
        if truth
            .get(r)
            .is_some_and(|&t| f64::from(t) >= decision.liked_at)
        {
            let (user, item) = pair.keys(row);
            liked.entry(user).or_default().push(item);
        }
    }
    let (mut lists, mut relevant) = (Vec::new(), Vec::new());
    for (user, items) in liked {
        let Ok((rows, keys)) = catalog.candidates(&user) else {
            continue; // a user never seen in training has no profile
        };
        let scores = fitted
            .predictor
            .predict(&fitted.preprocessor.transform(&rows))?;
        let top: Vec<String> = crate::recommend::top_indices(&scores, TOP_K)
            .into_iter()
            .map(|i| keys[i].clone())
            .collect();
        lists.push(top);
        relevant.push(items);
    }
    let (_, items) = catalog.sizes();
    Ok(top_k_metrics(
        &lists,
        &relevant,
        TOP_K,
        &format!(
            "for each test user with a test rating >= {}: rank all {items} items with at least {} training ratings, minus those the user rated in training; relevant = the user's test items rated >= {}",
            decision.liked_at,
            catalog.min_item_ratings(),
            decision.liked_at
        ),
    ))
}

/// Run-folder name of a joined lookup table.
pub(crate) fn lookup_file(role: &str) -> String {
    format!("table-{role}.csv")
}

/// The weights file a run serves from (best epoch when validating, else last).
pub const WEIGHTS: &str = "weights.safetensors";

/// YAML text of the scenario or manifest as run, for the run folder.
fn to_yaml<T: Serialize>(value: &T) -> Result<String, RuntimeError> {
    serde_norway::to_string(value)
        .map_err(|e| RuntimeError::Invalid(format!("cannot encode YAML: {e}")))
}

/// Class (or label) names of the primary head in output order; empty for a
/// head that predicts a number.
pub(crate) fn class_names(
    plugin: &indus_spec::PluginManifest,
    head: Head,
) -> Result<Vec<String>, RuntimeError> {
    if primary_head(plugin).task == indus_spec::Task::UserItem {
        return Ok(LIKED_CLASSES.iter().map(|c| c.to_string()).collect());
    }
    Ok(match head {
        Head::Multiclass { .. } | Head::Reconstruction { .. } | Head::Multilabel { .. } => {
            primary_head(plugin).classes.clone().unwrap_or_default()
        }
        Head::Binary => primary_head(plugin)
            .classes
            .clone()
            .unwrap_or_else(|| vec!["0".into(), "1".into()]),
        Head::Regression { .. } => Vec::new(),
    })
}

/// Head outputs as one probability column per class.
pub(crate) fn class_columns(head: Head, outputs: Vec<f32>) -> Vec<f32> {
    match head {
        Head::Binary => binary_to_two_columns(&outputs),
        _ => outputs,
    }
}

fn git_revision(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Reads the kept weights of every network of a run (one unless the
/// scenario trains an ensemble of `networks`).
pub(crate) fn read_weights(
    folder: &crate::RunFolder,
    networks: usize,
) -> Result<Vec<MlpWeights>, RuntimeError> {
    (0..networks.max(1))
        .map(|m| {
            let file = if m == 0 {
                WEIGHTS.to_string()
            } else {
                member_file(m)
            };
            let bytes = folder.read(&file)?;
            Ok(MlpWeights::from_safetensors(
                &folder.dir.join(&file),
                &bytes,
            )?)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn time_split_tests_on_the_latest_rows_and_keeps_ties_together() {
        let plugin = indus_spec::parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: x, type: number, role: feature}\n    - {name: t, type: integer, role: split}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y}\n",
        )
        .unwrap();
        let table = RawTable {
            features: (0..6).map(|i| i as f32).collect(),
            width: 1,
            splits: vec![(
                "t".into(),
                ["50", "10", "40", "40", "20", "30"]
                    .map(String::from)
                    .to_vec(),
            )],
            ..Default::default()
        };
        let split = indus_spec::TimeSplit {
            column: "t".into(),
            test_fraction: indus_spec::Fraction::try_from(0.4).unwrap(),
        };
        let (train, test) = time_ordered_split(&table, &split, &plugin).unwrap();
        // Times 10, 20, 30 train; 40, 40, 50 test (the cut at 4 of 6 rows
        // would split the two rows at time 40, so both go to test).
        assert_eq!(train.features, [1.0, 4.0, 5.0]);
        assert_eq!(test.features, [0.0, 2.0, 3.0]);
        let bad = RawTable {
            splits: vec![("t".into(), vec!["1".into(), "soon".into()])],
            features: vec![0.0, 1.0],
            width: 1,
            ..Default::default()
        };
        let err = time_ordered_split(&bad, &split, &plugin)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2") && err.contains("soon"), "{err}");
    }

    #[test]
    fn anomaly_threshold_is_a_percentile_of_normal_errors() {
        let errors: Vec<f32> = (1..=200).map(|i| i as f32).collect();
        assert_eq!(percentile_of(&errors, 99.0), 198.0);
        assert_eq!(percentile_of(&errors, 50.0), 100.0);
        let d = AnomalyDecision {
            threshold: 198.0,
            percentile: 99.0,
        };
        assert_eq!(d.score(198.0), 0.5);
        assert!(d.score(10.0) < d.score(300.0));
        // Two rows: one reproduced exactly, one off by 2 in both inputs.
        assert_eq!(
            reconstruction_errors(&[1.0, 1.0, 0.0, 0.0], &[1.0, 1.0, 2.0, 2.0], 2),
            [0.0, 4.0]
        );
    }

    #[test]
    fn balanced_weights_make_every_class_count_the_same() {
        let w = balanced_weights(&[0, 0, 0, 1], 3);
        assert_eq!(w, vec![4.0 / 9.0, 4.0 / 3.0, 1.0]);
        assert!((3.0 * w[0] - 1.0 * w[1]).abs() < 1e-6);
    }
}
