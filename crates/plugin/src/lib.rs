//! The host side of native plugins: find a plugin's library, load it with
//! libloading, check its ABI version before anything else, and call its
//! hooks with Arrow data, turning every failure (a panic included) into a
//! [`PluginError`] that names the plugin. Libraries are never unloaded: they
//! stay mapped for the life of the process, so nothing they handed out can
//! outlive their code.

#![warn(missing_docs)]

mod error;
mod locate;
mod native;

pub use error::PluginError;
pub use indus_plugin_sdk::{Column, Columns, Table};
pub use locate::{find_library, library_file_name};
pub use native::{NativePlugin, load_for_manifest};
