//! The plugin's `fairness:` section: which columns name groups of people
//! whose held-out results every run compares, and how their values form
//! the groups.

use crate::plugin::{ColumnRole, ColumnSpec, ColumnType, PluginManifest, Task};
use crate::values::Count;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most protected columns: each adds a table to every run's report.
pub const MAX_PROTECTED: usize = 16;
/// Most bin edges of one numeric protected column.
pub const MAX_EDGES: usize = 32;
/// The held-out rows below which a group's rates are reported as unstable
/// when the plugin sets no `min_group_rows`: with 30 rows a rate of 0.5
/// is known to about ±0.18 (95 %).
pub const DEFAULT_MIN_GROUP_ROWS: usize = 30;

/// What a run reports about groups of people: per group of each protected
/// column, the held-out counts and rates, and the gaps between groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FairnessSpec {
    /// The columns whose groups are compared (age, sex, nationality…).
    pub protected: Vec<ProtectedColumn>,
    /// Held-out rows a group needs for its rates to be called stable; a
    /// smaller group is still reported, marked as too small
    /// (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_group_rows: Option<Count>,
}

impl FairnessSpec {
    /// The threshold below which a group is marked as too small.
    pub fn min_group_rows(&self) -> usize {
        self.min_group_rows
            .map_or(DEFAULT_MIN_GROUP_ROWS, Count::get)
    }
}

/// One protected column and how its values form groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtectedColumn {
    /// A declared feature column (category, boolean, integer or number).
    pub column: String,
    /// Numeric columns: increasing cut points; a value `v` falls in the
    /// group `[a, b)` with `a <= v < b` (`< first` and `>= last` at the
    /// ends). Required for a numeric column: a group per distinct age
    /// would say nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edges: Option<Vec<f64>>,
    /// Category columns: named groups of declared values (e.g. `female`
    /// for every status value that records a woman). A value in no group
    /// is a group of its own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, Vec<String>>,
}

/// A problem: the field path and what is wrong.
type Problem = (String, String);

/// Checks `data.group_by` against the declared columns.
pub(crate) fn check_group_by(m: &PluginManifest) -> Result<(), Problem> {
    let Some(name) = &m.data.group_by else {
        return Ok(());
    };
    let Some(c) = m.data.columns.iter().find(|c| &c.name == name) else {
        return Err((
            "data.group_by".into(),
            format!("no column `{name}` in `data.columns`"),
        ));
    };
    let usable = c.role == ColumnRole::Id
        || (c.role == ColumnRole::Feature && c.kind != ColumnType::Image && !c.derived);
    if !usable {
        return Err((
            "data.group_by".into(),
            format!(
                "`{name}` must be an `id` column or a feature column read from the data (not an image, not derived)"
            ),
        ));
    }
    Ok(())
}

