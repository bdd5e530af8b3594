//! Derived features of one hand-made defect.

use indus_plugin_sdk::serde_json::Value;
use indus_plugin_sdk::{Column, Plugin, Table};
use manufacturing_fault_native::{DERIVED, SteelGeometry};

#[test]
fn a_box_shaped_defect_gets_its_geometry() {
    let col = |v: f64| Column::F64(vec![v]);
    let rows = Table::from_columns(
        &vec![
            ("X_Minimum".into(), col(100.0)),
            ("X_Maximum".into(), col(139.0)),
            ("Y_Minimum".into(), col(2000.0)),
            ("Y_Maximum".into(), col(2009.0)),
            ("Pixels_Areas".into(), col(200.0)),
            ("X_Perimeter".into(), col(40.0)),
            ("Y_Perimeter".into(), col(10.0)),
            ("Sum_of_Luminosity".into(), col(20000.0)),
            ("Minimum_of_Luminosity".into(), col(60.0)),
            ("Maximum_of_Luminosity".into(), col(130.0)),
            ("Length_of_Conveyer".into(), col(1400.0)),
        ],
        1,
    )
    .unwrap();
    let out = SteelGeometry::new(&Value::Null)
        .unwrap()
        .derive_features(&rows)
        .unwrap();
    let get = |name: &str| match &out.iter().find(|(n, _)| n == name).unwrap().1 {
        Column::F64(v) => v[0],
        other => panic!("{other:?}"),
    };
    assert_eq!(out.len(), DERIVED.len());
    assert_eq!(get("defect_width"), 39.0);
    assert_eq!(get("defect_height"), 9.0);
    assert!((get("log_aspect_ratio") - (40.0f64 / 10.0).ln()).abs() < 1e-12);
    assert_eq!(get("box_fill_ratio"), 200.0 / 400.0);
    assert_eq!(get("luminosity_range"), 70.0);
    assert_eq!(get("mean_luminosity"), 100.0);
    assert!((get("position_across") - 100.0 / 1400.0).abs() < 1e-12);
}
