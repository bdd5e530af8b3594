//! k-fold cross-validation (optionally repeated): a model per fold scored
//! on the fold's held-out rows, out-of-fold predictions pooled, per-fold
//! metrics summarised as mean ± std, then the served model trained on every
//! row (and scored on the official test rows when the data set has some).

use crate::RuntimeError;
use crate::decision::Decided;
use crate::evaluation::{HeldOutScores, OFFICIAL_TEST, Scoring};
use crate::fit::Fitted;
use crate::held_out::{RowKeys, held_out_csv};
use crate::importance::{ImportanceSamples, measure_importance};
use crate::metrics::CrossValidation;
use crate::model::{Scored, TrainedModel};
use crate::novelty_guard::GuardScores;
use crate::secondary_heads::SecondaryScores;
use indus_data::{RawTable, stratified_folds};
use indus_engine::TrainObserver;
use indus_engine::rating::regression_metrics;
use indus_spec::PluginManifest;

/// What cross-validation leaves: the served model, its held-out scores
/// (pooled out-of-fold, or on the official test rows), the fold summary and
/// how the numbers were obtained.
pub(crate) struct CrossValidated {
    pub fitted: Fitted,
    pub scores: HeldOutScores,
    pub summary: CrossValidation,
    pub evaluation: String,
}

/// Trains a model on data for one fold (or on every row for the served one).
pub(crate) type FitRows<'a> =
    dyn FnMut(RawTable, &mut dyn TrainObserver) -> Result<Fitted, RuntimeError> + 'a;

