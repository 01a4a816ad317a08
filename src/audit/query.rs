//! Reading the audit trail: one query for every screen that lists events
//! (the audit trail and its filters, a user's history), newest first, by
//! keyset on the id.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::audit::words::Words;
use crate::db::Db;
use crate::db::schema::audit_events;
use crate::db::types::{ActorType, Outcome};

/// An audit event as listed.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct EventRow {
    pub id: i64,
    pub at: PrimitiveDateTime,
    pub actor_type: ActorType,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Outcome,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub client_id: Option<String>,
    pub request_id: Option<String>,
    pub details: String,
}

/// Which events: every condition given narrows the list.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Events caused by this user.
    pub actor_id: Option<i64>,
    /// Events caused by this kind of actor (a person, an API key, …).
    pub actor_type: Option<ActorType>,
    /// Events from this application (the client id of origin).
    pub client_id: Option<String>,
    /// Events from an address in this range of keys (`address::range`).
    pub ip_range: Option<(String, String)>,
    /// Events whose details hold these words.
    pub words: Option<Words>,
    /// Events about this record (type, id).
    pub target: Option<(String, String)>,
    /// Events about records of this type.
    pub target_type: Option<String>,
    /// Events in this workspace.
    pub workspace_id: Option<i64>,
    /// One action (its stored key), or every action starting with `area.`.
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    /// From this time (inclusive) up to `to` (exclusive).
    pub from: Option<PrimitiveDateTime>,
    pub to: Option<PrimitiveDateTime>,
    /// Older than this event id.
    pub before: Option<i64>,
}

/// Up to `limit` events matching `f`, newest first.
///
/// Under a date range the events are read by time, `(at, id)`, from the
/// index on those columns: one bounded range, where walking the ids back
/// from the newest would pass every later event first (a month two years
/// back: 1.5 million rows). Ids and times rise together, so both orders
/// agree; the older-page cursor is the last event shown either way.
///
/// Two filters match in no index's order: words (the full-text index
/// yields every match, then they are sorted) and a network (a range of
/// addresses, each in id order, but not all together); and two filters
/// together are answered by one of their indexes, the other checked row by
/// row (a combination that matches nothing walks that whole index). These
/// are read in windows of ids going back from the newest, each four times
/// wider than the last, until the page is full: a common match fills it in
/// the first window, a rare one has few rows to sort in any.
pub async fn events(db: &mut Db, f: &EventFilter, limit: i64) -> QueryResult<Vec<EventRow>> {
    Ok(search(db, f, limit, FIRST_WINDOW, None).await?.rows)
}

/// What a page of the audit trail found.
pub struct Found {
    pub rows: Vec<EventRow>,
    /// The page is not full but the search stopped here (the ids below
    /// this one are not searched yet): the next page goes on from it.
    pub stopped_at: Option<i64>,
}

/// Ids a page searches at most under a windowed filter (see [`events`]),
/// so a rare combination answers quickly and says how far it looked.
const PAGE_BUDGET: i64 = 8_192 * (1 + 4 + 16 + 64);

/// A page of the audit trail: [`events`], but a windowed search stops after
/// [`PAGE_BUDGET`] ids and says where.
pub async fn events_page(db: &mut Db, f: &EventFilter, limit: i64) -> QueryResult<Found> {
    search(db, f, limit, FIRST_WINDOW, Some(PAGE_BUDGET)).await
}

/// [`events_page`] with the first window and the budget given (tests use
/// tiny ones).
pub async fn events_windowed(
    db: &mut Db,
    f: &EventFilter,
    limit: i64,
    first_window: i64,
    budget: Option<i64>,
) -> QueryResult<Found> {
    search(db, f, limit, first_window, budget).await
}

