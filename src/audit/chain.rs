//! Tamper evidence: the audit events form one hash chain.
//!
//! Each event stores its place in the chain (`seq`, one more than the event
//! before it), the hash of the event before it (`prev_hash`) and its own
//! `hash`, a SHA-256 over `prev_hash` and the event's content. An edited
//! row no longer matches its hash, a deleted row leaves a gap in `seq` and a
//! `prev_hash` that names nothing, and two swapped rows break both. The
//! chain's head (last `seq` and hash) lives in the one row of `audit_chain`;
//! [`append`] reads it locked (`FOR UPDATE` on PostgreSQL; SQLite's write
//! transactions are already one at a time), so concurrent writers queue on
//! it and the chain has a single order: no fork (a unique index on `seq`
//! refuses one anyway), no gap (a rolled-back change takes its event and
//! the head's move back with it).
//!
//! Erasure (GDPR) must be able to replace a person's traces in events
//! without breaking the chain, so the personal fields (actor label, address,
//! user agent, details) enter the hash through `personal_digest`, a salted
//! hash of them. Erasing rewrites the fields and drops the salt: the
//! digest can no longer be recomputed (nor guessed), the chain still holds,
//! and [`verify`] accepts such a redacted event only when it concerns a user
//! whose erasure is itself recorded in the chain.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;

use crate::db::schema::{audit_chain, audit_events};
use crate::db::{Db, Tx};
use crate::db_run;

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many events are sealed or verified per round trip.
const BATCH: i64 = 5_000;

/// What goes into an event's hash, read from its stored columns.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct Sealed {
    pub id: i64,
    pub at: PrimitiveDateTime,
    pub actor_type: String,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub workspace_id: Option<i64>,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub client_id: Option<String>,
    pub request_id: Option<String>,
    pub details: String,
    pub seq: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
    pub personal_digest: Option<String>,
    pub personal_salt: Option<String>,
}

/// The stored time, to the microsecond both engines keep.
pub fn stored_time(at: PrimitiveDateTime) -> PrimitiveDateTime {
    let micros = at.microsecond();
    at.replace_microsecond(micros).unwrap_or(at)
}

