//! Preprocessing fitted on the training split only and saved with the model,
//! so `predict` and the server apply exactly the transform training saw.

use crate::table::{RawTable, feature_columns};
use indus_spec::{
    ColumnType, Encoding, Missing, Normalization, PixelScaling, PluginManifest, UnknownValues,
};
use serde::{Deserialize, Serialize};

/// Name of the shared input of category values outside the declared list.
pub const OTHER: &str = "(other)";

/// Mean and standard deviation (1 where constant) of each pixel position of
/// the image at `offset` over the training rows, after dividing by `divisor`.
fn pixel_statistics(
    train: &RawTable,
    offset: usize,
    width: usize,
    divisor: f32,
) -> (Vec<f32>, Vec<f32>) {
    let n = train.len().max(1) as f64;
    let mut sum = vec![0f64; width];
    let mut sq = vec![0f64; width];
    for row in train.features.chunks_exact(train.width.max(1)) {
        for (i, &p) in row[offset..offset + width].iter().enumerate() {
            let v = f64::from(p / divisor);
            sum[i] += v;
            sq[i] += v * v;
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(q, m)| {
            let sd = (q / n - m * m).max(0.0).sqrt();
            if sd > 1e-6 { sd as f32 } else { 1.0 }
        })
        .collect();
    (mean.into_iter().map(|m| m as f32).collect(), std)
}

/// How one feature column is turned into model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FittedColumn {
    /// Pixels divided by the declared maximum, giving values in [0, 1];
    /// with `pixel_scaling: z_score`, then standardised per pixel position.
    Image {
        /// Column name.
        name: String,
        /// Pixels per image.
        width: usize,
        /// The declared maximum pixel value.
        divisor: f32,
        /// Per-pixel training mean (of the divided values); empty unless
        /// standardising.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mean: Vec<f32>,
        /// Per-pixel training standard deviation (1 where it is 0).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        std: Vec<f32>,
    },
    /// A number: missing values filled, optionally `ln(1 + x)`, then
    /// `(x - shift) / scale`; or, with `quantiles`, its rank among them.
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
        /// `normalization: quantile`: the training values' 0th, 1st, …,
        /// 100th percentiles; the input is the value's rank among them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        quantiles: Vec<f32>,
        /// `piecewise_linear_bins`: the edges of the bins (training
        /// quantiles, after `ln(1 + x)` where it applies, strictly
        /// increasing); each bin adds one input after the scaled value.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bins: Vec<f32>,
    },
    /// A category one-hot encoded over its declared values (a missing value
    /// of a nullable column encodes as all zeros).
    Category {
        /// Column name.
        name: String,
        /// Declared values, in encoding order.
        values: Vec<String>,
    },
    /// A category or integer id looked up in a learned table: the model
    /// input is the row of the value in `keys` plus one, or 0 for a value
    /// never seen in training (or cut by the vocabulary cap).
    Embedding {
        /// Column name.
        name: String,
        /// Raw values seen in training, ascending.
        keys: Vec<f32>,
        /// Length of each learned vector.
        dim: usize,
    },
}

/// Where one embedded column sits in a row of model inputs and the size of
/// its table, for the engine to build the lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingSlot {
    /// Position of the index among the row's model inputs.
    pub position: usize,
    /// Rows of the table (seen values plus the shared unseen row).
    pub rows: usize,
    /// Length of each vector.
    pub dim: usize,
}

/// Where one image column's pixels sit in a row of model inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSlot {
    /// The image column.
    pub column: String,
    /// Position of the first pixel among the row's model inputs.
    pub position: usize,
    /// Pixels per image (row-major, height × width).
    pub pixels: usize,
}

impl FittedColumn {
    /// Raw values this column occupies in a [`RawTable`] row.
    fn raw_width(&self) -> usize {
        match self {
            FittedColumn::Image { width, .. } => *width,
            FittedColumn::Number { .. }
            | FittedColumn::Category { .. }
            | FittedColumn::Embedding { .. } => 1,
        }
    }

