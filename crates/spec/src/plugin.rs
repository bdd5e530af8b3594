//! The plugin manifest (`plugins/<name>/plugin.yaml`): what an industry
//! package declares about its data and its model heads.

use crate::values::{Count, Fraction, Name, Positive, Sha256Hex};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One industry package: its data schema, where the data comes from and what
/// the model must predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginManifest {
    /// Unique plugin name; scenarios refer to it.
    pub name: Name,
    /// The industry this plugin serves (shown on the dashboard).
    pub industry: String,
    /// One or two sentences on the use case.
    pub description: String,
    /// The data set: where it comes from and what each column means.
    pub data: DataSpec,
    /// What the model predicts. Several heads may share one trunk.
    pub heads: Vec<HeadSpec>,
    /// Published results to compare against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baselines: Vec<Baseline>,
    /// A native library with hooks for what YAML cannot say (derived
    /// features, post-processing); see docs/plugin-guide.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeSpec>,
    /// Groups of people whose held-out results every run compares
    /// (selection rates, error rates, the gaps between groups), for
    /// decisions about people such as credit or diagnosis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<crate::FairnessSpec>,
    /// What every run's model card says beyond the numbers: the use the
    /// model is meant for and what it must not be trusted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardSpec>,
}

/// The plugin's words for its model cards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardSpec {
    /// Who uses the model for what decision, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_use: Option<String>,
    /// Known limits: where the data is thin, old, biased or from another
    /// population; uses the model is not fit for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limitations: Vec<String>,
}

/// Where a plugin's native hooks live and how to configure them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NativeSpec {
    /// Library name as cargo builds it (the crate name with `-` as `_`):
    /// `finance_credit_native` is `libfinance_credit_native.so` on Linux.
    pub library: String,
    /// Free-form settings handed to the plugin's `new` at load time.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub config: serde_json::Value,
    /// Pass integrated-gradient attributions (`attr:<column>`) to
    /// `postprocess`, e.g. for reason codes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attributions: bool,
}

/// Data source and column schema of a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Where the files come from.
    pub source: SourceSpec,
    /// Every column of one input row, in order.
    pub columns: Vec<ColumnSpec>,
    /// What a data file column that the schema does not declare means: a
    /// note worth reading (`warn`, the default: a renamed column in a new
    /// export shows up here before it shows up as a worse model), nothing
    /// (`ignore`), or a mistake worth stopping for (`error`). Undeclared
    /// columns are never parsed, so a wide export costs only the columns
    /// the schema reads.
    #[serde(default, skip_serializing_if = "is_default")]
    pub extra_columns: ExtraColumns,
    /// What a training row with a cell that cannot be read means: a
    /// reason to stop before any run is written (`error`, the default: the
    /// report names each row and column), or a row to leave out (`skip`:
    /// the run counts the rows left out, keeps the first reasons in its
    /// log and `metrics.json`, and the CLI says so). Rows sent to `predict`
    /// or `eval` are never skipped: an answer per input row is the contract.
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_bad_rows: OnBadRows,
    /// A column whose rows belong together (a patient's scans, a
    /// customer's loans): every holdout, validation split and fold puts all
    /// rows with one value of it on the same side, so the test never sees
    /// someone the model trained on. An `id` or scalar feature column.
    /// Without it, copies of a row with the same target are kept together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
}

/// Policy for training rows whose cells cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnBadRows {
    /// Stop, naming every bad row and column (up to a reported maximum).
    #[default]
    Error,
    /// Leave the bad rows out of training and record how many and why.
    Skip,
}

/// Policy for undeclared columns in data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExtraColumns {
    /// Read past them and name them: in the run's log, on `predict`'s
    /// standard error, in the server's log for request rows.
    #[default]
    Warn,
    /// Read past them silently.
    Ignore,
    /// Refuse the file (or the request), naming the undeclared columns.
    Error,
}

