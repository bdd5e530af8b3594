//! The Open Inference Protocol's gRPC service (`inference.GRPCInferenceService`)
//! on a second port: ServerLive, ServerReady, ServerMetadata, ModelReady,
//! ModelMetadata and ModelInfer, answered by the same code as the HTTP
//! routes (the same served runs, the same validation, the same request-work
//! pool and deadline), so a gRPC client gets exactly `/v1/.../predict`'s
//! answers. Outputs travel as `raw_output_contents`, as Triton sends them.

use crate::error::ApiError;
use crate::grpc_messages as pb;
use crate::oip::{self, InferInput, InferRequest, RequestedOutput};
use crate::oip_binary;
use crate::state::AppState;
use crate::work::Deadline;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::{Code, Status};

/// The service, over the server's shared state.
#[derive(Clone)]
pub struct InferenceService {
    state: AppState,
}

impl InferenceService {
    /// The service answering for `state`'s served scenarios.
    pub fn new(state: AppState) -> InferenceService {
        InferenceService { state }
    }
}

impl tonic::server::NamedService for InferenceService {
    const NAME: &'static str = "inference.GRPCInferenceService";
}

type Answer = Pin<Box<dyn Future<Output = Result<axum::http::Response<Body>, Infallible>> + Send>>;

impl tower::Service<axum::http::Request<Body>> for InferenceService {
    type Response = axum::http::Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<Body>) -> Answer {
        let s = self.state.clone();
        Box::pin(async move {
            let method = req
                .uri()
                .path()
                .strip_prefix("/inference.GRPCInferenceService/")
                .unwrap_or_default()
                .to_string();
            let limit = s.config.max_body_bytes;
            let minimal = s.config.error_detail == crate::config::ErrorVerbosity::Minimal;
            Ok(match method.as_str() {
                "ServerLive" => {
                    unary(req, limit, minimal, |_: pb::ServerLiveRequest| async {
                        Ok(pb::ServerLiveResponse { live: true })
                    })
                    .await
                }
                "ServerReady" => {
                    let ready = s.registry.is_ready();
                    unary(
                        req,
                        limit,
                        minimal,
                        move |_: pb::ServerReadyRequest| async move {
                            Ok(pb::ServerReadyResponse { ready })
                        },
                    )
                    .await
                }
                "ServerMetadata" => {
                    unary(req, limit, minimal, |_: pb::ServerMetadataRequest| async {
                        let m = oip::server_metadata().await.0;
                        Ok(pb::ServerMetadataResponse {
                            name: m.name,
                            version: m.version,
                            extensions: m.extensions,
                        })
                    })
                    .await
                }
                "ModelReady" => {
                    unary(
                        req,
                        limit,
                        minimal,
                        move |r: pb::ModelReadyRequest| async move {
                            served(&s, &r.name, &r.version)?;
                            Ok(pb::ModelReadyResponse { ready: true })
                        },
                    )
                    .await
                }
                "ModelMetadata" => {
                    unary(
                        req,
                        limit,
                        minimal,
                        move |r: pb::ModelMetadataRequest| async move {
                            let served = served(&s, &r.name, &r.version)?;
                            Ok(metadata(oip::metadata_of(r.name, &served.run)))
                        },
                    )
                    .await
                }
                "ModelInfer" => unary(req, limit, minimal, move |r| model_infer(s, r)).await,
                other => Status::unimplemented(format!(
                    "`{other}` is not a call of inference.GRPCInferenceService here"
                ))
                .into_http(),
            })
        })
    }
}

/// Decodes one request message (at most `limit` bytes), runs `f`, encodes
/// its answer; with `minimal` (`--error-detail minimal`) a refusal keeps
/// its code and says nothing more.
async fn unary<Req, Res, F, Fut>(
    req: axum::http::Request<Body>,
    limit: usize,
    minimal: bool,
    f: F,
) -> axum::http::Response<Body>
where
    Req: prost::Message + Default + Send + 'static,
    Res: prost::Message + Send + 'static,
    F: FnOnce(Req) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Res, Status>> + Send + 'static,
{
    let service = tower::service_fn(move |r: tonic::Request<Req>| {
        let f = f.clone();
        async move {
            f(r.into_inner())
                .await
                .map(tonic::Response::new)
                .map_err(|e| if minimal { minimal_status(e) } else { e })
        }
    });
    tonic::server::Grpc::new(tonic_prost::ProstCodec::<Res, Req>::default())
        .max_decoding_message_size(limit)
        .unary(service, req)
        .await
}

