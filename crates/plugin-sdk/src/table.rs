//! Safe views of the Arrow batches that cross the boundary: named columns of
//! numbers or text, so hooks read and write plain vectors.

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, StringArray, StructArray};
use arrow_schema::{DataType, Field};
use std::sync::Arc;

/// One output column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers (NaN for missing).
    F64(Vec<f64>),
    /// Whole numbers.
    I64(Vec<i64>),
    /// Text.
    Text(Vec<String>),
}

impl Column {
    /// Rows in the column.
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn to_array(&self) -> ArrayRef {
        match self {
            Column::F64(v) => Arc::new(Float64Array::from(v.clone())),
            Column::I64(v) => Arc::new(Int64Array::from(v.clone())),
            Column::Text(v) => Arc::new(StringArray::from(v.clone())),
        }
    }
}

impl From<Vec<f64>> for Column {
    fn from(v: Vec<f64>) -> Self {
        Column::F64(v)
    }
}
impl From<Vec<i64>> for Column {
    fn from(v: Vec<i64>) -> Self {
        Column::I64(v)
    }
}
impl From<Vec<String>> for Column {
    fn from(v: Vec<String>) -> Self {
        Column::Text(v)
    }
}

/// Named columns a hook returns.
pub type Columns = Vec<(String, Column)>;

/// The numbers of column `name` among a hook's output (`None` when absent
/// or not numbers), to check what a hook derived.
pub fn f64_column<'a>(columns: &'a Columns, name: &str) -> Option<&'a [f64]> {
    columns.iter().find_map(|(n, c)| match c {
        Column::F64(v) if n == name => Some(v.as_slice()),
        _ => None,
    })
}

/// Numeric columns named by `names`, filled row by row: `row(i)` gives
/// row `i`'s values in the order of `names`. Most derived features are a
/// formula over one row, and this keeps each formula next to its name's
/// position instead of juggling one vector per column.
pub fn numeric_columns<const N: usize>(
    names: [&str; N],
    rows: usize,
    mut row: impl FnMut(usize) -> [f64; N],
) -> Columns {
    let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(rows); N];
    for i in 0..rows {
        for (column, v) in out.iter_mut().zip(row(i)) {
            column.push(v);
        }
    }
    names
        .iter()
        .zip(out)
        .map(|(name, v)| (name.to_string(), Column::F64(v)))
        .collect()
}

/// A batch of named columns, all of one length.
#[derive(Debug, Clone)]
pub struct Table {
    array: StructArray,
}

impl Table {
    /// Wraps a struct array received over the boundary.
    pub fn from_struct(array: StructArray) -> Table {
        Table { array }
    }

    /// Builds a table from columns of equal length.
    pub fn from_columns(columns: &Columns, rows: usize) -> Result<Table, String> {
        if let Some((name, c)) = columns.iter().find(|(_, c)| c.len() != rows) {
            return Err(format!(
                "column `{name}` has {} rows, expected {rows}",
                c.len()
            ));
        }
        if columns.is_empty() {
            return Ok(Table {
                array: StructArray::new_empty_fields(rows, None),
            });
        }
        let fields: Vec<(Arc<Field>, ArrayRef)> = columns
            .iter()
            .map(|(name, c)| {
                let a = c.to_array();
                (Arc::new(Field::new(name, a.data_type().clone(), true)), a)
            })
            .collect();
        Ok(Table {
            array: StructArray::from(fields),
        })
    }

    /// One row of numbers by column name: the shortest way to feed a hook
    /// a hand-checked example in a plugin's unit test.
    pub fn from_numbers(row: &[(&str, f64)]) -> Result<Table, String> {
        let columns: Columns = row
            .iter()
            .map(|(name, v)| (name.to_string(), Column::F64(vec![*v])))
            .collect();
        Table::from_columns(&columns, 1)
    }

