//! A scenario run end to end, as its steps: choose the evaluation plan,
//! resolve the backend, load the data, carve the test rows, fit and score,
//! record the metrics, write the run folder.

use crate::RuntimeError;
use crate::artifacts::{NativeRecord, RunArtifacts};
use crate::cross_validation::{CrossValidated, cross_validate};
use crate::decision::Decided;
use crate::environment::Environment;
use crate::evaluation::{EvaluationPlan, HeldOutScores, Scoring, TestRows};
use crate::fit::{Fitted, fit_once};
use crate::importance::ImportanceSamples;
use crate::metrics::{CrossValidation, RowCounts, RunMetrics};
use crate::model::class_names;
use crate::project::ResolvedScenario;
use crate::recommend::{ItemCatalog, evaluate_top_k};
use crate::run_folder::RunWriter;
use indus_data::{DataLocations, Limits, LoadedData, RawTable, primary_head, stratified_split};
use indus_engine::{EpochRecord, MlpWeights, ResolvedBackend, TrainObserver};
use indus_plugin::NativePlugin;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a run reads data and writes its folder.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Local data folder (`--data-dir`); the scenario's own `data.dir` wins.
    pub data_dir: Option<PathBuf>,
    /// Root of run folders (`runs/` by default).
    pub runs_root: PathBuf,
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
    /// The served model's decisions on the test rows, row by row, as the
    /// test metrics were computed from them (absent when the metrics pool
    /// out-of-fold predictions of several models). A loaded run answers
    /// the same rows with the same decisions.
    pub test_decisions: Option<Decided>,
}

/// Example input rows saved with each run.
const EXAMPLE_ROWS: usize = 5;

