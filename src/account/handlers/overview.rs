//! `/account`: who you are, your language, your password, your second
//! factor and recovery codes, your sessions, in one page of cards.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::access::Actor;
use crate::account::store;
use crate::account::views::{AccountPage, PasswordSection};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::security::session_store::id_hash;
use crate::security::store as credentials;
use crate::state::AppState;
use crate::web::current::SignedIn;
use crate::web::form::FormState;
use crate::web::layout::PageCtx;
use crate::web::render::html;
use crate::web::section::Section;

/// What the second-factor card says went wrong, if anything.
pub struct FactorError(pub Option<String>);

/// The whole page; `password` and `factor` carry a refusal to show inline.
pub async fn render(
    state: &AppState,
    ctx: PageCtx,
    actor: &Actor,
    session: &Session,
    password: FormState,
    factor: FactorError,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let codes_left = credentials::remaining_recovery_codes(&mut db, actor.user_id).await?;
    let idle_cutoff = state.clock.now_primitive() - state.config.session_idle;
    let current = session.id().map(|id| id_hash(&id));
    let sessions = store::live(&mut db, actor.user_id, idle_cutoff).await?;
    let others = sessions
        .iter()
        .filter(|s| Some(&s.0) != current.as_ref())
        .count() as i64;
    let lang = ctx.lang;
    let password = Section::render(
        "section-password",
        &PasswordSection {
            ctx: &ctx,
            form: password,
            notice: None,
        },
    )?;
    let roles = actor
        .platform_roles
        .iter()
        .map(|r| r.label(lang).to_owned())
        .collect::<Vec<_>>()
        .join(", ");
    let page = AccountPage {
        name: actor.name.clone(),
        email: actor.email.clone(),
        roles,
        totp_enabled: actor.totp_enabled,
        codes_left_text: lang.tn(
            "recovery.left",
            codes_left,
            &[("n", &codes_left.to_string())],
        ),
        others_text: lang.tn(
            "account.other_sessions",
            others,
            &[("n", &others.to_string())],
        ),
        others,
        factor_error: factor.0,
        is_fr: lang == Lang::Fr,
        password,
        ctx,
    };
    html(&page)
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: Session,
    SignedIn(actor): SignedIn,
) -> Result<Response, AppError> {
    render(
        &state,
        ctx,
        &actor,
        &session,
        FormState::default(),
        FactorError(None),
    )
    .await
}

/// The page again with a refusal in the second-factor card (422).
pub async fn refused_factor(
    state: &AppState,
    ctx: PageCtx,
    actor: &Actor,
    session: &Session,
    key: &str,
) -> Result<Response, AppError> {
    let error = Some(ctx.tr(key).to_owned());
    let r = render(
        state,
        ctx,
        actor,
        session,
        FormState::default(),
        FactorError(error),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, r).into_response())
}
