//! End-to-end tests of `indus serve`: the real binary on an ephemeral port,
//! serving a run of every shipped scenario (small slices of the real data),
//! called over HTTP the way a client would.

mod common;

use common::{data_dir, fails, indus, ok, repo};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Every shipped scenario with the flags that keep its run small.
const SCENARIOS: [(&str, &[&str]); 9] = [
    (
        "mnist",
        &[
            "--train-limit",
            "2000",
            "--test-limit",
            "200",
            "--epochs",
            "1",
        ],
    ),
    (
        "mnist-tuned",
        &[
            "--train-limit",
            "2000",
            "--test-limit",
            "200",
            "--epochs",
            "1",
        ],
    ),
    ("credit-scoring", &["--epochs", "2"]),
    ("manufacturing-fault", &["--epochs", "2"]),
    (
        "security-intrusion",
        &[
            "--train-limit",
            "3000",
            "--test-limit",
            "500",
            "--epochs",
            "1",
        ],
    ),
    ("medical-imaging", &["--test-limit", "200", "--epochs", "1"]),
    (
        "security-anomaly",
        &[
            "--train-limit",
            "3000",
            "--test-limit",
            "500",
            "--epochs",
            "1",
        ],
    ),
    (
        "retail-recommendation",
        &["--train-limit", "30000", "--epochs", "2"],
    ),
    ("predictive-maintenance", &["--epochs", "2"]),
];

/// A project folder with one finished run of every shipped scenario.
fn project() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let data = data_dir();
        for (name, extra) in SCENARIOS {
            let scenario = repo().join("scenarios").join(format!("{name}.yaml"));
            let mut args = vec![
                "run",
                scenario.to_str().unwrap(),
                "--runs-dir",
                "runs",
                "--data-dir",
                data.to_str().unwrap(),
                "--json",
            ];
            args.extend_from_slice(extra);
            ok(&indus(&args, &dir));
        }
        dir
    })
}