    /// The first `n` rows (all when there are fewer).
    pub fn slice_rows(&self, n: usize) -> Table {
        Table {
            array: self.array.slice(0, n.min(self.len())),
        }
    }

    /// The underlying struct array.
    pub fn as_struct(&self) -> &StructArray {
        &self.array
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.array.len()
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.array.is_empty()
    }

    /// Column names in order.
    pub fn names(&self) -> Vec<String> {
        self.array
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn column(&self, name: &str) -> Result<&ArrayRef, String> {
        self.array
            .column_by_name(name)
            .ok_or_else(|| format!("no column `{name}` (have: {})", self.names().join(", ")))
    }

    /// A numeric column as `f64` (missing values as NaN).
    pub fn f64(&self, name: &str) -> Result<Vec<f64>, String> {
        let c = self.column(name)?;
        match c.data_type() {
            DataType::Float64 => {
                let a = c.as_any().downcast_ref::<Float64Array>().ok_or("not f64")?;
                Ok((0..a.len())
                    .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
                    .collect())
            }
            DataType::Int64 => {
                let a = c.as_any().downcast_ref::<Int64Array>().ok_or("not i64")?;
                Ok((0..a.len())
                    .map(|i| {
                        if a.is_null(i) {
                            f64::NAN
                        } else {
                            a.value(i) as f64
                        }
                    })
                    .collect())
            }
            other => Err(format!("column `{name}` is {other}, not a number")),
        }
    }

    /// A text column (missing values as `None`).
    pub fn text(&self, name: &str) -> Result<Vec<Option<String>>, String> {
        let c = self.column(name)?;
        let a = c
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| format!("column `{name}` is {}, not text", c.data_type()))?;
        Ok((0..a.len())
            .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
            .collect())
    }

    /// Every column with its type, for hosts reading results.
    pub fn columns(&self) -> Result<Columns, String> {
        self.names()
            .into_iter()
            .map(|name| {
                let c = self.column(&name)?;
                let col = match c.data_type() {
                    DataType::Float64 => Column::F64(self.f64(&name)?),
                    DataType::Int64 => {
                        let a = c.as_any().downcast_ref::<Int64Array>().ok_or("not i64")?;
                        Column::I64(a.values().to_vec())
                    }
                    DataType::Utf8 => Column::Text(
                        self.text(&name)?
                            .into_iter()
                            .map(Option::unwrap_or_default)
                            .collect(),
                    ),
                    other => {
                        return Err(format!("column `{name}` is {other}; use f64, i64 or text"));
                    }
                };
                Ok((name, col))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_columns_are_filled_row_by_row_under_their_names() {
        let area = [2.0, 3.0, 4.0];
        let cols = numeric_columns(["double", "square"], 3, |i| {
            [2.0 * area[i], area[i] * area[i]]
        });
        assert_eq!(f64_column(&cols, "double"), Some(&[4.0, 6.0, 8.0][..]));
        assert_eq!(f64_column(&cols, "square"), Some(&[4.0, 9.0, 16.0][..]));
        assert!(
            numeric_columns(["none"], 0, |_| [1.0])
                .iter()
                .all(|(_, c)| c.is_empty())
        );
    }

    #[test]
    fn columns_round_trip_through_a_table() {
        let cols: Columns = vec![
            ("a".into(), Column::F64(vec![1.0, f64::NAN])),
            ("b".into(), Column::Text(vec!["x".into(), "y".into()])),
            ("c".into(), Column::I64(vec![3, 4])),
        ];
        let t = Table::from_columns(&cols, 2).unwrap();
        let back = t.columns().unwrap();
        assert_eq!(back[1], cols[1]);
        assert_eq!(back[2], cols[2]);
        assert!(t.f64("a").unwrap()[1].is_nan());
        assert!(t.text("a").unwrap_err().contains("not text"));
        assert!(
            Table::from_columns(&cols, 3)
                .unwrap_err()
                .contains("has 2 rows")
        );
    }
}
