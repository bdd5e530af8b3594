//! Live training progress on stderr: one bar per epoch with the running loss
//! and an ETA, then a one-line summary per epoch.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use indus_engine::{EpochRecord, TrainObserver};

/// Progress bars for `indus run` (hidden when `visible` is false or stderr
/// is not a terminal; the epoch lines are still printed then).
pub struct EpochBars {
    visible: bool,
    /// Which of the run's networks is training (empty when it has one).
    part: String,
    epochs: usize,
    steps: usize,
    bar: Option<ProgressBar>,
}

impl EpochBars {
    pub fn new(visible: bool) -> Self {
        EpochBars {
            visible,
            part: String::new(),
            epochs: 0,
            steps: 0,
            bar: None,
        }
    }

    fn new_bar(&self, epoch: usize) -> ProgressBar {
        let bar =
            ProgressBar::with_draw_target(Some(self.steps as u64), ProgressDrawTarget::stderr());
        if !self.visible {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let style =
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!(
            "{}/{}{}",
            epoch + 1,
            self.epochs,
            self.part_suffix()
        ));
        bar
    }
}

impl EpochBars {
    /// ` (fold 2/5, network 3/5)`, or nothing for a run's only network.
    fn part_suffix(&self) -> String {
        if self.part.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.part)
        }
    }
}

impl TrainObserver for EpochBars {
    fn on_part(&mut self, part: &str) {
        self.part = part.to_string();
    }
    fn on_start(&mut self, epochs: usize, steps: usize) {
        self.epochs = epochs;
        self.steps = steps;
        self.bar = Some(self.new_bar(0));
    }

    fn on_step(&mut self, epoch: usize, step: usize, loss: f64, accuracy: Option<f64>) {
        if self.bar.is_none() {
            self.bar = Some(self.new_bar(epoch));
        }
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            match accuracy {
                Some(a) => bar.set_message(format!("loss {loss:.4} acc {a:.4}")),
                None => bar.set_message(format!("loss {loss:.4}")),
            }
        }
    }

    fn on_epoch(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if !self.visible {
            return;
        }
        let mut line = format!(
            "epoch {}/{}{}  {:.2}s  lr {:.2e}  loss {:.4}",
            r.epoch,
            self.epochs,
            self.part_suffix(),
            r.seconds,
            r.learning_rate,
            r.train_loss
        );
        if let Some(a) = r.train_accuracy {
            line.push_str(&format!("  acc {a:.4}"));
        }
        if let Some(l) = r.val_loss {
            line.push_str(&format!("  val_loss {l:.4}"));
        }
        if let Some(a) = r.val_accuracy {
            line.push_str(&format!("  val_acc {a:.4}"));
        }
        eprintln!("{line}");
        if r.epoch < self.epochs {
            self.bar = Some(self.new_bar(r.epoch));
        }
    }
}

impl Drop for EpochBars {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
