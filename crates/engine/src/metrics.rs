//! Evaluation metrics computed on the host from predicted probabilities, so
//! every backend reports exactly the same numbers for the same outputs.

use serde::{Deserialize, Serialize};

/// Per-class quality numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class label.
    pub label: String,
    /// Of the rows predicted as this class, the share that are.
    pub precision: f64,
    /// Of the rows of this class, the share found.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Rows of this class.
    pub support: u64,
}

/// The metrics a classification head reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Rows evaluated.
    pub rows: u64,
    /// Share of rows whose most probable class is right.
    pub accuracy: f64,
    /// Mean of per-class recall (robust to imbalance).
    pub balanced_accuracy: f64,
    /// Unweighted mean of per-class precision.
    pub macro_precision: f64,
    /// Unweighted mean of per-class recall.
    pub macro_recall: f64,
    /// Unweighted mean of per-class F1.
    pub macro_f1: f64,
    /// Mean negative log-probability of the true class (probabilities
    /// clipped at 1e-7); absent where the scores are not probabilities (an
    /// autoencoder's alarm score), since a log-loss of them means nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_loss: Option<f64>,
    /// Per-class numbers, in class order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]` row counts.
    pub confusion: Vec<Vec<u64>>,
    /// For two classes: ranking quality of the second class's probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingMetrics>,
    /// Domain metrics computed by the plugin's native `metrics` hook.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub custom: std::collections::BTreeMap<String, f64>,
}

impl ClassificationMetrics {
    /// A metric by its `metrics.json` name (`accuracy`, `macro_f1`,
    /// `roc_auc`, …, or a plugin's custom metric); `None` when absent.
    pub fn value(&self, name: &str) -> Option<f64> {
        let json = serde_json::to_value(self).ok()?;
        json.get(name)
            .or_else(|| json.get("ranking").and_then(|r| r.get(name)))
            .and_then(serde_json::Value::as_f64)
            .or_else(|| self.custom.get(name).copied())
    }
}

/// Index of the largest value (first one on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// Computes classification metrics from `rows × classes` probabilities.
pub fn classification_metrics(
    probabilities: &[f32],
    labels: &[u32],
    class_names: &[String],
) -> ClassificationMetrics {
    let predicted = predict_classes(probabilities, class_names.len(), None);
    classification_metrics_for(probabilities, &predicted, labels, class_names)
}

/// The predicted class of each row: the most probable one, or for two
/// classes with a `threshold`, the second class when its probability reaches
/// the threshold.
pub fn predict_classes(
    probabilities: &[f32],
    classes: usize,
    threshold: Option<f32>,
) -> Vec<usize> {
    probabilities
        .chunks_exact(classes.max(1))
        .map(|row| match (threshold, row) {
            (Some(t), [_, positive]) => usize::from(*positive >= t),
            _ => argmax(row),
        })
        .collect()
}

