//! `indus runs`, `indus promote` and `indus rollback`: a scenario's
//! versions and the aliases that say which of them is served.

use anyhow::Result;
use indus_runtime::{ModelRegistry, os_user};
use std::path::PathBuf;

/// Options of `indus runs`.
#[derive(clap::Args)]
pub struct RunsArgs {
    /// The scenario whose versions to list.
    scenario: String,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
    /// Print the versions and the alias history as JSON.
    #[arg(long)]
    json: bool,
}

/// What every alias move names: the alias, why, and the runs root.
#[derive(clap::Args)]
pub struct AliasMove {
    /// The alias to move (`production` is what servers follow by default).
    #[arg(long, default_value = indus_runtime::PRODUCTION)]
    alias: String,
    /// Why, for the alias history.
    #[arg(long)]
    reason: Option<String>,
    /// Where run folders are found.
    #[arg(long, env = "INDUS_RUNS_DIR", default_value = "runs")]
    runs_dir: PathBuf,
}

/// Options of `indus promote`.
#[derive(clap::Args)]
pub struct PromoteArgs {
    /// The scenario.
    scenario: String,
    /// The run to point the alias at: its id, or its folder.
    run: String,
    #[command(flatten)]
    alias: AliasMove,
}

/// Options of `indus rollback`: the alias goes back to the run it pointed
/// at before its last move.
#[derive(clap::Args)]
pub struct RollbackArgs {
    /// The scenario.
    scenario: String,
    #[command(flatten)]
    alias: AliasMove,
}

/// Lists a scenario's versions, newest first, with their aliases.
pub fn cmd_runs(a: RunsArgs) -> Result<()> {
    let registry = ModelRegistry::open(&a.runs_dir);
    let versions = registry.versions(&a.scenario)?;
    if a.json {
        let out = serde_json::json!({
            "scenario": a.scenario,
            "versions": versions,
            "aliases": registry.aliases(&a.scenario)?,
            "history": registry.history(&a.scenario)?,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if versions.is_empty() {
        anyhow::bail!(
            "no finished runs of `{}` under {}",
            a.scenario,
            a.runs_dir.display()
        );
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(["run", "finished", "headline", "data", "indus", "aliases"]);
    for v in &versions {
        let headline = match &v.headline {
            Some((name, Some(value))) => format!("{name} {value:.4}"),
            Some((name, None)) => format!("{name} –"),
            None => "–".into(),
        };
        t.add_row([
            v.run_id.clone(),
            v.created.clone(),
            v.problem
                .as_ref()
                .map_or(headline, |p| format!("cannot be served: {p}")),
            v.data_digest
                .as_deref()
                .map_or("–".into(), |d| d.chars().take(12).collect()),
            v.indus_version.clone().unwrap_or_else(|| "–".into()),
            v.aliases.join(", "),
        ]);
    }
    println!("{t}");
    if !versions
        .iter()
        .any(|v| v.aliases.iter().any(|a| a == indus_runtime::PRODUCTION))
    {
        println!(
            "no `production` alias: servers answer with the newest verified run; pin one with `indus promote {} RUN`",
            a.scenario
        );
    }
    Ok(())
}

/// Points an alias at a run.
pub fn cmd_promote(a: PromoteArgs) -> Result<()> {
    let m = &a.alias;
    let c = ModelRegistry::open(&m.runs_dir).promote(
        &a.scenario,
        &a.run,
        &m.alias,
        &os_user(),
        m.reason.as_deref(),
    )?;
    println!(
        "{} `{}` → {} (was {})",
        a.scenario,
        c.alias,
        c.run,
        c.previous.as_deref().unwrap_or("unset")
    );
    Ok(())
}

/// Moves an alias back to its previous run.
pub fn cmd_rollback(a: RollbackArgs) -> Result<()> {
    let m = &a.alias;
    let c = ModelRegistry::open(&m.runs_dir).rollback(
        &a.scenario,
        &m.alias,
        &os_user(),
        m.reason.as_deref(),
    )?;
    println!(
        "{} `{}` → {} (rolled back from {})",
        a.scenario,
        c.alias,
        c.run,
        c.previous.as_deref().unwrap_or("unset")
    );
    Ok(())
}
