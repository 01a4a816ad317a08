//! Erasure in the audit trail: events stay (they are the record of what
//! happened), but the person's email, name and network traces are replaced
//! by the pseudonym.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::db::schema::{audit_events, comments};
use crate::db_run;
use crate::users::model::User;

pub async fn scrub(db: &mut Db, user: &User, alias: &str) -> Result<(), diesel::result::Error> {
    let id = user.id.to_string();
    // Events the user caused: label and network traces.
    db_run!(db, c => diesel::update(audit_events::table.filter(audit_events::actor_id.eq(user.id)))
        .set((audit_events::actor_label.eq(alias), audit_events::ip.eq(None::<String>), audit_events::user_agent.eq(None::<String>)))
        .execute(c)
        .await)?;
    // Notes written by the user keep their text but not the author's name.
    db_run!(db, c => diesel::update(comments::table.filter(comments::author_id.eq(user.id)))
        .set(comments::author_label.eq(alias))
        .execute(c)
        .await)?;
    // Details mentioning the user: personal values replaced in the JSON text.
    let rows: Vec<(i64, String)> = db_run!(db, c => audit_events::table
        .filter(audit_events::target_type.eq("user").and(audit_events::target_id.eq(&id)).or(audit_events::actor_id.eq(user.id)))
        .select((audit_events::id, audit_events::details))
        .load(c)
        .await)?;
    let personal: Vec<String> = [&user.email, &user.email_lower, &user.name, &user.company]
        .into_iter()
        .filter(|v| v.chars().count() >= 3)
        .map(|v| json_escaped(v))
        .collect();
    for (event_id, details) in rows {
        let mut scrubbed = details.clone();
        for value in &personal {
            scrubbed = scrubbed.replace(value.as_str(), alias);
        }
        if scrubbed != details {
            db_run!(db, c => diesel::update(audit_events::table.find(event_id)).set(audit_events::details.eq(&scrubbed)).execute(c).await)?;
        }
    }
    Ok(())
}

/// How `value` appears inside a JSON string.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}
