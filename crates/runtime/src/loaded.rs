//! A finished run loaded for `predict`, `eval` and serving: the same schema
//! checks, the same fitted preprocessing, the same weights and the same
//! decisions ([`TrainedModel`]) as training evaluated.

use crate::RuntimeError;
use crate::artifacts::GUARD_WEIGHTS;
use crate::decision::{Decision, class_columns};
use crate::metrics::RunMetrics;
use crate::model::{Scored, TrainedModel};
use crate::novelty_guard::NoveltyGuardModel;
use crate::prediction::{Attribution, Explanation, Novelty, Prediction};
use crate::recommend::{ItemCatalog, Recommendation};
use crate::run_folder::{RunFolder, list_runs};
use crate::secondary_heads::SecondaryHeadMetrics;
use indus_data::{LookupTable, RawTable, primary_head, raw_width};
use indus_engine::metrics::ClassificationMetrics;
use indus_engine::multilabel::{MultilabelMetrics, multilabel_metrics};
use indus_engine::rating::{RegressionMetrics, regression_metrics};
use indus_plugin::NativePlugin;
use indus_spec::{BackendKind, Name, PluginManifest, Scenario};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A run ready to answer.
pub struct LoadedRun {
    /// The verified folder.
    pub folder: RunFolder,
    /// The scenario as it was run.
    pub scenario: Scenario,
    /// The plugin manifest as it was when the run was made.
    pub plugin: PluginManifest,
    /// The trained model: preprocessing, networks and decisions.
    pub model: TrainedModel,
    /// The run's recorded metrics.
    pub metrics: RunMetrics,
    /// The plugin's native hooks, when it has any.
    pub native: Option<Arc<NativePlugin>>,
    /// Lookup tables the training rows were joined with: inputs that name
    /// only the keys get the same side columns.
    pub lookups: Vec<LookupTable>,
    /// Recommenders: users, items and what each user rated in training.
    pub catalog: Option<ItemCatalog>,
    /// The training rows' distributions, read from the run folder on the
    /// first drift check and kept for the next ones.
    reference: std::sync::OnceLock<crate::Reference>,
}

impl LoadedRun {
    /// Opens and verifies a run folder and builds its network on `backend`.
    pub fn open(dir: &Path, backend: BackendKind) -> Result<LoadedRun, RuntimeError> {
        let folder = RunFolder::open(dir)?;
        let scenario = folder.scenario()?;
        let plugin = folder.plugin()?;
        if scenario.name.as_str() != folder.record.scenario {
            return Err(RuntimeError::run_folder(
                dir,
                format!(
                    "scenario.yaml is for `{}` but the run is of `{}`",
                    scenario.name, folder.record.scenario
                ),
            ));
        }
        let preprocessor = folder.preprocessor()?;
        let metrics = folder.metrics()?;
        let members = folder.member_weights(scenario.model.ensemble.get())?;
        let width = preprocessor.output_width();
        if let Some(w) = members.iter().find(|w| w.inputs() != width) {
            return Err(RuntimeError::run_folder(
                dir,
                format!(
                    "weights expect {} inputs but the preprocessing produces {width}",
                    w.inputs(),
                ),
            ));
        }
        let thresholds: Vec<Option<f32>> =
            crate::secondary_heads::secondary_specs(&plugin, &scenario)
                .iter()
                .map(|spec| {
                    metrics
                        .secondary_heads
                        .iter()
                        .find(|m| m.head == spec.name.as_str())
                        .and_then(|m| m.threshold)
                })
                .collect();
        let mut model = TrainedModel::assemble(
            &plugin,
            &scenario,
            preprocessor,
            &members,
            &thresholds,
            backend,
        )
        .map_err(|e| RuntimeError::run_folder(dir, e.to_string()))?;
        model.decision = metrics.decision(model.head);
        model.guard = match &metrics.novelty_guard {
            Some(report) => Some(
                NoveltyGuardModel::load(
                    folder.weights(GUARD_WEIGHTS)?,
                    report,
                    &model.classes,
                    width,
                    backend,
                )
                .map_err(|message| RuntimeError::run_folder(dir, message))?,
            ),
            None => None,
        };
        let native = load_native(&folder, &plugin)?;
        let layout = indus_data::csv_layout(&plugin)?;
        let lookups = plugin
            .data
            .source
            .joins
            .iter()
            .map(|j| folder.lookup_table(&j.file, &j.on, layout))
            .collect::<Result<Vec<_>, RuntimeError>>()?;
        let catalog = folder.catalog()?;
        if catalog.is_none() && primary_head(&plugin).task == indus_spec::Task::UserItem {
            return Err(RuntimeError::run_folder(
                dir,
                format!(
                    "incomplete: `{}` is not part of this run",
                    crate::artifacts::CATALOG
                ),
            ));
        }
        Ok(LoadedRun {
            folder,
            scenario,
            plugin,
            model,
            metrics,
            native,
            lookups,
            catalog,
            reference: std::sync::OnceLock::new(),
        })
    }

