//! Reading rows to predict on from CSV, JSON lines or IDX files, checked
//! against the plugin's schema with errors naming the row and column.

use crate::DataError;
use crate::idx::read_idx;
use crate::table::{RawTable, feature_columns, is_numeric};
use indus_spec::{ColumnRole, ColumnSpec, ColumnType, PluginManifest};
use polars::prelude::*;
use std::path::Path;

/// Input file formats `predict` and `eval` accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// Header row, one column per scalar and `<image>_<i>` per pixel.
    Csv,
    /// One JSON object per line; images as arrays (flat or nested).
    JsonLines,
    /// An IDX image file (optionally gzip), for image plugins.
    Idx,
}

impl RowFormat {
    /// Guesses the format from the file name.
    pub fn from_path(path: &Path) -> Option<RowFormat> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".csv") {
            Some(RowFormat::Csv)
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
            Some(RowFormat::JsonLines)
        } else if name.contains("idx") || name.ends_with("-ubyte") {
            Some(RowFormat::Idx)
        } else {
            None
        }
    }
}

/// Reads and validates rows from `path`. The target column is optional: when
/// present its labels are kept (for `eval`).
pub fn read_rows(
    manifest: &PluginManifest,
    path: &Path,
    format: RowFormat,
) -> Result<RawTable, DataError> {
    match format {
        RowFormat::Csv => read_csv(manifest, path),
        RowFormat::JsonLines => {
            let text = std::fs::read_to_string(path).map_err(|source| DataError::Read {
                file: path.to_path_buf(),
                source,
            })?;
            let mut values = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                    DataError::row(
                        &path.display().to_string(),
                        i + 1,
                        None,
                        format!("not valid JSON: {e}"),
                    )
                })?;
                values.push((i + 1, v));
            }
            rows_from_json(manifest, &path.display().to_string(), &values)
        }
        RowFormat::Idx => {
            let arr = read_idx(path)?;
            let cols = feature_columns(manifest);
            match cols.as_slice() {
                [c] if c.kind == ColumnType::Image && c.width() == arr.item_len() => {
                    let table = RawTable {
                        features: arr.data.iter().map(|&p| p as f32).collect(),
                        width: c.width(),
                        labels: None,
                        ids: None,
                    };
                    Ok(table)
                }
                _ => Err(DataError::Schema {
                    source_name: path.display().to_string(),
                    message: format!(
                        "IDX input needs a plugin with one image feature column of {} pixels",
                        arr.item_len()
                    ),
                }),
            }
        }
    }
}

/// Validates rows given as JSON objects (from a JSON-lines file or an HTTP
/// body). Each element is `(row number, object)`.
pub fn rows_from_json(
    manifest: &PluginManifest,
    source_name: &str,
    rows: &[(usize, serde_json::Value)],
) -> Result<RawTable, DataError> {
    let cols = feature_columns(manifest);
    let width: usize = cols.iter().map(|c| c.width()).sum();
    let target = target_column(manifest);
    let id_col = manifest
        .data
        .columns
        .iter()
        .find(|c| c.role == ColumnRole::Id);
    let mut table = RawTable {
        features: Vec::with_capacity(rows.len() * width),
        width,
        labels: None,
        ids: None,
    };
    let mut labels = Vec::new();
    let mut ids = Vec::new();
    for (row, value) in rows {
        let row = *row;
        let obj = value
            .as_object()
            .ok_or_else(|| DataError::row(source_name, row, None, "expected a JSON object"))?;
        for c in &cols {
            let v = obj
                .get(&c.name)
                .ok_or_else(|| DataError::row(source_name, row, Some(&c.name), "missing"))?;
            if c.kind == ColumnType::Image {
                let mut pixels = Vec::with_capacity(c.width());
                flatten_numbers(v, &mut pixels)
                    .map_err(|m| DataError::row(source_name, row, Some(&c.name), m))?;
                if pixels.len() != c.width() {
                    return Err(DataError::row(
                        source_name,
                        row,
                        Some(&c.name),
                        format!("expected {} pixel values, got {}", c.width(), pixels.len()),
                    ));
                }
                for p in pixels {
                    table.features.push(
                        check_value(c, p)
                            .map_err(|m| DataError::row(source_name, row, Some(&c.name), m))?,
                    );
                }
            } else if is_numeric(c.kind) {
                let n = json_scalar(v)
                    .map_err(|m| DataError::row(source_name, row, Some(&c.name), m))?;
                table.features.push(
                    check_value(c, n)
                        .map_err(|m| DataError::row(source_name, row, Some(&c.name), m))?,
                );
            } else {
                return Err(unsupported(source_name, c));
            }
        }
        if let Some((t, classes)) = target
            && let Some(v) = obj.get(&t.name)
        {
            let label = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            labels.push(
                class_index(classes, &label)
                    .map_err(|m| DataError::row(source_name, row, Some(&t.name), m))?,
            );
        }
        if let Some(c) = id_col {
            ids.push(
                obj.get(&c.name)
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .unwrap_or_default(),
            );
        }
    }
    if !labels.is_empty() {
        if labels.len() != rows.len() {
            return Err(DataError::Schema {
                source_name: source_name.into(),
                message: "the target column is present in some rows but not all".into(),
            });
        }
        table.labels = Some(labels);
    }
    if id_col.is_some() {
        table.ids = Some(ids);
    }
    Ok(table)
}

