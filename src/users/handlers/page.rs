//! `/admin/users/{id}`: one screen built from independent sections. Each
//! section is its own template rendered to HTML, so a later area (workspaces,
//! subscription, usage, jobs) adds a section without touching the others,
//! and an action re-renders just its section for htmx.

use crate::web::meta::IdPath;
use axum::extract::State;
use axum::response::Response;

use crate::access::Actor;
use crate::audit::query::{self, EventFilter};
use crate::db::Db;
use crate::error::AppError;
use crate::state::AppState;
use crate::user_record::model::User;
use crate::users::store;
use crate::users::views::*;
use crate::users::views::{Abilities, status_choices, status_label, type_choices, type_label};
use crate::web::current::SignedIn;
use crate::web::event_view::EventView;
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
                .map(|r| {
                    let held = held.contains(&r.key);
                    let label = r.label(lang).to_owned();
                    let confirm = if actor.user_id == u.id {
                        Some(lang.t("users.self_roles_confirm").to_owned())
                    } else if !held && r.key == crate::access::ADMIN_ROLE {
                        Some(lang.tf("users.grant_admin_confirm", &[("email", &u.email)]))
                    } else {
                        None
                    };
                    RoleLine {
                        held,
                        label,
                        key: r.key,
                        confirm,
                    }
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
        Part::Danger => Section::render(
            "section-danger",
            &DangerSection {
                ctx,
                u,
                can,
                form,
                is_self: actor.user_id == u.id,
            },
        ),
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

/// Events per history page.
const HISTORY_PAGE: i64 = 50;

/// Which history: what was done to the user, or what they did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Changes,
    Activity,
}

impl Side {
    fn key(self) -> &'static str {
        match self {
            Side::Changes => "changes",
            Side::Activity => "activity",
        }
    }
}

/// One page of a user's history, older than `before` when given.
async fn history<'a>(
    db: &mut Db,
    ctx: &'a PageCtx,
    user_id: i64,
    side: Side,
    before: Option<i64>,
) -> Result<AuditSection<'a>, AppError> {
    let mut filter = EventFilter {
        before,
        ..EventFilter::default()
    };
    match side {
        Side::Changes => filter.target = Some(("user".into(), user_id.to_string())),
        Side::Activity => filter.actor_id = Some(user_id),
    }
    let mut rows = query::events(db, &filter, HISTORY_PAGE + 1).await?;
    let more = rows.len() as i64 > HISTORY_PAGE;
    rows.truncate(HISTORY_PAGE as usize);
    let more_href = more
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .map(|last| {
            format!(
                "/admin/users/{user_id}/history?side={}&before={last}",
                side.key()
            )
        });
    Ok(AuditSection {
        ctx,
        side: side.key(),
        events: rows
            .into_iter()
            .map(|r| EventView::of(ctx.lang, r))
            .collect(),
        more_href,
        continued: before.is_some(),
    })
}

async fn audit(db: &mut Db, ctx: &PageCtx, u: &User, side: Side) -> Result<Section, AppError> {
    let id = if side == Side::Changes {
        "section-changes"
    } else {
        "section-activity"
    };
    let view = history(db, ctx, u.id, side, None).await?;
    Section::render(id, &view)
}

#[derive(serde::Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    side: String,
    #[serde(default)]
    before: String,
}

