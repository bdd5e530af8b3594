//! Reading rows (training data files and inputs to predict on) from CSV,
//! JSON lines or IDX, checked against the plugin's schema with errors that
//! name the row and the column.

use crate::DataError;
use crate::idx::read_idx;
use crate::join::{LookupTable, fill_json_rows};
use crate::table::{HeadTargets, RawTable, SkippedRows, feature_columns, is_numeric};
use indus_spec::{
    ColumnRole, ColumnSpec, ColumnType, ExtraColumns, HeadSpec, OnBadRows, PluginManifest, Task,
    UnknownValues,
};
use polars::prelude::*;
use std::collections::HashSet;
use std::path::Path;

/// Input file formats `predict` and `eval` accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// Header row, one column per scalar and `<image>_<i>` per pixel; the
    /// plugin's delimiter and encoding, so next month's export reads like
    /// the training file.
    Csv,
    /// One JSON object per line (or one JSON array of objects); images as
    /// arrays (flat or nested).
    JsonLines,
    /// An IDX image file (optionally gzip), for image plugins.
    Idx,
    /// An Apache Parquet file, one column per scalar (as CSV).
    Parquet,
    /// Image files: one (PNG, JPEG, BMP, TIFF), or a folder of them, loose
    /// or in class sub-folders (labelled, for `eval`).
    Images,
}

impl RowFormat {
    /// Guesses the format from the file name (a folder holds images).
    pub fn from_path(path: &Path) -> Option<RowFormat> {
        if path.is_dir() {
            return Some(RowFormat::Images);
        }
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let extension = Path::new(&name).extension().map(|e| e.to_string_lossy());
        if extension.is_some_and(|e| crate::folder::IMAGE_EXTENSIONS.contains(&e.as_ref())) {
            return Some(RowFormat::Images);
        }
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".csv") {
            Some(RowFormat::Csv)
        } else if name.ends_with(".parquet") || name.ends_with(".pq") {
            Some(RowFormat::Parquet)
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
            Some(RowFormat::JsonLines)
        } else if name.contains("idx") || name.ends_with("-ubyte") {
            Some(RowFormat::Idx)
        } else {
            None
        }
    }
}

/// Reads and validates rows from `path` at once. The target column is
/// optional: when present its labels are kept (for `eval`).
pub fn read_input_rows(
    manifest: &PluginManifest,
    path: &Path,
    format: RowFormat,
    joins: &[LookupTable],
) -> Result<RawTable, DataError> {
    read_rows(
        manifest,
        path,
        format,
        input_layout(manifest)?,
        false,
        joins,
    )
}

/// The layout of files given to `predict` and `eval`: the plugin's
/// delimiter, encoding and decimal mark, always with a header row.
pub fn input_layout(manifest: &PluginManifest) -> Result<CsvLayout, DataError> {
    Ok(CsvLayout {
        header: true,
        ..crate::dataset::csv_layout(manifest)?
    })
}

/// Reads and validates every row of `path` at once. With
/// `require_target`, a missing target is an error (training data).
pub(crate) fn read_rows(
    manifest: &PluginManifest,
    path: &Path,
    format: RowFormat,
    layout: CsvLayout,
    require_target: bool,
    joins: &[LookupTable],
) -> Result<RawTable, DataError> {
    let name = path.display().to_string();
    match format {
        RowFormat::Csv => {
            let bytes = std::fs::read(path).map_err(|source| DataError::Read {
                file: path.to_path_buf(),
                source,
            })?;
            rows_from_csv(manifest, &name, bytes, layout, require_target, joins)
        }
        RowFormat::Parquet => {
            let bytes = std::fs::read(path).map_err(|source| DataError::Read {
                file: path.to_path_buf(),
                source,
            })?;
            rows_from_parquet(manifest, &name, bytes, require_target, joins)
        }
        RowFormat::JsonLines => {
            let text = std::fs::read_to_string(path).map_err(|source| DataError::Read {
                file: path.to_path_buf(),
                source,
            })?;
            // Windows tools often start UTF-8 text with a byte-order mark.
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            // A file holding one JSON array of row objects is accepted too.
            if text.trim_start().starts_with('[') {
                let rows: Vec<serde_json::Value> =
                    serde_json::from_str(text).map_err(|e| DataError::Schema {
                        source_name: name.clone(),
                        message: format!("not a JSON array of row objects: {e}"),
                    })?;
                let numbered: Vec<(usize, serde_json::Value)> = rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i + 1, v))
                    .collect();
                return json_rows(manifest, &name, numbered, joins);
            }
            let mut values = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                    DataError::row(&name, i + 1, None, format!("not valid JSON: {e}"))
                })?;
                values.push((i + 1, v));
            }
            json_rows(manifest, &name, values, joins)
        }
        RowFormat::Images => {
            let rows = crate::folder::read_images(manifest, path)?;
            Ok(RawTable {
                notes: rows.notes,
                ..rows.table
            })
        }
        RowFormat::Idx => {
            let arr = read_idx(path)?;
            match feature_columns(manifest).as_slice() {
                [c] if c.kind == ColumnType::Image && c.width() == arr.item_len() => Ok(RawTable {
                    features: arr.data.iter().map(|&p| p as f32).collect(),
                    width: c.width(),
                    labels: None,
                    ids: None,
                    ..Default::default()
                }),
                _ => Err(DataError::Schema {
                    source_name: name,
                    message: format!(
                        "IDX input needs a plugin with one image feature column of {} pixels",
                        arr.item_len()
                    ),
                }),
            }
        }
    }
}

/// The target column of the first head and its class labels in output order
/// (a binary head without `classes` uses `0` and `1`).
pub fn target_classes(manifest: &PluginManifest) -> Option<(&ColumnSpec, Vec<String>)> {
    let head = manifest.heads.first()?;
    if head.classes.is_none() && head.task != Task::Binary {
        return None;
    }
    let classes = head_classes(head);
    let column = manifest
        .data
        .columns
        .iter()
        .find(|c| c.name == head.target)?;
    Some((column, classes))
}

/// A classifier head's labels in output order (`0` and `1` for a binary
/// head that names none).
pub fn head_classes(head: &HeadSpec) -> Vec<String> {
    match (&head.classes, head.task) {
        (Some(c), _) => c.clone(),
        (None, Task::Binary) => vec!["0".into(), "1".into()],
        (None, _) => Vec::new(),
    }
}

/// A sample weight cell: a finite number, 0 or more (0 leaves the row out
/// of the training loss).
fn sample_weight(cell: Option<&str>) -> Result<f32, String> {
    let text = cell.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Err(
            "missing sample weight; give every training row one (1 counts a row once)".into(),
        );
    }
    match text.parse::<f32>() {
        Ok(w) if w.is_finite() && w >= 0.0 => Ok(w),
        Ok(w) => Err(format!(
            "sample weight {w} must be a finite number of at least 0"
        )),
        Err(_) => Err(format!("`{text}` is not a number (sample weight)")),
    }
}

/// Rows to predict from a CSV file or request body: a header row, then
/// one row per line in the plugin's delimiter, encoding, decimal mark and
/// missing markers, so next month's export reads like the training file.
pub fn csv_input_rows(
    manifest: &PluginManifest,
    source_name: &str,
    bytes: Vec<u8>,
    joins: &[LookupTable],
) -> Result<RawTable, DataError> {
    let layout = CsvLayout {
        header: true,
        ..crate::dataset::csv_layout(manifest)?
    };
    rows_from_csv(manifest, source_name, bytes, layout, false, joins)
}

/// Reads CSV bytes with every column as text (cells are parsed and
/// reported one by one later), decoding Latin-1 when asked.
pub(crate) fn read_text_csv(
    source_name: &str,
    bytes: Vec<u8>,
    layout: CsvLayout,
) -> Result<DataFrame, DataError> {
    parse_text_csv(source_name, &decode(bytes, layout), layout, CsvRead::All)
}

/// The names in a CSV file's header row, from the file's first bytes (the
/// rows after the header may be cut anywhere; they are not read).
pub(crate) fn read_csv_header(
    source_name: &str,
    bytes: Vec<u8>,
    layout: CsvLayout,
) -> Result<Vec<String>, DataError> {
    Ok(
        parse_text_csv(source_name, &decode(bytes, layout), layout, CsvRead::Header)?
            .get_column_names()
            .into_iter()
            .map(|c| c.to_string())
            .collect(),
    )
}

/// The fields of a header-less CSV file: the declared columns in order
/// (an image column as one field per pixel), derived ones left out.
pub(crate) fn declared_field_names(manifest: &PluginManifest) -> Vec<String> {
    manifest
        .data
        .columns
        .iter()
        .filter(|c| !c.derived)
        .flat_map(csv_field_names)
        .collect()
}

/// Reads the first `rows` rows of CSV bytes, every column as text.
pub(crate) fn read_first_csv_rows(
    source_name: &str,
    bytes: Vec<u8>,
    layout: CsvLayout,
    rows: usize,
) -> Result<DataFrame, DataError> {
    parse_text_csv(
        source_name,
        &decode(bytes, layout),
        layout,
        CsvRead::FirstRows(rows),
    )
}

/// What of a CSV file to parse.
enum CsvRead {
    /// Every row of every column.
    All,
    /// The header row alone (the column names).
    Header,
    /// The first rows of every column.
    FirstRows(usize),
    /// Every row of the columns at these positions.
    Columns(Vec<usize>),
}

/// The file's bytes as UTF-8: every Latin-1 byte is the Unicode code
/// point of the same value.
fn decode(bytes: Vec<u8>, layout: CsvLayout) -> Vec<u8> {
    if layout.latin1 {
        bytes
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into_bytes()
    } else {
        bytes
    }
}