fn read_csv(manifest: &PluginManifest, path: &Path) -> Result<RawTable, DataError> {
    let name = path.display().to_string();
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0)) // read every column as text; we parse and report per cell
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| DataError::Schema {
            source_name: name.clone(),
            message: format!("cannot parse as CSV: {e}"),
        })?;
    let n = df.height();
    let cols = feature_columns(manifest);
    let width: usize = cols.iter().map(|c| c.width()).sum();
    // Column-major parse, then interleave into rows.
    let mut by_column: Vec<Vec<f32>> = Vec::with_capacity(width);
    for c in &cols {
        if !(c.kind == ColumnType::Image || is_numeric(c.kind)) {
            return Err(unsupported(&name, c));
        }
        let names: Vec<String> = if c.kind == ColumnType::Image {
            (0..c.width()).map(|i| format!("{}_{i}", c.name)).collect()
        } else {
            vec![c.name.clone()]
        };
        for col_name in names {
            let column = df.column(&col_name).map_err(|_| DataError::Schema {
                source_name: name.clone(),
                message: format!(
                    "missing column `{col_name}` (column `{}` of the plugin's schema)",
                    c.name
                ),
            })?;
            let text = column.str().map_err(|e| DataError::Schema {
                source_name: name.clone(),
                message: e.to_string(),
            })?;
            let mut values = Vec::with_capacity(n);
            for (row, cell) in text.iter().enumerate() {
                let v = match cell.map(str::trim) {
                    None | Some("") if c.nullable => f64::NAN,
                    None | Some("") => {
                        return Err(DataError::row(
                            &name,
                            row + 1,
                            Some(&col_name),
                            "missing value",
                        ));
                    }
                    Some(s) => s.parse::<f64>().map_err(|_| {
                        DataError::row(
                            &name,
                            row + 1,
                            Some(&col_name),
                            format!("`{s}` is not a number"),
                        )
                    })?,
                };
                let v = if v.is_nan() && c.nullable {
                    f32::NAN
                } else {
                    check_value(c, v)
                        .map_err(|m| DataError::row(&name, row + 1, Some(&col_name), m))?
                };
                values.push(v);
            }
            by_column.push(values);
        }
    }
    let mut features = Vec::with_capacity(n * width);
    for row in 0..n {
        features.extend(by_column.iter().map(|col| col[row]));
    }
    let mut table = RawTable {
        features,
        width,
        labels: None,
        ids: None,
    };
    if let Some((t, classes)) = target_column(manifest)
        && let Ok(col) = df.column(&t.name)
        && let Ok(text) = col.str()
    {
        let mut labels = Vec::with_capacity(n);
        for (row, cell) in text.iter().enumerate() {
            let cell =
                cell.ok_or_else(|| DataError::row(&name, row + 1, Some(&t.name), "missing label"))?;
            labels.push(
                class_index(classes, cell.trim())
                    .map_err(|m| DataError::row(&name, row + 1, Some(&t.name), m))?,
            );
        }
        table.labels = Some(labels);
    }
    if let Some(c) = manifest
        .data
        .columns
        .iter()
        .find(|c| c.role == ColumnRole::Id)
        && let Ok(col) = df.column(&c.name)
        && let Ok(text) = col.str()
    {
        table.ids = Some(
            text.iter()
                .map(|s| s.unwrap_or_default().to_string())
                .collect(),
        );
    }
    Ok(table)
}

fn unsupported(source_name: &str, c: &ColumnSpec) -> DataError {
    DataError::Schema {
        source_name: source_name.into(),
        message: format!(
            "feature column `{}` has type {:?}, which this reader does not accept yet",
            c.name, c.kind
        ),
    }
}

fn target_column(manifest: &PluginManifest) -> Option<(&ColumnSpec, &Vec<String>)> {
    let head = manifest.heads.first()?;
    let classes = head.classes.as_ref()?;
    let column = manifest
        .data
        .columns
        .iter()
        .find(|c| c.name == head.target)?;
    Some((column, classes))
}

/// Maps a label's text to its class index, naming the allowed labels when
/// it is unknown.
pub fn class_index(classes: &[String], label: &str) -> Result<u32, String> {
    classes
        .iter()
        .position(|c| c == label)
        .map(|i| i as u32)
        .ok_or_else(|| {
            format!(
                "unknown label `{label}`; expected one of {}",
                classes.join(", ")
            )
        })
}

fn check_value(c: &ColumnSpec, v: f64) -> Result<f32, String> {
    if !v.is_finite() {
        return Err(format!("value {v} is not a finite number"));
    }
    let (lo, hi) = match (c.range, c.max_value) {
        (Some([lo, hi]), _) => (lo, hi),
        (None, Some(max)) => (0.0, max.get()),
        (None, None) => return Ok(v as f32),
    };
    if v < lo || v > hi {
        return Err(format!(
            "value {v} is outside the allowed range [{lo}, {hi}]"
        ));
    }
    Ok(v as f32)
}

fn json_scalar(v: &serde_json::Value) -> Result<f64, String> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().ok_or_else(|| format!("`{n}` is not a number")),
        serde_json::Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        other => Err(format!("expected a number, got `{other}`")),
    }
}

fn flatten_numbers(v: &serde_json::Value, out: &mut Vec<f64>) -> Result<(), String> {
    match v {
        serde_json::Value::Array(items) => items.iter().try_for_each(|i| flatten_numbers(i, out)),
        other => {
            out.push(json_scalar(other)?);
            Ok(())
        }
    }
}
