//! The novelty guard: an autoencoder trained beside a classifier on the
//! rows of its usual class, which overrules the classifier on rows unlike
//! anything usual. A classifier only knows the kinds of trouble its labels
//! showed it; the guard also flags the unusual rows no label described.

use crate::RuntimeError;
use crate::decision::{AnomalyDecision, percentile_of, reconstruction_errors};
use indus_engine::metrics::{
    ClassificationMetrics, RankingMetrics, classification_metrics_for, ranking_metrics,
};
use indus_engine::{Head, MlpWeights, Predictor, Targets, TrainObserver, TrainRequest, TrainSet};
use indus_spec::{BackendKind, HeadSpec, NoveltyGuard, Task};
use serde::{Deserialize, Serialize};

/// What the guard decided and how it did, saved in `metrics.json`: serving
/// reads its threshold and classes back from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardReport {
    /// Mean squared reconstruction error at or above which a row is flagged.
    pub threshold: f32,
    /// The percentile of usual validation rows' errors it was set at.
    pub percentile: f64,
    /// The class whose training rows the autoencoder learned.
    pub normal_class: String,
    /// The class a flagged row is given.
    pub flags: String,
    /// Rows the autoencoder trained on.
    pub rows_train: usize,
    /// Held-out rows the guard flagged.
    pub flagged: usize,
    /// Held-out rows whose decision the guard changed (the classifier had
    /// decided another class).
    pub overruled: usize,
    /// The classifier's own decisions on the same held-out rows: what the
    /// scenario would score without the guard.
    pub classifier_alone: ClassificationMetrics,
    /// How well the reconstruction error alone tells rows of any other
    /// class from `normal_class` rows (the error as the score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_ranking: Option<RankingMetrics>,
}

/// The guard's verdict on held-out rows, kept beside the guarded
/// decisions so the report can show what the classifier alone did.
#[derive(Debug, Clone, Default)]
pub(crate) struct GuardScores {
    /// The classifier's decisions before the guard.
    pub unguarded: Vec<usize>,
    /// Each row's reconstruction error.
    pub errors: Vec<f32>,
    /// Whether the guard fired on the row (under cross-validation, each
    /// fold's own guard decided its rows).
    pub fired: Vec<bool>,
}

/// A trained (or reloaded) guard.
pub(crate) struct NoveltyGuardModel {
    /// The autoencoder, ready to reconstruct model inputs.
    pub predictor: Predictor,
    /// Its weights, for the run folder.
    pub weights: MlpWeights,
    /// Threshold and percentile, as an autoencoder head's alarm has them.
    pub decision: AnomalyDecision,
    /// Class index of the usual class (the rows it learned).
    pub normal: usize,
    /// Class index a flagged row is given.
    pub flags: usize,
    /// Usual rows it trained on.
    pub rows_train: usize,
    /// Optimisation seconds (0 when reloaded).
    pub seconds: f64,
}

/// The usual class and the flagged class of `guard` as indices into the
/// head's classes, or why they cannot be.
pub(crate) fn guard_classes(
    guard: &NoveltyGuard,
    head: &HeadSpec,
) -> Result<(usize, usize), (String, String)> {
    if !matches!(head.task, Task::Binary | Task::Multiclass) {
        return Err((
            "novelty_guard".into(),
            format!(
                "guards a binary or multiclass head; head `{}` is {}",
                head.name,
                head.task.as_str()
            ),
        ));
    }
    let classes = indus_data::head_classes(head);
    let find = |name: &str, field: &str| {
        classes.iter().position(|c| c == name).ok_or_else(|| {
            (
                format!("novelty_guard.{field}"),
                format!(
                    "head `{}` has no class `{name}`; its classes are: {}",
                    head.name,
                    classes.join(", ")
                ),
            )
        })
    };
    let normal = match &guard.normal_class {
        Some(c) => find(c, "normal_class")?,
        None => 0,
    };
    let flags = match (&guard.flags, classes.len()) {
        (Some(c), _) => find(c, "flags")?,
        (None, 2) => 1 - normal,
        (None, _) => {
            return Err((
                "novelty_guard.flags".into(),
                format!(
                    "head `{}` has {} classes: name the one a flagged row is given",
                    head.name,
                    classes.len()
                ),
            ));
        }
    };
    if flags == normal {
        return Err((
            "novelty_guard.flags".into(),
            format!(
                "`{}` is also the usual class: a flagged row must get another one",
                classes[normal]
            ),
        ));
    }
    Ok((normal, flags))
}

