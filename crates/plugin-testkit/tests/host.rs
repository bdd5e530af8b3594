//! The host's loader and hook calls against a real plugin library (this
//! crate, built as a shared library), including every way a plugin can go
//! wrong. Each failure must name the plugin and the reason, and leave the
//! host working.

use indus_plugin::{Column, NativePlugin, PluginError, Table, library_file_name};
use serde_json::json;
use std::path::PathBuf;

/// The testkit library cargo built next to this test.
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let lib = deps.join(library_file_name("indus_plugin_testkit"));
    assert!(lib.is_file(), "{} not built", lib.display());
    lib
}

fn testkit() -> std::sync::Arc<NativePlugin> {
    NativePlugin::load("testkit", &library(), &json!({"offset": 0.5})).unwrap()
}

fn rows(mode: &str) -> Table {
    Table::from_columns(
        &vec![
            ("a".into(), Column::F64(vec![1.0, 2.0, f64::NAN])),
            ("b".into(), Column::F64(vec![10.0, 20.0, 30.0])),
            (
                "mode".into(),
                Column::Text(vec![mode.into(), String::new(), String::new()]),
            ),
        ],
        3,
    )
    .unwrap()
}

#[test]
fn derived_features_come_back_through_arrow() {
    let p = testkit();
    assert_eq!(p.abi(), (1, 2));
    let cols = p.derive(&rows(""), &["sum"]).unwrap();
    assert_eq!(cols[0][..2], [11.5, 22.5]);
    assert!(cols[0][2].is_nan(), "a missing input stays missing");
}

#[test]
fn postprocess_adds_named_outputs() {
    let p = testkit();
    let predictions = Table::from_columns(
        &vec![
            (
                "label".into(),
                Column::Text(vec!["bad".into(), "good".into()]),
            ),
            ("score".into(), Column::F64(vec![0.75, 0.25])),
        ],
        2,
    )
    .unwrap();
    let out = p
        .postprocess(&predictions, &rows("").slice_rows(2))
        .unwrap();
    assert_eq!(out[0], ("double".to_string(), Column::F64(vec![1.5, 0.5])));
    assert_eq!(
        out[1],
        (
            "band".to_string(),
            Column::Text(vec!["high".into(), "low".into()])
        )
    );
}

#[test]
fn custom_metrics_come_back_as_one_row() {
    let p = testkit();
    let text = |v: &[&str]| Column::Text(v.iter().map(|s| s.to_string()).collect());
    let predictions =
        Table::from_columns(&vec![("label".into(), text(&["a", "b", "a", "a"]))], 4).unwrap();
    let truth =
        Table::from_columns(&vec![("label".into(), text(&["a", "b", "b", "b"]))], 4).unwrap();
    assert_eq!(
        p.metrics(&predictions, &truth).unwrap(),
        vec![("hit_share".to_string(), 0.5)]
    );
}

#[test]
fn a_panicking_hook_is_an_error_and_the_plugin_keeps_working() {
    let p = testkit();
    let err = p.derive(&rows("panic"), &["sum"]).unwrap_err();
    assert!(matches!(err, PluginError::Panic { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("plugin `testkit`") && text.contains("asked to panic"),
        "{text}"
    );
    assert!(
        p.derive(&rows(""), &["sum"]).is_ok(),
        "still usable after a panic"
    );
}

#[test]
fn broken_hook_results_are_refused_with_the_reason() {
    let p = testkit();
    let err = p.derive(&rows("error"), &["sum"]).unwrap_err().to_string();
    assert!(
        err.contains("derive_features failed: the testkit was asked to fail"),
        "{err}"
    );
    let err = p.derive(&rows("rows"), &["sum"]).unwrap_err().to_string();
    // The SDK refuses the mismatch inside the plugin; the host would too.
    assert!(err.contains("`sum` has 4 rows, expected 3"), "{err}");
    let err = p.derive(&rows("type"), &["sum"]).unwrap_err().to_string();
    assert!(
        err.contains("derived column `sum`") && err.contains("not a number"),
        "{err}"
    );
    let err = p.derive(&rows(""), &["missing"]).unwrap_err().to_string();
    assert!(err.contains("no column `missing`"), "{err}");
}

#[test]
fn abi_versions_are_checked_before_anything_else() {
    let lib = library();
    let err = NativePlugin::load_entry("testkit-v2", &lib, "testkit_entry_major2", &json!(null))
        .unwrap_err();
    assert!(
        matches!(err, PluginError::AbiMismatch { found_major: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("rebuild it"), "{err}");

    let old = NativePlugin::load_entry("testkit-old", &lib, "testkit_entry_minor0", &json!(null))
        .unwrap();
    assert_eq!(old.abi(), (1, 0));
    assert!(!old.has_postprocess(), "1.0 tables have no postprocess");
    assert!(!old.has_metrics(), "nor metrics");
    let none = Table::from_columns(&vec![], 0).unwrap();
    assert!(
        old.postprocess(&none, &none).unwrap().is_empty(),
        "absent hooks are skipped"
    );

    let new = NativePlugin::load_entry("testkit-new", &lib, "testkit_entry_minor9", &json!(null))
        .unwrap();
    assert_eq!(new.abi(), (1, 9), "a newer minor is accepted");
}

#[test]
fn loading_mistakes_name_the_plugin_and_the_file() {
    let lib = library();
    let err =
        NativePlugin::load_entry("testkit-x", &lib, "no_such_symbol", &json!(null)).unwrap_err();
    assert!(matches!(err, PluginError::MissingEntry { .. }), "{err}");
    assert!(err.to_string().contains("no_such_symbol"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let not_lib = tmp.path().join(library_file_name("fake"));
    std::fs::write(&not_lib, b"definitely not an ELF file").unwrap();
    let err = NativePlugin::load("fake", &not_lib, &json!(null)).unwrap_err();
    assert!(matches!(err, PluginError::NotALibrary { .. }), "{err}");

    let err = NativePlugin::load("credit-thing", &lib, &json!(null)).unwrap_err();
    assert!(err.to_string().contains("is plugin `testkit`"), "{err}");
}

#[test]
fn two_libraries_cannot_claim_one_name() {
    let first = testkit();
    let tmp = tempfile::tempdir().unwrap();
    // The same file at a second path (cargo keeps one in `deps/` too) is
    // the same library.
    let copy = tmp.path().join(library_file_name("indus_plugin_testkit"));
    std::fs::copy(library(), &copy).unwrap();
    let again = NativePlugin::load("testkit", &copy, &json!(null)).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    assert_eq!(again.sha256().len(), 64);
    // Another build under the same name is refused.
    let other = tmp
        .path()
        .join("other")
        .join(library_file_name("indus_plugin_testkit"));
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let mut bytes = std::fs::read(library()).unwrap();
    bytes.push(0);
    std::fs::write(&other, bytes).unwrap();
    let err = NativePlugin::load("testkit", &other, &json!(null)).unwrap_err();
    assert!(matches!(err, PluginError::Duplicate { .. }), "{err}");
    assert!(
        testkit().derive(&rows(""), &["sum"]).is_ok(),
        "the first one still works"
    );
}
