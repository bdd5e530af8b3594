//! Every file of a run folder, named in one place: what a finished run
//! writes ([`RunArtifacts`]) and the typed readers that loading, the CLI,
//! the server and the dashboard go through (methods of [`RunFolder`]).
//! `run_folder.rs` is the mechanism underneath (atomic commit, checksums);
//! this file is what the folder holds.

use crate::RuntimeError;
use crate::drift::Reference;
use crate::environment::Environment;
use crate::metrics::RunMetrics;
use crate::model_card::ModelCard;
use crate::recommend::ItemCatalog;
use crate::run_folder::{RunFolder, RunRecord, RunWriter};
use indus_data::{LookupTable, Preprocessor};
use indus_engine::{EpochRecord, MlpWeights};
use indus_spec::{PluginManifest, Scenario, parse_plugin, parse_scenario};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The scenario as run, command-line overrides included.
pub const SCENARIO: &str = "scenario.yaml";
/// The plugin manifest as it was at training time (with the scenario's
/// reshaping applied).
pub const PLUGIN: &str = "plugin.yaml";
/// The weights served: the best validation epoch, else the last.
pub const WEIGHTS: &str = "weights.safetensors";
/// The last epoch's weights.
pub const LAST_WEIGHTS: &str = "last.safetensors";
/// The best validation epoch's weights, when validating.
pub const BEST_WEIGHTS: &str = "best.safetensors";
/// The novelty guard's autoencoder.
pub const GUARD_WEIGHTS: &str = "novelty-guard.safetensors";
/// The fitted preprocessing.
pub const PREPROCESS: &str = "preprocess.json";
/// The training rows' distributions, for drift checks.
pub const REFERENCE: &str = "reference.json";
/// Held-out metrics, decisions, importance.
pub const METRICS: &str = "metrics.json";
/// The learning curve.
pub const HISTORY: &str = "history.json";
/// A few real held-out input rows (API examples, the "try it" form).
pub const EXAMPLES: &str = "examples.json";
/// Every held-out row's number in its file, the run's answer and the
/// truth (and fold): what `indus eval RUN` re-scores and exports.
pub const HELD_OUT: &str = "held_out.csv";
/// The hashes of the rows the served model was fitted on (sorted,
/// distinct, 8 bytes each, little-endian): how `indus eval --input` tells
/// rows the model has seen from new ones without keeping the rows.
pub const TRAINED_ROWS: &str = "trained_rows.hashes";
/// Which native library the run used.
pub const NATIVE: &str = "native.json";
/// The run's model card for machines.
pub const MODEL_CARD_JSON: &str = "model_card.json";
/// The run's model card for people.
pub const MODEL_CARD_MD: &str = "model_card.md";
/// Recommenders: users, items and what each user rated in training.
pub const CATALOG: &str = "catalog.json";
/// Software and machine facts.
pub const ENVIRONMENT: &str = "environment.json";

/// File of network `member` (0-based) of an ensemble; the first is
/// [`WEIGHTS`].
pub fn member_file(member: usize) -> String {
    if member == 0 {
        WEIGHTS.to_string()
    } else {
        format!("member-{}.safetensors", member + 1)
    }
}

/// Run-folder copy of the lookup table the plugin calls `role`.
pub fn lookup_file(role: &str) -> String {
    format!("table-{role}.csv")
}

/// Which native library a run used, so serving loads the same one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NativeRecord {
    /// The library file.
    pub library: PathBuf,
    /// Its ABI version.
    pub abi: (u32, u32),
    /// SHA-256 of the library file (absent in runs made before it was
    /// recorded): serving refuses another build of the library, whose
    /// derived features could differ from what the model learned on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Everything a finished run writes, gathered so the folder is written in
/// one place and committed whole.
pub(crate) struct RunArtifacts<'a> {
    pub scenario: &'a Scenario,
    pub plugin: &'a PluginManifest,
    /// Kept weights of every ensemble member, the first being [`WEIGHTS`].
    pub members: &'a [MlpWeights],
    pub last: &'a MlpWeights,
    pub best: Option<&'a MlpWeights>,
    pub guard: Option<&'a MlpWeights>,
    pub preprocessor: &'a Preprocessor,
    pub reference: &'a Reference,
    pub history: &'a [EpochRecord],
    pub examples: &'a [serde_json::Value],
    pub held_out: Option<&'a str>,
    pub trained_rows: &'a [u64],
    pub native: Option<NativeRecord>,
    pub catalog: Option<&'a ItemCatalog>,
    pub lookups: &'a [LookupTable],
    pub environment: &'a Environment,
    pub metrics: &'a RunMetrics,
}

