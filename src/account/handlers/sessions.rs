//! `/account/sessions`: where and since when the user is signed in; any
//! session can be ended (the row is deleted, so its cookie is dead at once).

use axum::extract::{Path, State};
use axum::response::Response;
use tower_sessions::Session;

use crate::account::views::{SessionView, SessionsPage};
use crate::account::{changes, store};
use crate::error::AppError;
use crate::security::session_store::id_hash;
use crate::state::AppState;
use crate::web::action::Call;
use crate::web::current::SignedIn;
use crate::web::format::date_time;
use crate::web::guard::redirect;
use crate::web::layout::PageCtx;
use crate::web::render::{html, with_toast};

async fn list(
    state: &AppState,
    user_id: i64,
    current: Option<&str>,
) -> Result<Vec<SessionView>, AppError> {
    let mut db = state.pool.get().await?;
    let idle_cutoff = state.clock.now_primitive() - state.config.session_idle;
    let utc = |t| format!("{} UTC", date_time(t));
    Ok(store::live(&mut db, user_id, idle_cutoff)
        .await?
        .into_iter()
        .map(|(hash, ip, ua, created, seen, mfa)| SessionView {
            current: current == Some(hash.as_str()),
            handle: hash,
            ip: ip.unwrap_or_default(),
            user_agent: ua.unwrap_or_default(),
            created_at: utc(created),
            last_seen_at: utc(seen),
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
pub async fn end(call: Call, Path(handle): Path<String>) -> Result<Response, AppError> {
    let by = call.by();
    let (uid, h) = (call.actor.user_id, handle.clone());
    let mut db = call.state.pool.get().await?;
    let ended = db
        .transaction(|tx| Box::pin(async move { changes::end_session(tx, &by, uid, &h).await }))
        .await?;
    drop(db);
    if !ended {
        return Err(AppError::NotFound);
    }
    if current_hash(&call.session).as_deref() == Some(handle.as_str()) {
        call.session.flush().await?;
        return Ok(redirect("/login", call.htmx));
    }
    let message = call.ctx.tr("sessions.ended");
    let sessions = list(&call.state, uid, current_hash(&call.session).as_deref()).await?;
    let htmx = call.htmx;
    let page = SessionsPage {
        ctx: call.ctx,
        sessions,
    };
    let response = if htmx {
        html(&page.as_rows())?
    } else {
        redirect("/account/sessions", false)
    };
    Ok(with_toast(response, "success", message))
}

/// POST /account/sessions/others/end: every session but this one ends.
pub async fn end_others(call: Call) -> Result<Response, AppError> {
    let keep = current_hash(&call.session).unwrap_or_default();
    let uid = call.actor.user_id;
    let k = keep.clone();
    let ended = crate::web::action::run(&call, move |tx, by| {
        Box::pin(async move { changes::end_other_sessions(tx, &by, uid, &k).await })
    })
    .await?
    .map_err(|_| AppError::internal("ending sessions refused"))?;
    let message = call.ctx.lang.tn(
        "account.others_ended",
        ended as i64,
        &[("n", &ended.to_string())],
    );
    call.session
        .insert(crate::web::layout::FLASH, message)
        .await?;
    Ok(redirect("/account", call.htmx))
}
