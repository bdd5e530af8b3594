//! For every kind of head, a run loaded from its folder answers the test
//! rows exactly as training decided them when it computed the run's test
//! metrics: same label, same probabilities, same number, row for row.

use indus_data::{DataLocations, Limits, load_dataset};
use indus_runtime::{Decided, LoadedRun, RunOptions, resolve_scenario, run_scenario};
use indus_spec::BackendKind;
use std::fmt::Write as _;
use std::path::Path;

/// A deterministic spread of numbers in [0, 1).
fn uniform(i: usize, salt: usize) -> f64 {
    let mut z = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (salt as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 31;
    z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z >> 11) as f64) / ((1u64 << 53) as f64)
}

/// Writes a plugin whose data set ships `train.csv` and an official
/// `test.csv`, and a scenario for it; returns the scenario file.
fn project(
    dir: &Path,
    columns: &str,
    head: &str,
    header: &str,
    row: &dyn Fn(usize) -> String,
    scenario_extra: &str,
) -> std::path::PathBuf {
    let plugin = dir.join("plugins/p");
    std::fs::create_dir_all(plugin.join("data")).unwrap();
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    for (file, range) in [("train.csv", 0..240), ("test.csv", 240..300)] {
        let mut csv = format!("{header}\n");
        for i in range {
            writeln!(csv, "{}", row(i)).unwrap();
        }
        std::fs::write(plugin.join("data").join(file), csv).unwrap();
    }
    std::fs::write(
        plugin.join("plugin.yaml"),
        format!(
            "name: p\nindustry: test\ndescription: parity\ndata:\n  source: {{format: csv, dataset: p, files: {{train: {{name: train.csv}}, test: {{name: test.csv}}}}}}\n  columns:\n{columns}heads:\n  - {head}\n"
        ),
    )
    .unwrap();
    let file = dir.join("scenarios/p.yaml");
    std::fs::write(
        &file,
        format!(
            "name: p\nplugin: p\nmodel: {{hidden: [8]}}\ntraining: {{epochs: 4, batch_size: 32, optimizer: {{kind: adam, learning_rate: 0.01}}}}\nseed: 3\n{scenario_extra}"
        ),
    )
    .unwrap();
    file
}

/// Trains the scenario, loads its run and compares the loaded run's
/// answers for the official test rows with training's decisions.
fn assert_served_as_trained(dir: &Path, scenario_file: &Path) {
    let resolved = resolve_scenario(scenario_file, &[dir.join("plugins")]).unwrap();
    let summary = run_scenario(
        &resolved,
        &RunOptions {
            data_dir: None,
            runs_root: dir.join("runs"),
        },
        &mut indus_engine::Silent,
        &mut |_| {},
    )
    .unwrap();
    let decided: Decided = summary
        .test_decisions
        .expect("a single fit has row decisions");
    let run = LoadedRun::open(&summary.dir, BackendKind::Flex).unwrap();
    let locations = DataLocations::from_env(None).with_plugin_dir(Some(dir.join("plugins/p")));
    let test = load_dataset(&run.plugin, &locations, Limits::default())
        .unwrap()
        .test
        .unwrap();
    let answers = run.predict(&test).unwrap();
    assert_eq!(answers.len(), test.len());
    let classes = &run.model.classes;
    let k = classes.len().max(1);
    for (i, a) in answers.iter().enumerate() {
        if !decided.classes.is_empty() {
            assert_eq!(a.label, classes[decided.classes[i]], "row {}", i + 1);
        }
        if !decided.probabilities.is_empty() {
            let trained = &decided.probabilities[i * k..(i + 1) * k];
            for ((_, served), trained) in a.probabilities.iter().zip(trained) {
                assert!(
                    (served - trained).abs() <= 1e-6,
                    "row {}: {served} vs {trained}",
                    i + 1
                );
            }
        }
        if !decided.values.is_empty() {
            let served = a.value.expect("a number for every row");
            assert!(
                (served - decided.values[i]).abs() <= 1e-5,
                "row {}: {served} vs {}",
                i + 1,
                decided.values[i]
            );
        }
    }
    // And `indus eval` on the same rows reproduces the recorded metrics.
    match run.model.decision {
        indus_runtime::Decision::Value => {
            let m = run.evaluate_regression(&test).unwrap();
            assert_eq!(Some(m), summary.metrics.regression);
        }
        indus_runtime::Decision::Multilabel => {
            let m = run.evaluate_multilabel(&test).unwrap();
            assert_eq!(Some(m), summary.metrics.multilabel);
        }
        _ => {
            let m = run.evaluate(&test).unwrap();
            let mut recorded = summary.metrics.test.clone().unwrap();
            recorded.custom.clear();
            assert_eq!(m, recorded);
        }
    }
}

const TWO_NUMBERS: &str =
    "    - {name: a, type: number, role: feature}\n    - {name: b, type: number, role: feature}\n";

