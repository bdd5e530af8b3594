//! A loaded native plugin and safe calls into its hooks.

use crate::PluginError;
use crate::locate::find_library;
use arrow_array::{Array, StructArray};
use indus_plugin_sdk::abi::{
    ABI_MAJOR, ConfigureFn, DeriveFn, ENTRY_SYMBOL, ERR_HOOK, ERR_PANIC, ErrorBuffer,
    FFI_ArrowArray, FFI_ArrowSchema, MetricsFn, OK, PluginTable, PostprocessFn,
};
use indus_plugin_sdk::{Columns, Table};
use indus_spec::PluginManifest;
use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Room for a hook's error message.
const ERROR_CAPACITY: usize = 4096;

/// A plugin library, loaded and configured. Cheap to share.
pub struct NativePlugin {
    name: String,
    path: PathBuf,
    sha256: String,
    abi: (u32, u32),
    derive: Option<DeriveFn>,
    postprocess: Option<PostprocessFn>,
    metrics: Option<MetricsFn>,
}

impl std::fmt::Debug for NativePlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativePlugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("abi", &self.abi)
            .finish()
    }
}

/// Lowercase hex SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Plugins loaded in this process, by name. Libraries are never unloaded.
static LOADED: Mutex<BTreeMap<String, Arc<NativePlugin>>> = Mutex::new(BTreeMap::new());

/// Loads the native library a manifest declares (`None` without `native:`).
/// `manifest_file` locates the plugin's folder for the library search.
pub fn load_for_manifest(
    manifest: &PluginManifest,
    manifest_file: &Path,
) -> Result<Option<Arc<NativePlugin>>, PluginError> {
    let Some(spec) = &manifest.native else {
        return Ok(None);
    };
    let dir = manifest_file.parent().unwrap_or(Path::new("."));
    let path = find_library(manifest.name.as_str(), &spec.library, dir)?;
    NativePlugin::load(manifest.name.as_str(), &path, &spec.config).map(Some)
}

impl NativePlugin {
    /// Loads `path` as plugin `plugin` and configures it with `config`.
    /// Loading the same library again returns the instance already loaded
    /// (the same file, or a copy of it at another path: cargo puts one in
    /// `release/` and `release/deps/`); another library under the same name
    /// is refused.
    pub fn load(
        plugin: &str,
        path: &Path,
        config: &serde_json::Value,
    ) -> Result<Arc<NativePlugin>, PluginError> {
        Self::load_entry(plugin, path, ENTRY_SYMBOL, config)
    }

