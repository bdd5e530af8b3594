//! Helpers shared by the end-to-end tests: where the repository and the
//! shared data live, and running the `indus` binary.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The shared data folder (INDUS_DATA_DIR or ../shared/data).
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("INDUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"));
    assert!(
        dir.join("mnist/train-images-idx3-ubyte.gz").is_file(),
        "these tests need MNIST in {}/mnist (set INDUS_DATA_DIR)",
        dir.display()
    );
    dir
}

/// Runs `indus` in `cwd`, offline, with no data or runs folder from the
/// environment. Without `CARGO_TARGET_DIR` either: a copy of a shipped
/// native plugin in a temporary project must find its library beside the
/// binary, as it does for a user.
pub fn indus(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_indus"))
        .args(args)
        .current_dir(cwd)
        .env_remove("CARGO_TARGET_DIR")
        .env("INDUS_OFFLINE", "1")
        .env("INDUS_CACHE_DIR", cwd.join(".cache-none"))
        .env_remove("INDUS_DATA_DIR")
        .env_remove("INDUS_RUNS_DIR")
        .output()
        .unwrap()
}

/// The stdout of a run that must succeed.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "indus failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The stderr of a run that must fail.
pub fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "indus should have failed; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The newest finished run folder of `scenario` under `runs`.
pub fn latest_run(runs: &Path, scenario: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(runs.join(scenario))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("run.json").is_file())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no run of {scenario}"))
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().filter_map(Result::ok) {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The lines of the shipped German credit file with one more column,
/// `name`, whose cell on data line `i` (1-based) is `value(i, line)`: a
/// real table with a column a test controls (a leak, a sensitive value).
pub fn credit_lines_with(name: &str, value: impl Fn(usize, &str) -> String) -> Vec<String> {
    let text =
        std::fs::read_to_string(repo().join("plugins/finance-credit/data/german_credit.csv"))
            .unwrap();
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},{name}")
            } else {
                format!("{l},{}", value(i, l))
            }
        })
        .collect()
}
