//! `POST /account/password`: a new password, the current one required;
//! every other session ends. Refusals show in the card (htmx) or the page.

use axum::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::account::changes;
use crate::account::handlers::overview::{FactorError, render};
use crate::account::views::PasswordSection;
use crate::error::AppError;
use crate::security::password;
use crate::security::session_store::id_hash;
use crate::security::store as credentials;
use crate::web::action::{Call, run};
use crate::web::form::FormState;
use crate::web::guard::redirect;
use crate::web::layout::FLASH;
use crate::web::render::with_toast;

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn refuse(call: Call, field: &'static str, key: &'static str) -> Result<Response, AppError> {
    let form = FormState::refused(&call.ctx, Some(field), key);
    if call.htmx {
        let body = askama::Template::render(&PasswordSection {
            ctx: &call.ctx,
            form,
            notice: None,
        })
        .map_err(AppError::internal)?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response());
    }
    let r = render(
        &call.state,
        call.ctx.clone(),
        &call.actor,
        &call.session,
        form,
        FactorError(None),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, r).into_response())
}

pub async fn submit(call: Call, Form(f): Form<PasswordForm>) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let user = credentials::user_by_id(&mut db, call.actor.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(db);
    let current_ok =
        password::verify_off_thread(&call.state.cpu, &f.current, user.password_hash.as_deref())
            .await?;
    if !current_ok {
        return refuse(call, "current", "account.wrong_password").await;
    }
    if let Some(key) = password::new_password_problem(&f.password, &f.confirm, &user.email) {
        return refuse(call, "password", key).await;
    }
    if f.password == f.current {
        return refuse(call, "password", "account.same_password").await;
    }
    let hash = password::hash_off_thread(&call.state.cpu, &f.password).await?;
    let keep = call.session.id().map(|id| id_hash(&id)).unwrap_or_default();
    let uid = call.actor.user_id;
    let ended = run(&call, move |tx, by| {
        Box::pin(async move { changes::change_password(tx, &by, uid, &hash, &keep).await })
    })
    .await?
    .map_err(|_| AppError::internal("password change refused"))?;
    let message = call.ctx.lang.tn(
        "account.password_changed",
        ended as i64,
        &[("n", &ended.to_string())],
    );
    if call.htmx {
        let body = askama::Template::render(&PasswordSection {
            ctx: &call.ctx,
            form: FormState::default(),
            notice: Some(message.clone()),
        })
        .map_err(AppError::internal)?;
        return Ok(with_toast(Html(body).into_response(), "success", &message));
    }
    call.session.insert(FLASH, message).await?;
    Ok(redirect("/account", false))
}
