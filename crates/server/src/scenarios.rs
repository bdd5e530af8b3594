//! `/v1/scenarios…`: what is served, each scenario's input schema, and its
//! predict, explain and recommend endpoints.

use crate::error::{ApiError, ErrorBody};
use crate::registry::Served;
use crate::state::{ApiJson, AppState, DeferredJson, ServedScenario};
use crate::work::Deadline;
use axum::Json;
use axum::extract::State;
use indus_data::{RawTable, primary_head};
use indus_runtime::{Explanation, LoadedRun, Prediction};
use indus_spec::{ColumnRole, ColumnSpec, ColumnType, PluginManifest, UnknownValues};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A batch of input rows, each a JSON object keyed by column name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowsRequest {
    /// Rows in the scenario's input schema (`GET /v1/scenarios/{name}/schema`).
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Value>,
}

/// One answered row.
#[derive(Debug, Serialize, ToSchema)]
pub struct PredictionDoc {
    /// 1-based position in the request.
    pub row: usize,
    /// The row's id, echoed when the schema has an id column.
    pub id: Option<String>,
    /// Decided label.
    pub label: String,
    /// Probability of `label` (the guard's score when a novelty guard
    /// flagged the row).
    pub score: f32,
    /// Probability per class, in class order.
    pub probabilities: BTreeMap<String, f32>,
    /// Heads that predict a number (ratings): the predicted value.
    pub value: Option<f32>,
    /// Scenarios that train several heads on one trunk: the other heads'
    /// answers by head name (`label`, `score`, `probabilities`, or `value`).
    #[schema(value_type = Option<Object>)]
    pub heads: Option<BTreeMap<String, Value>>,
    /// Scenarios with a novelty guard: how unusual the row looked.
    pub novelty: Option<NoveltyDoc>,
}

/// A novelty guard's verdict on one row (scenarios with `novelty_guard`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NoveltyDoc {
    /// The row's reconstruction error.
    pub error: f32,
    /// The error at or above which the guard fires.
    pub threshold: f32,
    /// Whether it fired: `label` is then the guard's class whatever
    /// `probabilities` (the classifier's) say, and `score` is
    /// `error / (error + threshold)`.
    pub flagged: bool,
}

/// Predictions in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PredictResponse {
    /// Scenario answering.
    pub scenario: String,
    /// Run whose model answered.
    pub run_id: String,
    /// One per request row, same order.
    #[schema(value_type = Vec<PredictionDoc>)]
    pub predictions: Vec<Prediction>,
}

/// How far a batch of rows has moved from the run's training rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftResponse {
    /// Scenario compared.
    pub scenario: String,
    /// Run whose training rows are the reference.
    pub run_id: String,
    /// Training rows of the reference.
    pub reference_rows: usize,
    /// Rows sent.
    pub rows: usize,
    /// Every scalar input column, largest PSI first.
    pub columns: Vec<ColumnDriftDoc>,
}

/// One column's shift.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnDriftDoc {
    /// The plugin's column.
    pub column: String,
    /// Population stability index of the rows against the training rows.
    pub psi: f64,
    /// `stable` (PSI < 0.1), `moderate` (< 0.25) or `major`.
    pub verdict: String,
    /// The bin whose share moved most, with both shares.
    pub largest_change: String,
}

/// Rows to explain and how finely.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// Rows in the scenario's input schema.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Value>,
    /// Integration steps (default 64, at most 1024): more is more exact.
    pub steps: Option<usize>,
}

/// Attributions per row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainResponse {
    /// Scenario answering.
    pub scenario: String,
    /// Run whose model answered.
    pub run_id: String,
    /// Attribution method.
    pub method: &'static str,
    /// Integration steps used.
    pub steps: usize,
    /// Names of the model inputs, matching each explanation's `inputs`.
    pub input_names: Vec<String>,
    /// One per request row: the prediction, the baseline score and the
    /// attribution of each column.
    #[schema(value_type = Vec<Object>)]
    pub explanations: Vec<Explanation>,
}

