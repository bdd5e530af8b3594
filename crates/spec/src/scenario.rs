//! The scenario file (`scenarios/<name>.yaml`): one runnable configuration of
//! a plugin — which data, which model, how to train, on which backend.

use crate::values::{Count, Fraction, Name, Positive};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A runnable configuration of one plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Scenario name; runs are stored under `runs/<name>/`.
    pub name: Name,
    /// The plugin this scenario configures.
    pub plugin: Name,
    /// What this variant is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which of the plugin's heads to train (default: its first), e.g. a
    /// supervised and an unsupervised view of the same traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Name>,
    /// Several of the plugin's heads trained together on one shared trunk
    /// (instead of `head`): the first is the primary head (it picks the
    /// best epoch, sets thresholds and is explained); every head is
    /// evaluated and served. Related questions about the same rows (will
    /// the machine fail, and how) then share what the trunk learns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<HeadChoice>,
    /// Which slice of the plugin's data to use.
    #[serde(default)]
    pub data: ScenarioData,
    /// Network shape.
    pub model: ModelSpec,
    /// Optimisation settings.
    pub training: TrainingSpec,
    /// Compute backend.
    #[serde(default)]
    pub backend: BackendKind,
    /// When the requested backend is unavailable, train on the CPU default
    /// instead of failing (the switch is logged).
    #[serde(default)]
    pub fallback_to_cpu: bool,
    /// Seed for weight initialisation, shuffling, dropout and splits.
    pub seed: u64,
    /// The bar a held-out metric must clear (a published baseline, or what
    /// the business agreed to), so `indus eval-all` can say whether the
    /// scenario is good enough instead of leaving it to a reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<QualityTarget>,
    /// An autoencoder trained beside a classifier head, on the training rows
    /// of its usual class only: a row it cannot reproduce is given the
    /// `flags` class whatever the classifier says. Labels only show the
    /// kinds of trouble already seen; the guard also catches the unusual
    /// rows no label described (new attack types), at the cost of some
    /// false alarms on usual rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novelty_guard: Option<NoveltyGuard>,
}

impl Scenario {
    /// Sets the epochs of every network the scenario trains (the model's
    /// and the novelty guard's): a quick trial run should be quick
    /// throughout.
    pub fn set_epochs(&mut self, epochs: Count) {
        self.training.epochs = epochs;
        if let Some(g) = &mut self.novelty_guard {
            g.training.epochs = epochs;
        }
    }
}

/// Settings of a scenario's [`Scenario::novelty_guard`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoveltyGuard {
    /// The class whose training rows show what usual rows look like
    /// (default: the head's first class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_class: Option<String>,
    /// The class a row the guard flags is given (default for a binary
    /// head: its other class; a multiclass head must name one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// The guard fires on rows whose reconstruction error exceeds this
    /// percentile of the usual validation rows' errors (the training rows'
    /// without validation rows): about `100 − p` % false alarms on rows
    /// like the training rows (default 99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_percentile: Option<f64>,
    /// The autoencoder's hidden layers (its input and output are the
    /// scenario's model inputs); one network.
    pub model: ModelSpec,
    /// How the autoencoder is trained.
    pub training: TrainingSpec,
}

/// A held-out metric and the value it must reach: `at_least` for scores
/// (accuracy, ROC-AUC), `at_most` for errors (RMSE); exactly one of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityTarget {
    /// Metric name as in `metrics.json` (e.g. `roc_auc`, `accuracy`, `rmse`);
    /// for cross-validated scenarios, the mean over the folds.
    pub metric: String,
    /// The metric must be at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    /// The metric must be at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
}

impl QualityTarget {
    /// Whether `value` clears the bar.
    pub fn met_by(&self, value: f64) -> bool {
        self.at_least.is_none_or(|b| value >= b) && self.at_most.is_none_or(|b| value <= b)
    }

    /// The bar as a reader writes it, e.g. `roc_auc ≥ 0.8`.
    pub fn describe(&self) -> String {
        match (self.at_least, self.at_most) {
            (Some(b), _) => format!("{} ≥ {b}", self.metric),
            (None, Some(b)) => format!("{} ≤ {b}", self.metric),
            (None, None) => self.metric.clone(),
        }
    }
}

