//! The role screens: the list, a role's page (its permissions by area, the
//! edit form for a custom role, its history), creation and deletion. A
//! refusal shows the form again with its message (422); success redirects.

use std::collections::HashSet;

use axum::Form;
use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

use super::changes::{self, Problem, RoleInput};
use super::store::{self, Role};
use super::views::*;
use crate::access::Permission;
use crate::error::AppError;
use crate::web::action::{Call, run};
use crate::web::event_view::{history, of_target};
use crate::web::format::date_time;
use crate::web::guard::redirect;
use crate::web::meta::IdPath;
use crate::web::render::{html, refused};

fn held(call: &Call) -> HashSet<Permission> {
    call.actor.platform_permissions.clone()
}

pub async fn list(call: Call) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let roles = store::all(&mut db).await?;
    let rows = roles
        .iter()
        .map(|r| RoleRow::of(call.ctx.lang, r))
        .collect();
    html(&ListPage {
        rows,
        ctx: call.ctx,
    })
}

fn blank_form(call: &Call, action: String, editing: bool, input: &RoleInput) -> RoleForm {
    let held = held(call);
    RoleForm {
        action,
        editing,
        name_en: input.name_en.clone(),
        name_fr: input.name_fr.clone(),
        areas: areas(call.ctx.lang, &input.permissions, Some(&held)),
        problems: Vec::new(),
    }
}

/// The form as typed, each problem translated.
fn typed_form(
    call: &Call,
    action: String,
    editing: bool,
    fields: &[(String, String)],
    problems: Vec<Problem>,
) -> RoleForm {
    let field = |k: &str| crate::web::form::field(fields, k);
    let held = held(call);
    RoleForm {
        action,
        editing,
        name_en: field("name_en"),
        name_fr: field("name_fr"),
        areas: areas(call.ctx.lang, &typed_permissions(fields), Some(&held)),
        problems: problems
            .into_iter()
            .map(|(f, key)| (f, call.ctx.tr(key).to_owned()))
            .collect(),
    }
}

pub async fn new(call: Call) -> Result<Response, AppError> {
    let empty = RoleInput {
        name_en: String::new(),
        name_fr: String::new(),
        permissions: [super::catalog::ALWAYS].into(),
    };
    html(&NewPage {
        form: blank_form(&call, "/admin/roles".into(), false, &empty),
        ctx: call.ctx,
    })
}

/// Where a refusal from the change belongs on the form.
fn field_of(key: &str) -> &'static str {
    match key {
        "roles.name_taken" => "name_en",
        _ => "permissions",
    }
}

pub async fn create(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let action = "/admin/roles".to_owned();
    let input = match changes::read(&fields) {
        Ok(i) => i,
        Err(problems) => {
            let form = typed_form(&call, action, false, &fields, problems);
            return refused(&NewPage {
                form,
                ctx: call.ctx,
            });
        }
    };
    let held = held(&call);
    let done = run(&call, move |tx, by| {
        Box::pin(async move { changes::create(tx, &by, &held, &input).await })
    })
    .await?;
    match done {
        Ok(id) => {
            call.state.roles.invalidate();
            Ok(redirect(&format!("/admin/roles/{id}?saved=1"), call.htmx))
        }
        Err(state) => {
            let key = state.error_key.unwrap_or("roles.escalation");
            let form = typed_form(&call, action, false, &fields, vec![(field_of(key), key)]);
            refused(&NewPage {
                form,
                ctx: call.ctx,
            })
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    saved: Option<String>,
}

/// Why `role` is shown read-only to this viewer, if it is.
fn locked_reason(call: &Call, role: &Role) -> Option<&'static str> {
    if role.built_in {
        Some("roles.built_in")
    } else if !role
        .permissions
        .iter()
        .all(|p| call.actor.platform_permissions.contains(p))
    {
        Some("roles.beyond_you")
    } else {
        None
    }
}

async fn role_page(
    call: &Call,
    id: i64,
    form: Option<RoleForm>,
    error: Option<String>,
    saved: bool,
) -> Result<RolePage, AppError> {
    let mut db = call.state.pool.get().await?;
    let role = store::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let history = history(&mut db, call.ctx.lang, &of_target("role", id), 50).await?;
    let locked = locked_reason(call, &role);
    let form = match locked {
        Some(_) => None,
        None => form.or_else(|| {
            let input = RoleInput {
                name_en: role.name_en.clone(),
                name_fr: role.name_fr.clone(),
                permissions: role.permissions.clone(),
            };
            Some(blank_form(call, format!("/admin/roles/{id}"), true, &input))
        }),
    };
    Ok(RolePage {
        row: RoleRow::of(call.ctx.lang, &role),
        updated: role.updated_at.map(date_time).unwrap_or_default(),
        areas: areas(call.ctx.lang, &role.permissions, None),
        form,
        locked_reason: locked,
        saved,
        error,
        history,
        ctx: call.ctx.clone(),
    })
}

pub async fn page(
    call: Call,
    IdPath(id): IdPath,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    html(&role_page(&call, id, None, None, q.saved.is_some()).await?)
}

pub async fn update(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let action = format!("/admin/roles/{id}");
    let input = match changes::read(&fields) {
        Ok(i) => i,
        Err(problems) => {
            let form = typed_form(&call, action, true, &fields, problems);
            return refused(&role_page(&call, id, Some(form), None, false).await?);
        }
    };
    let held = held(&call);
    let done = run(&call, move |tx, by| {
        Box::pin(async move { changes::update(tx, &by, &held, id, &input).await })
    })
    .await?;
    match done {
        Ok(_) => {
            call.state.roles.invalidate();
            Ok(redirect(&format!("/admin/roles/{id}?saved=1"), call.htmx))
        }
        Err(state) => {
            let key = state.error_key.unwrap_or("roles.escalation");
            let form = typed_form(&call, action, true, &fields, vec![(field_of(key), key)]);
            refused(&role_page(&call, id, Some(form), None, false).await?)
        }
    }
}

pub async fn delete(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let held = held(&call);
    let done = run(&call, move |tx, by| {
        Box::pin(async move { changes::delete(tx, &by, &held, id).await })
    })
    .await?;
    match done {
        Ok(()) => {
            call.state.roles.invalidate();
            call.session
                .insert(crate::web::layout::FLASH, call.ctx.tr("roles.deleted"))
                .await?;
            Ok(redirect("/admin/roles", call.htmx))
        }
        Err(state) => refused(&role_page(&call, id, None, state.error, false).await?),
    }
}
