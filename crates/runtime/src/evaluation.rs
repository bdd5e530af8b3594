//! How a run's held-out numbers are obtained. The plan is chosen from the
//! scenario and plugin before any data is read (so a scenario that cannot
//! be evaluated fails at once, naming its file and field); then the test
//! rows are carved out of the loaded data, and a fit is scored on them.

use crate::RuntimeError;
use crate::decision::Decided;
use crate::fairness::FairnessReport;
use crate::fit::Fitted;
use crate::held_out::{RowKeys, held_out_csv};
use crate::importance::{ImportanceSamples, measure_importance};
use crate::model::Scored;
use crate::novelty_guard::GuardReport;
use crate::project::ResolvedScenario;
use crate::secondary_heads::SecondaryScores;
use indus_data::{LoadedData, RawTable};
use indus_engine::metrics::ClassificationMetrics;
use indus_engine::multilabel::{MultilabelMetrics, multilabel_metrics};
use indus_engine::rating::{RegressionMetrics, regression_metrics};
use indus_plugin::NativePlugin;
use indus_spec::{ColumnRole, PluginManifest, Scenario, SpecError, SplitColumn, Task, TimeSplit};

/// Where the test rows come from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TestRows {
    /// The data set's official test file.
    Official,
    /// Rows whose `role: split` column holds one of the listed values.
    SplitColumn(SplitColumn),
    /// The latest share of rows by a time column.
    TimeOrdered(TimeSplit),
    /// A seeded share of the rows (stratified for classes).
    Holdout {
        /// Share of rows held out.
        fraction: f64,
    },
    /// No test rows: every row is held out once, in its fold.
    OutOfFold,
}

/// The evaluation protocol of a run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EvaluationPlan {
    /// Where the test rows come from.
    pub test_rows: TestRows,
    /// k-fold cross-validation of the training rows: `(k, repeats)`.
    pub folds: Option<(usize, usize)>,
}

/// How `metrics.json`'s `evaluation` starts for a run scored on the data
/// set's official test file (with or without folds on the training rows).
pub(crate) const OFFICIAL_TEST: &str = "official test split";

/// The share of rows a holdout keeps for testing when the scenario names
/// none.
pub(crate) const DEFAULT_TEST_FRACTION: f64 = 0.2;

impl EvaluationPlan {
    /// Chooses the protocol and checks every rule that needs only the two
    /// files: a test split named twice, a split column that is not one, a
    /// recommender or a multilabel head on folds.
    pub fn choose(resolved: &ResolvedScenario) -> Result<EvaluationPlan, RuntimeError> {
        let (scenario, plugin) = (&resolved.scenario, &resolved.plugin);
        let text = std::fs::read_to_string(&resolved.scenario_file).unwrap_or_default();
        let refuse = |field: &str, message: String| -> RuntimeError {
            SpecError::field(&resolved.scenario_file, field, message)
                .locate_in(&text)
                .into()
        };
        let official = indus_data::has_official_test(plugin);
        let require_split_column = |name: &str, field: &str| {
            let declared = plugin
                .data
                .columns
                .iter()
                .any(|c| c.name == name && c.role == ColumnRole::Split);
            if declared {
                Ok(())
            } else {
                Err(refuse(
                    field,
                    format!(
                        "plugin `{}` has no `role: split` column named `{name}`",
                        plugin.name
                    ),
                ))
            }
        };
        let data = &scenario.data;
        // Naming both a split column and a time split is refused when the
        // scenario is parsed.
        let test_rows = match (&data.split_column, &data.time_split) {
            (Some(_), _) if official => {
                return Err(refuse(
                    "data.split_column",
                    "the plugin already has an official test file".into(),
                ));
            }
            (None, Some(_)) if official => {
                return Err(refuse(
                    "data.time_split",
                    "the plugin already has an official test file".into(),
                ));
            }
            (Some(split), _) => {
                require_split_column(&split.name, "data.split_column.name")?;
                TestRows::SplitColumn(split.clone())
            }
            (None, Some(split)) => {
                require_split_column(&split.column, "data.time_split.column")?;
                TestRows::TimeOrdered(split.clone())
            }
            (None, None) if official => TestRows::Official,
            (None, None) if data.folds.is_some() => TestRows::OutOfFold,
            (None, None) => TestRows::Holdout {
                fraction: data
                    .test_fraction
                    .map_or(DEFAULT_TEST_FRACTION, |f| f.get()),
            },
        };
        let folds = data
            .folds
            .map(|k| (k.get(), data.repeats.map_or(1, |r| r.get())));
        let task = indus_data::primary_head(plugin).task;
        if task == Task::UserItem
            && (folds.is_some() || matches!(test_rows, TestRows::Holdout { .. }))
        {
            return Err(refuse(
                if folds.is_some() {
                    "data.folds"
                } else {
                    "data"
                },
                format!(
                    "scenario `{}`: a user_item head is evaluated on an official test split (a `test` file or `data.split_column`), not on folds or a random holdout",
                    scenario.name
                ),
            ));
        }
        if task == Task::Multilabel && folds.is_some() {
            return Err(refuse(
                "data.folds",
                format!(
                    "scenario `{}`: multilabel heads are evaluated on a holdout or an official test split; cross-validation (data.folds) is not supported for them yet",
                    scenario.name
                ),
            ));
        }
        Ok(EvaluationPlan { test_rows, folds })
    }

