//! The account's allowance of second-factor and password attempts, shared
//! by sign-in and step-up: each attempt is taken from one counter, the one
//! that reaches [`LOCK_AFTER`] within [`LOCK_WINDOW`] locks the account,
//! and every refusal writes its login event and audit event together.

use time::{Duration, PrimitiveDateTime};

use crate::audit::{self, ActorRef, Event, RequestMeta};
use crate::db::Db;
use crate::security::store::{self, LoginEvent};

pub const LOCK_AFTER: i32 = 5;
pub const LOCK_WINDOW: Duration = Duration::minutes(15);

type QResult<T> = Result<T, diesel::result::Error>;

/// Takes one attempt from the account's allowance; false while it is locked.
pub async fn take(db: &mut Db, user_id: i64, now: PrimitiveDateTime) -> QResult<bool> {
    store::take_sign_in_attempt(db, user_id, now, LOCK_AFTER, LOCK_WINDOW).await
}

/// Writes the login event and the audit event of a refused attempt
/// together; `user` is (id, email) when the account is known.
pub async fn record_failure(
    db: &mut Db,
    now: PrimitiveDateTime,
    meta: &RequestMeta,
    user: Option<(i64, &str)>,
    event: &'static str,
    reason: &'static str,
) -> QResult<()> {
    tracing::info!(reason, event, user_id = user.map(|u| u.0), ip = ?meta.ip, "second factor or sign-in refused");
    let user_id = user.map(|u| u.0);
    let actor = user
        .map(|(id, email)| ActorRef::user(id, email))
        .unwrap_or_else(ActorRef::anonymous);
    let meta = meta.clone();
    db.transaction(|db| {
        Box::pin(async move {
            store::record_login_event(
                db,
                now,
                &meta,
                LoginEvent {
                    user_id,
                    event,
                    success: false,
                    reason: Some(reason),
                },
            )
            .await?;
            let mut ev = Event::sign_in_failed(reason);
            if let Some(id) = user_id {
                ev = ev.target("user", id);
            }
            audit::record(db, now, &actor, &meta, ev).await
        })
    })
    .await
}
