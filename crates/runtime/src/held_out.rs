//! A run's held-out rows, one line each in `held_out.csv`: the row's
//! number in the file it was read from, the run's answer, the truth and,
//! for a cross-validated run, the fold that tested it. `indus eval RUN`
//! finds the rows again by those numbers, and `--export` hands the file
//! over.

use crate::artifacts::HELD_OUT;
use crate::decision::{Decided, Decision};
use crate::fairness::RowGroups;
use crate::prediction::Prediction;
use crate::predictions_csv::predictions_csv_with;
use crate::{LoadedRun, RuntimeError};
use indus_data::{DataLocations, Limits, RawTable, primary_head};
use indus_spec::PluginManifest;
use std::collections::HashMap;
use std::path::PathBuf;

/// What identifies each held-out row and what it truly was, taken from
/// the rows before they are consumed by training.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowKeys {
    /// 1-based row numbers in the file the rows were read from.
    pub source_rows: Vec<usize>,
    /// The rows' ids, when the schema has an id column.
    pub ids: Option<Vec<String>>,
    /// The target as text: class name, number or labels joined.
    pub truth: Vec<String>,
    /// Each protected column's group per row (the plugin's `fairness:`).
    pub groups: RowGroups,
}

impl RowKeys {
    /// The keys of every row of `rows`.
    pub fn of(plugin: &PluginManifest, classes: &[String], rows: &RawTable) -> RowKeys {
        let n = rows.len();
        let separator = separator(plugin);
        let truth = if let Some(labels) = &rows.labels {
            labels
                .iter()
                .map(|&l| classes.get(l as usize).cloned().unwrap_or_default())
                .collect()
        } else if let Some(values) = &rows.values {
            values.iter().map(f32::to_string).collect()
        } else if let Some(sets) = &rows.label_sets {
            sets.iter()
                .map(|set| {
                    set.iter()
                        .filter_map(|&l| classes.get(l as usize).map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(separator)
                })
                .collect()
        } else {
            vec![String::new(); n]
        };
        RowKeys {
            source_rows: (0..n).map(|i| rows.source_row(i)).collect(),
            ids: rows.ids.clone(),
            truth,
            groups: RowGroups::of(plugin, rows),
        }
    }

    /// The keys of rows `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> RowKeys {
        let pick = |v: &[String]| indices.iter().map(|&i| v[i].clone()).collect();
        RowKeys {
            source_rows: indices.iter().map(|&i| self.source_rows[i]).collect(),
            ids: self.ids.as_deref().map(pick),
            truth: pick(&self.truth),
            groups: self.groups.select(indices),
        }
    }
}

fn separator(plugin: &PluginManifest) -> &str {
    primary_head(plugin)
        .label_separator
        .as_deref()
        .unwrap_or("|")
}

/// The held-out rows and the run's answers as CSV: the columns of
/// `indus predict --out x.csv`, with `row` the row's number in its file,
/// then `truth` and, given `folds` (0-based, one per row), `fold`.
pub(crate) fn held_out_csv(
    plugin: &PluginManifest,
    decision: &Decision,
    classes: &[String],
    keys: &RowKeys,
    decided: &Decided,
    folds: Option<&[usize]>,
) -> String {
    let id_rows = RawTable {
        ids: keys.ids.clone(),
        ..RawTable::default()
    };
    let mut predictions =
        Prediction::from_decided(&id_rows, decided, decision, classes, separator(plugin));
    for (p, &row) in predictions.iter_mut().zip(&keys.source_rows) {
        p.row = row;
    }
    let mut extra = vec![("truth", keys.truth.clone())];
    if let Some(folds) = folds {
        extra.push(("fold", folds.iter().map(|f| (f + 1).to_string()).collect()));
    }
    predictions_csv_with(
        classes,
        decision.scores_are_probabilities(),
        &predictions,
        &extra,
        true,
    )
}

/// The `row` numbers of a `held_out.csv` (its first column), read with
/// quoted fields in mind: an id may hold a comma or a line break.
pub(crate) fn row_numbers(csv: &str) -> Result<Vec<usize>, String> {
    let mut rows = Vec::new();
    let (mut quoted, mut at_line_start, mut field) = (false, true, String::new());
    let mut line = 0usize;
    for c in csv.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => {
                at_line_start = true;
                field.clear();
                line += 1;
                continue;
            }
            ',' if !quoted && at_line_start => {
                if line > 0 {
                    rows.push(field.trim().parse::<usize>().map_err(|_| {
                        format!("line {}: `{field}` is not a row number", line + 1)
                    })?);
                }
                at_line_start = false;
                continue;
            }
            _ => {}
        }
        if at_line_start {
            field.push(c);
        }
    }
    Ok(rows)
}