    /// Moves the test rows the plan names out of the training rows (split
    /// column, time order); returns how the test rows were chosen, for
    /// `metrics.json`. Official and out-of-fold test rows need no carving;
    /// a holdout is drawn when fitting.
    pub fn carve_test_rows(
        &self,
        data: &mut LoadedData,
        plugin: &PluginManifest,
    ) -> Result<String, RuntimeError> {
        match &self.test_rows {
            TestRows::SplitColumn(split) => {
                let marks = data
                    .train
                    .split_column(&split.name)
                    .map(<[String]>::to_vec)
                    .ok_or_else(|| {
                        RuntimeError::Invalid(format!(
                            "data.split_column: plugin `{}` has no `role: split` column named `{}` in its data",
                            plugin.name, split.name
                        ))
                    })?;
                let (test_idx, train_idx): (Vec<usize>, Vec<usize>) =
                    (0..marks.len()).partition(|&i| split.test.contains(&marks[i]));
                if test_idx.is_empty() || train_idx.is_empty() {
                    return Err(RuntimeError::Invalid(format!(
                        "data.split_column: {} of {} rows have `{}` in {:?}; both splits need rows",
                        test_idx.len(),
                        marks.len(),
                        split.name,
                        split.test
                    )));
                }
                data.test = Some(data.train.select(&test_idx));
                data.train = data.train.select(&train_idx);
                Ok(format!(
                    "official split: rows with `{}` in {:?} are the test rows",
                    split.name, split.test
                ))
            }
            TestRows::TimeOrdered(split) => {
                let (train, test) = time_ordered_split(&data.train, split)?;
                data.test = Some(test);
                data.train = train;
                Ok(format!(
                    "time-ordered: the latest {:.0} % of rows by `{}` are the test rows",
                    split.test_fraction.get() * 100.0,
                    split.column
                ))
            }
            _ => Ok(OFFICIAL_TEST.to_string()),
        }
    }
}

/// Splits off the latest rows by the time column as the test split (ties
/// keep file order; every row of the cut-off time goes to the same side).
fn time_ordered_split(
    table: &RawTable,
    split: &TimeSplit,
) -> Result<(RawTable, RawTable), RuntimeError> {
    let marks = table.split_column(&split.column).ok_or_else(|| {
        RuntimeError::Invalid(format!(
            "data.time_split: the rows carry no `role: split` column named `{}`",
            split.column
        ))
    })?;
    let mut times = Vec::with_capacity(marks.len());
    for (row, text) in marks.iter().enumerate() {
        let t: f64 = text.parse().map_err(|_| {
            indus_data::DataError::row(
                &format!("column `{}`", split.column),
                row + 1,
                Some(&split.column),
                format!("`{text}` is not a number; a time split needs numeric times"),
            )
        })?;
        times.push(t);
    }
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]).then(a.cmp(&b)));
    let mut cut = ((1.0 - split.test_fraction.get()) * order.len() as f64).round() as usize;
    // Rows stamped with the same time as the first test row are test rows too.
    while cut > 0 && cut < order.len() && times[order[cut - 1]] == times[order[cut]] {
        cut -= 1;
    }
    if cut == 0 || cut == order.len() {
        return Err(RuntimeError::Invalid(format!(
            "data.time_split: `{}` leaves no rows on one side of the cut",
            split.column
        )));
    }
    let mut train_idx = order[..cut].to_vec();
    let mut test_idx = order[cut..].to_vec();
    train_idx.sort_unstable();
    test_idx.sort_unstable();
    Ok((table.select(&train_idx), table.select(&test_idx)))
}

