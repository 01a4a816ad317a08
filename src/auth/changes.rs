//! Writes of the sign-in area that do not come from a page: issuing the
//! one-time setup links of the first administrator (printed at start while
//! no Administrator exists) and of `sowat-admin create-admin --email X`.
//! A link is random, stored hashed (and sealed for the first-admin one),
//! valid one hour, used once; its issue is audited.

use diesel_async::RunQueryDsl;

use crate::audit::{self, ActorRef, Event, RequestMeta};
use crate::clock::Clock;
use crate::db::Pool;
use crate::db::locks::{self, Lock};
use crate::db::schema::users;
use crate::db::types::{TokenPurpose, UserStatus, UserType};
use crate::error::AppError;
use crate::security::crypto::{SecretBox, random_token, sha256_hex};
use crate::security::store::{self, LINK_VALID_FOR};
use crate::user_record::model::{NewUser, is_valid_email, normalize_email};

/// The first-admin link while no Administrator exists: the one already
/// issued if it is still valid (sealed in the database, so every instance
/// and every restart prints the same link), else a new one. Instances
/// starting together take turns.
pub async fn first_admin_link(
    pool: &Pool,
    clock: &Clock,
    secrets: &SecretBox,
    link: impl Fn(&str) -> String,
) -> Result<Option<String>, AppError> {
    let lock = locks::acquire(pool, Lock::SetupLink).await?;
    let issued = current_or_new_link(pool, clock, secrets).await;
    lock.release().await;
    Ok(issued?.map(|token| link(&format!("/setup/{token}"))))
}

async fn current_or_new_link(
    pool: &Pool,
    clock: &Clock,
    secrets: &SecretBox,
) -> Result<Option<String>, AppError> {
    let mut db = pool.get().await?;
    if store::admin_exists(&mut db).await? {
        return Ok(None);
    }
    let now = clock.now_primitive();
    if let Some(sealed) = store::valid_first_admin_link(&mut db, now).await?
        && let Ok(plain) = secrets.decrypt(&sealed)
        && let Ok(token) = String::from_utf8(plain)
    {
        return Ok(Some(token));
    }
    let token = random_token();
    let hash = sha256_hex(&token);
    let sealed = secrets
        .encrypt(token.as_bytes())
        .map_err(AppError::internal)?;
    db.transaction(|db| {
        Box::pin(async move {
            store::expire_first_admin_tokens(db, now).await?;
            store::insert_sealed_token(
                db,
                &hash,
                TokenPurpose::FirstAdmin,
                None,
                Some(&sealed),
                (now, now + LINK_VALID_FOR),
            )
            .await?;
            let ev = Event::new(crate::audit::Action::SetupLinkIssued).details(
                serde_json::json!({ "expires_in_minutes": LINK_VALID_FOR.whole_minutes() }),
            );
            audit::record(db, now, &ActorRef::system(), &cli_meta(), ev).await
        })
    })
    .await?;
    Ok(Some(token))
}

/// Where changes made at start or from the command line come from.
fn cli_meta() -> RequestMeta {
    RequestMeta {
        client_id: "cli".into(),
        ..RequestMeta::default()
    }
}

/// `create-admin`: a pending user (or an existing one) and an invitation link.
pub async fn invite_admin(
    pool: &Pool,
    clock: &Clock,
    email: &str,
    link: impl Fn(&str) -> String,
) -> Result<String, String> {
    if !is_valid_email(email) {
        return Err(format!("'{email}' is not a valid email address"));
    }
    let email = email.trim().to_owned();
    let mut db = pool.get().await.map_err(|e| e.to_string())?;
    let token = random_token();
    let hash = sha256_hex(&token);
    let now = clock.now_primitive();
    db.transaction(|db| {
        Box::pin(async move {
            let existing = store::user_by_email(db, &normalize_email(&email)).await?;
            let user_id = match existing {
                Some(u) => u.id,
                None => {
                    let new =
                        NewUser::new(&email, "", "", UserType::Internal, UserStatus::Pending, now);
                    crate::db_run!(db, |c| diesel::insert_into(users::table)
                        .values(&new)
                        .returning(users::id)
                        .get_result::<i64>(c)
                        .await)?
                }
            };
            store::insert_token(
                db,
                &hash,
                TokenPurpose::AdminInvite,
                Some(user_id),
                now,
                now + LINK_VALID_FOR,
            )
            .await?;
            let ev = Event::admin_invited()
                .target("user", user_id)
                .details(serde_json::json!({ "email": email }));
            audit::record(db, now, &ActorRef::system(), &cli_meta(), ev).await
        })
    })
    .await
    .map_err(|e: diesel::result::Error| e.to_string())?;
    Ok(link(&format!("/setup/{token}")))
}
