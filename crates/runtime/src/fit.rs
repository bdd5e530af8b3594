//! One fit: validation rows split off, preprocessing fitted on the
//! training rows, the networks trained (every ensemble member, the novelty
//! guard), and the decision rules fitted on the validation rows. What comes
//! out is a [`TrainedModel`] plus what the run folder records of training.

use crate::RuntimeError;
use crate::decision::{
    AnomalyDecision, Decision, RatingDecision, class_columns, percentile_of, reconstruction_errors,
};
use crate::model::{Scored, TrainedModel};
use crate::novelty_guard::{GuardReport, NoveltyGuardModel};
use crate::secondary_heads::{secondary_specs, targets_of};
use crate::targets::{TargetScale, balanced_weights};
use indus_data::{Preprocessor, RawTable, primary_head, stratified_split};
use indus_engine::metrics::{
    ClassificationMetrics, ThresholdRule, choose_threshold, classification_metrics_for,
    predict_classes,
};
use indus_engine::rating::fit_logistic;
use indus_engine::{
    EmbeddingShape, Head, ImageShape, MlpWeights, Targets, TrainObserver, TrainOutcome,
    TrainRequest, TrainSet,
};
use indus_spec::{ClassWeighting, DecisionRule};

/// One trained model with what the run records of its training.
pub(crate) struct Fitted {
    /// The model that answers.
    pub model: TrainedModel,
    /// The first network's training: kept, last and best weights, history.
    pub outcome: TrainOutcome,
    /// The primary head's metrics on the validation rows, if any.
    pub validation: Option<ClassificationMetrics>,
    /// Every network's kept weights (the first is `outcome.chosen()`).
    pub members: Vec<MlpWeights>,
    /// Optimisation seconds of the networks after the first.
    pub other_members_seconds: f64,
    /// Rows trained on.
    pub rows_train: usize,
    /// Rows validated on.
    pub rows_validation: usize,
}

impl Fitted {
    /// The guard's report on held-out rows scored by this model's kind
    /// (for cross-validation, the pooled folds: each fold's own guard
    /// decided its rows; the threshold reported is the served model's).
    pub fn guard_report(&self, scored: &Scored) -> Option<GuardReport> {
        let (guard, scores) = (self.model.guard.as_ref()?, scored.guard.as_ref()?);
        Some(guard.report(scores, &scored.probs, &scored.labels, &self.model.classes))
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
pub(crate) fn fit_once(
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
        _ => stratified_split(
            rows,
            scenario.data.validation_fraction.get(),
            scenario.seed,
            &indus_data::DealUnits::of(plugin),
        ),
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
    let aux_specs = secondary_specs(plugin, scenario);
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
    let networks = scenario.model.ensemble.get();
    let network = |m: usize| {
        if networks > 1 {
            format!("network {}/{networks}", m + 1)
        } else {
            String::new()
        }
    };
    observer.on_part(&network(0));
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
    for m in 1..networks {
        let seeded = TrainRequest {
            seed: member_seed(scenario.seed, m),
            ..request
        };
        observer.on_part(&network(m));
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
    let mut model = TrainedModel::assemble(plugin, scenario, preprocessor, &members, &[], backend)?;
    for (secondary, validation) in model.secondary.iter_mut().zip(&aux_validation) {
        let val_probs = match (&val_set, validation) {
            (Some(v), Some(Targets::Classes(labels))) => Some((
                class_columns(secondary.head, secondary.predictor.predict(&v.x)?),
                labels.as_slice(),
            )),
            _ => None,
        };
        secondary.threshold = decide_threshold(
            &secondary.spec,
            secondary.head,
            val_probs.as_ref().map(|(p, l)| (p.as_slice(), *l)),
        )?;
    }
    let (decision, validation) = fit_decision(plugin, &model, &train_set, val_set.as_ref())?;
    model.decision = decision;
    model.guard = match &scenario.novelty_guard {
        Some(spec) => {
            if !embeddings.is_empty() {
                return Err(RuntimeError::Invalid(
                    "novelty_guard: the guard reconstructs the model's inputs, and this plugin feeds learned embeddings (ids); it needs plain numeric and one-hot inputs".into(),
                ));
            }
            observer.on_part("novelty guard");
            Some(NoveltyGuardModel::train(
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
        model,
        outcome,
        validation,
        members,
        other_members_seconds,
        rows_train,
        rows_validation,
    })
}

/// The primary head's decision rule, fitted on the validation rows (the
/// training rows where a rule needs some and there are none), and the
/// validation rows' metrics under it.
fn fit_decision(
    plugin: &indus_spec::PluginManifest,
    model: &TrainedModel,
    train_set: &TrainSet,
    val_set: Option<&TrainSet>,
) -> Result<(Decision, Option<ClassificationMetrics>), RuntimeError> {
    let (head, predictor, classes) = (model.head, &model.predictor, &model.classes);
    let validated = |decision: Decision, labels: &dyn Fn(&TrainSet) -> Vec<u32>| {
        val_set
            .map(|v| -> Result<ClassificationMetrics, RuntimeError> {
                let d = decision.apply(head, predictor.predict(&v.x)?, &v.x, classes.len());
                Ok(decision.metrics(&d.probabilities, &d.classes, &labels(v), classes))
            })
            .transpose()
    };
    match (head, primary_head(plugin).task) {
        (Head::Reconstruction { .. }, _) => {
            // The alarm threshold: a high percentile of normal rows' errors
            // on the validation rows (the training rows when there are none).
            let on = val_set.unwrap_or(train_set);
            let errors = reconstruction_errors(&on.x, &predictor.predict(&on.x)?, head.outputs());
            let percentile = primary_head(plugin).threshold_percentile.unwrap_or(99.0);
            let decision = Decision::Anomaly(AnomalyDecision {
                threshold: percentile_of(&errors, percentile),
                percentile,
            });
            // Validation rows of an autoencoder are normal rows only.
            let validation = validated(decision, &|v| vec![0; v.x.len() / v.width.max(1)])?;
            Ok((decision, validation))
        }
        // A plain number: no decision to make, its error is the metric.
        (Head::Multilabel { .. }, _) => Ok((Decision::Multilabel, None)),
        (_, indus_spec::Task::Regression) => Ok((Decision::Value, None)),
        (_, indus_spec::Task::UserItem) => {
            // Calibrate "liked" on the validation rows (the training rows
            // when there are none), then report validation in the same terms.
            let calibrate_on = val_set.unwrap_or(train_set);
            let rule = rating_decision(
                plugin,
                &predictor.predict(&calibrate_on.x)?,
                target_values(calibrate_on),
            )?;
            let liked = |v: &TrainSet| {
                target_values(v)
                    .iter()
                    .map(|&t| u32::from(rule.liked(t)))
                    .collect()
            };
            let decision = Decision::Rating(rule);
            let validation = validated(decision, &liked)?;
            Ok((decision, validation))
        }
        _ => {
            let val_probs = match val_set {
                Some(v) => Some((
                    class_columns(head, predictor.predict(&v.x)?),
                    target_classes(v),
                )),
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
            Ok((Decision::Classes { threshold }, validation))
        }
    }
}

/// The numeric targets of a set (empty for class targets, which a rating
/// head never has).
fn target_values(set: &TrainSet) -> &[f32] {
    match &set.targets {
        Targets::Values { values, .. } => values,
        Targets::Classes(_) => &[],
    }
}

/// The class targets of a set (empty for numeric targets, which a
/// classifier never has).
fn target_classes(set: &TrainSet) -> &[u32] {
    match &set.targets {
        Targets::Classes(labels) => labels,
        Targets::Values { .. } => &[],
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
