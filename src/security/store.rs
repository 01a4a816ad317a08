//! Queries for sign-in, second factor, one-time links and the actor.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::access::{ADMIN_ROLE, Actor, Membership, Permission, RoleRef};
use crate::audit::RequestMeta;
use crate::db::Db;
use crate::db::schema::{login_events, one_time_tokens, recovery_codes, roles, user_roles, users};
use crate::db::types::{RoleScope, TokenPurpose, WorkspaceRole};
use crate::db_run;
use crate::user_record::model::User;

type QResult<T> = Result<T, diesel::result::Error>;

pub async fn user_by_email(db: &mut Db, email_lower: &str) -> QResult<Option<User>> {
    db_run!(db, |c| users::table
        .filter(users::email_lower.eq(email_lower))
        .select(User::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn user_by_id(db: &mut Db, id: i64) -> QResult<Option<User>> {
    db_run!(db, |c| users::table
        .find(id)
        .select(User::as_select())
        .first(c)
        .await
        .optional())
}

/// A text column computed by a subquery whose SQL is fixed per engine (the
/// aggregate is `string_agg` on PostgreSQL, `group_concat` on SQLite), so
/// the statement stays cached (a `sql()` literal would be parsed again on
/// every request).
macro_rules! aggregate_column {
    ($(#[$doc:meta])* $name:ident, $from:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        struct $name;

        impl diesel::expression::Expression for $name {
            type SqlType = diesel::sql_types::Nullable<diesel::sql_types::Text>;
        }
        impl<QS> diesel::expression::AppearsOnTable<QS> for $name {}
        impl<QS> diesel::expression::SelectableExpression<QS> for $name {}
        impl<GB> diesel::expression::ValidGrouping<GB> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }
        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> QueryResult<()> {
                out.push_sql("(SELECT string_agg");
                out.push_sql($from);
                Ok(())
            }
        }
        impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
            ) -> QueryResult<()> {
                out.push_sql("(SELECT group_concat");
                out.push_sql($from);
                Ok(())
            }
        }
    };
}

aggregate_column!(
    /// The user's workspace memberships as `workspace_id:ROLE:T,…`, T being
    /// 1 when the workspace requires its managers to use a second factor.
    /// Deleted workspaces grant nothing. A column of the actor query, so
    /// that loading the actor (on every request) is one round trip.
    MembershipList,
    "(workspace_members.workspace_id || ':' || workspace_members.role || ':' \
     || CASE WHEN workspaces.two_factor_required THEN '1' ELSE '0' END, ',') \
     FROM workspace_members JOIN workspaces ON workspaces.id = workspace_members.workspace_id \
     WHERE workspace_members.user_id = users.id AND workspaces.deleted_at IS NULL)"
);

aggregate_column!(
    /// What the joined platform role grants, `perm,perm,…`, read with the
    /// actor rather than from a cache: a role edit holds on every instance
    /// from the next request (ASVS 8.3.2), not a cache period later.
    RoleGrantList,
    "(role_permissions.permission, ',') FROM role_permissions \
     WHERE role_permissions.role_id = roles.id)"
);

