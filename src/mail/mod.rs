//! Outgoing mail. A message is written to the `outbox` table and its
//! delivery enqueued as a task, both in the caller's transaction: a link is
//! never mailed for a change that rolled back, and a message is never lost
//! to a crash. [`sender`] delivers it (SMTP, or the log in development),
//! retried with backoff while the server is unreachable.

pub mod sender;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use time::PrimitiveDateTime;

use crate::db::Tx;
use crate::db::schema::outbox;
use crate::tasks::{self, Kind, NewTask};

pub struct Mail<'a> {
    pub to: &'a str,
    pub subject: String,
    pub body: String,
}

pub async fn queue(
    tx: &mut Tx<'_>,
    at: PrimitiveDateTime,
    mail: Mail<'_>,
) -> Result<(), diesel::result::Error> {
    let id: i64 = crate::db_run!(tx, |c| diesel::insert_into(outbox::table)
        .values((
            outbox::recipient.eq(mail.to),
            outbox::subject.eq(&mail.subject),
            outbox::body.eq(&mail.body),
            outbox::created_at.eq(at),
        ))
        .returning(outbox::id)
        .get_result(c)
        .await)?;
    tasks::store::enqueue(
        tx,
        NewTask::new(Kind::DeliverMail, json!({ "outbox_id": id }), at),
        at,
    )
    .await?;
    Ok(())
}
