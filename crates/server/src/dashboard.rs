//! The live dashboard at `/` and the SVG charts its controls fetch: curve
//! overlays for a chosen set of scenarios, a training job's curve, and the
//! explanation bars of a "try it" prediction.

use crate::error::ApiError;
use crate::scenarios::{RowsRequest, validate_rows};
use crate::state::{ApiJson, AppState, ServedScenario};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use indus_dashboard::charts::{self, CurveMetric};
use indus_dashboard::{Mode, ScenarioView, measure, page};
use serde::Deserialize;
use std::sync::Arc;

/// Routes of the dashboard (not part of the public API document).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/dashboard/curves.svg", get(curves))
        .route("/dashboard/jobs/{id}/curve.svg", get(job_curve))
        .route("/dashboard/scenarios/{name}/explain.svg", post(explain_svg))
}

fn svg(body: String) -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], body).into_response()
}

async fn home(State(s): State<AppState>) -> Result<Html<String>, ApiError> {
    if !s.registry.is_ready() {
        return Err(ApiError::unavailable(
            "the server is still loading its scenarios; retry in a moment",
        ));
    }
    let catalog = s.registry.snapshot();
    let token_required = s.config.token.is_some();
    let html = tokio::task::spawn_blocking(move || {
        let views: Vec<ScenarioView<'_>> = catalog
            .scenarios
            .iter()
            .map(|(name, served)| ScenarioView {
                name,
                run: &served.run,
                history: &served.history,
                perf: *served
                    .perf
                    .get_or_init(|| measure(&served.run, &served.examples)),
                served_via: Some(served.via.describe()),
            })
            .collect();
        page(&views, Mode::Live { token_required })
    })
    .await
    .map_err(|e| ApiError::internal(format!("dashboard failed: {e}")))?;
    Ok(Html(html))
}

#[derive(Deserialize)]
struct CurveQuery {
    metric: Option<String>,
    scenarios: Option<String>,
}

async fn curves(
    State(s): State<AppState>,
    Query(q): Query<CurveQuery>,
) -> Result<Response, ApiError> {
    let metric = match q.metric.as_deref() {
        None => CurveMetric::Loss,
        Some(m) => CurveMetric::parse(m)
            .ok_or_else(|| ApiError::bad_request(format!("metric `{m}`: use loss or accuracy")))?,
    };
    let catalog = s.registry.snapshot();
    let wanted: Vec<&str> = q
        .scenarios
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
        .collect();
    // Each scenario keeps the colour of its place on the page, whichever
    // others are ticked.
    let series: Vec<charts::CurveSeries<'_>> = catalog
        .scenarios
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| wanted.contains(&n.as_str()))
        .map(|(i, (n, served))| (n.as_str(), served.history.as_slice(), i))
        .collect();
    Ok(svg(charts::learning_curves(&series, metric)))
}

async fn job_curve(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = s.jobs.get(&id).ok_or_else(|| {
        ApiError::new(axum::http::StatusCode::NOT_FOUND, format!("no job `{id}`"))
    })?;
    let state = job.state();
    let label = format!("{} ({id})", state.scenario);
    Ok(svg(charts::learning_curves(
        &[(label.as_str(), state.epochs.as_slice(), 0)],
        CurveMetric::Loss,
    )))
}

async fn explain_svg(
    State(s): State<AppState>,
    deadline: crate::work::Deadline,
    ServedScenario { served, .. }: ServedScenario,
    ApiJson(req): ApiJson<RowsRequest>,
) -> Result<Response, ApiError> {
    let run = Arc::clone(&served.run);
    let explanation = s
        .work
        .run(&deadline, move |_| {
            let table = validate_rows(&run, req.rows, 1)?;
            Ok(run.explain(&table, 64)?)
        })
        .await?;
    let Some(e) = explanation.first() else {
        return Err(ApiError::unprocessable("nothing to explain"));
    };
    let values: Vec<(String, f32)> = e
        .attributions
        .iter()
        .map(|a| (a.column.clone(), a.value))
        .collect();
    let mut title = format!(
        "Why {} ({:.3}, baseline {:.3})",
        e.prediction.label, e.prediction.score, e.baseline_score
    );
    if e.prediction.novelty.is_some_and(|n| n.flagged) {
        title = format!(
            "Why the classifier says {} ({:.3}, baseline {:.3}); the novelty guard flagged the row",
            e.prediction.label, e.prediction.score, e.baseline_score
        );
    }
    Ok(svg(charts::attributions(&title, &values, 12)))
}