impl RunArtifacts<'_> {
    /// Writes every file into `writer`'s temporary folder and commits it;
    /// returns the finished folder.
    pub fn commit(&self, mut writer: RunWriter) -> Result<PathBuf, RuntimeError> {
        writer.write(SCENARIO, to_yaml(self.scenario)?.as_bytes())?;
        writer.write(PLUGIN, to_yaml(self.plugin)?.as_bytes())?;
        for (m, weights) in self.members.iter().enumerate() {
            writer.write(&member_file(m), &weights.to_safetensors()?)?;
        }
        if let Some(g) = self.guard {
            writer.write(GUARD_WEIGHTS, &g.to_safetensors()?)?;
        }
        writer.write(LAST_WEIGHTS, &self.last.to_safetensors()?)?;
        if let Some(best) = self.best {
            writer.write(BEST_WEIGHTS, &best.to_safetensors()?)?;
        }
        writer.write_json(PREPROCESS, self.preprocessor)?;
        writer.write_json(REFERENCE, self.reference)?;
        writer.write_json(HISTORY, &self.history)?;
        writer.write_json(EXAMPLES, &self.examples)?;
        if let Some(csv) = self.held_out {
            writer.write(HELD_OUT, csv.as_bytes())?;
        }
        if !self.trained_rows.is_empty() {
            let bytes: Vec<u8> = self
                .trained_rows
                .iter()
                .flat_map(|h| h.to_le_bytes())
                .collect();
            writer.write(TRAINED_ROWS, &bytes)?;
        }
        if let Some(n) = &self.native {
            writer.write_json(NATIVE, n)?;
        }
        if let Some(c) = self.catalog {
            writer.write_json(CATALOG, c)?;
        }
        for table in self.lookups {
            writer.write(&lookup_file(&table.file), &table.bytes)?;
        }
        writer.write_json(ENVIRONMENT, self.environment)?;
        writer.write_json(METRICS, self.metrics)?;
        let card = ModelCard::of(self.scenario, self.plugin, self.metrics, self.environment);
        writer.write_json(MODEL_CARD_JSON, &card)?;
        writer.write(MODEL_CARD_MD, card.markdown().as_bytes())?;
        writer.commit(self.scenario.name.as_str(), self.plugin.name.as_str())
    }
}

/// YAML text of the scenario or manifest as run, for the run folder.
fn to_yaml<T: Serialize>(value: &T) -> Result<String, RuntimeError> {
    serde_norway::to_string(value)
        .map_err(|e| RuntimeError::Invalid(format!("cannot encode YAML: {e}")))
}

impl RunFolder {
    /// A recorded file as UTF-8 text.
    fn text(&self, name: &str) -> Result<String, RuntimeError> {
        String::from_utf8(self.read(name)?)
            .map_err(|_| RuntimeError::run_folder(&self.dir, format!("`{name}` is not UTF-8")))
    }

    /// A recorded JSON file, decoded.
    fn json<T: DeserializeOwned>(&self, name: &str) -> Result<T, RuntimeError> {
        serde_json::from_slice(&self.read(name)?)
            .map_err(|e| RuntimeError::run_folder(&self.dir, format!("{name} is damaged: {e}")))
    }

    /// The scenario as it was run.
    pub fn scenario(&self) -> Result<Scenario, RuntimeError> {
        Ok(parse_scenario(
            &self.dir.join(SCENARIO),
            &self.text(SCENARIO)?,
        )?)
    }

    /// The plugin manifest as it was when the run was made.
    pub fn plugin(&self) -> Result<PluginManifest, RuntimeError> {
        Ok(parse_plugin(&self.dir.join(PLUGIN), &self.text(PLUGIN)?)?)
    }

    /// The run's recorded metrics.
    pub fn metrics(&self) -> Result<RunMetrics, RuntimeError> {
        self.json(METRICS)
    }

    /// The fitted preprocessing.
    pub fn preprocessor(&self) -> Result<Preprocessor, RuntimeError> {
        self.json(PREPROCESS)
    }

    /// The learning curve (empty when it is missing or unreadable: it is
    /// for charts, never for answers).
    pub fn history(&self) -> Vec<EpochRecord> {
        self.json(HISTORY).unwrap_or_default()
    }