/// A request for recommendations.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecommendRequest {
    /// The user to recommend for, as in the user column (`"196"` or `196`).
    #[schema(value_type = String, example = "196")]
    pub user: Key,
    /// How many items (1–1000, default 10).
    pub k: Option<usize>,
}

/// A user or item key given as a JSON string or number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Key {
    /// `"196"`.
    Text(String),
    /// `196`.
    Number(serde_json::Number),
}

impl Key {
    fn text(&self) -> String {
        match self {
            Key::Text(s) => s.trim().to_string(),
            Key::Number(n) => n.to_string(),
        }
    }
}

/// Top-k items for one user.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendResponse {
    /// Scenario name.
    pub scenario: String,
    /// Run that answered.
    pub run_id: String,
    /// The user.
    pub user: String,
    /// Items the user rated in training, left out of the list.
    pub excluded_seen: usize,
    /// Best first.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<indus_runtime::Recommendation>,
}

/// A scenario's headline metric next to its published baseline.
#[derive(Debug, Serialize, ToSchema)]
pub struct Headline {
    /// Metric name as in `metrics.json` (e.g. `accuracy`, `roc_auc`).
    pub metric: String,
    /// Measured on the held-out rows.
    pub value: Option<f64>,
    /// The published reference value from the plugin manifest.
    pub baseline: Option<f64>,
    /// Where the reference comes from.
    pub baseline_source: Option<String>,
}

/// The scenario's own bar (`target:` in its YAML) and whether the served
/// run clears it, so a client can tell "good enough" without reading docs.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    /// The bar, e.g. `roc_auc ≥ 0.8`.
    pub bar: String,
    /// The served run's held-out value of that metric (the mean over the
    /// folds for cross-validated scenarios).
    pub value: Option<f64>,
    /// Whether the value clears the bar.
    pub met: Option<bool>,
}

/// One row of `GET /v1/scenarios`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioSummary {
    /// Scenario name.
    pub name: String,
    /// Plugin name.
    pub plugin: String,
    /// Industry of the plugin.
    pub industry: String,
    /// What the model does.
    pub task: String,
    /// `ready` once loaded.
    pub status: &'static str,
    /// Run being served.
    pub run_id: String,
    /// Why that run: `alias `production``, the newest verified run (no
    /// `production` alias), the folder given with --run, or a promoted job.
    pub served_via: String,
    /// The alias it is served through, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// When that run finished.
    pub trained_at: String,
    /// How the metrics were obtained (official split, holdout, cross-validation).
    pub evaluation: String,
    /// Headline metric and its baseline.
    pub headline: Headline,
    /// The scenario's target, when it sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetView>,
    /// Trainable parameters.
    pub parameters: usize,
    /// Seconds of training.
    pub train_seconds: f64,
    /// Rows used for training, validation and test.
    #[schema(value_type = Object)]
    pub rows: Value,
}

/// Everything known about one served scenario.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioDetail {
    /// The summary row.
    #[serde(flatten)]
    pub summary: ScenarioSummary,
    /// The plugin's description.
    pub description: String,
    /// Declared columns (name, type, role, constraints).
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<ColumnSpec>,
    /// Declared heads.
    #[schema(value_type = Vec<Object>)]
    pub heads: Value,
    /// Output classes in order.
    pub classes: Vec<String>,
    /// Decision threshold of binary heads.
    pub threshold: Option<f32>,
    /// The run's `metrics.json`.
    #[schema(value_type = Object)]
    pub metrics: Value,
    /// Learning curve, one entry per epoch.
    #[schema(value_type = Vec<Object>)]
    pub history: Value,
    /// The scenario as trained (model and training settings).
    #[schema(value_type = Object)]
    pub scenario: Value,
    /// Published baselines from the plugin manifest.
    #[schema(value_type = Vec<Object>)]
    pub baselines: Value,
}