/// The user with roles and memberships; `None` if absent, deleted or not
/// active. One query (this runs on every request): the user joined to their
/// platform roles, with their workspace memberships as a column.
pub async fn load_actor(
    db: &mut Db,
    grants: &crate::access::roles::RolePermissions,
    user_id: i64,
) -> QResult<Option<Actor>> {
    type Row = (
        User,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = db_run!(db, |c| users::table
        .left_join(user_roles::table.on(user_roles::user_id.eq(users::id)))
        .left_join(
            roles::table.on(roles::id
                .eq(user_roles::role_id)
                .and(roles::scope.eq(RoleScope::Platform.as_str())))
        )
        .filter(users::id.eq(user_id))
        .select((
            User::as_select(),
            roles::id.nullable(),
            roles::key.nullable(),
            roles::name_en.nullable(),
            roles::name_fr.nullable(),
            MembershipList,
            RoleGrantList
        ))
        .load(c)
        .await)?;
    let Some((user, memberships)) = <[Row]>::first(&rows).map(|r| (r.0.clone(), r.5.clone()))
    else {
        return Ok(None);
    };
    if !user.can_sign_in() {
        return Ok(None);
    }
    let mut platform_permissions: HashSet<Permission> = HashSet::new();
    let mut platform_roles: Vec<RoleRef> = rows
        .into_iter()
        .filter_map(|(_, id, key, name_en, name_fr, _, granted)| {
            let role = RoleRef {
                id: id?,
                key: key?,
                name_en: name_en?,
                name_fr: name_fr?,
            };
            let granted = granted.unwrap_or_default();
            platform_permissions.extend(granted.split(',').filter_map(Permission::parse));
            Some(role)
        })
        .collect();
    platform_roles.sort_by_key(|r| r.id);
    let member_rows = memberships.unwrap_or_default();
    let member_rows = member_rows.split(',').filter_map(|m| {
        let mut parts = m.split(':');
        let ws = parts.next()?.parse::<i64>().ok()?;
        let role = WorkspaceRole::parse(parts.next()?)?;
        Some((ws, role, parts.next() == Some("1")))
    });
    let memberships = member_rows
        .map(|(ws, role, two_factor_required)| {
            (
                ws,
                Membership {
                    role,
                    permissions: grants.workspace.get(&role).cloned().unwrap_or_default(),
                    two_factor_required,
                },
            )
        })
        .collect();
    Ok(Some(Actor {
        user_id: user.id,
        email: user.email,
        name: user.name,
        platform_roles,
        platform_permissions,
        memberships,
        totp_enabled: user.totp_enabled,
        key: None,
    }))
}

/// The platform roles granted to `user_id`, whatever the account's state
/// (an invitation names them before the account is active).
pub async fn platform_roles_of(db: &mut Db, user_id: i64) -> QResult<Vec<RoleRef>> {
    let rows: Vec<(i64, String, String, String)> = db_run!(db, |c| user_roles::table
        .inner_join(roles::table.on(roles::id.eq(user_roles::role_id)))
        .filter(user_roles::user_id.eq(user_id))
        .filter(roles::scope.eq(RoleScope::Platform.as_str()))
        .order(roles::id)
        .select((roles::id, roles::key, roles::name_en, roles::name_fr))
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(RoleRef::from).collect())
}

pub async fn role_id(db: &mut Db, key: &str) -> QResult<i64> {
    db_run!(db, |c| roles::table
        .filter(roles::key.eq(key))
        .select(roles::id)
        .first(c)
        .await)
}

pub async fn admin_exists(db: &mut Db) -> QResult<bool> {
    let count: i64 = db_run!(db, |c| user_roles::table
        .inner_join(roles::table)
        .inner_join(users::table)
        .filter(roles::key.eq(ADMIN_ROLE))
        .filter(users::deleted_at.is_null())
        .count()
        .get_result(c)
        .await)?;
    Ok(count > 0)
}

pub async fn grant_role(
    db: &mut Db,
    user_id: i64,
    role_key: &str,
    by: Option<i64>,
    at: PrimitiveDateTime,
) -> QResult<()> {
    let role = role_id(db, role_key).await?;
    db_run!(db, |c| diesel::insert_into(user_roles::table)
        .values((
            user_roles::user_id.eq(user_id),
            user_roles::role_id.eq(role),
            user_roles::granted_at.eq(at),
            user_roles::granted_by.eq(by)
        ))
        .on_conflict_do_nothing()
        .execute(c)
        .await)?;
    Ok(())
}

/// One row in `login_events`.
pub struct LoginEvent<'a> {
    pub user_id: Option<i64>,
    pub event: &'a str,
    pub success: bool,
    pub reason: Option<&'a str>,
}

