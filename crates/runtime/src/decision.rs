//! How a head's outputs become answers. Each head kind has one decision,
//! fitted once at training time, recorded in `metrics.json` and applied by
//! the same code when a run is evaluated during training and when a loaded
//! run answers, so the two cannot drift apart.

use indus_engine::Head;
use indus_engine::metrics::{
    ClassificationMetrics, binary_to_two_columns, classification_metrics_for, predict_classes,
};
use indus_engine::rating::logistic;
use serde::{Deserialize, Serialize};

/// How an autoencoder's reconstruction error becomes an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalyDecision {
    /// Mean squared reconstruction error at or above which a row is
    /// flagged.
    pub threshold: f32,
    /// The percentile of normal validation rows' errors it was set at.
    pub percentile: f64,
}

impl AnomalyDecision {
    /// A score in [0, 1) rising with the error, 0.5 at the threshold:
    /// `error / (error + threshold)`. It ranks rows like the error does
    /// (ROC-AUC is the error's), but it is not a calibrated probability.
    pub fn score(&self, error: f32) -> f32 {
        let e = error.max(0.0);
        e / (e + self.threshold.max(f32::MIN_POSITIVE))
    }

    /// Whether a row with reconstruction error `error` is flagged.
    pub fn fires(&self, error: f32) -> bool {
        error >= self.threshold
    }
}

/// How a rating head's predicted number becomes a decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatingDecision {
    /// Ratings at or above this count as liked.
    pub liked_at: f64,
    /// Logistic calibration `[a, b]`: P(liked) = 1 / (1 + e^-(a·rating + b)),
    /// fitted on the validation rows (training rows without any).
    pub calibration: [f32; 2],
    /// Predictions are clipped to the target column's declared range.
    pub range: Option<[f64; 2]>,
}

impl RatingDecision {
    /// The clipped rating and its probability of being liked.
    pub fn apply(&self, raw: f32) -> (f32, f32) {
        let rating = match self.range {
            Some([lo, hi]) => raw.clamp(lo as f32, hi as f32),
            None => raw,
        };
        (rating, logistic(self.calibration, rating))
    }

    /// Whether a true rating counts as liked (class 1 of the two-class view).
    pub fn liked(&self, rating: f32) -> bool {
        f64::from(rating) >= self.liked_at
    }
}

/// Class names of the liked / not-liked view of a rating head.
pub(crate) const LIKED_CLASSES: [&str; 2] = ["not_liked", "liked"];

/// The decision rule of a run's primary head, one variant per head kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Binary and multiclass heads: the most probable class, or for two
    /// classes the positive one at or above `threshold`.
    Classes {
        /// Positive-class probability at or above which a binary head
        /// decides the positive class.
        threshold: Option<f32>,
    },
    /// User–item rating heads: the clipped rating, and "liked" when its
    /// calibrated probability reaches 0.5.
    Rating(RatingDecision),
    /// Autoencoders: an anomaly when the reconstruction error reaches the
    /// threshold.
    Anomaly(AnomalyDecision),
    /// Regression heads: the number is the answer.
    Value,
    /// Multilabel heads: every label on its own at probability 0.5.
    Multilabel,
}

/// What a [`Decision`] made of a batch of rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decided {
    /// Row-major probability columns: one per class (two for ratings and
    /// anomalies, one per label for multilabel heads); empty for values.
    pub probabilities: Vec<f32>,
    /// The decided class of each row; empty for values and multilabel.
    pub classes: Vec<usize>,
    /// The number behind each row's answer: the clipped rating, the
    /// reconstruction error or the predicted value; empty for classes.
    pub values: Vec<f32>,
}

impl Decision {
    /// Whether the two columns this rule decides between are probabilities.
    /// An autoencoder's alarm score is not one, so its answers carry no
    /// per-class probabilities and its metrics no log-loss.
    pub fn scores_are_probabilities(&self) -> bool {
        !matches!(self, Decision::Anomaly(_))
    }

    /// Classification metrics of rows this rule decided: `probabilities`
    /// (one column per class), the decided classes and the true labels.
    pub(crate) fn metrics(
        &self,
        probabilities: &[f32],
        predicted: &[usize],
        labels: &[u32],
        classes: &[String],
    ) -> ClassificationMetrics {
        let mut m = classification_metrics_for(probabilities, predicted, labels, classes);
        if !self.scores_are_probabilities() {
            m.log_loss = None;
        }
        m
    }

    /// The decision from its recorded parts (`metrics.json` keeps them as
    /// `threshold`, `rating` and `anomaly`).
    pub(crate) fn from_parts(
        head: Head,
        threshold: Option<f32>,
        rating: Option<RatingDecision>,
        anomaly: Option<AnomalyDecision>,
    ) -> Decision {
        match (anomaly, rating, head) {
            (Some(a), _, _) => Decision::Anomaly(a),
            (None, Some(r), _) => Decision::Rating(r),
            (None, None, Head::Regression { .. }) => Decision::Value,
            (None, None, Head::Multilabel { .. }) => Decision::Multilabel,
            _ => Decision::Classes { threshold },
        }
    }

    /// The threshold `metrics.json` records: a binary head's, and 0.5 for
    /// the liked view of a rating head.
    pub fn threshold(&self) -> Option<f32> {
        match self {
            Decision::Classes { threshold } => *threshold,
            Decision::Rating(_) => Some(0.5),
            _ => None,
        }
    }

    /// The rating rule, for a rating head.
    pub fn rating(&self) -> Option<RatingDecision> {
        match self {
            Decision::Rating(r) => Some(*r),
            _ => None,
        }
    }

