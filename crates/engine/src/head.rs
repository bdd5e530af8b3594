//! Heads: how the trunk's raw outputs become a loss in training and a
//! prediction in serving. One enum so every task shares the training loop.

use crate::EngineError;
use burn::tensor::activation;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use indus_spec::{HeadSpec, LossKind, Task};

/// A head the engine can train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Head {
    /// Softmax over `classes`, cross-entropy loss.
    Multiclass {
        /// Number of classes.
        classes: usize,
    },
    /// One sigmoid output, binary cross-entropy loss.
    Binary,
    /// Independent sigmoids, binary cross-entropy per label.
    Multilabel {
        /// Number of labels.
        labels: usize,
    },
    /// An autoencoder: the outputs reproduce the `width` model inputs, with
    /// squared error; a large error marks a row unlike the training rows.
    Reconstruction {
        /// Model inputs per row (set once preprocessing is fitted).
        width: usize,
    },
    /// Real-valued outputs with squared or Huber loss.
    Regression {
        /// Values per row.
        outputs: usize,
        /// Use Huber (delta 1) instead of squared error.
        huber: bool,
    },
}

/// Training targets, row-aligned with the inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// A class index per row (multiclass, binary as 0/1).
    Classes(Vec<u32>),
    /// `width` real values per row (regression, multilabel as 0/1).
    Values {
        /// Row-major values.
        values: Vec<f32>,
        /// Values per row.
        width: usize,
    },
}

impl Targets {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values { values, width } => values.len().checked_div(*width).unwrap_or(0),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Targets uploaded to a device once per training run.
pub(crate) enum DeviceTargets<B: Backend> {
    Classes(Tensor<B, 1, Int>),
    Values(Tensor<B, 2>),
}

impl Head {
    /// Maps a manifest head to an engine head.
    pub fn from_spec(spec: &HeadSpec) -> Result<Head, EngineError> {
        let classes = spec.classes.as_ref().map_or(0, Vec::len);
        Ok(match spec.task {
            Task::Multiclass => Head::Multiclass { classes },
            Task::Binary => Head::Binary,
            Task::Multilabel => Head::Multilabel { labels: classes },
            // A rating of a user-item pair: one value, its inputs carry the
            // user and item embeddings.
            Task::Regression | Task::UserItem => Head::Regression {
                outputs: 1,
                huber: spec.effective_loss() == LossKind::Huber,
            },
            // The width is the preprocessed input width, known after fitting.
            Task::Reconstruction => Head::Reconstruction { width: 0 },
        })
    }

    /// Width of the trunk's output layer.
    pub fn outputs(&self) -> usize {
        match *self {
            Head::Multiclass { classes } => classes,
            Head::Binary => 1,
            Head::Multilabel { labels } => labels,
            Head::Regression { outputs, .. } => outputs,
            Head::Reconstruction { width } => width,
        }
    }

    /// Checks targets against the head and uploads them.
    pub(crate) fn upload<B: Backend>(
        &self,
        targets: &Targets,
        device: &B::Device,
    ) -> Result<DeviceTargets<B>, EngineError> {
        match (self, targets) {
            (Head::Multiclass { classes }, Targets::Classes(c)) => {
                if let Some(bad) = c.iter().find(|&&l| l as usize >= *classes) {
                    return Err(EngineError::Shape(format!(
                        "label {bad} is outside the head's {classes} classes"
                    )));
                }
                let ints: Vec<i64> = c.iter().map(|&l| l as i64).collect();
                Ok(DeviceTargets::Classes(Tensor::from_data(
                    TensorData::new(ints, [c.len()]),
                    device,
                )))
            }
            (Head::Binary, Targets::Classes(c)) => {
                if let Some(bad) = c.iter().find(|&&l| l > 1) {
                    return Err(EngineError::Shape(format!(
                        "binary head got label {bad}; expected 0 or 1"
                    )));
                }
                let values: Vec<f32> = c.iter().map(|&l| l as f32).collect();
                Ok(DeviceTargets::Values(Tensor::from_data(
                    TensorData::new(values, [c.len(), 1]),
                    device,
                )))
            }
            (
                Head::Multilabel { .. } | Head::Regression { .. } | Head::Reconstruction { .. },
                Targets::Values { values, width },
            ) if *width == self.outputs() => Ok(DeviceTargets::Values(Tensor::from_data(
                TensorData::new(values.clone(), [values.len() / width, *width]),
                device,
            ))),
            _ => Err(EngineError::Shape(format!(
                "targets of this kind do not fit a {self:?} head"
            ))),
        }
    }

