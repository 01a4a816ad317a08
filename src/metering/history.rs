//! A user's counters month by month, for the usage page, its chart and the API.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::db::schema::usage_counters;
use crate::metering::period::Period;

/// One month's counters, `[articles, images, social_posts]`.
#[derive(Clone, Debug)]
pub struct Month {
    pub period: Period,
    pub used: [i64; 3],
}

/// The `n` months ending with `current`, newest first, months without a
/// row as zeros.
pub async fn months(
    db: &mut Db,
    user_id: i64,
    current: Period,
    n: usize,
) -> Result<Vec<Month>, diesel::result::Error> {
    let periods = current.last(n);
    let oldest = periods.last().copied().unwrap_or(current).key();
    let rows: Vec<(String, i64, i64, i64)> = crate::db_run!(db, |c| usage_counters::table
        .filter(usage_counters::user_id.eq(user_id))
        .filter(usage_counters::period.ge(&oldest))
        .filter(usage_counters::period.le(current.key()))
        .select((
            usage_counters::period,
            usage_counters::articles,
            usage_counters::images,
            usage_counters::social_posts
        ))
        .load(c)
        .await)?;
    Ok(periods
        .into_iter()
        .map(|p| {
            let key = p.key();
            let used = rows
                .iter()
                .find(|r| r.0 == key)
                .map_or([0; 3], |r| [r.1, r.2, r.3]);
            Month { period: p, used }
        })
        .collect())
}