/// Lists every served scenario with its headline metric.
#[utoipa::path(get, path = "/v1/scenarios", tag = "scenarios",
    responses((status = 200, body = Vec<ScenarioSummary>), (status = 503, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<ScenarioSummary>>, ApiError> {
    if !s.registry.is_ready() {
        return Err(ApiError::unavailable(
            "the server is still loading its scenarios",
        ));
    }
    let catalog = s.registry.snapshot();
    Ok(Json(
        catalog
            .scenarios
            .iter()
            .map(|(name, served)| summary(name, served))
            .collect(),
    ))
}

/// Describes one scenario: schema, heads, classes, metrics, training.
#[utoipa::path(get, path = "/v1/scenarios/{name}", tag = "scenarios",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, body = ScenarioDetail), (status = 404, body = ErrorBody)))]
pub async fn detail(
    ServedScenario { name, served }: ServedScenario,
) -> Result<Json<ScenarioDetail>, ApiError> {
    let run = &served.run;
    let to = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
    Ok(Json(ScenarioDetail {
        summary: summary(&name, &served),
        description: run.plugin.description.clone(),
        columns: run.plugin.data.columns.clone(),
        heads: to(serde_json::to_value(&run.plugin.heads)),
        classes: run.model.classes.clone(),
        threshold: run.metrics.threshold,
        metrics: to(serde_json::to_value(&run.metrics)),
        history: to(serde_json::to_value(&served.history)),
        scenario: to(serde_json::to_value(&run.scenario)),
        baselines: to(serde_json::to_value(&run.plugin.baselines)),
    }))
}

/// The JSON Schema of one input row, generated from the plugin's columns.
#[utoipa::path(get, path = "/v1/scenarios/{name}/schema", tag = "scenarios",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, description = "JSON Schema (draft 2020-12) of one row", body = Object),
              (status = 404, body = ErrorBody)))]
pub async fn schema(
    ServedScenario { name, served }: ServedScenario,
) -> Result<Json<Value>, ApiError> {
    let looked_up: Vec<String> = served
        .run
        .lookups
        .iter()
        .flat_map(|t| t.columns().iter().cloned())
        .collect();
    Ok(Json(row_schema(&name, &served.run.plugin, &looked_up)))
}

/// The served run's model card: intended use, data and digests, how it
/// was tested, metrics beside the baselines, results per group, data
/// quality, what it leans on, limitations, versions.
#[utoipa::path(get, path = "/v1/scenarios/{name}/card", tag = "scenarios",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, description = "The model card (as the run folder's model_card.json)", body = Object),
              (status = 404, body = ErrorBody)))]
pub async fn card(ServedScenario { served, .. }: ServedScenario) -> Result<Json<Value>, ApiError> {
    let card = served
        .run
        .model_card()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(serde_json::to_value(card).unwrap_or(Value::Null)))
}

/// The served run's model card as Markdown, for people and for pasting
/// into a review.
#[utoipa::path(get, path = "/v1/scenarios/{name}/card.md", tag = "scenarios",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, description = "The model card (as the run folder's model_card.md)", content_type = "text/markdown", body = String),
              (status = 404, body = ErrorBody)))]
pub async fn card_markdown(
    ServedScenario { served, .. }: ServedScenario,
) -> Result<([(axum::http::header::HeaderName, &'static str); 1], String), ApiError> {
    let card = served
        .run
        .model_card()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/markdown; charset=utf-8",
        )],
        card.markdown(),
    ))
}

/// Real rows from the run's held-out split, ready to send to predict.
#[utoipa::path(get, path = "/v1/scenarios/{name}/examples", tag = "scenarios",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, body = RowsRequest), (status = 404, body = ErrorBody)))]
pub async fn examples(
    ServedScenario { served, .. }: ServedScenario,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "rows": served.examples })))
}