/// Trains and evaluates a scenario and writes its run folder. `log` receives
/// human-readable notes (backend fallback, data files).
pub fn run_scenario(
    resolved: &ResolvedScenario,
    options: &RunOptions,
    observer: &mut dyn TrainObserver,
    log: &mut dyn FnMut(&str),
) -> Result<RunSummary, RuntimeError> {
    let started_at = chrono::Utc::now();
    let (scenario, plugin) = (&resolved.scenario, &resolved.plugin);
    let plan = EvaluationPlan::choose(resolved)?;
    let backend = indus_engine::resolve_backend(scenario.backend, scenario.fallback_to_cpu)?;
    if let Some(reason) = &backend.fallback_reason {
        log(&format!("falling back to the `flex` CPU backend: {reason}"));
    }
    // The primary head before fitting (an autoencoder's width is set once
    // preprocessing is fitted).
    let head = indus_engine::Head::from_spec(primary_head(plugin))?;
    let classes = class_names(plugin, head);
    let locations = data_locations(resolved, options);
    let (mut data, native) = load_data(resolved, &locations, log)?;
    let skipped_rows = std::mem::take(&mut data.skipped_rows);
    let evaluation_note = plan.carve_test_rows(&mut data, plugin)?;
    // Before any row is consumed: leakage, duplicates, constant columns,
    // test rows that training holds too.
    let data_quality = indus_data::assess(plugin, &data.train, data.test.as_ref());
    for finding in data_quality.findings() {
        log(&format!("data quality: {finding}"));
    }
    // A recommender remembers what each training user rated, and is scored
    // on lists over the items they did not.
    let catalog = match primary_head(plugin).task {
        indus_spec::Task::UserItem => Some(ItemCatalog::build(
            plugin,
            primary_head(plugin),
            &data.lookups,
            &data.train,
        )?),
        _ => None,
    };
    let top_k_test = catalog.as_ref().and(data.test.clone());
    // What the training rows looked like, for `indus drift` to compare
    // later inputs with.
    let reference = crate::drift::Reference::of(plugin, &data.train);
    let scoring = Scoring {
        plugin,
        scenario,
        classes: &classes,
        native: native.as_deref(),
    };
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
    let mut importance: Option<ImportanceSamples> = None;
    let official_validation = data.validation.take();
    // A few real held-out rows, spread over them, for the API's examples and
    // the dashboard's "try it" form (every row is held out once in folds).
    let mut examples = match (&plan.folds, &data.test) {
        (_, Some(test)) => test.spread(EXAMPLE_ROWS).to_json_rows(plugin, EXAMPLE_ROWS),
        (Some(_), None) => data
            .train
            .spread(EXAMPLE_ROWS)
            .to_json_rows(plugin, EXAMPLE_ROWS),
        (None, None) => Vec::new(), // set from the holdout below
    };
    // The rows the served model is fitted on, by hash, so that `indus
    // eval --input` can say which of its rows the model has seen.
    let trained_rows: Vec<u64>;
    let (fitted, mut scores, evaluation, cross_validation) = match (plan.folds, data.test) {
        (Some(folds), test) => {
            trained_rows = indus_data::sorted_hashes(plugin, &data.train);
            let CrossValidated {
                fitted,
                scores,
                summary,
                evaluation,
            } = cross_validate(
                &scoring,
                folds,
                data.train,
                test,
                &mut |rows, observer| fit(rows, None, observer),
                observer,
                &mut importance,
                log,
            )?;
            (fitted, scores, evaluation, Some(summary))
        }
        (None, Some(test)) => {
            trained_rows = indus_data::sorted_hashes(plugin, &data.train);
            let fitted = fit(data.train, official_validation, observer)?;
            let scores = scoring.score_held_out(&fitted, test, &mut importance)?;
            (fitted, scores, evaluation_note, None)
        }
        (None, None) => {
            let TestRows::Holdout { fraction } = plan.test_rows else {
                return Err(RuntimeError::Invalid(
                    "the data set has no test rows for this evaluation plan".into(),
                ));
            };
            let (rest, held) = stratified_split(
                data.train,
                fraction,
                scenario.seed.wrapping_add(7),
                &indus_data::DealUnits::of(plugin),
            );
            let held = held.ok_or_else(|| {
                RuntimeError::Invalid("too few rows to hold out a test split".into())
            })?;
            examples = held.spread(EXAMPLE_ROWS).to_json_rows(plugin, EXAMPLE_ROWS);
            trained_rows = indus_data::sorted_hashes(plugin, &rest);
            let fitted = fit(rest, official_validation, observer)?;
            let scores = scoring.score_held_out(&fitted, held, &mut importance)?;
            let how = format!(
                "{} {:.0} % holdout (seed {})",
                if matches!(
                    primary_head(plugin).task,
                    indus_spec::Task::Regression | indus_spec::Task::Multilabel
                ) {
                    "random"
                } else {
                    "stratified"
                },
                fraction * 100.0,
                scenario.seed
            );
            (fitted, scores, how, None)
        }
    };
    let top_k = match (&catalog, top_k_test, fitted.model.decision.rating()) {
        (Some(c), Some(t), Some(decision)) => {
            log("ranking unseen items for every test user");
            Some(evaluate_top_k(plugin, c, &fitted.model, decision, &t)?)
        }
        _ => None,
    };
    let run_id = format!("{}-s{}", started_at.format("%Y%m%dT%H%M%SZ"), scenario.seed);
    let writer = RunWriter::create(&options.runs_root, scenario.name.as_str(), &run_id)?;
    let test_decisions = scores.decided.take();
    let held_out = scores.held_out.take();
    let mut metrics = record_metrics(
        resolved,
        &backend,
        writer.run_id(),
        &fitted,
        scores,
        evaluation,
        cross_validation,
        top_k,
        importance,
    );
    metrics.skipped_rows = skipped_rows;
    metrics.data_quality = Some(data_quality);
    let environment = Environment::capture(
        scenario,
        &backend,
        resolved.scenario_file.parent().unwrap_or(Path::new(".")),
        &locations,
        data.files,
        data.notes,
        started_at,
    );
    let Fitted {
        model,
        outcome,
        members,
        ..
    } = fitted;
    let dir = RunArtifacts {
        scenario,
        plugin,
        members: &members,
        last: &outcome.last,
        best: outcome.best.as_ref(),
        guard: model.guard.as_ref().map(|g| &g.weights),
        preprocessor: &model.preprocessor,
        reference: &reference,
        history: &outcome.history,
        examples: &examples,
        held_out: held_out.as_deref(),
        trained_rows: &trained_rows,
        native: native.as_ref().map(|n| NativeRecord {
            library: n.path().to_path_buf(),
            abi: n.abi(),
            sha256: Some(n.sha256().to_string()),
        }),
        catalog: catalog.as_ref(),
        lookups: &data.lookups,
        environment: &environment,
        metrics: &metrics,
    }
    .commit(writer)?;
    Ok(RunSummary {
        dir,
        metrics,
        history: outcome.history,
        backend,
        test_decisions,
    })
}

/// Where the scenario's data is looked for: its `data.dir` (relative to
/// the scenario file), else `--data-dir`, else `INDUS_DATA_DIR`; then the
/// plugin's own folder, the cache and the mirrors.
fn data_locations(resolved: &ResolvedScenario, options: &RunOptions) -> DataLocations {
    let scenario_dir = resolved.scenario_file.parent().unwrap_or(Path::new("."));
    let data_dir = resolved
        .scenario
        .data
        .dir
        .as_ref()
        .map(|d| scenario_dir.join(d))
        .or_else(|| options.data_dir.clone());
    let plugin_dir = resolved.plugin_file.parent().map(Path::to_path_buf);
    DataLocations::from_env(data_dir).with_plugin_dir(plugin_dir)
}

