//! Operations endpoints: liveness, readiness, Prometheus metrics, training
//! jobs with their event streams, promotion and reload.

use crate::error::{ApiError, ErrorBody};
use crate::jobs::{JobEvent, JobState, JobStatus, StartError, TrainRequest};
use crate::registry::{Served, load_catalog};
use crate::state::{ApiJson, AppState, Authorized};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::ToSchema;

/// Liveness and readiness answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready`, `loading` or `failed`.
    pub status: &'static str,
    /// Scenarios loaded.
    pub scenarios: usize,
    /// Why loading failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
pub async fn health(State(s): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        scenarios: s.registry.snapshot().scenarios.len(),
        problem: None,
    })
}

/// 200 once every listed scenario is loaded, 503 before (or if loading failed).
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn ready(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    readiness(&s)
}

pub(crate) fn readiness(s: &AppState) -> (StatusCode, Json<Health>) {
    let scenarios = s.registry.snapshot().scenarios.len();
    if s.registry.is_ready() {
        return (
            StatusCode::OK,
            Json(Health {
                status: "ready",
                scenarios,
                problem: None,
            }),
        );
    }
    let problem = s.registry.problem();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(Health {
            status: if problem.is_some() {
                "failed"
            } else {
                "loading"
            },
            scenarios,
            problem,
        }),
    )
}

/// Prometheus text exposition: requests, errors and latency per scenario
/// and route, rows predicted, micro-batch sizes.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

/// Starts training a scenario in the background (one job at a time).
#[utoipa::path(post, path = "/v1/scenarios/{name}/train", tag = "training",
    params(("name" = String, Path, description = "Scenario name (a file under scenarios/)")),
    request_body(content = TrainRequest, description = "Optional overrides; send `{}` for none"),
    security(("bearer" = [])),
    responses((status = 202, body = JobState), (status = 401, body = ErrorBody),
              (status = 403, description = "Wrong token, or no token and no --open-admin", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, description = "The job queue is full", body = ErrorBody)))]
pub async fn train(
    State(s): State<AppState>,
    _auth: Authorized,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<TrainRequest>,
) -> Result<(StatusCode, Json<JobState>), ApiError> {
    let shared = s.clone();
    let state = tokio::task::spawn_blocking(move || shared.jobs.start(&shared.config, &name, req))
        .await
        .map_err(|e| ApiError::internal(format!("job start failed: {e}")))?
        .map_err(|e| match e {
            StartError::UnknownScenario(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            StartError::Invalid(_) => ApiError::unprocessable(e.to_string()),
            StartError::Busy => ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            StartError::Thread(_) => ApiError::internal(e.to_string()),
        })?;
    Ok((StatusCode::ACCEPTED, Json(state)))
}

/// A training job's state.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "training",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobState), (status = 404, body = ErrorBody)))]
pub async fn job(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobState>, ApiError> {
    Ok(Json(find_job(&s, &id)?.state()))
}

/// Server-sent events of a job: `log`, `epoch` per finished epoch, and a
/// final `finished` with the job's state. Past events are replayed first.
#[utoipa::path(get, path = "/v1/jobs/{id}/events", tag = "training",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"),
              (status = 404, body = ErrorBody)))]
pub async fn job_events(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let job = find_job(&s, &id)?;
    let (mut live, state) = job.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(async move {
        let event = |e: &JobEvent| {
            let name = match e {
                JobEvent::Epoch(_) => "epoch",
                JobEvent::Log { .. } => "log",
                JobEvent::Finished(_) => "finished",
            };
            Event::default()
                .event(name)
                .json_data(e)
                .unwrap_or_else(|_| Event::default().event(name))
        };
        let mut replay: Vec<JobEvent> = state
            .log
            .iter()
            .map(|m| JobEvent::Log { message: m.clone() })
            .collect();
        replay.extend(state.epochs.iter().cloned().map(JobEvent::Epoch));
        let done = state.status.is_final();
        if done {
            replay.push(JobEvent::Finished(Box::new(state)));
        }
        for e in &replay {
            if tx.send(Ok(event(e))).await.is_err() {
                return;
            }
        }
        if done {
            return;
        }
        while let Ok(e) = live.recv().await {
            let last = matches!(e, JobEvent::Finished(_));
            if tx.send(Ok(event(&e))).await.is_err() || last {
                return;
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}

/// Cancels a job: a queued one never starts, a running one stops at its
/// next training step and ends `cancelled` (its event stream then sends
/// `finished`). Cancelling an ended job changes nothing.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "training",
    params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 202, body = JobState), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    State(s): State<AppState>,
    _auth: Authorized,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<JobState>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(find_job(&s, &id)?.cancel())))
}

/// Serves a succeeded job's run in place of its scenario's current one.
#[utoipa::path(post, path = "/v1/jobs/{id}/promote", tag = "training",
    params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn promote(
    State(s): State<AppState>,
    _auth: Authorized,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let state = find_job(&s, &id)?.state();
    let (JobStatus::Succeeded, Some(dir)) = (state.status, state.run_dir.clone()) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job `{id}` is {:?}; only a succeeded job can be promoted",
                state.status
            ),
        ));
    };
    let shared = s.clone();
    let name = state.scenario.clone();
    let served = tokio::task::spawn_blocking(move || {
        Served::load(&name, &dir, &shared.config, shared.metrics.clone())
    })
    .await
    .map_err(|e| ApiError::internal(format!("promotion failed: {e}")))??;
    let run_id = served.run.folder.record.run_id.clone();
    s.registry.replace(&state.scenario, served);
    tracing::info!(scenario = %state.scenario, run = %run_id, "promoted");
    Ok(Json(
        serde_json::json!({"scenario": state.scenario, "run_id": run_id}),
    ))
}

/// Reloads the latest run of every served scenario from disk and swaps them
/// in at once; requests in flight finish on the old models.
#[utoipa::path(post, path = "/v1/reload", tag = "training",
    security(("bearer" = [])),
    responses((status = 200, description = "Scenario → run id now served", body = Object),
              (status = 401, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub async fn reload(
    State(s): State<AppState>,
    _auth: Authorized,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    let shared = s.clone();
    let catalog =
        tokio::task::spawn_blocking(move || load_catalog(&shared.config, &shared.metrics))
            .await
            .map_err(|e| ApiError::internal(format!("reload failed: {e}")))?
            .map_err(|e| {
                ApiError::internal(format!("reload failed, still serving the old runs: {e}"))
            })?;
    let served = catalog
        .scenarios
        .iter()
        .map(|(n, v)| (n.clone(), v.run.folder.record.run_id.clone()))
        .collect();
    s.registry.install(catalog);
    tracing::info!(?served, "reloaded");
    Ok(Json(served))
}

fn find_job(s: &AppState, id: &str) -> Result<std::sync::Arc<crate::jobs::Job>, ApiError> {
    s.jobs
        .get(id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no job `{id}`")))
}