pub async fn record_login_event(
    db: &mut Db,
    at: PrimitiveDateTime,
    meta: &RequestMeta,
    ev: LoginEvent<'_>,
) -> QResult<()> {
    let ip = meta.ip_string();
    db_run!(db, |c| diesel::insert_into(login_events::table)
        .values((
            login_events::user_id.eq(ev.user_id),
            login_events::at.eq(at),
            login_events::ip.eq(ip.as_deref()),
            login_events::user_agent.eq(meta.user_agent.as_deref()),
            login_events::client_id.eq(&meta.client_id),
            login_events::event.eq(ev.event),
            login_events::success.eq(ev.success),
            login_events::reason.eq(ev.reason),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Takes one sign-in attempt from the account's allowance: `false` when the
/// account is locked. One conditional UPDATE, so concurrent attempts are
/// counted one by one (the row lock orders them on both engines). The
/// attempt that reaches `lock_after` within `window` sets the lock itself;
/// a successful sign-in clears the counter ([`mark_signed_in`]).
pub async fn take_sign_in_attempt(
    db: &mut Db,
    user_id: i64,
    now: PrimitiveDateTime,
    lock_after: i32,
    window: time::Duration,
) -> QResult<bool> {
    use diesel::dsl::case_when;
    let in_window = || users::login_window_start.gt(now - window);
    let taken = db_run!(db, |c| diesel::update(
        users::table.find(user_id).filter(
            users::locked_until
                .is_null()
                .or(users::locked_until.le(now).assume_not_null())
        ),
    )
    .set((
        users::login_failures.eq(case_when(in_window(), users::login_failures + 1).otherwise(1)),
        users::login_window_start
            .eq(case_when(in_window(), users::login_window_start).otherwise(Some(now))),
        users::locked_until.eq(case_when(
            in_window().and(users::login_failures.ge(lock_after - 1)),
            Some(now + window)
        )
        .otherwise(None::<PrimitiveDateTime>),),
    ))
    .execute(c)
    .await)?;
    Ok(taken == 1)
}

/// Records the TOTP step a code used, only if it is newer than the last one:
/// `false` means the code was already used (a replay, or a race with
/// another request carrying the same code).
pub async fn use_totp_step(db: &mut Db, user_id: i64, step: i64) -> QResult<bool> {
    let changed = db_run!(db, |c| diesel::update(
        users::table.find(user_id).filter(
            users::totp_last_step
                .is_null()
                .or(users::totp_last_step.lt(step).assume_not_null())
        ),
    )
    .set(users::totp_last_step.eq(step))
    .execute(c)
    .await)?;
    Ok(changed == 1)
}

pub async fn mark_signed_in(db: &mut Db, user_id: i64, at: PrimitiveDateTime) -> QResult<()> {
    db_run!(db, |c| diesel::update(users::table.find(user_id))
        .set((
            users::last_login_at.eq(at),
            users::last_login_sort.eq(at),
            users::login_failures.eq(0),
            users::login_window_start.eq(None::<PrimitiveDateTime>),
            users::locked_until.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// A right second-factor code outside sign-in (step-up) clears the
/// account's failed attempts, as a sign-in does.
pub async fn clear_sign_in_failures(db: &mut Db, user_id: i64) -> QResult<()> {
    db_run!(db, |c| diesel::update(users::table.find(user_id))
        .set((
            users::login_failures.eq(0),
            users::login_window_start.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

pub async fn enable_totp(
    db: &mut Db,
    user_id: i64,
    sealed_secret: &str,
    step: i64,
    at: PrimitiveDateTime,
) -> QResult<()> {
    db_run!(db, |c| diesel::update(users::table.find(user_id))
        .set((
            users::totp_secret.eq(sealed_secret),
            users::totp_enabled.eq(true),
            users::totp_last_step.eq(step),
            users::updated_at.eq(at)
        ))
        .execute(c)
        .await)?;
    Ok(())
}

pub async fn replace_recovery_codes(db: &mut Db, user_id: i64, hashes: &[String]) -> QResult<()> {
    db_run!(db, |c| diesel::delete(
        recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))
    )
    .execute(c)
    .await)?;
    // One row at a time: SQLite's dialect has no multi-row insert in diesel.
    for hash in hashes {
        db_run!(db, |c| diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(hash)
            ))
            .execute(c)
            .await)?;
    }
    Ok(())
}

/// Marks an unused code as used; returns how many remain, or `None` if no match.
pub async fn use_recovery_code(
    db: &mut Db,
    user_id: i64,
    code_hash: &str,
    at: PrimitiveDateTime,
) -> QResult<Option<i64>> {
    let used = db_run!(db, |c| diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(code_hash))
            .filter(recovery_codes::used_at.is_null())
    )
    .set(recovery_codes::used_at.eq(at))
    .execute(c)
    .await)?;
    if used == 0 {
        return Ok(None);
    }
    remaining_recovery_codes(db, user_id).await.map(Some)
}

pub async fn remaining_recovery_codes(db: &mut Db, user_id: i64) -> QResult<i64> {
    db_run!(db, |c| recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(c)
        .await)
}

pub async fn insert_token(
    db: &mut Db,
    hash: &str,
    purpose: TokenPurpose,
    user_id: Option<i64>,
    at: PrimitiveDateTime,
    expires: PrimitiveDateTime,
) -> QResult<()> {
    insert_sealed_token(db, hash, purpose, user_id, None, (at, expires)).await
}

/// A token whose value is also kept sealed (the first-admin link, printed
/// again by any instance while valid).
pub async fn insert_sealed_token(
    db: &mut Db,
    hash: &str,
    purpose: TokenPurpose,
    user_id: Option<i64>,
    sealed: Option<&str>,
    (at, expires): (PrimitiveDateTime, PrimitiveDateTime),
) -> QResult<()> {
    db_run!(db, |c| diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::token_hash.eq(hash),
            one_time_tokens::purpose.eq(purpose),
            one_time_tokens::user_id.eq(user_id),
            one_time_tokens::sealed_token.eq(sealed),
            one_time_tokens::created_at.eq(at),
            one_time_tokens::expires_at.eq(expires),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// The sealed first-admin link still usable at `now`, newest first.
pub async fn valid_first_admin_link(
    db: &mut Db,
    now: PrimitiveDateTime,
) -> QResult<Option<String>> {
    db_run!(db, |c| one_time_tokens::table
        .filter(one_time_tokens::purpose.eq(TokenPurpose::FirstAdmin))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(now))
        .filter(one_time_tokens::sealed_token.is_not_null())
        .order(one_time_tokens::id.desc())
        .select(one_time_tokens::sealed_token.assume_not_null())
        .first(c)
        .await
        .optional())
}

/// A usable token: unused and not expired at `now`.
#[derive(Clone, Debug, Queryable)]
pub struct TokenRow {
    pub id: i64,
    pub purpose: TokenPurpose,
    pub user_id: Option<i64>,
}

async fn find_token(db: &mut Db, hash: &str, now: PrimitiveDateTime) -> QResult<Option<TokenRow>> {
    db_run!(db, |c| one_time_tokens::table
        .filter(one_time_tokens::token_hash.eq(hash))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(now))
        .select((
            one_time_tokens::id,
            one_time_tokens::purpose,
            one_time_tokens::user_id
        ))
        .first(c)
        .await
        .optional())
}

/// How long a setup, invitation or reset link works.
pub const LINK_VALID_FOR: time::Duration = time::Duration::hours(1);

/// The token as it arrives in a link, if it is usable now for one of
/// `purposes` (the one check behind every one-time link page).
pub async fn usable_token(
    db: &mut Db,
    token: &str,
    now: PrimitiveDateTime,
    purposes: &[TokenPurpose],
) -> QResult<Option<TokenRow>> {
    // Ours are 43 characters; anything long is not worth hashing.
    if token.len() > 100 {
        return Ok(None);
    }
    let row = find_token(db, &crate::security::crypto::sha256_hex(token), now).await?;
    Ok(row.filter(|r| purposes.contains(&r.purpose)))
}

/// Consumes a token; false if it was used in the meantime.
pub async fn consume_token(db: &mut Db, id: i64, now: PrimitiveDateTime) -> QResult<bool> {
    let n = db_run!(db, |c| diesel::update(
        one_time_tokens::table
            .find(id)
            .filter(one_time_tokens::used_at.is_null())
    )
    .set(one_time_tokens::used_at.eq(now))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Retires a user's outstanding one-time links (all of them, or those of
/// one purpose): a suspended, deleted or erased account must not come back
/// through an old invitation, and a new link replaces the previous one.
pub async fn revoke_links(
    db: &mut Db,
    user_id: i64,
    purpose: Option<TokenPurpose>,
    now: PrimitiveDateTime,
) -> QResult<usize> {
    let outstanding = one_time_tokens::table
        .filter(one_time_tokens::user_id.eq(user_id))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(now));
    match purpose {
        Some(p) => {
            db_run!(db, |c| diesel::update(
                outstanding.filter(one_time_tokens::purpose.eq(p))
            )
            .set(one_time_tokens::used_at.eq(now))
            .execute(c)
            .await)
        }
        None => db_run!(db, |c| diesel::update(outstanding)
            .set(one_time_tokens::used_at.eq(now))
            .execute(c)
            .await),
    }
}

/// Retires unused first-admin links (a new start prints a new one).
pub async fn expire_first_admin_tokens(db: &mut Db, now: PrimitiveDateTime) -> QResult<()> {
    db_run!(db, |c| diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::purpose.eq(TokenPurpose::FirstAdmin))
            .filter(one_time_tokens::used_at.is_null())
    )
    .set(one_time_tokens::expires_at.eq(now))
    .execute(c)
    .await)?;
    Ok(())
}
