//! Named values every instance on the database reads the same way
//! (`shared_state` table): the secret key's id, cache versions.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Db;
use super::schema::shared_state;
use crate::db_run;

pub async fn get(db: &mut Db, name: &str) -> QueryResult<Option<String>> {
    db_run!(db, |c| shared_state::table
        .find(name)
        .select(shared_state::value)
        .first(c)
        .await
        .optional())
}

/// Sets `name` unless it is set; returns the value that holds afterwards
/// (two instances starting together agree on the first writer's).
pub async fn get_or_init(db: &mut Db, name: &str, value: &str) -> QueryResult<String> {
    db_run!(db, |c| diesel::insert_into(shared_state::table)
        .values((shared_state::name.eq(name), shared_state::value.eq(value)))
        .on_conflict(shared_state::name)
        .do_nothing()
        .execute(c)
        .await)?;
    Ok(get(db, name).await?.unwrap_or_else(|| value.to_owned()))
}

pub async fn set(db: &mut Db, name: &str, value: &str) -> QueryResult<()> {
    db_run!(db, |c| diesel::insert_into(shared_state::table)
        .values((shared_state::name.eq(name), shared_state::value.eq(value)))
        .on_conflict(shared_state::name)
        .do_update()
        .set(shared_state::value.eq(value))
        .execute(c)
        .await)?;
    Ok(())
}
