//! Delivers outbox messages: to the SMTP server of `SOWAT_SMTP_URL`, or,
//! when it is unset, to the log (the development adapter; the body, which
//! carries one-time links, stays in the outbox table, never in the log).
//!
//! Delivery is at least once: a crash between the server's acceptance and
//! the outbox row being marked sent sends the message again on retry.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use crate::config::{Config, ConfigError, bad};
use crate::db::schema::outbox;
use crate::db_run;
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;

/// Longest a conversation with the mail server may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

pub enum Mailer {
    Log,
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Mailer, ConfigError> {
        let Some(url) = &config.smtp else {
            return Ok(Mailer::Log);
        };
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| bad("SOWAT_MAIL_FROM", format!("is not a mail address: {e}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url.0)
            .map_err(|e| bad("SOWAT_SMTP_URL", format!("cannot be used: {e}")))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer::Smtp { transport, from })
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), TaskError> {
        let Mailer::Smtp { transport, from } = self else {
            tracing::info!(target: "mail", to, subject, "mail not sent (development adapter: no SOWAT_SMTP_URL)");
            return Ok(());
        };
        let to: Mailbox = to
            .parse()
            .map_err(|e| TaskError::Fail(format!("bad recipient: {e}")))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| TaskError::Fail(format!("cannot build the message: {e}")))?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            // A 5xx answer will not change by retrying.
            Err(e) if e.is_permanent() => {
                Err(TaskError::Fail(format!("refused by the mail server: {e}")))
            }
            Err(e) => Err(TaskError::Retry(format!("mail server unavailable: {e}"))),
        }
    }
}

#[derive(Deserialize)]
struct Payload {
    outbox_id: i64,
}

/// The task handler delivering one outbox message.
pub fn deliver(mailer: Arc<Mailer>) -> Handler {
    Arc::new(move |run| {
        let mailer = mailer.clone();
        Box::pin(async move { deliver_one(&mailer, run).await })
    })
}

async fn deliver_one(mailer: &Mailer, mut run: Run) -> Result<Done, TaskError> {
    let Payload { outbox_id } = run.payload()?;
    let mut db = run.pool.get().await?;
    let row: Option<(String, String, String, Option<time::PrimitiveDateTime>)> =
        db_run!(&mut db, |c| outbox::table
            .find(outbox_id)
            .select((
                outbox::recipient,
                outbox::subject,
                outbox::body,
                outbox::sent_at
            ))
            .first(c)
            .await
            .optional())?;
    drop(db);
    let Some((to, subject, body, sent_at)) = row else {
        return Err(TaskError::Fail(
            "the message is no longer in the outbox".into(),
        ));
    };
    if sent_at.is_some() {
        return Ok(Done::default());
    }
    mailer.send(&to, &subject, &body).await?;
    let now = run.now();
    run.step(move |tx| {
        Box::pin(async move {
            db_run!(tx, |c| diesel::update(outbox::table.find(outbox_id))
                .set(outbox::sent_at.eq(Some(now)))
                .execute(c)
                .await)?;
            Ok((
                (),
                Advance {
                    done: 1,
                    ..Advance::default()
                },
            ))
        })
    })
    .await?;
    Ok(Done::default())
}
