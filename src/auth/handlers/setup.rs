//! One-time setup links: the first administrator (printed at start while no
//! Administrator exists) and `sowat-admin create-admin --email X`. A link is
//! random, stored hashed, valid one hour, used once. The page sets name and
//! password; TOTP enrollment follows at once (platform roles require it).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use tower_sessions::Session;

use crate::access::ADMIN_ROLE;
use crate::audit::{self, ActorRef, Event};
use crate::auth::handlers::login;
use crate::auth::views::*;
use crate::db::Db;
use crate::db::schema::users;
use crate::db::types::{TokenPurpose, UserStatus, UserType};
use crate::error::AppError;
use crate::security::password;
use crate::security::store::{self, TokenRow};
use crate::state::AppState;
use crate::user_record::model::{Derived, NewUser, is_valid_email, normalize_email};
use crate::web::guard::{ENROLL_PATH, redirect};
use crate::web::layout::PageCtx;
use crate::web::meta::RequestMeta;
use crate::web::render::html;

/// The page for a link that is unknown, used or expired (404).
pub fn invalid(ctx: PageCtx) -> Result<Response, AppError> {
    html(&InvalidLinkPage { ctx }).map(|r| (StatusCode::NOT_FOUND, r).into_response())
}

async fn valid_token(
    db: &mut Db,
    token: &str,
    now: time::PrimitiveDateTime,
) -> Result<Option<TokenRow>, AppError> {
    const SETUP: [TokenPurpose; 3] = [
        TokenPurpose::FirstAdmin,
        TokenPurpose::AdminInvite,
        TokenPurpose::Invite,
    ];
    Ok(store::usable_token(db, token, now, &SETUP).await?)
}

