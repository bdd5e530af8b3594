//! Preprocessing fitted on the training split only and saved with the model,
//! so `predict` and the server apply exactly the transform training saw.

use crate::table::{RawTable, feature_columns};
use indus_spec::{ColumnType, PluginManifest};
use serde::{Deserialize, Serialize};

/// How one feature column is turned into model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FittedColumn {
    /// Pixels divided by the declared maximum, giving values in [0, 1].
    Image {
        /// Column name.
        name: String,
        /// Pixels per image.
        width: usize,
        /// The declared maximum pixel value.
        divisor: f32,
    },
    /// A number standardised with the training mean and standard deviation.
    Number {
        /// Column name.
        name: String,
        /// Training mean.
        mean: f32,
        /// Training standard deviation (1 when the column is constant).
        std: f32,
    },
}

impl FittedColumn {
    fn width(&self) -> usize {
        match self {
            FittedColumn::Image { width, .. } => *width,
            FittedColumn::Number { .. } => 1,
        }
    }
}

/// The fitted transform of every feature column, in row order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    /// Transforms in the order of the raw row.
    pub columns: Vec<FittedColumn>,
}

impl Preprocessor {
    /// Fits the transform on training rows (never on validation or test rows).
    pub fn fit(manifest: &PluginManifest, train: &RawTable) -> Preprocessor {
        let mut offset = 0;
        let mut columns = Vec::new();
        for c in feature_columns(manifest) {
            let width = c.width();
            let fitted = match c.kind {
                ColumnType::Image => FittedColumn::Image {
                    name: c.name.clone(),
                    width,
                    divisor: c.max_value.map_or(1.0, |m| m.get() as f32),
                },
                _ => {
                    let n = train.len().max(1) as f64;
                    let values =
                        (0..train.len()).map(|r| train.features[r * train.width + offset] as f64);
                    let mean = values.clone().sum::<f64>() / n;
                    let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                    let std = if var > 1e-12 { var.sqrt() } else { 1.0 };
                    FittedColumn::Number {
                        name: c.name.clone(),
                        mean: mean as f32,
                        std: std as f32,
                    }
                }
            };
            offset += width;
            columns.push(fitted);
        }
        Preprocessor { columns }
    }

    /// Model inputs per row.
    pub fn output_width(&self) -> usize {
        self.columns.iter().map(FittedColumn::width).sum()
    }

    /// Applies the fitted transform to raw rows.
    pub fn transform(&self, table: &RawTable) -> Vec<f32> {
        let mut out = Vec::with_capacity(table.features.len());
        for row in table.features.chunks_exact(table.width.max(1)) {
            let mut offset = 0;
            for c in &self.columns {
                match c {
                    FittedColumn::Image { width, divisor, .. } => {
                        out.extend(row[offset..offset + width].iter().map(|p| p / divisor));
                    }
                    FittedColumn::Number { mean, std, .. } => out.push((row[offset] - mean) / std),
                }
                offset += c.width();
            }
        }
        out
    }
}