/// Predicts a batch of rows; answers come back in request order.
#[utoipa::path(post, path = "/v1/scenarios/{name}/predict", tag = "inference",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    request_body = RowsRequest,
    responses((status = 200, body = PredictResponse),
              (status = 400, description = "Malformed JSON", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 413, description = "Body or row count over the limit", body = ErrorBody),
              (status = 422, description = "Rows break the schema; one detail per bad field", body = ErrorBody)))]
pub async fn predict(
    State(s): State<AppState>,
    deadline: Deadline,
    ServedScenario { name, served }: ServedScenario,
    body: DeferredJson<RowsRequest>,
) -> Result<Json<PredictResponse>, ApiError> {
    let max_rows = s.config.max_rows_per_request;
    let run = served.run.clone();
    // Parsed on the inference thread, with the rows' checks.
    let predictions = served
        .predict(
            Box::new(move || validate_rows(&run, body.parse()?.rows, max_rows)),
            &deadline,
        )
        .await?;
    Ok(respond(&s, name, &served, predictions))
}

/// Counts the answered rows and wraps them.
fn respond(
    s: &AppState,
    name: String,
    served: &Served,
    predictions: Vec<Prediction>,
) -> Json<PredictResponse> {
    s.metrics.rows(&name, predictions.len());
    Json(PredictResponse {
        scenario: name,
        run_id: served.run.folder.record.run_id.clone(),
        predictions,
    })
}

/// Predicts one image sent as the request body (the bytes of a PNG, JPEG,
/// BMP or TIFF file), for scenarios whose plugin reads one image column: a
/// scan from a device is answered without first turning it into pixel
/// arrays. It is read as grey levels and resized to the column's shape,
/// as `indus predict` reads an image file.
#[utoipa::path(post, path = "/v1/scenarios/{name}/predict/image", tag = "inference",
    params(("name" = String, Path, description = "Scenario name", example = "medical-imaging")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "The image file's bytes (PNG, JPEG, BMP or TIFF)"),
    responses((status = 200, body = PredictResponse),
              (status = 404, body = ErrorBody),
              (status = 413, description = "Body over the limit", body = ErrorBody),
              (status = 422, description = "Not a readable image, or the scenario reads no images", body = ErrorBody)))]
pub async fn predict_image(
    State(s): State<AppState>,
    deadline: Deadline,
    ServedScenario { name, served }: ServedScenario,
    body: axum::body::Bytes,
) -> Result<Json<PredictResponse>, ApiError> {
    if indus_data::image_column(&served.run.plugin).is_none() {
        return Err(ApiError::unprocessable(format!(
            "scenario `{name}` reads rows, not images (its plugin has no single `type: image` column); send rows to /v1/scenarios/{name}/predict"
        )));
    }
    if body.is_empty() {
        return Err(ApiError::unprocessable(
            "the request body is empty: send the image file's bytes",
        ));
    }
    // Weighed by the pixels its header declares before anything is
    // decoded: the uploads being decoded at once share one budget.
    let (w, h) = indus_data::image_dimensions(&body)
        .map_err(|m| ApiError::unprocessable(format!("request body: {m}")))?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > indus_data::MAX_IMAGE_PIXELS {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the image is {w} × {h} pixels, over the limit of {} pixels; scale it down first",
                indus_data::MAX_IMAGE_PIXELS
            ),
        ));
    }
    let share =
        u32::try_from(pixels.div_ceil(crate::work::PIXELS_PER_PERMIT).max(1)).unwrap_or(u32::MAX);
    let decoding = tokio::time::timeout(
        deadline.remaining(),
        s.decode_budget.clone().acquire_many_owned(share),
    )
    .await
    .map_err(|_| {
        deadline
            .check()
            .err()
            .unwrap_or_else(|| ApiError::unavailable("busy decoding other images"))
    })?
    .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
    let run = served.run.clone();
    let predictions = served
        .predict(
            Box::new(move || {
                let rows = indus_data::image_bytes_row(&run.plugin, &body, "request body")
                    .map_err(|e| ApiError::unprocessable(e.to_string()));
                drop(decoding);
                Ok(rows?.table)
            }),
            &deadline,
        )
        .await?;
    Ok(respond(&s, name, &served, predictions))
}