/// File format of a data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// IDX image/label files (MNIST layout), optionally gzip-compressed.
    Idx,
    /// Delimited text with a header row (UTF-8).
    Csv,
    /// Apache Parquet files (`train` and optionally `test`), read column
    /// by column with the same checks as CSV; joined tables stay CSV.
    Parquet,
    /// A NumPy `.npz` archive in the MedMNIST layout (`train_images`,
    /// `train_labels`, `val_*`, `test_*`; unsigned bytes).
    Npz,
    /// Folders of image files (PNG, JPEG, BMP, GIF, TIFF), the way scans
    /// and photos are usually kept: `files.train` (and optionally `val`
    /// and `test`, an official split) names a folder holding one
    /// sub-folder per class of the first head (folders inside it belong to
    /// the class). Images are read as 8-bit
    /// grey levels and resized to the image column's `shape`.
    ImageFolder,
}

/// Where a data set lives: a data directory, a cache, or public mirrors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// File format of every file in `files`.
    pub format: SourceFormat,
    /// Sub-folder of the data directory and of the download cache that holds
    /// the files (e.g. `mnist`).
    pub dataset: Name,
    /// The files by role. IDX uses `train_images`, `train_labels`,
    /// `test_images`, `test_labels`. CSV uses `train` (split by the scenario)
    /// and optionally `test` (an official test file). NPZ uses `archive`.
    /// Image folders use `train` and optionally `val` and `test`, each
    /// naming a folder.
    pub files: BTreeMap<String, FileSpec>,
    /// CSV field delimiter (one character), of the data files and of CSV
    /// files given to `predict` and `eval`: exports in the same format as
    /// the training file read without conversion.
    #[serde(default = "comma", skip_serializing_if = "is_comma")]
    pub delimiter: char,
    /// Text encoding of the CSV files, data files and files given to
    /// `predict` and `eval` alike.
    #[serde(default, skip_serializing_if = "is_default")]
    pub encoding: TextEncoding,
    /// Whether the CSV files start with a header row. Without one, the
    /// columns are the declared (non-derived) columns, in order.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub header: bool,
    /// Numbers written with a decimal comma (`61,7`), as spreadsheets in
    /// much of Europe export them, in the CSV files and the files given to
    /// `predict` and `eval`. Needs a delimiter other than `,`. A number
    /// written with a point still reads (default false).
    #[serde(default, skip_serializing_if = "is_default")]
    pub decimal_comma: bool,
    /// Texts that stand for "no value" in the CSV or Parquet files and in
    /// the files given to `predict` and `eval`, beside an empty cell: R
    /// writes `NA`, many UCI files `?`. Such a cell is missing, so its
    /// column must be `nullable` (filled by its `missing` rule). Compared
    /// with the cell's trimmed text, case and all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_markers: Vec<String>,
    /// Tables joined onto every row by a key (e.g. user and item details
    /// onto ratings), in order. Each names a CSV in `files` (same delimiter
    /// and encoding, with a header) and the key column both tables share.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joins: Vec<JoinSpec>,
    /// Base URLs tried in order when a file is neither in the data directory
    /// nor in the cache. Empty means the data must be supplied locally.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<String>,
    /// Let file names in `files` be absolute paths or climb out with `..`.
    /// Off by default: a plugin's files are then found only in its data
    /// set folder, its own `data/` folder or the cache, so a manifest
    /// (which a server's training endpoint reads) cannot make indus read
    /// any file on the machine (default false).
    #[serde(default, skip_serializing_if = "is_default")]
    pub paths_outside_data: bool,
}

/// A lookup table joined onto the main rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinSpec {
    /// The table's role in `files` (e.g. `users`).
    pub file: String,
    /// Key column present in both the main rows and the table; each key
    /// appears at most once in the table, and every main row must find one.
    pub on: String,
}

