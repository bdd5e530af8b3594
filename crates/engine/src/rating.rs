//! Metrics of heads that predict a number (a star rating, an amount) and of
//! the top-k lists a recommender shows, plus the calibration that turns a
//! predicted rating into a probability of "liked".

use serde::{Deserialize, Serialize};

/// Error of predicted numbers against the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Rows evaluated.
    pub rows: u64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Share of the truth's variance explained (1 is perfect, 0 is as good
    /// as predicting the mean, negative is worse).
    pub r2: f64,
}

/// RMSE, MAE and R² of `predicted` against `truth` (same length).
pub fn regression_metrics(predicted: &[f32], truth: &[f32]) -> RegressionMetrics {
    let n = truth.len().max(1) as f64;
    let (mut se, mut ae) = (0.0f64, 0.0f64);
    for (&p, &t) in predicted.iter().zip(truth) {
        let d = f64::from(p) - f64::from(t);
        se += d * d;
        ae += d.abs();
    }
    let mean = truth.iter().map(|&t| f64::from(t)).sum::<f64>() / n;
    let total: f64 = truth.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
    RegressionMetrics {
        rows: truth.len() as u64,
        rmse: (se / n).sqrt(),
        mae: ae / n,
        r2: if total > 0.0 { 1.0 - se / total } else { 0.0 },
    }
}

/// Quality of per-user top-k lists against the items each user liked in
/// the held-out rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopKMetrics {
    /// List length.
    pub k: usize,
    /// Users evaluated (those with at least one liked held-out item).
    pub users: u64,
    /// Share of users with at least one liked item in their list (HR@k).
    pub hit_rate: f64,
    /// Mean normalised discounted cumulative gain with 0/1 relevance
    /// (NDCG@k).
    pub ndcg: f64,
    /// Mean share of each user's liked items that made the list.
    pub recall: f64,
    /// How the lists were built and what counted as relevant.
    pub protocol: String,
}

/// HR@k, NDCG@k and recall@k. `lists[u]` is user u's ranked list (best
/// first, at least k long when possible) and `relevant[u]` the items they
/// liked; users with nothing relevant are skipped.
pub fn top_k_metrics<T: PartialEq>(
    lists: &[Vec<T>],
    relevant: &[Vec<T>],
    k: usize,
    protocol: &str,
) -> TopKMetrics {
    let (mut users, mut hits, mut ndcg, mut recall) = (0u64, 0.0, 0.0, 0.0);
    for (list, liked) in lists.iter().zip(relevant) {
        if liked.is_empty() {
            continue;
        }
        users += 1;
        let top = &list[..k.min(list.len())];
        let found: Vec<usize> = top
            .iter()
            .enumerate()
            .filter(|(_, item)| liked.contains(item))
            .map(|(rank, _)| rank)
            .collect();
        if !found.is_empty() {
            hits += 1.0;
        }
        let dcg: f64 = found.iter().map(|&r| 1.0 / ((r + 2) as f64).log2()).sum();
        let ideal: f64 = (0..liked.len().min(k))
            .map(|r| 1.0 / ((r + 2) as f64).log2())
            .sum();
        ndcg += dcg / ideal;
        recall += found.len() as f64 / liked.len().min(k) as f64;
    }
    let n = users.max(1) as f64;
    TopKMetrics {
        k,
        users,
        hit_rate: hits / n,
        ndcg: ndcg / n,
        recall: recall / n,
        protocol: protocol.to_string(),
    }
}

