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
#[derive(Clone, Debug, Default)]
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

pub async fn by_slug(db: &mut Db, slug: &str) -> QueryResult<Option<InWorkspace>> {
    let row: Option<Row> = db_run!(db, |c| workspaces::table
        .filter(workspaces::slug.eq(slug))
        .filter(workspaces::deleted_at.is_null())
        .select((
            workspaces::id,
            workspaces::slug,
            workspaces::name,
            workspaces::is_base,
            workspaces::archived_at
        ))
        .first(c)
        .await
        .optional())?;
    Ok(of(row))
}

pub async fn by_id(db: &mut Db, id: i64) -> QueryResult<Option<InWorkspace>> {
    let row: Option<Row> = db_run!(db, |c| workspaces::table
        .find(id)
        .filter(workspaces::deleted_at.is_null())
        .select((
            workspaces::id,
            workspaces::slug,
            workspaces::name,
            workspaces::is_base,
            workspaces::archived_at
        ))
        .first(c)
        .await
        .optional())?;
    Ok(of(row))
}