/// Loads the plugin's data set from `locations`, fills in the columns its
/// native hooks derive, and logs what was read.
fn load_data(
    resolved: &ResolvedScenario,
    locations: &DataLocations,
    log: &mut dyn FnMut(&str),
) -> Result<(LoadedData, Option<Arc<NativePlugin>>), RuntimeError> {
    let (scenario, plugin) = (&resolved.scenario, &resolved.plugin);
    let limits = Limits {
        train: scenario.data.train_limit.map(|c| c.get()),
        test: scenario.data.test_limit.map(|c| c.get()),
    };
    let started = std::time::Instant::now();
    let mut data = indus_data::load_dataset(plugin, locations, limits)?;
    let rows_read = data.train.len()
        + data.test.as_ref().map_or(0, RawTable::len)
        + data.validation.as_ref().map_or(0, RawTable::len);
    log(&format!(
        "data: read {rows_read} rows in {:.2} s",
        started.elapsed().as_secs_f64()
    ));
    let native = indus_plugin::load_for_manifest(plugin, &resolved.plugin_file)?;
    if let Some(n) = &native {
        log(&format!(
            "native hooks: {} (ABI {}.{})",
            n.path().display(),
            n.abi().0,
            n.abi().1
        ));
        crate::hooks::fill_derived(plugin, n, &mut data.train)?;
        for t in [data.test.as_mut(), data.validation.as_mut()]
            .into_iter()
            .flatten()
        {
            crate::hooks::fill_derived(plugin, n, t)?;
        }
    }
    for f in &data.files {
        log(&match (&f.sha256, f.declared) {
            (Some(digest), true) => {
                format!("data: {} (sha256 {digest}, as declared)", f.path.display())
            }
            (Some(digest), false) => format!(
                "data: {} (sha256 {digest}; plugin.yaml declares no sha256 for it, so another file of that name would be read as well: add the digest to pin it)",
                f.path.display()
            ),
            (None, _) => format!("data: {}", f.path.display()),
        });
    }
    for note in &data.notes {
        log(note);
    }
    if data.dropped_rows > 0 {
        log(&format!(
            "left out {} rows with a missing value in a `missing: drop` column",
            data.dropped_rows
        ));
    }
    if !data.skipped_rows.is_empty() {
        log(&format!(
            "skipped {} row{} that could not be read (the plugin sets `data.on_bad_rows: skip`); first: {}",
            data.skipped_rows.count,
            if data.skipped_rows.count == 1 {
                ""
            } else {
                "s"
            },
            data.skipped_rows.reasons.join("; ")
        ));
    }
    Ok((data, native))
}

/// What `metrics.json` records of a finished fit and its held-out scores.
#[allow(clippy::too_many_arguments)]
fn record_metrics(
    resolved: &ResolvedScenario,
    backend: &ResolvedBackend,
    run_id: String,
    fitted: &Fitted,
    scores: HeldOutScores,
    evaluation: String,
    cross_validation: Option<CrossValidation>,
    top_k: Option<indus_engine::rating::TopKMetrics>,
    importance: Option<ImportanceSamples>,
) -> RunMetrics {
    let (scenario, plugin) = (&resolved.scenario, &resolved.plugin);
    let model = &fitted.model;
    let guard = model.guard.as_ref();
    let outcome = &fitted.outcome;
    RunMetrics {
        scenario: scenario.name.to_string(),
        plugin: plugin.name.to_string(),
        run_id,
        head: primary_head(plugin).name.to_string(),
        backend: backend.kind.as_str().to_string(),
        rows: RowCounts {
            train: fitted.rows_train,
            validation: fitted.rows_validation,
            test: scores.rows,
        },
        epochs_run: outcome.history.len(),
        best_epoch: outcome.best_epoch,
        stopped_early: outcome.stopped_early,
        train_seconds: outcome.history.iter().map(|r| r.seconds).sum::<f64>()
            + fitted.other_members_seconds
            + guard.map_or(0.0, |g| g.seconds),
        parameters: fitted
            .members
            .iter()
            .map(MlpWeights::parameter_count)
            .sum::<usize>()
            + guard.map_or(0, |g| g.weights.parameter_count()),
        evaluation,
        test: scores.test,
        validation: fitted.validation.clone(),
        threshold: model.decision.threshold(),
        cross_validation,
        regression: scores.regression,
        top_k,
        rating: model.decision.rating(),
        anomaly: model.decision.anomaly(),
        multilabel: scores.multilabel,
        secondary_heads: model
            .secondary
            .iter()
            .zip(&scores.secondary)
            .map(|(head, s)| head.metrics(s))
            .collect(),
        novelty_guard: scores.novelty_guard,
        permutation_importance: importance.map(ImportanceSamples::finish),
        skipped_rows: indus_data::SkippedRows::default(),
        fairness: scores.fairness,
        data_quality: None,
    }
}
