//! Erasure in the audit trail: events stay (they are the record of what
//! happened), but the person's email, name and network traces are replaced
//! by the pseudonym. The hash chain holds: those fields enter it through a
//! salted digest whose salt goes with them (`crate::audit::chain`).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::db::Db;
use crate::db::schema::{audit_events, comments};
use crate::db_run;
use crate::user_record::model::User;

pub async fn scrub(db: &mut Db, user: &User, alias: &str) -> Result<(), diesel::result::Error> {
    let id = user.id.to_string();
    // Events the user caused: label and network traces.
    db_run!(db, |c| diesel::update(
        audit_events::table.filter(audit_events::actor_id.eq(user.id))
    )
    .set((
        audit_events::actor_label.eq(alias),
        audit_events::ip.eq(None::<String>),
        audit_events::ip_key.eq(None::<String>),
        audit_events::user_agent.eq(None::<String>),
        // The chain keeps the digest of what was there; without its salt
        // it can be neither recomputed nor guessed (see audit::chain).
        audit_events::personal_salt.eq(None::<String>)
    ))
    .execute(c)
    .await)?;
    // Notes written by the user keep their text but not the author's name.
    db_run!(db, |c| diesel::update(
        comments::table.filter(comments::author_id.eq(user.id))
    )
    .set(comments::author_label.eq(alias))
    .execute(c)
    .await)?;
    // Details mentioning the user: personal fields (past values included,
    // such as the "before" of a rename) and any current value in free text.
    let rows: Vec<(i64, String)> = db_run!(db, |c| audit_events::table
        .filter(
            audit_events::target_type
                .eq("user")
                .and(audit_events::target_id.eq(&id))
                .or(audit_events::actor_id.eq(user.id))
        )
        .select((audit_events::id, audit_events::details))
        .load(c)
        .await)?;
    let personal: Vec<&str> = [
        user.email.as_str(),
        user.email_lower.as_str(),
        user.name.as_str(),
        user.company.as_str(),
    ]
    .into_iter()
    .filter(|v| v.chars().count() >= 3)
    .collect();
    for (event_id, details) in rows {
        let Ok(mut value) = serde_json::from_str::<Value>(&details) else {
            continue;
        };
        scrub_value(&mut value, None, &personal, alias);
        let scrubbed = value.to_string();
        if scrubbed != details {
            db_run!(db, |c| diesel::update(audit_events::table.find(event_id))
                .set((
                    audit_events::details.eq(&scrubbed),
                    audit_events::personal_salt.eq(None::<String>)
                ))
                .execute(c)
                .await)?;
        }
    }
    Ok(())
}

/// Keys whose values are personal data wherever they appear.
const PERSONAL_KEYS: &[&str] = &["email", "name", "company", "ip", "user_agent"];

fn scrub_value(value: &mut Value, key: Option<&str>, personal: &[&str], alias: &str) {
    match value {
        Value::String(s) => {
            if key.is_some_and(|k| PERSONAL_KEYS.contains(&k)) {
                *s = alias.to_owned();
            } else {
                for p in personal {
                    if s.contains(p) {
                        *s = s.replace(p, alias);
                    }
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| scrub_value(v, key, personal, alias)),
        Value::Object(map) => map
            .iter_mut()
            .for_each(|(k, v)| scrub_value(v, Some(k.as_str()), personal, alias)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_past_and_present_values() {
        let mut v = serde_json::json!({ "before": { "name": "Old Name", "email": "a@b.io", "type": "EXTERNAL" }, "note": "mail a@b.io now" });
        scrub_value(&mut v, None, &["a@b.io"], "erased-user-1");
        assert_eq!(v["before"]["name"], "erased-user-1");
        assert_eq!(v["before"]["email"], "erased-user-1");
        assert_eq!(v["before"]["type"], "EXTERNAL");
        assert_eq!(v["note"], "mail erased-user-1 now");
    }
}