    /// Answers validated raw rows.
    pub fn predict(&self, rows: &RawTable) -> Result<Vec<Prediction>, RuntimeError> {
        let x = self.prepare(rows)?;
        let outputs = self.model.predictor.predict(&x)?;
        self.answer_prepared(rows, &x, outputs)
    }

    /// Checks the rows' width and applies the fitted preprocessing: the
    /// model inputs for [`indus_engine::Predictor::predict`]. Split from
    /// [`Self::answer_prepared`] so a server can batch the model call of many
    /// requests.
    pub fn prepare(&self, rows: &RawTable) -> Result<Vec<f32>, RuntimeError> {
        self.check_input(rows)?;
        let rows = self.with_derived(rows)?;
        Ok(self.model.preprocessor.transform(&rows))
    }

    /// Refuses rows of the wrong width, and rows missing a value the
    /// schema requires (`missing: drop`), naming row and column: a server
    /// checks a whole request this way before answering it in chunks.
    pub fn check_input(&self, rows: &RawTable) -> Result<(), RuntimeError> {
        self.check_width(rows)?;
        let missing = indus_data::rows_missing_required(&self.plugin, rows);
        if !missing.is_empty() {
            let problems = missing
                .into_iter()
                .map(|(r, column)| {
                    indus_data::DataError::row(
                        "input",
                        rows.source_row(r),
                        Some(&column),
                        "missing value; this column drops incomplete rows (`missing: drop`), so send a value",
                    )
                })
                .collect();
            return Err(indus_data::DataError::rows("input", problems, 50).into());
        }
        Ok(())
    }

    /// Refuses rows with another number of values than the schema's.
    fn check_width(&self, rows: &RawTable) -> Result<(), RuntimeError> {
        let expected = raw_width(&self.plugin);
        if rows.width != expected {
            return Err(RuntimeError::Invalid(format!(
                "rows have {} values each, the schema of `{}` needs {expected}",
                rows.width, self.plugin.name
            )));
        }
        Ok(())
    }

