//! Bringing a person in: a pending account, and the one-time link mailed
//! to them (an invitation, or a password reset). Shared by the users area
//! (administrators create users) and the workspaces area (managers invite
//! a new member), which may not reach into each other.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::audit::{Action, Event};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::schema::users;
use crate::db::types::{TokenPurpose, UserStatus, UserType};
use crate::db::{Db, Tx};
use crate::db_run;
use crate::i18n::Lang;
use crate::mail::{self, Mail};
use crate::security::crypto::{random_token, sha256_hex};
use crate::security::store as auth_store;
use crate::user_record::model::{NewUser, is_valid_email, normalize_email};

/// What a new account starts with.
#[derive(Clone, Debug)]
pub struct ProfileInput {
    pub name: String,
    pub email: String,
    pub company: String,
    pub user_type: UserType,
}

/// What is wrong with a profile, as (field, i18n key).
pub fn validate_profile(input: &ProfileInput) -> Result<(), (&'static str, &'static str)> {
    if !is_valid_email(&input.email) {
        return Err(("email", "users.bad_email"));
    }
    if input.name.trim().chars().count() > 200 {
        return Err(("name", "users.bad_name"));
    }
    if input.company.trim().chars().count() > 200 {
        return Err(("company", "users.bad_company"));
    }
    Ok(())
}

/// The unique index on `email_lower` caught a request that passed the
/// pre-check at the same moment as another: the same inline error.
pub fn email_race(e: diesel::result::Error) -> ChangeError {
    if crate::db::is_unique_violation(&e) {
        ChangeError::Invalid("users.email_taken")
    } else {
        ChangeError::Db(e)
    }
}

/// Another account (not `except`) already has this address.
pub async fn email_taken(db: &mut Db, email: &str, except: Option<i64>) -> ChangeResult<bool> {
    let lower = normalize_email(email);
    let found: Option<i64> = db_run!(db, |c| users::table
        .filter(users::email_lower.eq(&lower))
        .select(users::id)
        .first(c)
        .await
        .optional())?;
    Ok(found.is_some_and(|id| Some(id) != except))
}

/// A pending account (no password yet), audited; the caller issues the link.
pub async fn create_pending(db: &mut Tx<'_>, by: &By, p: &ProfileInput) -> ChangeResult<i64> {
    if email_taken(db, &p.email, None).await? {
        return Err(ChangeError::Invalid("users.email_taken"));
    }
    let new = NewUser::new(
        p.email.trim(),
        p.name.trim(),
        p.company.trim(),
        p.user_type,
        UserStatus::Pending,
        by.now,
    );
    let id: i64 = db_run!(db, |c| diesel::insert_into(users::table)
        .values(&new)
        .returning(users::id)
        .get_result(c)
        .await)
    .map_err(email_race)?;
    let after = json!({ "email": new.email, "name": new.name, "company": new.company, "type": new.user_type, "status": new.status });
    by.record(
        db,
        Event::new(Action::UserCreated)
            .target("user", id)
            .details(json!({ "after": after })),
    )
    .await?;
    Ok(id)
}

/// Issues a one-time link (1 hour) for user `id` and queues the mail
/// carrying it, in the recipient's language. Returns the link. The newest
/// link is the only one that works.
pub async fn issue_link(
    db: &mut Tx<'_>,
    by: &By,
    id: i64,
    purpose: TokenPurpose,
    link: &(dyn Fn(&str) -> String + Sync),
) -> ChangeResult<String> {
    let user = auth_store::user_by_id(db, id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(ChangeError::NotFound)?;
    auth_store::revoke_links(db, id, Some(purpose), by.now).await?;
    let token = random_token();
    auth_store::insert_token(
        db,
        &sha256_hex(&token),
        purpose,
        Some(id),
        by.now,
        by.now + auth_store::LINK_VALID_FOR,
    )
    .await?;
    let (path, subject_key, action) = match purpose {
        TokenPurpose::PasswordReset => (
            format!("/reset/{token}"),
            "mail.reset_subject",
            Action::PasswordResetSent,
        ),
        _ => (
            format!("/setup/{token}"),
            "mail.invite_subject",
            Action::InvitationSent,
        ),
    };
    let url = link(&path);
    let lang = user
        .locale
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_default();
    let body = lang
        .tf("mail.link_body", &[("url", &url)])
        .replace("\\n", "\n");
    let mail = Mail {
        to: &user.email,
        subject: lang.t(subject_key).to_owned(),
        body,
    };
    mail::queue(db, by.now, mail).await?;
    by.record(
        db,
        Event::new(action)
            .target("user", id)
            .details(json!({ "expires_in_minutes": 60 })),
    )
    .await?;
    Ok(url)
}
