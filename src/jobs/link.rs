//! The link to the Redis holding the queues. Connecting can take tens of
//! seconds when Redis is away (the client retries), so it happens in a
//! background task and the screens read `Ready` or not; once connected,
//! redis-rs's connection manager reconnects by itself. Every call goes
//! through [`JobsLink::call`], bounded by [`CALL_TIMEOUT`]: a slow or absent
//! Redis makes a clear message, never a hung page.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bullmq::options::RedisConnectionOptions;
use bullmq::redis_connection::RedisConnection;
use bullmq::{Queue, QueueOptions};

use crate::config::JobsConfig;

/// A page answers within a second, Redis or not.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(800);
/// Between two connection attempts while Redis is away.
const RETRY_EVERY: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsError {
    #[error("Redis is not configured")]
    NotConfigured,
    #[error("Redis does not answer")]
    Unavailable,
    #[error("no such queue")]
    UnknownQueue,
    #[error("no such job")]
    NotFound,
    /// The job is not in a state the action applies to (BullMQ's script refused).
    #[error("the job is not in a state for this")]
    WrongState,
    #[error("Redis error: {0}")]
    Redis(String),
}

impl JobsError {
    /// The i18n key saying it to staff.
    pub fn key(&self) -> &'static str {
        match self {
            JobsError::NotConfigured => "jobs.not_configured",
            JobsError::Unavailable => "jobs.unavailable",
            JobsError::UnknownQueue => "jobs.unknown_queue",
            JobsError::NotFound => "jobs.not_found",
            JobsError::WrongState => "jobs.wrong_state",
            JobsError::Redis(_) => "jobs.redis_error",
        }
    }
}

impl From<bullmq::Error> for JobsError {
    fn from(e: bullmq::Error) -> Self {
        match e {
            bullmq::Error::JobNotFound(_) => JobsError::NotFound,
            bullmq::Error::Script { code, .. } if code < 0 => JobsError::WrongState,
            // Some scripts' refusals come back as text ("… failed with code -3").
            bullmq::Error::InvalidConfig(m) if m.contains("with code -") => JobsError::WrongState,
            bullmq::Error::Redis(e) if e.is_io_error() || e.is_timeout() => JobsError::Unavailable,
            other => {
                // The screens say "see the log": this is the log.
                tracing::warn!(error = %other, "a BullMQ call failed");
                JobsError::Redis(other.to_string())
            }
        }
    }
}

impl From<redis::RedisError> for JobsError {
    fn from(e: redis::RedisError) -> Self {
        JobsError::from(bullmq::Error::Redis(e))
    }
}

/// Connected: the connection and one `Queue` per configured name (each
/// created once, as creating one writes the queue's meta hash).
#[derive(Clone)]
pub struct Ready {
    pub conn: RedisConnection,
    pub queues: Vec<Queue>,
}

pub struct JobsLink {
    pub config: JobsConfig,
    ready: RwLock<Option<Ready>>,
}

impl JobsLink {
    pub fn new(config: &JobsConfig) -> Arc<JobsLink> {
        Arc::new(JobsLink {
            config: config.clone(),
            ready: RwLock::new(None),
        })
    }

    pub fn configured(&self) -> bool {
        self.config.redis_url.is_some()
    }

    pub fn queue_names(&self) -> &[String] {
        &self.config.queues
    }

    pub fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// Connects in the background until Redis answers (no-op unconfigured).
    pub fn start(self: &Arc<Self>) {
        let Some(url) = self.config.redis_url.clone() else {
            return;
        };
        let link = self.clone();
        tokio::spawn(async move {
            loop {
                match tokio::time::timeout(Duration::from_secs(30), link.connect(&url)).await {
                    Ok(Ok(ready)) => {
                        if let Ok(mut slot) = link.ready.write() {
                            *slot = Some(ready);
                        }
                        tracing::info!(queues = ?link.config.queues, "connected to the BullMQ Redis");
                        return;
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "BullMQ Redis: cannot connect yet"),
                    Err(_) => tracing::warn!("BullMQ Redis: connecting timed out"),
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
        });
    }

    async fn connect(&self, url: &str) -> Result<Ready, bullmq::Error> {
        let opts = RedisConnectionOptions::new().url(url);
        let conn = RedisConnection::new_managed_only(&opts).await?;
        let mut queues = Vec::with_capacity(self.config.queues.len());
        for name in &self.config.queues {
            let q_opts = QueueOptions {
                connection: opts.clone(),
                prefix: self.config.prefix.clone(),
                ..QueueOptions::default()
            };
            queues.push(Queue::with_connection(name, conn.clone(), q_opts).await?);
        }
        Ok(Ready { conn, queues })
    }

    /// The link when connected, else why not.
    pub fn ready(&self) -> Result<Ready, JobsError> {
        if !self.configured() {
            return Err(JobsError::NotConfigured);
        }
        self.ready
            .read()
            .ok()
            .and_then(|r| r.clone())
            .ok_or(JobsError::Unavailable)
    }

    pub fn queue(&self, name: &str) -> Result<Queue, JobsError> {
        if !self.config.queues.iter().any(|q| q == name) {
            return Err(JobsError::UnknownQueue);
        }
        self.ready()?
            .queues
            .into_iter()
            .find(|q| q.name() == name)
            .ok_or(JobsError::UnknownQueue)
    }

    /// Runs `work` against Redis within [`CALL_TIMEOUT`].
    pub async fn call<T, E, F>(work: F) -> Result<T, JobsError>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<JobsError>,
    {
        match tokio::time::timeout(CALL_TIMEOUT, work).await {
            Ok(r) => r.map_err(Into::into),
            Err(_) => Err(JobsError::Unavailable),
        }
    }
}
