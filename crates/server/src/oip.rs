//! Open Inference Protocol (KServe v2) endpoints, so existing inference
//! clients (KServe's, Triton's `tritonclient`) call any scenario unchanged:
//! one input tensor per column a client sends, outputs `label`, `score` and
//! `probabilities` (plus `novelty_error` and `novelty_flagged` for a run
//! with a novelty guard), as JSON or with the binary tensor data extension
//! ([`crate::oip_binary`]).

use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::oip_binary::{self, BINARY_HEADER};
use crate::ops::readiness;
use crate::scenarios::validate_rows;
use crate::state::{AppState, ServedScenario};
use crate::work::Deadline;
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use indus_runtime::{LoadedRun, Prediction};
use indus_spec::{ColumnRole, ColumnSpec, ColumnType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

/// Liveness in the protocol's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always true while the process answers.
    pub live: bool,
}

/// Readiness in the protocol's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// True once every listed scenario is loaded.
    pub ready: bool,
}

/// A model's readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelReady {
    /// Model (scenario) name.
    pub name: String,
    /// True when it can answer.
    pub ready: bool,
}

/// What the server is and which protocol extensions it speaks.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerMetadata {
    /// `indus`.
    pub name: String,
    /// The indus version.
    pub version: String,
    /// Protocol extensions supported.
    pub extensions: Vec<String>,
}

/// A tensor's name, type and shape (`-1`: any size).
#[derive(Debug, Serialize, ToSchema)]
pub struct TensorMetadata {
    /// Tensor name (the column name for inputs).
    pub name: String,
    /// `FP32`, `INT64`, `BOOL` or `BYTES`.
    pub datatype: String,
    /// Shape; the first dimension is the batch.
    pub shape: Vec<i64>,
}

/// Model metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelMetadata {
    /// Model (scenario) name.
    pub name: String,
    /// The served run id.
    pub versions: Vec<String>,
    /// Always `indus-mlp`.
    pub platform: String,
    /// One tensor per feature column.
    pub inputs: Vec<TensorMetadata>,
    /// `label`, `score`, `probabilities`.
    pub outputs: Vec<TensorMetadata>,
}

/// One input tensor.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InferInput {
    /// The column it carries.
    pub name: String,
    /// Shape; the first dimension is the batch.
    pub shape: Vec<i64>,
    /// Declared element type.
    pub datatype: String,
    /// `binary_data_size`: the tensor's bytes follow the JSON header
    /// (binary tensor data extension) instead of `data`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// Elements in row-major order (flat or nested); absent for a binary
    /// tensor.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub data: Option<Value>,
}

/// An output the client asks for.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RequestedOutput {
    /// `label`, `score` or `probabilities`.
    pub name: String,
    /// `binary_data: true` returns this output's bytes after the JSON header.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
}

/// An inference request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InferRequest {
    /// Echoed in the response.
    pub id: Option<String>,
    /// `binary_data_output: true` returns every output as binary data.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// One tensor per input column.
    pub inputs: Vec<InferInput>,
    /// Outputs to return (all when absent).
    pub outputs: Option<Vec<RequestedOutput>>,
}

/// One output tensor.
#[derive(Debug, Serialize, ToSchema)]
pub struct InferOutput {
    /// Output name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Element type.
    pub datatype: String,
    /// `binary_data_size` when the elements follow the JSON header.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// Elements, row-major (absent when sent as binary data).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub data: Option<Value>,
}

/// An inference response.
#[derive(Debug, Serialize, ToSchema)]
pub struct InferResponse {
    /// Model (scenario) name.
    pub model_name: String,
    /// Run id that answered.
    pub model_version: String,
    /// The request's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Requested outputs.
    pub outputs: Vec<InferOutput>,
}

/// Server liveness.
#[utoipa::path(get, path = "/v2/health/live", tag = "open inference protocol",
    responses((status = 200, body = Live)))]
pub async fn live() -> Json<Live> {
    Json(Live { live: true })
}

