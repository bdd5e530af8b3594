//! Reading an input file a batch of rows at a time, so that what `predict`
//! and training hold is bounded by the batch, not by the file. CSV and
//! Parquet go through polars' streaming engine (lazy scans collected in
//! batches); JSON lines are read line by line. Every batch is checked by
//! the same code as a whole file, with rows numbered as the file numbers
//! them.

use crate::DataError;
use crate::join::LookupTable;
use crate::rows::{
    CsvLayout, RowFormat, json_rows, parquet_as_read, project, read_rows, rows_from_frame,
};
use crate::table::RawTable;
use indus_spec::PluginManifest;
use polars::prelude::*;
use std::io::{BufRead, BufReader, Read};
use std::num::NonZeroUsize;
use std::path::Path;

/// Rows per batch unless the caller asks otherwise: large enough that the
/// per-batch work (a model call, a write) is amortised, small enough that a
/// batch of 26 columns stays near 10 MB.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// Files up to this size are read whole, as before streaming existed: the
/// messages for a malformed file are then the most precise ones (the line
/// of an unclosed quote), and small files gain nothing from batches.
pub const STREAM_ABOVE_BYTES: u64 = 64 << 20;

/// Whether a file is streamed or read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// Streamed when it is larger than [`STREAM_ABOVE_BYTES`] and its
    /// format allows it.
    Auto,
    /// Streamed whenever its format allows it (tests, and users who want
    /// bounded memory on any file).
    Always,
}

/// The batches of one input file, in file order. An error ends the
/// iteration: a malformed row stops the read where it is found.
pub struct RowBatches<'a> {
    manifest: &'a PluginManifest,
    joins: &'a [LookupTable],
    source_name: String,
    require_target: bool,
    /// The file's 1-based number of the next batch's first row.
    next_row: usize,
    total_rows: Option<usize>,
    undeclared: Vec<String>,
    source: Source,
}

// The streaming variant is the one that lives for a whole read; boxing it
// would only add an indirection per batch.
#[allow(clippy::large_enum_variant)]
enum Source {
    /// Text columns from polars' streaming engine.
    Frames {
        batches: polars::lazy::frame::CollectBatches,
        decimal_comma: bool,
    },
    /// A Parquet file, one row group at a time, dealt out in batches.
    RowGroups(RowGroups),
    /// One JSON object per line.
    JsonLines {
        lines: std::io::Lines<BufReader<std::fs::File>>,
        line_number: usize,
        batch_rows: usize,
    },
    /// Read at once (small files, and formats that cannot be streamed).
    Whole(Option<RawTable>),
    /// Finished, or stopped by an error.
    Done,
}

