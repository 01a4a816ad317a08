//! A search condition as SQL text and bound values, usable in a diesel query
//! on both engines.
//!
//! The search needs SQL diesel's DSL does not express (FTS5 `MATCH`, a
//! `tsquery` cast, `ESCAPE`). A `sql()` literal would do, but diesel never
//! caches a statement holding one, so SQLite would compile the whole list
//! query again on every request. Here the text is assembled from `'static`
//! pieces only (it depends on the shape of the search, never on its
//! values), so SQLite keeps the compiled statement. PostgreSQL is still
//! asked to plan each search afresh: a cached statement may switch to a
//! generic plan, and one that walks the creation index for a rare fragment
//! would read the whole table.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use diesel::sqlite::Sqlite;

#[derive(Clone, Debug)]
enum Piece {
    Sql(&'static str),
    Text(String),
    Int(i64),
    Time(time::PrimitiveDateTime),
}

/// A boolean SQL condition built piece by piece.
#[derive(Clone, Debug, Default)]
pub struct Condition {
    pieces: Vec<Piece>,
}

impl Condition {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sql(mut self, s: &'static str) -> Self {
        self.pieces.push(Piece::Sql(s));
        self
    }

    pub fn text(mut self, value: String) -> Self {
        self.pieces.push(Piece::Text(value));
        self
    }

    pub fn int(mut self, value: i64) -> Self {
        self.pieces.push(Piece::Int(value));
        self
    }

    pub fn time(mut self, value: time::PrimitiveDateTime) -> Self {
        self.pieces.push(Piece::Time(value));
        self
    }

    /// Appends another condition's pieces as they are.
    pub fn then(mut self, other: Condition) -> Self {
        self.pieces.extend(other.pieces);
        self
    }

    fn walk<'b, DB>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: diesel::backend::Backend
            + diesel::sql_types::HasSqlType<Text>
            + diesel::sql_types::HasSqlType<BigInt>
            + diesel::sql_types::HasSqlType<Timestamp>,
        String: diesel::serialize::ToSql<Text, DB>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
        time::PrimitiveDateTime: diesel::serialize::ToSql<Timestamp, DB>,
    {
        for piece in &self.pieces {
            match piece {
                Piece::Sql(s) => out.push_sql(s),
                Piece::Text(v) => out.push_bind_param::<Text, String>(v)?,
                Piece::Int(v) => out.push_bind_param::<BigInt, i64>(v)?,
                Piece::Time(v) => out.push_bind_param::<Timestamp, time::PrimitiveDateTime>(v)?,
            }
        }
        Ok(())
    }
}

impl Expression for Condition {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for Condition {}
impl<QS> SelectableExpression<QS> for Condition {}
impl<GB> ValidGrouping<GB> for Condition {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl QueryId for Condition {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Sqlite> for Condition {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.walk(&mut out)
    }
}

impl QueryFragment<Pg> for Condition {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // See the module documentation: a plan per search on PostgreSQL.
        out.unsafe_to_cache_prepared();
        self.walk(&mut out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Condition {
        Condition::new()
            .sql("users.id IN (SELECT user_id FROM user_search_keys WHERE key >= ")
            .text("sylvie".into())
            .sql(") OR users.id = ")
            .int(7)
    }

    #[test]
    fn cached_on_sqlite_planned_afresh_on_postgres() {
        assert!(sample().is_safe_to_cache_prepared(&Sqlite).unwrap());
        assert!(!sample().is_safe_to_cache_prepared(&Pg).unwrap());
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let sql = diesel::debug_query::<Sqlite, _>(&sample()).to_string();
        assert!(sql.starts_with(
            "users.id IN (SELECT user_id FROM user_search_keys WHERE key >= ?) OR users.id = ?"
        ));
        assert!(sql.contains("\"sylvie\"") && sql.contains("7"), "{sql}");
    }
}
