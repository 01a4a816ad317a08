//! `/admin`: a few figures and the latest events the user may see.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::access::{Permission, can};
use crate::admin::audit_log::{EventView, latest};
use crate::db::schema::{audit_events, sessions, users};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::current::SignedIn;
use crate::web::layout::PageCtx;
use crate::web::render::html;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    ctx: PageCtx,
    users: i64,
    sessions: i64,
    denied_24h: i64,
    events: Vec<EventView>,
    show_audit: bool,
}

/// The number of users without counting a million rows: PostgreSQL's own
/// estimate, SQLite's highest id (close enough for a dashboard figure).
async fn approximate_users(db: &mut crate::db::Db) -> Result<i64, diesel::result::Error> {
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Estimate {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = if db.is_sqlite() {
        "SELECT COALESCE(MAX(id), 0) AS n FROM users"
    } else {
        "SELECT GREATEST(reltuples, 0)::bigint AS n FROM pg_class WHERE relname = 'users'"
    };
    let estimate: Option<Estimate> = crate::db_run!(db, |c| diesel::sql_query(sql)
        .get_result(c)
        .await
        .optional())?;
    let n = estimate.map(|e| e.n).unwrap_or(0);
    // A fresh table has no statistics yet: small enough to count.
    if n < 10_000 {
        return crate::db_run!(db, |c| users::table
            .filter(users::deleted_at.is_null())
            .count()
            .get_result(c)
            .await);
    }
    Ok(n)
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    SignedIn(actor): SignedIn,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let now = state.clock.now_primitive();
    let idle_cutoff = now - state.config.session_idle;
    let day_ago = now - time::Duration::days(1);
    let users = approximate_users(&mut db).await?;
    let sessions: i64 = crate::db_run!(&mut db, |c| sessions::table
        .filter(sessions::user_id.is_not_null())
        .filter(sessions::last_seen_at.ge(idle_cutoff))
        .count()
        .get_result(c)
        .await)?;
    let denied_24h: i64 = crate::db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::at.ge(day_ago))
        .filter(audit_events::outcome.eq("denied"))
        .count()
        .get_result(c)
        .await)?;
    let show_audit = can(&actor, Permission::AuditRead, None);
    let events = if show_audit {
        latest(&mut db, 10).await?
    } else {
        Vec::new()
    };
    html(&DashboardPage {
        ctx,
        users,
        sessions,
        denied_24h,
        events,
        show_audit,
    })
}
