//! Native hooks of the `predictive-maintenance` plugin: three physical
//! quantities a maintenance engineer reads off the raw sensor columns. The
//! failure modes of a milling machine follow them rather than any raw
//! column: a spindle fails on power outside its working band, heat builds
//! up when the process runs barely warmer than the air, and a worn tool
//! breaks under torque. docs/scenarios.md has the before/after numbers.

use indus_plugin_sdk::{Column, Columns, Plugin, Table, export_plugin};

/// The derived columns, in the order `plugin.yaml` declares them.
pub const DERIVED: [&str; 3] = ["power_kw", "heat_margin_k", "tool_strain"];

/// The plugin (no settings).
pub struct MillPhysics;

impl Plugin for MillPhysics {
    fn new(_config: &indus_plugin_sdk::serde_json::Value) -> Result<Self, String> {
        Ok(MillPhysics)
    }

    fn derive_features(&self, rows: &Table) -> Result<Columns, String> {
        let air = rows.f64("Air temperature [K]")?;
        let process = rows.f64("Process temperature [K]")?;
        let rpm = rows.f64("Rotational speed [rpm]")?;
        let torque = rows.f64("Torque [Nm]")?;
        let wear = rows.f64("Tool wear [min]")?;
        // Mechanical power P = torque × angular speed, in kilowatts.
        let power = torque
            .iter()
            .zip(&rpm)
            .map(|(t, r)| t * r * std::f64::consts::TAU / 60.0 / 1000.0)
            .collect();
        // How much warmer the process runs than the air that cools it.
        let margin = process.iter().zip(&air).map(|(p, a)| p - a).collect();
        // Wear × torque, in thousands of minute-newton-metres: the load a
        // worn tool is under.
        let strain = wear
            .iter()
            .zip(&torque)
            .map(|(w, t)| w * t / 1000.0)
            .collect();
        Ok(vec![
            (DERIVED[0].into(), Column::F64(power)),
            (DERIVED[1].into(), Column::F64(margin)),
            (DERIVED[2].into(), Column::F64(strain)),
        ])
    }
}

export_plugin!("predictive-maintenance", MillPhysics);