/// The page's title and introduction: an administrator's link says so; an
/// invitation names the roles it grants (or none).
async fn heading(
    db: &mut Db,
    ctx: &PageCtx,
    row: &TokenRow,
) -> Result<(&'static str, String), AppError> {
    if row.purpose != TokenPurpose::Invite {
        return Ok((ctx.tr("setup.title"), ctx.tr("setup.intro").to_owned()));
    }
    let roles = match row.user_id {
        Some(id) => store::platform_roles_of(db, id)
            .await?
            .iter()
            .map(|r| r.label(ctx.lang).to_owned())
            .collect::<Vec<_>>()
            .join(", "),
        None => String::new(),
    };
    let intro = if roles.is_empty() {
        ctx.tr("setup.intro_invited").to_owned()
    } else {
        ctx.lang.tf("setup.intro_roles", &[("roles", &roles)])
    };
    Ok((ctx.tr("setup.title_invited"), intro))
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let Some(row) = valid_token(&mut db, &token, state.clock.now_primitive()).await? else {
        return invalid(ctx);
    };
    let (title, intro) = heading(&mut db, &ctx, &row).await?;
    let email = match row.user_id {
        Some(id) => store::user_by_id(&mut db, id)
            .await?
            .map(|u| u.email)
            .unwrap_or_default(),
        None => String::new(),
    };
    html(&SetupPage {
        title,
        intro: intro.clone(),
        ctx,
        token,
        ask_email: row.user_id.is_none(),
        email,
        name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
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
    Form(form): Form<SetupForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now_primitive();
    let mut db = state.pool.get().await?;
    let Some(row) = valid_token(&mut db, &token, now).await? else {
        return invalid(ctx);
    };
    let (title, intro) = heading(&mut db, &ctx, &row).await?;
    let invited = match row.user_id {
        Some(id) => store::user_by_id(&mut db, id).await?,
        None => None,
    };
    let email = invited
        .as_ref()
        .map(|u| u.email.clone())
        .unwrap_or_else(|| form.email.trim().to_owned());
    let name = form.name.trim().to_owned();
    let error_key = if !is_valid_email(&email) {
        Some("setup.bad_email")
    } else if name.is_empty() || name.chars().count() > 200 {
        Some("setup.bad_name")
    } else {
        password::new_password_problem(&form.password, &form.confirm, &email)
    };
    let error_key = match error_key {
        None if invited.is_none()
            && store::user_by_email(&mut db, &normalize_email(&email))
                .await?
                .is_some() =>
        {
            Some("setup.email_taken")
        }
        other => other,
    };
    if let Some(key) = error_key {
        let error = Some(ctx.tr(key).to_owned());
        let page = SetupPage {
            title,
            intro: intro.clone(),
            ctx,
            token,
            ask_email: row.user_id.is_none(),
            email,
            name,
            error,
        };
        return html(&page).map(|r| (StatusCode::UNPROCESSABLE_ENTITY, r).into_response());
    }
    // The connection goes back while argon2 runs on the CPU pool.
    drop(db);
    let hash = password::hash_off_thread(&state.cpu, &form.password).await?;
    let mut db = state.pool.get().await?;
    let meta2 = meta.clone();
    let email2 = email.clone();
    let done = db
        .transaction(|db| {
            Box::pin(async move {
                if !store::consume_token(db, row.id, now).await? {
                    return Err(SetupRefused::Invalid);
                }
                if row.purpose == TokenPurpose::FirstAdmin && store::admin_exists(db).await? {
                    return Err(SetupRefused::Invalid);
                }
                let user_id = match row.user_id {
                    Some(id) => {
                        let (email, company, status, deleted): (
                            String,
                            String,
                            UserStatus,
                            Option<time::PrimitiveDateTime>,
                        ) = crate::db_run!(db, |c| users::table
                            .find(id)
                            .select((
                                users::email,
                                users::company,
                                users::status,
                                users::deleted_at
                            ))
                            .first(c)
                            .await)?;
                        // A link outlives nothing: a suspended or deleted
                        // account is not brought back by its old invitation.
                        if deleted.is_some()
                            || !matches!(status, UserStatus::Pending | UserStatus::Active)
                        {
                            return Err(SetupRefused::Invalid);
                        }
                        let derived = Derived::of(&name, &email, &company);
                        crate::db_run!(db, |c| diesel::update(users::table.find(id))
                            .set((
                                users::name.eq(&name),
                                &derived,
                                users::password_hash.eq(&hash),
                                users::status.eq(UserStatus::Active),
                                users::updated_at.eq(now)
                            ))
                            .execute(c)
                            .await)?;
                        id
                    }
                    None => {
                        let new = NewUser {
                            password_hash: Some(hash),
                            ..NewUser::new(
                                &email2,
                                &name,
                                "sowat.io",
                                UserType::Internal,
                                UserStatus::Active,
                                now,
                            )
                        };
                        crate::db_run!(db, |c| diesel::insert_into(users::table)
                            .values(&new)
                            .returning(users::id)
                            .get_result::<i64>(c)
                            .await)
                        .map_err(SetupRefused::from_insert)?
                    }
                };
                // An invitation made in the UI carries the roles chosen then.
                if row.purpose != TokenPurpose::Invite {
                    store::grant_role(db, user_id, ADMIN_ROLE, None, now).await?;
                }
                let ev = Event::setup_completed()
                    .target("user", user_id)
                    .details(serde_json::json!({ "purpose": row.purpose.as_str() }));
                audit::record(db, now, &ActorRef::user(user_id, &email2), &meta2, ev).await?;
                Ok(user_id)
            })
        })
        .await;
    let user_id = match done {
        Ok(id) => id,
        Err(SetupRefused::Invalid) => return invalid(ctx),
        Err(SetupRefused::EmailTaken) => {
            // Another request took the address between the check and the insert.
            let error = Some(ctx.tr("setup.email_taken").to_owned());
            let page = SetupPage {
                title,
                intro: intro.clone(),
                ctx,
                token,
                ask_email: row.user_id.is_none(),
                email,
                name: form.name.trim().to_owned(),
                error,
            };
            return html(&page).map(|r| (StatusCode::UNPROCESSABLE_ENTITY, r).into_response());
        }
        Err(SetupRefused::Db(e)) => return Err(e.into()),
    };
    let user = store::user_by_id(&mut db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    login::complete_sign_in(
        &state,
        &mut db,
        &session,
        &meta,
        &user,
        login::Factor::PasswordOnly,
    )
    .await?;
    let must_enroll = state
        .actor(&mut db, user_id)
        .await?
        .is_some_and(|a| a.must_enroll_totp());
    Ok(redirect(if must_enroll { ENROLL_PATH } else { "/" }, false))
}

/// Why a setup link did not complete.
enum SetupRefused {
    Invalid,
    EmailTaken,
    Db(diesel::result::Error),
}

impl SetupRefused {
    fn from_insert(e: diesel::result::Error) -> Self {
        if crate::db::is_unique_violation(&e) {
            SetupRefused::EmailTaken
        } else {
            SetupRefused::Db(e)
        }
    }
}

impl From<diesel::result::Error> for SetupRefused {
    fn from(e: diesel::result::Error) -> Self {
        SetupRefused::Db(e)
    }
}
