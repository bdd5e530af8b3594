//! The training loop shared by every scenario: mini-batches on any burn
//! backend, a per-step learning-rate schedule, validation each epoch, early
//! stopping, and the best and last weights.

use crate::EngineError;
use crate::head::{DeviceTargets, Head, Targets};
use crate::infer::forward_outputs;
use crate::metrics::{binary_to_two_columns, classification_metrics};
use crate::model::{EmbeddingShape, Mlp};
use crate::schedule::learning_rate;
use crate::weights::{ImageShape, MlpWeights};
use burn::module::AutodiffModule;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use indus_spec::{BackendKind, ModelSpec, Monitor, OptimizerKind, TrainingSpec};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Preprocessed inputs with their targets.
#[derive(Debug, Clone)]
pub struct TrainSet {
    /// Row-major model inputs.
    pub x: Vec<f32>,
    /// Inputs per row.
    pub width: usize,
    /// Targets, one entry per row.
    pub targets: Targets,
}

impl TrainSet {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.x.len().checked_div(self.width).unwrap_or(0)
    }
}

/// Everything the engine needs to train one network.
#[derive(Debug, Clone, Copy)]
pub struct TrainRequest<'a> {
    /// Network shape.
    pub model: &'a ModelSpec,
    /// Optimiser, schedule, epochs, batch size, early stopping.
    pub training: &'a TrainingSpec,
    /// What the network predicts.
    pub head: Head,
    /// Seed for initialisation, shuffling and dropout.
    pub seed: u64,
    /// Backend to train on (already probed).
    pub backend: BackendKind,
    /// Training rows.
    pub train: &'a TrainSet,
    /// Validation rows, when the scenario holds some out.
    pub validation: Option<&'a TrainSet>,
    /// Per-class loss weights (classifiers), e.g. to balance rare classes.
    pub class_weights: Option<&'a [f32]>,
    /// Per-row sample weights of the training rows (a `role: weight`
    /// column): each row's loss counts this much, for every head.
    pub sample_weights: Option<&'a [f32]>,
    /// Inputs that are indices into learned tables (users, items).
    pub embeddings: &'a [EmbeddingShape],
    /// Where the image sits among the inputs, for `model.conv` (required
    /// with convolution layers, ignored without them).
    pub image: Option<ImageShape>,
    /// Weight of `head`'s loss when auxiliary heads share the trunk.
    pub loss_weight: f32,
    /// Further heads trained on the same trunk: their outputs follow
    /// `head`'s in the output layer, in this order, and their weighted
    /// losses are added to `head`'s. The best epoch is still chosen by
    /// `head` alone, the one the scenario is about.
    pub auxiliary: &'a [AuxiliaryHead<'a>],
}

/// A head that shares the trunk with the primary head of a [`TrainRequest`].
#[derive(Debug, Clone, Copy)]
pub struct AuxiliaryHead<'a> {
    /// What it predicts.
    pub head: Head,
    /// Weight of its loss in the sum.
    pub loss_weight: f32,
    /// Its targets for the training rows, row-aligned with them.
    pub train: &'a Targets,
    /// Per-class loss weights of a classifier head, like the primary's.
    pub class_weights: Option<&'a [f32]>,
}

impl TrainRequest<'_> {
    /// Width of the shared output layer: every head's outputs side by side.
    pub fn output_width(&self) -> usize {
        self.head.outputs()
            + self
                .auxiliary
                .iter()
                .map(|a| a.head.outputs())
                .sum::<usize>()
    }
}

/// One epoch of the learning curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Wall-clock seconds of the optimisation steps (validation excluded).
    pub seconds: f64,
    /// Learning rate at the epoch's last step.
    pub learning_rate: f64,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Share of training rows classified right during the epoch (classifiers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    /// Loss on the validation rows after the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// Accuracy on the validation rows after the epoch (classifiers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
}

/// The result of a training run.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Weights after the last epoch.
    pub last: MlpWeights,
    /// Weights of the best validation epoch (when validating).
    pub best: Option<MlpWeights>,
    /// 1-based epoch of `best`.
    pub best_epoch: Option<usize>,
    /// The learning curve.
    pub history: Vec<EpochRecord>,
    /// True when early stopping ended the run before the last epoch.
    pub stopped_early: bool,
}

impl TrainOutcome {
    /// The weights to keep: the best validation epoch, else the last.
    pub fn chosen(&self) -> &MlpWeights {
        self.best.as_ref().unwrap_or(&self.last)
    }
}

