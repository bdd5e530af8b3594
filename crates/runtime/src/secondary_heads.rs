//! The secondary heads: every head after the first of a scenario's
//! `heads:` list, trained beside the primary one on a shared trunk. Their
//! targets, their slice of the model, their decisions, metrics and served
//! answers.

use crate::RuntimeError;
use crate::decision::class_columns;
use crate::prediction::{HeadAnswer, named};
use indus_data::{HeadTargets, RawTable, head_classes};
use indus_engine::metrics::{ClassificationMetrics, classification_metrics_for, predict_classes};
use indus_engine::rating::{RegressionMetrics, regression_metrics};
use indus_engine::{Head, MlpWeights, Predictor, Targets};
use indus_spec::{BackendKind, HeadSpec, PluginManifest, Scenario};
use serde::{Deserialize, Serialize};

/// The heads after the primary one that `scenario` trains on one trunk
/// (empty unless it lists several under `heads:`).
pub(crate) fn secondary_specs<'a>(
    plugin: &'a PluginManifest,
    scenario: &Scenario,
) -> &'a [HeadSpec] {
    let trained = scenario.heads.len().clamp(1, plugin.heads.len().max(1));
    plugin.heads.get(1..trained).unwrap_or_default()
}

/// The training targets of secondary head `spec` in `table`.
pub(crate) fn targets_of(spec: &HeadSpec, table: &RawTable) -> Result<Targets, RuntimeError> {
    match table.head_target(spec.name.as_str()) {
        Some(HeadTargets::Classes(c)) => Ok(Targets::Classes(c.clone())),
        Some(HeadTargets::Values(v)) => Ok(Targets::Values {
            values: v.clone(),
            width: 1,
        }),
        None => Err(RuntimeError::Invalid(format!(
            "head `{}`: the rows carry no target column `{}`",
            spec.name, spec.target
        ))),
    }
}

/// One secondary head of a trained model, ready to answer.
pub(crate) struct SecondaryHead {
    /// The head as the plugin declares it (with the scenario's loss weight).
    pub spec: HeadSpec,
    /// Its engine head.
    pub head: Head,
    /// Class labels in output order (empty for regression).
    pub classes: Vec<String>,
    /// Binary heads: the positive-class probability at or above which the
    /// positive class is decided.
    pub threshold: Option<f32>,
    /// The shared trunk with this head's output columns only.
    pub predictor: Predictor,
}

/// Predictions of a secondary head for labelled rows.
pub(crate) enum SecondaryScores {
    /// Classifiers: probability columns, decided classes, true labels.
    Classes {
        probs: Vec<f32>,
        predicted: Vec<usize>,
        labels: Vec<u32>,
    },
    /// Regression: predicted and true values.
    Values {
        predicted: Vec<f32>,
        truth: Vec<f32>,
    },
}

impl SecondaryScores {
    /// Appends another batch of rows (cross-validation folds).
    pub fn extend(&mut self, other: SecondaryScores) {
        match (self, other) {
            (
                SecondaryScores::Classes {
                    probs,
                    predicted,
                    labels,
                },
                SecondaryScores::Classes {
                    probs: p,
                    predicted: d,
                    labels: l,
                },
            ) => {
                probs.extend(p);
                predicted.extend(d);
                labels.extend(l);
            }
            (
                SecondaryScores::Values { predicted, truth },
                SecondaryScores::Values {
                    predicted: p,
                    truth: t,
                },
            ) => {
                predicted.extend(p);
                truth.extend(t);
            }
            _ => unreachable!("one head always scores the same kind"),
        }
    }
}

/// What `metrics.json` records for a secondary head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondaryHeadMetrics {
    /// Head name.
    pub head: String,
    /// Its task (`binary`, `multiclass`, `regression`).
    pub task: String,
    /// Weight of its loss in the training objective.
    pub loss_weight: f64,
    /// Binary heads: the decision threshold used for its labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// Classifiers: metrics on the same test rows as the primary head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<ClassificationMetrics>,
    /// Regression heads: error on the same test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<RegressionMetrics>,
}

impl SecondaryHeadMetrics {
    /// The numbers a summary table shows for this head: accuracy, balanced
    /// accuracy and ROC-AUC (classifiers), RMSE (regression).
    pub fn summary(&self) -> [Option<f64>; 4] {
        let t = self.test.as_ref();
        [
            t.map(|c| c.accuracy),
            t.map(|c| c.balanced_accuracy),
            t.and_then(|c| c.ranking.as_ref()).map(|r| r.roc_auc),
            self.regression.as_ref().map(|r| r.rmse),
        ]
    }
}