/// The rows of `set` whose class is `normal` and whose sample weight (if
/// any) is above 0, as an autoencoder's training set (inputs are their own
/// targets).
fn usual_rows(set: &TrainSet, normal: usize, weights: Option<&[f32]>) -> TrainSet {
    let width = set.width.max(1);
    let counts = |i: usize| weights.is_none_or(|w| w.get(i).is_some_and(|&v| v > 0.0));
    let x: Vec<f32> = match &set.targets {
        Targets::Classes(labels) => set
            .x
            .chunks_exact(width)
            .zip(labels)
            .enumerate()
            .filter(|(i, (_, l))| **l as usize == normal && counts(*i))
            .flat_map(|(_, (row, _))| row.iter().copied())
            .collect(),
        Targets::Values { .. } => Vec::new(),
    };
    TrainSet {
        targets: Targets::Values {
            values: x.clone(),
            width,
        },
        x,
        width,
    }
}

impl NoveltyGuardModel {
    /// Trains the autoencoder on the usual training rows (best epoch on
    /// the usual validation rows) and sets its threshold at the
    /// configured percentile of their errors. Rows of sample weight 0 are
    /// left out; other weights do not change what "usual" looks like.
    #[allow(clippy::too_many_arguments)]
    pub fn train(
        spec: &NoveltyGuard,
        head: &HeadSpec,
        train: &TrainSet,
        weights: Option<&[f32]>,
        validation: Option<&TrainSet>,
        seed: u64,
        backend: BackendKind,
        observer: &mut dyn TrainObserver,
    ) -> Result<NoveltyGuardModel, RuntimeError> {
        let (normal, flags) = guard_classes(spec, head)
            .map_err(|(field, message)| RuntimeError::Invalid(format!("{field}: {message}")))?;
        let usual = usual_rows(train, normal, weights);
        let usual_validation = validation.map(|v| usual_rows(v, normal, None));
        let usual_validation = usual_validation.filter(|v| !v.x.is_empty());
        let rows_train = usual.x.len() / usual.width;
        if rows_train == 0 {
            return Err(RuntimeError::Invalid(format!(
                "novelty_guard: no training rows of class `{}` to learn usual rows from",
                indus_data::head_classes(head)[normal]
            )));
        }
        let ae_head = Head::Reconstruction { width: usual.width };
        let outcome = indus_engine::train(
            &TrainRequest {
                model: &spec.model,
                training: &spec.training,
                head: ae_head,
                seed: seed.wrapping_add(GUARD_SEED_OFFSET),
                backend,
                train: &usual,
                validation: usual_validation.as_ref(),
                class_weights: None,
                sample_weights: None,
                embeddings: &[],
                image: None,
                loss_weight: 1.0,
                auxiliary: &[],
            },
            observer,
        )?;
        let weights = outcome.chosen().clone();
        let predictor = Predictor::new(&weights, ae_head, backend)?;
        let on = usual_validation.as_ref().unwrap_or(&usual);
        let errors = reconstruction_errors(&on.x, &predictor.predict(&on.x)?, on.width);
        let percentile = spec.threshold_percentile.unwrap_or(99.0);
        Ok(NoveltyGuardModel {
            predictor,
            weights,
            decision: AnomalyDecision {
                threshold: percentile_of(&errors, percentile),
                percentile,
            },
            normal,
            flags,
            rows_train,
            seconds: outcome.history.iter().map(|r| r.seconds).sum(),
        })
    }

    /// Rebuilds the guard of a finished run from its saved weights and the
    /// report its `metrics.json` holds; `Err` says what does not fit.
    pub fn load(
        weights: MlpWeights,
        report: &GuardReport,
        classes: &[String],
        width: usize,
        backend: BackendKind,
    ) -> Result<NoveltyGuardModel, String> {
        let index = |name: &str| {
            classes.iter().position(|c| c == name).ok_or_else(|| {
                format!("metrics.json: the novelty guard names an unknown class `{name}`")
            })
        };
        if weights.inputs() != width {
            return Err(format!(
                "the novelty guard's weights expect {} inputs but the preprocessing produces {width}",
                weights.inputs()
            ));
        }
        Ok(NoveltyGuardModel {
            predictor: Predictor::new(&weights, Head::Reconstruction { width }, backend)
                .map_err(|e| e.to_string())?,
            decision: AnomalyDecision {
                threshold: report.threshold,
                percentile: report.percentile,
            },
            normal: index(&report.normal_class)?,
            flags: index(&report.flags)?,
            rows_train: report.rows_train,
            seconds: 0.0,
            weights,
        })
    }

    /// Reconstruction error of each row of model inputs `x`.
    pub fn errors(&self, x: &[f32]) -> Result<Vec<f32>, RuntimeError> {
        let width = self.predictor.inputs();
        Ok(reconstruction_errors(x, &self.predictor.predict(x)?, width))
    }

    /// Whether a row with reconstruction error `error` is flagged.
    pub fn fires(&self, error: f32) -> bool {
        self.decision.fires(error)
    }