impl<'a> RowBatches<'a> {
    /// Opens `path` for reading in batches of about `batch_rows` rows (at
    /// least 1). With `require_target`, every row must carry the target
    /// (training data); otherwise labels are kept when present.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        manifest: &'a PluginManifest,
        path: &Path,
        format: RowFormat,
        layout: CsvLayout,
        require_target: bool,
        joins: &'a [LookupTable],
        batch_rows: usize,
        streaming: Streaming,
    ) -> Result<RowBatches<'a>, DataError> {
        let source_name = path.display().to_string();
        let batch_rows = batch_rows.max(1);
        let mut batches = RowBatches {
            manifest,
            joins,
            source_name: source_name.clone(),
            require_target,
            next_row: 1,
            total_rows: None,
            undeclared: Vec::new(),
            source: Source::Done,
        };
        let size = crate::fetch::file_size(path)?;
        let gzipped = path.extension().is_some_and(|e| e == "gz");
        let streamable = match format {
            RowFormat::Csv => !layout.latin1 && !gzipped,
            RowFormat::Parquet => true,
            RowFormat::JsonLines => !gzipped && !starts_with_array(path)?,
            RowFormat::Idx | RowFormat::Images => false,
        };
        if !streamable || (streaming == Streaming::Auto && size <= STREAM_ABOVE_BYTES) {
            let table = read_rows(manifest, path, format, layout, require_target, joins)?;
            batches.total_rows = Some(table.len());
            batches.undeclared = table.undeclared_columns.clone();
            batches.source = Source::Whole(Some(table));
            return Ok(batches);
        }
        batches.source = match format {
            RowFormat::Csv => {
                let (lazy, undeclared) = csv_scan(manifest, path, &source_name, layout, joins)?;
                batches.undeclared = undeclared;
                Source::Frames {
                    batches: collect(lazy, &source_name, batch_rows)?,
                    decimal_comma: layout.decimal_comma,
                }
            }
            RowFormat::Parquet => {
                let (groups, undeclared) =
                    RowGroups::open(manifest, path, &source_name, joins, batch_rows)?;
                batches.undeclared = undeclared;
                batches.total_rows = Some(groups.total_rows());
                Source::RowGroups(groups)
            }
            _ => Source::JsonLines {
                lines: BufReader::new(open_file(path)?).lines(),
                line_number: 0,
                batch_rows,
            },
        };
        Ok(batches)
    }

    /// How many rows the file holds, where that is known before reading it
    /// (Parquet's metadata, a file read whole), for progress and ETAs.
    pub fn total_rows(&self) -> Option<usize> {
        self.total_rows
    }

    /// The file's columns the schema does not declare (under
    /// `data.extra_columns: warn`), known once the file is opened.
    pub fn undeclared_columns(&self) -> &[String] {
        &self.undeclared
    }

    /// The file's name as messages give it.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The file's 1-based number of the first row of the batch returned
    /// next; after the last batch, one past the file's last row.
    pub fn next_row(&self) -> usize {
        self.next_row
    }

    fn next_batch(&mut self) -> Option<Result<RawTable, DataError>> {
        let batch = match &mut self.source {
            Source::Done => return None,
            Source::Whole(table) => table.take().map(Ok),
            Source::Frames {
                batches,
                decimal_comma,
            } => {
                let decimal_comma = *decimal_comma;
                batches.next().map(|frame| {
                    let frame = frame.map_err(|e| DataError::Schema {
                        source_name: self.source_name.clone(),
                        message: format!(
                            "cannot read the rows after row {}: {e}",
                            self.next_row - 1
                        ),
                    })?;
                    rows_from_frame(
                        self.manifest,
                        &self.source_name,
                        frame,
                        self.require_target,
                        self.joins,
                        decimal_comma,
                        &self.undeclared,
                        self.next_row,
                    )
                })
            }
            Source::RowGroups(groups) => groups
                .next_frame(self.manifest, self.joins, &self.source_name)
                .map(|frame| {
                    rows_from_frame(
                        self.manifest,
                        &self.source_name,
                        frame?,
                        self.require_target,
                        self.joins,
                        false,
                        &self.undeclared,
                        self.next_row,
                    )
                }),
            Source::JsonLines {
                lines,
                line_number,
                batch_rows,
            } => {
                let mut rows = Vec::new();
                let mut failed = None;
                let at_line = |line: usize, message: String| {
                    DataError::row(&self.source_name, line, None, message)
                };
                for line in lines.by_ref() {
                    *line_number += 1;
                    let text = match line {
                        Ok(text) => text,
                        Err(e) => {
                            failed =
                                Some(at_line(*line_number, format!("cannot read the line: {e}")));
                            break;
                        }
                    };
                    // Windows tools often start UTF-8 text with a byte-order mark.
                    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                    if text.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str(text) {
                        Ok(value) => rows.push((*line_number, value)),
                        Err(e) => {
                            failed = Some(at_line(*line_number, format!("not valid JSON: {e}")));
                            break;
                        }
                    }
                    if rows.len() >= *batch_rows {
                        break;
                    }
                }
                match failed {
                    Some(e) => Some(Err(e)),
                    None if rows.is_empty() => None,
                    None => Some(json_rows(
                        self.manifest,
                        &self.source_name,
                        rows,
                        self.joins,
                    )),
                }
            }
        };
        match &batch {
            // Rows left out under `on_bad_rows: skip` were read all the same.
            Some(Ok(table)) => self.next_row += table.len() + table.skipped.count,
            Some(Err(_)) | None => self.source = Source::Done,
        }
        batch
    }
}

