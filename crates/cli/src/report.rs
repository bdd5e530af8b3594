//! Metrics tables printed at the end of `indus run` and `indus eval`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indus_engine::metrics::ClassificationMetrics;
use indus_engine::multilabel::MultilabelMetrics;
use indus_runtime::RunSummary;

pub fn print_run(s: &RunSummary) {
    let m = &s.metrics;
    println!();
    println!(
        "scenario {} (plugin {}), run {}",
        m.scenario, m.plugin, m.run_id
    );
    let rows = if m.out_of_fold() {
        // Not "train/val/test 569/0/569": no row was tested by a model
        // that had trained on it.
        format!(
            "{} rows, each tested once by the fold model that did not train on it",
            m.rows.train
        )
    } else {
        format!(
            "rows train/val/test {}/{}/{}",
            m.rows.train, m.rows.validation, m.rows.test
        )
    };
    println!(
        "trained {} epochs on {} in {:.1}s, {} parameters; {rows}{}",
        m.epochs_run,
        m.backend,
        m.train_seconds,
        m.parameters,
        m.best_epoch
            .map(|e| format!("; kept epoch {e}"))
            .unwrap_or_default()
    );
    if !m.skipped_rows.is_empty() {
        println!(
            "left out {} training row{} that could not be read (data.on_bad_rows: skip); the first: {}",
            m.skipped_rows.count,
            if m.skipped_rows.count == 1 { "" } else { "s" },
            m.skipped_rows.reasons.first().map_or("-", String::as_str)
        );
    }
    if let Some(cv) = &m.cross_validation {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_header(["metric (per fold)", "mean", "std"]);
        for (k, mean) in &cv.mean {
            t.add_row([
                k.clone(),
                format!("{mean:.4}"),
                format!("{:.4}", cv.std.get(k).copied().unwrap_or(0.0)),
            ]);
        }
        if cv.repeats > 1 {
            println!(
                "{}-fold cross-validation, {} deals of the rows ({} folds):\n{t}",
                cv.folds_per_repeat(),
                cv.repeats,
                cv.fold_count()
            );
        } else {
            println!("{}-fold cross-validation:\n{t}", cv.fold_count());
        }
    }
    println!("evaluation: {}", m.evaluation);
    if let Some(t) = m.threshold {
        println!(
            "decision threshold: {t:.4} (probability of `{}`)",
            m.test
                .as_ref()
                .and_then(|t| t.per_class.last())
                .map_or("", |c| c.label.as_str())
        );
    }
    if let Some(r) = &m.regression {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_header(["predicted value", "value"]);
        for (k, v) in [("RMSE", r.rmse), ("MAE", r.mae), ("R²", r.r2)] {
            t.add_row([k.to_string(), format!("{v:.4}")]);
        }
        println!("{t}");
    }
    if let Some(k) = &m.top_k {
        println!(
            "top-{} lists for {} test users: hit rate {:.4}, NDCG {:.4}, recall {:.4}\n  ({})",
            k.k, k.users, k.hit_rate, k.ndcg, k.recall, k.protocol
        );
    }
    if let Some(a) = &m.anomaly {
        println!(
            "alarm threshold: reconstruction error {:.4} (the {}th percentile of normal validation rows)",
            a.threshold, a.percentile
        );
        if let Some(r) = m.test.as_ref().and_then(|t| t.ranking.as_ref()) {
            println!(
                "detection rate at 1 % false alarms: {:.4}",
                r.tpr_at_1pct_fpr
            );
        }
    }
    if let Some(r) = &m.rating {
        println!(
            "the table below is the liked (rating >= {}) vs not-liked view of the predicted rating",
            r.liked_at
        );
    }
    if let Some(t) = &m.test {
        print_metrics(t);
    }
    if let Some(ml) = &m.multilabel {
        print_multilabel(ml);
    }
    print_secondary_heads(&m.secondary_heads, &m.head);
    if let Some(p) = &m.permutation_importance {
        print_importance(p);
    }
    if let Some(f) = &m.fairness {
        print_fairness(f);
    }
    println!("run folder: {}", s.dir.display());
}

/// Each protected column's groups and the gaps between them.
fn print_fairness(f: &indus_runtime::FairnessReport) {
    let rate = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.3}"));
    for c in &f.columns {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header([
            c.column.as_str(),
            "rows",
            "base rate",
            "selected",
            "TPR",
            "FPR",
            "precision",
            "ROC-AUC",
        ]);
        for g in &c.groups {
            t.add_row([
                if g.too_few_rows && g.count > 0 {
                    format!("{} (too few rows)", g.group)
                } else {
                    g.group.clone()
                },
                g.count.to_string(),
                rate(g.base_rate),
                rate(g.selection_rate),
                rate(g.true_positive_rate),
                rate(g.false_positive_rate),
                rate(g.precision),
                rate(g.roc_auc),
            ]);
        }
        println!(
            "fairness by {} ({} held-out rows; selected = predicted `{}`):\n{t}",
            c.column, f.rows, f.positive_class
        );
        println!("  {}", c.gaps_sentence());
        for n in &c.notes {
            println!("  note: {n}");
        }
    }
}

