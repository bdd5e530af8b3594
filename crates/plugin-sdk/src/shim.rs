//! The plugin side of each hook: take the inputs over, call the safe trait
//! inside `catch_unwind`, hand the result back, and turn every failure into
//! an error code plus message. Called only by `export_plugin!`.

use crate::abi::{
    ERR_HOOK, ERR_INPUT, ERR_PANIC, ErrorBuffer, FFI_ArrowArray, FFI_ArrowSchema, OK,
};
use crate::{Plugin, Table};
use arrow_array::{Array, StructArray};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

/// Copies `message` (truncated at a character boundary) into the buffer.
///
/// # Safety
/// `error` is null or points to a valid buffer.
pub unsafe fn write_error(error: *mut ErrorBuffer, message: &str) {
    // SAFETY: the caller guarantees `error` is null or valid.
    let Some(buf) = (unsafe { error.as_mut() }) else {
        return;
    };
    let mut n = message.len().min(buf.capacity);
    while n > 0 && !message.is_char_boundary(n) {
        n -= 1;
    }
    if !buf.ptr.is_null() {
        // SAFETY: `ptr` has `capacity` bytes and n <= capacity.
        unsafe { std::ptr::copy_nonoverlapping(message.as_ptr(), buf.ptr, n) };
        buf.len = n;
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

unsafe fn guard(error: *mut ErrorBuffer, f: impl FnOnce() -> Result<(), String>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => OK,
        Ok(Err(m)) => {
            // SAFETY: forwarded from the hook's caller.
            unsafe { write_error(error, &m) };
            ERR_HOOK
        }
        Err(p) => {
            // SAFETY: as above.
            unsafe { write_error(error, &format!("panicked: {}", panic_text(&*p))) };
            ERR_PANIC
        }
    }
}

/// Takes ownership of an incoming struct array.
///
/// # Safety
/// `array` and `schema` point to valid Arrow C structs.
unsafe fn take(
    array: *mut FFI_ArrowArray,
    schema: *const FFI_ArrowSchema,
) -> Result<Table, String> {
    if array.is_null() || schema.is_null() {
        return Err("null input".into());
    }
    // SAFETY: valid per the contract; the empty struct left behind is inert.
    let owned = unsafe { std::ptr::replace(array, FFI_ArrowArray::empty()) };
    // SAFETY: `schema` is valid and describes `owned`.
    let data = unsafe { arrow_array::ffi::from_ffi(owned, &*schema) }.map_err(|e| e.to_string())?;
    if !matches!(data.data_type(), arrow_schema::DataType::Struct(_)) {
        return Err(format!("expected a struct array, got {}", data.data_type()));
    }
    Ok(Table::from_struct(StructArray::from(data)))
}

/// Hands a result back through the output pointers.
///
/// # Safety
/// `out` and `out_schema` point to writable Arrow C structs owned by the caller.
unsafe fn give(
    table: &Table,
    out: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> Result<(), String> {
    let (a, s) =
        arrow_array::ffi::to_ffi(&table.as_struct().to_data()).map_err(|e| e.to_string())?;
    // SAFETY: writable per the contract; `write` does not drop the caller's empty placeholders.
    unsafe {
        std::ptr::write(out, a);
        std::ptr::write(out_schema, s);
    }
    Ok(())
}

/// `configure` for plugin type `T`.
///
/// # Safety
/// `json` has `len` readable bytes; `error` is null or valid.
pub unsafe fn configure<T: Plugin>(
    cell: &OnceLock<T>,
    json: *const u8,
    len: usize,
    error: *mut ErrorBuffer,
) -> i32 {
    let bytes = if json.is_null() {
        &[][..]
    } else {
        // SAFETY: `json` has `len` bytes.
        unsafe { std::slice::from_raw_parts(json, len) }
    };
    // SAFETY: `error` forwarded.
    unsafe {
        guard(error, || {
            let config: serde_json::Value = if bytes.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(bytes).map_err(|e| format!("config is not JSON: {e}"))?
            };
            let plugin = T::new(&config)?;
            cell.set(plugin)
                .map_err(|_| "the plugin was already configured".to_string())
        })
    }
}

fn instance<T>(cell: &OnceLock<T>) -> Result<&T, String> {
    cell.get()
        .ok_or_else(|| "configure was not called first".to_string())
}

/// `derive_features` for plugin type `T`.
///
/// # Safety
/// Pointers follow the contract in [`crate::abi`].
pub unsafe fn derive<T: Plugin>(
    cell: &OnceLock<T>,
    rows: *mut FFI_ArrowArray,
    rows_schema: *const FFI_ArrowSchema,
    out: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
    error: *mut ErrorBuffer,
) -> i32 {
    // SAFETY: forwarded.
    let rows = match unsafe { take(rows, rows_schema) } {
        Ok(t) => t,
        Err(m) => {
            unsafe { write_error(error, &m) };
            return ERR_INPUT;
        }
    };
    // SAFETY: forwarded.
    unsafe {
        guard(error, || {
            let cols = instance(cell)?.derive_features(&rows)?;
            let table = Table::from_columns(&cols, rows.len())?;
            give(&table, out, out_schema)
        })
    }
}

/// A hook over two input tables (predictions and rows, or predictions and
/// truth) producing one: takes both over, runs `f` guarded, hands back.
///
/// # Safety
/// Pointers follow the contract in [`crate::abi`].
#[allow(clippy::too_many_arguments)]
unsafe fn two_tables<T: Plugin>(
    cell: &OnceLock<T>,
    first: *mut FFI_ArrowArray,
    first_schema: *const FFI_ArrowSchema,
    second: *mut FFI_ArrowArray,
    second_schema: *const FFI_ArrowSchema,
    out: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
    error: *mut ErrorBuffer,
    f: impl FnOnce(&T, &Table, &Table) -> Result<Table, String>,
) -> i32 {
    // SAFETY: forwarded.
    let inputs = unsafe { take(first, first_schema) }
        .and_then(|a| unsafe { take(second, second_schema) }.map(|b| (a, b)));
    let (a, b) = match inputs {
        Ok(x) => x,
        Err(m) => {
            unsafe { write_error(error, &m) };
            return ERR_INPUT;
        }
    };
    // SAFETY: forwarded.
    unsafe {
        guard(error, || {
            let table = f(instance(cell)?, &a, &b)?;
            give(&table, out, out_schema)
        })
    }
}

/// `postprocess` for plugin type `T`.
///
/// # Safety
/// Pointers follow the contract in [`crate::abi`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn postprocess<T: Plugin>(
    cell: &OnceLock<T>,
    predictions: *mut FFI_ArrowArray,
    predictions_schema: *const FFI_ArrowSchema,
    rows: *mut FFI_ArrowArray,
    rows_schema: *const FFI_ArrowSchema,
    out: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
    error: *mut ErrorBuffer,
) -> i32 {
    // SAFETY: forwarded.
    unsafe {
        two_tables(
            cell,
            predictions,
            predictions_schema,
            rows,
            rows_schema,
            out,
            out_schema,
            error,
            |plugin: &T, predictions, rows| {
                let cols = plugin.postprocess(predictions, rows)?;
                Table::from_columns(&cols, predictions.len())
            },
        )
    }
}

/// `metrics` for plugin type `T`: one row of numbers.
///
/// # Safety
/// Pointers follow the contract in [`crate::abi`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn metrics<T: Plugin>(
    cell: &OnceLock<T>,
    predictions: *mut FFI_ArrowArray,
    predictions_schema: *const FFI_ArrowSchema,
    truth: *mut FFI_ArrowArray,
    truth_schema: *const FFI_ArrowSchema,
    out: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
    error: *mut ErrorBuffer,
) -> i32 {
    // SAFETY: forwarded.
    unsafe {
        two_tables(
            cell,
            predictions,
            predictions_schema,
            truth,
            truth_schema,
            out,
            out_schema,
            error,
            |plugin: &T, predictions, truth| {
                let cols: crate::Columns = plugin
                    .metrics(predictions, truth)?
                    .into_iter()
                    .map(|(name, v)| (name, crate::Column::F64(vec![v])))
                    .collect();
                Table::from_columns(&cols, 1)
            },
        )
    }
}
