//! Reads: the user page's histories and lookups; the list query in
//! [`list`].

pub mod list;
pub mod search_sql;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{comments, login_events, roles, user_roles, users};
use crate::db_run;
use crate::user_record::model::User;

type QResult<T> = Result<T, diesel::result::Error>;

/// A user by id, deleted or not (the same query sign-in uses).
pub use crate::security::store::user_by_id as get;

#[derive(Clone, Debug, Queryable)]
pub struct LoginRow {
    pub at: PrimitiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub client_id: String,
    pub event: String,
    pub success: bool,
    pub reason: Option<String>,
}

pub async fn login_history(db: &mut Db, user_id: i64, limit: i64) -> QResult<Vec<LoginRow>> {
    db_run!(db, |c| login_events::table
        .filter(login_events::user_id.eq(user_id))
        .order((login_events::at.desc(), login_events::id.desc()))
        .select((
            login_events::at,
            login_events::ip,
            login_events::user_agent,
            login_events::client_id,
            login_events::event,
            login_events::success,
            login_events::reason
        ))
        .limit(limit)
        .load(c)
        .await)
}

#[derive(Clone, Debug, Queryable)]
pub struct NoteRow {
    pub id: i64,
    pub author_label: String,
    pub body: String,
    pub created_at: PrimitiveDateTime,
}

pub async fn notes(db: &mut Db, user_id: i64) -> QResult<Vec<NoteRow>> {
    db_run!(db, |c| comments::table
        .filter(comments::subject_type.eq("user"))
        .filter(comments::subject_id.eq(user_id))
        .order((comments::created_at.desc(), comments::id.desc()))
        .select((
            comments::id,
            comments::author_label,
            comments::body,
            comments::created_at
        ))
        .limit(200)
        .load(c)
        .await)
}

pub async fn role_keys_of(db: &mut Db, user_id: i64) -> QResult<Vec<String>> {
    db_run!(db, |c| user_roles::table
        .inner_join(roles::table)
        .filter(user_roles::user_id.eq(user_id))
        .order(roles::id)
        .select(roles::key)
        .load(c)
        .await)
}

/// Quick matches for the header search box: exact id or email first, then substrings.
pub async fn quick_search(
    db: &mut Db,
    q: &str,
    limit: i64,
) -> QResult<Vec<crate::user_record::model::Listed>> {
    // A Stripe customer or subscription id (copied from Stripe's dashboard
    // or an invoice) finds its user, from the subscription's columns.
    let stripe_id = (q.starts_with("cus_") || q.starts_with("sub_"))
        && q.len() <= 255
        && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if stripe_id {
        use crate::db::schema::subscriptions;
        let ids: Vec<i64> = db_run!(db, |c| subscriptions::table
            .filter(
                subscriptions::stripe_customer_id
                    .eq(q)
                    .or(subscriptions::stripe_subscription_id.eq(q))
            )
            .select(subscriptions::user_id)
            .limit(limit)
            .load(c)
            .await)?;
        return db_run!(db, |c| users::table
            .filter(users::id.eq_any(&ids))
            .filter(users::deleted_at.is_null())
            .select(crate::user_record::model::Listed::as_select())
            .load(c)
            .await);
    }
    let params = crate::users::store::list::ListParams {
        q: q.to_owned(),
        size: "25".into(),
        ..Default::default()
    };
    let mut filter = params.filter();
    filter.size = limit;
    crate::users::store::list::page(db, &filter)
        .await
        .map(|page| page.rows)
}

/// Several users by id, in id order.
pub async fn many(db: &mut Db, ids: &[i64]) -> QResult<Vec<User>> {
    db_run!(db, |c| users::table
        .filter(users::id.eq_any(ids))
        .order(users::id)
        .select(User::as_select())
        .load(c)
        .await)
}

/// The highest user id (0 when there are none): a task started now acts on
/// users up to it, not on those created while it runs.
pub async fn max_id(db: &mut Db) -> QResult<i64> {
    let max: Option<i64> = db_run!(db, |c| users::table
        .select(diesel::dsl::max(users::id))
        .first(c)
        .await)?;
    Ok(max.unwrap_or(0))
}

/// Ids of the active, not deleted Administrators (a bulk suspension warns
/// when it would take all of them).
pub async fn active_admin_ids(db: &mut Db) -> QResult<Vec<i64>> {
    db_run!(db, |c| user_roles::table
        .inner_join(roles::table)
        .inner_join(users::table)
        .filter(roles::key.eq(crate::access::ADMIN_ROLE))
        .filter(users::deleted_at.is_null())
        .filter(users::status.eq(crate::db::types::UserStatus::Active))
        .select(users::id)
        .load(c)
        .await)
}
