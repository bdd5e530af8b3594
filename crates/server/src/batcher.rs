//! Each scenario's inference threads, which do all of a predict request's
//! CPU work off the async executor in one hop: reading and checking the
//! rows, preprocessing, native hooks, the model, decisions and reason codes.
//! Concurrent small requests share model calls (micro-batching): a worker
//! takes the oldest request, adds whatever else is queued (optionally
//! waiting a little for more) up to a row cap, runs the network once and
//! hands every request its answers. A request larger than the cap is
//! answered alone, [`CHUNK_ROWS`] rows at a time, checking its deadline
//! between chunks, so it holds bounded memory and stops when its time is up.

use crate::error::ApiError;
use crate::work::{CHUNK_ROWS, Deadline};
use indus_data::RawTable;
use indus_runtime::{LoadedRun, Prediction};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How a request's rows are read and checked, run on the worker (a large
/// JSON batch or CSV file takes a while to validate).
pub type ReadRows = Box<dyn FnOnce() -> Result<RawTable, ApiError> + Send>;

/// One request waiting for a worker.
struct Job {
    read: ReadRows,
    deadline: Deadline,
    reply: oneshot::Sender<Result<Vec<Prediction>, ApiError>>,
}

/// A job whose rows are read and preprocessed, waiting for its batch's
/// model call.
struct Prepared {
    reply: oneshot::Sender<Result<Vec<Prediction>, ApiError>>,
    table: RawTable,
    x: Vec<f32>,
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

    /// The answers for the rows `read` produces, within `deadline`.
    pub async fn predict(
        &self,
        read: ReadRows,
        deadline: &Deadline,
    ) -> Result<Vec<Prediction>, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            read,
            deadline: deadline.clone(),
            reply,
        };
        self.queue
            .send(job)
            .map_err(|_| ApiError::unavailable("the scenario's inference workers have stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("the inference worker dropped the request"))?
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
        let mut batch = Vec::new();
        let mut rows = 0;
        if let Some(p) = prepare(run, first, max_rows, observe) {
            rows += p.table.len();
            batch.push(p);
        }
        let deadline = Instant::now() + max_wait;
        while rows < max_rows {
            let next = if max_wait.is_zero() {
                jobs.try_recv().ok()
            } else {
                jobs.recv_deadline(deadline).ok()
            };
            let Some(job) = next else { break };
            if let Some(p) = prepare(run, job, max_rows, observe) {
                rows += p.table.len();
                batch.push(p);
            }
        }
        if !batch.is_empty() {
            answer_batch(run, batch, rows, observe);
        }
    }
}

/// Reads, checks and preprocesses one job's rows. A job over the batch's
/// row cap is answered here, alone and in chunks; a failed one is answered
/// with its error. Either way nothing is left to batch.
fn prepare(
    run: &LoadedRun,
    job: Job,
    max_rows: usize,
    observe: &(dyn Fn(usize) + Send + Sync),
) -> Option<Prepared> {
    let Job {
        read,
        deadline,
        reply,
    } = job;
    let prepared = deadline.check().and_then(|()| read()).and_then(|table| {
        // Every row is checked before any is answered, so errors name
        // the request's own row numbers.
        run.check_input(&table)?;
        Ok(table)
    });
    let table = match prepared {
        Ok(t) if t.len() > max_rows => {
            let _ = reply.send(answer_in_chunks(run, &t, &deadline, observe));
            return None;
        }
        Ok(t) => t,
        Err(e) => {
            let _ = reply.send(Err(e));
            return None;
        }
    };
    match run.prepare(&table) {
        Ok(x) => Some(Prepared { reply, table, x }),
        Err(e) => {
            let _ = reply.send(Err(e.into()));
            None
        }
    }
}

/// One model call for every prepared job, then each job's answers.
fn answer_batch(
    run: &LoadedRun,
    batch: Vec<Prepared>,
    rows: usize,
    observe: &(dyn Fn(usize) + Send + Sync),
) {
    observe(rows);
    let outputs = if batch.len() == 1 {
        run.model.predictor.predict(&batch[0].x)
    } else {
        let x: Vec<f32> = batch.iter().flat_map(|p| p.x.iter().copied()).collect();
        run.model.predictor.predict(&x)
    };
    let outputs = match outputs {
        Ok(o) => o,
        Err(e) => {
            for p in batch {
                let _ = p.reply.send(Err(ApiError::internal(e.to_string())));
            }
            return;
        }
    };
    let per_row = outputs.len() / rows.max(1);
    let mut at = 0;
    for p in batch {
        let n = p.table.len() * per_row;
        let mine = outputs[at..at + n].to_vec();
        at += n;
        let answered = run
            .answer_prepared(&p.table, &p.x, mine)
            .map_err(ApiError::from);
        let _ = p.reply.send(answered);
    }
}

/// A large request, [`CHUNK_ROWS`] rows at a time through preprocessing,
/// the model, the decisions and hooks, its deadline checked between chunks.
fn answer_in_chunks(
    run: &LoadedRun,
    table: &RawTable,
    deadline: &Deadline,
    observe: &(dyn Fn(usize) + Send + Sync),
) -> Result<Vec<Prediction>, ApiError> {
    let mut predictions = Vec::with_capacity(table.len());
    for start in (0..table.len()).step_by(CHUNK_ROWS) {
        deadline.check()?;
        let end = (start + CHUNK_ROWS).min(table.len());
        let chunk = table.select(&(start..end).collect::<Vec<_>>());
        let x = run.prepare(&chunk)?;
        observe(chunk.len());
        let outputs = run
            .model
            .predictor
            .predict(&x)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let answered = run.answer_prepared(&chunk, &x, outputs)?;
        predictions.extend(answered.into_iter().map(|mut p| {
            p.row += start;
            p
        }));
    }
    Ok(predictions)
}
