//! Metrics of multilabel heads, where each row carries any number of labels
//! and each label is its own yes/no decision at probability 0.5.

use crate::metrics::ranking_metrics;
use serde::{Deserialize, Serialize};

/// One label's numbers across rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    /// Label name.
    pub label: String,
    /// Of the rows given the label, the share that carry it.
    pub precision: f64,
    /// Of the rows that carry the label, the share given it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Rows that carry the label.
    pub support: u64,
    /// How well the label's probability ranks carriers above the rest
    /// (absent when every row or none carries it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
}

/// What a multilabel head reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultilabelMetrics {
    /// Rows evaluated.
    pub rows: u64,
    /// Share of rows whose whole label set is right.
    pub subset_accuracy: f64,
    /// Share of (row, label) decisions that are wrong.
    pub hamming_loss: f64,
    /// F1 over every (row, label) decision pooled.
    pub micro_f1: f64,
    /// Unweighted mean of the labels' F1.
    pub macro_f1: f64,
    /// Per-label numbers, in label order.
    pub per_label: Vec<LabelMetrics>,
}

impl MultilabelMetrics {
    /// A metric by its `metrics.json` name.
    pub fn value(&self, name: &str) -> Option<f64> {
        match name {
            "subset_accuracy" => Some(self.subset_accuracy),
            "hamming_loss" => Some(self.hamming_loss),
            "micro_f1" => Some(self.micro_f1),
            "macro_f1" => Some(self.macro_f1),
            _ => None,
        }
    }
}

fn f1(tp: u64, fp: u64, fn_: u64) -> (f64, f64, f64) {
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (p, r) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    let f = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    (p, r, f)
}

/// Metrics of probabilities `probs` (rows × labels, row-major) against 0/1
/// `truth` of the same shape; a label is decided at probability ≥ 0.5.
pub fn multilabel_metrics(probs: &[f32], truth: &[f32], labels: &[String]) -> MultilabelMetrics {
    let k = labels.len().max(1);
    let rows = truth.len() / k;
    let decided: Vec<bool> = probs.iter().map(|&p| p >= 0.5).collect();
    let carried: Vec<bool> = truth.iter().map(|&t| t >= 0.5).collect();
    let exact = (0..rows)
        .filter(|r| decided[r * k..(r + 1) * k] == carried[r * k..(r + 1) * k])
        .count();
    let wrong = decided.iter().zip(&carried).filter(|(d, c)| d != c).count();
    let (mut tp_all, mut fp_all, mut fn_all) = (0, 0, 0);
    let per_label: Vec<LabelMetrics> = labels
        .iter()
        .enumerate()
        .map(|(j, label)| {
            let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
            for r in 0..rows {
                match (decided[r * k + j], carried[r * k + j]) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, true) => fn_ += 1,
                    (false, false) => {}
                }
            }
            tp_all += tp;
            fp_all += fp;
            fn_all += fn_;
            let (precision, recall, f1) = f1(tp, fp, fn_);
            let scores: Vec<f32> = (0..rows).map(|r| probs[r * k + j]).collect();
            let positive: Vec<bool> = (0..rows).map(|r| carried[r * k + j]).collect();
            LabelMetrics {
                label: label.clone(),
                precision,
                recall,
                f1,
                support: tp + fn_,
                roc_auc: ranking_metrics(&scores, &positive).map(|m| m.roc_auc),
            }
        })
        .collect();
    MultilabelMetrics {
        rows: rows as u64,
        subset_accuracy: exact as f64 / rows.max(1) as f64,
        hamming_loss: wrong as f64 / (rows * k).max(1) as f64,
        micro_f1: f1(tp_all, fp_all, fn_all).2,
        macro_f1: per_label.iter().map(|l| l.f1).sum::<f64>() / per_label.len().max(1) as f64,
        per_label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multilabel_metrics_match_hand_computed_values() {
        let labels = vec!["heat".to_string(), "power".to_string()];
        // Row 1: {heat} decided {heat} ✓; row 2: {heat, power} decided
        // {power}; row 3: {} decided {heat}; row 4: {power} decided {power}.
        let truth = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let probs = [0.9, 0.1, 0.4, 0.8, 0.6, 0.2, 0.3, 0.7];
        let m = multilabel_metrics(&probs, &truth, &labels);
        assert_eq!(m.rows, 4);
        assert_eq!(m.subset_accuracy, 0.5);
        assert_eq!(m.hamming_loss, 2.0 / 8.0);
        // heat: tp 1, fp 1, fn 1 → P = R = F1 = 0.5; power: tp 2 → 1.0.
        assert_eq!(m.per_label[0].f1, 0.5);
        assert_eq!(m.per_label[1].f1, 1.0);
        assert_eq!(m.per_label[0].support, 2);
        assert_eq!(m.macro_f1, 0.75);
        // Pooled: tp 3, fp 1, fn 1 → 0.75.
        assert_eq!(m.micro_f1, 0.75);
        // heat: carriers score 0.9 and 0.4, others 0.6 and 0.3 → 3 of 4 pairs.
        assert_eq!(m.per_label[0].roc_auc, Some(0.75));
    }
}
