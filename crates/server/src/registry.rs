//! The scenarios being served and their swap on reload or promotion: a
//! handler takes a snapshot (`Arc<Catalog>`) and keeps it until it answers,
//! so a swap never disturbs a request in flight; the old models go away
//! when their last request finishes.

use crate::batcher::{BatchObserver, Batcher};
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use indus_engine::EpochRecord;
use indus_runtime::{
    LoadedRun, ModelRegistry, RuntimeError, list_runs, resolve_run, scenarios_with_runs,
    sweep_partial,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// One scenario ready to answer.
pub struct Served {
    /// The loaded run.
    pub run: Arc<LoadedRun>,
    /// Its learning curve (for the dashboard and `GET /v1/scenarios/{name}`).
    pub history: Vec<EpochRecord>,
    /// Example input rows saved with the run (empty for older runs).
    pub examples: Vec<serde_json::Value>,
    /// When it was loaded (RFC 3339).
    pub loaded_at: String,
    /// Speed measured for the dashboard, on first view.
    pub perf: std::sync::OnceLock<Option<indus_dashboard::Perf>>,
    /// Why this run is the one served.
    pub via: ServedVia,
    batcher: Batcher,
}

/// Why a scenario is served by the run it is: shown in `/v1/scenarios` and
/// on the dashboard, so nobody mistakes "the newest" for "approved".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServedVia {
    /// The run an alias points at.
    Alias(String),
    /// The newest run that verifies: no alias is set.
    Newest,
    /// The one run folder given with `--run`.
    Folder,
    /// A training job's run, promoted in this server only.
    Job(String),
}

impl ServedVia {
    /// In a few words, for people.
    pub fn describe(&self) -> String {
        match self {
            ServedVia::Alias(a) => format!("alias `{a}`"),
            ServedVia::Newest => "newest verified run (no `production` alias)".into(),
            ServedVia::Folder => "the run folder given with --run".into(),
            ServedVia::Job(id) => format!("job `{id}`, promoted in this server"),
        }
    }
}

impl Served {
    /// Opens the run at `dir` and starts its inference workers.
    pub fn load(
        name: &str,
        dir: &Path,
        config: &ServerConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Served, RuntimeError> {
        let run = Arc::new(LoadedRun::open(dir, config.backend)?);
        let history = run.history();
        let examples = run.examples();
        let scenario = name.to_string();
        let observe: BatchObserver = Arc::new(move |rows| metrics.batch(&scenario, rows));
        let batcher = Batcher::start(
            name,
            run.clone(),
            config.workers,
            config.max_batch_rows,
            config.max_batch_wait,
            observe,
        )
        .map_err(|e| RuntimeError::Invalid(format!("cannot start inference threads: {e}")))?;
        Ok(Served {
            run,
            history,
            examples,
            loaded_at: chrono::Utc::now().to_rfc3339(),
            perf: std::sync::OnceLock::new(),
            via: ServedVia::Newest,
            batcher,
        })
    }

    /// The answers for the rows `read` produces, from this scenario's
    /// inference threads (micro-batched with other requests), within
    /// `deadline`.
    pub async fn predict(
        &self,
        read: crate::batcher::ReadRows,
        deadline: &crate::work::Deadline,
    ) -> Result<Vec<indus_runtime::Prediction>, crate::error::ApiError> {
        self.batcher.predict(read, deadline).await
    }
}

/// Every served scenario by name.
#[derive(Default)]
pub struct Catalog {
    /// Scenario name → its loaded run.
    pub scenarios: BTreeMap<String, Arc<Served>>,
}

/// The current catalog, swapped atomically.
#[derive(Default)]
pub struct Registry {
    current: RwLock<Arc<Catalog>>,
    ready: AtomicBool,
    problem: Mutex<Option<String>>,
}

impl Registry {
    /// The catalog as of now; hold it for the whole request.
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Replaces the whole catalog and marks the server ready.
    pub fn install(&self, catalog: Catalog) {
        let catalog = Arc::new(catalog);
        match self.current.write() {
            Ok(mut c) => *c = catalog,
            Err(poisoned) => *poisoned.into_inner() = catalog,
        }
        self.ready.store(true, Ordering::SeqCst);
        self.set_problem(None);
    }

    /// Replaces one scenario, keeping the others.
    pub fn replace(&self, name: &str, served: Served) {
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut scenarios = guard.scenarios.clone();
        scenarios.insert(name.to_string(), Arc::new(served));
        *guard = Arc::new(Catalog { scenarios });
    }

    /// True once every listed scenario has loaded.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Why the server is not ready, if loading failed.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|p| p.clone())
    }

    /// Records (or clears) a loading failure.
    pub fn set_problem(&self, problem: Option<String>) {
        if let Ok(mut p) = self.problem.lock() {
            *p = problem;
        }
    }
}

/// The scenarios to serve: those configured, else every scenario under the
/// runs directory with at least one finished run.
pub fn scenario_names(config: &ServerConfig) -> Vec<String> {
    if !config.scenarios.is_empty() {
        return config.scenarios.clone();
    }
    scenarios_with_runs(&config.runs_dir)
}

