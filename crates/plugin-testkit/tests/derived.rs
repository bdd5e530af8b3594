//! Derived features through the runtime: a scenario whose plugin declares a
//! column computed by the testkit's hook. A value outside the column's
//! declared range stops the run with the plugin, column and row named.

use indus_plugin::library_file_name;
use indus_runtime::{RunOptions, resolve_scenario, run_scenario};

#[test]
fn a_derived_value_outside_its_range_names_plugin_column_and_row() {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(
        deps.join(library_file_name("indus_plugin_testkit"))
            .is_file()
    );
    let tmp = tempfile::tempdir().unwrap();
    let plugin = tmp.path().join("plugins/testkit");
    std::fs::create_dir_all(plugin.join("data")).unwrap();
    std::fs::create_dir_all(tmp.path().join("scenarios")).unwrap();
    let mut csv = String::from("a,b,y\n");
    for i in 0..40 {
        // Row 7 sums to 11, past the declared maximum of 5.
        let (a, b) = if i == 6 { (1, 10) } else { (i % 2, i % 3) };
        csv.push_str(&format!(
            "{a},{b},{}\n",
            if i % 2 == 0 { "no" } else { "yes" }
        ));
    }
    std::fs::write(plugin.join("data/t.csv"), csv).unwrap();
    std::fs::write(
        plugin.join("plugin.yaml"),
        "name: testkit\nindustry: test\ndescription: derived range check\ndata:\n  source: {format: csv, dataset: testkit, files: {train: {name: t.csv}}}\n  columns:\n    - {name: a, type: number, role: feature}\n    - {name: b, type: number, role: feature}\n    - {name: sum, type: number, role: feature, derived: true, range: [0, 5]}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y, classes: ['no', 'yes']}\nnative:\n  library: indus_plugin_testkit\n",
    )
    .unwrap();
    let scenario = tmp.path().join("scenarios/t.yaml");
    std::fs::write(
        &scenario,
        "name: t\nplugin: testkit\nmodel: {hidden: [4]}\ntraining: {epochs: 1, batch_size: 8, optimizer: {kind: adam, learning_rate: 0.01}}\nseed: 1\n",
    )
    .unwrap();
    // The library sits beside this test; point the search at it.
    // SAFETY: no other thread of this test binary reads the environment.
    unsafe { std::env::set_var("INDUS_PLUGIN_PATH", &deps) };
    let resolved = resolve_scenario(&scenario, &[]).unwrap();
    let options = RunOptions {
        data_dir: None,
        runs_root: tmp.path().join("runs"),
    };
    let err = run_scenario(&resolved, &options, &mut indus_engine::Silent, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("plugin `testkit`")
            && err.contains("derived column `sum` gave 11 for row 7")
            && err.contains("[0, 5]"),
        "{err}"
    );
    assert!(!tmp.path().join("runs/t").exists(), "nothing written");
}
