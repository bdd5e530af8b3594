//! The YAML data model of indus: plugin manifests and scenarios.
//!
//! Everything a user writes by hand goes through this crate, so its job is to
//! turn any mistake into a message that names the file, the line and column,
//! the field path, and what was expected — before any data is touched.

#![warn(missing_docs)]

mod error;
mod fairness;
pub mod limits;
mod plugin;
mod scenario;
mod values;

pub use error::{Located, SpecError};
pub use fairness::{
    DEFAULT_MIN_GROUP_ROWS, FairnessSpec, MAX_EDGES, MAX_PROTECTED, ProtectedColumn,
};
pub use plugin::*;
pub use scenario::*;
pub use values::{Count, Fraction, Name, Positive, Sha256Hex};

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Parses YAML text into `T`, rejecting unknown keys, with errors that carry
/// the file, position and dotted field path.
pub fn parse_yaml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, SpecError> {
    if let Some((line, message)) = too_deep_or_large(text) {
        return Err(SpecError::Invalid(Located {
            file: file.to_path_buf(),
            line: Some(line),
            column: None,
            field: String::new(),
            message,
        }));
    }
    let deserializer = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        let mut position = inner.location().map(|l| (l.line(), l.column()));
        // For a rejected value the parser points at the start of the
        // enclosing mapping; the full field path finds the value's own line.
        if let Some(found) = error::find_key(text, &field)
            && position.is_none_or(|(line, _)| found.0 >= line)
        {
            position = Some(found);
        }
        let message = strip_path_prefix(&strip_position(&inner.to_string()), &field);
        SpecError::Invalid(Located {
            file: file.to_path_buf(),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            field,
            message,
        })
    })
}

/// Largest scenario or manifest file read (the largest shipped is 20 KB).
pub const MAX_YAML_BYTES: usize = 4 << 20;

/// Deepest nesting of `[`/`{` collections (the shipped files nest 3 deep).
pub const MAX_YAML_NESTING: usize = 64;

