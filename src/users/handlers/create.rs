//! Creating a user by hand: a pending account with its roles, and an
//! invitation link (shown here and mailed) to choose a password.

use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::access::{Permission, can};
use crate::change::ChangeError;
use crate::db::types::{TokenPurpose, UserType};
use crate::error::AppError;
use crate::users::changes::{self, NewUserInput, ProfileInput};
use crate::users::views::{Choice, CreatedPage, NewPage, type_choices};
use crate::web::action::Call;
use crate::web::form::{all, field};
use crate::web::render::html;

async fn role_choices(call: &Call, selected: &[String]) -> Result<Vec<Choice>, AppError> {
    let mut db = call.state.pool.get().await?;
    Ok(call
        .state
        .roles
        .platform_roles(&mut db, call.state.clock.now())
        .await?
        .into_iter()
        .map(|r| Choice {
            selected: selected.contains(&r.key),
            label: r.label(call.ctx.lang).to_owned(),
            value: r.key,
        })
        .collect())
}

pub async fn form(call: Call) -> Result<Response, AppError> {
    let roles = role_choices(&call, &[]).await?;
    let can_roles = can(&call.actor, Permission::RolesManage, None);
    let types = type_choices(call.ctx.lang, UserType::External.as_str());
    html(&NewPage {
        ctx: call.ctx,
        error: None,
        field: None,
        email: String::new(),
        name: String::new(),
        company: String::new(),
        types,
        roles,
        can_roles,
    })
}

pub async fn submit(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let get = |k: &str| field(&fields, k);
    let can_roles = can(&call.actor, Permission::RolesManage, None);
    // Roles need roles.manage: without it, none are taken from the form.
    let roles: Vec<String> = if can_roles {
        all(&fields, "roles").map(str::to_owned).collect()
    } else {
        Vec::new()
    };
    let type_text = get("user_type");
    let profile = ProfileInput {
        email: get("email"),
        name: get("name"),
        company: get("company"),
        user_type: UserType::parse(&type_text).unwrap_or(UserType::External),
    };
    let mut problem = changes::validate_profile(&profile).err();
    if problem.is_none() && profile.name.trim().is_empty() {
        problem = Some(("name", "users.name_required"));
    }
    let outcome = match problem {
        Some((field, key)) => Err((Some(field), key)),
        None => {
            let input = NewUserInput {
                profile,
                roles: roles.clone(),
                held: call.actor.platform_permissions.clone(),
            };
            let config = call.state.config.clone();
            let by = call.by();
            let mut db = call.state.pool.get().await?;
            let result = db
                .transaction(|db| {
                    Box::pin(async move {
                        let id = changes::create(db, &by, &input).await?;
                        let link = changes::issue_link(db, &by, id, TokenPurpose::Invite, &|p| {
                            config.link(p)
                        })
                        .await?;
                        Ok::<_, ChangeError>((id, input.profile.email, link))
                    })
                })
                .await;
            match result {
                Ok(created) => Ok(created),
                Err(ChangeError::Invalid(key)) => Err((Some("email"), key)),
                Err(ChangeError::NotFound) => return Err(AppError::NotFound),
                Err(ChangeError::Db(e)) => return Err(e.into()),
            }
        }
    };
    match outcome {
        Ok((id, email, link)) => html(&CreatedPage {
            ctx: call.ctx,
            id,
            email: email.trim().to_owned(),
            link,
        }),
        Err((field, key)) => {
            let roles = role_choices(&call, &roles).await?;
            let page = NewPage {
                error: Some(call.ctx.tr(key).to_owned()),
                field,
                email: get("email"),
                name: get("name"),
                company: get("company"),
                types: type_choices(call.ctx.lang, &type_text),
                roles,
                can_roles,
                ctx: call.ctx,
            };
            html(&page).map(|r| (StatusCode::UNPROCESSABLE_ENTITY, r).into_response())
        }
    }
}
