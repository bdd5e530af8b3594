//! Running a scenario end to end: data, validation split, preprocessing
//! fitted on training rows, training, evaluation on the held-out test split,
//! and an atomically written run folder.

use crate::RuntimeError;
use crate::project::ResolvedScenario;
use crate::run_folder::RunWriter;
use indus_data::{
    DataLocations, Limits, Preprocessor, RawTable, load_dataset, primary_head, stratified_folds,
    stratified_split,
};
use indus_engine::metrics::{
    ClassificationMetrics, ThresholdRule, binary_to_two_columns, choose_threshold,
    classification_metrics_for, predict_classes,
};
use indus_engine::{
    BURN_VERSION, EpochRecord, Head, MlpWeights, Predictor, ResolvedBackend, Targets,
    TrainObserver, TrainOutcome, TrainRequest, TrainSet,
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
    /// Seconds spent in optimisation steps (validation excluded).
    pub train_seconds: f64,
    /// Trainable parameters.
    pub parameters: usize,
    /// How `test` was obtained (official split, holdout, cross-validation).
    #[serde(default)]
    pub evaluation: String,
    /// Metrics on the held-out test rows (for cross-validation without an
    /// official test file: on the pooled out-of-fold predictions).
    pub test: ClassificationMetrics,
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
}

/// Cross-validation results: every fold, the pooled out-of-fold metrics, and
/// mean ± standard deviation of the headline numbers across folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossValidation {
    /// Metrics of each fold's held-out rows.
    pub folds: Vec<ClassificationMetrics>,
    /// Metrics of all out-of-fold predictions together.
    pub pooled: ClassificationMetrics,
    /// Mean across folds, by metric name.
    pub mean: std::collections::BTreeMap<String, f64>,
    /// Sample standard deviation across folds, by metric name.
    pub std: std::collections::BTreeMap<String, f64>,
}

impl CrossValidation {
    fn summarise(folds: Vec<ClassificationMetrics>, pooled: ClassificationMetrics) -> Self {
        let mut mean = std::collections::BTreeMap::new();
        let mut std = std::collections::BTreeMap::new();
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
        let names: Vec<&str> = folds
            .first()
            .map(|m| headline(m).into_iter().map(|(k, _)| k).collect())
            .unwrap_or_default();
        for name in names {
            let values: Vec<f64> = folds
                .iter()
                .filter_map(|m| {
                    headline(m)
                        .into_iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v)
                })
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
        CrossValidation {
            folds,
            pooled,
            mean,
            std,
        }
    }
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
    rows_train: usize,
    rows_validation: usize,
}

/// Predictions for labelled rows: probability columns, decided classes and
/// the true labels.
struct Scored {
    probs: Vec<f32>,
    predicted: Vec<usize>,
    labels: Vec<u32>,
}

impl Scored {
    fn metrics(&self, classes: &[String]) -> ClassificationMetrics {
        classification_metrics_for(&self.probs, &self.predicted, &self.labels, classes)
    }
}