    /// The rows with the columns the plugin's native hook derives filled
    /// in, as training saw them.
    pub(crate) fn with_derived<'a>(
        &self,
        rows: &'a RawTable,
    ) -> Result<std::borrow::Cow<'a, RawTable>, RuntimeError> {
        match &self.native {
            Some(native) if crate::hooks::has_derived(&self.plugin) => {
                let mut rows = rows.clone();
                crate::hooks::fill_derived(&self.plugin, native, &mut rows)?;
                Ok(std::borrow::Cow::Owned(rows))
            }
            _ => Ok(std::borrow::Cow::Borrowed(rows)),
        }
    }

    /// How far `rows` have moved from the rows this model was trained on,
    /// column by column (population stability index): the question to ask
    /// before trusting its answers on next month's data.
    pub fn drift(&self, rows: &RawTable) -> Result<crate::DriftReport, RuntimeError> {
        let reference = self.drift_reference()?;
        let mut counts = reference.new_counts();
        self.count_drift(reference, rows, &mut counts)?;
        self.drift_report(reference, &counts)
    }

    /// [`Self::drift`] of every row of `batches` (the batches of one file):
    /// only each column's bin counts are kept, so a file of any size is
    /// compared, with the same report as at once.
    pub fn drift_batches(
        &self,
        batches: impl IntoIterator<Item = Result<RawTable, indus_data::DataError>>,
    ) -> Result<crate::DriftReport, RuntimeError> {
        let reference = self.drift_reference()?;
        let mut counts = reference.new_counts();
        for batch in batches {
            let batch = batch?;
            if !batch.is_empty() {
                self.count_drift(reference, &batch, &mut counts)?;
            }
        }
        self.drift_report(reference, &counts)
    }

    /// The training rows' distributions, read from the run folder once.
    fn drift_reference(&self) -> Result<&crate::Reference, RuntimeError> {
        if self.reference.get().is_none() {
            let loaded = self.folder.reference()?.ok_or_else(|| {
                RuntimeError::run_folder(
                    &self.folder.dir,
                    format!(
                        "this run was trained before indus kept its training rows' distributions ({}); train it again to compare inputs with it",
                        crate::artifacts::REFERENCE
                    ),
                )
            })?;
            // Another request may have loaded it meanwhile; either copy serves.
            let _ = self.reference.set(loaded);
        }
        self.reference.get().ok_or_else(|| {
            RuntimeError::run_folder(&self.folder.dir, "reference.json could not be kept")
        })
    }

    fn count_drift(
        &self,
        reference: &crate::Reference,
        rows: &RawTable,
        counts: &mut crate::drift::DriftCounts,
    ) -> Result<(), RuntimeError> {
        self.check_width(rows)?;
        let rows = self.with_derived(rows)?;
        reference.count(&rows, counts);
        Ok(())
    }

    fn drift_report(
        &self,
        reference: &crate::Reference,
        counts: &crate::drift::DriftCounts,
    ) -> Result<crate::DriftReport, RuntimeError> {
        if counts.rows() < crate::drift::MIN_DRIFT_ROWS {
            return Err(RuntimeError::Invalid(format!(
                "{} rows are too few to tell a shift from chance; compare at least {} rows",
                counts.rows(),
                crate::drift::MIN_DRIFT_ROWS
            )));
        }
        Ok(reference.compare_counts(counts))
    }

    /// Turns the network's outputs for `rows` into decided labels with
    /// their probabilities (the run's decision applies, then the novelty
    /// guard), plus the secondary heads' answers and the outputs of the
    /// plugin's `postprocess` hook. `x` are the rows' model inputs from
    /// [`Self::prepare`], needed only when [`TrainedModel::needs_inputs`]
    /// (empty otherwise).
    pub fn answer_prepared(
        &self,
        rows: &RawTable,
        x: &[f32],
        outputs: Vec<f32>,
    ) -> Result<Vec<Prediction>, RuntimeError> {
        let mut decided = self.model.decide(x, outputs);
        let guarded = self.model.apply_guard(x, &mut decided)?;
        let mut predictions = self.predictions(rows, &decided);
        if let (Some(guard), Some(scores)) = (&self.model.guard, guarded) {
            for (i, p) in predictions.iter_mut().enumerate() {
                let (error, flagged) = (scores.errors[i], scores.fired[i]);
                p.novelty = Some(Novelty {
                    error,
                    threshold: guard.decision.threshold,
                    flagged,
                });
                // A flagged row has the guard's class; its score is the
                // guard's, not the classifier's.
                if flagged {
                    p.score = guard.score(error);
                }
            }
        }
        for head in &self.model.secondary {
            for (p, a) in predictions.iter_mut().zip(head.answer(x)?) {
                p.heads.push((head.spec.name.to_string(), a));
            }
        }
        if let Some(native) = &self.native
            && native.has_postprocess()
        {
            self.postprocess(native, rows, &mut predictions)?;
        }
        Ok(predictions)
    }

    /// One answer per row of `decided`.
    fn predictions(&self, rows: &RawTable, decided: &crate::decision::Decided) -> Vec<Prediction> {
        let separator = primary_head(&self.plugin)
            .label_separator
            .as_deref()
            .unwrap_or("|");
        Prediction::from_decided(
            rows,
            decided,
            &self.model.decision,
            &self.model.classes,
            separator,
        )
    }

    /// Records the novelty guard's verdict on each prediction (decisions
    /// unchanged); nothing without a guard.
    fn note_novelty(&self, x: &[f32], predictions: &mut [Prediction]) -> Result<(), RuntimeError> {
        if let Some(guard) = &self.model.guard {
            for (p, e) in predictions.iter_mut().zip(guard.errors(x)?) {
                p.novelty = Some(Novelty {
                    error: e,
                    threshold: guard.decision.threshold,
                    flagged: guard.fires(e),
                });
            }
        }
        Ok(())
    }

    fn postprocess(
        &self,
        native: &NativePlugin,
        rows: &RawTable,
        predictions: &mut [Prediction],
    ) -> Result<(), RuntimeError> {
        use indus_plugin::Column;
        let n = predictions.len();
        let (probs, decided) = self.probabilities_and_classes(predictions);
        let mut columns = crate::hooks::prediction_columns(&self.model.classes, &probs, &decided);
        if self.plugin.native.as_ref().is_some_and(|s| s.attributions) {
            self.check_explainable()?;
            // Attributions of the positive class (binary) or of the decided one.
            let x = self.prepare(rows)?;
            let head = self.model.head;
            let explained: Vec<usize> = match head {
                indus_engine::Head::Binary => vec![1; n],
                _ => decided,
            };
            let attr = self
                .model
                .predictor
                .integrated_gradients(&x, &explained, 32)?;
            let width = self.model.preprocessor.output_width().max(1);
            let mut offset = 0;
            for (name, w) in self.model.preprocessor.column_widths() {
                let values = attr
                    .chunks_exact(width)
                    .map(|row| f64::from(row[offset..offset + w].iter().sum::<f32>()))
                    .collect();
                offset += w;
                columns.push((format!("attr:{name}"), Column::F64(values)));
            }
        }
        let table =
            indus_plugin::Table::from_columns(&columns, n).map_err(RuntimeError::Invalid)?;
        let raw = crate::hooks::raw_rows(&self.plugin, rows)?;
        let out = native.postprocess(&table, &raw)?;
        for (name, column) in out {
            for (i, p) in predictions.iter_mut().enumerate() {
                let v = match &column {
                    Column::F64(v) => serde_json::json!(v[i]),
                    Column::I64(v) => serde_json::json!(v[i]),
                    Column::Text(v) => serde_json::json!(v[i]),
                };
                p.outputs.push((name.clone(), v));
            }
        }
        Ok(())
    }

    /// Predictions back as row-major class probabilities and the index of
    /// each decided class, as metrics and hooks take them.
    fn probabilities_and_classes(&self, predictions: &[Prediction]) -> (Vec<f32>, Vec<usize>) {
        let k = self.model.classes.len();
        let probs = predictions
            .iter()
            .flat_map(|p| match p.probabilities.len() {
                // An autoencoder's answer carries its alarm score only;
                // hooks still get the two columns the plugin ABI promises.
                0 if k == 2 => vec![1.0 - p.score, p.score],
                _ => p.probabilities.iter().map(|(_, v)| *v).collect(),
            })
            .collect();
        let decided = predictions
            .iter()
            .map(|p| {
                self.model
                    .classes
                    .iter()
                    .position(|c| *c == p.label)
                    .unwrap_or(0)
            })
            .collect();
        (probs, decided)
    }

    /// The `k` items with the highest predicted rating for `user` among
    /// those the user did not rate in training.
    pub fn recommend(&self, user: &str, k: usize) -> Result<Vec<Recommendation>, RuntimeError> {
        let (Some(catalog), Some(decision)) = (&self.catalog, self.model.decision.rating()) else {
            return Err(RuntimeError::Invalid(format!(
                "scenario `{}` has a {} head, and recommendations need a user_item head",
                self.scenario.name,
                primary_head(&self.plugin).task.as_str()
            )));
        };
        let (rows, keys) = catalog.candidates(user.trim())?;
        let scores = self.model.predictor.predict(&self.prepare(&rows)?)?;
        Ok(crate::recommend::top_indices(&scores, k)
            .into_iter()
            .enumerate()
            .map(|(rank, i)| {
                let (rating, p) = decision.apply(scores[i]);
                Recommendation {
                    rank: rank + 1,
                    item: keys[i].clone(),
                    rating,
                    liked_probability: p,
                }
            })
            .collect())
    }

    /// Why each row got its label: integrated-gradient attributions of the
    /// decided class's probability, added up per source column.
    pub fn explain(&self, rows: &RawTable, steps: usize) -> Result<Vec<Explanation>, RuntimeError> {
        self.check_explainable()?;
        let x = self.prepare(rows)?;
        // The classifier's own decisions are explained; a row the novelty
        // guard flags says so in `novelty` (its served label is the guard's).
        let decided = self.model.decide(&x, self.model.predictor.predict(&x)?);
        let mut predictions = self.predictions(rows, &decided);
        self.note_novelty(&x, &mut predictions)?;
        let class_of = |p: &Prediction| {
            if self.is_multilabel() {
                // The most probable label is the one explained.
                return p
                    .probabilities
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
                    .map_or(0, |(i, _)| i);
            }
            self.model
                .classes
                .iter()
                .position(|c| *c == p.label)
                .unwrap_or(0)
        };
        let classes: Vec<usize> = predictions.iter().map(class_of).collect();
        let head = self.model.head;
        let attributions = self
            .model
            .predictor
            .integrated_gradients(&x, &classes, steps)?;
        let width = self.model.preprocessor.output_width();
        let baseline = class_columns(head, self.model.predictor.predict(&vec![0.0; width])?);
        let columns = self.model.preprocessor.column_widths();
        Ok(predictions
            .into_iter()
            .zip(attributions.chunks_exact(width.max(1)))
            .zip(&classes)
            .map(|((prediction, attr), &class)| {
                let mut offset = 0;
                let per_column = columns
                    .iter()
                    .map(|(name, w)| {
                        let total: f32 = attr[offset..offset + w].iter().sum();
                        offset += w;
                        Attribution {
                            column: name.to_string(),
                            value: total,
                        }
                    })
                    .collect();
                Explanation {
                    baseline_score: baseline[class],
                    prediction,
                    attributions: per_column,
                    inputs: attr.to_vec(),
                }
            })
            .collect())
    }

    /// Integrated gradients walk each input from a baseline to its value;
    /// an embedded id is a table row, not a quantity that can be walked.
    fn check_explainable(&self) -> Result<(), RuntimeError> {
        if matches!(self.model.decision, Decision::Anomaly(_)) {
            return Err(RuntimeError::Invalid(format!(
                "scenario `{}` is an autoencoder: its verdict is the reconstruction error (`value`), which integrated gradients of one output do not explain",
                self.scenario.name
            )));
        }
        match self.model.preprocessor.embedding_slots().first() {
            None => Ok(()),
            Some(_) => Err(RuntimeError::Invalid(format!(
                "scenario `{}` looks up learned vectors for ids (encoding: embedding); explanations by integrated gradients need numeric or one-hot inputs only",
                self.scenario.name
            ))),
        }
    }

    /// True when the run's head predicts a plain number (regression), so
    /// [`Self::evaluate_regression`] applies rather than [`Self::evaluate`].
    pub fn predicts_a_number(&self) -> bool {
        self.model.classes.is_empty()
    }

    /// Checks labelled rows and scores them as training scored its test
    /// rows: the derived columns filled in, the same decisions.
    fn score(&self, rows: &RawTable) -> Result<Scored, RuntimeError> {
        let target = primary_head(&self.plugin).target.clone();
        let has_target = match self.model.decision {
            Decision::Rating(_) | Decision::Value => rows.values.is_some(),
            Decision::Multilabel => rows.multi_hot(self.model.classes.len()).is_some(),
            Decision::Classes { .. } | Decision::Anomaly(_) => rows.labels.is_some(),
        };
        if !has_target {
            return Err(RuntimeError::Invalid(match rows.ignored_targets.first() {
                Some(why) => {
                    format!("the input's `{target}` column cannot be scored against: {why}")
                }
                None => format!("the input has no `{target}` column to evaluate against"),
            }));
        }
        self.check_input(rows)?;
        self.model.score(&*self.with_derived(rows)?)
    }

    /// RMSE, MAE and R² on rows whose target values are known.
    pub fn evaluate_regression(&self, rows: &RawTable) -> Result<RegressionMetrics, RuntimeError> {
        let (predicted, truth) = self.score(rows)?.values.unwrap_or_default();
        Ok(regression_metrics(&predicted, &truth))
    }

    /// Metrics of each secondary head (trained beside the primary one), on
    /// labelled rows that carry those heads' target columns (empty for a
    /// run with one head).
    pub fn evaluate_secondary_heads(
        &self,
        rows: &RawTable,
    ) -> Result<Vec<SecondaryHeadMetrics>, RuntimeError> {
        if self.model.secondary.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.prepare(rows)?;
        self.model
            .secondary
            .iter()
            .map(|head| Ok(head.metrics(&head.score(&x, rows)?)))
            .collect()
    }

    /// True when the run's head gives each row any number of labels, so
    /// [`Self::evaluate_multilabel`] applies rather than [`Self::evaluate`].
    pub fn is_multilabel(&self) -> bool {
        self.model.decision == Decision::Multilabel
    }

    /// Per-label and pooled metrics on rows whose labels are known.
    pub fn evaluate_multilabel(&self, rows: &RawTable) -> Result<MultilabelMetrics, RuntimeError> {
        let scored = self.score(rows)?;
        let truth = scored.multi_hot.unwrap_or_default();
        Ok(multilabel_metrics(
            &scored.probs,
            &truth,
            &self.model.classes,
        ))
    }

    /// Metrics of every row of `batches` (the batches of one file, or one
    /// table), by the kind of the primary head. Each batch is checked and
    /// scored as it arrives and only its answers are kept (a few numbers
    /// per row), so a file larger than memory can be evaluated.
    pub fn evaluate_batches(
        &self,
        batches: impl IntoIterator<Item = Result<RawTable, indus_data::DataError>>,
    ) -> Result<Evaluation, RuntimeError> {
        let mut all: Option<Scored> = None;
        for batch in batches {
            let batch = batch?;
            if batch.is_empty() {
                continue;
            }
            let scored = self.score(&batch)?;
            match all.as_mut() {
                Some(all) => all.append(scored),
                None => all = Some(scored),
            }
        }
        let scored =
            all.ok_or_else(|| RuntimeError::Invalid("the input holds no rows to evaluate".into()))?;
        if self.is_multilabel() {
            let truth = scored.multi_hot.unwrap_or_default();
            return Ok(Evaluation::Multilabel(multilabel_metrics(
                &scored.probs,
                &truth,
                &self.model.classes,
            )));
        }
        if self.predicts_a_number() {
            let (predicted, truth) = scored.values.unwrap_or_default();
            return Ok(Evaluation::Regression(regression_metrics(
                &predicted, &truth,
            )));
        }
        let secondary = self
            .model
            .secondary
            .iter()
            .zip(&scored.secondary)
            .map(|(head, scores)| head.metrics(scores))
            .collect();
        Ok(Evaluation::Classes {
            metrics: scored.metrics(&self.model.classes),
            secondary,
        })
    }

    /// Metrics on labelled rows.
    pub fn evaluate(&self, rows: &RawTable) -> Result<ClassificationMetrics, RuntimeError> {
        if self.is_multilabel() {
            return Err(RuntimeError::Invalid(format!(
                "scenario `{}` has a multilabel head; it is evaluated per label",
                self.scenario.name
            )));
        }
        if self.predicts_a_number() {
            return Err(RuntimeError::Invalid(format!(
                "scenario `{}` predicts a number; it is evaluated by RMSE, MAE and R²",
                self.scenario.name
            )));
        }
        Ok(self.score(rows)?.metrics(&self.model.classes))
    }
}

