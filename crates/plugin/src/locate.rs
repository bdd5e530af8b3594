//! Where a plugin's library is looked for, in order: `INDUS_PLUGIN_PATH`
//! folders, the plugin's own folder, `native/target/{release,debug}` inside
//! it, the folder of the running `indus` binary and its `deps/` (cargo
//! builds the workspace's plugin libraries there, so a copy of a shipped
//! plugin in another project still finds them), then `target/{release,debug}`
//! (and their `deps/`, where `cargo test` leaves libraries) of
//! `CARGO_TARGET_DIR` and of the enclosing workspace. The newest file found wins, so a fresh
//! debug build is not shadowed by an old release one.

use crate::PluginError;
use std::path::{Path, PathBuf};

/// The platform's file name of library `name` (`libname.so` on Linux).
pub fn library_file_name(name: &str) -> String {
    format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Finds the library of plugin `plugin` whose manifest is in `plugin_dir`.
pub fn find_library(
    plugin: &str,
    library: &str,
    plugin_dir: &Path,
) -> Result<PathBuf, PluginError> {
    let file = library_file_name(library);
    let mut dirs: Vec<PathBuf> = std::env::var_os("INDUS_PLUGIN_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(plugin_dir.to_path_buf());
    for profile in ["release", "debug"] {
        dirs.push(plugin_dir.join("native/target").join(profile));
    }
    if let Some(beside_binary) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        dirs.push(beside_binary.join("deps"));
        dirs.push(beside_binary);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        for profile in ["release", "debug"] {
            dirs.push(PathBuf::from(&t).join(profile));
            dirs.push(PathBuf::from(&t).join(profile).join("deps"));
        }
    }
    for ancestor in plugin_dir.ancestors().skip(1) {
        if ancestor.join("Cargo.toml").is_file() && ancestor.join("target").is_dir() {
            for profile in ["release", "debug"] {
                dirs.push(ancestor.join("target").join(profile));
                dirs.push(ancestor.join("target").join(profile).join("deps"));
            }
        }
    }
    let newest = dirs
        .iter()
        .map(|d| d.join(&file))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    newest.ok_or_else(|| PluginError::NotFound {
        plugin: plugin.to_string(),
        file,
        searched: dirs
            .iter()
            .map(|d| format!("  {}", d.display()))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}
