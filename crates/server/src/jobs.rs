//! Background training jobs started over HTTP: a fixed number of training
//! slots (training uses every core) behind a bounded queue, each job with a
//! state to poll, an event stream of epochs, and a way to cancel it.

use crate::config::ServerConfig;
use indus_engine::{EpochRecord, TrainObserver};
use indus_runtime::{RunOptions, list_scenarios, resolve_scenario, run_scenario};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Stopped because its owner cancelled it.
    Cancelled,
}

impl JobStatus {
    /// Whether the job has ended (nothing more will happen to it).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
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
    cancelled: AtomicBool,
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

    /// Asks the job to stop: a queued job never starts, a running one
    /// stops at its next step. Returns the state (unchanged when it had
    /// already ended).
    pub fn cancel(&self) -> JobState {
        self.cancelled.store(true, Ordering::SeqCst);
        self.state()
    }

    /// Records the job's end and announces it.
    fn finish(&self, status: JobStatus, result: Result<indus_runtime::RunSummary, String>) {
        self.update(|s| {
            s.finished_at = Some(chrono::Utc::now().to_rfc3339());
            s.status = status;
            match result {
                Ok(summary) => {
                    s.run_id = Some(summary.metrics.run_id.clone());
                    s.metrics = serde_json::to_value(&summary.metrics).ok();
                    s.run_dir = Some(summary.dir);
                }
                Err(e) => s.error = Some(e),
            }
            Some(JobEvent::Finished(Box::new(s.clone())))
        });
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

/// Jobs waiting for a training slot; more are refused (429) rather than
/// piling up threads and memory.
pub const MAX_QUEUED_JOBS: usize = 8;

/// Finished jobs remembered for `GET /v1/jobs/{id}`; older ones are
/// forgotten (their run folders stay on disk).
const FINISHED_KEPT: usize = 256;

/// A job handed to a training slot.
struct Work {
    job: Arc<Job>,
    resolved: indus_runtime::ResolvedScenario,
    options: RunOptions,
}

/// Every job of this server process, and the training slots that run them:
/// a fixed number of threads (training uses every core), started on the
/// first job, fed by a bounded queue.
pub struct Jobs {
    jobs: Mutex<BTreeMap<String, Arc<Job>>>,
    next: AtomicU64,
    slots: usize,
    queue: std::sync::OnceLock<Result<crossbeam_channel::Sender<Work>, String>>,
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
    /// The queue is full.
    #[error("{MAX_QUEUED_JOBS} training jobs are already waiting; try again when one has finished")]
    Busy,
    /// The training threads could not be started.
    #[error("cannot start a training thread: {0}")]
    Thread(String),
}

impl Jobs {
    /// Jobs run `slots` at a time (at least one).
    pub fn new(slots: usize) -> Jobs {
        Jobs {
            jobs: Mutex::default(),
            next: AtomicU64::new(0),
            slots: slots.max(1),
            queue: std::sync::OnceLock::new(),
        }
    }

    /// A job by id.
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.lock().ok()?.get(id).cloned()
    }

    /// The queue into the training slots, starting them the first time.
    fn queue(&self) -> Result<&crossbeam_channel::Sender<Work>, StartError> {
        self.queue
            .get_or_init(|| {
                let (tx, rx) = crossbeam_channel::bounded::<Work>(MAX_QUEUED_JOBS);
                for slot in 0..self.slots {
                    let rx = rx.clone();
                    std::thread::Builder::new()
                        .name(format!("train-slot-{slot}"))
                        .spawn(move || {
                            while let Ok(work) = rx.recv() {
                                run_job(work);
                            }
                        })
                        .map_err(|e| e.to_string())?;
                }
                Ok(tx)
            })
            .as_ref()
            .map_err(|e| StartError::Thread(e.clone()))
    }

    /// Resolves the scenario and queues it for a training slot.
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
            resolved.scenario.set_epochs(
                indus_spec::limits::epochs(e)
                    .map_err(|m| StartError::Invalid(format!("epochs: {m}")))?,
            );
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
            cancelled: AtomicBool::new(false),
        });
        let options = RunOptions {
            data_dir: config.data_dir.clone(),
            runs_root: config.runs_dir.clone(),
        };
        let work = Work {
            job: job.clone(),
            resolved,
            options,
        };
        match self.queue()?.try_send(work) {
            Ok(()) => {}
            Err(crossbeam_channel::TrySendError::Full(_)) => return Err(StartError::Busy),
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                return Err(StartError::Thread("the training slots have stopped".into()));
            }
        }
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(id, job);
            forget_oldest_finished(&mut jobs);
        }
        Ok(state)
    }
}

/// Drops the oldest finished jobs beyond [`FINISHED_KEPT`].
fn forget_oldest_finished(jobs: &mut BTreeMap<String, Arc<Job>>) {
    let finished: Vec<String> = jobs
        .iter()
        .filter(|(_, j)| j.state().status.is_final())
        .map(|(id, _)| id.clone())
        .collect();
    if finished.len() > FINISHED_KEPT {
        let mut by_age = finished;
        // Ids are `job-N`: the number orders them.
        by_age.sort_by_key(|id| id.trim_start_matches("job-").parse::<u64>().unwrap_or(0));
        for id in &by_age[..by_age.len() - FINISHED_KEPT] {
            jobs.remove(id);
        }
    }
}

/// Trains one job on this slot. Whatever happens — an error, a panic in
/// the engine, a cancellation — the job ends in a final state and its
/// event stream gets `finished`.
fn run_job(work: Work) {
    let Work {
        job,
        resolved,
        options,
    } = work;
    if job.cancelled.load(Ordering::SeqCst) {
        job.finish(
            JobStatus::Cancelled,
            Err("cancelled before it started".into()),
        );
        return;
    }
    job.update(|s| {
        s.status = JobStatus::Running;
        None
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut observer = Progress { job: &job };
        let mut log = |note: &str| {
            job.update(|s| {
                s.log.push(note.to_string());
                Some(JobEvent::Log {
                    message: note.to_string(),
                })
            })
        };
        run_scenario(&resolved, &options, &mut observer, &mut log)
    }));
    match result {
        Ok(Ok(summary)) => job.finish(JobStatus::Succeeded, Ok(summary)),
        Ok(Err(e)) if job.cancelled.load(Ordering::SeqCst) => {
            job.finish(JobStatus::Cancelled, Err(e.to_string()))
        }
        Ok(Err(e)) => job.finish(JobStatus::Failed, Err(e.to_string())),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "no message".into());
            tracing::error!(job = %job.state().id, %why, "training panicked");
            job.finish(
                JobStatus::Failed,
                Err(format!("training stopped on an internal error: {why}")),
            )
        }
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

    fn cancelled(&self) -> bool {
        self.job.cancelled.load(Ordering::SeqCst)
    }
}
