//! The alert settings: thresholds per queue and rule, where alerts go and
//! the cool-down, kept as one JSON document in `shared_state`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::{Db, shared_state};

const KEY: &str = "jobs.alerts";

/// The rules, in the order the settings page shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Failed share of finished attempts over `window` minutes, with at
    /// least `min_finished` finished.
    FailureRate,
    /// Failed attempts in the last hour.
    FailuresHour,
    /// The oldest waiting job's age, minutes.
    OldestWaiting,
    /// No worker online for `threshold` minutes.
    NoWorker,
}

impl Rule {
    pub const ALL: [Rule; 4] = [
        Rule::FailureRate,
        Rule::FailuresHour,
        Rule::OldestWaiting,
        Rule::NoWorker,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Rule::FailureRate => "failure_rate",
            Rule::FailuresHour => "failures_hour",
            Rule::OldestWaiting => "oldest_waiting",
            Rule::NoWorker => "no_worker",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.key() == s)
    }
}

/// One rule's thresholds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub enabled: bool,
    /// Percent (failure rate), count (failures an hour) or minutes.
    pub threshold: i64,
    /// Minutes looked at (failure rate only).
    #[serde(default)]
    pub window: i64,
    /// Finished jobs needed before a rate means anything (failure rate only).
    #[serde(default)]
    pub min_finished: i64,
}

impl Limits {
    /// The defaults: 20 % over 10 minutes with at least 20
    /// finished; 50 failures an hour; 15 minutes waiting; 5 minutes
    /// without a worker.
    pub fn default_for(rule: Rule) -> Limits {
        let (threshold, window, min_finished) = match rule {
            Rule::FailureRate => (20, 10, 20),
            Rule::FailuresHour => (50, 60, 0),
            Rule::OldestWaiting => (15, 0, 0),
            Rule::NoWorker => (5, 0, 0),
        };
        Limits {
            enabled: true,
            threshold,
            window,
            min_finished,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSettings {
    /// Per queue, per rule; a queue or rule absent has the defaults.
    #[serde(default)]
    pub rules: BTreeMap<String, BTreeMap<Rule, Limits>>,
    /// A Slack incoming webhook (https://hooks.slack.com/…), or none.
    #[serde(default)]
    pub slack_url: Option<String>,
    /// Addresses mailed (through the outbox).
    #[serde(default)]
    pub emails: Vec<String>,
    /// After a breach was sent, the same rule of the same queue sends
    /// nothing new for this long.
    pub cooldown_minutes: i64,
    /// In-app notifications to staff who read jobs.
    pub notify_in_app: bool,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            rules: BTreeMap::new(),
            slack_url: None,
            emails: Vec::new(),
            cooldown_minutes: 30,
            notify_in_app: true,
        }
    }
}

impl AlertSettings {
    pub fn limits(&self, queue: &str, rule: Rule) -> Limits {
        self.rules
            .get(queue)
            .and_then(|r| r.get(&rule))
            .cloned()
            .unwrap_or_else(|| Limits::default_for(rule))
    }

    pub async fn load(db: &mut Db) -> Result<AlertSettings, diesel::result::Error> {
        Ok(shared_state::get(db, KEY)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default())
    }

    pub async fn save(&self, db: &mut Db) -> Result<(), diesel::result::Error> {
        let text = serde_json::to_string(self).unwrap_or_default();
        shared_state::set(db, KEY, &text).await
    }

    /// For the audit trail: the Slack URL is a secret, its host is enough.
    pub fn audited(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["slack_url"] = match &self.slack_url {
            Some(u) => serde_json::json!(
                url::Url::parse(u)
                    .ok()
                    .and_then(|u| u.host_str().map(|h| format!("https://{h}/…")))
            ),
            None => serde_json::Value::Null,
        };
        v
    }
}