/// One head of a jointly trained scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadChoice {
    /// A head declared by the plugin.
    pub name: Name,
    /// Weight of this head's loss in the sum that is minimised (default:
    /// the plugin's `loss_weight`, itself 1 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_weight: Option<Positive>,
}

/// Data selection for a scenario.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioData {
    /// A local folder holding the data set (overrides `INDUS_DATA_DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Use only the first N training rows (quick experiments, tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<Count>,
    /// Use only the first N test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<Count>,
    /// Share of the training rows held out for validation (early stopping,
    /// best checkpoint). 0 trains on every row, like the Keras reference.
    #[serde(default)]
    pub validation_fraction: Fraction,
    /// For data sets without an official test file: the stratified share of
    /// rows held out as the test split (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<Fraction>,
    /// Stratified k-fold cross-validation instead of one test split: metrics
    /// are reported per fold and as mean ± std, and the served model is then
    /// trained on every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folds: Option<Count>,
    /// With `folds`: run the whole cross-validation this many times, each
    /// time with the rows dealt into folds afresh. On a thousand rows one
    /// deal moves the mean by about as much as a model change; the mean
    /// over every fold of every repeat does not. The pooled out-of-fold
    /// metrics, importance and plots come from the first repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Count>,
    /// For data sets that mark their official split in a column (a
    /// `role: split` column): the rows whose value is listed form the test
    /// split, every other row trains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_column: Option<SplitColumn>,
    /// Time-ordered evaluation: the latest rows by a time column (a
    /// `role: split` column of numbers, e.g. unix seconds) are the test
    /// split, so the model is scored on the future of what it learned from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_split: Option<TimeSplit>,
    /// Scale every number and integer feature column this way instead of
    /// as the plugin declares (embedded ids keep their lookup): one
    /// scenario can try another scaling, e.g. `quantile` for a supervised
    /// model, while another scenario of the same plugin keeps the
    /// plugin's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<crate::Normalization>,
    /// Give every number and integer feature column (embedded ids aside)
    /// this many piecewise-linear bins beside its scaled value, as the
    /// column-level `piecewise_linear_bins` does, whatever the plugin
    /// declares: a scenario can try the encoding without editing the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub piecewise_linear_bins: Option<crate::Count>,
    /// Scale every image feature column's pixels this way instead of as the
    /// plugin declares: per-pixel z-scores help a network on flattened
    /// pixels, while convolutions, which slide one filter over every
    /// position, learn better from pixels on one common scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_scaling: Option<crate::PixelScaling>,
    /// Feature columns of the plugin that this scenario leaves out of its
    /// model (declared or derived): two scenarios of one plugin can use
    /// different inputs, e.g. an autoencoder that gains from derived
    /// columns beside a classifier that does not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_features: Vec<String>,
}

/// The latest share of rows, by a time column, held out for testing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeSplit {
    /// A numeric column of the plugin with `role: split`.
    pub column: String,
    /// Share of the rows, the latest ones, used as the test split.
    pub test_fraction: Fraction,
}

/// The test split named by a column's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitColumn {
    /// A column of the plugin with `role: split`.
    pub name: String,
    /// The values (as written in the file) that put a row in the test split.
    pub test: Vec<String>,
}

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// Gaussian error linear unit.
    Gelu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
}

/// Normalisation applied after each hidden linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// No normalisation.
    #[default]
    None,
    /// Layer normalisation (per row; same in training and serving).
    Layer,
}

/// Weight initialisation of linear layers (biases start at zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Glorot/Xavier uniform: Keras' default for Dense layers.
    #[default]
    GlorotUniform,
    /// He/Kaiming uniform: suited to ReLU stacks.
    HeUniform,
}

/// The shared MLP trunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Convolution layers over the plugin's image column, input side first,
    /// each followed by the activation and a 2×2 max pool; the last
    /// layer's feature maps, flattened, join the other inputs before the
    /// hidden layers. Neighbouring pixels belong together, which a network
    /// on flattened pixels has to learn from the data alone (empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conv: Vec<ConvLayer>,
    /// Width of each hidden layer, input side first.
    pub hidden: Vec<Count>,
    /// Hidden-layer activation.
    #[serde(default)]
    pub activation: Activation,
    /// Dropout rate after each hidden layer during training.
    #[serde(default)]
    pub dropout: Fraction,
    /// Normalisation after each hidden linear layer.
    #[serde(default)]
    pub norm: Norm,
    /// Weight initialisation.
    #[serde(default)]
    pub init: Init,
    /// Networks trained from different initial weights (and batch orders)
    /// on the same rows, their outputs averaged when predicting. On small
    /// data sets one network's result depends on its seed; the average of
    /// a few is steadier and usually ranks better. Costs that many times
    /// the training and prediction time (default 1).
    #[serde(default = "one_network", skip_serializing_if = "is_one_network")]
    pub ensemble: Count,
}

