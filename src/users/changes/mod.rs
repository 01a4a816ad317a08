//! Every change to a user. Each function runs inside the caller's
//! transaction and writes its audit event (with before/after) through the
//! same connection, so the change and its trace commit together.

pub mod erase_audit;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use time::PrimitiveDateTime;

use crate::access::ADMIN_ROLE;
use crate::audit::Event;
use crate::db::schema::{
    comments, login_events, one_time_tokens, recovery_codes, roles, sessions, user_roles, users,
};
use crate::db::types::UserStatus;
use crate::db::{Conn, Db, Tx};
use crate::db_run;
use crate::invitations::{email_race, email_taken};
use crate::security::store as auth_store;
use crate::user_record::model::{Derived, User, normalize_email};
use crate::users::store;

use crate::change::{By, ChangeError, ChangeResult};

async fn load(db: &mut Db, id: i64) -> ChangeResult<User> {
    store::get(db, id).await?.ok_or(ChangeError::NotFound)
}

/// Serialises every change that could leave no Administrator. On
/// PostgreSQL two transactions could each count "one other admin" and each
/// remove one; both first lock the Administrator role's row, so the second
/// counts after the first has committed. SQLite's `BEGIN IMMEDIATE` already
/// lets one writer in at a time.
async fn lock_admin_set(db: &mut Db) -> ChangeResult<()> {
    if let Conn::Pg(c) = db.conn_mut() {
        roles::table
            .filter(roles::key.eq(ADMIN_ROLE))
            .select(roles::id)
            .for_update()
            .load::<i64>(&mut **c)
            .await?;
    }
    Ok(())
}

/// Active, not deleted Administrators other than `except`, counted under
/// the lock of [`lock_admin_set`] (held until the transaction ends).
async fn other_admins(db: &mut Db, except: i64) -> ChangeResult<i64> {
    lock_admin_set(db).await?;
    Ok(db_run!(db, |c| user_roles::table
        .inner_join(roles::table)
        .inner_join(users::table)
        .filter(roles::key.eq(ADMIN_ROLE))
        .filter(users::id.ne(except))
        .filter(users::deleted_at.is_null())
        .filter(users::status.eq(UserStatus::Active))
        .count()
        .get_result::<i64>(c)
        .await)?)
}

async fn is_admin(db: &mut Db, id: i64) -> ChangeResult<bool> {
    Ok(store::role_keys_of(db, id)
        .await?
        .iter()
        .any(|k| k == ADMIN_ROLE))
}

/// The last Administrator can be neither suspended, deleted nor demoted.
async fn guard_last_admin(db: &mut Db, id: i64) -> ChangeResult<()> {
    if is_admin(db, id).await? && other_admins(db, id).await? == 0 {
        return Err(ChangeError::Invalid("users.last_admin"));
    }
    Ok(())
}

/// A workspace never loses its last manager to a suspension, a deletion
/// or an erasure: another manager is named there first.
async fn guard_last_manager(db: &mut Db, id: i64) -> ChangeResult<()> {
    if crate::user_record::memberships::solely_managed(db, id)
        .await?
        .is_empty()
    {
        Ok(())
    } else {
        Err(ChangeError::Invalid("users.last_manager"))
    }
}

async fn end_sessions(db: &mut Db, id: i64) -> ChangeResult<usize> {
    Ok(db_run!(db, |c| diesel::delete(
        sessions::table.filter(sessions::user_id.eq(id))
    )
    .execute(c)
    .await)?)
}

pub use crate::invitations::{ProfileInput, validate_profile};

pub async fn update_profile(
    db: &mut Tx<'_>,
    by: &By,
    id: i64,
    input: &ProfileInput,
) -> ChangeResult<bool> {
    let user = load(db, id).await?;
    if email_taken(db, &input.email, Some(id)).await? {
        return Err(ChangeError::Invalid("users.email_taken"));
    }
    let (name, email, company) = (input.name.trim(), input.email.trim(), input.company.trim());
    let before = json!({ "name": user.name, "email": user.email, "company": user.company, "type": user.user_type });
    let after =
        json!({ "name": name, "email": email, "company": company, "type": input.user_type });
    if before == after {
        return Ok(false);
    }
    db_run!(db, |c| diesel::update(users::table.find(id))
        .set((
            users::name.eq(name),
            users::email.eq(email),
            users::company.eq(company),
            Derived::of(name, email, company),
            users::user_type.eq(input.user_type),
            users::updated_at.eq(by.now),
        ))
        .execute(c)
        .await)
    .map_err(email_race)?;
    by.record(
        db,
        Event::new(crate::audit::Action::UserUpdated)
            .target("user", id)
            .details(json!({ "before": before, "after": after })),
    )
    .await?;
    Ok(true)
}

