//! The model registry: every finished run of a scenario is a version, and
//! aliases (`production`, `staging`, any name) point at one. Aliases are
//! kept under the runs root (`<scenario>/aliases.json`, written atomically)
//! with an append-only history (`<scenario>/aliases-history.jsonl`), so
//! what a server answers with is a recorded decision, not "the newest run".
//! Every file operation goes through [`RegistryStore`], so moving the runs
//! root to object storage changes one implementation.

use crate::RuntimeError;
use crate::run_folder::{RunFolder, list_runs};
use indus_data::sha256_hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The alias a server follows when it is told none: the approved version.
pub const PRODUCTION: &str = "production";

/// The few file operations the registry needs, by key relative to the runs
/// root (`credit-scoring/aliases.json`).
pub trait RegistryStore: Send + Sync {
    /// The bytes stored under `key`, `None` when there are none.
    fn read(&self, key: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Replaces `key` so that a reader sees the old bytes or the new ones,
    /// never a mix.
    fn write_atomic(&self, key: &str, bytes: &[u8]) -> std::io::Result<()>;
    /// Adds `line` at the end of `key`.
    fn append(&self, key: &str, line: &[u8]) -> std::io::Result<()>;
    /// Holds an exclusive lock named `key` until the guard is dropped, so
    /// that two promotions (in two processes) read-modify-write in turn.
    fn lock(&self, key: &str) -> std::io::Result<Box<dyn Send>>;
}

/// A runs root on a local (or mounted) file system.
pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    /// The store of the runs root `root`.
    pub fn new(root: &Path) -> Self {
        FolderStore {
            root: root.to_path_buf(),
        }
    }
}

/// A lock held as a folder (creating one is atomic on every file system);
/// removed on drop.
struct FolderLock(PathBuf);

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Longest reason a move records (characters), so one request cannot grow
/// the history by megabytes.
pub const MAX_REASON_CHARS: usize = 1_000;

/// A lock older than this was left by a killed process and is broken.
const STALE_LOCK: Duration = Duration::from_secs(30);

impl RegistryStore for FolderStore {
    fn read(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.root.join(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write_atomic(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &path)
    }

    fn append(&self, key: &str, line: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        file.write_all(line)?;
        file.sync_all()
    }

    fn lock(&self, key: &str) -> std::io::Result<Box<dyn Send>> {
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let started = std::time::Instant::now();
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Box::new(FolderLock(path))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > STALE_LOCK);
                    if stale {
                        let _ = std::fs::remove_dir(&path);
                    } else if started.elapsed() > STALE_LOCK {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("{} is held by another promotion", path.display()),
                        ));
                    } else {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// One move of an alias, as the history records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasChange {
    /// The alias moved.
    pub alias: String,
    /// The run it points at now.
    pub run: String,
    /// The run it pointed at before (none for a new alias).
    pub previous: Option<String>,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who: the operating-system user, or the API's caller.
    pub by: String,
    /// Why, in the mover's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One version of a scenario: a finished run with what identifies it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    /// The run id (its folder name).
    pub run_id: String,
    /// Its folder.
    pub dir: PathBuf,
    /// When the run finished (RFC 3339).
    pub created: String,
    /// SHA-256 over the digests of every data file it read (by file name),
    /// so two versions trained on the same data show the same digest.
    pub data_digest: Option<String>,
    /// The headline metric's name and held-out value.
    pub headline: Option<(String, Option<f64>)>,
    /// The indus version that made it.
    pub indus_version: Option<String>,
    /// The aliases pointing at it.
    pub aliases: Vec<String>,
    /// Why it cannot be served, when its folder does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What a scenario resolves to for serving, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The run folder to serve.
    pub dir: PathBuf,
    /// The alias it was resolved through; `None` for the newest run.
    pub alias: Option<String>,
}

/// Versions and aliases of the scenarios under one runs root.
pub struct ModelRegistry {
    runs_root: PathBuf,
    store: Box<dyn RegistryStore>,
}

impl ModelRegistry {
    /// The registry of the runs root `runs_root`, on the local file system.
    pub fn open(runs_root: &Path) -> Self {
        ModelRegistry {
            runs_root: runs_root.to_path_buf(),
            store: Box::new(FolderStore::new(runs_root)),
        }
    }

    fn aliases_key(scenario: &str) -> String {
        format!("{scenario}/aliases.json")
    }

    fn history_key(scenario: &str) -> String {
        format!("{scenario}/aliases-history.jsonl")
    }

    fn io(&self, key: &str, e: std::io::Error) -> RuntimeError {
        RuntimeError::io(self.runs_root.join(key), e)
    }