    /// [`NativePlugin::load`] through another entry symbol (tests of ABI
    /// versions use libraries exporting several tables).
    pub fn load_entry(
        plugin: &str,
        path: &Path,
        symbol: &str,
        config: &serde_json::Value,
    ) -> Result<Arc<NativePlugin>, PluginError> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let bytes = std::fs::read(&path).map_err(|e| PluginError::NotALibrary {
            plugin: plugin.to_string(),
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let sha256 = sha256_hex(&bytes);
        drop(bytes);
        let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = loaded.get(plugin) {
            return if existing.path == path || existing.sha256 == sha256 {
                Ok(existing.clone())
            } else {
                Err(PluginError::Duplicate {
                    plugin: plugin.to_string(),
                    first: existing.path.clone(),
                    second: path,
                })
            };
        }
        // SAFETY: loading runs the library's initialisers; only libraries a
        // plugin manifest names (or a test) are loaded.
        let library =
            unsafe { libloading::Library::new(&path) }.map_err(|e| PluginError::NotALibrary {
                plugin: plugin.to_string(),
                path: path.clone(),
                reason: e.to_string(),
            })?;
        // Never unloaded: whatever the library handed out stays valid.
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is the one `export_plugin!` generates.
        let entry = unsafe {
            library.get::<unsafe extern "C" fn() -> *const PluginTable>(symbol.as_bytes())
        }
        .map_err(|_| PluginError::MissingEntry {
            plugin: plugin.to_string(),
            path: path.clone(),
            symbol: symbol.to_string(),
        })?;
        // SAFETY: calling the entry point has no preconditions.
        let table = unsafe { entry() };
        // SAFETY: a non-null table is static; the header fields (size, major,
        // minor) are at the same place in every ABI version.
        let Some(header) = (unsafe { table.as_ref() }) else {
            return Err(PluginError::MissingEntry {
                plugin: plugin.to_string(),
                path,
                symbol: format!("{symbol} (it returned null)"),
            });
        };
        let (major, minor, size) = (header.abi_major, header.abi_minor, header.size);
        if major != ABI_MAJOR {
            return Err(PluginError::AbiMismatch {
                plugin: plugin.to_string(),
                found_major: major,
                found_minor: minor,
                host_major: ABI_MAJOR,
            });
        }
        // Fields beyond what the library's table holds (an older minor) are absent.
        let present = |offset: usize, len: usize| offset + len <= size;
        let name = if present(offset_of!(PluginTable, name), size_of::<*const u8>())
            && !header.name.is_null()
        {
            // SAFETY: the name is a static NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(header.name.cast()) }
                .to_string_lossy()
                .into_owned()
        } else {
            String::new()
        };
        if name != plugin {
            return Err(PluginError::WrongName {
                plugin: plugin.to_string(),
                path,
                found: name,
            });
        }
        let configure: Option<ConfigureFn> = if present(
            offset_of!(PluginTable, configure),
            size_of::<Option<ConfigureFn>>(),
        ) {
            header.configure
        } else {
            None
        };
        let derive = if present(
            offset_of!(PluginTable, derive_features),
            size_of::<Option<DeriveFn>>(),
        ) {
            header.derive_features
        } else {
            None
        };
        let postprocess = if present(
            offset_of!(PluginTable, postprocess),
            size_of::<Option<PostprocessFn>>(),
        ) {
            header.postprocess
        } else {
            None
        };
        let metrics = if present(
            offset_of!(PluginTable, metrics),
            size_of::<Option<MetricsFn>>(),
        ) {
            header.metrics
        } else {
            None
        };
        let instance = NativePlugin {
            name: plugin.to_string(),
            path,
            sha256,
            abi: (major, minor),
            derive,
            postprocess,
            metrics,
        };
        if let Some(configure) = configure {
            let json = if config.is_null() {
                String::new()
            } else {
                config.to_string()
            };
            let mut buf = vec![0u8; ERROR_CAPACITY];
            let mut err = error_buffer(&mut buf);
            // SAFETY: `json` and `err` are valid for the call.
            let code = unsafe { configure(json.as_ptr(), json.len(), &mut err) };
            instance.check(code, "configure", &buf, &err)?;
        }
        let instance = Arc::new(instance);
        loaded.insert(plugin.to_string(), instance.clone());
        Ok(instance)
    }

    /// Plugin name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the library file as loaded (hex): a run records it, so
    /// serving can tell that the library is the one it was trained with.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// ABI version the library was built for.
    pub fn abi(&self) -> (u32, u32) {
        self.abi
    }

    /// Whether the library has a `derive_features` hook.
    pub fn has_derive(&self) -> bool {
        self.derive.is_some()
    }

    /// Whether the library has a `postprocess` hook (ABI minor ≥ 1).
    pub fn has_postprocess(&self) -> bool {
        self.postprocess.is_some()
    }

    fn check(
        &self,
        code: i32,
        hook: &'static str,
        buf: &[u8],
        err: &ErrorBuffer,
    ) -> Result<(), PluginError> {
        let message = || String::from_utf8_lossy(&buf[..err.len.min(buf.len())]).into_owned();
        match code {
            OK => Ok(()),
            ERR_HOOK => Err(PluginError::Hook {
                plugin: self.name.clone(),
                hook,
                message: message(),
            }),
            ERR_PANIC => Err(PluginError::Panic {
                plugin: self.name.clone(),
                hook,
                message: message().trim_start_matches("panicked: ").to_string(),
            }),
            other => Err(PluginError::Contract {
                plugin: self.name.clone(),
                hook,
                message: format!("error code {other}: {}", message()),
            }),
        }
    }

    fn contract(&self, hook: &'static str, message: String) -> PluginError {
        PluginError::Contract {
            plugin: self.name.clone(),
            hook,
            message,
        }
    }

    /// Runs one hook call: provides the empty output structs and the error
    /// buffer, checks the code, takes the result over and checks its length.
    fn call(
        &self,
        hook: &'static str,
        rows: usize,
        invoke: impl FnOnce(&mut FFI_ArrowArray, &mut FFI_ArrowSchema, &mut ErrorBuffer) -> i32,
    ) -> Result<Table, PluginError> {
        let mut out = FFI_ArrowArray::empty();
        let mut out_schema = FFI_ArrowSchema::empty();
        let mut buf = vec![0u8; ERROR_CAPACITY];
        let mut err = error_buffer(&mut buf);
        let code = invoke(&mut out, &mut out_schema, &mut err);
        self.check(code, hook, &buf, &err)?;
        let table = import(out, &out_schema).map_err(|m| self.contract(hook, m))?;
        if table.len() != rows {
            return Err(self.contract(
                hook,
                format!("returned {} rows for {rows} input rows", table.len()),
            ));
        }
        Ok(table)
    }

    /// Calls `derive_features` on `rows` and returns the columns `expected`
    /// (each as long as `rows`, numeric), in that order.
    pub fn derive(&self, rows: &Table, expected: &[&str]) -> Result<Vec<Vec<f64>>, PluginError> {
        const HOOK: &str = "derive_features";
        let Some(f) = self.derive else {
            return Err(self.contract(HOOK, "the library has no derive_features hook".into()));
        };
        let (mut input, input_schema) = export(rows).map_err(|m| self.contract(HOOK, m))?;
        // SAFETY: every pointer is valid for the call; the callee takes `input` over.
        let table = self.call(HOOK, rows.len(), |out, out_schema, err| unsafe {
            f(&mut input, &input_schema, out, out_schema, err)
        })?;
        expected
            .iter()
            .map(|name| {
                table
                    .f64(name)
                    .map_err(|m| self.contract(HOOK, format!("derived column `{name}`: {m}")))
            })
            .collect()
    }

    /// Whether the library has a `metrics` hook (ABI minor ≥ 2).
    pub fn has_metrics(&self) -> bool {
        self.metrics.is_some()
    }

    /// Calls `metrics` on held-out predictions and their true labels.
    pub fn metrics(
        &self,
        predictions: &Table,
        truth: &Table,
    ) -> Result<Vec<(String, f64)>, PluginError> {
        const HOOK: &str = "metrics";
        let Some(f) = self.metrics else {
            return Ok(Vec::new());
        };
        let (mut p, p_schema) = export(predictions).map_err(|m| self.contract(HOOK, m))?;
        let (mut t, t_schema) = export(truth).map_err(|m| self.contract(HOOK, m))?;
        // SAFETY: every pointer is valid for the call; the callee takes the inputs over.
        let table = self.call(HOOK, 1, |out, out_schema, err| unsafe {
            f(&mut p, &p_schema, &mut t, &t_schema, out, out_schema, err)
        })?;
        table
            .names()
            .into_iter()
            .map(|name| {
                let v = table
                    .f64(&name)
                    .map_err(|m| self.contract(HOOK, format!("metric `{name}`: {m}")))?;
                Ok((name, v[0]))
            })
            .collect()
    }

    /// Calls `postprocess` and returns its columns (each as long as the batch).
    pub fn postprocess(&self, predictions: &Table, rows: &Table) -> Result<Columns, PluginError> {
        const HOOK: &str = "postprocess";
        let Some(f) = self.postprocess else {
            return Ok(Vec::new());
        };
        let (mut p, p_schema) = export(predictions).map_err(|m| self.contract(HOOK, m))?;
        let (mut r, r_schema) = export(rows).map_err(|m| self.contract(HOOK, m))?;
        // SAFETY: every pointer is valid for the call; the callee takes the inputs over.
        let table = self.call(HOOK, predictions.len(), |out, out_schema, err| unsafe {
            f(&mut p, &p_schema, &mut r, &r_schema, out, out_schema, err)
        })?;
        table.columns().map_err(|m| self.contract(HOOK, m))
    }
}

fn error_buffer(buf: &mut [u8]) -> ErrorBuffer {
    ErrorBuffer {
        ptr: buf.as_mut_ptr(),
        capacity: buf.len(),
        len: 0,
    }
}

fn export(table: &Table) -> Result<(FFI_ArrowArray, FFI_ArrowSchema), String> {
    arrow_array::ffi::to_ffi(&table.as_struct().to_data()).map_err(|e| e.to_string())
}

fn import(array: FFI_ArrowArray, schema: &FFI_ArrowSchema) -> Result<Table, String> {
    if array.is_released() {
        return Err("the hook reported success but returned no array".into());
    }
    // SAFETY: the plugin wrote a valid array and schema (checked by arrow on import).
    let data = unsafe { arrow_array::ffi::from_ffi(array, schema) }.map_err(|e| e.to_string())?;
    if !matches!(data.data_type(), arrow_schema::DataType::Struct(_)) {
        return Err(format!(
            "returned a {} array, not a struct of columns",
            data.data_type()
        ));
    }
    let s = StructArray::from(data);
    let _ = s.len();
    Ok(Table::from_struct(s))
}
