//! Reads for the workspace screens: the list (keyset by name, so a page
//! costs the same at any depth), member and manager counts for a page's
//! workspaces, and a workspace's members.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::schema::{users, workspace_members, workspaces};
use crate::db::types::{UserStatus, WorkspaceRole};
use crate::db::{Db, like_escape};
use crate::db_run;
use crate::workspaces::changes::Workspace;

/// Which workspaces the list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Live,
    Archived,
    All,
}

impl Shown {
    pub const ALL: [Shown; 3] = [Shown::Live, Shown::Archived, Shown::All];
    pub fn key(self) -> &'static str {
        match self {
            Shown::Live => "live",
            Shown::Archived => "archived",
            Shown::All => "all",
        }
    }
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|x| x.key() == s)
            .unwrap_or(Shown::Live)
    }
}

/// The list's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Name,
    Newest,
    Oldest,
}

impl SortBy {
    pub const ALL: [SortBy; 3] = [SortBy::Name, SortBy::Newest, SortBy::Oldest];
    pub fn key(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Newest => "-created",
            SortBy::Oldest => "created",
        }
    }
    pub fn label_key(self) -> &'static str {
        match self {
            SortBy::Name => "workspaces.sort_name",
            SortBy::Newest => "workspaces.sort_created_desc",
            SortBy::Oldest => "workspaces.sort_created",
        }
    }
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|x| x.key() == s)
            .unwrap_or_default()
    }
}

pub struct ListFilter {
    /// Part of the name or the address.
    pub q: String,
    pub shown: Shown,
    pub sort: SortBy,
}

/// Where a page starts: after or before a row, named by its sort key (the
/// name, or the creation time as Unix nanoseconds) and id.
pub enum Cursor {
    First,
    After(String, i64),
    Before(String, i64),
}

/// A creation time as a cursor key, and back.
pub fn time_key(t: PrimitiveDateTime) -> String {
    t.assume_utc().unix_timestamp_nanos().to_string()
}

fn key_time(key: &str) -> Option<PrimitiveDateTime> {
    let nanos: i128 = key.parse().ok()?;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    Some(PrimitiveDateTime::new(t.date(), t.time()))
}

/// Up to `limit` workspaces in the filter's order from `cursor`.
pub async fn list(
    db: &mut Db,
    f: &ListFilter,
    cursor: &Cursor,
    limit: i64,
) -> QueryResult<Vec<Workspace>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
    let pattern = format!("%{}%", like_escape(&f.q.trim().to_lowercase()));
    let mut rows: Vec<Workspace> = db_run!(db, |c| {
        let mut q = workspaces::table
            .filter(workspaces::deleted_at.is_null())
            .select(Workspace::as_select())
            .limit(limit)
            .into_boxed();
        q = match f.shown {
            Shown::Live => q.filter(workspaces::archived_at.is_null()),
            Shown::Archived => q.filter(workspaces::archived_at.is_not_null()),
            Shown::All => q,
        };
        if !f.q.trim().is_empty() {
            q = q.filter(
                sql::<Bool>("(lower(workspaces.name) LIKE ")
                    .bind::<Text, _>(pattern.clone())
                    .sql(" ESCAPE '!' OR workspaces.slug LIKE ")
                    .bind::<Text, _>(pattern.clone())
                    .sql(" ESCAPE '!')"),
            );
        }
        // Walking forward in the sort order, or backward from a cursor.
        let (key, id, backward) = match cursor {
            Cursor::First => (None, 0, false),
            Cursor::After(k, id) => (Some(k.clone()), *id, false),
            Cursor::Before(k, id) => (Some(k.clone()), *id, true),
        };
        let descending = (f.sort == SortBy::Newest) != backward;
        let op = if descending { "<" } else { ">" };
        if let Some(key) = key {
            q = match f.sort {
                SortBy::Name => q.filter(
                    sql::<Bool>(&format!("(workspaces.name, workspaces.id) {op} ("))
                        .bind::<Text, _>(key)
                        .sql(", ")
                        .bind::<BigInt, _>(id)
                        .sql(")"),
                ),
                // An unreadable time key starts from the first page.
                SortBy::Newest | SortBy::Oldest => match key_time(&key) {
                    Some(t) => q.filter(
                        sql::<Bool>(&format!("(workspaces.created_at, workspaces.id) {op} ("))
                            .bind::<Timestamp, _>(t)
                            .sql(", ")
                            .bind::<BigInt, _>(id)
                            .sql(")"),
                    ),
                    None => q,
                },
            };
        }
        q = match (f.sort, descending) {
            (SortBy::Name, false) => q.order((workspaces::name.asc(), workspaces::id.asc())),
            (SortBy::Name, true) => q.order((workspaces::name.desc(), workspaces::id.desc())),
            (_, false) => q.order((workspaces::created_at.asc(), workspaces::id.asc())),
            (_, true) => q.order((workspaces::created_at.desc(), workspaces::id.desc())),
        };
        q.load(c).await
    })?;
    if matches!(cursor, Cursor::Before(..)) {
        rows.reverse();
    }
    Ok(rows)
}

