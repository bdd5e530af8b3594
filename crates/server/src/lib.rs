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
mod jobs;
mod metrics;
mod oip;
mod ops;
mod registry;
mod scenarios;
mod state;

pub use app::{BadOrigin, router};
pub use config::ServerConfig;
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
    /// The socket failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Shared state for `config`, with nothing loaded yet.
pub fn shared(config: ServerConfig) -> AppState {
    Arc::new(Shared {
        config,
        registry: Default::default(),
        metrics: Default::default(),
        jobs: Default::default(),
    })
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting and
/// lets requests in flight finish. Scenarios load in the background after
/// the socket is open (`/health` answers at once, `/ready` once loaded);
/// if one cannot be loaded, the server shuts down with [`ServeError::Load`].
pub async fn serve(
    config: ServerConfig,
    listener: tokio::net::TcpListener,
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
    let mut wait = stop_rx.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = wait.wait_for(Option::is_some).await;
        })
        .await?;
    match stop_rx.borrow().clone() {
        Some(problem) if !problem.is_empty() => Err(ServeError::Load(problem)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
