//! CPU-heavy work (argon2 hashing and checks, QR codes, large exports) runs
//! on tokio's blocking pool behind a small semaphore. On two cores a few
//! concurrent argon2 checks on the async worker threads stall every other
//! request; here a flood of sign-ins queues for its permits and slows
//! sign-in only.

use tokio::sync::Semaphore;

use crate::error::AppError;

pub struct CpuPool {
    permits: Semaphore,
}

impl CpuPool {
    /// Half the cores (at least one): the other half keeps serving pages.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new((cores / 2).max(1))
    }

    pub fn new(permits: usize) -> Self {
        CpuPool {
            permits: Semaphore::new(permits),
        }
    }

    /// Runs `work` on a blocking thread once a permit is free.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::internal("CPU pool closed"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::internal(format!("CPU task failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::CpuPool;

    #[tokio::test]
    async fn runs_the_work_and_returns_its_value() {
        let pool = CpuPool::new(1);
        let (a, b) = tokio::join!(pool.run(|| 2 + 2), pool.run(|| "done"));
        assert_eq!(a.ok(), Some(4));
        assert_eq!(b.ok(), Some("done"));
    }
}
