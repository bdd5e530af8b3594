//! Operations endpoints: liveness, readiness, Prometheus metrics, training
//! jobs with their event streams, promotion and reload.

use crate::error::{ApiError, ErrorBody};
use crate::jobs::{JobEvent, JobState, JobStatus, StartError, TrainRequest};
use crate::registry::{Served, ServedVia, follow_aliases, load_catalog};
use crate::state::{ApiJson, AppState, Authorized};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
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

/// A scenario's versions and aliases, as `indus runs --json` prints them.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionsView {
    /// The scenario.
    pub scenario: String,
    /// Its finished runs, newest first, each with the aliases on it.
    #[schema(value_type = Vec<Object>)]
    pub versions: serde_json::Value,
    /// Alias → run id.
    pub aliases: BTreeMap<String, String>,
    /// Every alias move, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub history: serde_json::Value,
}

/// Where to point an alias, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasRequest {
    /// The run id to point the alias at.
    #[schema(example = "20261203T101500Z-s7")]
    pub run: String,
    /// Why, for the alias history.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Why an alias is rolled back.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// Why, for the alias history.
    #[serde(default)]
    pub reason: Option<String>,
}

fn registry_error(e: indus_runtime::RuntimeError) -> ApiError {
    match e {
        indus_runtime::RuntimeError::Invalid(m) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m)
        }
        other => ApiError::internal(other.to_string()),
    }
}

/// Lists a scenario's versions (its finished runs) and aliases.
#[utoipa::path(get, path = "/v1/scenarios/{name}/versions", tag = "training",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, body = VersionsView), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn versions(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<VersionsView>, ApiError> {
    let root = s.config.runs_dir.clone();
    let scenario = name.clone();
    let (versions, aliases, history) = tokio::task::spawn_blocking(move || {
        let registry = indus_runtime::ModelRegistry::open(&root);
        Ok::<_, indus_runtime::RuntimeError>((
            registry.versions(&scenario)?,
            registry.aliases(&scenario)?,
            registry.history(&scenario)?,
        ))
    })
    .await
    .map_err(|e| ApiError::internal(format!("listing versions failed: {e}")))?
    .map_err(registry_error)?;
    if versions.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no finished runs of `{name}`"),
        ));
    }
    Ok(Json(VersionsView {
        scenario: name,
        versions: serde_json::to_value(versions).unwrap_or_default(),
        aliases,
        history: serde_json::to_value(history).unwrap_or_default(),
    }))
}

/// Moves an alias and serves what it points at now, here at once and on
/// every server watching the same runs root within seconds.
async fn move_alias(
    s: &AppState,
    change: impl FnOnce(
        &indus_runtime::ModelRegistry,
    ) -> Result<indus_runtime::AliasChange, indus_runtime::RuntimeError>
    + Send
    + 'static,
) -> Result<Json<indus_runtime::AliasChange>, ApiError> {
    let shared = s.clone();
    let change = tokio::task::spawn_blocking(move || {
        let registry = indus_runtime::ModelRegistry::open(&shared.config.runs_dir);
        let change = change(&registry)?;
        let mut refused = std::collections::HashSet::new();
        follow_aliases(
            &shared.registry,
            &shared.config,
            &shared.metrics,
            &mut refused,
        );
        Ok::<_, indus_runtime::RuntimeError>(change)
    })
    .await
    .map_err(|e| ApiError::internal(format!("moving the alias failed: {e}")))?
    .map_err(registry_error)?;
    tracing::info!(alias = %change.alias, run = %change.run, previous = ?change.previous, by = %change.by, "alias moved");
    Ok(Json(change))
}

/// Points an alias of a scenario at one of its runs (verified first).
#[utoipa::path(post, path = "/v1/scenarios/{name}/aliases/{alias}", tag = "training",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring"),
           ("alias" = String, Path, description = "Alias", example = "production")),
    request_body = AliasRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "The recorded move", body = Object),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn set_alias(
    State(s): State<AppState>,
    auth: Authorized,
    Path((name, alias)): Path<(String, String)>,
    ApiJson(req): ApiJson<AliasRequest>,
) -> Result<Json<indus_runtime::AliasChange>, ApiError> {
    move_alias(&s, move |r| {
        r.promote(&name, &req.run, &alias, &auth.by, req.reason.as_deref())
    })
    .await
}

/// Moves an alias back to the run it pointed at before its last move.
#[utoipa::path(post, path = "/v1/scenarios/{name}/aliases/{alias}/rollback", tag = "training",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring"),
           ("alias" = String, Path, description = "Alias", example = "production")),
    request_body = RollbackRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "The recorded move", body = Object),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn rollback_alias(
    State(s): State<AppState>,
    auth: Authorized,
    Path((name, alias)): Path<(String, String)>,
    ApiJson(req): ApiJson<RollbackRequest>,
) -> Result<Json<indus_runtime::AliasChange>, ApiError> {
    move_alias(&s, move |r| {
        r.rollback(&name, &alias, &auth.by, req.reason.as_deref())
    })
    .await
}

/// Serves a succeeded job's run in place of its scenario's current one and
/// points the server's alias (`production` unless `--alias` names another)
/// at it, so the choice survives a restart and reaches the other replicas.
#[utoipa::path(post, path = "/v1/jobs/{id}/promote", tag = "training",
    params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn promote(
    State(s): State<AppState>,
    auth: Authorized,
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
    let job_id = id.clone();
    let served = tokio::task::spawn_blocking(move || {
        let mut served = Served::load(&name, &dir, &shared.config, shared.metrics.clone())?;
        let alias = shared
            .config
            .alias
            .clone()
            .unwrap_or_else(|| indus_runtime::PRODUCTION.to_string());
        let run_id = served.run.folder.record.run_id.clone();
        served.via = match indus_runtime::ModelRegistry::open(&shared.config.runs_dir).promote(
            &name,
            &run_id,
            &alias,
            &auth.by,
            Some(&format!("promoted training job {job_id}")),
        ) {
            Ok(_) => ServedVia::Alias(alias),
            Err(e) => {
                tracing::warn!(error = %e, "the promoted run is served here, but the alias could not be written");
                ServedVia::Job(job_id)
            }
        };
        Ok::<_, indus_runtime::RuntimeError>(served)
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