/// Receives progress while training runs (progress bars, event streams).
pub trait TrainObserver {
    /// Called before a network starts when a run trains several, naming it
    /// (`fold 2/5, network 3/5`, `novelty guard`), so that twenty-five
    /// `epoch 1/40` lines can be told apart; empty for a run's only one.
    fn on_part(&mut self, _part: &str) {}
    /// Called once before the first step.
    fn on_start(&mut self, _epochs: usize, _steps_per_epoch: usize) {}
    /// Called every few steps with the latest batch loss and, for
    /// classifiers, the epoch's running training accuracy.
    fn on_step(&mut self, _epoch: usize, _step: usize, _loss: f64, _accuracy: Option<f64>) {}
    /// Called after each epoch (and its validation).
    fn on_epoch(&mut self, _record: &EpochRecord) {}
    /// Asked between steps: `true` stops training with
    /// [`EngineError::Cancelled`] (a job its owner cancelled).
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl TrainObserver for Silent {}

/// Steps between two progress reports (each report reads a loss back from
/// the device, which forces a synchronisation on GPUs).
const REPORT_EVERY: usize = 25;

/// Trains a network as requested.
pub fn train(
    req: &TrainRequest<'_>,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, EngineError> {
    check_request(req)?;
    match req.backend {
        BackendKind::Flex => with_optimizer::<burn::backend::Autodiff<burn::backend::Flex>>(
            req,
            &Default::default(),
            observer,
        ),
        BackendKind::Ndarray => with_optimizer::<burn::backend::Autodiff<burn::backend::NdArray>>(
            req,
            &Default::default(),
            observer,
        ),
        BackendKind::Cuda => train_cuda(req, observer),
    }
}

#[cfg(feature = "cuda")]
fn train_cuda(
    req: &TrainRequest<'_>,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, EngineError> {
    crate::backend::probe(BackendKind::Cuda)?;
    with_optimizer::<burn::backend::Autodiff<burn::backend::Cuda>>(
        req,
        &Default::default(),
        observer,
    )
}

#[cfg(not(feature = "cuda"))]
fn train_cuda(
    _req: &TrainRequest<'_>,
    _observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, EngineError> {
    crate::backend::probe(BackendKind::Cuda)
        .map(|_| unreachable!("probe fails without the cuda feature"))
}

fn check_request(req: &TrainRequest<'_>) -> Result<(), EngineError> {
    let check = |set: &TrainSet, what: &str| {
        if set.width == 0 || !set.x.len().is_multiple_of(set.width) {
            return Err(EngineError::Shape(format!(
                "{what}: {} values do not split into rows of {}",
                set.x.len(),
                set.width
            )));
        }
        if set.targets.len() != set.rows() {
            return Err(EngineError::Shape(format!(
                "{what}: {} rows but {} targets",
                set.rows(),
                set.targets.len()
            )));
        }
        if set.rows() == 0 {
            return Err(EngineError::Shape(format!("{what}: no rows")));
        }
        if let Some(i) = set.x.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::Shape(format!(
                "{what}: row {} holds a non-finite input value",
                i / set.width + 1
            )));
        }
        Ok(())
    };
    check(req.train, "training rows")?;
    for (i, a) in req.auxiliary.iter().enumerate() {
        if a.train.len() != req.train.rows() {
            return Err(EngineError::Shape(format!(
                "auxiliary head {}: {} targets for {} training rows",
                i + 1,
                a.train.len(),
                req.train.rows()
            )));
        }
        if !(a.loss_weight.is_finite() && a.loss_weight > 0.0) {
            return Err(EngineError::Shape(format!(
                "auxiliary head {}: loss weight {} is not a positive number",
                i + 1,
                a.loss_weight
            )));
        }
    }
    if let Some(v) = req.validation {
        check(v, "validation rows")?;
        if v.width != req.train.width {
            return Err(EngineError::Shape(
                "validation rows are not as wide as training rows".into(),
            ));
        }
    }
    check_image(req)
}

/// Convolutions need an image that fits in the rows and survives their pools.
fn check_image(req: &TrainRequest<'_>) -> Result<(), EngineError> {
    let layers = req.model.conv.len();
    if layers == 0 {
        return Ok(());
    }
    crate::backend::check_convolutions(req.backend, true)?;
    let Some(image) = req.image else {
        return Err(EngineError::Shape(
            "convolution layers need an image input to read".into(),
        ));
    };
    if image.span().end > req.train.width || image.pixels() == 0 {
        return Err(EngineError::Shape(format!(
            "an image of {}×{} pixels at input {} does not fit in rows of {} inputs",
            image.height, image.width, image.position, req.train.width
        )));
    }
    let overlaps = req
        .embeddings
        .iter()
        .any(|e| image.span().contains(&e.position));
    if overlaps {
        return Err(EngineError::Shape(
            "an embedded input lies inside the image's pixels".into(),
        ));
    }
    if image.pooled(layers).0 == 0 || image.pooled(layers).1 == 0 {
        return Err(EngineError::Shape(format!(
            "{layers} convolution layers halve a {}×{} image {layers} times, to nothing; use fewer",
            image.height, image.width
        )));
    }
    Ok(())
}

