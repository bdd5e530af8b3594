//! The indus HTTP API: every trained scenario behind one axum server —
//! predict, explain and recommend per scenario, background training with
//! event streams, atomic reload, the Open Inference Protocol v2, Prometheus
//! metrics and a generated OpenAPI document.
//!
//! Inference runs on dedicated threads with micro-batching (see
//! [`batcher`]), never on the async executor.

#![warn(missing_docs)]

mod app;
pub mod batcher;
mod config;
mod dashboard;
mod docs;
mod error;
mod grpc;
mod grpc_messages;
mod jobs;
mod metrics;
mod oip;
mod oip_binary;
mod ops;
mod registry;
mod scenarios;
mod state;
mod work;

pub use app::{BadOrigin, router};
pub use config::{ErrorVerbosity, ServerConfig};
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use registry::{load_catalog, scenario_names};
pub use scenarios::row_schema;
pub use state::{AppState, Shared};

use std::future::Future;
use std::sync::Arc;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] BadOrigin),
    /// A listed scenario could not be loaded; nothing was served.
    #[error("cannot serve:\n{0}")]
    Load(String),
}

/// Shared state for `config`, with nothing loaded yet.
pub fn shared(config: ServerConfig) -> AppState {
    let jobs = jobs::Jobs::new(config.training_slots);
    let work = work::WorkPool::new(config.work_threads);
    Arc::new(Shared {
        config,
        registry: Default::default(),
        metrics: Default::default(),
        jobs,
        work,
        decode_budget: work::decode_budget(),
    })
}

/// Serves HTTP on `listener` (and the Open Inference Protocol's gRPC
/// service on `grpc`, when given) until `shutdown` resolves, then stops accepting and
/// lets requests in flight finish. Scenarios load in the background after
/// the socket is open (`/health` answers at once, `/ready` once loaded);
/// if one cannot be loaded, the server shuts down with [`ServeError::Load`].
pub async fn serve(
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    grpc: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let state = shared(config);
    let app = router(state.clone())?;
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    let loader = state.clone();
    tokio::spawn(async move {
        let l = loader.clone();
        let loaded = tokio::task::spawn_blocking(move || load_catalog(&l.config, &l.metrics)).await;
        match loaded {
            Ok(Ok(catalog)) => {
                tracing::info!(scenarios = catalog.scenarios.len(), "ready");
                loader.registry.install(catalog);
                follow_aliases_forever(loader.clone());
            }
            Ok(Err(problem)) => {
                loader.registry.set_problem(Some(problem.clone()));
                let _ = failed_tx.send(problem);
            }
            Err(e) => {
                let _ = failed_tx.send(format!("loading panicked: {e}"));
            }
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(None::<String>);
    let watcher = stop_tx.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown => { let _ = watcher.send(Some(String::new())); }
            Ok(problem) = failed_rx => { let _ = watcher.send(Some(problem)); }
        }
    });
    let grpc = grpc.map(|l| {
        let (state, stop) = (state.clone(), stop_rx.clone());
        tokio::spawn(async move {
            if let Err(e) = grpc::serve_grpc(state, l, stop).await {
                tracing::error!(error = %e, "the gRPC service stopped");
            }
        })
    });
    accept(listener, app, &state.config, stop_rx.clone()).await;
    if let Some(g) = grpc {
        let _ = tokio::time::timeout(state.config.shutdown_grace, g).await;
    }
    match stop_rx.borrow().clone() {
        Some(problem) if !problem.is_empty() => Err(ServeError::Load(problem)),
        _ => Ok(()),
    }
}

/// Reads the aliases under the runs root again every `alias_poll`, so a
/// promotion or rollback made by any process is served here within
/// seconds, without a restart (see [`registry::follow_aliases`]).
fn follow_aliases_forever(state: AppState) {
    if state.config.run_dir.is_some() {
        return;
    }
    tokio::spawn(async move {
        let refused = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let mut tick = tokio::time::interval(state.config.alias_poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (s, refused) = (state.clone(), refused.clone());
            let looked = tokio::task::spawn_blocking(move || {
                if let Ok(mut refused) = refused.lock() {
                    registry::follow_aliases(&s.registry, &s.config, &s.metrics, &mut refused);
                }
            })
            .await;
            if let Err(e) = looked {
                tracing::error!(error = %e, "following the aliases failed");
            }
        }
    });
}

/// Accepts connections until `stop` is set, then stops accepting, lets
/// requests in flight finish and closes idle connections, for at most the
/// configured grace. Every connection must send its headers within the
/// header timeout (which also closes idle keep-alive connections), and at
/// most the configured number are open at once: a flood of slow or idle
/// clients cannot hold the server.
async fn accept(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    config: &ServerConfig,
    mut stop: tokio::sync::watch::Receiver<Option<String>>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let open = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(Option::is_some) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most often: wait for some to close.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = open.clone().try_acquire_owned() else {
            tracing::warn!(
                limit = config.max_connections,
                "connection refused: the server is at its connection limit"
            );
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(config.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = config.shutdown_grace.as_millis() as u64,
            "connections still open after the shutdown grace; closing them"
        );
    }
}

#[cfg(test)]
mod tests;
