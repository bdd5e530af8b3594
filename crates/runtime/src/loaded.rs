//! A finished run loaded for `predict`, `eval` and (later) serving: the same
//! schema checks, the same fitted preprocessing and the same weights.

use crate::RuntimeError;
use crate::auxiliary::{AuxiliaryModel, HeadAnswer};
use crate::guard::GuardModel;
use crate::job::{RunMetrics, class_columns, class_names, read_weights};
use crate::recommend::{Catalog, Recommendation};
use crate::run_folder::{RunFolder, list_runs};
use indus_data::{LookupTable, Preprocessor, RawTable, primary_head, raw_width};
use indus_engine::metrics::{ClassificationMetrics, classification_metrics_for, predict_classes};
use indus_engine::multilabel::{MultilabelMetrics, multilabel_metrics};
use indus_engine::rating::{RegressionMetrics, regression_metrics};
use indus_engine::{Head, Predictor};
use indus_plugin::NativePlugin;
use indus_spec::{BackendKind, Name, PluginManifest, Scenario, parse_plugin, parse_scenario};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
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
    /// Fitted preprocessing.
    pub preprocessor: Preprocessor,
    /// The trained network.
    pub predictor: Predictor,
    /// Class labels in output order.
    pub classes: Vec<String>,
    /// The run's recorded metrics.
    pub metrics: RunMetrics,
    /// The plugin's native hooks, when it has any.
    pub native: Option<Arc<NativePlugin>>,
    /// Lookup tables the training rows were joined with: inputs that name
    /// only the keys get the same side columns.
    pub lookups: Vec<LookupTable>,
    /// Recommenders: users, items and what each user rated in training.
    pub catalog: Option<Catalog>,
    /// Heads trained beside the primary one on the same trunk.
    pub(crate) auxiliary: Vec<AuxiliaryModel>,
    /// The autoencoder that overrules the classifier on unusual rows.
    pub(crate) guard: Option<GuardModel>,
    /// The training rows' distributions, read from the run folder on the
    /// first drift check and kept for the next ones.
    reference: std::sync::OnceLock<crate::Reference>,
}

/// One answered row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// 1-based row number in the input.
    pub row: usize,
    /// The row's id, when the schema has an id column and the input gave it.
    pub id: Option<String>,
    /// The decided class (the most probable one, or the positive class at
    /// or above the run's decision threshold).
    pub label: String,
    /// Probability of `label`.
    pub score: f32,
    /// `(class, probability)` in class order.
    pub probabilities: Vec<(String, f32)>,
    /// Outputs of the plugin's native `postprocess` hook, by name.
    pub outputs: Vec<(String, serde_json::Value)>,
    /// Heads that predict a number (ratings): the predicted value, clipped
    /// to the target's declared range.
    pub value: Option<f32>,
    /// Answers of the heads trained beside the primary one, by head name.
    pub heads: Vec<(String, HeadAnswer)>,
    /// The novelty guard's verdict, when the run has one.
    pub novelty: Option<Novelty>,
}

/// How unusual a row looked to a run's novelty guard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Novelty {
    /// The row's reconstruction error.
    pub error: f32,
    /// The error at or above which the guard fires.
    pub threshold: f32,
    /// Whether it fired: the row then gets the guard's class, whatever
    /// `probabilities` (the classifier's) say, and `score` is the guard's
    /// `error / (error + threshold)`.
    pub flagged: bool,
}

impl Serialize for Prediction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("row", &self.row)?;
        if let Some(id) = &self.id {
            m.serialize_entry("id", id)?;
        }
        if let Some(v) = self.value {
            m.serialize_entry("value", &v)?;
        }
        // A regression head has no classes: its answer is `value` alone.
        if !self.probabilities.is_empty() {
            m.serialize_entry("label", &self.label)?;
            m.serialize_entry("score", &self.score)?;
            m.serialize_entry("probabilities", &OrderedMap(&self.probabilities))?;
        }
        if !self.outputs.is_empty() {
            m.serialize_entry("outputs", &OrderedMap(&self.outputs))?;
        }
        if !self.heads.is_empty() {
            m.serialize_entry("heads", &OrderedMap(&self.heads))?;
        }
        if let Some(n) = &self.novelty {
            m.serialize_entry("novelty", n)?;
        }
        m.end()
    }
}

