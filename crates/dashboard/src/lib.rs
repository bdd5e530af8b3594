//! One page that compares every indus scenario: a sortable, filterable
//! table of headline metrics beside their published baselines, overlaid
//! learning curves, and per scenario the confusion matrix, ROC and PR
//! curves, model size and measured speed. `indus serve` serves it live at
//! `/` (with training progress and a "try it" form); `indus report` writes
//! the same page as one self-contained HTML file.
//!
//! Charts are SVG drawn by plotters on the server; the page loads nothing
//! from the network.

#![warn(missing_docs)]

pub mod charts;
mod page;
mod perf;

pub use page::{Mode, ScenarioView, page};
pub use perf::{Perf, measure};