impl SecondaryHead {
    /// Builds head `spec`, whose outputs start at column `offset` of the
    /// shared output layer of each network in `members` (one unless the
    /// scenario trains an ensemble).
    pub fn new(
        spec: &HeadSpec,
        members: &[MlpWeights],
        offset: usize,
        threshold: Option<f32>,
        backend: BackendKind,
    ) -> Result<SecondaryHead, RuntimeError> {
        let head = Head::from_spec(spec)?;
        let own = members
            .iter()
            .map(|w| w.output_columns(offset, head.outputs()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SecondaryHead {
            spec: spec.clone(),
            head,
            classes: match head {
                Head::Regression { .. } => Vec::new(),
                _ => head_classes(spec),
            },
            threshold,
            predictor: Predictor::ensemble(&own, head, backend)?,
        })
    }

    /// Builds every secondary head of `specs`, laid out after a primary
    /// head of `primary_outputs` columns.
    pub fn all(
        specs: &[HeadSpec],
        members: &[MlpWeights],
        primary_outputs: usize,
        thresholds: &[Option<f32>],
        backend: BackendKind,
    ) -> Result<Vec<SecondaryHead>, RuntimeError> {
        let mut offset = primary_outputs;
        let mut models = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let model = SecondaryHead::new(
                spec,
                members,
                offset,
                thresholds.get(i).copied().flatten(),
                backend,
            )?;
            offset += model.head.outputs();
            models.push(model);
        }
        if let Some(w) = members.iter().find(|w| w.outputs() != offset) {
            return Err(RuntimeError::Invalid(format!(
                "the model has {} outputs but its heads need {offset}",
                w.outputs()
            )));
        }
        Ok(models)
    }

    /// Class probability columns (classifiers) or values (regression) for
    /// preprocessed rows `x`.
    fn outputs(&self, x: &[f32]) -> Result<Vec<f32>, RuntimeError> {
        Ok(class_columns(self.head, self.predictor.predict(x)?))
    }

    /// Scores preprocessed rows `x` whose targets `table` carries.
    pub fn score(&self, x: &[f32], table: &RawTable) -> Result<SecondaryScores, RuntimeError> {
        let out = self.outputs(x)?;
        Ok(match targets_of(&self.spec, table)? {
            Targets::Classes(labels) => SecondaryScores::Classes {
                predicted: predict_classes(&out, self.classes.len(), self.threshold),
                probs: out,
                labels,
            },
            Targets::Values { values, .. } => SecondaryScores::Values {
                predicted: out,
                truth: values,
            },
        })
    }

    /// The metrics of `scores` for `metrics.json`.
    pub fn metrics(&self, scores: &SecondaryScores) -> SecondaryHeadMetrics {
        let (test, regression) = match scores {
            SecondaryScores::Classes {
                probs,
                predicted,
                labels,
            } => (
                Some(classification_metrics_for(
                    probs,
                    predicted,
                    labels,
                    &self.classes,
                )),
                None,
            ),
            SecondaryScores::Values { predicted, truth } => {
                (None, Some(regression_metrics(predicted, truth)))
            }
        };
        SecondaryHeadMetrics {
            head: self.spec.name.to_string(),
            task: self.spec.task.as_str().to_string(),
            loss_weight: self.spec.loss_weight.get(),
            threshold: self.threshold,
            test,
            regression,
        }
    }

    /// This head's answer for every row of preprocessed `x`.
    pub fn answer(&self, x: &[f32]) -> Result<Vec<HeadAnswer>, RuntimeError> {
        let out = self.outputs(x)?;
        if self.classes.is_empty() {
            return Ok(out
                .into_iter()
                .map(|v| HeadAnswer {
                    label: None,
                    score: None,
                    probabilities: Vec::new(),
                    value: Some(v),
                })
                .collect());
        }
        let k = self.classes.len();
        let decided = predict_classes(&out, k, self.threshold);
        Ok(out
            .chunks_exact(k)
            .zip(decided)
            .map(|(p, d)| HeadAnswer {
                label: Some(self.classes[d].clone()),
                score: Some(p[d]),
                probabilities: named(&self.classes, p),
                value: None,
            })
            .collect())
    }
}
