//! Derived quantities of one hand-checked machine reading.

use indus_plugin_sdk::serde_json::Value;
use indus_plugin_sdk::{Plugin, Table, f64_column};
use predictive_maintenance_native::{DERIVED, MillPhysics};

#[test]
fn one_reading_gets_its_power_heat_margin_and_strain() {
    let rows = Table::from_numbers(&[
        ("Air temperature [K]", 300.0),
        ("Process temperature [K]", 308.5),
        ("Rotational speed [rpm]", 1500.0),
        ("Torque [Nm]", 40.0),
        ("Tool wear [min]", 200.0),
    ])
    .unwrap();
    let out = MillPhysics::new(&Value::Null)
        .unwrap()
        .derive_features(&rows)
        .unwrap();
    let get = |name: &str| f64_column(&out, name).unwrap()[0];
    assert_eq!(out.len(), DERIVED.len());
    // 40 Nm at 1,500 rpm: 40 × 1500 × 2π / 60 W = 2π kW.
    assert!((get("power_kw") - std::f64::consts::TAU).abs() < 1e-9);
    assert_eq!(get("heat_margin_k"), 8.5);
    assert_eq!(get("tool_strain"), 8.0);
}