    /// Alias → run id of `scenario` (empty when none was ever set).
    pub fn aliases(&self, scenario: &str) -> Result<BTreeMap<String, String>, RuntimeError> {
        let scenario = checked_name(scenario, "scenario")?;
        let key = Self::aliases_key(&scenario);
        match self.store.read(&key).map_err(|e| self.io(&key, e))? {
            None => Ok(BTreeMap::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RuntimeError::Invalid(format!(
                    "{}: damaged ({e}); restore it from the history in {}",
                    self.runs_root.join(&key).display(),
                    Self::history_key(&scenario)
                ))
            }),
        }
    }

    /// Every alias move of `scenario`, oldest first.
    pub fn history(&self, scenario: &str) -> Result<Vec<AliasChange>, RuntimeError> {
        let scenario = checked_name(scenario, "scenario")?;
        let key = Self::history_key(&scenario);
        let Some(bytes) = self.store.read(&key).map_err(|e| self.io(&key, e))? else {
            return Ok(Vec::new());
        };
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| {
                    RuntimeError::Invalid(format!(
                        "{}: line {}: {e}",
                        self.runs_root.join(&key).display(),
                        i + 1
                    ))
                })
            })
            .collect()
    }

    /// The finished runs of `scenario`, newest first, each with its
    /// aliases; a folder that does not verify is listed with its problem.
    pub fn versions(&self, scenario: &str) -> Result<Vec<Version>, RuntimeError> {
        let aliases = self.aliases(scenario)?;
        let mut out = Vec::new();
        for dir in list_runs(&self.runs_root, Some(scenario)).into_iter().rev() {
            let run_id = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let pointing: Vec<String> = aliases
                .iter()
                .filter(|(_, r)| **r == run_id)
                .map(|(a, _)| a.clone())
                .collect();
            let mut version = Version {
                run_id,
                dir: dir.clone(),
                created: String::new(),
                data_digest: None,
                headline: None,
                indus_version: None,
                aliases: pointing,
                problem: None,
            };
            match RunFolder::open(&dir) {
                Ok(folder) => {
                    version.created = folder.record.finished_at.clone();
                    if let (Ok(plugin), Ok(metrics)) = (folder.plugin(), folder.metrics()) {
                        version.headline = Some(metrics.headline(&plugin));
                    }
                    if let Ok(env) = folder.environment() {
                        version.indus_version = Some(env.indus_version.clone());
                        version.data_digest = data_digest(&env.data_sha256);
                    }
                }
                Err(e) => version.problem = Some(e.to_string()),
            }
            out.push(version);
        }
        Ok(out)
    }

    /// The run folder of `run` (an id, or a path whose last part is one)
    /// of `scenario`, verified.
    fn verified_run(&self, scenario: &str, run: &str) -> Result<RunFolder, RuntimeError> {
        let id = Path::new(run)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = self.runs_root.join(scenario).join(&id);
        if id.is_empty() || id.starts_with('.') || !dir.is_dir() {
            // A run of another scenario is named as such.
            if Path::new(run).is_dir()
                && let Ok(other) = RunFolder::open(Path::new(run))
            {
                of_scenario(other, &id, scenario)?;
            }
            let known: Vec<String> = list_runs(&self.runs_root, Some(scenario))
                .iter()
                .rev()
                .take(5)
                .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            return Err(RuntimeError::Invalid(format!(
                "scenario `{scenario}` has no run `{id}` under {}{}",
                self.runs_root.display(),
                if known.is_empty() {
                    String::new()
                } else {
                    format!("; the newest: {}", known.join(", "))
                }
            )));
        }
        of_scenario(RunFolder::open(&dir)?, &id, scenario)
    }

    /// Points `alias` of `scenario` at `run` (verified first), recording
    /// who did it and why. Two promotions at once take turns: the later one
    /// wins and the history has both.
    pub fn promote(
        &self,
        scenario: &str,
        run: &str,
        alias: &str,
        by: &str,
        reason: Option<&str>,
    ) -> Result<AliasChange, RuntimeError> {
        let scenario = checked_name(scenario, "scenario")?;
        let alias = checked_name(alias, "alias")?;
        let folder = self.verified_run(&scenario, run)?;
        self.move_alias(&scenario, &alias, &folder.record.run_id, by, reason)
    }

    /// Moves `alias` back to the run it pointed at before its last move.
    pub fn rollback(
        &self,
        scenario: &str,
        alias: &str,
        by: &str,
        reason: Option<&str>,
    ) -> Result<AliasChange, RuntimeError> {
        let scenario = checked_name(scenario, "scenario")?;
        let alias = checked_name(alias, "alias")?;
        let last = self
            .history(&scenario)?
            .into_iter()
            .rev()
            .find(|c| c.alias == alias)
            .ok_or_else(|| {
                RuntimeError::Invalid(format!(
                    "scenario `{scenario}` has no alias `{alias}` to roll back"
                ))
            })?;
        let previous = last.previous.ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "alias `{alias}` of `{scenario}` has pointed only at `{}`: there is nothing to roll back to",
                last.run
            ))
        })?;
        self.verified_run(&scenario, &previous)?;
        self.move_alias(&scenario, &alias, &previous, by, reason)
    }

    fn move_alias(
        &self,
        scenario: &str,
        alias: &str,
        run_id: &str,
        by: &str,
        reason: Option<&str>,
    ) -> Result<AliasChange, RuntimeError> {
        if let Some(r) = reason
            && r.chars().count() > MAX_REASON_CHARS
        {
            return Err(RuntimeError::Invalid(format!(
                "reason: at most {MAX_REASON_CHARS} characters (got {})",
                r.chars().count()
            )));
        }
        let lock_key = format!("{scenario}/.aliases.lock");
        let _held = self
            .store
            .lock(&lock_key)
            .map_err(|e| self.io(&lock_key, e))?;
        let mut aliases = self.aliases(scenario)?;
        let previous = aliases.insert(alias.to_string(), run_id.to_string());
        let change = AliasChange {
            alias: alias.to_string(),
            run: run_id.to_string(),
            previous,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            by: by.to_string(),
            reason: reason.map(str::to_string).filter(|r| !r.trim().is_empty()),
        };
        // History first: a crash between the two leaves a record of the
        // intended move, never a move without a record.
        let history_key = Self::history_key(scenario);
        let mut line = serde_json::to_vec(&change)
            .map_err(|e| RuntimeError::Invalid(format!("cannot record the change: {e}")))?;
        line.push(b'\n');
        self.store
            .append(&history_key, &line)
            .map_err(|e| self.io(&history_key, e))?;
        let key = Self::aliases_key(scenario);
        let bytes = serde_json::to_vec_pretty(&aliases)
            .map_err(|e| RuntimeError::Invalid(format!("cannot write the aliases: {e}")))?;
        self.store
            .write_atomic(&key, &bytes)
            .map_err(|e| self.io(&key, e))?;
        Ok(change)
    }

    /// What to serve for `scenario`: the run `alias` points at when it is
    /// named (an error when the scenario has no such alias), else the run
    /// `production` points at, else `None` (the newest verified run).
    pub fn resolve(
        &self,
        scenario: &str,
        alias: Option<&str>,
    ) -> Result<Option<Resolved>, RuntimeError> {
        let aliases = self.aliases(scenario)?;
        let (name, required) = match alias {
            Some(a) => (a, true),
            None => (PRODUCTION, false),
        };
        match aliases.get(name) {
            Some(run) => Ok(Some(Resolved {
                dir: self.runs_root.join(scenario).join(run),
                alias: Some(name.to_string()),
            })),
            None if required => Err(RuntimeError::Invalid(format!(
                "scenario `{scenario}` has no alias `{name}`{}; set it with `indus promote {scenario} RUN --alias {name}`",
                if aliases.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (it has {})",
                        aliases.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            ))),
            None => Ok(None),
        }
    }
}