fn text(at: PrimitiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// Feeds one field, length-prefixed so no two contents hash alike by
/// moving a boundary; absent and empty differ.
fn field(h: &mut Sha256, value: Option<&str>) {
    match value {
        None => h.update([0u8]),
        Some(v) => {
            h.update([1u8]);
            h.update((v.len() as u64).to_be_bytes());
            h.update(v.as_bytes());
        }
    }
}

/// The salted digest of the fields erasure may rewrite.
pub fn personal_digest(salt: &str, e: &Sealed) -> String {
    let mut h = Sha256::new();
    h.update(b"sowat-audit-personal-v1");
    field(&mut h, Some(salt));
    field(&mut h, Some(&e.actor_label));
    field(&mut h, e.ip.as_deref());
    field(&mut h, e.user_agent.as_deref());
    field(&mut h, Some(&e.details));
    hex::encode(h.finalize())
}

/// The event's hash from the one before it, its place and content.
pub fn event_hash(prev: &str, seq: i64, digest: &str, e: &Sealed) -> String {
    let mut h = Sha256::new();
    h.update(b"sowat-audit-v1");
    field(&mut h, Some(prev));
    h.update(seq.to_be_bytes());
    h.update(e.id.to_be_bytes());
    field(&mut h, Some(&text(e.at)));
    field(&mut h, Some(&e.actor_type));
    field(&mut h, e.actor_id.map(|i| i.to_string()).as_deref());
    field(&mut h, Some(&e.action));
    field(&mut h, e.target_type.as_deref());
    field(&mut h, e.target_id.as_deref());
    field(&mut h, e.workspace_id.map(|i| i.to_string()).as_deref());
    field(&mut h, Some(&e.outcome));
    field(&mut h, e.client_id.as_deref());
    field(&mut h, e.request_id.as_deref());
    field(&mut h, Some(digest));
    hex::encode(h.finalize())
}

pub fn new_salt() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The chain's head, locked until the transaction ends.
#[derive(Clone, Debug, Queryable)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

pub(super) async fn lock_head(db: &mut Db) -> QueryResult<Head> {
    let q = audit_chain::table
        .find(1)
        .select((audit_chain::head_seq, audit_chain::head_hash));
    match db.conn_mut() {
        crate::db::Conn::Pg(c) => q.for_update().first(&mut **c).await,
        // One write transaction at a time (`BEGIN IMMEDIATE`): already ours.
        crate::db::Conn::Sqlite(c) => q.first(&mut **c).await,
    }
}

async fn move_head(db: &mut Db, head: &Head) -> QueryResult<()> {
    db_run!(db, |c| diesel::update(audit_chain::table.find(1))
        .set((
            audit_chain::head_seq.eq(head.seq),
            audit_chain::head_hash.eq(&head.hash)
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// The columns that seal `event` as the next link after `head`, which
/// moves on to it.
pub fn seal(head: &mut Head, event: &Sealed) -> (i64, String, String, String, String) {
    let salt = new_salt();
    let digest = personal_digest(&salt, event);
    let seq = head.seq + 1;
    let hash = event_hash(&head.hash, seq, &digest, event);
    let prev = std::mem::replace(&mut head.hash, hash.clone());
    head.seq = seq;
    (seq, prev, hash, digest, salt)
}

/// The id the next event gets, taken while the head is held (so ids rise
/// in chain order): the id is part of the hash, so two events cannot trade
/// places, not even by swapping every other column.
async fn next_id(db: &mut Db) -> QueryResult<i64> {
    match db.conn_mut() {
        crate::db::Conn::Pg(c) => {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "nextval(pg_get_serial_sequence('audit_events', 'id'))",
            ))
            .get_result(&mut **c)
            .await
        }
        crate::db::Conn::Sqlite(c) => {
            let max: Option<i64> = audit_events::table
                .select(diesel::dsl::max(audit_events::id))
                .first(&mut **c)
                .await?;
            Ok(max.unwrap_or(0) + 1)
        }
    }
}

/// Appends one new event (not yet stored) to the chain and stores it,
/// inside the change's transaction.
pub async fn append(tx: &mut Tx<'_>, mut event: Sealed) -> QueryResult<()> {
    let mut head = lock_head(tx).await?;
    event.id = next_id(tx).await?;
    let (seq, prev, hash, digest, salt) = seal(&mut head, &event);
    let row = (
        audit_events::id.eq(event.id),
        audit_events::at.eq(event.at),
        audit_events::actor_type.eq(&event.actor_type),
        audit_events::actor_id.eq(event.actor_id),
        audit_events::actor_label.eq(&event.actor_label),
        audit_events::action.eq(&event.action),
        audit_events::target_type.eq(event.target_type.as_deref()),
        audit_events::target_id.eq(event.target_id.as_deref()),
        audit_events::workspace_id.eq(event.workspace_id),
        audit_events::outcome.eq(&event.outcome),
        audit_events::ip.eq(event.ip.as_deref()),
        audit_events::user_agent.eq(event.user_agent.as_deref()),
        audit_events::client_id.eq(event.client_id.as_deref()),
        audit_events::request_id.eq(event.request_id.as_deref()),
        audit_events::details.eq(&event.details),
        (
            audit_events::seq.eq(seq),
            audit_events::prev_hash.eq(&prev),
            audit_events::hash.eq(&hash),
            audit_events::personal_digest.eq(&digest),
            audit_events::personal_salt.eq(&salt),
            // Derived from the address for searching; not part of the hash.
            audit_events::ip_key.eq(event.ip.as_deref().and_then(super::address::key)),
        ),
    );
    db_run!(tx, |c| diesel::insert_into(audit_events::table)
        .values(row)
        .execute(c)
        .await)?;
    move_head(tx, &head).await
}

/// Links the events stored before the chain existed (below the first
/// linked one), at start-up. An unlinked event above it was written around
/// the chain, not by this program: [`verify`] reports it, nothing links it.
pub async fn seal_legacy(db: &mut Db) -> QueryResult<u64> {
    let first_linked: Option<i64> = db_run!(db, |c| audit_events::table
        .filter(audit_events::seq.is_not_null())
        .select(diesel::dsl::min(audit_events::id))
        .first(c)
        .await)?;
    seal_pending(db, first_linked).await
}

/// Chains the events written without a link, below `below` if given (the
/// benchmark seed's bulk inserts: all of them), oldest first; returns how
/// many. Each batch is one transaction holding the head.
pub async fn seal_pending(db: &mut Db, below: Option<i64>) -> QueryResult<u64> {
    let below = below.unwrap_or(i64::MAX);
    let mut sealed = 0u64;
    loop {
        let n = db
            .transaction(|tx| {
                Box::pin(async move {
                    let mut head = lock_head(tx).await?;
                    let rows: Vec<Sealed> = db_run!(tx, |c| audit_events::table
                        .filter(audit_events::seq.is_null())
                        .filter(audit_events::id.lt(below))
                        .order(audit_events::id)
                        .limit(BATCH)
                        .select(Sealed::as_select())
                        .load(c)
                        .await)?;
                    if rows.is_empty() {
                        return Ok::<_, diesel::result::Error>(0u64);
                    }
                    // Only ids, numbers and hex go into the statement.
                    let values: Vec<String> = rows
                        .iter()
                        .map(|e| {
                            let (seq, prev, hash, digest, salt) = seal(&mut head, e);
                            format!("({}, {seq}, '{prev}', '{hash}', '{digest}', '{salt}')", e.id)
                        })
                        .collect();
                    let sql = format!(
                        "WITH v(id, seq, prev_hash, hash, personal_digest, personal_salt) AS (VALUES {}) \
                         UPDATE audit_events SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash, \
                         personal_digest = v.personal_digest, personal_salt = v.personal_salt \
                         FROM v WHERE audit_events.id = v.id",
                        values.join(",")
                    );
                    db_run!(tx, |c| diesel::sql_query(&sql).execute(c).await)?;
                    move_head(tx, &head).await?;
                    Ok(rows.len() as u64)
                })
            })
            .await?;
        if n == 0 {
            return Ok(sealed);
        }
        sealed += n;
    }
}

/// What a walk of the chain found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    /// Events checked.
    pub events: i64,
    /// The last checked link (`seq`, hash): what a digest signs.
    pub head_seq: i64,
    pub head_hash: String,
    /// The first broken event: its id and why.
    pub broken: Option<Broken>,
    /// Events whose personal fields were replaced by an erasure.
    pub redacted: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Broken {
    pub id: i64,
    pub seq: Option<i64>,
    /// `edited`, `missing`, `out_of_order`, `unlinked`, `redacted_without_erasure`.
    pub reason: String,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// The first link the trail still stores (1 until a retention purge).
pub async fn base_seq(db: &mut Db) -> QueryResult<i64> {
    Ok(base(db).await?.0)
}

/// The first stored link and the hash it links to (the genesis, or the
/// last link a retention purge removed).
pub async fn base(db: &mut Db) -> QueryResult<(i64, String)> {
    db_run!(db, |c| audit_chain::table
        .find(1)
        .select((audit_chain::base_seq, audit_chain::base_hash))
        .first(c)
        .await)
}

/// Walks the whole chain from its base (the genesis, or where a retention
/// purge left it) to the head and reports the first break.
pub async fn verify(db: &mut Db) -> QueryResult<Verdict> {
    verify_from(db, None).await
}

/// Walks the chain after `from` (a link an earlier walk found sound), or
/// from its base. A walk from a link checks only what was added since:
/// an edit before it waits for the next whole walk.
pub async fn verify_from(db: &mut Db, from: Option<(i64, String)>) -> QueryResult<Verdict> {
    let (base_seq, base_hash, head_seq, head_hash): (i64, String, i64, String) =
        db_run!(db, |c| audit_chain::table
            .find(1)
            .select((
                audit_chain::base_seq,
                audit_chain::base_hash,
                audit_chain::head_seq,
                audit_chain::head_hash
            ))
            .first(c)
            .await)?;
    let (base_seq, base_hash) = match from {
        Some((seq, hash)) if seq >= base_seq => (seq + 1, hash),
        _ => (base_seq, base_hash),
    };
    let mut verdict = Verdict {
        events: 0,
        head_seq: base_seq - 1,
        head_hash: base_hash.clone(),
        broken: None,
        redacted: 0,
    };
    // Redacted events and the users they concern, settled at the end
    // against the erasures recorded in the chain.
    let mut redacted: Vec<(i64, Option<i64>, Option<i64>)> = Vec::new();
    let mut erased: HashSet<i64> = HashSet::new();
    let mut after = base_seq - 1;
    let mut prev = base_hash;
    let mut expected = base_seq;
    'walk: loop {
        let rows: Vec<Sealed> = db_run!(db, |c| audit_events::table
            .filter(audit_events::seq.gt(after))
            .order(audit_events::seq)
            .limit(BATCH)
            .select(Sealed::as_select())
            .load(c)
            .await)?;
        if rows.is_empty() {
            break;
        }
        for e in &rows {
            let seq = e.seq.unwrap_or_default();
            let broken = |reason: &str| Broken {
                id: e.id,
                seq: e.seq,
                reason: reason.to_owned(),
            };
            if seq != expected {
                verdict.broken = Some(broken(if seq > expected {
                    "missing"
                } else {
                    "out_of_order"
                }));
                break 'walk;
            }
            if e.prev_hash.as_deref() != Some(prev.as_str()) {
                verdict.broken = Some(broken("missing"));
                break 'walk;
            }
            let digest = e.personal_digest.clone().unwrap_or_default();
            if event_hash(&prev, seq, &digest, e) != e.hash.clone().unwrap_or_default() {
                verdict.broken = Some(broken("edited"));
                break 'walk;
            }
            match &e.personal_salt {
                Some(salt) if personal_digest(salt, e) != digest => {
                    verdict.broken = Some(broken("edited"));
                    break 'walk;
                }
                Some(_) => {}
                None => {
                    let target = (e.target_type.as_deref() == Some("user"))
                        .then(|| e.target_id.as_deref().and_then(|t| t.parse().ok()))
                        .flatten();
                    redacted.push((e.id, e.actor_id, target));
                }
            }
            if e.action == super::Action::UserErased.key()
                && let Some(t) = e.target_id.as_deref().and_then(|t| t.parse().ok())
            {
                erased.insert(t);
            }
            prev = e.hash.clone().unwrap_or_default();
            if seq == head_seq && prev != head_hash {
                // The head read before the walk names another link: the
                // chain was rewritten from here back.
                verdict.broken = Some(broken("edited"));
                break 'walk;
            }
            verdict.events += 1;
            verdict.head_seq = seq;
            verdict.head_hash = prev.clone();
            expected += 1;
            after = seq;
        }
    }
    if verdict.broken.is_none() {
        let unlinked: Option<i64> = db_run!(db, |c| audit_events::table
            .filter(audit_events::seq.is_null())
            .select(diesel::dsl::min(audit_events::id))
            .first(c)
            .await)?;
        if let Some(id) = unlinked {
            verdict.broken = Some(Broken {
                id,
                seq: None,
                reason: "unlinked".into(),
            });
            return Ok(verdict);
        }
        verdict.redacted = redacted.len() as i64;
        let unexplained = redacted.into_iter().find(|(_, actor, target)| {
            !actor.is_some_and(|a| erased.contains(&a))
                && !target.is_some_and(|t| erased.contains(&t))
        });
        if let Some((id, _, _)) = unexplained {
            verdict.broken = Some(Broken {
                id,
                seq: None,
                reason: "redacted_without_erasure".into(),
            });
        } else if verdict.head_seq < head_seq {
            // Events cut off the end: the head (read before the walk, so
            // events written during it are not counted) names a later one.
            verdict.broken = Some(Broken {
                id: 0,
                seq: Some(verdict.head_seq + 1),
                reason: "missing".into(),
            });
        }
    }
    Ok(verdict)
}
