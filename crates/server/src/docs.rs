//! `/openapi.json` and `/docs`, a page to browse it that needs no network
//! (the dashboard and API docs work on an offline plant network).

use crate::state::AppState;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// Routes serving the generated document and its browser.
pub fn routes(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    let doc = Arc::new(openapi);
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route("/docs", get(|| async { Html(DOCS_PAGE) }))
}

const DOCS_PAGE: &str = include_str!("docs.html");
