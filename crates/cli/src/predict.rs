//! `indus predict`: a run's answers for every row of a file, read and
//! written a batch at a time, so that a file of any size is predicted in
//! memory bounded by the batch.

use crate::{BackendArg, FormatArg, row_format};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use indus_data::{RowBatches, Streaming};
use indus_runtime::{LoadedRun, Prediction, resolve_run};
use polars::prelude::*;
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The most rows one batch may hold: a batch's inputs, outputs and
/// answers are in memory together.
const MAX_BATCH_ROWS: usize = 1_000_000;

/// Options of `indus predict`.
#[derive(clap::Args)]
pub struct PredictArgs {
    /// A run folder, or a scenario name (its latest run under --runs-dir).
    run: String,
    /// Fail unless the run belongs to this scenario (guards against mixed-up paths).
    #[arg(long)]
    scenario: Option<String>,
    /// Rows to predict: CSV, JSON lines, Parquet, IDX, or image files (one, or a folder).
    #[arg(long, short)]
    input: PathBuf,
    /// Format of --input (default: from its extension).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Write predictions here: JSON lines, or CSV / Parquet when the name ends in .csv /
    /// .parquet (default: JSON lines on stdout).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Predict only the first N rows.
    #[arg(long)]
    limit: Option<usize>,
    /// Rows read, predicted and written at a time (1 to 1,000,000).
    #[arg(long, default_value_t = indus_data::DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    /// Stream any CSV, Parquet or JSON-lines input in batches; without it, files up to
    /// 64 MiB are read whole (the most precise messages for a malformed file).
    #[arg(long)]
    stream: bool,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Backend to predict on.
    #[arg(long, value_enum, default_value = "flex")]
    backend: BackendArg,
}

/// Refuses a `--batch-rows` outside 1 to [`MAX_BATCH_ROWS`].
pub(crate) fn check_batch_rows(batch_rows: usize) -> Result<()> {
    if !(1..=MAX_BATCH_ROWS).contains(&batch_rows) {
        bail!("--batch-rows {batch_rows} is out of range: 1 to {MAX_BATCH_ROWS}");
    }
    Ok(())
}

/// Predicts every row of the input, batch by batch: each batch is read,
/// checked, predicted and written before the next is read.
pub fn cmd_predict(a: PredictArgs) -> Result<()> {
    check_batch_rows(a.batch_rows)?;
    let dir = resolve_run(&a.run, &a.runs_dir)?;
    let run = LoadedRun::open(&dir, a.backend.into())?;
    if let Some(expected) = &a.scenario {
        run.expect_scenario(expected)?;
    }
    let mut batches = open_input(
        &run,
        &a.input,
        row_format(&a.input, a.format)?,
        a.batch_rows,
        a.stream,
    )?;
    let wanted = a.limit.unwrap_or(usize::MAX);
    let total = batches.total_rows().map(|n| n.min(wanted));
    let progress = RowProgress::new(total);
    let mut out = Output::create(a.out.as_deref())?;
    let mut noted = HashSet::new();
    let mut done = 0usize;
    while done < wanted {
        let first_row = batches.next_row();
        let Some(batch) = batches.next() else { break };
        let mut rows = batch?;
        for note in rows.notes.iter().map(|n| format!("note: {n}")).chain(
            rows.ignored_targets
                .iter()
                .map(|why| format!("note: predicting needs no target: {why}")),
        ) {
            if noted.insert(note.clone()) {
                progress.println(&note);
            }
        }
        rows.truncate(wanted - done);
        // Answers carry the row's number in the file, not in the batch.
        rows.source_rows = Some((first_row..first_row + rows.len()).collect());
        let predictions = run.predict(&rows)?;
        out.write(&run, &predictions)?;
        done += predictions.len();
        progress.advance(predictions.len());
    }
    progress.finish();
    if done == 0 {
        // Not an error: a scheduled export may be empty on a quiet day.
        eprintln!("warning: {}: no rows to predict", a.input.display());
    }
    out.finish(&run, done)
}