/// Checks `fairness:` against the rest of the manifest.
pub(crate) fn check_fairness(m: &PluginManifest) -> Result<(), Problem> {
    let Some(f) = &m.fairness else {
        return Ok(());
    };
    if f.protected.is_empty() {
        return Err((
            "fairness.protected".into(),
            "name at least one column, or leave `fairness` out".into(),
        ));
    }
    crate::limits::at_most(f.protected.len(), MAX_PROTECTED, "fairness.protected")?;
    if let Some(head) = m.heads.first()
        && head.task != Task::Binary
    {
        return Err((
            "fairness".into(),
            format!(
                "group rates are defined for a binary head (selected or not); the first head `{}` is `task: {}`",
                head.name.as_str(),
                serde_json::to_value(head.task)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        ));
    }
    for (i, p) in f.protected.iter().enumerate() {
        let at = format!("fairness.protected[{i}]");
        if f.protected[..i].iter().any(|q| q.column == p.column) {
            return Err((
                format!("{at}.column"),
                format!("`{}` is named twice", p.column),
            ));
        }
        let Some(column) = m.data.columns.iter().find(|c| c.name == p.column) else {
            return Err((
                format!("{at}.column"),
                format!(
                    "no column `{}` in `data.columns`; a protected column must be declared",
                    p.column
                ),
            ));
        };
        if column.role != ColumnRole::Feature {
            return Err((
                format!("{at}.column"),
                format!(
                    "`{}` is not a feature column; groups are read from the model's input columns",
                    p.column
                ),
            ));
        }
        check_grouping(column, p, &at)?;
    }
    Ok(())
}

/// A numeric column has increasing edges; a category column's groups name
/// declared values, each once; neither has the other's setting.
fn check_grouping(column: &ColumnSpec, p: &ProtectedColumn, at: &str) -> Result<(), Problem> {
    let numeric = matches!(column.kind, ColumnType::Number | ColumnType::Integer);
    match (&p.edges, numeric) {
        (None, true) => {
            return Err((
                format!("{at}.edges"),
                format!(
                    "`{}` is numeric: give the cut points of its groups, e.g. `edges: [25, 40, 60]`",
                    p.column
                ),
            ));
        }
        (Some(_), false) => {
            return Err((
                format!("{at}.edges"),
                format!("`{}` is not numeric; edges apply to numbers", p.column),
            ));
        }
        (Some(edges), true) => {
            if edges.is_empty() {
                return Err((format!("{at}.edges"), "give at least one cut point".into()));
            }
            crate::limits::at_most(edges.len(), MAX_EDGES, &format!("{at}.edges"))?;
            if let Some(e) = edges.iter().find(|e| !e.is_finite()) {
                return Err((format!("{at}.edges"), format!("{e} is not a finite number")));
            }
            if let Some(w) = edges.windows(2).find(|w| w[0] >= w[1]) {
                return Err((
                    format!("{at}.edges"),
                    format!("cut points must increase; {} is followed by {}", w[0], w[1]),
                ));
            }
        }
        (None, false) => {}
    }
    if p.groups.is_empty() {
        return Ok(());
    }
    let Some(values) = column
        .values
        .as_ref()
        .filter(|_| column.kind == ColumnType::Category)
    else {
        return Err((
            format!("{at}.groups"),
            format!(
                "`{}` is not a category column; groups merge declared category values",
                p.column
            ),
        ));
    };
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, members) in &p.groups {
        if name.trim().is_empty() {
            return Err((format!("{at}.groups"), "a group name is empty".into()));
        }
        if members.is_empty() {
            return Err((
                format!("{at}.groups.{name}"),
                "list at least one value".into(),
            ));
        }
        for v in members {
            if !values.contains(v) {
                return Err((
                    format!("{at}.groups.{name}"),
                    format!("`{v}` is not one of `{}`'s declared values", p.column),
                ));
            }
            if let Some(other) = seen.insert(v, name) {
                return Err((
                    format!("{at}.groups.{name}"),
                    format!("`{v}` is already in group `{other}`"),
                ));
            }
        }
    }
    Ok(())
}

impl ProtectedColumn {
    /// The group a raw value of this column falls in (`None` for a
    /// missing value), by the column's declaration: the bin of a number,
    /// the named group or the value itself for a category, `true`/`false`.
    pub fn group_of(&self, column: &ColumnSpec, raw: f32) -> Option<String> {
        if raw.is_nan() {
            return None;
        }
        match column.kind {
            ColumnType::Category => {
                let value = column.values.as_ref()?.get(raw as usize)?;
                Some(
                    self.groups
                        .iter()
                        .find(|(_, members)| members.contains(value))
                        .map_or_else(|| value.clone(), |(name, _)| name.clone()),
                )
            }
            ColumnType::Boolean => Some((raw != 0.0).to_string()),
            _ => {
                let edges = self.edges.as_deref().unwrap_or_default();
                // Compared as the value was read (f32), so a value written
                // as the edge itself falls in the bin the edge opens.
                let above = edges.iter().take_while(|&&e| raw >= e as f32).count();
                Some(bin_name(edges, above))
            }
        }
    }

    /// Every group the column can form, in a stable order (bins low to
    /// high, categories as declared with named groups at their first
    /// member), so a report lists groups with no held-out rows too.
    pub fn all_groups(&self, column: &ColumnSpec) -> Vec<String> {
        match column.kind {
            ColumnType::Category => {
                let mut out: Vec<String> = Vec::new();
                for (i, _) in column.values.iter().flatten().enumerate() {
                    if let Some(g) = self.group_of(column, i as f32)
                        && !out.contains(&g)
                    {
                        out.push(g);
                    }
                }
                out
            }
            ColumnType::Boolean => vec!["false".into(), "true".into()],
            _ => {
                let edges = self.edges.as_deref().unwrap_or_default();
                (0..=edges.len()).map(|i| bin_name(edges, i)).collect()
            }
        }
    }
}

/// The name of bin `i` of `edges` (0: below the first edge).
fn bin_name(edges: &[f64], i: usize) -> String {
    match (i, edges.len()) {
        (_, 0) => "all".into(),
        (0, _) => format!("< {}", edges[0]),
        (i, n) if i >= n => format!(">= {}", edges[n - 1]),
        (i, _) => format!("[{}, {})", edges[i - 1], edges[i]),
    }
}
