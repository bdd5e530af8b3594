//! Derived quantities of one hand-checked machine reading.

use indus_plugin_sdk::serde_json::Value;
use indus_plugin_sdk::{Column, Plugin, Table};
use predictive_maintenance_native::{DERIVED, MillPhysics};

#[test]
fn one_reading_gets_its_power_heat_margin_and_strain() {
    let col = |v: f64| Column::F64(vec![v]);
    let rows = Table::from_columns(
        &vec![
            ("Air temperature [K]".into(), col(300.0)),
            ("Process temperature [K]".into(), col(308.5)),
            ("Rotational speed [rpm]".into(), col(1500.0)),
            ("Torque [Nm]".into(), col(40.0)),
            ("Tool wear [min]".into(), col(200.0)),
        ],
        1,
    )
    .unwrap();
    let out = MillPhysics::new(&Value::Null)
        .unwrap()
        .derive_features(&rows)
        .unwrap();
    let get = |name: &str| match &out.iter().find(|(n, _)| n == name).unwrap().1 {
        Column::F64(v) => v[0],
        other => panic!("{other:?}"),
    };
    assert_eq!(out.len(), DERIVED.len());
    // 40 Nm at 1,500 rpm: 40 × 1500 × 2π / 60 W = 2π kW.
    assert!((get("power_kw") - std::f64::consts::TAU).abs() < 1e-9);
    assert_eq!(get("heat_margin_k"), 8.5);
    assert_eq!(get("tool_strain"), 8.0);
}
