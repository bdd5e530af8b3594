//! `indus report`: the dashboard as one self-contained HTML file.

use anyhow::{Context, Result, bail};
use indus_dashboard::{Mode, ScenarioView, measure, page};
use indus_runtime::{LoadedRun, ModelRegistry, resolve_run, scenarios_with_runs};
use indus_spec::BackendKind;
use std::path::PathBuf;

/// Options of `indus report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The HTML file to write.
    #[arg(long, short, default_value = "report.html")]
    out: PathBuf,
    /// Scenario to include (repeatable); default: every scenario with a finished run.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Skip the latency / throughput measurement (a few tens of ms per scenario).
    #[arg(long)]
    no_speed: bool,
}

/// Writes the report of the run each scenario is served by: the one its
/// `production` alias points at, else its newest.
pub fn cmd_report(a: ReportArgs) -> Result<()> {
    let names = if a.scenarios.is_empty() {
        scenarios_with_runs(&a.runs_dir)
    } else {
        a.scenarios
    };
    if names.is_empty() {
        bail!(
            "no finished runs under {} (train one with `indus run scenarios/<name>.yaml`)",
            a.runs_dir.display()
        );
    }
    let mut loaded = Vec::with_capacity(names.len());
    let registry = ModelRegistry::open(&a.runs_dir);
    for name in &names {
        let (dir, via) = match registry.resolve(name, None)? {
            Some(r) => (r.dir, format!("alias `{}`", r.alias.unwrap_or_default())),
            None => (
                resolve_run(name, &a.runs_dir)?,
                "newest run (no `production` alias)".to_string(),
            ),
        };
        let run = LoadedRun::open(&dir, BackendKind::Flex)
            .with_context(|| format!("scenario `{name}`"))?;
        let history = run.history();
        let perf = if a.no_speed {
            None
        } else {
            measure(&run, &run.examples())
        };
        loaded.push((name.as_str(), run, history, perf, via));
    }
    let views: Vec<ScenarioView<'_>> = loaded
        .iter()
        .map(|(name, run, history, perf, via)| ScenarioView {
            name,
            run,
            history,
            perf: *perf,
            served_via: Some(via.clone()),
        })
        .collect();
    let html = page(
        &views,
        Mode::Report {
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
    );
    std::fs::write(&a.out, html).with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!("wrote {} ({} scenarios)", a.out.display(), views.len());
    Ok(())
}