/// Opens a file of rows for `run` (predict, eval, drift) in batches of
/// `batch_rows`: streamed above 64 MiB, or at any size with `stream`. The
/// columns it carries that the schema does not declare are named on
/// standard error.
pub(crate) fn open_input<'a>(
    run: &'a LoadedRun,
    path: &Path,
    format: indus_data::RowFormat,
    batch_rows: usize,
    stream: bool,
) -> Result<RowBatches<'a>> {
    check_batch_rows(batch_rows)?;
    let batches = RowBatches::open(
        &run.plugin,
        path,
        format,
        indus_data::input_layout(&run.plugin)?,
        false,
        &run.lookups,
        batch_rows,
        if stream {
            Streaming::Always
        } else {
            Streaming::Auto
        },
    )?;
    if let Some(note) = undeclared_note(&batches) {
        eprintln!("warning: {note}");
    }
    Ok(batches)
}

fn undeclared_note(batches: &RowBatches<'_>) -> Option<String> {
    let table = indus_data::RawTable {
        undeclared_columns: batches.undeclared_columns().to_vec(),
        ..Default::default()
    };
    indus_data::undeclared_note(batches.source_name(), &table)
}

/// Rows done, rows per second and (when the input's size is known) an ETA
/// on stderr; nothing when stderr is not a terminal.
struct RowProgress {
    bar: ProgressBar,
}

impl RowProgress {
    fn new(total: Option<usize>) -> Self {
        let (bar, template) = match total {
            Some(n) => (
                ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr()),
                "predict [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}",
            ),
            None => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                "predict {spinner} {human_pos} rows, {per_sec}, {elapsed}",
            ),
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        RowProgress { bar }
    }

    fn advance(&self, rows: usize) {
        self.bar.inc(rows as u64);
    }

    fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Where the answers go, written as they are produced. A file is written
/// under a `.partial` name and renamed once complete, so an interrupted
/// predict never leaves a file that looks finished.
// One value for the whole predict; boxing a variant buys nothing.
#[allow(clippy::large_enum_variant)]
enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        path: PathBuf,
        partial: PathBuf,
        sink: FileSink,
    },
}

// One value for the whole predict; boxing a variant buys nothing.
#[allow(clippy::large_enum_variant)]
enum FileSink {
    JsonLines(BufWriter<std::fs::File>),
    Csv {
        file: BufWriter<std::fs::File>,
        header_written: bool,
    },
    Parquet(ParquetSink),
}