/// What scoring held-out rows records, beside the model that was scored.
#[derive(Default)]
pub(crate) struct HeldOutScores {
    /// Classification metrics (absent for values and multilabel heads).
    pub test: Option<ClassificationMetrics>,
    /// Heads that predict a number: their error.
    pub regression: Option<RegressionMetrics>,
    /// Multilabel heads: per-label and pooled metrics.
    pub multilabel: Option<MultilabelMetrics>,
    /// The novelty guard's report, with a guard.
    pub novelty_guard: Option<GuardReport>,
    /// Each secondary head's predictions for the rows.
    pub secondary: Vec<SecondaryScores>,
    /// The primary head's decisions row by row (absent for pooled
    /// out-of-fold predictions, which no single model made).
    pub decided: Option<Decided>,
    /// How many rows were held out.
    pub rows: usize,
    /// The held-out rows with their answers and truth (`held_out.csv`).
    pub held_out: Option<String>,
    /// Per-group rates on the held-out rows, with a `fairness:` section.
    pub fairness: Option<FairnessReport>,
}

/// The pieces of a run that scoring needs besides the model.
pub(crate) struct Scoring<'a> {
    pub plugin: &'a PluginManifest,
    pub scenario: &'a Scenario,
    pub classes: &'a [String],
    pub native: Option<&'a NativePlugin>,
}

