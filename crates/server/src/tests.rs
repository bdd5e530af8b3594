//! In-process tests of the whole router on a real (briefly trained) German
//! credit run: every endpoint, every error shape, reload, training jobs.

use crate::{ServerConfig, load_catalog, router, shared};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use indus_runtime::{LoadedRun, RunOptions, resolve_scenario, run_scenario};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tower::ServiceExt;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A runs folder holding one quick credit-scoring run, made once per test binary.
fn runs_dir() -> &'static Path {
    static RUNS: OnceLock<PathBuf> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let mut resolved =
            resolve_scenario(&repo().join("scenarios/credit-scoring.yaml"), &[]).unwrap();
        resolved.scenario.training.epochs = indus_spec::Count::try_from(3).unwrap();
        resolved.scenario.data.folds = None;
        let options = RunOptions {
            data_dir: None,
            runs_root: dir.clone(),
        };
        run_scenario(&resolved, &options, &mut indus_engine::Silent, &mut |_| {}).unwrap();
        dir
    })
}

fn config() -> ServerConfig {
    ServerConfig {
        project_root: repo(),
        runs_dir: runs_dir().to_path_buf(),
        max_body_bytes: 64 * 1024,
        max_rows_per_request: 100,
        workers: 2,
        ..ServerConfig::default()
    }
}

fn app_with(config: ServerConfig) -> Router {
    let state = shared(config);
    let catalog = load_catalog(&state.config, &state.metrics).unwrap();
    state.registry.install(catalog);
    router(state).unwrap()
}

fn app() -> Router {
    app_with(config())
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    call_raw(app, method, uri, body.map(|b| b.to_string()), &[]).await
}

