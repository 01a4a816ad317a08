//! Reads: live sessions with their user, filtered.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{roles, sessions, user_roles, users};
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

/// Sessions shown at most (newest activity first); a filter finds the rest.
pub const SHOWN: i64 = 200;

#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// An email fragment, or `#id`.
    pub user: Option<String>,
    pub role: Option<String>,
    /// An address, or its start ("10.2.").
    pub ip: Option<String>,
}

#[derive(Queryable, Clone, Debug)]
pub struct Row {
    pub handle: String,
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: PrimitiveDateTime,
    pub last_seen_at: PrimitiveDateTime,
    pub mfa_at: Option<PrimitiveDateTime>,
}

fn like_start(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Live sessions (seen since `idle_cutoff`, not expired) matching `f`.
pub async fn live(
    db: &mut Db,
    f: &Filter,
    now: PrimitiveDateTime,
    idle_cutoff: PrimitiveDateTime,
) -> QResult<Vec<Row>> {
    let f = f.clone();
    db_run!(db, |c| {
        let mut q = sessions::table
            .inner_join(users::table.on(sessions::user_id.eq(users::id.nullable())))
            .filter(sessions::last_seen_at.ge(idle_cutoff))
            .filter(sessions::expires_at.gt(now))
            .select((
                sessions::id_hash,
                sessions::user_id,
                users::email.nullable(),
                sessions::ip,
                sessions::user_agent,
                sessions::created_at,
                sessions::last_seen_at,
                sessions::mfa_at,
            ))
            .order(sessions::last_seen_at.desc())
            .limit(SHOWN)
            .into_boxed();
        if let Some(u) = &f.user {
            match u.trim_start_matches('#').parse::<i64>() {
                Ok(id) if u.starts_with('#') => q = q.filter(sessions::user_id.eq(id)),
                _ => {
                    let p = format!("%{}%", like_start(&u.to_lowercase()));
                    q = q.filter(users::email_lower.like(p).escape('\\'));
                }
            }
        }
        if let Some(r) = &f.role {
            let holders = user_roles::table
                .inner_join(roles::table)
                .filter(roles::key.eq(r.clone()))
                .select(user_roles::user_id);
            q = q.filter(users::id.eq_any(holders));
        }
        if let Some(ip) = &f.ip {
            q = q.filter(
                sessions::ip
                    .like(format!("{}%", like_start(ip)))
                    .escape('\\'),
            );
        }
        q.load::<Row>(c).await
    })
}
