//! A finished run loaded for `predict`, `eval` and (later) serving: the same
//! schema checks, the same fitted preprocessing and the same weights.

use crate::RuntimeError;
use crate::job::{RunMetrics, class_columns, class_names, read_weights};
use crate::run_folder::{RunFolder, list_runs};
use indus_data::{Preprocessor, RawTable, primary_head, raw_width};
use indus_engine::metrics::{ClassificationMetrics, classification_metrics_for, predict_classes};
use indus_engine::{Head, Predictor};
use indus_spec::{BackendKind, Name, PluginManifest, Scenario, parse_plugin, parse_scenario};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::path::{Path, PathBuf};

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
}

/// One answered row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// 1-based row number in the input.
    pub row: usize,
    /// The row's id, when the schema has an id column and the input gave it.
    pub id: Option<String>,
    /// The most probable class.
    pub label: String,
    /// `(class, probability)` in class order.
    pub probabilities: Vec<(String, f32)>,
}

impl Serialize for Prediction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Ordered<'a>(&'a [(String, f32)]);
        impl Serialize for Ordered<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("row", &self.row)?;
        if let Some(id) = &self.id {
            m.serialize_entry("id", id)?;
        }
        m.serialize_entry("label", &self.label)?;
        m.serialize_entry("probabilities", &Ordered(&self.probabilities))?;
        m.end()
    }
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
        let head = Head::from_spec(primary_head(&plugin))?;
        let classes = class_names(&plugin, head)?;
        let weights = read_weights(&folder)?;
        if weights.inputs() != preprocessor.output_width() {
            return Err(RuntimeError::run_folder(
                dir,
                format!(
                    "weights expect {} inputs but the preprocessing produces {}",
                    weights.inputs(),
                    preprocessor.output_width()
                ),
            ));
        }
        let predictor = Predictor::new(&weights, head, backend)?;
        Ok(LoadedRun {
            folder,
            scenario,
            plugin,
            preprocessor,
            predictor,
            classes,
            metrics,
        })
    }

    /// Class probabilities for validated raw rows.
    pub fn predict(&self, rows: &RawTable) -> Result<Vec<Prediction>, RuntimeError> {
        let probs = self.probabilities(rows)?;
        let k = self.classes.len();
        let decided = predict_classes(&probs, k, self.metrics.threshold);
        Ok(probs
            .chunks_exact(k)
            .enumerate()
            .map(|(i, p)| Prediction {
                row: i + 1,
                id: rows.ids.as_ref().and_then(|ids| ids.get(i).cloned()),
                label: self.classes[decided[i]].clone(),
                probabilities: self
                    .classes
                    .iter()
                    .cloned()
                    .zip(p.iter().copied())
                    .collect(),
            })
            .collect())
    }

    /// Metrics on labelled rows.
    pub fn evaluate(&self, rows: &RawTable) -> Result<ClassificationMetrics, RuntimeError> {
        let labels = rows.labels.as_ref().ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "the input has no `{}` column to evaluate against",
                primary_head(&self.plugin).target
            ))
        })?;
        let probs = self.probabilities(rows)?;
        let decided = predict_classes(&probs, self.classes.len(), self.metrics.threshold);
        Ok(classification_metrics_for(
            &probs,
            &decided,
            labels,
            &self.classes,
        ))
    }

    fn probabilities(&self, rows: &RawTable) -> Result<Vec<f32>, RuntimeError> {
        let expected = raw_width(&self.plugin);
        if rows.width != expected {
            return Err(RuntimeError::Invalid(format!(
                "rows have {} values each, the schema of `{}` needs {expected}",
                rows.width, self.plugin.name
            )));
        }
        let x = self.preprocessor.transform(rows);
        Ok(class_columns(
            self.predictor.head(),
            self.predictor.predict(&x)?,
        ))
    }
}

impl LoadedRun {
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
