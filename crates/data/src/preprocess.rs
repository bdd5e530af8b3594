//! Preprocessing fitted on the training split only and saved with the model,
//! so `predict` and the server apply exactly the transform training saw.

use crate::table::{RawTable, feature_columns};
use indus_spec::{ColumnType, Missing, Normalization, PluginManifest, UnknownValues};
use serde::{Deserialize, Serialize};

/// Name of the shared input of category values outside the declared list.
pub const OTHER: &str = "(other)";

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
    /// A number: missing values filled, optionally `ln(1 + x)`, then
    /// `(x - shift) / scale`.
    Number {
        /// Column name.
        name: String,
        /// Value used for a missing cell (a training statistic).
        fill: f32,
        /// Apply `ln(1 + x)` before scaling.
        log1p: bool,
        /// Subtracted after filling (training mean or minimum; 0 for none).
        shift: f32,
        /// Divisor after shifting (training std or range; 1 for none).
        scale: f32,
    },
    /// A category one-hot encoded over its declared values (a missing value
    /// of a nullable column encodes as all zeros).
    Category {
        /// Column name.
        name: String,
        /// Declared values, in encoding order.
        values: Vec<String>,
    },
}

impl FittedColumn {
    /// Raw values this column occupies in a [`RawTable`] row.
    fn raw_width(&self) -> usize {
        match self {
            FittedColumn::Image { width, .. } => *width,
            FittedColumn::Number { .. } | FittedColumn::Category { .. } => 1,
        }
    }

    /// Model inputs this column produces.
    fn width(&self) -> usize {
        match self {
            FittedColumn::Image { width, .. } => *width,
            FittedColumn::Number { .. } => 1,
            FittedColumn::Category { values, .. } => values.len(),
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
            let fitted = match c.kind {
                ColumnType::Image => FittedColumn::Image {
                    name: c.name.clone(),
                    width: c.width(),
                    divisor: c.max_value.map_or(1.0, |m| m.get() as f32),
                },
                ColumnType::Category => {
                    let mut values = c.values.clone().unwrap_or_default();
                    if c.unknown_values == UnknownValues::Bucket {
                        // The bucket is the input after the declared values.
                        values.push(OTHER.to_string());
                    }
                    FittedColumn::Category {
                        name: c.name.clone(),
                        values,
                    }
                }
                _ => {
                    let present: Vec<f64> = (0..train.len())
                        .map(|r| train.features[r * train.width + offset] as f64)
                        .filter(|v| v.is_finite())
                        .collect();
                    fit_number(&c.name, &present, c.missing, c.normalization)
                }
            };
            offset += fitted.raw_width();
            columns.push(fitted);
        }
        Preprocessor { columns }
    }

    /// Model inputs per row.
    pub fn output_width(&self) -> usize {
        self.columns.iter().map(FittedColumn::width).sum()
    }

    /// Each source column with the number of model inputs it produces, in
    /// input order: explanations add attributions back up per column.
    pub fn column_widths(&self) -> Vec<(&str, usize)> {
        self.columns
            .iter()
            .map(|c| {
                let name = match c {
                    FittedColumn::Image { name, .. }
                    | FittedColumn::Number { name, .. }
                    | FittedColumn::Category { name, .. } => name.as_str(),
                };
                (name, c.width())
            })
            .collect()
    }

    /// Names of the model inputs, in order (`amount`, `purpose=car`, ...),
    /// for explanations and documentation.
    pub fn input_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.output_width());
        for c in &self.columns {
            match c {
                FittedColumn::Image { name, width, .. } => {
                    names.extend((0..*width).map(|i| format!("{name}_{i}")))
                }
                FittedColumn::Number { name, .. } => names.push(name.clone()),
                FittedColumn::Category { name, values } => {
                    names.extend(values.iter().map(|v| format!("{name}={v}")))
                }
            }
        }
        names
    }

    /// Applies the fitted transform to raw rows.
    pub fn transform(&self, table: &RawTable) -> Vec<f32> {
        let mut out = Vec::with_capacity(table.len() * self.output_width());
        for row in table.features.chunks_exact(table.width.max(1)) {
            let mut offset = 0;
            for c in &self.columns {
                match c {
                    FittedColumn::Image { width, divisor, .. } => {
                        out.extend(row[offset..offset + width].iter().map(|p| p / divisor));
                    }
                    FittedColumn::Number {
                        fill,
                        log1p,
                        shift,
                        scale,
                        ..
                    } => {
                        let v = if row[offset].is_finite() {
                            row[offset]
                        } else {
                            *fill
                        };
                        let v = if *log1p { v.ln_1p() } else { v };
                        out.push((v - shift) / scale);
                    }
                    FittedColumn::Category { values, .. } => {
                        let at = out.len();
                        out.resize(at + values.len(), 0.0);
                        let index = row[offset];
                        if index.is_finite() && (index as usize) < values.len() {
                            out[at + index as usize] = 1.0;
                        }
                    }
                }
                offset += c.raw_width();
            }
        }
        out
    }
}

fn fit_number(
    name: &str,
    present: &[f64],
    missing: Missing,
    normalization: Normalization,
) -> FittedColumn {
    let n = present.len().max(1) as f64;
    let mean = present.iter().sum::<f64>() / n;
    let fill = match missing {
        Missing::Mean => mean,
        Missing::Zero => 0.0,
        Missing::Median => {
            let mut sorted = present.to_vec();
            sorted.sort_by(f64::total_cmp);
            sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
        }
    };
    // Statistics are taken after the same transform the rows will get.
    let log1p = normalization == Normalization::Log1p;
    let values: Vec<f64> = present
        .iter()
        .map(|&v| if log1p { v.max(-0.999_999).ln_1p() } else { v })
        .collect();
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let nonzero = |s: f64| if s > 1e-12 { s } else { 1.0 };
    let (shift, scale) = match normalization {
        Normalization::ZScore | Normalization::Log1p => (mean, nonzero(std)),
        Normalization::MinMax if lo.is_finite() => (lo, nonzero(hi - lo)),
        Normalization::MinMax | Normalization::None => (0.0, 1.0),
    };
    FittedColumn::Number {
        name: name.to_string(),
        fill: fill as f32,
        log1p,
        shift: shift as f32,
        scale: scale as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::parse_plugin;
    use std::path::Path;

    #[test]
    fn fitted_on_training_rows_only_and_one_hot_for_categories() {
        let plugin = parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: x, type: number, role: feature, nullable: true}\n    - {name: m, type: number, role: feature, normalization: min_max}\n    - {name: k, type: category, role: feature, values: [a, b, c]}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y}\n",
        )
        .unwrap();
        let train = RawTable {
            features: vec![1.0, 10.0, 0.0, 3.0, 20.0, 2.0, f32::NAN, 30.0, 1.0],
            width: 3,
            labels: None,
            ids: None,
        };
        let p = Preprocessor::fit(&plugin, &train);
        assert_eq!(p.output_width(), 5);
        assert_eq!(p.input_names(), ["x", "m", "k=a", "k=b", "k=c"]);
        let out = p.transform(&train);
        // x: mean 2, std 1 over the present values; the missing one is filled with the mean.
        assert_eq!(out[..5], [-1.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(out[5..10], [1.0, 0.5, 0.0, 0.0, 1.0]);
        assert_eq!(out[10..15], [0.0, 1.0, 0.0, 1.0, 0.0]);
        // A test row outside the training range is not refitted.
        let test = RawTable {
            features: vec![5.0, 40.0, 0.0],
            width: 3,
            labels: None,
            ids: None,
        };
        assert_eq!(p.transform(&test)[..2], [3.0, 1.5]);
    }
}