/// Like [`classification_metrics`], for labels already decided (e.g. with a
/// tuned threshold); probabilities still give log-loss and ranking metrics.
pub fn classification_metrics_for(
    probabilities: &[f32],
    predicted: &[usize],
    labels: &[u32],
    class_names: &[String],
) -> ClassificationMetrics {
    let k = class_names.len().max(1);
    let n = labels.len();
    let mut confusion = vec![vec![0u64; k]; k];
    let mut log_loss = 0.0f64;
    for ((row, &label), &predicted) in probabilities.chunks_exact(k).zip(labels).zip(predicted) {
        let predicted = predicted.min(k - 1);
        let truth = label as usize;
        if truth < k {
            confusion[truth][predicted] += 1;
            log_loss -= (row[truth] as f64).clamp(1e-7, 1.0).ln();
        }
    }
    let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c] as f64;
            let predicted: u64 = (0..k).map(|t| confusion[t][c]).sum();
            let support: u64 = confusion[c].iter().sum();
            let precision = if predicted > 0 {
                tp / predicted as f64
            } else {
                0.0
            };
            let recall = if support > 0 {
                tp / support as f64
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassMetrics {
                label: class_names.get(c).cloned().unwrap_or_default(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let mean = |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / k as f64;
    let present: Vec<&ClassMetrics> = per_class.iter().filter(|c| c.support > 0).collect();
    ClassificationMetrics {
        rows: n as u64,
        accuracy: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        balanced_accuracy: present.iter().map(|c| c.recall).sum::<f64>()
            / present.len().max(1) as f64,
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        log_loss: Some(if n > 0 { log_loss / n as f64 } else { 0.0 }),
        ranking: (k == 2)
            .then(|| two_class_ranking(probabilities, labels))
            .flatten(),
        per_class,
        confusion,
        custom: Default::default(),
    }
}

fn two_class_ranking(probabilities: &[f32], labels: &[u32]) -> Option<RankingMetrics> {
    let scores: Vec<f32> = probabilities.chunks_exact(2).map(|r| r[1]).collect();
    let positive: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
    ranking_metrics(&scores, &positive)
}

/// Expands one-column positive-class probabilities to two columns
/// (`[1 - p, p]`) so binary heads share the multiclass metrics.
pub fn binary_to_two_columns(p: &[f32]) -> Vec<f32> {
    p.iter().flat_map(|&p| [1.0 - p, p]).collect()
}

/// Ranking quality of a positive-class score, independent of any threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingMetrics {
    /// Area under the ROC curve (ties count one half).
    pub roc_auc: f64,
    /// Average precision: the area under the precision–recall curve.
    pub pr_auc: f64,
    /// Kolmogorov–Smirnov statistic: the largest gap between the score
    /// distributions of positives and negatives (a credit-scoring staple).
    pub ks: f64,
    /// Share of positives caught at a threshold that flags at most 1 % of
    /// negatives (detection rate at 1 % false positives): what an alarm
    /// system can promise when analysts can only triage a few false alarms.
    #[serde(default)]
    pub tpr_at_1pct_fpr: f64,
    /// ROC curve points `[false-positive rate, true-positive rate]` from the
    /// strictest threshold to the loosest (at most [`CURVE_POINTS`] + 1).
    #[serde(default)]
    pub roc_curve: Vec<[f64; 2]>,
    /// Precision–recall curve points `[recall, precision]`, same order.
    #[serde(default)]
    pub pr_curve: Vec<[f64; 2]>,
}

/// Most points kept per curve: enough for a smooth chart, small in
/// `metrics.json`.
pub const CURVE_POINTS: usize = 200;

/// Keeps about `max` evenly spaced points, always the first and the last.
fn thin(points: Vec<[f64; 2]>, max: usize) -> Vec<[f64; 2]> {
    if points.len() <= max + 1 {
        return points;
    }
    let step = points.len() as f64 / max as f64;
    let mut out: Vec<[f64; 2]> = (0..max)
        .map(|i| points[(i as f64 * step) as usize])
        .collect();
    if let Some(last) = points.last() {
        out.push(*last);
    }
    out
}

/// ROC-AUC, PR-AUC and KS of `scores` against 0/1 `positive` labels.
/// Returns `None` when only one class is present (the numbers are undefined).
pub fn ranking_metrics(scores: &[f32], positive: &[bool]) -> Option<RankingMetrics> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let (mut auc, mut ap, mut ks) = (0.0f64, 0.0f64, 0.0f64);
    let mut tpr_at_1pct = 0.0f64;
    let mut roc = vec![[0.0, 0.0]];
    let mut pr = Vec::new();
    let mut i = 0;
    while i < order.len() {
        // Rows with equal scores move the curves together.
        let mut j = i;
        let (mut dtp, mut dfp) = (0usize, 0usize);
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if positive[order[j]] {
                dtp += 1;
            } else {
                dfp += 1;
            }
            j += 1;
        }
        auc += dfp as f64 * (tp as f64 + dtp as f64 / 2.0);
        tp += dtp;
        fp += dfp;
        if dtp > 0 {
            ap += (dtp as f64 / n_pos as f64) * (tp as f64 / (tp + fp) as f64);
        }
        ks = ks.max((tp as f64 / n_pos as f64 - fp as f64 / n_neg as f64).abs());
        if fp as f64 <= 0.01 * n_neg as f64 {
            tpr_at_1pct = tp as f64 / n_pos as f64;
        }
        roc.push([fp as f64 / n_neg as f64, tp as f64 / n_pos as f64]);
        pr.push([tp as f64 / n_pos as f64, tp as f64 / (tp + fp) as f64]);
        i = j;
    }
    Some(RankingMetrics {
        roc_auc: auc / (n_pos as f64 * n_neg as f64),
        pr_auc: ap,
        ks,
        tpr_at_1pct_fpr: tpr_at_1pct,
        roc_curve: thin(roc, CURVE_POINTS),
        pr_curve: thin(pr, CURVE_POINTS),
    })
}

