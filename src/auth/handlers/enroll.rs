//! TOTP enrollment: a secret shown as a QR code and as text, active only once
//! a first code verifies; then 10 recovery codes are shown once.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::access::Actor;
use crate::audit::{self, ActorRef, Event};
use crate::auth::views::*;
use crate::error::AppError;
use crate::security::session_store::keys;
use crate::security::store::{self, LoginEvent};
use crate::security::{recovery, totp};
use crate::state::AppState;
use crate::web::current::SignedIn;
use crate::web::layout::PageCtx;
use crate::web::meta::RequestMeta;
use crate::web::render::html;

/// The secret being enrolled, kept encrypted in the session until verified.
async fn pending_secret(state: &AppState, session: &Session) -> Result<Vec<u8>, AppError> {
    if let Some(sealed) = session.get::<String>(keys::ENROLL_SECRET).await?
        && let Ok(secret) = state.secrets.decrypt(&sealed)
    {
        return Ok(secret);
    }
    let secret = totp::generate_secret();
    session
        .insert(
            keys::ENROLL_SECRET,
            state.secrets.encrypt(&secret).map_err(AppError::internal)?,
        )
        .await?;
    Ok(secret)
}

async fn enroll_page(
    state: &AppState,
    ctx: PageCtx,
    actor: &Actor,
    secret: &[u8],
    error: Option<String>,
) -> Result<Response, AppError> {
    let totp = totp::build(secret, &actor.email).map_err(AppError::internal)?;
    // Drawing the QR code is CPU work: on the CPU pool like argon2.
    let qr_base64 = state
        .cpu
        .run(move || totp::qr_png_base64(&totp))
        .await?
        .map_err(AppError::internal)?;
    html(&EnrollPage {
        ctx,
        mandatory: actor.has_platform_role(),
        qr_base64,
        secret_base32: totp::base32(secret),
        error,
    })
}

/// How long a confirmed renewal stays open (the code was typed this recently).
const RENEW_WINDOW_SECS: i64 = 600;

/// Whether the user proved their current second factor for a renewal
/// within [`RENEW_WINDOW_SECS`].
async fn renewing(state: &AppState, session: &Session) -> Result<bool, AppError> {
    let at = session.get::<i64>(keys::TOTP_RENEW_AT).await?;
    Ok(at.is_some_and(|t| state.clock.now().unix_timestamp() - t <= RENEW_WINDOW_SECS))
}

/// POST /account/totp/renew: the current code opens a new enrollment; the
/// old factor keeps working until the new one is verified.
pub async fn renew(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    SignedIn(actor): SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let user = store::user_by_id(&mut db, actor.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let unix = state.clock.unix();
    let confirmed = crate::security::step_up::confirm_totp(
        &mut db,
        &state.secrets,
        unix,
        &user,
        form.code.trim(),
    )
    .await
    .map_err(AppError::internal)?;
    if !confirmed {
        session
            .insert(crate::web::layout::FLASH, ctx.tr("account.bad_code"))
            .await?;
        return Ok(crate::web::guard::redirect("/account", false));
    }
    session.remove_value(keys::ENROLL_SECRET).await?;
    session
        .insert(keys::TOTP_RENEW_AT, state.clock.now().unix_timestamp())
        .await?;
    Ok(crate::web::guard::redirect("/account/totp", false))
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    SignedIn(actor): SignedIn,
) -> Result<Response, AppError> {
    if actor.totp_enabled && !renewing(&state, &session).await? {
        let mut db = state.pool.get().await?;
        let left = store::remaining_recovery_codes(&mut db, actor.user_id).await?;
        let remaining_text = ctx
            .lang
            .tn("recovery.left", left as i64, &[("n", &left.to_string())]);
        return html(&EnrolledPage {
            ctx,
            remaining_text,
        });
    }
    let secret = pending_secret(&state, &session).await?;
    enroll_page(&state, ctx, &actor, &secret, None).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    meta: RequestMeta,
    SignedIn(actor): SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let renewal = actor.totp_enabled;
    if renewal && !renewing(&state, &session).await? {
        return Err(AppError::BadRequest(ctx.tr("enroll.already").to_owned()));
    }
    let secret = pending_secret(&state, &session).await?;
    let totp = totp::build(&secret, &actor.email).map_err(AppError::internal)?;
    let Some(step) = totp::check(&totp, &form.code, state.clock.unix(), None) else {
        let error = Some(ctx.tr("enroll.bad_code").to_owned());
        return enroll_page(&state, ctx, &actor, &secret, error)
            .await
            .map(|r| (StatusCode::UNPROCESSABLE_ENTITY, r).into_response());
    };
    let sealed = state.secrets.encrypt(&secret).map_err(AppError::internal)?;
    let codes = recovery::generate();
    let hashes: Vec<String> = codes.iter().map(|(_, h)| h.clone()).collect();
    let now = state.clock.now_primitive();
    let mut db = state.pool.get().await?;
    let (meta2, uid, who) = (meta.clone(), actor.user_id, ActorRef::of(&actor));
    db.transaction(|db| {
        Box::pin(async move {
            store::enable_totp(db, uid, &sealed, step, now).await?;
            store::replace_recovery_codes(db, uid, &hashes).await?;
            store::record_login_event(
                db,
                now,
                &meta2,
                LoginEvent {
                    user_id: Some(uid),
                    event: "totp_enrolled",
                    success: true,
                    reason: None,
                },
            )
            .await?;
            audit::record(
                db,
                now,
                &who,
                &meta2,
                Event::totp_enrolled()
                    .target("user", uid)
                    .details(serde_json::json!({ "renewed": renewal })),
            )
            .await
        })
    })
    .await?;
    // A privilege change: new session id, second factor satisfied now.
    session.cycle_id().await?;
    session.remove_value(keys::ENROLL_SECRET).await?;
    session.remove_value(keys::TOTP_RENEW_AT).await?;
    session
        .insert(keys::MFA_AT, state.clock.now().unix_timestamp())
        .await?;
    html(&RecoveryCodesPage {
        ctx,
        codes: codes.into_iter().map(|(shown, _)| shown).collect(),
    })
}
