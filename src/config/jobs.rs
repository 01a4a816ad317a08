//! The BullMQ settings: where sowat.io's queues live and which are watched.

use url::Url;

use super::{ConfigError, Settings, bad};

/// The Redis URL may hold a password: kept out of `Debug`.
#[derive(Clone)]
pub struct JobsConfig {
    pub redis_url: Option<String>,
    pub prefix: String,
    pub queues: Vec<String>,
    /// How often the alert rules are evaluated.
    pub alert_every: std::time::Duration,
}

impl std::fmt::Debug for JobsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobsConfig")
            .field("redis_url", &self.redis_url.as_ref().map(|_| "…"))
            .field("prefix", &self.prefix)
            .field("queues", &self.queues)
            .field("alert_every", &self.alert_every)
            .finish()
    }
}

/// BullMQ refuses ':' in queue names and prefixes (it separates keys).
fn is_key_part(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && !s.contains(':') && !s.chars().any(char::is_whitespace)
}

pub(super) fn jobs_config(s: &Settings) -> Result<JobsConfig, ConfigError> {
    let redis_url = match s.redis_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => {
            Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "redis" | "rediss") && u.host().is_some())
                .ok_or_else(|| {
                    bad(
                        "SOWAT_REDIS_URL",
                        "is not a Redis URL such as redis://127.0.0.1:6379/0 (rediss:// for TLS)",
                    )
                })?;
            Some(url.to_owned())
        }
    };
    let prefix = s.bullmq_prefix.trim().to_owned();
    if !is_key_part(&prefix) {
        return Err(bad(
            "SOWAT_BULLMQ_PREFIX",
            "must be a key prefix without ':' or spaces, such as bull",
        ));
    }
    let mut queues: Vec<String> = Vec::new();
    for name in s
        .bullmq_queues
        .split(',')
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        if !is_key_part(name) {
            return Err(bad(
                "SOWAT_BULLMQ_QUEUES",
                format!("'{name}' is not a queue name (no ':' or spaces)"),
            ));
        }
        if !queues.iter().any(|q| q == name) {
            queues.push(name.to_owned());
        }
    }
    if queues.is_empty() || queues.len() > 50 {
        return Err(bad(
            "SOWAT_BULLMQ_QUEUES",
            "must name between 1 and 50 queues, comma-separated",
        ));
    }
    Ok(JobsConfig {
        redis_url,
        prefix,
        queues,
        alert_every: std::time::Duration::from_secs(s.jobs_alert_seconds.clamp(1, 3_600)),
    })
}
