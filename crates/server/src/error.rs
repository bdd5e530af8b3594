//! Every failure a client can see, as `{error, details[]}` with the status
//! code that tells it whether to fix the request, retry, or call us.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use indus_data::DataError;
use indus_runtime::RuntimeError;
use serde::Serialize;
use utoipa::ToSchema;

/// One concrete problem: which row and field, and what is wrong with it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ErrorDetail {
    /// 1-based row of the request's `rows`, when a row is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// The field (column) at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// One sentence a person can act on.
    pub error: String,
    /// Each problem found (every bad field of every row, up to a cap).
    pub details: Vec<ErrorDetail>,
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The response body.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with no per-field details.
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                details: Vec::new(),
            },
        }
    }

    /// 400: the request cannot be understood.
    pub fn bad_request(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error)
    }

    /// 404 for a scenario name that is not served.
    pub fn unknown_scenario(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no scenario named `{name}` is served here (GET /v1/scenarios lists them)"),
        )
    }

    /// 422: the request is well-formed JSON but breaks the schema.
    pub fn unprocessable(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error)
    }

    /// 500: our fault; the message is logged and returned.
    pub fn internal(error: impl Into<String>) -> ApiError {
        let error = error.into();
        tracing::error!(%error, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error)
    }

    /// 503: not loaded yet, or shutting down.
    pub fn unavailable(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error)
    }

    /// Adds details.
    pub fn with_details(mut self, details: Vec<ErrorDetail>) -> ApiError {
        self.body.details = details;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Rows that break the schema become a 422 listing each bad field.
impl From<DataError> for ApiError {
    fn from(e: DataError) -> ApiError {
        let detail = |e: &DataError| match e {
            DataError::Row {
                row,
                column,
                message,
                ..
            } => ErrorDetail {
                row: Some(*row),
                field: column.clone(),
                message: message.clone(),
            },
            other => ErrorDetail {
                row: None,
                field: None,
                message: other.to_string(),
            },
        };
        match &e {
            DataError::Rows {
                problems, omitted, ..
            } => {
                let shown = problems.len();
                ApiError::unprocessable(format!(
                    "{} problems in the rows{}",
                    shown + omitted,
                    if *omitted > 0 {
                        format!(" (first {shown} listed)")
                    } else {
                        String::new()
                    }
                ))
                .with_details(problems.iter().map(detail).collect())
            }
            DataError::Row { .. } | DataError::Schema { .. } => {
                ApiError::unprocessable("the rows do not match the scenario's schema")
                    .with_details(vec![detail(&e)])
            }
            _ => ApiError::internal(e.to_string()),
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> ApiError {
        match e {
            RuntimeError::Data(d) => d.into(),
            RuntimeError::Invalid(m) => ApiError::unprocessable(m),
            RuntimeError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
            other => ApiError::internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_problems_become_one_detail_each() {
        let e = DataError::Rows {
            source_name: "request".into(),
            problems: vec![
                DataError::row("request", 2, Some("age"), "`x` is not a number"),
                DataError::row("request", 3, None, "expected a JSON object"),
            ],
            omitted: 0,
        };
        let api = ApiError::from(e);
        assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            api.body.details,
            vec![
                ErrorDetail {
                    row: Some(2),
                    field: Some("age".into()),
                    message: "`x` is not a number".into()
                },
                ErrorDetail {
                    row: Some(3),
                    field: None,
                    message: "expected a JSON object".into()
                },
            ]
        );
    }
}
