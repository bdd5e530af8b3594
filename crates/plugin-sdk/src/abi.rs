//! The C ABI between the host and a plugin library, version
//! [`ABI_MAJOR`].[`ABI_MINOR`]. Documented for humans in `docs/plugin-abi.md`.
//!
//! The library exports `indus_plugin_entry`, returning a pointer to a static
//! [`PluginTable`]. The host reads `size`, `abi_major` and `abi_minor` before
//! anything else: a different major is refused; a newer minor is accepted
//! (the host reads only the fields it knows); an older minor simply lacks
//! the fields added later, which the host treats as absent hooks.
//!
//! Hooks take Arrow C Data Interface structs. The caller owns what it passes
//! in and hands ownership to the callee, which releases it through the
//! producer's own `release` callback; results come back the same way. No
//! allocation is ever freed by the other side's allocator. Errors come back
//! as a non-zero code plus UTF-8 text written into a caller-owned
//! [`ErrorBuffer`].

pub use arrow_data::ffi::FFI_ArrowArray;
pub use arrow_schema::ffi::FFI_ArrowSchema;

/// Incompatible changes bump this; the host refuses other majors.
pub const ABI_MAJOR: u32 = 1;
/// Compatible additions (new optional hooks at the end of the table).
/// Minor 0: `configure`, `derive_features`. Minor 1: `postprocess`.
/// Minor 2: `metrics`.
pub const ABI_MINOR: u32 = 2;

/// Hook succeeded.
pub const OK: i32 = 0;
/// The hook returned an error (message in the buffer).
pub const ERR_HOOK: i32 = 1;
/// The hook panicked; the panic was caught in the plugin (message in the buffer).
pub const ERR_PANIC: i32 = 2;
/// The inputs could not be read (message in the buffer).
pub const ERR_INPUT: i32 = 3;

/// Caller-owned space for an error message.
#[repr(C)]
pub struct ErrorBuffer {
    /// Start of the buffer.
    pub ptr: *mut u8,
    /// Its capacity in bytes.
    pub capacity: usize,
    /// Bytes written (set by the callee).
    pub len: usize,
}

/// `configure(json, len, error)`: builds the plugin instance from the
/// manifest's `native.config` as JSON text.
pub type ConfigureFn = unsafe extern "C" fn(*const u8, usize, *mut ErrorBuffer) -> i32;

/// `derive_features(rows, rows_schema, out, out_schema, error)`: `rows` is a
/// struct array of raw feature columns (taken over by the callee); `out` is
/// written with a struct array of derived columns.
pub type DeriveFn = unsafe extern "C" fn(
    *mut FFI_ArrowArray,
    *const FFI_ArrowSchema,
    *mut FFI_ArrowArray,
    *mut FFI_ArrowSchema,
    *mut ErrorBuffer,
) -> i32;

/// `postprocess(predictions, schema, rows, schema, out, out_schema, error)`.
pub type PostprocessFn = unsafe extern "C" fn(
    *mut FFI_ArrowArray,
    *const FFI_ArrowSchema,
    *mut FFI_ArrowArray,
    *const FFI_ArrowSchema,
    *mut FFI_ArrowArray,
    *mut FFI_ArrowSchema,
    *mut ErrorBuffer,
) -> i32;

/// `metrics(predictions, schema, truth, schema, out, out_schema, error)`:
/// same shape as [`PostprocessFn`]; `out` has one row of `float64` columns.
pub type MetricsFn = PostprocessFn;

/// What `indus_plugin_entry` returns. Fields are only ever appended.
#[repr(C)]
pub struct PluginTable {
    /// `size_of::<PluginTable>()` as the plugin was built: tells the host
    /// which fields exist.
    pub size: usize,
    /// ABI major version.
    pub abi_major: u32,
    /// ABI minor version.
    pub abi_minor: u32,
    /// The plugin's name, NUL-terminated, static.
    pub name: *const u8,
    /// Minor 0.
    pub configure: Option<ConfigureFn>,
    /// Minor 0.
    pub derive_features: Option<DeriveFn>,
    /// Minor 1.
    pub postprocess: Option<PostprocessFn>,
    /// Minor 2.
    pub metrics: Option<MetricsFn>,
}

// SAFETY: the table is immutable static data; `name` points to a static string.
unsafe impl Sync for PluginTable {}

/// Name of the exported entry symbol.
pub const ENTRY_SYMBOL: &str = "indus_plugin_entry";
