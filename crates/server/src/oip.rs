//! Open Inference Protocol (KServe v2) endpoints, so existing inference
//! clients can call any scenario: one input tensor per feature column,
//! outputs `label`, `score` and `probabilities` (plus `novelty_error` and
//! `novelty_flagged` for a run with a novelty guard).

use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::ops::readiness;
use crate::scenarios::{predict_table, validate_rows};
use crate::state::{ApiJson, AppState, ServedScenario};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use indus_runtime::Prediction;
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
    /// Elements in row-major order (flat or nested).
    #[schema(value_type = Vec<Object>)]
    pub data: Value,
}

/// An output the client asks for.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RequestedOutput {
    /// `label`, `score` or `probabilities`.
    pub name: String,
}

/// An inference request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InferRequest {
    /// Echoed in the response.
    pub id: Option<String>,
    /// One tensor per feature column.
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
    /// Elements, row-major.
    #[schema(value_type = Vec<Object>)]
    pub data: Value,
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

/// Model readiness.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, body = ModelReady), (status = 404, body = ErrorBody)))]
pub async fn model_ready(
    ServedScenario { name, .. }: ServedScenario,
) -> Result<Json<ModelReady>, ApiError> {
    Ok(Json(ModelReady { name, ready: true }))
}

/// Model metadata: input tensors (one per feature column) and outputs.
#[utoipa::path(get, path = "/v2/models/{name}", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    responses((status = 200, body = ModelMetadata), (status = 404, body = ErrorBody)))]
pub async fn model_metadata(
    ServedScenario { name, served }: ServedScenario,
) -> Result<Json<ModelMetadata>, ApiError> {
    let run = &served.run;
    let inputs = features(&run.plugin.data.columns)
        .map(|c| TensorMetadata {
            name: c.name.clone(),
            datatype: datatype(c).to_string(),
            shape: if c.kind == ColumnType::Image {
                vec![-1, c.width() as i64]
            } else {
                vec![-1]
            },
        })
        .collect();
    let k = run.model.classes.len() as i64;
    let mut outputs = if k == 0 {
        // A regression head answers with a number only.
        vec![tensor("value", "FP32", vec![-1])]
    } else {
        vec![
            tensor("label", "BYTES", vec![-1]),
            tensor("score", "FP32", vec![-1]),
            tensor("probabilities", "FP32", vec![-1, k]),
        ]
    };
    if run.metrics.novelty_guard.is_some() {
        outputs.push(tensor("novelty_error", "FP32", vec![-1]));
        outputs.push(tensor("novelty_flagged", "BOOL", vec![-1]));
    }
    Ok(Json(ModelMetadata {
        name,
        versions: vec![run.folder.record.run_id.clone()],
        platform: "indus-mlp".into(),
        inputs,
        outputs,
    }))
}

