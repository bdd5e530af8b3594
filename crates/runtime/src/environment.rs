//! The software and machine facts recorded with every run
//! (`environment.json`), so a result can be traced and reproduced.

use indus_engine::{BURN_VERSION, ResolvedBackend};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// The data folder the run looked in (`data.dir`, `--data-dir` or
    /// `INDUS_DATA_DIR`), absolute: `indus eval` looks there again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// The plugin's folder, absolute, for the data files it ships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_dir: Option<PathBuf>,
    /// SHA-256 of each data file's (decompressed) content, by path: recorded
    /// whether or not the plugin declares one, so a run always says exactly
    /// which data it saw.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data_sha256: BTreeMap<String, String>,
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
        locations: &indus_data::DataLocations,
        data_files: Vec<indus_data::DataFile>,
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
            data_sha256: data_files
                .iter()
                .filter_map(|f| Some((f.path.display().to_string(), f.sha256.clone()?)))
                .collect(),
            data_files: data_files.into_iter().map(|f| f.path).collect(),
            data_dir: locations.data_dir.as_deref().map(absolute),
            plugin_dir: locations.bundled_dir.as_deref().map(absolute),
            data_notes,
            started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// `path` made absolute (resolved when it exists), so that the record
/// still points at it from another working directory.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
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