impl Iterator for RowBatches<'_> {
    type Item = Result<RawTable, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_batch()? {
                // polars may hand over an empty frame at the end; a batch
                // whose rows were all skipped still counts them.
                Ok(table)
                    if table.is_empty()
                        && table.skipped.is_empty()
                        && !matches!(self.source, Source::Done) =>
                {
                    continue;
                }
                other => return Some(other),
            }
        }
    }
}

/// Reads every batch of `path` into one table: the in-memory path of
/// training, with no copy of the file's bytes or text kept beside the rows.
#[allow(clippy::too_many_arguments)]
pub fn read_batched(
    manifest: &PluginManifest,
    path: &Path,
    format: RowFormat,
    layout: CsvLayout,
    require_target: bool,
    joins: &[LookupTable],
    batch_rows: usize,
    streaming: Streaming,
) -> Result<RawTable, DataError> {
    let mut batches = RowBatches::open(
        manifest,
        path,
        format,
        layout,
        require_target,
        joins,
        batch_rows,
        streaming,
    )?;
    let undeclared = batches.undeclared_columns().to_vec();
    let mut table: Option<RawTable> = None;
    for batch in batches.by_ref() {
        let batch = batch?;
        match &mut table {
            None => table = Some(batch),
            Some(table) => table.append(batch),
        }
    }
    let mut table = table.unwrap_or_default();
    table.undeclared_columns = undeclared;
    Ok(table)
}

/// Whether a JSON file holds one array of rows (read whole) rather than
/// one object per line.
fn starts_with_array(path: &Path) -> Result<bool, DataError> {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|source| DataError::Read {
            file: path.to_path_buf(),
            source,
        })?;
    let text = String::from_utf8_lossy(&head[..n]);
    Ok(text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('['))
}

/// The header row of a CSV file, read from the file's first bytes (a
/// header longer than 16 MiB is refused as not a header).
fn csv_header(path: &Path, source_name: &str, layout: CsvLayout) -> Result<Vec<String>, DataError> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(16 << 20).read_to_end(&mut head))
        .map_err(|source| DataError::Read {
            file: path.to_path_buf(),
            source,
        })?;
    crate::rows::read_csv_header(source_name, head, layout)
}