/// What `indus eval` reports, by the kind of the primary head.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Evaluation {
    /// Classifiers, raters and anomaly heads: the decided classes' metrics,
    /// and each secondary head's on the same rows.
    Classes {
        /// The primary head's metrics.
        metrics: ClassificationMetrics,
        /// Each secondary head's, in the plugin's order.
        secondary: Vec<SecondaryHeadMetrics>,
    },
    /// Heads that predict a number.
    Regression(RegressionMetrics),
    /// Multilabel heads: per label and pooled.
    Multilabel(MultilabelMetrics),
}

/// A scenario's target next to what one run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetStatus {
    /// The bar as a reader writes it, e.g. `roc_auc ≥ 0.8`.
    pub bar: String,
    /// This run's held-out value of the target's metric (absent when the
    /// run does not report that metric).
    pub value: Option<f64>,
    /// Whether the value clears the bar.
    pub met: Option<bool>,
}

impl LoadedRun {
    /// The scenario's target and whether this run clears it (the mean over
    /// folds for cross-validated runs).
    pub fn target_status(&self) -> Option<TargetStatus> {
        let target = self.scenario.target.as_ref()?;
        let value = self.metrics.held_out(&target.metric);
        Some(TargetStatus {
            bar: target.describe(),
            value,
            met: value.map(|v| target.met_by(v)),
        })
    }