impl Fitted {
    /// Scores labelled raw rows with this model and its decision threshold.
    fn score(&self, rows: RawTable, classes: usize) -> Result<Scored, RuntimeError> {
        let x = self.preprocessor.transform(&rows);
        let probs = class_columns(self.head, self.predictor.predict(&x)?);
        let predicted = predict_classes(&probs, classes, self.threshold);
        Ok(Scored {
            probs,
            predicted,
            labels: rows.labels.unwrap_or_default(),
        })
    }
}

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
    let (train_rows, val_rows) = match official_validation {
        Some(v) if scenario.data.validation_fraction.get() == 0.0 => (rows, Some(v)),
        _ => stratified_split(rows, scenario.data.validation_fraction.get(), scenario.seed),
    };
    let (rows_train, rows_validation) =
        (train_rows.len(), val_rows.as_ref().map_or(0, RawTable::len));
    let preprocessor = Preprocessor::fit(plugin, &train_rows);
    // Each raw table is dropped once transformed: MNIST's raw training
    // pixels alone are ~190 MB as f32.
    let to_set = |t: RawTable| TrainSet {
        x: preprocessor.transform(&t),
        width: preprocessor.output_width(),
        targets: Targets::Classes(t.labels.unwrap_or_default()),
    };
    let train_set = to_set(train_rows);
    let val_set = val_rows.map(to_set);
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
    };
    let outcome = indus_engine::train(&request, observer)?;
    let predictor = Predictor::new(outcome.chosen(), head, backend)?;
    let val_probs = match &val_set {
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
    Ok(Fitted {
        preprocessor,
        outcome,
        predictor,
        head,
        validation,
        threshold,
        rows_train,
        rows_validation,
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
    let data_files = data.files.clone();
    let official_validation = data.validation;
    // A few real rows for the API's examples and the dashboard's "try it"
    // form, from the held-out split when there is one.
    let examples = data
        .test
        .as_ref()
        .unwrap_or(&data.train)
        .to_json_rows(plugin, EXAMPLE_ROWS);
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
    let test_metrics = |s: &Scored| -> Result<ClassificationMetrics, RuntimeError> {
        let mut m = s.metrics(&classes);
        if let Some(n) = &native
            && n.has_metrics()
        {
            m.custom =
                crate::hooks::custom_metrics(n, &classes, &s.probs, &s.predicted, &s.labels)?;
        }
        Ok(m)
    };
    let (fitted, test, evaluation, cv, test_rows) = match (scenario.data.folds, data.test) {
        (Some(k), official_test) => {
            let k = k.get();
            let folds = stratified_folds(&data.train, k, scenario.seed);
            let mut pooled_probs = vec![0.0f32; data.train.len() * classes.len()];
            let mut pooled_predicted = vec![0usize; data.train.len()];
            let mut per_fold = Vec::with_capacity(k);
            for (f, test_idx) in folds.iter().enumerate() {
                log(&format!("fold {}/{k}: {} test rows", f + 1, test_idx.len()));
                let in_test: std::collections::HashSet<usize> = test_idx.iter().copied().collect();
                let train_idx: Vec<usize> = (0..data.train.len())
                    .filter(|i| !in_test.contains(i))
                    .collect();
                let fold_fit = fit(data.train.select(&train_idx), None, observer)?;
                let fold_test = data.train.select(test_idx);
                let scored = fold_fit.score(fold_test, classes.len())?;
                for (i, row) in test_idx.iter().enumerate() {
                    let k = classes.len();
                    pooled_probs[row * k..(row + 1) * k]
                        .copy_from_slice(&scored.probs[i * k..(i + 1) * k]);
                    pooled_predicted[*row] = scored.predicted[i];
                }
                per_fold.push(scored.metrics(&classes));
            }
            let labels = data.train.labels.clone().unwrap_or_default();
            let pooled =
                classification_metrics_for(&pooled_probs, &pooled_predicted, &labels, &classes);
            log(&format!("final model on all {} rows", data.train.len()));
            let final_fit = fit(data.train, None, observer)?;
            let cv = CrossValidation::summarise(per_fold, pooled);
            match official_test {
                Some(t) => {
                    let n = t.len();
                    let m = test_metrics(&final_fit.score(t, classes.len())?)?;
                    (
                        final_fit,
                        m,
                        format!(
                            "official test split; {k}-fold cross-validation on the training rows"
                        ),
                        Some(cv),
                        n,
                    )
                }
                None => {
                    let n = labels.len();
                    let m = test_metrics(&Scored {
                        probs: pooled_probs,
                        predicted: pooled_predicted,
                        labels,
                    })?;
                    (
                        final_fit,
                        m,
                        format!(
                            "{k}-fold stratified cross-validation (out-of-fold predictions of every row)"
                        ),
                        Some(cv),
                        n,
                    )
                }
            }
        }
        (None, Some(t)) => {
            let n = t.len();
            let fitted = fit(data.train, official_validation, observer)?;
            let m = test_metrics(&fitted.score(t, classes.len())?)?;
            (fitted, m, "official test split".to_string(), None, n)
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
            let m = test_metrics(&fitted.score(held, classes.len())?)?;
            let how = format!(
                "stratified {:.0} % holdout (seed {})",
                fraction * 100.0,
                scenario.seed
            );
            (fitted, m, how, None, n)
        }
    };
    let Fitted {
        preprocessor,
        outcome,
        validation,
        threshold,
        rows_train,
        rows_validation,
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
        train_seconds: outcome.history.iter().map(|r| r.seconds).sum(),
        parameters: chosen.parameter_count(),
        evaluation,
        test,
        validation,
        threshold,
        cross_validation: cv,
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
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    writer.write("scenario.yaml", to_yaml(scenario)?.as_bytes())?;
    writer.write("plugin.yaml", to_yaml(plugin)?.as_bytes())?;
    writer.write(WEIGHTS, &chosen.to_safetensors()?)?;
    writer.write("last.safetensors", &outcome.last.to_safetensors()?)?;
    if let Some(best) = &outcome.best {
        writer.write("best.safetensors", &best.to_safetensors()?)?;
    }
    writer.write_json("preprocess.json", &preprocessor)?;
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

/// The weights file a run serves from (best epoch when validating, else last).
pub const WEIGHTS: &str = "weights.safetensors";

/// YAML text of the scenario or manifest as run, for the run folder.
fn to_yaml<T: Serialize>(value: &T) -> Result<String, RuntimeError> {
    serde_norway::to_string(value)
        .map_err(|e| RuntimeError::Invalid(format!("cannot encode YAML: {e}")))
}

/// Class labels of a classifier head, in output order.
pub(crate) fn class_names(
    plugin: &indus_spec::PluginManifest,
    head: Head,
) -> Result<Vec<String>, RuntimeError> {
    match head {
        Head::Multiclass { .. } => Ok(primary_head(plugin).classes.clone().unwrap_or_default()),
        Head::Binary => Ok(primary_head(plugin)
            .classes
            .clone()
            .unwrap_or_else(|| vec!["0".into(), "1".into()])),
        _ => Err(RuntimeError::Invalid(format!(
            "plugin `{}`: head `{}` is not a classifier; this version of the runtime evaluates classification heads only",
            plugin.name,
            primary_head(plugin).name
        ))),
    }
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

/// Reads the chosen weights of a run folder (used by [`crate::LoadedRun`]).
pub(crate) fn read_weights(folder: &crate::RunFolder) -> Result<MlpWeights, RuntimeError> {
    let bytes = folder.read(WEIGHTS)?;
    Ok(MlpWeights::from_safetensors(
        &folder.dir.join(WEIGHTS),
        &bytes,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights_make_every_class_count_the_same() {
        let w = balanced_weights(&[0, 0, 0, 1], 3);
        assert_eq!(w, vec![4.0 / 9.0, 4.0 / 3.0, 1.0]);
        assert!((3.0 * w[0] - 1.0 * w[1]).abs() < 1e-6);
    }
}
