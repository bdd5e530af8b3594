//! `indus serve`: the HTTP API over every trained scenario.

use anyhow::{Context, Result};
use indus_server::{ServeError, ServerConfig};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `indus serve`.
/// `--error-detail`: how much a refused request is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorDetailChoice {
    /// Field, row, column and what was expected.
    Full,
    /// The status's reason only.
    Minimal,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "INDUS_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, env = "INDUS_PORT", default_value_t = 8080)]
    port: u16,
    /// Also serve the Open Inference Protocol over gRPC on this port (0:
    /// any free port; printed as `grpc listening on …`).
    #[arg(long, env = "INDUS_GRPC_PORT")]
    grpc_port: Option<u16>,
    /// Scenario to serve (repeatable); default: every scenario with a finished run.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Where run folders are found and training jobs write theirs.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Serve each scenario through this alias (see `indus promote`); a
    /// scenario without it is an error. Default: `production` where it is
    /// set, else the newest verified run. Alias moves are followed within
    /// seconds, without a restart.
    #[arg(long, env = "INDUS_ALIAS", conflicts_with = "run")]
    alias: Option<String>,
    /// Serve exactly this one run folder (e.g. `/mnt/models`, where KServe
    /// puts a model), under its scenario's name; no alias is followed.
    #[arg(long, value_name = "DIR", conflicts_with = "scenarios")]
    run: Option<PathBuf>,
    /// Refuse training, promotion and reload (403), whatever the token.
    #[arg(long, env = "INDUS_READ_ONLY")]
    read_only: bool,
    /// How much a refused request (4xx) is told: `full` names the field,
    /// row, column and what was expected; `minimal` gives the status's
    /// reason only, for an endpoint open to the public.
    #[arg(long, env = "INDUS_ERROR_DETAIL", value_enum, default_value_t = ErrorDetailChoice::Full)]
    error_detail: ErrorDetailChoice,
    /// Project root holding plugins/ and scenarios/ (for training jobs).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Folder with local copies of data sets (for training jobs).
    #[arg(long, env = "INDUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Require `Authorization: Bearer <token>` for train, promote, reload and cancel.
    #[arg(long, env = "INDUS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Without --token: let anyone who reaches the port train, promote,
    /// reload and cancel (otherwise those endpoints answer 403). Only on a
    /// trusted network.
    #[arg(long)]
    open_admin: bool,
    /// Training jobs run at once (more wait in a queue of 8).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    training_slots: u64,
    /// Allowed CORS origin (repeatable; `*` for any). Default: no CORS headers.
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    max_body_bytes: u64,
    /// Most rows in one predict request.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_rows: u64,
    /// Seconds before a request is answered with 408.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout_secs: u64,
    /// Seconds a client has to send a request's headers; also how long an
    /// idle keep-alive connection stays open.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    header_timeout_secs: u64,
    /// Open connections at once (more are closed at accept).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Requests handled at once (more wait in line).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    concurrency: u64,
    /// Most rows in one micro-batched model call.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    max_batch_rows: u64,
    /// Microseconds a worker waits for more requests to join a batch (0: no waiting).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    batch_wait_us: u64,
    /// Log lines as text (colours only on a terminal) or as one JSON
    /// object per line, for log collectors.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Inference threads per scenario (default: one per CPU).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    workers: Option<u64>,
    /// Threads for drift, explain and recommend requests; more wait in
    /// line within their timeout (default: two per CPU).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    work_threads: Option<u64>,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn cmd_serve(a: ServeArgs) -> Result<()> {
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        project_root: a.root,
        runs_dir: a.runs_dir,
        data_dir: a.data_dir,
        scenarios: a.scenarios,
        backend: defaults.backend,
        max_body_bytes: size(a.max_body_bytes),
        max_rows_per_request: size(a.max_rows),
        request_timeout: Duration::from_secs(a.timeout_secs),
        concurrency_limit: size(a.concurrency),
        cors_origins: a.cors_origins,
        token: a.token.filter(|t| !t.is_empty()),
        open_admin: a.open_admin,
        training_slots: size(a.training_slots),
        header_read_timeout: Duration::from_secs(a.header_timeout_secs),
        max_connections: size(a.max_connections),
        shutdown_grace: defaults.shutdown_grace,
        max_batch_rows: size(a.max_batch_rows),
        max_batch_wait: Duration::from_micros(a.batch_wait_us),
        workers: a.workers.map_or(defaults.workers, size),
        work_threads: a.work_threads.map_or(defaults.work_threads, size),
        alias: a.alias,
        run_dir: a.run,
        read_only: a.read_only,
        alias_poll: defaults.alias_poll,
        error_detail: match a.error_detail {
            ErrorDetailChoice::Full => indus_server::ErrorVerbosity::Full,
            ErrorDetailChoice::Minimal => indus_server::ErrorVerbosity::Minimal,
        },
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match a.log_format {
        LogFormat::Json => logs.json().init(),
        // Colour codes only where a person reads them, never in a file.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let addr = format!("{}:{}", a.host, a.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("listening on http://{local}");
        std::io::stdout().flush()?;
        tracing::info!(%local, "listening; scenarios load in the background (GET /ready)");
        let grpc = match a.grpc_port {
            Some(port) => {
                let addr = format!("{}:{port}", a.host);
                let l = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} for gRPC"))?;
                println!("grpc listening on {}", l.local_addr()?);
                std::io::stdout().flush()?;
                Some(l)
            }
            None => None,
        };
        match indus_server::serve(config, listener, grpc, shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                Ok(())
            }
            Err(e @ ServeError::Load(_)) => Err(e.into()),
            Err(e) => Err(e.into()),
        }
    })
}

/// How `indus serve` writes its log lines.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A flag's value (already range-checked by clap) as a size.
fn size(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: no new connections; finishing requests in flight");
}
