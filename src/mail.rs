//! Outgoing mail. Messages are written to the `outbox` table in the caller's
//! transaction (so a link is never mailed for a change that rolled back) and,
//! with the development adapter, written to the log instead of being sent.
//! An SMTP sender draining the outbox is a later addition.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::outbox;

pub struct Mail<'a> {
    pub to: &'a str,
    pub subject: String,
    pub body: String,
}

pub async fn queue(
    db: &mut Db,
    at: PrimitiveDateTime,
    mail: Mail<'_>,
) -> Result<(), diesel::result::Error> {
    crate::db_run!(db, |c| diesel::insert_into(outbox::table)
        .values((
            outbox::recipient.eq(mail.to),
            outbox::subject.eq(&mail.subject),
            outbox::body.eq(&mail.body),
            outbox::created_at.eq(at),
        ))
        .execute(c)
        .await)?;
    // The body carries one-time links (credentials): it stays in the outbox
    // table, never in the log.
    tracing::info!(target: "mail", to = mail.to, subject = %mail.subject, "mail queued in the outbox (development adapter: not sent)");
    Ok(())
}
