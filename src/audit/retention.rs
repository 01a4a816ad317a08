//! Retention: events older than the configured number of days leave the
//! trail, oldest first, a bounded slice per transaction. Only a prefix of
//! the chain is ever removed, so what stays still verifies: the chain's
//! base moves to the first kept link and records the hash of the last
//! removed one, which the first kept event names as its previous hash.
//! Each slice is itself an audit event (`audit.purged`, with the range and
//! that hash), written in the slice's transaction.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use time::PrimitiveDateTime;

use super::{Action, ActorRef, Event, RequestMeta, chain};
use crate::db::Tx;
use crate::db::schema::{audit_chain, audit_events};
use crate::db_run;

/// What one slice removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purged {
    pub events: i64,
    pub from_seq: i64,
    pub to_seq: i64,
    /// The hash of the last removed link: the stored chain starts from it.
    pub base_hash: String,
}

/// Removes up to `limit` links from the start of the chain, those written
/// before `cutoff`, in `tx` (the head locked, so no writer interleaves),
/// and records the removal. `None`: nothing is due.
pub async fn purge_slice(
    tx: &mut Tx<'_>,
    now: PrimitiveDateTime,
    cutoff: PrimitiveDateTime,
    limit: i64,
) -> QueryResult<Option<Purged>> {
    let head = chain::lock_head(tx).await?;
    let base_seq: i64 = db_run!(tx, |c| audit_chain::table
        .find(1)
        .select(audit_chain::base_seq)
        .first(c)
        .await)?;
    // The first event at or after the cutoff, by the time index; links
    // before it go. (Instances' clocks may differ by milliseconds around
    // the cutoff: an event is never removed for being younger than that.)
    let first_kept: Option<Option<i64>> = db_run!(tx, |c| audit_events::table
        .filter(audit_events::at.ge(cutoff))
        .order((audit_events::at, audit_events::id))
        .select(audit_events::seq)
        .first(c)
        .await
        .optional())?;
    let before = match first_kept {
        Some(Some(seq)) => seq,
        // An unlinked event (written around the chain) stops the purge:
        // the chain's order past it is not known.
        Some(None) => return Ok(None),
        None => head.seq + 1,
    };
    // The head stays: it is what the next event links to, and on SQLite
    // the newest id, which new ids count from.
    let to_seq = (before - 1).min(head.seq - 1).min(base_seq + limit - 1);
    if to_seq < base_seq {
        return Ok(None);
    }
    let base_hash: Option<String> = db_run!(tx, |c| audit_events::table
        .filter(audit_events::seq.eq(to_seq))
        .select(audit_events::hash)
        .first::<Option<String>>(c)
        .await)?;
    let base_hash = base_hash.unwrap_or_default();
    let events = db_run!(tx, |c| diesel::delete(
        audit_events::table
            .filter(audit_events::seq.ge(base_seq))
            .filter(audit_events::seq.le(to_seq))
    )
    .execute(c)
    .await)? as i64;
    db_run!(tx, |c| diesel::update(audit_chain::table.find(1))
        .set((
            audit_chain::base_seq.eq(to_seq + 1),
            audit_chain::base_hash.eq(&base_hash)
        ))
        .execute(c)
        .await)?;
    let purged = Purged {
        events,
        from_seq: base_seq,
        to_seq,
        base_hash,
    };
    let meta = RequestMeta {
        client_id: "scheduler".into(),
        ..RequestMeta::default()
    };
    let event = Event::new(Action::AuditPurged).details(json!({
        "events": purged.events,
        "from_link": purged.from_seq,
        "to_link": purged.to_seq,
        "chain_starts_from": purged.base_hash,
        "older_than": format!(
            "{}T{:02}:{:02}:{:02}Z",
            cutoff.date(),
            cutoff.hour(),
            cutoff.minute(),
            cutoff.second()
        ),
    }));
    super::record(tx, now, &ActorRef::system(), &meta, event).await?;
    Ok(Some(purged))
}
