//! The indus host runtime: what the CLI and the server share.
//!
//! It turns a scenario file into a trained, evaluated run folder, and a run
//! folder back into a model that answers — with the same schema checks and
//! the same fitted preprocessing on both sides, so there is no train/serve
//! skew.

mod auxiliary;
mod drift;
mod error;
mod guard;
mod hooks;
mod importance;
mod job;
mod loaded;
mod predictions_csv;
mod project;
mod recommend;
mod run_folder;

pub use auxiliary::{AuxiliaryMetrics, HeadAnswer};
pub use drift::{ColumnDrift, DriftReport, MAJOR, MODERATE, Reference};
pub use error::RuntimeError;
pub use guard::GuardReport;
pub use importance::{ColumnImportance, PermutationImportance};
pub use job::{
    AnomalyDecision, CrossValidation, EXAMPLES, Environment, RatingDecision, RowCounts, RunMetrics,
    RunOptions, RunSummary, WEIGHTS, run_scenario,
};
pub use loaded::{
    Attribution, Explanation, LoadedRun, Novelty, Prediction, TargetStatus, resolve_run,
};
pub use predictions_csv::{csv_field, predictions_csv};
pub use project::{Listing, ResolvedScenario, list_plugins, list_scenarios, resolve_scenario};
pub use recommend::{Catalog, Recommendation};
pub use run_folder::{
    RUN_MANIFEST, RunFolder, RunRecord, RunWriter, list_runs, scenarios_with_runs,
};