/// The columns the model leans on most (all of them are in metrics.json).
fn print_importance(p: &indus_runtime::PermutationImportance) {
    const SHOWN: usize = 10;
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "column".to_string(),
        format!("{} lost when shuffled", p.metric),
        "± std".to_string(),
    ]);
    for c in p.columns.iter().take(SHOWN) {
        t.add_row([
            c.column.clone(),
            format!("{:.4}", c.loss),
            format!("{:.4}", c.std),
        ]);
    }
    let rest = p.columns.len().saturating_sub(SHOWN);
    println!(
        "what the model leans on ({} held-out rows, {} shuffles per column{}):\n{t}",
        p.rows,
        p.repeats,
        if rest > 0 {
            format!("; {rest} more columns in metrics.json")
        } else {
            String::new()
        }
    );
}

pub fn print_metrics(m: &ClassificationMetrics) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(["metric", "value"]);
    for (k, v) in [
        ("rows", m.rows as f64),
        ("accuracy", m.accuracy),
        ("balanced accuracy", m.balanced_accuracy),
        ("macro precision", m.macro_precision),
        ("macro recall", m.macro_recall),
        ("macro F1", m.macro_f1),
    ]
    .into_iter()
    .chain(m.log_loss.map(|l| ("log-loss", l)))
    {
        t.add_row([
            k.to_string(),
            if k == "rows" {
                format!("{v}")
            } else {
                format!("{v:.4}")
            },
        ]);
    }
    if let Some(r) = &m.ranking {
        for (k, v) in [("ROC-AUC", r.roc_auc), ("PR-AUC", r.pr_auc), ("KS", r.ks)] {
            t.add_row([k.to_string(), format!("{v:.4}")]);
        }
    }
    println!("{t}");

    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "class",
        "precision",
        "recall",
        "F1",
        "support",
    ]);
    for c in &m.per_class {
        t.add_row([
            c.label.clone(),
            format!("{:.4}", c.precision),
            format!("{:.4}", c.recall),
            format!("{:.4}", c.f1),
            c.support.to_string(),
        ]);
    }
    println!("{t}");

    let mut t = Table::new();
    let mut header = vec!["true \\ predicted".to_string()];
    header.extend(m.per_class.iter().map(|c| c.label.clone()));
    t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for (c, row) in m.per_class.iter().zip(&m.confusion) {
        let mut cells = vec![c.label.clone()];
        cells.extend(row.iter().map(u64::to_string));
        t.add_row(cells);
    }
    println!("confusion matrix:\n{t}");
    if !m.custom.is_empty() {
        let shown: Vec<String> = m
            .custom
            .iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect();
        println!("plugin metrics: {}", shown.join(", "));
    }
}

/// Pooled numbers and one row per label of a multilabel head.
pub fn print_multilabel(m: &MultilabelMetrics) {
    println!(
        "{} rows: subset accuracy {:.4}, Hamming loss {:.4}, micro F1 {:.4}, macro F1 {:.4}",
        m.rows, m.subset_accuracy, m.hamming_loss, m.micro_f1, m.macro_f1
    );
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "label",
        "precision",
        "recall",
        "F1",
        "support",
        "ROC-AUC",
    ]);
    for l in &m.per_label {
        t.add_row([
            l.label.clone(),
            format!("{:.4}", l.precision),
            format!("{:.4}", l.recall),
            format!("{:.4}", l.f1),
            l.support.to_string(),
            l.roc_auc.map_or("—".into(), |v| format!("{v:.4}")),
        ]);
    }
    println!("{t}");
}

/// One row per head trained beside `primary` on the same trunk.
pub fn print_secondary_heads(heads: &[indus_runtime::SecondaryHeadMetrics], primary: &str) {
    if heads.is_empty() {
        return;
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "head on the same trunk",
        "loss weight",
        "accuracy",
        "balanced acc.",
        "ROC-AUC",
        "RMSE",
    ]);
    let cell = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
    for a in heads {
        let mut row = vec![
            format!("{} ({})", a.head, a.task),
            a.loss_weight.to_string(),
        ];
        row.extend(a.summary().map(cell));
        t.add_row(row);
    }
    println!("heads trained with `{primary}` (same rows):\n{t}");
}