/// Refuses a file too large, or nested so deep that parsing it would take
/// the parser tens of seconds, before it is parsed: the line and why.
fn too_deep_or_large(text: &str) -> Option<(usize, String)> {
    if text.len() > MAX_YAML_BYTES {
        return Some((
            1,
            format!(
                "the file is {} bytes, over the limit of {MAX_YAML_BYTES}",
                text.len()
            ),
        ));
    }
    let (mut depth, mut quote) = (0usize, None::<char>);
    for (i, line) in text.lines().enumerate() {
        // Indentation nests too: a block nested this deep is as slow.
        let indent = line.len() - line.trim_start().len();
        if quote.is_none() && indent > 2 * MAX_YAML_NESTING * 4 {
            return Some((
                i + 1,
                format!("nested deeper than {MAX_YAML_NESTING} levels"),
            ));
        }
        for ch in line.chars() {
            match (quote, ch) {
                (None, '#') => break,
                (None, '"' | '\'') => quote = Some(ch),
                (Some(q), c) if c == q => quote = None,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_YAML_NESTING {
                        return Some((
                            i + 1,
                            format!("nested deeper than {MAX_YAML_NESTING} levels"),
                        ));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

/// The YAML library appends " at line L column C" to messages; we report the
/// position ourselves, in front, so drop the duplicate.
fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The YAML library may also prefix the (parent) path; we print the full
/// path separately.
fn strip_path_prefix(message: &str, field: &str) -> String {
    match message.split_once(": ") {
        Some((head, rest))
            if !head.is_empty() && !head.contains(' ') && field.starts_with(head) =>
        {
            rest.to_string()
        }
        _ => message.to_string(),
    }
}

fn read(file: &Path) -> Result<String, SpecError> {
    std::fs::read_to_string(file).map_err(|source| SpecError::Read {
        file: file.to_path_buf(),
        source,
    })
}

/// Reads and checks a plugin manifest.
pub fn load_plugin(file: &Path) -> Result<PluginManifest, SpecError> {
    parse_plugin(file, &read(file)?)
}

/// Reads and checks a scenario file.
pub fn load_scenario(file: &Path) -> Result<Scenario, SpecError> {
    parse_scenario(file, &read(file)?)
}

/// Parses a scenario from text already in memory (e.g. the resolved copy kept
/// in a run folder), applying the same checks as [`load_scenario`].
pub fn parse_scenario(file: &Path, text: &str) -> Result<Scenario, SpecError> {
    parse_checked(file, text, check_scenario)
}

/// Parses a plugin manifest from text already in memory.
pub fn parse_plugin(file: &Path, text: &str) -> Result<PluginManifest, SpecError> {
    parse_checked(file, text, check_plugin)
}

fn parse_checked<T: DeserializeOwned>(
    file: &Path,
    text: &str,
    check: fn(&T) -> Result<(), Problem>,
) -> Result<T, SpecError> {
    let value: T = parse_yaml(file, text)?;
    check(&value)
        .map_err(|(field, message)| SpecError::field(file, field, message).locate_in(text))?;
    Ok(value)
}

type Problem = (String, String);

/// What a folder of class sub-folders can feed: one image column, a first
/// head whose classes name the sub-folders, and folders for roles.
fn check_image_folder(m: &PluginManifest) -> Result<(), Problem> {
    let features: Vec<(usize, &ColumnSpec)> = m
        .data
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.role == ColumnRole::Feature)
        .collect();
    match features.as_slice() {
        [(i, c)] if c.kind == ColumnType::Image => {
            if c.max_value.is_some_and(|v| v.get() != 255.0) {
                return Err((
                    format!("data.columns[{i}].max_value"),
                    "images in a folder are read as 8-bit grey levels: set `max_value: 255`".into(),
                ));
            }
        }
        _ => {
            return Err((
                "data.columns".into(),
                "an image folder source needs exactly one feature column, of `type: image`".into(),
            ));
        }
    }
    if m.heads[0].classes.is_none() {
        return Err((
            "heads[0].classes".into(),
            "an image folder source names its class sub-folders by the first head's `classes`"
                .into(),
        ));
    }
    if !m.data.source.files.contains_key("train") {
        return Err((
            "data.source.files".into(),
            "an image folder source needs a `train` folder (and optionally `val` and `test`)"
                .into(),
        ));
    }
    for (role, file) in &m.data.source.files {
        if !matches!(role.as_str(), "train" | "val" | "test") {
            return Err((
                format!("data.source.files.{role}"),
                "an image folder source has the roles `train`, `val` and `test`".into(),
            ));
        }
        if file.sha256.is_some() {
            return Err((
                format!("data.source.files.{role}.sha256"),
                "a checksum covers one file; an image folder is read as it is".into(),
            ));
        }
    }
    if !m.data.source.joins.is_empty() {
        return Err((
            "data.source.joins".into(),
            "tables join onto CSV or Parquet rows, not onto image folders".into(),
        ));
    }
    Ok(())
}

/// Cross-field rules of a manifest that the type system cannot express.
fn check_plugin(m: &PluginManifest) -> Result<(), Problem> {
    if m.heads.is_empty() {
        return Err(("heads".into(), "declare at least one head".into()));
    }
    if m.data.columns.is_empty() {
        return Err(("data.columns".into(), "declare at least one column".into()));
    }
    if m.data.source.format == SourceFormat::ImageFolder {
        check_image_folder(m)?;
    }
    fairness::check_fairness(m)?;
    fairness::check_group_by(m)?;
    for (i, b) in m.baselines.iter().enumerate() {
        if let Some(head) = &b.head
            && !m.heads.iter().any(|h| h.name == *head)
        {
            let names: Vec<&str> = m.heads.iter().map(|h| h.name.as_str()).collect();
            return Err((
                format!("baselines[{i}].head"),
                format!("no head `{head}`; the heads are {}", names.join(", ")),
            ));
        }
    }
    if !m.data.source.paths_outside_data {
        for (role, file) in &m.data.source.files {
            let path = std::path::Path::new(&file.name);
            let escapes = path.is_absolute()
                || file.name.starts_with('/')
                || file.name.starts_with('\\')
                || path.components().any(|c| {
                    !matches!(
                        c,
                        std::path::Component::Normal(_) | std::path::Component::CurDir
                    )
                });
            if escapes {
                return Err((
                    format!("data.source.files.{role}.name"),
                    format!(
                        "`{}` points outside the data folders; name a file inside the data set folder (or set `data.source.paths_outside_data: true`)",
                        file.name
                    ),
                ));
            }
        }
    }
    if m.data.source.decimal_comma && m.data.source.delimiter == ',' {
        return Err((
            "data.source.decimal_comma".into(),
            "a comma cannot be both the field delimiter and the decimal mark; set `data.source.delimiter` (`;` is usual)".into(),
        ));
    }
    if let Some(i) = m
        .data
        .source
        .missing_markers
        .iter()
        .position(|t| t.trim().is_empty())
    {
        return Err((
            format!("data.source.missing_markers[{i}]"),
            "an empty cell is already missing; list only texts such as `NA` or `?`".into(),
        ));
    }
    if !m.data.source.missing_markers.is_empty()
        && !matches!(
            m.data.source.format,
            SourceFormat::Csv | SourceFormat::Parquet
        )
    {
        return Err((
            "data.source.missing_markers".into(),
            "missing markers apply to CSV and Parquet files only".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, c) in m.data.columns.iter().enumerate() {
        let at = format!("data.columns[{i}]");
        if !seen.insert(c.name.as_str()) {
            return Err((
                format!("{at}.name"),
                format!("column `{}` is declared twice", c.name),
            ));
        }
        if c.derived {
            if m.native.is_none() {
                return Err((
                    format!("{at}.derived"),
                    "derived columns are computed by native hooks; declare `native:` first".into(),
                ));
            }
            if c.role != ColumnRole::Feature
                || !matches!(c.kind, ColumnType::Number | ColumnType::Integer)
            {
                return Err((
                    format!("{at}.derived"),
                    "only numeric feature columns can be derived".into(),
                ));
            }
        }
        match (c.missing, c.fill_value) {
            (Missing::Constant, Some(v)) if !v.is_finite() => {
                return Err((
                    format!("{at}.fill_value"),
                    "expected a finite number".into(),
                ));
            }
            (Missing::Constant, None) => {
                return Err((
                    format!("{at}.fill_value"),
                    "`missing: constant` needs `fill_value`".into(),
                ));
            }
            (Missing::Constant, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err((
                    format!("{at}.fill_value"),
                    "`fill_value` only applies to `missing: constant`".into(),
                ));
            }
        }
        if c.unknown_values == UnknownValues::Bucket && c.kind != ColumnType::Category {
            return Err((
                format!("{at}.unknown_values"),
                "an unknown-value bucket only applies to `type: category`".into(),
            ));
        }
        if c.kind == ColumnType::Image && c.shape.is_none() {
            return Err((
                format!("{at}.shape"),
                "an image column needs `shape: [height, width]`".into(),
            ));
        }
        // Without it, training would divide by 1 while the served schema
        // promised 0–255 and the row checks bounded nothing.
        if c.kind == ColumnType::Image && c.max_value.is_none() {
            return Err((
                format!("{at}.max_value"),
                "an image column needs `max_value`, its largest raw pixel value (255 for 8-bit images), so that training, the row checks and the served schema scale and bound pixels alike".into(),
            ));
        }
        if c.kind == ColumnType::Category
            && c.role == ColumnRole::Feature
            && c.values.as_ref().is_none_or(Vec::is_empty)
        {
            return Err((
                format!("{at}.values"),
                "a category feature lists its allowed values".into(),
            ));
        }
        if c.kind != ColumnType::Image
            && (c.shape.is_some()
                || c.max_value.is_some()
                || c.pixel_scaling != PixelScaling::MaxValue)
        {
            return Err((
                format!("{at}.shape"),
                "`shape`, `max_value` and `pixel_scaling` only apply to `type: image`".into(),
            ));
        }
        if c.encoding == Encoding::Embedding {
            if c.role != ColumnRole::Feature
                || !matches!(c.kind, ColumnType::Category | ColumnType::Integer)
            {
                return Err((
                    format!("{at}.encoding"),
                    "only category and integer feature columns can be embedded".into(),
                ));
            }
            if c.embedding_dim.is_none() {
                return Err((
                    format!("{at}.embedding_dim"),
                    "an embedded column needs `embedding_dim` (e.g. 16 or 32)".into(),
                ));
            }
            if c.nullable {
                return Err((
                    format!("{at}.nullable"),
                    "an embedded column cannot be nullable; unseen values already share one vector"
                        .into(),
                ));
            }
            if let Some(d) = c.embedding_dim {
                limits::at_most(
                    d.get(),
                    limits::MAX_EMBEDDING_DIM,
                    &format!("{at}.embedding_dim"),
                )?;
            }
            if let Some(v) = c.max_vocabulary {
                limits::at_most(
                    v.get(),
                    limits::MAX_VOCABULARY,
                    &format!("{at}.max_vocabulary"),
                )?;
            }
        } else if c.embedding_dim.is_some() || c.max_vocabulary.is_some() {
            return Err((
                format!("{at}.embedding_dim"),
                "`embedding_dim` and `max_vocabulary` only apply to `encoding: embedding`".into(),
            ));
        }
        if let Some(bins) = c.piecewise_linear_bins {
            let numeric = matches!(c.kind, ColumnType::Number | ColumnType::Integer);
            if !numeric || c.role != ColumnRole::Feature || c.encoding == Encoding::Embedding {
                return Err((
                    format!("{at}.piecewise_linear_bins"),
                    "bins apply to number and integer feature columns that are not embedded".into(),
                ));
            }
            check_bins(bins.get()).map_err(|m| (format!("{at}.piecewise_linear_bins"), m))?;
        }
        if let Some([lo, hi]) = c.range
            && (lo.is_nan() || hi.is_nan() || lo > hi)
        {
            return Err((
                format!("{at}.range"),
                format!("expected [min, max] with min <= max, got [{lo}, {hi}]"),
            ));
        }
    }
    if !m.data.source.joins.is_empty() && !m.data.source.header {
        return Err((
            "data.source.joins".into(),
            "joined tables are matched by column name: the files need a header row".into(),
        ));
    }
    for (i, j) in m.data.source.joins.iter().enumerate() {
        let at = format!("data.source.joins[{i}]");
        if !m.data.source.files.contains_key(&j.file) {
            return Err((
                format!("{at}.file"),
                format!("no file with role `{}` in data.source.files", j.file),
            ));
        }
        if matches!(j.file.as_str(), "train" | "test") {
            return Err((
                format!("{at}.file"),
                "join a lookup table, not the train or test file".into(),
            ));
        }
        if !m.data.columns.iter().any(|c| c.name == j.on) {
            return Err((
                format!("{at}.on"),
                format!("the key `{}` is not a declared column", j.on),
            ));
        }
    }
    let weights: Vec<usize> = (0..m.data.columns.len())
        .filter(|&i| m.data.columns[i].role == ColumnRole::Weight)
        .collect();
    if let [_, second, ..] = weights[..] {
        return Err((
            format!("data.columns[{second}].role"),
            "only one column can hold the sample weights".into(),
        ));
    }
    if let Some(&i) = weights.first()
        && !matches!(
            m.data.columns[i].kind,
            ColumnType::Number | ColumnType::Integer
        )
    {
        return Err((
            format!("data.columns[{i}].type"),
            "a sample weight column holds numbers: `type: number` or `integer`".into(),
        ));
    }
    if !m.data.columns.iter().any(|c| c.role == ColumnRole::Feature) {
        return Err((
            "data.columns".into(),
            "no column has `role: feature`".into(),
        ));
    }
    for (i, h) in m.heads.iter().enumerate() {
        let at = format!("heads[{i}]");
        let target = m.data.columns.iter().find(|c| c.name == h.target);
        match target {
            None => {
                return Err((
                    format!("{at}.target"),
                    format!("no column named `{}` in data.columns", h.target),
                ));
            }
            Some(c) if c.role != ColumnRole::Target && h.task != Task::Reconstruction => {
                return Err((
                    format!("{at}.target"),
                    format!("column `{}` must have `role: target`", h.target),
                ));
            }
            _ => {}
        }
        if h.task == Task::Binary
            && let Some(classes) = &h.classes
            && classes.len() != 2
        {
            return Err((
                format!("{at}.classes"),
                "a binary head lists exactly two classes: [negative, positive]".into(),
            ));
        }
        if h.class_weighting != ClassWeighting::None
            && !matches!(h.task, Task::Binary | Task::Multiclass)
        {
            return Err((
                format!("{at}.class_weighting"),
                "class weighting applies to binary and multiclass heads".into(),
            ));
        }
        let d = &h.decision;
        if *d != DecisionSpec::default() && h.task != Task::Binary {
            return Err((
                format!("{at}.decision"),
                "a decision rule only applies to `task: binary`".into(),
            ));
        }
        if d.rule != DecisionRule::Fixed && d.threshold.is_some() {
            return Err((
                format!("{at}.decision.threshold"),
                "`threshold` only applies to `rule: fixed`".into(),
            ));
        }
        match (d.rule, d.false_positive_cost, d.false_negative_cost) {
            (DecisionRule::MinCost, Some(_), Some(_)) => {}
            (DecisionRule::MinCost, _, _) => {
                return Err((
                    format!("{at}.decision"),
                    "`rule: min_cost` needs `false_positive_cost` and `false_negative_cost`".into(),
                ));
            }
            (_, None, None) => {}
            _ => {
                return Err((
                    format!("{at}.decision"),
                    "costs only apply to `rule: min_cost`".into(),
                ));
            }
        }
        check_user_item(m, h, &at)?;
        match (h.task, h.threshold_percentile) {
            (Task::Reconstruction, p) => {
                if p.is_some_and(|p| !(50.0..100.0).contains(&p)) {
                    return Err((
                        format!("{at}.threshold_percentile"),
                        "expected a percentile in [50, 100), e.g. 99".into(),
                    ));
                }
                if h.classes.as_ref().is_none_or(|c| c.len() != 2) {
                    return Err((
                        format!("{at}.classes"),
                        "a reconstruction head lists `[normal, anomaly]` labels of its target: it trains on the normal rows and is scored on both".into(),
                    ));
                }
            }
            (_, Some(_)) => {
                return Err((
                    format!("{at}.threshold_percentile"),
                    "`threshold_percentile` only applies to `task: reconstruction`".into(),
                ));
            }
            _ => {}
        }
        let needs_classes = matches!(h.task, Task::Multiclass | Task::Multilabel);
        match (&h.classes, needs_classes) {
            (None, true) => {
                return Err((
                    format!("{at}.classes"),
                    "a multiclass or multilabel head lists its classes".into(),
                ));
            }
            (Some(classes), true) if classes.len() < 2 => {
                return Err((format!("{at}.classes"), "list at least two classes".into()));
            }
            _ => {}
        }
        match (&h.label_separator, h.task) {
            (Some(_), task) if task != Task::Multilabel => {
                return Err((
                    format!("{at}.label_separator"),
                    "`label_separator` only applies to `task: multilabel`".into(),
                ));
            }
            (Some(sep), _) if sep.trim().is_empty() => {
                return Err((
                    format!("{at}.label_separator"),
                    "the separator must hold a visible character, e.g. `|` or `;`".into(),
                ));
            }
            (Some(sep), _) => {
                if let Some(c) = h
                    .classes
                    .iter()
                    .flatten()
                    .find(|c| c.contains(sep.as_str()))
                {
                    return Err((
                        format!("{at}.label_separator"),
                        format!("class `{c}` contains the separator `{sep}`"),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A user_item head names two embedded feature columns and a numeric
/// target; other heads name neither.
fn check_user_item(m: &PluginManifest, h: &HeadSpec, at: &str) -> Result<(), Problem> {
    if h.task != Task::UserItem {
        if h.user.is_some()
            || h.item.is_some()
            || h.liked_at.is_some()
            || h.min_item_ratings.is_some()
        {
            return Err((
                format!("{at}.user"),
                "`user`, `item`, `liked_at` and `min_item_ratings` only apply to `task: user_item`"
                    .into(),
            ));
        }
        return Ok(());
    }
    for (field, name) in [("user", &h.user), ("item", &h.item)] {
        let Some(name) = name else {
            return Err((
                format!("{at}.{field}"),
                format!("a user_item head names its {field} column"),
            ));
        };
        let embedded = m.data.columns.iter().any(|c| {
            &c.name == name && c.role == ColumnRole::Feature && c.encoding == Encoding::Embedding
        });
        if !embedded {
            return Err((
                format!("{at}.{field}"),
                format!("`{name}` must be a feature column with `encoding: embedding`"),
            ));
        }
    }
    if h.user == h.item {
        return Err((
            format!("{at}.item"),
            "user and item must be different columns".into(),
        ));
    }
    if h.liked_at.is_none_or(|v| !v.is_finite()) {
        return Err((
            format!("{at}.liked_at"),
            "a user_item head sets `liked_at`, the rating that counts as liked (e.g. 4)".into(),
        ));
    }
    let numeric =
        m.data.columns.iter().any(|c| {
            c.name == h.target && matches!(c.kind, ColumnType::Number | ColumnType::Integer)
        });
    if !numeric {
        return Err((
            format!("{at}.target"),
            "a user_item head predicts a numeric rating column".into(),
        ));
    }
    if m.heads.len() > 1 {
        return Err((
            "heads".into(),
            "a user_item head is the plugin's only head".into(),
        ));
    }
    Ok(())
}

/// Convolution kernels are odd (padding keeps the size) and small enough
/// to be a local filter rather than a second dense layer.
fn check_conv(model: &ModelSpec, at: &str) -> Result<(), Problem> {
    for (i, layer) in model.conv.iter().enumerate() {
        let k = layer.kernel.get();
        if k % 2 == 0 || k > MAX_KERNEL {
            return Err((
                format!("{at}.conv[{i}].kernel"),
                format!("expected an odd kernel side from 1 to {MAX_KERNEL}, e.g. 3; got {k}"),
            ));
        }
    }
    Ok(())
}

/// The largest convolution kernel side a scenario may ask for.
const MAX_KERNEL: usize = 15;

/// Cross-field rules of a scenario.
/// Piecewise-linear bins: one bin is the scaled value again, and past 64 a
/// bin holds too few training rows to place its edges.
fn check_bins(bins: usize) -> Result<(), String> {
    if (2..=64).contains(&bins) {
        Ok(())
    } else {
        Err(format!(
            "expected between 2 and 64 bins (4 to 8 is usual), got {bins}"
        ))
    }
}

fn check_scenario(s: &Scenario) -> Result<(), Problem> {
    limits::check_scenario(s)?;
    if let Some(bins) = s.data.piecewise_linear_bins {
        check_bins(bins.get()).map_err(|m| ("data.piecewise_linear_bins".to_string(), m))?;
    }
    if let Some(t) = &s.target {
        if t.at_least.is_some() == t.at_most.is_some() {
            return Err((
                "target".into(),
                "set exactly one of `at_least` (scores such as accuracy) and `at_most` (errors such as rmse)".into(),
            ));
        }
        if t.at_least.or(t.at_most).is_some_and(|v| !v.is_finite()) {
            return Err(("target".into(), "the bar must be a finite number".into()));
        }
    }
    if s.head.is_some() && !s.heads.is_empty() {
        return Err((
            "heads".into(),
            "set either `head` (one head) or `heads` (several on one trunk), not both".into(),
        ));
    }
    for (i, h) in s.heads.iter().enumerate() {
        if s.heads[..i].iter().any(|o| o.name == h.name) {
            return Err((
                format!("heads[{i}].name"),
                format!("head `{}` is listed twice", h.name),
            ));
        }
    }
    check_training(&s.training, "training")?;
    check_conv(&s.model, "model")?;
    if let Some(g) = &s.novelty_guard {
        if !g.model.conv.is_empty() {
            return Err((
                "novelty_guard.model.conv".into(),
                "the guard's autoencoder reads each row as one flat vector; leave `conv` out"
                    .into(),
            ));
        }
        check_training(&g.training, "novelty_guard.training")?;
        if g.threshold_percentile
            .is_some_and(|p| !(p > 0.0 && p <= 100.0))
        {
            return Err((
                "novelty_guard.threshold_percentile".into(),
                "expected a percentile above 0 and at most 100, e.g. 99".into(),
            ));
        }
        if g.model.ensemble.get() != 1 {
            return Err((
                "novelty_guard.model.ensemble".into(),
                "the guard is one network".into(),
            ));
        }
        if g.training.early_stopping.is_some() && s.data.validation_fraction.get() == 0.0 {
            return Err((
                "novelty_guard.training.early_stopping".into(),
                "early stopping watches validation rows: set `data.validation_fraction` above 0"
                    .into(),
            ));
        }
    }
    if s.data.folds.is_some_and(|k| k.get() < 2) {
        return Err((
            "data.folds".into(),
            "cross-validation needs at least 2 folds".into(),
        ));
    }
    if s.data.repeats.is_some() && s.data.folds.is_none() {
        return Err((
            "data.repeats".into(),
            "repeats re-deal the rows of a cross-validation: set `data.folds` too".into(),
        ));
    }
    if s.data.folds.is_some() && s.data.test_fraction.is_some() {
        return Err((
            "data.test_fraction".into(),
            "choose either `folds` (cross-validation) or `test_fraction` (one holdout)".into(),
        ));
    }
    let ways = [
        s.data.split_column.is_some(),
        s.data.time_split.is_some(),
        s.data.folds.is_some(),
        s.data.test_fraction.is_some(),
    ];
    if ways.iter().filter(|&&w| w).count() > 1 {
        let field = if s.data.time_split.is_some() {
            "data.time_split"
        } else {
            "data.split_column"
        };
        return Err((
            field.into(),
            "choose one of `split_column`, `time_split`, `folds` and `test_fraction`".into(),
        ));
    }
    if s.data
        .time_split
        .as_ref()
        .is_some_and(|t| t.test_fraction.get() <= 0.0 || t.test_fraction.get() >= 1.0)
    {
        return Err((
            "data.time_split.test_fraction".into(),
            "expected a share strictly between 0 and 1, e.g. 0.2".into(),
        ));
    }
    if s.data
        .split_column
        .as_ref()
        .is_some_and(|c| c.test.is_empty())
    {
        return Err((
            "data.split_column.test".into(),
            "list the values that mark test rows".into(),
        ));
    }
    if s.training.early_stopping.is_some() && s.data.validation_fraction.get() == 0.0 {
        return Err((
            "training.early_stopping".into(),
            "early stopping watches validation rows: set `data.validation_fraction` above 0".into(),
        ));
    }
    Ok(())
}

/// Optimiser and schedule settings that only make sense together; `at` is
/// where the training section sits (`training`, `novelty_guard.training`).
fn check_training(training: &TrainingSpec, at: &str) -> Result<(), Problem> {
    let opt = &training.optimizer;
    if opt.kind != OptimizerKind::Sgd && (opt.momentum.is_some() || opt.nesterov) {
        return Err((
            format!("{at}.optimizer.momentum"),
            "momentum and nesterov only apply to `kind: sgd`".into(),
        ));
    }
    if opt.nesterov && opt.momentum.is_none() {
        return Err((
            format!("{at}.optimizer.nesterov"),
            "nesterov needs a `momentum` value".into(),
        ));
    }
    let sched = &training.lr_schedule;
    match sched.kind {
        ScheduleKind::Step if sched.every_epochs.is_none() => {
            return Err((
                format!("{at}.lr_schedule.every_epochs"),
                "a step schedule needs `every_epochs`".into(),
            ));
        }
        ScheduleKind::Cosine => {
            let min = sched.min_lr.unwrap_or(0.0);
            if !(0.0..=opt.learning_rate.get()).contains(&min) {
                return Err((
                    format!("{at}.lr_schedule.min_lr"),
                    format!(
                        "expected 0 <= min_lr <= learning_rate ({}), got {min}",
                        opt.learning_rate.get()
                    ),
                ));
            }
        }
        _ => {}
    }
    if sched.kind != ScheduleKind::Step && (sched.every_epochs.is_some() || sched.gamma.is_some()) {
        return Err((
            format!("{at}.lr_schedule.every_epochs"),
            "`every_epochs` and `gamma` only apply to `kind: step`".into(),
        ));
    }
    if sched.kind != ScheduleKind::Cosine && sched.min_lr.is_some() {
        return Err((
            format!("{at}.lr_schedule.min_lr"),
            "`min_lr` only applies to `kind: cosine`".into(),
        ));
    }
    Ok(())
}

/// Finds `plugins/<name>/plugin.yaml` for a scenario: first in the explicit
/// directories, then in every `plugins/` folder from the scenario's folder
/// upwards (so `scenarios/x.yaml` finds the sibling `plugins/`).
pub fn find_plugin(
    scenario_file: &Path,
    plugin: &Name,
    plugin_dirs: &[PathBuf],
) -> Result<PathBuf, SpecError> {
    let mut searched = Vec::new();
    let mut candidates: Vec<PathBuf> = plugin_dirs
        .iter()
        .map(|d| d.join(plugin.as_str()).join("plugin.yaml"))
        .collect();
    let start = scenario_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let start = if start.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        start
    };
    for dir in start.ancestors() {
        candidates.push(
            dir.join("plugins")
                .join(plugin.as_str())
                .join("plugin.yaml"),
        );
    }
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
        searched.push(candidate);
    }
    Err(SpecError::MissingPlugin {
        scenario: scenario_file.to_path_buf(),
        plugin: plugin.to_string(),
        closest: closest_plugin(plugin.as_str(), &searched),
        searched,
    })
}

/// The plugin beside the searched paths (`<dir>/<name>/plugin.yaml`) whose
/// name is a few edits from `wanted`, as a did-you-mean hint.
fn closest_plugin(wanted: &str, searched: &[PathBuf]) -> Option<String> {
    let mut dirs: Vec<&Path> = searched
        .iter()
        .filter_map(|p| p.parent()?.parent())
        .collect();
    dirs.dedup();
    dirs.into_iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("plugin.yaml").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .map(|name| {
            let distance = strsim::levenshtein(&name.to_lowercase(), &wanted.to_lowercase());
            (distance, name)
        })
        .filter(|(d, _)| *d <= (wanted.len() / 3).max(2))
        .min()
        .map(|(_, name)| name)
}

/// JSON Schemas of both file kinds, for editors and `indus schema`.
pub fn json_schemas() -> serde_json::Value {
    serde_json::json!({
        "plugin": schemars::schema_for!(PluginManifest),
        "scenario": schemars::schema_for!(Scenario),
    })
}

#[cfg(test)]
mod tests;
