//! `indus export RUN --format onnx`: a run's network for another runtime
//! (ONNX Runtime, Triton), with a sample to check it against indus.

use anyhow::{Context, Result};
use indus_runtime::{LoadedRun, resolve_run};
use indus_spec::BackendKind;
use std::path::PathBuf;

/// Formats a run can be exported to.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// ONNX (opset 17): the network on the preprocessed features.
    Onnx,
}

/// Options of `indus export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// A run folder, or a scenario name (its `production` run, else its latest).
    run: String,
    /// The format to write.
    #[arg(long, value_enum, default_value = "onnx")]
    format: ExportFormat,
    /// The model file to write.
    #[arg(long, short, default_value = "model.onnx")]
    out: PathBuf,
    /// Also write the run's example rows as the graph takes them (the
    /// preprocessed features) with indus's outputs for them, as JSON, to
    /// check another runtime against indus.
    #[arg(long, value_name = "FILE")]
    sample: Option<PathBuf>,
    /// Put the fitted preprocessing in the graph too: its input is then the
    /// raw row (numbers as read, NaN for missing, categories as the index
    /// of their value in plugin.yaml).
    #[arg(long)]
    with_preprocessing: bool,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
}

/// Writes the model (and the sample).
pub fn cmd_export(a: ExportArgs) -> Result<()> {
    let dir = resolve_run(&a.run, &a.runs_dir)?;
    let run = LoadedRun::open(&dir, BackendKind::Flex)?;
    let ExportFormat::Onnx = a.format;
    let bytes = run
        .to_onnx(a.with_preprocessing)
        .with_context(|| format!("run {}", dir.display()))?;
    std::fs::write(&a.out, &bytes).with_context(|| format!("cannot write {}", a.out.display()))?;
    let input = if a.with_preprocessing {
        format!(
            "input `{}` [rows, raw values] = the raw row in plugin.yaml's column order (numbers, NaN for missing, category value indices, pixels), preprocessed in the graph",
            indus_engine::ONNX_RAW_INPUT
        )
    } else {
        format!(
            "input `{}` [rows, {}] = the preprocessed features (preprocess.json holds the fitted steps)",
            indus_engine::ONNX_INPUT,
            run.model.preprocessor.output_width()
        )
    };
    println!(
        "wrote {} ({} bytes): {input}, output `{}` [rows, {}] = the head's outputs averaged over {} network(s); thresholds, native hooks and secondary heads are not in the graph",
        a.out.display(),
        bytes.len(),
        indus_engine::ONNX_OUTPUT,
        run.model.head.outputs(),
        run.scenario.model.ensemble.get()
    );
    if let Some(path) = &a.sample {
        let numbered: Vec<(usize, serde_json::Value)> = run
            .examples()
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, v))
            .collect();
        let rows = indus_data::json_rows(&run.plugin, "examples", numbered, &run.lookups)?;
        let sample = run.onnx_sample(&rows)?;
        std::fs::write(path, serde_json::to_vec(&sample)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {} ({} rows)", path.display(), rows.len());
    }
    Ok(())
}