/// The bytes without the blank lines at the end of the file. Spreadsheet
/// exports and `echo >>` often leave some; they hold no record, and read
/// as they stand they would be rows of missing values.
fn without_trailing_blank_lines(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |last| last + 1);
    &bytes[..end]
}

fn parse_text_csv(
    source_name: &str,
    bytes: &[u8],
    layout: CsvLayout,
    read: CsvRead,
) -> Result<DataFrame, DataError> {
    let bytes = without_trailing_blank_lines(bytes);
    let schema_error = |message: String| DataError::Schema {
        source_name: source_name.to_string(),
        message,
    };
    if bytes.is_empty() {
        return Err(schema_error(if layout.header {
            "the file is empty: not even a header row".into()
        } else {
            "the file is empty: no rows".into()
        }));
    }
    let mut options = CsvReadOptions::default()
        .with_has_header(layout.header)
        .with_infer_schema_length(Some(0)) // every column as text: we parse and report per cell
        .with_parse_options(CsvParseOptions::default().with_separator(layout.delimiter));
    match read {
        CsvRead::All => {}
        CsvRead::Header => options = options.with_n_rows(Some(0)),
        CsvRead::FirstRows(n) => options = options.with_n_rows(Some(n)),
        // Nothing the schema declares: no rows to read, and the caller
        // reports every missing column.
        CsvRead::Columns(positions) if positions.is_empty() => return Ok(DataFrame::empty()),
        CsvRead::Columns(positions) => options = options.with_projection(Some(Arc::new(positions))),
    }
    let frame = options
        .into_reader_with_file_handle(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| schema_error(csv_parse_message(&e.to_string(), bytes, layout)))?;
    if layout.header
        && let Some(twice) = repeated_header(&frame)
    {
        return Err(schema_error(format!(
            "the header names column `{twice}` more than once; rename the copies"
        )));
    }
    Ok(frame)
}

/// A name the header row repeats. polars renames a repeated header `a` to
/// `a_duplicated_0`, which would silently read a second column as if the
/// file had named it so; a schema cannot name both, so the file is refused.
fn repeated_header(frame: &DataFrame) -> Option<String> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    names.iter().find_map(|n| {
        n.rsplit_once("_duplicated_")
            .map(|(base, _)| base.to_string())
            .filter(|base| names.iter().any(|m| m == base))
    })
}