/// `folder` when it is a run of `scenario`, else the error saying whose it is.
fn of_scenario(folder: RunFolder, id: &str, scenario: &str) -> Result<RunFolder, RuntimeError> {
    if folder.record.scenario == scenario {
        Ok(folder)
    } else {
        Err(RuntimeError::Invalid(format!(
            "run `{id}` is a run of `{}`, not of `{scenario}`",
            folder.record.scenario
        )))
    }
}

/// One digest over a run's data files (by file name), the same for two runs
/// that read the same data from different folders.
fn data_digest(files: &BTreeMap<String, String>) -> Option<String> {
    if files.is_empty() {
        return None;
    }
    let mut by_name: Vec<(String, &String)> = files
        .iter()
        .map(|(path, d)| {
            let name = Path::new(path)
                .file_name()
                .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
            (name, d)
        })
        .collect();
    by_name.sort();
    let joined: String = by_name.iter().map(|(n, d)| format!("{n} {d}\n")).collect();
    Some(sha256_hex(joined.as_bytes()))
}

/// An alias or scenario name: lowercase letters, digits and dashes, so it
/// can never name a path outside the runs root.
fn checked_name(name: &str, what: &str) -> Result<String, RuntimeError> {
    indus_spec::Name::parse(name)
        .map(|n| n.to_string())
        .map_err(|e| RuntimeError::Invalid(format!("{what} `{name}`: {e}")))
}

