//! A trained model, as training builds it and as loading a run rebuilds it:
//! the fitted preprocessing, the primary head's network and decision, the
//! secondary heads and the novelty guard. Training-time evaluation and a
//! served run both decide through this one type, so their answers for the
//! same rows are the same.

use crate::RuntimeError;
use crate::decision::{Decided, Decision, LIKED_CLASSES};
use crate::novelty_guard::{GuardScores, NoveltyGuardModel};
use crate::secondary_heads::{SecondaryHead, SecondaryScores, secondary_specs};
use indus_data::{Preprocessor, RawTable, primary_head};
use indus_engine::metrics::ClassificationMetrics;
use indus_engine::{Head, MlpWeights, Predictor};
use indus_spec::{BackendKind, PluginManifest, Scenario, Task};

/// Everything that turns a raw row into an answer.
pub struct TrainedModel {
    /// Preprocessing fitted on the training rows.
    pub preprocessor: Preprocessor,
    /// The primary head's network (every ensemble member, averaged), with
    /// only the primary head's output columns.
    pub predictor: Predictor,
    /// The primary head, an autoencoder's width set to the model inputs.
    pub head: Head,
    /// Class (or label) names of the primary head in output order; empty
    /// for a head that predicts a number.
    pub classes: Vec<String>,
    /// How the primary head's outputs become answers.
    pub decision: Decision,
    /// Heads trained beside the primary one on the same trunk.
    pub(crate) secondary: Vec<SecondaryHead>,
    /// The autoencoder that overrules the classifier on unusual rows.
    pub(crate) guard: Option<NoveltyGuardModel>,
}

/// Predictions for labelled rows, as metrics take them: probability
/// columns, decided classes and the true labels.
pub(crate) struct Scored {
    /// The rule the classes were decided by.
    pub decision: Decision,
    pub probs: Vec<f32>,
    pub predicted: Vec<usize>,
    pub labels: Vec<u32>,
    /// Heads that predict a number (ratings, values): predicted and true.
    pub values: Option<(Vec<f32>, Vec<f32>)>,
    /// Each secondary head's predictions for the same rows.
    pub secondary: Vec<SecondaryScores>,
    /// Multilabel heads: the rows' labels as 0/1 values (`probs` holds one
    /// independent probability per label).
    pub multi_hot: Option<Vec<f32>>,
    /// With a novelty guard: its errors and the decisions it overruled.
    pub guard: Option<GuardScores>,
}

impl Scored {
    /// Adds the scores of the rows read after these (the next batch of a
    /// streamed file), so that metrics cover every row while only the
    /// answers are held.
    pub fn append(&mut self, next: Scored) {
        self.probs.extend(next.probs);
        self.predicted.extend(next.predicted);
        self.labels.extend(next.labels);
        if let (Some((predicted, truth)), Some((more, more_truth))) =
            (self.values.as_mut(), next.values)
        {
            predicted.extend(more);
            truth.extend(more_truth);
        }
        if let (Some(hot), Some(more)) = (self.multi_hot.as_mut(), next.multi_hot) {
            hot.extend(more);
        }
        for (mine, theirs) in self.secondary.iter_mut().zip(next.secondary) {
            mine.extend(theirs);
        }
        if let (Some(guard), Some(more)) = (self.guard.as_mut(), next.guard) {
            guard.unguarded.extend(more.unguarded);
            guard.errors.extend(more.errors);
            guard.fired.extend(more.fired);
        }
    }

    /// Classification metrics of the decided classes.
    pub fn metrics(&self, classes: &[String]) -> ClassificationMetrics {
        self.decision
            .metrics(&self.probs, &self.predicted, &self.labels, classes)
    }
}

/// The primary head of `plugin` as the engine builds it, an autoencoder's
/// width being the preprocessed input width.
pub(crate) fn primary_engine_head(
    plugin: &PluginManifest,
    preprocessor: &Preprocessor,
) -> Result<Head, RuntimeError> {
    Ok(match Head::from_spec(primary_head(plugin))? {
        Head::Reconstruction { .. } => Head::Reconstruction {
            width: preprocessor.output_width(),
        },
        other => other,
    })
}

