//! The indus native plugin SDK.
//!
//! A plugin author implements [`Plugin`] — derived features computed from
//! raw rows, and post-processing of predictions — and calls
//! [`export_plugin!`] once. The macro generates the single C entry point the
//! host loads; everything that crosses the boundary is an Arrow C Data
//! Interface array (see [`abi`]), panics are caught on the plugin side, and
//! no Rust type or allocation is shared with the host. Authors never write
//! `unsafe`.
//!
//! ```ignore
//! use indus_plugin_sdk::{Plugin, Columns, Table, export_plugin};
//!
//! #[derive(Default)]
//! struct Ratios;
//! impl Plugin for Ratios {
//!     fn new(_config: &serde_json::Value) -> Result<Self, String> { Ok(Ratios) }
//!     fn derive_features(&self, rows: &Table) -> Result<Columns, String> {
//!         let w = rows.f64("width")?;
//!         let h = rows.f64("height")?;
//!         Ok(vec![("aspect".into(), w.iter().zip(&h).map(|(w, h)| w / h).collect::<Vec<_>>().into())])
//!     }
//! }
//! export_plugin!("ratios", Ratios);
//! ```

#![warn(missing_docs)]

pub mod abi;
#[doc(hidden)]
pub mod shim;
mod table;

pub use arrow_array;
pub use serde_json;
pub use table::{Column, Columns, Table, f64_column, numeric_columns};

/// A native plugin. One instance is built from the manifest's `native.config`
/// when the host loads the library, then shared by every call (from several
/// threads at once), so hooks take `&self`.
pub trait Plugin: Sized + Send + Sync + 'static {
    /// Builds the plugin from `native.config` of `plugin.yaml` (`null` when absent).
    fn new(config: &serde_json::Value) -> Result<Self, String>;

    /// New feature columns computed from the raw feature rows (numbers as
    /// `f64` with missing values as NaN, categories as their text). Runs in
    /// training and in serving through the same host code, before
    /// preprocessing. Return one column per `derived: true` column of the
    /// manifest, each as long as `rows`.
    fn derive_features(&self, rows: &Table) -> Result<Columns, String> {
        let _ = rows;
        Ok(Vec::new())
    }

    /// Domain outputs next to the model's: `predictions` holds `label`,
    /// `score` and one `p:<class>` column per class (and `attr:<column>`
    /// attributions when the manifest asks for them); `rows` the raw feature
    /// rows. Return columns as long as the batch; they are added to every
    /// prediction under their names.
    fn postprocess(&self, predictions: &Table, rows: &Table) -> Result<Columns, String> {
        let _ = (predictions, rows);
        Ok(Vec::new())
    }

    /// Domain metrics of held-out predictions, saved in `metrics.json` under
    /// `custom` and shown on the dashboard: `predictions` as for
    /// `postprocess` (decided `label`, `score`, `p:<class>`), `truth` with
    /// the true `label` of each row.
    fn metrics(&self, predictions: &Table, truth: &Table) -> Result<Vec<(String, f64)>, String> {
        let _ = (predictions, truth);
        Ok(Vec::new())
    }
}

/// Generates the plugin's C entry point for `$ty` under the name `$name`.
/// Use once per library.
#[macro_export]
macro_rules! export_plugin {
    ($name:literal, $ty:ty) => {
        static __INDUS_PLUGIN: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();

        unsafe extern "C" fn __indus_configure(
            json: *const u8,
            len: usize,
            error: *mut $crate::abi::ErrorBuffer,
        ) -> i32 {
            // SAFETY: the host passes a valid buffer of `len` bytes and an error buffer.
            unsafe { $crate::shim::configure::<$ty>(&__INDUS_PLUGIN, json, len, error) }
        }

        unsafe extern "C" fn __indus_derive(
            rows: *mut $crate::abi::FFI_ArrowArray,
            rows_schema: *const $crate::abi::FFI_ArrowSchema,
            out: *mut $crate::abi::FFI_ArrowArray,
            out_schema: *mut $crate::abi::FFI_ArrowSchema,
            error: *mut $crate::abi::ErrorBuffer,
        ) -> i32 {
            // SAFETY: the host follows the hook contract in `abi`.
            unsafe {
                $crate::shim::derive::<$ty>(
                    &__INDUS_PLUGIN,
                    rows,
                    rows_schema,
                    out,
                    out_schema,
                    error,
                )
            }
        }

        unsafe extern "C" fn __indus_postprocess(
            predictions: *mut $crate::abi::FFI_ArrowArray,
            predictions_schema: *const $crate::abi::FFI_ArrowSchema,
            rows: *mut $crate::abi::FFI_ArrowArray,
            rows_schema: *const $crate::abi::FFI_ArrowSchema,
            out: *mut $crate::abi::FFI_ArrowArray,
            out_schema: *mut $crate::abi::FFI_ArrowSchema,
            error: *mut $crate::abi::ErrorBuffer,
        ) -> i32 {
            // SAFETY: the host follows the hook contract in `abi`.
            unsafe {
                $crate::shim::postprocess::<$ty>(
                    &__INDUS_PLUGIN,
                    predictions,
                    predictions_schema,
                    rows,
                    rows_schema,
                    out,
                    out_schema,
                    error,
                )
            }
        }

        unsafe extern "C" fn __indus_metrics(
            predictions: *mut $crate::abi::FFI_ArrowArray,
            predictions_schema: *const $crate::abi::FFI_ArrowSchema,
            truth: *mut $crate::abi::FFI_ArrowArray,
            truth_schema: *const $crate::abi::FFI_ArrowSchema,
            out: *mut $crate::abi::FFI_ArrowArray,
            out_schema: *mut $crate::abi::FFI_ArrowSchema,
            error: *mut $crate::abi::ErrorBuffer,
        ) -> i32 {
            // SAFETY: the host follows the hook contract in `abi`.
            unsafe {
                $crate::shim::metrics::<$ty>(
                    &__INDUS_PLUGIN,
                    predictions,
                    predictions_schema,
                    truth,
                    truth_schema,
                    out,
                    out_schema,
                    error,
                )
            }
        }

        static __INDUS_TABLE: $crate::abi::PluginTable = $crate::abi::PluginTable {
            size: ::std::mem::size_of::<$crate::abi::PluginTable>(),
            abi_major: $crate::abi::ABI_MAJOR,
            abi_minor: $crate::abi::ABI_MINOR,
            name: concat!($name, "\0").as_ptr(),
            configure: Some(__indus_configure),
            derive_features: Some(__indus_derive),
            postprocess: Some(__indus_postprocess),
            metrics: Some(__indus_metrics),
        };

        /// The entry point the indus host looks up.
        #[unsafe(no_mangle)]
        pub extern "C" fn indus_plugin_entry() -> *const $crate::abi::PluginTable {
            &__INDUS_TABLE
        }
    };
}
