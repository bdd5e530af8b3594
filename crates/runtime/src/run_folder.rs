//! Run folders (`runs/<scenario>/<run-id>/`): written into a hidden temporary
//! folder and renamed into place only when complete, with a `run.json` that
//! records every file's SHA-256 so a damaged or mixed-up folder never loads.

use crate::RuntimeError;
use indus_data::sha256_hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the manifest written last into every run folder.
pub const RUN_MANIFEST: &str = "run.json";
const FORMAT: u32 = 1;

/// The manifest of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run-folder format version.
    pub format: u32,
    /// Scenario name.
    pub scenario: String,
    /// Plugin name.
    pub plugin: String,
    /// Run id (the folder name).
    pub run_id: String,
    /// UTC time the run finished (RFC 3339).
    pub finished_at: String,
    /// SHA-256 of every other file in the folder.
    pub files: BTreeMap<String, String>,
}

impl RunRecord {
    /// Reads and checks the manifest of the run folder `dir` (the other
    /// files are not looked at: [`RunFolder::open`] verifies them).
    pub fn read(dir: &Path) -> Result<RunRecord, RuntimeError> {
        let text = std::fs::read(dir.join(RUN_MANIFEST)).map_err(|_| {
            RuntimeError::run_folder(dir, format!("incomplete: no {RUN_MANIFEST} (the run did not finish, or this is not a run folder)"))
        })?;
        let record: RunRecord = serde_json::from_slice(&text).map_err(|e| {
            RuntimeError::run_folder(dir, format!("{RUN_MANIFEST} is damaged: {e}"))
        })?;
        if record.format != FORMAT {
            return Err(RuntimeError::run_folder(
                dir,
                format!(
                    "run format {} is not supported (expected {FORMAT})",
                    record.format
                ),
            ));
        }
        Ok(record)
    }
}

/// Writes a run folder atomically. Dropping it without `commit` removes the
/// temporary folder, so a failed run leaves nothing that looks like a run.
pub struct RunWriter {
    tmp: PathBuf,
    target: PathBuf,
    files: BTreeMap<String, String>,
    committed: bool,
}

impl RunWriter {
    /// Starts a run folder for `scenario` under `runs_root`; `run_id` gets a
    /// numeric suffix if a run of that id already exists. The id is
    /// reserved at once by creating its (empty) folder, which only one
    /// process can do: two runs started in the same second by two
    /// processes get two ids, and neither loses its work at commit.
    pub fn create(
        runs_root: &Path,
        scenario: &str,
        run_id: &str,
    ) -> Result<RunWriter, RuntimeError> {
        let parent = runs_root.join(scenario);
        std::fs::create_dir_all(&parent).map_err(|e| RuntimeError::io(&parent, e))?;
        let mut target = parent.join(run_id);
        let mut n = 1;
        loop {
            match std::fs::create_dir(&target) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => {
                    n += 1;
                    target = parent.join(format!("{run_id}-{n}"));
                }
                Err(e) => return Err(RuntimeError::io(&target, e)),
            }
        }
        let tmp = parent.join(format!(
            ".partial-{}-{}",
            target.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        std::fs::create_dir_all(&tmp).map_err(|e| RuntimeError::io(&tmp, e))?;
        Ok(RunWriter {
            tmp,
            target,
            files: BTreeMap::new(),
            committed: false,
        })
    }

    /// The id the run will have once committed.
    pub fn run_id(&self) -> String {
        self.target
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }

    /// Writes one file (flushed to disk) and records its checksum.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), RuntimeError> {
        let path = self.tmp.join(name);
        write_synced(&path, bytes)?;
        self.files.insert(name.to_string(), sha256_hex(bytes));
        Ok(())
    }

    /// Writes a value as pretty JSON.
    pub fn write_json<T: Serialize>(&mut self, name: &str, value: &T) -> Result<(), RuntimeError> {
        let text = serde_json::to_vec_pretty(value)
            .map_err(|e| RuntimeError::Invalid(format!("cannot encode {name}: {e}")))?;
        self.write(name, &text)
    }

    /// Writes `run.json` and moves the folder into place.
    pub fn commit(mut self, scenario: &str, plugin: &str) -> Result<PathBuf, RuntimeError> {
        let record = RunRecord {
            format: FORMAT,
            scenario: scenario.to_string(),
            plugin: plugin.to_string(),
            run_id: self.run_id(),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            files: self.files.clone(),
        };
        let text =
            serde_json::to_vec_pretty(&record).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
        write_synced(&self.tmp.join(RUN_MANIFEST), &text)?;
        // Onto the reserved, still empty folder: a rename may replace an
        // empty directory.
        std::fs::rename(&self.tmp, &self.target).map_err(|e| RuntimeError::io(&self.target, e))?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
            // The reservation, if nothing else was put there.
            let _ = std::fs::remove_dir(&self.target);
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let mut f = std::fs::File::create(path).map_err(|e| RuntimeError::io(path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| RuntimeError::io(path, e))
}

/// A verified, complete run folder.
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub record: RunRecord,
}

impl RunFolder {
    /// Opens a run folder, checking that it finished and that every file is
    /// present and unchanged.
    pub fn open(dir: &Path) -> Result<RunFolder, RuntimeError> {
        if !dir.is_dir() {
            return Err(RuntimeError::run_folder(dir, "not a folder"));
        }
        let record = RunRecord::read(dir)?;
        for (name, expected) in &record.files {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|_| {
                RuntimeError::run_folder(dir, format!("incomplete: `{name}` is missing"))
            })?;
            let actual = sha256_hex(&bytes);
            if &actual != expected {
                return Err(RuntimeError::run_folder(
                    dir,
                    format!(
                        "`{name}` does not belong to this run of `{}` (its checksum changed since the run finished)",
                        record.scenario
                    ),
                ));
            }
        }
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            record,
        })
    }

    /// Reads one recorded file.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, RuntimeError> {
        if !self.record.files.contains_key(name) {
            return Err(RuntimeError::run_folder(
                &self.dir,
                format!("incomplete: `{name}` is not part of this run"),
            ));
        }
        std::fs::read(self.dir.join(name)).map_err(|e| RuntimeError::io(self.dir.join(name), e))
    }
}