/// Server readiness.
#[utoipa::path(get, path = "/v2/health/ready", tag = "open inference protocol",
    responses((status = 200, body = Ready), (status = 503, body = Ready)))]
pub async fn server_ready(State(s): State<AppState>) -> (StatusCode, Json<Ready>) {
    let (status, _) = readiness(&s);
    (
        status,
        Json(Ready {
            ready: status == StatusCode::OK,
        }),
    )
}

/// Server metadata: name, version and the extensions spoken.
#[utoipa::path(get, path = "/v2", tag = "open inference protocol",
    responses((status = 200, body = ServerMetadata)))]
pub async fn server_metadata() -> Json<ServerMetadata> {
    Json(ServerMetadata {
        name: "indus".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: vec!["binary_tensor_data".into()],
    })
}

/// Model readiness.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, body = ModelReady), (status = 404, body = ErrorBody)))]
pub async fn model_ready(
    ServedScenario { name, .. }: ServedScenario,
) -> Result<Json<ModelReady>, ApiError> {
    Ok(Json(ModelReady { name, ready: true }))
}

/// Readiness of one version (the served run id) of a model.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring"),
           ("version" = String, Path, description = "The served run id")),
    responses((status = 200, body = ModelReady), (status = 404, body = ErrorBody)))]
pub async fn version_ready(
    scenario: ServedScenario,
    axum::extract::Path(segments): axum::extract::Path<(String, String)>,
) -> Result<Json<ModelReady>, ApiError> {
    served_version(&scenario, &segments.1)?;
    model_ready(scenario).await
}

/// Model metadata: input tensors (one per column a client sends) and outputs.
#[utoipa::path(get, path = "/v2/models/{name}", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, body = ModelMetadata), (status = 404, body = ErrorBody)))]
pub async fn model_metadata(
    ServedScenario { name, served }: ServedScenario,
) -> Result<Json<ModelMetadata>, ApiError> {
    Ok(Json(metadata_of(name, &served.run)))
}

/// A model's metadata, for both protocols.
pub(crate) fn metadata_of(name: String, run: &LoadedRun) -> ModelMetadata {
    let inputs = client_inputs(run)
        .map(|(c, _)| TensorMetadata {
            name: c.name.clone(),
            datatype: datatype(c).to_string(),
            shape: if c.kind == ColumnType::Image {
                vec![-1, c.width() as i64]
            } else {
                vec![-1]
            },
        })
        .collect();
    let outputs = output_names(run)
        .into_iter()
        .map(|(name, datatype)| {
            let shape = if name == "probabilities" {
                vec![-1, run.model.classes.len() as i64]
            } else {
                vec![-1]
            };
            tensor(name, datatype, shape)
        })
        .collect();
    ModelMetadata {
        name,
        versions: vec![run.folder.record.run_id.clone()],
        platform: "indus-mlp".into(),
        inputs,
        outputs,
    }
}

/// Metadata of one version (the served run id) of a model.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring"),
           ("version" = String, Path, description = "The served run id")),
    responses((status = 200, body = ModelMetadata), (status = 404, body = ErrorBody)))]
pub async fn version_metadata(
    scenario: ServedScenario,
    axum::extract::Path(segments): axum::extract::Path<(String, String)>,
) -> Result<Json<ModelMetadata>, ApiError> {
    served_version(&scenario, &segments.1)?;
    model_metadata(scenario).await
}

