//! The administrators' workspace screens: the list, a workspace's page
//! (members, settings, history), creation, and every change, each shown
//! again with its refusal (422) or followed by a redirect to the page.

use crate::web::step_up::{Head, Outcome, demand};
use axum::Form;
use axum::extract::{Path, Query};
use axum::response::Response;
use serde::Deserialize;

use crate::access::{Permission, WorkspaceRef, can};
use crate::audit::query::{EventFilter, events};
use crate::audit::{ActorRef, Event};
use crate::change::{ChangeResult, refusal};
use crate::db::types::{UserStatus, WorkspaceRole};
use crate::error::AppError;
use crate::user_record::memberships::normalise_role;
use crate::web::action::Call;
use crate::web::event_view::EventView;
use crate::web::form::{Choice, field};
use crate::web::format::{date_time, group};
use crate::web::guard::redirect;
use crate::web::render::{html, refused};
use crate::workspaces::changes::{self, Workspace};
use crate::workspaces::settings::WorkspaceSettings;
use crate::workspaces::store::{self, Cursor, ListFilter, Shown, SortBy};
use crate::workspaces::views::*;

const PAGE: usize = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    shown: String,
    sort: String,
    after_name: Option<String>,
    after: Option<i64>,
    before_name: Option<String>,
    before: Option<i64>,
}

impl ListQuery {
    fn href(&self, name: &str, id: i64, forward: bool) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.trim().is_empty() {
            q.append_pair("q", self.q.trim());
        }
        if !self.shown.is_empty() {
            q.append_pair("shown", &self.shown);
        }
        if !self.sort.is_empty() {
            q.append_pair("sort", &self.sort);
        }
        let (n, i) = if forward {
            ("after_name", "after")
        } else {
            ("before_name", "before")
        };
        q.append_pair(n, name).append_pair(i, &id.to_string());
        format!("/admin/workspaces?{}", q.finish())
    }
}

pub async fn list(call: Call, Query(q): Query<ListQuery>) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let shown = Shown::parse(&q.shown);
    let sort = SortBy::parse(&q.sort);
    let filter = ListFilter {
        q: q.q.chars().take(200).collect(),
        shown,
        sort,
    };
    // The cursor's key: the name, or the creation time.
    let key = |w: &Workspace| match sort {
        SortBy::Name => w.name.clone(),
        _ => store::time_key(w.created_at),
    };
    let cursor = match (&q.after_name, q.after, &q.before_name, q.before) {
        (Some(n), Some(id), _, _) => Cursor::After(n.clone(), id),
        (_, _, Some(n), Some(id)) => Cursor::Before(n.clone(), id),
        _ => Cursor::First,
    };
    // One more than a page tells whether there is another page that way.
    let mut found = store::list(&mut db, &filter, &cursor, PAGE as i64 + 1).await?;
    let more = found.len() > PAGE;
    if more {
        match cursor {
            Cursor::Before(..) => drop(found.remove(0)),
            _ => found.truncate(PAGE),
        }
    }
    let earlier = match cursor {
        Cursor::First => false,
        Cursor::After(..) => true,
        Cursor::Before(..) => more,
    };
    let later = match cursor {
        Cursor::Before(..) => true,
        _ => more,
    };
    let prev_href = <[Workspace]>::first(&found)
        .filter(|_| earlier)
        .map(|w| q.href(&key(w), w.id, false));
    let next_href = found
        .last()
        .filter(|_| later)
        .map(|w| q.href(&key(w), w.id, true));
    let ids: Vec<i64> = found.iter().map(|w| w.id).collect();
    let counts = store::counts(&mut db, &ids).await?;
    let rows = found
        .into_iter()
        .map(|w| {
            let (members, managers) = counts.get(&w.id).copied().unwrap_or_default();
            WorkspaceRow {
                id: w.id,
                archived: w.archived_at.is_some(),
                created: date_time(w.created_at),
                slug: w.slug,
                name: w.name,
                is_base: w.is_base,
                members: group(members),
                managers: group(managers),
            }
        })
        .collect();
    let shown = Shown::ALL
        .iter()
        .map(|s| Choice {
            value: s.key().to_owned(),
            label: call
                .ctx
                .tr(&format!("workspaces.shown_{}", s.key()))
                .to_owned(),
            selected: *s == shown,
        })
        .collect();
    let sorts = SortBy::ALL
        .iter()
        .map(|s| Choice {
            value: s.key().to_owned(),
            label: call.ctx.tr(s.label_key()).to_owned(),
            selected: *s == sort,
        })
        .collect();
    html(&ListPage {
        sorts,
        can_manage: can(&call.actor, Permission::WorkspacesManage, None),
        rows,
        q: q.q,
        shown,
        prev_href,
        next_href,
        ctx: call.ctx,
    })
}

