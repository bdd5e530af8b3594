//! What every handler shares, and the extractors that turn a request into
//! checked inputs or a JSON error.

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::registry::{Registry, Served};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Shared server state.
pub struct Shared {
    /// Settings.
    pub config: ServerConfig,
    /// Served scenarios.
    pub registry: Registry,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Training jobs.
    pub jobs: Jobs,
    /// Where request work runs (never on the async threads).
    pub work: crate::work::WorkPool,
    /// Pixels of image uploads being decoded at once ([`crate::work::decode_budget`]).
    pub decode_budget: Arc<tokio::sync::Semaphore>,
}

/// The state as handlers receive it.
pub type AppState = Arc<Shared>;

impl Shared {
    /// The served scenario `name`: 503 while loading, 404 when unknown.
    pub fn served(&self, name: &str) -> Result<Arc<Served>, ApiError> {
        if !self.registry.is_ready() {
            return Err(ApiError::unavailable(
                "the server is still loading its scenarios",
            ));
        }
        self.registry
            .snapshot()
            .scenarios
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::unknown_scenario(name))
    }
}

/// A JSON body whose every rejection is an [`ApiError`]: 400 for malformed
/// JSON, 413 for a body over the limit, 415 without a JSON content type,
/// 422 for JSON of the wrong shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        DeferredJson::<T>::from_request(req, state)
            .await?
            .parse()
            .map(ApiJson)
    }
}

/// A JSON body read but not yet parsed: the bytes are collected on the
/// async thread (within the body limit) and turned into `T` by
/// [`DeferredJson::parse`] where the work is done (a predict's inference
/// thread), so a large body never holds an async thread while it is
/// deserialized. Rejections are those of [`ApiJson`].
pub struct DeferredJson<T> {
    bytes: axum::body::Bytes,
    _shape: std::marker::PhantomData<fn() -> T>,
}

impl<T> FromRequest<AppState> for DeferredJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    body_too_large(state)
                } else {
                    ApiError::new(rejection.status(), rejection.body_text())
                }
            })?;
        Ok(DeferredJson {
            bytes,
            _shape: std::marker::PhantomData,
        })
    }
}

impl<T: DeserializeOwned> DeferredJson<T> {
    /// The body as `T`: 400 for malformed JSON, 422 for JSON of the wrong
    /// shape (naming where, as [`ApiJson`] does).
    pub fn parse(self) -> Result<T, ApiError> {
        let mut de = serde_json::Deserializer::from_slice(&self.bytes);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            let shown = if at == "." || at.is_empty() {
                inner.to_string()
            } else {
                format!("{at}: {inner}")
            };
            match inner.classify() {
                serde_json::error::Category::Data => {
                    ApiError::unprocessable(format!("unexpected JSON: {shown}"))
                }
                _ => ApiError::bad_request(format!("malformed JSON: {shown}")),
            }
        })?;
        de.end()
            .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
        Ok(value)
    }
}

/// The 413 for a body over the configured limit.
pub fn body_too_large(state: &AppState) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than this server's limit of {} bytes",
            state.config.max_body_bytes
        ),
    )
}

/// The scenario a route's `{name}` segment names, looked up among the
/// served ones: 503 while the server is loading, 404 when nothing of that
/// name is served. Handlers take it instead of a raw path and a lookup of
/// their own, so every route answers an unknown name alike.
pub struct ServedScenario {
    /// The name as the request gave it.
    pub name: String,
    /// What is served under it.
    pub served: Arc<Served>,
}

impl FromRequestParts<AppState> for ServedScenario {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // By key, so routes with more segments (`/versions/{version}`)
        // share the extractor.
        let axum::extract::Path(segments) = axum::extract::Path::<
            std::collections::BTreeMap<String, String>,
        >::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let name = segments
            .get("name")
            .cloned()
            .ok_or_else(|| ApiError::internal("this route names no scenario"))?;
        let served = state.served(&name)?;
        Ok(ServedScenario { name, served })
    }
}

/// Proof that the caller may change what is served: present only when the
/// request carries `Authorization: Bearer <token>`, or the server has no
/// token and was started with `--open-admin`.
pub struct Authorized {
    /// Who, for the alias history: the caller as the server knows it.
    pub by: String,
}

impl FromRequestParts<AppState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.config.read_only {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this server is read-only (--read-only): training, promotion and reload are off; promote with `indus promote` where the runs are written",
            ));
        }
        let Some(token) = &state.config.token else {
            if state.config.open_admin {
                return Ok(Authorized {
                    by: "api (open admin)".into(),
                });
            }
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "training, promotion, reload and cancel are off: start the server with --token (or --open-admin on a trusted network)",
            ));
        };
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_credentials);
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(Authorized {
                by: "api (bearer token)".into(),
            }),
            Some(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "the bearer token is wrong",
            )),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this endpoint needs `Authorization: Bearer <token>` (the server's --token)",
            )),
        }
    }
}

/// The credentials of a `Bearer` authorization; the scheme name is
/// case-insensitive (RFC 7235), so `bearer x` is read as `Bearer x`.
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_start())
}

/// Compares without an early exit, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(super::bearer_credentials("Bearer abc"), Some("abc"));
        assert_eq!(super::bearer_credentials("bearer abc"), Some("abc"));
        assert_eq!(super::bearer_credentials("BEARER  abc"), Some("abc"));
        assert_eq!(super::bearer_credentials("Basic abc"), None);
        assert_eq!(super::bearer_credentials("Bearer"), None);
    }

    #[test]
    fn tokens_compare_by_content() {
        assert!(super::constant_time_eq(b"secret", b"secret"));
        assert!(!super::constant_time_eq(b"secret", b"secreT"));
        assert!(!super::constant_time_eq(b"secret", b"secret2"));
    }
}