/// Inference: tensors in, `label` / `score` / `probabilities` out, as JSON
/// (with or without a JSON content type) or with the binary tensor data
/// extension (`Inference-Header-Content-Length`).
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    request_body = InferRequest,
    responses((status = 200, body = InferResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn infer(
    State(s): State<AppState>,
    deadline: Deadline,
    ServedScenario { name, served }: ServedScenario,
    OipBody(req): OipBody,
) -> Result<Response, ApiError> {
    let (req, predictions) = predict_request(&s, &deadline, &name, &served, req).await?;
    respond(&served.run, name, req, &predictions)
}

/// The predictions for an infer request's tensors, as request work; the
/// request comes back without its inputs (its outputs and id are still
/// needed). Shared by both protocols.
pub(crate) async fn predict_request(
    s: &AppState,
    deadline: &Deadline,
    name: &str,
    served: &std::sync::Arc<crate::registry::Served>,
    mut req: InferRequest,
) -> Result<(InferRequest, Vec<Prediction>), ApiError> {
    let max_rows = s.config.max_rows_per_request;
    let run = served.run.clone();
    let inputs = std::mem::take(&mut req.inputs);
    let predictions = served
        .predict(
            Box::new(move || {
                let rows = tensors_to_rows(&run, inputs, max_rows)?;
                validate_rows(&run, rows, max_rows)
            }),
            deadline,
        )
        .await?;
    s.metrics.rows(name, predictions.len());
    Ok((req, predictions))
}

/// Inference on one version (the served run id) of a model.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring"),
           ("version" = String, Path, description = "The served run id")),
    request_body = InferRequest,
    responses((status = 200, body = InferResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn version_infer(
    state: State<AppState>,
    deadline: Deadline,
    scenario: ServedScenario,
    axum::extract::Path(segments): axum::extract::Path<(String, String)>,
    body: OipBody,
) -> Result<Response, ApiError> {
    served_version(&scenario, &segments.1)?;
    infer(state, deadline, scenario, body).await
}

/// 404 unless `version` is the run being served: asking for a version is
/// asking for exactly that model.
fn served_version(scenario: &ServedScenario, version: &str) -> Result<(), ApiError> {
    check_version(&scenario.name, &scenario.served.run, version)
}

/// 404 unless `version` names the run `run` (of model `name`).
pub(crate) fn check_version(name: &str, run: &LoadedRun, version: &str) -> Result<(), ApiError> {
    let served = &run.folder.record.run_id;
    if version == served {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("model `{name}` has no version `{version}`; the served version is `{served}`"),
    ))
}

/// The outputs a model answers with, and their datatypes.
pub(crate) fn output_names(run: &LoadedRun) -> Vec<(&'static str, &'static str)> {
    let mut names = if run.model.classes.is_empty() {
        // A regression head answers with a number only.
        vec![("value", "FP32")]
    } else if !run.model.decision.scores_are_probabilities() {
        // An autoencoder: its alarm and the reconstruction error behind it.
        vec![("label", "BYTES"), ("score", "FP32"), ("value", "FP32")]
    } else {
        vec![
            ("label", "BYTES"),
            ("score", "FP32"),
            ("probabilities", "FP32"),
        ]
    };
    if run.metrics.novelty_guard.is_some() {
        names.extend([("novelty_error", "FP32"), ("novelty_flagged", "BOOL")]);
    }
    names
}

/// 400 when a requested output is not one the model has.
pub(crate) fn check_outputs<'a>(
    run: &LoadedRun,
    requested: impl IntoIterator<Item = &'a str>,
) -> Result<(), ApiError> {
    let names = output_names(run);
    if let Some(bad) = requested
        .into_iter()
        .find(|r| !names.iter().any(|(n, _)| n == r))
    {
        return Err(ApiError::bad_request(format!(
            "unknown output `{bad}`; this model has {}",
            names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// The requested outputs of `predictions`, as JSON or, where asked, as
/// binary data after the JSON header.
fn respond(
    run: &LoadedRun,
    name: String,
    req: InferRequest,
    predictions: &[Prediction],
) -> Result<Response, ApiError> {
    let names = output_names(run);
    if let Some(list) = &req.outputs {
        check_outputs(run, list.iter().map(|r| r.name.as_str()))?;
    }
    let all_binary = flag(req.parameters.as_ref(), "binary_data_output");
    let n = predictions.len();
    let k = run.model.classes.len();
    let mut outputs = Vec::new();
    let mut binary = Vec::new();
    for (output, datatype) in names {
        let as_binary = match &req.outputs {
            None => all_binary,
            Some(list) => match list.iter().find(|r| r.name == output) {
                None => continue,
                Some(r) => all_binary || flag(r.parameters.as_ref(), "binary_data"),
            },
        };
        let (shape, values) = output_values(output, predictions, n, k);
        let (parameters, data) = if as_binary {
            let bytes = oip_binary::encode(datatype, &values);
            let mut p = Map::new();
            p.insert("binary_data_size".into(), json!(bytes.len()));
            binary.extend(bytes);
            (Some(p), None)
        } else {
            (None, Some(Value::Array(values)))
        };
        outputs.push(InferOutput {
            name: output.into(),
            shape,
            datatype: datatype.into(),
            parameters,
            data,
        });
    }
    let body = InferResponse {
        model_name: name,
        model_version: run.folder.record.run_id.clone(),
        id: req.id,
        outputs,
    };
    if binary.is_empty() {
        return Ok(Json(body).into_response());
    }
    let mut bytes = serde_json::to_vec(&body)
        .map_err(|e| ApiError::internal(format!("cannot write the response: {e}")))?;
    let header_len = bytes.len();
    bytes.extend(binary);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_string(),
            ),
            (
                axum::http::HeaderName::from_static(BINARY_HEADER),
                header_len.to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// One output's shape and elements, row-major.
pub(crate) fn output_values(
    output: &str,
    predictions: &[Prediction],
    n: usize,
    k: usize,
) -> (Vec<usize>, Vec<Value>) {
    let each = |f: &dyn Fn(&Prediction) -> Value| predictions.iter().map(f).collect();
    match output {
        "value" => (vec![n], each(&|p| json!(p.value.unwrap_or(f32::NAN)))),
        "label" => (vec![n], each(&|p| json!(p.label))),
        "score" => (vec![n], each(&|p| json!(p.score))),
        "probabilities" => (
            vec![n, k],
            predictions
                .iter()
                .flat_map(|p| p.probabilities.iter().map(|(_, v)| json!(v)))
                .collect(),
        ),
        "novelty_error" => (
            vec![n],
            each(&|p| json!(p.novelty.map_or(f32::NAN, |v| v.error))),
        ),
        _ => (
            vec![n],
            each(&|p| json!(p.novelty.is_some_and(|v| v.flagged))),
        ),
    }
}

/// Whether a protocol parameter is set to true.
fn flag(parameters: Option<&Map<String, Value>>, key: &str) -> bool {
    parameters
        .and_then(|p| p.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// An infer body as the protocol's clients send it: JSON whatever the
/// content type (`tritonclient` sends none), or a JSON header of
/// `Inference-Header-Content-Length` bytes followed by the binary tensors,
/// which are decoded into the inputs' `data` here.
pub struct OipBody(pub InferRequest);

impl FromRequest<AppState> for OipBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let header_len = req
            .headers()
            .get(BINARY_HEADER)
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|t| t.trim().parse::<usize>().ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "{BINARY_HEADER} must be a whole number of bytes"
                        ))
                    })
            })
            .transpose()?;
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    crate::state::body_too_large(state)
                } else {
                    ApiError::new(e.status(), e.body_text())
                }
            })?;
        let (json_part, tail) = match header_len {
            Some(n) if n > body.len() => {
                return Err(ApiError::bad_request(format!(
                    "{BINARY_HEADER} is {n} but the body has only {} bytes",
                    body.len()
                )));
            }
            Some(n) => body.split_at(n),
            None => (&body[..], &[][..]),
        };
        let mut request: InferRequest = serde_json::from_slice(json_part).map_err(|e| {
            if e.is_data() {
                ApiError::unprocessable(format!("unexpected JSON: {e}"))
            } else {
                ApiError::bad_request(format!("malformed JSON: {e}"))
            }
        })?;
        oip_binary::attach_inputs(&mut request.inputs, tail)?;
        Ok(OipBody(request))
    }
}