/// A running `indus serve`, killed when dropped.
struct Server {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_indus"))
            .args(["serve", "--port", "0", "--runs-dir", "runs"])
            .arg("--root")
            .arg(repo())
            .args(extra)
            .current_dir(project())
            .env("INDUS_OFFLINE", "1")
            .env_remove("INDUS_RUNS_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let server = Server { child, url, agent };
        let started = Instant::now();
        while server.get("/ready").0 != 200 {
            assert!(started.elapsed() < Duration::from_secs(60), "never ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let mut res = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .unwrap();
        let text = res.body_mut().read_to_string().unwrap();
        (
            res.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(path, "application/json", body.to_string().into_bytes())
    }

    fn send(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let mut res = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .send(body)
            .unwrap();
        let text = res.body_mut().read_to_string().unwrap();
        (
            res.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_shipped_scenario_answers_every_endpoint_like_the_cli() {
    let server = Server::start(&[]);
    let (status, list) = server.get("/v1/scenarios");
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = SCENARIOS.iter().map(|(n, _)| *n).collect();
    expected.sort();
    assert_eq!(names, expected);
    let credit =
        &list.as_array().unwrap()[names.iter().position(|n| *n == "credit-scoring").unwrap()];
    assert_eq!(credit["target"]["bar"], "roc_auc ≥ 0.8", "{credit}");
    let auc = credit["target"]["value"].as_f64().unwrap();
    assert_eq!(credit["target"]["met"], auc >= 0.8, "{credit}");
    for name in names {
        let (s, detail) = server.get(&format!("/v1/scenarios/{name}"));
        assert_eq!(s, 200, "{name}: {detail}");
        let (s, schema) = server.get(&format!("/v1/scenarios/{name}/schema"));
        assert_eq!(
            (s, schema["type"].as_str()),
            (200, Some("object")),
            "{name}"
        );
        let (s, examples) = server.get(&format!("/v1/scenarios/{name}/examples"));
        assert_eq!(s, 200);
        let rows = examples["rows"].as_array().unwrap().clone();
        assert_eq!(rows.len(), 5, "{name}: five example rows");

        // HTTP predictions are the CLI's predictions for the same rows.
        let (s, predicted) = server.post(
            &format!("/v1/scenarios/{name}/predict"),
            &json!({ "rows": rows }),
        );
        assert_eq!(s, 200, "{name}: {predicted}");
        let input = project().join(format!("{name}-examples.jsonl"));
        let lines: Vec<String> = rows.iter().map(Value::to_string).collect();
        std::fs::write(&input, lines.join("\n")).unwrap();
        let cli = ok(&indus(
            &[
                "predict",
                name,
                "--runs-dir",
                "runs",
                "--input",
                input.to_str().unwrap(),
            ],
            project(),
        ));
        let from_cli: Vec<Value> = cli
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(predicted["predictions"], json!(from_cli), "{name}");
        if name == "security-intrusion" {
            // Its novelty guard's verdict comes with every answer.
            let answers = predicted["predictions"].as_array().unwrap();
            assert!(
                answers.iter().all(
                    |p| p["novelty"]["threshold"].as_f64().is_some_and(|t| t > 0.0)
                        && p["novelty"]["flagged"].is_boolean()
                ),
                "{predicted}"
            );
        }

        // An image scenario also takes the first example as a PNG file:
        // the same pixels, the same answer. Others refuse image bodies.
        let image_endpoint = format!("/v1/scenarios/{name}/predict/image");
        match rows[0]["image"].as_array() {
            Some(pixels) => {
                let flat: Vec<u8> = pixels
                    .iter()
                    .flat_map(|p| p.as_array().cloned().unwrap_or_else(|| vec![p.clone()]))
                    .map(|p| p.as_f64().unwrap() as u8)
                    .collect();
                let mut png = std::io::Cursor::new(Vec::new());
                image::GrayImage::from_raw(28, 28, flat)
                    .unwrap()
                    .write_to(&mut png, image::ImageFormat::Png)
                    .unwrap();
                let (s, from_png) = server.send(&image_endpoint, "image/png", png.into_inner());
                assert_eq!(s, 200, "{name}: {from_png}");
                // One row against five in a batch: the same up to float
                // rounding in the matrix products.
                let (png_answer, json_answer) =
                    (&from_png["predictions"][0], &predicted["predictions"][0]);
                assert_eq!(png_answer["label"], json_answer["label"], "{name}");
                let probabilities = json_answer["probabilities"].as_object().unwrap();
                for (class, p) in probabilities {
                    let q = png_answer["probabilities"][class].as_f64().unwrap();
                    assert!((q - p.as_f64().unwrap()).abs() < 1e-5, "{name}: {class}");
                }
                let (s, garbage) = server.send(&image_endpoint, "image/png", b"not a png".to_vec());
                assert_eq!(s, 422, "{name}: {garbage}");
                assert!(
                    garbage["error"]
                        .as_str()
                        .unwrap()
                        .contains("not a readable image"),
                    "{garbage}"
                );
            }
            None => {
                let (s, refused) = server.send(&image_endpoint, "image/png", b"\x89PNG".to_vec());
                assert_eq!(s, 422, "{name}: {refused}");
                assert!(
                    refused["error"]
                        .as_str()
                        .unwrap()
                        .contains("reads rows, not images"),
                    "{refused}"
                );
            }
        }

        let recommender = name == "retail-recommendation";
        let (s, explained) = server.post(
            &format!("/v1/scenarios/{name}/explain"),
            &json!({ "rows": rows[..2], "steps": 16 }),
        );
        if recommender {
            // Integrated gradients cannot walk an embedded id.
            assert_eq!(s, 422, "{name}: {explained}");
            assert!(explained["error"].as_str().unwrap().contains("embedding"));
        } else if name == "security-anomaly" {
            // The verdict is a reconstruction error, not one output.
            assert_eq!(s, 422, "{name}: {explained}");
            assert!(explained["error"].as_str().unwrap().contains("autoencoder"));
            assert!(predicted["predictions"][0]["value"].as_f64().unwrap() >= 0.0);
        } else {
            assert_eq!(s, 200, "{name}: {explained}");
            assert_eq!(explained["explanations"].as_array().unwrap().len(), 2);
            if name == "security-intrusion" {
                // The classifier is explained; the guard's verdict rides along.
                assert!(explained["explanations"][0]["novelty"]["flagged"].is_boolean());
            }
        }

        // Open Inference Protocol: one tensor per input column.
        let (s, meta) = server.get(&format!("/v2/models/{name}"));
        assert_eq!(s, 200);
        let inputs: Vec<Value> = meta["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let col = t["name"].as_str().unwrap();
                let mut shape = vec![json!(5)];
                shape.extend(t["shape"].as_array().unwrap().iter().skip(1).cloned());
                json!({"name": col, "shape": shape, "datatype": t["datatype"],
                       "data": rows.iter().map(|r| r[col].clone()).collect::<Vec<_>>()})
            })
            .collect();
        let (s, inferred) = server.post(
            &format!("/v2/models/{name}/infer"),
            &json!({ "inputs": inputs, "outputs": [{"name": "label"}] }),
        );
        assert_eq!(s, 200, "{name}: {inferred}");
        let labels: Vec<Value> = from_cli.iter().map(|p| p["label"].clone()).collect();
        assert_eq!(inferred["outputs"][0]["data"], json!(labels), "{name}");
        if name == "security-intrusion" {
            // The guard's verdict is an output tensor too.
            let (s, inferred) = server.post(
                &format!("/v2/models/{name}/infer"),
                &json!({ "inputs": inputs, "outputs": [{"name": "novelty_flagged"}] }),
            );
            assert_eq!(s, 200, "{inferred}");
            let flagged: Vec<Value> = from_cli
                .iter()
                .map(|p| p["novelty"]["flagged"].clone())
                .collect();
            assert_eq!(inferred["outputs"][0]["data"], json!(flagged));
            assert_eq!(inferred["outputs"][0]["datatype"], "BOOL");
        }
        assert_eq!(server.get(&format!("/v2/models/{name}/ready")).0, 200);

        if recommender {
            // Side columns come from the joined tables: only the keys are required.
            let required = schema["required"].as_array().unwrap();
            assert!(required.contains(&json!("user_id")) && required.contains(&json!("item_id")));
            assert!(!required.contains(&json!("age")), "{schema}");
            let user = rows[0]["user_id"].clone();
            let (s, list) = server.post(
                &format!("/v1/scenarios/{name}/recommend"),
                &json!({"user": user, "k": 7}),
            );
            assert_eq!(s, 200, "{list}");
            let items = list["items"].as_array().unwrap();
            assert_eq!(items.len(), 7);
            assert!(list["excluded_seen"].as_u64().unwrap() > 0);
            let ratings: Vec<f64> = items
                .iter()
                .map(|i| i["rating"].as_f64().unwrap())
                .collect();
            assert!(
                ratings.windows(2).all(|w| w[0] >= w[1]),
                "best first: {ratings:?}"
            );
            // A rating request naming only the ids gets the joined side columns.
            let (s, one) = server.post(
                &format!("/v1/scenarios/{name}/predict"),
                &json!({"rows": [{"user_id": user, "item_id": items[0]["item"]}]}),
            );
            assert_eq!(s, 200, "{one}");
            let value = one["predictions"][0]["value"].as_f64().unwrap();
            assert!(
                (value - ratings[0]).abs() < 1e-4,
                "{value} vs {}",
                ratings[0]
            );
            let (s, unknown) = server.post(
                &format!("/v1/scenarios/{name}/recommend"),
                &json!({"user": "no-such-user"}),
            );
            assert_eq!(s, 404, "{unknown}");
            let (s, bad) = server.post(
                &format!("/v1/scenarios/{name}/predict"),
                &json!({"rows": [{"user_id": 99999, "item_id": 1}]}),
            );
            assert_eq!(s, 422, "{bad}");
            assert!(bad.to_string().contains("99999"), "{bad}");
        } else {
            let (s, _) = server.post(
                &format!("/v1/scenarios/{name}/recommend"),
                &json!({"user": "1"}),
            );
            assert_eq!(s, 422, "{name} has no recommendation head");
        }
    }
    let (_, metrics) = server.get("/metrics");
    let metrics = metrics.as_str().unwrap();
    for (name, _) in SCENARIOS {
        // Five rows through predict, five through the OIP infer (and the
        // recommender's one-row prediction, the image scenarios' PNG, the
        // guarded scenario's second infer call).
        let rows = match name {
            "retail-recommendation" => 11,
            n if n.starts_with("mnist") || n.starts_with("medical-imaging") => 11,
            "security-intrusion" => 15,
            _ => 10,
        };
        assert!(
            metrics.contains(&format!(
                "indus_rows_predicted_total{{scenario=\"{name}\"}} {rows}"
            )),
            "{name} missing from /metrics"
        );
    }
    // The dashboard says how each model is built: an ensemble, extra heads.
    let (status, page) = server.get("/");
    assert_eq!(status, 200);
    let page = page.as_str().unwrap_or_default().to_string();
    assert!(
        page.contains("in 5 networks whose outputs are averaged"),
        "medical-imaging"
    );
    assert!(
        page.contains("convolutions 16, 32 (3×3) → hidden 64;") && page.contains("hidden 128, 64;"),
        "each network's layers: medical-imaging, mnist"
    );
    assert!(
        page.contains("Heads trained with <b>failure</b>") && page.contains("heat_dissipation"),
        "predictive-maintenance"
    );
    // Each scenario's own target, judged on this (sliced) run.
    assert!(
        page.contains("roc_auc ≥ 0.8: met") || page.contains("roc_auc ≥ 0.8: <b>not met</b>"),
        "credit-scoring's target"
    );
    assert_eq!(server.get("/v2/health/live").0, 200);
    assert_eq!(server.get("/health").0, 200);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = Server::start(&["--scenario", "credit-scoring"]);
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            assert!(exit.success(), "exit status {exit}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_scenario_without_runs_stops_the_server_with_its_name() {
    let err = fails(&indus(
        &[
            "serve",
            "--port",
            "0",
            "--runs-dir",
            "runs",
            "--scenario",
            "no-such-scenario",
        ],
        project(),
    ));
    assert!(err.contains("scenario `no-such-scenario`"), "{err}");
}

/// The dashboard in headless Chromium, driven by tests/browser/dashboard.mjs
/// (playwright-core): the live page at 1280 and 390 px, its "try it" form,
/// and the static report from a file URL. `.ci/run` installs Chromium and
/// the script's npm package; screenshots land in the test's target folder.
#[test]
fn the_dashboard_works_in_a_real_browser() {
    let browser_dir = repo().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci --prefix tests/browser` (and install chromium) first; .ci/run does both"
    );
    let names = ["credit-scoring", "medical-imaging", "mnist"];
    let mut args = Vec::new();
    for n in names {
        args.extend(["--scenario", n]);
    }
    let server = Server::start(&args);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out).unwrap();
    let report = out.join("report.html");
    let mut report_args = vec![
        "report",
        "--runs-dir",
        "runs",
        "--out",
        report.to_str().unwrap(),
    ];
    for n in names {
        report_args.extend(["--scenario", n]);
    }
    ok(&indus(&report_args, project()));
    // Permutation importance: the credit model's columns; image models
    // (a pixel alone means nothing) have none.
    let page = std::fs::read_to_string(&report).unwrap();
    assert_eq!(page.matches("What the model leans on").count(), 1);
    assert!(page.contains("roc_auc lost when the column is shuffled"));
    let run = Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .arg(&server.url)
        .arg(&report)
        .arg(&out)
        .arg(names.join(","))
        .output()
        .expect("node is needed for the browser test");
    assert!(
        run.status.success(),
        "browser checks failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.join("dashboard-390.png").is_file());
}