fn polars_path(path: &Path, source_name: &str) -> Result<PlRefPath, DataError> {
    // polars' async reader takes no `..` in a path.
    let path = std::fs::canonicalize(path).map_err(|source| DataError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    PlRefPath::try_from_path(&path).map_err(|e| DataError::Schema {
        source_name: source_name.to_string(),
        message: format!("cannot open for reading: {e}"),
    })
}

/// A lazy scan of the CSV columns the plugin reads, every one as text.
fn csv_scan(
    manifest: &PluginManifest,
    path: &Path,
    source_name: &str,
    layout: CsvLayout,
    joins: &[LookupTable],
) -> Result<(LazyFrame, Vec<String>), DataError> {
    let unreadable = |e: PolarsError| DataError::Schema {
        source_name: source_name.to_string(),
        message: format!("cannot read as CSV: {e}"),
    };
    let names = if layout.header {
        csv_header(path, source_name, layout)?
    } else {
        crate::rows::declared_field_names(manifest)
    };
    let (read, undeclared) = project(manifest, source_name, &names, joins)?;
    // Every column as text: cells are parsed and reported one by one.
    let schema: Schema = names
        .iter()
        .map(|n| Field::new(n.as_str().into(), DataType::String))
        .collect();
    let lazy = LazyCsvReader::new(polars_path(path, source_name)?)
        .with_has_header(layout.header)
        .with_separator(layout.delimiter)
        .with_schema(Some(Arc::new(schema)))
        .finish()
        .map_err(unreadable)?;
    let selected: Vec<Expr> = read.iter().map(|&i| col(names[i].as_str())).collect();
    Ok((lazy.select(selected), undeclared))
}

/// A Parquet file read one row group at a time with polars' eager reader,
/// each group cut into batches. Memory holds one decoded row group (about
/// a million rows as pyarrow writes them), whatever the file's size:
/// polars' streaming Parquet source read ahead of a slower consumer, and
/// held 1 GB for a 5M-row file.
struct RowGroups {
    path: std::path::PathBuf,
    metadata: std::sync::Arc<polars::io::parquet::read::FileMetadata>,
    projection: Vec<usize>,
    /// (first row, rows) of each group not read yet.
    groups: std::collections::VecDeque<(usize, usize)>,
    /// Batches of the group read last, not handed out yet.
    pending: std::collections::VecDeque<DataFrame>,
    batch_rows: usize,
}

impl RowGroups {
    /// Reads the file's metadata and picks the declared columns; returns
    /// the groups to read and the file's undeclared columns.
    fn open(
        manifest: &PluginManifest,
        path: &Path,
        source_name: &str,
        joins: &[LookupTable],
        batch_rows: usize,
    ) -> Result<(RowGroups, Vec<String>), DataError> {
        let unreadable = |e: PolarsError| parquet_error(source_name, e);
        let mut reader = ParquetReader::new(open_file(path)?);
        let metadata = reader.get_metadata().map_err(unreadable)?.clone();
        let schema = reader.schema().map_err(unreadable)?;
        let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let (projection, undeclared) = project(manifest, source_name, &names, joins)?;
        let mut groups = std::collections::VecDeque::new();
        let mut first = 0;
        for group in &metadata.row_groups {
            let rows = group.num_rows();
            if rows > 0 {
                groups.push_back((first, rows));
            }
            first += rows;
        }
        Ok((
            RowGroups {
                path: path.to_path_buf(),
                metadata,
                projection,
                groups,
                pending: std::collections::VecDeque::new(),
                batch_rows,
            },
            undeclared,
        ))
    }

    fn total_rows(&self) -> usize {
        self.metadata.num_rows
    }

    /// The next batch, reading the next row group when the last is used up.
    fn next_frame(
        &mut self,
        manifest: &PluginManifest,
        joins: &[LookupTable],
        source_name: &str,
    ) -> Option<Result<DataFrame, DataError>> {
        if self.pending.is_empty() {
            let (first, rows) = self.groups.pop_front()?;
            let group = match self.read_group(first, rows, manifest, joins, source_name) {
                Ok(group) => group,
                Err(e) => return Some(Err(e)),
            };
            let mut start = 0;
            while start < group.height() {
                self.pending
                    .push_back(group.slice(start as i64, self.batch_rows));
                start += self.batch_rows;
            }
        }
        self.pending.pop_front().map(Ok)
    }

    /// Rows `first..first + rows` (one row group), as the checks read them.
    fn read_group(
        &self,
        first: usize,
        rows: usize,
        manifest: &PluginManifest,
        joins: &[LookupTable],
        source_name: &str,
    ) -> Result<DataFrame, DataError> {
        let unreadable = |e: PolarsError| parquet_error(source_name, e);
        let mut reader = ParquetReader::new(open_file(&self.path)?);
        reader.set_metadata(self.metadata.clone());
        let frame = reader
            .with_projection(Some(self.projection.clone()))
            .with_slice(Some((first, rows)))
            .finish()
            .map_err(unreadable)?;
        parquet_as_read(manifest, &frame, joins).map_err(unreadable)
    }
}

fn parquet_error(source_name: &str, e: PolarsError) -> DataError {
    DataError::Schema {
        source_name: source_name.to_string(),
        message: format!("cannot read as Parquet: {e}"),
    }
}

fn open_file(path: &Path) -> Result<std::fs::File, DataError> {
    std::fs::File::open(path).map_err(|source| DataError::Read {
        file: path.to_path_buf(),
        source,
    })
}

fn collect(
    lazy: LazyFrame,
    source_name: &str,
    batch_rows: usize,
) -> Result<polars::lazy::frame::CollectBatches, DataError> {
    lazy.collect_batches(
        Engine::Streaming,
        true,
        NonZeroUsize::new(batch_rows),
        false,
    )
    .map_err(|e| DataError::Schema {
        source_name: source_name.to_string(),
        message: format!("cannot start reading: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::parse_plugin;

    fn plugin() -> PluginManifest {
        parse_plugin(
            Path::new("p.yaml"),
            "name: p\nindustry: t\ndescription: t\ndata:\n  source: {format: csv, dataset: p, files: {train: {name: t.csv}}}\n  columns:\n    - {name: id, type: id, role: id}\n    - {name: amount, type: number, role: feature, range: [0, 1000]}\n    - {name: kind, type: category, role: feature, values: [a, b]}\n    - {name: y, type: category, role: target}\nheads:\n  - {name: y, task: binary, target: y, classes: [good, bad]}\n",
        )
        .unwrap()
    }

    /// 1,000 rows whose ids hold commas, quotes and line breaks, so a
    /// batch boundary that split a quoted field would show.
    fn csv_rows(bad_row: Option<usize>) -> String {
        let mut text = String::from("id,amount,extra,kind,y\n");
        for i in 1..=1000 {
            let amount = if Some(i) == bad_row {
                "lots".to_string()
            } else {
                format!("{}.5", i % 997)
            };
            let id = if i % 3 == 0 {
                format!("\"r{i}, \"\"quoted\"\"\nsecond line\"")
            } else {
                format!("r{i}")
            };
            let kind = if i % 2 == 0 { "a" } else { "b" };
            let y = if i % 5 == 0 { "bad" } else { "good" };
            text.push_str(&format!("{id},{amount},x,{kind},{y}\n"));
        }
        text
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `t.parquet` with the plugin's columns, one row per amount (typed as
    /// numbers), in row groups of 64 rows.
    fn parquet_file(dir: &tempfile::TempDir, amounts: Vec<Option<f64>>) -> std::path::PathBuf {
        let path = dir.path().join("t.parquet");
        let n = amounts.len();
        let mut frame = df!(
            "id" => (1..=n).map(|i| format!("r{i}")).collect::<Vec<_>>(),
            "amount" => amounts,
            "kind" => (1..=n).map(|i| if i % 2 == 0 { "a" } else { "b" }).collect::<Vec<_>>(),
            "y" => (1..=n).map(|i| if i % 3 == 0 { "bad" } else { "good" }).collect::<Vec<_>>(),
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_row_group_size(Some(64))
            .finish(&mut frame)
            .unwrap();
        path
    }

    fn batched(path: &Path, format: RowFormat, batch: usize) -> Result<RawTable, DataError> {
        let manifest = plugin();
        read_batched(
            &manifest,
            path,
            format,
            CsvLayout::INPUT,
            true,
            &[],
            batch,
            Streaming::Always,
        )
    }

    #[test]
    fn a_streamed_csv_reads_exactly_as_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.csv", &csv_rows(None));
        let manifest = plugin();
        let whole = read_rows(
            &manifest,
            &path,
            RowFormat::Csv,
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap();
        assert_eq!(whole.len(), 1000);
        for batch in [1, 7, 64, 5000] {
            let streamed = batched(&path, RowFormat::Csv, batch).unwrap();
            assert_eq!(streamed, whole, "batches of {batch}");
        }
        let ids = whole.ids.as_ref().unwrap();
        assert_eq!(ids[2], "r3, \"quoted\"\nsecond line");
        assert_eq!(whole.undeclared_columns, vec!["extra".to_string()]);
    }

    #[test]
    fn skipped_bad_rows_leave_the_others_numbered_as_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = csv_rows(Some(777));
        // A second bad row, a missing label, in another batch.
        text = text.replace("\nr41,41.5,x,b,good\n", "\nr41,41.5,x,b,\n");
        let path = write(&dir, "t.csv", &text);
        let mut manifest = plugin();
        manifest.data.on_bad_rows = indus_spec::OnBadRows::Skip;
        let read = |batch: usize| {
            read_batched(
                &manifest,
                &path,
                RowFormat::Csv,
                CsvLayout::INPUT,
                true,
                &[],
                batch,
                Streaming::Always,
            )
            .unwrap()
        };
        let whole = read_rows(
            &manifest,
            &path,
            RowFormat::Csv,
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap();
        assert_eq!(whole.len(), 998);
        for batch in [1, 50, 5000] {
            let streamed = read(batch);
            assert_eq!(streamed.skipped, whole.skipped, "batches of {batch}");
            assert_eq!(
                streamed.source_rows, whole.source_rows,
                "batches of {batch}"
            );
            assert_eq!(streamed, whole, "batches of {batch}");
        }
        assert_eq!(whole.skipped.count, 2);
        assert!(
            whole.skipped.reasons[0].contains("row 41"),
            "{:?}",
            whole.skipped
        );
        assert!(
            whole.skipped.reasons[1].contains("row 777")
                && whole.skipped.reasons[1].contains("amount"),
            "{:?}",
            whole.skipped
        );
        // Rows after each gap keep their numbers in the file.
        assert_eq!(whole.source_row(39), 40);
        assert_eq!(whole.source_row(40), 42);
        assert_eq!(whole.source_row(775), 778);
        assert_eq!(whole.ids.as_ref().unwrap()[775], "r778");
        // Rows to predict are never skipped.
        let err = read_batched(
            &manifest,
            &path,
            RowFormat::Csv,
            CsvLayout::INPUT,
            false,
            &[],
            50,
            Streaming::Always,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("row 777"), "{err}");
    }

    #[test]
    fn a_bad_cell_deep_in_a_streamed_file_names_its_row_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.csv", &csv_rows(Some(777)));
        let err = batched(&path, RowFormat::Csv, 50).unwrap_err().to_string();
        assert!(
            err.contains("row 777") && err.contains("amount") && err.contains("`lots`"),
            "{err}"
        );
    }

    #[test]
    fn batches_come_in_file_order_with_their_first_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.csv", &csv_rows(None));
        let manifest = plugin();
        let mut batches = RowBatches::open(
            &manifest,
            &path,
            RowFormat::Csv,
            CsvLayout::INPUT,
            false,
            &[],
            100,
            Streaming::Always,
        )
        .unwrap();
        let mut seen = 0;
        while let Some(batch) = {
            assert_eq!(batches.next_row(), seen + 1);
            batches.next()
        } {
            let batch = batch.unwrap();
            assert!(batch.len() <= 100 && !batch.is_empty());
            let first_id = &batch.ids.as_ref().unwrap()[0];
            assert!(
                first_id.starts_with(&format!("r{}", seen + 1)),
                "{first_id}"
            );
            seen += batch.len();
        }
        assert_eq!(seen, 1000);
    }

    #[test]
    fn json_lines_stream_with_their_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for i in 1..=30 {
            if i == 10 {
                text.push('\n'); // a blank line is read past but counted
            }
            let amount = if i == 25 {
                "\"many\"".to_string()
            } else {
                i.to_string()
            };
            text.push_str(&format!(
                "{{\"id\": \"r{i}\", \"amount\": {amount}, \"kind\": \"a\", \"y\": \"good\"}}\n"
            ));
        }
        let path = write(&dir, "t.jsonl", &text);
        let err = batched(&path, RowFormat::JsonLines, 4)
            .unwrap_err()
            .to_string();
        // Row 25 is on line 26, after the blank line.
        assert!(err.contains("row 26") && err.contains("amount"), "{err}");
        let good = write(&dir, "g.jsonl", &text.replace("\"many\"", "25"));
        let table = batched(&good, RowFormat::JsonLines, 4).unwrap();
        assert_eq!(table.len(), 30);
        assert_eq!(table.features[2 * 24], 25.0);
    }

    #[test]
    fn a_streamed_parquet_file_reads_exactly_as_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let n = 500usize;
        let path = parquet_file(&dir, (1..=n).map(|i| Some(i as f64 / 4.0)).collect());
        let manifest = plugin();
        let whole = read_rows(
            &manifest,
            &path,
            RowFormat::Parquet,
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap();
        assert_eq!(whole.len(), n);
        let streamed = batched(&path, RowFormat::Parquet, 50).unwrap();
        assert_eq!(streamed, whole);
        let batches = RowBatches::open(
            &manifest,
            &path,
            RowFormat::Parquet,
            CsvLayout::INPUT,
            true,
            &[],
            50,
            Streaming::Always,
        )
        .unwrap();
        assert_eq!(batches.total_rows(), Some(n));
    }

    #[test]
    fn typed_parquet_numbers_meet_the_same_checks_as_text() {
        let dir = tempfile::tempdir().unwrap();
        // Row 120 is out of the column's range, row 125 has no value (one
        // batch: a streamed read stops at the first batch with problems).
        let amounts: Vec<Option<f64>> = (1..=300)
            .map(|i| match i {
                120 => Some(5000.0),
                125 => None,
                _ => Some(i as f64 / 4.0),
            })
            .collect();
        let path = parquet_file(&dir, amounts);
        let manifest = plugin();
        let whole = read_rows(
            &manifest,
            &path,
            RowFormat::Parquet,
            CsvLayout::INPUT,
            true,
            &[],
        )
        .unwrap_err()
        .to_string();
        let streamed = batched(&path, RowFormat::Parquet, 50)
            .unwrap_err()
            .to_string();
        for err in [&whole, &streamed] {
            assert!(
                err.contains("row 120")
                    && err.contains("value 5000 is outside the allowed range [0, 1000]")
                    && err.contains("row 125")
                    && err.contains("missing value"),
                "{err}"
            );
        }
    }

    /// Every column type pandas, pyarrow and Spark write (files made by
    /// `tests/parquet/make.py`), read whole and streamed.
    #[test]
    fn parquet_files_of_every_exported_type_read() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parquet");
        // float16.parquet is left out: polars 0.55's eager reader stops on
        // a debug assertion for half floats (release builds read it).
        let numbers: &[(&str, f32)] = &[
            ("int8", 1.0),
            ("int16", 1.0),
            ("int32", 1.0),
            ("int64", 1.0),
            ("uint8", 1.0),
            ("uint16", 1.0),
            ("uint32", 1.0),
            ("uint64", 1.0),
            ("float32", 0.5),
            ("float64", 0.5),
            ("decimal", 1.25),
            ("decimal_int", 1.25),
            ("decimal_wide", 1.25),
            ("bool", 1.0),
        ];
        let texts: &[(&str, &str)] = &[
            ("date", "2024-01-01"),
            ("timestamp", "2024-01-01 12:30"),
            ("timestamp_tz", "2024-01-01"),
            ("timestamp_int96", "2024-01-01 12:30"),
            ("dictionary", "lo"),
            ("pandas_categorical", "lo"),
        ];
        let plugin_for = |x: &str| {
            parse_plugin(
                Path::new("p.yaml"),
                &format!("name: p\nindustry: t\ndescription: t\ndata:\n  source: {{format: parquet, dataset: p, files: {{train: {{name: t.parquet}}}}}}\n  columns:\n    - {x}\n    - {{name: c, type: category, role: feature, values: [a, b]}}\n    - {{name: y, type: integer, role: target}}\nheads:\n  - {{name: y, task: binary, target: y}}\n"),
            )
            .unwrap()
        };
        let read = |manifest: &PluginManifest, name: &str| {
            let path = here.join(format!("{name}.parquet"));
            let whole = read_rows(
                manifest,
                &path,
                RowFormat::Parquet,
                CsvLayout::INPUT,
                true,
                &[],
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let streamed = read_batched(
                manifest,
                &path,
                RowFormat::Parquet,
                CsvLayout::INPUT,
                true,
                &[],
                2,
                Streaming::Always,
            )
            .unwrap_or_else(|e| panic!("{name} streamed: {e}"));
            assert_eq!(whole.len(), 5, "{name}");
            assert_eq!(whole.labels, Some(vec![0, 1, 0, 1, 1]), "{name}");
            assert_eq!(streamed.features.len(), whole.features.len(), "{name}");
            assert_eq!(streamed.ids, whole.ids, "{name}");
            whole
        };
        for (name, first) in numbers {
            let kind = if *name == "bool" { "boolean" } else { "number" };
            let manifest = plugin_for(&format!(
                "{{name: x, type: {kind}, role: feature, nullable: true}}"
            ));
            let table = read(&manifest, name);
            assert_eq!(table.features[0], *first, "{name}");
            assert!(table.features[4].is_nan(), "{name}: the missing cell");
        }
        for (name, start) in texts {
            let manifest = plugin_for("{name: x, type: id, role: id}");
            let table = read(&manifest, name);
            let ids = table.ids.unwrap();
            assert!(ids[0].starts_with(start), "{name}: {}", ids[0]);
            assert_eq!(ids[2], "", "{name}: the missing cell");
        }
    }
}