/// One convolution layer of an image stem (`model.conv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvLayer {
    /// Feature maps the layer learns (output channels).
    pub filters: Count,
    /// Side of the square kernel in pixels. Odd, so that zero padding keeps
    /// the image's size before the pool (default 3).
    #[serde(default = "three_pixels")]
    pub kernel: Count,
}

fn three_pixels() -> Count {
    Count::try_from(3u64).expect("3 is a count")
}

fn one_network() -> Count {
    Count::try_from(1u64).expect("1 is a count")
}

fn is_one_network(c: &Count) -> bool {
    c.get() == 1
}

/// Optimiser family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam (L2 weight decay folded into the gradient).
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
    /// Stochastic gradient descent, optionally with momentum.
    Sgd,
}

/// Optimiser and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// Optimiser family.
    pub kind: OptimizerKind,
    /// Initial learning rate.
    pub learning_rate: Positive,
    /// Adam/AdamW first-moment decay.
    #[serde(default = "default_beta1")]
    pub beta1: Fraction,
    /// Adam/AdamW second-moment decay.
    #[serde(default = "default_beta2")]
    pub beta2: Fraction,
    /// Adam/AdamW numerical-stability term (Keras uses 1e-7).
    #[serde(default = "default_epsilon")]
    pub epsilon: Positive,
    /// Weight decay (decoupled for AdamW, L2 otherwise).
    #[serde(default)]
    pub weight_decay: Fraction,
    /// SGD momentum factor; only valid with `kind: sgd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<Fraction>,
    /// Nesterov momentum; only valid with `kind: sgd`.
    #[serde(default)]
    pub nesterov: bool,
}

fn default_beta1() -> Fraction {
    Fraction::try_from(0.9).expect("0.9 is a fraction")
}
fn default_beta2() -> Fraction {
    Fraction::try_from(0.999).expect("0.999 is a fraction")
}
fn default_epsilon() -> Positive {
    Positive::try_from(1e-7).expect("1e-7 is positive")
}

/// Learning-rate schedule family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Multiply by `gamma` every `every_epochs` epochs.
    Step,
    /// Cosine decay from the initial rate to `min_lr` over all epochs.
    Cosine,
}

/// Learning-rate schedule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Schedule family.
    #[serde(default)]
    pub kind: ScheduleKind,
    /// Step schedule: epochs between decays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_epochs: Option<Count>,
    /// Step schedule: decay factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<Fraction>,
    /// Cosine schedule: final learning rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_lr: Option<f64>,
}

/// Which validation number decides early stopping and the best checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Validation loss (lower is better).
    ValLoss,
    /// Validation accuracy (higher is better).
    ValAccuracy,
}

/// Stop when the monitored validation number stops improving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// The number to watch.
    pub monitor: Monitor,
    /// Epochs without improvement before stopping.
    pub patience: Count,
    /// Smallest change that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    /// Passes over the training rows.
    pub epochs: Count,
    /// Rows per optimiser step.
    pub batch_size: Count,
    /// Optimiser.
    pub optimizer: OptimizerSpec,
    /// Learning-rate schedule.
    #[serde(default)]
    pub lr_schedule: ScheduleSpec,
    /// Early stopping; needs `data.validation_fraction` > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
    /// Reshuffle the training rows every epoch.
    #[serde(default = "yes")]
    pub shuffle: bool,
}

fn yes() -> bool {
    true
}

/// Compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// burn's `flex` CPU backend (fastest CPU backend here).
    #[default]
    Flex,
    /// burn's `ndarray` CPU backend.
    Ndarray,
    /// NVIDIA GPU through burn's `cuda` backend (needs the `cuda` feature).
    Cuda,
}

impl BackendKind {
    /// The name used in YAML and in run metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Cuda => "cuda",
        }
    }
}