fn with_optimizer<B: AutodiffBackend>(
    req: &TrainRequest<'_>,
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, EngineError> {
    let o = &req.training.optimizer;
    let decay = o.weight_decay.get();
    let l2 = (decay > 0.0).then(|| WeightDecayConfig::new(decay as f32));
    match o.kind {
        OptimizerKind::Adam => {
            let cfg = AdamConfig::new()
                .with_beta_1(o.beta1.get() as f32)
                .with_beta_2(o.beta2.get() as f32)
                .with_epsilon(o.epsilon.get() as f32)
                .with_weight_decay(l2);
            fit::<B, _>(req, device, cfg.init(), observer)
        }
        OptimizerKind::Adamw => {
            let cfg = AdamWConfig::new()
                .with_beta_1(o.beta1.get() as f32)
                .with_beta_2(o.beta2.get() as f32)
                .with_epsilon(o.epsilon.get() as f32)
                .with_weight_decay(decay as f32);
            fit::<B, _>(req, device, cfg.init(), observer)
        }
        OptimizerKind::Sgd => {
            let momentum = o.momentum.map(|m| {
                MomentumConfig::new()
                    .with_momentum(m.get())
                    .with_dampening(0.0)
                    .with_nesterov(o.nesterov)
            });
            let cfg = SgdConfig::new()
                .with_momentum(momentum)
                .with_weight_decay(l2);
            fit::<B, _>(req, device, cfg.init(), observer)
        }
    }
}

fn fit<B: AutodiffBackend, O: Optimizer<Mlp<B>, B>>(
    req: &TrainRequest<'_>,
    device: &B::Device,
    mut optim: O,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, EngineError> {
    let train = req.train;
    let n = train.rows();
    let batch = req.training.batch_size.get().min(n);
    let steps = n.div_ceil(batch);
    let epochs = req.training.epochs.get();

    // Separate streams so changing e.g. dropout does not change the initial weights.
    let mut init_rng = StdRng::seed_from_u64(req.seed);
    let mut shuffle_rng = StdRng::seed_from_u64(req.seed.wrapping_add(1));
    let mut dropout_rng = StdRng::seed_from_u64(req.seed.wrapping_add(2));

    let mut model = Mlp::<B>::init(
        req.model,
        train.width,
        req.embeddings,
        req.image,
        req.output_width(),
        &mut init_rng,
        device,
    );
    // Regression outputs start from the mean target, as a rating model
    // would predict with no other information, instead of from zero.
    let heads: Vec<(Head, &Targets)> = std::iter::once((req.head, &train.targets))
        .chain(req.auxiliary.iter().map(|a| (a.head, a.train)))
        .collect();
    if heads
        .iter()
        .any(|(h, _)| matches!(h, Head::Regression { .. }))
    {
        let mut weights = model.to_weights();
        let mut offset = 0;
        for (head, targets) in &heads {
            if let (Head::Regression { outputs, .. }, Targets::Values { values, .. }) =
                (head, targets)
            {
                for o in 0..*outputs {
                    let column: Vec<f64> = values
                        .iter()
                        .skip(o)
                        .step_by(*outputs)
                        .map(|&v| f64::from(v))
                        .collect();
                    weights.output.bias[offset + o] =
                        (column.iter().sum::<f64>() / column.len().max(1) as f64) as f32;
                }
            }
            offset += head.outputs();
        }
        model = Mlp::from_weights(&weights, req.model.dropout.get(), device);
    }
    let x_all =
        Tensor::<B, 2>::from_data(TensorData::new(train.x.clone(), [n, train.width]), device);
    let y_all: DeviceTargets<B> = req.head.upload(&train.targets, device)?;
    let mut aux_targets = Vec::with_capacity(req.auxiliary.len());
    let mut offset = req.head.outputs();
    for a in req.auxiliary {
        let weights = a
            .class_weights
            .map(|w| Tensor::<B, 1>::from_data(TensorData::new(w.to_vec(), [w.len()]), device));
        aux_targets.push((a, offset, a.head.upload::<B>(a.train, device)?, weights));
        offset += a.head.outputs();
    }
    let joint = !req.auxiliary.is_empty();

    let sample_weights = match req.sample_weights {
        Some(w) if w.len() != n => {
            return Err(EngineError::Shape(format!(
                "{} sample weights for {n} training rows",
                w.len()
            )));
        }
        Some(w) => Some(Tensor::<B, 1>::from_data(
            TensorData::new(w.to_vec(), [n]),
            device,
        )),
        None => None,
    };
    let is_multiclass = matches!(req.head, Head::Multiclass { .. });
    let class_weights = req
        .class_weights
        .map(|w| Tensor::<B, 1>::from_data(TensorData::new(w.to_vec(), [w.len()]), device));
    let mut order: Vec<usize> = (0..n).collect();
    let mut history = Vec::new(); // grows as epochs run: a bound is the spec's job, not a reservation's
    let mut best: Option<(f64, usize, MlpWeights)> = None;
    let mut since_best = 0usize;
    let mut stopped_early = false;
    observer.on_start(epochs, steps);

    for epoch in 0..epochs {
        let started = Instant::now();
        if req.training.shuffle {
            order.shuffle(&mut shuffle_rng);
        }
        let mut loss_sum = Tensor::<B::InnerBackend, 1>::zeros([1], device);
        let mut correct = Tensor::<B::InnerBackend, 1, Int>::zeros([1], device);
        let mut lr = 0.0;
        let mut seen = 0usize;
        for (step, rows) in order.chunks(batch).enumerate() {
            lr = learning_rate(req.training, epoch, step, steps);
            let ids: Vec<i64> = rows.iter().map(|&i| i as i64).collect();
            let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [rows.len()]), device);
            let xb = x_all.clone().select(0, idx.clone());
            let wb = sample_weights
                .as_ref()
                .map(|w| w.clone().select(0, idx.clone()));
            let idx_all = idx.clone();
            let yb = y_all.select(idx);
            let all = model.forward(xb, Some(&mut dropout_rng));
            let logits = if joint {
                all.clone().narrow(1, 0, req.head.outputs())
            } else {
                all.clone()
            };
            if let (Head::Multiclass { .. }, crate::head::BatchTargets::Classes(y)) =
                (&req.head, &yb)
            {
                let hits = logits
                    .clone()
                    .inner()
                    .argmax(1)
                    .reshape([rows.len()])
                    .equal(y.clone().inner())
                    .int()
                    .sum();
                correct = correct + hits;
            }
            let mut loss = req
                .head
                .loss(logits, &yb, class_weights.as_ref(), wb.clone());
            if joint {
                loss = loss.mul_scalar(req.loss_weight);
                for (a, at, targets, weights) in &aux_targets {
                    let yb = targets.select(idx_all.clone());
                    let part = a.head.loss(
                        all.clone().narrow(1, *at, a.head.outputs()),
                        &yb,
                        weights.as_ref(),
                        wb.clone(),
                    );
                    loss = loss + part.mul_scalar(a.loss_weight);
                }
            }
            loss_sum = loss_sum + loss.clone().inner().mul_scalar(rows.len() as f32);
            seen += rows.len();
            if step % REPORT_EVERY == 0 {
                if observer.cancelled() {
                    return Err(EngineError::Cancelled { epochs: epoch });
                }
                let value = scalar(loss.clone().inner());
                if !value.is_finite() {
                    return Err(diverged(epoch, value));
                }
                let accuracy =
                    is_multiclass.then(|| int_scalar(correct.clone()) as f64 / seen as f64);
                observer.on_step(epoch, step, value, accuracy);
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let train_loss = scalar(loss_sum) / n as f64;
        if !train_loss.is_finite() {
            return Err(diverged(epoch, train_loss));
        }
        let train_accuracy = is_multiclass.then(|| int_scalar(correct) as f64 / n as f64);
        let seconds = started.elapsed().as_secs_f64();

        let (val_loss, val_accuracy) = match req.validation {
            Some(v) => {
                let (loss, acc) = evaluate(&model.valid(), req.head, v, device);
                (Some(loss), acc)
            }
            None => (None, None),
        };
        let record = EpochRecord {
            epoch: epoch + 1,
            seconds,
            learning_rate: lr,
            train_loss,
            train_accuracy,
            val_loss,
            val_accuracy,
        };
        observer.on_epoch(&record);
        history.push(record);

        if let Some(score) = monitored(req, val_loss, val_accuracy) {
            let min_delta = req
                .training
                .early_stopping
                .as_ref()
                .map_or(0.0, |e| e.min_delta);
            let improved = best.as_ref().is_none_or(|(b, _, _)| score < b - min_delta);
            if improved {
                best = Some((score, epoch + 1, model.to_weights()));
                since_best = 0;
            } else {
                since_best += 1;
                if let Some(es) = &req.training.early_stopping
                    && since_best >= es.patience.get()
                {
                    stopped_early = epoch + 1 < epochs;
                    break;
                }
            }
        }
    }
    let (best_epoch, best) = match best {
        Some((_, epoch, w)) => (Some(epoch), Some(w)),
        None => (None, None),
    };
    Ok(TrainOutcome {
        last: model.to_weights(),
        best,
        best_epoch,
        history,
        stopped_early,
    })
}

/// The validation number to minimise (accuracy is negated).
fn monitored(
    req: &TrainRequest<'_>,
    val_loss: Option<f64>,
    val_accuracy: Option<f64>,
) -> Option<f64> {
    let monitor = req
        .training
        .early_stopping
        .as_ref()
        .map_or(Monitor::ValLoss, |e| e.monitor);
    match monitor {
        Monitor::ValLoss => val_loss,
        Monitor::ValAccuracy => val_accuracy.map(|a| -a).or(val_loss),
    }
}

fn diverged(epoch: usize, value: f64) -> EngineError {
    EngineError::Diverged(format!(
        "the training loss became {value} in epoch {}; lower the learning rate or check the inputs",
        epoch + 1
    ))
}

fn int_scalar<B: burn::tensor::backend::Backend>(t: Tensor<B, 1, Int>) -> i64 {
    t.into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(0)
}

fn scalar<B: burn::tensor::backend::Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f32::NAN) as f64
}

