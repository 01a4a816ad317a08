//! `/api/v1/workspaces`: the main app lists, creates and governs
//! workspaces and their members with a key (`workspaces:read`,
//! `workspaces:write`). The routes on one workspace act in the workspace
//! named by `X-Workspace-Id` (the guard checks it against the path and the
//! one access rule; with `X-On-Behalf-Of`, against that user's rights as
//! well). Every change goes through the workspace area's changes, audited
//! with the workspace id; a refusal is a 422 whose code is its reason.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::access::workspace::InWorkspace;
use crate::access::{Actor, Permission, can};
use crate::api::numbers::query_number;
use crate::audit::{ActorRef, Event, RequestMeta};
use crate::change::{By, ChangeError};
use crate::db::types::WorkspaceRole;
use crate::state::AppState;
use crate::user_record::memberships::normalise_role;
use crate::web::api_error::{ApiError, json_body};
use crate::web::current::SignedIn;
use crate::web::format::rfc3339;
use crate::workspaces::changes::{self, Workspace};
use crate::workspaces::settings::WorkspaceSettings;
use crate::workspaces::store::{self, Cursor, ListFilter, MEMBERS_SHOWN, MemberAt, Shown};

const PAGE: i64 = 100;

#[derive(Serialize)]
pub struct WorkspaceOut {
    id: i64,
    slug: String,
    name: String,
    is_base: bool,
    archived: bool,
    settings: WorkspaceSettings,
    created_at: String,
}

impl From<Workspace> for WorkspaceOut {
    fn from(w: Workspace) -> Self {
        WorkspaceOut {
            settings: WorkspaceSettings::parse(&w.settings).unwrap_or_default(),
            id: w.id,
            slug: w.slug,
            name: w.name,
            is_base: w.is_base,
            archived: w.archived_at.is_some(),
            created_at: rfc3339(w.created_at),
        }
    }
}

fn by(state: &AppState, actor: &Actor, meta: RequestMeta) -> By {
    By {
        actor: ActorRef::of(actor),
        meta,
        now: state.clock.now_primitive(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    /// `live` (default), `archived` or `all`.
    shown: Option<String>,
    /// The cursor of the next page: the id of the last workspace shown.
    /// Read as text so that a wrong value gets the API's 422, not a bare 400.
    after: Option<String>,
}

/// Workspaces in name order, a page of 100 at most, with the cursor of the next.
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if q.q.chars().count() > 200 {
        return Err(ApiError::invalid("q has at most 200 characters"));
    }
    let shown = match q.shown.as_deref() {
        None => Shown::Live,
        Some(s) => Shown::ALL
            .into_iter()
            .find(|x| x.key() == s)
            .ok_or_else(|| ApiError::invalid("shown is live, archived or all"))?,
    };
    let after = match q.after.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Err(ApiError::invalid("after is a workspace id")),
    };
    let filter = ListFilter {
        q: q.q,
        shown,
        sort: store::SortBy::Name,
    };
    let mut db = state.pool.get().await?;
    // The page goes on from that workspace's place in name order, even if
    // it was deleted since.
    let cursor = match after {
        None => Cursor::First,
        Some(id) => match store::name_of(&mut db, id).await? {
            Some(name) => Cursor::After(name, id),
            None => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "cursor_unknown",
                    "after names no workspace",
                ));
            }
        },
    };
    let mut found = store::list(&mut db, &filter, &cursor, PAGE + 1).await?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let next = found.last().filter(|_| more).map(|w| w.id);
    let workspaces: Vec<WorkspaceOut> = found.into_iter().map(Into::into).collect();
    Ok(Json(
        serde_json::json!({ "workspaces": workspaces, "next": next }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    slug: String,
    name: String,
    #[serde(default)]
    settings: WorkspaceSettings,
}

pub async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    meta: RequestMeta,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let new: NewWorkspace = json_body(&body)?;
    let by = by(&state, &actor, meta);
    let mut db = state.pool.get().await?;
    let id = db
        .transaction(|tx| {
            Box::pin(async move {
                changes::create(tx, &by, new.slug.trim(), &new.name, &new.settings).await
            })
        })
        .await
        .map_err(refused)?;
    let w = changes::find(&mut db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::CREATED, Json(WorkspaceOut::from(w))).into_response())
}

pub async fn one(
    State(state): State<AppState>,
    Extension(w): Extension<InWorkspace>,
) -> Result<Json<serde_json::Value>, ApiError> {
    workspace_answer(&state, w.id).await
}

