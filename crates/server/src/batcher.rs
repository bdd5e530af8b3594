//! Micro-batching: concurrent requests for one scenario share model calls.
//! Each worker thread takes the oldest request, adds whatever else is queued
//! (optionally waiting a little for more) up to a row cap, runs the network
//! once and hands every request its slice. Inference never runs on the
//! async executor.

use indus_runtime::LoadedRun;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request's preprocessed rows waiting for the model.
struct Job {
    x: Vec<f32>,
    rows: usize,
    reply: crossbeam_channel::Sender<Result<Vec<f32>, String>>,
}

/// Why a model call gave no outputs.
#[derive(Debug)]
pub enum Waited {
    /// The wait ran out (the request's deadline).
    TimedOut,
    /// The model or its workers failed.
    Failed(String),
}

/// Observes the size of each model call (for `/metrics`).
pub type BatchObserver = Arc<dyn Fn(usize) + Send + Sync>;

/// The queue in front of one scenario's worker threads. Dropping it stops
/// the workers once the queue is empty.
pub struct Batcher {
    queue: crossbeam_channel::Sender<Job>,
}

impl Batcher {
    /// Starts `workers` threads answering for `run`.
    pub fn start(
        name: &str,
        run: Arc<LoadedRun>,
        workers: usize,
        max_rows: usize,
        max_wait: Duration,
        observe: BatchObserver,
    ) -> std::io::Result<Batcher> {
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        for i in 0..workers.max(1) {
            let jobs = jobs.clone();
            let run = run.clone();
            let observe = observe.clone();
            std::thread::Builder::new()
                .name(format!("infer-{name}-{i}"))
                .spawn(move || work(&run, &jobs, max_rows.max(1), max_wait, &*observe))?;
        }
        Ok(Batcher { queue })
    }

    /// Network outputs for `rows` preprocessed rows, waiting (on the
    /// calling thread, a request-work thread) at most until `wait` is over.
    pub fn infer(&self, x: Vec<f32>, rows: usize, wait: Duration) -> Result<Vec<f32>, Waited> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.queue
            .send(Job { x, rows, reply })
            .map_err(|_| Waited::Failed("the scenario's inference workers have stopped".into()))?;
        match answer.recv_timeout(wait) {
            Ok(out) => out.map_err(Waited::Failed),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(Waited::TimedOut),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(Waited::Failed(
                "the inference worker dropped the request".into(),
            )),
        }
    }
}

fn work(
    run: &LoadedRun,
    jobs: &crossbeam_channel::Receiver<Job>,
    max_rows: usize,
    max_wait: Duration,
    observe: &(dyn Fn(usize) + Send + Sync),
) {
    while let Ok(first) = jobs.recv() {
        let mut rows = first.rows;
        let mut batch = vec![first];
        let deadline = Instant::now() + max_wait;
        while rows < max_rows {
            let next = if max_wait.is_zero() {
                jobs.try_recv().ok()
            } else {
                jobs.recv_deadline(deadline).ok()
            };
            let Some(job) = next else { break };
            rows += job.rows;
            batch.push(job);
        }
        observe(rows);
        if batch.len() == 1 {
            let job = batch.remove(0);
            let out = run
                .model
                .predictor
                .predict(&job.x)
                .map_err(|e| e.to_string());
            let _ = job.reply.send(out);
            continue;
        }
        let x: Vec<f32> = batch.iter().flat_map(|j| j.x.iter().copied()).collect();
        match run.model.predictor.predict(&x) {
            Ok(out) => {
                let per_row = out.len() / rows.max(1);
                let mut at = 0;
                for job in batch {
                    let n = job.rows * per_row;
                    let _ = job.reply.send(Ok(out[at..at + n].to_vec()));
                    at += n;
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