/// One file of a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// File name, relative to the data set folder or the mirror URL.
    pub name: String,
    /// SHA-256 of the file's content; for `.gz` files, of the *decompressed*
    /// content, so any faithful re-compression is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Hex>,
}

/// The type of the values in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// A real number.
    Number,
    /// A whole number.
    Integer,
    /// true / false.
    Boolean,
    /// One of a fixed set of values.
    Category,
    /// An identifier (user, item, row id).
    Id,
    /// A fixed-shape array of pixel intensities.
    Image,
}

/// What a column is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// A model input.
    Feature,
    /// What a head predicts.
    Target,
    /// A per-row sample weight.
    Weight,
    /// Assigns each row to train / validation / test.
    Split,
    /// Echoed back with predictions, never a model input.
    Id,
    /// Read but not used.
    Ignore,
}

/// One column of the data schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Column name as it appears in files and in API requests.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// How the column is used.
    pub role: ColumnRole,
    /// For images: height and width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<Count>>,
    /// For images: the largest raw pixel value; pixels are divided by it so
    /// the model sees values in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<Positive>,
    /// Images: how pixels become model inputs once divided by `max_value`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pixel_scaling: PixelScaling,
    /// For categories: the allowed values, in a fixed order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Inclusive `[min, max]` a numeric value must lie in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// Whether a missing value is allowed.
    #[serde(default)]
    pub nullable: bool,
    /// Computed by the plugin's native `derive_features` hook rather than
    /// read from the data (numeric features only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub derived: bool,
    /// What a category value outside `values` becomes: an error naming the
    /// row and column (`reject`), or one shared "other" input (`bucket`),
    /// so a new product code or branch at predict time still gets an answer.
    #[serde(default, skip_serializing_if = "is_default")]
    pub unknown_values: UnknownValues,
    /// How missing values of a nullable column are filled (fitted on the
    /// training rows).
    #[serde(default, skip_serializing_if = "is_default")]
    pub missing: Missing,
    /// `missing: constant`: the value a missing cell becomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_value: Option<f64>,
    /// Scaling of a numeric feature (fitted on the training rows).
    #[serde(default, skip_serializing_if = "is_default")]
    pub normalization: Normalization,
    /// Besides the scaled value, N more inputs that each rise from 0 to 1
    /// across one of N bins cut at the training quantiles (piecewise-linear
    /// encoding). A small network can then bend its answer at a threshold,
    /// such as loans over three years, instead of drawing one straight line
    /// through a single input. A column with at most 2 × N distinct
    /// training values (a 1–4 rating) keeps the scaled value only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub piecewise_linear_bins: Option<Count>,
    /// How a category or integer id feature becomes model inputs: one input
    /// per value, or a learned vector (for thousands of users or products,
    /// where one-hot inputs would swamp the network).
    #[serde(default, skip_serializing_if = "is_default")]
    pub encoding: Encoding,
    /// `encoding: embedding`: length of each learned vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_dim: Option<Count>,
    /// `encoding: embedding`: keep only the most frequent training values;
    /// the rest, and values never seen in training, share one vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vocabulary: Option<Count>,
    /// The column holds personal or confidential values (income, a
    /// diagnosis, an account number): its name may appear in messages and
    /// reports, its values never — not in error messages, logs, the API's
    /// examples, drift reports, explanations, the dashboard or the model
    /// card. The model still reads it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// Encoding of a category or id feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One 0/1 input per declared value.
    #[default]
    OneHot,
    /// A learned vector of `embedding_dim` values per value seen in
    /// training, with one shared vector for unseen values.
    Embedding,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Filling of missing numeric values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// The training mean.
    #[default]
    Mean,
    /// The training median.
    Median,
    /// Zero.
    Zero,
    /// The most frequent training value (smallest on ties).
    Mode,
    /// The column's `fill_value`.
    Constant,
    /// Leave out training and test rows with the value missing; a request
    /// without it is refused with its row number.
    Drop,
}

