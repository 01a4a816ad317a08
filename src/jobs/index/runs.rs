//! A sowat.io user's finished jobs, for the user page: the recent ones,
//! and the purge of those past [`KEPT_DAYS`].

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::job_runs;
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

/// How long a finished job stays listed on its user's page.
pub const KEPT_DAYS: i64 = 30;

#[derive(Queryable, Clone, Debug)]
pub struct RunRow {
    pub queue: String,
    pub job_id: String,
    pub job_name: String,
    pub state: String,
    pub finished_at: PrimitiveDateTime,
}

pub async fn recent(db: &mut Db, user_id: i64, limit: i64) -> QResult<Vec<RunRow>> {
    db_run!(db, |c| job_runs::table
        .filter(job_runs::user_id.eq(user_id))
        .order(job_runs::id.desc())
        .limit(limit)
        .select((
            job_runs::queue,
            job_runs::job_id,
            job_runs::job_name,
            job_runs::state,
            job_runs::finished_at
        ))
        .load::<RunRow>(c)
        .await)
}

pub async fn purge_old(db: &mut Db, before: PrimitiveDateTime) -> QResult<usize> {
    db_run!(db, |c| diesel::delete(
        job_runs::table.filter(job_runs::finished_at.lt(before))
    )
    .execute(c)
    .await)
}
