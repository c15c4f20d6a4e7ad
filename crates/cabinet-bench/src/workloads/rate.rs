//! Closed-loop load: a fixed number of workers, each sending its next request as soon as the previous one
//! answered. Workers are tokio tasks, so they spread over the runtime's threads.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a load run did.
pub struct Outcome {
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed.
    pub failed: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// Wall time from the first request to the last answer.
    pub secs: f64,
}

impl Outcome {
    /// Successful operations per second, or an error when any operation failed.
    pub fn per_sec(&self) -> Result<f64, String> {
        if self.failed > 0 {
            return Err(format!(
                "{} of {} requests failed; first: {}",
                self.failed,
                self.failed + self.ok,
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        Ok(self.ok as f64 / self.secs.max(1e-9))
    }
}

enum Stop {
    After(Instant),
    Count(u64),
}

/// Runs `op(0), op(1), ...` with `in_flight` workers for `secs` seconds.
pub async fn for_duration<F, Fut>(secs: f64, in_flight: usize, op: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    drive(Stop::After(deadline), in_flight, op).await
}

/// Runs `op(0) .. op(n-1)` with `in_flight` workers.
pub async fn count<F, Fut>(n: u64, in_flight: usize, op: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    drive(Stop::Count(n), in_flight, op).await
}

async fn drive<F, Fut>(stop: Stop, in_flight: usize, op: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let stop = Arc::new(stop);
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let mut workers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight.max(1) {
        let (op, stop, next, ok, failed, first_error) = (
            op.clone(),
            stop.clone(),
            next.clone(),
            ok.clone(),
            failed.clone(),
            first_error.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                match *stop {
                    Stop::After(t) if Instant::now() >= t => break,
                    Stop::Count(n) if i >= n => break,
                    _ => {}
                }
                match op(i).await {
                    Ok(()) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        if let Err(e) = w.await {
            failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut slot) = first_error.lock() {
                slot.get_or_insert_with(|| format!("a worker panicked: {e}"));
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let first_error = first_error.lock().ok().and_then(|s| s.clone());
    Outcome {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        first_error,
        secs,
    }
}
