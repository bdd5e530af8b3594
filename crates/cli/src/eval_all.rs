//! `indus eval-all`: trains every scenario of a project at full size over a
//! few seeds and writes one Markdown table of the held-out metrics next to
//! the plugins' published baselines, so the results page can be regenerated
//! by one command instead of copied by hand.

use anyhow::{Context, Result, bail};
use indus_runtime::{
    RunMetrics, RunOptions, RuntimeError, list_scenarios, resolve_scenario, run_scenario,
};
use indus_spec::{Baseline, QualityTarget};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct EvalAllArgs {
    /// Project root whose `scenarios/*.yaml` are run.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Only these scenarios (names, comma-separated); all of them by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seeds each scenario is trained with; the table gives mean ± std over them.
    #[arg(long, value_delimiter = ',', default_value = "7,1,2")]
    seeds: Vec<u64>,
    /// Folder with local copies of data sets (else INDUS_DATA_DIR, the cache, then a download).
    #[arg(long, env = "INDUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where run folders are written.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Markdown file to write (e.g. docs/results.md); printed when absent.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// What happened to one scenario.
enum Outcome {
    /// Trained with every seed: its metrics (one entry per seed), the
    /// plugin's published baselines and the scenario's target.
    Measured(Vec<RunMetrics>, Vec<Baseline>, Option<QualityTarget>),
    /// Its data is not on this machine and cannot be downloaded.
    Skipped(String),
    /// Anything else went wrong: a defect to look at.
    Failed(String),
}

pub fn cmd_eval_all(a: EvalAllArgs) -> Result<()> {
    if a.seeds.is_empty() {
        bail!("--seeds: give at least one seed");
    }
    let all = list_scenarios(&a.root);
    if let Some(unknown) = a.only.iter().find(|n| !all.iter().any(|s| &s.name == *n)) {
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        bail!(
            "--only: no scenario `{unknown}` in {}; there are: {}",
            a.root.join("scenarios").display(),
            names.join(", ")
        );
    }
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|s| a.only.is_empty() || a.only.contains(&s.name))
        .collect();
    if chosen.is_empty() {
        bail!("no scenarios in {}", a.root.join("scenarios").display());
    }
    let mut results = Vec::new();
    for listing in &chosen {
        let outcome = evaluate(&listing.path, &a);
        match &outcome {
            Outcome::Measured(..) => eprintln!("{}: done", listing.name),
            Outcome::Skipped(why) => eprintln!("{}: skipped: {}", listing.name, one_line(why)),
            Outcome::Failed(why) => eprintln!("{}: FAILED: {why}", listing.name),
        }
        results.push((listing.name.clone(), outcome));
    }
    let page = markdown(&results, &a.seeds);
    match &a.out {
        Some(path) => std::fs::write(path, &page)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{page}"),
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .map(|(n, _)| n.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("{} failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

/// Trains one scenario once per seed.
fn evaluate(file: &Path, a: &EvalAllArgs) -> Outcome {
    let mut resolved = match resolve_scenario(file, &[]) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let options = RunOptions {
        data_dir: a.data_dir.clone(),
        runs_root: a.runs_dir.clone(),
    };
    let mut runs = Vec::new();
    for &seed in &a.seeds {
        resolved.scenario.seed = seed;
        let mut bars = crate::progress::EpochBars::new(false);
        match run_scenario(&resolved, &options, &mut bars, &mut |_| {}) {
            Ok(summary) => {
                let m = summary.metrics;
                let shown: Vec<String> = reported_metrics(
                    &m,
                    &resolved.plugin.baselines,
                    resolved.scenario.target.as_ref(),
                )
                .iter()
                .filter_map(|n| m.held_out(n).map(|v| format!("{n} {v:.4}")))
                .collect();
                eprintln!(
                    "{} seed {seed}: {} ({:.1} s of training)",
                    resolved.scenario.name,
                    shown.join(", "),
                    m.train_seconds
                );
                runs.push(m);
            }
            Err(RuntimeError::Data(e @ indus_data::DataError::Unavailable { .. })) => {
                return Outcome::Skipped(e.to_string());
            }
            Err(e) => return Outcome::Failed(format!("seed {seed}: {e}")),
        }
    }
    Outcome::Measured(runs, resolved.plugin.baselines, resolved.scenario.target)
}

/// The metrics a reader compares for a run: the scenario's target and
/// those with a published baseline first, then the usual ones for its kind
/// of head.
fn reported_metrics(
    m: &RunMetrics,
    baselines: &[Baseline],
    target: Option<&QualityTarget>,
) -> Vec<String> {
    let mut names: Vec<String> = target.map(|t| t.metric.clone()).into_iter().collect();
    for b in baselines {
        if !names.contains(&b.metric) {
            names.push(b.metric.clone());
        }
    }
    let usual: &[&str] = if m.top_k.is_some() {
        &["rmse", "hit_rate", "ndcg"]
    } else if m.regression.is_some() {
        &["rmse", "mae", "r2"]
    } else if m.multilabel.is_some() {
        &["micro_f1", "macro_f1", "hamming_loss"]
    } else if m.anomaly.is_some() {
        // An alarm's worth is read at few false alarms.
        &["roc_auc", "tpr_at_1pct_fpr", "accuracy", "pr_auc"]
    } else if m.test.as_ref().is_some_and(|t| t.ranking.is_some()) {
        &["roc_auc", "accuracy", "pr_auc"]
    } else {
        &["accuracy", "macro_f1"]
    };
    for n in usual {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    if m.novelty_guard.is_some() {
        // What the guard adds is read against the classifier alone.
        names.push("accuracy_without_guard".into());
    }
    names.retain(|n| m.held_out(n).is_some());
    names
}

/// Mean and sample standard deviation (0 for one value).
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The first run's evaluation note, read for all seeds: a holdout drawn
/// with the run's seed is a different split for each of them.
fn same_protocol(evaluation: &str, first_seed: u64) -> String {
    one_line(evaluation).replace(
        &format!("(seed {first_seed})"),
        "(drawn with each run's seed)",
    )
}

fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().replace('|', "\\|")
}

fn markdown(results: &[(String, Outcome)], seeds: &[u64]) -> String {
    let seed_list = seeds
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut page = String::new();
    let _ = writeln!(page, "# Measured results (generated)\n");
    let _ = writeln!(
        page,
        "Written by `indus eval-all --seeds {}` on {} with indus {} ({} build, {}, {} logical CPUs); \
         regenerate it with the same command rather than editing it. Each scenario was trained \
         at full size once per seed; cross-validated scenarios report the mean over their folds, \
         the others their held-out test split. `docs/scenarios.md` explains the protocols and \
         what the numbers mean. Metrics do not depend on the build profile; training seconds do.\n",
        seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        chrono::Utc::now().format("%Y-%m-%d"),
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        format_args!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let _ = writeln!(
        page,
        "| scenario | evaluation | metric | mean ± std | target | seeds {seed_list} | published baseline | training s |"
    );
    let _ = writeln!(page, "|---|---|---|---|---|---|---|---|");
    let (mut met, mut targets) = (0, 0);
    for (name, outcome) in results {
        match outcome {
            Outcome::Skipped(why) => {
                let _ = writeln!(
                    page,
                    "| `{name}` | skipped: {} | | | | | | |",
                    one_line(why)
                );
            }
            Outcome::Failed(why) => {
                let _ = writeln!(
                    page,
                    "| `{name}` | **failed**: {} | | | | | | |",
                    one_line(why)
                );
            }
            Outcome::Measured(runs, baselines, target) => {
                let first = &runs[0];
                let seconds = mean_std(&runs.iter().map(|r| r.train_seconds).collect::<Vec<_>>()).0;
                if let Some(t) = target
                    && first.held_out(&t.metric).is_none()
                {
                    let _ = writeln!(
                        page,
                        "| `{name}` | target `{}`: this scenario's runs do not report `{}` | | | | | | |",
                        t.describe(),
                        t.metric
                    );
                }
                for (i, metric) in reported_metrics(first, baselines, target.as_ref())
                    .iter()
                    .enumerate()
                {
                    let values: Vec<f64> = runs.iter().filter_map(|r| r.held_out(metric)).collect();
                    let (mean, std) = mean_std(&values);
                    let per_seed = values
                        .iter()
                        .map(|v| format!("{v:.4}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let published = baselines
                        .iter()
                        .filter(|b| &b.metric == metric)
                        .map(|b| format!("{} ({})", b.value, b.source.replace('|', "\\|")))
                        .collect::<Vec<_>>()
                        .join("; ");
                    let verdict = match target.as_ref().filter(|t| &t.metric == metric) {
                        Some(t) => {
                            targets += 1;
                            let ok = t.met_by(mean);
                            met += usize::from(ok);
                            let bar = t.describe();
                            let bar = bar.trim_start_matches(metric.as_str()).trim();
                            format!("{bar}: {}", if ok { "met" } else { "**not met**" })
                        }
                        None => String::new(),
                    };
                    let (scenario, evaluation, time) = if i == 0 {
                        (
                            format!("`{name}`"),
                            same_protocol(&first.evaluation, seeds[0]),
                            format!("{seconds:.1}"),
                        )
                    } else {
                        Default::default()
                    };
                    let _ = writeln!(
                        page,
                        "| {scenario} | {evaluation} | {metric} | {mean:.4} ± {std:.4} | {verdict} | {per_seed} | {published} | {time} |"
                    );
                }
            }
        }
    }
    if targets > 0 {
        let _ = writeln!(
            page,
            "\nTargets met (judged on the mean over the seeds): {met} of {targets}."
        );
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std_by_hand() {
        let (m, s) = mean_std(&[0.78, 0.80, 0.82]);
        assert!((m - 0.80).abs() < 1e-12);
        assert!(
            (s - 0.02).abs() < 1e-12,
            "sample std of ±0.02 around the mean: {s}"
        );
        assert_eq!(mean_std(&[0.5]), (0.5, 0.0));
    }

    #[test]
    fn skipped_and_failed_scenarios_keep_their_reason_on_one_line() {
        let page = markdown(
            &[
                (
                    "a".into(),
                    Outcome::Skipped("data set `x` is not available: offline\nput it in y".into()),
                ),
                ("b".into(), Outcome::Failed("a | b".into())),
            ],
            &[7],
        );
        assert!(page.contains("| `a` | skipped: data set `x` is not available: offline | |"));
        assert!(
            !page.contains("Targets met"),
            "no scenario had a target: {page}"
        );
        assert!(page.contains("| `b` | **failed**: a \\| b | |"));
        assert_eq!(
            same_protocol("stratified 20 % holdout (seed 7)", 7),
            "stratified 20 % holdout (drawn with each run's seed)"
        );
    }
}