/// GET /admin/users/{id}/history: older events of one history (rows only).
pub async fn older(
    State(state): State<AppState>,
    ctx: PageCtx,
    IdPath(id): IdPath,
    axum::extract::Query(q): axum::extract::Query<HistoryQuery>,
) -> Result<Response, AppError> {
    let side = match q.side.as_str() {
        "activity" => Side::Activity,
        _ => Side::Changes,
    };
    let mut db = state.pool.get().await?;
    store::get(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let view = history(&mut db, &ctx, id, side, q.before.parse().ok()).await?;
    html(&view.as_rows())
}

/// The page's header (see [`HeaderSection`]).
pub async fn header(
    db: &mut Db,
    ctx: &PageCtx,
    actor: &Actor,
    u: &User,
) -> Result<Section, AppError> {
    let lang = ctx.lang;
    let can = Abilities::of(actor);
    let held = store::role_keys_of(db, u.id).await?;
    let roles = crate::access::roles::platform_roles(db)
        .await?
        .into_iter()
        .filter(|r| held.contains(&r.key))
        .map(|r| r.label(lang).to_owned())
        .collect();
    let mut anchors = vec![
        ("section-profile", lang.t("users.profile")),
        ("section-status", lang.t("users.status")),
        ("section-roles", lang.t("users.roles")),
        ("section-security", lang.t("users.security")),
    ];
    if can.workspaces {
        anchors.push(("section-workspaces", lang.t("users.workspaces")));
    }
    if can.usage {
        anchors.push(("section-usage", lang.t("usage.title")));
    }
    anchors.extend([
        ("section-logins", lang.t("users.sign_ins")),
        ("section-notes", lang.t("users.notes")),
    ]);
    if can.audit {
        anchors.push(("section-changes", lang.t("users.history")));
    }
    if can.delete || can.export {
        anchors.push(("section-danger", lang.t("users.data")));
    }
    Section::render(
        "user-header",
        &HeaderSection {
            ctx,
            u,
            title: if u.name.is_empty() {
                u.email.clone()
            } else {
                u.name.clone()
            },
            status_text: status_label(lang, u.status),
            type_text: type_label(lang, u.user_type),
            roles,
            created: date_time(u.created_at),
            last_login: u
                .last_login_at
                .map(date_time)
                .unwrap_or_else(|| lang.t("users.never").to_owned()),
            anchors,
        },
    )
}

/// What else an action on `part` changed on the page, marked to be
/// swapped out of band: the header (status, roles, name), the profile's
/// facts and the history, so no part of the page contradicts another.
pub async fn also_changed(
    db: &mut Db,
    ctx: &PageCtx,
    actor: &Actor,
    u: &User,
    part: Part,
) -> Result<String, AppError> {
    let mut out = header(db, ctx, actor, u).await?.out_of_band();
    if part != Part::Profile {
        let profile = section(db, ctx, actor, u, Part::Profile, FormState::default(), None).await?;
        out.push_str(&profile.out_of_band());
    }
    if Abilities::of(actor).audit {
        out.push_str(&audit(db, ctx, u, Side::Changes).await?.out_of_band());
    }
    Ok(out)
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
    if can.workspaces {
        let held = crate::user_record::memberships::of_user(db, u.id).await?;
        sections.push(Section::render(
            "section-workspaces",
            &WorkspacesSection { ctx: &ctx, held },
        )?);
    }
    if can.usage && u.deleted_at.is_none() {
        sections.push(Section::render(
            "section-usage",
            &UsagePlaceholder {
                ctx: &ctx,
                user_id: u.id,
            },
        )?);
    }
    if can.billing && u.deleted_at.is_none() {
        sections.push(Section::render(
            "section-billing",
            &BillingPlaceholder {
                ctx: &ctx,
                user_id: u.id,
            },
        )?);
    }
    if can.jobs && u.deleted_at.is_none() {
        sections.push(Section::render(
            "section-jobs",
            &JobsPlaceholder {
                ctx: &ctx,
                user_id: u.id,
            },
        )?);
    }
    if can.sessions && u.deleted_at.is_none() {
        sections.push(Section::render(
            "section-sessions",
            &SessionsPlaceholder {
                ctx: &ctx,
                user_id: u.id,
            },
        )?);
    }
    sections.push(logins(db, &ctx, u).await?);
    sections.push(section(db, &ctx, actor, u, Part::Notes, form_for(Part::Notes), None).await?);
    if can.audit {
        sections.push(audit(db, &ctx, u, Side::Changes).await?);
        sections.push(audit(db, &ctx, u, Side::Activity).await?);
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
    let header = header(db, &ctx, actor, u).await?;
    html(&UserPage {
        header,
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