/// The seed of repeat `repeat` (0-based) of the deal into folds: the
/// scenario's own for the first.
fn repeat_seed(seed: u64, repeat: usize) -> u64 {
    seed.wrapping_add((repeat as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The rows of a table of `rows` that are not in `held_out` (a fold's
/// training rows).
fn rows_outside(rows: usize, held_out: &[usize]) -> Vec<usize> {
    let held: std::collections::HashSet<usize> = held_out.iter().copied().collect();
    (0..rows).filter(|i| !held.contains(i)).collect()
}

/// Out-of-fold predictions of every row of the first deal, in row order.
struct Pooled {
    /// `(row, fold)` of every row tested, in the order they were added.
    tested: Vec<(usize, usize)>,
    probs: Vec<f32>,
    predicted: Vec<usize>,
    values: Vec<f32>,
    truth: Vec<f32>,
    secondary: Vec<SecondaryScores>,
    guard: Option<GuardScores>,
}

impl Pooled {
    fn new(rows: usize, classes: usize, guarded: bool) -> Pooled {
        Pooled {
            tested: Vec::with_capacity(rows),
            probs: vec![0.0; rows * classes],
            predicted: vec![0; rows],
            values: Vec::new(),
            truth: Vec::new(),
            secondary: Vec::new(),
            guard: guarded.then(|| GuardScores {
                unguarded: vec![0; rows],
                errors: vec![0.0; rows],
                fired: vec![false; rows],
            }),
        }
    }

    /// Puts one fold's scored rows (`rows`, in the table's numbering) in place.
    fn add(&mut self, rows: &[usize], fold: usize, scored: &mut Scored, k: usize) {
        self.tested.extend(rows.iter().map(|&r| (r, fold)));
        // Secondary heads are pooled in fold order (order does not change
        // the pooled metrics).
        if self.secondary.is_empty() {
            self.secondary = std::mem::take(&mut scored.secondary);
        } else {
            for (pool, fold) in self.secondary.iter_mut().zip(scored.secondary.drain(..)) {
                pool.extend(fold);
            }
        }
        if k == 0 {
            return; // a value head has no classes to pool
        }
        for (i, row) in rows.iter().enumerate() {
            self.probs[row * k..(row + 1) * k].copy_from_slice(&scored.probs[i * k..(i + 1) * k]);
            self.predicted[*row] = scored.predicted[i];
            if let (Some(pool), Some(fold)) = (self.guard.as_mut(), &scored.guard) {
                pool.unguarded[*row] = fold.unguarded[i];
                pool.errors[*row] = fold.errors[i];
                pool.fired[*row] = fold.fired[i];
            }
        }
    }
}

impl Pooled {
    /// The out-of-fold answers of every row as `held_out.csv`, each with
    /// the fold that tested it: classes are pooled in row order, values in
    /// the order their folds were added.
    fn held_out_csv(
        &self,
        plugin: &PluginManifest,
        model: &TrainedModel,
        keys: &RowKeys,
    ) -> String {
        let (keys, decided, folds) = if self.values.is_empty() {
            let mut folds = vec![0; keys.source_rows.len()];
            for &(row, fold) in &self.tested {
                if let Some(f) = folds.get_mut(row) {
                    *f = fold;
                }
            }
            let decided = Decided {
                probabilities: self.probs.clone(),
                classes: self.predicted.clone(),
                values: Vec::new(),
            };
            (keys.clone(), decided, folds)
        } else {
            let order: Vec<usize> = self.tested.iter().map(|&(row, _)| row).collect();
            let decided = Decided {
                values: self.values.clone(),
                ..Decided::default()
            };
            let folds = self.tested.iter().map(|&(_, fold)| fold).collect();
            (keys.select(&order), decided, folds)
        };
        held_out_csv(
            plugin,
            &model.decision,
            &model.classes,
            &keys,
            &decided,
            Some(&folds),
        )
    }
}

/// Runs `k`-fold cross-validation `repeats` times over `train`, then fits
/// the served model on every row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cross_validate(
    scoring: &Scoring<'_>,
    (k, repeats): (usize, usize),
    train: RawTable,
    official_test: Option<RawTable>,
    fit: &mut FitRows<'_>,
    observer: &mut dyn TrainObserver,
    importance: &mut Option<ImportanceSamples>,
    log: &mut dyn FnMut(&str),
) -> Result<CrossValidated, RuntimeError> {
    let classes = scoring.classes;
    let seed = scoring.scenario.seed;
    let plain_regression =
        indus_data::primary_head(scoring.plugin).task == indus_spec::Task::Regression;
    let has_official_test = official_test.is_some();
    let mut pooled = Pooled::new(
        train.len(),
        classes.len(),
        scoring.scenario.novelty_guard.is_some(),
    );
    let (mut per_fold, mut regression_folds) = (Vec::new(), Vec::new());
    let fold_part = |repeat: usize, f: usize| {
        if repeats > 1 {
            format!("repeat {}/{repeats}, fold {}/{k}", repeat + 1, f + 1)
        } else {
            format!("fold {}/{k}", f + 1)
        }
    };
    let fold_label = |repeat: usize, f: usize, rows: usize| {
        let fold = format!("fold {}/{k}: {rows} test rows", f + 1);
        if repeats > 1 {
            format!("repeat {}/{repeats}, {fold}", repeat + 1)
        } else {
            fold
        }
    };
    // Further deals of the rows add fold metrics only; the pooled
    // predictions, importance and plots stay those of the first.
    for repeat in 0..repeats {
        let folds = stratified_folds(
            &train,
            k,
            repeat_seed(seed, repeat),
            &indus_data::DealUnits::of(scoring.plugin),
        );
        for (f, test_idx) in folds.iter().enumerate() {
            log(&fold_label(repeat, f, test_idx.len()));
            let mut in_fold = Within::new(observer, fold_part(repeat, f));
            let fold_fit = fit(
                train.select(&rows_outside(train.len(), test_idx)),
                &mut in_fold,
            )?;
            let fold_test = train.select(test_idx);
            let first_deal = repeat == 0;
            if first_deal && !has_official_test {
                measure_importance(
                    importance,
                    scoring.plugin,
                    &fold_fit.model,
                    &fold_test,
                    classes,
                    seed.wrapping_add(f as u64),
                )?;
            }
            let mut scored = fold_fit.model.score(&fold_test)?;
            if plain_regression {
                let (predicted, truth) = scored.values.take().unwrap_or_default();
                regression_folds.push(regression_metrics(&predicted, &truth));
                if first_deal {
                    pooled.add(test_idx, f, &mut scored, 0);
                    pooled.values.extend(predicted);
                    pooled.truth.extend(truth);
                }
                continue;
            }
            per_fold.push(scored.metrics(classes));
            if first_deal {
                pooled.add(test_idx, f, &mut scored, classes.len());
            }
        }
    }
    let labels = train.labels.clone().unwrap_or_default();
    let rows = train.len();
    let keys = RowKeys::of(scoring.plugin, classes, &train);
    log(&format!("final model on all {rows} rows"));
    let fitted = fit(train, &mut Within::new(observer, "final model".into()))?;
    let (mut summary, pooled_regression) = if plain_regression {
        let r = regression_metrics(&pooled.values, &pooled.truth);
        (
            CrossValidation::summarise_regression(regression_folds),
            Some(r),
        )
    } else {
        let metrics =
            fitted
                .model
                .decision
                .metrics(&pooled.probs, &pooled.predicted, &labels, classes);
        (CrossValidation::summarise(per_fold, metrics), None)
    };
    summary.repeats = repeats;
    let repeated = if repeats > 1 {
        format!(", {repeats} deals of the rows into folds")
    } else {
        String::new()
    };
    let (scores, evaluation) = match official_test {
        Some(t) => (
            scoring.score_held_out(&fitted, t, importance)?,
            format!("{OFFICIAL_TEST}; {k}-fold cross-validation{repeated} on the training rows"),
        ),
        None => {
            let held_out = pooled.held_out_csv(scoring.plugin, &fitted.model, &keys);
            let fairness = crate::fairness::of_scored(
                scoring.plugin,
                &fitted.model.classes,
                &keys.groups,
                &pooled.probs,
                &pooled.predicted,
                &labels,
            );
            let scored = Scored {
                decision: fitted.model.decision,
                probs: pooled.probs,
                predicted: pooled.predicted,
                labels,
                values: None,
                secondary: Vec::new(),
                multi_hot: None,
                guard: pooled.guard,
            };
            let scores = HeldOutScores {
                test: scoring.test_metrics(&scored)?,
                novelty_guard: fitted.guard_report(&scored),
                regression: pooled_regression,
                secondary: pooled.secondary,
                rows,
                held_out: Some(held_out),
                fairness,
                ..HeldOutScores::default()
            };
            (
                scores,
                format!(
                    "{k}-fold {}cross-validation{repeated} (out-of-fold predictions of every row{})",
                    if plain_regression { "" } else { "stratified " },
                    if repeats > 1 { ", first deal" } else { "" }
                ),
            )
        }
    };
    Ok(CrossValidated {
        fitted,
        scores,
        summary,
        evaluation,
    })
}

/// An observer inside one part of a run (a fold, the final model) that
/// names that part before the part its own networks name, so progress reads
/// `fold 2/5, network 3/5`.
struct Within<'a> {
    inner: &'a mut dyn TrainObserver,
    outer: String,
}

impl<'a> Within<'a> {
    fn new(inner: &'a mut dyn TrainObserver, outer: String) -> Self {
        Within { inner, outer }
    }
}

impl TrainObserver for Within<'_> {
    fn on_part(&mut self, part: &str) {
        if part.is_empty() {
            self.inner.on_part(&self.outer);
        } else {
            self.inner.on_part(&format!("{}, {part}", self.outer));
        }
    }
    fn on_start(&mut self, epochs: usize, steps_per_epoch: usize) {
        self.inner.on_start(epochs, steps_per_epoch);
    }
    fn on_step(&mut self, epoch: usize, step: usize, loss: f64, accuracy: Option<f64>) {
        self.inner.on_step(epoch, step, loss, accuracy);
    }
    fn on_epoch(&mut self, record: &indus_engine::EpochRecord) {
        self.inner.on_epoch(record);
    }
    fn cancelled(&self) -> bool {
        self.inner.cancelled()
    }
}