    /// The run's model card, built from its recorded files as the one
    /// in its folder was (so runs made before cards were written get one).
    pub fn model_card(&self) -> Result<crate::ModelCard, RuntimeError> {
        Ok(crate::ModelCard::of(
            &self.scenario,
            &self.plugin,
            &self.metrics,
            &self.folder.environment()?,
        ))
    }

    /// The headline metric: the one of the plugin's first published
    /// baseline (accuracy without one), with its held-out value as the
    /// target reads it (the mean over folds for a cross-validated run, as
    /// `indus run` prints it).
    pub fn headline(&self) -> (String, Option<f64>) {
        self.metrics.headline(&self.plugin)
    }

    /// The learning curve saved with the run (empty when it is missing).
    pub fn history(&self) -> Vec<indus_engine::EpochRecord> {
        self.folder.history()
    }

    /// Example input rows saved with the run (empty for runs made before
    /// examples were saved).
    pub fn examples(&self) -> Vec<serde_json::Value> {
        self.folder.examples()
    }

    /// Refuses a run of another scenario than the one the caller expects
    /// (e.g. `indus predict runs/x/... --scenario credit-scoring`).
    pub fn expect_scenario(&self, expected: &str) -> Result<(), RuntimeError> {
        if self.scenario.name.as_str() == expected {
            Ok(())
        } else {
            Err(RuntimeError::run_folder(
                &self.folder.dir,
                format!(
                    "this is a run of scenario `{}`, not `{expected}`",
                    self.scenario.name
                ),
            ))
        }
    }
}