impl Output {
    fn create(path: Option<&Path>) -> Result<Output> {
        let Some(path) = path else {
            return Ok(Output::Stdout(BufWriter::new(std::io::stdout())));
        };
        let partial = path.with_extension("partial");
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("{}: cannot write", partial.display()))?;
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let sink = match extension.as_deref() {
            Some("csv") => FileSink::Csv {
                file: BufWriter::new(file),
                header_written: false,
            },
            Some("parquet") | Some("pq") => FileSink::Parquet(ParquetSink {
                file: Some(file),
                writer: None,
                schema: None,
            }),
            _ => FileSink::JsonLines(BufWriter::new(file)),
        };
        Ok(Output::File {
            path: path.to_path_buf(),
            partial,
            sink,
        })
    }

    fn write(&mut self, run: &LoadedRun, predictions: &[Prediction]) -> Result<()> {
        let classes = &run.model.classes;
        let with_probabilities = run.model.decision.scores_are_probabilities();
        let partial = match self {
            Output::Stdout(w) => return json_lines(w, predictions),
            Output::File { partial, .. } => partial.clone(),
        };
        let Output::File { sink, .. } = self else {
            return Ok(());
        };
        let written = match sink {
            FileSink::JsonLines(w) => json_lines(w, predictions),
            FileSink::Csv {
                file,
                header_written,
            } => {
                let text = if *header_written {
                    indus_runtime::predictions_csv_rows(classes, with_probabilities, predictions)
                } else {
                    indus_runtime::predictions_csv(classes, with_probabilities, predictions)
                };
                *header_written = true;
                file.write_all(text.as_bytes()).map_err(Into::into)
            }
            FileSink::Parquet(sink) => sink.write(&indus_runtime::predictions_csv(
                classes,
                with_probabilities,
                predictions,
            )),
        };
        written.with_context(|| format!("{}: cannot write", partial.display()))
    }

    fn finish(self, run: &LoadedRun, rows: usize) -> Result<()> {
        match self {
            Output::Stdout(mut w) => Ok(w.flush()?),
            Output::File {
                path,
                partial,
                sink,
            } => {
                let closed: Result<()> = match sink {
                    FileSink::JsonLines(mut w) => w.flush().map_err(Into::into),
                    FileSink::Csv {
                        mut file,
                        header_written,
                    } => {
                        if !header_written {
                            // An empty input still gets the header row.
                            let header = indus_runtime::predictions_csv(
                                &run.model.classes,
                                run.model.decision.scores_are_probabilities(),
                                &[],
                            );
                            file.write_all(header.as_bytes())?;
                        }
                        file.flush().map_err(Into::into)
                    }
                    FileSink::Parquet(sink) => sink.finish(),
                };
                closed.with_context(|| format!("{}: cannot write", partial.display()))?;
                std::fs::rename(&partial, &path)
                    .with_context(|| format!("{}: cannot write", path.display()))?;
                eprintln!("{rows} predictions written to {}", path.display());
                Ok(())
            }
        }
    }
}

fn json_lines(w: &mut impl Write, predictions: &[Prediction]) -> Result<()> {
    for p in predictions {
        serde_json::to_writer(&mut *w, p)?;
        writeln!(w)?;
    }
    Ok(())
}

/// Answers as Parquet, one row group per batch. The columns are those of
/// the CSV output; their types are read from the first batch (`row` a
/// whole number, `id` and `label` text) and kept for every later one.
struct ParquetSink {
    file: Option<std::fs::File>,
    writer: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
    schema: Option<SchemaRef>,
}

impl ParquetSink {
    fn frame(&mut self, csv: &str) -> Result<DataFrame> {
        let mut options = CsvReadOptions::default().with_has_header(true);
        options = match &self.schema {
            Some(schema) => options.with_schema(Some(schema.clone())),
            None => {
                let fixed: Schema = [
                    Field::new("row".into(), DataType::Int64),
                    Field::new("id".into(), DataType::String),
                    Field::new("label".into(), DataType::String),
                ]
                .into_iter()
                .collect();
                options
                    .with_infer_schema_length(None)
                    .with_schema_overwrite(Some(Arc::new(fixed)))
            }
        };
        let frame = options
            .into_reader_with_file_handle(std::io::Cursor::new(csv.as_bytes()))
            .finish()?;
        Ok(frame)
    }

    fn write(&mut self, csv: &str) -> Result<()> {
        let mut frame = self.frame(csv)?;
        if self.writer.is_none() {
            let schema = frame.schema().clone();
            let file = self.file.take().context("the Parquet output is closed")?;
            self.writer = Some(ParquetWriter::new(file).batched(&schema)?);
            self.schema = Some(schema);
        }
        frame.rechunk_mut();
        if let Some(writer) = &mut self.writer {
            writer.write_batch(&frame)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        if let Some(writer) = self.writer.as_mut() {
            writer.finish()?;
        } else if let Some(file) = self.file.take() {
            // No rows: an empty file with the fixed columns.
            let mut empty = self.frame("row,id,label\n")?;
            ParquetWriter::new(file).finish(&mut empty)?;
        }
        Ok(())
    }
}
