//! Learning-rate schedules as a pure function of training progress, so the
//! rate at any step is reproducible and recorded in the run history.

use indus_spec::{ScheduleKind, TrainingSpec};

/// Learning rate for `step` (0-based, within `epoch`) of a run with
/// `steps_per_epoch` optimiser steps per epoch.
pub fn learning_rate(
    spec: &TrainingSpec,
    epoch: usize,
    step: usize,
    steps_per_epoch: usize,
) -> f64 {
    let base = spec.optimizer.learning_rate.get();
    let schedule = &spec.lr_schedule;
    match schedule.kind {
        ScheduleKind::Constant => base,
        ScheduleKind::Step => {
            let every = schedule.every_epochs.map_or(1, |c| c.get());
            let gamma = schedule.gamma.map_or(0.1, |g| g.get());
            base * gamma.powi((epoch / every) as i32)
        }
        ScheduleKind::Cosine => {
            let min = schedule.min_lr.unwrap_or(0.0);
            let total = (spec.epochs.get() * steps_per_epoch.max(1)) as f64;
            let done = (epoch * steps_per_epoch + step) as f64;
            let progress = (done / total).clamp(0.0, 1.0);
            min + 0.5 * (base - min) * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::parse_scenario;
    use std::path::Path;

    fn spec(schedule: &str) -> TrainingSpec {
        let text = format!(
            "name: s\nplugin: p\nmodel: {{hidden: []}}\nseed: 0\ntraining:\n  epochs: 10\n  batch_size: 1\n  optimizer: {{kind: sgd, learning_rate: 0.1}}\n  lr_schedule: {schedule}\n"
        );
        parse_scenario(Path::new("s.yaml"), &text).unwrap().training
    }

    #[test]
    fn step_schedule_decays_every_n_epochs() {
        let s = spec("{kind: step, every_epochs: 3, gamma: 0.5}");
        assert_eq!(learning_rate(&s, 2, 0, 10), 0.1);
        assert_eq!(learning_rate(&s, 3, 0, 10), 0.05);
        assert!((learning_rate(&s, 9, 5, 10) - 0.0125).abs() < 1e-12);
    }

    #[test]
    fn cosine_goes_from_base_to_min() {
        let s = spec("{kind: cosine, min_lr: 0.001}");
        assert_eq!(learning_rate(&s, 0, 0, 10), 0.1);
        assert!((learning_rate(&s, 5, 0, 10) - (0.001 + 0.5 * 0.099)).abs() < 1e-12);
        assert!(learning_rate(&s, 9, 9, 10) < 0.0011);
    }
}