/// Name → value pairs serialized as a JSON object in their order (class
/// order, hook order, head order), which a map type would not keep.
pub(crate) struct OrderedMap<'a, V>(pub &'a [(String, V)]);

impl<V: Serialize> Serialize for OrderedMap<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Prediction {
    /// Row `i` of `rows` (its 1-based number and id) with nothing decided
    /// yet: the base every kind of head fills in.
    fn for_row(rows: &RawTable, i: usize) -> Prediction {
        Prediction {
            row: i + 1,
            id: rows.ids.as_ref().and_then(|ids| ids.get(i).cloned()),
            label: String::new(),
            score: 0.0,
            probabilities: Vec::new(),
            outputs: Vec::new(),
            value: None,
            heads: Vec::new(),
            novelty: None,
        }
    }
}

/// `(class, probability)` pairs of one row, in class order.
pub(crate) fn named(classes: &[String], probabilities: &[f32]) -> Vec<(String, f32)> {
    classes
        .iter()
        .cloned()
        .zip(probabilities.iter().copied())
        .collect()
}

impl LoadedRun {
    /// Opens and verifies a run folder and builds its network on `backend`.
    pub fn open(dir: &Path, backend: BackendKind) -> Result<LoadedRun, RuntimeError> {
        let folder = RunFolder::open(dir)?;
        let text = |name: &str| -> Result<String, RuntimeError> {
            String::from_utf8(folder.read(name)?)
                .map_err(|_| RuntimeError::run_folder(dir, format!("`{name}` is not UTF-8")))
        };
        let scenario = parse_scenario(&dir.join("scenario.yaml"), &text("scenario.yaml")?)?;
        let plugin = parse_plugin(&dir.join("plugin.yaml"), &text("plugin.yaml")?)?;
        if scenario.name.as_str() != folder.record.scenario {
            return Err(RuntimeError::run_folder(
                dir,
                format!(
                    "scenario.yaml is for `{}` but the run is of `{}`",
                    scenario.name, folder.record.scenario
                ),
            ));
        }
        let preprocessor: Preprocessor =
            serde_json::from_str(&text("preprocess.json")?).map_err(|e| {
                RuntimeError::run_folder(dir, format!("preprocess.json is damaged: {e}"))
            })?;
        let metrics: RunMetrics = serde_json::from_str(&text("metrics.json")?)
            .map_err(|e| RuntimeError::run_folder(dir, format!("metrics.json is damaged: {e}")))?;
        let head = match Head::from_spec(primary_head(&plugin))? {
            Head::Reconstruction { .. } => Head::Reconstruction {
                width: preprocessor.output_width(),
            },
            other => other,
        };
        let classes = class_names(&plugin, head)?;
        let members = read_weights(&folder, scenario.model.ensemble.get())?;
        if let Some(w) = members
            .iter()
            .find(|w| w.inputs() != preprocessor.output_width())
        {
            return Err(RuntimeError::run_folder(
                dir,
                format!(
                    "weights expect {} inputs but the preprocessing produces {}",
                    w.inputs(),
                    preprocessor.output_width()
                ),
            ));
        }
        let aux_specs = crate::auxiliary::auxiliary_specs(&plugin, &scenario);
        let predictor = if aux_specs.is_empty() {
            Predictor::ensemble(&members, head, backend)?
        } else {
            let primary = members
                .iter()
                .map(|w| w.output_columns(0, head.outputs()))
                .collect::<Result<Vec<_>, _>>()?;
            Predictor::ensemble(&primary, head, backend)?
        };
        let thresholds: Vec<Option<f32>> = aux_specs
            .iter()
            .map(|spec| {
                metrics
                    .auxiliary_heads
                    .iter()
                    .find(|m| m.head == spec.name.as_str())
                    .and_then(|m| m.threshold)
            })
            .collect();
        let auxiliary =
            AuxiliaryModel::all(aux_specs, &members, head.outputs(), &thresholds, backend)
                .map_err(|e| RuntimeError::run_folder(dir, e.to_string()))?;
        let guard = match &metrics.novelty_guard {
            Some(report) => Some(GuardModel::load(
                &folder,
                report,
                &classes,
                preprocessor.output_width(),
                backend,
            )?),
            None => None,
        };
        let native = load_native(&folder, &plugin)?;
        let layout = indus_data::csv_layout(&plugin)?;
        let lookups = plugin
            .data
            .source
            .joins
            .iter()
            .map(|j| {
                let name = crate::job::lookup_file(&j.file);
                let bytes = folder.read(&name)?;
                Ok(LookupTable::parse(
                    &j.file,
                    &j.on,
                    &dir.join(&name).display().to_string(),
                    bytes,
                    layout,
                )?)
            })
            .collect::<Result<Vec<_>, RuntimeError>>()?;
        let catalog = match folder.read(crate::recommend::CATALOG) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
                RuntimeError::run_folder(dir, format!("catalog.json is damaged: {e}"))
            })?),
            Err(_) if primary_head(&plugin).task != indus_spec::Task::UserItem => None,
            Err(e) => return Err(e),
        };
        Ok(LoadedRun {
            folder,
            scenario,
            plugin,
            preprocessor,
            predictor,
            classes,
            metrics,
            native,
            lookups,
            catalog,
            auxiliary,
            guard,
            reference: std::sync::OnceLock::new(),
        })
    }

    /// Class probabilities for validated raw rows.
    pub fn predict(&self, rows: &RawTable) -> Result<Vec<Prediction>, RuntimeError> {
        let x = self.prepare(rows)?;
        let outputs = self.predictor.predict(&x)?;
        self.answer(rows, outputs)
    }

    /// Checks the rows' width and applies the fitted preprocessing: the
    /// model inputs for [`Predictor::predict`]. Split from [`Self::answer`]
    /// so a server can batch the model call of many requests.
    pub fn prepare(&self, rows: &RawTable) -> Result<Vec<f32>, RuntimeError> {
        let expected = raw_width(&self.plugin);
        if rows.width != expected {
            return Err(RuntimeError::Invalid(format!(
                "rows have {} values each, the schema of `{}` needs {expected}",
                rows.width, self.plugin.name
            )));
        }
        let missing = indus_data::rows_missing_required(&self.plugin, rows);
        if !missing.is_empty() {
            let problems = missing
                .into_iter()
                .map(|(r, column)| {
                    indus_data::DataError::row(
                        "input",
                        r + 1,
                        Some(&column),
                        "missing value; this column drops incomplete rows (`missing: drop`), so send a value",
                    )
                })
                .collect();
            return Err(indus_data::DataError::rows("input", problems, 50).into());
        }
        let rows = self.with_derived(rows)?;
        Ok(self.preprocessor.transform(&rows))
    }

    /// The rows with the columns the plugin's native hook derives filled
    /// in, as training saw them.
    fn with_derived<'a>(
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
        if self.reference.get().is_none() {
            if !self
                .folder
                .record
                .files
                .contains_key(crate::drift::REFERENCE)
            {
                return Err(RuntimeError::run_folder(
                    &self.folder.dir,
                    "this run was trained before indus kept its training rows' distributions (reference.json); train it again to compare inputs with it",
                ));
            }
            let loaded: crate::Reference = serde_json::from_slice(
                &self.folder.read(crate::drift::REFERENCE)?,
            )
            .map_err(|e| {
                RuntimeError::run_folder(
                    &self.folder.dir,
                    format!("reference.json is damaged: {e}"),
                )
            })?;
            // Another request may have loaded it meanwhile; either copy serves.
            let _ = self.reference.set(loaded);
        }
        let reference = self.reference.get().ok_or_else(|| {
            RuntimeError::run_folder(&self.folder.dir, "reference.json could not be kept")
        })?;
        let expected = raw_width(&self.plugin);
        if rows.width != expected {
            return Err(RuntimeError::Invalid(format!(
                "rows have {} values each, the schema of `{}` needs {expected}",
                rows.width, self.plugin.name
            )));
        }
        let rows = self.with_derived(rows)?;
        Ok(reference.compare(&rows))
    }

    /// Turns the network's outputs for `rows` into decided labels with
    /// their probabilities (the run's decision threshold applies), plus the
    /// outputs of the plugin's `postprocess` hook.
    pub fn answer(
        &self,
        rows: &RawTable,
        outputs: Vec<f32>,
    ) -> Result<Vec<Prediction>, RuntimeError> {
        let mut predictions = match self.metrics.anomaly {
            Some(decision) => self.flag(rows, &outputs, decision)?,
            None => self.decide(rows, outputs),
        };
        // The model inputs again, once, for the guard and the other heads.
        let x = if self.guard.is_some() || !self.auxiliary.is_empty() {
            self.prepare(rows)?
        } else {
            Vec::new()
        };
        if let Some(guard) = &self.guard {
            self.note_novelty(&x, &mut predictions)?;
            for p in &mut predictions {
                if let Some(n) = p.novelty.filter(|n| n.flagged) {
                    p.label = self.classes[guard.flags].clone();
                    p.score = guard.score(n.error);
                }
            }
        }
        if !self.auxiliary.is_empty() {
            for model in &self.auxiliary {
                for (p, a) in predictions.iter_mut().zip(model.answer(&x)?) {
                    p.heads.push((model.spec.name.to_string(), a));
                }
            }
        }
        if let Some(native) = &self.native
            && native.has_postprocess()
        {
            self.postprocess(native, rows, &mut predictions)?;
        }
        Ok(predictions)
    }

    /// Records the novelty guard's verdict on each prediction (decisions
    /// unchanged); nothing without a guard.
    fn note_novelty(&self, x: &[f32], predictions: &mut [Prediction]) -> Result<(), RuntimeError> {
        if let Some(guard) = &self.guard {
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
        let mut columns = crate::hooks::prediction_columns(&self.classes, &probs, &decided);
        if self.plugin.native.as_ref().is_some_and(|s| s.attributions) {
            self.check_explainable()?;
            // Attributions of the positive class (binary) or of the decided one.
            let x = self.prepare(rows)?;
            let head = self.predictor.head();
            let explained: Vec<usize> = match head {
                indus_engine::Head::Binary => vec![1; n],
                _ => decided,
            };
            let attr = self.predictor.integrated_gradients(&x, &explained, 32)?;
            let width = self.preprocessor.output_width().max(1);
            let mut offset = 0;
            for (name, w) in self.preprocessor.column_widths() {
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

    fn decide(&self, rows: &RawTable, outputs: Vec<f32>) -> Vec<Prediction> {
        if let indus_engine::Head::Multilabel { labels } = self.predictor.head() {
            // Each label on its own at 0.5; `label` lists the chosen ones.
            let separator = primary_head(&self.plugin)
                .label_separator
                .as_deref()
                .unwrap_or("|");
            return outputs
                .chunks_exact(labels.max(1))
                .enumerate()
                .map(|(i, p)| {
                    let chosen: Vec<&str> = self
                        .classes
                        .iter()
                        .zip(p)
                        .filter(|(_, v)| **v >= 0.5)
                        .map(|(c, _)| c.as_str())
                        .collect();
                    Prediction {
                        label: chosen.join(separator),
                        // How sure the least sure decision is.
                        score: p.iter().map(|v| v.max(1.0 - v)).fold(1.0, f32::min),
                        probabilities: named(&self.classes, p),
                        ..Prediction::for_row(rows, i)
                    }
                })
                .collect();
        }
        if self.classes.is_empty() {
            // A regression head: the number is the answer.
            return outputs
                .iter()
                .enumerate()
                .map(|(i, &v)| Prediction {
                    score: v,
                    value: Some(v),
                    ..Prediction::for_row(rows, i)
                })
                .collect();
        }
        if let Some(decision) = self.metrics.rating {
            return outputs
                .iter()
                .enumerate()
                .map(|(i, &o)| {
                    let (rating, p) = decision.apply(o);
                    self.two_class(rows, i, p >= 0.5, p, rating)
                })
                .collect();
        }
        let probs = class_columns(self.predictor.head(), outputs);
        let k = self.classes.len();
        let decided = predict_classes(&probs, k, self.metrics.threshold);
        probs
            .chunks_exact(k)
            .enumerate()
            .map(|(i, p)| Prediction {
                label: self.classes[decided[i]].clone(),
                score: p[decided[i]],
                probabilities: named(&self.classes, p),
                ..Prediction::for_row(rows, i)
            })
            .collect()
    }

    /// Predictions back as row-major class probabilities and the index of
    /// each decided class, as metrics and hooks take them.
    fn probabilities_and_classes(&self, predictions: &[Prediction]) -> (Vec<f32>, Vec<usize>) {
        let probs = predictions
            .iter()
            .flat_map(|p| p.probabilities.iter().map(|(_, v)| *v))
            .collect();
        let decided = predictions
            .iter()
            .map(|p| self.classes.iter().position(|c| *c == p.label).unwrap_or(0))
            .collect();
        (probs, decided)
    }

    /// The prediction of row `i` for a head whose number (`value`: a
    /// rating, a reconstruction error) decides between its two classes;
    /// `p` is the score of the second class.
    fn two_class(&self, rows: &RawTable, i: usize, second: bool, p: f32, value: f32) -> Prediction {
        Prediction {
            label: self.classes[usize::from(second)].clone(),
            score: if second { p } else { 1.0 - p },
            probabilities: named(&self.classes, &[1.0 - p, p]),
            value: Some(value),
            ..Prediction::for_row(rows, i)
        }
    }

    /// Anomaly verdicts from an autoencoder's reconstructions of `rows`.
    fn flag(
        &self,
        rows: &RawTable,
        reconstructed: &[f32],
        decision: crate::job::AnomalyDecision,
    ) -> Result<Vec<Prediction>, RuntimeError> {
        let x = self.prepare(rows)?;
        let errors =
            crate::job::reconstruction_errors(&x, reconstructed, self.preprocessor.output_width());
        Ok(errors
            .iter()
            .enumerate()
            .map(|(i, &e)| self.two_class(rows, i, e >= decision.threshold, decision.score(e), e))
            .collect())
    }

    /// The `k` items with the highest predicted rating for `user` among
    /// those the user did not rate in training.
    pub fn recommend(&self, user: &str, k: usize) -> Result<Vec<Recommendation>, RuntimeError> {
        let (Some(catalog), Some(decision)) = (&self.catalog, self.metrics.rating) else {
            return Err(RuntimeError::Invalid(format!(
                "scenario `{}` has a {} head, and recommendations need a user_item head",
                self.scenario.name,
                primary_head(&self.plugin).task.as_str()
            )));
        };
        let (rows, keys) = catalog.candidates(user.trim())?;
        let scores = self.predictor.predict(&self.prepare(&rows)?)?;
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
        let mut predictions = self.decide(rows, self.predictor.predict(&x)?);
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
            self.classes.iter().position(|c| *c == p.label).unwrap_or(0)
        };
        let classes: Vec<usize> = predictions.iter().map(class_of).collect();
        let head = self.predictor.head();
        let attributions = self.predictor.integrated_gradients(&x, &classes, steps)?;
        let width = self.preprocessor.output_width();
        let baseline = class_columns(head, self.predictor.predict(&vec![0.0; width])?);
        let columns = self.preprocessor.column_widths();
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
        if self.metrics.anomaly.is_some() {
            return Err(RuntimeError::Invalid(format!(
                "scenario `{}` is an autoencoder: its verdict is the reconstruction error (`value`), which integrated gradients of one output do not explain",
                self.scenario.name
            )));
        }
        match self.preprocessor.embedding_slots().first() {
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
        self.classes.is_empty()
    }

    /// RMSE, MAE and R² on rows whose target values are known.
    pub fn evaluate_regression(&self, rows: &RawTable) -> Result<RegressionMetrics, RuntimeError> {
        let truth = rows.values.as_ref().ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "the input has no `{}` column to evaluate against",
                primary_head(&self.plugin).target
            ))
        })?;
        let predicted: Vec<f32> = self
            .predict(rows)?
            .iter()
            .map(|p| p.value.unwrap_or(f32::NAN))
            .collect();
        Ok(regression_metrics(&predicted, truth))
    }

    /// Metrics of each head trained beside the primary one, on labelled
    /// rows that carry those heads' target columns (empty for a run with
    /// one head).
    pub fn evaluate_auxiliary(
        &self,
        rows: &RawTable,
    ) -> Result<Vec<crate::AuxiliaryMetrics>, RuntimeError> {
        if self.auxiliary.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.prepare(rows)?;
        self.auxiliary
            .iter()
            .map(|model| Ok(model.metrics(&model.score(&x, rows)?)))
            .collect()
    }

    /// True when the run's head gives each row any number of labels, so
    /// [`Self::evaluate_multilabel`] applies rather than [`Self::evaluate`].
    pub fn is_multilabel(&self) -> bool {
        matches!(self.predictor.head(), indus_engine::Head::Multilabel { .. })
    }

    /// Per-label and pooled metrics on rows whose labels are known.
    pub fn evaluate_multilabel(&self, rows: &RawTable) -> Result<MultilabelMetrics, RuntimeError> {
        let truth = rows.multi_hot(self.classes.len()).ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "the input has no `{}` column to evaluate against",
                primary_head(&self.plugin).target
            ))
        })?;
        let probs = self.predictor.predict(&self.prepare(rows)?)?;
        Ok(multilabel_metrics(&probs, &truth, &self.classes))
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
        // Rating and anomaly heads: the two-class view their predictions give.
        let truth = match (self.metrics.rating, &rows.values, &rows.labels) {
            (Some(d), Some(values), _) => Some(
                values
                    .iter()
                    .map(|&t| u32::from(f64::from(t) >= d.liked_at))
                    .collect::<Vec<u32>>(),
            ),
            (None, _, Some(labels)) if self.metrics.anomaly.is_some() => Some(labels.clone()),
            _ => None,
        };
        if let Some(labels) = truth {
            let (probs, decided) = self.probabilities_and_classes(&self.predict(rows)?);
            return Ok(classification_metrics_for(
                &probs,
                &decided,
                &labels,
                &self.classes,
            ));
        }
        let labels = rows.labels.as_ref().ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "the input has no `{}` column to evaluate against",
                primary_head(&self.plugin).target
            ))
        })?;
        let x = self.prepare(rows)?;
        let probs = class_columns(self.predictor.head(), self.predictor.predict(&x)?);
        let mut decided = predict_classes(&probs, self.classes.len(), self.metrics.threshold);
        if let Some(guard) = &self.guard {
            guard.overrule(&x, &mut decided)?;
        }
        Ok(classification_metrics_for(
            &probs,
            &decided,
            labels,
            &self.classes,
        ))
    }
}

