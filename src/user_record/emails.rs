//! Users' addresses by id, for lists that name users (key owners,
//! notification subjects, report rows).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::db::schema::users;

/// The address of each of `ids` that exists.
pub async fn emails_of(db: &mut Db, ids: &[i64]) -> QueryResult<HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = crate::db_run!(db, |c| users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::email))
        .load(c)
        .await)?;
    Ok(rows.into_iter().collect())
}

/// The user's name (or address) when they exist and are not deleted.
pub async fn user_title(db: &mut Db, id: i64) -> QueryResult<Option<String>> {
    let found: Option<(String, String)> = crate::db_run!(db, |c| users::table
        .find(id)
        .filter(users::deleted_at.is_null())
        .select((users::name, users::email))
        .first(c)
        .await
        .optional())?;
    Ok(found.map(|(name, email)| if name.is_empty() { email } else { name }))
}
