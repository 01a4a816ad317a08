//! `/reset/{token}`: choose a new password from a one-time link sent by an
//! administrator. The link works once, for one hour; every session of the
//! user ends, and they sign in again.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use tower_sessions::Session;

use crate::audit::{self, ActorRef, Event};
use crate::auth::handlers::setup::invalid;
use crate::auth::views::ResetPage;
use crate::db::schema::{sessions, users};
use crate::db::types::TokenPurpose;
use crate::error::AppError;
use crate::security::password;
use crate::security::store;
use crate::state::AppState;
use crate::web::guard::redirect;
use crate::web::layout::{FLASH, PageCtx};
use crate::web::meta::RequestMeta;
use crate::web::render::html;

async fn valid(state: &AppState, token: &str) -> Result<Option<(i64, i64, String)>, AppError> {
    let mut db = state.pool.get().await?;
    let now = state.clock.now_primitive();
    let purposes = [TokenPurpose::PasswordReset];
    let Some(row) = store::usable_token(&mut db, token, now, &purposes).await? else {
        return Ok(None);
    };
    let Some(uid) = row.user_id else {
        return Ok(None);
    };
    let user = store::user_by_id(&mut db, uid)
        .await?
        .filter(|u| u.deleted_at.is_none());
    Ok(user.map(|u| (row.id, u.id, u.email)))
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    match valid(&state, &token).await? {
        Some((_, _, email)) => html(&ResetPage {
            ctx,
            token,
            email,
            error: None,
        }),
        None => invalid(ctx),
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    meta: RequestMeta,
    Path(token): Path<String>,
    Form(f): Form<ResetForm>,
) -> Result<Response, AppError> {
    let Some((token_id, uid, email)) = valid(&state, &token).await? else {
        return invalid(ctx);
    };
    let problem = password::new_password_problem(&f.password, &f.confirm, &email);
    if let Some(key) = problem {
        let error = Some(ctx.tr(key).to_owned());
        return html(&ResetPage {
            ctx,
            token,
            email,
            error,
        })
        .map(|r| (StatusCode::UNPROCESSABLE_ENTITY, r).into_response());
    }
    let hash = password::hash_off_thread(&state.cpu, &f.password).await?;
    let now = state.clock.now_primitive();
    let mut db = state.pool.get().await?;
    let meta2 = meta.clone();
    let used = db
        .transaction(|db| {
            Box::pin(async move {
                if !store::consume_token(db, token_id, now).await? {
                    return Ok(false);
                }
                // Any other reset link of this user dies with this one.
                store::revoke_links(db, uid, Some(TokenPurpose::PasswordReset), now).await?;
                crate::db_run!(db, |c| diesel::update(users::table.find(uid))
                    .set((users::password_hash.eq(&hash), users::updated_at.eq(now)))
                    .execute(c)
                    .await)?;
                let ended = crate::db_run!(db, |c| diesel::delete(
                    sessions::table.filter(sessions::user_id.eq(uid))
                )
                .execute(c)
                .await)?;
                let ev = Event::new(crate::audit::Action::PasswordReset)
                    .target("user", uid)
                    .details(serde_json::json!({ "sessions_ended": ended }));
                audit::record(db, now, &ActorRef::user(uid, &email), &meta2, ev).await?;
                Ok::<_, diesel::result::Error>(true)
            })
        })
        .await?;
    if !used {
        return invalid(ctx);
    }
    session.insert(FLASH, ctx.tr("reset.done")).await?;
    Ok(redirect("/login", false))
}
