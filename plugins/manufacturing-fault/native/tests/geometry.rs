//! Derived features of one hand-made defect.

use indus_plugin_sdk::serde_json::Value;
use indus_plugin_sdk::{Plugin, Table, f64_column};
use manufacturing_fault_native::{DERIVED, SteelGeometry};

#[test]
fn a_box_shaped_defect_gets_its_geometry() {
    let rows = Table::from_numbers(&[
        ("X_Minimum", 100.0),
        ("X_Maximum", 139.0),
        ("Y_Minimum", 2000.0),
        ("Y_Maximum", 2009.0),
        ("Pixels_Areas", 200.0),
        ("X_Perimeter", 40.0),
        ("Y_Perimeter", 10.0),
        ("Sum_of_Luminosity", 20000.0),
        ("Minimum_of_Luminosity", 60.0),
        ("Maximum_of_Luminosity", 130.0),
        ("Length_of_Conveyer", 1400.0),
    ])
    .unwrap();
    let out = SteelGeometry::new(&Value::Null)
        .unwrap()
        .derive_features(&rows)
        .unwrap();
    let get = |name: &str| f64_column(&out, name).unwrap()[0];
    assert_eq!(out.len(), DERIVED.len());
    assert_eq!(get("defect_width"), 39.0);
    assert_eq!(get("defect_height"), 9.0);
    assert!((get("log_aspect_ratio") - (40.0f64 / 10.0).ln()).abs() < 1e-12);
    assert_eq!(get("box_fill_ratio"), 200.0 / 400.0);
    assert_eq!(get("luminosity_range"), 70.0);
    assert_eq!(get("mean_luminosity"), 100.0);
    assert!((get("position_across") - 100.0 / 1400.0).abs() < 1e-12);
}
