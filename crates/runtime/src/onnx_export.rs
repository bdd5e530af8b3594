//! A loaded run's network as ONNX, with a sample of model inputs and the
//! outputs indus computes for them, so another runtime can be checked
//! against indus on the same numbers.

use crate::{LoadedRun, RuntimeError};
use indus_data::RawTable;
use serde::Serialize;

/// Model inputs (preprocessed rows) and indus's outputs for them.
#[derive(Debug, Clone, Serialize)]
pub struct OnnxSample {
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
    pub fn to_onnx(&self) -> Result<Vec<u8>, RuntimeError> {
        let members = self
            .folder
            .member_weights(self.scenario.model.ensemble.get())?;
        Ok(indus_engine::to_onnx(
            &members,
            self.model.head,
            env!("CARGO_PKG_VERSION"),
        )?)
    }

    /// `rows` preprocessed as the graph takes them, with indus's outputs.
    pub fn onnx_sample(&self, rows: &RawTable) -> Result<OnnxSample, RuntimeError> {
        let inputs = self.prepare(rows)?;
        let outputs = self.model.predictor.predict(&inputs)?;
        Ok(OnnxSample {
            width: self.model.preprocessor.output_width(),
            inputs,
            output_width: self.model.head.outputs(),
            outputs,
        })
    }
}
