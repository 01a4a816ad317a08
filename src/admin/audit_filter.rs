//! The audit trail's filter as the query string (and an export's payload)
//! carries it, and its reading into an [`EventFilter`]: an actor named by
//! email is looked up, unknown choices are ignored, and a filter that can
//! match nothing (an unknown actor, a malformed address) says so rather
//! than falling back to everything.

use serde::{Deserialize, Serialize};

use crate::admin::store;
use crate::audit::query::EventFilter;
use crate::audit::words::Words;
use crate::audit::{Action, address};
use crate::db::Db;
use crate::db::types::{ActorType, Outcome};
use crate::web::format::{date_range_problem, parse_day};
use crate::web::table;

#[derive(Clone, Debug, Deserialize, Serialize, Default)]
pub struct Filters {
    /// A user: an id or an email address.
    #[serde(default)]
    pub actor: String,
    /// A kind of actor: `user`, `api_key`, `system`, `anonymous`.
    #[serde(default)]
    pub actor_type: String,
    /// The application of origin (client id).
    #[serde(default)]
    pub client: String,
    /// An address or a network (CIDR).
    #[serde(default)]
    pub ip: String,
    /// Words in the details.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub target_type: String,
    #[serde(default)]
    pub target_id: String,
    /// An action key, or a whole area (`user.`).
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub before: String,
}

/// The kinds of actor the filter offers.
pub const ACTOR_TYPES: [&str; 4] = ["user", "api_key", "system", "anonymous"];

/// The record kinds the target filter offers.
pub const TARGET_TYPES: [&str; 3] = ["user", "task", "session"];

impl Filters {
    /// The filter's fields by name, as typed (links and chips).
    pub fn pairs(&self) -> [(&'static str, &str); 11] {
        [
            ("q", &self.q),
            ("actor", &self.actor),
            ("actor_type", &self.actor_type),
            ("client", &self.client),
            ("ip", &self.ip),
            ("target_type", &self.target_type),
            ("target_id", &self.target_id),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
        ]
    }

    pub fn query(&self) -> String {
        let pairs: Vec<(&str, &str)> = self.pairs().iter().map(|(k, v)| (*k, v.trim())).collect();
        table::query(&pairs)
    }

    /// What is wrong with the dates, as an i18n key.
    pub fn date_problem(&self) -> Option<&'static str> {
        date_range_problem(&self.from, &self.to)
    }

    /// The address filter as a range of keys; `Err` when it is given but
    /// is neither an address nor a network.
    fn ip_range(&self) -> Result<Option<(String, String)>, ()> {
        let ip = self.ip.trim();
        if ip.is_empty() {
            return Ok(None);
        }
        address::range(ip).map(Some).ok_or(())
    }
}

/// A filter read: `filter` is `None` when it can match nothing.
pub struct Resolved {
    pub filter: Option<EventFilter>,
    /// The address filter is neither an address nor a network.
    pub ip_problem: bool,
}

impl Filters {
    pub async fn resolve(&self, db: &mut Db) -> Result<Resolved, diesel::result::Error> {
        let actor = self.actor.trim();
        // An actor that names nobody matches nothing (not everything).
        let mut nobody = false;
        let actor_id = if actor.is_empty() {
            None
        } else if let Ok(id) = actor.trim_start_matches('#').parse::<i64>() {
            Some(id)
        } else {
            let found = store::user_id_by_email(db, actor).await?;
            nobody = found.is_none();
            found
        };
        let target_type = Some(self.target_type.trim())
            .filter(|t| TARGET_TYPES.contains(t))
            .map(str::to_owned);
        let target_id: String = self.target_id.trim().chars().take(64).collect();
        let action = self.action.trim();
        let known_action = Action::ALL
            .iter()
            .any(|a| a.key() == action || a.key().starts_with(action) && action.ends_with('.'));
        let ip_range = self.ip_range();
        let client: String = self.client.trim().chars().take(64).collect();
        let filter = EventFilter {
            actor_id,
            actor_type: ActorType::parse(self.actor_type.trim()),
            client_id: Some(client).filter(|c| !c.is_empty()),
            ip_range: ip_range.clone().ok().flatten(),
            words: Words::parse(&self.q),
            target: target_type
                .clone()
                .filter(|_| !target_id.is_empty())
                .map(|t| (t, target_id.clone())),
            target_type: target_type.clone().filter(|_| target_id.is_empty()),
            action: known_action.then(|| action.to_owned()),
            outcome: Outcome::parse(self.outcome.trim()),
            from: parse_day(&self.from).map(|d| d.midnight()),
            to: parse_day(&self.to)
                .and_then(|d| d.next_day())
                .map(|d| d.midnight()),
            before: self.before.parse::<i64>().ok(),
            workspace_id: None,
        };
        Ok(Resolved {
            // A malformed address matches nothing: the form says why.
            filter: (!nobody && ip_range.is_ok()).then_some(filter),
            ip_problem: ip_range.is_err(),
        })
    }
}