/// Inference: tensors in, `label` / `score` / `probabilities` out.
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "open inference protocol",
    params(("name" = String, Path, description = "Scenario name", example = "credit-scoring")),
    request_body = InferRequest,
    responses((status = 200, body = InferResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn infer(
    State(s): State<AppState>,
    ServedScenario { name, served }: ServedScenario,
    ApiJson(req): ApiJson<InferRequest>,
) -> Result<Json<InferResponse>, ApiError> {
    let run = &served.run;
    let rows = tensors_to_rows(&run.plugin.data.columns, req.inputs)?;
    let table = validate_rows(run, rows, s.config.max_rows_per_request)?;
    let predictions = predict_table(&served, &table).await?;
    s.metrics.rows(&name, predictions.len());
    let n = predictions.len();
    let k = run.model.classes.len();
    let wanted = |o: &str| {
        req.outputs
            .as_ref()
            .is_none_or(|list| list.iter().any(|r| r.name == o))
    };
    let mut names: Vec<&str> = if k == 0 {
        vec!["value"]
    } else {
        vec!["label", "score", "probabilities"]
    };
    if run.metrics.novelty_guard.is_some() {
        names.extend(["novelty_error", "novelty_flagged"]);
    }
    if let Some(list) = &req.outputs
        && let Some(bad) = list.iter().find(|r| !names.contains(&r.name.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown output `{}`; this model has {}",
            bad.name,
            names.join(", ")
        )));
    }
    let wanted = |o: &str| names.contains(&o) && wanted(o);
    let mut outputs = Vec::new();
    let mut add = |name: &str, datatype: &str, shape: Vec<usize>, data: Value| {
        if wanted(name) {
            outputs.push(InferOutput {
                name: name.into(),
                shape,
                datatype: datatype.into(),
                data,
            });
        }
    };
    let each = |f: fn(&Prediction) -> Value| Value::Array(predictions.iter().map(f).collect());
    add(
        "value",
        "FP32",
        vec![n],
        each(|p| json!(p.value.unwrap_or(f32::NAN))),
    );
    add("label", "BYTES", vec![n], each(|p| json!(p.label)));
    add("score", "FP32", vec![n], each(|p| json!(p.score)));
    let flat: Vec<f32> = predictions
        .iter()
        .flat_map(|p| p.probabilities.iter().map(|(_, v)| *v))
        .collect();
    add("probabilities", "FP32", vec![n, k], json!(flat));
    add(
        "novelty_error",
        "FP32",
        vec![n],
        each(|p| json!(p.novelty.map_or(f32::NAN, |v| v.error))),
    );
    add(
        "novelty_flagged",
        "BOOL",
        vec![n],
        each(|p| json!(p.novelty.is_some_and(|v| v.flagged))),
    );
    Ok(Json(InferResponse {
        model_name: name,
        model_version: run.folder.record.run_id.clone(),
        id: req.id,
        outputs,
    }))
}

fn tensor(name: &str, datatype: &str, shape: Vec<i64>) -> TensorMetadata {
    TensorMetadata {
        name: name.into(),
        datatype: datatype.into(),
        shape,
    }
}

fn features(columns: &[ColumnSpec]) -> impl Iterator<Item = &ColumnSpec> {
    columns.iter().filter(|c| c.role == ColumnRole::Feature)
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
    columns: &[ColumnSpec],
    inputs: Vec<InferInput>,
) -> Result<Vec<Value>, ApiError> {
    let mut details = Vec::new();
    let mut problem = |field: &str, message: String| {
        details.push(ErrorDetail {
            row: None,
            field: Some(field.to_string()),
            message,
        })
    };
    let known: Vec<&str> = features(columns).map(|c| c.name.as_str()).collect();
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
    for c in features(columns) {
        let Some(input) = inputs.iter().find(|i| i.name == c.name) else {
            problem(&c.name, "missing input tensor".into());
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
        let mut flat = Vec::new();
        flatten(&input.data, &mut flat);
        let width = if c.kind == ColumnType::Image {
            c.width()
        } else {
            1
        };
        let declared: i64 = input.shape.iter().product();
        let n = input.shape.first().copied().unwrap_or(0);
        if n <= 0 || declared != flat.len() as i64 || flat.len() != n as usize * width {
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
            data,
        }
    }

    #[test]
    fn column_tensors_become_rows() {
        let rows = tensors_to_rows(
            &columns(),
            vec![
                input("amount", vec![2], json!([1.5, 2.5])),
                input("kind", vec![2], json!(["a", "b"])),
            ],
        )
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
        let err = tensors_to_rows(
            &columns(),
            vec![
                input("amount", vec![3], json!([1, 2])),
                input("colour", vec![1], json!([1])),
            ],
        )
        .unwrap_err();
        let fields: Vec<_> = err
            .body
            .details
            .iter()
            .map(|d| d.field.clone().unwrap())
            .collect();
        assert_eq!(fields, vec!["colour", "amount", "kind"]);
    }
}
