//! `/admin`: a few figures and the latest events the user may see.
//! `/admin/audit`: the audit trail, newest first, filtered by actor,
//! target, action (or a whole area), outcome and dates, paginated by keyset
//! (`before` = last id seen), never by OFFSET.

use axum::extract::{Query, State};
use axum::response::Response;
use axum_htmx::HxRequest;

use crate::access::{Permission, can};
use crate::admin::audit_filter::{ACTOR_TYPES, Filters, TARGET_TYPES};
use crate::admin::store;
use crate::admin::views::{ActionGroup, AuditPage, ChainLine, Choice, DashboardPage};
use crate::audit::Action;
use crate::audit::chain;
use crate::audit::query::{self, EventFilter};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::web::current::SignedIn;
use crate::web::event_view::EventView;
use crate::web::format::group;
use crate::web::layout::PageCtx;
use crate::web::render::html;
use crate::web::table::{self, Chip};

const PAGE_SIZE: i64 = 50;

pub async fn dashboard(
    State(state): State<AppState>,
    ctx: PageCtx,
    SignedIn(actor): SignedIn,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let now = state.clock.now_primitive();
    let users = store::approximate_users(&mut db).await?;
    let sessions = store::live_sessions(&mut db, now - state.config.session_idle).await?;
    let denied_24h = store::denied_since(&mut db, now - time::Duration::days(1)).await?;
    let show_audit = can(&actor, Permission::AuditRead, None);
    let events = if show_audit {
        query::events(&mut db, &EventFilter::default(), 10)
            .await?
            .into_iter()
            .map(|r| EventView::of(ctx.lang, r))
            .collect()
    } else {
        Vec::new()
    };
    html(&DashboardPage {
        ctx,
        users,
        sessions,
        denied_24h,
        events,
        show_audit,
    })
}

/// The action filter's choices: each area, then its actions.
fn action_groups(lang: Lang, current: &str) -> Vec<ActionGroup> {
    let mut groups: Vec<ActionGroup> = Vec::new();
    for a in Action::ALL {
        let key = a.key();
        let area = key.split('.').next().unwrap_or(key);
        if groups.last().is_none_or(|g| g.area != area) && !groups.iter().any(|g| g.area == area) {
            let all = format!("{area}.");
            groups.push(ActionGroup {
                area: area.to_owned(),
                label: lang.get(&format!("area.{area}")).unwrap_or(area).to_owned(),
                all_selected: current == all,
                all_value: all,
                actions: Vec::new(),
            });
        }
        if let Some(g) = groups.iter_mut().find(|g| g.area == area) {
            g.actions.push(Choice {
                value: key.to_owned(),
                label: lang.get(&format!("action.{key}")).unwrap_or(key).to_owned(),
                selected: current == key,
            });
        }
    }
    groups
}

/// One chip per active filter, each removing it.
fn chips(lang: Lang, f: &Filters) -> Vec<Chip> {
    let mut out = Vec::new();
    for (key, value) in f.pairs() {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let shown = match key {
            "action" => lang
                .get(&format!("action.{value}"))
                .or_else(|| lang.get(&format!("area.{}", value.trim_end_matches('.'))))
                .unwrap_or(value)
                .to_owned(),
            "outcome" => lang
                .get(&format!("outcome.{value}"))
                .unwrap_or(value)
                .to_owned(),
            "target_type" => lang
                .get(&format!("kind.{value}"))
                .unwrap_or(value)
                .to_owned(),
            "actor_type" => lang
                .get(&format!("actor_type.{value}"))
                .unwrap_or(value)
                .to_owned(),
            _ => value.to_owned(),
        };
        let mut without = f.clone();
        match key {
            "q" => without.q.clear(),
            "actor" => without.actor.clear(),
            "actor_type" => without.actor_type.clear(),
            "client" => without.client.clear(),
            "ip" => without.ip.clear(),
            "target_type" => without.target_type.clear(),
            "target_id" => without.target_id.clear(),
            "action" => without.action.clear(),
            "outcome" => without.outcome.clear(),
            "from" => without.from.clear(),
            _ => without.to.clear(),
        }
        out.push(Chip {
            label: format!("{}: {shown}", lang.t(&format!("audit.filter_{key}"))),
            remove_href: table::href("/admin/audit", &without.query()),
        });
    }
    out
}

