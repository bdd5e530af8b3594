//! End-to-end tests of the `indus` binary: a real (small) MNIST run from the
//! shared data folder, predictions from every input format, and the bad
//! inputs a user will eventually type.

mod common;

use common::{credit_lines_with, data_dir, fails, indus, ok, repo};
use indus_data::idx::encode_idx;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// One small MNIST run shared by the tests that need a trained model.
struct TrainedRun {
    _tmp: tempfile::TempDir,
    runs: PathBuf,
    run_dir: PathBuf,
    run_json: Value,
}

fn trained() -> &'static TrainedRun {
    static RUN: OnceLock<TrainedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        let scenario = repo().join("scenarios/mnist.yaml");
        let out = indus(
            &[
                "run",
                scenario.to_str().unwrap(),
                "--data-dir",
                data_dir().to_str().unwrap(),
                "--runs-dir",
                runs.to_str().unwrap(),
                "--train-limit",
                "10000",
                "--test-limit",
                "1000",
                "--epochs",
                "4",
                "--json",
            ],
            tmp.path(),
        );
        let run_json: Value = serde_json::from_str(&ok(&out)).unwrap();
        let run_dir = PathBuf::from(run_json["run_dir"].as_str().unwrap());
        TrainedRun {
            _tmp: tmp,
            runs,
            run_dir,
            run_json,
        }
    })
}

#[test]
fn mnist_slice_trains_to_an_accuracy_a_broken_engine_cannot_reach() {
    let r = trained();
    let m = &r.run_json["metrics"];
    let acc = m["test"]["accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.88,
        "test accuracy {acc} on 1000 official test images after 3 epochs on 4000"
    );
    assert_eq!(m["rows"]["train"], 10000);
    assert_eq!(m["rows"]["test"], 1000);
    assert_eq!(m["epochs_run"], 4);
    assert_eq!(
        m["parameters"],
        784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    );
    for f in [
        "run.json",
        "scenario.yaml",
        "plugin.yaml",
        "weights.safetensors",
        "last.safetensors",
        "preprocess.json",
        "metrics.json",
        "history.json",
        "environment.json",
    ] {
        assert!(
            r.run_dir.join(f).is_file(),
            "{f} missing from the run folder"
        );
    }
    let history: Value =
        serde_json::from_slice(&std::fs::read(r.run_dir.join("history.json")).unwrap()).unwrap();
    let losses: Vec<f64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["train_loss"].as_f64().unwrap())
        .collect();
    assert!(losses[3] < losses[0], "training loss must fall: {losses:?}");
    let scenario = std::fs::read_to_string(r.run_dir.join("scenario.yaml")).unwrap();
    assert!(
        scenario.contains("train_limit: 10000") && scenario.contains("epochs: 4"),
        "resolved scenario records overrides:\n{scenario}"
    );
}

#[test]
fn eval_reproduces_the_run_metrics_on_the_same_rows() {
    let r = trained();
    let out = indus(
        &[
            "eval",
            r.run_dir.to_str().unwrap(),
            "--test-limit",
            "1000",
            "--json",
            "--data-dir",
            data_dir().to_str().unwrap(),
        ],
        r.runs.parent().unwrap(),
    );
    let eval: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        eval["metrics"]["accuracy"],
        r.run_json["metrics"]["test"]["accuracy"]
    );
    assert_eq!(
        eval["metrics"]["confusion"],
        r.run_json["metrics"]["test"]["confusion"]
    );
}