/// Class (or label) names of the primary head in output order; empty for a
/// head that predicts a number.
pub(crate) fn class_names(plugin: &PluginManifest, head: Head) -> Vec<String> {
    let spec = primary_head(plugin);
    if spec.task == Task::UserItem {
        return LIKED_CLASSES.iter().map(|c| c.to_string()).collect();
    }
    match head {
        Head::Multiclass { .. } | Head::Reconstruction { .. } | Head::Multilabel { .. } => {
            spec.classes.clone().unwrap_or_default()
        }
        Head::Binary => spec
            .classes
            .clone()
            .unwrap_or_else(|| vec!["0".into(), "1".into()]),
        Head::Regression { .. } => Vec::new(),
    }
}

impl TrainedModel {
    /// Builds the model from its networks' weights (one per ensemble
    /// member): the primary head's columns for the predictor, each
    /// secondary head's own columns after them. The decision starts as
    /// "no fitted rule" (threshold-free), with no secondary thresholds and
    /// no guard; training fits them next, loading sets them from the run.
    pub(crate) fn assemble(
        plugin: &PluginManifest,
        scenario: &Scenario,
        preprocessor: Preprocessor,
        members: &[MlpWeights],
        secondary_thresholds: &[Option<f32>],
        backend: BackendKind,
    ) -> Result<TrainedModel, RuntimeError> {
        let head = primary_engine_head(plugin, &preprocessor)?;
        let specs = secondary_specs(plugin, scenario);
        let predictor = if specs.is_empty() {
            Predictor::ensemble(members, head, backend)?
        } else {
            let primary = members
                .iter()
                .map(|w| w.output_columns(0, head.outputs()))
                .collect::<Result<Vec<_>, _>>()?;
            Predictor::ensemble(&primary, head, backend)?
        };
        let secondary = SecondaryHead::all(
            specs,
            members,
            head.outputs(),
            secondary_thresholds,
            backend,
        )?;
        Ok(TrainedModel {
            preprocessor,
            predictor,
            head,
            classes: class_names(plugin, head),
            decision: Decision::from_parts(head, None, None, None),
            secondary,
            guard: None,
        })
    }

    /// Whether answering needs the model inputs again beside the primary
    /// network's outputs (an autoencoder's error, the guard, other heads).
    pub fn needs_inputs(&self) -> bool {
        self.guard.is_some()
            || !self.secondary.is_empty()
            || matches!(self.decision, Decision::Anomaly(_))
    }

    /// The primary head's decisions for model inputs `x`, whose network
    /// outputs are `outputs`, before any novelty guard.
    pub fn decide(&self, x: &[f32], outputs: Vec<f32>) -> Decided {
        self.decision
            .apply(self.head, outputs, x, self.classes.len())
    }

    /// Lets the novelty guard overrule `decided` classes on the rows it
    /// finds unusual; its errors and the classifier's own decisions come
    /// back (nothing without a guard).
    pub(crate) fn apply_guard(
        &self,
        x: &[f32],
        decided: &mut Decided,
    ) -> Result<Option<GuardScores>, RuntimeError> {
        match &self.guard {
            Some(g) => Ok(Some(g.overrule(x, &mut decided.classes)?)),
            None => Ok(None),
        }
    }

    /// Scores labelled rows (derived columns already filled in): what the
    /// run's metrics are computed from, during training and by `indus eval`.
    pub(crate) fn score(&self, rows: &RawTable) -> Result<Scored, RuntimeError> {
        let x = self.preprocessor.transform(rows);
        let secondary = self
            .secondary
            .iter()
            .map(|h| h.score(&x, rows))
            .collect::<Result<Vec<_>, _>>()?;
        let mut decided = self.decide(&x, self.predictor.predict(&x)?);
        let guard = self.apply_guard(&x, &mut decided)?;
        let Decided {
            probabilities,
            classes,
            values,
        } = decided;
        let mut scored = Scored {
            decision: self.decision,
            probs: probabilities,
            predicted: classes,
            labels: Vec::new(),
            values: None,
            secondary,
            multi_hot: None,
            guard,
        };
        match self.decision {
            Decision::Rating(rule) => {
                let truth = rows.values.clone().unwrap_or_default();
                scored.labels = truth.iter().map(|&t| u32::from(rule.liked(t))).collect();
                scored.values = Some((values, truth));
            }
            Decision::Value => {
                scored.values = Some((values, rows.values.clone().unwrap_or_default()));
            }
            Decision::Multilabel => {
                scored.multi_hot = Some(rows.multi_hot(self.classes.len()).unwrap_or_default());
            }
            Decision::Classes { .. } | Decision::Anomaly(_) => {
                scored.labels = rows.labels.clone().unwrap_or_default();
            }
        }
        Ok(scored)
    }
}
