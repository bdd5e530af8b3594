//! A loaded run's network as ONNX, with a sample of model inputs and the
//! outputs indus computes for them, so another runtime can be checked
//! against indus on the same numbers.

use crate::{LoadedRun, RuntimeError};
use indus_data::{FittedColumn, RawTable};
use indus_engine::OnnxInputStep;
use serde::Serialize;

/// Model inputs (preprocessed rows) and indus's outputs for them.
#[derive(Debug, Clone, Serialize)]
pub struct OnnxSample {
    /// Values per raw row (the graph's `raw` input when the preprocessing
    /// is in it).
    pub raw_width: usize,
    /// Row-major raw rows as read (categories as value indices; `null` for
    /// a missing value, NaN in the graph).
    pub raw: Vec<Option<f32>>,
    /// Values per input row (the graph's input width).
    pub width: usize,
    /// Row-major model inputs.
    pub inputs: Vec<f32>,
    /// Values per output row.
    pub output_width: usize,
    /// Row-major head outputs, as `Predictor::predict` gives them.
    pub outputs: Vec<f32>,
}

impl LoadedRun {
    /// The run's network (every ensemble member, the primary head) as an
    /// ONNX model. The graph's input is the preprocessed features: the
    /// fitted preprocessing (`preprocess.json`) stays outside it, and so do
    /// decisions (thresholds), native hooks and secondary heads.
    ///
    /// With `preprocessing`, the fitted steps are replayed in front of the
    /// network and the graph takes the raw row instead (numbers as read,
    /// NaN for missing, categories as their value index); refused, naming
    /// why, where a step has no standard-operator form here: columns a
    /// native hook derives, quantile normalisation, embedded ids.
    pub fn to_onnx(&self, preprocessing: bool) -> Result<Vec<u8>, RuntimeError> {
        let members = self
            .folder
            .member_weights(self.scenario.model.ensemble.get())?;
        let steps = if preprocessing {
            Some(self.onnx_steps()?)
        } else {
            None
        };
        Ok(indus_engine::to_onnx_with(
            &members,
            self.model.head,
            env!("CARGO_PKG_VERSION"),
            steps.as_deref(),
        )?)
    }

    fn onnx_steps(&self) -> Result<Vec<OnnxInputStep>, RuntimeError> {
        let refuse = |why: String| {
            RuntimeError::Invalid(format!(
                "the preprocessing cannot go into the graph: {why}; export without --with-preprocessing and apply preprocess.json yourself"
            ))
        };
        if let Some(c) = self.plugin.data.columns.iter().find(|c| c.derived) {
            return Err(refuse(format!(
                "column `{}` is derived by the plugin's native hook",
                c.name
            )));
        }
        self.model
            .preprocessor
            .columns
            .iter()
            .map(|c| match c {
                FittedColumn::Number {
                    name, quantiles, ..
                } if !quantiles.is_empty() => Err(refuse(format!(
                    "column `{name}` uses quantile normalisation"
                ))),
                FittedColumn::Number {
                    fill,
                    log1p,
                    shift,
                    scale,
                    bins,
                    ..
                } => Ok(OnnxInputStep::Number {
                    fill: *fill,
                    log1p: *log1p,
                    shift: *shift,
                    scale: *scale,
                    bins: bins.clone(),
                }),
                FittedColumn::Category { values, .. } => Ok(OnnxInputStep::OneHot {
                    classes: values.len(),
                }),
                FittedColumn::Image {
                    width,
                    divisor,
                    mean,
                    std,
                    ..
                } => Ok(OnnxInputStep::Pixels {
                    width: *width,
                    divisor: *divisor,
                    mean: mean.clone(),
                    std: std.clone(),
                }),
                FittedColumn::Embedding { name, .. } => {
                    Err(refuse(format!("column `{name}` is an embedded id")))
                }
            })
            .collect()
    }

    /// `rows` preprocessed as the graph takes them, with indus's outputs.
    pub fn onnx_sample(&self, rows: &RawTable) -> Result<OnnxSample, RuntimeError> {
        let inputs = self.prepare(rows)?;
        let outputs = self.model.predictor.predict(&inputs)?;
        let raw = self.with_derived(rows)?;
        Ok(OnnxSample {
            raw_width: raw.width,
            raw: raw
                .features
                .iter()
                .map(|v| v.is_finite().then_some(*v))
                .collect(),
            width: self.model.preprocessor.output_width(),
            inputs,
            output_width: self.model.head.outputs(),
            outputs,
        })
    }
}