fn tensor(name: &str, datatype: &str, shape: Vec<i64>) -> TensorMetadata {
    TensorMetadata {
        name: name.into(),
        datatype: datatype.into(),
        shape,
    }
}

/// The columns a client sends, each with whether it may be left out:
/// feature columns, except those the plugin's native hook derives (never
/// asked of a client); a nullable column, or one a lookup table fills in
/// by key, is optional.
fn client_inputs(run: &LoadedRun) -> impl Iterator<Item = (&ColumnSpec, bool)> {
    let looked_up: Vec<&String> = run.lookups.iter().flat_map(|t| t.columns()).collect();
    run.plugin
        .data
        .columns
        .iter()
        .filter(|c| c.role == ColumnRole::Feature && !c.derived)
        .map(move |c| (c, c.nullable || looked_up.contains(&&c.name)))
}

fn datatype(c: &ColumnSpec) -> &'static str {
    match c.kind {
        ColumnType::Number | ColumnType::Image => "FP32",
        ColumnType::Integer => "INT64",
        ColumnType::Boolean => "BOOL",
        ColumnType::Category | ColumnType::Id => "BYTES",
    }
}

/// Regroups column tensors into row objects, so both protocols share one
/// validation path. Each problem names the tensor.
fn tensors_to_rows(
    run: &LoadedRun,
    inputs: Vec<InferInput>,
    max_rows: usize,
) -> Result<Vec<Value>, ApiError> {
    let columns: Vec<(&ColumnSpec, bool)> = client_inputs(run).collect();
    columns_to_rows(&columns, inputs, max_rows)
}

