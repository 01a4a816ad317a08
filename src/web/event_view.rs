//! An audit event as a person reads it, in their language: the actor and
//! the target as links, the action and the outcome named, the change as
//! "field: before → after" instead of raw JSON. Used by the audit trail
//! and by every record's history.

use serde_json::Value;

use crate::audit::query::EventRow;
use crate::db::types::{ActorType, Outcome};
use crate::i18n::Lang;
use crate::web::format::date_time_seconds;

/// A name, linked when there is a page for it.
pub struct Named {
    pub label: String,
    pub href: Option<String>,
}

/// One changed field.
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

pub struct EventView {
    pub id: i64,
    pub at: String,
    pub actor: Named,
    /// The action's name ("Status changed"); `action_key` is the stored key.
    pub action: String,
    pub action_key: String,
    pub target: Option<Named>,
    /// `allowed` or `denied` (a CSS class), and its name.
    pub outcome_key: &'static str,
    pub outcome: &'static str,
    pub changes: Vec<FieldChange>,
    /// What else the event records, as "name: value" pairs.
    pub facts: Vec<(String, String)>,
    pub ip: String,
    pub client_id: String,
    pub request_id: String,
    pub user_agent: String,
}

/// The page of a record, for the kinds that have one.
fn record_href(kind: &str, id: &str) -> Option<String> {
    let numeric = id.parse::<i64>().ok()?;
    match kind {
        "user" => Some(format!("/admin/users/{numeric}")),
        "task" => Some(format!("/admin/tasks/{numeric}")),
        "api_key" => Some(format!("/admin/api-keys/{numeric}")),
        "workspace" => Some(format!("/admin/workspaces/{numeric}")),
        _ => None,
    }
}

fn actor(lang: Lang, r: &EventRow) -> Named {
    match r.actor_type {
        ActorType::User => Named {
            label: r.actor_label.clone(),
            href: r.actor_id.map(|id| format!("/admin/users/{id}")),
        },
        ActorType::System => Named {
            label: lang.t("actor.system").to_owned(),
            href: None,
        },
        ActorType::Anonymous => Named {
            label: lang.t("actor.anonymous").to_owned(),
            href: None,
        },
        // A key and the application it speaks for (the app of origin).
        ActorType::ApiKey => Named {
            label: match &r.client_id {
                Some(client) => format!("{} ({client})", r.actor_label),
                None => r.actor_label.clone(),
            },
            href: r.actor_id.map(|id| format!("/admin/api-keys/{id}")),
        },
    }
}

fn target(lang: Lang, r: &EventRow) -> Option<Named> {
    let kind = r.target_type.as_deref()?;
    let id = r.target_id.clone().unwrap_or_default();
    let label = match lang.get(&format!("target.{kind}")) {
        Some(template) => template.replace("{id}", &id),
        None => format!("{kind} {id}"),
    };
    Some(Named {
        href: record_href(kind, &id),
        label,
    })
}

/// A stored value as shown: statuses, types and outcomes by name, nothing
/// as a dash.
fn value_text(lang: Lang, field: &str, v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::String(s) if s.is_empty() => "—".to_owned(),
        Value::String(s) => {
            let named = match field {
                "status" => lang.get(&format!("status.{s}")),
                "user_type" | "type" => lang.get(&format!("type.{s}")),
                _ => None,
            };
            named.map(str::to_owned).unwrap_or_else(|| s.clone())
        }
        Value::Bool(b) => lang.t(if *b { "value.yes" } else { "value.no" }).to_owned(),
        Value::Array(items) => items
            .iter()
            .map(|i| value_text(lang, field, i))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn field_name(lang: Lang, field: &str) -> String {
    lang.get(&format!("field.{field}"))
        .map(str::to_owned)
        .unwrap_or_else(|| field.replace('_', " "))
}

/// The before/after pairs and the other facts of `details`.
fn read_details(lang: Lang, details: &str) -> (Vec<FieldChange>, Vec<(String, String)>) {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(details) else {
        return (Vec::new(), Vec::new());
    };
    let empty = serde_json::Map::new();
    let before = map
        .get("before")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let after = map
        .get("after")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    let changes = fields
        .into_iter()
        .map(|f| FieldChange {
            field: field_name(lang, f),
            before: value_text(lang, f, before.get(f).unwrap_or(&Value::Null)),
            after: value_text(lang, f, after.get(f).unwrap_or(&Value::Null)),
        })
        .collect();
    let facts = map
        .iter()
        .filter(|(k, _)| k.as_str() != "before" && k.as_str() != "after")
        .map(|(k, v)| (field_name(lang, k), value_text(lang, k, v)))
        .collect();
    (changes, facts)
}

impl EventView {
    pub fn of(lang: Lang, r: EventRow) -> EventView {
        let (changes, facts) = read_details(lang, &r.details);
        let outcome_key = r.outcome.as_str();
        EventView {
            id: r.id,
            at: date_time_seconds(r.at),
            actor: actor(lang, &r),
            action: lang
                .get(&format!("action.{}", r.action))
                .map(str::to_owned)
                .unwrap_or_else(|| r.action.clone()),
            target: target(lang, &r),
            outcome_key,
            outcome: lang.t(if r.outcome == Outcome::Denied {
                "outcome.denied"
            } else {
                "outcome.allowed"
            }),
            changes,
            facts,
            ip: r.ip.unwrap_or_default(),
            client_id: r
                .client_id
                .map(|c| {
                    lang.get(&format!("client.{c}"))
                        .map(str::to_owned)
                        .unwrap_or(c)
                })
                .unwrap_or_default(),
            request_id: r.request_id.unwrap_or_default(),
            user_agent: r.user_agent.unwrap_or_default(),
            action_key: r.action,
        }
    }
}

/// The newest `limit` events of `filter`, as a record's history shows them
/// (a plan's, an API key's, a workspace's).
pub async fn history(
    db: &mut crate::db::Db,
    lang: Lang,
    filter: &crate::audit::query::EventFilter,
    limit: i64,
) -> Result<Vec<EventView>, diesel::result::Error> {
    Ok(crate::audit::query::events(db, filter, limit)
        .await?
        .into_iter()
        .map(|e| EventView::of(lang, e))
        .collect())
}

/// The history of one target (`plan` 7, `api_key` 3).
pub fn of_target(kind: &str, id: i64) -> crate::audit::query::EventFilter {
    crate::audit::query::EventFilter {
        target: Some((kind.to_owned(), id.to_string())),
        ..crate::audit::query::EventFilter::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_changes_and_facts() {
        let (changes, facts) = read_details(
            Lang::Fr,
            r#"{"before":{"status":"ACTIVE"},"after":{"status":"SUSPENDED"},"reason":"fraude"}"#,
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].before, "Actif");
        assert_eq!(changes[0].after, "Suspendu");
        assert_eq!(facts, vec![("Motif".to_owned(), "fraude".to_owned())]);
        assert!(read_details(Lang::En, "not json").0.is_empty());
    }
}