/// Workspace `id` with its member and manager counts, as `GET` answers it.
async fn workspace_answer(state: &AppState, id: i64) -> Result<Json<serde_json::Value>, ApiError> {
    let mut db = state.pool.get().await?;
    let found = changes::find(&mut db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let counts = store::counts(&mut db, &[id]).await?;
    let (members, managers) = counts.get(&id).copied().unwrap_or_default();
    let mut out = serde_json::to_value(WorkspaceOut::from(found)).unwrap_or_default();
    out["members"] = members.into();
    out["managers"] = managers.into();
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    name: Option<String>,
    settings: Option<WorkspaceSettings>,
    archived: Option<bool>,
}

/// Changes what the body names: `settings` (the route's
/// `workspace.settings.manage`), `name` and `archived` (also
/// `workspaces.manage` in this workspace). All or nothing.
pub async fn update(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Extension(w): Extension<InWorkspace>,
    meta: RequestMeta,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let patch: WorkspacePatch = json_body(&body)?;
    if (patch.name.is_some() || patch.archived.is_some())
        && !can(&actor, Permission::WorkspacesManage, Some(w.reference()))
    {
        return Err(denied(&state, &actor, &meta, &w, Permission::WorkspacesManage).await);
    }
    let by = by(&state, &actor, meta);
    let id = w.id;
    let mut db = state.pool.get().await?;
    db.transaction(|tx| {
        Box::pin(async move {
            // Restored first, archived last: the other changes need a live workspace.
            if patch.archived == Some(false) && w.archived {
                changes::restore(tx, &by, id).await?;
            }
            if let Some(name) = &patch.name {
                changes::rename(tx, &by, id, name).await?;
            }
            if let Some(settings) = &patch.settings {
                changes::set_settings(tx, &by, id, settings).await?;
            }
            if patch.archived == Some(true) && !w.archived {
                changes::archive(tx, &by, id).await?;
            }
            Ok::<_, ChangeError>(())
        })
    })
    .await
    .map_err(refused)?;
    workspace_answer(&state, id).await
}

pub async fn delete(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Extension(w): Extension<InWorkspace>,
    meta: RequestMeta,
) -> Result<StatusCode, ApiError> {
    let by = by(&state, &actor, meta);
    let mut db = state.pool.get().await?;
    db.transaction(|tx| Box::pin(async move { changes::delete(tx, &by, w.id).await }))
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct MemberOut {
    user_id: i64,
    name: String,
    /// Only for those who manage the members.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    role: WorkspaceRole,
    status: &'static str,
    since: String,
}

/// A place in the member list as the API writes it: `MANAGER.42` is
/// "after manager 42". Opaque to callers; anything else is a 422.
fn parse_member_cursor(raw: &str) -> Option<MemberAt> {
    let (role, id) = raw.split_once('.')?;
    let role = WorkspaceRole::parse(role)?;
    // Exactly the documented pattern, `[1-9][0-9]{0,14}`: no sign, no
    // leading zero, under 2^53 so a JSON client can hold it.
    let digits = id.len() <= 15 && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
    if !digits {
        return None;
    }
    let user_id: i64 = id.parse().ok()?;
    Some(MemberAt {
        role: role.as_str().to_string(),
        user_id,
    })
}

/// GET /api/v1/workspaces/{id}/members?limit=&cursor=: managers first,
/// then members, by user id; `next_cursor` continues the list (keyset, so
/// the last page of a 5,000-member workspace costs what the first does).
pub async fn members(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Extension(w): Extension<InWorkspace>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some((k, _)) = pairs.iter().find(|(k, _)| k != "limit" && k != "cursor") {
        return Err(ApiError::invalid(format!("unknown parameter {k}")));
    }
    let limit = query_number(
        &pairs,
        "limit",
        MEMBERS_SHOWN as u64,
        1,
        MEMBERS_SHOWN as u64,
    )? as i64;
    let at =
        match pairs.iter().find(|(k, _)| k == "cursor") {
            None => None,
            Some((_, raw)) => Some(parse_member_cursor(raw).ok_or_else(|| {
                ApiError::invalid("cursor is not one this list gave (next_cursor)")
            })?),
        };
    let mut db = state.pool.get().await?;
    // One more than asked says whether the list goes on.
    let mut rows = store::members(&mut db, w.id, at.as_ref(), false, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|m| format!("{}.{}", m.role.as_str(), m.user_id))
        })
        .flatten();
    let emails = can(
        &actor,
        Permission::WorkspaceMembersManage,
        Some(w.reference()),
    ) || can(&actor, Permission::WorkspacesRead, None);
    let members: Vec<MemberOut> = rows
        .into_iter()
        .map(|m| MemberOut {
            user_id: m.user_id,
            name: m.name,
            email: emails.then_some(m.email),
            role: m.role,
            status: m.status.as_str(),
            since: rfc3339(m.since),
        })
        .collect();
    // `truncated` is kept for callers written before the cursor.
    Ok(Json(serde_json::json!({
        "members": members,
        "next_cursor": next_cursor,
        "truncated": more,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberIn {
    /// `MANAGER` or `MEMBER`; the old platform's `OWNER`, `USER` and
    /// `VIEWER` are accepted and reported (`legacy_role`).
    role: String,
}

/// Adds the user with this role, or changes their role: idempotent.
pub async fn put_member(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Extension(w): Extension<InWorkspace>,
    Path((_, user_id)): Path<(String, String)>,
    meta: RequestMeta,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user_id = user_id_of(&user_id)?;
    let input: MemberIn = json_body(&body)?;
    let (role, legacy) = normalise_role(&input.role).map_err(|e| {
        ApiError::invalid(format!(
            "unknown workspace role {:?}: MANAGER or MEMBER (legacy OWNER, USER, VIEWER are converted)",
            e.0
        ))
        .with_code("role_unknown")
    })?;
    let by = by(&state, &actor, meta);
    let id = w.id;
    let mut db = state.pool.get().await?;
    let result = db
        .transaction(|tx| {
            Box::pin(async move {
                match changes::set_member_role(tx, &by, id, user_id, role).await {
                    Ok(true) => Ok("changed"),
                    Ok(false) => Ok("unchanged"),
                    Err(ChangeError::Invalid("workspaces.not_member")) => {
                        changes::add_member(tx, &by, id, user_id, role).await?;
                        Ok("added")
                    }
                    Err(e) => Err(e),
                }
            })
        })
        .await
        .map_err(refused)?;
    Ok(Json(serde_json::json!({
        "user_id": user_id,
        "role": role,
        "legacy_role": legacy,
        "result": result,
    })))
}

pub async fn remove_member(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Extension(w): Extension<InWorkspace>,
    Path((_, user_id)): Path<(String, String)>,
    meta: RequestMeta,
) -> Result<StatusCode, ApiError> {
    let user_id = user_id_of(&user_id)?;
    let by = by(&state, &actor, meta);
    let mut db = state.pool.get().await?;
    db.transaction(|tx| {
        Box::pin(async move { changes::remove_member(tx, &by, w.id, user_id).await })
    })
    .await
    .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A change's refusal in the API: malformed values are 422; a user that
/// does not exist (or no longer) is 404; every other refusal is about the
/// workspace's present state (the address is taken, the last manager,
/// BASE, archived, not a member) and is 409. The code is the refusal's key.
fn refused(e: ChangeError) -> ApiError {
    match e {
        ChangeError::Invalid(
            key @ ("workspaces.slug_invalid"
            | "workspaces.name_invalid"
            | "workspaces.settings_invalid"),
        ) => ApiError::from(ChangeError::Invalid(key)),
        ChangeError::Invalid(key @ "workspaces.user_unavailable") => {
            ApiError::new(StatusCode::NOT_FOUND, key, crate::i18n::Lang::En.t(key))
        }
        ChangeError::Invalid(key) => {
            ApiError::new(StatusCode::CONFLICT, key, crate::i18n::Lang::En.t(key))
        }
        e => e.into(),
    }
}

fn user_id_of(raw: &str) -> Result<i64, ApiError> {
    crate::api::numbers::path_id(raw, "user")
}

/// A refusal inside the handler (a field the route's permission does not
/// cover): logged and audited with the workspace id, like the guard's.
async fn denied(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    w: &InWorkspace,
    permission: Permission,
) -> ApiError {
    let who = ActorRef::of(actor);
    tracing::warn!(actor = %who.label, workspace = w.id, permission = permission.key(), "API: workspace change denied");
    let event = Event::access_denied(
        "PATCH",
        &format!("/api/v1/workspaces/{}", w.id),
        permission.key(),
    )
    .workspace(w.id);
    if let Ok(mut db) = state.pool.get().await
        && let Err(e) =
            crate::audit::record_alone(&mut db, state.clock.now_primitive(), &who, meta, event)
                .await
    {
        tracing::error!(error = %e, "could not audit a denial");
    }
    ApiError::new(
        StatusCode::FORBIDDEN,
        "workspace_forbidden",
        format!(
            "this key, or the user it acts for, may not do this in this workspace ({})",
            permission.key()
        ),
    )
}
