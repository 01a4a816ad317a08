//! `/admin/audit`: the audit trail, newest first, filtered by outcome and
//! action, paginated by keyset (`before` = last id seen), never by OFFSET.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum_htmx::HxRequest;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::audit_events;
use crate::db::types::{ActorType, Outcome};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::layout::PageCtx;
use crate::web::render::html;

const PAGE_SIZE: i64 = 50;

pub struct EventView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    pub ip: String,
    pub client_id: String,
    pub request_id: String,
    pub details: String,
}

type Row = (
    i64,
    PrimitiveDateTime,
    ActorType,
    String,
    String,
    Option<String>,
    Option<String>,
    Outcome,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn view(r: Row) -> EventView {
    let (id, at, _kind, actor, action, tt, tid, outcome, ip, client, rid, details) = r;
    EventView {
        id,
        at: format!(
            "{} {:02}:{:02}:{:02}",
            at.date(),
            at.hour(),
            at.minute(),
            at.second()
        ),
        actor,
        action,
        target: match (tt, tid) {
            (Some(t), Some(i)) => format!("{t} {i}"),
            (Some(t), None) => t,
            _ => String::new(),
        },
        outcome,
        ip: ip.unwrap_or_default(),
        client_id: client.unwrap_or_default(),
        request_id: rid.unwrap_or_default(),
        details,
    }
}

macro_rules! event_columns {
    () => {
        (
            audit_events::id,
            audit_events::at,
            audit_events::actor_type,
            audit_events::actor_label,
            audit_events::action,
            audit_events::target_type,
            audit_events::target_id,
            audit_events::outcome,
            audit_events::ip,
            audit_events::client_id,
            audit_events::request_id,
            audit_events::details,
        )
    };
}

pub async fn latest(db: &mut Db, n: i64) -> Result<Vec<EventView>, AppError> {
    let rows: Vec<Row> = crate::db_run!(db, |c| audit_events::table
        .order(audit_events::id.desc())
        .select(event_columns!())
        .limit(n)
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(view).collect())
}

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    before: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html", blocks = ["rows"])]
struct AuditPage {
    ctx: PageCtx,
    events: Vec<EventView>,
    outcome: String,
    action: String,
    next_before: Option<i64>,
    query_base: String,
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    HxRequest(htmx): HxRequest,
    Query(f): Query<Filters>,
) -> Result<Response, AppError> {
    let outcome = Outcome::parse(f.outcome.trim());
    let action: String = f.action.trim().chars().take(100).collect();
    let mut db = state.pool.get().await?;
    let rows: Vec<Row> = crate::db_run!(&mut db, |c| {
        let mut q = audit_events::table
            .order(audit_events::id.desc())
            .select(event_columns!())
            .limit(PAGE_SIZE + 1)
            .into_boxed();
        if let Some(o) = outcome {
            q = q.filter(audit_events::outcome.eq(o));
        }
        if !action.is_empty() {
            q = q.filter(audit_events::action.eq(action.clone()));
        }
        if let Ok(b) = f.before.parse::<i64>() {
            q = q.filter(audit_events::id.lt(b));
        }
        q.load(c).await
    })?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let events: Vec<EventView> = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(view)
        .collect();
    let next_before = if more {
        events.last().map(|e| e.id)
    } else {
        None
    };
    let query_base = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("outcome", outcome.map(|o| o.as_str()).unwrap_or(""))
        .append_pair("action", &action)
        .finish();
    let page = AuditPage {
        ctx,
        events,
        outcome: outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
        action,
        next_before,
        query_base,
    };
    if htmx {
        return html(&page.as_rows());
    }
    html(&page)
}