/// Predicts the rows of a CSV file sent as the request body: a header row
/// and one row per line, in the plugin's delimiter, encoding and decimal
/// mark, as `indus predict` reads a file. A spreadsheet export is scored
/// with one `curl --data-binary @file.csv`, without turning it into JSON.
#[utoipa::path(post, path = "/v1/scenarios/{name}/predict/csv", tag = "inference",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    request_body(content = String, content_type = "text/csv",
                 description = "A header row naming the columns, then one row per line"),
    responses((status = 200, description = "JSON as from /predict, or with `Accept: text/csv` one CSV row per input row (the table `indus predict --out file.csv` writes)",
               content((PredictResponse = "application/json"), (String = "text/csv"))),
              (status = 404, body = ErrorBody),
              (status = 413, description = "Body or row count over the limit", body = ErrorBody),
              (status = 422, description = "Not readable as CSV, or rows break the schema; one detail per bad cell", body = ErrorBody)))]
pub async fn predict_csv(
    State(s): State<AppState>,
    deadline: Deadline,
    ServedScenario { name, served }: ServedScenario,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let max_rows = s.config.max_rows_per_request;
    let run = served.run.clone();
    let predictions = served
        .predict(
            Box::new(move || csv_body_rows(&run, body, max_rows)),
            &deadline,
        )
        .await?;
    let Json(answered) = respond(&s, name, &served, predictions);
    if accepts_csv(&headers) {
        let text = indus_runtime::predictions_csv(
            &served.run.model.classes,
            served.run.model.decision.scores_are_probabilities(),
            &answered.predictions,
        );
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            text,
        )
            .into_response());
    }
    Ok(Json(answered).into_response())
}

/// Rows from a CSV request body, read as `indus predict` reads a file and
/// checked like JSON rows (not empty, within the row limit). Runs as
/// request work: parsing every cell of a large export takes a while.
fn csv_body_rows(
    run: &LoadedRun,
    body: axum::body::Bytes,
    max_rows: usize,
) -> Result<RawTable, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::unprocessable(
            "the request body is empty: send a CSV file with a header row",
        ));
    }
    let table =
        indus_data::csv_input_rows(&run.plugin, "request body", body.to_vec(), &run.lookups)?;
    if table.is_empty() {
        return Err(ApiError::unprocessable(
            "the CSV has a header and no rows: send at least one row",
        ));
    }
    within_row_limit(table.len(), max_rows)?;
    warn_undeclared(run, &table);
    Ok(table)
}

/// Whether the client asked for CSV (`Accept: text/csv`) rather than JSON.
fn accepts_csv(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| media.trim().starts_with("text/csv"))
}

/// Compares a batch of rows with the rows the served model was trained on,
/// column by column (population stability index: under 0.1 stable, from
/// 0.25 a major shift), so a monitoring job can ask before trusting the
/// answers on this month's data. Labels are not needed.
#[utoipa::path(post, path = "/v1/scenarios/{name}/drift", tag = "inference",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    request_body = RowsRequest,
    responses((status = 200, body = DriftResponse),
              (status = 400, description = "Malformed JSON", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 413, description = "Body or row count over the limit", body = ErrorBody),
              (status = 422, description = "Rows break the schema, or the run keeps no training distributions", body = ErrorBody)))]
pub async fn drift(
    State(s): State<AppState>,
    deadline: Deadline,
    ServedScenario { name, served }: ServedScenario,
    ApiJson(req): ApiJson<RowsRequest>,
) -> Result<Json<DriftResponse>, ApiError> {
    let max_rows = s.config.max_rows_per_request;
    let model = served.clone();
    let report = s
        .work
        .run(&deadline, move |_| {
            let table = validate_rows(&model.run, req.rows, max_rows)?;
            Ok(model.run.drift(&table)?)
        })
        .await?;
    Ok(drift_response(name, &served, report))
}

