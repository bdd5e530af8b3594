//! The router: every endpoint, the OpenAPI document generated from the
//! handlers' annotations, and the layers around them (metrics, timeout,
//! concurrency limit, body limit, CORS, tracing).

use crate::error::ApiError;
use crate::state::AppState;
use crate::work::Deadline;
use crate::{dashboard, docs, oip, ops, scenarios};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "indus",
        description = "Every trained indus scenario behind one API: predictions, explanations, training jobs, and the Open Inference Protocol v2."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "scenarios", description = "What is served and each scenario's input schema"),
        (name = "inference", description = "Predict, explain, recommend"),
        (name = "training", description = "Background training, promotion and reload"),
        (name = "open inference protocol", description = "KServe / Open Inference Protocol v2"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Why the router could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
#[error("CORS origin `{0}` is not a valid header value")]
pub struct BadOrigin(pub String);

/// Builds the whole application around `state`.
pub fn router(state: AppState) -> Result<Router, BadOrigin> {
    // Probes stay outside the concurrency limit: a server busy with slow
    // or heavy requests still answers its orchestrator at once.
    let (probes, probes_doc) = OpenApiRouter::new()
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
        .routes(routes!(oip::live))
        .routes(routes!(oip::server_ready))
        .split_for_parts();
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(scenarios::list))
        .routes(routes!(scenarios::detail))
        .routes(routes!(scenarios::schema))
        .routes(routes!(scenarios::examples))
        .routes(routes!(scenarios::card))
        .routes(routes!(scenarios::card_markdown))
        .routes(routes!(scenarios::predict))
        .routes(routes!(scenarios::predict_image))
        .routes(routes!(scenarios::predict_csv))
        .routes(routes!(scenarios::drift))
        .routes(routes!(scenarios::drift_csv))
        .routes(routes!(scenarios::explain))
        .routes(routes!(scenarios::recommend))
        .routes(routes!(ops::train))
        .routes(routes!(ops::job))
        .routes(routes!(ops::job_events))
        .routes(routes!(ops::cancel))
        .routes(routes!(ops::promote))
        .routes(routes!(ops::versions))
        .routes(routes!(ops::set_alias))
        .routes(routes!(ops::rollback_alias))
        .routes(routes!(ops::reload))
        .routes(routes!(oip::server_metadata))
        .routes(routes!(oip::model_metadata))
        .routes(routes!(oip::version_metadata))
        .routes(routes!(oip::model_ready))
        .routes(routes!(oip::version_ready))
        .routes(routes!(oip::infer))
        .routes(routes!(oip::version_infer))
        .split_for_parts();
    openapi.merge(probes_doc);
    let cors = cors(&state.config.cors_origins)?;
    let limited = api
        .merge(docs::routes(openapi))
        .merge(dashboard::routes())
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(GlobalConcurrencyLimitLayer::new(
            state.config.concurrency_limit.max(1),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            read_body_first,
        ));
    let router = probes
        .merge(limited)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            minimal_errors,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_oversized,
        ))
        .layer(TraceLayer::new_for_http());
    let router = match cors {
        Some(c) => router.layer(c),
        None => router,
    };
    Ok(router.with_state(state))
}

/// Under `--error-detail minimal`, a 4xx answer keeps its status and
/// says only what the status means: no field, column, allowed value or
/// scenario name reaches a caller who may be anyone.
async fn minimal_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if state.config.error_detail != crate::config::ErrorVerbosity::Minimal
        || !status.is_client_error()
    {
        return res;
    }
    let reason = status
        .canonical_reason()
        .unwrap_or("client error")
        .to_lowercase();
    let mut minimal = ApiError::new(status, reason).into_response();
    for name in [
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::header::RETRY_AFTER,
    ] {
        if let Some(v) = res.headers().get(&name) {
            minimal.headers_mut().insert(name, v.clone());
        }
    }
    minimal
}

fn cors(origins: &[String]) -> Result<Option<CorsLayer>, BadOrigin> {
    if origins.is_empty() {
        return Ok(None);
    }
    let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any);
    if origins.iter().any(|o| o == "*") {
        return Ok(Some(layer.allow_origin(Any)));
    }
    let list = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| BadOrigin(o.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(layer.allow_origin(AllowOrigin::list(list))))
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no endpoint {} {} (GET /openapi.json lists them)",
            req.method(),
            req.uri().path()
        ),
    )
}

/// A 413 before any of the body is read when its declared length is over
/// the limit (a client announcing 10 GB gets its answer at once, not after
/// the request timeout).
async fn refuse_oversized(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > s.config.max_body_bytes as u64) {
        return crate::state::body_too_large(&s).into_response();
    }
    next.run(req).await
}

/// Reads the whole body before the request takes one of the concurrency
/// limit's slots: a client sending its body a byte a second holds only its
/// own connection (until the request timeout), never a slot that other
/// requests wait for.
async fn read_body_first(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, s.config.max_body_bytes).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        // The limit's own error reads "length limit exceeded".
        Err(e) if e.to_string().contains("length limit") => {
            crate::state::body_too_large(&s).into_response()
        }
        Err(e) => ApiError::bad_request(format!("the request body could not be read: {e}"))
            .into_response(),
    }
}

/// Times out slow requests and records every answer in the metrics, by
/// route template and served scenario (unknown names are not recorded as
/// labels, so a scan cannot blow up the metric set). Each request gets its
/// [`Deadline`]: when the answer is sent, the time is up, or the client
/// goes away, the request's work stops at its next check.
async fn observe(
    State(s): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let scenario = scenario_label(&s, req.uri().path());
    let started = Instant::now();
    let timeout = s.config.request_timeout;
    let (deadline, _abandon_when_dropped) = Deadline::after(timeout);
    req.extensions_mut().insert(deadline);
    let response = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("no answer within {} ms", timeout.as_millis()),
        )
        .into_response(),
    };
    s.metrics.request(
        &scenario,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

fn scenario_label(s: &AppState, path: &str) -> String {
    let mut parts = path.trim_start_matches('/').split('/');
    let name = match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some("scenarios"), Some(n)) | (Some("v2"), Some("models"), Some(n)) => n,
        _ => return String::new(),
    };
    if s.registry.snapshot().scenarios.contains_key(name) {
        name.to_string()
    } else {
        "unknown".to_string()
    }
}
