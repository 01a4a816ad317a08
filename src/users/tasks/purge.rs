//! The scheduled purge: users soft-deleted more than 30 days ago are erased
//! (anonymised; their audit trail stays under the pseudonym).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::Duration;

use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Event};
use crate::change::ChangeError;
use crate::clock::Clock;
use crate::db::schema::users;
use crate::db::{DbError, Pool};
use crate::user_record::model::User;
use crate::users::changes;

pub const RESTORABLE_FOR: Duration = Duration::days(30);

pub async fn purge_deleted(pool: &Pool, clock: &Clock) -> Result<usize, ChangeError> {
    let now = clock.now_primitive();
    let cutoff = now - RESTORABLE_FOR;
    let mut db = pool.get().await.map_err(|e| match e {
        DbError::Query(q) => ChangeError::Db(q),
        DbError::Unavailable(m) => {
            ChangeError::Db(diesel::result::Error::QueryBuilderError(m.into()))
        }
    })?;
    let due: Vec<User> = crate::db_run!(&mut db, |c| users::table
        .filter(users::deleted_at.lt(cutoff))
        .filter(users::erased_at.is_null())
        .select(User::as_select())
        .limit(1000)
        .load(c)
        .await)?;
    let meta = RequestMeta {
        client_id: "scheduler".into(),
        ..RequestMeta::default()
    };
    let mut purged = 0;
    for user in due {
        let meta = meta.clone();
        db.transaction(|db| {
            Box::pin(async move {
                changes::erase_data(db, &user, now).await?;
                let ev = Event::new(crate::audit::Action::UserPurged)
                    .target("user", user.id)
                    .details(serde_json::json!({ "pseudonym": changes::pseudonym(user.id) }));
                audit::record(db, now, &ActorRef::system(), &meta, ev).await?;
                Ok::<_, ChangeError>(())
            })
        })
        .await?;
        purged += 1;
    }
    Ok(purged)
}
