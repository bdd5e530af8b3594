//! The shared MLP engine of indus, on burn.
//!
//! Every industry scenario trains and serves through this crate: one MLP
//! trunk with configurable depth, activation, dropout and normalisation, a
//! head per task, the usual optimisers and schedules, early stopping, and
//! the best/last weights — generic over burn backends (`flex` and `ndarray`
//! on the CPU, `cuda` behind a feature). It knows nothing about files,
//! YAML parsing or HTTP; callers hand it numbers.

#![warn(missing_docs)]

mod backend;
mod error;
mod explain;
mod head;
mod infer;
pub mod metrics;
mod model;
pub mod multilabel;
mod onnx;
pub mod rating;
mod schedule;
mod train;
mod weights;

pub use backend::{ResolvedBackend, probe, resolve_backend};
pub use error::EngineError;
pub use explain::integrated_gradients;
pub use head::{Head, Targets};
pub use infer::Predictor;
pub use model::EmbeddingShape;
pub use onnx::{ONNX_INPUT, ONNX_OUTPUT, ONNX_RAW_INPUT, OnnxInputStep, to_onnx, to_onnx_with};
pub use schedule::learning_rate;
pub use train::{
    AuxiliaryHead, EpochRecord, Silent, TrainObserver, TrainOutcome, TrainRequest, TrainSet, train,
};
pub use weights::{
    ConvWeights, DenseWeights, EmbeddingWeights, ImageShape, MlpWeights, NormWeights,
};

/// Version of burn this engine is built against (recorded in every run).
pub const BURN_VERSION: &str = "0.21.0";