/// What went wrong when polars refused a file, in the terms of the file
/// rather than of polars' own options: the line of a quote that never
/// closes, or the encoding to declare.
fn csv_parse_message(polars_message: &str, bytes: &[u8], layout: CsvLayout) -> String {
    if polars_message.to_ascii_lowercase().contains("utf-8") && !layout.latin1 {
        return "cannot parse as CSV: the file is not valid UTF-8 (a file in Latin-1 needs \
                `data.source.encoding: latin1` in the plugin)"
            .into();
    }
    if let Some(line) = unclosed_quote_line(bytes) {
        return format!(
            "cannot parse as CSV: line {line} opens a quoted field (`\"`) that is never closed"
        );
    }
    // polars suggests the options of its Python API; keep its own words only.
    let own_words = match polars_message.split_once("You might want to try:") {
        Some((before, after)) => {
            let original = after.split_once("Original error:").map_or("", |(_, o)| o);
            format!("{before} {original}")
        }
        None => polars_message.to_string(),
    };
    let flat = own_words
        .replace("```", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!("cannot parse as CSV: {flat}")
}

/// The 1-based line of the last `"` that opens a quoted field and is never
/// closed, if any (a doubled `""` inside a field opens and closes at once).
fn unclosed_quote_line(bytes: &[u8]) -> Option<usize> {
    let mut line = 1;
    let mut open_at = None;
    for &b in bytes {
        match b {
            b'\n' => line += 1,
            b'"' => open_at = if open_at.is_some() { None } else { Some(line) },
            _ => {}
        }
    }
    open_at
}

/// Which of a file's columns are read: those the schema declares and the
/// keys that join lookup tables. The others are never parsed; they are
/// returned by name for `data.extra_columns: warn`, or refused under
/// `error`.
pub(crate) fn project(
    manifest: &PluginManifest,
    source_name: &str,
    names: &[String],
    joins: &[LookupTable],
) -> Result<(Vec<usize>, Vec<String>), DataError> {
    let declared: HashSet<String> = manifest
        .data
        .columns
        .iter()
        .flat_map(csv_field_names)
        .chain(joins.iter().map(|j| j.on.clone()))
        .collect();
    let mut read = Vec::with_capacity(names.len());
    let mut undeclared = Vec::new();
    for (position, name) in names.iter().enumerate() {
        if declared.contains(name) {
            read.push(position);
        } else {
            undeclared.push(name.clone());
        }
    }
    if manifest.data.extra_columns == ExtraColumns::Error && !undeclared.is_empty() {
        return Err(DataError::Schema {
            source_name: source_name.to_string(),
            message: format!(
                "undeclared column{} {} (the plugin sets `data.extra_columns: error`; declare them, with `role: ignore` to skip them)",
                if undeclared.len() > 1 { "s" } else { "" },
                quoted(&undeclared)
            ),
        });
    }
    let undeclared = if manifest.data.extra_columns == ExtraColumns::Warn {
        undeclared
    } else {
        Vec::new()
    };
    Ok((read, undeclared))
}

/// The line that tells the user which undeclared columns `source_name`
/// carried (under `data.extra_columns: warn`); `None` when it had none.
pub fn undeclared_note(source_name: &str, table: &RawTable) -> Option<String> {
    let names = &table.undeclared_columns;
    (!names.is_empty()).then(|| {
        format!(
            "{source_name}: read past {} column{} the plugin's schema does not declare: {} (declare a column with `role: ignore`, or set `data.extra_columns: ignore` or `error`)",
            names.len(),
            if names.len() > 1 { "s" } else { "" },
            quoted(names)
        )
    })
}

/// Names a message lists at most.
const NAMES_SHOWN: usize = 10;

/// `a`, `b`, `c`: names as a message lists them, the first ten and a count
/// of the rest.
pub(crate) fn quoted(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(NAMES_SHOWN)
        .map(|c| format!("`{c}`"))
        .collect();
    match names.len().saturating_sub(NAMES_SHOWN) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// The target column of a head that predicts a number (regression, user
/// ratings), whose values are kept as numbers rather than class labels.
pub fn numeric_target(manifest: &PluginManifest) -> Option<&ColumnSpec> {
    let head = manifest.heads.first()?;
    if !matches!(head.task, Task::Regression | Task::UserItem) {
        return None;
    }
    manifest.data.columns.iter().find(|c| c.name == head.target)
}

/// Whether a target read from the input is kept. Training data
/// (`require_target`) reports its problems with every other cell's. An
/// input to predict needs no target, so a blank or unknown one there does
/// not refuse the rows: the column is read past and its first problem is
/// kept in `set_aside` ([`RawTable::ignored_targets`], which evaluating
/// names, or the notes for a sample weight).
fn settle_target(
    problems: Vec<DataError>,
    require_target: bool,
    cell_problems: &mut Vec<DataError>,
    set_aside: &mut Vec<String>,
) -> bool {
    let Some(first) = problems.first() else {
        return true;
    };
    if require_target {
        cell_problems.extend(problems);
        return true;
    }
    let more = match problems.len() - 1 {
        0 => String::new(),
        1 => " (and 1 more row)".to_string(),
        n => format!(" (and {n} more rows)"),
    };
    set_aside.push(format!("{first}{more}; the column is read past"));
    false
}

/// A numeric target cell, checked against its column's declared range.
fn target_number(column: &ColumnSpec, cell: Option<&str>) -> Result<f32, String> {
    match cell.map(str::trim).filter(|s| !s.is_empty()) {
        None => Err("missing target value".to_string()),
        Some(text) => text
            .parse::<f64>()
            .map_err(|_| format!("{} is not a number", shown(column, text)))
            .and_then(|v| check_number(column, v)),
    }
}

/// Parses CSV bytes into checked rows. With `require_target`, a missing
/// target column or label is an error (training data); otherwise labels are
/// kept only when the column is present (inputs to predict or evaluate).
pub fn rows_from_csv(
    manifest: &PluginManifest,
    source_name: &str,
    bytes: Vec<u8>,
    layout: CsvLayout,
    require_target: bool,
    joins: &[LookupTable],
) -> Result<RawTable, DataError> {
    let schema_error = |message: String| DataError::Schema {
        source_name: source_name.to_string(),
        message,
    };
    let bytes = decode(bytes, layout);
    let (df, undeclared) = if layout.header {
        let header: Vec<String> = parse_text_csv(source_name, &bytes, layout, CsvRead::Header)?
            .get_column_names()
            .into_iter()
            .map(|c| c.to_string())
            .collect();
        let (read, undeclared) = project(manifest, source_name, &header, joins)?;
        let df = parse_text_csv(source_name, &bytes, layout, CsvRead::Columns(read))?;
        (df, undeclared)
    } else {
        // Without a header the fields are the declared columns, in order.
        let mut df = parse_text_csv(source_name, &bytes, layout, CsvRead::All)?;
        let names = declared_field_names(manifest);
        if df.width() != names.len() {
            return Err(schema_error(format!(
                "rows have {} fields, the schema declares {} columns (without a header row they are read in declared order)",
                df.width(),
                names.len()
            )));
        }
        df.set_column_names(&names)
            .map_err(|e| schema_error(e.to_string()))?;
        (df, Vec::new())
    };
    let mut table = rows_from_frame(
        manifest,
        source_name,
        df,
        require_target,
        joins,
        layout.decimal_comma,
        &undeclared,
        1,
    )?;
    table.undeclared_columns = undeclared;
    Ok(table)
}

/// Reads an Apache Parquet file into checked rows, with the same rules and
/// messages as CSV: every column is turned into text and parsed cell by
/// cell against the schema.
pub fn rows_from_parquet(
    manifest: &PluginManifest,
    source_name: &str,
    bytes: Vec<u8>,
    require_target: bool,
    joins: &[LookupTable],
) -> Result<RawTable, DataError> {
    let schema_error = |message: String| DataError::Schema {
        source_name: source_name.to_string(),
        message,
    };
    let unreadable = |e: PolarsError| schema_error(format!("cannot read as Parquet: {e}"));
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let names: Vec<String> = reader
        .schema()
        .map_err(unreadable)?
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    let (read, undeclared) = project(manifest, source_name, &names, joins)?;
    let df = if read.is_empty() {
        DataFrame::empty() // every declared column is reported missing below
    } else {
        reader
            .with_projection(Some(read))
            .finish()
            .map_err(unreadable)?
    };
    let df = parquet_as_read(manifest, &df, joins)
        .map_err(|e| schema_error(format!("cannot read a column as text: {e}")))?;
    // Parquet numbers are typed; text cells follow the point convention.
    let mut table = rows_from_frame(
        manifest,
        source_name,
        df,
        require_target,
        joins,
        false,
        &undeclared,
        1,
    )?;
    table.undeclared_columns = undeclared;
    Ok(table)
}

/// Checks a table of text columns against the schema: joins, missing
/// columns, every cell, the target and the split columns. `undeclared` are
/// the file's columns the schema does not declare (named when a declared
/// one is missing). `first_row` is the file's 1-based number of the frame's
/// first row (a batch of a streamed file starts past 1), so every message
/// names the row as the file numbers it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rows_from_frame(
    manifest: &PluginManifest,
    source_name: &str,
    mut df: DataFrame,
    require_target: bool,
    joins: &[LookupTable],
    decimal_comma: bool,
    undeclared: &[String],
    first_row: usize,
) -> Result<RawTable, DataError> {
    let schema_error = |message: String| DataError::Schema {
        source_name: source_name.to_string(),
        message,
    };
    for table in joins {
        table.join_onto(&mut df, source_name)?;
    }
    if !manifest.data.source.missing_markers.is_empty() {
        with_missing_markers(manifest, &mut df).map_err(|e| schema_error(e.to_string()))?;
    }
    if decimal_comma {
        with_decimal_points(manifest, &mut df).map_err(|e| schema_error(e.to_string()))?;
    }
    let n = df.height();
    // The cells are borrowed from the frame, never copied into strings of
    // their own: a 5M-row file would otherwise be held twice.
    let text_column = |name: &str, what: &str| -> Result<StringChunked, DataError> {
        let column = df
            .column(name)
            .map_err(|_| schema_error(format!("missing column `{name}` ({what})")))?;
        let text = column.str().map_err(|e| schema_error(e.to_string()))?;
        Ok(text.clone())
    };
    let at = |row: usize| first_row + row;

    let cols = feature_columns(manifest);
    let width: usize = cols.iter().map(|c| c.width()).sum();
    let mut features = vec![0.0f32; n * width];
    let mut position = 0;
    // Every missing column at once, before reading any cell.
    let missing: Vec<String> = cols
        .iter()
        .filter(|c| !c.derived)
        .flat_map(|c| csv_field_names(c))
        .filter(|name| df.column(name).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(schema_error(format!(
            "missing column{} {} (the plugin's schema){}",
            if missing.len() > 1 { "s" } else { "" },
            quoted(&missing),
            near_misses(undeclared, &missing)
        )));
    }
    // Cell problems of every column, reported together in row order.
    let mut cell_problems: Vec<DataError> = Vec::new();
    for c in &cols {
        if c.derived {
            // Filled in by the plugin's native hook.
            for row in 0..n {
                features[row * width + position] = f32::NAN;
            }
            position += 1;
            continue;
        }
        for col_name in csv_field_names(c) {
            // Typed numbers (Parquet) are checked as they are, unparsed.
            if let Some(numbers) = df
                .column(&col_name)
                .ok()
                .and_then(|column| column.f64().ok())
                .filter(|_| reads_typed_numbers(c))
            {
                for (row, v) in numbers.iter().enumerate() {
                    let value = match v {
                        Some(v) => number_cell(c, v, v),
                        None => missing_cell(c),
                    };
                    match value {
                        Ok(v) => features[row * width + position] = v,
                        Err(m) => cell_problems.push(DataError::row(
                            source_name,
                            at(row),
                            Some(&col_name),
                            m,
                        )),
                    }
                }
                position += 1;
                continue;
            }
            let cells = text_column(
                &col_name,
                &format!("column `{}` of the plugin's schema", c.name),
            )?;
            for (row, cell) in cells.iter().enumerate() {
                match parse_cell(c, cell) {
                    Ok(v) => features[row * width + position] = v,
                    Err(m) => {
                        cell_problems.push(DataError::row(source_name, at(row), Some(&col_name), m))
                    }
                }
            }
            position += 1;
        }
    }
    let mut table = RawTable {
        features,
        width,
        labels: None,
        ids: None,
        ..Default::default()
    };

    if let Some(t) = numeric_target(manifest) {
        let present = df.column(&t.name).is_ok();
        if present || require_target {
            let cells = text_column(&t.name, "the target")?;
            let mut values = Vec::with_capacity(n);
            let mut problems = Vec::new();
            for (row, cell) in cells.iter().enumerate() {
                match target_number(t, cell) {
                    Ok(v) => values.push(v),
                    Err(m) => {
                        problems.push(DataError::row(source_name, at(row), Some(&t.name), m));
                        values.push(0.0);
                    }
                }
            }
            if settle_target(
                problems,
                require_target,
                &mut cell_problems,
                &mut table.ignored_targets,
            ) {
                table.values = Some(values);
            }
        }
    }
    if let Some(c) = manifest
        .data
        .columns
        .iter()
        .find(|c| c.role == ColumnRole::Weight)
    {
        // Training files must carry the weights; inputs to predict need not.
        if df.column(&c.name).is_ok() || require_target {
            let cells = text_column(&c.name, "the sample weight")?;
            let mut weights = Vec::with_capacity(n);
            let mut problems = Vec::new();
            for (row, cell) in cells.iter().enumerate() {
                match sample_weight(cell) {
                    Ok(w) => weights.push(w),
                    Err(m) => {
                        problems.push(DataError::row(source_name, at(row), Some(&c.name), m));
                        weights.push(0.0);
                    }
                }
            }
            if settle_target(
                problems,
                require_target,
                &mut cell_problems,
                &mut table.notes,
            ) {
                table.weights = Some(weights);
            }
        }
    }
    for c in manifest
        .data
        .columns
        .iter()
        .filter(|c| c.role == ColumnRole::Split && df.column(&c.name).is_ok())
    {
        let values = text_column(&c.name, "a split column")?
            .iter()
            .map(|v| v.unwrap_or_default().trim().to_string())
            .collect();
        table.splits.push((c.name.clone(), values));
    }
    let multilabel = manifest
        .heads
        .first()
        .filter(|h| h.task == Task::Multilabel);
    if let Some(head) = multilabel {
        let present = df.column(&head.target).is_ok();
        if present || require_target {
            let cells = text_column(&head.target, "the target")?;
            let classes = head_classes(head);
            let separator = head.label_separator.as_deref().unwrap_or("|");
            let mut sets = Vec::with_capacity(n);
            let mut problems = Vec::new();
            for (row, cell) in cells.iter().enumerate() {
                let mut set = Vec::new();
                for part in cell
                    .unwrap_or("")
                    .split(separator)
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                {
                    match label_index(manifest, &head.target, &classes, part) {
                        Ok(l) if !set.contains(&l) => set.push(l),
                        Ok(_) => {}
                        Err(m) => problems.push(DataError::row(
                            source_name,
                            at(row),
                            Some(&head.target),
                            m,
                        )),
                    }
                }
                set.sort_unstable();
                sets.push(set);
            }
            if settle_target(
                problems,
                require_target,
                &mut cell_problems,
                &mut table.ignored_targets,
            ) {
                table.label_sets = Some(sets);
            }
        }
    } else if let Some((t, classes)) = target_classes(manifest) {
        let present = df.column(&t.name).is_ok();
        if present || require_target {
            let cells = text_column(&t.name, "the target")?;
            let mut labels = Vec::with_capacity(n);
            let mut problems = Vec::new();
            for (row, cell) in cells.iter().enumerate() {
                let cell = cell.map(str::trim).filter(|s| !s.is_empty());
                let label = cell
                    .ok_or_else(|| "missing label".to_string())
                    .and_then(|cell| label_index(manifest, &t.name, &classes, cell));
                match label {
                    Ok(l) => labels.push(l),
                    Err(m) => {
                        problems.push(DataError::row(source_name, at(row), Some(&t.name), m));
                        labels.push(0);
                    }
                }
            }
            if settle_target(
                problems,
                require_target,
                &mut cell_problems,
                &mut table.ignored_targets,
            ) {
                table.labels = Some(labels);
            }
        }
    }
    for head in manifest.heads.iter().skip(1) {
        let present = df.column(&head.target).is_ok();
        if !present && !require_target {
            continue;
        }
        let column = manifest.data.columns.iter().find(|c| c.name == head.target);
        let cells = text_column(&head.target, &format!("the target of head `{}`", head.name))?;
        let mut problems_here = Vec::new();
        let targets = match (head.task, column) {
            (Task::Regression, Some(c)) => {
                let mut values = Vec::with_capacity(n);
                for (row, cell) in cells.iter().enumerate() {
                    values.push(target_number(c, cell).unwrap_or_else(|m| {
                        problems_here.push((row, m));
                        0.0
                    }));
                }
                HeadTargets::Values(values)
            }
            _ => {
                let classes = head_classes(head);
                let mut labels = Vec::with_capacity(n);
                for (row, cell) in cells.iter().enumerate() {
                    let label = cell
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| "missing label".to_string())
                        .and_then(|cell| label_index(manifest, &head.target, &classes, cell));
                    labels.push(label.unwrap_or_else(|m| {
                        problems_here.push((row, m));
                        0
                    }));
                }
                HeadTargets::Classes(labels)
            }
        };
        let problems = problems_here
            .into_iter()
            .map(|(row, m)| {
                DataError::row(
                    source_name,
                    at(row),
                    Some(&head.target),
                    format!("{m} (head `{}`)", head.name),
                )
            })
            .collect();
        if settle_target(
            problems,
            require_target,
            &mut cell_problems,
            &mut table.ignored_targets,
        ) {
            table.head_targets.push((head.name.to_string(), targets));
        }
    }
    if let Some(c) = manifest
        .data
        .columns
        .iter()
        .find(|c| c.role == ColumnRole::Id)
        && df.column(&c.name).is_ok()
    {
        table.ids = Some(
            text_column(&c.name, "the id")?
                .iter()
                .map(|id| id.unwrap_or_default().to_string())
                .collect(),
        );
    }
    if !cell_problems.is_empty() {
        collapse_blank_rows(&df, source_name, first_row, &mut cell_problems);
    }
    cell_problems.sort_by_key(|e| match e {
        DataError::Row { row, .. } => *row,
        _ => 0,
    });
    if require_target && manifest.data.on_bad_rows == OnBadRows::Skip {
        return skip_bad_rows(table, cell_problems, first_row);
    }
    let mut problems = Problems::default();
    for p in cell_problems {
        problems.push(p);
    }
    problems.into_result(source_name)?;
    Ok(table)
}

