//! New recovery codes: the current TOTP code first, then ten codes shown
//! once, after a redirect (kept sealed in the session until shown), so a
//! reload neither posts again nor shows them twice.

use axum::Form;
use axum::response::Response;
use serde::Deserialize;

use crate::account::changes;
use crate::account::handlers::overview::refused_factor;
use crate::account::views::CodesPage;
use crate::error::AppError;
use crate::security::store as credentials;
use crate::security::{recovery, step_up};
use crate::web::action::{Call, run};
use crate::web::guard::redirect;
use crate::web::render::html;

/// Session key of the codes waiting to be shown (sealed).
const FRESH_CODES: &str = "fresh_recovery_codes";

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// POST /account/recovery-codes
pub async fn regenerate(call: Call, Form(f): Form<CodeForm>) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let user = credentials::user_by_id(&mut db, call.actor.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let unix = call.state.clock.unix();
    let confirmed = step_up::confirm_totp(&mut db, &call.state.secrets, unix, &user, f.code.trim())
        .await
        .map_err(AppError::internal)?;
    drop(db);
    if !confirmed {
        return refused_factor(
            &call.state,
            call.ctx,
            &call.actor,
            &call.session,
            "account.bad_code",
        )
        .await;
    }
    let codes = recovery::generate();
    let hashes: Vec<String> = codes.iter().map(|(_, h)| h.clone()).collect();
    let uid = call.actor.user_id;
    run(&call, move |tx, by| {
        Box::pin(async move { changes::replace_recovery_codes(tx, &by, uid, &hashes).await })
    })
    .await?
    .map_err(|_| AppError::internal("recovery codes refused"))?;
    let shown: Vec<String> = codes.into_iter().map(|(c, _)| c).collect();
    let sealed = call
        .state
        .secrets
        .encrypt(shown.join("\n").as_bytes())
        .map_err(AppError::internal)?;
    call.session.insert(FRESH_CODES, sealed).await?;
    Ok(redirect("/account/recovery-codes", call.htmx))
}

/// GET /account/recovery-codes: the new codes, once.
pub async fn show(call: Call) -> Result<Response, AppError> {
    let Some(sealed) = call.session.remove::<String>(FRESH_CODES).await? else {
        return Ok(redirect("/account", false));
    };
    let plain = call
        .state
        .secrets
        .decrypt(&sealed)
        .map_err(AppError::internal)?;
    let codes: Vec<String> = String::from_utf8_lossy(&plain)
        .lines()
        .map(str::to_owned)
        .collect();
    let file = codes.join("\n") + "\n";
    html(&CodesPage {
        ctx: call.ctx,
        codes,
        file,
    })
}
