//! Lookup tables joined onto rows by a key: user and item details onto
//! ratings, branch details onto transactions. One implementation serves
//! training files, prediction files and API requests, so a request that
//! names only a user and an item gets the same side features training saw.

use crate::DataError;
use crate::rows::{CsvLayout, json_text, read_text_csv};
use polars::prelude::*;
use std::collections::HashMap;

/// Problems reported per join before giving up (the rest are counted).
const SHOWN_PROBLEMS: usize = 50;

/// A table keyed by one column, with every cell kept as text.
#[derive(Debug, Clone)]
pub struct LookupTable {
    /// The file's role in the plugin's `data.source.files`.
    pub file: String,
    /// The key column shared with the main rows.
    pub on: String,
    /// Where the table came from, for messages.
    pub source_name: String,
    /// Column names other than the key, in file order.
    columns: Vec<String>,
    /// Key → row index.
    index: HashMap<String, usize>,
    /// `cells[column][row]`.
    cells: Vec<Vec<Option<String>>>,
    /// The file as read, so a run can keep an exact copy for serving.
    pub bytes: Vec<u8>,
}

impl LookupTable {
    /// Parses a CSV lookup table (header row required) and indexes it by
    /// `on`, refusing a missing key column, empty keys and duplicate keys.
    pub fn parse(
        file: &str,
        on: &str,
        source_name: &str,
        bytes: Vec<u8>,
        layout: CsvLayout,
    ) -> Result<LookupTable, DataError> {
        let schema_error = |message: String| DataError::Schema {
            source_name: source_name.to_string(),
            message,
        };
        let df = read_text_csv(
            source_name,
            bytes.clone(),
            CsvLayout {
                header: true,
                ..layout
            },
        )?;
        let text = |name: &str| -> Result<Vec<Option<String>>, DataError> {
            let column = df
                .column(name)
                .map_err(|_| schema_error(format!("missing the join key column `{name}`")))?;
            let text = column.str().map_err(|e| schema_error(e.to_string()))?;
            Ok(text
                .iter()
                .map(|v| v.map(|s| s.trim().to_string()))
                .collect())
        };
        let keys = text(on)?;
        let mut index = HashMap::with_capacity(keys.len());
        let mut problems = Vec::new();
        for (row, key) in keys.into_iter().enumerate() {
            match key.filter(|k| !k.is_empty()) {
                None => problems.push(DataError::row(source_name, row + 1, Some(on), "empty key")),
                Some(k) => {
                    if let Some(first) = index.insert(k.clone(), row) {
                        problems.push(DataError::row(
                            source_name,
                            row + 1,
                            Some(on),
                            format!("key `{k}` already appears in row {}", first + 1),
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(DataError::rows(source_name, problems, SHOWN_PROBLEMS));
        }
        let columns: Vec<String> = df
            .get_column_names()
            .into_iter()
            .map(|c| c.to_string())
            .filter(|c| c != on)
            .collect();
        let cells = columns
            .iter()
            .map(|c| text(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LookupTable {
            file: file.to_string(),
            on: on.to_string(),
            source_name: source_name.to_string(),
            columns,
            index,
            cells,
            bytes,
        })
    }

    /// Column names other than the key, in file order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Number of keyed rows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// The table's columns for `key` (key excluded), as text.
    pub fn row(&self, key: &str) -> Option<Vec<(&str, Option<&str>)>> {
        let &r = self.index.get(key.trim())?;
        Some(
            self.columns
                .iter()
                .zip(&self.cells)
                .map(|(name, col)| (name.as_str(), col[r].as_deref()))
                .collect(),
        )
    }

    /// Adds the table's columns that `df` lacks, matched on the key. Every
    /// main row whose key is missing or unknown is reported (row numbers of
    /// `main_source`), and nothing is joined then.
    pub fn join_onto(&self, df: &mut DataFrame, main_source: &str) -> Result<(), DataError> {
        let keys = df
            .column(&self.on)
            .map_err(|_| DataError::Schema {
                source_name: main_source.to_string(),
                message: format!(
                    "missing column `{}`, the key joining `{}`",
                    self.on, self.source_name
                ),
            })?
            .str()
            .map_err(|e| DataError::Schema {
                source_name: main_source.to_string(),
                message: e.to_string(),
            })?
            .clone();
        let mut rows = Vec::with_capacity(keys.len());
        let mut problems = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let key = key.map(str::trim).unwrap_or_default();
            match self.index.get(key) {
                Some(&r) => rows.push(r),
                None => {
                    problems.push(DataError::row(
                        main_source,
                        i + 1,
                        Some(&self.on),
                        format!("key `{key}` has no match in {}", self.source_name),
                    ));
                    rows.push(0);
                }
            }
        }
        if !problems.is_empty() {
            return Err(DataError::rows(main_source, problems, SHOWN_PROBLEMS));
        }
        for (name, col) in self.columns.iter().zip(&self.cells) {
            if df.column(name).is_ok() {
                continue; // the main rows' own value wins
            }
            let values: Vec<Option<&str>> = rows.iter().map(|&r| col[r].as_deref()).collect();
            df.with_column(Column::new(name.as_str().into(), values))
                .map_err(|e| DataError::Schema {
                    source_name: main_source.to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// Fills the fields a JSON row object lacks from the table row of its
    /// key; a row without the key, or with an unknown one, is an error
    /// message for that row.
    pub fn fill_json(
        &self,
        obj: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        let key = obj
            .get(&self.on)
            .and_then(|v| json_text(v).ok().flatten())
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| format!("missing `{}`, the key of {}", self.on, self.file))?;
        let Some(row) = self.row(&key) else {
            return Err(format!(
                "`{}` = `{key}` has no match in {}",
                self.on, self.file
            ));
        };
        for (name, value) in row {
            obj.entry(name.to_string()).or_insert_with(|| {
                value.map_or(serde_json::Value::Null, |v| {
                    serde_json::Value::String(v.into())
                })
            });
        }
        Ok(())
    }
}

/// Fills every JSON row from every table, collecting one problem per row
/// and table (row numbers as given).
pub fn fill_json_rows(
    tables: &[LookupTable],
    source_name: &str,
    rows: &mut [(usize, serde_json::Value)],
) -> Result<(), DataError> {
    if tables.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    for (row, value) in rows.iter_mut() {
        let Some(obj) = value.as_object_mut() else {
            continue; // rows_from_json reports it
        };
        for t in tables {
            if let Err(m) = t.fill_json(obj) {
                problems.push(DataError::row(source_name, *row, Some(&t.on), m));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DataError::rows(source_name, problems, SHOWN_PROBLEMS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> LookupTable {
        LookupTable::parse(
            "users",
            "user_id",
            "users.csv",
            b"user_id,age,gender\n1,24,M\n2,53,F\n".to_vec(),
            CsvLayout::INPUT,
        )
        .unwrap()
    }

    #[test]
    fn joins_side_columns_in_row_order_and_keeps_own_values() {
        let mut df = read_text_csv(
            "ratings.csv",
            b"user_id,item_id,age\n2,10,99\n1,11,98\n2,12,97\n".to_vec(),
            CsvLayout::INPUT,
        )
        .unwrap();
        users().join_onto(&mut df, "ratings.csv").unwrap();
        let gender: Vec<Option<&str>> =
            df.column("gender").unwrap().str().unwrap().iter().collect();
        assert_eq!(gender, [Some("F"), Some("M"), Some("F")]);
        let age: Vec<Option<&str>> = df.column("age").unwrap().str().unwrap().iter().collect();
        assert_eq!(age, [Some("99"), Some("98"), Some("97")], "own column wins");
    }

    #[test]
    fn every_unmatched_key_is_named_by_row() {
        let mut df = read_text_csv(
            "ratings.csv",
            b"user_id,item_id\n1,10\n7,11\n2,12\n9,13\n".to_vec(),
            CsvLayout::INPUT,
        )
        .unwrap();
        let err = users()
            .join_onto(&mut df, "ratings.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2") && err.contains("`7`"), "{err}");
        assert!(err.contains("row 4") && err.contains("`9`"), "{err}");
        assert!(err.contains("users.csv"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = LookupTable::parse(
            "users",
            "user_id",
            "users.csv",
            b"user_id,age\n1,24\n1,25\n".to_vec(),
            CsvLayout::INPUT,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("row 2") && err.contains("already appears in row 1"),
            "{err}"
        );
    }

    #[test]
    fn json_rows_get_the_same_side_columns() {
        let mut rows = vec![
            (1, serde_json::json!({"user_id": 2, "item_id": 10})),
            (2, serde_json::json!({"user_id": "5", "item_id": 10})),
        ];
        let err = fill_json_rows(&[users()], "request", &mut rows)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2") && err.contains("`5`"), "{err}");
        assert_eq!(rows[0].1["gender"], "F");
        assert_eq!(rows[0].1["age"], "53");
    }
}
