//! Sign-in (password, then TOTP or a recovery code) and sign-out.
//!
//! Every attempt is a `login_events` row and an audit event. Failures answer
//! with one message whether or not the account exists, after the same
//! argon2 work. Per account: 5 failures within 15 minutes lock it for 15
//! minutes. Per IP: more than 20 attempts a minute get 429.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::Duration;
use tower_sessions::Session;

use crate::audit::{self, ActorRef, Event};
use crate::auth::views::*;
use crate::db::Db;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::security::attempts;
use crate::security::crypto::sha256_hex;
use crate::security::session_store::keys;
use crate::security::store::{self, LoginEvent};
use crate::security::{password, recovery, totp};
use crate::state::AppState;
use crate::user_record::model::{User, normalize_email};
use crate::web::current::CurrentUser;
use crate::web::guard::{ENROLL_PATH, redirect, safe_next};
use crate::web::layout::PageCtx;
use crate::web::meta::RequestMeta;
use crate::web::render::html;

/// Between the password and the second factor.
const PENDING_FOR: Duration = Duration::minutes(5);

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Why the person lands here (`signed_out`, `totp_reset`): a known key
    /// only, so the URL cannot put text on the page.
    notice: Option<String>,
}

/// The sign-in page's notice for a `?notice=` key.
fn notice_for(ctx: &PageCtx, key: Option<&str>) -> Option<&'static str> {
    match key? {
        "signed_out" => Some(ctx.tr("login.signed_out")),
        "totp_reset" => Some(ctx.tr("login.totp_reset")),
        "locked_out" => Some(ctx.tr("login.locked_out")),
        _ => None,
    }
}

