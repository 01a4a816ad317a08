//! The bell's count and the notification list.

use std::collections::HashMap;

use askama::Template;
use axum::extract::Query;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::error::AppError;
use crate::metering::notify::{self, COUNT_CAP, Notification};
use crate::web::action::Call;
use crate::web::format::{date_time, group};
use crate::web::guard::redirect;
use crate::web::layout::PageCtx;
use crate::web::render::html;

const PAGE: i64 = 50;

pub struct Line {
    pub id: i64,
    pub unread: bool,
    pub text: String,
    pub href: Option<String>,
    pub at: String,
    pub level: &'static str,
}

#[derive(Template)]
#[template(path = "notifications/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub lines: Vec<Line>,
    pub newest: i64,
    pub any_unread: bool,
    pub more_href: Option<String>,
}

#[derive(Template)]
#[template(path = "notifications/count.html")]
pub struct Count<'a> {
    pub ctx: &'a PageCtx,
    pub count: String,
    pub unread: i64,
}

/// The sentence of one notification.
fn line(ctx: &PageCtx, n: &Notification, seen: i64, emails: &HashMap<i64, String>) -> Line {
    let d: serde_json::Value = serde_json::from_str(&n.details).unwrap_or_default();
    let text_of = |k: &str| {
        d.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let int_of = |k: &str| d.get(k).and_then(|v| v.as_i64()).unwrap_or_default();
    let who = n
        .subject_user_id
        .and_then(|id| emails.get(&id).cloned())
        .unwrap_or_else(|| "—".into());
    let kind = ctx
        .lang
        .get(&format!("usage.kind_{}", text_of("kind")))
        .unwrap_or_default()
        .to_lowercase();
    let text = ctx.lang.tf(
        &format!("notifications.{}", n.kind),
        &[
            ("user", &who),
            ("kind", &kind),
            ("used", &group(int_of("used"))),
            ("limit", &group(int_of("limit"))),
            ("period", &text_of("period")),
            ("invoice", &text_of("invoice")),
            (
                "amount",
                &crate::web::format::money(int_of("amount"), &text_of("currency")),
            ),
            ("queue", &text_of("queue")),
            ("message", &text_of("message")),
        ],
    );
    let payment = n.kind == "payment_failed";
    let job = n.kind.starts_with("job_");
    Line {
        id: n.id,
        unread: n.id > seen,
        text,
        href: if job {
            Some("/admin/jobs/alerts".to_owned())
        } else {
            n.subject_user_id.map(|id| {
                if payment {
                    format!("/admin/users/{id}/billing")
                } else {
                    format!("/admin/users/{id}/usage")
                }
            })
        },
        at: date_time(n.created_at),
        level: if payment || n.kind.ends_with("100") || n.kind == "job_alert" {
            "over"
        } else {
            "warn"
        },
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    before: Option<i64>,
}

pub async fn list(call: Call, Query(q): Query<ListQuery>) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let (mut rows, seen) = notify::list(&mut db, &call.actor, q.before, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let ids: Vec<i64> = rows.iter().filter_map(|n| n.subject_user_id).collect();
    let emails = crate::user_record::emails::emails_of(&mut db, &ids).await?;
    let lines: Vec<Line> = rows
        .iter()
        .map(|n| line(&call.ctx, n, seen, &emails))
        .collect();
    html(&ListPage {
        newest: <[Notification]>::first(&rows).map_or(seen, |n| n.id.max(seen)),
        any_unread: lines.iter().any(|l| l.unread),
        more_href: more
            .then(|| {
                rows.last()
                    .map(|n| format!("/admin/notifications?before={}", n.id))
            })
            .flatten(),
        lines,
        ctx: call.ctx,
    })
}

/// The bell's content: its count of unread notifications.
pub async fn count(call: Call) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let unread = notify::unread(&mut db, &call.actor).await?;
    let count = if unread >= COUNT_CAP {
        format!("{}+", COUNT_CAP - 1)
    } else {
        unread.to_string()
    };
    let body = Count {
        ctx: &call.ctx,
        count,
        unread,
    }
    .render()
    .map_err(AppError::internal)?;
    Ok(Html(body).into_response())
}

/// Marks everything shown read (up to the newest id the page showed, so a
/// notification arriving meanwhile stays unread).
pub async fn mark_read(
    call: Call,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let up_to: i64 = crate::web::form::field(&form, "up_to").parse().unwrap_or(0);
    let mut db = call.state.pool.get().await?;
    notify::mark_read(&mut db, call.actor.user_id, up_to).await?;
    Ok(redirect("/admin/notifications", call.htmx))
}