pub async fn new(call: Call) -> Result<Response, AppError> {
    html(&NewPage {
        ctx: call.ctx,
        slug: String::new(),
        name: String::new(),
        description: String::new(),
        error: None,
    })
}

pub async fn create(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (slug, name) = (field(&fields, "slug"), field(&fields, "name"));
    let settings = WorkspaceSettings {
        description: field(&fields, "description").trim().to_owned(),
        ..WorkspaceSettings::default()
    };
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    let (s, n, st) = (slug.trim().to_owned(), name.clone(), settings.clone());
    let result = db
        .transaction(|tx| Box::pin(async move { changes::create(tx, &by, &s, &n, &st).await }))
        .await;
    match refusal(result)? {
        Ok(id) => Ok(redirect(&format!("/admin/workspaces/{id}"), false)),
        Err(key) => {
            let page = NewPage {
                error: Some(call.ctx.tr(key).to_owned()),
                slug,
                name,
                description: settings.description,
                ctx: call.ctx,
            };
            refused(&page)
        }
    }
}

pub async fn page(
    call: Call,
    Path(id): Path<i64>,
    Query(q): Query<MembersQuery>,
) -> Result<Response, AppError> {
    html(&workspace_page_at(&call, id, &q, None).await?)
}

async fn workspace_page(
    call: &Call,
    id: i64,
    error: Option<String>,
) -> Result<WorkspacePage, AppError> {
    workspace_page_at(call, id, &MembersQuery::default(), error).await
}

