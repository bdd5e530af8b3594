//! The largest value of every number a user sets that sizes work or memory.
//!
//! A scenario file, a CLI flag and an HTTP training request can all set
//! these; each passes through the checks here, so a typo such as
//! `epochs: 1000000000` or `hidden: [100000000]` is refused with a located
//! error before anything is allocated, instead of aborting the process.
//! The bounds sit far above any shipped scenario (the largest trains 60
//! epochs of 512-wide layers) and well below what would exhaust a machine.

use crate::{Count, ModelSpec, Scenario, TrainingSpec};

/// Most passes over the training rows.
pub const MAX_EPOCHS: usize = 100_000;
/// Widest hidden layer.
pub const MAX_LAYER_WIDTH: usize = 16_384;
/// Most hidden layers.
pub const MAX_LAYERS: usize = 64;
/// Most weights between two neighbouring hidden layers (4 bytes each:
/// 512 MiB, before the optimiser's copies).
pub const MAX_LAYER_WEIGHTS: usize = 1 << 27;
/// Most rows per optimiser step.
pub const MAX_BATCH_SIZE: usize = 1 << 20;
/// Most networks in an ensemble.
pub const MAX_ENSEMBLE: usize = 64;
/// Most folds of a cross-validation.
pub const MAX_FOLDS: usize = 100;
/// Most repeats of a cross-validation.
pub const MAX_REPEATS: usize = 100;
/// Most feature maps of one convolution layer.
pub const MAX_FILTERS: usize = 1_024;
/// Most convolution layers.
pub const MAX_CONV_LAYERS: usize = 8;
/// Widest learned embedding.
pub const MAX_EMBEDDING_DIM: usize = 4_096;
/// Largest vocabulary of an embedded column.
pub const MAX_VOCABULARY: usize = 10_000_000;
/// Most early-stopping patience epochs (beyond the epoch bound it means
/// nothing).
pub const MAX_PATIENCE: usize = MAX_EPOCHS;

/// A problem: the field path and what is wrong.
pub type Problem = (String, String);

/// `value` of `field` if it is at most `max`.
pub fn at_most(value: usize, max: usize, field: &str) -> Result<(), Problem> {
    if value > max {
        return Err((
            field.to_string(),
            format!("{value} is over this field's limit of {max}"),
        ));
    }
    Ok(())
}

/// An epoch count from a flag or a request, checked as a scenario's is.
pub fn epochs(value: u64) -> Result<Count, String> {
    let count = Count::try_from(value)?;
    at_most(count.get(), MAX_EPOCHS, "epochs").map_err(|(_, m)| m)?;
    Ok(count)
}

/// Every bound a scenario's numbers must keep.
pub fn check_scenario(s: &Scenario) -> Result<(), Problem> {
    check_model(&s.model, "model")?;
    check_training(&s.training, "training")?;
    if let Some(g) = &s.novelty_guard {
        check_model(&g.model, "novelty_guard.model")?;
        check_training(&g.training, "novelty_guard.training")?;
    }
    if let Some(k) = s.data.folds {
        at_most(k.get(), MAX_FOLDS, "data.folds")?;
    }
    if let Some(r) = s.data.repeats {
        at_most(r.get(), MAX_REPEATS, "data.repeats")?;
    }
    Ok(())
}

fn check_model(m: &ModelSpec, at: &str) -> Result<(), Problem> {
    at_most(m.hidden.len(), MAX_LAYERS, &format!("{at}.hidden"))?;
    for (i, w) in m.hidden.iter().enumerate() {
        at_most(w.get(), MAX_LAYER_WIDTH, &format!("{at}.hidden[{i}]"))?;
    }
    for (i, pair) in m.hidden.windows(2).enumerate() {
        let weights = pair[0].get().saturating_mul(pair[1].get());
        if weights > MAX_LAYER_WEIGHTS {
            return Err((
                format!("{at}.hidden[{}]", i + 1),
                format!(
                    "{} × {} weights between two layers is over the limit of {MAX_LAYER_WEIGHTS}",
                    pair[0].get(),
                    pair[1].get()
                ),
            ));
        }
    }
    at_most(m.ensemble.get(), MAX_ENSEMBLE, &format!("{at}.ensemble"))?;
    at_most(m.conv.len(), MAX_CONV_LAYERS, &format!("{at}.conv"))?;
    for (i, c) in m.conv.iter().enumerate() {
        at_most(
            c.filters.get(),
            MAX_FILTERS,
            &format!("{at}.conv[{i}].filters"),
        )?;
    }
    Ok(())
}

fn check_training(t: &TrainingSpec, at: &str) -> Result<(), Problem> {
    at_most(t.epochs.get(), MAX_EPOCHS, &format!("{at}.epochs"))?;
    at_most(
        t.batch_size.get(),
        MAX_BATCH_SIZE,
        &format!("{at}.batch_size"),
    )?;
    if let Some(e) = &t.early_stopping {
        at_most(
            e.patience.get(),
            MAX_PATIENCE,
            &format!("{at}.early_stopping.patience"),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_override_beyond_the_bound_is_refused_with_the_bound() {
        let e = epochs(1_000_000_000).unwrap_err();
        assert!(e.contains("100000"), "{e}");
        assert!(epochs(u64::MAX).is_err());
        assert!(epochs(0).is_err());
        assert_eq!(epochs(30).unwrap().get(), 30);
    }
}