/// The drift of the rows of a CSV file sent as the request body (as for
/// `/predict/csv`): this month's export checked against the training rows
/// without turning it into JSON.
#[utoipa::path(post, path = "/v1/scenarios/{name}/drift/csv", tag = "inference",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    request_body(content = String, content_type = "text/csv",
                 description = "A header row naming the columns, then one row per line"),
    responses((status = 200, body = DriftResponse),
              (status = 404, body = ErrorBody),
              (status = 413, description = "Body or row count over the limit", body = ErrorBody),
              (status = 422, description = "Not readable as CSV, rows break the schema, or the run keeps no training distributions", body = ErrorBody)))]
pub async fn drift_csv(
    State(s): State<AppState>,
    deadline: Deadline,
    ServedScenario { name, served }: ServedScenario,
    body: axum::body::Bytes,
) -> Result<Json<DriftResponse>, ApiError> {
    let max_rows = s.config.max_rows_per_request;
    let model = served.clone();
    let report = s
        .work
        .run(&deadline, move |_| {
            let table = csv_body_rows(&model.run, body, max_rows)?;
            Ok(model.run.drift(&table)?)
        })
        .await?;
    Ok(drift_response(name, &served, report))
}

/// The drift report as the API returns it.
fn drift_response(
    name: String,
    served: &Served,
    report: indus_runtime::DriftReport,
) -> Json<DriftResponse> {
    Json(DriftResponse {
        scenario: name,
        run_id: served.run.folder.record.run_id.clone(),
        reference_rows: report.reference_rows,
        rows: report.rows,
        columns: report
            .columns
            .into_iter()
            .map(|c| ColumnDriftDoc {
                column: c.column,
                psi: c.psi,
                verdict: c.verdict,
                largest_change: c.largest_change,
            })
            .collect(),
    })
}

/// Explains rows with integrated gradients, per source column.
#[utoipa::path(post, path = "/v1/scenarios/{name}/explain", tag = "inference",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    request_body = ExplainRequest,
    responses((status = 200, body = ExplainResponse),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn explain(
    State(s): State<AppState>,
    deadline: Deadline,
    ServedScenario { name, served }: ServedScenario,
    ApiJson(req): ApiJson<ExplainRequest>,
) -> Result<Json<ExplainResponse>, ApiError> {
    const MAX_ROWS: usize = 256;
    let steps = req.steps.unwrap_or(64);
    if !(1..=1024).contains(&steps) {
        return Err(ApiError::unprocessable(format!(
            "steps must be between 1 and 1024, got {steps}"
        )));
    }
    // Rows × steps network evaluations are held in memory at once.
    const MAX_EVALUATIONS: usize = 16_384;
    if req.rows.len().saturating_mul(steps) > MAX_EVALUATIONS {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} rows × {steps} steps is over {MAX_EVALUATIONS} evaluations; send fewer rows or steps",
                req.rows.len()
            ),
        ));
    }
    let run = served.run.clone();
    let explanations = s
        .work
        .run(&deadline, move |_| {
            let table = validate_rows(&run, req.rows, MAX_ROWS)?;
            Ok(run.explain(&table, steps)?)
        })
        .await?;
    Ok(Json(ExplainResponse {
        scenario: name,
        run_id: served.run.folder.record.run_id.clone(),
        method: "integrated_gradients",
        steps,
        input_names: served.run.model.preprocessor.input_names(),
        explanations,
    }))
}

/// Top-k items for a user (recommendation heads only).
#[utoipa::path(post, path = "/v1/scenarios/{name}/recommend", tag = "inference",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    request_body = RecommendRequest,
    responses((status = 200, body = RecommendResponse),
              (status = 404, description = "Unknown scenario or user", body = ErrorBody),
              (status = 422, description = "The scenario has no recommendation head, or k is out of range", body = ErrorBody)))]
