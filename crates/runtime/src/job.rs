//! Running a scenario end to end: data, validation split, preprocessing
//! fitted on training rows, training, evaluation on the held-out test split,
//! and an atomically written run folder.

use crate::RuntimeError;
use crate::project::ResolvedScenario;
use crate::run_folder::RunWriter;
use indus_data::{
    DataLocations, Limits, Preprocessor, RawTable, load_dataset, primary_head, split_validation,
};
use indus_engine::metrics::{ClassificationMetrics, binary_to_two_columns, classification_metrics};
use indus_engine::{
    BURN_VERSION, EpochRecord, Head, MlpWeights, Predictor, ResolvedBackend, Targets,
    TrainObserver, TrainRequest, TrainSet,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// Metrics on the held-out test rows.
    pub test: ClassificationMetrics,
    /// Metrics on the validation rows, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<ClassificationMetrics>,
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
    let locations = DataLocations::from_env(data_dir);
    let limits = Limits {
        train: scenario.data.train_limit.map(|c| c.get()),
        test: scenario.data.test_limit.map(|c| c.get()),
    };
    let data = load_dataset(plugin, &locations, limits)?;
    for f in &data.files {
        log(&format!("data: {}", f.display()));
    }
    let data_files = data.files.clone();
    let (train_rows, val_rows) = split_validation(
        data.train,
        scenario.data.validation_fraction.get(),
        scenario.seed,
    );
    let rows = RowCounts {
        train: train_rows.len(),
        validation: val_rows.as_ref().map_or(0, RawTable::len),
        test: data.test.len(),
    };
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
    let test_set = to_set(data.test);
    let request = TrainRequest {
        model: &scenario.model,
        training: &scenario.training,
        head,
        seed: scenario.seed,
        backend: backend.kind,
        train: &train_set,
        validation: val_set.as_ref(),
    };
    let clock = Instant::now();
    let outcome = indus_engine::train(&request, observer)?;
    log(&format!(
        "trained in {:.1} s",
        clock.elapsed().as_secs_f64()
    ));

    let chosen = outcome.chosen();
    let predictor = Predictor::new(chosen, head, backend.kind)?;
    let evaluate = |set: &TrainSet| -> Result<ClassificationMetrics, RuntimeError> {
        let outputs = predictor.predict(&set.x)?;
        let Targets::Classes(labels) = &set.targets else {
            unreachable!("classification targets")
        };
        Ok(classification_metrics(
            &class_columns(head, outputs),
            labels,
            &classes,
        ))
    };
    let test = evaluate(&test_set)?;
    let validation = val_set.as_ref().map(evaluate).transpose()?;

    let run_id = format!("{}-s{}", started_at.format("%Y%m%dT%H%M%SZ"), scenario.seed);
    let mut writer = RunWriter::create(&options.runs_root, scenario.name.as_str(), &run_id)?;
    let metrics = RunMetrics {
        scenario: scenario.name.to_string(),
        plugin: plugin.name.to_string(),
        run_id: writer.run_id(),
        head: head_spec.name.to_string(),
        backend: backend.kind.as_str().to_string(),
        rows,
        epochs_run: outcome.history.len(),
        best_epoch: outcome.best_epoch,
        stopped_early: outcome.stopped_early,
        train_seconds: outcome.history.iter().map(|r| r.seconds).sum(),
        parameters: chosen.parameter_count(),
        test,
        validation,
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
    let yaml = |v: &dyn erased::ToYaml| v.to_yaml();
    writer.write("scenario.yaml", yaml(scenario).as_bytes())?;
    writer.write("plugin.yaml", yaml(plugin).as_bytes())?;
    writer.write(WEIGHTS, &chosen.to_safetensors()?)?;
    writer.write("last.safetensors", &outcome.last.to_safetensors()?)?;
    if let Some(best) = &outcome.best {
        writer.write("best.safetensors", &best.to_safetensors()?)?;
    }
    writer.write_json("preprocess.json", &preprocessor)?;
    writer.write_json("history.json", &outcome.history)?;
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

mod erased {
    /// Serialises plugin and scenario alike for the run folder.
    pub trait ToYaml {
        fn to_yaml(&self) -> String;
    }
    impl<T: serde::Serialize> ToYaml for T {
        fn to_yaml(&self) -> String {
            serde_norway::to_string(self).unwrap_or_default()
        }
    }
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
