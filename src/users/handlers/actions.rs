//! Changes from the user page. Each handler validates, runs the change and
//! its audit event in one transaction, and answers with the re-rendered
//! section (htmx) or the page (no JavaScript); refusals show inline, 422.

use crate::web::meta::IdPath;
use axum::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::audit::{Action, Event};
use crate::db::types::{TokenPurpose, UserStatus, UserType};
use crate::error::AppError;
use crate::tasks::{Kind, NewTask};
use crate::users::changes::{self, ProfileInput};
use crate::users::handlers::page::{self, Part};
use crate::users::store;
use crate::web::action::{Call, run, start_task};
use crate::web::form::FormState;
use crate::web::guard::redirect;
use crate::web::layout::{FLASH, PageCtx};
use crate::web::render::with_toast;
use serde_json::json;

/// The answer to an action: the section again (htmx) or the page.
pub async fn answer(
    call: Call,
    id: i64,
    part: Part,
    outcome: Result<Option<String>, FormState>,
) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let user = store::get(&mut db, id).await?.ok_or(AppError::NotFound)?;
    match outcome {
        Ok(message) => {
            if call.htmx {
                let section = page::section(
                    &mut db,
                    &call.ctx,
                    &call.actor,
                    &user,
                    part,
                    FormState::default(),
                    message.clone(),
                )
                .await?;
                let also = page::also_changed(&mut db, &call.ctx, &call.actor, &user, part).await?;
                let response = Html(section.html + &also).into_response();
                Ok(match message {
                    Some(m) => with_toast(response, "success", &m),
                    None => response,
                })
            } else {
                if let Some(m) = message {
                    call.session.insert(FLASH, m).await?;
                }
                Ok(redirect(&format!("/admin/users/{id}"), false))
            }
        }
        Err(form) => {
            if call.htmx {
                let section =
                    page::section(&mut db, &call.ctx, &call.actor, &user, part, form, None).await?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(section.html)).into_response())
            } else {
                let r =
                    page::full(&mut db, call.ctx, &call.actor, &user, Some((part, form))).await?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, r).into_response())
            }
        }
    }
}