    /// The alarm rule, for an autoencoder.
    pub fn anomaly(&self) -> Option<AnomalyDecision> {
        match self {
            Decision::Anomaly(a) => Some(*a),
            _ => None,
        }
    }

    /// Decides every row from the network's `outputs`; `inputs` are the
    /// model inputs the outputs came from (an autoencoder's error compares
    /// the two), `classes` the number of class columns.
    pub fn apply(&self, head: Head, outputs: Vec<f32>, inputs: &[f32], classes: usize) -> Decided {
        match self {
            Decision::Classes { threshold } => {
                let probabilities = class_columns(head, outputs);
                let classes = predict_classes(&probabilities, classes, *threshold);
                Decided {
                    probabilities,
                    classes,
                    values: Vec::new(),
                }
            }
            Decision::Rating(rule) => {
                let mut decided = Decided::default();
                for &o in &outputs {
                    let (rating, p) = rule.apply(o);
                    decided.values.push(rating);
                    decided.probabilities.extend([1.0 - p, p]);
                }
                decided.classes = predict_classes(&decided.probabilities, 2, Some(0.5));
                decided
            }
            Decision::Anomaly(rule) => {
                let errors = reconstruction_errors(inputs, &outputs, head.outputs());
                Decided {
                    probabilities: errors
                        .iter()
                        .flat_map(|&e| {
                            let s = rule.score(e);
                            [1.0 - s, s]
                        })
                        .collect(),
                    classes: errors.iter().map(|&e| usize::from(rule.fires(e))).collect(),
                    values: errors,
                }
            }
            Decision::Value => Decided {
                values: outputs,
                ..Decided::default()
            },
            Decision::Multilabel => Decided {
                probabilities: outputs,
                ..Decided::default()
            },
        }
    }
}

/// Head outputs as one probability column per class.
pub(crate) fn class_columns(head: Head, outputs: Vec<f32>) -> Vec<f32> {
    match head {
        Head::Binary => binary_to_two_columns(&outputs),
        _ => outputs,
    }
}

/// Mean squared difference between each row of `x` and its reconstruction.
pub(crate) fn reconstruction_errors(x: &[f32], reconstructed: &[f32], width: usize) -> Vec<f32> {
    x.chunks_exact(width.max(1))
        .zip(reconstructed.chunks_exact(width.max(1)))
        .map(|(a, b)| a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum::<f32>() / width as f32)
        .collect()
}

/// The value below which `percentile` % of `values` fall (nearest rank).
pub(crate) fn percentile_of(values: &[f32], percentile: f64) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((percentile / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_threshold_is_a_percentile_of_normal_errors() {
        let errors: Vec<f32> = (1..=200).map(|i| i as f32).collect();
        assert_eq!(percentile_of(&errors, 99.0), 198.0);
        assert_eq!(percentile_of(&errors, 50.0), 100.0);
        let d = AnomalyDecision {
            threshold: 198.0,
            percentile: 99.0,
        };
        assert_eq!(d.score(198.0), 0.5);
        assert!(d.score(10.0) < d.score(300.0));
        // Two rows: one reproduced exactly, one off by 2 in both inputs.
        assert_eq!(
            reconstruction_errors(&[1.0, 1.0, 0.0, 0.0], &[1.0, 1.0, 2.0, 2.0], 2),
            [0.0, 4.0]
        );
    }

    #[test]
    fn each_head_kind_decides_its_own_way() {
        let binary = Decision::Classes {
            threshold: Some(0.3),
        };
        let d = binary.apply(Head::Binary, vec![0.2, 0.35], &[], 2);
        assert_eq!(d.classes, [0, 1], "0.35 clears a threshold of 0.3");
        assert_eq!(d.probabilities.len(), 4);

        let alarm = Decision::Anomaly(AnomalyDecision {
            threshold: 1.0,
            percentile: 99.0,
        });
        let d = alarm.apply(
            Head::Reconstruction { width: 1 },
            vec![0.0, 3.0],
            &[0.5, 0.0],
            2,
        );
        assert_eq!(d.values, [0.25, 9.0]);
        assert_eq!(d.classes, [0, 1]);

        let rating = Decision::Rating(RatingDecision {
            liked_at: 4.0,
            calibration: [1.0, -4.0],
            range: Some([1.0, 5.0]),
        });
        let head = Head::Regression {
            outputs: 1,
            huber: false,
        };
        let d = rating.apply(head, vec![7.0, 2.0], &[], 2);
        assert_eq!(d.values, [5.0, 2.0], "clipped to the declared range");
        assert_eq!(d.classes, [1, 0]);
        assert_eq!(Decision::Value.apply(head, vec![2.5], &[], 0).values, [2.5]);
    }

    #[test]
    fn a_decision_survives_its_record_in_the_metrics() {
        let rating = RatingDecision {
            liked_at: 4.0,
            calibration: [1.0, 0.0],
            range: None,
        };
        let head = Head::Regression {
            outputs: 1,
            huber: false,
        };
        for (decision, head) in [
            (
                Decision::Classes {
                    threshold: Some(0.4),
                },
                Head::Binary,
            ),
            (
                Decision::Classes { threshold: None },
                Head::Multiclass { classes: 3 },
            ),
            (Decision::Rating(rating), head),
            (Decision::Value, head),
            (Decision::Multilabel, Head::Multilabel { labels: 2 }),
        ] {
            let back = Decision::from_parts(
                head,
                decision.threshold(),
                decision.rating(),
                decision.anomaly(),
            );
            assert_eq!(back, decision);
        }
    }
}
