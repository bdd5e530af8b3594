//! `indus`: run scenarios, evaluate and query runs, list what a project has,
//! and print the JSON Schema of its YAML files.

mod bench;
mod drift;
mod eval_all;
mod export;
mod export_model;
mod predict;
mod progress;
mod propose;
mod report;
mod scaffold;
mod serve;
mod versions;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indus_data::RowFormat;
use indus_runtime::{
    Evaluation, LoadedRun, RunOptions, list_plugins, list_runs, list_scenarios, resolve_run,
    resolve_scenario, run_scenario,
};
use indus_spec::BackendKind;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "indus",
    version,
    about = "Industry AI scenarios on one shared MLP engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a scenario, evaluate it on its held-out test split and save a run folder.
    #[command(visible_alias = "train")]
    Run(RunArgs),
    /// Evaluate a saved run on its plugin's test split or on a labelled file.
    Eval(EvalArgs),
    /// Train every scenario over a few seeds and write one Markdown table of the results.
    EvalAll(eval_all::EvalAllArgs),
    /// Predict rows from a CSV, JSON-lines, Parquet or IDX file, or from image files, with a saved run
    Predict(predict::PredictArgs),
    /// Compare rows with the rows a run was trained on, column by column (population stability index).
    Drift(drift::DriftArgs),
    /// Top-k items for a user from a run of a recommendation scenario.
    Recommend(RecommendArgs),
    /// List plugins, scenarios and runs.
    List(ListArgs),
    /// A scenario's versions (runs), newest first, with the aliases pointing at them.
    Runs(versions::RunsArgs),
    /// Point an alias (default `production`) at a run: what servers answer with.
    Promote(versions::PromoteArgs),
    /// Move an alias back to the run it pointed at before.
    Rollback(versions::RollbackArgs),
    /// Export a run's network for another runtime: `indus export RUN --format onnx`.
    Export(export_model::ExportArgs),
    /// Print the JSON Schema of plugin manifests and scenario files.
    Schema(SchemaArgs),
    /// Scaffold something new: `indus new plugin NAME`.
    #[command(subcommand)]
    New(NewWhat),
    /// Write the scenario dashboard as one self-contained HTML file.
    Report(export::ReportArgs),
    /// Serve every trained scenario over HTTP (predict, explain, train, OIP v2, /metrics).
    Serve(serve::ServeArgs),
    /// Measure a run's inference latency (batch 1) and throughput (batch 1024) on its test split.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The scenario file, e.g. scenarios/mnist.yaml.
    scenario: PathBuf,
    /// Folder with local copies of data sets (else INDUS_DATA_DIR, the cache, then a download).
    #[arg(long, env = "INDUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where run folders are written.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Override the scenario's epochs (also its novelty guard's).
    #[arg(long)]
    epochs: Option<u64>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's backend.
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// Use only the first N training rows.
    #[arg(long)]
    train_limit: Option<u64>,
    /// Use only the first N test rows.
    #[arg(long)]
    test_limit: Option<u64>,
    /// Print the run's metrics as JSON on stdout instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// A run folder, or a scenario name (its latest run under --runs-dir).
    run: String,
    /// Fail unless the run belongs to this scenario (guards against mixed-up paths).
    #[arg(long)]
    scenario: Option<String>,
    /// Labelled rows to evaluate on (default: the rows the run was tested
    /// on: the official test file, or the held-out rows of the training
    /// file it recorded; a cross-validated run's out-of-fold numbers).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Format of --input (default: from its extension).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Rows of --input read and scored at a time (1 to 1,000,000); only the
    /// answers are kept, so a file of any size is evaluated.
    #[arg(long, default_value_t = indus_data::DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    /// Stream --input in batches whatever its size (without it, files up to
    /// 64 MiB are read whole: the most precise messages for a malformed file).
    #[arg(long, requires = "input")]
    stream: bool,
    /// Folder with local copies of data sets (default: the folder the run
    /// read its data from, then INDUS_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Write the run's held-out rows with its answers, the truth and (for
    /// folds) the fold that tested each, as CSV (`row` is the row's number
    /// in its file), instead of evaluating.
    #[arg(long, value_name = "FILE", conflicts_with = "input")]
    export: Option<PathBuf>,
    /// Use only the first N test rows of the plugin's test split.
    #[arg(long)]
    test_limit: Option<u64>,
    /// Backend to evaluate on.
    #[arg(long, value_enum, default_value = "flex")]
    backend: BackendArg,
    /// Print metrics as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct RecommendArgs {
    /// A run folder, or a scenario name (its latest run under --runs-dir).
    run: String,
    /// The user, as written in the user column.
    #[arg(long)]
    user: String,
    /// How many items.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ListArgs {
    /// What to list (default: everything).
    #[arg(value_enum)]
    what: Option<ListWhat>,
    /// Project root holding plugins/ and scenarios/.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct SchemaArgs {
    /// Which schema (default: both, as one JSON object).
    #[arg(value_enum)]
    which: Option<SchemaWhich>,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// A run folder, or a scenario name (its latest run under --runs-dir).
    run: String,
    /// Folder with local copies of data sets.
    #[arg(long, env = "INDUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Single-row predictions to time (after 50 warm-up calls).
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Backend to measure.
    #[arg(long, value_enum, default_value = "flex")]
    backend: BackendArg,
}

