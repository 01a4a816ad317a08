//! Every alert sent, newest first, with its figures and what its delivery did.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use super::deliver::Alert;
use crate::db::schema::job_alerts;
use crate::db::{Db, Tx};
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

pub async fn record(
    tx: &mut Tx<'_>,
    a: &Alert,
    delivery: &str,
    at: PrimitiveDateTime,
) -> QResult<i64> {
    let figures = a.figures.to_string();
    db_run!(tx, |c| diesel::insert_into(job_alerts::table)
        .values((
            job_alerts::queue.eq(&a.queue),
            job_alerts::rule.eq(a.rule.key()),
            job_alerts::kind.eq(a.kind),
            job_alerts::figures.eq(&figures),
            job_alerts::message.eq(&a.message),
            job_alerts::delivery.eq(delivery),
            job_alerts::at.eq(at),
        ))
        .returning(job_alerts::id)
        .get_result(c)
        .await)
}

#[derive(Queryable, Clone, Debug)]
pub struct AlertRow {
    pub id: i64,
    pub queue: String,
    pub rule: String,
    pub kind: String,
    pub figures: String,
    pub message: String,
    pub delivery: String,
    pub at: PrimitiveDateTime,
}

pub async fn recent(db: &mut Db, limit: i64) -> QResult<Vec<AlertRow>> {
    db_run!(db, |c| job_alerts::table
        .order(job_alerts::id.desc())
        .limit(limit)
        .select((
            job_alerts::id,
            job_alerts::queue,
            job_alerts::rule,
            job_alerts::kind,
            job_alerts::figures,
            job_alerts::message,
            job_alerts::delivery,
            job_alerts::at,
        ))
        .load(c)
        .await)
}