/// Loads the newest verified run of every scenario to serve. A newest run
/// that is damaged (a changed file, a missing weight) is skipped with a
/// warning for the next newest, per scenario, so one bad folder does not
/// stop the others or its own scenario; a scenario with no loadable run
/// fails the whole load, naming each, so nothing is half-served.
/// Leftovers of killed runs (`.partial-*`) are swept first.
pub fn load_catalog(config: &ServerConfig, metrics: &Arc<Metrics>) -> Result<Catalog, String> {
    for swept in sweep_partial(&config.runs_dir) {
        tracing::info!(folder = %swept.display(), "removed the leftovers of a run that did not finish");
    }
    if let Some(dir) = &config.run_dir {
        // Exactly one run folder, under its own scenario's name.
        let folder = indus_runtime::RunFolder::open(dir).map_err(|e| e.to_string())?;
        let name = folder.record.scenario.clone();
        let mut served =
            Served::load(&name, dir, config, metrics.clone()).map_err(|e| e.to_string())?;
        served.via = ServedVia::Folder;
        let mut catalog = Catalog::default();
        catalog.scenarios.insert(name, Arc::new(served));
        return Ok(catalog);
    }
    let names = scenario_names(config);
    if names.is_empty() {
        return Err(format!(
            "no finished runs under {} (train one with `indus run scenarios/<name>.yaml`)",
            config.runs_dir.display()
        ));
    }
    let mut catalog = Catalog::default();
    let mut problems = Vec::new();
    for name in names {
        match load_resolved(&name, config, metrics) {
            Ok(served) => {
                tracing::info!(
                    scenario = %name,
                    run = %served.run.folder.record.run_id,
                    "loaded"
                );
                catalog.scenarios.insert(name, Arc::new(served));
            }
            Err(e) => problems.push(format!("scenario `{name}`: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(catalog)
    } else {
        Err(problems.join("\n"))
    }
}

/// The run `name` is served by: the one its alias points at (the
/// configured alias, else `production` when set; a run that does not
/// verify is an error, never silently replaced), else the newest verified.
fn load_resolved(
    name: &str,
    config: &ServerConfig,
    metrics: &Arc<Metrics>,
) -> Result<Served, RuntimeError> {
    let registry = ModelRegistry::open(&config.runs_dir);
    match registry.resolve(name, config.alias.as_deref())? {
        Some(resolved) => {
            let mut served = Served::load(name, &resolved.dir, config, metrics.clone())?;
            served.via = ServedVia::Alias(resolved.alias.unwrap_or_default());
            Ok(served)
        }
        None => load_newest_verified(name, config, metrics),
    }
}

/// What changed since the last look at the aliases: each served scenario
/// whose alias now points at another run than the one served is loaded
/// and verified, then swapped in (requests in flight finish on the old
/// model). A run that fails to load is refused with a logged reason and
/// the scenario stays on its current model; `refused` remembers it so the
/// reason is logged once.
pub fn follow_aliases(
    registry: &Registry,
    config: &ServerConfig,
    metrics: &Arc<Metrics>,
    refused: &mut std::collections::HashSet<(String, String)>,
) {
    if config.run_dir.is_some() {
        return;
    }
    let aliases = ModelRegistry::open(&config.runs_dir);
    let catalog = registry.snapshot();
    for (name, served) in &catalog.scenarios {
        let resolved = match aliases.resolve(name, config.alias.as_deref()) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                if refused.insert((name.clone(), e.to_string())) {
                    tracing::warn!(scenario = %name, error = %e, "cannot read the aliases; serving on");
                }
                continue;
            }
        };
        let alias = resolved.alias.clone().unwrap_or_default();
        let run_id = resolved
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let same_run = served.run.folder.record.run_id == run_id;
        if same_run && served.via == ServedVia::Alias(alias.clone()) {
            continue;
        }
        if refused.contains(&(name.clone(), run_id.clone())) {
            continue;
        }
        match Served::load(name, &resolved.dir, config, metrics.clone()) {
            Ok(mut next) => {
                next.via = ServedVia::Alias(alias.clone());
                tracing::info!(scenario = %name, alias = %alias, run = %run_id,
                    previous = %served.run.folder.record.run_id, "alias moved: now serving");
                registry.replace(name, next);
            }
            Err(e) => {
                tracing::warn!(scenario = %name, alias = %alias, run = %run_id, error = %e,
                    "the alias points at a run that does not load; still serving the previous one");
                refused.insert((name.clone(), run_id));
            }
        }
    }
}

/// The newest run of `name` that opens and verifies, trying older ones
/// when the newest cannot be served; the error is the newest run's.
fn load_newest_verified(
    name: &str,
    config: &ServerConfig,
    metrics: &Arc<Metrics>,
) -> Result<Served, RuntimeError> {
    let newest = resolve_run(name, &config.runs_dir)?;
    let mut candidates = list_runs(&config.runs_dir, Some(name));
    candidates.retain(|d| d != &newest);
    candidates.push(newest);
    let mut first_error = None;
    while let Some(dir) = candidates.pop() {
        match Served::load(name, &dir, config, metrics.clone()) {
            Ok(served) => {
                if let Some(e) = &first_error {
                    tracing::warn!(
                        scenario = %name,
                        serving = %dir.display(),
                        newer_run_problem = %e,
                        "the newest run cannot be served; serving the newest verified one instead"
                    );
                }
                return Ok(served);
            }
            Err(e) => {
                tracing::warn!(scenario = %name, run = %dir.display(), error = %e, "run skipped");
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error
        .unwrap_or_else(|| RuntimeError::Invalid(format!("no finished runs of `{name}`"))))
}
