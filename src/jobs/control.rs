//! What staff do to a job or a queue, through BullMQ's own scripts (so the
//! Node workers see exactly what the Node library would have done):
//! retry a failed job, delete a job, run a delayed job now, pause and
//! resume a queue. Each bounded by [`JobsLink::call`]; the audit is the
//! caller's.

use bullmq::types::JobState;

use super::link::{JobsError, JobsLink};

/// A failed job back to waiting (its attempts count on).
pub async fn retry(link: &JobsLink, queue: &str, id: &str) -> Result<(), JobsError> {
    let q = link.queue(queue)?;
    JobsLink::call(async {
        let Some(mut job) = q.get_job(id).await? else {
            return Err(JobsError::NotFound);
        };
        // Asked first for a clear answer; BullMQ's script refuses too.
        if q.get_job_state(id).await? != JobState::Failed {
            return Err(JobsError::WrongState);
        }
        job.retry("failed", None).await?;
        Ok(())
    })
    .await
}

/// Deletes a job and its logs; an active job (locked by a worker) refuses.
pub async fn remove(link: &JobsLink, queue: &str, id: &str) -> Result<(), JobsError> {
    let q = link.queue(queue)?;
    JobsLink::call(async {
        if q.get_job(id).await?.is_none() {
            return Err(JobsError::NotFound);
        }
        if q.remove(id).await? {
            Ok(())
        } else {
            Err(JobsError::WrongState)
        }
    })
    .await
}

/// A delayed job to waiting now.
pub async fn promote(link: &JobsLink, queue: &str, id: &str) -> Result<(), JobsError> {
    let q = link.queue(queue)?;
    JobsLink::call(async {
        let Some(job) = q.get_job(id).await? else {
            return Err(JobsError::NotFound);
        };
        if q.get_job_state(id).await? != JobState::Delayed {
            return Err(JobsError::WrongState);
        }
        job.promote().await?;
        Ok(())
    })
    .await
}

/// Pauses (or resumes) the queue: the Node workers stop (start again)
/// taking jobs; the ones running finish.
pub async fn set_paused(link: &JobsLink, queue: &str, paused: bool) -> Result<(), JobsError> {
    let q = link.queue(queue)?;
    JobsLink::call(async {
        if paused {
            q.pause().await
        } else {
            q.resume().await
        }
    })
    .await
}

/// Records `event` by `by`, then does `work` against Redis, in one
/// transaction that commits only when the work was done: a refused or
/// failed action leaves no event, a done one always has its event (but
/// for a commit failing after Redis acted).
pub async fn audited<F>(
    pool: &crate::db::Pool,
    by: crate::change::By,
    event: crate::audit::Event,
    work: F,
) -> Result<Result<(), JobsError>, crate::db::DbError>
where
    F: std::future::Future<Output = Result<(), JobsError>> + Send + 'static,
{
    let mut db = pool.get().await?;
    let outcome = db
        .transaction(|tx| {
            Box::pin(async move {
                by.record(tx, event).await.map_err(|e| match e {
                    crate::change::ChangeError::Db(e) => Refused::Db(e),
                    other => Refused::Db(diesel::result::Error::QueryBuilderError(
                        other.to_string().into(),
                    )),
                })?;
                work.await.map_err(Refused::Jobs)
            })
        })
        .await;
    match outcome {
        Ok(()) => Ok(Ok(())),
        Err(Refused::Jobs(e)) => Ok(Err(e)),
        Err(Refused::Db(e)) => Err(e.into()),
    }
}

enum Refused {
    Jobs(JobsError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Refused {
    fn from(e: diesel::result::Error) -> Self {
        Refused::Db(e)
    }
}
