//! What an operator can set when starting `indus serve`.

use indus_spec::BackendKind;
use std::path::PathBuf;
use std::time::Duration;

/// Server settings; [`ServerConfig::default`] gives the values documented
/// in `docs/api.md`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Project root holding `plugins/` and `scenarios/` (training jobs
    /// resolve scenario files here).
    pub project_root: PathBuf,
    /// Root of run folders.
    pub runs_dir: PathBuf,
    /// Local data folder for training jobs.
    pub data_dir: Option<PathBuf>,
    /// Scenarios to serve; empty serves every scenario with a finished run.
    pub scenarios: Vec<String>,
    /// Backend inference runs on.
    pub backend: BackendKind,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Most rows one predict request may carry.
    pub max_rows_per_request: usize,
    /// Requests taking longer get a 408.
    pub request_timeout: Duration,
    /// Requests handled at once; more wait (up to the timeout).
    pub concurrency_limit: usize,
    /// Origins allowed by CORS (`*` for any); empty sends no CORS headers.
    pub cors_origins: Vec<String>,
    /// When set, training, promotion, reload and cancel need
    /// `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Without a token, whether training, promotion, reload and cancel
    /// answer anyone (`--open-admin`); otherwise they are refused, so a
    /// server reachable on a network cannot be made to train by a stranger.
    pub open_admin: bool,
    /// Training jobs run at once; more wait in a bounded queue.
    pub training_slots: usize,
    /// A client must send a request's headers within this time, and an
    /// idle keep-alive connection is closed after it.
    pub header_read_timeout: Duration,
    /// Open connections at once; more are closed at accept.
    pub max_connections: usize,
    /// On shutdown, how long requests in flight may take to finish before
    /// the remaining connections are dropped.
    pub shutdown_grace: Duration,
    /// Most rows one micro-batched model call takes.
    pub max_batch_rows: usize,
    /// How long a worker waits for more requests to join a batch (zero:
    /// take only what is already queued, adding no latency when idle).
    pub max_batch_wait: Duration,
    /// Inference threads per scenario.
    pub workers: usize,
    /// Threads for drift, explain and recommend requests (predictions run
    /// on the scenarios' inference threads); more wait, within their
    /// timeout.
    pub work_threads: usize,
    /// The alias every scenario is served through (`--alias`); `None`:
    /// `production` where it is set, else the newest verified run.
    pub alias: Option<String>,
    /// Serve exactly this one run folder (`--run`), e.g. what KServe's
    /// storage initializer puts at `/mnt/models`; no alias is followed.
    pub run_dir: Option<PathBuf>,
    /// Refuse training, promotion and reload (`--read-only`).
    pub read_only: bool,
    /// How often the aliases under the runs root are read again, so a
    /// promotion made anywhere is served here without a restart.
    pub alias_poll: Duration,
    /// How much a 4xx answer says (`--error-detail`).
    pub error_detail: ErrorVerbosity,
}

/// How much a refused request is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorVerbosity {
    /// The field, row, column and what was expected: what a developer
    /// integrating a system needs.
    #[default]
    Full,
    /// The status and its reason only, no schema details (column names,
    /// allowed values, scenario names): for an endpoint open to the public.
    Minimal,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            project_root: PathBuf::from("."),
            runs_dir: PathBuf::from("runs"),
            data_dir: None,
            scenarios: Vec::new(),
            backend: BackendKind::Flex,
            max_body_bytes: 16 * 1024 * 1024,
            max_rows_per_request: 10_000,
            request_timeout: Duration::from_secs(30),
            concurrency_limit: 512,
            cors_origins: Vec::new(),
            token: None,
            open_admin: false,
            training_slots: 1,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4_096,
            shutdown_grace: Duration::from_secs(10),
            max_batch_rows: 64,
            max_batch_wait: Duration::ZERO,
            workers: cores(),
            work_threads: 2 * cores(),
            alias: None,
            run_dir: None,
            read_only: false,
            alias_poll: Duration::from_secs(1),
            error_detail: ErrorVerbosity::Full,
        }
    }
}