/// Scaling of numeric features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// Subtract the training mean, divide by the training standard deviation.
    #[default]
    ZScore,
    /// Map the training range to [0, 1].
    MinMax,
    /// `ln(1 + x)` then z-score: for long-tailed amounts (needs x > -1).
    Log1p,
    /// The value's rank among the training values (101 quantiles, linear
    /// in between), rescaled to mean 0 and standard deviation 1: for
    /// counts and sizes whose tails or spikes (most rows 0, a few huge)
    /// defeat a z-score, and for values outside the training range, which
    /// land at the ends instead of far beyond them.
    Quantile,
    /// Leave the value as it is.
    None,
}

/// How an image's pixels are scaled for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PixelScaling {
    /// Divided by `max_value`: inputs in [0, 1].
    #[default]
    MaxValue,
    /// Then, per pixel position, minus the training images' mean and over
    /// their standard deviation. For photographs whose useful contrast sits
    /// in a narrow band (ultrasound, X-ray), every pixel then counts on the
    /// same scale; a one-layer network gains most from it.
    ZScore,
}

impl ColumnSpec {
    /// Number of model inputs this column contributes before encoding
    /// (pixels for an image, one otherwise).
    pub fn width(&self) -> usize {
        match (&self.kind, &self.shape) {
            (ColumnType::Image, Some(shape)) => shape.iter().map(|c| c.get()).product(),
            _ => 1,
        }
    }

    /// An image the model reads: what `model.conv` and a scenario's
    /// `data.pixel_scaling` apply to.
    pub fn is_image_feature(&self) -> bool {
        self.kind == ColumnType::Image && self.role == ColumnRole::Feature
    }
}

/// The kind of prediction a head makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// One of N classes (softmax).
    Multiclass,
    /// Yes / no with a probability (sigmoid).
    Binary,
    /// Any subset of N labels.
    Multilabel,
    /// A real number.
    Regression,
    /// Reconstruct the input (autoencoder for anomaly detection).
    Reconstruction,
    /// Score a user–item pair (recommendation).
    UserItem,
}

impl Task {
    /// The name used in YAML, the API and the dashboard.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Multiclass => "multiclass",
            Task::Binary => "binary",
            Task::Multilabel => "multilabel",
            Task::Regression => "regression",
            Task::Reconstruction => "reconstruction",
            Task::UserItem => "user_item",
        }
    }
}

/// The training loss of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Softmax cross-entropy (multiclass).
    CrossEntropy,
    /// Sigmoid binary cross-entropy (binary, multilabel).
    BinaryCrossEntropy,
    /// Mean squared error.
    Mse,
    /// Huber loss, robust to outliers.
    Huber,
}

/// One prediction head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    /// Head name, used in outputs and metrics.
    pub name: Name,
    /// The kind of prediction.
    pub task: Task,
    /// The target column.
    pub target: String,
    /// Class labels in output order (multiclass, multilabel). For a binary
    /// head: `[negative, positive]`, e.g. `[good, bad]` to score the risk of
    /// `bad`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// `task: multilabel`: what separates the labels in a target cell, e.g.
    /// `heat|power` (default `|`); an empty cell is a row with no label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_separator: Option<String>,
    /// Training loss; defaults to the natural loss of the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossKind>,
    /// Weight of this head's loss when several heads share a trunk.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub loss_weight: Positive,
    /// Binary heads: how a probability becomes a label.
    #[serde(default, skip_serializing_if = "is_default")]
    pub decision: DecisionSpec,
    /// Classifier heads: weighting of each class in the loss.
    #[serde(default, skip_serializing_if = "is_default")]
    pub class_weighting: ClassWeighting,
    /// `task: user_item`: the user column (an embedded feature); top-k
    /// recommendations are made per value of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `task: user_item`: the item column (an embedded feature) ranked for
    /// each user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// `task: reconstruction`: the share (in percent) of normal validation
    /// rows whose reconstruction error stays under the alarm threshold, e.g.
    /// 99 for about 1 % false alarms (default 99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_percentile: Option<f64>,
    /// `task: user_item`: recommend only items with at least this many
    /// training ratings (default 1). A vector learned from one or two
    /// ratings is mostly noise, and such items would crowd the top of
    /// every list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_item_ratings: Option<Count>,
    /// `task: user_item`: the rating at or above which a user counts as
    /// liking an item, for the liked/not-liked view and hit rate / NDCG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liked_at: Option<f64>,
}

