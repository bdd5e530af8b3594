//! Speed figures for the dashboard, measured on the scenario's own example
//! rows: single-row latency and large-batch throughput of the model call.

use indus_runtime::LoadedRun;
use serde::Serialize;
use serde_json::Value;
use std::time::Instant;

/// Measured speed of one loaded run on this machine.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Perf {
    /// Median time of one single-row prediction (preprocessing and network), µs.
    pub latency_p50_us: f64,
    /// Rows per second predicted in batches of 1,024.
    pub throughput_rows_per_s: f64,
}

/// Measures `run` on its example rows (`None` when it has none, as runs made
/// before examples were saved). Takes a few tens of milliseconds.
pub fn measure(run: &LoadedRun, examples: &[Value]) -> Option<Perf> {
    let numbered: Vec<(usize, Value)> = examples.iter().cloned().enumerate().collect();
    let table = indus_data::rows_from_json(&run.plugin, "examples", &numbered).ok()?;
    if table.is_empty() {
        return None;
    }
    let one = table.select(&[0]);
    let mut times = Vec::with_capacity(200);
    for i in 0..220 {
        let t = Instant::now();
        run.predict(&one).ok()?;
        if i >= 20 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let batch_rows: Vec<usize> = (0..1024).map(|i| i % table.len()).collect();
    let batch = table.select(&batch_rows);
    run.predict(&batch).ok()?;
    let t = Instant::now();
    let rounds = 3;
    for _ in 0..rounds {
        run.predict(&batch).ok()?;
    }
    let per_s = (1024 * rounds) as f64 / t.elapsed().as_secs_f64();
    Some(Perf {
        latency_p50_us: times[times.len() / 2] * 1e6,
        throughput_rows_per_s: per_s,
    })
}
