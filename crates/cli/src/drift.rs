//! `indus drift RUN --input FILE`: whether next month's rows still look like
//! the rows the model was trained on, column by column (population
//! stability index), before anyone trusts its answers on them.

use crate::{TableFormatArg, row_format};
use anyhow::{Result, bail};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indus_runtime::{LoadedRun, MAJOR, MODERATE, resolve_run};
use std::path::PathBuf;

/// Options of `indus drift`.
#[derive(clap::Args)]
pub struct DriftArgs {
    /// A run folder, or a scenario name (its latest run under --runs-dir).
    run: String,
    /// Rows to compare: CSV, JSON lines or Parquet (labels are not needed).
    #[arg(long, short)]
    input: PathBuf,
    /// Format of --input (default: from its extension).
    #[arg(long, value_enum)]
    format: Option<TableFormatArg>,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Fail (exit status 1, after the report) when a column's PSI reaches
    /// this value; 0.25 is the usual line for a major shift. For scheduled
    /// checks that must stop a pipeline.
    #[arg(long, value_name = "PSI")]
    fail_at: Option<f64>,
}

/// Compares the input with the run's training rows and prints the report.
pub fn cmd_drift(a: DriftArgs) -> Result<()> {
    if let Some(limit) = a.fail_at
        && !(limit.is_finite() && limit > 0.0)
    {
        bail!("--fail-at {limit}: give a positive PSI, e.g. 0.25");
    }
    let dir = resolve_run(&a.run, &a.runs_dir)?;
    // The network is not used: any backend opens the run.
    let run = LoadedRun::open(&dir, indus_spec::BackendKind::Flex)?;
    // Only each column's bin counts are kept.
    let batches = crate::predict::open_input(
        &run,
        &a.input,
        row_format(&a.input, a.format.map(Into::into))?,
        indus_data::DEFAULT_BATCH_ROWS,
        false,
    )?;
    let mut rows = 0;
    let report = run.drift_batches(batches.inspect(|batch| {
        if let Ok(batch) = batch {
            rows += batch.len();
        }
    }));
    if rows == 0 && report.is_err() {
        bail!("{}: no rows to compare", a.input.display());
    }
    let report = report?;
    if report.columns.is_empty() {
        bail!(
            "scenario `{}` has no scalar input columns to compare (images are not compared)",
            run.metrics.scenario
        );
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header([
            "column",
            "PSI",
            "verdict",
            "largest change (training → input)",
        ]);
        for c in &report.columns {
            t.add_row([
                c.column.clone(),
                format!("{:.3}", c.psi),
                c.verdict.clone(),
                c.largest_change.clone(),
            ]);
        }
        let moderate = report.columns.iter().filter(|c| c.psi >= MODERATE).count();
        let major = report.columns.iter().filter(|c| c.psi >= MAJOR).count();
        println!(
            "{} input rows against {} training rows of run {}:\n{t}\n{moderate} of {} columns shifted (PSI ≥ {MODERATE}), {major} of them major (≥ {MAJOR})",
            report.rows,
            report.reference_rows,
            run.folder.record.run_id,
            report.columns.len()
        );
    }
    if let Some(limit) = a.fail_at
        && let Some(worst) = report.columns.first().filter(|c| c.psi >= limit)
    {
        bail!(
            "`{}` shifted with PSI {:.3} (--fail-at {limit}); check the input before trusting the model's answers on it",
            worst.column,
            worst.psi
        );
    }
    Ok(())
}
