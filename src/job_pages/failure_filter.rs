//! The failure filter as a query string or form: read, checked, written
//! back (for the pager, the bulk form and a bulk task's payload).

use std::collections::BTreeMap;

use time::{Duration, PrimitiveDateTime, Time};

use crate::jobs::index::search::Filter;
use crate::web::format::{date_range_problem, parse_day};

/// The filter's fields, as typed.
pub const FIELDS: &[&str] = &[
    "queue", "name", "user", "q", "error", "payload", "from", "to",
];

#[derive(Clone, Debug, Default)]
pub struct Typed(pub BTreeMap<String, String>);

impl Typed {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Typed {
        let mut m = BTreeMap::new();
        for (k, v) in pairs {
            if FIELDS.contains(&k) && v.len() <= 500 {
                let v = v.trim();
                if !v.is_empty() {
                    m.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Typed(m)
    }

    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map_or("", String::as_str)
    }

    /// The date problem to show next to the filter (an i18n key).
    pub fn problem(&self) -> Option<&'static str> {
        date_range_problem(self.get("from"), self.get("to"))
    }

    /// The search it means; `None` when it matches nothing by construction
    /// (a user or error id that is not a number).
    pub fn filter(&self, queues: &[String]) -> Option<Filter> {
        let text = |k: &str| Some(self.get(k).to_owned()).filter(|v| !v.is_empty());
        let day =
            |k: &str| parse_day(self.get(k)).map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT));
        let num = |k: &str| -> Result<Option<i64>, ()> {
            match text(k) {
                None => Ok(None),
                Some(v) => v.trim_start_matches('#').parse().map(Some).map_err(|_| ()),
            }
        };
        let queue = text("queue");
        if queue.as_ref().is_some_and(|q| !queues.contains(q)) {
            return None;
        }
        Some(Filter {
            queue,
            name: text("name"),
            user_id: num("user").ok()?,
            text: text("q"),
            error_id: num("error").ok()?,
            payload: text("payload"),
            from: day("from"),
            // The "to" day is included: up to the next midnight.
            to: day("to").map(|d| d + Duration::days(1)),
        })
    }

    /// As query-string pairs, with `extra` appended.
    pub fn query(&self, extra: &[(&str, String)]) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        for (k, v) in extra {
            s.append_pair(k, v);
        }
        s.finish()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
}