/// Validation loss and (for classifiers) accuracy, computed on the host from
/// the activated outputs.
fn evaluate<B: burn::tensor::backend::Backend>(
    model: &Mlp<B>,
    head: Head,
    set: &TrainSet,
    device: &B::Device,
) -> (f64, Option<f64>) {
    let outputs = forward_outputs(model, head, &set.x, set.width, device);
    match (&head, &set.targets) {
        (Head::Multiclass { classes }, Targets::Classes(labels)) => {
            let names: Vec<String> = (0..*classes).map(|c| c.to_string()).collect();
            let m = classification_metrics(&outputs, labels, &names);
            (m.log_loss.unwrap_or(f64::INFINITY), Some(m.accuracy))
        }
        (Head::Binary, Targets::Classes(labels)) => {
            let m = classification_metrics(
                &binary_to_two_columns(&outputs),
                labels,
                &["0".into(), "1".into()],
            );
            (m.log_loss.unwrap_or(f64::INFINITY), Some(m.accuracy))
        }
        (_, Targets::Values { values, .. }) => {
            let mse = outputs
                .iter()
                .zip(values)
                .map(|(p, y)| ((p - y) as f64).powi(2))
                .sum::<f64>()
                / values.len().max(1) as f64;
            (mse, None)
        }
        _ => (f64::NAN, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::{Scenario, parse_scenario};
    use rand::Rng;
    use std::path::Path;

    fn scenario(extra_training: &str, model: &str) -> Scenario {
        let text = format!(
            "name: t\nplugin: p\nseed: 3\nmodel: {model}\ntraining:\n  epochs: 30\n  batch_size: 32\n  optimizer: {{kind: adam, learning_rate: 0.01}}\n{extra_training}"
        );
        parse_scenario(Path::new("t.yaml"), &text).unwrap()
    }

    /// Three classes on concentric rings: not linearly separable, so only a
    /// working hidden layer gets high accuracy.
    fn rings(n: usize, seed: u64) -> TrainSet {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let class = (i % 3) as u32;
            let radius = 1.0 + class as f32 + rng.random_range(-0.3..0.3);
            let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            x.extend([radius * angle.cos(), radius * angle.sin()]);
            labels.push(class);
        }
        TrainSet {
            x,
            width: 2,
            targets: Targets::Classes(labels),
        }
    }

    fn run(
        s: &Scenario,
        backend: BackendKind,
        train_set: &TrainSet,
        val: Option<&TrainSet>,
    ) -> TrainOutcome {
        let req = request(
            s,
            Head::Multiclass { classes: 3 },
            s.seed,
            backend,
            train_set,
            val,
            None,
        );
        train(&req, &mut Silent).unwrap()
    }

    #[test]
    fn learns_a_nonlinear_problem_and_repeats_itself_exactly() {
        let s = scenario("", "{hidden: [32, 32]}");
        let data = rings(600, 1);
        let a = run(&s, BackendKind::Flex, &data, None);
        let acc = a.history.last().unwrap().train_accuracy.unwrap();
        assert!(acc > 0.95, "train accuracy {acc}");
        let b = run(&s, BackendKind::Flex, &data, None);
        assert_eq!(a.last, b.last, "same seed must give the same weights");
        let c = run(
            &scenario("", "{hidden: [32, 32]}").clone_with_seed(4),
            BackendKind::Flex,
            &data,
            None,
        );
        assert_ne!(a.last, c.last);
    }

    #[test]
    fn auxiliary_heads_share_the_trunk_and_each_gets_its_own_columns() {
        let s = scenario("", "{hidden: [32, 32]}");
        let data = rings(600, 1);
        let Targets::Classes(rings) = &data.targets else {
            unreachable!()
        };
        // Second question about the same points: the radius (a number) and
        // whether the point is on the outer ring (yes / no).
        let radius: Vec<f32> = data
            .x
            .chunks_exact(2)
            .map(|p| (p[0] * p[0] + p[1] * p[1]).sqrt())
            .collect();
        let outer = Targets::Classes(rings.iter().map(|&c| u32::from(c == 2)).collect());
        let radius_targets = Targets::Values {
            values: radius.clone(),
            width: 1,
        };
        let auxiliary = [
            AuxiliaryHead {
                head: Head::Binary,
                loss_weight: 0.5,
                train: &outer,
                class_weights: None,
            },
            AuxiliaryHead {
                head: Head::Regression {
                    outputs: 1,
                    huber: false,
                },
                loss_weight: 1.0,
                train: &radius_targets,
                class_weights: None,
            },
        ];
        let mut req = request(
            &s,
            Head::Multiclass { classes: 3 },
            s.seed,
            BackendKind::Flex,
            &data,
            None,
            None,
        );
        req.auxiliary = &auxiliary;
        assert_eq!(req.output_width(), 5);
        let out = train(&req, &mut Silent).unwrap();
        assert_eq!(out.last.outputs(), 5);
        let acc = out.history.last().unwrap().train_accuracy.unwrap();
        assert!(acc > 0.95, "primary head accuracy {acc}");

        // Each head served from its own columns of the shared output layer.
        let primary = out.last.output_columns(0, 3).unwrap();
        let p = crate::Predictor::new(&primary, Head::Multiclass { classes: 3 }, BackendKind::Flex)
            .unwrap()
            .predict(&data.x)
            .unwrap();
        let outer_p = crate::Predictor::new(
            &out.last.output_columns(3, 1).unwrap(),
            Head::Binary,
            BackendKind::Flex,
        )
        .unwrap()
        .predict(&data.x)
        .unwrap();
        let radius_p = crate::Predictor::new(
            &out.last.output_columns(4, 1).unwrap(),
            Head::Regression {
                outputs: 1,
                huber: false,
            },
            BackendKind::Flex,
        )
        .unwrap()
        .predict(&data.x)
        .unwrap();
        let sums_to_one = p
            .chunks_exact(3)
            .all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(
            sums_to_one,
            "primary probabilities come from its 3 columns only"
        );
        let outer_right = outer_p
            .iter()
            .zip(rings)
            .filter(|(q, c)| (**q >= 0.5) == (**c == 2))
            .count() as f64
            / rings.len() as f64;
        assert!(outer_right > 0.95, "outer-ring head accuracy {outer_right}");
        let rmse = (radius_p
            .iter()
            .zip(&radius)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / radius.len() as f64)
            .sqrt();
        // Radii spread over 0.7..3.3 (std ~0.85): a head that learned
        // nothing would sit near that.
        assert!(rmse < 0.25, "radius head RMSE {rmse}");
        assert!(out.last.output_columns(4, 2).is_err());
    }

    #[test]
    fn ndarray_backend_learns_too() {
        let s = scenario(
            "",
            "{hidden: [32], activation: tanh, norm: layer, dropout: 0.1}",
        );
        let out = run(&s, BackendKind::Ndarray, &rings(300, 2), None);
        assert!(out.history.last().unwrap().train_accuracy.unwrap() > 0.85);
    }

    #[test]
    fn early_stopping_keeps_the_best_epoch() {
        let s = scenario(
            "  early_stopping: {monitor: val_loss, patience: 2}\ndata: {validation_fraction: 0.4}\n",
            "{hidden: [4]}",
        );
        let mut s = s;
        s.training.epochs = 200u64.try_into().unwrap();
        s.training.optimizer.learning_rate = 0.05f64.try_into().unwrap();
        let out = run(&s, BackendKind::Flex, &rings(90, 3), Some(&rings(60, 4)));
        assert!(
            out.stopped_early,
            "a tiny net on tiny data must stop before 200 epochs"
        );
        let best = out.best_epoch.unwrap();
        let best_loss = out.history[best - 1].val_loss.unwrap();
        assert!(out.history.iter().all(|r| r.val_loss.unwrap() >= best_loss));
        assert_eq!(out.history.len(), best + 2);
    }

    #[test]
    fn non_finite_inputs_are_rejected_with_the_row() {
        let s = scenario("", "{hidden: [4]}");
        let mut data = rings(30, 5);
        data.x[7] = f32::NAN;
        let req = request(
            &s,
            Head::Multiclass { classes: 3 },
            0,
            BackendKind::Flex,
            &data,
            None,
            None,
        );
        let err = train(&req, &mut Silent).unwrap_err().to_string();
        assert!(err.contains("row 4"), "{err}");
    }

    #[test]
    fn balanced_class_weights_raise_minority_recall() {
        // Two overlapping classes, 90 % / 10 %: unweighted training mostly
        // predicts the majority class.
        let mut rng = StdRng::seed_from_u64(9);
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        for i in 0..1000 {
            let class = u32::from(i % 10 == 0);
            // Roughly normal noise (sum of three uniforms, variance 1).
            let noise: f32 = (0..3).map(|_| rng.random_range(-1.0f32..1.0)).sum();
            x.push(class as f32 + noise);
            labels.push(class);
        }
        let data = TrainSet {
            x,
            width: 1,
            targets: Targets::Classes(labels.clone()),
        };
        let s = scenario("", "{hidden: [8]}");
        // Share of the 100 minority rows whose class-1 output wins.
        let minority_recall = |p: &[f32]| {
            let hits = p
                .chunks(2)
                .zip(&labels)
                .filter(|(r, l)| **l == 1 && r[1] > r[0])
                .count();
            hits as f64 / 100.0
        };
        let recall = |weights: Option<&[f32]>| {
            let req = request(
                &s,
                Head::Multiclass { classes: 2 },
                1,
                BackendKind::Flex,
                &data,
                None,
                weights,
            );
            let out = train(&req, &mut Silent).unwrap();
            let p = crate::Predictor::new(&out.last, req.head, BackendKind::Flex)
                .unwrap()
                .predict(&data.x)
                .unwrap();
            minority_recall(&p)
        };
        let plain = recall(None);
        let weights = [1000.0 / (2.0 * 900.0), 1000.0 / (2.0 * 100.0)];
        let balanced = recall(Some(&weights));
        assert!(
            balanced > plain + 0.2,
            "minority recall {plain} -> {balanced}"
        );

        // The same holds for an auxiliary head on a shared trunk, whose
        // class weights are its own: here the rare class is the auxiliary
        // head's, the primary head learns an easy regression beside it.
        let rare = Targets::Classes(labels.clone());
        let easy = TrainSet {
            targets: Targets::Values {
                values: data.x.iter().map(|v| 2.0 * v).collect(),
                width: 1,
            },
            ..data.clone()
        };
        let aux_recall = |weights: Option<&[f32]>| {
            let auxiliary = [AuxiliaryHead {
                head: Head::Multiclass { classes: 2 },
                loss_weight: 1.0,
                train: &rare,
                class_weights: weights,
            }];
            let primary = Head::Regression {
                outputs: 1,
                huber: false,
            };
            let mut req = request(&s, primary, 1, BackendKind::Flex, &easy, None, None);
            req.auxiliary = &auxiliary;
            let out = train(&req, &mut Silent).unwrap();
            let own = out.last.output_columns(1, 2).unwrap();
            let p = crate::Predictor::new(&own, Head::Multiclass { classes: 2 }, BackendKind::Flex)
                .unwrap()
                .predict(&data.x)
                .unwrap();
            minority_recall(&p)
        };
        let plain = aux_recall(None);
        let balanced = aux_recall(Some(&weights));
        assert!(
            balanced > plain + 0.2,
            "auxiliary minority recall {plain} -> {balanced}"
        );
    }

    /// 8×8 images, after two plain inputs, hold a bar of three pixels,
    /// horizontal (class 0) or vertical (class 1), anywhere; `seed` draws
    /// the places and the noise.
    fn bars(n: usize, seed: u64) -> TrainSet {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        for i in 0..n {
            let vertical = i % 2 == 1;
            let (r, c) = if vertical {
                (rng.random_range(0..6), rng.random_range(0..8))
            } else {
                (rng.random_range(0..8), rng.random_range(0..6))
            };
            let mut image: Vec<f32> = (0..64).map(|_| rng.random_range(0.0..0.3)).collect();
            for k in 0..3 {
                let (rr, cc) = if vertical { (r + k, c) } else { (r, c + k) };
                image[rr * 8 + cc] = 1.0;
            }
            x.extend([rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)]);
            x.extend(image);
            labels.push(u32::from(vertical));
        }
        TrainSet {
            x,
            width: 66,
            targets: Targets::Classes(labels),
        }
    }

    #[test]
    fn a_convolution_stem_tells_bars_apart_wherever_they_lie() {
        let s = scenario("", "{conv: [{filters: 8}], hidden: [16]}");
        let (train_set, test_set) = (bars(400, 1), bars(200, 2));
        let head = Head::Binary;
        let image = ImageShape {
            position: 2,
            height: 8,
            width: 8,
        };
        let mut req = request(&s, head, 3, BackendKind::Flex, &train_set, None, None);
        req.image = Some(image);
        let out = train(&req, &mut Silent).unwrap();
        let w = out.chosen();
        assert_eq!((w.convs.len(), w.image), (1, Some(image)));
        assert_eq!(w.inputs(), 66, "2 plain inputs + 64 pixels");
        assert_eq!(w.conv_features(), 8 * 4 * 4, "8 maps pooled to 4×4");
        let p = crate::Predictor::new(w, head, BackendKind::Flex)
            .unwrap()
            .predict(&test_set.x)
            .unwrap();
        let Targets::Classes(labels) = &test_set.targets else {
            unreachable!()
        };
        let right = p
            .iter()
            .zip(labels)
            .filter(|(p, l)| (**p >= 0.5) == (**l == 1))
            .count();
        assert!(right >= 190, "{right} of 200 new images right");

        let slow = crate::Predictor::new(w, head, BackendKind::Ndarray)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(slow.contains("ndarray") && slow.contains("flex"), "{slow}");
        req.backend = BackendKind::Ndarray;
        let err = train(&req, &mut Silent).unwrap_err().to_string();
        assert!(err.contains("400 times slower"), "{err}");
        req.backend = BackendKind::Flex;
        req.image = None;
        let err = train(&req, &mut Silent).unwrap_err().to_string();
        assert!(err.contains("need an image input"), "{err}");
        req.image = Some(ImageShape {
            position: 10,
            ..image
        });
        let err = train(&req, &mut Silent).unwrap_err().to_string();
        assert!(err.contains("does not fit"), "{err}");
        let deep = scenario(
            "",
            "{conv: [{filters: 2}, {filters: 2}, {filters: 2}, {filters: 2}], hidden: [4]}",
        );
        let mut req = request(&deep, head, 3, BackendKind::Flex, &train_set, None, None);
        req.image = Some(image);
        let err = train(&req, &mut Silent).unwrap_err().to_string();
        assert!(err.contains("to nothing"), "{err}");
    }

    /// Each of 30 users rates with a fixed taste and each of 20 items adds a
    /// fixed quality: only learned vectors per id can fit that, since the
    /// index values themselves carry no order.
    #[test]
    fn embedded_ids_learn_a_value_per_user_and_item() {
        let mut rng = StdRng::seed_from_u64(5);
        let taste: Vec<f32> = (0..30).map(|_| rng.random_range(-1.0..1.0)).collect();
        let quality: Vec<f32> = (0..20).map(|_| rng.random_range(-1.0..1.0)).collect();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (u, t) in taste.iter().enumerate() {
            for (i, q) in quality.iter().enumerate() {
                // Inputs: a constant plain value, then the two table rows (0 is
                // the unseen row, so ids start at 1).
                x.extend([0.5, (u + 1) as f32, (i + 1) as f32]);
                y.push(3.0 + t + q);
            }
        }
        let set = TrainSet {
            x,
            width: 3,
            targets: Targets::Values {
                values: y.clone(),
                width: 1,
            },
        };
        let s = scenario("", "{hidden: [32]}");
        let embeddings = [
            EmbeddingShape {
                position: 1,
                rows: 31,
                dim: 4,
            },
            EmbeddingShape {
                position: 2,
                rows: 21,
                dim: 4,
            },
        ];
        let head = Head::Regression {
            outputs: 1,
            huber: false,
        };
        let mut req = request(&s, head, 3, BackendKind::Flex, &set, None, None);
        req.embeddings = &embeddings;
        let out = train(&req, &mut Silent).unwrap();
        let w = out.chosen();
        assert_eq!(w.embeddings.len(), 2);
        assert_eq!(w.inputs(), 3);
        let p = crate::Predictor::new(w, head, BackendKind::Flex).unwrap();
        let pred = p.predict(&set.x).unwrap();
        let rmse = crate::rating::regression_metrics(&pred, &y).rmse;
        // The spread of the targets is ~0.8; a model blind to the ids stays there.
        assert!(rmse < 0.25, "rmse {rmse}");
        // The saved weights give the same predictions.
        let back =
            MlpWeights::from_safetensors(Path::new("w"), &w.to_safetensors().unwrap()).unwrap();
        let again = crate::Predictor::new(&back, head, BackendKind::Flex).unwrap();
        assert_eq!(again.predict(&set.x).unwrap(), pred);
    }

    fn request<'a>(
        s: &'a Scenario,
        head: Head,
        seed: u64,
        backend: BackendKind,
        train: &'a TrainSet,
        validation: Option<&'a TrainSet>,
        class_weights: Option<&'a [f32]>,
    ) -> TrainRequest<'a> {
        TrainRequest {
            model: &s.model,
            training: &s.training,
            head,
            seed,
            backend,
            train,
            validation,
            class_weights,
            sample_weights: None,
            embeddings: &[],
            image: None,
            loss_weight: 1.0,
            auxiliary: &[],
        }
    }

    trait WithSeed {
        fn clone_with_seed(&self, seed: u64) -> Scenario;
    }
    impl WithSeed for Scenario {
        fn clone_with_seed(&self, seed: u64) -> Scenario {
            Scenario {
                seed,
                ..self.clone()
            }
        }
    }
}