/// [`tensors_to_rows`] for the columns a client sends.
fn columns_to_rows(
    columns: &[(&ColumnSpec, bool)],
    inputs: Vec<InferInput>,
    max_rows: usize,
) -> Result<Vec<Value>, ApiError> {
    let mut details = Vec::new();
    let mut problem = |field: &str, message: String| {
        details.push(ErrorDetail {
            row: None,
            field: Some(field.to_string()),
            message,
        })
    };
    let known: Vec<&str> = columns.iter().map(|(c, _)| c.name.as_str()).collect();
    for i in &inputs {
        if !known.contains(&i.name.as_str()) {
            problem(
                &i.name,
                format!("not an input of this model; inputs: {}", known.join(", ")),
            );
        }
    }
    let mut rows: Option<usize> = None;
    let mut by_column = Vec::new();
    for &(c, optional) in columns {
        let Some(input) = inputs.iter().find(|i| i.name == c.name) else {
            if !optional {
                problem(&c.name, "missing input tensor".into());
            }
            continue;
        };
        let expected = datatype(c);
        let fits = match expected {
            "BYTES" => input.datatype == "BYTES",
            "BOOL" => {
                ["BOOL", "INT8", "INT32", "INT64", "UINT8"].contains(&input.datatype.as_str())
            }
            _ => NUMERIC.contains(&input.datatype.as_str()),
        };
        if !fits {
            problem(
                &c.name,
                format!(
                    "datatype {} does not fit this column; send {expected}",
                    input.datatype
                ),
            );
            continue;
        }
        let width = if c.kind == ColumnType::Image {
            c.width()
        } else {
            1
        };
        // Checked: a client's shape is any list of numbers.
        let declared = input
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| usize::try_from(d).ok()?.checked_mul(acc));
        let n = input.shape.first().copied().unwrap_or(0);
        let Some(declared) = declared else {
            problem(
                &c.name,
                format!(
                    "shape {:?} is not a list of non-negative sizes whose product fits in memory",
                    input.shape
                ),
            );
            continue;
        };
        if usize::try_from(n).is_ok_and(|n| n > max_rows) {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a batch of {n} rows; this endpoint takes at most {max_rows}"),
            ));
        }
        let mut flat = Vec::new();
        if let Some(data) = &input.data {
            flatten(data, &mut flat);
        }
        if n <= 0 || declared != flat.len() || flat.len() != n as usize * width {
            problem(
                &c.name,
                format!(
                    "shape {:?} with {} elements does not fit [{}{}]",
                    input.shape,
                    flat.len(),
                    if n > 0 { n.to_string() } else { "N".into() },
                    if width > 1 {
                        format!(", {width}")
                    } else {
                        String::new()
                    }
                ),
            );
            continue;
        }
        match rows {
            Some(r) if r != n as usize => {
                problem(
                    &c.name,
                    format!("batch size {n} differs from the other inputs' {r}"),
                );
                continue;
            }
            _ => rows = Some(n as usize),
        }
        by_column.push((c, width, flat));
    }
    if !details.is_empty() {
        return Err(
            ApiError::unprocessable("the input tensors do not match the model")
                .with_details(details),
        );
    }
    let n = rows.unwrap_or(0);
    let mut out: Vec<Map<String, Value>> = vec![Map::new(); n];
    for (c, width, flat) in by_column {
        for (r, row) in out.iter_mut().enumerate() {
            let value = if width == 1 {
                flat[r].clone()
            } else {
                Value::Array(flat[r * width..(r + 1) * width].to_vec())
            };
            row.insert(c.name.clone(), value);
        }
    }
    Ok(out.into_iter().map(Value::Object).collect())
}

