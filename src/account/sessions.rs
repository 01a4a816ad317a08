//! `/account/sessions`: where and since when the user is signed in; any
//! session can be ended (the row is deleted, so its cookie is dead at once).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum_htmx::HxRequest;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;
use tower_sessions::Session;

use crate::audit::{self, ActorRef, Event};
use crate::db::schema::sessions;
use crate::error::AppError;
use crate::security::session_store::id_hash;
use crate::state::AppState;
use crate::web::current::SignedIn;
use crate::web::guard::redirect;
use crate::web::layout::PageCtx;
use crate::web::meta::RequestMeta;
use crate::web::render::{html, with_toast};

pub struct SessionView {
    pub handle: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub current: bool,
    pub mfa: bool,
}

#[derive(Template)]
#[template(path = "account/sessions.html", blocks = ["rows"])]
struct SessionsPage {
    ctx: PageCtx,
    sessions: Vec<SessionView>,
}

fn fmt(t: PrimitiveDateTime) -> String {
    format!("{} UTC", crate::web::format::date_time(t))
}

async fn list(
    state: &AppState,
    user_id: i64,
    current: Option<&str>,
) -> Result<Vec<SessionView>, AppError> {
    let mut db = state.pool.get().await?;
    type Row = (
        String,
        Option<String>,
        Option<String>,
        PrimitiveDateTime,
        PrimitiveDateTime,
        Option<PrimitiveDateTime>,
    );
    let rows: Vec<Row> = crate::db_run!(&mut db, |c| sessions::table
        .filter(sessions::user_id.eq(user_id))
        .order(sessions::last_seen_at.desc())
        .select((
            sessions::id_hash,
            sessions::ip,
            sessions::user_agent,
            sessions::created_at,
            sessions::last_seen_at,
            sessions::mfa_at
        ))
        .limit(200)
        .load(c)
        .await)?;
    let idle_cutoff = state.clock.now_primitive() - state.config.session_idle;
    Ok(rows
        .into_iter()
        .filter(|r| r.4 >= idle_cutoff)
        .map(|(hash, ip, ua, created, seen, mfa)| SessionView {
            current: current == Some(hash.as_str()),
            handle: hash,
            ip: ip.unwrap_or_default(),
            user_agent: ua.unwrap_or_default(),
            created_at: fmt(created),
            last_seen_at: fmt(seen),
            mfa: mfa.is_some(),
        })
        .collect())
}

fn current_hash(session: &Session) -> Option<String> {
    session.id().map(|id| id_hash(&id))
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    SignedIn(actor): SignedIn,
) -> Result<Response, AppError> {
    let sessions = list(&state, actor.user_id, current_hash(&session).as_deref()).await?;
    html(&SessionsPage { ctx, sessions })
}

/// POST /account/sessions/{handle}/end
pub async fn end(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    meta: RequestMeta,
    HxRequest(htmx): HxRequest,
    SignedIn(actor): SignedIn,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    let now = state.clock.now_primitive();
    let mut db = state.pool.get().await?;
    let (uid, who, meta2, h) = (
        actor.user_id,
        ActorRef::of(&actor),
        meta.clone(),
        handle.clone(),
    );
    let deleted = db
        .transaction(|db| {
            Box::pin(async move {
                let n = crate::db_run!(db, |c| diesel::delete(
                    sessions::table
                        .filter(sessions::id_hash.eq(&h))
                        .filter(sessions::user_id.eq(uid))
                )
                .execute(c)
                .await)?;
                if n > 0 {
                    let ev = Event::session_ended()
                        .target("session", &h[..12.min(h.len())])
                        .details(serde_json::json!({ "user_id": uid }));
                    audit::record(db, now, &who, &meta2, ev).await?;
                }
                Ok::<_, diesel::result::Error>(n)
            })
        })
        .await?;
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    if current_hash(&session).as_deref() == Some(handle.as_str()) {
        session.flush().await?;
        return Ok(redirect("/login", htmx));
    }
    let message = ctx.tr("sessions.ended");
    let sessions = list(&state, actor.user_id, current_hash(&session).as_deref()).await?;
    let page = SessionsPage { ctx, sessions };
    let response = if htmx {
        html(&page.as_rows())?
    } else {
        redirect("/account/sessions", false)
    };
    Ok(with_toast(response, "success", message))
}
