//! The screens of the people who belong to workspaces: `/workspaces`, the
//! ones the signed-in user belongs to; a workspace's members (its members
//! see names; its managers add, change and remove members) and settings
//! (managers). The guard has already resolved the workspace from the
//! path's slug and checked the permission in it; the handlers ask the one
//! check again only to decide what to show.

use crate::web::step_up::{Head, Outcome, demand};
use axum::Form;
use axum::extract::{Extension, Path, Query};
use axum::response::Response;

use crate::access::workspace::InWorkspace;
use crate::access::{Permission, can};
use crate::change::{By, ChangeError, ChangeResult, refusal};
use crate::db::types::{TokenPurpose, UserType, WorkspaceRole};
use crate::error::AppError;
use crate::invitations::{ProfileInput, create_pending, issue_link, validate_profile};
use crate::user_record::memberships::{normalise_role, of_user};
use crate::web::action::Call;
use crate::web::form::field;
use crate::web::format::group;
use crate::web::guard::redirect;
use crate::web::layout::FLASH;
use crate::web::render::{html, refused};
use crate::workspaces::changes::{self, find};
use crate::workspaces::handlers::{
    MembersQuery, locale_choices, member_views, members_shown, settings_from,
};
use crate::workspaces::settings::WorkspaceSettings;
use crate::workspaces::store;
use crate::workspaces::views::{MembersPage, MinePage, MineRow, SettingsPage};

pub async fn mine(call: Call) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let rows = of_user(&mut db, call.actor.user_id)
        .await?
        .into_iter()
        .map(|h| {
            let ws = crate::access::WorkspaceRef {
                id: h.workspace_id,
                is_base: h.is_base,
            };
            MineRow {
                manages: can(&call.actor, Permission::WorkspaceSettingsManage, Some(ws)),
                is_manager: h.role == WorkspaceRole::Manager,
                slug: h.slug,
                name: h.name,
                is_base: h.is_base,
                archived: h.archived,
            }
        })
        .collect();
    html(&MinePage {
        ctx: call.ctx,
        rows,
    })
}

pub async fn members(
    call: Call,
    Extension(w): Extension<InWorkspace>,
    Query(q): Query<MembersQuery>,
) -> Result<Response, AppError> {
    html(&members_page_at(&call, &w, &q, None).await?)
}

async fn members_page(
    call: &Call,
    w: &InWorkspace,
    error: Option<String>,
) -> Result<MembersPage, AppError> {
    members_page_at(call, w, &MembersQuery::default(), error).await
}

async fn members_page_at(
    call: &Call,
    w: &InWorkspace,
    q: &MembersQuery,
    error: Option<String>,
) -> Result<MembersPage, AppError> {
    let mut db = call.state.pool.get().await?;
    let shown = members_shown(&mut db, w.id, q, &format!("/workspaces/{}/members", w.slug)).await?;
    let ws = Some(w.reference());
    let can_manage_members = can(&call.actor, Permission::WorkspaceMembersManage, ws);
    Ok(MembersPage {
        ctx: call.ctx.clone(),
        slug: w.slug.clone(),
        name: w.name.clone(),
        is_base: w.is_base,
        archived: w.archived,
        members_total: group(shown.total),
        prev_href: shown.prev_href,
        next_href: shown.next_href,
        // Addresses are for those who manage the members.
        members: member_views(call.ctx.lang, shown.rows, can_manage_members),
        can_manage_members,
        can_manage_settings: can(&call.actor, Permission::WorkspaceSettingsManage, ws),
        actions_base: format!("/workspaces/{}", w.slug),
        link_users: false,
        show_emails: can_manage_members,
        error,
    })
}

/// Runs one change of the members, then shows the members again: the
/// refusal in the page (422), or a redirect to it.
async fn run_members<T: Send + 'static>(
    call: Call,
    w: InWorkspace,
    change: impl for<'c, 'd> FnOnce(
        &'c mut crate::db::Tx<'d>,
        By,
    ) -> crate::db::BoxFuture<'c, ChangeResult<T>>
    + Send,
) -> Result<Response, AppError> {
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    let result = db.transaction(|tx| change(tx, by)).await;
    match refusal(result)? {
        Ok(_) => Ok(redirect(
            &format!("/workspaces/{}/members", w.slug),
            call.htmx,
        )),
        Err(key) => {
            let page = members_page(&call, &w, Some(call.ctx.tr(key).to_owned())).await?;
            refused(&page)
        }
    }
}

/// Adds an existing user by email, with a role (legacy values accepted).
pub async fn add_member(
    call: Call,
    Extension(w): Extension<InWorkspace>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let email = field(&fields, "email");
    let role = normalise_role(&field(&fields, "role"));
    let user = {
        let mut db = call.state.pool.get().await?;
        store::user_by_email(&mut db, &email).await?
    };
    let (role, user_id) = match (role, user) {
        (Ok((role, _)), Some(user_id)) => (role, user_id),
        (Err(_), _) | (_, None) => {
            let key = if user.is_none() {
                "workspaces.user_unknown_manager"
            } else {
                "workspaces.role_invalid"
            };
            let page = members_page(&call, &w, Some(call.ctx.tr(key).to_owned())).await?;
            return refused(&page);
        }
    };
    let id = w.id;
    run_members(call, w, move |tx, by| {
        Box::pin(async move { changes::add_member(tx, &by, id, user_id, role).await })
    })
    .await
}