/// How much one source column moved the explained probability.
#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    /// The column.
    pub column: String,
    /// Its share of `score - baseline_score` (negative: it pulled the
    /// probability down).
    pub value: f32,
}

/// One explained row.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The prediction being explained.
    #[serde(flatten)]
    pub prediction: Prediction,
    /// Probability of the same label for the all-baseline row (training
    /// means, no category, black image): the attributions explain the move
    /// from here to `prediction.score`.
    pub baseline_score: f32,
    /// Attribution per source column, in schema order (image columns: the
    /// sum over their pixels).
    pub attributions: Vec<Attribution>,
    /// Attribution per model input (one-hot categories and pixels apart),
    /// in the order of [`Preprocessor::input_names`].
    pub inputs: Vec<f32>,
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

    /// The headline metric: the one of the plugin's first published
    /// baseline (accuracy without one), with its held-out value.
    pub fn headline(&self) -> (String, Option<f64>) {
        let name = self.plugin.baselines.first().map_or_else(
            || {
                match (&self.metrics.test, &self.metrics.multilabel) {
                    (Some(_), _) => "accuracy",
                    (None, Some(_)) => "micro_f1",
                    (None, None) => "rmse",
                }
                .to_string()
            },
            |b| b.metric.clone(),
        );
        let value = self.metrics.value(&name);
        (name, value)
    }

    /// The learning curve saved with the run (empty when it is missing).
    pub fn history(&self) -> Vec<indus_engine::EpochRecord> {
        self.folder
            .read("history.json")
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Example input rows saved with the run (empty for runs made before
    /// examples were saved).
    pub fn examples(&self) -> Vec<serde_json::Value> {
        self.folder
            .read(crate::job::EXAMPLES)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
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
    let recorded: Option<crate::job::NativeRecord> = folder
        .read(crate::job::NATIVE)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let path = match recorded {
        Some(r) if r.library.is_file() => r.library,
        _ => indus_plugin::find_library(
            plugin.name.as_str(),
            &spec.library,
            &Path::new("plugins").join(plugin.name.as_str()),
        )?,
    };
    Ok(Some(NativePlugin::load(
        plugin.name.as_str(),
        &path,
        &spec.config,
    )?))
}

/// Turns what a user typed into a run folder: a run folder itself, a
/// scenario's folder of runs (latest wins), or a scenario name under
/// `runs_root` (latest wins).
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
    if Name::parse(arg).is_ok()
        && let Some(run) = latest_in(&runs_root.join(arg))
    {
        return Ok(run);
    }
    Err(RuntimeError::Invalid(format!(
        "`{arg}` is neither a run folder nor a scenario with finished runs under {}",
        runs_root.display()
    )))
}