/// Whether `f` is read in windows (see [`events`]).
fn windowed(f: &EventFilter) -> bool {
    let unordered = f.words.is_some() || f.ip_range.as_ref().is_some_and(|(lo, hi)| lo != hi);
    let ordered = [
        f.actor_id.is_some(),
        f.target.is_some() || f.target_type.is_some(),
        f.workspace_id.is_some(),
        f.action.is_some(),
        f.outcome.is_some(),
        f.actor_type.is_some(),
        f.client_id.is_some(),
        f.ip_range.is_some() && !unordered,
        // A date range is not counted: it bounds the scan by itself (its
        // index range), and it bounds the windows below.
    ]
    .into_iter()
    .filter(|on| *on)
    .count();
    unordered || ordered > 1
}

async fn search(
    db: &mut Db,
    f: &EventFilter,
    limit: i64,
    first_window: i64,
    budget: Option<i64>,
) -> QueryResult<Found> {
    if !windowed(f) {
        let rows = events_in(db, f, limit, None, false).await?;
        return Ok(Found {
            rows,
            stopped_at: None,
        });
    }
    // Under a date range the windows start at its end and stop at its
    // start (ids and times rise together), not at the newest event.
    let newest = match f.to {
        Some(to) => first_id_from(db, to).await?,
        None => None,
    };
    let newest = match newest {
        Some(id) => id,
        None => max_id(db).await? + 1,
    };
    let top = f.before.map_or(newest, |b| b.min(newest));
    let floor = match f.from {
        Some(from) => first_id_from(db, from).await?.unwrap_or(top),
        None => 0,
    };
    let mut hi = top;
    let mut width = first_window.max(1);
    let mut rows = Vec::new();
    while hi > floor && (rows.len() as i64) < limit {
        if budget.is_some_and(|b| top - hi >= b) {
            return Ok(Found {
                rows,
                stopped_at: Some(hi),
            });
        }
        let lo = hi.saturating_sub(width).max(floor);
        // The first window checks words row by row (see `Words::condition`).
        let per_row = hi == top;
        let mut part = events_in(db, f, limit - rows.len() as i64, Some((lo, hi)), per_row).await?;
        rows.append(&mut part);
        hi = lo;
        width = width.saturating_mul(4);
    }
    Ok(Found {
        rows,
        stopped_at: None,
    })
}

/// The first event at or after `at`, by the time index.
async fn first_id_from(db: &mut Db, at: PrimitiveDateTime) -> QueryResult<Option<i64>> {
    crate::db_run!(db, |c| audit_events::table
        .filter(audit_events::at.ge(at))
        .order((audit_events::at, audit_events::id))
        .select(audit_events::id)
        .first(c)
        .await
        .optional())
}

/// The first window of ids an unordered filter reads (see [`events`]).
const FIRST_WINDOW: i64 = 8_192;

