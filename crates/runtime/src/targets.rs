//! Training targets shaped for learning: class weights that make every
//! class count alike, and regression targets learned as z-scores and folded
//! back into the output layer.

use indus_engine::Targets;

/// `rows / (classes × rows of c)` for each class c (1 for a class absent
/// from the rows), so that every class weighs the same in total.
pub(crate) fn balanced_weights(labels: &[u32], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for &l in labels {
        if let Some(c) = counts.get_mut(l as usize) {
            *c += 1;
        }
    }
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                1.0
            } else {
                labels.len() as f32 / (classes as f32 * c as f32)
            }
        })
        .collect()
}

/// A regression head's target scaling: its output column, and the
/// training rows' mean and standard deviation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetScale {
    pub column: usize,
    pub mean: f32,
    pub std: f32,
}

impl TargetScale {
    /// Fits the scaling of one-number targets and rewrites them as
    /// z-scores; `None` when they are not one number per row.
    pub fn standardize(targets: &mut Targets, column: usize) -> Option<TargetScale> {
        let Targets::Values { values, width: 1 } = targets else {
            return None;
        };
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let variance = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = if variance > 0.0 { variance.sqrt() } else { 1.0 };
        let scale = TargetScale {
            column,
            mean: mean as f32,
            std: std as f32,
        };
        scale.apply(targets);
        Some(scale)
    }

    /// Rewrites values as z-scores on this scale.
    pub fn apply(self, targets: &mut Targets) {
        if let Targets::Values { values, .. } = targets {
            values
                .iter_mut()
                .for_each(|v| *v = (*v - self.mean) / self.std);
        }
    }

    /// Rewrites z-scores back into the target's unit.
    pub fn undo(self, targets: &mut Targets) {
        if let Targets::Values { values, .. } = targets {
            values
                .iter_mut()
                .for_each(|v| *v = *v * self.std + self.mean);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights_make_every_class_count_the_same() {
        let w = balanced_weights(&[0, 0, 0, 1], 3);
        assert_eq!(w, vec![4.0 / 9.0, 4.0 / 3.0, 1.0]);
        assert!((3.0 * w[0] - 1.0 * w[1]).abs() < 1e-6);
    }

    #[test]
    fn targets_learned_as_z_scores_come_back_in_their_unit() {
        let mut t = Targets::Values {
            values: vec![100.0, 200.0, 300.0],
            width: 1,
        };
        let scale = TargetScale::standardize(&mut t, 0).unwrap();
        let Targets::Values { values, .. } = &t else {
            unreachable!()
        };
        assert!((values.iter().sum::<f32>()).abs() < 1e-5, "{values:?}");
        scale.undo(&mut t);
        assert_eq!(
            t,
            Targets::Values {
                values: vec![100.0, 200.0, 300.0],
                width: 1
            }
        );
    }
}