fn refused(
    ctx: &PageCtx,
    field: Option<&'static str>,
    key: &'static str,
    values: Vec<(&'static str, String)>,
) -> FormState {
    FormState::refused(ctx, field, key).with_values(values)
}

fn done(ctx: &PageCtx, changed: bool, key: &'static str) -> Option<String> {
    Some(
        ctx.tr(if changed {
            key
        } else {
            "users.nothing_changed"
        })
        .to_owned(),
    )
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    user_type: String,
}

pub async fn profile(
    call: Call,
    IdPath(id): IdPath,
    Form(f): Form<ProfileForm>,
) -> Result<Response, AppError> {
    let values = vec![
        ("email", f.email.clone()),
        ("name", f.name.clone()),
        ("company", f.company.clone()),
        ("user_type", f.user_type.clone()),
    ];
    let Some(user_type) = UserType::parse(&f.user_type) else {
        let form = refused(&call.ctx, Some("user_type"), "users.bad_type", values);
        return answer(call, id, Part::Profile, Err(form)).await;
    };
    let input = ProfileInput {
        name: f.name,
        email: f.email,
        company: f.company,
        user_type,
    };
    if let Err((field, key)) = changes::validate_profile(&input) {
        let form = refused(&call.ctx, Some(field), key, values);
        return answer(call, id, Part::Profile, Err(form)).await;
    }
    let outcome = match run(&call, |db, by| {
        Box::pin(async move { changes::update_profile(db, &by, id, &input).await })
    })
    .await?
    {
        Ok(changed) => Ok(done(&call.ctx, changed, "users.saved")),
        Err(mut form) => {
            form.field = Some("email");
            form.values = values;
            Err(form)
        }
    };
    answer(call, id, Part::Profile, outcome).await
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

pub async fn status(
    call: Call,
    IdPath(id): IdPath,
    Form(f): Form<StatusForm>,
) -> Result<Response, AppError> {
    let values = vec![("reason", f.reason.clone())];
    let Some(status) = UserStatus::parse(&f.status) else {
        let form = refused(&call.ctx, Some("status"), "users.bad_status", values);
        return answer(call, id, Part::Status, Err(form)).await;
    };
    if f.reason.trim().is_empty() {
        let form = refused(&call.ctx, Some("reason"), "users.reason_required", values);
        return answer(call, id, Part::Status, Err(form)).await;
    }
    let reason = f.reason;
    let outcome = run(&call, |db, by| {
        Box::pin(async move { changes::set_status(db, &by, id, status, &reason).await })
    })
    .await?
    .map(|changed| done(&call.ctx, changed, "users.status_changed"))
    .map_err(|mut form| {
        form.values = values;
        form
    });
    answer(call, id, Part::Status, outcome).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    confirm_self: String,
}

pub async fn roles(
    call: Call,
    IdPath(id): IdPath,
    Form(f): Form<RoleForm>,
) -> Result<Response, AppError> {
    let grant = match f.op.as_str() {
        "grant" => true,
        "remove" => false,
        _ => {
            let form = refused(&call.ctx, None, "users.bad_request", vec![]);
            return answer(call, id, Part::Roles, Err(form)).await;
        }
    };
    let is_self = call.actor.user_id == id;
    if is_self && f.confirm_self != "yes" {
        let form = refused(&call.ctx, None, "users.self_roles_confirm", vec![]);
        return answer(call, id, Part::Roles, Err(form)).await;
    }
    let role = f.role;
    let held = call.actor.platform_permissions.clone();
    let outcome = run(&call, |db, by| {
        Box::pin(async move { changes::set_role(db, &by, &held, id, &role, grant).await })
    })
    .await?
    .map(|changed| {
        done(
            &call.ctx,
            changed,
            if grant {
                "users.role_granted"
            } else {
                "users.role_removed"
            },
        )
    });
    if is_self && matches!(outcome, Ok(Some(_))) {
        // Own privileges changed: a new session id, like at sign-in.
        call.session.cycle_id().await?;
    }
    answer(call, id, Part::Roles, outcome).await
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
}

pub async fn note(
    call: Call,
    IdPath(id): IdPath,
    Form(f): Form<NoteForm>,
) -> Result<Response, AppError> {
    let values = vec![("body", f.body.clone())];
    let body = f.body;
    let outcome = run(&call, |db, by| {
        Box::pin(async move { changes::add_note(db, &by, id, &body).await })
    })
    .await?
    .map(|_| done(&call.ctx, true, "users.note_added"))
    .map_err(|mut form| {
        form.values = values;
        form
    });
    answer(call, id, Part::Notes, outcome).await
}

pub async fn reset_totp(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let outcome = run(&call, |db, by| {
        Box::pin(async move { changes::reset_totp(db, &by, id).await })
    })
    .await?
    .map(|_| done(&call.ctx, true, "users.totp_was_reset"));
    if outcome.is_ok() && id == call.actor.user_id {
        // Their own: every session of theirs just ended, this one too.
        return Ok(redirect("/login?notice=totp_reset", call.htmx));
    }
    answer(call, id, Part::Security, outcome).await
}

pub async fn password_reset(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let config = call.state.config.clone();
    let outcome = run(&call, |db, by| {
        Box::pin(async move {
            changes::issue_link(db, &by, id, TokenPurpose::PasswordReset, &|p| {
                config.link(p)
            })
            .await
        })
    })
    .await?
    .map(|_| done(&call.ctx, true, "users.reset_sent"));
    answer(call, id, Part::Security, outcome).await
}

pub async fn delete(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let outcome = run(&call, |db, by| {
        Box::pin(async move { changes::soft_delete(db, &by, id).await })
    })
    .await?;
    match outcome {
        Ok(_) => {
            call.session
                .insert(FLASH, call.ctx.tr("users.deleted"))
                .await?;
            Ok(redirect("/admin/users", call.htmx))
        }
        Err(form) => answer(call, id, Part::Danger, Err(form)).await,
    }
}

pub async fn restore(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let outcome = run(&call, |db, by| {
        Box::pin(async move { changes::restore(db, &by, id).await })
    })
    .await?;
    reload_after(call, id, outcome, "users.restored").await
}

/// After a change that alters the whole page (restore, erase): the page
/// again, with the message (a redirect, so a reload never posts twice);
/// a refusal stays inline in the section.
async fn reload_after<T>(
    call: Call,
    id: i64,
    outcome: Result<T, FormState>,
    key: &'static str,
) -> Result<Response, AppError> {
    match outcome {
        Ok(_) => {
            call.session.insert(FLASH, call.ctx.tr(key)).await?;
            Ok(redirect(&format!("/admin/users/{id}"), call.htmx))
        }
        Err(form) => answer(call, id, Part::Danger, Err(form)).await,
    }
}

#[derive(Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    confirm_email: String,
}

pub async fn erase(
    call: Call,
    IdPath(id): IdPath,
    Form(f): Form<EraseForm>,
) -> Result<Response, AppError> {
    let typed = f.confirm_email;
    let outcome = run(&call, |db, by| {
        Box::pin(async move { changes::erase(db, &by, id, &typed).await })
    })
    .await?;
    reload_after(call, id, outcome, "users.erased").await
}

/// POST /admin/users/{id}/export: starts the GDPR access document (a
/// task, audited with the start), then shows its progress and download.
pub async fn export(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    store::get(&mut db, id).await?.ok_or(AppError::NotFound)?;
    drop(db);
    let now = call.state.clock.now_primitive();
    let task = NewTask::new(Kind::UserGdprExport, json!({ "user_id": id }), now);
    let exported = Event::new(Action::UserExported).target("user", id);
    let task_id = start_task(&call, task, json!({ "user_id": id }), Some(exported)).await?;
    Ok(redirect(&format!("/admin/tasks/{task_id}"), call.htmx))
}