/// Logistic calibration `P(liked) = 1 / (1 + exp(-(a·score + b)))` fitted
/// by Newton's method on (score, liked) pairs (Platt scaling): a monotone
/// map, so rankings and ROC-AUC are those of the raw score.
pub fn fit_logistic(scores: &[f32], positive: &[bool]) -> [f32; 2] {
    let n = scores.len().max(1) as f64;
    // Centre the scores so the two parameters are nearly independent, and
    // start from the base rate: plain Newton from a poor start overshoots.
    let centre = scores.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
    let rate = positive.iter().filter(|&&y| y).count() as f64 / n;
    let rate = rate.clamp(1e-6, 1.0 - 1e-6);
    let (mut a, mut b) = (0.0f64, (rate / (1.0 - rate)).ln());
    let loss = |a: f64, b: f64| -> f64 {
        scores
            .iter()
            .zip(positive)
            .map(|(&s, &y)| {
                let z = a * (f64::from(s) - centre) + b;
                // log(1 + e^z) - y·z, computed stably.
                z.max(0.0) + (-z.abs()).exp().ln_1p() - if y { z } else { 0.0 }
            })
            .sum()
    };
    let mut current = loss(a, b);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (&s, &y) in scores.iter().zip(positive) {
            let s = f64::from(s) - centre;
            let p = 1.0 / (1.0 + (-(a * s + b)).exp());
            let r = p - f64::from(u8::from(y));
            let w = p * (1.0 - p);
            ga += r * s;
            gb += r;
            haa += w * s * s;
            hab += w * s;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        // Damped step: halve until the loss does not grow.
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            let next = loss(a - step * da, b - step * db);
            if next <= current {
                a -= step * da;
                b -= step * db;
                current = next;
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted || (step * (da.abs() + db.abs())) < 1e-10 {
            break;
        }
    }
    // Back to uncentred scores: a·(s - c) + b = a·s + (b - a·c).
    [a as f32, (b - a * centre) as f32]
}

/// Applies a calibration from [`fit_logistic`].
pub fn logistic(calibration: [f32; 2], score: f32) -> f32 {
    1.0 / (1.0 + (-(calibration[0] * score + calibration[1])).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_metrics_match_hand_computed_values() {
        // Errors 1, -1, 0, 2: squared 1+1+0+4 = 6, absolute 4.
        let m = regression_metrics(&[2.0, 2.0, 3.0, 6.0], &[1.0, 3.0, 3.0, 4.0]);
        assert!((m.rmse - (6.0f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((m.mae - 1.0).abs() < 1e-12);
        // Truth mean 2.75, total sum of squares 3.0625+0.0625+0.0625+1.5625 = 4.75.
        assert!((m.r2 - (1.0 - 6.0 / 4.75)).abs() < 1e-12);
        assert_eq!(m.rows, 4);
    }

    #[test]
    fn top_k_metrics_match_hand_computed_values() {
        let lists = vec![vec![5, 1, 9], vec![2, 3, 4], vec![7, 8, 6]];
        let relevant = vec![vec![1, 9], vec![8], vec![]];
        let m = top_k_metrics(&lists, &relevant, 2, "test");
        // User 3 has nothing relevant and is skipped; user 1 hits item 1 at
        // rank 2 of 2; user 2 misses.
        assert_eq!(m.users, 2);
        assert!((m.hit_rate - 0.5).abs() < 1e-12);
        let ndcg_1 = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((m.ndcg - ndcg_1 / 2.0).abs() < 1e-12);
        assert!((m.recall - 0.25).abs() < 1e-12);
    }

    #[test]
    fn logistic_calibration_is_monotone_and_matches_frequencies() {
        // Score 1: liked 1 time in 4; score 5: liked 3 times in 4.
        let scores = [1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0];
        let liked = [true, false, false, false, true, true, true, false];
        let c = fit_logistic(&scores, &liked);
        assert!((logistic(c, 1.0) - 0.25).abs() < 1e-3, "{c:?}");
        assert!((logistic(c, 5.0) - 0.75).abs() < 1e-3, "{c:?}");
        assert!(logistic(c, 3.0) > logistic(c, 2.0));
    }

    #[test]
    fn calibration_stays_finite_on_noisy_ratings_far_from_zero() {
        // Ratings near 3.5 with a weak link to "liked": a start at a = 1
        // made plain Newton run off to a ~ 1e9.
        let scores: Vec<f32> = (0..1000).map(|i| 3.0 + (i % 17) as f32 / 16.0).collect();
        let liked: Vec<bool> = (0..1000)
            .map(|i| (i * 7919) % 10 < 4 + (i % 17) / 6)
            .collect();
        let c = fit_logistic(&scores, &liked);
        assert!(c[0].is_finite() && c[0].abs() < 50.0, "{c:?}");
        let mean_p: f32 = scores.iter().map(|&s| logistic(c, s)).sum::<f32>() / 1000.0;
        let rate = liked.iter().filter(|&&y| y).count() as f32 / 1000.0;
        assert!((mean_p - rate).abs() < 0.01, "{mean_p} vs {rate}");
    }
}
