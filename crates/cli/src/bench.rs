//! `indus bench`: inference latency and throughput of a saved run, measured
//! the way the PyTorch anchor measures its model, so the numbers compare.

use anyhow::Result;
use indus_data::RawTable;
use indus_runtime::LoadedRun;
use serde::Serialize;
use std::time::Instant;

/// Latency percentiles in milliseconds.
#[derive(Serialize)]
pub struct Latency {
    p50: f64,
    p99: f64,
    mean: f64,
}

/// What `indus bench` prints.
#[derive(Serialize)]
pub struct BenchReport {
    /// Batch-1 latency of the network alone (preprocessed row in, probabilities out).
    b1_model_ms: Latency,
    /// Batch-1 latency of the whole path a request takes (schema check, preprocessing, network, labels).
    b1_full_ms: Latency,
    /// Rows per second in batches of 1024 over the test split (best and median of 10 passes).
    b1024_rows_per_s: Throughput,
    rows: usize,
}

#[derive(Serialize)]
pub struct Throughput {
    best: f64,
    median: f64,
}

fn latency(mut samples: Vec<f64>) -> Latency {
    samples.sort_by(f64::total_cmp);
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Latency {
        p50: pick(0.5),
        p99: pick(0.99),
        mean: samples.iter().sum::<f64>() / samples.len() as f64,
    }
}

pub fn measure(run: &LoadedRun, test: &RawTable, samples: usize) -> Result<BenchReport> {
    let x = run.model.preprocessor.transform(test);
    let width = run.model.predictor.inputs();
    let rows = test.len();
    anyhow::ensure!(rows > 0, "the test split is empty");
    let row = |i: usize| &x[(i % rows) * width..(i % rows + 1) * width];
    for i in 0..50 {
        run.model.predictor.predict(row(i))?;
    }
    let mut model = Vec::with_capacity(samples);
    for i in 0..samples {
        let t = Instant::now();
        std::hint::black_box(run.model.predictor.predict(row(i))?);
        model.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut full = Vec::with_capacity(samples);
    for i in 0..samples {
        let one = test.select(&[i % rows]);
        let t = Instant::now();
        std::hint::black_box(run.predict(&one)?);
        full.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut passes = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        for chunk in x.chunks(1024 * width) {
            std::hint::black_box(run.model.predictor.predict(chunk)?);
        }
        passes.push(rows as f64 / t.elapsed().as_secs_f64());
    }
    passes.sort_by(f64::total_cmp);
    Ok(BenchReport {
        b1_model_ms: latency(model),
        b1_full_ms: latency(full),
        b1024_rows_per_s: Throughput {
            best: passes[passes.len() - 1],
            median: passes[passes.len() / 2],
        },
        rows,
    })
}