/// The served scenario `name` (and `version`, when given).
fn served(
    s: &AppState,
    name: &str,
    version: &str,
) -> Result<std::sync::Arc<crate::registry::Served>, Status> {
    let served = s.served(name).map_err(status)?;
    if !version.is_empty() {
        oip::check_version(name, &served.run, version).map_err(status)?;
    }
    Ok(served)
}

/// A refusal as `--error-detail minimal` answers it: the code and its
/// name, no field, column or scenario; a server fault keeps its message
/// (it names no input).
fn minimal_status(e: Status) -> Status {
    match e.code() {
        Code::Internal => e,
        code => Status::new(code, code.description()),
    }
}

/// An API error as the gRPC status a client expects for it.
fn status(e: ApiError) -> Status {
    let code = match e.status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Code::InvalidArgument,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::REQUEST_TIMEOUT => Code::DeadlineExceeded,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        _ => Code::Internal,
    };
    let details: Vec<String> = e
        .body
        .details
        .iter()
        .map(|d| match (&d.field, d.row) {
            (Some(f), Some(r)) => format!("row {r}, `{f}`: {}", d.message),
            (Some(f), None) => format!("`{f}`: {}", d.message),
            _ => d.message.clone(),
        })
        .collect();
    let message = if details.is_empty() {
        e.body.error
    } else {
        format!("{} ({})", e.body.error, details.join("; "))
    };
    Status::new(code, message)
}

fn metadata(m: oip::ModelMetadata) -> pb::ModelMetadataResponse {
    let tensors = |list: Vec<oip::TensorMetadata>| {
        list.into_iter()
            .map(|t| pb::TensorMetadata {
                name: t.name,
                datatype: t.datatype,
                shape: t.shape,
            })
            .collect()
    };
    pb::ModelMetadataResponse {
        name: m.name,
        versions: m.versions,
        platform: m.platform,
        inputs: tensors(m.inputs),
        outputs: tensors(m.outputs),
    }
}

/// ModelInfer: the tensors become the HTTP protocol's request, are
/// answered by the same request work, and the outputs go back raw.
async fn model_infer(
    s: AppState,
    r: pb::ModelInferRequest,
) -> Result<pb::ModelInferResponse, Status> {
    let scenario = served(&s, &r.model_name, &r.model_version)?;
    let run = &scenario.run;
    let requested: Vec<String> = r.outputs.iter().map(|o| o.name.clone()).collect();
    oip::check_outputs(run, requested.iter().map(String::as_str)).map_err(status)?;
    let request = InferRequest {
        id: (!r.id.is_empty()).then(|| r.id.clone()),
        parameters: None,
        inputs: inputs(&r).map_err(Status::invalid_argument)?,
        outputs: (!requested.is_empty()).then(|| {
            requested
                .iter()
                .map(|name| RequestedOutput {
                    name: name.clone(),
                    parameters: None,
                })
                .collect()
        }),
    };
    // Dropped with this future (a client's deadline, a disconnect): the
    // request's work then stops at its next check.
    let (deadline, _abandon_when_dropped) = Deadline::after(s.config.request_timeout);
    let (_, predictions) = oip::predict_request(&s, &deadline, &r.model_name, &scenario, request)
        .await
        .map_err(status)?;
    let n = predictions.len();
    let k = run.model.classes.len();
    let mut outputs = Vec::new();
    let mut raw = Vec::new();
    for (name, datatype) in oip::output_names(run) {
        if !requested.is_empty() && !requested.iter().any(|o| o == name) {
            continue;
        }
        let (shape, values) = oip::output_values(name, &predictions, n, k);
        raw.push(oip_binary::encode(datatype, &values));
        outputs.push(pb::InferOutputTensor {
            name: name.to_string(),
            datatype: datatype.to_string(),
            shape: shape.into_iter().map(|d| d as i64).collect(),
            parameters: Default::default(),
            contents: None,
        });
    }
    Ok(pb::ModelInferResponse {
        model_name: r.model_name.clone(),
        model_version: run.folder.record.run_id.clone(),
        id: r.id.clone(),
        parameters: Default::default(),
        outputs,
        raw_output_contents: raw,
    })
}