pub async fn recommend(
    State(s): State<AppState>,
    deadline: Deadline,
    ServedScenario { name, served }: ServedScenario,
    ApiJson(req): ApiJson<RecommendRequest>,
) -> Result<Json<RecommendResponse>, ApiError> {
    let k = req.k.unwrap_or(10);
    if !(1..=1000).contains(&k) {
        return Err(ApiError::unprocessable(format!(
            "k must be between 1 and 1000, got {k}"
        )));
    }
    let user = req.user.text();
    let run = served.run.clone();
    let who = user.clone();
    let items = s
        .work
        .run(&deadline, move |_| Ok(run.recommend(&who, k)?))
        .await?;
    Ok(Json(RecommendResponse {
        scenario: name,
        run_id: served.run.folder.record.run_id.clone(),
        excluded_seen: served.run.catalog.as_ref().map_or(0, |c| c.seen(&user)),
        user,
        items,
    }))
}

/// Checks the row count and validates every row against the plugin schema.
pub(crate) fn validate_rows(
    run: &LoadedRun,
    rows: Vec<Value>,
    max_rows: usize,
) -> Result<RawTable, ApiError> {
    if rows.is_empty() {
        return Err(ApiError::unprocessable(
            "`rows` is empty: send at least one row",
        ));
    }
    within_row_limit(rows.len(), max_rows)?;
    let numbered: Vec<(usize, Value)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i + 1, v))
        .collect();
    let table = indus_data::json_rows(&run.plugin, "request", numbered, &run.lookups)?;
    warn_undeclared(run, &table);
    Ok(table)
}

/// A 413 for a request of more rows than the server takes at once.
fn within_row_limit(rows: usize, max_rows: usize) -> Result<(), ApiError> {
    if rows > max_rows {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("{rows} rows in one request; this endpoint takes at most {max_rows}"),
        ));
    }
    Ok(())
}

/// Logs the fields of request rows that the plugin's schema does not
/// declare (under `data.extra_columns: warn`), once per plugin and set of
/// fields.
fn warn_undeclared(run: &LoadedRun, table: &RawTable) {
    if !table.undeclared_columns.is_empty()
        && first_sighting(run.plugin.name.as_str(), &table.undeclared_columns)
    {
        tracing::warn!(
            plugin = %run.plugin.name,
            fields = ?table.undeclared_columns,
            "request rows carry fields the plugin's schema does not declare; they are ignored (logged once per plugin and set of fields)"
        );
    }
}

/// Distinct (plugin, undeclared fields) pairs remembered, so that a client
/// sending the same extra fields thousands of times a second is logged
/// once; past the cap, new pairs are no longer logged.
const UNDECLARED_REMEMBERED: usize = 1024;

fn first_sighting(plugin: &str, fields: &[String]) -> bool {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    let key = format!("{plugin}\u{0}{}", fields.join("\u{0}"));
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seen.len() < UNDECLARED_REMEMBERED && seen.insert(key)
}

fn summary(name: &str, served: &Served) -> ScenarioSummary {
    let run = &served.run;
    let m = &run.metrics;
    ScenarioSummary {
        name: name.to_string(),
        plugin: run.plugin.name.to_string(),
        industry: run.plugin.industry.clone(),
        task: primary_head(&run.plugin).task.as_str().to_string(),
        status: "ready",
        run_id: run.folder.record.run_id.clone(),
        served_via: served.via.describe(),
        alias: match &served.via {
            crate::registry::ServedVia::Alias(a) => Some(a.clone()),
            _ => None,
        },
        trained_at: run.folder.record.finished_at.clone(),
        evaluation: m.evaluation.clone(),
        headline: headline(run),
        target: run.target_status().map(|s| TargetView {
            bar: s.bar,
            value: s.value,
            met: s.met,
        }),
        parameters: m.parameters,
        train_seconds: m.train_seconds,
        rows: serde_json::to_value(m.rows).unwrap_or(Value::Null),
    }
}

