//! The indus host runtime: what the CLI and the server share.
//!
//! It turns a scenario file into a trained, evaluated run folder, and a run
//! folder back into a model that answers — with the same schema checks, the
//! same fitted preprocessing and the same decisions on both sides, so there
//! is no train/serve skew.
//!
//! The flow, one module a step: [`project`](resolve_scenario) resolves the
//! scenario and plugin; `evaluation` chooses the evaluation plan before any
//! data is read; `run` loads the data and drives `fit` (one trained
//! [`TrainedModel`]) and `cross_validation`; `metrics` is what
//! `metrics.json` holds; `artifacts` writes and reads every file of a run
//! folder; `loaded` rebuilds the same [`TrainedModel`] from a run folder to
//! predict, explain, evaluate and recommend.

#![warn(missing_docs)]

mod artifacts;
mod cross_validation;
mod decision;
mod drift;
mod environment;
mod error;
mod evaluation;
mod fairness;
mod fit;
mod held_out;
mod hooks;
mod importance;
mod loaded;
mod metrics;
mod model;
mod model_card;
mod model_registry;
mod novelty_guard;
mod onnx_export;
mod prediction;
mod predictions_csv;
mod project;
mod recommend;
mod run;
mod run_folder;
mod secondary_heads;
mod targets;

pub use artifacts::{
    BEST_WEIGHTS, CATALOG, ENVIRONMENT, EXAMPLES, GUARD_WEIGHTS, HISTORY, LAST_WEIGHTS, METRICS,
    MODEL_CARD_JSON, MODEL_CARD_MD, NATIVE, PLUGIN, PREPROCESS, REFERENCE, SCENARIO, WEIGHTS,
    lookup_file, member_file, peek_metrics,
};
pub use decision::{AnomalyDecision, Decided, Decision, RatingDecision};
pub use drift::{ColumnDrift, DriftReport, MAJOR, MIN_DRIFT_ROWS, MODERATE, Reference};
pub use environment::Environment;
pub use error::RuntimeError;
pub use fairness::{ColumnFairness, FOUR_FIFTHS, FairnessReport, GroupRates, MISSING_GROUP};
pub use held_out::HeldOutRows;
pub use importance::{ColumnImportance, PermutationImportance};
pub use loaded::{Evaluation, LoadedRun, TargetStatus, resolve_run};
pub use metrics::{CrossValidation, RowCounts, RunMetrics};
pub use model::TrainedModel;
pub use model_card::{
    CardData, CardFile, CardImportance, CardMetric, CardTarget, CardVersions, ModelCard,
};
pub use model_registry::{
    AliasChange, FolderStore, ModelRegistry, PRODUCTION, RegistryStore, Resolved, Version, os_user,
};
pub use novelty_guard::GuardReport;
pub use onnx_export::OnnxSample;
pub use prediction::{Attribution, Explanation, HeadAnswer, Novelty, Prediction};
pub use predictions_csv::{csv_field, predictions_csv, predictions_csv_rows};
pub use project::{Listing, ResolvedScenario, list_plugins, list_scenarios, resolve_scenario};
pub use recommend::{ItemCatalog, Recommendation};
pub use run::{RunOptions, RunSummary, run_scenario};
pub use run_folder::{
    RUN_MANIFEST, RunFolder, RunRecord, RunWriter, list_runs, scenarios_with_runs, sweep_partial,
};
pub use secondary_heads::SecondaryHeadMetrics;