/// What `indus eval RUN` scores when it is given no file of its own.
#[derive(Debug)]
pub enum HeldOutRows {
    /// Rows to score again with the run's model, and what they are.
    Rows {
        /// The rows, their labels read from the data again.
        rows: Box<RawTable>,
        /// What they are, for the user (`the official test file …`).
        what: String,
    },
    /// A cross-validated run: each row was tested by its fold's model,
    /// which is not kept (the served model trained on every row), so the
    /// held-out numbers are the ones recorded at training.
    OutOfFold,
}

impl LoadedRun {
    /// The rows this run was tested on, found again: the official test
    /// file, or the training file's rows `held_out.csv` names (a holdout,
    /// a split or time column), read from `data_dir` or else from the
    /// folder the run recorded. A data file whose digest differs from the
    /// one the run saw is refused: its row numbers no longer name the
    /// same rows.
    pub fn held_out_rows(
        &self,
        data_dir: Option<PathBuf>,
        limit: Option<usize>,
    ) -> Result<HeldOutRows, RuntimeError> {
        let environment = self.folder.environment()?;
        let locations = DataLocations::from_env(data_dir.or(environment.data_dir.clone()))
            .with_plugin_dir(environment.plugin_dir.clone());
        if indus_data::has_official_test(&self.plugin) {
            let rows = indus_data::load_test_split(&self.plugin, &locations, limit)?;
            let what = format!("the official test file ({} rows)", rows.len());
            return Ok(HeldOutRows::Rows {
                rows: Box::new(rows),
                what,
            });
        }
        if self.metrics.out_of_fold() {
            return Ok(HeldOutRows::OutOfFold);
        }
        let csv = self.folder.held_out()?.ok_or_else(|| {
            RuntimeError::run_folder(
                &self.folder.dir,
                format!("this run was made before its held-out rows were kept ({HELD_OUT}); evaluate on a file with --input"),
            )
        })?;
        let wanted = row_numbers(&csv)
            .map_err(|e| RuntimeError::run_folder(&self.folder.dir, format!("{HELD_OUT}: {e}")))?;
        let limits = Limits {
            train: self.scenario.data.train_limit.map(|c| c.get()),
            test: None,
        };
        let data = indus_data::load_dataset(&self.plugin, &locations, limits)?;
        for file in &data.files {
            let path = file.path.display().to_string();
            // The run may have found the file under another path.
            let recorded = environment
                .data_sha256
                .iter()
                .find(|(p, _)| std::path::Path::new(p).file_name() == file.path.file_name());
            let (Some(now), Some((_, then))) = (&file.sha256, recorded) else {
                continue;
            };
            if now != then {
                return Err(RuntimeError::Invalid(format!(
                    "{path} changed since the run (sha256 {now}; the run read {then}): its row numbers no longer name the run's held-out rows"
                )));
            }
        }
        let at: HashMap<usize, usize> = (0..data.train.len())
            .map(|i| (data.train.source_row(i), i))
            .collect();
        let mut picked = Vec::with_capacity(wanted.len());
        for row in &wanted {
            let i = at.get(row).ok_or_else(|| {
                RuntimeError::Invalid(format!(
                    "row {row} of the training file, held out by the run, is not in the file read now"
                ))
            })?;
            picked.push(*i);
        }
        let mut rows = data.train.select(&picked);
        if let Some(n) = limit {
            rows.truncate(n);
        }
        let what = format!(
            "the run's {} held-out rows of the training file ({}; their row numbers are in {HELD_OUT})",
            rows.len(),
            self.metrics.evaluation
        );
        Ok(HeldOutRows::Rows {
            rows: Box::new(rows),
            what,
        })
    }

    /// The run's held-out rows with its answers and the truth, as CSV
    /// (what `indus eval RUN --export FILE` writes).
    pub fn held_out_csv(&self) -> Result<String, RuntimeError> {
        self.folder.held_out()?.ok_or_else(|| {
            RuntimeError::run_folder(
                &self.folder.dir,
                format!("this run was made before its held-out rows were kept ({HELD_OUT})"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_numbers_read_back_past_quoted_ids() {
        let csv = "row,id,label\n4,\"a,b\",x\n17,\"line\nbreak\",y\n230,c,z\n";
        assert_eq!(row_numbers(csv).unwrap(), vec![4, 17, 230]);
        let e = row_numbers("row,id\nfour,a\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("four"), "{e}");
    }
}