pub async fn login_page(
    ctx: PageCtx,
    CurrentUser(actor): CurrentUser,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    if actor.is_some() {
        return Ok(redirect(&safe_next(q.next.as_deref()), false));
    }
    html(&LoginPage {
        notice: notice_for(&ctx, q.notice.as_deref()),
        ctx,
        error: None,
        email: String::new(),
        next: safe_next(q.next.as_deref()),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Writes the login event and the audit event of a refused attempt together.
async fn record_failure(
    state: &AppState,
    db: &mut Db,
    meta: &RequestMeta,
    user: Option<&User>,
    event: &'static str,
    reason: &'static str,
) -> Result<(), AppError> {
    let now = state.clock.now_primitive();
    let user = user.map(|u| (u.id, u.email.as_str()));
    attempts::record_failure(db, now, meta, user, event, reason).await?;
    Ok(())
}

/// Takes one attempt from the account's allowance; false while it is locked.
async fn take_attempt(state: &AppState, db: &mut Db, user_id: i64) -> Result<bool, AppError> {
    Ok(attempts::take(db, user_id, state.clock.now_primitive()).await?)
}

/// Counts an attempt against the client IP; false means answer 429.
async fn ip_allows(state: &AppState, db: &mut Db, meta: &RequestMeta) -> Result<bool, AppError> {
    let Some(ip) = meta.ip else { return Ok(true) };
    let bucket = format!("sign_in:{ip}");
    if state
        .login_limiter
        .allow(db, &bucket, state.clock.now().unix_timestamp())
        .await?
    {
        return Ok(true);
    }
    tracing::warn!(%ip, "sign-in rate limit reached");
    // A flood is exactly what this answers: summed per address and minute.
    state
        .anon_denials
        .record(
            &state.pool,
            &state.clock,
            meta,
            "/login",
            Event::rate_limited(),
        )
        .await;
    Ok(false)
}

/// 429 with the time to wait (the error layer keeps `Retry-After`).
fn too_many() -> Response {
    let mut r = AppError::TooManyRequests.into_response();
    r.headers_mut()
        .insert("retry-after", axum::http::HeaderValue::from_static("60"));
    r
}

pub async fn login_submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    meta: RequestMeta,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let next = safe_next(form.next.as_deref());
    let mut db = state.pool.get().await?;
    if !ip_allows(&state, &mut db, &meta).await? {
        return Ok(too_many());
    }
    let failed = |ctx: PageCtx, email: String, next: String| {
        let error = Some(ctx.tr("login.failed").to_owned());
        html(&LoginPage {
            notice: None,
            ctx,
            error,
            email,
            next,
        })
        .map(|r| (StatusCode::UNAUTHORIZED, r).into_response())
    };
    let email_lower = normalize_email(&form.email);
    let email_shown: String = form.email.trim().chars().take(254).collect();
    let usable =
        !email_lower.is_empty() && !form.password.is_empty() && form.password.len() <= 1024;
    let user = match usable {
        true => store::user_by_email(&mut db, &email_lower).await?,
        false => None,
    };
    let locked = match &user {
        Some(u) => !take_attempt(&state, &mut db, u.id).await?,
        None => false,
    };
    // Every refusal costs the same argon2 work, found or not; the
    // connection goes back meanwhile (sign-ins queued on the CPU pool must
    // not hold the pool's connections too).
    drop(db);
    let hash = user
        .as_ref()
        .filter(|_| !locked)
        .and_then(|u| u.password_hash.as_deref());
    let ok = password::verify_off_thread(&state.cpu, &form.password, hash).await?;
    let mut db = state.pool.get().await?;
    let user = match user {
        None => {
            if usable {
                record_failure(&state, &mut db, &meta, None, "password", "unknown_account").await?;
            }
            return failed(ctx, email_shown, next);
        }
        Some(u) if locked => {
            record_failure(&state, &mut db, &meta, Some(&u), "password", "locked").await?;
            return failed(ctx, email_shown, next);
        }
        Some(u) => u,
    };
    if !ok {
        record_failure(
            &state,
            &mut db,
            &meta,
            Some(&user),
            "password",
            "bad_password",
        )
        .await?;
        return failed(ctx, email_shown, next);
    }
    if !user.can_sign_in() {
        record_failure(
            &state,
            &mut db,
            &meta,
            Some(&user),
            "password",
            "not_active",
        )
        .await?;
        let error = Some(ctx.tr("login.not_active").to_owned());
        return html(&LoginPage {
            notice: None,
            ctx,
            error,
            email: email_shown,
            next,
        })
        .map(|r| (StatusCode::FORBIDDEN, r).into_response());
    }
    if user.totp_enabled {
        // The password alone grants nothing: remember who is half-way in.
        session.cycle_id().await?;
        session.insert(keys::PENDING_USER, user.id).await?;
        session
            .insert(keys::PENDING_AT, state.clock.now().unix_timestamp())
            .await?;
        let target = format!(
            "/login/totp?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        return Ok(redirect(&target, false));
    }
    complete_sign_in(
        &state,
        &mut db,
        &session,
        &meta,
        &user,
        Factor::PasswordOnly,
    )
    .await?;
    let actor = state.actor(&mut db, user.id).await?;
    let target = if actor.is_some_and(|a| a.must_enroll_totp()) {
        ENROLL_PATH.to_owned()
    } else {
        next
    };
    Ok(with_lang_cookie(redirect(&target, false), &state, &user))
}

/// What completed the sign-in after the password.
#[derive(Clone, Copy, Debug)]
pub enum Factor {
    PasswordOnly,
    /// A TOTP code of this step: recorded in the sign-in's transaction, and
    /// refused there if another request already used it.
    Totp(i64),
    RecoveryCode,
}

/// Sign-in succeeded: new session id, user in the session, events written.
/// `Ok(false)`: the TOTP step was used meanwhile; nothing was written.
pub async fn complete_sign_in(
    state: &AppState,
    db: &mut Db,
    session: &Session,
    meta: &RequestMeta,
    user: &User,
    factor: Factor,
) -> Result<bool, AppError> {
    let now = state.clock.now();
    let at = state.clock.now_primitive();
    let (meta2, user_id, email) = (meta.clone(), user.id, user.email.clone());
    let second_factor = !matches!(factor, Factor::PasswordOnly);
    let signed_in = db
        .transaction(|db| {
            Box::pin(async move {
                if let Factor::Totp(step) = factor
                    && !store::use_totp_step(db, user_id, step).await?
                {
                    return Ok(false);
                }
                store::mark_signed_in(db, user_id, at).await?;
                store::record_login_event(
                    db,
                    at,
                    &meta2,
                    LoginEvent {
                        user_id: Some(user_id),
                        event: "sign_in",
                        success: true,
                        reason: None,
                    },
                )
                .await?;
                let ev = Event::sign_in()
                    .target("user", user_id)
                    .details(serde_json::json!({
                        "second_factor": second_factor,
                        "totp_step": match factor { Factor::Totp(step) => Some(step), _ => None },
                    }));
                audit::record(db, at, &ActorRef::user(user_id, &email), &meta2, ev).await?;
                Ok::<_, diesel::result::Error>(true)
            })
        })
        .await?;
    if !signed_in {
        return Ok(false);
    }
    session.cycle_id().await?;
    session.remove_value(keys::PENDING_USER).await?;
    session.remove_value(keys::PENDING_AT).await?;
    session.insert(keys::USER_ID, user.id).await?;
    session
        .insert(keys::SIGNED_IN_AT, now.unix_timestamp())
        .await?;
    session.insert(keys::IP, meta.ip_string()).await?;
    session
        .insert(keys::USER_AGENT, meta.user_agent.clone())
        .await?;
    if second_factor {
        session.insert(keys::MFA_AT, now.unix_timestamp()).await?;
    }
    Ok(true)
}

fn with_lang_cookie(mut response: Response, state: &AppState, user: &User) -> Response {
    if let Some(lang) = user.locale.as_deref().and_then(Lang::parse)
        && let Ok(v) = crate::web::lang::cookie_value(lang, state.config.is_https()).parse()
    {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, v);
    }
    response
}

/// The user between password and second factor, if still within time.
async fn pending_user(
    state: &AppState,
    db: &mut Db,
    session: &Session,
) -> Result<Option<User>, AppError> {
    let uid: Option<i64> = session.get(keys::PENDING_USER).await?;
    let at: Option<i64> = session.get(keys::PENDING_AT).await?;
    let (Some(uid), Some(at)) = (uid, at) else {
        return Ok(None);
    };
    if state.clock.now().unix_timestamp() - at > PENDING_FOR.whole_seconds() {
        return Ok(None);
    }
    Ok(store::user_by_id(db, uid)
        .await?
        .filter(|u| u.can_sign_in() && u.totp_enabled))
}

pub async fn totp_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    if pending_user(&state, &mut db, &session).await?.is_none() {
        return Ok(redirect("/login", false));
    }
    html(&TotpPage {
        ctx,
        error: None,
        next: safe_next(q.next.as_deref()),
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    next: Option<String>,
}

pub async fn totp_submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    meta: RequestMeta,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let next = safe_next(form.next.as_deref());
    let mut db = state.pool.get().await?;
    if !ip_allows(&state, &mut db, &meta).await? {
        return Ok(too_many());
    }
    let Some(user) = pending_user(&state, &mut db, &session).await? else {
        return Ok(redirect("/login", false));
    };
    let failed = |ctx: PageCtx, next: String| {
        let error = Some(ctx.tr("totp.failed").to_owned());
        html(&TotpPage { ctx, error, next }).map(|r| (StatusCode::UNAUTHORIZED, r).into_response())
    };
    if !take_attempt(&state, &mut db, user.id).await? {
        record_failure(&state, &mut db, &meta, Some(&user), "totp", "locked").await?;
        return failed(ctx, next);
    }
    let now = state.clock.now_primitive();
    let mut notice = None;
    let factor = if recovery::looks_like_code(&form.code) {
        let hash = sha256_hex(&recovery::normalize(&form.code));
        let (uid, email, meta2) = (user.id, user.email.clone(), meta.clone());
        let left = db
            .transaction(|db| {
                Box::pin(async move {
                    let left = store::use_recovery_code(db, uid, &hash, now).await?;
                    if let Some(left) = left {
                        let ev = Event::recovery_code_used(left).target("user", uid);
                        audit::record(db, now, &ActorRef::user(uid, &email), &meta2, ev).await?;
                    }
                    Ok::<_, diesel::result::Error>(left)
                })
            })
            .await?;
        if let Some(left) = left {
            notice = Some(
                ctx.lang
                    .tn("recovery.left", left, &[("n", &left.to_string())]),
            );
        }
        left.map(|_| Factor::RecoveryCode)
    } else {
        let secret = user
            .totp_secret
            .as_deref()
            .ok_or_else(|| AppError::internal("TOTP enabled without a secret"))
            .and_then(|s| state.secrets.decrypt(s).map_err(AppError::internal))?;
        let totp = totp::build(&secret, &user.email).map_err(AppError::internal)?;
        totp::check(&totp, &form.code, state.clock.unix(), user.totp_last_step).map(Factor::Totp)
    };
    let signed_in = match factor {
        Some(factor) => complete_sign_in(&state, &mut db, &session, &meta, &user, factor).await?,
        None => false,
    };
    if !signed_in {
        record_failure(&state, &mut db, &meta, Some(&user), "totp", "bad_totp").await?;
        return failed(ctx, next);
    }
    if let Some(n) = notice {
        session.insert(crate::web::layout::FLASH, n).await?;
    }
    Ok(with_lang_cookie(redirect(&next, false), &state, &user))
}

/// POST /logout: the session row is deleted, not just forgotten by the browser.
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    CurrentUser(actor): CurrentUser,
    meta: RequestMeta,
) -> Result<Response, AppError> {
    if let Some(actor) = actor {
        let now = state.clock.now_primitive();
        let mut db = state.pool.get().await?;
        let meta2 = meta.clone();
        db.transaction(|db| {
            Box::pin(async move {
                store::record_login_event(
                    db,
                    now,
                    &meta2,
                    LoginEvent {
                        user_id: Some(actor.user_id),
                        event: "sign_out",
                        success: true,
                        reason: None,
                    },
                )
                .await?;
                audit::record(
                    db,
                    now,
                    &ActorRef::of(&actor),
                    &meta2,
                    Event::sign_out().target("user", actor.user_id),
                )
                .await
            })
        })
        .await?;
    }
    session.flush().await?;
    Ok(redirect("/login?notice=signed_out", false))
}