/// The request's input tensors with their elements as JSON values, from
/// `raw_input_contents` (one entry per input, in order) or each input's
/// typed `contents`.
fn inputs(r: &pb::ModelInferRequest) -> Result<Vec<InferInput>, String> {
    if !r.raw_input_contents.is_empty() && r.raw_input_contents.len() != r.inputs.len() {
        return Err(format!(
            "{} raw_input_contents for {} inputs; send one per input",
            r.raw_input_contents.len(),
            r.inputs.len()
        ));
    }
    r.inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let values = match r.raw_input_contents.get(i) {
                Some(bytes) => oip_binary::decode(&t.datatype, bytes)
                    .map_err(|m| format!("input `{}`: {m}", t.name))?,
                None => typed_contents(t),
            };
            Ok(InferInput {
                name: t.name.clone(),
                shape: t.shape.clone(),
                datatype: t.datatype.clone(),
                parameters: None,
                data: Some(Value::Array(values)),
            })
        })
        .collect()
}

/// A tensor's typed `contents` as JSON values (whichever field is filled).
fn typed_contents(t: &pb::InferInputTensor) -> Vec<Value> {
    let Some(c) = &t.contents else {
        return Vec::new();
    };
    let mut out: Vec<Value> = Vec::new();
    out.extend(c.bool_contents.iter().map(|v| json!(v)));
    out.extend(c.int_contents.iter().map(|v| json!(v)));
    out.extend(c.int64_contents.iter().map(|v| json!(v)));
    out.extend(c.uint_contents.iter().map(|v| json!(v)));
    out.extend(c.uint64_contents.iter().map(|v| json!(v)));
    out.extend(c.fp32_contents.iter().map(|v| json!(v)));
    out.extend(c.fp64_contents.iter().map(|v| json!(v)));
    out.extend(
        c.bytes_contents
            .iter()
            .map(|b| Value::String(String::from_utf8_lossy(b).into_owned())),
    );
    out
}

/// Serves the gRPC service on `listener` until `stop` is set, with the
/// server's request timeout on every call and a bound on streams per
/// connection.
pub async fn serve_grpc(
    state: AppState,
    listener: tokio::net::TcpListener,
    mut stop: tokio::sync::watch::Receiver<Option<String>>,
) -> Result<(), tonic::transport::Error> {
    let timeout = state.config.request_timeout;
    tonic::transport::Server::builder()
        .timeout(timeout)
        .max_concurrent_streams(Some(256))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .add_service(InferenceService::new(state))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async move {
                let _ = stop.wait_for(Option::is_some).await;
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_typed_inputs_become_json_tensors() {
        let tensor = |name: &str, datatype: &str, contents| pb::InferInputTensor {
            name: name.into(),
            datatype: datatype.into(),
            shape: vec![2],
            parameters: Default::default(),
            contents,
        };
        let typed = pb::ModelInferRequest {
            inputs: vec![tensor(
                "amount",
                "FP32",
                Some(pb::InferTensorContents {
                    fp32_contents: vec![1.5, 2.0],
                    ..Default::default()
                }),
            )],
            ..Default::default()
        };
        assert_eq!(inputs(&typed).unwrap()[0].data, Some(json!([1.5, 2.0])));
        let raw = pb::ModelInferRequest {
            inputs: vec![tensor("kind", "BYTES", None)],
            raw_input_contents: vec![oip_binary::encode("BYTES", &[json!("a"), json!("b")])],
            ..Default::default()
        };
        assert_eq!(inputs(&raw).unwrap()[0].data, Some(json!(["a", "b"])));
        let uneven = pb::ModelInferRequest {
            inputs: vec![tensor("a", "FP32", None), tensor("b", "FP32", None)],
            raw_input_contents: vec![vec![0; 4]],
            ..Default::default()
        };
        assert!(inputs(&uneven).unwrap_err().contains("one per input"));
    }

    #[test]
    fn errors_keep_their_meaning_as_grpc_codes() {
        let s = status(ApiError::unknown_scenario("nope"));
        assert_eq!(s.code(), Code::NotFound);
        assert!(s.message().contains("nope"));
        assert_eq!(
            status(ApiError::unprocessable("bad")).code(),
            Code::InvalidArgument
        );
        // Under --error-detail minimal: the code, nothing of the request.
        let detailed = status(
            ApiError::unprocessable("row 1 is invalid").with_details(vec![
                crate::error::ErrorDetail {
                    row: Some(1),
                    field: Some("salary".into()),
                    message: "not a number".into(),
                },
            ]),
        );
        assert!(detailed.message().contains("salary"));
        let minimal = minimal_status(detailed);
        assert_eq!(minimal.code(), Code::InvalidArgument);
        assert!(!minimal.message().contains("salary") && !minimal.message().contains("row"));
        let hidden = minimal_status(status(ApiError::unknown_scenario("secret-scenario")));
        assert_eq!(hidden.code(), Code::NotFound);
        assert!(!hidden.message().contains("secret"), "{}", hidden.message());
    }
}