/// Loads the native library a run was trained with: the file recorded in
/// `native.json`, else the plugin's library found from `plugins/<name>/`.
fn load_native(
    folder: &RunFolder,
    plugin: &PluginManifest,
) -> Result<Option<Arc<NativePlugin>>, RuntimeError> {
    let Some(spec) = &plugin.native else {
        return Ok(None);
    };
    let record = folder.native_record();
    let path = match &record {
        Some(r) if r.library.is_file() => r.library.clone(),
        _ => indus_plugin::find_library(
            plugin.name.as_str(),
            &spec.library,
            &Path::new("plugins").join(plugin.name.as_str()),
        )?,
    };
    let native = NativePlugin::load(plugin.name.as_str(), &path, &spec.config)?;
    if let Some(expected) = record.and_then(|r| r.sha256)
        && native.sha256() != expected
    {
        return Err(RuntimeError::run_folder(
            &folder.dir,
            format!(
                "the native library {} (sha256 {}) is not the build this run was trained with (sha256 {expected}); its derived features could differ: serve it with the library it was trained with, or train again",
                native.path().display(),
                native.sha256()
            ),
        ));
    }
    Ok(Some(native))
}

/// Turns what a user typed into a run folder: a run folder itself, a
/// scenario's folder of runs (latest wins), or a scenario name under
/// `runs_root`: the run its `production` alias points at, as a server
/// would answer with, else the latest.
pub fn resolve_run(arg: &str, runs_root: &Path) -> Result<PathBuf, RuntimeError> {
    let path = PathBuf::from(arg);
    if path.join(crate::run_folder::RUN_MANIFEST).is_file() {
        return Ok(path);
    }
    let latest_in = |dir: &Path| {
        list_runs(
            dir.parent().unwrap_or(Path::new(".")),
            dir.file_name().and_then(|n| n.to_str()),
        )
        .pop()
    };
    if path.is_dir() {
        return latest_in(&path).ok_or_else(|| {
            RuntimeError::run_folder(&path, "incomplete: no run.json here and no finished runs inside (the run did not finish?)")
        });
    }
    if Name::parse(arg).is_ok() {
        if let Some(r) = crate::ModelRegistry::open(runs_root).resolve(arg, None)? {
            return Ok(r.dir);
        }
        if let Some(run) = latest_in(&runs_root.join(arg)) {
            return Ok(run);
        }
    }
    Err(RuntimeError::Invalid(format!(
        "`{arg}` is neither a run folder nor a scenario with finished runs under {}",
        runs_root.display()
    )))
}