    /// The guard's score of a row, rising with its error and 0.5 at the
    /// threshold (like an autoencoder head's).
    pub fn score(&self, error: f32) -> f32 {
        self.decision.score(error)
    }

    /// Gives every flagged row the flagged class; returns the classifier's
    /// decisions and the errors for the report.
    pub fn overrule(&self, x: &[f32], decided: &mut [usize]) -> Result<GuardScores, RuntimeError> {
        let errors = self.errors(x)?;
        let unguarded = decided.to_vec();
        let fired: Vec<bool> = errors.iter().map(|&e| self.fires(e)).collect();
        for (d, &f) in decided.iter_mut().zip(&fired) {
            if f {
                *d = self.flags;
            }
        }
        Ok(GuardScores {
            unguarded,
            errors,
            fired,
        })
    }

    /// The report of held-out rows: what was flagged and overruled, the
    /// classifier alone, and the error's own ranking of unusual rows.
    pub fn report(
        &self,
        scores: &GuardScores,
        probs: &[f32],
        labels: &[u32],
        classes: &[String],
    ) -> GuardReport {
        let flagged = scores.fired.iter().filter(|&&f| f).count();
        let overruled = scores
            .fired
            .iter()
            .zip(&scores.unguarded)
            .filter(|&(&f, &d)| f && d != self.flags)
            .count();
        let unusual: Vec<bool> = labels.iter().map(|&l| l as usize != self.normal).collect();
        GuardReport {
            threshold: self.decision.threshold,
            percentile: self.decision.percentile,
            normal_class: classes[self.normal].clone(),
            flags: classes[self.flags].clone(),
            rows_train: self.rows_train,
            flagged,
            overruled,
            classifier_alone: classification_metrics_for(probs, &scores.unguarded, labels, classes),
            error_ranking: ranking_metrics(&scores.errors, &unusual),
        }
    }
}

/// Added to the scenario's seed for the guard's initial weights and batch
/// order, so they do not mirror the classifier's.
const GUARD_SEED_OFFSET: u64 = 7_919;

#[cfg(test)]
mod tests {
    use super::*;

    fn head(task: &str, classes: &[&str]) -> HeadSpec {
        let yaml = format!(
            "{{name: verdict, task: {task}, target: y, classes: [{}]}}",
            classes.join(", ")
        );
        serde_norway::from_str(&yaml).unwrap()
    }

    fn guard(yaml: &str) -> NoveltyGuard {
        serde_norway::from_str(&format!(
            "{{{yaml} model: {{hidden: [4]}}, training: {{epochs: 1, batch_size: 2, optimizer: {{kind: adam, learning_rate: 0.01}}}}}}"
        ))
        .unwrap()
    }

    #[test]
    fn binary_heads_flag_the_other_class_by_default() {
        let h = head("binary", &["normal", "attack"]);
        assert_eq!(guard_classes(&guard(""), &h), Ok((0, 1)));
        assert_eq!(
            guard_classes(&guard("normal_class: attack,"), &h),
            Ok((1, 0))
        );
    }

    #[test]
    fn unknown_or_missing_classes_are_named() {
        let h = head("multiclass", &["ok", "worn", "broken"]);
        let (field, message) = guard_classes(&guard(""), &h).unwrap_err();
        assert_eq!(field, "novelty_guard.flags");
        assert!(message.contains("3 classes"), "{message}");
        let (field, message) = guard_classes(&guard("flags: cracked,"), &h).unwrap_err();
        assert_eq!(field, "novelty_guard.flags");
        assert!(message.contains("`cracked`") && message.contains("ok, worn, broken"));
        let (_, message) = guard_classes(&guard("flags: ok,"), &h).unwrap_err();
        assert!(message.contains("also the usual class"), "{message}");
        assert_eq!(guard_classes(&guard("flags: broken,"), &h), Ok((0, 2)));
        let (field, _) = guard_classes(&guard(""), &head("regression", &[])).unwrap_err();
        assert_eq!(field, "novelty_guard");
    }

    #[test]
    fn only_usual_rows_train_the_autoencoder() {
        let set = TrainSet {
            x: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            width: 2,
            targets: Targets::Classes(vec![0, 1, 0]),
        };
        let usual = usual_rows(&set, 0, None);
        assert_eq!(usual.x, vec![1.0, 2.0, 5.0, 6.0]);
        // A row of sample weight 0 does not count.
        let usual = usual_rows(&set, 0, Some(&[1.0, 1.0, 0.0]));
        assert_eq!(usual.x, vec![1.0, 2.0]);
        assert!(
            matches!(usual.targets, Targets::Values { ref values, width: 2 } if *values == usual.x)
        );
    }
}