    /// Example input rows (empty for runs made before examples were kept).
    pub fn examples(&self) -> Vec<serde_json::Value> {
        self.json(EXAMPLES).unwrap_or_default()
    }

    /// The software, machine and data facts recorded with the run.
    pub fn environment(&self) -> Result<Environment, RuntimeError> {
        self.json(ENVIRONMENT)
    }

    /// The held-out rows with the run's answers (`None` for runs made
    /// before they were kept).
    pub fn held_out(&self) -> Result<Option<String>, RuntimeError> {
        if !self.record.files.contains_key(HELD_OUT) {
            return Ok(None);
        }
        let bytes = self.read(HELD_OUT)?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| RuntimeError::run_folder(&self.dir, format!("{HELD_OUT} is not UTF-8")))
    }

    /// The hashes of the rows the served model was fitted on (`None` for
    /// runs made before they were kept).
    pub fn trained_rows(&self) -> Result<Option<Vec<u64>>, RuntimeError> {
        if !self.record.files.contains_key(TRAINED_ROWS) {
            return Ok(None);
        }
        let bytes = self.read(TRAINED_ROWS)?;
        if bytes.len() % 8 != 0 {
            return Err(RuntimeError::run_folder(
                &self.dir,
                format!(
                    "{TRAINED_ROWS} is damaged: {} bytes is not a whole number of hashes",
                    bytes.len()
                ),
            ));
        }
        let hashes: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect();
        if hashes.windows(2).any(|w| w[0] >= w[1]) {
            return Err(RuntimeError::run_folder(
                &self.dir,
                format!("{TRAINED_ROWS} is damaged: its hashes are not sorted"),
            ));
        }
        Ok(Some(hashes))
    }

    /// The kept weights of every network of the run (one unless the
    /// scenario trains an ensemble of `networks`).
    pub(crate) fn member_weights(&self, networks: usize) -> Result<Vec<MlpWeights>, RuntimeError> {
        (0..networks.max(1))
            .map(|m| self.weights(&member_file(m)))
            .collect()
    }

    /// One weights file of the run.
    pub(crate) fn weights(&self, file: &str) -> Result<MlpWeights, RuntimeError> {
        let bytes = self.read(file)?;
        Ok(MlpWeights::from_safetensors(&self.dir.join(file), &bytes)?)
    }

    /// The training rows' distributions; `None` for a run made before
    /// they were kept.
    pub(crate) fn reference(&self) -> Result<Option<Reference>, RuntimeError> {
        if !self.record.files.contains_key(REFERENCE) {
            return Ok(None);
        }
        self.json(REFERENCE).map(Some)
    }

    /// A recommender's catalog; `None` when the run has none.
    pub(crate) fn catalog(&self) -> Result<Option<ItemCatalog>, RuntimeError> {
        if !self.record.files.contains_key(CATALOG) {
            return Ok(None);
        }
        self.json(CATALOG).map(Some)
    }

    /// The native library the run recorded, if it recorded one.
    pub(crate) fn native_record(&self) -> Option<NativeRecord> {
        self.json(NATIVE).ok()
    }

    /// The run's copy of the lookup table the plugin calls `role`, joined
    /// on `on`.
    pub(crate) fn lookup_table(
        &self,
        role: &str,
        on: &str,
        layout: indus_data::CsvLayout,
    ) -> Result<LookupTable, RuntimeError> {
        let name = lookup_file(role);
        let bytes = self.read(&name)?;
        Ok(LookupTable::parse(
            role,
            on,
            &self.dir.join(&name).display().to_string(),
            bytes,
            layout,
        )?)
    }
}

/// The metrics of a finished run, checking only `metrics.json` against the
/// run's manifest: cheap enough to list hundreds of runs, where
/// [`RunFolder::open`] would hash every weights file.
pub fn peek_metrics(dir: &Path) -> Result<RunMetrics, RuntimeError> {
    let record = RunRecord::read(dir)?;
    let bytes =
        std::fs::read(dir.join(METRICS)).map_err(|e| RuntimeError::io(dir.join(METRICS), e))?;
    if record.files.get(METRICS) != Some(&indus_data::sha256_hex(&bytes)) {
        return Err(RuntimeError::run_folder(
            dir,
            format!("`{METRICS}` does not belong to this run (its checksum changed)"),
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| RuntimeError::run_folder(dir, format!("{METRICS} is damaged: {e}")))
}