pub async fn set_status(
    db: &mut Tx<'_>,
    by: &By,
    id: i64,
    status: UserStatus,
    reason: &str,
) -> ChangeResult<bool> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ChangeError::Invalid("users.reason_required"));
    }
    let user = load(db, id).await?;
    if user.status == status {
        return Ok(false);
    }
    if status != UserStatus::Active {
        // Suspending oneself would lock one out mid-task: another
        // administrator does it.
        // (An API key's id is not a user's.)
        if by.actor.kind == crate::db::types::ActorType::User && by.actor.id == Some(id) {
            return Err(ChangeError::Invalid("users.not_yourself"));
        }
        guard_last_admin(db, id).await?;
        guard_last_manager(db, id).await?;
    }
    db_run!(db, |c| diesel::update(users::table.find(id))
        .set((
            users::status.eq(status),
            users::status_reason.eq(reason),
            users::status_changed_at.eq(by.now),
            users::updated_at.eq(by.now)
        ))
        .execute(c)
        .await)?;
    // Anyone no longer active is signed out everywhere at once.
    let ended = if status == UserStatus::Active {
        0
    } else {
        end_sessions(db, id).await?
    };
    let revoked = auth_store::revoke_links(db, id, None, by.now).await?;
    let details = json!({ "before": { "status": user.status }, "after": { "status": status }, "reason": reason, "sessions_ended": ended, "links_revoked": revoked });
    by.record(
        db,
        Event::new(crate::audit::Action::UserStatusChanged)
            .target("user", id)
            .details(details),
    )
    .await?;
    Ok(true)
}

pub async fn set_role(
    db: &mut Tx<'_>,
    by: &By,
    held: &std::collections::HashSet<crate::access::Permission>,
    id: i64,
    role_key: &str,
    grant: bool,
) -> ChangeResult<bool> {
    load(db, id).await?;
    let (role, grants) = crate::access::roles::grants_of_key(db, role_key)
        .await?
        .ok_or(ChangeError::Invalid("users.unknown_role"))?;
    // No escalation: a role is granted or taken away only by someone who
    // holds everything it grants.
    if !grants.iter().all(|p| held.contains(p)) {
        return Err(ChangeError::Invalid("users.role_beyond_you"));
    }
    let before = store::role_keys_of(db, id).await?;
    let had = before.iter().any(|k| k == role_key);
    if had == grant {
        return Ok(false);
    }
    if grant {
        db_run!(db, |c| diesel::insert_into(user_roles::table)
            .values((
                user_roles::user_id.eq(id),
                user_roles::role_id.eq(role),
                user_roles::granted_at.eq(by.now),
                user_roles::granted_by.eq(by.actor.id)
            ))
            .execute(c)
            .await)?;
    } else {
        if role_key == ADMIN_ROLE && other_admins(db, id).await? == 0 {
            return Err(ChangeError::Invalid("users.last_admin"));
        }
        db_run!(db, |c| diesel::delete(
            user_roles::table
                .filter(user_roles::user_id.eq(id))
                .filter(user_roles::role_id.eq(role))
        )
        .execute(c)
        .await)?;
    }
    let after = store::role_keys_of(db, id).await?;
    let action = if grant {
        crate::audit::Action::RoleGranted
    } else {
        crate::audit::Action::RoleRemoved
    };
    by.record(
        db,
        Event::new(action)
            .target("user", id)
            .details(json!({ "role": role_key, "before": before, "after": after })),
    )
    .await?;
    Ok(true)
}

pub async fn add_note(db: &mut Tx<'_>, by: &By, id: i64, body: &str) -> ChangeResult<()> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 5000 {
        return Err(ChangeError::Invalid("users.note_invalid"));
    }
    load(db, id).await?;
    db_run!(db, |c| diesel::insert_into(comments::table)
        .values((
            comments::subject_type.eq("user"),
            comments::subject_id.eq(id),
            comments::author_id.eq(by.actor.id),
            comments::author_label.eq(&by.actor.label),
            comments::body.eq(body),
            comments::created_at.eq(by.now),
        ))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(crate::audit::Action::NoteAdded)
            .target("user", id)
            .details(json!({ "length": body.chars().count() })),
    )
    .await
}

/// Forces a new enrollment at next sign-in and signs the user out.
pub async fn reset_totp(db: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let user = load(db, id).await?;
    db_run!(db, |c| diesel::update(users::table.find(id))
        .set((
            users::totp_secret.eq(None::<String>),
            users::totp_enabled.eq(false),
            users::totp_last_step.eq(None::<i64>),
            users::updated_at.eq(by.now)
        ))
        .execute(c)
        .await)?;
    db_run!(db, |c| diesel::delete(
        recovery_codes::table.filter(recovery_codes::user_id.eq(id))
    )
    .execute(c)
    .await)?;
    let ended = end_sessions(db, id).await?;
    let details = json!({ "before": { "totp_enabled": user.totp_enabled }, "after": { "totp_enabled": false }, "sessions_ended": ended });
    by.record(
        db,
        Event::new(crate::audit::Action::TotpReset)
            .target("user", id)
            .details(details),
    )
    .await
}

/// Issues a one-time link and queues the mail carrying it (see
/// [`crate::invitations::issue_link`]).
pub use crate::invitations::issue_link;

pub struct NewUserInput {
    pub profile: ProfileInput,
    pub roles: Vec<String>,
    /// What the creator holds: the most the new user's roles may grant.
    pub held: std::collections::HashSet<crate::access::Permission>,
}

