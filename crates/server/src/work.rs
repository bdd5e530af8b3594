//! Where a request's CPU work runs, and until when. Predictions run on
//! their scenario's inference threads ([`crate::batcher`]); drift,
//! explanations and recommendations on a bounded pool of blocking threads
//! here. Neither runs on the async threads that accept connections and
//! answer `/health`. Each request carries a [`Deadline`]; long work is
//! done in chunks and checks it between them, so a request that timed out
//! (or whose client went away) stops using the CPU instead of finishing
//! unseen.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Rows handled per step of a long request: between steps the deadline is
/// checked, and the memory a step holds (preprocessed rows, the reason
/// codes' integration path) stays bounded whatever the request's size.
pub const CHUNK_ROWS: usize = 256;

/// Pixels of image decoding one permit of the decode budget stands for.
pub const PIXELS_PER_PERMIT: u64 = 1_000_000;

/// The decode budget: images being decoded at once hold at most twice the
/// largest image's pixels (two of the largest, or many small ones), so
/// concurrent uploads cannot together exhaust memory.
pub fn decode_budget() -> Arc<Semaphore> {
    let permits = (2 * indus_data::MAX_IMAGE_PIXELS).div_ceil(PIXELS_PER_PERMIT);
    Arc::new(Semaphore::new(usize::try_from(permits).unwrap_or(100)))
}

/// When a request's work must stop, and whether its caller has gone.
#[derive(Clone, Debug)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
    abandoned: Arc<AtomicBool>,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> (Deadline, Abandon) {
        let abandoned = Arc::new(AtomicBool::new(false));
        let deadline = Deadline {
            at: Instant::now() + budget,
            budget,
            abandoned: abandoned.clone(),
        };
        (deadline, Abandon(abandoned))
    }

    /// `Err` (408) once the time is up or the request was given up.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.abandoned.load(Ordering::Relaxed) || Instant::now() >= self.at {
            return Err(self.expired());
        }
        Ok(())
    }

    /// What is left, for waits that take a timeout.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    fn expired(&self) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "no answer within {} ms; the work was stopped",
                self.budget.as_millis()
            ),
        )
    }
}

/// Held by whoever owns the request: dropping it (the answer was sent,
/// the request timed out, or the client disconnected) tells the work to
/// stop at its next check.
pub struct Abandon(Arc<AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl FromRequestParts<crate::AppState> for Deadline {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::AppState,
    ) -> Result<Self, ApiError> {
        // Set by the router's outermost layer; a router assembled without
        // it (never in `serve`) still gets the configured budget.
        Ok(parts
            .extensions
            .get::<Deadline>()
            .cloned()
            .unwrap_or_else(|| Deadline::after(state.config.request_timeout).0))
    }
}

/// The bounded pool request work runs on.
pub struct WorkPool {
    permits: Arc<Semaphore>,
}

impl WorkPool {
    /// At most `threads` pieces of request work at once.
    pub fn new(threads: usize) -> WorkPool {
        WorkPool {
            permits: Arc::new(Semaphore::new(threads.max(1))),
        }
    }

    /// Runs `work` on a blocking thread once one is free, within
    /// `deadline`: waiting for a thread counts against it, and `work` gets
    /// the deadline to check between its chunks.
    pub async fn run<T, F>(&self, deadline: &Deadline, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Deadline) -> Result<T, ApiError> + Send + 'static,
    {
        let permit =
            tokio::time::timeout(deadline.remaining(), self.permits.clone().acquire_owned())
                .await
                .map_err(|_| deadline.expired())?
                .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        let deadline = deadline.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            deadline.check()?;
            work(&deadline)
        })
        .await
        .map_err(|e| ApiError::internal(format!("request work failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_expires_and_an_abandoned_request_stops_at_once() {
        let (d, _keep) = Deadline::after(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(d.check().unwrap_err().status, StatusCode::REQUEST_TIMEOUT);
        let (d, abandon) = Deadline::after(Duration::from_secs(60));
        assert!(d.check().is_ok());
        drop(abandon);
        assert!(d.check().is_err());
    }

    #[tokio::test]
    async fn work_waiting_for_a_busy_pool_gives_up_at_its_deadline() {
        let pool = Arc::new(WorkPool::new(1));
        let (long, _a) = Deadline::after(Duration::from_secs(5));
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(&long, |_| {
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (short, _b) = Deadline::after(Duration::from_millis(50));
        let started = Instant::now();
        let err = pool.run(&short, |_| Ok(())).await.unwrap_err();
        assert_eq!(err.status, StatusCode::REQUEST_TIMEOUT);
        assert!(started.elapsed() < Duration::from_millis(250));
        busy.await.unwrap().unwrap();
    }
}
