//! The model card of a run (`model_card.json` and `model_card.md`): what
//! the model is for, what data it learned from (files and digests, not
//! paths), how it was tested, its numbers beside the published baselines,
//! its results per group, what the data-quality checks found, what it
//! leans on, its declared limits and the software that made it. Built
//! from the run's own recorded files, so the card in the run folder and
//! the one the server answers with are the same.

use crate::environment::Environment;
use crate::fairness::FairnessReport;
use crate::metrics::{RowCounts, RunMetrics};
use indus_spec::{PluginManifest, Scenario};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Columns of permutation importance a card lists.
const IMPORTANCE_SHOWN: usize = 10;

/// A run's model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Scenario name.
    pub scenario: String,
    /// Run id.
    pub run_id: String,
    /// When training started (UTC, RFC 3339).
    pub trained_at: String,
    /// Plugin name.
    pub plugin: String,
    /// The plugin's industry.
    pub industry: String,
    /// The plugin's and the scenario's descriptions.
    pub description: String,
    /// The use the plugin declares the model is meant for.
    pub intended_use: Option<String>,
    /// What the model was trained to predict: head, task, classes.
    pub predicts: String,
    /// The data it learned from.
    pub data: CardData,
    /// How the held-out numbers were obtained.
    pub evaluation: String,
    /// The headline metrics on held-out rows, with published baselines.
    pub metrics: Vec<CardMetric>,
    /// The scenario's target and whether this run clears it.
    pub target: Option<CardTarget>,
    /// Results per group of each protected column.
    pub fairness: Option<FairnessReport>,
    /// The data-quality findings, one sentence each (empty: none).
    pub data_quality: Vec<String>,
    /// The columns the model leans on most (permutation importance).
    pub importance: Vec<CardImportance>,
    /// The plugin's declared limits, then those the run itself shows.
    pub limitations: Vec<String>,
    /// Software and machine that made the model.
    pub versions: CardVersions,
}

/// The data a model learned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardData {
    /// Data set name and format.
    pub dataset: String,
    /// Each data file by name, with its SHA-256.
    pub files: Vec<CardFile>,
    /// Rows used for training, validation and test.
    pub rows: RowCounts,
    /// Whether every training row was tested once, by the fold model that
    /// had not seen it (the test count is then the training rows).
    pub out_of_fold: bool,
    /// Training rows left out as unreadable (`data.on_bad_rows: skip`).
    pub skipped_rows: usize,
}

/// One data file: its name (not where it lay) and digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardFile {
    /// File name.
    pub name: String,
    /// SHA-256 of its content.
    pub sha256: String,
}

/// A held-out metric beside the published one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardMetric {
    /// Metric name as in `metrics.json`.
    pub metric: String,
    /// This run's held-out value (the mean over folds when cross-validated).
    pub value: Option<f64>,
    /// A published value of the metric, when the plugin cites one.
    pub baseline: Option<f64>,
    /// Who published it.
    pub baseline_source: Option<String>,
}

/// The scenario's target and this run's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardTarget {
    /// The bar, e.g. `roc_auc ≥ 0.8`.
    pub bar: String,
    /// This run's value.
    pub value: Option<f64>,
    /// Whether it clears the bar.
    pub met: Option<bool>,
}

/// One column's permutation importance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardImportance {
    /// The column.
    pub column: String,
    /// Headline metric lost when the column is shuffled.
    pub loss: f64,
}

/// What made the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardVersions {
    /// indus version.
    pub indus: String,
    /// burn version.
    pub burn: String,
    /// Backend the model trained on.
    pub backend: String,
    /// Git revision of the project, when known.
    pub git_revision: Option<String>,
    /// Operating system and architecture.
    pub platform: String,
}