async fn workspace_page_at(
    call: &Call,
    id: i64,
    q: &MembersQuery,
    error: Option<String>,
) -> Result<WorkspacePage, AppError> {
    let mut db = call.state.pool.get().await?;
    let w = changes::find(&mut db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let settings = WorkspaceSettings::parse(&w.settings).unwrap_or_default();
    let shown = members_shown(&mut db, id, q, &format!("/admin/workspaces/{id}")).await?;
    let history = events(
        &mut db,
        &EventFilter {
            workspace_id: Some(id),
            ..EventFilter::default()
        },
        50,
    )
    .await?
    .into_iter()
    .map(|e| EventView::of(call.ctx.lang, e))
    .collect();
    let locales = locale_choices(&call.ctx, settings.default_locale.as_deref());
    let can_manage = may_change(call, &w);
    Ok(WorkspacePage {
        ctx: call.ctx.clone(),
        id,
        can_manage,
        can_manage_members: can_manage,
        actions_base: format!("/admin/workspaces/{id}"),
        link_users: true,
        show_emails: true,
        is_base: w.is_base,
        archived: w.archived_at.is_some(),
        created: date_time(w.created_at),
        slug: w.slug,
        name: w.name,
        description: settings.description,
        require_two_factor: settings.require_two_factor,
        locales,
        members_total: group(shown.total),
        prev_href: shown.prev_href,
        next_href: shown.next_href,
        members: member_views(call.ctx.lang, shown.rows, true),
        history,
        error,
    })
}

/// The route asks `workspaces.manage`; inside a workspace the one check
/// decides again with the workspace itself (BASE: administrators only).
fn may_change(call: &Call, w: &Workspace) -> bool {
    let ws = WorkspaceRef {
        id: w.id,
        is_base: w.is_base,
    };
    can(&call.actor, Permission::WorkspacesManage, Some(ws))
        && can(&call.actor, Permission::WorkspaceSettingsManage, Some(ws))
}

/// Loads workspace `id` for a change by the caller, or refuses (403,
/// logged and audited with the workspace id).
async fn changeable(call: &Call, id: i64, what: &str) -> Result<Workspace, AppError> {
    let mut db = call.state.pool.get().await?;
    let w = changes::find(&mut db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if may_change(call, &w) {
        return Ok(w);
    }
    let who = ActorRef::of(&call.actor);
    tracing::warn!(actor = %who.label, workspace = id, what, "workspace change denied");
    let event = Event::access_denied(
        "POST",
        &format!("/admin/workspaces/{id}/{what}"),
        Permission::WorkspacesManage.key(),
    )
    .workspace(id);
    crate::audit::record_alone(
        &mut db,
        call.state.clock.now_primitive(),
        &who,
        &call.meta,
        event,
    )
    .await?;
    Err(AppError::Forbidden)
}

/// Runs one change of workspace `id`, then shows the page again: the
/// refusal in it (422), or a redirect to it.
async fn run<T: Send + 'static>(
    call: Call,
    id: i64,
    what: &str,
    change: impl for<'c, 'd> FnOnce(
        &'c mut crate::db::Tx<'d>,
        crate::change::By,
    ) -> crate::db::BoxFuture<'c, ChangeResult<T>>
    + Send,
) -> Result<Response, AppError> {
    changeable(&call, id, what).await?;
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    let result = db.transaction(|tx| change(tx, by)).await;
    match refusal(result)? {
        // A deleted workspace has no page left: back to the list.
        Ok(_) if what == "delete" => Ok(redirect("/admin/workspaces", call.htmx)),
        Ok(_) => Ok(redirect(&format!("/admin/workspaces/{id}"), call.htmx)),
        Err(key) => {
            let page = workspace_page(&call, id, Some(call.ctx.tr(key).to_owned())).await?;
            refused(&page)
        }
    }
}

pub async fn rename(
    call: Call,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let name = field(&fields, "name");
    run(call, id, "rename", move |tx, by| {
        Box::pin(async move { changes::rename(tx, &by, id, &name).await })
    })
    .await
}

pub async fn settings(
    call: Call,
    Path(id): Path<i64>,
    Head(mut head): Head,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let settings = settings_from(&fields);
    let weakens = {
        let mut db = call.state.pool.get().await?;
        changes::weakens(&mut db, id, &settings).await?
    };
    if weakens
        && let Outcome::Answer(r) = demand(&call.state, &mut head, &call.actor, &fields).await?
    {
        return Ok(r);
    }
    run(call, id, "settings", move |tx, by| {
        Box::pin(async move { changes::set_settings(tx, &by, id, &settings).await })
    })
    .await
}

pub async fn archive(call: Call, Path(id): Path<i64>) -> Result<Response, AppError> {
    run(call, id, "archive", move |tx, by| {
        Box::pin(async move { changes::archive(tx, &by, id).await })
    })
    .await
}

pub async fn restore(call: Call, Path(id): Path<i64>) -> Result<Response, AppError> {
    run(call, id, "restore", move |tx, by| {
        Box::pin(async move { changes::restore(tx, &by, id).await })
    })
    .await
}

pub async fn delete(call: Call, Path(id): Path<i64>) -> Result<Response, AppError> {
    run(call, id, "delete", move |tx, by| {
        Box::pin(async move { changes::delete(tx, &by, id).await })
    })
    .await
}

/// Adds an existing user by email, with a role (legacy values accepted).
pub async fn add_member(
    call: Call,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let email = field(&fields, "email");
    let role = normalise_role(&field(&fields, "role"));
    let user = {
        let mut db = call.state.pool.get().await?;
        store::user_by_email(&mut db, &email).await?
    };
    let refusal_key = match (&role, user) {
        (Err(_), _) => Some("workspaces.role_invalid"),
        (_, None) => Some("workspaces.user_unknown"),
        _ => None,
    };
    if let Some(key) = refusal_key {
        changeable(&call, id, "members").await?;
        let page = workspace_page(&call, id, Some(call.ctx.tr(key).to_owned())).await?;
        return refused(&page);
    }
    let (Ok((role, _)), Some(user_id)) = (role, user) else {
        return Err(AppError::BadRequest("member".into()));
    };
    run(call, id, "members", move |tx, by| {
        Box::pin(async move { changes::add_member(tx, &by, id, user_id, role).await })
    })
    .await
}

pub async fn set_role(
    call: Call,
    Path((id, user_id)): Path<(i64, i64)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Ok((role, _)) = normalise_role(&field(&fields, "role")) else {
        return Err(AppError::BadRequest("role".into()));
    };
    run(call, id, "members", move |tx, by| {
        Box::pin(async move { changes::set_member_role(tx, &by, id, user_id, role).await })
    })
    .await
}

pub async fn remove_member(
    call: Call,
    Path((id, user_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    run(call, id, "members", move |tx, by| {
        Box::pin(async move { changes::remove_member(tx, &by, id, user_id).await })
    })
    .await
}

/// The settings as the settings form posts them.
pub(crate) fn settings_from(fields: &[(String, String)]) -> WorkspaceSettings {
    let locale = field(fields, "default_locale");
    WorkspaceSettings {
        description: field(fields, "description").trim().to_owned(),
        default_locale: (!locale.is_empty()).then_some(locale),
        require_two_factor: field(fields, "require_two_factor") == "on",
    }
}

/// The language choices of the settings form, `current` selected.
pub(crate) fn locale_choices(
    ctx: &crate::web::layout::PageCtx,
    current: Option<&str>,
) -> Vec<Choice> {
    ["", "en", "fr"]
        .iter()
        .map(|l| Choice {
            value: (*l).to_owned(),
            label: ctx
                .tr(match *l {
                    "en" => "workspaces.locale_en",
                    "fr" => "workspaces.locale_fr",
                    _ => "workspaces.locale_none",
                })
                .to_owned(),
            selected: current.unwrap_or("") == *l,
        })
        .collect()
}

/// Members as the tables show them; without `emails` (a member looking at
/// fellow members) only names, never addresses.
pub(crate) fn member_views(
    lang: crate::i18n::Lang,
    members: Vec<store::MemberRow>,
    emails: bool,
) -> Vec<MemberView> {
    members
        .into_iter()
        .map(|m| MemberView {
            user_id: m.user_id,
            active: m.status == UserStatus::Active,
            status: lang.t(m.status.label_key()),
            is_manager: m.role == WorkspaceRole::Manager,
            since: date_time(m.since),
            email: if emails { m.email } else { String::new() },
            name: match (m.name.is_empty(), emails) {
                (true, false) => lang.t("workspaces.unnamed").to_owned(),
                _ => m.name,
            },
        })
        .collect()
}

/// Creates a new workspace from this one: its settings, and its members
/// when asked. Then the new workspace's page.
pub async fn duplicate(
    call: Call,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    changeable(&call, id, "duplicate").await?;
    let (slug, name) = (
        field(&fields, "slug").trim().to_owned(),
        field(&fields, "name"),
    );
    let with_members = field(&fields, "with_members") == "on";
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    let result = db
        .transaction(|tx| {
            Box::pin(
                async move { changes::duplicate(tx, &by, id, &slug, &name, with_members).await },
            )
        })
        .await;
    match refusal(result)? {
        Ok(new_id) => Ok(redirect(&format!("/admin/workspaces/{new_id}"), call.htmx)),
        Err(key) => {
            let page = workspace_page(&call, id, Some(call.ctx.tr(key).to_owned())).await?;
            refused(&page)
        }
    }
}

/// Where a workspace's member list starts: after or before a member.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MembersQuery {
    after_role: Option<String>,
    after: Option<i64>,
    before_role: Option<String>,
    before: Option<i64>,
}

/// One page of a workspace's members, its total, and the links to the
/// pages before and after it (`base`: the page's own path).
pub(crate) struct MembersShown {
    pub rows: Vec<store::MemberRow>,
    pub total: i64,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
}

pub(crate) async fn members_shown(
    db: &mut crate::db::Db,
    ws: i64,
    q: &MembersQuery,
    base: &str,
) -> Result<MembersShown, AppError> {
    let at = |role: &Option<String>, id: Option<i64>| {
        Some(store::MemberAt {
            role: role.clone()?,
            user_id: id?,
        })
    };
    let (cursor, backward) = match (at(&q.after_role, q.after), at(&q.before_role, q.before)) {
        (Some(a), _) => (Some(a), false),
        (None, Some(b)) => (Some(b), true),
        _ => (None, false),
    };
    let limit = store::MEMBERS_PAGE;
    let mut rows = store::members(db, ws, cursor.as_ref(), backward, limit + 1).await?;
    // One more than a page tells whether there is another page that way.
    let more = rows.len() as i64 > limit;
    if more {
        if backward {
            rows.remove(0);
        } else {
            rows.truncate(limit as usize);
        }
    }
    let (earlier, later) = match (cursor.is_some(), backward) {
        (false, _) => (false, more),
        (true, false) => (true, more),
        (true, true) => (more, true),
    };
    let href = |m: &store::MemberRow, forward: bool| {
        let (r, i) = if forward {
            ("after_role", "after")
        } else {
            ("before_role", "before")
        };
        format!("{base}?{r}={}&{i}={}", m.role.as_str(), m.user_id)
    };
    let prev_href = <[store::MemberRow]>::first(&rows)
        .filter(|_| earlier)
        .map(|m| href(m, false));
    let next_href = rows.last().filter(|_| later).map(|m| href(m, true));
    let total = store::counts(db, &[ws]).await?.get(&ws).map_or(0, |c| c.0);
    Ok(MembersShown {
        rows,
        total,
        prev_href,
        next_href,
    })
}