#[test]
fn binary_heads_with_a_fitted_threshold_answer_as_trained() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(
        dir.path(),
        &format!(
            "{TWO_NUMBERS}    - {{name: y, type: category, role: target, values: [no, yes]}}\n"
        ),
        "{name: y, task: binary, target: y, classes: [no, yes], decision: {rule: best_f1}}",
        "a,b,y",
        &|i| {
            let (a, b) = (uniform(i, 1), uniform(i, 2));
            format!("{a},{b},{}", if a + b > 1.1 { "yes" } else { "no" })
        },
        "data: {validation_fraction: 0.2}\n",
    );
    assert_served_as_trained(dir.path(), &file);
}

#[test]
fn multiclass_heads_answer_as_trained() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(
        dir.path(),
        &format!(
            "{TWO_NUMBERS}    - {{name: y, type: category, role: target, values: [low, mid, high]}}\n"
        ),
        "{name: y, task: multiclass, target: y, classes: [low, mid, high]}",
        "a,b,y",
        &|i| {
            let a = uniform(i, 3);
            let class = ["low", "mid", "high"][(a * 3.0) as usize];
            format!("{a},{},{class}", uniform(i, 4))
        },
        "",
    );
    assert_served_as_trained(dir.path(), &file);
}

#[test]
fn guarded_classifiers_answer_as_trained() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(
        dir.path(),
        &format!(
            "{TWO_NUMBERS}    - {{name: y, type: category, role: target, values: [ok, bad]}}\n"
        ),
        "{name: y, task: binary, target: y, classes: [ok, bad]}",
        "a,b,y",
        &|i| {
            // Test rows far from every training row: the guard fires there.
            let shift = if i >= 270 { 6.0 } else { 0.0 };
            let (a, b) = (uniform(i, 5) + shift, uniform(i, 6));
            format!("{a},{b},{}", if b > 0.6 { "bad" } else { "ok" })
        },
        "data: {validation_fraction: 0.2}\nnovelty_guard: {threshold_percentile: 90, model: {hidden: [4]}, training: {epochs: 3, batch_size: 32, optimizer: {kind: adam, learning_rate: 0.01}}}\n",
    );
    assert_served_as_trained(dir.path(), &file);
}

#[test]
fn regression_heads_answer_as_trained() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(
        dir.path(),
        &format!("{TWO_NUMBERS}    - {{name: y, type: number, role: target}}\n"),
        "{name: y, task: regression, target: y}",
        "a,b,y",
        &|i| {
            let (a, b) = (uniform(i, 7), uniform(i, 8));
            format!("{a},{b},{}", 30.0 * a + 5.0 * b)
        },
        "",
    );
    assert_served_as_trained(dir.path(), &file);
}

#[test]
fn multilabel_heads_answer_as_trained() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(
        dir.path(),
        &format!("{TWO_NUMBERS}    - {{name: y, type: category, role: target, nullable: true}}\n"),
        "{name: y, task: multilabel, target: y, classes: [hot, loud]}",
        "a,b,y",
        &|i| {
            let (a, b) = (uniform(i, 9), uniform(i, 10));
            let labels: Vec<&str> = [(a > 0.5, "hot"), (b > 0.5, "loud")]
                .into_iter()
                .filter_map(|(on, l)| on.then_some(l))
                .collect();
            format!("{a},{b},{}", labels.join("|"))
        },
        "",
    );
    assert_served_as_trained(dir.path(), &file);
}

#[test]
fn autoencoders_answer_as_trained() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(
        dir.path(),
        &format!(
            "{TWO_NUMBERS}    - {{name: y, type: category, role: target, values: [normal, attack]}}\n"
        ),
        "{name: y, task: reconstruction, target: y, classes: [normal, attack], threshold_percentile: 95}",
        "a,b,y",
        &|i| {
            let attack = i % 5 == 0;
            let (a, b) = (uniform(i, 11), uniform(i, 12));
            if attack {
                format!("{},{},attack", a * 4.0 + 3.0, -b * 4.0)
            } else {
                format!("{a},{b},normal")
            }
        },
        "data: {validation_fraction: 0.2}\n",
    );
    assert_served_as_trained(dir.path(), &file);
}

#[test]
fn rating_heads_answer_as_trained() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(
        dir.path(),
        "    - {name: user, type: integer, role: feature, encoding: embedding, embedding_dim: 4}\n    - {name: item, type: integer, role: feature, encoding: embedding, embedding_dim: 4}\n    - {name: stars, type: integer, role: target, range: [1, 5]}\n",
        "{name: stars, task: user_item, target: stars, user: user, item: item, liked_at: 4}",
        "user,item,stars",
        &|i| {
            let (user, item) = (i % 12, (i * 7 + i / 12) % 15);
            format!("{user},{item},{}", 1 + (user + item) % 5)
        },
        "data: {validation_fraction: 0.1}\n",
    );
    assert_served_as_trained(dir.path(), &file);
}
