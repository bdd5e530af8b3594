//! Native hooks of the `manufacturing-fault` plugin: shape and brightness
//! features of a steel plate defect that the raw bounding-box coordinates
//! only imply. An MLP sees `X_Minimum` and `X_Maximum` but has to learn
//! their difference; handing it the width, the aspect ratio, how much of the
//! bounding box the defect fills and its mean brightness measurably helps
//! (docs/scenarios.md has the before/after numbers).

use indus_plugin_sdk::{Columns, Plugin, Table, export_plugin, numeric_columns};

/// The derived columns, in the order `plugin.yaml` declares them.
pub const DERIVED: [&str; 8] = [
    "defect_width",
    "defect_height",
    "log_aspect_ratio",
    "box_fill_ratio",
    "log_compactness",
    "luminosity_range",
    "mean_luminosity",
    "position_across",
];

/// The plugin (no settings).
pub struct SteelGeometry;

impl Plugin for SteelGeometry {
    fn new(_config: &indus_plugin_sdk::serde_json::Value) -> Result<Self, String> {
        Ok(SteelGeometry)
    }

    fn derive_features(&self, rows: &Table) -> Result<Columns, String> {
        let col = |n: &str| rows.f64(n);
        let (x0, x1, y0, y1) = (
            col("X_Minimum")?,
            col("X_Maximum")?,
            col("Y_Minimum")?,
            col("Y_Maximum")?,
        );
        let area = col("Pixels_Areas")?;
        let (px, py) = (col("X_Perimeter")?, col("Y_Perimeter")?);
        let (lum_sum, lum_min, lum_max) = (
            col("Sum_of_Luminosity")?,
            col("Minimum_of_Luminosity")?,
            col("Maximum_of_Luminosity")?,
        );
        let conveyer = col("Length_of_Conveyer")?;
        Ok(numeric_columns(DERIVED, rows.len(), |i| {
            let w = (x1[i] - x0[i]).max(0.0);
            let h = (y1[i] - y0[i]).max(0.0);
            let a = area[i].max(1.0);
            let perimeter = (px[i] + py[i]).max(1.0);
            [
                w,
                h,
                ((w + 1.0) / (h + 1.0)).ln(),
                a / ((w + 1.0) * (h + 1.0)),
                (perimeter * perimeter / (4.0 * std::f64::consts::PI * a)).ln(),
                lum_max[i] - lum_min[i],
                lum_sum[i] / a,
                if conveyer[i] > 0.0 {
                    x0[i] / conveyer[i]
                } else {
                    f64::NAN
                },
            ]
        }))
    }
}

export_plugin!("manufacturing-fault", SteelGeometry);