#[derive(Subcommand)]
enum NewWhat {
    /// A plugin folder with a commented plugin.yaml, sample data and a scenario that trains as is.
    Plugin(scaffold::NewPluginArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Flex,
    Ndarray,
    Cuda,
}

impl From<BackendArg> for BackendKind {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Flex => BackendKind::Flex,
            BackendArg::Ndarray => BackendKind::Ndarray,
            BackendArg::Cuda => BackendKind::Cuda,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Csv,
    Jsonl,
    Idx,
    Parquet,
    /// An image file, or a folder of them.
    Images,
}

/// The formats `indus drift` reads: tables only (images are not compared).
#[derive(Clone, Copy, ValueEnum)]
enum TableFormatArg {
    Csv,
    Jsonl,
    Parquet,
}

impl From<TableFormatArg> for FormatArg {
    fn from(f: TableFormatArg) -> FormatArg {
        match f {
            TableFormatArg::Csv => FormatArg::Csv,
            TableFormatArg::Jsonl => FormatArg::Jsonl,
            TableFormatArg::Parquet => FormatArg::Parquet,
        }
    }
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum ListWhat {
    Plugins,
    Scenarios,
    Runs,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaWhich {
    Plugin,
    Scenario,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // polars maps a local CSV file into memory when it streams it, so a
    // predict's RSS grows by the whole file (4 GB at 20M rows); its async
    // reader fetches 32 MB chunks instead and keeps RSS bounded
    // (docs/benchmarks.md). Training holds its rows anyway, and reads
    // leaner from the mapping, so only predict, eval and drift switch.
    if matches!(
        cli.command,
        Command::Predict(_) | Command::Eval(_) | Command::Drift(_)
    ) && std::env::var_os("POLARS_FORCE_ASYNC").is_none()
    {
        // SAFETY: nothing but argument parsing has run: no other thread
        // exists yet that could read the environment concurrently, and
        // polars reads its configuration on first use, after this.
        unsafe { std::env::set_var("POLARS_FORCE_ASYNC", "1") };
    }
    let result = match cli.command {
        Command::Run(a) => cmd_run(a),
        Command::Eval(a) => cmd_eval(a),
        Command::EvalAll(a) => eval_all::cmd_eval_all(a),
        Command::Predict(a) => predict::cmd_predict(a),
        Command::Drift(a) => drift::cmd_drift(a),
        Command::Recommend(a) => cmd_recommend(a),
        Command::List(a) => cmd_list(a),
        Command::Runs(a) => versions::cmd_runs(a),
        Command::Promote(a) => versions::cmd_promote(a),
        Command::Rollback(a) => versions::cmd_rollback(a),
        Command::Export(a) => export_model::cmd_export(a),
        Command::Schema(a) => cmd_schema(a),
        Command::Bench(a) => cmd_bench(a),
        Command::Serve(a) => serve::cmd_serve(a),
        Command::Report(a) => export::cmd_report(a),
        Command::New(NewWhat::Plugin(a)) => scaffold::cmd_new_plugin(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: the library
/// errors already name their cause (`file: cannot read: No such file`), and
/// printing the chain as well said it twice.
fn report(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
    }
    text
}

fn count(v: u64, flag: &str) -> Result<indus_spec::Count> {
    indus_spec::Count::try_from(v).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

fn cmd_run(a: RunArgs) -> Result<()> {
    let mut resolved = resolve_scenario(&a.scenario, &[])?;
    let s = &mut resolved.scenario;
    if let Some(e) = a.epochs {
        s.set_epochs(indus_spec::limits::epochs(e).map_err(|m| anyhow::anyhow!("--epochs: {m}"))?);
    }
    if let Some(seed) = a.seed {
        s.seed = seed;
    }
    if let Some(b) = a.backend {
        s.backend = b.into();
    }
    if let Some(n) = a.train_limit {
        s.data.train_limit = Some(count(n, "train-limit")?);
    }
    if let Some(n) = a.test_limit {
        s.data.test_limit = Some(count(n, "test-limit")?);
    }
    let options = RunOptions {
        data_dir: a.data_dir,
        runs_root: a.runs_dir,
    };
    for swept in indus_runtime::sweep_partial(&options.runs_root) {
        eprintln!(
            "removed the leftovers of a run that did not finish: {}",
            swept.display()
        );
    }
    let mut bars = progress::EpochBars::new(!a.json);
    let summary = run_scenario(&resolved, &options, &mut bars, &mut |note| {
        eprintln!("{note}")
    })?;
    drop(bars);
    if a.json {
        let out = serde_json::json!({ "run_dir": summary.dir, "metrics": summary.metrics });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        report::print_run(&summary);
    }
    Ok(())
}

fn row_format(path: &Path, explicit: Option<FormatArg>) -> Result<RowFormat> {
    match explicit {
        Some(FormatArg::Csv) => Ok(RowFormat::Csv),
        Some(FormatArg::Jsonl) => Ok(RowFormat::JsonLines),
        Some(FormatArg::Idx) => Ok(RowFormat::Idx),
        Some(FormatArg::Parquet) => Ok(RowFormat::Parquet),
        Some(FormatArg::Images) => Ok(RowFormat::Images),
        None => RowFormat::from_path(path).with_context(|| {
            format!(
                "{}: cannot tell the format from the name; pass --format csv|jsonl|idx|parquet|images",
                path.display()
            )
        }),
    }
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let dir = resolve_run(&a.run, &a.runs_dir)?;
    let run = LoadedRun::open(&dir, a.backend.into())?;
    if let Some(expected) = &a.scenario {
        run.expect_scenario(expected)?;
    }
    if let Some(out) = &a.export {
        let csv = run.held_out_csv()?;
        std::fs::write(out, &csv).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!(
            "wrote {} held-out rows of run {} to {}",
            csv.lines().count().saturating_sub(1),
            dir.display(),
            out.display()
        );
        return Ok(());
    }
    // Input rows the served model was fitted on, and rows read.
    let mut seen = (0usize, 0usize);
    let evaluation = match &a.input {
        Some(path) => {
            // Only the answers are held.
            let batches = predict::open_input(
                &run,
                path,
                row_format(path, a.format)?,
                a.batch_rows,
                a.stream,
            )?;
            let trained = run.folder.trained_rows()?;
            let mut noted = std::collections::HashSet::new();
            let evaluation = run.evaluate_batches(batches.inspect(|batch| {
                for note in batch.iter().flat_map(|rows| &rows.notes) {
                    if noted.insert(note.clone()) {
                        eprintln!("note: {note}");
                    }
                }
                if let (Ok(rows), Some(trained)) = (batch, &trained) {
                    seen.0 += indus_data::rows_seen(&run.plugin, rows, trained);
                    seen.1 += rows.len();
                }
            }))?;
            if seen.0 > 0 {
                eprintln!(
                    "warning: {} of {} rows ({:.1} %) are rows the served model was trained on; metrics on them overstate how it does on new rows",
                    seen.0,
                    seen.1,
                    100.0 * seen.0 as f64 / seen.1.max(1) as f64
                );
            }
            evaluation
        }
        None => match run.held_out_rows(a.data_dir.clone(), a.test_limit.map(|n| n as usize))? {
            indus_runtime::HeldOutRows::Rows { rows, what } => {
                eprintln!("evaluating on {what}");
                run.evaluate_batches(std::iter::once(Ok(*rows)))?
            }
            indus_runtime::HeldOutRows::OutOfFold => return print_out_of_fold(&run, &dir, a.json),
        },
    };
    match evaluation {
        Evaluation::Multilabel(m) => {
            if a.json {
                let out = serde_json::json!({ "run_dir": dir, "multilabel": m, "rows_seen_in_training": seen.0 });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("run {}", dir.display());
                report::print_multilabel(&m);
            }
        }
        Evaluation::Regression(r) => {
            if a.json {
                let out = serde_json::json!({ "run_dir": dir, "regression": r, "rows_seen_in_training": seen.0 });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "run {}\n{} rows: RMSE {:.4}, MAE {:.4}, R² {:.4}",
                    dir.display(),
                    r.rows,
                    r.rmse,
                    r.mae,
                    r.r2
                );
            }
        }
        Evaluation::Classes { metrics, secondary } => {
            if a.json {
                let mut out = serde_json::json!({ "run_dir": dir, "metrics": metrics, "rows_seen_in_training": seen.0 });
                if !secondary.is_empty() {
                    out["auxiliary_heads"] = serde_json::to_value(&secondary)?;
                }
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("run {}", dir.display());
                report::print_metrics(&metrics);
                report::print_secondary_heads(&secondary, &run.metrics.head);
            }
        }
    }
    Ok(())
}

/// `indus eval` of a cross-validated run: its held-out numbers are the
/// out-of-fold answers recorded at training, since no fold's model is kept
/// (the served one trained on every row, so scoring it again would test it
/// on rows it learned).
fn print_out_of_fold(run: &LoadedRun, dir: &Path, json: bool) -> Result<()> {
    let m = &run.metrics;
    if json {
        let out = serde_json::json!({
            "run_dir": dir,
            "out_of_fold": true,
            "evaluation": m.evaluation,
            "metrics": m.test,
            "regression": m.regression,
            "cross_validation": m.cross_validation,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("run {}", dir.display());
    println!(
        "{}: the numbers below are the out-of-fold answers recorded when the run was made (each fold's model is not kept; the served model trained on every row). `indus eval {} --export FILE` writes them row by row; `--input FILE` scores new rows.",
        m.evaluation,
        dir.display()
    );
    if let Some(r) = &m.regression {
        println!(
            "{} rows: RMSE {:.4}, MAE {:.4}, R² {:.4}",
            m.rows.train, r.rmse, r.mae, r.r2
        );
    }
    if let Some(t) = &m.test {
        report::print_metrics(t);
    }
    Ok(())
}

fn cmd_recommend(a: RecommendArgs) -> Result<()> {
    if a.k == 0 {
        anyhow::bail!("-k must be at least 1");
    }
    let dir = resolve_run(&a.run, &a.runs_dir)?;
    let run = LoadedRun::open(&dir, indus_spec::BackendKind::Flex)?;
    let items = run.recommend(&a.user, a.k)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(());
    }
    let seen = run.catalog.as_ref().map_or(0, |c| c.seen(a.user.trim()));
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(["rank", "item", "predicted rating", "P(liked)"]);
    for r in &items {
        t.add_row([
            r.rank.to_string(),
            r.item.clone(),
            format!("{:.3}", r.rating),
            format!("{:.3}", r.liked_probability),
        ]);
    }
    println!(
        "top {} for user {} ({seen} items rated in training left out):\n{t}",
        items.len(),
        a.user
    );
    Ok(())
}

fn cmd_list(a: ListArgs) -> Result<()> {
    let want = |w: ListWhat| a.what.is_none_or(|x| x == w);
    let mut sections = Vec::new();
    if want(ListWhat::Plugins) {
        sections.push(("plugins", list_plugins(&a.root)));
    }
    if want(ListWhat::Scenarios) {
        sections.push(("scenarios", list_scenarios(&a.root)));
    }
    if want(ListWhat::Runs) {
        let runs = list_runs(&a.runs_dir, None)
            .into_iter()
            .map(|dir| {
                let name = format!(
                    "{}/{}",
                    dir.parent()
                        .and_then(Path::file_name)
                        .unwrap_or_default()
                        .to_string_lossy(),
                    dir.file_name().unwrap_or_default().to_string_lossy()
                );
                let summary = indus_runtime::peek_metrics(&dir)
                    .ok()
                    .map(|m| {
                        let quality = match (&m.test, &m.regression, &m.multilabel) {
                            (Some(t), _, _) => format!(
                                "test accuracy {:.4}, macro F1 {:.4}",
                                t.accuracy, t.macro_f1
                            ),
                            (None, Some(r), _) => {
                                format!("test RMSE {:.4}, R² {:.4}", r.rmse, r.r2)
                            }
                            (None, None, Some(l)) => format!(
                                "test micro F1 {:.4}, subset accuracy {:.4}",
                                l.micro_f1, l.subset_accuracy
                            ),
                            (None, None, None) => "no test metrics".into(),
                        };
                        format!("{quality}, {} epochs on {}", m.epochs_run, m.backend)
                    })
                    .unwrap_or_else(|| "metrics.json unreadable".into());
                indus_runtime::Listing {
                    name,
                    path: dir,
                    summary,
                }
            })
            .collect();
        sections.push(("runs", runs));
    }
    if a.json {
        let map: serde_json::Map<String, serde_json::Value> = sections
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::to_value(v).unwrap_or_default()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
        return Ok(());
    }
    for (title, items) in sections {
        println!("{title}:");
        if items.is_empty() {
            println!("  (none)");
        }
        for i in items {
            println!("  {:<28} {}", i.name, i.summary);
        }
    }
    Ok(())
}

fn cmd_schema(a: SchemaArgs) -> Result<()> {
    let all = indus_spec::json_schemas();
    let out = match a.which {
        None => all,
        Some(SchemaWhich::Plugin) => all["plugin"].clone(),
        Some(SchemaWhich::Scenario) => all["scenario"].clone(),
    };
    if out.is_null() {
        bail!("schema generation failed");
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn cmd_bench(a: BenchArgs) -> Result<()> {
    let dir = resolve_run(&a.run, &a.runs_dir)?;
    let run = LoadedRun::open(&dir, a.backend.into())?;
    let locations = indus_data::DataLocations::from_env(a.data_dir.clone());
    let test = indus_data::load_test_split(&run.plugin, &locations, None)?;
    let report = bench::measure(&run, &test, a.samples)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