/// Writes the first `n` official test images as IDX, CSV and JSON lines.
fn write_inputs(dir: &Path, n: usize) -> (PathBuf, PathBuf, PathBuf, Vec<u8>) {
    let arr =
        indus_data::idx::read_idx(&data_dir().join("mnist/t10k-images-idx3-ubyte.gz")).unwrap();
    let pixels = &arr.data[..n * 784];
    let idx = dir.join("digits-idx3-ubyte");
    std::fs::write(&idx, encode_idx(&[n, 28, 28], pixels)).unwrap();
    let csv = dir.join("digits.csv");
    let mut text = (0..784)
        .map(|i| format!("image_{i}"))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for row in pixels.chunks(784) {
        text.push_str(&row.iter().map(u8::to_string).collect::<Vec<_>>().join(","));
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    let jsonl = dir.join("digits.jsonl");
    let lines: Vec<String> = pixels
        .chunks(784)
        .map(|row| serde_json::json!({ "image": row }).to_string())
        .collect();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    (idx, csv, jsonl, pixels.to_vec())
}

#[test]
fn predict_answers_identically_from_idx_csv_and_json_lines() {
    let r = trained();
    let tmp = tempfile::tempdir().unwrap();
    let (idx, csv, jsonl, _) = write_inputs(tmp.path(), 20);
    let runs = r.runs.to_str().unwrap();
    let predict = |input: &Path| {
        ok(&indus(
            &[
                "predict",
                "mnist",
                "--runs-dir",
                runs,
                "--input",
                input.to_str().unwrap(),
            ],
            tmp.path(),
        ))
    };
    let from_idx = predict(&idx);
    assert_eq!(from_idx, predict(&csv));
    assert_eq!(from_idx, predict(&jsonl));
    let rows: Vec<Value> = from_idx
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 20);
    let labels =
        indus_data::idx::read_idx(&data_dir().join("mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    let mut right = 0;
    for (i, row) in rows.iter().enumerate() {
        let probs = row["probabilities"].as_object().unwrap();
        assert_eq!(probs.len(), 10);
        let sum: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
        right += usize::from(row["label"].as_str().unwrap() == labels.data[i].to_string());
    }
    assert!(right >= 16, "only {right}/20 right");

    let out_csv = tmp.path().join("pred.csv");
    ok(&indus(
        &[
            "predict",
            r.run_dir.to_str().unwrap(),
            "--input",
            idx.to_str().unwrap(),
            "--out",
            out_csv.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let text = std::fs::read_to_string(out_csv).unwrap();
    assert!(text.starts_with("row,id,label,score,p_0,"));
    assert_eq!(text.lines().count(), 21);
}

#[test]
fn predict_rejects_bad_rows_naming_row_and_column() {
    let r = trained();
    let tmp = tempfile::tempdir().unwrap();
    let (_, csv, _, _) = write_inputs(tmp.path(), 3);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[2] = lines[2].replacen("0", "x", 1);
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let err = fails(&indus(
        &[
            "predict",
            r.run_dir.to_str().unwrap(),
            "--input",
            bad.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("bad.csv")
            && err.contains("row 2")
            && err.contains("image_0")
            && err.contains("not a number"),
        "{err}"
    );

    let jsonl = tmp.path().join("bad.jsonl");
    std::fs::write(&jsonl, "{\"image\": [300]}\n").unwrap();
    let err = fails(&indus(
        &[
            "predict",
            r.run_dir.to_str().unwrap(),
            "--input",
            jsonl.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("row 1") && err.contains("`image`") && err.contains("784"),
        "{err}"
    );
}

#[test]
fn predict_refuses_incomplete_or_mixed_up_run_folders() {
    let r = trained();
    let tmp = tempfile::tempdir().unwrap();
    let (idx, _, _, _) = write_inputs(tmp.path(), 2);
    let copy = tmp.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(&r.run_dir).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    // Weights from another network: detected by the run's checksums.
    std::fs::copy(
        copy.join("last.safetensors"),
        copy.join("weights.safetensors"),
    )
    .unwrap();
    let mut w = std::fs::read(copy.join("weights.safetensors")).unwrap();
    let n = w.len();
    w[n - 1] ^= 0xff;
    std::fs::write(copy.join("weights.safetensors"), w).unwrap();
    let err = fails(&indus(
        &[
            "predict",
            copy.to_str().unwrap(),
            "--input",
            idx.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("weights.safetensors") && err.contains("does not belong"),
        "{err}"
    );
    let err = fails(&indus(
        &[
            "predict",
            r.run_dir.to_str().unwrap(),
            "--scenario",
            "mnist-tuned",
            "--input",
            idx.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("run of scenario `mnist`, not `mnist-tuned`"),
        "{err}"
    );
    std::fs::remove_file(copy.join("run.json")).unwrap();
    let err = fails(&indus(
        &[
            "predict",
            copy.to_str().unwrap(),
            "--input",
            idx.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert!(err.contains("incomplete"), "{err}");
}

/// A throwaway project with a tiny IDX plugin (no checksums) and data the
/// test writes itself.
fn tiny_project(images: &[u8], n_images: usize, labels: &[u8]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    std::fs::create_dir_all(p.join("plugins/tiny")).unwrap();
    std::fs::create_dir_all(p.join("scenarios")).unwrap();
    std::fs::create_dir_all(p.join("data/tiny")).unwrap();
    std::fs::write(
        p.join("plugins/tiny/plugin.yaml"),
        "name: tiny\nindustry: test\ndescription: tiny\ndata:\n  source:\n    format: idx\n    dataset: tiny\n    files:\n      train_images: {name: ti.idx}\n      train_labels: {name: tl.idx}\n      test_images: {name: ti.idx}\n      test_labels: {name: tl.idx}\n  columns:\n    - {name: image, type: image, role: feature, shape: [2, 2], max_value: 255}\n    - {name: label, type: category, role: target}\nheads:\n  - {name: label, task: multiclass, target: label, classes: ['0', '1']}\n",
    )
    .unwrap();
    std::fs::write(
        p.join("scenarios/tiny.yaml"),
        "name: tiny\nplugin: tiny\nmodel: {hidden: [8]}\ntraining:\n  epochs: 2\n  batch_size: 4\n  optimizer: {kind: sgd, learning_rate: 0.1, momentum: 0.9}\nseed: 1\n",
    )
    .unwrap();
    std::fs::write(
        p.join("data/tiny/ti.idx"),
        encode_idx(&[n_images, 2, 2], images),
    )
    .unwrap();
    std::fs::write(
        p.join("data/tiny/tl.idx"),
        encode_idx(&[labels.len()], labels),
    )
    .unwrap();
    tmp
}

fn run_tiny(p: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "scenarios/tiny.yaml",
        "--data-dir",
        "data",
        "--runs-dir",
        "runs",
    ];
    args.extend_from_slice(extra);
    indus(&args, p)
}

fn runs_written(p: &Path) -> usize {
    indus_runtime::list_runs(&p.join("runs"), None).len()
}

/// `n` 2×2 images of two well-separated patterns (top row lit: class 0,
/// bottom row lit: class 1), alternating, and their labels.
fn two_patterns(n: usize) -> (Vec<u8>, Vec<u8>) {
    let images = (0..n)
        .flat_map(|i| {
            if i % 2 == 0 {
                [250, 250, 0, 0]
            } else {
                [0, 0, 250, 250]
            }
        })
        .collect();
    (images, (0..n).map(|i| (i % 2) as u8).collect())
}

#[test]
fn a_tiny_plugin_trains_end_to_end() {
    let (images, labels) = two_patterns(40);
    let t = tiny_project(&images, 40, &labels);
    let out: Value = serde_json::from_str(&ok(&run_tiny(t.path(), &["--json"]))).unwrap();
    let test = &out["metrics"]["test"];
    assert_eq!(test["accuracy"], 1.0, "two well-separated patterns: {test}");
    assert_eq!(
        test["ranking"]["roc_auc"], 1.0,
        "two-class runs report ranking metrics: {test}"
    );
    assert_eq!(runs_written(t.path()), 1);
    let list = ok(&indus(&["list"], t.path()));
    assert!(
        list.contains("tiny") && list.contains("test accuracy"),
        "{list}"
    );
}

#[test]
fn a_convolution_stem_is_saved_with_the_run_and_answers_new_images() {
    let (images, labels) = two_patterns(40);
    let t = tiny_project(&images, 40, &labels);
    let p = t.path();
    let scenario = p.join("scenarios/tiny.yaml");
    let text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(
        &scenario,
        text.replace("{hidden: [8]}", "{conv: [{filters: 4}], hidden: [8]}")
            .replace("epochs: 2", "epochs: 10"),
    )
    .unwrap();
    let out: Value = serde_json::from_str(&ok(&run_tiny(p, &["--json"]))).unwrap();
    let m = &out["metrics"];
    // 3×3 filters 1→4 (40), 4 maps pooled to 1×1 into 8 units (40), 2 outputs (18).
    assert_eq!(m["parameters"], 40 + 40 + 18);
    assert_eq!(m["test"]["accuracy"], 1.0, "{m}");
    std::fs::write(
        p.join("new.jsonl"),
        "{\"image\": [0, 0, 240, 240]}\n{\"image\": [240, 240, 0, 0]}\n",
    )
    .unwrap();
    let answers = ok(&indus(
        &[
            "predict",
            "tiny",
            "--runs-dir",
            "runs",
            "--input",
            "new.jsonl",
        ],
        p,
    ));
    let labels: Vec<String> = answers
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["label"].to_string())
        .collect();
    assert_eq!(labels, ["\"1\"", "\"0\""], "{answers}");
}

#[test]
fn eval_all_tabulates_every_scenario_over_seeds_and_names_what_it_skipped() {
    let (images, labels) = two_patterns(40);
    let t = tiny_project(&images, 40, &labels);
    let p = t.path();
    // A second plugin whose data is not on this machine.
    std::fs::create_dir_all(p.join("plugins/gone")).unwrap();
    let manifest = std::fs::read_to_string(p.join("plugins/tiny/plugin.yaml")).unwrap();
    std::fs::write(
        p.join("plugins/gone/plugin.yaml"),
        manifest
            .replace("name: tiny", "name: gone")
            .replace("dataset: tiny", "dataset: gone"),
    )
    .unwrap();
    let scenario = std::fs::read_to_string(p.join("scenarios/tiny.yaml")).unwrap();
    std::fs::write(
        p.join("scenarios/gone.yaml"),
        scenario.replace("tiny", "gone"),
    )
    .unwrap();
    let tiny = p.join("scenarios/tiny.yaml");
    let text = std::fs::read_to_string(&tiny).unwrap();
    std::fs::write(&tiny, text + "target: {metric: accuracy, at_least: 0.9}\n").unwrap();
    let args = [
        "eval-all",
        "--seeds",
        "3,4",
        "--data-dir",
        "data",
        "--runs-dir",
        "runs",
        "--out",
        "results.md",
    ];
    ok(&indus(&args, p));
    let page = std::fs::read_to_string(p.join("results.md")).unwrap();
    assert!(page.contains("indus eval-all --seeds 3,4"), "{page}");
    assert!(page.contains("| seeds 3, 4 |"), "{page}");
    assert!(
        page.contains("| `tiny` | official test split")
            && page.contains("| accuracy | 1.0000 ± 0.0000 | ≥ 0.9: met | 1.0000, 1.0000 |"),
        "both seeds separate the two patterns: {page}"
    );
    assert!(
        page.contains("Targets met (judged on the mean over the seeds): 1 of 1."),
        "{page}"
    );
    assert!(
        page.contains("| `gone` | skipped: data set `gone` is not available"),
        "{page}"
    );
    assert_eq!(
        runs_written(p),
        2,
        "one run per seed of the scenario with data"
    );

    let err = fails(&indus(&["eval-all", "--only", "tiny,nosuch"], p));
    assert!(
        err.contains("no scenario `nosuch`") && err.contains("gone, tiny"),
        "{err}"
    );
}

#[test]
fn truncated_idx_and_count_mismatch_are_clear_errors_and_write_nothing() {
    let t = tiny_project(&[1, 2, 3, 4, 5, 6, 7, 8], 2, &[0, 1, 1]);
    let err = fails(&run_tiny(t.path(), &[]));
    assert!(
        err.contains("ti.idx")
            && err.contains("tl.idx")
            && err.contains("2 images")
            && err.contains("3 labels"),
        "{err}"
    );
    let raw = encode_idx(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);
    std::fs::write(t.path().join("data/tiny/ti.idx"), &raw[..raw.len() - 3]).unwrap();
    let err = fails(&run_tiny(t.path(), &[]));
    assert!(err.contains("ti.idx") && err.contains("truncated"), "{err}");
    assert_eq!(runs_written(t.path()), 0);
}

#[test]
fn cuda_without_the_feature_is_an_error_not_a_panic() {
    if cfg!(feature = "cuda") {
        return;
    }
    let t = tiny_project(&[0; 8], 2, &[0, 1]);
    let out = run_tiny(t.path(), &["--backend", "cuda"]);
    let err = fails(&out);
    assert!(err.contains("cuda") && err.contains("feature"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(runs_written(t.path()), 0);
}

#[test]
fn scenario_mistakes_name_file_line_and_field() {
    let t = tiny_project(&[0; 8], 2, &[0, 1]);
    let p = t.path();
    let original = std::fs::read_to_string(p.join("scenarios/tiny.yaml")).unwrap();
    let cases = [
        (
            original.replace("hidden: [8]", "hidden: [8, 0]"),
            "model.hidden[1]",
        ),
        (
            original.replace("learning_rate: 0.1", "learning_rate: 0"),
            "learning_rate",
        ),
        (
            original.replace("epochs: 2", "epochs: 2\n  epoch: 1"),
            "unknown field `epoch`",
        ),
        (
            original.replace("epochs: 2", "epochs: two"),
            "training.epochs",
        ),
        (
            original.replace("plugin: tiny", "plugin: nothere"),
            "no plugin named `nothere`",
        ),
        (
            original.replace("model: {hidden: [8]}", "model: {hidden: [8]"),
            "scenarios/tiny.yaml:",
        ),
    ];
    for (text, needle) in cases {
        std::fs::write(p.join("scenarios/tiny.yaml"), &text).unwrap();
        let err = fails(&run_tiny(p, &[]));
        assert!(
            err.contains("tiny.yaml") && err.contains(needle),
            "expected `{needle}` in: {err}"
        );
        assert_eq!(runs_written(p), 0);
    }
}

#[test]
fn offline_without_data_says_which_files_to_put_where() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/mnist.yaml");
    let err = fails(&indus(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--data-dir",
            "empty",
            "--runs-dir",
            "runs",
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("empty/mnist")
            && err.contains("train-images-idx3-ubyte.gz")
            && err.contains("offline"),
        "{err}"
    );
}

#[test]
fn a_wrong_local_copy_fails_its_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("d/mnist")).unwrap();
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(
            data_dir().join("mnist").join(f),
            tmp.path().join("d/mnist").join(f),
        )
        .unwrap();
    }
    // Labels swapped for the test labels: valid IDX, wrong content.
    std::fs::copy(
        data_dir().join("mnist/t10k-labels-idx1-ubyte.gz"),
        tmp.path().join("d/mnist/train-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let scenario = repo().join("scenarios/mnist.yaml");
    let err = fails(&indus(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--data-dir",
            "d",
            "--runs-dir",
            "runs",
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("checksum mismatch") && err.contains("train-labels-idx1-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn schema_prints_both_json_schemas() {
    let out = ok(&indus(&["schema"], &repo()));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["scenario"]["properties"]["model"].is_object());
    assert!(v["plugin"]["properties"]["data"].is_object());
    for kind in ["plugin", "scenario"] {
        let file = repo().join(format!("docs/schema/{kind}.schema.json"));
        let committed: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(
            committed, v[kind],
            "docs/schema is stale: run `indus schema {kind} > docs/schema/{kind}.schema.json`"
        );
    }
}

#[test]
fn list_shows_shipped_plugins_and_scenarios() {
    let out = ok(&indus(
        &[
            "list",
            "--root",
            repo().to_str().unwrap(),
            "--runs-dir",
            "none",
        ],
        &repo(),
    ));
    assert!(
        out.contains("mnist") && out.contains("mnist-tuned"),
        "{out}"
    );
    assert!(!out.contains("INVALID"), "{out}");
}

/// One cross-validated credit-scoring run on the German credit file the
/// plugin ships (no data directory involved).
fn credit_run() -> &'static (tempfile::TempDir, Value) {
    static RUN: OnceLock<(tempfile::TempDir, Value)> = OnceLock::new();
    RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let scenario = repo().join("scenarios/credit-scoring.yaml");
        let out = indus(
            &[
                "run",
                scenario.to_str().unwrap(),
                "--runs-dir",
                "runs",
                "--json",
            ],
            tmp.path(),
        );
        let v: Value = serde_json::from_str(&ok(&out)).unwrap();
        (tmp, v)
    })
}

#[test]
fn credit_scoring_cross_validates_on_the_shipped_file() {
    let (_, v) = credit_run();
    let m = &v["metrics"];
    let cv = &m["cross_validation"];
    assert_eq!(cv["folds"].as_array().unwrap().len(), 5);
    let auc = cv["mean"]["roc_auc"].as_f64().unwrap();
    assert!(
        auc > 0.74,
        "mean fold ROC-AUC {auc}: a model that learned nothing scores 0.5"
    );
    assert!(cv["std"]["roc_auc"].as_f64().unwrap() > 0.0);
    // What the model leans on, measured on each fold's held-out rows:
    // every feature column (20 read, 3 derived by the hook) has a loss, and
    // the checking account, the data set's best-known signal, is near the top.
    let importance = &m["permutation_importance"];
    assert_eq!(importance["metric"], "roc_auc");
    assert_eq!(importance["rows"], 1000);
    let columns = importance["columns"].as_array().unwrap();
    assert_eq!(columns.len(), 23);
    let top: Vec<&str> = columns[..3]
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert!(
        top.contains(&"status_of_existing_checking_account"),
        "{top:?}"
    );
    assert!(columns[0]["loss"].as_f64().unwrap() > 0.02, "{importance}");
    assert_eq!(
        m["test"]["rows"], 1000,
        "out-of-fold predictions cover every row"
    );
    assert!(m["evaluation"].as_str().unwrap().contains("5-fold"));
    assert_eq!(m["test"]["per_class"][1]["label"], "bad");
    // The plugin's native metrics hook reports credit-policy numbers.
    let approval = m["test"]["custom"]["approval_rate"].as_f64().unwrap();
    assert!(approval > 0.3 && approval < 1.0, "approval rate {approval}");
    assert!(
        m["test"]["custom"]["bad_rate_among_approved"]
            .as_f64()
            .unwrap()
            < 0.3
    );
}

/// Every credit run compares its held-out results across age bands and
/// sex; fairlearn (PyPI), given the run's own `held_out.csv` and the data
/// file, recomputes every per-group figure and gap to 1e-6.
#[test]
fn credit_runs_report_fairness_across_groups_as_fairlearn_computes_it() {
    let (tmp, v) = credit_run();
    let f = &v["metrics"]["fairness"];
    assert_eq!(f["positive_class"], "bad");
    assert_eq!(f["rows"], 1000);
    let columns = f["columns"].as_array().unwrap();
    let age = &columns[0];
    assert_eq!(age["column"], "age_in_years");
    let names: Vec<&str> = age["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["< 26", "[26, 40)", "[40, 60)", ">= 60"]);
    let counted: u64 = age["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 1000, "every held-out row is in one age group");
    assert!(age["demographic_parity_ratio"].as_f64().is_some(), "{age}");
    assert_eq!(columns[1]["column"], "personal_status_and_sex");
    assert_eq!(columns[1]["groups"].as_array().unwrap().len(), 2);
    let python = std::env::var("INDUS_FAIRLEARN_PYTHON").unwrap_or_else(|_| {
        panic!(
            "set INDUS_FAIRLEARN_PYTHON to a Python with fairlearn installed (.ci/run makes one)"
        )
    });
    let run = tmp.path().join(v["run_dir"].as_str().unwrap());
    let spec = tmp.path().join("protected.json");
    std::fs::write(
        &spec,
        r#"[{"column": "age_in_years", "edges": [26, 40, 60]},
            {"column": "personal_status_and_sex", "groups": {
              "female": ["female : divorced/separated/married"],
              "male": ["male : divorced/separated", "male : single", "male : married/widowed"]}}]"#,
    )
    .unwrap();
    let checked = Command::new(python)
        .arg(repo().join("tests/fairness/check_fairlearn.py"))
        .arg(run.join("held_out.csv"))
        .arg(repo().join("plugins/finance-credit/data/german_credit.csv"))
        .arg(run.join("metrics.json"))
        .arg(&spec)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success() && said.contains("agree"),
        "{said}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

fn credit_rows(n: usize, with_target: bool) -> String {
    let text =
        std::fs::read_to_string(repo().join("plugins/finance-credit/data/german_credit.csv"))
            .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let keep = |l: &str| {
        if with_target {
            l.to_string()
        } else {
            l.rsplit_once(',').unwrap().0.to_string()
        }
    };
    let mut out = vec![keep(header)];
    out.extend(lines.take(n).map(keep));
    out.join("\n") + "\n"
}

/// `indus drift`: the training file itself is stable in every column;
/// an export whose loan durations doubled is flagged on that column (and
/// the columns the hook derives from it), and `--fail-at` stops a pipeline.
#[test]
fn drift_flags_the_columns_that_moved_since_training() {
    let (tmp, v) = credit_run();
    let run_dir = v["run_dir"].as_str().unwrap();
    let shipped = repo().join("plugins/finance-credit/data/german_credit.csv");
    let same: Value = serde_json::from_str(&ok(&indus(
        &[
            "drift",
            run_dir,
            "--input",
            shipped.to_str().unwrap(),
            "--json",
        ],
        tmp.path(),
    )))
    .unwrap();
    assert_eq!(same["reference_rows"], 1000);
    let columns = same["columns"].as_array().unwrap();
    assert_eq!(columns.len(), 23, "20 read and 3 derived columns");
    assert!(
        columns.iter().all(|c| c["psi"].as_f64().unwrap() < 1e-9),
        "{same}"
    );

    // Every third applicant (the file is ordered in places), durations doubled.
    let text = std::fs::read_to_string(&shipped).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let duration = header
        .split(',')
        .position(|h| h == "duration_in_month")
        .unwrap();
    let mut moved = vec![header.to_string()];
    for line in lines.step_by(3) {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        // Cells before the duration hold no quoted commas in this file.
        cells[duration] = (cells[duration].parse::<u32>().unwrap() * 2).to_string();
        moved.push(cells.join(","));
    }
    let later = tmp.path().join("later.csv");
    std::fs::write(&later, moved.join("\n")).unwrap();
    let report = ok(&indus(
        &["drift", run_dir, "--input", later.to_str().unwrap()],
        tmp.path(),
    ));
    let first = report
        .lines()
        .find(|l| l.contains("major"))
        .unwrap_or_default();
    assert!(first.contains("duration_in_month"), "{report}");
    assert!(
        report.contains("334 input rows against 1000 training rows"),
        "{report}"
    );
    let stopped = fails(&indus(
        &[
            "drift",
            run_dir,
            "--input",
            later.to_str().unwrap(),
            "--fail-at",
            "0.25",
        ],
        tmp.path(),
    ));
    assert!(
        stopped.contains("`duration_in_month` shifted with PSI"),
        "{stopped}"
    );
    // A limit that is not a PSI, and a file with a header and no rows.
    let e = fails(&indus(
        &[
            "drift",
            run_dir,
            "--input",
            later.to_str().unwrap(),
            "--fail-at",
            "0",
        ],
        tmp.path(),
    ));
    assert!(e.contains("--fail-at 0: give a positive PSI"), "{e}");
    let empty = tmp.path().join("empty-month.csv");
    std::fs::write(&empty, format!("{header}\n")).unwrap();
    let e = fails(&indus(
        &["drift", run_dir, "--input", empty.to_str().unwrap()],
        tmp.path(),
    ));
    assert!(e.contains("empty-month.csv: no rows to compare"), "{e}");
}

#[test]
fn credit_predict_and_eval_take_csv_rows_with_categories() {
    let (tmp, v) = credit_run();
    let run_dir = v["run_dir"].as_str().unwrap();
    let input = tmp.path().join("applicants.csv");
    std::fs::write(&input, credit_rows(5, false)).unwrap();
    let out = ok(&indus(
        &["predict", run_dir, "--input", input.to_str().unwrap()],
        tmp.path(),
    ));
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    for r in &rows {
        let p = &r["probabilities"];
        let sum = p["good"].as_f64().unwrap() + p["bad"].as_f64().unwrap();
        assert!((sum - 1.0).abs() < 1e-5, "{r}");
        // The plugin's native hook: scorecard points (600 at 50:1 good:bad
        // odds, 20 points per doubling) and the top reasons.
        let p_bad = p["bad"].as_f64().unwrap();
        let points = r["outputs"]["score_points"].as_i64().unwrap();
        let expected = 600.0 - 20.0 * 50f64.log2() + 20.0 * ((1.0 - p_bad) / p_bad).log2();
        assert!((points as f64 - expected).abs() <= 1.0, "{r}");
        assert!(
            !r["outputs"]["reason_1"].as_str().unwrap().is_empty(),
            "{r}"
        );
    }
    // A bank's spreadsheet export, with Windows line ends, blank lines at
    // the end and a column the plugin does not declare: same answers, and
    // the column is named on standard error.
    let export = tmp.path().join("export.csv");
    let mut lines = credit_rows(5, false)
        .lines()
        .map(str::to_string)
        .collect::<Vec<_>>();
    for (i, line) in lines.iter_mut().enumerate() {
        line.push_str(if i == 0 { ",branch_code" } else { ",B-17" });
    }
    std::fs::write(&export, lines.join("\r\n") + "\r\n\r\n\r\n").unwrap();
    let with_extra = indus(
        &["predict", run_dir, "--input", export.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(ok(&with_extra), out);
    let warning = String::from_utf8_lossy(&with_extra.stderr);
    assert!(
        warning.contains("export.csv: read past 1 column") && warning.contains("`branch_code`"),
        "{warning}"
    );

    // A header and no rows: nothing on standard output, a note on standard
    // error, success (a scheduled export may be empty on a quiet day).
    let quiet_day = tmp.path().join("quiet.csv");
    std::fs::write(&quiet_day, credit_rows(0, false)).unwrap();
    let none = indus(
        &["predict", run_dir, "--input", quiet_day.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(ok(&none), "");
    let note = String::from_utf8_lossy(&none.stderr);
    assert!(note.contains("quiet.csv: no rows to predict"), "{note}");

    let csv_out = tmp.path().join("scored.csv");
    ok(&indus(
        &[
            "predict",
            run_dir,
            "--input",
            input.to_str().unwrap(),
            "--out",
            csv_out.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let csv = std::fs::read_to_string(&csv_out).unwrap();
    assert!(
        csv.starts_with(
            "row,id,label,score,p_good,p_bad,score_points,reason_1,reason_2,reason_3\n"
        ),
        "{csv}"
    );

    let labelled = tmp.path().join("labelled.csv");
    std::fs::write(&labelled, credit_rows(50, true)).unwrap();
    let out = ok(&indus(
        &[
            "eval",
            run_dir,
            "--input",
            labelled.to_str().unwrap(),
            "--json",
        ],
        tmp.path(),
    ));
    let e: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["metrics"]["rows"], 50);

    // Without a file: a cross-validated run's held-out numbers are its
    // out-of-fold answers, recorded at training (no fold model is kept).
    let out = ok(&indus(&["eval", run_dir, "--json"], tmp.path()));
    let e: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["out_of_fold"], true);
    assert_eq!(e["metrics"], v["metrics"]["test"]);
    // ... and row by row, each with the fold that tested it.
    let held = tmp.path().join("held_out.csv");
    ok(&indus(
        &["eval", run_dir, "--export", held.to_str().unwrap()],
        tmp.path(),
    ));
    let text = std::fs::read_to_string(&held).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("row,id,label,score,p_good,p_bad") && header.ends_with(",truth,fold"),
        "{header}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1000);
    let folds: std::collections::BTreeSet<&str> =
        rows.iter().filter_map(|l| l.rsplit(',').next()).collect();
    assert_eq!(folds.len(), 5, "{folds:?}");
    let numbers: std::collections::BTreeSet<usize> = rows
        .iter()
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        (numbers.len(), numbers.first(), numbers.last()),
        (1000, Some(&1), Some(&1000))
    );

    let bad = tmp.path().join("bad.csv");
    std::fs::write(
        &bad,
        credit_rows(2, false).replace("radio/television", "spaceship"),
    )
    .unwrap();
    let err = fails(&indus(
        &["predict", run_dir, "--input", bad.to_str().unwrap()],
        tmp.path(),
    ));
    assert!(
        err.contains("row 1, column `purpose`: unknown category `spaceship`")
            && err.contains("car (new)"),
        "{err}"
    );
}

#[test]
fn manufacturing_faults_train_from_the_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/manufacturing-fault.yaml");
    let args = [
        "run",
        scenario.to_str().unwrap(),
        "--runs-dir",
        "runs",
        "--epochs",
        "30",
        "--json",
    ];
    let err = fails(&indus(&args, tmp.path()));
    assert!(
        err.contains("steel_plates_faults.csv") && err.contains("manufacturing"),
        "{err}"
    );
    let v = run_with_data("manufacturing-fault.yaml", "30");
    let acc = v["metrics"]["cross_validation"]["mean"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(
        acc > 0.65,
        "7-class fold accuracy {acc}; the majority class alone gives 0.347"
    );
    assert_eq!(
        v["metrics"]["test"]["per_class"].as_array().unwrap().len(),
        7
    );
}

#[test]
fn intrusion_detection_tests_on_the_official_kddtest_plus_file() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/security-intrusion.yaml");
    let v = run_json(tmp.path(), &scenario, &["--epochs", "3"]);
    let m = &v["metrics"];
    assert_eq!(m["evaluation"], "official test split");
    assert_eq!(
        m["rows"]["train"].as_u64().unwrap() + m["rows"]["validation"].as_u64().unwrap(),
        25192
    );
    let threshold = m["threshold"].as_f64().unwrap();
    assert!(
        threshold > 0.0 && threshold < 1.0,
        "the cost rule picks a threshold: {threshold}"
    );
    assert_eq!(m["rows"]["test"], 22544);
    let auc = m["test"]["ranking"]["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.85, "ROC-AUC {auc} on KDDTest+");
    // The scenario scales every numeric column by its training quantiles
    // (the plugin says log1p or z-score): the run records and reuses that.
    let dir = tmp.path().join(v["run_dir"].as_str().unwrap());
    let manifest = std::fs::read_to_string(dir.join("plugin.yaml")).unwrap();
    assert!(!manifest.contains("log1p"), "{manifest}");
    // It also leaves out the plugin's derived traffic columns
    // (`exclude_features`): the model reads the file's 41 columns.
    assert!(!manifest.contains("syn_errors_to_host"), "{manifest}");
    let preprocess: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("preprocess.json")).unwrap())
            .unwrap();
    let src_bytes = preprocess["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "src_bytes")
        .unwrap();
    assert_eq!(src_bytes["quantiles"].as_array().unwrap().len(), 101);

    // The novelty guard (an autoencoder of normal traffic) calls the
    // connections it cannot reproduce attacks: KDDTest+ holds attack types
    // the labels never showed, so the guarded decisions beat the
    // classifier's own, which the run still reports.
    let guard = &m["novelty_guard"];
    let alone = guard["classifier_alone"]["accuracy"].as_f64().unwrap();
    let guarded = m["test"]["accuracy"].as_f64().unwrap();
    assert!(
        guarded > alone + 0.03,
        "accuracy {guarded} with the guard, {alone} without"
    );
    assert!(guard["overruled"].as_u64().unwrap() > 0);
    assert_eq!(guard["normal_class"], "0");
    assert_eq!(guard["flags"], "1");
    assert!(dir.join("novelty-guard.safetensors").is_file());
    // Reloaded, the run makes the same guarded decisions...
    let eval: Value = serde_json::from_str(&ok(&indus(
        &[
            "eval",
            dir.to_str().unwrap(),
            "--json",
            "--data-dir",
            data_dir().to_str().unwrap(),
        ],
        tmp.path(),
    )))
    .unwrap();
    assert_eq!(eval["metrics"]["confusion"], m["test"]["confusion"]);
    // ...and says for each row how unusual it looked.
    let input = data_dir().join("security/nsl_kdd_test_plus.csv");
    let out = ok(&indus(
        &[
            "predict",
            dir.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--limit",
            "200",
        ],
        tmp.path(),
    ));
    let answers: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 200);
    let threshold = guard["threshold"].as_f64().unwrap();
    for a in &answers {
        let n = &a["novelty"];
        let flagged = n["error"].as_f64().unwrap() >= threshold;
        assert_eq!(n["flagged"], flagged, "{a}");
        if flagged {
            assert_eq!(a["label"], "1", "{a}");
        }
    }
    assert!(answers.iter().any(|a| a["novelty"]["flagged"] == true));
    // As CSV, the verdict is two more columns.
    let csv = tmp.path().join("answers.csv");
    ok(&indus(
        &[
            "predict",
            dir.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--limit",
            "200",
            "--out",
            csv.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let text = std::fs::read_to_string(csv).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.ends_with(",novelty_error,novelty_flagged"),
        "{header}"
    );
    let flagged = text
        .lines()
        .skip(1)
        .filter(|l| l.ends_with(",true"))
        .count();
    let expected = answers
        .iter()
        .filter(|a| a["novelty"]["flagged"] == true)
        .count();
    assert_eq!(flagged, expected);
}

#[test]
fn breast_ultrasound_uses_the_official_medmnist_splits() {
    let v = run_with_data("medical-imaging.yaml", "10");
    let m = &v["metrics"];
    // Five networks, each: 3×3 convolutions 1→16 (160) and 16→32 (4,640),
    // 32 maps of 7×7 into 64 units (100,416), one output (65).
    assert_eq!(m["parameters"], 5 * 105_281, "the convolution stem's shape");
    assert_eq!(m["rows"]["train"], 546);
    assert_eq!(
        m["rows"]["validation"], 78,
        "the official validation images pick the best epoch"
    );
    assert_eq!(m["rows"]["test"], 156);
    assert!(m["best_epoch"].as_u64().is_some());
    let auc = m["test"]["ranking"]["roc_auc"].as_f64().unwrap();
    // Ten epochs measured 0.83; a stem reading the wrong pixels or a
    // broken head stays near 0.5.
    assert!(auc > 0.75, "ROC-AUC {auc} on the official test images");
    assert_eq!(m["test"]["per_class"][0]["label"], "malignant");
}

/// BreastMNIST's official arrays written out as PNG files, one folder per
/// split and one sub-folder per class, the way a hospital keeps scans.
fn breast_scans_as_folders(root: &Path) {
    let npz = data_dir().join("medical/breastmnist.npz");
    let bytes = std::fs::read(&npz).unwrap();
    for split in ["train", "val", "test"] {
        let images = indus_data::read_npz_array(&npz, &bytes, &format!("{split}_images")).unwrap();
        let labels = indus_data::read_npz_array(&npz, &bytes, &format!("{split}_labels")).unwrap();
        for (i, (pixels, label)) in images.data.chunks(28 * 28).zip(&labels.data).enumerate() {
            let class = ["malignant", "benign_or_normal"][*label as usize];
            let file = root.join(split).join(class).join(format!("{i:04}.png"));
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            image::GrayImage::from_raw(28, 28, pixels.to_vec())
                .unwrap()
                .save(&file)
                .unwrap();
        }
    }
}

#[test]
fn a_folder_of_scans_trains_evaluates_and_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let scans = tmp.path().join("data/scans");
    breast_scans_as_folders(&scans);
    let manifest = "name: scans\nindustry: healthcare\ndescription: Breast ultrasound scans kept as PNG files.\ndata:\n  source:\n    format: image_folder\n    dataset: scans\n    files: {train: {name: train}, val: {name: val}, test: {name: test}}\n  columns:\n    - {name: scan, type: image, role: feature, shape: [28, 28], max_value: 255}\n    - {name: finding, type: category, role: target}\nheads:\n  - {name: finding, task: binary, target: finding, classes: [malignant, benign_or_normal]}\n";
    let scenario = "name: scans\nplugin: scans\ndescription: MLP on scan folders.\nmodel: {hidden: [64], dropout: 0.3, init: he_uniform}\ntraining: {epochs: 10, batch_size: 32, optimizer: {kind: adam, learning_rate: 0.001}}\nseed: 7\n";
    let plugin = tmp.path().join("plugins/scans");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(plugin.join("plugin.yaml"), manifest).unwrap();
    std::fs::create_dir_all(tmp.path().join("scenarios")).unwrap();
    std::fs::write(tmp.path().join("scenarios/scans.yaml"), scenario).unwrap();
    let data = tmp.path().join("data");
    let run: Value = serde_json::from_str(&ok(&indus(
        &[
            "run",
            "scenarios/scans.yaml",
            "--runs-dir",
            "runs",
            "--json",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        tmp.path(),
    )))
    .unwrap();
    let m = &run["metrics"];
    assert_eq!(m["rows"]["train"], 546);
    assert_eq!(
        m["rows"]["validation"], 78,
        "the `val` folder picks the epoch"
    );
    assert_eq!(m["rows"]["test"], 156);
    let auc = m["test"]["ranking"]["roc_auc"].as_f64().unwrap();
    // Pixels read wrongly, or labels from the wrong folders, stay near 0.5.
    assert!(auc > 0.75, "ROC-AUC {auc} on the test folder");

    // The test folder, evaluated as an input, scores exactly as the run did.
    let run_dir = run["run_dir"].as_str().unwrap();
    let e = eval_json(tmp.path(), run_dir, &scans.join("test"));
    assert_eq!(e["metrics"]["ranking"], m["test"]["ranking"]);

    // Today's scans: a larger image of one test scan, and loose files.
    let today = tmp.path().join("today");
    std::fs::create_dir_all(&today).unwrap();
    let scan = image::open(scans.join("test/malignant/0000.png")).unwrap();
    scan.resize_exact(56, 56, image::imageops::FilterType::Triangle)
        .save(today.join("large.png"))
        .unwrap();
    std::fs::copy(scans.join("test/malignant/0000.png"), today.join("a.png")).unwrap();
    std::fs::write(today.join("notes.txt"), "not a scan").unwrap();
    let out = indus(
        &["predict", run_dir, "--input", today.to_str().unwrap()],
        tmp.path(),
    );
    let rows: Vec<Value> = ok(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a.png", "large.png"]);
    let notes = String::from_utf8_lossy(&out.stderr);
    assert!(
        notes.contains("resized 1 of 2 images to 28×28") && notes.contains("`notes.txt`"),
        "{notes}"
    );
    let one = ok(&indus(
        &[
            "predict",
            run_dir,
            "--input",
            today.join("a.png").to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert_eq!(
        one.lines().next().unwrap(),
        ok(&out).lines().next().unwrap()
    );
}

#[test]
fn movielens_ratings_join_users_and_items_and_rank_unseen_items() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/retail-recommendation.yaml");
    let v = run_json(tmp.path(), &scenario, &["--epochs", "4"]);
    let m = &v["metrics"];
    assert_eq!(m["rows"]["test"], 20000, "official u1 test ratings");
    assert_eq!(
        m["rows"]["train"].as_u64().unwrap() + m["rows"]["validation"].as_u64().unwrap(),
        80000
    );
    let rmse = m["regression"]["rmse"].as_f64().unwrap();
    // Predicting the training mean gives ~1.13 on u1; four epochs get well below.
    assert!(rmse < 1.0, "test RMSE {rmse}");
    let hit = m["top_k"]["hit_rate"].as_f64().unwrap();
    assert!(m["top_k"]["users"].as_u64().unwrap() > 400);
    // Ten random picks out of ~1,600 items find a liked test item for ~5 % of users.
    assert!(hit > 0.15, "HR@10 {hit}");
    let auc = m["test"]["ranking"]["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.7, "liked vs not liked ROC-AUC {auc}");

    let list = ok(&indus(
        &[
            "recommend",
            "retail-recommendation",
            "--runs-dir",
            "runs",
            "--user",
            "196",
            "-k",
            "3",
            "--json",
        ],
        tmp.path(),
    ));
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    // User 196 rated item 70 in u1.base (fold 2): it is never recommended back.
    let all = ok(&indus(
        &[
            "recommend",
            "retail-recommendation",
            "--runs-dir",
            "runs",
            "--user",
            "196",
            "-k",
            "2000",
            "--json",
        ],
        tmp.path(),
    ));
    let all: Value = serde_json::from_str(&all).unwrap();
    assert!(all.as_array().unwrap().iter().all(|i| i["item"] != "70"));
    let err = fails(&indus(
        &[
            "recommend",
            "retail-recommendation",
            "--runs-dir",
            "runs",
            "--user",
            "0",
        ],
        tmp.path(),
    ));
    assert!(err.contains("user `0`"), "{err}");

    // Prediction rows name only the ids; an unknown item is named by row.
    let input = tmp.path().join("pairs.jsonl");
    std::fs::write(
        &input,
        "{\"user_id\": 196, \"item_id\": 1}\n{\"user_id\": 196, \"item_id\": 4000}\n",
    )
    .unwrap();
    let err = fails(&indus(
        &[
            "predict",
            "retail-recommendation",
            "--runs-dir",
            "runs",
            "--input",
            input.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert!(err.contains("row 2") && err.contains("4000"), "{err}");
}

#[test]
fn a_training_split_without_some_class_is_refused_by_name() {
    // The first five MNIST training images are the digits 5, 0, 4, 1, 9.
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/mnist.yaml");
    let data = data_dir();
    let args = [
        "run",
        scenario.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--runs-dir",
        "runs",
        "--train-limit",
        "5",
        "--test-limit",
        "10",
        "--epochs",
        "1",
    ];
    let err = fails(&indus(&args, tmp.path()));
    assert!(
        err.contains("no training rows") && err.contains("`2`, `3`, `6`, `7`, `8`"),
        "{err}"
    );
    assert_eq!(runs_written(tmp.path()), 0, "nothing is written");
}

#[test]
fn a_time_split_tests_on_the_latest_ratings() {
    let v = run_with_data("retail-recommendation-time.yaml", "2");
    let m = &v["metrics"];
    assert!(
        m["evaluation"]
            .as_str()
            .unwrap()
            .starts_with("time-ordered"),
        "{}",
        m["evaluation"]
    );
    // 20 % of 100,000 ratings; rows sharing the cut-off second go to test.
    let test = m["rows"]["test"].as_u64().unwrap();
    assert!((20000..20100).contains(&test), "{test}");
    // Most test ratings come from users who joined after the cut-off, yet
    // the model still beats the training mean (RMSE 1.119 on these rows).
    let rmse = m["regression"]["rmse"].as_f64().unwrap();
    assert!(rmse < 1.11, "RMSE {rmse}");
}

#[test]
fn an_autoencoder_learns_normal_traffic_and_flags_attacks_it_never_saw() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/security-anomaly.yaml");
    let v = run_json(tmp.path(), &scenario, &["--epochs", "3"]);
    let m = &v["metrics"];
    // Only the 13,449 normal connections of the training file are learned.
    assert_eq!(
        m["rows"]["train"].as_u64().unwrap() + m["rows"]["validation"].as_u64().unwrap(),
        13449
    );
    assert_eq!(m["rows"]["test"], 22544);
    assert_eq!(m["anomaly"]["percentile"], 95.0);
    let ranking = &m["test"]["ranking"];
    let auc = ranking["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.85, "unsupervised ROC-AUC {auc} on KDDTest+");
    assert!(ranking["tpr_at_1pct_fpr"].as_f64().unwrap() > 0.05);
    // Normal test traffic mostly stays under a threshold set at the 95th
    // percentile of normal validation rows.
    let normal_recall = m["test"]["per_class"][0]["recall"].as_f64().unwrap();
    assert!(normal_recall > 0.85, "normal recall {normal_recall}");
    // Its alarm score is no probability: no log-loss is reported of it.
    assert!(m["test"].get("log_loss").is_none(), "{}", m["test"]);
    assert!(m["test"]["accuracy"].is_number());
    // The native hook's derived traffic columns are among the inputs, fitted
    // like any other column.
    let dir = tmp.path().join(v["run_dir"].as_str().unwrap());
    let preprocess: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("preprocess.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = preprocess["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&"syn_errors_to_host"), "{names:?}");
    assert_eq!(names.len(), 51, "41 file columns and 10 derived: {names:?}");
    // The plugin's published numbers are its classifier's (head `attack`):
    // the autoencoder's run does not carry them.
    let plugin = std::fs::read_to_string(dir.join("plugin.yaml")).unwrap();
    assert!(!plugin.contains("J48"), "{plugin}");
    // Its answers: label, the alarm score and the error, no probabilities;
    // a target column with a blank cell in the input is read past.
    let text = std::fs::read_to_string(data_dir().join("security/nsl_kdd_test_plus.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().take(4).map(str::to_string).collect();
    let target = lines[0]
        .split(',')
        .position(|c| c == "label_binary")
        .unwrap();
    let mut cells: Vec<&str> = lines[2].split(',').collect();
    cells[target] = "";
    lines[2] = cells.join(",");
    let input = tmp.path().join("three.csv");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let run = dir.to_str().unwrap();
    let out = indus(
        &["predict", run, "--input", input.to_str().unwrap()],
        tmp.path(),
    );
    let answers: Vec<Value> = ok(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 3);
    for a in &answers {
        assert!(a.get("probabilities").is_none(), "{a}");
        assert!(
            a["label"].is_string() && a["value"].as_f64().unwrap() >= 0.0,
            "{a}"
        );
        let (score, error) = (a["score"].as_f64().unwrap(), a["value"].as_f64().unwrap());
        let threshold = m["anomaly"]["threshold"].as_f64().unwrap();
        assert!((score - error / (error + threshold)).abs() < 1e-4, "{a}");
    }
    let noted = String::from_utf8_lossy(&out.stderr);
    assert!(
        noted.contains("predicting needs no target") && noted.contains("row 2"),
        "{noted}"
    );
    // Evaluating needs the label, and says which row lacks it.
    let e = fails(&indus(
        &["eval", run, "--input", input.to_str().unwrap()],
        tmp.path(),
    ));
    assert!(e.contains("row 2") && e.contains("missing label"), "{e}");
    let csv_out = tmp.path().join("three-answers.csv");
    ok(&indus(
        &[
            "predict",
            run,
            "--input",
            input.to_str().unwrap(),
            "--out",
            csv_out.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let header = std::fs::read_to_string(csv_out).unwrap();
    assert!(header.starts_with("row,id,label,score,value\n"), "{header}");
}

#[test]
fn a_scenario_naming_a_missing_head_lists_the_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/security-anomaly.yaml"))
        .unwrap()
        .replace("head: anomaly", "head: anomalous");
    project_with_plugin(tmp.path(), "security-anomaly");
    let scenario = tmp.path().join("scenarios/missing-head.yaml");
    std::fs::write(&scenario, text).unwrap();
    let out = indus(
        &["run", scenario.to_str().unwrap(), "--runs-dir", "runs"],
        tmp.path(),
    );
    let err = fails(&out);
    assert!(
        err.contains("head") && err.contains("anomalous") && err.contains("attack, anomaly"),
        "{err}"
    );
}

#[test]
fn heads_on_one_trunk_are_each_scored_and_served() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/predictive-maintenance.yaml");
    let v = run_json(tmp.path(), &scenario, &["--epochs", "12"]);
    let m = &v["metrics"];
    assert_eq!(m["head"], "failure");
    assert_eq!(m["rows"]["test"], 2000, "20 % of 10,000 machines held out");
    let auc = m["test"]["ranking"]["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.85, "failure ROC-AUC {auc}");
    let heads = m["auxiliary_heads"].as_array().unwrap();
    let names: Vec<&str> = heads.iter().map(|h| h["head"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["heat_dissipation", "power", "overstrain", "tool_wear"]
    );
    for h in &heads[..3] {
        // Each mode head reads its own column: a head that learned nothing
        // (or read another head's outputs) ranks near 0.5.
        let auc = h["test"]["ranking"]["roc_auc"].as_f64().unwrap();
        assert!(auc > 0.9, "{}: ROC-AUC {auc}", h["head"]);
        assert_eq!(h["loss_weight"], 0.5);
        assert_eq!(h["test"]["rows"], 2000);
    }

    // `eval` on labelled rows scores every head, with the same names.
    let all_rows = data_dir().join("manufacturing/ai4i2020_SYNTHETIC.csv");
    let eval: Value = serde_json::from_str(&ok(&indus(
        &[
            "eval",
            "predictive-maintenance",
            "--runs-dir",
            "runs",
            "--input",
            all_rows.to_str().unwrap(),
            "--json",
        ],
        tmp.path(),
    )))
    .unwrap();
    assert_eq!(eval["metrics"]["rows"], 10000);
    let heads = eval["auxiliary_heads"].as_array().unwrap();
    assert_eq!(heads.len(), 4);
    assert!(heads[0]["test"]["ranking"]["roc_auc"].as_f64().unwrap() > 0.9);

    // Every prediction answers for every head.
    let rows = tmp.path().join("machines.csv");
    let text =
        std::fs::read_to_string(data_dir().join("manufacturing/ai4i2020_SYNTHETIC.csv")).unwrap();
    let some: Vec<&str> = text.lines().take(4).collect();
    std::fs::write(&rows, some.join("\n")).unwrap();
    let out = ok(&indus(
        &[
            "predict",
            "predictive-maintenance",
            "--runs-dir",
            "runs",
            "--input",
            rows.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let answers = first["heads"].as_object().unwrap();
    assert_eq!(answers.len(), 4);
    let p = answers["overstrain"]["probabilities"].as_object().unwrap();
    let sum: f64 = p.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");

    // An autoencoder cannot share the trunk: refused, naming the head.
    let text = std::fs::read_to_string(repo().join("scenarios/security-anomaly.yaml"))
        .unwrap()
        .replace("head: anomaly", "heads: [{name: attack}, {name: anomaly}]");
    project_with_plugin(tmp.path(), "security-anomaly");
    let scenario = tmp.path().join("scenarios/joint.yaml");
    std::fs::write(&scenario, text).unwrap();
    let err = fails(&indus(
        &["run", scenario.to_str().unwrap(), "--runs-dir", "runs"],
        tmp.path(),
    ));
    assert!(
        err.contains("heads[1]") && err.contains("`anomaly`") && err.contains("reconstruction"),
        "{err}"
    );
}

#[test]
fn an_ensemble_keeps_every_network_and_answers_with_their_average() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_plugin(tmp.path(), "security-anomaly");
    let text = std::fs::read_to_string(repo().join("scenarios/security-intrusion.yaml")).unwrap();
    // The classifier alone: the novelty guard's network would count in
    // `parameters` once, not once per member.
    let guard = text.find("novelty_guard:").unwrap();
    let text = format!(
        "{}{}",
        &text[..guard],
        &text[text.find("backend:").unwrap()..]
    );
    let run = |name: &str, networks: usize| -> Value {
        let scenario = tmp.path().join(format!("scenarios/{name}.yaml"));
        let text = text
            .replace("name: security-intrusion", &format!("name: {name}"))
            .replace(
                "  init: he_uniform",
                &format!("  init: he_uniform\n  ensemble: {networks}"),
            );
        std::fs::write(&scenario, text).unwrap();
        run_json(
            tmp.path(),
            &scenario,
            &["--epochs", "2", "--test-limit", "3000"],
        )
    };
    let single = run("one", 1);
    let three = run("three", 3);
    assert_eq!(
        three["metrics"]["parameters"].as_u64().unwrap(),
        3 * single["metrics"]["parameters"].as_u64().unwrap()
    );
    let dir = PathBuf::from(three["run_dir"].as_str().unwrap());
    let dir = if dir.is_absolute() {
        dir
    } else {
        tmp.path().join(dir)
    };
    for f in [
        "weights.safetensors",
        "member-2.safetensors",
        "member-3.safetensors",
    ] {
        assert!(dir.join(f).is_file(), "{f} kept in the run");
    }
    assert_ne!(
        single["metrics"]["test"]["ranking"]["roc_auc"],
        three["metrics"]["test"]["ranking"]["roc_auc"],
        "the first network alone is not the ensemble"
    );
    // The reloaded run answers with the same averaged probabilities as the
    // run that trained it.
    let out = ok(&indus(
        &[
            "eval",
            dir.to_str().unwrap(),
            "--test-limit",
            "3000",
            "--json",
            "--data-dir",
            data_dir().to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let eval: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        eval["metrics"]["confusion"],
        three["metrics"]["test"]["confusion"]
    );
    assert_eq!(
        eval["metrics"]["log_loss"],
        three["metrics"]["test"]["log_loss"]
    );
}

#[test]
fn a_regression_head_is_trained_scored_and_served_as_a_number() {
    let tmp = tempfile::tempdir().unwrap();
    // Hours until wear-out: 3 per unit of load plus 0.1 per degree, ±0.5.
    let mut csv = String::from("load,temp,hours\n");
    for i in 0..400 {
        let load = (i % 10) as f64 + 0.5;
        let temp = 20.0 + (i * 7 % 60) as f64;
        let noise = ((i * 37 % 11) as f64 - 5.0) / 10.0;
        csv.push_str(&format!(
            "{load},{temp},{}\n",
            3.0 * load + 0.1 * temp + noise
        ));
    }
    let text = "name: wear\nplugin: wear\nmodel: {hidden: [16]}\ntraining: {epochs: 60, batch_size: 16, optimizer: {kind: adam, learning_rate: 0.01}}\nseed: 1\n";
    let (plugin, scenario) = generated_plugin(
        tmp.path(),
        "wear",
        "name: wear\nindustry: manufacturing\ndescription: Hours until wear-out\ndata:\n  source: {format: csv, dataset: wear, files: {train: {name: wear.csv}}}\n  columns:\n    - {name: load, type: number, role: feature}\n    - {name: temp, type: number, role: feature}\n    - {name: hours, type: number, role: target, range: [0, 100]}\nheads:\n  - {name: hours, task: regression, target: hours, loss: huber}\n",
        &csv,
        text,
    );
    let run = |file: &Path| -> Value {
        let out = ok(&indus(
            &[
                "run",
                file.to_str().unwrap(),
                "--runs-dir",
                "runs",
                "--json",
            ],
            tmp.path(),
        ));
        serde_json::from_str(&out).unwrap()
    };
    let v = run(&scenario);
    let m = &v["metrics"];
    assert!(m.get("test").is_none(), "no classification view: {m}");
    let listed = ok(&indus(&["list", "runs", "--runs-dir", "runs"], tmp.path()));
    assert!(listed.contains("test RMSE"), "{listed}");
    assert_eq!(m["rows"]["test"], 80, "random 20 % holdout");
    // The target spreads over ~8.6 hours (std); noise alone is ~0.3.
    let rmse = m["regression"]["rmse"].as_f64().unwrap();
    assert!(rmse < 1.0, "test RMSE {rmse}");
    assert!(m["regression"]["r2"].as_f64().unwrap() > 0.98);

    let input = tmp.path().join("in.csv");
    std::fs::write(&input, "load,temp\n4,50\n").unwrap();
    let out = ok(&indus(
        &[
            "predict",
            "wear",
            "--runs-dir",
            "runs",
            "--input",
            input.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let p: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let hours = p["value"].as_f64().unwrap();
    assert!(
        (hours - 17.0).abs() < 1.5,
        "{hours} hours for load 4 at 50 degrees"
    );
    assert!(p.get("label").is_none(), "{p}");
    let csv_out = tmp.path().join("out.csv");
    ok(&indus(
        &[
            "predict",
            "wear",
            "--runs-dir",
            "runs",
            "--input",
            input.to_str().unwrap(),
            "--out",
            csv_out.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let written = std::fs::read_to_string(&csv_out).unwrap();
    assert!(written.starts_with("row,id,value\n"), "{written}");

    let eval = eval_json(tmp.path(), "wear", &plugin.join("data/wear.csv"));
    assert_eq!(eval["regression"]["rows"], 400);
    assert!(eval["regression"]["rmse"].as_f64().unwrap() < 1.0, "{eval}");

    // Cross-validation reports RMSE, MAE and R² per fold.
    let cv_file = tmp.path().join("scenarios/wear-cv.yaml");
    std::fs::write(
        &cv_file,
        text.replace("name: wear\n", "name: wear-cv\n") + "data: {folds: 4}\n",
    )
    .unwrap();
    let cv = run(&cv_file);
    let cv = &cv["metrics"]["cross_validation"];
    assert_eq!(cv["regression_folds"].as_array().unwrap().len(), 4);
    let mean = cv["mean"]["rmse"].as_f64().unwrap();
    assert!(mean < 1.0 && cv["std"]["rmse"].as_f64().is_some(), "{cv}");
    assert!(cv.get("repeats").is_none(), "one deal is the default: {cv}");

    // Three deals of the rows: twelve folds, the first four exactly those
    // of the single deal, the others drawn afresh; the mean is over all.
    let repeated_file = tmp.path().join("scenarios/wear-cv3.yaml");
    std::fs::write(
        &repeated_file,
        text.replace("name: wear\n", "name: wear-cv3\n") + "data: {folds: 4, repeats: 3}\n",
    )
    .unwrap();
    let repeated = run(&repeated_file);
    let metrics = &repeated["metrics"];
    let repeated = &metrics["cross_validation"];
    assert_eq!(repeated["repeats"], 3);
    let folds = repeated["regression_folds"].as_array().unwrap();
    assert_eq!(folds.len(), 12);
    assert_eq!(folds[..4], cv["regression_folds"].as_array().unwrap()[..]);
    assert_ne!(folds[4..8], folds[..4]);
    let rmse: Vec<f64> = folds.iter().map(|f| f["rmse"].as_f64().unwrap()).collect();
    let mean_of_all = rmse.iter().sum::<f64>() / 12.0;
    assert!((repeated["mean"]["rmse"].as_f64().unwrap() - mean_of_all).abs() < 1e-9);
    assert!(
        metrics["evaluation"]
            .as_str()
            .unwrap()
            .contains("3 deals of the rows"),
        "{metrics}"
    );
}

#[test]
fn a_multilabel_head_gives_each_row_any_number_of_labels() {
    let tmp = tempfile::tempdir().unwrap();
    // `heat` when the temperature is high, `vibration` when the vibration
    // is: rows carry neither, either or both.
    let mut csv = String::from("temperature,vibration,alarms\n");
    for i in 0..600 {
        let (t, v) = ((i * 37 % 100) as f64 / 100.0, (i * 61 % 100) as f64 / 100.0);
        let mut labels = Vec::new();
        if t > 0.6 {
            labels.push("heat");
        }
        if v > 0.7 {
            labels.push("vibration");
        }
        csv.push_str(&format!("{t},{v},{}\n", labels.join("|")));
    }
    let (plugin, scenario) = generated_plugin(
        tmp.path(),
        "alarms",
        "name: alarms\nindustry: manufacturing\ndescription: Which alarms a reading raises\ndata:\n  source: {format: csv, dataset: alarms, files: {train: {name: alarms.csv}}}\n  columns:\n    - {name: temperature, type: number, role: feature}\n    - {name: vibration, type: number, role: feature}\n    - {name: alarms, type: category, role: target, nullable: true}\nheads:\n  - {name: alarms, task: multilabel, target: alarms, classes: [heat, vibration]}\n",
        &csv,
        "name: alarms\nplugin: alarms\nmodel: {hidden: [16]}\ntraining: {epochs: 60, batch_size: 16, optimizer: {kind: adam, learning_rate: 0.01}}\nseed: 1\n",
    );
    let v = run_json(tmp.path(), &scenario, &[]);
    assert!(
        v["metrics"]["evaluation"]
            .as_str()
            .unwrap()
            .starts_with("random 20 % holdout")
    );
    let m = &v["metrics"]["multilabel"];
    assert_eq!(m["rows"], 120);
    // Two thresholds on two inputs: near-perfect, where guessing "no
    // alarm" everywhere scores a micro F1 of 0.
    let micro = m["micro_f1"].as_f64().unwrap();
    assert!(micro > 0.9, "micro F1 {micro}");
    assert_eq!(m["per_label"][1]["label"], "vibration");

    let input = tmp.path().join("in.csv");
    std::fs::write(
        &input,
        "temperature,vibration\n0.9,0.95\n0.1,0.1\n0.9,0.1\n",
    )
    .unwrap();
    let out = ok(&indus(
        &[
            "predict",
            "alarms",
            "--runs-dir",
            "runs",
            "--input",
            input.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let labels: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["label"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(labels, ["heat|vibration", "", "heat"]);
    let listed = ok(&indus(&["list", "runs", "--runs-dir", "runs"], tmp.path()));
    assert!(listed.contains("test micro F1"), "{listed}");

    let data = plugin.join("data/alarms.csv");
    let eval = eval_json(tmp.path(), "alarms", &data);
    assert!(
        eval["multilabel"]["micro_f1"].as_f64().unwrap() > 0.9,
        "{eval}"
    );

    // A label outside the declared ones is refused by row.
    std::fs::write(&data, "temperature,vibration,alarms\n0.5,0.5,heat|smoke\n").unwrap();
    let err = fails(&indus(
        &[
            "eval",
            "alarms",
            "--runs-dir",
            "runs",
            "--input",
            data.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert!(err.contains("row 1") && err.contains("smoke"), "{err}");
}

/// Runs a shipped scenario against the shared data folder for `epochs`
/// epochs and returns `indus run --json`'s output.
fn run_with_data(scenario: &str, epochs: &str) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios").join(scenario);
    run_json(tmp.path(), &scenario, &["--epochs", epochs])
}

/// `indus run SCENARIO --runs-dir runs --json` in `dir` with the shared
/// data folder and `extra` flags; its JSON output.
fn run_json(dir: &Path, scenario: &Path, extra: &[&str]) -> Value {
    let data = data_dir();
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--runs-dir",
        "runs",
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&indus(&args, dir))).unwrap()
}

/// `indus eval RUN --input FILE --json` in `dir` (runs under `runs/`).
fn eval_json(dir: &Path, run: &str, input: &Path) -> Value {
    let out = ok(&indus(
        &[
            "eval",
            run,
            "--runs-dir",
            "runs",
            "--input",
            input.to_str().unwrap(),
            "--json",
        ],
        dir,
    ));
    serde_json::from_str(&out).unwrap()
}

/// A plugin `name` written into `dir` with its data file `data/<name>.csv`,
/// and `scenarios/<name>.yaml`; returns the plugin folder and the scenario.
fn generated_plugin(
    dir: &Path,
    name: &str,
    manifest: &str,
    csv: &str,
    scenario: &str,
) -> (PathBuf, PathBuf) {
    let plugin = dir.join("plugins").join(name);
    std::fs::create_dir_all(plugin.join("data")).unwrap();
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(plugin.join(format!("data/{name}.csv")), csv).unwrap();
    std::fs::write(plugin.join("plugin.yaml"), manifest).unwrap();
    let file = dir.join("scenarios").join(format!("{name}.yaml"));
    std::fs::write(&file, scenario).unwrap();
    (plugin, file)
}

/// A project in `dir` with a copy of the shipped plugin `name` and an empty
/// `scenarios/` folder, for scenario files written by a test.
fn project_with_plugin(dir: &Path, name: &str) {
    let plugin = dir.join("plugins").join(name);
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::copy(
        repo().join("plugins").join(name).join("plugin.yaml"),
        plugin.join("plugin.yaml"),
    )
    .unwrap();
}

/// A temporary folder holding the plugin and scenario `indus new plugin
/// pump-watch` scaffolds (synthetic sample data in the plugin's folder).
fn scaffolded_pump_watch() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    ok(&indus(
        &["new", "plugin", "pump-watch", "--root", root],
        tmp.path(),
    ));
    tmp
}

/// Drops the `sha256:` pins of a plugin's data files, so that a test may
/// edit them; returns the manifest as written.
fn unpin_data(manifest: &Path) -> String {
    let yaml: String = std::fs::read_to_string(manifest)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("sha256:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(manifest, &yaml).unwrap();
    yaml
}

#[test]
fn a_training_file_with_an_undeclared_column_trains_and_the_log_names_it() {
    let tmp = scaffolded_pump_watch();
    let plugin_dir = tmp.path().join("plugins/pump-watch");
    let data = plugin_dir.join("data/sample.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    let widened: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{l},{}", if i == 0 { "operator" } else { "Ana, night" }))
        .collect();
    // Quoted, with a comma inside: the column is skipped, not mis-split.
    let widened: Vec<String> = widened
        .into_iter()
        .map(|l| l.replace(",Ana, night", ",\"Ana, night\""))
        .collect();
    std::fs::write(&data, widened.join("\n") + "\n").unwrap();
    unpin_data(&plugin_dir.join("plugin.yaml"));
    let scenario = tmp.path().join("scenarios/pump-watch.yaml");
    let out = indus(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--runs-dir",
            "runs",
            "--epochs",
            "2",
            "--json",
        ],
        tmp.path(),
    );
    let run: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(run["metrics"]["rows"]["test"], 80);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("sample.csv: read past 1 column") && log.contains("`operator`"),
        "{log}"
    );
    // The run folder keeps the note with its record of the data files.
    let run_dir = tmp.path().join(run["run_dir"].as_str().unwrap());
    let environment: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("environment.json")).unwrap())
            .unwrap();
    let notes = environment["data_notes"].as_array().unwrap();
    assert!(
        notes.len() == 1 && notes[0].as_str().unwrap().contains("`operator`"),
        "{environment}"
    );
}

#[test]
fn a_streamed_predict_answers_exactly_as_the_whole_read() {
    let tmp = scaffolded_pump_watch();
    let scenario = tmp.path().join("scenarios/pump-watch.yaml");
    let run = run_json(tmp.path(), &scenario, &["--epochs", "2"]);
    let run_dir = run["run_dir"].as_str().unwrap();
    // A path through `..`, which polars' chunked reader would refuse as is.
    std::fs::create_dir(tmp.path().join("elsewhere")).unwrap();
    let input = "elsewhere/../plugins/pump-watch/data/sample.csv";
    let predict = |extra: &[&str], out: &str| {
        let mut args = vec!["predict", run_dir, "--input", input, "--out", out];
        args.extend_from_slice(extra);
        ok(&indus(&args, tmp.path()));
        std::fs::read_to_string(tmp.path().join(out)).unwrap()
    };
    let whole = predict(&[], "whole.csv");
    assert_eq!(whole.lines().count(), 401, "a header and 400 answers");
    // Rows, ids and labels alike; scores to float rounding (a batch's
    // shape changes the order of the sums).
    for batch in ["1", "7", "64"] {
        let streamed = predict(&["--stream", "--batch-rows", batch], "streamed.csv");
        assert_eq!(streamed.lines().count(), whole.lines().count());
        assert_eq!(streamed.lines().next(), whole.lines().next());
        for (a, b) in streamed.lines().zip(whole.lines()).skip(1) {
            let (a, b): (Vec<&str>, Vec<&str>) = (a.split(',').collect(), b.split(',').collect());
            assert_eq!(a[..3], b[..3], "batches of {batch}");
            for (x, y) in a[3..].iter().zip(&b[3..]) {
                let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                assert!((x - y).abs() < 1e-5, "batches of {batch}: {a:?} vs {b:?}");
            }
        }
    }
    assert!(!tmp.path().join("streamed.csv.partial").exists());

    // `eval --input` streamed in batches scores every row as the whole read.
    let eval = |extra: &[&str]| -> Value {
        let mut args = vec!["eval", run_dir, "--input", input, "--json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&ok(&indus(&args, tmp.path()))).unwrap()
    };
    let whole = eval(&[])["metrics"].clone();
    let streamed = eval(&["--stream", "--batch-rows", "7"])["metrics"].clone();
    assert_eq!(streamed["rows"], 400, "{streamed}");
    assert_eq!(whole["confusion"], streamed["confusion"], "{streamed}");
    let auc = |m: &Value| m["ranking"]["roc_auc"].as_f64().unwrap();
    assert!(
        (auc(&whole) - auc(&streamed)).abs() < 1e-6,
        "{whole} vs {streamed}"
    );
    let refused = indus(
        &["eval", run_dir, "--input", input, "--batch-rows", "0"],
        tmp.path(),
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--batch-rows 0 is out of range"));
}

#[test]
fn bad_training_rows_stop_the_run_unless_the_plugin_skips_them() {
    let tmp = scaffolded_pump_watch();
    let plugin_dir = tmp.path().join("plugins/pump-watch");
    let data = plugin_dir.join("data/sample.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    // File rows 5 and 9 (lines 6 and 10): a word, and a reading out of range.
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(line, l)| {
            let mut cells: Vec<&str> = l.split(',').collect();
            match line {
                5 => cells[1] = "hot",
                9 => cells[1] = "999.0",
                _ => {}
            }
            cells.join(",")
        })
        .collect();
    std::fs::write(&data, broken.join("\n") + "\n").unwrap();
    let manifest = plugin_dir.join("plugin.yaml");
    let yaml = unpin_data(&manifest);
    let scenario = tmp.path().join("scenarios/pump-watch.yaml");
    let args = [
        "run",
        scenario.to_str().unwrap(),
        "--runs-dir",
        "runs",
        "--epochs",
        "2",
        "--json",
    ];
    let refused = indus(&args, tmp.path());
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("row 5") && err.contains("row 9") && err.contains("temperature_c"),
        "{err}"
    );
    assert!(
        !tmp.path().join("runs").exists()
            || std::fs::read_dir(tmp.path().join("runs/pump-watch"))
                .map_or(true, |mut d| d.next().is_none())
    );

    let skipping = yaml.replace("  # on_bad_rows: skip\n", "  on_bad_rows: skip\n");
    assert_ne!(skipping, yaml, "the scaffold shows the option");
    std::fs::write(&manifest, skipping).unwrap();
    let out = indus(&args, tmp.path());
    let run: Value = serde_json::from_str(&ok(&out)).unwrap();
    let skipped = &run["metrics"]["skipped_rows"];
    assert_eq!(skipped["count"], 2, "{skipped}");
    let reasons = skipped["reasons"].as_array().unwrap();
    assert!(
        reasons[0].as_str().unwrap().contains("row 5")
            && reasons[1].as_str().unwrap().contains("row 9"),
        "{skipped}"
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("skipped 2 rows"), "{log}");
    // 398 rows are left: 80 of them tested, the rest trained on.
    let rows = &run["metrics"]["rows"];
    assert_eq!(
        rows["train"].as_u64().unwrap()
            + rows["validation"].as_u64().unwrap()
            + rows["test"].as_u64().unwrap(),
        398,
        "{rows}"
    );
}

#[test]
fn a_scaffolded_plugin_trains_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let out = ok(&indus(
        &["new", "plugin", "pump-watch", "--root", root],
        tmp.path(),
    ));
    assert!(out.contains("next: indus run"), "{out}");
    let scenario = tmp.path().join("scenarios/pump-watch.yaml");
    let run = run_json(tmp.path(), &scenario, &[]);
    let auc = run["metrics"]["test"]["ranking"]["roc_auc"]
        .as_f64()
        .unwrap();
    assert!(auc > 0.7, "the sample data is learnable; ROC-AUC {auc}");
    assert_eq!(run["metrics"]["rows"]["test"], 80);

    // The same rows as a European spreadsheet export (`;` between fields,
    // decimal commas, Latin-1 text, blank lines at the end), declared with
    // the three keys the scaffold leaves commented out: the same model.
    let plugin_dir = tmp.path().join("plugins/pump-watch");
    let sample = std::fs::read_to_string(plugin_dir.join("data/sample.csv")).unwrap();
    let european = |text: &str| -> Vec<u8> {
        let text = text
            .replace(',', ";")
            .replace('.', ",")
            .replace(";night;", ";soirée;");
        // Every character here is below U+0100: one Latin-1 byte each.
        text.chars().map(|c| c as u32 as u8).collect()
    };
    let mut export = european(&sample);
    export.extend(b"\r\n\r\n");
    std::fs::write(plugin_dir.join("data/sample.csv"), export).unwrap();
    let manifest = std::fs::read_to_string(plugin_dir.join("plugin.yaml")).unwrap();
    let manifest = manifest
        .replace("# delimiter:", "delimiter:")
        .replace("# decimal_comma:", "decimal_comma:")
        .replace("# encoding:", "encoding:")
        .replace("values: [day, night]", "values: [day, soirée]")
        .lines()
        .filter(|l| !l.trim_start().starts_with("sha256:"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(plugin_dir.join("plugin.yaml"), manifest).unwrap();
    let again = run_json(tmp.path(), &scenario, &[]);
    assert_eq!(again["metrics"]["test"], run["metrics"]["test"]);
    // Next month's export, in the same format, predicts without conversion.
    let rows: String = sample.lines().take(6).collect::<Vec<_>>().join("\n");
    std::fs::write(tmp.path().join("export.csv"), european(&rows)).unwrap();
    std::fs::write(tmp.path().join("plain.csv"), &rows).unwrap();
    let predict = |run: &Value, input: &str| {
        ok(&indus(
            &[
                "predict",
                run["run_dir"].as_str().unwrap(),
                "--input",
                input,
            ],
            tmp.path(),
        ))
    };
    let from_export = predict(&again, "export.csv");
    assert_eq!(from_export.lines().count(), 5);
    assert_eq!(from_export, predict(&run, "plain.csv"));

    let again = fails(&indus(
        &["new", "plugin", "pump-watch", "--root", root],
        tmp.path(),
    ));
    assert!(again.contains("already exists"), "{again}");
    let bad = fails(&indus(
        &["new", "plugin", "Pump Watch", "--root", root],
        tmp.path(),
    ));
    assert!(bad.contains("plugin name"), "{bad}");
}

#[test]
fn an_image_plugin_scaffold_trains_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    ok(&indus(
        &["new", "plugin", "part-check", "--images", "--root", root],
        tmp.path(),
    ));
    let run = run_json(
        tmp.path(),
        &tmp.path().join("scenarios/part-check.yaml"),
        &[],
    );
    let m = &run["metrics"];
    assert_eq!(m["rows"]["train"], 300);
    assert_eq!(m["rows"]["test"], 100, "the scaffold's test folder");
    let accuracy = m["test"]["accuracy"].as_f64().unwrap();
    // Half the sample photos carry a scratch; guessing gives 0.5.
    assert!(accuracy > 0.9, "accuracy {accuracy} on the sample photos");
    let photo = tmp
        .path()
        .join("plugins/part-check/data/test/scratched/000.png");
    let answer: Value = serde_json::from_str(&ok(&indus(
        &[
            "predict",
            run["run_dir"].as_str().unwrap(),
            "--input",
            photo.to_str().unwrap(),
        ],
        tmp.path(),
    )))
    .unwrap();
    assert_eq!(answer["id"], "000.png");
    assert!(
        answer["probabilities"]["scratched"].as_f64().is_some(),
        "{answer}"
    );
    let both = fails(&indus(
        &["new", "plugin", "x", "--images", "--native", "--root", root],
        tmp.path(),
    ));
    assert!(both.contains("cannot be used with"), "{both}");
}

/// A credit export with a column recorded after the decision (the amount
/// repaid, zero for every bad risk) and 300 rows exported twice: the
/// proposal and the run name the column as likely leakage and count the
/// copies, the folds keep each copy with its row, and `indus eval` warns
/// about input rows the served model trained on.
#[test]
fn leakage_and_duplicates_are_named_and_copies_never_straddle_a_fold() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    // Zero for every bad risk, a positive amount for the others.
    let mut lines = credit_lines_with("amount_repaid", |i, l| {
        if l.ends_with(",bad") { 0 } else { 500 + i }.to_string()
    });
    let copies: Vec<String> = lines[1..301].to_vec();
    lines.extend(copies);
    let file = tmp.path().join("loans.csv");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = ok(&indus(
        &[
            "new",
            "plugin",
            "loans",
            "--from",
            file.to_str().unwrap(),
            "--target",
            "creditability",
            "--root",
            root,
        ],
        tmp.path(),
    ));
    assert!(
        out.contains("data quality: likely leakage: `amount_repaid`"),
        "{out}"
    );
    assert!(out.contains("300 of 1300 training rows"), "{out}");
    let run = run_json(
        tmp.path(),
        &tmp.path().join("scenarios/loans.yaml"),
        &["--epochs", "2"],
    );
    let q = &run["metrics"]["data_quality"];
    assert_eq!(q["duplicate_rows"], 300, "{q}");
    assert_eq!(q["leakage"][0]["column"], "amount_repaid", "{q}");
    assert!(
        q["leakage"][0]["rule"].as_str().unwrap().contains("0.95"),
        "{q}"
    );
    // Row r and its copy, row r + 1000, were tested by the same fold.
    let dir = tmp.path().join(run["run_dir"].as_str().unwrap());
    let held = std::fs::read_to_string(dir.join("held_out.csv")).unwrap();
    let mut fold_of = std::collections::HashMap::new();
    for line in held.lines().skip(1) {
        let row: usize = line.split(',').next().unwrap().parse().unwrap();
        fold_of.insert(row, line.rsplit(',').next().unwrap().to_string());
    }
    assert_eq!(fold_of.len(), 1300);
    for r in 1..=300 {
        assert_eq!(fold_of[&r], fold_of[&(r + 1000)], "row {r} and its copy");
    }
    // Ten rows the model trained on and ten it never saw.
    let mut input = vec![lines[0].clone()];
    input.extend(lines[1..11].iter().cloned());
    // Another row's repaid amount makes each of these a row never seen.
    input.extend(lines[11..21].iter().enumerate().map(|(k, l)| {
        let (rest, _) = l.rsplit_once(',').unwrap();
        format!("{rest},{}", 1100 + k)
    }));
    let file = tmp.path().join("recent.csv");
    std::fs::write(&file, input.join("\n") + "\n").unwrap();
    let eval = indus(
        &[
            "eval",
            run["run_dir"].as_str().unwrap(),
            "--runs-dir",
            "runs",
            "--input",
            file.to_str().unwrap(),
            "--json",
        ],
        tmp.path(),
    );
    let said = String::from_utf8_lossy(&eval.stderr);
    let v: Value = serde_json::from_str(&ok(&eval)).unwrap();
    assert_eq!(v["rows_seen_in_training"], 10, "{said}");
    assert!(said.contains("10 of 20 rows"), "{said}");
}

/// `indus new plugin --from`: a user's own CSV becomes a plugin that trains
/// as proposed: the shipped German credit file, and an export with `;`,
/// decimal commas, Latin-1 text and `NA` for missing ages.
#[test]
fn a_plugin_proposed_from_a_users_csv_trains_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let credit = repo().join("plugins/finance-credit/data/german_credit.csv");
    let out = ok(&indus(
        &[
            "new",
            "plugin",
            "loans",
            "--from",
            credit.to_str().unwrap(),
            "--target",
            "creditability",
            "--root",
            root,
        ],
        tmp.path(),
    ));
    assert!(out.contains("1000 rows"), "{out}");
    let run = run_json(tmp.path(), &tmp.path().join("scenarios/loans.yaml"), &[]);
    let auc = run["metrics"]["cross_validation"]["mean"]["roc_auc"]
        .as_f64()
        .unwrap();
    assert!(auc > 0.72, "mean fold ROC-AUC {auc}; chance is 0.5");

    // Yield of a press by temperature, pressure and line, as a German
    // spreadsheet exports it; 5 % of the temperatures were not logged.
    let mut export = b"charge;temperatur;druck;linie;ertrag_kg\r\n".to_vec();
    for i in 0..300u32 {
        let temperature = 150 + (i * 37) % 60;
        let pressure = 2.0 + f64::from((i * 53) % 100) / 25.0;
        let line = ["Nord", "S\u{fc}d", "West"][(i % 3) as usize];
        let noise = f64::from((i * 7919) % 101) / 101.0 - 0.5;
        let kg = 0.4 * f64::from(temperature)
            + 8.0 * pressure
            + if i % 3 == 1 { 12.0 } else { 0.0 }
            + 3.0 * noise;
        let temperature = if i % 20 == 0 {
            "NA".to_string()
        } else {
            temperature.to_string()
        };
        let row =
            format!("C{i:04};{temperature};{pressure:.2};{line};{kg:.1}\r\n").replace('.', ",");
        // Latin-1: every character here is one byte.
        export.extend(row.chars().map(|c| c as u8));
    }
    let file = tmp.path().join("pressen.csv");
    std::fs::write(&file, &export).unwrap();
    let propose = |name: &str, target: &str| {
        indus(
            &[
                "new",
                "plugin",
                name,
                "--from",
                file.to_str().unwrap(),
                "--target",
                target,
                "--root",
                root,
            ],
            tmp.path(),
        )
    };
    let out = ok(&propose("press-yield", "ertrag_kg"));
    assert!(out.contains("`NA` read as missing values"), "{out}");
    let plugin =
        std::fs::read_to_string(tmp.path().join("plugins/press-yield/plugin.yaml")).unwrap();
    for declared in [
        "delimiter: \";\"",
        "decimal_comma: true",
        "encoding: latin1",
        "missing_markers: [\"NA\"]",
        "task: regression",
    ] {
        assert!(plugin.contains(declared), "{declared} in\n{plugin}");
    }
    let run = run_json(
        tmp.path(),
        &tmp.path().join("scenarios/press-yield.yaml"),
        &[],
    );
    let r2 = run["metrics"]["cross_validation"]["mean"]["r2"]
        .as_f64()
        .unwrap();
    assert!(r2 > 0.6, "mean fold R² {r2}; predicting the mean gives 0");
    // Next month's export in the same format predicts as it is.
    let answers = ok(&indus(
        &[
            "predict",
            run["run_dir"].as_str().unwrap(),
            "--input",
            file.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    assert_eq!(answers.lines().count(), 300);
    assert!(
        answers.lines().next().unwrap().contains("\"id\":\"C0000\""),
        "{answers}"
    );

    let e = fails(&propose("typo", "ertrag"));
    assert!(
        e.contains("no column named `ertrag` (did you mean `ertrag_kg`?)"),
        "{e}"
    );
    assert!(
        !tmp.path().join("plugins/typo").exists(),
        "nothing written on an error"
    );
}

/// A regression target far from 0 (flat prices around 300,000) is learned
/// as well as a small one: the network trains on z-scores of the price and
/// its output layer answers in currency.
#[test]
fn a_price_in_the_hundred_thousands_is_learned_and_served_in_currency() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("area_m2,rooms,district,price\n");
    for i in 0..400u32 {
        let area = 40 + (i * 37) % 160;
        let rooms = 1 + area / 35;
        let centre = i % 3 == 0;
        let noise = f64::from((i * 7919) % 201) * 100.0 - 10_000.0;
        let price =
            80_000.0 + 2_500.0 * f64::from(area) + if centre { 40_000.0 } else { 0.0 } + noise;
        let district = if centre { "centre" } else { "suburb" };
        csv.push_str(&format!("{area},{rooms},{district},{price:.0}\n"));
    }
    let file = tmp.path().join("flats.csv");
    std::fs::write(&file, csv).unwrap();
    let root = tmp.path().to_str().unwrap();
    ok(&indus(
        &[
            "new",
            "plugin",
            "flats",
            "--from",
            file.to_str().unwrap(),
            "--target",
            "price",
            "--root",
            root,
        ],
        tmp.path(),
    ));
    let run = run_json(tmp.path(), &tmp.path().join("scenarios/flats.yaml"), &[]);
    let cv = &run["metrics"]["cross_validation"]["mean"];
    let r2 = cv["r2"].as_f64().unwrap();
    // Prices spread over ~120,000 (std); the noise alone is ~6,000.
    assert!(
        r2 > 0.9,
        "mean fold R² {r2}; without the target scaling it was -0.02"
    );
    // The price follows the area first: shuffling it costs the most RMSE.
    let importance = &run["metrics"]["permutation_importance"];
    assert_eq!(importance["metric"], "rmse");
    assert_eq!(
        importance["columns"][0]["column"], "area_m2",
        "{importance}"
    );
    assert!(
        importance["columns"][0]["loss"].as_f64().unwrap() > 50_000.0,
        "{importance}"
    );
    let input = tmp.path().join("ask.csv");
    std::fs::write(
        &input,
        "area_m2,rooms,district\n100,3,suburb\n100,3,centre\n",
    )
    .unwrap();
    let answers = ok(&indus(
        &[
            "predict",
            run["run_dir"].as_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    let prices: Vec<f64> = answers
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["value"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert!((prices[0] - 330_000.0).abs() < 25_000.0, "{prices:?}");
    assert!(
        prices[1] - prices[0] > 20_000.0,
        "the centre costs more: {prices:?}"
    );
}

/// Two numbers on one trunk (a flat's price and its monthly rent, three
/// orders of magnitude apart): each head learns its own z-scores and
/// answers in its own unit.
#[test]
fn regression_heads_on_one_trunk_each_answer_in_their_own_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("area_m2,centre,price,rent\n");
    for i in 0..500u32 {
        let area = 40 + (i * 37) % 160;
        let centre = i % 3 == 0;
        let noise = f64::from((i * 7919) % 201) / 100.0 - 1.0;
        let price = 80_000.0
            + 2_500.0 * f64::from(area)
            + if centre { 40_000.0 } else { 0.0 }
            + 8_000.0 * noise;
        let rent = 400.0 + 9.0 * f64::from(area) + if centre { 250.0 } else { 0.0 } + 40.0 * noise;
        csv.push_str(&format!("{area},{centre},{price:.0},{rent:.0}\n"));
    }
    let manifest = "name: flats\nindustry: real estate\ndescription: Price and rent of a flat\ndata:\n  source: {format: csv, dataset: flats, files: {train: {name: flats.csv}}}\n  columns:\n    - {name: area_m2, type: number, role: feature}\n    - {name: centre, type: boolean, role: feature}\n    - {name: price, type: number, role: target}\n    - {name: rent, type: number, role: target}\nheads:\n  - {name: price, task: regression, target: price}\n  - {name: rent, task: regression, target: rent}\n";
    let scenario = "name: flats\nplugin: flats\nheads: [{name: price}, {name: rent}]\ndata: {test_fraction: 0.2}\nmodel: {hidden: [32]}\ntraining: {epochs: 40, batch_size: 16, optimizer: {kind: adam, learning_rate: 0.003}}\nseed: 1\n";
    let (_, scenario) = generated_plugin(tmp.path(), "flats", manifest, &csv, scenario);
    let run = run_json(tmp.path(), &scenario, &[]);
    let m = &run["metrics"];
    let price_r2 = m["regression"]["r2"].as_f64().unwrap();
    let rent = &m["auxiliary_heads"][0];
    assert_eq!(rent["head"], "rent");
    let rent_r2 = rent["regression"]["r2"].as_f64().unwrap();
    // Noise is a few % of each spread. Learned in their own units, the
    // price never left the ground (R² 0.007) while the rent reached 0.96;
    // on z-scores both pass 0.99.
    assert!(
        price_r2 > 0.9 && rent_r2 > 0.9,
        "R² price {price_r2}, rent {rent_r2}"
    );
    let input = tmp.path().join("ask.csv");
    std::fs::write(&input, "area_m2,centre\n100,false\n").unwrap();
    let answer: Value = serde_json::from_str(&ok(&indus(
        &[
            "predict",
            run["run_dir"].as_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ],
        tmp.path(),
    )))
    .unwrap();
    let price = answer["value"].as_f64().unwrap();
    let rent = answer["heads"]["rent"]["value"].as_f64().unwrap();
    assert!((price - 330_000.0).abs() < 25_000.0, "{answer}");
    assert!((rent - 1_300.0).abs() < 120.0, "{answer}");
}

#[test]
fn taiwan_credit_defaults_are_scored_on_a_stratified_holdout() {
    let v = run_with_data("credit-scoring-taiwan.yaml", "4");
    let m = &v["metrics"];
    assert_eq!(m["rows"]["test"], 6000, "20 % of 30,000 clients held out");
    let auc = m["test"]["ranking"]["roc_auc"].as_f64().unwrap();
    assert!(
        auc > 0.74,
        "holdout ROC-AUC {auc}; a model that learned nothing scores 0.5"
    );
    let threshold = m["threshold"].as_f64().unwrap();
    assert!(
        threshold < 0.5,
        "best-F1 threshold {threshold}: with 22 % defaults it sits below 0.5"
    );
}

/// A native plugin scaffolded outside this workspace, built by cargo as its
/// own crate against the SDK (by path), loads and runs: derived feature in
/// training and prediction, postprocess output in predictions.
#[test]
fn a_native_plugin_built_outside_the_workspace_loads_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    ok(&indus(
        &["new", "plugin", "pump-watch", "--root", root, "--native"],
        tmp.path(),
    ));
    // A target folder kept between test runs, so the SDK's dependencies are
    // compiled once.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffolded-native");
    let manifest = tmp.path().join("plugins/pump-watch/native/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = std::process::Command::new(cargo)
        .args(["build", "--manifest-path", manifest.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run_indus = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_indus"))
            .args(args)
            .current_dir(tmp.path())
            .env("INDUS_PLUGIN_PATH", target.join("debug"))
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap()
    };
    let scenario = tmp.path().join("scenarios/pump-watch.yaml");
    let run: Value = serde_json::from_str(&ok(&run_indus(&[
        "run",
        scenario.to_str().unwrap(),
        "--runs-dir",
        "runs",
        "--json",
    ])))
    .unwrap();
    assert!(
        run["metrics"]["test"]["ranking"]["roc_auc"]
            .as_f64()
            .unwrap()
            > 0.7
    );
    let rows = tmp.path().join("rows.jsonl");
    std::fs::write(
        &rows,
        "{\"machine_id\": \"M1\", \"temperature_c\": 92, \"vibration_mm_s\": 11.5, \"load_pct\": 95, \"shift\": \"night\"}\n\
         {\"machine_id\": \"M2\", \"temperature_c\": 45, \"vibration_mm_s\": 1.0, \"load_pct\": 30, \"shift\": \"day\"}\n",
    )
    .unwrap();
    let out = ok(&run_indus(&[
        "predict",
        "pump-watch",
        "--runs-dir",
        "runs",
        "--input",
        rows.to_str().unwrap(),
    ]));
    let p: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(p[0]["outputs"]["maintenance"], "urgent", "{out}");
    assert_eq!(p[1]["outputs"]["maintenance"], "routine", "{out}");

    // Without the library the run names the plugin and where it looked.
    let err = fails(&indus(
        &["run", scenario.to_str().unwrap(), "--runs-dir", "runs2"],
        tmp.path(),
    ));
    assert!(
        err.contains("plugin `pump-watch`") && err.contains("libpump_watch_native"),
        "{err}"
    );
}

#[test]
fn sample_weights_decide_which_rows_the_model_learns_from() {
    let tmp = tempfile::tempdir().unwrap();
    // Every reading appears twice: once labelled by the true rule (fault
    // above 0), once with the opposite label but weight 0 (say, records an
    // audit marked as wrong). Only the weights tell the two apart.
    let mut train = String::from("reading,trust,state\n");
    let mut test = String::from("reading,trust,state\n");
    for i in 0..200 {
        let x = (i as f64 - 99.5) / 100.0;
        let (truth, wrong) = if x > 0.0 {
            ("fault", "ok")
        } else {
            ("ok", "fault")
        };
        train.push_str(&format!("{x},1,{truth}\n{x},0,{wrong}\n"));
        test.push_str(&format!("{},1,{truth}\n", x + 0.002));
    }
    let manifest = |weight_role: &str| {
        format!(
            "name: audit\nindustry: manufacturing\ndescription: Faults from audited records\ndata:\n  source: {{format: csv, dataset: audit, files: {{train: {{name: audit.csv}}, test: {{name: audit_test.csv}}}}}}\n  columns:\n    - {{name: reading, type: number, role: feature}}\n    - {{name: trust, type: number, role: {weight_role}}}\n    - {{name: state, type: category, role: target, values: [ok, fault]}}\nheads:\n  - {{name: state, task: binary, target: state, classes: [ok, fault]}}\n"
        )
    };
    let scenario = "name: audit\nplugin: audit\nmodel: {hidden: [8]}\ntraining: {epochs: 30, batch_size: 16, optimizer: {kind: adam, learning_rate: 0.01}}\nseed: 1\n";
    let (plugin, file) =
        generated_plugin(tmp.path(), "audit", &manifest("weight"), &train, scenario);
    std::fs::write(plugin.join("data/audit_test.csv"), &test).unwrap();
    let accuracy = || {
        run_json(tmp.path(), &file, &[])["metrics"]["test"]["accuracy"]
            .as_f64()
            .unwrap()
    };
    let weighted = accuracy();
    assert!(
        weighted > 0.9,
        "accuracy {weighted} learning from the trusted rows"
    );
    // The same rows with the weights ignored: each reading is both classes.
    std::fs::write(plugin.join("plugin.yaml"), manifest("ignore")).unwrap();
    let unweighted = accuracy();
    assert!(
        unweighted < 0.75,
        "accuracy {unweighted} when every record counts"
    );

    // A weight that is not a finite number of at least 0 is refused by row.
    std::fs::write(plugin.join("plugin.yaml"), manifest("weight")).unwrap();
    let bad = train.replacen(",1,ok\n", ",-2,ok\n", 1);
    std::fs::write(plugin.join("data/audit.csv"), bad).unwrap();
    let err = fails(&indus(
        &["run", file.to_str().unwrap(), "--runs-dir", "runs"],
        tmp.path(),
    ));
    assert!(
        err.contains("audit.csv")
            && err.contains("row 1,")
            && err.contains("`trust`")
            && err.contains("at least 0"),
        "{err}"
    );
}

/// `--help` shows what a user can pass, not the build machine's folders,
/// and `drift` offers only the formats it reads.
#[test]
fn help_texts_name_no_build_paths_and_only_usable_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let new = ok(&indus(&["new", "plugin", "--help"], tmp.path()));
    assert!(new.contains("--sdk"), "{new}");
    assert!(!new.contains(env!("CARGO_MANIFEST_DIR")), "{new}");
    assert!(!new.contains("[default: /"), "{new}");
    let drift = ok(&indus(&["drift", "--help"], tmp.path()));
    assert!(drift.contains("parquet"), "{drift}");
    assert!(
        !drift.contains("idx") && !drift.contains("images"),
        "{drift}"
    );
}

/// A scenario file that is not there: its cause is said once.
#[test]
fn a_missing_scenario_file_names_its_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let e = fails(&indus(&["run", "scenarios/no-such.yaml"], tmp.path()));
    assert!(e.contains("scenarios/no-such.yaml"), "{e}");
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
}

/// A holdout run: `indus eval RUN` finds the held-out rows of the training
/// file again by their row numbers (in the data folder the run recorded),
/// scores them with the run's model and gets the run's own numbers; its
/// examples are held-out rows; a changed data file is refused.
#[test]
fn eval_rescoring_a_holdout_run_finds_its_own_held_out_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("scenarios")).unwrap();
    let data = root.join("data/credit");
    std::fs::create_dir_all(&data).unwrap();
    let file = repo().join("plugins/finance-credit/data/german_credit.csv");
    std::fs::copy(&file, data.join("german_credit.csv")).unwrap();
    // The plugin as a user's copy whose data file declares no digest.
    let plugin = root.join("plugins/finance-credit");
    std::fs::create_dir_all(&plugin).unwrap();
    let manifest = std::fs::read_to_string(repo().join("plugins/finance-credit/plugin.yaml"))
        .unwrap()
        .replace(
            "        sha256: 01f2981fc8f44de5ed05b904318afb1e78390c34def2cb46015e0c3f99be286c\n",
            "",
        );
    assert!(!manifest.contains("01f2981f"));
    std::fs::write(plugin.join("plugin.yaml"), manifest).unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/credit-scoring.yaml"))
        .unwrap()
        .replace("name: credit-scoring", "name: credit-holdout")
        .replace("  folds: 5\n", "  test_fraction: 0.25\n  dir: ../data\n")
        .replace("ensemble: 5", "ensemble: 1");
    assert!(text.contains("test_fraction") && text.contains("dir: ../data"));
    std::fs::write(root.join("scenarios/credit-holdout.yaml"), text).unwrap();
    let trained = indus(
        &[
            "run",
            "scenarios/credit-holdout.yaml",
            "--runs-dir",
            "runs",
            "--epochs",
            "2",
            "--json",
        ],
        root,
    );
    let v: Value = serde_json::from_str(&ok(&trained)).unwrap();
    let run_dir = root.join(v["run_dir"].as_str().unwrap());
    // A file without a declared digest is read, and its digest recorded.
    let log = String::from_utf8_lossy(&trained.stderr);
    assert!(
        log.contains("plugin.yaml declares no sha256 for it"),
        "{log}"
    );
    let environment: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("environment.json")).unwrap())
            .unwrap();
    let digests = environment["data_sha256"].as_object().unwrap();
    let (path, digest) = digests.iter().next().unwrap();
    assert!(path.ends_with("german_credit.csv"), "{path}");
    assert_eq!(
        digest,
        "01f2981fc8f44de5ed05b904318afb1e78390c34def2cb46015e0c3f99be286c"
    );
    assert!(environment["data_dir"].as_str().unwrap().ends_with("data"));
    let run = run_dir.to_str().unwrap();
    // From another folder, without --data-dir: the recorded folder is used.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = indus(&["eval", run, "--json"], elsewhere.path());
    let e: Value = serde_json::from_str(&ok(&out)).unwrap();
    let noted = String::from_utf8_lossy(&out.stderr);
    assert!(noted.contains("the run's 250 held-out rows"), "{noted}");
    let (now, then) = (&e["metrics"], &v["metrics"]["test"]);
    assert_eq!(now["rows"], 250);
    assert_eq!(now["confusion"], then["confusion"]);
    let auc = |m: &Value| m["ranking"]["roc_auc"].as_f64().unwrap();
    assert!(
        (auc(now) - auc(then)).abs() < 1e-9,
        "{} vs {}",
        auc(now),
        auc(then)
    );
    // The examples are held-out rows, numbers as the file writes them.
    let held: Vec<usize> = std::fs::read_to_string(run_dir.join("held_out.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(held.len(), 250);
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let amount_at = lines[0]
        .split(',')
        .position(|c| c == "credit_amount")
        .unwrap();
    let amount = |line: &str| -> String {
        // The columns before credit_amount hold no quoted commas.
        line.split(',').nth(amount_at).unwrap().to_string()
    };
    let held_amounts: std::collections::HashSet<String> =
        held.iter().map(|&r| amount(&lines[r])).collect();
    let examples: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("examples.json")).unwrap())
            .unwrap();
    assert_eq!(examples.len(), 5);
    for x in &examples {
        let written = x["credit_amount"].to_string();
        assert!(
            held_amounts.contains(&written),
            "{written} is not a held-out row's amount"
        );
    }
    // A data file that changed since the run no longer names those rows.
    let mut changed = std::fs::read_to_string(data.join("german_credit.csv")).unwrap();
    changed.push_str(lines.last().unwrap());
    changed.push('\n');
    std::fs::write(data.join("german_credit.csv"), changed).unwrap();
    let e = fails(&indus(&["eval", run], elsewhere.path()));
    assert!(e.contains("changed since the run"), "{e}");
}

/// A misspelled plugin name: `run` suggests the plugin it was probably
/// meant to be, and `list` shows that scenario as invalid, not as usable.
#[test]
fn a_misspelled_plugin_is_suggested_and_listed_as_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("scenarios")).unwrap();
    let plugins = root.join("plugins/finance-credit");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        repo().join("plugins/finance-credit/plugin.yaml"),
        plugins.join("plugin.yaml"),
    )
    .unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/credit-scoring.yaml"))
        .unwrap()
        .replace("plugin: finance-credit", "plugin: finance-credt");
    assert!(text.contains("finance-credt"));
    std::fs::write(root.join("scenarios/typo.yaml"), text).unwrap();
    let e = fails(&indus(&["run", "scenarios/typo.yaml"], root));
    assert!(e.contains("no plugin named `finance-credt`"), "{e}");
    assert!(e.contains("did you mean `finance-credit`?"), "{e}");
    let listed = ok(&indus(
        &["list", "scenarios", "--root", ".", "--runs-dir", "none"],
        root,
    ));
    let line = listed
        .lines()
        .find(|l| l.contains("typo"))
        .unwrap_or_default();
    assert!(
        line.contains("INVALID") && line.contains("finance-credit`?"),
        "{listed}"
    );
}

/// A cross-validated ensemble trains thirty networks: each epoch line says
/// which fold and which network it belongs to, and the summary does not
/// read as testing on the training rows.
#[test]
fn epoch_lines_name_their_fold_and_network() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/credit-scoring.yaml");
    let out = indus(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--runs-dir",
            "runs",
            "--epochs",
            "1",
        ],
        tmp.path(),
    );
    let printed = ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    for part in [
        "epoch 1/1 (fold 1/5, network 1/5)",
        "epoch 1/1 (fold 5/5, network 5/5)",
        "epoch 1/1 (final model, network 3/5)",
    ] {
        assert!(log.contains(part), "{part} not in:\n{log}");
    }
    assert!(
        printed.contains("1000 rows, each tested once by the fold model that did not train on it"),
        "{printed}"
    );
    assert!(!printed.contains("train/val/test"), "{printed}");
}

/// Runs `tests/onnx/check_onnx.py` (ONNX Runtime from PyPI, in the Python
/// named by `INDUS_ONNX_PYTHON`) on an exported model and its sample; fails
/// unless the outputs agree with indus's; returns what it printed.
fn onnx_agrees(model: &Path, sample: &Path) -> String {
    let python = std::env::var("INDUS_ONNX_PYTHON").unwrap_or_else(|_| {
        panic!(
            "set INDUS_ONNX_PYTHON to a Python with onnxruntime and numpy installed (.ci/run makes one)"
        )
    });
    let checked = Command::new(python)
        .arg(repo().join("tests/onnx/check_onnx.py"))
        .arg(model)
        .arg(sample)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert!(
        checked.status.success(),
        "{}: {said}{}",
        model.display(),
        String::from_utf8_lossy(&checked.stderr)
    );
    said
}

/// `indus export RUN --format onnx`: ONNX Runtime (PyPI) gives indus's own
/// outputs for the run's example rows, for an averaged ensemble of ReLU
/// networks and for a GELU network with layer normalisation (the refusal
/// of id embeddings is a unit test of the engine).
#[test]
fn an_exported_onnx_model_answers_like_indus_in_onnx_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("scenarios")).unwrap();
    std::os::unix::fs::symlink(repo().join("plugins"), root.join("plugins")).unwrap();
    let credit = std::fs::read_to_string(repo().join("scenarios/credit-scoring.yaml")).unwrap();
    let variant = credit
        .replace("name: credit-scoring", "name: credit-gelu")
        .replace(
            "  activation: relu\n",
            "  activation: gelu\n  norm: layer\n",
        )
        .replace("ensemble: 5", "ensemble: 1");
    assert!(variant.contains("norm: layer"));
    std::fs::write(root.join("scenarios/credit-scoring.yaml"), &credit).unwrap();
    std::fs::write(root.join("scenarios/credit-gelu.yaml"), variant).unwrap();
    for name in ["credit-scoring", "credit-gelu"] {
        ok(&indus(
            &[
                "run",
                &format!("scenarios/{name}.yaml"),
                "--runs-dir",
                "runs",
                "--epochs",
                "2",
                "--json",
            ],
            root,
        ));
        let model = root.join(format!("{name}.onnx"));
        let sample = root.join(format!("{name}.json"));
        let said = ok(&indus(
            &[
                "export",
                name,
                "--out",
                model.to_str().unwrap(),
                "--sample",
                sample.to_str().unwrap(),
            ],
            root,
        ));
        assert!(said.contains("preprocessed features"), "{said}");
        onnx_agrees(&model, &sample);
    }
    // The credit plugin derives columns in a native hook: the graph cannot
    // compute them, so the preprocessing is refused, naming the column.
    let e = fails(&indus(
        &["export", "credit-scoring", "--with-preprocessing"],
        root,
    ));
    assert!(e.contains("derived by the plugin's native hook"), "{e}");

    // With the preprocessing in the graph: missing numbers filled, log1p,
    // min-max, piecewise-linear bins and one-hot categories, on raw rows.
    let own = root.join("own");
    let plugin = own.join("plugins/loans");
    std::fs::create_dir_all(plugin.join("data")).unwrap();
    std::fs::create_dir_all(own.join("scenarios")).unwrap();
    let mut csv = String::from("amount,age,kind,bad\n");
    for i in 0..240 {
        let amount = if i % 4 == 1 {
            String::new()
        } else {
            format!("{}", 100 + (i * 37) % 900)
        };
        let kind = ["car", "home", "study"][i % 3];
        let bad = if (i * 7) % 10 < 3 { "yes" } else { "no" };
        csv.push_str(&format!("{amount},{},{kind},{bad}\n", 20 + i % 50));
    }
    std::fs::write(plugin.join("data/loans.csv"), csv).unwrap();
    std::fs::write(
        plugin.join("plugin.yaml"),
        "name: loans\nindustry: finance\ndescription: t\ndata:\n  source: {format: csv, dataset: loans, files: {train: {name: loans.csv}}}\n  columns:\n    - {name: amount, type: number, role: feature, nullable: true, missing: median, normalization: log1p}\n    - {name: age, type: number, role: feature, normalization: min_max}\n    - {name: kind, type: category, role: feature, values: [car, home, study]}\n    - {name: bad, type: category, role: target}\nheads:\n  - {name: bad, task: binary, target: bad, classes: ['no', 'yes']}\n",
    )
    .unwrap();
    std::fs::write(
        own.join("scenarios/loans.yaml"),
        "name: loans\nplugin: loans\ndata: {test_fraction: 0.25, piecewise_linear_bins: 4}\nmodel: {hidden: [16], activation: tanh}\ntraining: {epochs: 3, batch_size: 32, optimizer: {kind: adam, learning_rate: 0.01}}\nbackend: flex\nseed: 3\n",
    )
    .unwrap();
    ok(&indus(
        &[
            "run",
            "scenarios/loans.yaml",
            "--runs-dir",
            "runs",
            "--json",
        ],
        &own,
    ));
    let (model, sample) = (own.join("loans.onnx"), own.join("loans.json"));
    ok(&indus(
        &[
            "export",
            "loans",
            "--with-preprocessing",
            "--out",
            model.to_str().unwrap(),
            "--sample",
            sample.to_str().unwrap(),
        ],
        &own,
    ));
    // The sample's raw rows include a missing amount (the NaN path).
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(&sample).unwrap()).unwrap();
    assert!(
        raw["raw"].as_array().unwrap().contains(&Value::Null),
        "{raw}"
    );
    let said = onnx_agrees(&model, &sample);
    assert!(said.contains("from `raw`"), "{said}");
}
