//! Denials to visitors without a session, summed per minute.
//!
//! Every anonymous request to `/admin/*` and every refused cross-site or
//! token-less form is a denial worth keeping, but one audit row each lets a
//! single client grow the table by a gigabyte an hour. Each denial is still
//! logged; the audit trail gets the first of each (address, path group,
//! action, minute) at once, and the repeats as one row with their count
//! once that minute is over. The in-memory tally is bounded: past
//! [`MAX_KEYS`] distinct keys, further ones are summed under one overflow key.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use super::{Action, ActorRef, Event};
use crate::audit::RequestMeta;
use crate::clock::Clock;
use crate::db::Pool;

pub const MAX_KEYS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    minute: i64,
    ip: String,
    group: String,
    action: Action,
}

#[derive(Default)]
pub struct AnonymousDenials {
    repeats: Mutex<HashMap<Key, u64>>,
}

/// The path with numbers and tokens folded (`/admin/users/{n}`), three
/// segments at most: enough to see what was probed, never a secret.
pub fn path_group(path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| {
            if s.len() > 24 || s.bytes().any(|b| b.is_ascii_digit()) {
                "{n}"
            } else {
                s
            }
        })
        .collect();
    format!("/{}", segments.join("/"))
}

impl AnonymousDenials {
    /// Counts a denial; `true` when it is the first of its key (the caller
    /// writes it to the audit trail now).
    fn note(&self, key: Key) -> bool {
        let Ok(mut map) = self.repeats.lock() else {
            return false;
        };
        let overflow = map.len() >= MAX_KEYS && !map.contains_key(&key);
        let key = if overflow {
            Key {
                ip: "(many)".into(),
                group: "(many)".into(),
                ..key
            }
        } else {
            key
        };
        match map.get_mut(&key) {
            Some(n) => {
                *n += 1;
                false
            }
            None => {
                map.insert(key, 0);
                !overflow
            }
        }
    }

    /// Logs and audits one anonymous denial (the first of its minute at
    /// once, the rest summed by [`flush`](Self::flush)).
    pub async fn record(
        &self,
        pool: &Pool,
        clock: &Clock,
        meta: &RequestMeta,
        path: &str,
        event: Event,
    ) {
        let group = path_group(path);
        tracing::warn!(action = event.action.key(), ip = ?meta.ip, path = %crate::redact::path(path), "anonymous request denied");
        let key = Key {
            minute: clock.now().unix_timestamp().div_euclid(60),
            ip: meta.ip_string().unwrap_or_default(),
            group: group.clone(),
            action: event.action,
        };
        if !self.note(key) {
            return;
        }
        let mut details = event.details.clone();
        if let Some(map) = details.as_object_mut() {
            map.insert("path_group".into(), json!(group));
            map.insert("repeats_summed_per_minute".into(), json!(true));
        }
        let event = Event { details, ..event };
        let written = match pool.get().await {
            Ok(mut db) => super::record_alone(
                &mut db,
                clock.now_primitive(),
                &ActorRef::anonymous(),
                meta,
                event,
            )
            .await
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = written {
            tracing::error!(error = %e, "could not audit a denial");
        }
    }

    /// Writes the repeats of every minute that has ended (all of them with
    /// `everything`, at shutdown or in tests): one row per key with the
    /// count. Returns how many rows were written.
    pub async fn flush(
        &self,
        pool: &Pool,
        clock: &Clock,
        everything: bool,
    ) -> Result<usize, String> {
        let now_minute = clock.now().unix_timestamp().div_euclid(60);
        let due: Vec<(Key, u64)> = {
            let Ok(mut map) = self.repeats.lock() else {
                return Err("denial tally poisoned".into());
            };
            let keys: Vec<Key> = map
                .keys()
                .filter(|k| everything || k.minute < now_minute)
                .cloned()
                .collect();
            keys.into_iter()
                .filter_map(|k| map.remove_entry(&k))
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        if due.is_empty() {
            return Ok(0);
        }
        let mut db = pool.get().await.map_err(|e| e.to_string())?;
        let at = clock.now_primitive();
        let rows = due.len();
        db.transaction(|tx| {
            Box::pin(async move {
                for (key, repeats) in due {
                    let meta = RequestMeta {
                        ip: key.ip.parse().ok(),
                        ..RequestMeta::default()
                    };
                    let event = Event::new(key.action).denied().details(json!({
                        "path_group": key.group,
                        "minute_start": key.minute * 60,
                        "repeats": repeats,
                    }));
                    super::record(tx, at, &ActorRef::anonymous(), &meta, event).await?;
                }
                Ok::<_, diesel::result::Error>(())
            })
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_fold_ids_and_tokens() {
        assert_eq!(path_group("/admin/users/123/status"), "/admin/users/{n}");
        assert_eq!(path_group("/admin"), "/admin");
        assert_eq!(
            path_group("/setup/aVeryLongTokenThatIsASecret123"),
            "/setup/{n}"
        );
    }

    #[test]
    fn the_first_of_a_minute_is_written_the_rest_counted() {
        let tally = AnonymousDenials::default();
        let key = Key {
            minute: 1,
            ip: "10.0.0.1".into(),
            group: "/admin".into(),
            action: Action::AccessDenied,
        };
        assert!(tally.note(key.clone()));
        assert!(!tally.note(key.clone()));
        assert!(!tally.note(Key {
            ip: "10.0.0.1".into(),
            ..key.clone()
        }));
        assert!(tally.note(Key { minute: 2, ..key }));
    }
}
