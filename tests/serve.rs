//! End-to-end tests of `indus serve`: the real binary on an ephemeral port,
//! serving a run of every shipped scenario (small slices of the real data),
//! called over HTTP the way a client would.

mod common;

use common::{credit_lines_with, data_dir, fails, indus, latest_run, ok, repo};
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

/// The columns of the plugin a shipped scenario uses, as JSON.
fn plugin_columns(scenario: &str) -> Vec<Value> {
    let text =
        std::fs::read_to_string(repo().join("scenarios").join(format!("{scenario}.yaml"))).unwrap();
    let plugin = text
        .lines()
        .find_map(|l| l.strip_prefix("plugin:"))
        .unwrap()
        .trim()
        .to_string();
    let manifest: Value = serde_norway::from_str(
        &std::fs::read_to_string(repo().join("plugins").join(&plugin).join("plugin.yaml")).unwrap(),
    )
    .unwrap();
    manifest["data"]["columns"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A running `indus serve`, killed when dropped.
struct Server {
    child: Child,
    url: String,
    /// `host:port` of the gRPC service, when started with `--grpc-port`.
    grpc: Option<String>,
    agent: ureq::Agent,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::start_in(project(), extra)
    }

    /// `indus serve` of the runs under `dir/runs`.
    fn start_in(dir: &Path, extra: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_indus"));
        command
            .args(["serve", "--port", "0", "--runs-dir", "runs"])
            .arg("--root")
            .arg(repo())
            .args(extra)
            .current_dir(dir)
            .env("INDUS_OFFLINE", "1")
            .env_remove("INDUS_RUNS_DIR");
        Server::spawn(command, extra.contains(&"--grpc-port"))
    }

    /// Starts `command` (an `indus serve` that prints where it listens)
    /// and waits until it is ready.
    fn spawn(command: Command, with_grpc: bool) -> Server {
        Server::spawn_logging(command, with_grpc, Stdio::null())
    }

    /// [`Server::spawn`] with the server's log going to `log`.
    fn spawn_logging(mut command: Command, with_grpc: bool, log: Stdio) -> Server {
        let mut child = command.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        let grpc = with_grpc.then(|| {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            line.trim()
                .strip_prefix("grpc listening on ")
                .unwrap_or_else(|| panic!("unexpected second line: {line:?}"))
                .to_string()
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let server = Server {
            child,
            url,
            grpc,
            agent,
        };
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
        let mut req = self.agent.post(format!("{}{path}", self.url));
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        let mut res = req.send(body).unwrap();
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
        // The same model by its version (the run id), and an infer body
        // sent without a JSON content type, as tritonclient sends it.
        let version = meta["versions"][0].as_str().unwrap();
        let at = format!("/v2/models/{name}/versions/{version}");
        assert_eq!(server.get(&at).0, 200);
        assert_eq!(server.get(&format!("{at}/ready")).0, 200);
        assert_eq!(
            server.get(&format!("/v2/models/{name}/versions/0/ready")).0,
            404
        );
        let (s, bare) = server.send(
            &format!("{at}/infer"),
            "",
            json!({ "inputs": inputs, "outputs": [{"name": "label"}] })
                .to_string()
                .into_bytes(),
        );
        assert_eq!(s, 200, "{name}: {bare}");
        assert_eq!(bare["outputs"][0]["data"], json!(labels), "{name}");
        // Columns a native hook derives are never asked of a client.
        let derived: Vec<String> = plugin_columns(name)
            .into_iter()
            .filter(|c| c["derived"] == json!(true))
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        for column in &derived {
            assert!(
                !meta["inputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["name"] == json!(column)),
                "{name}: derived `{column}` is asked as an input"
            );
        }

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
        // Five rows through predict, five through each of the two OIP
        // infer routes (and the recommender's one-row prediction, the
        // image scenarios' PNG, the guarded scenario's third infer call).
        let rows = match name {
            "retail-recommendation" => 16,
            n if n.starts_with("mnist") || n.starts_with("medical-imaging") => 16,
            "security-intrusion" => 20,
            _ => 15,
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

/// A dozen scenarios: the shipped nine (their runs linked in) and three
/// more of the credit plugin under long names, as a team's dashboard grows.
fn dozen_project() -> (PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap().keep();
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let mut names: Vec<String> = SCENARIOS.iter().map(|(n, _)| n.to_string()).collect();
    for name in &names {
        std::os::unix::fs::symlink(project().join("runs").join(name), runs.join(name)).unwrap();
    }
    // The copies' plugin is found beside them, as in a project.
    std::fs::create_dir_all(dir.join("extra/scenarios")).unwrap();
    std::os::unix::fs::symlink(repo().join("plugins"), dir.join("extra/plugins")).unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/credit-scoring.yaml")).unwrap();
    for copy in [
        "quarterly-retail-credit-review",
        "credit-scoring-branch-b",
        "small-business-loans-2026",
    ] {
        let file = dir.join(format!("extra/scenarios/{copy}.yaml"));
        std::fs::write(
            &file,
            text.replace("name: credit-scoring", &format!("name: {copy}")),
        )
        .unwrap();
        ok(&indus(
            &[
                "run",
                file.to_str().unwrap(),
                "--runs-dir",
                "runs",
                "--epochs",
                "1",
            ],
            &dir,
        ));
        names.push(copy.to_string());
    }
    names.sort();
    (dir, names)
}

/// The dashboard in headless Chromium, driven by tests/browser/dashboard.mjs
/// (playwright-core) with a dozen scenarios: the live page at 2400, 1280
/// and 390 px (the table's first column stays in view and the Target column
/// is never cut, the curve legend sits beside the plot), its "try it" form,
/// and the static report from a file URL. `.ci/run` installs Chromium and
/// the script's npm package; screenshots land in the test's target folder.
#[test]
fn the_dashboard_works_in_a_real_browser() {
    let browser_dir = repo().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci --prefix tests/browser` (and install chromium) first; .ci/run does both"
    );
    let (dir, names) = dozen_project();
    assert_eq!(names.len(), 12);
    let server = Server::start_in(&dir, &[]);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out).unwrap();
    let report = out.join("report.html");
    let report_args = vec![
        "report",
        "--runs-dir",
        "runs",
        "--out",
        report.to_str().unwrap(),
    ];
    ok(&indus(&report_args, &dir));
    // Permutation importance: the credit models' columns; image models
    // (a pixel alone means nothing) have none.
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.matches("What the model leans on").count() >= 4);
    assert!(page.contains("roc_auc lost when the column is shuffled"));
    // Fairness across groups: the German credit plugin's age bands and sex.
    assert!(page.contains("Fairness across groups"), "no fairness panel");
    assert!(page.contains("Fairness of credit-scoring by age_in_years"));
    assert!(page.contains("Gaps: demographic parity difference"));
    assert!(
        page.contains("<h3>Data quality</h3>"),
        "no data-quality panel"
    );
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

/// Opens a TCP connection to the server's address.
fn connect(server: &Server) -> std::net::TcpStream {
    let addr = server.url.trim_start_matches("http://");
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// How long `/health` takes to answer.
fn health_latency(server: &Server) -> Duration {
    let started = Instant::now();
    assert_eq!(server.get("/health").0, 200);
    started.elapsed()
}

/// Slow and idle clients, oversized announcements and a connection flood:
/// the probes still answer at once, half-sent headers are cut off after
/// the header timeout, and a body announced over the limit gets its 413
/// before it is sent.
#[test]
fn slow_idle_and_oversized_clients_do_not_hold_the_server() {
    use std::io::{Read, Write};
    let server = Server::start(&[
        "--scenario",
        "credit-scoring",
        "--header-timeout-secs",
        "1",
        "--concurrency",
        "4",
        "--max-connections",
        "64",
    ]);
    // Half-sent headers, and slow bodies holding every request slot.
    let mut half_open = Vec::new();
    for _ in 0..20 {
        let mut s = connect(&server);
        s.write_all(b"GET /v1/scenarios HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        half_open.push(s);
    }
    let mut slow_bodies = Vec::new();
    for _ in 0..8 {
        let mut s = connect(&server);
        s.write_all(
            b"POST /v1/scenarios/credit-scoring/predict HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"rows\": [",
        )
        .unwrap();
        slow_bodies.push(s);
    }
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        let took = health_latency(&server);
        assert!(took < Duration::from_millis(500), "/health took {took:?}");
    }
    // A body announced over the limit is refused before it is sent.
    let mut big = connect(&server);
    big.write_all(
        b"POST /v1/scenarios/credit-scoring/predict HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 999999999999\r\n\r\n",
    )
    .unwrap();
    let mut answer = [0u8; 64];
    let n = big.read(&mut answer).unwrap();
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // The half-sent headers are closed by the server after the timeout.
    std::thread::sleep(Duration::from_millis(1500));
    for mut s in half_open {
        let mut buf = [0u8; 256];
        // Closed: end of stream (or a 408 first, then the end).
        let n = s.read(&mut buf).unwrap_or(0);
        let rest = if n > 0 {
            s.read(&mut buf).unwrap_or(0)
        } else {
            0
        };
        assert_eq!(rest, 0, "a half-sent request was left open");
    }
    // Past the connection cap, new connections are closed at once and the
    // server still answers once they go.
    let flood: Vec<_> = (0..80).map(|_| connect(&server)).collect();
    drop(flood);
    drop(slow_bodies);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.get("/health").0, 200);
}

/// Heavy predicts run off the async threads and stop at their timeout:
/// while two requests of 10,000 rows each (reason codes on every row) are
/// being answered, `/health` answers at once, and a request over its time
/// gets a 408 instead of a late 200.
#[test]
fn heavy_requests_do_not_stall_the_probes_and_stop_at_their_timeout() {
    let server = Server::start(&["--scenario", "credit-scoring", "--timeout-secs", "2"]);
    let (_, examples) = server.get("/v1/scenarios/credit-scoring/examples");
    let row = examples["rows"][0].clone();
    let body = json!({ "rows": vec![row; 10_000] });
    let heavy: Vec<_> = (0..2)
        .map(|_| {
            let (url, body) = (server.url.clone(), body.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let started = Instant::now();
                let res = agent
                    .post(format!("{url}/v1/scenarios/credit-scoring/predict"))
                    .header("content-type", "application/json")
                    .send(body.to_string())
                    .unwrap();
                (res.status().as_u16(), started.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        worst = worst.max(health_latency(&server));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(worst < Duration::from_millis(500), "/health took {worst:?}");
    for h in heavy {
        let (status, took) = h.join().unwrap();
        assert!(status == 200 || status == 408, "status {status}");
        // Answered by the deadline (plus the chunk in flight), never long after.
        assert!(took < Duration::from_secs(5), "answered after {took:?}");
    }
}

/// SIGTERM while a client holds a half-sent request: the server still
/// exits, after at most the header timeout and the shutdown grace.
#[test]
fn sigterm_ends_the_server_even_with_a_half_sent_request_open() {
    use std::io::Write;
    let mut server = Server::start(&["--scenario", "credit-scoring"]);
    let mut s = connect(&server);
    s.write_all(b"POST /v1/scenarios/credit-scoring/predict HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n{")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if server.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(s);
}

/// A damaged newest run does not stop serving: its scenario falls back to
/// the newest run that verifies, with a warning.
#[test]
fn a_damaged_newest_run_falls_back_to_the_newest_verified_one() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs/credit-scoring");
    std::fs::create_dir_all(&runs).unwrap();
    let good = common::latest_run(&project().join("runs"), "credit-scoring");
    let good_id = good.file_name().unwrap().to_str().unwrap().to_string();
    common::copy_dir(&good, &runs.join(&good_id));
    let newer = runs.join("99999999T999999Z-s7");
    common::copy_dir(&good, &newer);
    let weights = newer.join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    bytes[at + 1] ^= 0xff;
    std::fs::write(&weights, bytes).unwrap();
    // A killed run's leftovers are swept at start.
    let leftover = runs.join(".partial-20000101T000000Z-s1-999999999");
    std::fs::create_dir_all(&leftover).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_indus"))
        .args(["serve", "--port", "0", "--runs-dir"])
        .arg(dir.path().join("runs"))
        .env("INDUS_OFFLINE", "1")
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
        .unwrap()
        .to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let started = Instant::now();
    let body = loop {
        let mut res = agent.get(format!("{url}/v1/scenarios")).call().unwrap();
        if res.status() == 200 {
            break res.body_mut().read_to_string().unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never ready");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list[0]["run_id"], json!(good_id), "{list}");
    assert!(!leftover.exists(), "the killed run's folder was not swept");
}

/// The official Triton clients (`tritonclient.http` and `.grpc` from PyPI,
/// unchanged) against every shipped scenario: liveness, readiness, server
/// and model metadata, versions, and infer (over HTTP with JSON and with
/// binary tensors both ways; over gRPC with raw tensors), each answer
/// equal to `/v1/.../predict`'s (tests/oip/). `.ci/run` installs the
/// clients into a venv and names its Python in `INDUS_OIP_PYTHON`.
#[test]
fn the_official_triton_clients_get_the_answers_of_predict() {
    let python = std::env::var("INDUS_OIP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "set INDUS_OIP_PYTHON to a Python with tritonclient[http,grpc] installed \
             (python3 -m venv v && v/bin/pip install 'tritonclient[http,grpc]'); .ci/run does"
        )
    });
    let server = Server::start(&["--grpc-port", "0"]);
    for (script, endpoint) in [
        ("triton_http.py", None),
        ("triton_grpc.py", server.grpc.clone()),
    ] {
        let out = Command::new(&python)
            .arg(repo().join("tests/oip").join(script))
            .arg(&server.url)
            .args(endpoint)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{script}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.matches("agrees with /v1 predict").count(),
            SCENARIOS.len(),
            "{script}: {stdout}"
        );
    }
}

/// A log written to a file carries no colour codes, and `--log-format json`
/// writes one JSON object per line for a log collector.
#[test]
fn server_logs_are_plain_in_a_file_and_json_on_request() {
    for (format, check) in [("text", false), ("json", true)] {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_indus"))
            .args([
                "serve",
                "--port",
                "0",
                "--runs-dir",
                "runs",
                "--scenario",
                "credit-scoring",
            ])
            .args(["--log-format", format])
            .current_dir(project())
            .env("INDUS_OFFLINE", "1")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let started = Instant::now();
        let text = loop {
            let text = std::fs::read_to_string(log.path()).unwrap();
            if text.contains("ready") || started.elapsed() > Duration::from_secs(30) {
                break text;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(!text.contains('\u{1b}'), "colour codes in a file: {text}");
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty());
        if check {
            for l in lines {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
                assert!(v["level"].is_string(), "{l}");
            }
        }
    }
}

/// A runs root with two finished runs of credit-scoring (oldest first).
fn two_credit_runs() -> (PathBuf, String, String) {
    let dir = tempfile::tempdir().unwrap().keep();
    let scenario = repo().join("scenarios/credit-scoring.yaml");
    let mut ids = Vec::new();
    for seed in ["1", "2"] {
        let v: Value = serde_json::from_str(&ok(&indus(
            &[
                "run",
                scenario.to_str().unwrap(),
                "--runs-dir",
                "runs",
                "--epochs",
                "1",
                "--seed",
                seed,
                "--json",
            ],
            &dir,
        )))
        .unwrap();
        ids.push(v["metrics"]["run_id"].as_str().unwrap().to_string());
    }
    (dir, ids[0].clone(), ids[1].clone())
}

/// The run id `/v1/scenarios` says credit-scoring is served by, and why.
fn served_credit(server: &Server) -> (String, String) {
    let (s, list) = server.get("/v1/scenarios");
    assert_eq!(s, 200, "{list}");
    let c = &list[0];
    (
        c["run_id"].as_str().unwrap().to_string(),
        c["served_via"].as_str().unwrap().to_string(),
    )
}

/// Waits up to `limit` for the server to serve `run`.
fn serves_within(server: &Server, run: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while served_credit(server).0 != run {
        assert!(
            started.elapsed() < limit,
            "still serving {:?} after {limit:?}, wanted {run}",
            served_credit(server)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

/// The registry end to end: without an alias the newest run is served and
/// says so; a promotion made by another process (the CLI) is followed
/// within 5 s without a restart, a rollback over HTTP at once; a broken
/// target is refused and the alias's old run stays served; `--read-only`
/// refuses moves; `--run DIR` serves exactly that folder.
#[test]
fn servers_follow_the_production_alias_and_its_rollbacks() {
    let (dir, older, newer) = two_credit_runs();
    let server = Server::start_in(&dir, &["--open-admin"]);
    let (run, via) = served_credit(&server);
    assert_eq!(run, newer);
    assert!(via.contains("newest verified run"), "{via}");

    // Promoted by the CLI, as a change process would.
    let out = ok(&indus(
        &["promote", "credit-scoring", &older, "--reason", "audited"],
        &dir,
    ));
    assert!(out.contains("production") && out.contains(&older), "{out}");
    let took = serves_within(&server, &older, Duration::from_secs(5));
    eprintln!("followed a CLI promotion in {took:?}");
    assert_eq!(served_credit(&server).1, "alias `production`");

    // Over HTTP: promote the newer run, then roll back.
    let (s, moved) = server.post(
        "/v1/scenarios/credit-scoring/aliases/production",
        &json!({"run": newer, "reason": "retrained"}),
    );
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["previous"], json!(older));
    serves_within(&server, &newer, Duration::from_secs(1));
    let (s, back) = server.post(
        "/v1/scenarios/credit-scoring/aliases/production/rollback",
        &json!({"reason": "worse on live data"}),
    );
    assert_eq!(s, 200, "{back}");
    serves_within(&server, &older, Duration::from_secs(1));
    let (s, listed) = server.get("/v1/scenarios/credit-scoring/versions");
    assert_eq!(s, 200);
    assert_eq!(listed["aliases"]["production"], json!(older));
    let history = listed["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[2]["reason"], "worse on live data");
    assert_eq!(history[0]["reason"], "audited");

    // The CLI lists both versions, newest first, with the alias.
    let table = ok(&indus(&["runs", "credit-scoring"], &dir));
    let (at_newer, at_older) = (table.find(&newer).unwrap(), table.find(&older).unwrap());
    assert!(at_newer < at_older, "{table}");
    assert!(
        table[at_older..]
            .lines()
            .next()
            .unwrap()
            .contains("production"),
        "{table}"
    );
    let e = fails(&indus(
        &["rollback", "credit-scoring", "--alias", "staging"],
        &dir,
    ));
    assert!(e.contains("no alias `staging`"), "{e}");

    // Bad moves: a clear 422, nothing changes.
    for (path, body) in [
        (
            "/v1/scenarios/credit-scoring/aliases/production",
            json!({"run": "no-such-run"}),
        ),
        (
            "/v1/scenarios/credit-scoring/aliases/Prod..",
            json!({"run": newer}),
        ),
    ] {
        let (s, e) = server.post(path, &body);
        assert_eq!(s, 422, "{path}: {e}");
    }

    // A target that does not verify is refused; the old run stays served.
    let weights = dir
        .join("runs/credit-scoring")
        .join(&newer)
        .join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    let e = fails(&indus(&["promote", "credit-scoring", &newer], &dir));
    assert!(e.contains("checksum changed"), "{e}");
    assert_eq!(served_credit(&server).0, older);
    // An alias moved to it by hand (past the checks) is refused by the
    // server, which keeps answering with the run it verified.
    let aliases = dir.join("runs/credit-scoring/aliases.json");
    let text = std::fs::read_to_string(&aliases).unwrap();
    std::fs::write(&aliases, text.replace(&older, &newer)).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(served_credit(&server).0, older);
    let (s, _) = server.post("/v1/scenarios/credit-scoring/predict", &json!({"rows": server.get("/v1/scenarios/credit-scoring/examples").1["rows"].as_array().unwrap()[..1]}));
    assert_eq!(s, 200);
    std::fs::write(&aliases, text).unwrap();
    drop(server);

    // A read-only server refuses to move aliases.
    let read_only = Server::start_in(&dir, &["--open-admin", "--read-only"]);
    let (s, e) = read_only.post(
        "/v1/scenarios/credit-scoring/aliases/production/rollback",
        &json!({}),
    );
    assert_eq!(s, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("read-only"), "{e}");
    drop(read_only);

    // One exact run folder.
    let folder = dir.join("runs/credit-scoring").join(&older);
    let one = Server::start_in(&dir, &["--run", folder.to_str().unwrap()]);
    let (run, via) = served_credit(&one);
    assert_eq!(run, older);
    assert!(via.contains("--run"), "{via}");
}

/// The container image's contents and command line, without a container
/// runtime (none can run on the build machines): `deploy/layout.sh` lays
/// out what the Dockerfile copies, the laid-out binary trains a shipped
/// scenario with the laid-out plugins, and the Dockerfile's ENV, WORKDIR,
/// ENTRYPOINT and CMD, with the image's root mapped to the folder, serve
/// it: `/ready`, then one predict.
#[test]
fn the_image_layout_serves_with_the_dockerfile_command_line() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    // The promises an operator relies on.
    for needle in [
        "USER 10001",
        "HEALTHCHECK",
        "/ready",
        "VOLUME [\"/var/lib/indus/runs\"]",
        "deploy/layout.sh /out target/release",
    ] {
        assert!(dockerfile.contains(needle), "Dockerfile lacks {needle}");
    }
    let image = tempfile::tempdir().unwrap();
    let root = image.path();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_indus")).parent().unwrap();
    let laid = Command::new(repo().join("deploy/layout.sh"))
        .arg(root)
        .arg(bin_dir)
        .output()
        .unwrap();
    assert!(
        laid.status.success(),
        "{}",
        String::from_utf8_lossy(&laid.stderr)
    );
    let in_image = |p: &str| -> String {
        if p.starts_with('/') {
            root.join(p.trim_start_matches('/')).display().to_string()
        } else {
            p.to_string()
        }
    };
    // The runtime stage's ENV (one instruction over several lines).
    let runtime = &dockerfile[dockerfile.rfind("\nFROM ").unwrap()..];
    let joined = runtime.replace("\\\n", " ");
    let mut env: Vec<(String, String)> = Vec::new();
    let mut workdir = String::from("/");
    let (mut entrypoint, mut cmd): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for line in joined.lines() {
        if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').unwrap();
                env.push((k.to_string(), v.to_string()));
            }
        } else if let Some(rest) = line.strip_prefix("WORKDIR ") {
            workdir = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("ENTRYPOINT ") {
            entrypoint = serde_json::from_str(rest).unwrap();
        } else if let Some(rest) = line.strip_prefix("CMD ") {
            cmd = serde_json::from_str(rest).unwrap();
        }
    }
    assert_eq!(entrypoint, ["/opt/indus/bin/indus"]);
    let runs = env
        .iter()
        .find(|(k, _)| k == "INDUS_RUNS_DIR")
        .unwrap()
        .1
        .clone();
    // A run made by the laid-out binary from the laid-out scenario.
    let binary = in_image(&entrypoint[0]);
    let trained = Command::new(&binary)
        .arg("run")
        .arg(in_image("/opt/indus/scenarios/credit-scoring.yaml"))
        .args(["--epochs", "1", "--runs-dir"])
        .arg(in_image(&runs))
        .env("INDUS_OFFLINE", "1")
        .env_remove("INDUS_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let workdir = in_image(&workdir);
    std::fs::create_dir_all(&workdir).unwrap();
    let mut command = Command::new(&binary);
    command
        .args(cmd.iter().map(|a| in_image(a)))
        .current_dir(&workdir);
    command.env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in &env {
        command.env(k, in_image(v));
    }
    // Loopback and a free port here; the image listens on 0.0.0.0:8080.
    command
        .env("INDUS_HOST", "127.0.0.1")
        .env("INDUS_PORT", "0");
    let server = Server::spawn(command, false);
    let (s, examples) = server.get("/v1/scenarios/credit-scoring/examples");
    assert_eq!(s, 200, "{examples}");
    let (s, answer) = server.post(
        "/v1/scenarios/credit-scoring/predict",
        &json!({"rows": examples["rows"].as_array().unwrap()[..1]}),
    );
    assert_eq!(s, 200, "{answer}");
    assert!(answer["predictions"][0]["label"].is_string(), "{answer}");
}

/// A column marked `sensitive: true` (a salary, every value starting with
/// 9135 or 9136) trains and serves, and none of its values reaches any
/// output: the CLI's messages and reports, the run's metrics, examples and
/// model card, the dashboard, every HTTP answer (bad rows included) and
/// the server's log. With `--error-detail minimal` a refused row is not
/// even told which column was wrong.
#[test]
fn a_sensitive_columns_values_never_reach_an_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lines = credit_lines_with("salary", |i, _| (91_357_000 + 7 * i).to_string());
    let data = dir.join("loans.csv");
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    ok(&indus(
        &[
            "new",
            "plugin",
            "loans",
            "--from",
            "loans.csv",
            "--target",
            "creditability",
            "--root",
            ".",
        ],
        dir,
    ));
    // The proposal's comments quote observed values; the user's own file
    // may, the outputs may not. Declare the column sensitive.
    let manifest = dir.join("plugins/loans/plugin.yaml");
    let yaml = std::fs::read_to_string(&manifest).unwrap();
    let start = yaml.find("    - name: salary").unwrap();
    let end = start + yaml[start..].find("normalization: z_score").unwrap();
    let yaml = format!(
        "{}    - name: salary\n      type: integer\n      role: feature\n      sensitive: true\n      range: [0, 1000000000]\n      {}",
        &yaml[..start],
        &yaml[end..]
    );
    std::fs::write(&manifest, yaml).unwrap();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, out: &std::process::Output| {
        seen.push((
            what.to_string(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    };
    let run = indus(
        &[
            "run",
            "scenarios/loans.yaml",
            "--runs-dir",
            "runs",
            "--epochs",
            "2",
        ],
        dir,
    );
    ok(&run);
    keep("indus run", &run);
    let run_dir = latest_run(&dir.join("runs"), "loans");
    let run_id = run_dir.to_str().unwrap().to_string();
    // Rows that break the column's rules, with the bad values as sentinels.
    let bad_rows = |values: &[&str]| {
        let mut rows = vec![lines[0].clone()];
        for (k, v) in values.iter().enumerate() {
            let (rest, _) = lines[k + 1].rsplit_once(',').unwrap();
            rows.push(format!("{rest},{v}"));
        }
        rows.join("\n") + "\n"
    };
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        bad_rows(&["SENTINEL-GRAPE", "88888888888", "91357777.5"]),
    )
    .unwrap();
    let refused = indus(
        &[
            "predict",
            &run_id,
            "--runs-dir",
            "runs",
            "--input",
            "bad.csv",
        ],
        dir,
    );
    let said = fails(&refused);
    assert!(
        said.contains("salary") && said.contains("withheld"),
        "{said}"
    );
    keep("indus predict (bad rows)", &refused);
    for command in ["predict", "eval", "drift"] {
        let args = [
            command,
            &run_id,
            "--runs-dir",
            "runs",
            "--input",
            "loans.csv",
        ];
        let out = indus(&args, dir);
        ok(&out);
        keep(&format!("indus {command}"), &out);
    }
    let out = indus(
        &["report", "--runs-dir", "runs", "--out", "report.html"],
        dir,
    );
    ok(&out);
    keep("indus report", &out);
    let mut files: Vec<(String, String)> = [
        "metrics.json",
        "model_card.json",
        "model_card.md",
        "examples.json",
        "held_out.csv",
    ]
    .iter()
    .map(|f| {
        (
            f.to_string(),
            std::fs::read_to_string(run_dir.join(f)).unwrap(),
        )
    })
    .collect();
    files.push((
        "report.html".into(),
        std::fs::read_to_string(dir.join("report.html")).unwrap(),
    ));
    seen.extend(files);
    // The same through HTTP, with the server's log kept.
    let log = dir.join("serve.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_indus"));
    command
        .args(["serve", "--port", "0", "--runs-dir", "runs", "--root", "."])
        .current_dir(dir)
        .env("INDUS_OFFLINE", "1")
        .env("RUST_LOG", "debug")
        .env_remove("INDUS_RUNS_DIR");
    let server = Server::spawn_logging(
        command,
        false,
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let (_, examples) = server.get("/v1/scenarios/loans/examples");
    let rows = examples["rows"].as_array().unwrap().clone();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r["salary"].as_f64() == Some(0.0)),
        "{examples}"
    );
    let mut answers = vec![examples.to_string()];
    for path in [
        "/v1/scenarios/loans",
        "/v1/scenarios/loans/card",
        "/v1/scenarios/loans/card.md",
        "/",
        "/v1/scenarios/loans/schema",
    ] {
        let (status, body) = server.get(path);
        assert_eq!(status, 200, "{path}");
        answers.push(body.to_string());
    }
    let (status, body) = server.post("/v1/scenarios/loans/explain", &json!({ "rows": rows }));
    assert_eq!(status, 200, "{body}");
    answers.push(body.to_string());
    let training: Vec<Value> = lines[1..121]
        .iter()
        .map(|l| {
            let (_, salary) = l.rsplit_once(',').unwrap();
            let mut row = rows[0].clone();
            row["salary"] = json!(salary.parse::<u64>().unwrap());
            row
        })
        .collect();
    let (status, body) = server.post("/v1/scenarios/loans/drift", &json!({ "rows": training }));
    assert_eq!(status, 200, "{body}");
    answers.push(body.to_string());
    for bad_value in [
        json!("SENTINEL-GRAPE"),
        json!(88_888_888_888u64),
        json!(91_357_777.5),
        json!({"v": 91_357_007}),
    ] {
        let mut row = rows[0].clone();
        row["salary"] = bad_value;
        let (status, body) = server.post("/v1/scenarios/loans/predict", &json!({ "rows": [row] }));
        assert_eq!(status, 422, "{body}");
        assert!(
            body.to_string().contains("salary"),
            "full detail names the column: {body}"
        );
        answers.push(body.to_string());
    }
    let (status, body) = server.send(
        "/v1/scenarios/loans/predict/csv",
        "text/csv",
        bad_rows(&["SENTINEL-GRAPE"]).into_bytes(),
    );
    assert_eq!(status, 422, "{body}");
    answers.push(body.to_string());
    drop(server);
    seen.extend(answers.into_iter().map(|a| ("HTTP".to_string(), a)));
    seen.push(("server log".into(), std::fs::read_to_string(&log).unwrap()));
    // Under --error-detail minimal the refusal says only its status.
    let server = Server::start_in(dir, &["--error-detail", "minimal"]);
    let mut row = rows[0].clone();
    row["salary"] = json!("SENTINEL-GRAPE");
    let (status, body) = server.post("/v1/scenarios/loans/predict", &json!({ "rows": [row] }));
    assert_eq!(status, 422, "{body}");
    assert!(
        !body.to_string().contains("salary")
            && body["details"].as_array().is_none_or(Vec::is_empty),
        "{body}"
    );
    let (status, body) = server.get("/v1/scenarios/no-such-scenario");
    assert_eq!(status, 404);
    assert!(
        !body.to_string().contains("loans"),
        "no scenario names: {body}"
    );
    let salaries: std::collections::HashSet<String> = (1..=1000)
        .map(|i| (91_357_000 + 7 * i).to_string())
        .chain(["88888888888".to_string(), "91357777".to_string()])
        .collect();
    for (what, text) in &seen {
        assert!(
            !text.contains("SENTINEL-GRAPE"),
            "{what} shows the bad cell:\n{text}"
        );
        if let Some(n) = whole_numbers(text).find(|n| salaries.contains(*n)) {
            panic!("{what} shows salary {n}:\n{text}");
        }
    }
}

/// The whole numbers written in `text` (digit runs not inside a longer
/// number's fraction), as a value echoed into an output would be written.
fn whole_numbers(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            if !bytes[at].is_ascii_digit() {
                at += 1;
                continue;
            }
            let start = at;
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            let fraction = start > 0
                && bytes[start - 1] == b'.'
                && start > 1
                && bytes[start - 2].is_ascii_digit();
            if !fraction {
                return Some(&text[start..at]);
            }
        }
        None
    })
}
