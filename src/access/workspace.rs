//! The workspace a request acts in, as the access check needs it: found
//! by the path's slug (the managers' screens) or by `X-Workspace-Id` (the
//! API), deleted workspaces never.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::WorkspaceRef;
use crate::db::Db;
use crate::db::schema::workspaces;
use crate::db_run;

/// The workspace a request acts in, put in the request's extensions by the
/// guard once the access check has passed, so the handler knows it without
/// looking it up again.
#[derive(Clone, Debug)]
pub struct InWorkspace {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub is_base: bool,
    pub archived: bool,
}

impl InWorkspace {
    pub fn reference(&self) -> WorkspaceRef {
        WorkspaceRef {
            id: self.id,
            is_base: self.is_base,
        }
    }
}

type Row = (i64, String, String, bool, Option<time::PrimitiveDateTime>);

fn of(row: Option<Row>) -> Option<InWorkspace> {
    row.map(|(id, slug, name, is_base, archived)| InWorkspace {
        id,
        slug,
        name,
        is_base,
        archived: archived.is_some(),
    })
}

/// How a request names its workspace.
enum Key<'a> {
    Slug(&'a str),
    Id(i64),
}

async fn find(db: &mut Db, key: Key<'_>) -> QueryResult<Option<InWorkspace>> {
    let row: Option<Row> = db_run!(db, |c| {
        let q = workspaces::table
            .filter(workspaces::deleted_at.is_null())
            .select((
                workspaces::id,
                workspaces::slug,
                workspaces::name,
                workspaces::is_base,
                workspaces::archived_at,
            ))
            .into_boxed();
        let q = match key {
            Key::Slug(slug) => q.filter(workspaces::slug.eq(slug)),
            Key::Id(id) => q.filter(workspaces::id.eq(id)),
        };
        q.first(c).await.optional()
    })?;
    Ok(of(row))
}

pub async fn by_slug(db: &mut Db, slug: &str) -> QueryResult<Option<InWorkspace>> {
    find(db, Key::Slug(slug)).await
}

pub async fn by_id(db: &mut Db, id: i64) -> QueryResult<Option<InWorkspace>> {
    find(db, Key::Id(id)).await
}