/// How a binary decision threshold is chosen on validation rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// Maximise F1 of the positive class.
    BestF1,
    /// Minimise `fp_cost × false positives + fn_cost × false negatives`.
    MinCost {
        /// Cost of flagging a negative row.
        fp_cost: f64,
        /// Cost of missing a positive row.
        fn_cost: f64,
    },
}

/// The threshold on the positive-class score that best satisfies `rule` on
/// the given rows (rows with a score at or above it are called positive).
/// Returns 0.5 when the rows hold a single class.
pub fn choose_threshold(scores: &[f32], positive: &[bool], rule: ThresholdRule) -> f32 {
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 || n_pos == positive.len() {
        return 0.5;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    // Start with "nothing is positive" (threshold above every score).
    let score_of = |tp: usize, fp: usize| -> f64 {
        let fn_ = n_pos - tp;
        match rule {
            ThresholdRule::BestF1 => {
                if tp == 0 {
                    0.0
                } else {
                    2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
                }
            }
            ThresholdRule::MinCost { fp_cost, fn_cost } => {
                -(fp as f64 * fp_cost + fn_ as f64 * fn_cost)
            }
        }
    };
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut best = (score_of(0, 0), f32::INFINITY);
    let mut i = 0;
    while i < order.len() {
        let t = scores[order[i]];
        while i < order.len() && scores[order[i]] == t {
            if positive[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let value = score_of(tp, fp);
        if value > best.0 {
            best = (value, t);
        }
    }
    if best.1.is_finite() { best.1 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_three_class_example() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // rows: true a→a, a→b, b→b, c→c
        let probs = [0.8, 0.1, 0.1, 0.3, 0.6, 0.1, 0.1, 0.8, 0.1, 0.2, 0.2, 0.6];
        let m = classification_metrics(&probs, &[0, 0, 1, 2], &names);
        assert_eq!(m.accuracy, 0.75);
        assert_eq!(
            m.confusion,
            vec![vec![1, 1, 0], vec![0, 1, 0], vec![0, 0, 1]]
        );
        assert_eq!(m.per_class[0].recall, 0.5);
        assert_eq!(m.per_class[1].precision, 0.5);
        let expected_f1 = (2.0 / 3.0 + 2.0 / 3.0 + 1.0) / 3.0;
        assert!((m.macro_f1 - expected_f1).abs() < 1e-12);
        let ll = -((0.8f64).ln() + (0.3f64).ln() + (0.8f64).ln() + (0.6f64).ln()) / 4.0;
        assert!((m.log_loss.unwrap_or(0.0) - ll).abs() < 1e-6);
    }

    #[test]
    fn detection_rate_allows_at_most_one_percent_false_alarms() {
        // 100 negatives scored 0.00 … 0.99: one false alarm is allowed.
        let mut scores: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        let mut positive = vec![false; 100];
        scores.extend([2.0; 5]);
        positive.extend([true; 5]);
        // Five more positives just under the top negative: caught at 1 %.
        let mut caught = scores.clone();
        caught.extend([0.985; 5]);
        let mut p = positive.clone();
        p.extend([true; 5]);
        assert_eq!(ranking_metrics(&caught, &p).unwrap().tpr_at_1pct_fpr, 1.0);
        // Under the two top negatives: catching them costs 2 % false alarms.
        scores.extend([0.975; 5]);
        positive.extend([true; 5]);
        assert_eq!(
            ranking_metrics(&scores, &positive).unwrap().tpr_at_1pct_fpr,
            0.5
        );
    }

    #[test]
    fn ranking_metrics_match_hand_computed_values() {
        // Perfect ranking.
        let m = ranking_metrics(&[0.9, 0.8, 0.2, 0.1], &[true, true, false, false]).unwrap();
        assert_eq!((m.roc_auc, m.pr_auc, m.ks), (1.0, 1.0, 1.0));
        // One inversion out of four positive/negative pairs.
        let m = ranking_metrics(&[0.9, 0.6, 0.7, 0.1], &[true, true, false, false]).unwrap();
        assert_eq!(m.roc_auc, 0.75);
        assert!((m.pr_auc - (0.5 * 1.0 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
        assert_eq!(m.ks, 0.5);
        assert_eq!(
            m.roc_curve,
            vec![[0.0, 0.0], [0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [1.0, 1.0]]
        );
        assert_eq!(
            m.pr_curve,
            vec![[0.5, 1.0], [0.5, 0.5], [1.0, 2.0 / 3.0], [1.0, 0.5]]
        );
        // Ties count one half; a constant score is a coin flip.
        let m = ranking_metrics(&[0.5; 4], &[true, false, true, false]).unwrap();
        assert_eq!(m.roc_auc, 0.5);
        assert!(ranking_metrics(&[0.1, 0.2], &[true, true]).is_none());
    }

    #[test]
    fn long_curves_are_thinned_but_keep_their_ends() {
        let scores: Vec<f32> = (0..5000).map(|i| i as f32).collect();
        let positive: Vec<bool> = (0..5000).map(|i| i % 3 == 0).collect();
        let m = ranking_metrics(&scores, &positive).unwrap();
        assert_eq!(m.roc_curve.len(), CURVE_POINTS + 1);
        assert_eq!(m.roc_curve.first(), Some(&[0.0, 0.0]));
        assert_eq!(m.roc_curve.last(), Some(&[1.0, 1.0]));
    }

    #[test]
    fn thresholds_follow_the_rule() {
        let scores = [0.9, 0.8, 0.7, 0.4, 0.3, 0.2];
        let positive = [true, true, false, true, false, false];
        // F1 is best when the top four are called positive (tp 3, fp 1): 6/7.
        assert_eq!(
            choose_threshold(&scores, &positive, ThresholdRule::BestF1),
            0.4
        );
        // Missing a positive costs 10: call everything down to 0.4 positive.
        assert_eq!(
            choose_threshold(
                &scores,
                &positive,
                ThresholdRule::MinCost {
                    fp_cost: 1.0,
                    fn_cost: 10.0
                }
            ),
            0.4
        );
        // False alarms cost 10: only the top two.
        assert_eq!(
            choose_threshold(
                &scores,
                &positive,
                ThresholdRule::MinCost {
                    fp_cost: 10.0,
                    fn_cost: 1.0
                }
            ),
            0.8
        );
        let probs = [0.7, 0.3, 0.45, 0.55];
        assert_eq!(predict_classes(&probs, 2, Some(0.3)), [1, 1]);
        assert_eq!(predict_classes(&probs, 2, None), [0, 1]);
    }
}
