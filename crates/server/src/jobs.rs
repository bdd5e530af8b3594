//! Background training jobs started over HTTP: one at a time (training uses
//! every core), each with a state to poll and an event stream of epochs.

use crate::config::ServerConfig;
use indus_engine::{EpochRecord, TrainObserver};
use indus_runtime::{RunOptions, list_scenarios, resolve_scenario, run_scenario};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for another job to finish.
    Queued,
    /// Training.
    Running,
    /// Finished; its run folder is written and can be promoted.
    Succeeded,
    /// Stopped with an error.
    Failed,
}

/// What `GET /v1/jobs/{id}` returns.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobState {
    /// Job id.
    pub id: String,
    /// Scenario being trained.
    pub scenario: String,
    /// Current status.
    pub status: JobStatus,
    /// When the job was accepted (RFC 3339).
    pub created_at: String,
    /// When it finished, if it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Epochs finished so far (across folds for cross-validated scenarios).
    #[schema(value_type = Vec<Object>)]
    pub epochs: Vec<EpochRecord>,
    /// Notes from the run (data files, folds, backend fallback).
    pub log: Vec<String>,
    /// The run folder, once written.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub run_dir: Option<PathBuf>,
    /// The run's id, once written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The run's metrics, once written.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<serde_json::Value>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Overrides a client may send with a training request.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Epochs instead of the scenario's (its novelty guard's too).
    pub epochs: Option<u64>,
    /// Seed instead of the scenario's.
    pub seed: Option<u64>,
    /// Train on at most this many rows (a quick check run).
    pub train_limit: Option<u64>,
}

/// One entry of a job's event stream.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    /// An epoch finished.
    Epoch(EpochRecord),
    /// A note from the run.
    Log {
        /// The note.
        message: String,
    },
    /// The job ended (its final state).
    Finished(Box<JobState>),
}

/// One job: its state and the channel its events go out on.
pub struct Job {
    state: Mutex<JobState>,
    events: broadcast::Sender<JobEvent>,
}

impl Job {
    /// A copy of the current state.
    pub fn state(&self) -> JobState {
        match self.state.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The state so far plus every later event. Events are sent while the
    /// state lock is held, so none is both in the state and on the channel,
    /// and none is missed.
    pub fn subscribe(&self) -> (broadcast::Receiver<JobEvent>, JobState) {
        let guard = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        (self.events.subscribe(), guard.clone())
    }

    /// Changes the state and announces `event`, atomically for subscribers.
    fn update(&self, f: impl FnOnce(&mut JobState) -> Option<JobEvent>) {
        let mut guard = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if let Some(event) = f(&mut guard) {
            let _ = self.events.send(event);
        }
    }
}

/// Every job of this server process.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<BTreeMap<String, Arc<Job>>>,
    next: AtomicU64,
    one_at_a_time: Arc<Mutex<()>>,
}

/// Why a job could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No scenario file of that name in the project.
    #[error("no scenario file named `{0}` under scenarios/")]
    UnknownScenario(String),
    /// The scenario file or its plugin is invalid, or an override is.
    #[error("{0}")]
    Invalid(String),
}

impl Jobs {
    /// A job by id.
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.lock().ok()?.get(id).cloned()
    }

    /// Resolves the scenario and starts training it on its own thread.
    pub fn start(
        &self,
        config: &ServerConfig,
        scenario: &str,
        request: TrainRequest,
    ) -> Result<JobState, StartError> {
        let file = list_scenarios(&config.project_root)
            .into_iter()
            .find(|l| l.name == scenario)
            .ok_or_else(|| StartError::UnknownScenario(scenario.to_string()))?
            .path;
        let mut resolved =
            resolve_scenario(&file, &[]).map_err(|e| StartError::Invalid(e.to_string()))?;
        let count = |v: u64, field: &str| {
            indus_spec::Count::try_from(v).map_err(|e| StartError::Invalid(format!("{field}: {e}")))
        };
        if let Some(e) = request.epochs {
            resolved.scenario.set_epochs(count(e, "epochs")?);
        }
        if let Some(seed) = request.seed {
            resolved.scenario.seed = seed;
        }
        if let Some(n) = request.train_limit {
            resolved.scenario.data.train_limit = Some(count(n, "train_limit")?);
        }
        let id = format!("job-{}", self.next.fetch_add(1, Ordering::SeqCst) + 1);
        let state = JobState {
            id: id.clone(),
            scenario: scenario.to_string(),
            status: JobStatus::Queued,
            created_at: chrono::Utc::now().to_rfc3339(),
            finished_at: None,
            epochs: Vec::new(),
            log: Vec::new(),
            run_dir: None,
            run_id: None,
            metrics: None,
            error: None,
        };
        let (events, _) = broadcast::channel(1024);
        let job = Arc::new(Job {
            state: Mutex::new(state.clone()),
            events,
        });
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(id.clone(), job.clone());
        }
        let options = RunOptions {
            data_dir: config.data_dir.clone(),
            runs_root: config.runs_dir.clone(),
        };
        let gate = self.one_at_a_time.clone();
        std::thread::Builder::new()
            .name(format!("train-{id}"))
            .spawn(move || {
                let _turn = gate.lock();
                job.update(|s| {
                    s.status = JobStatus::Running;
                    None
                });
                let mut observer = Progress { job: &job };
                let mut log = |note: &str| {
                    job.update(|s| {
                        s.log.push(note.to_string());
                        Some(JobEvent::Log {
                            message: note.to_string(),
                        })
                    })
                };
                let result = run_scenario(&resolved, &options, &mut observer, &mut log);
                job.update(|s| {
                    s.finished_at = Some(chrono::Utc::now().to_rfc3339());
                    match result {
                        Ok(summary) => {
                            s.status = JobStatus::Succeeded;
                            s.run_id = Some(summary.metrics.run_id.clone());
                            s.metrics = serde_json::to_value(&summary.metrics).ok();
                            s.run_dir = Some(summary.dir);
                        }
                        Err(e) => {
                            s.status = JobStatus::Failed;
                            s.error = Some(e.to_string());
                        }
                    }
                    Some(JobEvent::Finished(Box::new(s.clone())))
                });
            })
            .map_err(|e| StartError::Invalid(format!("cannot start a training thread: {e}")))?;
        Ok(state)
    }
}

struct Progress<'a> {
    job: &'a Job,
}

impl TrainObserver for Progress<'_> {
    fn on_epoch(&mut self, record: &EpochRecord) {
        self.job.update(|s| {
            s.epochs.push(record.clone());
            Some(JobEvent::Epoch(record.clone()))
        });
    }
}