/// Protocol datatypes a numeric column accepts.
const NUMERIC: [&str; 11] = [
    "FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32",
    "UINT64",
];

fn flatten(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<ColumnSpec> {
        let p = indus_spec::parse_plugin(
            std::path::Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: amount, type: number, role: feature}\n    - {name: kind, type: category, role: feature, values: [a, b]}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y, classes: [good, bad]}\n",
        )
        .unwrap();
        p.data.columns
    }

    fn rows(inputs: Vec<InferInput>) -> Result<Vec<Value>, ApiError> {
        let columns = columns();
        let sent: Vec<(&ColumnSpec, bool)> = columns
            .iter()
            .filter(|c| c.role == ColumnRole::Feature)
            .map(|c| (c, false))
            .collect();
        columns_to_rows(&sent, inputs, 100)
    }

    fn input(name: &str, shape: Vec<i64>, data: Value) -> InferInput {
        InferInput {
            name: name.into(),
            shape,
            datatype: if data
                .as_array()
                .is_some_and(|a| a.iter().any(Value::is_string))
            {
                "BYTES".into()
            } else {
                "FP32".into()
            },
            parameters: None,
            data: Some(data),
        }
    }

    #[test]
    fn column_tensors_become_rows() {
        let rows = rows(vec![
            input("amount", vec![2], json!([1.5, 2.5])),
            input("kind", vec![2], json!(["a", "b"])),
        ])
        .unwrap();
        assert_eq!(
            rows,
            vec![
                json!({"amount": 1.5, "kind": "a"}),
                json!({"amount": 2.5, "kind": "b"})
            ]
        );
    }

    #[test]
    fn every_tensor_problem_is_named() {
        let err = rows(vec![
            input("amount", vec![3], json!([1, 2])),
            input("colour", vec![1], json!([1])),
        ])
        .unwrap_err();
        let fields: Vec<_> = err
            .body
            .details
            .iter()
            .map(|d| d.field.clone().unwrap())
            .collect();
        assert_eq!(fields, vec!["colour", "amount", "kind"]);
    }

    #[test]
    fn a_shape_whose_product_overflows_is_refused_not_wrapped() {
        let err = rows(vec![
            input("amount", vec![1_152_921_504_606_846_977, 784], json!([0.0])),
            input("kind", vec![1], json!(["a"])),
        ])
        .unwrap_err();
        assert!(err.body.details[0].message.contains("product"), "{err:?}");
        let err = rows(vec![
            input("amount", vec![-1, -1], json!([0.0])),
            input("kind", vec![1], json!(["a"])),
        ])
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        let err = rows(vec![
            input("amount", vec![1000], json!([0.0])),
            input("kind", vec![1], json!(["a"])),
        ])
        .unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