    /// Model inputs this column produces.
    fn width(&self) -> usize {
        match self {
            FittedColumn::Image { width, .. } => *width,
            FittedColumn::Number { bins, .. } => 1 + bins.len().saturating_sub(1),
            FittedColumn::Embedding { .. } => 1,
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
                ColumnType::Image => {
                    let (width, divisor) =
                        (c.width(), c.max_value.map_or(255.0, |m| m.get() as f32));
                    let (mean, std) = if c.pixel_scaling == PixelScaling::ZScore {
                        pixel_statistics(train, offset, width, divisor)
                    } else {
                        (Vec::new(), Vec::new())
                    };
                    FittedColumn::Image {
                        name: c.name.clone(),
                        width,
                        divisor,
                        mean,
                        std,
                    }
                }
                _ if c.encoding == Encoding::Embedding => {
                    let raw: Vec<f32> = (0..train.len())
                        .map(|r| train.features[r * train.width + offset])
                        .collect();
                    FittedColumn::Embedding {
                        name: c.name.clone(),
                        keys: vocabulary(&raw, c.max_vocabulary.map(|m| m.get())),
                        dim: c.embedding_dim.map_or(8, |d| d.get()),
                    }
                }
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
                    let bins = c.piecewise_linear_bins.map(|b| b.get());
                    let mut fitted =
                        fit_number(&c.name, &present, c.missing, c.normalization, bins);
                    if let (FittedColumn::Number { fill, .. }, Some(v)) =
                        (&mut fitted, c.fill_value)
                    {
                        *fill = v as f32;
                    }
                    fitted
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
                    | FittedColumn::Category { name, .. }
                    | FittedColumn::Embedding { name, .. } => name.as_str(),
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
                FittedColumn::Number { name, bins, .. } => {
                    names.push(name.clone());
                    names.extend((1..bins.len()).map(|i| format!("{name}:bin{i}")));
                }
                FittedColumn::Embedding { name, .. } => names.push(name.clone()),
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
                    FittedColumn::Image {
                        width,
                        divisor,
                        mean,
                        std,
                        ..
                    } => {
                        let pixels = row[offset..offset + width].iter().map(|p| p / divisor);
                        if mean.is_empty() {
                            out.extend(pixels);
                        } else {
                            out.extend(
                                pixels
                                    .zip(mean.iter().zip(std))
                                    .map(|(p, (m, s))| (p - m) / s),
                            );
                        }
                    }
                    FittedColumn::Number {
                        fill,
                        log1p,
                        shift,
                        scale,
                        quantiles,
                        bins,
                        ..
                    } => {
                        let v = if row[offset].is_finite() {
                            row[offset]
                        } else {
                            *fill
                        };
                        let v = if *log1p { v.ln_1p() } else { v };
                        if quantiles.is_empty() {
                            out.push((v - shift) / scale);
                        } else {
                            out.push(quantile_input(quantiles, v));
                        }
                        out.extend(
                            bins.windows(2)
                                .map(|edge| ((v - edge[0]) / (edge[1] - edge[0])).clamp(0.0, 1.0)),
                        );
                    }
                    FittedColumn::Embedding { keys, .. } => {
                        out.push(embedding_index(keys, row[offset]) as f32);
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

impl Preprocessor {
    /// Each fitted column with the position of its first model input.
    fn positioned(&self) -> impl Iterator<Item = (usize, &FittedColumn)> {
        self.columns.iter().scan(0, |position, c| {
            let at = *position;
            *position += c.width();
            Some((at, c))
        })
    }

    /// The embedded columns: where their index sits among the model inputs
    /// and how large their tables are.
    pub fn embedding_slots(&self) -> Vec<EmbeddingSlot> {
        self.positioned()
            .filter_map(|(position, c)| match c {
                FittedColumn::Embedding { keys, dim, .. } => Some(EmbeddingSlot {
                    position,
                    rows: keys.len() + 1,
                    dim: *dim,
                }),
                _ => None,
            })
            .collect()
    }

    /// The image columns: where their first pixel sits among the model
    /// inputs and how many pixels follow, for a convolution stem.
    pub fn image_slots(&self) -> Vec<ImageSlot> {
        self.positioned()
            .filter_map(|(position, c)| match c {
                FittedColumn::Image { name, width, .. } => Some(ImageSlot {
                    column: name.clone(),
                    position,
                    pixels: *width,
                }),
                _ => None,
            })
            .collect()
    }

    /// The raw values an embedded column learned a vector for (ascending),
    /// e.g. every item a recommender can rank.
    pub fn embedding_keys(&self, column: &str) -> Option<&[f32]> {
        self.columns.iter().find_map(|c| match c {
            FittedColumn::Embedding { name, keys, .. } if name == column => Some(keys.as_slice()),
            _ => None,
        })
    }
}

/// The distinct finite values of `raw`, keeping the `cap` most frequent
/// (ties broken by value), in ascending order.
fn vocabulary(raw: &[f32], cap: Option<usize>) -> Vec<f32> {
    let mut counts: std::collections::BTreeMap<u32, usize> = Default::default();
    for v in raw.iter().filter(|v| v.is_finite()) {
        // Order-preserving bits so the map iterates in ascending value order.
        *counts.entry(sortable_bits(*v)).or_default() += 1;
    }
    let mut keys: Vec<(u32, usize)> = counts.into_iter().collect();
    if let Some(cap) = cap
        && keys.len() > cap
    {
        keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        keys.truncate(cap);
        keys.sort_by_key(|k| k.0);
    }
    keys.into_iter()
        .map(|(bits, _)| from_sortable_bits(bits))
        .collect()
}

fn sortable_bits(v: f32) -> u32 {
    let b = (v + 0.0).to_bits(); // -0.0 and 0.0 are one key
    if b >> 31 == 1 { !b } else { b | 1 << 31 }
}

fn from_sortable_bits(b: u32) -> f32 {
    f32::from_bits(if b >> 31 == 1 { b & !(1 << 31) } else { !b })
}

/// Table row of a raw value: its place among `keys` plus one, or 0 (the
/// shared row of unseen values).
fn embedding_index(keys: &[f32], v: f32) -> usize {
    keys.binary_search_by(|k| k.total_cmp(&v))
        .map_or(0, |i| i + 1)
}

fn fit_number(
    name: &str,
    present: &[f64],
    missing: Missing,
    normalization: Normalization,
    bins: Option<usize>,
) -> FittedColumn {
    let n = present.len().max(1) as f64;
    let mean = present.iter().sum::<f64>() / n;
    let fill = match missing {
        Missing::Mean => mean,
        // Constant: the column's fill_value, set by the caller. Drop: rows
        // with the value missing never reach the model.
        Missing::Zero | Missing::Constant | Missing::Drop => 0.0,
        Missing::Mode => {
            let mut counts: std::collections::BTreeMap<u64, usize> = Default::default();
            for v in present {
                *counts.entry(v.to_bits()).or_default() += 1;
            }
            counts
                .into_iter()
                .map(|(bits, n)| (f64::from_bits(bits), n))
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.total_cmp(&a.0)))
                .map_or(0.0, |(v, _)| v)
        }
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
        Normalization::MinMax | Normalization::None | Normalization::Quantile => (0.0, 1.0),
    };
    FittedColumn::Number {
        name: name.to_string(),
        fill: fill as f32,
        log1p,
        shift: shift as f32,
        scale: scale as f32,
        quantiles: if normalization == Normalization::Quantile {
            quantiles(&values, 100)
        } else {
            Vec::new()
        },
        bins: bins.map_or_else(Vec::new, |n| bin_edges(&values, n)),
    }
}

/// The quantiles of `values` at 0, 1/n, …, 1 (linear between order
/// statistics); empty for no values.
fn quantiles(values: &[f64], n: usize) -> Vec<f32> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let Some(last) = sorted.len().checked_sub(1) else {
        return Vec::new();
    };
    (0..=n)
        .map(|p| {
            let at = last as f64 * p as f64 / n as f64;
            let (i, frac) = (at.floor() as usize, at.fract());
            let next = sorted[(i + 1).min(last)];
            (sorted[i] + (next - sorted[i]) * frac) as f32
        })
        .collect()
}

/// Edges of `n` piecewise-linear bins at the training quantiles, with
/// repeated edges merged; none when the column has at most 2 × n distinct
/// values, where the bins would only re-cut a handful of levels.
fn bin_edges(values: &[f64], n: usize) -> Vec<f32> {
    let mut distinct: Vec<u64> = values.iter().map(|v| (v + 0.0).to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() <= 2 * n {
        return Vec::new();
    }
    let mut edges = quantiles(values, n);
    edges.dedup();
    if edges.len() < 2 { Vec::new() } else { edges }
}

/// Rank of `v` among `quantiles` (0 at the first, 1 at the last, linear in
/// between; the middle of a run of equal quantiles, so a value shared by
/// many training rows, such as 0 bytes, sits at the centre of its share),
/// rescaled from [0, 1] to mean 0 and standard deviation 1.
fn quantile_input(quantiles: &[f32], v: f32) -> f32 {
    let last = quantiles.len().saturating_sub(1).max(1) as f32;
    let first_ge = quantiles.partition_point(|&q| q < v);
    let first_gt = quantiles.partition_point(|&q| q <= v);
    let rank = if first_gt == 0 {
        0.0
    } else if first_ge == quantiles.len() {
        last
    } else if first_ge < first_gt {
        (first_ge + first_gt - 1) as f32 / 2.0
    } else {
        let (lo, hi) = (quantiles[first_ge - 1], quantiles[first_ge]);
        (first_ge - 1) as f32 + (v - lo) / (hi - lo)
    };
    (rank / last - 0.5) * 12f32.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::{PluginManifest, parse_plugin};
    use std::path::Path;

    /// A plugin with these feature `columns` (YAML list items) and a binary target `y`.
    fn binary_plugin(columns: &str) -> PluginManifest {
        parse_plugin(
            Path::new("p.yaml"),
            &format!(
                "name: p\nindustry: t\ndescription: t\ndata:\n  source: {{format: csv, dataset: p, files: {{train: {{name: t.csv}}}}}}\n  columns:\n{columns}    - {{name: y, type: category, role: target}}\nheads:\n  - {{name: y, task: binary, target: y}}\n"
            ),
        )
        .unwrap()
    }

    #[test]
    fn fitted_on_training_rows_only_and_one_hot_for_categories() {
        let plugin = binary_plugin(
            "    - {name: x, type: number, role: feature, nullable: true}\n    - {name: m, type: number, role: feature, normalization: min_max}\n    - {name: k, type: category, role: feature, values: [a, b, c]}\n",
        );
        let train = RawTable {
            features: vec![1.0, 10.0, 0.0, 3.0, 20.0, 2.0, f32::NAN, 30.0, 1.0],
            width: 3,
            labels: None,
            ids: None,
            ..Default::default()
        };
        let p = Preprocessor::fit(&plugin, &train);
        assert_eq!(p.output_width(), 5);
        // `missing: constant` fills with the declared value.
        let constant = binary_plugin(
            "    - {name: x, type: number, role: feature, nullable: true, missing: constant, fill_value: -1, normalization: none}\n",
        );
        let t = RawTable {
            features: vec![3.0, f32::NAN],
            width: 1,
            ..Default::default()
        };
        assert_eq!(Preprocessor::fit(&constant, &t).transform(&t), [3.0, -1.0]);
        // Rows missing a `missing: drop` value are left out, named by row.
        let drop = binary_plugin(
            "    - {name: x, type: number, role: feature, nullable: true, missing: drop}\n",
        );
        let mut t = RawTable {
            features: vec![3.0, f32::NAN, 5.0, f32::NAN],
            width: 1,
            labels: Some(vec![0, 1, 1, 0]),
            ..Default::default()
        };
        assert_eq!(
            crate::rows_missing_required(&drop, &t),
            [(1, "x".to_string()), (3, "x".to_string())]
        );
        assert_eq!(crate::drop_missing(&drop, &mut t), 2);
        assert_eq!((t.features, t.labels), (vec![3.0, 5.0], Some(vec![0, 1])));
        // The most frequent value fills a gap with `missing: mode` (smallest on ties).
        let FittedColumn::Number { fill, .. } = fit_number(
            "m",
            &[2.0, 5.0, 5.0, 2.0, 7.0],
            Missing::Mode,
            Normalization::None,
            None,
        ) else {
            unreachable!()
        };
        assert_eq!(fill, 2.0);
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
            ..Default::default()
        };
        assert_eq!(p.transform(&test)[..2], [3.0, 1.5]);
    }

    #[test]
    fn pixels_standardised_per_position_on_training_images() {
        let plugin = parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: npz, dataset: p, files: {}}\n  columns:\n    - {name: img, type: image, role: feature, shape: [1, 3], max_value: 255, pixel_scaling: z_score}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y}\n",
        )
        .unwrap();
        // Pixel 0 varies, pixel 1 is constant (no division by zero), pixel 2
        // is twice pixel 0.
        let train = RawTable {
            features: vec![0.0, 51.0, 0.0, 102.0, 51.0, 204.0],
            width: 3,
            ..Default::default()
        };
        let p = Preprocessor::fit(&plugin, &train);
        let x = p.transform(&train);
        assert_eq!(x.len(), 6);
        for (got, want) in x.iter().zip([-1.0, 0.0, -1.0, 1.0, 0.0, 1.0]) {
            assert!((got - want).abs() < 1e-5, "{x:?}");
        }
        // A new image uses the training statistics, and a saved
        // preprocessor transforms identically.
        let new = RawTable {
            features: vec![51.0, 0.0, 255.0],
            width: 3,
            ..Default::default()
        };
        let saved: Preprocessor =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(saved.transform(&new), p.transform(&new));
        let y = p.transform(&new);
        assert!(
            (y[0] - 0.0).abs() < 1e-5 && (y[1] + 0.2).abs() < 1e-5,
            "{y:?}"
        );
    }

    #[test]
    fn an_image_after_other_inputs_is_found_where_its_pixels_start() {
        let plugin = parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: site, type: category, role: feature, values: [a, b, c]}\n    - {name: scan, type: image, role: feature, shape: [2, 3], max_value: 255}\n    - {name: y, type: number, role: target}\nheads:\n  - {name: y, task: regression, target: y}\n",
        )
        .unwrap();
        let train = RawTable {
            features: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            width: 7,
            ..Default::default()
        };
        let p = Preprocessor::fit(&plugin, &train);
        // Three one-hot inputs for `site` come first.
        assert_eq!(
            p.image_slots(),
            [ImageSlot {
                column: "scan".into(),
                position: 3,
                pixels: 6
            }]
        );
        assert!(p.embedding_slots().is_empty());
    }

    #[test]
    fn embedded_ids_map_to_table_rows_with_one_row_for_unseen_values() {
        let plugin = parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: user, type: integer, role: feature, encoding: embedding, embedding_dim: 4, max_vocabulary: 2}\n    - {name: x, type: number, role: feature}\n    - {name: y, type: number, role: target}\nheads:\n  - {name: y, task: regression, target: y}\n",
        )
        .unwrap();
        let train = RawTable {
            features: vec![30.0, 1.0, 7.0, 2.0, 30.0, 3.0, -2.0, 4.0, 7.0, 5.0],
            width: 2,
            ..Default::default()
        };
        let p = Preprocessor::fit(&plugin, &train);
        // 30 and 7 are the two most frequent values; -2 is cut by the cap.
        assert_eq!(p.embedding_keys("user"), Some(&[7.0, 30.0][..]));
        assert_eq!(
            p.embedding_slots(),
            [EmbeddingSlot {
                position: 0,
                rows: 3,
                dim: 4
            }]
        );
        let test = RawTable {
            features: vec![7.0, 0.0, 30.0, 0.0, -2.0, 0.0, 999.0, 0.0],
            width: 2,
            ..Default::default()
        };
        let x = p.transform(&test);
        let indices: Vec<f32> = x.chunks(2).map(|r| r[0]).collect();
        assert_eq!(indices, [1.0, 2.0, 0.0, 0.0]);
        // The preprocessing saved with a run reads back to the same transform.
        let back: Preprocessor = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back.transform(&test), x);
    }

    #[test]
    fn quantile_inputs_rank_values_and_survive_spikes_and_outliers() {
        let plugin = binary_plugin(
            "    - {name: bytes, type: number, role: feature, normalization: quantile}\n",
        );
        // 60 connections with no payload, then 40 with 1 … 40 000 bytes.
        let mut bytes: Vec<f32> = vec![0.0; 60];
        bytes.extend((1..=40).map(|i| (i * 1000) as f32));
        let train = RawTable {
            features: bytes.clone(),
            width: 1,
            ..Default::default()
        };
        let p = Preprocessor::fit(&plugin, &train);
        let inputs = |v: &[f32]| {
            p.transform(&RawTable {
                features: v.to_vec(),
                width: 1,
                ..Default::default()
            })
        };
        let half_range = 12f32.sqrt() / 2.0;
        let x = inputs(&[0.0, 40_000.0, 1e12, -5.0, 20_500.0]);
        // Zero bytes sits in the middle of its 60 % share (percentiles 0–59).
        assert!(
            (x[0] - (29.5 / 100.0 - 0.5) * 12f32.sqrt()).abs() < 1e-5,
            "{x:?}"
        );
        // The largest training value and anything beyond it: the top end,
        // not a z-score of thousands; below the smallest: the bottom end.
        assert!((x[1] - half_range).abs() < 1e-5 && (x[2] - half_range).abs() < 1e-5);
        assert!((x[3] + half_range).abs() < 1e-5);
        // In between: the rank grows with the value.
        assert!(x[0] < x[4] && x[4] < x[1], "{x:?}");
        // Over the training rows: centred, unit-ish spread, order kept.
        let t = inputs(&bytes);
        let mean = t.iter().sum::<f32>() / t.len() as f32;
        assert!(mean.abs() < 0.3, "mean {mean}");
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        // Saved with the run and read back: the same inputs.
        let back: Preprocessor = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back.transform(&train), p.transform(&train));
    }

    #[test]
    fn percentiles_interpolate_between_order_statistics() {
        let values: Vec<f64> = (0..=200).map(f64::from).collect();
        let q = quantiles(&values, 100);
        assert_eq!(q.len(), 101);
        assert_eq!((q[0], q[50], q[100]), (0.0, 100.0, 200.0));
        assert_eq!(quantiles(&[3.0, 1.0], 100)[50], 2.0);
        assert!(quantiles(&[], 100).is_empty());
    }

    #[test]
    fn piecewise_linear_bins_add_one_ramp_per_training_quantile_bin() {
        let plugin = binary_plugin(
            "    - {name: months, type: integer, role: feature, piecewise_linear_bins: 4}\n\
             \x20   - {name: rate, type: integer, role: feature, piecewise_linear_bins: 4}\n\
             \x20   - {name: amount, type: number, role: feature, normalization: log1p, piecewise_linear_bins: 2}\n",
        );
        // months 0..=80 (81 distinct values), a rate of 1–4, amounts e^k - 1.
        let rows: Vec<[f32; 3]> = (0..=80)
            .map(|i| [i as f32, (1 + i % 4) as f32, (i as f32 / 10.0).exp() - 1.0])
            .collect();
        let train = RawTable {
            features: rows.concat(),
            width: 3,
            ..Default::default()
        };
        let p = Preprocessor::fit(&plugin, &train);
        // months: its value and 4 ramps; rate (4 distinct values, at most
        // 2 × 4): its value only; amount: its value and 2 ramps.
        assert_eq!(
            p.input_names(),
            [
                "months",
                "months:bin1",
                "months:bin2",
                "months:bin3",
                "months:bin4",
                "rate",
                "amount",
                "amount:bin1",
                "amount:bin2"
            ]
        );
        assert_eq!(p.output_width(), 9);
        assert_eq!(
            p.column_widths(),
            [("months", 5), ("rate", 1), ("amount", 3)]
        );
        let inputs = |months: f32, amount: f32| {
            p.transform(&RawTable {
                features: vec![months, 2.0, amount],
                width: 3,
                ..Default::default()
            })
        };
        // Edges at months 0, 20, 40, 60, 80: 30 months fills the first bin,
        // half of the second, none of the rest; beyond the training range
        // every ramp stays within [0, 1].
        let x = inputs(30.0, 0.0);
        assert_eq!(x[1..5], [1.0, 0.5, 0.0, 0.0]);
        assert_eq!(inputs(-10.0, 0.0)[1..5], [0.0; 4]);
        assert_eq!(inputs(500.0, 0.0)[1..5], [1.0; 4]);
        // amount's edges sit on ln(1 + x): 0, 4, 8; e^6 - 1 is half of the second bin.
        let y = inputs(0.0, 6f32.exp() - 1.0);
        assert!(
            (y[7] - 1.0).abs() < 1e-5 && (y[8] - 0.5).abs() < 1e-4,
            "{y:?}"
        );
        // The first input of each column is still its scaled value.
        let plain = Preprocessor::fit(
            &binary_plugin(
                "    - {name: months, type: integer, role: feature}\n\
                 \x20   - {name: rate, type: integer, role: feature}\n\
                 \x20   - {name: amount, type: number, role: feature, normalization: log1p}\n",
            ),
            &train,
        );
        let scaled = plain.transform(&train);
        let binned = p.transform(&train);
        for (a, b) in scaled.chunks(3).zip(binned.chunks(9)) {
            assert_eq!([a[0], a[1], a[2]], [b[0], b[5], b[6]]);
        }
        // Saved with the run and read back: the same inputs.
        let back: Preprocessor = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back.transform(&train), binned);
    }
}