fn chain_line(lang: Lang, status: Option<super::chain_check::ChainStatus>) -> ChainLine {
    let Some(status) = status else {
        return ChainLine {
            class: "warn",
            text: lang.t("audit.chain_unchecked").to_owned(),
        };
    };
    let when = status
        .checked()
        .map(|t| crate::web::format::date_time(time::PrimitiveDateTime::new(t.date(), t.time())))
        .unwrap_or_default();
    match &status.verdict.broken {
        None => ChainLine {
            class: "ok",
            text: lang.tf(
                "audit.chain_ok",
                &[
                    ("n", &group(status.events)),
                    ("head", &status.verdict.head_seq.to_string()),
                    ("when", &when),
                ],
            ),
        },
        Some(b) => ChainLine {
            class: "error",
            text: lang.tf(
                "audit.chain_broken",
                &[
                    ("id", &b.id.to_string()),
                    (
                        "reason",
                        lang.t(&format!("audit.chain_reason.{}", b.reason)),
                    ),
                    ("when", &when),
                ],
            ),
        },
    }
}

pub async fn audit(
    State(state): State<AppState>,
    ctx: PageCtx,
    HxRequest(htmx): HxRequest,
    SignedIn(viewer): SignedIn,
    Query(f): Query<Filters>,
) -> Result<Response, AppError> {
    let lang = ctx.lang;
    let mut db = state.pool.get().await?;
    let action = f.action.trim();
    let resolved = f.resolve(&mut db).await?;
    let ip_problem = resolved.ip_problem;
    let found = match &resolved.filter {
        None => query::Found {
            rows: Vec::new(),
            stopped_at: None,
        },
        Some(filter) => query::events_page(&mut db, filter, PAGE_SIZE + 1).await?,
    };
    let mut rows = found.rows;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    // A search that stopped before filling the page goes on from where it
    // stopped, on request.
    let stopped_at = found.stopped_at.filter(|_| !more);
    let base = f.query();
    let next_href = more
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .or(stopped_at)
        .map(|last| {
            let q = if base.is_empty() {
                format!("before={last}")
            } else {
                format!("{base}&before={last}")
            };
            table::href("/admin/audit", &q)
        });
    let events = rows.into_iter().map(|r| EventView::of(lang, r)).collect();
    let outcomes = ["allowed", "denied"]
        .into_iter()
        .map(|o| Choice {
            value: o.to_owned(),
            label: lang.t(&format!("outcome.{o}")).to_owned(),
            selected: f.outcome.trim() == o,
        })
        .collect();
    let target_types = TARGET_TYPES
        .into_iter()
        .map(|t| Choice {
            value: t.to_owned(),
            label: lang.t(&format!("kind.{t}")).to_owned(),
            selected: f.target_type.trim() == t,
        })
        .collect();
    let actor_types = ACTOR_TYPES
        .into_iter()
        .map(|t| Choice {
            value: t.to_owned(),
            label: lang.t(&format!("actor_type.{t}")).to_owned(),
            selected: f.actor_type.trim() == t,
        })
        .collect();
    let page = AuditPage {
        stopped: stopped_at.map(|id| lang.tf("audit.stopped_at", &[("id", &id.to_string())])),
        ip_problem,
        can_export: can(&viewer, Permission::AuditExport, None),
        views: super::saved_views::list(&mut db, viewer.user_id).await?,
        actor_types,
        actions: action_groups(lang, action),
        outcomes,
        target_types,
        chips: chips(lang, &f),
        date_problem: f.date_problem(),
        first_page: (!f.before.is_empty()).then(|| table::href("/admin/audit", &base)),
        next_href,
        events,
        filters: f,
        chain: chain_line(lang, super::chain_check::status(&mut db).await?),
        retention: match state.config.audit_retention_days {
            None => lang.t("audit.retention_forever").to_owned(),
            Some(days) => lang.tf(
                "audit.retention_days",
                &[
                    ("days", &days.to_string()),
                    ("base", &chain::base_seq(&mut db).await?.to_string()),
                ],
            ),
        },
        ctx,
    };
    if htmx {
        return html(&page.as_results());
    }
    html(&page)
}