/// The name of workspace `id`, deleted or not (a cursor's place).
pub async fn name_of(db: &mut Db, id: i64) -> QueryResult<Option<String>> {
    db_run!(db, |c| workspaces::table
        .find(id)
        .select(workspaces::name)
        .first(c)
        .await
        .optional())
}

/// Members and managers of each of `ids`: the counts each workspace
/// carries, kept by triggers on `workspace_members` (migration 000026), so
/// a page of the list never counts memberships.
pub async fn counts(db: &mut Db, ids: &[i64]) -> QueryResult<HashMap<i64, (i64, i64)>> {
    let rows: Vec<(i64, i64, i64)> = db_run!(db, |c| workspaces::table
        .filter(workspaces::id.eq_any(ids))
        .select((
            workspaces::id,
            workspaces::member_count,
            workspaces::manager_count,
        ))
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(|(id, m, g)| (id, (m, g))).collect())
}

pub struct MemberRow {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub status: UserStatus,
    pub role: WorkspaceRole,
    pub since: PrimitiveDateTime,
}

/// Members on one page of a workspace's member list.
pub const MEMBERS_PAGE: i64 = 100;
/// At most this many members through the API's one call.
pub const MEMBERS_SHOWN: i64 = 500;

/// A place in the member list: managers first, then members, each in the
/// order they were given an account (user id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAt {
    pub role: String,
    pub user_id: i64,
}

/// Up to `limit` live members of `ws` after (or, `backward`, before) `at`,
/// in list order. The row-value comparison walks the index
/// (workspace_id, role, user_id) from the cursor: a page costs the same at
/// any depth of a 5,000-member workspace.
pub async fn members(
    db: &mut Db,
    ws: i64,
    at: Option<&MemberAt>,
    backward: bool,
    limit: i64,
) -> QueryResult<Vec<MemberRow>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Bool, Text};
    let rows: Vec<(i64, String, String, UserStatus, String, PrimitiveDateTime)> =
        db_run!(db, |c| {
            let mut q = workspace_members::table
                .inner_join(users::table)
                .filter(workspace_members::workspace_id.eq(ws))
                .filter(users::deleted_at.is_null())
                .select((
                    users::id,
                    users::email,
                    users::name,
                    users::status,
                    workspace_members::role,
                    workspace_members::created_at,
                ))
                .limit(limit)
                .into_boxed();
            if let Some(at) = at {
                let op = if backward { "<" } else { ">" };
                q = q.filter(
                    sql::<Bool>(&format!(
                        "(workspace_members.role, workspace_members.user_id) {op} ("
                    ))
                    .bind::<Text, _>(at.role.clone())
                    .sql(", ")
                    .bind::<BigInt, _>(at.user_id)
                    .sql(")"),
                );
            }
            q = if backward {
                q.order((
                    workspace_members::role.desc(),
                    workspace_members::user_id.desc(),
                ))
            } else {
                q.order((
                    workspace_members::role.asc(),
                    workspace_members::user_id.asc(),
                ))
            };
            q.load(c).await
        })?;
    let mut out: Vec<MemberRow> = rows
        .into_iter()
        .filter_map(|(user_id, email, name, status, role, since)| {
            Some(MemberRow {
                user_id,
                email,
                name,
                status,
                role: WorkspaceRole::parse(&role)?,
                since,
            })
        })
        .collect();
    if backward {
        out.reverse();
    }
    Ok(out)
}

/// The live user with this address, if any.
pub async fn user_by_email(db: &mut Db, email: &str) -> QueryResult<Option<i64>> {
    db_run!(db, |c| users::table
        .filter(users::email_lower.eq(email.trim().to_lowercase()))
        .filter(users::deleted_at.is_null())
        .select(users::id)
        .first(c)
        .await
        .optional())
}
