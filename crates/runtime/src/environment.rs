//! The software and machine facts recorded with every run
//! (`environment.json`), so a result can be traced and reproduced.

use indus_engine::{BURN_VERSION, ResolvedBackend};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Software and machine facts recorded with a run, to reproduce it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    /// indus version.
    pub indus_version: String,
    /// burn version.
    pub burn_version: String,
    /// Backend the scenario asked for.
    pub backend_requested: String,
    /// Backend actually used.
    pub backend_used: String,
    /// Why the backend was replaced, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_fallback: Option<String>,
    /// `git rev-parse HEAD` of the working directory, if any.
    pub git_revision: Option<String>,
    /// Operating system and CPU architecture.
    pub platform: String,
    /// Logical CPUs available.
    pub cpus: usize,
    /// Data files read.
    pub data_files: Vec<PathBuf>,
    /// What the data files held that the run read past without stopping
    /// (undeclared columns), so a later reader of the run sees it too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_notes: Vec<String>,
    /// UTC start time (RFC 3339).
    pub started_at: String,
}

impl Environment {
    /// The facts of the machine and software running `scenario` now.
    pub(crate) fn capture(
        scenario: &indus_spec::Scenario,
        backend: &ResolvedBackend,
        scenario_dir: &Path,
        data_files: Vec<PathBuf>,
        data_notes: Vec<String>,
        started_at: chrono::DateTime<chrono::Utc>,
    ) -> Environment {
        Environment {
            indus_version: env!("CARGO_PKG_VERSION").to_string(),
            burn_version: BURN_VERSION.to_string(),
            backend_requested: scenario.backend.as_str().to_string(),
            backend_used: backend.kind.as_str().to_string(),
            backend_fallback: backend.fallback_reason.clone(),
            git_revision: git_revision(scenario_dir),
            platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            data_files,
            data_notes,
            started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// `git rev-parse HEAD` in `dir`, when it is inside a repository.
fn git_revision(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