/// Leaves out the rows named in `problems` (all row problems, in row
/// order) under `data.on_bad_rows: skip`. Every row kept carries its number
/// in the file, so that batches read after rows were left out still number
/// theirs right. A problem that names no row (a file-wide one) still stops.
fn skip_bad_rows(
    table: RawTable,
    mut problems: Vec<DataError>,
    first_row: usize,
) -> Result<RawTable, DataError> {
    if let Some(file_wide) = problems
        .iter()
        .position(|p| !matches!(p, DataError::Row { .. }))
    {
        return Err(problems.swap_remove(file_wide));
    }
    let bad: HashSet<usize> = problems
        .iter()
        .filter_map(|p| match p {
            DataError::Row { row, .. } => Some(*row),
            _ => None,
        })
        .collect();
    let keep: Vec<usize> = (0..table.len())
        .filter(|i| !bad.contains(&(first_row + i)))
        .collect();
    let mut kept = if bad.is_empty() {
        table
    } else {
        table.select(&keep)
    };
    kept.source_rows = Some(keep.iter().map(|i| first_row + i).collect());
    let mut reasons = Vec::new();
    let mut seen = HashSet::new();
    for p in problems {
        if let DataError::Row { row, .. } = &p
            && seen.insert(*row)
            && reasons.len() < SkippedRows::KEPT_REASONS
        {
            reasons.push(p.to_string());
        }
    }
    kept.skipped.merge(SkippedRows {
        count: bad.len(),
        reasons,
    });
    Ok(kept)
}

/// Empties the cells of the declared columns whose text is one of the
/// plugin's `missing_markers`, so `NA` or `?` reads as a missing value and
/// meets the column's `nullable` and `missing` rules like an empty cell.
fn with_missing_markers(manifest: &PluginManifest, df: &mut DataFrame) -> PolarsResult<()> {
    let markers = &manifest.data.source.missing_markers;
    rewrite_cells(
        manifest,
        df,
        |_| true,
        |text| (!markers.iter().any(|m| m == text.trim())).then(|| text.to_string()),
    )
}

/// Rewrites `61,7` as `61.7` in the numeric columns, so that one number
/// parser serves both conventions. A cell with more than one comma, or a
/// comma and a point, is left as written and reported as it stands.
fn with_decimal_points(manifest: &PluginManifest, df: &mut DataFrame) -> PolarsResult<()> {
    rewrite_cells(
        manifest,
        df,
        |c| is_numeric(c.kind),
        |text| {
            Some(match text.matches(',').count() {
                1 if !text.contains('.') => text.replacen(',', ".", 1),
                _ => text.to_string(),
            })
        },
    )
}

/// Rewrites every non-empty cell of the declared (non-derived) columns that
/// `which` selects and the frame holds; `None` empties the cell.
fn rewrite_cells(
    manifest: &PluginManifest,
    df: &mut DataFrame,
    which: impl Fn(&ColumnSpec) -> bool,
    rewrite: impl Fn(&str) -> Option<String>,
) -> PolarsResult<()> {
    let names: Vec<String> = manifest
        .data
        .columns
        .iter()
        .filter(|c| !c.derived && which(c))
        .flat_map(csv_field_names)
        .filter(|name| df.column(name).is_ok())
        .collect();
    for name in names {
        let rewritten: StringChunked = df
            .column(&name)?
            .str()?
            .iter()
            .map(|cell| cell.and_then(&rewrite))
            .collect();
        df.replace(
            &name,
            rewritten.with_name(name.as_str().into()).into_column(),
        )?;
    }
    Ok(())
}

/// Replaces the problems of rows whose every field is empty (a blank line
/// between records) with one problem per row, so that a stray blank line
/// reads as such and does not crowd out the other problems of a report.
fn collapse_blank_rows(
    df: &DataFrame,
    source_name: &str,
    first_row: usize,
    cell_problems: &mut Vec<DataError>,
) {
    let Some(all_empty) = df
        .columns()
        .iter()
        .map(|c| c.is_null())
        .reduce(|a, b| &a & &b)
    else {
        return;
    };
    let blank: HashSet<usize> = all_empty
        .iter()
        .enumerate()
        .filter(|(_, empty)| *empty == Some(true))
        .map(|(row, _)| first_row + row)
        .collect();
    if blank.is_empty() {
        return;
    }
    cell_problems.retain(|p| !matches!(p, DataError::Row { row, .. } if blank.contains(row)));
    cell_problems.extend(blank.into_iter().map(|row| {
        DataError::row(
            source_name,
            row,
            None,
            "every field the plugin reads is empty (a blank line?)",
        )
    }));
}

/// Checks numbered JSON row objects as they arrive (a request's `rows`, a
/// JSON-lines file): keys the schema does not declare are refused or named
/// as `data.extra_columns` says, lookup tables are joined on, and the rows
/// are validated like CSV rows.
pub fn json_rows(
    manifest: &PluginManifest,
    source_name: &str,
    mut rows: Vec<(usize, serde_json::Value)>,
    joins: &[LookupTable],
) -> Result<RawTable, DataError> {
    // Every key once, in order of first appearance.
    let mut seen = HashSet::new();
    let keys: Vec<String> = rows
        .iter()
        .filter_map(|(_, row)| row.as_object())
        .flat_map(|obj| obj.keys())
        .filter(|key| seen.insert(key.as_str()))
        .cloned()
        .collect();
    // Checked before the join adds the lookup tables' own columns.
    let (_, undeclared) = project(manifest, source_name, &keys, joins)?;
    fill_json_rows(joins, source_name, &mut rows)?;
    let mut table = rows_from_json(manifest, source_name, &rows)?;
    table.undeclared_columns = undeclared;
    Ok(table)
}

/// Validates numbered JSON row objects whose lookup columns are already
/// filled in; undeclared keys are not looked at (see [`json_rows`]).
pub fn rows_from_json(
    manifest: &PluginManifest,
    source_name: &str,
    rows: &[(usize, serde_json::Value)],
) -> Result<RawTable, DataError> {
    let cols = feature_columns(manifest);
    let width: usize = cols.iter().map(|c| c.width()).sum();
    let target = target_classes(manifest);
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
        ..Default::default()
    };
    let mut labels = Vec::new();
    let mut label_problems = Vec::new();
    let mut ids = Vec::new();
    let mut problems = Problems::default();
    for (row, value) in rows {
        let row = *row;
        let Some(obj) = value.as_object() else {
            problems.push(DataError::row(
                source_name,
                row,
                None,
                "expected a JSON object",
            ));
            continue;
        };
        for c in &cols {
            if c.derived {
                table.features.push(f32::NAN);
                continue;
            }
            let at = |m: String| DataError::row(source_name, row, Some(&c.name), m);
            let v = obj.get(&c.name).unwrap_or(&serde_json::Value::Null);
            if c.kind == ColumnType::Image {
                let mut pixels = Vec::with_capacity(c.width());
                let checked: Result<Vec<f32>, String> = if v.is_null() {
                    Err("missing".to_string())
                } else {
                    flatten_numbers(v, &mut pixels).and_then(|()| {
                        if pixels.len() == c.width() {
                            pixels.iter().map(|&p| check_number(c, p)).collect()
                        } else {
                            Err(format!(
                                "expected {} pixel values, got {}",
                                c.width(),
                                pixels.len()
                            ))
                        }
                    })
                };
                match checked {
                    Ok(values) => table.features.extend(values),
                    Err(m) => {
                        problems.push(at(m));
                        table.features.extend(std::iter::repeat_n(0.0, c.width()));
                    }
                }
            } else {
                let cell = json_text(v)
                    .map_err(|e| {
                        if c.sensitive {
                            format!("expected a single value, got {WITHHELD}")
                        } else {
                            e
                        }
                    })
                    .and_then(|text| parse_cell(c, text.as_deref()));
                match cell {
                    Ok(value) => table.features.push(value),
                    Err(m) if !obj.contains_key(&c.name) => {
                        problems.push(at(format!("{m}{}", closest_key(manifest, obj, &c.name))));
                        table.features.push(0.0);
                    }
                    Err(m) => {
                        problems.push(at(m));
                        table.features.push(0.0);
                    }
                }
            }
        }
        if let Some((t, classes)) = &target
            && let Some(v) = obj.get(&t.name)
        {
            let label = json_text(v).ok().flatten().unwrap_or_default();
            let label = match label.trim() {
                "" => Err("missing label".to_string()),
                text => label_index(manifest, &t.name, classes, text),
            };
            match label {
                Ok(i) => labels.push(i),
                Err(m) => label_problems.push(DataError::row(source_name, row, Some(&t.name), m)),
            }
        }
        if let Some(c) = id_col {
            ids.push(
                obj.get(&c.name)
                    .and_then(|v| json_text(v).ok().flatten())
                    .unwrap_or_default(),
            );
        }
    }
    problems.into_result(source_name)?;
    // Rows to predict need no target: one that some rows lack, or carry
    // blank or unknown, is read past (and named when evaluating).
    if let Some((t, _)) = &target
        && !(labels.is_empty() && label_problems.is_empty())
    {
        let unlabelled = rows.len() - labels.len() - label_problems.len();
        if unlabelled > 0 {
            table.ignored_targets.push(format!(
                "{source_name}: {unlabelled} of {} rows carry no `{}` field",
                rows.len(),
                t.name
            ));
        } else if settle_target(
            label_problems,
            false,
            &mut Vec::new(),
            &mut table.ignored_targets,
        ) {
            table.labels = Some(labels);
        }
    }
    if id_col.is_some() {
        table.ids = Some(ids);
    }
    Ok(table)
}

