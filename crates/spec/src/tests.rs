use super::*;
use std::path::Path;

const SCENARIO: &str = "\
name: demo
plugin: mnist
model:
  hidden: [128, 64]
training:
  epochs: 2
  batch_size: 32
  optimizer:
    kind: adam
    learning_rate: 0.001
seed: 1
";

fn scenario(text: &str) -> Result<Scenario, SpecError> {
    parse_scenario(Path::new("scenarios/demo.yaml"), text)
}

fn message(text: &str) -> String {
    scenario(text).expect_err("should be rejected").to_string()
}

#[test]
fn minimal_scenario_gets_documented_defaults() {
    let s = scenario(SCENARIO).unwrap();
    assert_eq!(s.backend, BackendKind::Flex);
    assert_eq!(s.model.activation, Activation::Relu);
    assert_eq!(s.training.optimizer.epsilon.get(), 1e-7);
    assert!(s.training.shuffle);
    assert_eq!(s.data.validation_fraction.get(), 0.0);
}

#[test]
fn unknown_key_names_file_line_and_expected_keys() {
    let m = message(&SCENARIO.replace("  epochs: 2", "  epochs: 2\n  epoch: 3"));
    assert!(m.starts_with("scenarios/demo.yaml:7:"), "{m}");
    assert!(m.contains("unknown field `epoch`"), "{m}");
    assert!(m.contains("expected one of"), "{m}");
}

#[test]
fn zero_sized_hidden_layer_is_located() {
    let m = message(&SCENARIO.replace("[128, 64]", "[128, 0]"));
    assert!(m.contains("scenarios/demo.yaml:4:"), "{m}");
    assert!(m.contains("model.hidden[1]"), "{m}");
    assert!(m.contains("at least 1"), "{m}");
}

#[test]
fn non_positive_learning_rate_is_rejected() {
    let m = message(&SCENARIO.replace("0.001", "-0.1"));
    assert!(m.contains("training.optimizer.learning_rate"), "{m}");
    assert!(m.contains("greater than 0"), "{m}");
    assert!(
        m.starts_with(
            "scenarios/demo.yaml:10:5: field `training.optimizer.learning_rate`: expected"
        ),
        "{m}"
    );
}

#[test]
fn wrong_type_says_what_was_expected() {
    let m = message(&SCENARIO.replace("epochs: 2", "epochs: many"));
    assert!(m.contains("training.epochs"), "{m}");
    assert!(m.contains("expected"), "{m}");
}

#[test]
fn malformed_yaml_reports_position() {
    let m = message("name: demo\nmodel: [unclosed\n");
    assert!(m.starts_with("scenarios/demo.yaml:"), "{m}");
}

#[test]
fn unknown_backend_lists_choices() {
    let m = message(&format!("{SCENARIO}backend: tpu\n"));
    assert!(m.contains("backend"), "{m}");
    assert!(m.contains("flex") && m.contains("cuda"), "{m}");
}

#[test]
fn cross_field_errors_point_at_the_field_line() {
    let m = message(&SCENARIO.replace("    kind: adam", "    kind: adam\n    momentum: 0.9"));
    assert!(m.contains("training.optimizer.momentum"), "{m}");
    assert!(m.contains(":10:"), "{m}");
    let m = message(&SCENARIO.replace(
        "  batch_size: 32",
        "  batch_size: 32\n  early_stopping: {monitor: val_loss, patience: 2}",
    ));
    assert!(m.contains("validation_fraction"), "{m}");
}

#[test]
fn path_traversal_in_names_is_rejected() {
    let m = message(&SCENARIO.replace("name: demo", "name: ../../etc"));
    assert!(m.contains("field `name`"), "{m}");
}

#[test]
fn missing_plugin_lists_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scenarios").join("x.yaml");
    let err = find_plugin(&file, &Name::parse("nope").unwrap(), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no plugin named `nope`"), "{err}");
    assert!(err.contains("plugins/nope/plugin.yaml"), "{err}");
}

