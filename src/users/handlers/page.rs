//! `/admin/users/{id}`: one screen built from independent sections. Each
//! section is its own template rendered to HTML, so a later area (workspaces,
//! subscription, usage, jobs) adds a section without touching the others,
//! and an action re-renders just its section for htmx.

use crate::web::meta::IdPath;
use axum::extract::State;
use axum::response::Response;

use crate::access::Actor;
use crate::db::Db;
use crate::error::AppError;
use crate::state::AppState;
use crate::user_record::model::User;
use crate::users::store;
use crate::users::views::*;
use crate::users::views::{Abilities, status_choices, status_label, type_choices, type_label};
use crate::web::current::SignedIn;
use crate::web::form::FormState;
use crate::web::format::{date_time, opt_date_time, user_agent};
use crate::web::layout::PageCtx;
use crate::web::render::html;
use crate::web::section::Section;

/// Which section an action re-renders, with the form state to show in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Profile,
    Status,
    Roles,
    Security,
    Notes,
    Danger,
}

/// Renders one section (after an action, or for the page).
pub async fn section(
    db: &mut Db,
    ctx: &PageCtx,
    actor: &Actor,
    u: &User,
    part: Part,
    form: FormState,
    notice: Option<String>,
) -> Result<Section, AppError> {
    let lang = ctx.lang;
    let can = Abilities::of(actor);
    match part {
        Part::Profile => Section::render(
            "section-profile",
            &ProfileSection {
                ctx,
                u,
                can,
                types: type_choices(
                    lang,
                    form.value("user_type").unwrap_or(u.user_type.as_str()),
                ),
                form,
                status_text: status_label(lang, u.status),
                type_text: type_label(lang, u.user_type),
                created: date_time(u.created_at),
                last_login: u
                    .last_login_at
                    .map(date_time)
                    .unwrap_or_else(|| lang.t("users.never").to_owned()),
                status_changed: opt_date_time(u.status_changed_at),
            },
        ),
        Part::Status => Section::render(
            "section-status",
            &StatusSection {
                ctx,
                u,
                can,
                statuses: status_choices(lang, u.status.as_str(), false),
                form,
                status_text: status_label(lang, u.status),
            },
        ),
        Part::Roles => {
            let held = store::role_keys_of(db, u.id).await?;
            let roles = crate::access::roles::platform_roles(db)
                .await?
                .into_iter()
                .map(|r| RoleLine {
                    held: held.contains(&r.key),
                    label: r.label(lang).to_owned(),
                    key: r.key,
                })
                .collect();
            Section::render(
                "section-roles",
                &RolesSection {
                    ctx,
                    u,
                    can,
                    form,
                    roles,
                    is_self: actor.user_id == u.id,
                },
            )
        }
        Part::Security => Section::render(
            "section-security",
            &SecuritySection {
                ctx,
                u,
                can,
                notice,
                is_self: actor.user_id == u.id,
            },
        ),
        Part::Notes => {
            let notes = store::notes(db, u.id)
                .await?
                .into_iter()
                .map(|n| NoteLine {
                    author: n.author_label,
                    at: date_time(n.created_at),
                    body: n.body,
                })
                .collect();
            Section::render(
                "section-notes",
                &NotesSection {
                    ctx,
                    u,
                    can,
                    form,
                    notes,
                },
            )
        }
        Part::Danger => Section::render("section-danger", &DangerSection { ctx, u, can, form }),
    }
}

async fn logins(db: &mut Db, ctx: &PageCtx, u: &User) -> Result<Section, AppError> {
    let lines = store::login_history(db, u.id, 50)
        .await?
        .into_iter()
        .map(|l| {
            let label = |prefix: &str, value: String| {
                ctx.lang
                    .get(&format!("{prefix}.{value}"))
                    .map(str::to_owned)
                    .unwrap_or(value)
            };
            let ua = l.user_agent.unwrap_or_default();
            LoginLine {
                at: date_time(l.at),
                ip: l.ip.unwrap_or_default(),
                device: user_agent(&ua),
                user_agent: ua,
                client_id: label("client", l.client_id),
                event: label("login_event", l.event),
                success: l.success,
                reason: l
                    .reason
                    .map(|r| label("login_reason", r))
                    .unwrap_or_default(),
            }
        })
        .collect();
    Section::render("section-logins", &LoginsSection { ctx, lines })
}

async fn audit(db: &mut Db, ctx: &PageCtx, u: &User) -> Result<Section, AppError> {
    let lines = store::audit_history(db, u.id, 50)
        .await?
        .into_iter()
        .map(|a| AuditLine {
            at: date_time(a.at),
            actor: a.actor_label,
            action: a.action,
            outcome: a.outcome.as_str().into(),
            details: a.details,
        })
        .collect();
    Section::render("section-audit", &AuditSection { ctx, lines })
}

/// The whole page, with `form` shown in the section `part` when given.
pub async fn full(
    db: &mut Db,
    ctx: PageCtx,
    actor: &Actor,
    u: &User,
    shown: Option<(Part, FormState)>,
) -> Result<Response, AppError> {
    let can = Abilities::of(actor);
    let form_for = |p: Part| {
        shown
            .as_ref()
            .filter(|(sp, _)| *sp == p)
            .map(|(_, f)| f.clone())
            .unwrap_or_default()
    };
    // The page order; the log-in history and the audit trail are read-only.
    let mut sections = Vec::new();
    for part in [Part::Profile, Part::Status, Part::Roles, Part::Security] {
        sections.push(section(db, &ctx, actor, u, part, form_for(part), None).await?);
    }
    sections.push(logins(db, &ctx, u).await?);
    sections.push(section(db, &ctx, actor, u, Part::Notes, form_for(Part::Notes), None).await?);
    if can.audit {
        sections.push(audit(db, &ctx, u).await?);
    }
    if can.delete || can.export {
        sections.push(
            section(
                db,
                &ctx,
                actor,
                u,
                Part::Danger,
                form_for(Part::Danger),
                None,
            )
            .await?,
        );
    }
    let title = if u.name.is_empty() {
        u.email.clone()
    } else {
        u.name.clone()
    };
    html(&UserPage {
        ctx,
        title,
        deleted: u.deleted_at.is_some(),
        erased: u.erased_at.is_some(),
        sections,
    })
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    SignedIn(actor): SignedIn,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let user = store::get(&mut db, id).await?.ok_or(AppError::NotFound)?;
    full(&mut db, ctx, &actor, &user, None).await
}
