//! Native hooks on the data and serving paths. `fill_derived` is the one
//! place derived features are computed, for training rows and for rows to
//! predict alike, so training and serving cannot drift apart.

use crate::RuntimeError;
use indus_data::{RawTable, feature_columns};
use indus_plugin::{Column, NativePlugin, Table};
use indus_spec::{ColumnType, PluginManifest};

/// True when the manifest declares columns a hook must compute.
pub(crate) fn has_derived(plugin: &PluginManifest) -> bool {
    plugin.data.columns.iter().any(|c| c.derived)
}

/// The raw feature columns of `table` as a hook sees them: numbers as f64
/// (NaN when missing), categories as their text, derived and image columns
/// left out.
pub(crate) fn raw_rows(plugin: &PluginManifest, table: &RawTable) -> Result<Table, RuntimeError> {
    let n = table.len();
    let mut columns = Vec::new();
    let mut offset = 0;
    for c in feature_columns(plugin) {
        let at = offset;
        offset += c.width();
        if c.derived || c.kind == ColumnType::Image {
            continue;
        }
        let values = (0..n).map(|r| table.features[r * table.width + at]);
        let column = if c.kind == ColumnType::Category {
            let names = c.values.as_deref().unwrap_or_default();
            Column::Text(
                values
                    .map(|v| {
                        if v.is_nan() {
                            String::new()
                        } else {
                            names.get(v as usize).cloned().unwrap_or_default()
                        }
                    })
                    .collect(),
            )
        } else {
            Column::F64(values.map(f64::from).collect())
        };
        columns.push((c.name.clone(), column));
    }
    Table::from_columns(&columns, n).map_err(RuntimeError::Invalid)
}

/// Computes the derived columns of `table` with the plugin's hook.
pub(crate) fn fill_derived(
    plugin: &PluginManifest,
    native: &NativePlugin,
    table: &mut RawTable,
) -> Result<(), RuntimeError> {
    if !has_derived(plugin) || table.is_empty() {
        return Ok(());
    }
    let rows = raw_rows(plugin, table)?;
    let mut targets = Vec::new();
    let mut offset = 0;
    for c in feature_columns(plugin) {
        if c.derived {
            targets.push((c, offset));
        }
        offset += c.width();
    }
    let names: Vec<&str> = targets.iter().map(|(c, _)| c.name.as_str()).collect();
    let values = native.derive(&rows, &names)?;
    for ((c, at), column) in targets.iter().zip(values) {
        for (r, v) in column.into_iter().enumerate() {
            let v = v as f32;
            if let Some([lo, hi]) = c.range
                && v.is_finite()
                && (f64::from(v) < lo || f64::from(v) > hi)
            {
                return Err(RuntimeError::Invalid(format!(
                    "plugin `{}`: derived column `{}` gave {v} for row {}, outside its range [{lo}, {hi}]",
                    plugin.name,
                    c.name,
                    r + 1
                )));
            }
            table.features[r * table.width + at] = v;
        }
    }
    Ok(())
}

/// The plugin's own metrics of held-out predictions (`probs` row-major by
/// class, decided and true class indices).
pub(crate) fn custom_metrics(
    native: &NativePlugin,
    classes: &[String],
    probs: &[f32],
    predicted: &[usize],
    labels: &[u32],
) -> Result<std::collections::BTreeMap<String, f64>, RuntimeError> {
    let n = predicted.len();
    let name = |i: usize| classes.get(i).cloned().unwrap_or_default();
    let columns = prediction_columns(classes, probs, predicted);
    let predictions = Table::from_columns(&columns, n).map_err(RuntimeError::Invalid)?;
    let truth = Table::from_columns(
        &vec![(
            "label".to_string(),
            Column::Text(labels.iter().map(|&l| name(l as usize)).collect()),
        )],
        n,
    )
    .map_err(RuntimeError::Invalid)?;
    Ok(native.metrics(&predictions, &truth)?.into_iter().collect())
}

/// The columns hooks receive for predictions: the decided `label`, its
/// `score`, and `p:<class>` per class, from row-major class probabilities
/// and decided class indices.
pub(crate) fn prediction_columns(
    classes: &[String],
    probs: &[f32],
    decided: &[usize],
) -> Vec<(String, Column)> {
    let k = classes.len().max(1);
    let mut columns = vec![
        (
            "label".to_string(),
            Column::Text(
                decided
                    .iter()
                    .map(|&i| classes.get(i).cloned().unwrap_or_default())
                    .collect(),
            ),
        ),
        (
            "score".to_string(),
            Column::F64(
                decided
                    .iter()
                    .enumerate()
                    .map(|(r, &i)| probs.get(r * k + i).map_or(f64::NAN, |&p| f64::from(p)))
                    .collect(),
            ),
        ),
    ];
    for (c, class) in classes.iter().enumerate() {
        columns.push((
            format!("p:{class}"),
            Column::F64(
                (0..decided.len())
                    .map(|r| probs.get(r * k + c).map_or(f64::NAN, |&p| f64::from(p)))
                    .collect(),
            ),
        ));
    }
    columns
}