async fn call_raw(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// A job's state once it is no longer queued or running (or after 30 s).
async fn job_when_ended(app: &Router, id: &str, mut state: Value) -> Value {
    for _ in 0..600 {
        let (_, now) = call(app, "GET", &format!("/v1/jobs/{id}"), None).await;
        state = now;
        if state["status"] != "queued" && state["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    state
}

/// The first `n` rows of the shipped German credit file as JSON objects.
fn credit_rows(n: usize) -> Vec<Value> {
    let text =
        std::fs::read_to_string(repo().join("plugins/finance-credit/data/german_credit.csv"))
            .unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .take(n)
        .map(|line| {
            let cells = split_csv(line);
            let obj: serde_json::Map<String, Value> = header
                .iter()
                .zip(cells)
                .filter(|(h, _)| **h != "creditability")
                .map(|(h, c)| (h.to_string(), Value::String(c)))
                .collect();
            Value::Object(obj)
        })
        .collect()
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[tokio::test]
async fn a_csv_export_sent_as_the_body_is_predicted_like_the_same_rows_in_json() {
    let app = app();
    let text =
        std::fs::read_to_string(repo().join("plugins/finance-credit/data/german_credit.csv"))
            .unwrap();
    let lines: Vec<&str> = text.lines().take(6).collect();
    let csv_call = |body: String| {
        let app = app.clone();
        async move {
            call_raw(
                &app,
                "POST",
                "/v1/scenarios/credit-scoring/predict/csv",
                Some(body),
                &[("content-type", "text/csv")],
            )
            .await
        }
    };
    // A CRLF export with a blank line at the end, label column included.
    let (status, body) = csv_call(lines.join("\r\n") + "\r\n\r\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, from_json) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict",
        Some(json!({"rows": credit_rows(5)})),
    )
    .await;
    assert_eq!(body["predictions"], from_json["predictions"]);

    // Asked for CSV, the same answers come back as a table.
    let (status, table) = call_raw(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict/csv",
        Some(lines.join("\n")),
        &[("content-type", "text/csv"), ("accept", "text/csv")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{table}");
    let table = table.as_str().unwrap().to_string();
    let mut table_lines = table.lines();
    assert!(
        table_lines
            .next()
            .unwrap()
            .starts_with("row,id,label,score,p_good,p_bad,score_points"),
        "{table}"
    );
    let labels: Vec<&str> = table_lines.map(|l| l.split(',').nth(2).unwrap()).collect();
    let expected: Vec<&str> = body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, expected);

    // A bad cell is named by row and column, like a bad JSON field.
    let bad = lines.join("\n").replacen(",6,", ",six,", 1);
    let (status, e) = csv_call(bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["details"][0]["row"], 1, "{e}");
    assert_eq!(e["details"][0]["field"], "duration_in_month", "{e}");
    let (status, e) = csv_call(lines[0].to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"].as_str().unwrap().contains("no rows"), "{e}");
    let (status, e) = csv_call(" \n".into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"].as_str().unwrap().contains("empty"), "{e}");
    let missing = lines
        .iter()
        .map(|l| l.split_once(',').map_or(*l, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("\n");
    let (status, e) = csv_call(missing).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e.to_string()
            .contains("status_of_existing_checking_account"),
        "{e}"
    );
    // More rows than the server takes at once (100 in these tests).
    let many: Vec<&str> = text.lines().take(102).collect();
    let (status, e) = csv_call(many.join("\n")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert!(e["error"].as_str().unwrap().contains("101 rows"), "{e}");
}

#[tokio::test]
async fn drift_compares_a_batch_with_the_training_rows() {
    let app = app_with(ServerConfig {
        max_body_bytes: 1 << 20,
        ..config()
    });
    let rows = credit_rows(100);
    let (status, body) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/drift",
        Some(json!({"rows": rows})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], 100);
    let first = body.clone();
    assert_eq!(body["reference_rows"], 1000);
    let columns = body["columns"].as_array().unwrap();
    assert_eq!(columns.len(), 23, "20 read and 3 derived columns");
    // The same applicants with every loan three years long.
    let long: Vec<Value> = credit_rows(100)
        .into_iter()
        .map(|mut r| {
            r["duration_in_month"] = json!("36");
            r
        })
        .collect();
    let (status, body) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/drift",
        Some(json!({"rows": long})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // (The file's first rows are ordered by other columns, so those shift
    // too; the duration is the one this test moves.)
    let duration = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "duration_in_month")
        .unwrap();
    assert_eq!(duration["verdict"], "major", "{body}");
    assert!(
        duration["largest_change"]
            .as_str()
            .unwrap()
            .ends_with("→ 100.0 %"),
        "{duration}"
    );
    let (status, e) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/drift",
        Some(json!({"rows": []})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // Three rows are too few to tell a shift from chance.
    let (status, e) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/drift",
        Some(json!({"rows": credit_rows(3)})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"].as_str().unwrap().contains("too few"), "{e}");
    // The same 100 applicants as a CSV export: the same report.
    let text =
        std::fs::read_to_string(repo().join("plugins/finance-credit/data/german_credit.csv"))
            .unwrap();
    let csv: Vec<&str> = text.lines().take(101).collect();
    let (status, from_csv) = call_raw(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/drift/csv",
        Some(csv.join("\n")),
        &[("content-type", "text/csv")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{from_csv}");
    assert_eq!(from_csv["columns"], first["columns"]);
}

#[tokio::test]
async fn predict_answers_what_the_loaded_run_answers() {
    let app = app();
    let rows = credit_rows(5);
    let (status, body) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict",
        Some(json!({"rows": rows})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dir = indus_runtime::resolve_run("credit-scoring", runs_dir()).unwrap();
    let run = LoadedRun::open(&dir, indus_spec::BackendKind::Flex).unwrap();
    let numbered: Vec<(usize, Value)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i + 1, v))
        .collect();
    let table = indus_data::rows_from_json(&run.plugin, "request", &numbered).unwrap();
    // Compared as JSON text, as a client sees it.
    let expected: Value =
        serde_json::from_str(&serde_json::to_string(&run.predict(&table).unwrap()).unwrap())
            .unwrap();
    assert_eq!(body["predictions"], expected);
    assert_eq!(body["run_id"], json!(run.folder.record.run_id));
    // A field the plugin does not declare is ignored (and logged).
    let extra: Vec<Value> = credit_rows(5)
        .into_iter()
        .map(|mut r| {
            r["branch_code"] = json!("B-17");
            r
        })
        .collect();
    let (status, with_extra) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict",
        Some(json!({"rows": extra})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{with_extra}");
    assert_eq!(with_extra["predictions"], expected);
    let p = &body["predictions"][0];
    assert!(["good", "bad"].contains(&p["label"].as_str().unwrap()));
    let total: f64 = p["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-5);
}

#[tokio::test]
async fn every_bad_field_of_every_row_is_named() {
    let app = app();
    let mut rows = credit_rows(3);
    rows[0]["credit_amount"] = json!("a lot");
    rows[2]["purpose"] = json!("yacht");
    rows[2].as_object_mut().unwrap().remove("age_in_years");
    let (status, body) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict",
        Some(json!({"rows": rows})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let found: Vec<(u64, String)> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["row"].as_u64().unwrap(),
                d["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (1, "credit_amount".to_string()),
            (3, "purpose".to_string()),
            (3, "age_in_years".to_string())
        ]
    );
    assert!(
        body["details"][1]["message"]
            .as_str()
            .unwrap()
            .contains("unknown category `yacht`")
    );
}

#[tokio::test]
async fn malformed_oversized_and_misaddressed_requests_get_clear_statuses() {
    let app = app();
    let predict = "/v1/scenarios/credit-scoring/predict";
    let (s, b) = call_raw(&app, "POST", predict, Some("{\"rows\": [".into()), &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["error"].as_str().unwrap().contains("malformed JSON"));
    // The body is parsed on the inference thread; the answers are the same.
    let (s, b) = call_raw(&app, "POST", predict, Some("{\"rows\": []} x".into()), &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = call_raw(
        &app,
        "POST",
        predict,
        Some("{\"rows\": []}".into()),
        &[("content-type", "text/plain")],
    )
    .await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{b}");
    let (s, b) = call(&app, "POST", predict, Some(json!({"rows": 5}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"].as_str().unwrap().contains("rows"), "{b}");
    let (s, _) = call(&app, "POST", predict, Some(json!({"rows": []}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let big = json!({"rows": [{"pad": "x".repeat(70 * 1024)}]});
    let (s, b) = call(&app, "POST", predict, Some(big)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert!(b["error"].as_str().unwrap().contains("65536 bytes"));
    let many = json!({"rows": vec![json!({}); 101]});
    let (s, _) = call(&app, "POST", predict, Some(many)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, b) = call(
        &app,
        "POST",
        "/v1/scenarios/nope/predict",
        Some(json!({"rows": [{}]})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(b["error"].as_str().unwrap().contains("`nope`"));
    let (s, _) = call(&app, "GET", "/v1/scenarios/..%2F..%2Fetc/schema", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = call(&app, "GET", "/v1/nothing", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(b["error"].as_str().unwrap().contains("/v1/nothing"));
}

#[tokio::test]
async fn listing_detail_and_row_schema_describe_the_scenario() {
    let app = app();
    let (s, list) = call(&app, "GET", "/v1/scenarios", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list[0]["name"], "credit-scoring");
    assert_eq!(list[0]["industry"], "finance");
    assert_eq!(list[0]["task"], "binary");
    assert_eq!(list[0]["headline"]["metric"], "roc_auc");
    assert!(list[0]["headline"]["value"].as_f64().unwrap() > 0.5);
    let (s, detail) = call(&app, "GET", "/v1/scenarios/credit-scoring", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(detail["classes"], json!(["good", "bad"]));
    assert_eq!(detail["history"].as_array().unwrap().len(), 3);
    let (s, schema) = call(&app, "GET", "/v1/scenarios/credit-scoring/schema", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(schema["properties"]["duration_in_month"]["type"], "integer");
    assert!(
        schema["properties"]["purpose"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("car (new)"))
    );
    assert_eq!(schema["required"].as_array().unwrap().len(), 20);
    // Columns the native hook derives are not part of a request row.
    assert!(schema["properties"]["log_monthly_payment"].is_null());
}

#[tokio::test]
async fn explanations_add_up_to_the_score_change() {
    let app = app();
    let (s, body) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/explain",
        Some(json!({"rows": credit_rows(2), "steps": 256})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    for e in body["explanations"].as_array().unwrap() {
        let attributions = e["attributions"].as_array().unwrap();
        // 20 input columns and the 3 the native hook derives from them.
        assert_eq!(attributions.len(), 23);
        let total: f64 = attributions
            .iter()
            .map(|a| a["value"].as_f64().unwrap())
            .sum();
        let moved = e["score"].as_f64().unwrap() - e["baseline_score"].as_f64().unwrap();
        assert!(
            (total - moved).abs() < 5e-3,
            "sum {total} vs change {moved}"
        );
    }
    let (s, _) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/explain",
        Some(json!({"rows": credit_rows(1), "steps": 0})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn open_inference_protocol_gives_the_same_answers() {
    let app = app();
    let rows = credit_rows(3);
    let (_, predicted) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict",
        Some(json!({"rows": rows})),
    )
    .await;
    let (s, meta) = call(&app, "GET", "/v2/models/credit-scoring", None).await;
    assert_eq!(s, StatusCode::OK);
    let inputs: Vec<Value> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap();
            json!({
                "name": name,
                "shape": [3],
                "datatype": t["datatype"],
                "data": rows.iter().map(|r| r[name].clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let (s, body) = call(
        &app,
        "POST",
        "/v2/models/credit-scoring/infer",
        Some(json!({"id": "r1", "inputs": inputs})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "r1");
    let labels: Vec<Value> = predicted["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].clone())
        .collect();
    assert_eq!(body["outputs"][0]["name"], "label");
    assert_eq!(body["outputs"][0]["data"], json!(labels));
    assert_eq!(body["outputs"][2]["shape"], json!([3, 2]));
    let (s, _) = call(&app, "GET", "/v2/models/credit-scoring/ready", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = call(&app, "GET", "/v2/health/ready", None).await;
    assert_eq!((s, b["ready"].clone()), (StatusCode::OK, json!(true)));
}

#[tokio::test]
async fn readiness_waits_for_loading() {
    let state = shared(config());
    let app = router(state.clone()).unwrap();
    let (s, b) = call(&app, "GET", "/ready", None).await;
    assert_eq!(
        (s, b["status"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("loading"))
    );
    let (s, _) = call(&app, "GET", "/health", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict",
        Some(json!({"rows": credit_rows(1)})),
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    state
        .registry
        .install(load_catalog(&state.config, &state.metrics).unwrap());
    let (s, _) = call(&app, "GET", "/ready", None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_per_scenario_and_route() {
    let app = app();
    call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict",
        Some(json!({"rows": credit_rows(2)})),
    )
    .await;
    call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/predict",
        Some(json!({"rows": [{}]})),
    )
    .await;
    let (s, text) = call(&app, "GET", "/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    let text = text.as_str().unwrap();
    let route = "route=\"/v1/scenarios/{name}/predict\"";
    assert!(
        text.contains(&format!(
            "indus_http_requests_total{{scenario=\"credit-scoring\",{route},status=\"200\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "indus_http_errors_total{{scenario=\"credit-scoring\",{route},status=\"422\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains("indus_rows_predicted_total{scenario=\"credit-scoring\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn changing_what_is_served_needs_the_token() {
    let app = app_with(ServerConfig {
        token: Some("s3cret".into()),
        ..config()
    });
    let (s, _) = call(&app, "POST", "/v1/reload", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = call_raw(
        &app,
        "POST",
        "/v1/reload",
        None,
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = call_raw(
        &app,
        "POST",
        "/v1/reload",
        None,
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["credit-scoring"].as_str().is_some());
    // The scheme is case-insensitive (RFC 7235).
    let (s, b) = call_raw(
        &app,
        "POST",
        "/v1/reload",
        None,
        &[("authorization", "bearer s3cret")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Reading needs no token.
    let (s, _) = call(&app, "GET", "/v1/scenarios", None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn without_a_token_changing_what_is_served_is_off_unless_opened() {
    let app = app();
    for (method, uri, body) in [
        ("POST", "/v1/reload", None),
        (
            "POST",
            "/v1/scenarios/credit-scoring/train",
            Some(json!({})),
        ),
        ("POST", "/v1/jobs/job-1/cancel", None),
        ("POST", "/v1/jobs/job-1/promote", None),
    ] {
        let (s, b) = call(&app, method, uri, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri}: {b}");
        assert!(b["error"].as_str().unwrap().contains("--token"), "{b}");
    }
}

#[tokio::test]
async fn a_training_request_beyond_the_bounds_is_refused_and_the_server_lives() {
    let app = app_with(ServerConfig {
        open_admin: true,
        ..config()
    });
    for epochs in [1_000_000_000u64, u64::MAX] {
        let (s, b) = call(
            &app,
            "POST",
            "/v1/scenarios/mnist/train",
            Some(json!({ "epochs": epochs })),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.to_string().contains("limit of 100000"), "{b}");
    }
    let (s, _) = call(&app, "GET", "/health", None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_cancelled_job_ends_cancelled_and_its_stream_finishes() {
    let runs = tempfile::tempdir().unwrap();
    copy_dir(runs_dir(), runs.path());
    let app = app_with(ServerConfig {
        runs_dir: runs.path().to_path_buf(),
        open_admin: true,
        ..config()
    });
    let (s, job) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/train",
        Some(json!({"epochs": 100000})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let (s, _) = call(&app, "POST", &format!("/v1/jobs/{id}/cancel"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let state = job_when_ended(&app, &id, job).await;
    assert_eq!(state["status"], "cancelled", "{state}");
    assert!(
        state["error"].as_str().unwrap().contains("cancel"),
        "{state}"
    );
    let (_, events) = call(&app, "GET", &format!("/v1/jobs/{id}/events"), None).await;
    assert!(
        events.as_str().unwrap().contains("event: finished"),
        "{events}"
    );
}

#[tokio::test]
async fn a_training_job_streams_epochs_and_its_run_can_be_promoted() {
    let runs = tempfile::tempdir().unwrap();
    copy_dir(runs_dir(), runs.path());
    let app = app_with(ServerConfig {
        runs_dir: runs.path().to_path_buf(),
        open_admin: true,
        ..config()
    });
    let (_, before) = call(&app, "GET", "/v1/scenarios/credit-scoring", None).await;
    let (s, job) = call(
        &app,
        "POST",
        "/v1/scenarios/credit-scoring/train",
        Some(json!({"epochs": 2, "train_limit": 300})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let state = job_when_ended(&app, &id, job).await;
    assert_eq!(state["status"], "succeeded", "{state}");
    // 5 folds + the final model, five networks each, 2 epochs each.
    assert_eq!(state["epochs"].as_array().unwrap().len(), 60);
    let (s, events) = call(&app, "GET", &format!("/v1/jobs/{id}/events"), None).await;
    assert_eq!(s, StatusCode::OK);
    let events = events.as_str().unwrap();
    assert_eq!(events.matches("event: epoch").count(), 60, "{events}");
    assert!(events.contains("event: finished"));
    let (s, promoted) = call(&app, "POST", &format!("/v1/jobs/{id}/promote"), None).await;
    assert_eq!(s, StatusCode::OK, "{promoted}");
    let (_, after) = call(&app, "GET", "/v1/scenarios/credit-scoring", None).await;
    assert_ne!(after["run_id"], before["run_id"]);
    assert_eq!(after["run_id"], state["run_id"]);
    let (s, _) = call(&app, "POST", "/v1/scenarios/no-such/train", Some(json!({}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&app, "GET", "/v1/jobs/job-999", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// The served run's model card, as JSON and as Markdown, is the one in
/// its run folder: data file by name and digest (never a path on the
/// training machine), metrics beside the baselines, results by age band.
#[tokio::test]
async fn a_served_scenario_answers_with_its_model_card() {
    let app = app();
    let (s, card) = call(&app, "GET", "/v1/scenarios/credit-scoring/card", None).await;
    assert_eq!(s, StatusCode::OK, "{card}");
    assert_eq!(card["scenario"], "credit-scoring");
    assert_eq!(
        card["data"]["files"][0]["name"], "german_credit.csv",
        "{card}"
    );
    assert_eq!(
        card["data"]["files"][0]["sha256"],
        "01f2981fc8f44de5ed05b904318afb1e78390c34def2cb46015e0c3f99be286c"
    );
    assert_eq!(card["metrics"][0]["metric"], "roc_auc");
    assert_eq!(card["metrics"][0]["baseline"], 0.79);
    assert!(
        card["intended_use"].as_str().unwrap().contains("credit"),
        "{card}"
    );
    assert_eq!(card["fairness"]["columns"][0]["column"], "age_in_years");
    let text = card.to_string();
    let root = repo().display().to_string();
    assert!(
        !text.contains(&root),
        "a path of the training machine: {text}"
    );
    let (s, md) = call(&app, "GET", "/v1/scenarios/credit-scoring/card.md", None).await;
    assert_eq!(s, StatusCode::OK);
    let md = md.as_str().unwrap().to_string();
    assert!(md.starts_with("# Model card: credit-scoring"), "{md}");
    for section in [
        "## Intended use",
        "## Data",
        "## Evaluation",
        "## Results per group",
        "## Data quality",
        "## Limitations",
        "## Versions",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains("| age_in_years | Rows |"), "{md}");
    let run = runs_dir()
        .join("credit-scoring")
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("model_card.md").is_file())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(run.join("model_card.md")).unwrap(),
        md
    );
    let (s, _) = call(&app, "GET", "/v1/scenarios/no-such/card", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint() {
    let app = app();
    let (s, doc) = call(&app, "GET", "/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/health",
        "/ready",
        "/metrics",
        "/v1/scenarios",
        "/v1/scenarios/{name}",
        "/v1/scenarios/{name}/schema",
        "/v1/scenarios/{name}/examples",
        "/v1/scenarios/{name}/card",
        "/v1/scenarios/{name}/card.md",
        "/v1/scenarios/{name}/predict",
        "/v1/scenarios/{name}/predict/image",
        "/v1/scenarios/{name}/predict/csv",
        "/v1/scenarios/{name}/drift",
        "/v1/scenarios/{name}/drift/csv",
        "/v1/scenarios/{name}/explain",
        "/v1/scenarios/{name}/recommend",
        "/v1/scenarios/{name}/train",
        "/v1/jobs/{id}",
        "/v1/jobs/{id}/events",
        "/v1/jobs/{id}/promote",
        "/v1/reload",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{name}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/infer",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
    // Image uploads are documented as raw bytes, not as JSON.
    let upload = &paths["/v1/scenarios/{name}/predict/image"]["post"]["requestBody"]["content"];
    assert!(upload.get("application/octet-stream").is_some(), "{upload}");
    let csv = &paths["/v1/scenarios/{name}/predict/csv"]["post"]["requestBody"]["content"];
    assert!(csv.get("text/csv").is_some(), "{csv}");
    let (s, page) = call(&app, "GET", "/docs", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("/openapi.json"));
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A project with a regression plugin (hours until wear-out from load and
/// temperature, a known linear law plus noise) and one finished run.
fn regression_project() -> PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    let plugin = dir.join("plugins/wear");
    std::fs::create_dir_all(plugin.join("data")).unwrap();
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    let mut csv = String::from("load,temp,hours\n");
    for i in 0..300 {
        let load = (i % 10) as f64;
        let temp = 20.0 + (i * 7 % 60) as f64;
        let noise = ((i * 37 % 11) as f64 - 5.0) / 10.0;
        csv.push_str(&format!(
            "{load},{temp},{}\n",
            3.0 * load + 0.1 * temp + noise
        ));
    }
    std::fs::write(plugin.join("data/wear.csv"), csv).unwrap();
    std::fs::write(
        plugin.join("plugin.yaml"),
        "name: wear\nindustry: manufacturing\ndescription: Hours until wear-out\ndata:\n  source: {format: csv, dataset: wear, files: {train: {name: wear.csv}}}\n  columns:\n    - {name: load, type: number, role: feature}\n    - {name: temp, type: number, role: feature}\n    - {name: hours, type: number, role: target}\nheads:\n  - {name: hours, task: regression, target: hours}\n",
    )
    .unwrap();
    let scenario = dir.join("scenarios/wear.yaml");
    std::fs::write(
        &scenario,
        "name: wear\nplugin: wear\nmodel: {hidden: [16]}\ntraining: {epochs: 60, batch_size: 16, optimizer: {kind: adam, learning_rate: 0.01}}\nseed: 1\n",
    )
    .unwrap();
    let resolved = resolve_scenario(&scenario, &[]).unwrap();
    let options = RunOptions {
        data_dir: None,
        runs_root: dir.join("runs"),
    };
    run_scenario(&resolved, &options, &mut indus_engine::Silent, &mut |_| {}).unwrap();
    dir
}

#[tokio::test]
async fn a_regression_scenario_answers_with_numbers_on_every_endpoint() {
    let dir = regression_project();
    let app = app_with(ServerConfig {
        project_root: dir.clone(),
        runs_dir: dir.join("runs"),
        ..config()
    });
    let rows = json!({"rows": [{"load": 4, "temp": 50}, {"load": 9, "temp": 20}]});
    let (status, body) = call(
        &app,
        "POST",
        "/v1/scenarios/wear/predict",
        Some(rows.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let p = &body["predictions"];
    // 3·load + 0.1·temp: 17 and 29 hours.
    for (row, want) in [(0, 17.0), (1, 29.0)] {
        let got = p[row]["value"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 2.0,
            "row {row}: {got} hours, expected about {want}"
        );
        assert!(p[row].get("label").is_none() && p[row].get("probabilities").is_none());
    }
    let (status, body) = call(&app, "POST", "/v1/scenarios/wear/explain", Some(rows)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Row 2 (load 9, temp 20): load, far above its mean, moves the
    // predicted hours far more than temperature does.
    let attr = &body["explanations"][1]["attributions"];
    assert_eq!(attr[0]["column"], "load");
    let (load, temp) = (
        attr[0]["value"].as_f64().unwrap(),
        attr[1]["value"].as_f64().unwrap(),
    );
    assert!(
        load > 5.0 && load.abs() > 3.0 * temp.abs(),
        "load {load}, temp {temp}"
    );
    let (status, meta) = call(&app, "GET", "/v2/models/wear", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["outputs"][0]["name"], "value");
    let infer = json!({"inputs": [
        {"name": "load", "shape": [1], "datatype": "FP32", "data": [4]},
        {"name": "temp", "shape": [1], "datatype": "FP32", "data": [50]}
    ]});
    let (status, out) = call(&app, "POST", "/v2/models/wear/infer", Some(infer.clone())).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["outputs"][0]["name"], "value");
    let mut wrong = infer;
    wrong["outputs"] = json!([{"name": "label"}]);
    let (status, out) = call(&app, "POST", "/v2/models/wear/infer", Some(wrong)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(out["error"].to_string().contains("value"), "{out}");
}

#[tokio::test]
async fn a_slow_body_does_not_hold_a_request_slot() {
    let app = app_with(ServerConfig {
        concurrency_limit: 1,
        ..config()
    });
    // A body that never finishes: its sender is kept and never written to.
    let (_keep, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let slow = Request::builder()
        .method("POST")
        .uri("/v1/scenarios/credit-scoring/predict")
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap();
    let held = tokio::spawn(app.clone().oneshot(slow));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        call(&app, "GET", "/v1/scenarios", None),
    )
    .await
    .expect("a request waited behind a slow body");
    assert_eq!(answered.0, StatusCode::OK);
    held.abort();
}