/// The plugin's first published baseline names the headline metric;
/// without one, accuracy.
fn headline(run: &LoadedRun) -> Headline {
    let baseline = run.plugin.baselines.first();
    let (metric, value) = run.headline();
    Headline {
        metric,
        value,
        baseline: baseline.map(|b| b.value),
        baseline_source: baseline.map(|b| b.source.clone()),
    }
}

/// JSON Schema (2020-12) of one input row: every feature column with its
/// type and constraints, required unless nullable or `looked_up` (filled
/// from a joined table by key); the id and target columns are accepted,
/// other keys ignored.
pub fn row_schema(scenario: &str, plugin: &PluginManifest, looked_up: &[String]) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for c in &plugin.data.columns {
        let mut p = match c.role {
            ColumnRole::Feature => column_schema(c),
            ColumnRole::Id => json!({"type": ["string", "integer"]}),
            ColumnRole::Target => match &c.values {
                Some(v) => json!({"enum": v}),
                None => json!({}),
            },
            _ => continue,
        };
        if let Value::Object(map) = &mut p {
            map.insert(
                "description".into(),
                Value::String(format!("{:?} column ({:?})", c.role, c.kind).to_lowercase()),
            );
        }
        if c.derived {
            continue; // computed by the plugin's native hook, never sent
        }
        if c.role == ColumnRole::Feature && !c.nullable && !looked_up.contains(&c.name) {
            required.push(Value::String(c.name.clone()));
        }
        properties.insert(c.name.clone(), p);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("{scenario} input row"),
        "type": "object",
        "properties": properties,
        "required": required,
    })
}

fn column_schema(c: &ColumnSpec) -> Value {
    let nullable = |t: &str| {
        if c.nullable {
            json!([t, "null"])
        } else {
            json!(t)
        }
    };
    let mut s = match c.kind {
        ColumnType::Number => json!({"type": nullable("number")}),
        ColumnType::Integer => json!({"type": nullable("integer")}),
        ColumnType::Boolean => json!({"type": nullable("boolean")}),
        ColumnType::Category if c.unknown_values == UnknownValues::Bucket => {
            // Any text: values outside the list share one "other" input.
            json!({"type": nullable("string"), "examples": c.values})
        }
        ColumnType::Category => {
            let mut values: Vec<Value> = c
                .values
                .iter()
                .flatten()
                .map(|v| Value::String(v.clone()))
                .collect();
            if c.nullable {
                values.push(Value::Null);
            }
            json!({"enum": values})
        }
        ColumnType::Image => {
            let pixels = c.width();
            let max = c.max_value.map_or(255.0, |m| m.get());
            return json!({
                "type": "array",
                "description": format!("{pixels} pixel values in row-major order (nested rows allowed), 0 to {max}"),
                "items": {"anyOf": [
                    {"type": "number", "minimum": 0, "maximum": max},
                    {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": max}}
                ]},
            });
        }
        ColumnType::Id => json!({"type": ["string", "integer"]}),
    };
    if let (Some([lo, hi]), Value::Object(map)) = (c.range, &mut s) {
        map.insert("minimum".into(), json!(lo));
        map.insert("maximum".into(), json!(hi));
    }
    s
}

#[cfg(test)]
mod undeclared_log_tests {
    use super::first_sighting;

    #[test]
    fn the_same_extra_fields_are_logged_once_per_plugin() {
        let fields = vec!["branch_code".to_string()];
        assert!(first_sighting("sighting-test-a", &fields));
        assert!(!first_sighting("sighting-test-a", &fields));
        assert!(first_sighting("sighting-test-b", &fields));
        let more = vec!["branch_code".to_string(), "note".to_string()];
        assert!(first_sighting("sighting-test-a", &more));
    }
}