    /// Mean loss of a batch.
    pub(crate) fn loss<B: Backend>(
        &self,
        logits: Tensor<B, 2>,
        targets: &BatchTargets<B>,
        class_weights: Option<&Tensor<B, 1>>,
    ) -> Tensor<B, 1> {
        match (self, targets) {
            (Head::Multiclass { .. }, BatchTargets::Classes(y)) => {
                let [rows] = y.dims();
                let log_p = activation::log_softmax(logits, 1);
                let nll = log_p
                    .gather(1, y.clone().reshape([rows, 1]))
                    .reshape([rows])
                    .neg();
                match class_weights {
                    // Weighted mean: sum(w_y * nll) / sum(w_y).
                    Some(w) => {
                        let row_w = w.clone().select(0, y.clone());
                        (nll * row_w.clone()).sum() / row_w.sum()
                    }
                    None => nll.mean(),
                }
            }
            (Head::Binary | Head::Multilabel { .. }, BatchTargets::Values(y)) => {
                // Stable BCE with logits: max(z, 0) - z*y + log(1 + exp(-|z|)).
                let z = logits;
                let loss =
                    z.clone().clamp_min(0.0) - z.clone() * y.clone() + z.abs().neg().exp().log1p();
                match (self, class_weights) {
                    (Head::Binary, Some(w)) => {
                        // Row weight w0 + (w1 - w0) * y for the 0/1 target y.
                        let w0 = w.clone().narrow(0, 0, 1).reshape([1, 1]);
                        let w1 = w.clone().narrow(0, 1, 1).reshape([1, 1]);
                        let row_w = y.clone() * (w1 - w0.clone()) + w0;
                        (loss * row_w.clone()).sum() / row_w.sum()
                    }
                    _ => loss.mean(),
                }
            }
            (Head::Reconstruction { .. }, BatchTargets::Values(y)) => {
                (logits - y.clone()).powf_scalar(2.0).mean()
            }
            (Head::Regression { huber, .. }, BatchTargets::Values(y)) => {
                let diff = logits - y.clone();
                if *huber {
                    let abs = diff.clone().abs();
                    let quadratic = abs.clone().clamp_max(1.0);
                    let linear = abs - quadratic.clone();
                    (quadratic.powf_scalar(2.0) * 0.5 + linear).mean()
                } else {
                    diff.powf_scalar(2.0).mean()
                }
            }
            _ => unreachable!("targets are checked against the head in `upload`"),
        }
    }

    /// Turns raw outputs into what a user reads: class probabilities,
    /// probabilities of the positive label, or values.
    pub fn activate<B: Backend>(&self, logits: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Head::Multiclass { .. } => activation::softmax(logits, 1),
            Head::Binary | Head::Multilabel { .. } => activation::sigmoid(logits),
            Head::Regression { .. } | Head::Reconstruction { .. } => logits,
        }
    }
}

/// Targets of one batch, selected from the uploaded [`DeviceTargets`].
pub(crate) enum BatchTargets<B: Backend> {
    Classes(Tensor<B, 1, Int>),
    Values(Tensor<B, 2>),
}

impl<B: Backend> DeviceTargets<B> {
    pub(crate) fn select(&self, idx: Tensor<B, 1, Int>) -> BatchTargets<B> {
        match self {
            DeviceTargets::Classes(t) => BatchTargets::Classes(t.clone().select(0, idx)),
            DeviceTargets::Values(t) => BatchTargets::Values(t.clone().select(0, idx)),
        }
    }
}