impl Scoring<'_> {
    /// True for a head whose only numbers are errors of a value.
    fn plain_regression(&self) -> bool {
        indus_data::primary_head(self.plugin).task == Task::Regression
    }

    /// The classification metrics of scored rows, with the plugin's own
    /// when it has a metrics hook; none for values and multilabel heads.
    pub fn test_metrics(&self, s: &Scored) -> Result<Option<ClassificationMetrics>, RuntimeError> {
        if self.plain_regression() || s.multi_hot.is_some() {
            return Ok(None);
        }
        let mut m = s.metrics(self.classes);
        if let Some(n) = self.native
            && n.has_metrics()
        {
            m.custom =
                crate::hooks::custom_metrics(n, self.classes, &s.probs, &s.predicted, &s.labels)?;
        }
        Ok(Some(m))
    }

    /// Scores `fitted` on held-out `rows` (measuring permutation importance
    /// on them first).
    pub fn score_held_out(
        &self,
        fitted: &Fitted,
        rows: RawTable,
        importance: &mut Option<ImportanceSamples>,
    ) -> Result<HeldOutScores, RuntimeError> {
        let n = rows.len();
        let keys = RowKeys::of(self.plugin, &fitted.model.classes, &rows);
        measure_importance(
            importance,
            self.plugin,
            &fitted.model,
            &rows,
            self.classes,
            self.scenario.seed,
        )?;
        let mut scored = fitted.model.score(&rows)?;
        let mut out = HeldOutScores {
            test: self.test_metrics(&scored)?,
            novelty_guard: fitted.guard_report(&scored),
            rows: n,
            ..HeldOutScores::default()
        };
        if let Some((predicted, truth)) = &scored.values {
            out.regression = Some(regression_metrics(predicted, truth));
        }
        if let Some(truth) = &scored.multi_hot {
            out.multilabel = Some(multilabel_metrics(&scored.probs, truth, self.classes));
        }
        out.secondary = std::mem::take(&mut scored.secondary);
        out.fairness = crate::fairness::of_scored(
            self.plugin,
            &fitted.model.classes,
            &keys.groups,
            &scored.probs,
            &scored.predicted,
            &scored.labels,
        );
        let decided = Decided {
            probabilities: scored.probs,
            classes: scored.predicted,
            values: scored.values.map(|(v, _)| v).unwrap_or_default(),
        };
        out.held_out = Some(held_out_csv(
            self.plugin,
            &fitted.model.decision,
            &fitted.model.classes,
            &keys,
            &decided,
            None,
        ));
        out.decided = Some(decided);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn time_split_tests_on_the_latest_rows_and_keeps_ties_together() {
        let table = RawTable {
            features: (0..6).map(|i| i as f32).collect(),
            width: 1,
            splits: vec![(
                "t".into(),
                ["50", "10", "40", "40", "20", "30"]
                    .map(String::from)
                    .to_vec(),
            )],
            ..Default::default()
        };
        let split = TimeSplit {
            column: "t".into(),
            test_fraction: indus_spec::Fraction::try_from(0.4).unwrap(),
        };
        let (train, test) = time_ordered_split(&table, &split).unwrap();
        // Times 10, 20, 30 train; 40, 40, 50 test (the cut at 4 of 6 rows
        // would split the two rows at time 40, so both go to test).
        assert_eq!(train.features, [1.0, 4.0, 5.0]);
        assert_eq!(test.features, [0.0, 2.0, 3.0]);
        let bad = RawTable {
            splits: vec![("t".into(), vec!["1".into(), "soon".into()])],
            features: vec![0.0, 1.0],
            width: 1,
            ..Default::default()
        };
        let err = time_ordered_split(&bad, &split).unwrap_err().to_string();
        assert!(err.contains("row 2") && err.contains("soon"), "{err}");
    }

    fn resolved(data: &str, task: &str) -> (tempfile::TempDir, ResolvedScenario) {
        let dir = tempfile::tempdir().unwrap();
        let scenario_file = dir.path().join("s.yaml");
        let text = format!(
            "name: s\nplugin: p\ndata: {data}\nmodel: {{hidden: [4]}}\ntraining: {{epochs: 1, batch_size: 8, optimizer: {{kind: adam, learning_rate: 0.01}}}}\nseed: 1\n"
        );
        std::fs::write(&scenario_file, &text).unwrap();
        let head = match task {
            "user_item" => "{name: y, task: user_item, target: y, user: u, item: i, liked_at: 4}",
            _ => "{name: y, task: binary, target: y}",
        };
        let plugin = indus_spec::parse_plugin(
            Path::new("p.yaml"),
            &format!("name: p\nindustry: t\ndescription: t\ndata:\n  source: {{format: csv, dataset: p, files: {{train: {{name: t.csv}}}}}}\n  columns:\n    - {{name: u, type: integer, role: feature, encoding: embedding, embedding_dim: 4}}\n    - {{name: i, type: integer, role: feature, encoding: embedding, embedding_dim: 4}}\n    - {{name: t, type: integer, role: split}}\n    - {{name: y, type: integer, role: target, range: [0, 5]}}\nheads:\n  - {head}\n"),
        )
        .unwrap();
        let scenario = indus_spec::parse_scenario(&scenario_file, &text).unwrap();
        // The folder must outlive the plan's check, which reads the file
        // for line numbers.
        let resolved = ResolvedScenario {
            scenario_file,
            scenario,
            plugin_file: "p.yaml".into(),
            plugin,
        };
        (dir, resolved)
    }

    /// The plan of a scenario with `data` and a plugin head of `task`.
    fn plan_for((data, task): (&str, &str)) -> Result<EvaluationPlan, RuntimeError> {
        let (_dir, resolved) = resolved(data, task);
        EvaluationPlan::choose(&resolved)
    }

    #[test]
    fn the_plan_is_chosen_and_checked_before_any_data_is_read() {
        let plan = plan_for(("{folds: 5, repeats: 2}", "binary")).unwrap();
        assert_eq!(plan.test_rows, TestRows::OutOfFold);
        assert_eq!(plan.folds, Some((5, 2)));
        let plan = plan_for(("{}", "binary")).unwrap();
        assert_eq!(
            plan.test_rows,
            TestRows::Holdout {
                fraction: DEFAULT_TEST_FRACTION
            }
        );
        let err = plan_for(("{split_column: {name: u, test: ['1']}}", "binary"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.yaml")
                && err.contains("split_column")
                && err.contains("no `role: split` column named `u`"),
            "{err}"
        );
        let err = plan_for(("{folds: 5}", "user_item"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.yaml") && err.contains("data.folds") && err.contains("user_item"),
            "{err}"
        );
        let plan =
            plan_for(("{time_split: {column: t, test_fraction: 0.2}}", "user_item")).unwrap();
        assert!(matches!(plan.test_rows, TestRows::TimeOrdered(_)));
    }
}
