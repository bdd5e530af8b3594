//! Everything that can go wrong with a native plugin, each naming the plugin
//! and the reason, so the host can report it and keep working.

use std::path::PathBuf;

/// A native plugin could not be loaded or one of its hooks failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No library file was found.
    #[error(
        "plugin `{plugin}`: native library `{file}` not found; looked in:\n{searched}\nbuild it with `cargo build --release -p <crate>` or set INDUS_PLUGIN_PATH"
    )]
    NotFound {
        /// Plugin name.
        plugin: String,
        /// The file name looked for.
        file: String,
        /// The folders searched, one per line.
        searched: String,
    },
    /// The file is not a loadable library.
    #[error("plugin `{plugin}`: {path} is not a loadable library: {reason}")]
    NotALibrary {
        /// Plugin name.
        plugin: String,
        /// The file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// The library has no entry symbol.
    #[error(
        "plugin `{plugin}`: {path} does not export `{symbol}` (was it built with `export_plugin!`?)"
    )]
    MissingEntry {
        /// Plugin name.
        plugin: String,
        /// The file.
        path: PathBuf,
        /// The symbol looked up.
        symbol: String,
    },
    /// The ABI major version differs.
    #[error(
        "plugin `{plugin}`: built for plugin ABI {found_major}.{found_minor}, this host speaks {host_major}.x; rebuild it against this indus-plugin-sdk"
    )]
    AbiMismatch {
        /// Plugin name.
        plugin: String,
        /// The library's major.
        found_major: u32,
        /// The library's minor.
        found_minor: u32,
        /// The host's major.
        host_major: u32,
    },
    /// The library says it is another plugin.
    #[error("plugin `{plugin}`: {path} is plugin `{found}`")]
    WrongName {
        /// Plugin name from the manifest.
        plugin: String,
        /// The file.
        path: PathBuf,
        /// The name the library reports.
        found: String,
    },
    /// Two different libraries claim the same plugin name.
    #[error("plugin `{plugin}` is already loaded from {first}; refusing a second library {second}")]
    Duplicate {
        /// Plugin name.
        plugin: String,
        /// The library loaded first.
        first: PathBuf,
        /// The one refused.
        second: PathBuf,
    },
    /// A hook returned an error.
    #[error("plugin `{plugin}`: {hook} failed: {message}")]
    Hook {
        /// Plugin name.
        plugin: String,
        /// The hook.
        hook: &'static str,
        /// The plugin's message.
        message: String,
    },
    /// A hook panicked (caught inside the plugin).
    #[error("plugin `{plugin}`: {hook} panicked: {message}")]
    Panic {
        /// Plugin name.
        plugin: String,
        /// The hook.
        hook: &'static str,
        /// The panic message.
        message: String,
    },
    /// A hook broke its contract (row count, column names or types).
    #[error("plugin `{plugin}`: {hook} broke its contract: {message}")]
    Contract {
        /// Plugin name.
        plugin: String,
        /// The hook.
        hook: &'static str,
        /// What was wrong.
        message: String,
    },
}
