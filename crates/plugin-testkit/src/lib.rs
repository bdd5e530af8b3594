//! A native plugin for the host's tests. `derive_features` adds columns `a`
//! and `b` into `sum` (plus the configured `offset`) unless the first row's
//! `mode` asks it to misbehave: `panic`, `error`, `rows` (one row too many)
//! or `type` (a text column). It also exports hand-made tables for other ABI
//! versions under extra entry symbols.

#![warn(missing_docs)]

use indus_plugin_sdk::abi::{ABI_MAJOR, PluginTable};
use indus_plugin_sdk::{Column, Columns, Plugin, Table, export_plugin};
use std::mem::{offset_of, size_of};

struct Testkit {
    offset: f64,
}

impl Plugin for Testkit {
    fn new(config: &indus_plugin_sdk::serde_json::Value) -> Result<Self, String> {
        if config.get("fail").and_then(|v| v.as_bool()) == Some(true) {
            return Err("told to fail in configure".into());
        }
        Ok(Testkit {
            offset: config.get("offset").and_then(|v| v.as_f64()).unwrap_or(0.0),
        })
    }

    fn derive_features(&self, rows: &Table) -> Result<Columns, String> {
        let mode = rows
            .text("mode")
            .ok()
            .and_then(|m| m.first().cloned().flatten())
            .unwrap_or_default();
        let a = rows.f64("a")?;
        let b = rows.f64("b")?;
        let sum: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y + self.offset).collect();
        match mode.as_str() {
            "panic" => panic!("the testkit was asked to panic"),
            "error" => Err("the testkit was asked to fail".into()),
            "rows" => {
                let mut more = sum;
                more.push(0.0);
                Ok(vec![("sum".into(), Column::F64(more))])
            }
            "type" => Ok(vec![(
                "sum".into(),
                Column::Text(sum.iter().map(|v| v.to_string()).collect()),
            )]),
            _ => Ok(vec![("sum".into(), Column::F64(sum))]),
        }
    }

    fn postprocess(&self, predictions: &Table, _rows: &Table) -> Result<Columns, String> {
        let score = predictions.f64("score")?;
        Ok(vec![
            (
                "double".into(),
                Column::F64(score.iter().map(|s| s * 2.0).collect()),
            ),
            (
                "band".into(),
                Column::Text(
                    score
                        .iter()
                        .map(|s| if *s >= 0.5 { "high" } else { "low" }.to_string())
                        .collect(),
                ),
            ),
        ])
    }

    fn metrics(&self, predictions: &Table, truth: &Table) -> Result<Vec<(String, f64)>, String> {
        let decided = predictions.text("label")?;
        let actual = truth.text("label")?;
        let hits = decided.iter().zip(&actual).filter(|(a, b)| a == b).count();
        Ok(vec![(
            "hit_share".into(),
            hits as f64 / decided.len().max(1) as f64,
        )])
    }
}

export_plugin!("testkit", Testkit);

static MAJOR_2: PluginTable = PluginTable {
    size: size_of::<PluginTable>(),
    abi_major: ABI_MAJOR + 1,
    abi_minor: 0,
    name: c"testkit-v2".as_ptr().cast(),
    configure: None,
    derive_features: None,
    postprocess: None,
    metrics: None,
};

/// A library built for a future major version.
#[unsafe(no_mangle)]
pub extern "C" fn testkit_entry_major2() -> *const PluginTable {
    &MAJOR_2
}

/// A 1.0 library: its table ends before `postprocess` (the field below is
/// never read by a host honouring `size`).
static MINOR_0: PluginTable = PluginTable {
    size: offset_of!(PluginTable, postprocess),
    abi_major: ABI_MAJOR,
    abi_minor: 0,
    name: c"testkit-old".as_ptr().cast(),
    configure: None,
    derive_features: None,
    postprocess: None,
    metrics: None,
};

/// A library from an older minor version.
#[unsafe(no_mangle)]
pub extern "C" fn testkit_entry_minor0() -> *const PluginTable {
    &MINOR_0
}

static MINOR_9: PluginTable = PluginTable {
    size: size_of::<PluginTable>() + 16,
    abi_major: ABI_MAJOR,
    abi_minor: 9,
    name: c"testkit-new".as_ptr().cast(),
    configure: None,
    derive_features: None,
    postprocess: None,
    metrics: None,
};

/// A library from a newer minor version (a longer table).
#[unsafe(no_mangle)]
pub extern "C" fn testkit_entry_minor9() -> *const PluginTable {
    &MINOR_9
}