/// How much each class counts in a classifier's loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeighting {
    /// Every row counts the same.
    #[default]
    None,
    /// Each class counts as much in total: a row of class c weighs
    /// `rows / (classes × rows of c)` in the training split.
    Balanced,
}

/// How a binary head's threshold is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionRule {
    /// A fixed threshold (`threshold`, default 0.5).
    #[default]
    Fixed,
    /// The threshold with the best F1 of the positive class on validation rows.
    BestF1,
    /// The threshold with the lowest total cost on validation rows, from
    /// `false_positive_cost` and `false_negative_cost`.
    MinCost,
}

/// Decision rule of a binary head. The positive class is the second entry
/// of `classes`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionSpec {
    /// How the threshold is chosen.
    #[serde(default)]
    pub rule: DecisionRule,
    /// `rule: fixed`: probability of the positive class at or above which a
    /// row is called positive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Fraction>,
    /// `rule: min_cost`: cost of calling a negative row positive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_positive_cost: Option<Positive>,
    /// `rule: min_cost`: cost of missing a positive row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_negative_cost: Option<Positive>,
}

fn yes() -> bool {
    true
}

fn is_yes(v: &bool) -> bool {
    *v
}

/// Policy for category values not in the declared list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownValues {
    /// Refuse the row, naming row, column and the allowed values.
    #[default]
    Reject,
    /// Encode it as an extra "other" category.
    Bucket,
}

/// Text encodings of CSV data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    /// UTF-8 (ASCII included).
    #[default]
    Utf8,
    /// ISO-8859-1, as many older exports from spreadsheets and databases.
    Latin1,
}

fn comma() -> char {
    ','
}

fn is_comma(c: &char) -> bool {
    *c == ','
}

fn one() -> Positive {
    Positive::try_from(1.0).expect("1 is positive")
}

fn is_one(p: &Positive) -> bool {
    p.get() == 1.0
}

impl HeadSpec {
    /// The loss actually used: the declared one or the task's natural loss.
    pub fn effective_loss(&self) -> LossKind {
        self.loss.unwrap_or(match self.task {
            Task::Multiclass => LossKind::CrossEntropy,
            Task::Binary | Task::Multilabel => LossKind::BinaryCrossEntropy,
            Task::Regression | Task::Reconstruction | Task::UserItem => LossKind::Mse,
        })
    }
}

/// A published result the dashboard shows next to ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Metric name as in `metrics.json` (e.g. `accuracy`).
    pub metric: String,
    /// The published value.
    pub value: f64,
    /// Who measured it and how (paper, model, protocol).
    pub source: String,
    /// The head whose task the number is for (default: the plugin's first
    /// head), so that a supervised and an autoencoder scenario of one
    /// plugin each show only their own baselines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Name>,
    /// The one scenario the number is for (its protocol, its test rows);
    /// omitted: every scenario that trains `head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<Name>,
}

impl Baseline {
    /// Whether the number belongs beside a run of `scenario` training
    /// `trained` as its primary head; `first` is the plugin's first head.
    pub fn applies_to(&self, scenario: &str, trained: &str, first: &str) -> bool {
        self.head.as_ref().map_or(first, Name::as_str) == trained
            && self
                .scenario
                .as_ref()
                .is_none_or(|s| s.as_str() == scenario)
    }
}