/// A pending user with roles; the invitation link is issued by the caller.
pub async fn create(db: &mut Tx<'_>, by: &By, input: &NewUserInput) -> ChangeResult<i64> {
    let id = crate::invitations::create_pending(db, by, &input.profile).await?;
    for role in &input.roles {
        set_role(db, by, &input.held, id, role, true).await?;
    }
    Ok(id)
}

/// Hidden from lists, restorable for 30 days; sessions end now.
pub async fn soft_delete(db: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let user = load(db, id).await?;
    if user.deleted_at.is_some() {
        return Ok(());
    }
    guard_last_admin(db, id).await?;
    guard_last_manager(db, id).await?;
    db_run!(db, |c| diesel::update(users::table.find(id))
        .set((users::deleted_at.eq(by.now), users::updated_at.eq(by.now)))
        .execute(c)
        .await)?;
    let ended = end_sessions(db, id).await?;
    let revoked = auth_store::revoke_links(db, id, None, by.now).await?;
    by.record(
        db,
        Event::new(crate::audit::Action::UserDeleted)
            .target("user", id)
            .details(
                json!({ "restorable_days": 30, "sessions_ended": ended, "links_revoked": revoked }),
            ),
    )
    .await
}

pub async fn restore(db: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let user = load(db, id).await?;
    if user.deleted_at.is_none() || user.erased_at.is_some() {
        return Err(ChangeError::Invalid("users.not_restorable"));
    }
    db_run!(db, |c| diesel::update(users::table.find(id))
        .set((
            users::deleted_at.eq(None::<PrimitiveDateTime>),
            users::updated_at.eq(by.now)
        ))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(crate::audit::Action::UserRestored).target("user", id),
    )
    .await
}

/// The pseudonym an erased user keeps in audit and usage.
pub fn pseudonym(id: i64) -> String {
    format!("erased-user-{id}")
}

/// GDPR erasure: personal fields anonymised everywhere; audit and usage stay
/// attached to a pseudonym. `typed_email` must repeat the user's email.
pub async fn erase(db: &mut Tx<'_>, by: &By, id: i64, typed_email: &str) -> ChangeResult<()> {
    let user = load(db, id).await?;
    if user.erased_at.is_some() {
        return Err(ChangeError::Invalid("users.already_erased"));
    }
    if normalize_email(typed_email) != user.email_lower {
        return Err(ChangeError::Invalid("users.erase_confirm_mismatch"));
    }
    guard_last_admin(db, id).await?;
    guard_last_manager(db, id).await?;
    erase_data(db, &user, by.now).await?;
    by.record(
        db,
        Event::new(crate::audit::Action::UserErased)
            .target("user", id)
            .details(json!({ "pseudonym": pseudonym(id) })),
    )
    .await
}

/// The anonymisation itself, shared by `erase` and the scheduled purge.
pub async fn erase_data(db: &mut Tx<'_>, user: &User, now: PrimitiveDateTime) -> ChangeResult<()> {
    let id = user.id;
    auth_store::revoke_links(db, id, None, now).await?;
    let alias = pseudonym(id);
    let alias_email = format!("{alias}@erased.invalid");
    db_run!(db, |c| diesel::update(users::table.find(id))
        .set((
            users::email.eq(&alias_email),
            users::name.eq(&alias),
            users::company.eq(""),
            Derived::of(&alias, &alias_email, ""),
            users::password_hash.eq(None::<String>),
            users::totp_secret.eq(None::<String>),
            users::totp_enabled.eq(false),
            users::totp_last_step.eq(None::<i64>),
            users::locale.eq(None::<String>),
            users::status.eq(UserStatus::Inactive),
            users::status_reason.eq(Some("erased")),
            users::status_changed_at.eq(now),
            users::deleted_at.eq(user.deleted_at.unwrap_or(now)),
            users::erased_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(c)
        .await)?;
    db_run!(db, |c| diesel::delete(
        sessions::table.filter(sessions::user_id.eq(id))
    )
    .execute(c)
    .await)?;
    // An erased account grants nothing: no platform role is kept.
    db_run!(db, |c| diesel::delete(
        user_roles::table.filter(user_roles::user_id.eq(id))
    )
    .execute(c)
    .await)?;
    db_run!(db, |c| diesel::delete(
        recovery_codes::table.filter(recovery_codes::user_id.eq(id))
    )
    .execute(c)
    .await)?;
    db_run!(db, |c| diesel::delete(
        one_time_tokens::table.filter(one_time_tokens::user_id.eq(id))
    )
    .execute(c)
    .await)?;
    db_run!(db, |c| diesel::delete(
        comments::table
            .filter(comments::subject_type.eq("user"))
            .filter(comments::subject_id.eq(id))
    )
    .execute(c)
    .await)?;
    db_run!(db, |c| diesel::update(
        login_events::table.filter(login_events::user_id.eq(id))
    )
    .set((
        login_events::ip.eq(None::<String>),
        login_events::user_agent.eq(None::<String>)
    ))
    .execute(c)
    .await)?;
    erase_audit::scrub(db, user, &alias).await?;
    Ok(())
}