const PLUGIN: &str = "\
name: digits
industry: reference
description: test
data:
  source:
    format: idx
    dataset: mnist
    files:
      train_images: {name: a.gz}
  columns:
    - {name: image, type: image, role: feature, shape: [28, 28], max_value: 255}
    - {name: label, type: category, role: target}
heads:
  - name: digit
    task: multiclass
    target: label
    classes: ['0', '1']
";

#[test]
fn plugin_parses_and_checks_heads() {
    let p = parse_plugin(Path::new("p.yaml"), PLUGIN).unwrap();
    assert_eq!(p.data.columns[0].width(), 784);
    let err = parse_plugin(
        Path::new("p.yaml"),
        &PLUGIN.replace("target: label", "target: lable"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("heads[0].target"), "{err}");
    assert!(err.to_string().contains("no column named `lable`"), "{err}");
}

#[test]
fn an_image_column_declares_its_largest_pixel_value() {
    let err = parse_plugin(
        Path::new("p.yaml"),
        &PLUGIN.replace(", max_value: 255}", "}"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("p.yaml")
            && err.contains("data.columns[0].max_value")
            && err.contains("255 for 8-bit images"),
        "{err}"
    );
}

#[test]
fn a_baseline_belongs_to_a_declared_head_and_optionally_one_scenario() {
    let with = |b: &str| format!("{PLUGIN}baselines:\n  - {b}\n");
    let p = parse_plugin(
        Path::new("p.yaml"),
        &with("{metric: accuracy, value: 0.9, source: paper, head: digit, scenario: mnist}"),
    )
    .unwrap();
    let b = &p.baselines[0];
    assert!(b.applies_to("mnist", "digit", "digit"));
    assert!(!b.applies_to("mnist-tuned", "digit", "digit"));
    assert!(!b.applies_to("mnist", "other", "digit"));
    // Without `head`, a number is the plugin's first head's.
    let plain = parse_plugin(
        Path::new("p.yaml"),
        &with("{metric: accuracy, value: 0.9, source: paper}"),
    )
    .unwrap();
    assert!(plain.baselines[0].applies_to("any", "digit", "digit"));
    assert!(!plain.baselines[0].applies_to("any", "anomaly", "digit"));
    let err = parse_plugin(
        Path::new("p.yaml"),
        &with("{metric: accuracy, value: 0.9, source: paper, head: digits}"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("baselines[0].head") && err.contains("no head `digits`"),
        "{err}"
    );
}

#[test]
fn json_schema_covers_both_files() {
    let s = json_schemas();
    assert!(s["scenario"]["properties"]["training"].is_object());
    assert!(s["plugin"]["properties"]["heads"].is_object());
}

#[test]
fn decision_rules_are_checked_against_the_head() {
    let err = parse_plugin(
        Path::new("p.yaml"),
        &PLUGIN.replace(
            "classes: ['0', '1']",
            "classes: ['0', '1']\n    decision: {rule: best_f1}",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("heads[0].decision") && err.contains("binary"),
        "{err}"
    );
    let binary = PLUGIN.replace("task: multiclass", "task: binary");
    let err = parse_plugin(
        Path::new("p.yaml"),
        &binary.replace(
            "classes: ['0', '1']",
            "classes: ['0', '1']\n    decision: {rule: min_cost}",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("false_positive_cost"), "{err}");
    assert!(
        parse_plugin(
            Path::new("p.yaml"),
            &binary.replace(
                "classes: ['0', '1']",
                "classes: ['0', '1']\n    decision: {rule: fixed, threshold: 0.3}"
            )
        )
        .is_ok()
    );
}

#[test]
fn derived_columns_need_native_hooks_and_a_number() {
    let derived = PLUGIN.replace(
        "    - {name: label,",
        "    - {name: ratio, type: number, role: feature, derived: true}\n    - {name: label,",
    );
    let err = parse_plugin(Path::new("p.yaml"), &derived)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data.columns[1].derived") && err.contains("declare `native:`"),
        "{err}"
    );
    let with_native = format!("{derived}native:\n  library: digits_native\n");
    let p = parse_plugin(Path::new("p.yaml"), &with_native).unwrap();
    assert_eq!(p.native.unwrap().library, "digits_native");
    let err = parse_plugin(
        Path::new("p.yaml"),
        &with_native.replace(
            "type: number, role: feature, derived",
            "type: category, role: feature, values: [a], derived",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("only numeric feature columns"), "{err}");
}

const RATINGS: &str = "\
name: shop
industry: retail
description: ratings
data:
  source:
    format: csv
    dataset: shop
    files: {train: {name: r.csv}, users: {name: u.csv}}
    joins: [{file: users, on: user}]
  columns:
    - {name: user, type: integer, role: feature, encoding: embedding, embedding_dim: 8}
    - {name: item, type: integer, role: feature, encoding: embedding, embedding_dim: 8}
    - {name: age, type: number, role: feature}
    - {name: stars, type: number, role: target}
heads:
  - {name: stars, task: user_item, target: stars, user: user, item: item, liked_at: 4}
";

fn plugin_message(text: &str) -> String {
    parse_plugin(Path::new("plugins/shop/plugin.yaml"), text)
        .expect_err("should be rejected")
        .to_string()
}

#[test]
fn a_recommender_manifest_with_joins_and_embeddings_parses() {
    let p = parse_plugin(Path::new("p.yaml"), RATINGS).unwrap();
    assert_eq!(p.data.columns[0].encoding, Encoding::Embedding);
    assert_eq!(p.data.source.joins[0].on, "user");
}

#[test]
fn recommender_mistakes_name_the_field() {
    let m = plugin_message(&RATINGS.replace(
        ", embedding_dim: 8}\n    - {name: item",
        "}\n    - {name: item",
    ));
    assert!(m.contains("data.columns[0].embedding_dim"), "{m}");
    let m = plugin_message(&RATINGS.replace(", liked_at: 4", ""));
    assert!(m.contains("heads[0].liked_at"), "{m}");
    let m = plugin_message(&RATINGS.replace("item: item,", "item: age,"));
    assert!(
        m.contains("heads[0].item") && m.contains("encoding: embedding"),
        "{m}"
    );
    let m = plugin_message(&RATINGS.replace("{file: users, on: user}", "{file: people, on: user}"));
    assert!(
        m.contains("data.source.joins[0].file") && m.contains("people"),
        "{m}"
    );
    let m = plugin_message(&RATINGS.replace("on: user}", "on: customer}"));
    assert!(
        m.contains("data.source.joins[0].on") && m.contains("customer"),
        "{m}"
    );
}

#[test]
fn an_autoencoder_head_needs_its_normal_and_anomaly_labels() {
    let text = RATINGS
        .replace("encoding: embedding, embedding_dim: 8", "")
        .replace(
            "  - {name: stars, task: user_item, target: stars, user: user, item: item, liked_at: 4}",
            "  - {name: odd, task: reconstruction, target: stars, threshold_percentile: 99}",
        );
    let m = plugin_message(&text);
    assert!(
        m.contains("heads[0].classes") && m.contains("[normal, anomaly]"),
        "{m}"
    );
    let m = plugin_message(&text.replace(
        "threshold_percentile: 99",
        "classes: [a, b], threshold_percentile: 100",
    ));
    assert!(m.contains("heads[0].threshold_percentile"), "{m}");
}

#[test]
fn repeats_re_deal_a_cross_validation_and_need_folds() {
    let s =
        scenario(&SCENARIO.replace("seed: 1", "seed: 1\ndata:\n  folds: 5\n  repeats: 3")).unwrap();
    assert_eq!(s.data.repeats.map(|r| r.get()), Some(3));
    let m = message(&SCENARIO.replace("seed: 1", "seed: 1\ndata:\n  repeats: 3"));
    assert!(
        m.contains("data.repeats") && m.contains("data.folds"),
        "{m}"
    );
    let m = message(&SCENARIO.replace("seed: 1", "seed: 1\ndata:\n  folds: 5\n  repeats: 0"));
    assert!(m.contains("repeats"), "{m}");
}

#[test]
fn a_split_column_excludes_folds() {
    let m = message(&SCENARIO.replace(
        "seed: 1",
        "seed: 1\ndata:\n  folds: 5\n  split_column: {name: fold, test: [\"1\"]}",
    ));
    assert!(m.contains("data.split_column"), "{m}");
}

#[test]
fn a_constant_fill_needs_its_value() {
    let text = RATINGS.replace(
        "    - {name: age, type: number, role: feature}",
        "    - {name: age, type: number, role: feature, nullable: true, missing: constant}",
    );
    let m = plugin_message(&text);
    assert!(m.contains("data.columns[2].fill_value"), "{m}");
    let m = plugin_message(&RATINGS.replace(
        "    - {name: age, type: number, role: feature}",
        "    - {name: age, type: number, role: feature, fill_value: 3}",
    ));
    assert!(m.contains("only applies to `missing: constant`"), "{m}");
}

#[test]
fn heads_on_one_trunk_are_listed_once_each_and_not_beside_head() {
    let s = scenario(&SCENARIO.replace(
        "seed: 1",
        "seed: 1\nheads:\n  - name: failure\n  - {name: overheating, loss_weight: 0.5}",
    ))
    .unwrap();
    assert_eq!(s.heads.len(), 2);
    assert_eq!(s.heads[1].loss_weight.map(|w| w.get()), Some(0.5));
    let m = message(&SCENARIO.replace(
        "seed: 1",
        "seed: 1\nhead: failure\nheads: [{name: failure}, {name: overheating}]",
    ));
    assert!(m.contains("not both"), "{m}");
    let m = message(&SCENARIO.replace(
        "seed: 1",
        "seed: 1\nheads: [{name: failure}, {name: failure}]",
    ));
    assert!(
        m.contains("heads[1].name") && m.contains("listed twice"),
        "{m}"
    );
    let m = message(&SCENARIO.replace(
        "seed: 1",
        "seed: 1\nheads: [{name: failure, loss_weight: 0}]",
    ));
    assert!(m.contains("loss_weight"), "{m}");
}

#[test]
fn a_label_separator_is_visible_and_only_for_multilabel_heads() {
    let plugin = |head: &str| {
        format!(
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {{format: csv, dataset: p, files: {{train: {{name: t.csv}}}}}}\n  columns:\n    - {{name: x, type: number, role: feature}}\n    - {{name: y, type: category, role: target}}\nheads:\n  - {head}\n"
        )
    };
    let ok =
        plugin("{name: y, task: multilabel, target: y, classes: [a, b], label_separator: ';'}");
    assert!(parse_plugin(Path::new("plugins/p/plugin.yaml"), &ok).is_ok());
    let m = plugin_message(&plugin(
        "{name: y, task: multilabel, target: y, classes: [a, b], label_separator: ' '}",
    ));
    assert!(
        m.contains("heads[0].label_separator") && m.contains("visible"),
        "{m}"
    );
    let m = plugin_message(&plugin(
        "{name: y, task: multilabel, target: y, classes: ['a;b', c], label_separator: ';'}",
    ));
    assert!(m.contains("`a;b`"), "{m}");
    let m = plugin_message(&plugin(
        "{name: y, task: binary, target: y, label_separator: '|'}",
    ));
    assert!(m.contains("only applies to `task: multilabel`"), "{m}");
}

#[test]
fn a_target_sets_one_direction_and_says_whether_a_value_meets_it() {
    let s = scenario(&SCENARIO.replace(
        "seed: 1",
        "seed: 1\ntarget: {metric: roc_auc, at_least: 0.8}",
    ))
    .unwrap();
    let t = s.target.unwrap();
    assert!(t.met_by(0.8) && t.met_by(0.81) && !t.met_by(0.799));
    assert_eq!(t.describe(), "roc_auc ≥ 0.8");
    let rmse =
        scenario(&SCENARIO.replace("seed: 1", "seed: 1\ntarget: {metric: rmse, at_most: 0.92}"))
            .unwrap()
            .target
            .unwrap();
    assert!(rmse.met_by(0.9165) && !rmse.met_by(0.93));
    for both_or_none in ["{metric: rmse, at_most: 1, at_least: 0}", "{metric: rmse}"] {
        let m = message(&SCENARIO.replace("seed: 1", &format!("seed: 1\ntarget: {both_or_none}")));
        assert!(
            m.contains("target") && m.contains("exactly one of `at_least`"),
            "{m}"
        );
    }
}

#[test]
fn a_novelty_guard_is_checked_like_the_main_training_and_is_one_network() {
    let guarded = |guard: &str| format!("{SCENARIO}novelty_guard:\n{guard}");
    const GUARD: &str = "  model: {hidden: [16, 4, 16]}\n  training: {epochs: 5, batch_size: 64, optimizer: {kind: adam, learning_rate: 0.001}}\n";
    let s = scenario(&guarded(GUARD)).unwrap();
    let g = s.novelty_guard.as_ref().unwrap();
    assert_eq!((g.threshold_percentile, &g.flags), (None, &None));
    let mut quick = s.clone();
    quick.set_epochs(Count::try_from(1u64).unwrap());
    assert_eq!(quick.novelty_guard.unwrap().training.epochs.get(), 1);

    let m = message(&guarded(&format!("{GUARD}  threshold_percentile: 120\n")));
    assert!(m.contains("novelty_guard.threshold_percentile"), "{m}");
    let m = message(&guarded(
        &GUARD.replace("kind: adam,", "kind: adam, momentum: 0.9,"),
    ));
    assert!(
        m.contains("novelty_guard.training.optimizer.momentum"),
        "{m}"
    );
    let m = message(&guarded(
        &GUARD.replace("[16, 4, 16]}", "[16, 4, 16], ensemble: 3}"),
    ));
    assert!(
        m.contains("novelty_guard.model.ensemble") && m.contains("one network"),
        "{m}"
    );
    let m = message(&guarded(
        &GUARD.replace("kind: adam,", "kind: adam, beta1: 2,"),
    ));
    assert!(m.contains("novelty_guard.training.optimizer.beta1"), "{m}");
}

#[test]
fn convolution_kernels_are_odd_and_the_guard_has_none() {
    let conv = |layers: &str| {
        SCENARIO.replace(
            "hidden: [128, 64]",
            &format!("conv: {layers}\n  hidden: [64]"),
        )
    };
    let s = scenario(&conv("[{filters: 8}, {filters: 16, kernel: 5}]")).unwrap();
    let kernels: Vec<usize> = s.model.conv.iter().map(|c| c.kernel.get()).collect();
    assert_eq!(kernels, [3, 5], "3 by default");
    let m = message(&conv("[{filters: 8}, {filters: 16, kernel: 4}]"));
    assert!(
        m.contains("model.conv[1].kernel") && m.contains("odd"),
        "{m}"
    );
    let m = message(&conv("[{filters: 0}]"));
    assert!(m.contains("model.conv[0].filters"), "{m}");
    let m = message(&format!(
        "{SCENARIO}novelty_guard:\n  model: {{conv: [{{filters: 2}}], hidden: [4]}}\n  training: {{epochs: 1, batch_size: 2, optimizer: {{kind: adam, learning_rate: 0.01}}}}\n"
    ));
    assert!(m.contains("novelty_guard.model.conv"), "{m}");
}

#[test]
fn one_numeric_column_may_hold_sample_weights() {
    let weighted = RATINGS.replace(
        "    - {name: stars,",
        "    - {name: trust, type: number, role: weight}\n    - {name: stars,",
    );
    parse_plugin(Path::new("p.yaml"), &weighted).unwrap();
    let m = plugin_message(&weighted.replace(
        "    - {name: stars,",
        "    - {name: trust2, type: number, role: weight}\n    - {name: stars,",
    ));
    assert!(
        m.contains("data.columns[4].role") && m.contains("only one column"),
        "{m}"
    );
    let m = plugin_message(&weighted.replace(
        "{name: trust, type: number",
        "{name: trust, type: category, values: [low, high]",
    ));
    assert!(
        m.contains("data.columns[3].type") && m.contains("holds numbers"),
        "{m}"
    );
}

#[test]
fn a_decimal_comma_needs_another_delimiter() {
    let european = RATINGS.replace(
        "    format: csv\n",
        "    format: csv\n    delimiter: ';'\n    decimal_comma: true\n",
    );
    assert!(
        parse_plugin(Path::new("p.yaml"), &european)
            .unwrap()
            .data
            .source
            .decimal_comma
    );
    let m = plugin_message(&european.replace("    delimiter: ';'\n", ""));
    assert!(
        m.contains("data.source.decimal_comma") && m.contains("delimiter"),
        "{m}"
    );
}

#[test]
fn missing_markers_are_texts_of_csv_or_parquet_files() {
    let marked = RATINGS.replace(
        "    format: csv\n",
        "    format: csv\n    missing_markers: [NA, \"?\"]\n",
    );
    assert_eq!(
        parse_plugin(Path::new("p.yaml"), &marked)
            .unwrap()
            .data
            .source
            .missing_markers,
        ["NA", "?"]
    );
    let m = plugin_message(&marked.replace("[NA, \"?\"]", "[NA, \" \"]"));
    assert!(
        m.contains("data.source.missing_markers[1]") && m.contains("already missing"),
        "{m}"
    );
}

#[test]
fn an_image_folder_source_feeds_one_image_column_and_named_classes() {
    let folders = "\
name: scans
industry: healthcare
description: scans
data:
  source:
    format: image_folder
    dataset: scans
    files: {train: {name: train}, test: {name: test}}
  columns:
    - {name: scan, type: image, role: feature, shape: [28, 28], max_value: 255}
    - {name: finding, type: category, role: target}
heads:
  - {name: finding, task: binary, target: finding, classes: [lesion, normal]}
";
    parse_plugin(Path::new("p.yaml"), folders).unwrap();
    let cases = [
        (
            folders.replace("max_value: 255", "max_value: 65535"),
            "data.columns[0].max_value",
        ),
        (
            folders.replace(
                "  columns:\n",
                "  columns:\n    - {name: age, type: number, role: feature}\n",
            ),
            "exactly one feature column",
        ),
        (
            folders.replace(", classes: [lesion, normal]", ""),
            "heads[0].classes",
        ),
        (
            folders.replace("test: {name: test}", "test: {name: test, sha256: 0000000000000000000000000000000000000000000000000000000000000000}"),
            "data.source.files.test.sha256",
        ),
        (
            folders.replace("test: {name: test}", "holdout: {name: h}"),
            "data.source.files.holdout",
        ),
        (
            folders.replace("train: {name: train}, ", ""),
            "needs a `train` folder",
        ),
    ];
    for (text, expected) in cases {
        let m = plugin_message(&text);
        assert!(m.contains(expected), "{expected}: {m}");
    }
}

#[test]
fn piecewise_linear_bins_suit_plain_numeric_features_and_a_sane_count() {
    let with =
        |column: &str| RATINGS.replace("    - {name: age, type: number, role: feature}", column);
    assert!(
        parse_plugin(
            Path::new("plugins/shop/plugin.yaml"),
            &with("    - {name: age, type: number, role: feature, piecewise_linear_bins: 4}"),
        )
        .is_ok()
    );
    // An embedded id, a target and a bin count of 1 or 100 are refused by field.
    let m = plugin_message(&RATINGS.replace(
        "embedding_dim: 8}\n    - {name: item",
        "embedding_dim: 8, piecewise_linear_bins: 4}\n    - {name: item",
    ));
    assert!(
        m.contains("data.columns[0].piecewise_linear_bins") && m.contains("not embedded"),
        "{m}"
    );
    let m = plugin_message(&RATINGS.replace(
        "{name: stars, type: number, role: target}",
        "{name: stars, type: number, role: target, piecewise_linear_bins: 4}",
    ));
    assert!(m.contains("data.columns[3].piecewise_linear_bins"), "{m}");
    for bad in ["1", "100"] {
        let m = plugin_message(&with(&format!(
            "    - {{name: age, type: number, role: feature, piecewise_linear_bins: {bad}}}"
        )));
        assert!(m.contains("between 2 and 64 bins"), "{m}");
    }
    // The scenario-wide setting is checked the same way.
    let s = scenario(&SCENARIO.replace("seed: 1", "seed: 1\ndata:\n  piecewise_linear_bins: 8"))
        .unwrap();
    assert_eq!(s.data.piecewise_linear_bins.map(|b| b.get()), Some(8));
    let m = message(&SCENARIO.replace("seed: 1", "seed: 1\ndata:\n  piecewise_linear_bins: 65"));
    assert!(
        m.contains("data.piecewise_linear_bins") && m.contains("between 2 and 64 bins"),
        "{m}"
    );
}

#[test]
fn sizes_that_would_exhaust_memory_are_refused_before_anything_is_built() {
    let m = message(&SCENARIO.replace("epochs: 2", "epochs: 1000000000"));
    assert!(m.contains("training.epochs"), "{m}");
    assert!(m.contains("limit of 100000"), "{m}");
    let m = message(&SCENARIO.replace("[128, 64]", "[128, 100000000]"));
    assert!(m.contains("model.hidden[1]"), "{m}");
    let m = message(&SCENARIO.replace("[128, 64]", "[16384, 16384, 16384]"));
    assert!(m.contains("weights between two layers"), "{m}");
    let m = message(&SCENARIO.replace("batch_size: 32", "batch_size: 18446744073709551615"));
    assert!(m.contains("training.batch_size"), "{m}");
    let m = message(&SCENARIO.replace("seed: 1", "seed: 1\ndata:\n  folds: 100000"));
    assert!(m.contains("data.folds"), "{m}");
}

#[test]
fn a_data_file_outside_the_data_folders_needs_the_plugin_to_say_so() {
    let plugin = |name: &str, extra: &str| {
        format!(
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {{format: csv, dataset: p, files: {{train: {{name: \"{name}\"}}}}{extra}}}\n  columns:\n    - {{name: a, type: number, role: feature}}\n    - {{name: y, type: category, role: target}}\nheads:\n  - {{name: y, task: binary, target: y, classes: [n, p]}}\n"
        )
    };
    for bad in ["/etc/passwd", "../../secrets.csv", "data/../../x.csv"] {
        let e = parse_plugin(Path::new("p.yaml"), &plugin(bad, ""))
            .expect_err(bad)
            .to_string();
        assert!(e.contains("data.source.files.train.name"), "{e}");
        assert!(e.contains("paths_outside_data"), "{e}");
    }
    assert!(parse_plugin(Path::new("p.yaml"), &plugin("sub/train.csv", "")).is_ok());
    assert!(
        parse_plugin(
            Path::new("p.yaml"),
            &plugin("/srv/data/train.csv", ", paths_outside_data: true")
        )
        .is_ok()
    );
}

#[test]
fn yaml_nested_without_end_is_refused_at_once_with_its_line() {
    let deep = format!(
        "name: demo\nplugin: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let started = std::time::Instant::now();
    let m = message(&deep);
    assert!(m.contains("nested deeper than 64"), "{m}");
    assert!(m.starts_with("scenarios/demo.yaml:2"), "{m}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // A quoted bracket is text, not nesting.
    let quoted = SCENARIO.replace(
        "name: demo",
        &format!("name: demo\ndescription: \"{}\"", "[".repeat(100)),
    );
    assert!(scenario(&quoted).is_ok());
}

const LENDING: &str = "\
name: lending
industry: finance
description: d
data:
  source: {format: csv, dataset: lending, files: {train: {name: t.csv}}}
  columns:
    - {name: age, type: integer, role: feature, range: [18, 99]}
    - {name: status, type: category, role: feature, values: [f_married, m_single, m_married]}
    - {name: owner, type: boolean, role: feature}
    - {name: branch, type: category, role: ignore, values: [a, b]}
    - {name: bad, type: category, role: target, values: [no, yes]}
heads:
  - {name: risk, task: binary, target: bad, classes: [no, yes]}
fairness:
  protected:
    - {column: age, edges: [25, 40]}
    - column: status
      groups: {female: [f_married], male: [m_single, m_married]}
    - {column: owner}
";

#[test]
fn protected_columns_form_groups_by_declared_edges_and_named_values() {
    let p = parse_plugin(Path::new("p.yaml"), LENDING).unwrap();
    let f = p.fairness.as_ref().unwrap();
    assert_eq!(f.min_group_rows(), DEFAULT_MIN_GROUP_ROWS);
    let col = |name: &str| p.data.columns.iter().find(|c| c.name == name).unwrap();
    let age = &f.protected[0];
    assert_eq!(age.all_groups(col("age")), ["< 25", "[25, 40)", ">= 40"]);
    let bins: Vec<_> = [18.0, 24.0, 25.0, 39.0, 40.0, 99.0]
        .iter()
        .map(|&v| age.group_of(col("age"), v).unwrap())
        .collect();
    assert_eq!(
        bins,
        ["< 25", "< 25", "[25, 40)", "[25, 40)", ">= 40", ">= 40"]
    );
    assert_eq!(age.group_of(col("age"), f32::NAN), None);
    let status = &f.protected[1];
    assert_eq!(status.all_groups(col("status")), ["female", "male"]);
    assert_eq!(status.group_of(col("status"), 2.0).as_deref(), Some("male"));
    assert_eq!(f.protected[2].all_groups(col("owner")), ["false", "true"]);
}

#[test]
fn group_by_names_an_id_or_a_read_feature_column() {
    let with = |column: &str| {
        LENDING.replace(
            "  columns:\n",
            &format!("  group_by: {column}\n  columns:\n"),
        )
    };
    let p = parse_plugin(Path::new("p.yaml"), &with("age")).unwrap();
    assert_eq!(p.data.group_by.as_deref(), Some("age"));
    let m = plugin_message(&with("patient"));
    assert!(
        m.contains("field `data.group_by`") && m.contains("no column `patient`"),
        "{m}"
    );
    let m = plugin_message(&with("bad"));
    assert!(
        m.contains("field `data.group_by`") && m.contains("`id` column"),
        "{m}"
    );
}

#[test]
fn fairness_mistakes_are_located_before_any_run() {
    let cases = [
        (
            "{column: age, edges: [25, 40]}",
            "{column: agee, edges: [25]}",
            "fairness.protected[0].column",
            "no column `agee`",
        ),
        (
            "{column: age, edges: [25, 40]}",
            "{column: age}",
            "fairness.protected[0].edges",
            "is numeric",
        ),
        (
            "{column: age, edges: [25, 40]}",
            "{column: age, edges: [40, 25]}",
            "fairness.protected[0].edges",
            "must increase",
        ),
        (
            "{column: age, edges: [25, 40]}",
            "{column: age, edges: []}",
            "fairness.protected[0].edges",
            "at least one",
        ),
        (
            "{column: owner}",
            "{column: owner, edges: [1]}",
            "fairness.protected[2].edges",
            "not numeric",
        ),
        (
            "{column: owner}",
            "{column: branch}",
            "fairness.protected[2].column",
            "not a feature",
        ),
        (
            "{column: owner}",
            "{column: age, edges: [30]}",
            "fairness.protected[2].column",
            "named twice",
        ),
        (
            "male: [m_single, m_married]",
            "male: [m_single, f_married]",
            "fairness.protected[1].groups.male",
            "already in group `female`",
        ),
        (
            "male: [m_single, m_married]",
            "male: [m_widowed]",
            "fairness.protected[1].groups.male",
            "not one of",
        ),
        (
            "male: [m_single, m_married]",
            "male: []",
            "fairness.protected[1].groups.male",
            "at least one",
        ),
        (
            "task: binary, target: bad, classes: [no, yes]",
            "task: multiclass, target: bad, classes: [no, yes]",
            "fairness",
            "`task: multiclass`",
        ),
    ];
    for (from, to, field, says) in cases {
        assert_eq!(LENDING.matches(from).count(), 1, "{from}");
        let m = plugin_message(&LENDING.replace(from, to));
        assert!(
            m.contains(&format!("field `{field}`")) && m.contains(says),
            "{to}: {m}"
        );
    }
    let m = plugin_message(&LENDING.replace(
        "fairness:\n  protected:",
        "fairness:\n  min_group_rows: 0\n  protected:",
    ));
    assert!(
        m.contains("fairness.min_group_rows") && m.contains("at least 1"),
        "{m}"
    );
}