impl ModelCard {
    /// The card of a run from what it recorded.
    pub fn of(
        scenario: &Scenario,
        plugin: &PluginManifest,
        metrics: &RunMetrics,
        environment: &Environment,
    ) -> ModelCard {
        let head = indus_data::primary_head(plugin);
        let predicts = format!(
            "head `{}` ({}{})",
            head.name.as_str(),
            serde_json::to_value(head.task)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            head.classes
                .as_ref()
                .map(|c| format!(", classes {}", c.join(", ")))
                .unwrap_or_default()
        );
        let files = environment
            .data_sha256
            .iter()
            .map(|(path, sha256)| CardFile {
                name: std::path::Path::new(path)
                    .file_name()
                    .map_or_else(|| path.clone(), |f| f.to_string_lossy().into_owned()),
                sha256: sha256.clone(),
            })
            .collect();
        let (headline, _) = metrics.headline(plugin);
        let mut names = vec![headline];
        for b in &plugin.baselines {
            if b.applies_to(scenario.name.as_str(), &metrics.head, head.name.as_str())
                && !names.contains(&b.metric)
            {
                names.push(b.metric.clone());
            }
        }
        let card_metrics = names
            .into_iter()
            .map(|name| {
                let baseline = plugin.baselines.iter().find(|b| {
                    b.metric == name
                        && b.applies_to(scenario.name.as_str(), &metrics.head, head.name.as_str())
                });
                CardMetric {
                    value: metrics.held_out(&name),
                    baseline: baseline.map(|b| b.value),
                    baseline_source: baseline.map(|b| b.source.clone()),
                    metric: name,
                }
            })
            .collect();
        let target = scenario.target.as_ref().map(|t| {
            let value = metrics.held_out(&t.metric);
            CardTarget {
                bar: t.describe(),
                value,
                met: value.map(|v| t.met_by(v)),
            }
        });
        let data_quality = metrics
            .data_quality
            .as_ref()
            .map(indus_data::DataQuality::findings)
            .unwrap_or_default();
        let importance = metrics
            .permutation_importance
            .iter()
            .flat_map(|p| &p.columns)
            .take(IMPORTANCE_SHOWN)
            .map(|c| CardImportance {
                column: c.column.clone(),
                loss: c.loss,
            })
            .collect();
        let card = plugin.card.as_ref();
        let mut limitations: Vec<String> = card.map(|c| c.limitations.clone()).unwrap_or_default();
        limitations.extend(observed_limits(metrics));
        ModelCard {
            scenario: scenario.name.to_string(),
            run_id: metrics.run_id.clone(),
            trained_at: environment.started_at.clone(),
            plugin: plugin.name.to_string(),
            industry: plugin.industry.clone(),
            description: match &scenario.description {
                Some(d) => format!("{} {d}", plugin.description),
                None => plugin.description.clone(),
            },
            intended_use: card.and_then(|c| c.intended_use.clone()),
            predicts,
            data: CardData {
                dataset: format!(
                    "{} ({})",
                    plugin.data.source.dataset.as_str(),
                    serde_json::to_value(plugin.data.source.format)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
                files,
                rows: metrics.rows,
                out_of_fold: metrics.out_of_fold(),
                skipped_rows: metrics.skipped_rows.count,
            },
            evaluation: metrics.evaluation.clone(),
            metrics: card_metrics,
            target,
            fairness: metrics.fairness.clone(),
            data_quality,
            importance,
            limitations,
            versions: CardVersions {
                indus: environment.indus_version.clone(),
                burn: environment.burn_version.clone(),
                backend: environment.backend_used.clone(),
                git_revision: environment.git_revision.clone(),
                platform: environment.platform.clone(),
            },
        }
    }

    /// The card as Markdown, for people.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Model card: {} (run {})\n",
            self.scenario, self.run_id
        );
        let _ = writeln!(
            md,
            "{}\n\n- Industry: {}\n- Plugin: `{}`\n- Predicts: {}\n- Trained: {}\n",
            self.description, self.industry, self.plugin, self.predicts, self.trained_at
        );
        md.push_str("## Intended use\n\n");
        let _ = writeln!(
            md,
            "{}\n",
            self.intended_use
                .as_deref()
                .unwrap_or("Not declared by the plugin (`card.intended_use`).")
        );
        md.push_str("## Data\n\n");
        let rows = if self.data.out_of_fold {
            format!(
                "{} rows, each tested once by the fold model that did not train on it",
                self.data.rows.train
            )
        } else {
            format!(
                "rows train / validation / test: {} / {} / {}",
                self.data.rows.train, self.data.rows.validation, self.data.rows.test
            )
        };
        let _ = writeln!(
            md,
            "Data set {}; {rows}{}.\n",
            self.data.dataset,
            if self.data.skipped_rows > 0 {
                format!(
                    "; {} unreadable training rows left out",
                    self.data.skipped_rows
                )
            } else {
                String::new()
            }
        );
        if !self.data.files.is_empty() {
            md.push_str("| File | SHA-256 |\n|---|---|\n");
            for f in &self.data.files {
                let _ = writeln!(md, "| `{}` | `{}` |", cell(&f.name), f.sha256);
            }
            md.push('\n');
        }
        md.push_str("## Evaluation\n\n");
        let _ = writeln!(md, "{}.\n", self.evaluation);
        md.push_str("| Metric | This run | Published baseline | Source |\n|---|---|---|---|\n");
        for m in &self.metrics {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                m.metric,
                fixed(m.value),
                fixed(m.baseline),
                cell(m.baseline_source.as_deref().unwrap_or("–"))
            );
        }
        if let Some(t) = &self.target {
            let _ = writeln!(
                md,
                "\nTarget {}: {} ({}).",
                t.bar,
                match t.met {
                    Some(true) => "met",
                    Some(false) => "**not met**",
                    None => "not measured",
                },
                fixed(t.value)
            );
        }
        md.push_str("\n## Results per group\n\n");
        match &self.fairness {
            None => md.push_str(
                "The plugin names no protected columns (`fairness.protected`), so no group results were measured.\n",
            ),
            Some(f) => {
                let _ = writeln!(
                    md,
                    "On {} held-out rows; selected means predicted `{}`; groups under {} rows are marked.\n",
                    f.rows, f.positive_class, f.min_group_rows
                );
                for c in &f.columns {
                    let _ = writeln!(
                        md,
                        "| {} | Rows | Base rate | Selected | TPR | FPR | Precision | ROC-AUC |\n|---|---|---|---|---|---|---|---|",
                        cell(&c.column)
                    );
                    for g in &c.groups {
                        let _ = writeln!(
                            md,
                            "| {}{} | {} | {} | {} | {} | {} | {} | {} |",
                            cell(&g.group),
                            if g.too_few_rows && g.count > 0 {
                                " (too few rows)"
                            } else {
                                ""
                            },
                            g.count,
                            fixed(g.base_rate),
                            fixed(g.selection_rate),
                            fixed(g.true_positive_rate),
                            fixed(g.false_positive_rate),
                            fixed(g.precision),
                            fixed(g.roc_auc)
                        );
                    }
                    let _ = writeln!(md, "\nGaps: {}.", c.gaps_sentence());
                    for n in &c.notes {
                        let _ = writeln!(md, "Note: {n}.");
                    }
                    md.push('\n');
                }
            }
        }
        md.push_str("\n## Data quality\n\n");
        if self.data_quality.is_empty() {
            md.push_str("The checks (leakage, duplicates, constant columns, test rows seen in training) found nothing.\n");
        } else {
            for f in &self.data_quality {
                let _ = writeln!(md, "- {f}");
            }
        }
        if !self.importance.is_empty() {
            md.push_str(
                "\n## What the model leans on\n\n| Column | Loss when shuffled |\n|---|---|\n",
            );
            for c in &self.importance {
                let _ = writeln!(md, "| {} | {:.4} |", cell(&c.column), c.loss);
            }
        }
        md.push_str("\n## Limitations\n\n");
        if self.limitations.is_empty() {
            md.push_str("None declared by the plugin (`card.limitations`).\n");
        }
        for l in &self.limitations {
            let _ = writeln!(md, "- {l}");
        }
        let v = &self.versions;
        let _ = writeln!(
            md,
            "\n## Versions\n\nindus {}, burn {}, backend `{}`, {}{}.",
            v.indus,
            v.burn,
            v.backend,
            v.platform,
            v.git_revision
                .as_ref()
                .map(|r| format!(", revision {r}"))
                .unwrap_or_default()
        );
        md
    }
}

/// What the run's own numbers say a reader must keep in mind.
fn observed_limits(m: &RunMetrics) -> Vec<String> {
    let mut out = Vec::new();
    let tested = if m.out_of_fold() {
        m.rows.train
    } else {
        m.rows.test
    };
    if tested < 500 {
        out.push(format!(
            "Held out on {tested} rows only: a metric here moves by several hundredths between samples."
        ));
    }
    if let Some(f) = &m.fairness {
        for c in &f.columns {
            if c.four_fifths_rule == Some(false) {
                out.push(format!(
                    "Selection rates by `{}` differ beyond the four-fifths rule (ratio {}).",
                    c.column,
                    fixed(c.demographic_parity_ratio)
                ));
            }
        }
    }
    if m.data_quality
        .as_ref()
        .is_some_and(|q| !q.leakage.is_empty())
    {
        out.push("A column may leak the target (see Data quality): the held-out numbers may not hold on new data.".into());
    }
    out
}

/// A number with three decimals, `–` when absent.
fn fixed(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or_else(|| "–".to_string(), |x| format!("{x:.3}"))
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