/// The CSV fields a column occupies: its name, or `name_0 … name_{n-1}`
/// for the pixels of an image column.
/// For a field a JSON row lacks: the row's undeclared key closest to it,
/// as a hint (`; the row has `duration_in_months`: a misspelling?`).
fn closest_key(
    manifest: &PluginManifest,
    obj: &serde_json::Map<String, serde_json::Value>,
    wanted: &str,
) -> String {
    let declared = |k: &str| manifest.data.columns.iter().any(|c| c.name == k);
    obj.keys()
        .filter(|k| !declared(k))
        .map(|k| {
            (
                k,
                strsim::levenshtein(&k.to_lowercase(), &wanted.to_lowercase()),
            )
        })
        .filter(|(_, d)| *d <= (wanted.len() / 3).max(2))
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| format!("; the row has `{k}`: a misspelling of `{wanted}`?"))
        .unwrap_or_default()
}

/// What the file has instead of the missing columns: its columns that the
/// schema does not declare (`unexpected`), each missing name with its
/// closest such column (a misspelled header is then one look away).
fn near_misses(unexpected: &[String], missing: &[String]) -> String {
    if unexpected.is_empty() {
        return String::new();
    }
    let guesses: Vec<String> = missing
        .iter()
        .filter_map(|m| {
            let (best, distance) = unexpected
                .iter()
                .map(|u| (u, strsim::levenshtein(&m.to_lowercase(), &u.to_lowercase())))
                .min_by_key(|(_, d)| *d)?;
            (distance <= (m.len() / 3).max(2)).then(|| format!("`{best}` for `{m}`?"))
        })
        .collect();
    let shown: Vec<String> = unexpected.iter().take(20).cloned().collect();
    let mut text = format!(
        "; the file has column{} {} that the schema does not declare",
        if unexpected.len() > 1 { "s" } else { "" },
        quoted(&shown)
    );
    if unexpected.len() > shown.len() {
        text.push_str(&format!(" (and {} more)", unexpected.len() - shown.len()));
    }
    if !guesses.is_empty() {
        text.push_str(&format!(": {}", guesses.join(", ")));
    }
    text
}

fn csv_field_names(c: &ColumnSpec) -> Vec<String> {
    if c.kind == ColumnType::Image {
        (0..c.width()).map(|i| format!("{}_{i}", c.name)).collect()
    } else {
        vec![c.name.clone()]
    }
}

/// How a CSV file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvLayout {
    /// Field delimiter.
    pub delimiter: u8,
    /// Whether the first row names the columns.
    pub header: bool,
    /// Latin-1 rather than UTF-8 text.
    pub latin1: bool,
    /// Numbers may be written with a decimal comma (`61,7`).
    pub decimal_comma: bool,
}

impl CsvLayout {
    /// Files given to `predict` and `eval`: UTF-8, comma, header row.
    pub const INPUT: CsvLayout = CsvLayout {
        delimiter: b',',
        header: true,
        latin1: false,
        decimal_comma: false,
    };
}

/// Problems kept for one report: enough to fix a file in one pass without
/// flooding a terminal or an HTTP response.
const MAX_REPORTED: usize = 50;

/// Collects schema problems across rows.
#[derive(Default)]
struct Problems {
    kept: Vec<DataError>,
    omitted: usize,
}

impl Problems {
    fn push(&mut self, e: DataError) {
        if self.kept.len() < MAX_REPORTED {
            self.kept.push(e);
        } else {
            self.omitted += 1;
        }
    }

    /// One problem stays a plain row error; several become one report.
    fn into_result(mut self, source_name: &str) -> Result<(), DataError> {
        match (self.kept.len(), self.omitted) {
            (0, _) => Ok(()),
            (1, 0) => Err(self.kept.remove(0)),
            _ => Err(DataError::Rows {
                source_name: source_name.to_string(),
                problems: self.kept,
                omitted: self.omitted,
            }),
        }
    }
}

/// Parses one cell of a scalar feature column into its raw value: the number
/// itself, or a category's index in the declared `values`. A missing value
/// is NaN when the column is nullable (imputed later) and an error otherwise.
fn parse_cell(c: &ColumnSpec, cell: Option<&str>) -> Result<f32, String> {
    let cell = cell.map(str::trim).filter(|s| !s.is_empty());
    let Some(text) = cell else {
        return missing_cell(c);
    };
    let shown = shown(c, text);
    match c.kind {
        ColumnType::Category => {
            let values = c.values.as_deref().unwrap_or_default();
            values
                .iter()
                .position(|v| v == text)
                .or((c.unknown_values == UnknownValues::Bucket).then_some(values.len()))
                .map(|i| i as f32)
                .ok_or_else(|| {
                    format!(
                        "unknown category {shown}; expected one of: {}",
                        values.join(" | ")
                    )
                })
        }
        ColumnType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(1.0),
            "false" | "0" | "no" => Ok(0.0),
            _ => Err(format!("{shown} is not a boolean (true/false)")),
        },
        kind if is_numeric(kind) || kind == ColumnType::Image => {
            let v: f64 = text
                .parse()
                .map_err(|_| format!("{shown} is not a number"))?;
            number_cell(c, v, text)
        }
        other => Err(format!("columns of type {other:?} cannot be model inputs")),
    }
}

/// A cell with no value: NaN (imputed later) when the column is nullable,
/// an error otherwise.
fn missing_cell(c: &ColumnSpec) -> Result<f32, String> {
    if c.nullable {
        Ok(f32::NAN)
    } else {
        Err("missing value (the column is not nullable)".into())
    }
}

/// A number already parsed, from text or typed in the file, checked as the
/// column's rules say: whole for an integer column, then finite and in
/// range. `shown` is the cell as the user would recognise it.
fn number_cell(c: &ColumnSpec, v: f64, written: impl std::fmt::Display) -> Result<f32, String> {
    if c.kind == ColumnType::Integer && v.fract() != 0.0 {
        return Err(format!("{} is not a whole number", shown(c, written)));
    }
    check_number(c, v)
}

/// A cell's value as messages show it: quoted, or withheld for a
/// `sensitive` column (whose values must never reach a log or a reply).
fn shown(c: &ColumnSpec, value: impl std::fmt::Display) -> String {
    if c.sensitive {
        WITHHELD.to_string()
    } else {
        format!("`{value}`")
    }
}

/// What messages say in place of a sensitive column's value.
pub const WITHHELD: &str = "the value (withheld: the column is sensitive)";

/// Whether a feature column's cells may arrive as typed numbers (from a
/// Parquet file) instead of text: numbers and pixels, not categories or
/// booleans, whose values are matched as text.
fn reads_typed_numbers(c: &ColumnSpec) -> bool {
    matches!(
        c.kind,
        ColumnType::Number | ColumnType::Integer | ColumnType::Image
    )
}