/// Finished run folders of `scenario` (or of all scenarios), oldest first.
pub fn list_runs(runs_root: &Path, scenario: Option<&str>) -> Vec<PathBuf> {
    let scenario_dirs: Vec<PathBuf> = match scenario {
        Some(s) => vec![runs_root.join(s)],
        None => subdirs(runs_root),
    };
    let mut runs: Vec<PathBuf> = scenario_dirs
        .iter()
        .flat_map(|d| subdirs(d))
        .filter(|d| d.join(RUN_MANIFEST).is_file())
        .collect();
    runs.sort_by_key(|p| (p.file_name().map(|n| n.to_os_string()), p.clone()));
    runs
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect()
}

/// Removes the temporary folders (`.partial-<run>-<pid>`) of runs whose
/// process is gone (killed, or the machine went down), and the empty
/// reservations they left; returns what was removed. A run still being
/// written by a live process is left alone.
pub fn sweep_partial(runs_root: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for scenario in subdirs(runs_root) {
        let Ok(entries) = std::fs::read_dir(&scenario) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(".partial-") else {
                continue;
            };
            let pid = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(process_alive) {
                continue;
            }
            let path = entry.path();
            if std::fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
            // Its reservation: `.partial-<run>-<pid>` reserved `<run>`.
            if let Some(run) = rest.rsplit_once('-').map(|(run, _)| scenario.join(run))
                && !run.join(RUN_MANIFEST).exists()
                && std::fs::remove_dir(&run).is_ok()
            {
                removed.push(run);
            }
        }
    }
    removed
}

/// Whether a process of that id is running (Linux: `/proc/<pid>`; where
/// that cannot be told, assume it is, and leave its folder alone).
fn process_alive(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    if !proc_root.join("self").exists() {
        return true;
    }
    pid == std::process::id() || proc_root.join(pid.to_string()).exists()
}

/// Names of the scenarios under `runs_root` with at least one finished run,
/// sorted: what `indus serve` and `indus report` show by default.
pub fn scenarios_with_runs(runs_root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(runs_root) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !list_runs(runs_root, Some(n)).is_empty())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_writers_of_the_same_id_get_two_folders_and_both_commit() {
        let root = tempfile::tempdir().unwrap();
        let mut a = RunWriter::create(root.path(), "s", "r1").unwrap();
        let mut b = RunWriter::create(root.path(), "s", "r1").unwrap();
        assert_eq!(a.run_id(), "r1");
        assert_eq!(b.run_id(), "r1-2");
        a.write("a.txt", b"a").unwrap();
        b.write("b.txt", b"b").unwrap();
        // The later-started one finishes first: nothing is lost either way.
        let b_dir = b.commit("s", "p").unwrap();
        let a_dir = a.commit("s", "p").unwrap();
        assert!(RunFolder::open(&a_dir).is_ok() && RunFolder::open(&b_dir).is_ok());
        assert_eq!(list_runs(root.path(), Some("s")).len(), 2);
    }

    #[test]
    fn leftovers_of_a_killed_run_are_swept_and_a_live_one_is_not() {
        let root = tempfile::tempdir().unwrap();
        let dead = root.path().join("s/.partial-r1-999999999");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::create_dir_all(root.path().join("s/r1")).unwrap();
        let live = RunWriter::create(root.path(), "s", "r2").unwrap();
        let removed = sweep_partial(root.path());
        assert!(removed.contains(&dead), "{removed:?}");
        assert!(!dead.exists() && !root.path().join("s/r1").exists());
        assert!(live.tmp.exists(), "a run being written is left alone");
    }

    #[test]
    fn uncommitted_run_leaves_nothing_and_committed_run_verifies() {
        let root = tempfile::tempdir().unwrap();
        {
            let mut w = RunWriter::create(root.path(), "s", "r1").unwrap();
            w.write("a.txt", b"hello").unwrap();
        }
        assert!(list_runs(root.path(), Some("s")).is_empty());
        assert_eq!(std::fs::read_dir(root.path().join("s")).unwrap().count(), 0);

        let mut w = RunWriter::create(root.path(), "s", "r1").unwrap();
        w.write("a.txt", b"hello").unwrap();
        let dir = w.commit("s", "p").unwrap();
        assert!(RunFolder::open(&dir).is_ok());
        std::fs::write(dir.join("a.txt"), b"other").unwrap();
        let err = RunFolder::open(&dir).unwrap_err().to_string();
        assert!(err.contains("does not belong"), "{err}");
        std::fs::remove_file(dir.join("a.txt")).unwrap();
        let err = RunFolder::open(&dir).unwrap_err().to_string();
        assert!(err.contains("`a.txt` is missing"), "{err}");
        std::fs::remove_file(dir.join(RUN_MANIFEST)).unwrap();
        let err = RunFolder::open(&dir).unwrap_err().to_string();
        assert!(err.contains("incomplete"), "{err}");
    }
}