/// Who is making a change from the command line: the operating-system user.
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_folder::RunWriter;

    /// A runs root with finished (empty) runs `ids` of scenario `s`.
    fn root_with(scenario: &str, ids: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for id in ids {
            let w = RunWriter::create(root.path(), scenario, id).unwrap();
            w.commit(scenario, "p").unwrap();
        }
        root
    }

    #[test]
    fn promotion_and_rollback_move_an_alias_and_keep_the_history() {
        let root = root_with("credit", &["r1", "r2", "r3"]);
        let reg = ModelRegistry::open(root.path());
        assert_eq!(reg.resolve("credit", None).unwrap(), None);
        reg.promote("credit", "r1", "production", "ana", Some("first"))
            .unwrap();
        let c = reg
            .promote("credit", "r3", "production", "ben", None)
            .unwrap();
        assert_eq!(c.previous.as_deref(), Some("r1"));
        reg.promote("credit", "r2", "staging", "ben", None).unwrap();
        let resolved = reg.resolve("credit", None).unwrap().unwrap();
        assert_eq!(resolved.alias.as_deref(), Some("production"));
        assert!(resolved.dir.ends_with("credit/r3"));
        let back = reg
            .rollback("credit", "production", "ana", Some("r3 misbehaves"))
            .unwrap();
        assert_eq!(
            (back.run.as_str(), back.previous.as_deref()),
            ("r1", Some("r3"))
        );
        let history = reg.history("credit").unwrap();
        assert_eq!(history.len(), 4);
        assert_eq!(history[3].reason.as_deref(), Some("r3 misbehaves"));
        assert_eq!(history[0].by, "ana");
        let versions = reg.versions("credit").unwrap();
        let ids: Vec<&str> = versions.iter().map(|v| v.run_id.as_str()).collect();
        assert_eq!(ids, ["r3", "r2", "r1"]);
        assert_eq!(versions[2].aliases, ["production"]);
        assert_eq!(versions[1].aliases, ["staging"]);
        // The aliases do not count as runs.
        assert_eq!(list_runs(root.path(), Some("credit")).len(), 3);
    }

    #[test]
    fn bad_promotions_are_refused_and_change_nothing() {
        let root = root_with("credit", &["r1"]);
        let w = RunWriter::create(root.path(), "mnist", "m1").unwrap();
        let other = w.commit("mnist", "p").unwrap();
        let reg = ModelRegistry::open(root.path());
        let e = reg
            .promote("credit", "nope", "production", "ana", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no run `nope`") && e.contains("r1"), "{e}");
        let e = reg
            .promote("credit", other.to_str().unwrap(), "production", "ana", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a run of `mnist`"), "{e}");
        for bad in ["../prod", "Prod", "a/b", ""] {
            let e = reg.promote("credit", "r1", bad, "ana", None).unwrap_err();
            assert!(e.to_string().contains("alias"), "{bad}: {e}");
        }
        let e = reg
            .rollback("credit", "production", "ana", None)
            .unwrap_err();
        assert!(e.to_string().contains("no alias `production`"), "{e}");
        reg.promote("credit", "r1", "production", "ana", None)
            .unwrap();
        let e = reg
            .rollback("credit", "production", "ana", None)
            .unwrap_err();
        assert!(e.to_string().contains("nothing to roll back to"), "{e}");
        let e = reg.resolve("credit", Some("staging")).unwrap_err();
        assert!(e.to_string().contains("no alias `staging`"), "{e}");
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        let e = reg
            .promote("credit", "r1", "staging", "ana", Some(&long))
            .unwrap_err();
        assert!(e.to_string().contains("reason: at most 1000"), "{e}");
        assert_eq!(reg.history("credit").unwrap().len(), 1);
    }

    #[test]
    fn racing_promotions_take_turns_and_both_are_recorded() {
        let root = root_with("credit", &["r1", "r2"]);
        let path = root.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let reg = ModelRegistry::open(&path);
                    let run = if i % 2 == 0 { "r1" } else { "r2" };
                    reg.promote("credit", run, "production", &format!("user{i}"), None)
                        .unwrap()
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let reg = ModelRegistry::open(&path);
        let history = reg.history("credit").unwrap();
        assert_eq!(history.len(), 8);
        // Each change saw the one before it: the history is a chain.
        for pair in history.windows(2) {
            assert_eq!(pair[1].previous.as_deref(), Some(pair[0].run.as_str()));
        }
        let last = &history[7].run;
        assert_eq!(reg.aliases("credit").unwrap()["production"], *last);
        assert!(!path.join("credit/.aliases.lock").exists());
    }

    #[test]
    fn one_digest_for_the_same_data_read_from_two_folders() {
        let a = BTreeMap::from([("/x/credit/g.csv".to_string(), "ab".to_string())]);
        let b = BTreeMap::from([("../data/g.csv".to_string(), "ab".to_string())]);
        assert_eq!(data_digest(&a), data_digest(&b));
        assert_eq!(data_digest(&BTreeMap::new()), None);
    }
}