/// [`events`] within the ids `lo..hi` when a window is given.
async fn events_in(
    db: &mut Db,
    f: &EventFilter,
    limit: i64,
    window: Option<(i64, i64)>,
    per_row: bool,
) -> QueryResult<Vec<EventRow>> {
    let by_time = f.from.is_some() || f.to.is_some();
    let sqlite = db.is_sqlite();
    let words = f.words.as_ref().map(|w| w.condition(sqlite, per_row));
    let before_at = match (by_time, f.before) {
        (true, Some(id)) => crate::db_run!(db, |c| audit_events::table
            .find(id)
            .select(audit_events::at)
            .first::<PrimitiveDateTime>(c)
            .await
            .optional())?,
        _ => None,
    };
    crate::db_run!(db, |c| {
        let mut q = audit_events::table
            .order(audit_events::id.desc())
            .select(EventRow::as_select())
            .limit(limit)
            .into_boxed();
        if let Some(id) = f.actor_id {
            q = q.filter(audit_events::actor_id.eq(id));
        }
        if let Some((t, id)) = &f.target {
            q = q
                .filter(audit_events::target_type.eq(t.clone()))
                .filter(audit_events::target_id.eq(id.clone()));
        }
        if let Some(t) = &f.target_type {
            q = q.filter(audit_events::target_type.eq(t.clone()));
        }
        if let Some(w) = f.workspace_id {
            q = q.filter(audit_events::workspace_id.eq(w));
        }
        if let Some(a) = &f.action {
            q = match a.strip_suffix('.') {
                // A whole area: its actions by name, which the (action, id)
                // index answers (a LIKE prefix would not, under most
                // collations).
                Some(area) => {
                    let keys: Vec<&str> = crate::audit::Action::ALL
                        .iter()
                        .map(|x| x.key())
                        .filter(|k| k.split('.').next() == Some(area))
                        .collect();
                    q.filter(audit_events::action.eq_any(keys))
                }
                None => q.filter(audit_events::action.eq(a.clone())),
            };
        }
        if let Some(o) = f.outcome {
            q = q.filter(audit_events::outcome.eq(o));
        }
        if let Some(t) = f.actor_type {
            q = q.filter(audit_events::actor_type.eq(t));
        }
        if let Some(client) = &f.client_id {
            q = q.filter(audit_events::client_id.eq(client.clone()));
        }
        match &f.ip_range {
            Some((lo, hi)) if lo == hi => q = q.filter(audit_events::ip_key.eq(lo.clone())),
            Some((lo, hi)) => {
                q = q
                    .filter(audit_events::ip_key.ge(lo.clone()))
                    .filter(audit_events::ip_key.le(hi.clone()))
            }
            None => {}
        }
        if let Some((lo, hi)) = window {
            q = q
                .filter(audit_events::id.ge(lo))
                .filter(audit_events::id.lt(hi));
        }
        if let Some((condition, text)) = &words {
            use diesel::dsl::sql;
            use diesel::sql_types::{BigInt, Bool, Text};
            let cond = sql::<Bool>(condition).bind::<Text, _>(text.clone());
            q = match window {
                // The full-text index reads only the window's matches.
                Some((lo, hi)) if sqlite => q.filter(
                    cond.sql(" AND rowid >= ")
                        .bind::<BigInt, _>(lo)
                        .sql(" AND rowid < ")
                        .bind::<BigInt, _>(hi)
                        .sql(")"),
                ),
                _ => q.filter(cond.sql(")")),
            };
        }
        if let Some(t) = f.from {
            q = q.filter(audit_events::at.ge(t));
        }
        if let Some(t) = f.to {
            q = q.filter(audit_events::at.lt(t));
        }
        if by_time {
            q = q.order((audit_events::at.desc(), audit_events::id.desc()));
            if let (Some(at), Some(id)) = (before_at, f.before) {
                use diesel::dsl::sql;
                use diesel::sql_types::{BigInt, Bool, Timestamp};
                q = q.filter(
                    sql::<Bool>("(audit_events.at, audit_events.id) < (")
                        .bind::<Timestamp, _>(at)
                        .sql(", ")
                        .bind::<BigInt, _>(id)
                        .sql(")"),
                );
            }
        } else if let Some(b) = f.before {
            q = q.filter(audit_events::id.lt(b));
        }
        q.load(c).await
    })
}

/// One event as its own page shows it: the listed fields, its workspace and
/// its place in the tamper-evident chain.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct EventDetail {
    #[diesel(embed)]
    pub row: EventRow,
    pub workspace_id: Option<i64>,
    pub seq: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

pub async fn event(db: &mut Db, id: i64) -> QueryResult<Option<EventDetail>> {
    crate::db_run!(db, |c| audit_events::table
        .find(id)
        .select(EventDetail::as_select())
        .first(c)
        .await
        .optional())
}

/// The newest event's id (0 when the trail is empty).
pub async fn max_id(db: &mut Db) -> QueryResult<i64> {
    let max: Option<i64> = crate::db_run!(db, |c| audit_events::table
        .select(diesel::dsl::max(audit_events::id))
        .first(c)
        .await)?;
    Ok(max.unwrap_or(0))
}
