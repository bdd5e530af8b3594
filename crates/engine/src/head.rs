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

    /// Mean loss of a batch; with `row_weights` (the rows' sample
    /// weights), the mean weighted by them times any class weight.
    pub(crate) fn loss<B: Backend>(
        &self,
        logits: Tensor<B, 2>,
        targets: &BatchTargets<B>,
        class_weights: Option<&Tensor<B, 1>>,
        row_weights: Option<Tensor<B, 1>>,
    ) -> Tensor<B, 1> {
        if let Some(w) = row_weights {
            let w = match class_weights {
                Some(cw) => w * self.class_weight_per_row(cw, targets),
                None => w,
            };
            let per_row = self.row_losses(logits, targets);
            // A batch whose rows all weigh 0 teaches nothing (loss 0).
            return (per_row * w.clone()).sum() / w.sum().clamp_min(1e-12);
        }
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

    /// Each row's loss, averaged over its outputs.
    fn row_losses<B: Backend>(
        &self,
        logits: Tensor<B, 2>,
        targets: &BatchTargets<B>,
    ) -> Tensor<B, 1> {
        let [rows, _] = logits.dims();
        let per_output = match (self, targets) {
            (Head::Multiclass { .. }, BatchTargets::Classes(y)) => {
                return activation::log_softmax(logits, 1)
                    .gather(1, y.clone().reshape([rows, 1]))
                    .reshape([rows])
                    .neg();
            }
            (Head::Binary | Head::Multilabel { .. }, BatchTargets::Values(y)) => {
                let z = logits;
                z.clone().clamp_min(0.0) - z.clone() * y.clone() + z.abs().neg().exp().log1p()
            }
            (Head::Regression { huber: true, .. }, BatchTargets::Values(y)) => {
                let abs = (logits - y.clone()).abs();
                let quadratic = abs.clone().clamp_max(1.0);
                let linear = abs - quadratic.clone();
                quadratic.powf_scalar(2.0) * 0.5 + linear
            }
            (Head::Regression { .. } | Head::Reconstruction { .. }, BatchTargets::Values(y)) => {
                (logits - y.clone()).powf_scalar(2.0)
            }
            _ => unreachable!("targets are checked against the head in `upload`"),
        };
        per_output.mean_dim(1).reshape([rows])
    }

    /// The class weight of each row's true class (1 where the head has no
    /// class weights).
    fn class_weight_per_row<B: Backend>(
        &self,
        class_weights: &Tensor<B, 1>,
        targets: &BatchTargets<B>,
    ) -> Tensor<B, 1> {
        match (self, targets) {
            (Head::Multiclass { .. }, BatchTargets::Classes(y)) => {
                class_weights.clone().select(0, y.clone())
            }
            (Head::Binary, BatchTargets::Values(y)) => {
                let [rows, _] = y.dims();
                let w0 = class_weights.clone().narrow(0, 0, 1).reshape([1, 1]);
                let w1 = class_weights.clone().narrow(0, 1, 1).reshape([1, 1]);
                (y.clone() * (w1 - w0.clone()) + w0).reshape([rows])
            }
            (_, BatchTargets::Classes(y)) => Tensor::ones([y.dims()[0]], &y.device()),
            (_, BatchTargets::Values(y)) => Tensor::ones([y.dims()[0]], &y.device()),
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

#[cfg(test)]
mod tests {
    use super::*;
    type B = burn::backend::Flex;

    fn value(t: Tensor<B, 1>) -> f32 {
        t.into_data().to_vec::<f32>().unwrap()[0]
    }

    fn batch(head: Head, rows: &[f32], width: usize) -> (Tensor<B, 2>, BatchTargets<B>) {
        let device = Default::default();
        let n = rows.len() / width;
        let logits = Tensor::<B, 2>::from_data(TensorData::new(rows.to_vec(), [n, width]), &device);
        let targets = match head {
            Head::Multiclass { .. } => BatchTargets::Classes(Tensor::<B, 1, Int>::from_data(
                TensorData::new((0..n as i64).map(|i| i % width as i64).collect(), [n]),
                &device,
            )),
            _ => BatchTargets::Values(Tensor::<B, 2>::from_data(
                TensorData::new((0..n * width).map(|i| (i % 2) as f32).collect(), [n, width]),
                &device,
            )),
        };
        (logits, targets)
    }

    fn weights(w: &[f32]) -> Option<Tensor<B, 1>> {
        Some(Tensor::from_data(
            TensorData::new(w.to_vec(), [w.len()]),
            &Default::default(),
        ))
    }

    #[test]
    fn unit_sample_weights_change_nothing_and_zero_weights_leave_rows_out() {
        let heads = [
            (Head::Multiclass { classes: 2 }, 2),
            (Head::Binary, 1),
            (
                Head::Regression {
                    outputs: 1,
                    huber: true,
                },
                1,
            ),
            (Head::Reconstruction { width: 2 }, 2),
        ];
        let class_weights: Tensor<B, 1> =
            Tensor::from_data(TensorData::new(vec![1.0f32, 3.0], [2]), &Default::default());
        for (head, width) in heads {
            let rows = [0.3f32, -1.2, 2.0, 0.1, -0.4, 0.8, 1.5, -2.0];
            let (logits, targets) = batch(head, &rows[..4 * width], width);
            let cw =
                matches!(head, Head::Multiclass { .. } | Head::Binary).then_some(&class_weights);
            let plain = value(head.loss(logits.clone(), &targets, cw, None));
            let ones = value(head.loss(logits.clone(), &targets, cw, weights(&[1.0; 4])));
            assert!((plain - ones).abs() < 1e-5, "{head:?}: {plain} vs {ones}");
            // Rows 0 and 1 alone, against the same rows with 2 and 3 at weight 0.
            let (first, first_targets) = batch(head, &rows[..2 * width], width);
            let alone = value(head.loss(first, &first_targets, cw, None));
            let zeroed = value(head.loss(logits, &targets, cw, weights(&[1.0, 1.0, 0.0, 0.0])));
            assert!(
                (alone - zeroed).abs() < 1e-5,
                "{head:?}: {alone} vs {zeroed}"
            );
        }
    }
}