pub async fn set_role(
    call: Call,
    Extension(w): Extension<InWorkspace>,
    Path((_, user_id)): Path<(String, i64)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Ok((role, _)) = normalise_role(&field(&fields, "role")) else {
        return Err(AppError::BadRequest("role".into()));
    };
    let id = w.id;
    run_members(call, w, move |tx, by| {
        Box::pin(async move { changes::set_member_role(tx, &by, id, user_id, role).await })
    })
    .await
}

pub async fn remove_member(
    call: Call,
    Extension(w): Extension<InWorkspace>,
    Path((_, user_id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    let id = w.id;
    run_members(call, w, move |tx, by| {
        Box::pin(async move { changes::remove_member(tx, &by, id, user_id).await })
    })
    .await
}

pub async fn settings(
    call: Call,
    Extension(w): Extension<InWorkspace>,
) -> Result<Response, AppError> {
    html(&settings_page(&call, &w, None, None).await?)
}

async fn settings_page(
    call: &Call,
    w: &InWorkspace,
    shown: Option<WorkspaceSettings>,
    error: Option<String>,
) -> Result<SettingsPage, AppError> {
    let settings = match shown {
        Some(s) => s,
        None => {
            let mut db = call.state.pool.get().await?;
            let stored = find(&mut db, w.id).await?.ok_or(AppError::NotFound)?;
            WorkspaceSettings::parse(&stored.settings).unwrap_or_default()
        }
    };
    Ok(SettingsPage {
        ctx: call.ctx.clone(),
        slug: w.slug.clone(),
        name: w.name.clone(),
        archived: w.archived,
        locales: locale_choices(&call.ctx, settings.default_locale.as_deref()),
        description: settings.description,
        require_two_factor: settings.require_two_factor,
        actions_base: format!("/workspaces/{}", w.slug),
        error,
    })
}

pub async fn save_settings(
    call: Call,
    Extension(w): Extension<InWorkspace>,
    Head(mut head): Head,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let settings = settings_from(&fields);
    let by = call.by();
    let (id, s) = (w.id, settings.clone());
    let mut db = call.state.pool.get().await?;
    if changes::weakens(&mut db, id, &settings).await?
        && let Outcome::Answer(r) = demand(&call.state, &mut head, &call.actor, &fields).await?
    {
        return Ok(r);
    }
    let result = db
        .transaction(|tx| Box::pin(async move { changes::set_settings(tx, &by, id, &s).await }))
        .await;
    match refusal(result)? {
        Ok(_) => Ok(redirect(
            &format!("/workspaces/{}/settings", w.slug),
            call.htmx,
        )),
        Err(key) => {
            // The form comes back as typed, with the reason.
            let error = Some(call.ctx.tr(key).to_owned());
            let page = settings_page(&call, &w, Some(settings), error).await?;
            refused(&page)
        }
    }
}

/// Invites someone who has no account yet: a pending account, the
/// membership with its role, and the invitation link by mail, in one
/// transaction (each with its audit event). The person sets a password
/// through the link.
pub async fn invite(
    call: Call,
    Extension(w): Extension<InWorkspace>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let profile = ProfileInput {
        email: field(&fields, "email").trim().to_owned(),
        name: field(&fields, "name"),
        company: String::new(),
        user_type: UserType::External,
    };
    let role = match (
        normalise_role(&field(&fields, "role")),
        validate_profile(&profile),
    ) {
        (Ok((role, _)), Ok(())) => role,
        (Err(_), _) => return refuse_members(&call, &w, "workspaces.role_invalid").await,
        (_, Err((_, key))) => return refuse_members(&call, &w, key).await,
    };
    let (by, id, config) = (call.by(), w.id, call.state.config.clone());
    let email = profile.email.clone();
    let mut db = call.state.pool.get().await?;
    let result = db
        .transaction(|tx| {
            Box::pin(async move {
                let user_id = create_pending(tx, &by, &profile).await?;
                changes::add_member(tx, &by, id, user_id, role).await?;
                issue_link(tx, &by, user_id, TokenPurpose::Invite, &|p| config.link(p)).await?;
                Ok::<_, ChangeError>(())
            })
        })
        .await;
    match refusal(result)? {
        Ok(()) => {
            let note = call.ctx.lang.tf("workspaces.invited", &[("email", &email)]);
            call.session.insert(FLASH, note).await?;
            Ok(redirect(
                &format!("/workspaces/{}/members", w.slug),
                call.htmx,
            ))
        }
        // An address with an account already: add that user instead.
        Err("users.email_taken") => refuse_members(&call, &w, "workspaces.invite_exists").await,
        Err(key) => refuse_members(&call, &w, key).await,
    }
}

/// The members page again with the reason (422).
async fn refuse_members(call: &Call, w: &InWorkspace, key: &str) -> Result<Response, AppError> {
    let page = members_page(call, w, Some(call.ctx.tr(key).to_owned())).await?;
    refused(&page)
}