/// A frame of Parquet columns as the per-cell checks read them: a number
/// column of the file stays a number (as `f64`) when the schema reads it as
/// a numeric feature, so no cell is written out as text only to be parsed
/// back; every other column (ids, categories, targets, a lookup table's
/// key) becomes text.
pub(crate) fn parquet_as_read(
    manifest: &PluginManifest,
    df: &DataFrame,
    joins: &[LookupTable],
) -> PolarsResult<DataFrame> {
    let columns = df
        .columns()
        .iter()
        .map(|c| {
            c.cast(&parquet_read_type(
                manifest,
                c.name().as_str(),
                c.dtype(),
                joins,
            ))
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new_infer_height(columns)
}

fn parquet_read_type(
    manifest: &PluginManifest,
    name: &str,
    file_type: &DataType,
    joins: &[LookupTable],
) -> DataType {
    let numeric_in_file = file_type.is_primitive_numeric() || file_type.is_decimal();
    let numeric_feature = feature_columns(manifest)
        .into_iter()
        .filter(|c| !c.derived && reads_typed_numbers(c))
        .any(|c| csv_field_names(c).iter().any(|f| f == name));
    let join_key = joins.iter().any(|j| j.on == name);
    if numeric_in_file && numeric_feature && !join_key {
        DataType::Float64
    } else {
        DataType::String
    }
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

/// A target cell's class, as [`class_index`] finds it, but with the cell
/// withheld from the message when the target column is sensitive.
fn label_index(
    manifest: &PluginManifest,
    column: &str,
    classes: &[String],
    label: &str,
) -> Result<u32, String> {
    class_index(classes, label).map_err(|e| {
        if manifest
            .data
            .columns
            .iter()
            .any(|c| c.name == column && c.sensitive)
        {
            format!(
                "unknown label ({WITHHELD}); expected one of {}",
                classes.join(", ")
            )
        } else {
            e
        }
    })
}

fn check_number(c: &ColumnSpec, v: f64) -> Result<f32, String> {
    let value = if c.sensitive {
        WITHHELD.to_string()
    } else {
        format!("value {v}")
    };
    if !v.is_finite() {
        return Err(format!("{value} is not a finite number"));
    }
    // Checked in the type the model computes in: 1e39 is a finite f64
    // but an infinite f32, and would get a confident answer.
    if !(v as f32).is_finite() {
        return Err(format!(
            "{value} is beyond what the model's 32-bit numbers hold (about ±3.4e38)"
        ));
    }
    let (lo, hi) = match (c.range, c.max_value) {
        (Some([lo, hi]), _) => (lo, hi),
        (None, Some(max)) => (0.0, max.get()),
        (None, None) => return Ok(v as f32),
    };
    if v < lo || v > hi {
        return Err(format!("{value} is outside the allowed range [{lo}, {hi}]"));
    }
    Ok(v as f32)
}

/// A JSON scalar as text (`null` → `None`), so JSON and CSV share one parser.
pub(crate) fn json_text(v: &serde_json::Value) -> Result<Option<String>, String> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        serde_json::Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(format!("expected a single value, got `{other}`")),
    }
}

fn flatten_numbers(v: &serde_json::Value, out: &mut Vec<f64>) -> Result<(), String> {
    match v {
        serde_json::Value::Array(items) => items.iter().try_for_each(|i| flatten_numbers(i, out)),
        serde_json::Value::Number(n) => {
            out.push(n.as_f64().ok_or_else(|| format!("`{n}` is not a number"))?);
            Ok(())
        }
        other => Err(format!("expected a number, got `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::parse_plugin;

    fn plugin() -> PluginManifest {
        parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: amount, type: number, role: feature, range: [0, 1000], nullable: true}\n    - {name: kind, type: category, role: feature, values: [a, b]}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y, classes: [good, bad]}\n",
        )
        .unwrap()
    }

    #[test]
    fn a_sensitive_columns_bad_value_is_named_by_column_only() {
        let text = "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: amount, type: integer, role: feature, range: [0, 1000], sensitive: true}\n    - {name: kind, type: category, role: feature, values: [a, b], sensitive: true}\n    - {name: y, type: category, role: target, sensitive: true}\nheads:\n  - {name: y, task: binary, target: y, classes: [good, bad]}\n";
        let plugin = parse_plugin(Path::new("p.yaml"), text).unwrap();
        let err = |csv: &str| {
            rows_from_csv(
                &plugin,
                "t.csv",
                csv.as_bytes().to_vec(),
                CsvLayout::INPUT,
                true,
                &[],
            )
            .unwrap_err()
            .to_string()
        };
        for (csv, column, secret) in [
            ("amount,kind,y\n7123,a,bad\n", "amount", "7123"),
            ("amount,kind,y\n71.5,a,bad\n", "amount", "71.5"),
            ("amount,kind,y\nseven,a,bad\n", "amount", "seven"),
            ("amount,kind,y\n7,secret-kind,bad\n", "kind", "secret-kind"),
            ("amount,kind,y\n7,a,secret-label\n", "y", "secret-label"),
        ] {
            let e = err(csv);
            assert!(
                e.contains(&format!("column `{column}`")) && e.contains("withheld"),
                "{e}"
            );
            assert!(!e.contains(secret), "{e}");
        }
        let rows = [(1, serde_json::json!({"amount": {"v": 7123}, "kind": "a"}))];
        let e = rows_from_json(&plugin, "request", &rows)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`amount`") && !e.contains("7123"), "{e}");
    }

    #[test]
    fn csv_rows_become_numbers_and_category_indices() {
        let t = rows_from_csv(
            &plugin(),
            "t.csv",
            b"amount,kind,y\n10,b,bad\n,a,good\n".to_vec(),
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap();
        assert_eq!(t.width, 2);
        assert_eq!(t.features[..2], [10.0, 1.0]);
        assert!(t.features[2].is_nan());
        assert_eq!(t.labels, Some(vec![1, 0]));
    }

    #[test]
    fn a_target_with_blank_cells_is_read_past_when_predicting() {
        let csv = b"amount,kind,y\n10,b,bad\n1,a,\n2,a,\n".to_vec();
        // Rows to predict: the target is optional, so its blank cells do
        // not refuse the batch; the column is set aside with its reason.
        let t = csv_input_rows(&plugin(), "p.csv", csv.clone(), &[]).unwrap();
        assert_eq!(t.features.len(), 6);
        assert_eq!(t.labels, None);
        assert_eq!(t.ignored_targets.len(), 1);
        let why = &t.ignored_targets[0];
        assert!(why.contains("row 2") && why.contains("`y`"), "{why}");
        assert!(why.contains("missing label (and 1 more row)"), "{why}");
        // Training data still refuses it, naming the row.
        let e = rows_from_csv(&plugin(), "t.csv", csv, CsvLayout::INPUT, true, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2, column `y`: missing label"), "{e}");
        // JSON rows: a null or absent target in some rows is read past too.
        let rows = vec![
            (
                1,
                serde_json::json!({"amount": 1, "kind": "a", "y": "good"}),
            ),
            (2, serde_json::json!({"amount": 2, "kind": "b", "y": null})),
            (3, serde_json::json!({"amount": 3, "kind": "b"})),
        ];
        let t = rows_from_json(&plugin(), "request", &rows).unwrap();
        assert_eq!((t.labels, t.ignored_targets.len()), (None, 1));
        let t = rows_from_json(&plugin(), "request", &rows[..1]).unwrap();
        assert_eq!(t.labels, Some(vec![0]));
    }

    #[test]
    fn blank_lines_at_the_end_are_not_rows_and_between_rows_are_named() {
        let read = |csv: &[u8]| {
            rows_from_csv(
                &plugin(),
                "t.csv",
                csv.to_vec(),
                CsvLayout::INPUT,
                true,
                &[],
            )
            .unwrap()
            .labels
        };
        let two_rows = Some(vec![1, 0]);
        assert_eq!(read(b"amount,kind,y\n10,b,bad\n1,a,good\n\n\n"), two_rows);
        assert_eq!(
            read(b"amount,kind,y\r\n10,b,bad\r\n1,a,good\r\n\r\n"),
            two_rows
        );
        assert_eq!(read(b"amount,kind,y\n10,b,bad\n1,a,good"), two_rows);
        // A blank line between records is still refused: one problem
        // naming its row, beside the other rows' problems.
        let e = rows_from_csv(
            &plugin(),
            "t.csv",
            b"amount,kind,y\n10,b,bad\n\n1,c,good\n".to_vec(),
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("2 problems"), "{e}");
        assert!(
            e.contains("row 2: every field the plugin reads is empty"),
            "{e}"
        );
        assert!(e.contains("row 3, column `kind`"), "{e}");
    }

    #[test]
    fn every_further_head_reads_its_own_target_column() {
        let p = parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: x, type: number, role: feature}\n    - {name: y, type: category, role: target}\n    - {name: mode, type: category, role: target}\n    - {name: hours, type: number, role: target, range: [0, 100]}\nheads:\n  - {name: y, task: binary, target: y, classes: [ok, failed]}\n  - {name: mode, task: multiclass, target: mode, classes: [none, heat, power]}\n  - {name: hours, task: regression, target: hours}\n",
        )
        .unwrap();
        let read = |csv: &str, require: bool| {
            rows_from_csv(
                &p,
                "t.csv",
                csv.as_bytes().to_vec(),
                CsvLayout::INPUT,
                require,
                &[],
            )
        };
        let t = read("x,y,mode,hours\n1,ok,none,40\n2,failed,power,3.5\n", true).unwrap();
        assert_eq!(t.labels, Some(vec![0, 1]));
        assert_eq!(
            t.head_target("mode"),
            Some(&HeadTargets::Classes(vec![0, 2]))
        );
        assert_eq!(
            t.head_target("hours"),
            Some(&HeadTargets::Values(vec![40.0, 3.5]))
        );
        let picked = t.select(&[1]);
        assert_eq!(
            picked.head_target("mode"),
            Some(&HeadTargets::Classes(vec![2]))
        );

        // Bad targets of further heads are reported with the rest, by row,
        // column and head.
        let err = read("x,y,mode,hours\n1,ok,steam,40\n2,failed,power,300\n", true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 1") && err.contains("`mode`") && err.contains("steam"),
            "{err}"
        );
        assert!(
            err.contains("row 2") && err.contains("`hours`") && err.contains("head `hours`"),
            "{err}"
        );
        // Training data must carry them; rows to predict need not.
        let err = read("x,y,mode\n1,ok,none\n", true).unwrap_err().to_string();
        assert!(
            err.contains("hours") && err.contains("head `hours`"),
            "{err}"
        );
        let t = read("x\n1\n", false).unwrap();
        assert!(t.head_targets.is_empty());
    }

    #[test]
    fn bad_cells_name_row_and_column() {
        let err = |csv: &str| {
            rows_from_csv(
                &plugin(),
                "t.csv",
                csv.as_bytes().to_vec(),
                CsvLayout::INPUT,
                true,
                &[],
            )
            .unwrap_err()
            .to_string()
        };
        let e = err("amount,kind,y\n10,c,bad\n");
        assert!(
            e.contains("t.csv: row 1, column `kind`: unknown category `c`; expected one of: a | b"),
            "{e}"
        );
        let e = err("amount,kind,y\n10,a,bad\n2000,a,good\n");
        assert!(
            e.contains("row 2, column `amount`") && e.contains("outside the allowed range"),
            "{e}"
        );
        let e = err("amount,kind,y\nNaN,a,bad\n");
        assert!(e.contains("not a finite number"), "{e}");
        let e = err("amout,kind,y\n1,a,bad\n");
        assert!(e.contains("missing column `amount`"), "{e}");
        assert!(e.contains("`amout` for `amount`?"), "{e}");
        let e = err("amount,kind,y,kind\n1,a,bad,b\n");
        assert!(e.contains("`kind` more than once"), "{e}");
        let e = err("amount,kind,y\n1e39,a,bad\n");
        assert!(e.contains("32-bit"), "{e}");
        let e = err("amount,kind\n1,a\n");
        assert!(e.contains("missing column `y`"), "{e}");
        let e = err("amount,y\n1,bad\n");
        assert!(e.contains("missing column `kind`"), "{e}");
    }

    #[test]
    fn latin1_and_headerless_files_are_read_in_declared_order() {
        let text = "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: amount, type: number, role: feature}\n    - {name: kind, type: category, role: feature, values: [a, \"caf\u{e9}\"]}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y, classes: [good, bad]}\n";
        let m = parse_plugin(Path::new("p.yaml"), text).unwrap();
        let latin1 = b"7,caf\xe9,bad\n3,a,good\n".to_vec();
        let layout = CsvLayout {
            header: false,
            latin1: true,
            ..CsvLayout::INPUT
        };
        let t = rows_from_csv(&m, "t.csv", latin1.clone(), layout, true, &[]).unwrap();
        assert_eq!(t.features, vec![7.0, 1.0, 3.0, 0.0]);
        assert_eq!(t.labels, Some(vec![1, 0]));
        let as_utf8 = CsvLayout {
            latin1: false,
            ..layout
        };
        let e = rows_from_csv(&m, "t.csv", latin1, as_utf8, true, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.csv") && e.contains("encoding: latin1"), "{e}");
        let e = rows_from_csv(&m, "t.csv", b"7,a\n".to_vec(), layout, true, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rows have 2 fields, the schema declares 3 columns"),
            "{e}"
        );
    }

    #[test]
    fn unknown_categories_can_share_an_other_input() {
        let m = parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: amount, type: number, role: feature}\n    - {name: kind, type: category, role: feature, values: [a, b], unknown_values: bucket}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y, classes: [good, bad]}\n",
        )
        .unwrap();
        let t = rows_from_csv(
            &m,
            "t.csv",
            b"amount,kind,y\n1,zz,bad\n2,a,good\n".to_vec(),
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap();
        assert_eq!(t.features, vec![1.0, 2.0, 2.0, 0.0]);
        let p = crate::Preprocessor::fit(&m, &t);
        assert_eq!(
            p.input_names(),
            ["amount", "kind=a", "kind=b", "kind=(other)"]
        );
        let x = p.transform(&t);
        assert_eq!(
            x[1..4],
            [0.0, 0.0, 1.0],
            "the unseen value lands in the bucket"
        );
        assert_eq!(x[5..8], [1.0, 0.0, 0.0]);
    }

    #[test]
    fn every_bad_csv_cell_is_reported_in_row_order() {
        let e = rows_from_csv(
            &plugin(),
            "t.csv",
            b"amount,kind,y\n10,zz,bad\nlots,a,good\n5,a,maybe\n".to_vec(),
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("t.csv: 3 problems:"), "{text}");
        let rows: Vec<&str> = text.lines().skip(1).map(str::trim).collect();
        assert!(rows[0].starts_with("t.csv: row 1, column `kind`"), "{text}");
        assert!(
            rows[1].starts_with("t.csv: row 2, column `amount`"),
            "{text}"
        );
        assert!(rows[2].starts_with("t.csv: row 3, column `y`"), "{text}");
        let e = rows_from_csv(
            &plugin(),
            "t.csv",
            b"y\nbad\n".to_vec(),
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("missing columns `amount`, `kind`"), "{e}");
    }

    #[test]
    fn example_rows_read_back_to_the_same_table() {
        let t = rows_from_csv(
            &plugin(),
            "t.csv",
            b"amount,kind,y\n10.5,b,bad\n,a,good\n".to_vec(),
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap();
        let rows = t.to_json_rows(&plugin(), 10);
        assert_eq!(
            rows[0],
            serde_json::json!({"amount": 10.5, "kind": "b", "y": "bad"})
        );
        assert_eq!(rows[1]["amount"], serde_json::Value::Null);
        let numbered: Vec<(usize, serde_json::Value)> = rows.into_iter().enumerate().collect();
        let back = rows_from_json(&plugin(), "examples", &numbered).unwrap();
        assert_eq!(back.features[..2], t.features[..2]);
        assert!(back.features[2].is_nan());
        assert_eq!(back.labels, t.labels);
    }

    #[test]
    fn undeclared_columns_are_named_and_never_parsed() {
        // `note` holds text no column type would accept; it is not read.
        let csv = b"note,amount,kind,y,amount_eur\n\"a, b\",10,b,bad,9\nzz,2.5,a,good,x\n".to_vec();
        let plain = b"amount,kind,y\n10,b,bad\n2.5,a,good\n".to_vec();
        let table =
            rows_from_csv(&plugin(), "t.csv", csv.clone(), CsvLayout::INPUT, true, &[]).unwrap();
        let narrow = rows_from_csv(&plugin(), "t.csv", plain, CsvLayout::INPUT, true, &[]).unwrap();
        assert_eq!(table.features, narrow.features);
        assert_eq!(table.labels, narrow.labels);
        assert_eq!(table.undeclared_columns, ["note", "amount_eur"]);
        let note = undeclared_note("t.csv", &table).unwrap();
        assert!(
            note.starts_with("t.csv: read past 2 columns") && note.contains("`note`, `amount_eur`"),
            "{note}"
        );
        assert_eq!(undeclared_note("t.csv", &narrow), None);
        let mut quiet = plugin();
        quiet.data.extra_columns = ExtraColumns::Ignore;
        let table = rows_from_csv(&quiet, "t.csv", csv, CsvLayout::INPUT, true, &[]).unwrap();
        assert!(table.undeclared_columns.is_empty());
        // Only undeclared columns: every declared one is reported missing.
        let err = rows_from_csv(
            &plugin(),
            "t.csv",
            b"a,b\n1,2\n".to_vec(),
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing columns `amount`, `kind`"), "{err}");
        // A wide export: the message names ten and counts the rest.
        let names: Vec<String> = (0..25).map(|i| format!("x{i}")).collect();
        let wide = format!(
            "amount,kind,y,{}\n1,a,good,{}\n",
            names.join(","),
            vec!["0"; 25].join(",")
        );
        let table = rows_from_csv(
            &plugin(),
            "w.csv",
            wide.into_bytes(),
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap();
        let note = undeclared_note("w.csv", &table).unwrap();
        assert!(
            note.contains("`x9` and 15 more") && !note.contains("`x10`"),
            "{note}"
        );
    }

    #[test]
    fn json_rows_name_undeclared_keys_but_not_what_a_join_adds() {
        // The lookup table brings a column the schema does not declare.
        let kinds = LookupTable::parse(
            "kinds",
            "kind",
            "kinds.csv",
            b"kind,kind_name\na,Alpha\nb,Beta\n".to_vec(),
            CsvLayout::INPUT,
        )
        .unwrap();
        let rows = |extra: &str| {
            vec![
                (
                    1,
                    serde_json::json!({"amount": 1, "kind": "a", "y": "good"}),
                ),
                (
                    2,
                    serde_json::from_str(&format!(
                        r#"{{"amount": 2, "kind": "b", "y": "bad"{extra}}}"#
                    ))
                    .unwrap(),
                ),
            ]
        };
        let joined =
            json_rows(&plugin(), "request", rows(""), std::slice::from_ref(&kinds)).unwrap();
        assert!(
            joined.undeclared_columns.is_empty(),
            "{:?}",
            joined.undeclared_columns
        );
        assert_eq!(joined.labels, Some(vec![0, 1]));
        let noted = json_rows(&plugin(), "request", rows(r#", "note": "vip""#), &[]).unwrap();
        assert_eq!(noted.undeclared_columns, ["note"]);
        assert_eq!(noted.features, joined.features);
        let mut strict = plugin();
        strict.data.extra_columns = ExtraColumns::Error;
        let err = json_rows(&strict, "request", rows(r#", "note": "vip""#), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("request") && err.contains("`note`"), "{err}");
    }

    #[test]
    fn undeclared_columns_are_refused_when_the_plugin_says_so() {
        let csv = b"amount,kind,y,amount_eur,note\n10,b,bad,9,x\n".to_vec();
        let mut strict = plugin();
        assert!(rows_from_csv(&strict, "t.csv", csv.clone(), CsvLayout::INPUT, true, &[]).is_ok());
        strict.data.extra_columns = ExtraColumns::Error;
        let err = rows_from_csv(&strict, "t.csv", csv, CsvLayout::INPUT, true, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.csv") && err.contains("`amount_eur`, `note`"),
            "{err}"
        );
    }

    #[test]
    fn a_parquet_file_reads_like_the_csv_of_the_same_rows() {
        let csv = b"amount,kind,y\n10,b,bad\n,a,good\n2.5,a,good\n".to_vec();
        let from_csv = rows_from_csv(&plugin(), "t.csv", csv, CsvLayout::INPUT, true, &[]).unwrap();
        // Typed columns, as a database export writes them.
        let mut df = df!(
            "amount" => [Some(10.0f64), None, Some(2.5)],
            "kind" => ["b", "a", "a"],
            "y" => ["bad", "good", "good"],
        )
        .unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
        let from_parquet =
            rows_from_parquet(&plugin(), "t.parquet", bytes.clone(), true, &[]).unwrap();
        // Same values, NaN (the missing amount) included.
        assert_eq!(format!("{from_parquet:?}"), format!("{from_csv:?}"));
        // Undeclared columns are left unread and named, as for CSV.
        let mut wide = df!(
            "id" => [1i64, 2, 3],
            "amount" => [Some(10.0f64), None, Some(2.5)],
            "kind" => ["b", "a", "a"],
            "y" => ["bad", "good", "good"],
            "comment" => ["x", "y", "z"],
        )
        .unwrap();
        let mut wide_bytes = Vec::new();
        ParquetWriter::new(&mut wide_bytes)
            .finish(&mut wide)
            .unwrap();
        let from_wide = rows_from_parquet(&plugin(), "w.parquet", wide_bytes, true, &[]).unwrap();
        // (Debug text: the missing amount is NaN, which never equals itself.)
        assert_eq!(
            format!("{:?}", from_wide.features),
            format!("{:?}", from_csv.features)
        );
        assert_eq!(from_wide.undeclared_columns, ["id", "comment"]);
        let mut unrelated = df!("a" => [1i64, 2], "b" => ["x", "y"]).unwrap();
        let mut unrelated_bytes = Vec::new();
        ParquetWriter::new(&mut unrelated_bytes)
            .finish(&mut unrelated)
            .unwrap();
        let err = rows_from_parquet(&plugin(), "u.parquet", unrelated_bytes, true, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing columns `amount`, `kind`"), "{err}");
        // A bad cell is named by row and column, as for CSV.
        let mut bad =
            df!("amount" => [1.0f64, 2.0], "kind" => ["a", "z"], "y" => ["bad", "good"]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut bad).unwrap();
        let err = rows_from_parquet(&plugin(), "t.parquet", bytes, true, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 2") && err.contains("`kind`") && err.contains("`z`"),
            "{err}"
        );
        let err = rows_from_parquet(&plugin(), "t.parquet", b"not parquet".to_vec(), true, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.parquet") && err.contains("Parquet"),
            "{err}"
        );
    }

    #[test]
    fn json_rows_use_the_same_rules() {
        let rows = vec![
            (1, serde_json::json!({"amount": 5, "kind": "a"})),
            (2, serde_json::json!({"amount": null, "kind": "z"})),
        ];
        let e = rows_from_json(&plugin(), "request", &rows)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("request: row 2, column `kind`: unknown category `z`"),
            "{e}"
        );
    }

    #[test]
    fn a_misspelled_field_is_named_beside_the_missing_one() {
        let rows = vec![(1, serde_json::json!({"amount": 5, "knd": "a"}))];
        let e = rows_from_json(&plugin(), "request", &rows)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 1, column `kind`"), "{e}");
        assert!(
            e.contains("the row has `knd`: a misspelling of `kind`?"),
            "{e}"
        );
    }

    #[test]
    fn every_bad_cell_of_every_row_is_reported_at_once() {
        let rows = vec![
            (1, serde_json::json!({"amount": "lots", "kind": "z"})),
            (2, serde_json::json!({"amount": 5, "kind": "a"})),
            (3, serde_json::json!([1, 2])),
        ];
        let e = rows_from_json(&plugin(), "request", &rows).unwrap_err();
        let DataError::Rows {
            problems, omitted, ..
        } = &e
        else {
            panic!("expected a report of several problems, got {e}");
        };
        assert_eq!(*omitted, 0);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].contains("row 1, column `amount`"), "{text:?}");
        assert!(text[1].contains("row 1, column `kind`"), "{text:?}");
        assert!(
            text[2].contains("row 3: expected a JSON object"),
            "{text:?}"
        );
        assert!(e.to_string().starts_with("request: 3 problems:"), "{e}");
    }

    #[test]
    fn files_to_predict_use_the_plugins_delimiter_and_encoding() {
        let mut bank = plugin();
        bank.data.source.delimiter = ';';
        bank.data.source.encoding = indus_spec::TextEncoding::Latin1;
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("export.csv");
        // "caf\u{e9}" in Latin-1 is not valid UTF-8.
        std::fs::write(&export, b"amount;kind;note\n2.5;a;caf\xe9\n10;b;x\n").unwrap();
        let t = read_input_rows(&bank, &export, RowFormat::Csv, &[]).unwrap();
        assert_eq!(t.features, [2.5, 0.0, 10.0, 1.0]);
        assert_eq!(t.undeclared_columns, ["note"]);
        // The same file under the default layout is refused with the fix.
        let e = read_input_rows(&plugin(), &export, RowFormat::Csv, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.source.encoding: latin1"), "{e}");
    }

    #[test]
    fn numbers_with_a_decimal_comma_read_like_points_when_declared() {
        let mut european = plugin();
        european.data.source.delimiter = ';';
        european.data.source.decimal_comma = true;
        let layout = crate::dataset::csv_layout(&european).unwrap();
        let read = |csv: &str| {
            rows_from_csv(
                &european,
                "t.csv",
                csv.as_bytes().to_vec(),
                layout,
                true,
                &[],
            )
        };
        let t = read("amount;kind;y\n61,7;a;good\n2.5;b;bad\n;a;good\n").unwrap();
        assert_eq!(t.features[..4], [61.7, 0.0, 2.5, 1.0]);
        assert!(t.features[4].is_nan());
        // A cell that is not one number is reported as it was written.
        let e = read("amount;kind;y\n1,234,5;a;good\n1.234,5;a;good\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("row 1, column `amount`: `1,234,5` is not a number")
                && e.contains("row 2, column `amount`: `1.234,5` is not a number"),
            "{e}"
        );
        // Without the setting a comma is not a decimal mark.
        european.data.source.decimal_comma = false;
        let e = rows_from_csv(
            &european,
            "t.csv",
            b"amount;kind;y\n61,7;a;good\n".to_vec(),
            crate::dataset::csv_layout(&european).unwrap(),
            true,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`61,7` is not a number"), "{e}");
    }

    #[test]
    fn declared_missing_markers_read_as_empty_cells() {
        let mut marked = plugin();
        marked.data.source.missing_markers = vec!["NA".into(), "?".into()];
        let read = |manifest: &PluginManifest, csv: &str| {
            rows_from_csv(
                manifest,
                "t.csv",
                csv.as_bytes().to_vec(),
                CsvLayout::INPUT,
                true,
                &[],
            )
        };
        let t = read(&marked, "amount,kind,y\nNA,a,good\n 2.5 ,b,bad\n?,a,good\n").unwrap();
        assert!(t.features[0].is_nan() && t.features[4].is_nan());
        assert_eq!(t.features[2..4], [2.5, 1.0]);
        // A column that is not nullable refuses the marker like an empty cell.
        let e = read(&marked, "amount,kind,y\n1,?,good\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 1, column `kind`: missing value"), "{e}");
        // So does a missing label.
        let e = read(&marked, "amount,kind,y\n1,a,NA\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 1") && e.contains("`y`"), "{e}");
        // Undeclared, a marker is a value like any other.
        let e = read(&plugin(), "amount,kind,y\nNA,a,good\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`NA` is not a number"), "{e}");
    }

    #[test]
    fn unreadable_csv_files_say_what_to_fix() {
        let err = |csv: &[u8]| {
            rows_from_csv(
                &plugin(),
                "t.csv",
                csv.to_vec(),
                CsvLayout::INPUT,
                true,
                &[],
            )
            .unwrap_err()
            .to_string()
        };
        for empty in [&b""[..], b"\n", b"\r\n\r\n"] {
            let e = err(empty);
            assert!(
                e.contains("t.csv") && e.contains("the file is empty"),
                "{e}"
            );
        }
        let e = err(b"amount,kind,y\n1,a,good\n2,\"b,bad\n3,a,good\n");
        assert!(
            e.contains("line 3 opens a quoted field") && !e.contains("infer_schema_length"),
            "{e}"
        );
        let e = err(b"amount,kind,y\n1,caf\xe9,good\n");
        assert!(e.contains("not valid UTF-8") && e.contains("latin1"), "{e}");
    }

    #[test]
    fn a_json_array_file_reads_like_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let lines = dir.path().join("rows.jsonl");
        let array = dir.path().join("rows.json");
        std::fs::write(
            &lines,
            "{\"amount\": 5, \"kind\": \"a\"}\n{\"amount\": 7, \"kind\": \"b\"}\n",
        )
        .unwrap();
        std::fs::write(
            &array,
            "[{\"amount\": 5, \"kind\": \"a\"}, {\"amount\": 7, \"kind\": \"b\"}]",
        )
        .unwrap();
        let a = read_input_rows(&plugin(), &lines, RowFormat::JsonLines, &[]).unwrap();
        assert_eq!(
            a,
            read_input_rows(&plugin(), &array, RowFormat::JsonLines, &[]).unwrap()
        );
        // The same rows saved by a tool that starts text with a byte-order mark.
        let marked = dir.path().join("marked.jsonl");
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(std::fs::read(&lines).unwrap());
        std::fs::write(&marked, bytes).unwrap();
        assert_eq!(
            a,
            read_input_rows(&plugin(), &marked, RowFormat::JsonLines, &[]).unwrap()
        );
        std::fs::write(
            &array,
            "[{\"amount\": 5, \"kind\": \"a\"}, {\"amount\": 7}]",
        )
        .unwrap();
        let err = read_input_rows(&plugin(), &array, RowFormat::JsonLines, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("rows.json: row 2, column `kind`"), "{err}");
    }

    #[test]
    fn a_json_row_without_its_image_says_so() {
        let plugin = parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: idx, dataset: p, files: {}}\n  columns:\n    - {name: image, type: image, role: feature, shape: [2, 2], max_value: 255}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: multiclass, target: y, classes: ['0', '1']}\n",
        )
        .unwrap();
        let err = rows_from_json(
            &plugin,
            "request",
            &[(1, serde_json::json!({"img": [1, 2, 3, 4]}))],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "request: row 1, column `image`: missing");
    }
}
