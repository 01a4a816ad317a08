//! `/admin/audit/denied`: the recent denials at a glance: grouped by actor,
//! by address and by route, with their counts per hour, so an attack or a
//! role that lacks a permission shows at once. Reads the newest denials of
//! the window (up to [`READ`]), newest first through `(outcome, id)`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{Duration, PrimitiveDateTime};

use crate::audit::anonymous::path_group;
use crate::db::schema::audit_events;
use crate::db::types::Outcome;
use crate::db_run;
use crate::error::AppError;
use crate::web::action::Call;
use crate::web::format::group;
use crate::web::layout::PageCtx;
use crate::web::render::html;

/// Denials read at most for one view (the figures say when it is capped).
pub const READ: i64 = 20_000;
/// Rows of each grouping.
const TOP: usize = 10;

pub struct Grouped {
    pub label: String,
    pub href: Option<String>,
    pub count: String,
}

pub struct HourBar {
    pub x: i64,
    pub h: i64,
    pub title: String,
}

#[derive(Template)]
#[template(path = "admin/denied.html")]
pub struct DeniedPage {
    pub ctx: PageCtx,
    pub week: bool,
    pub total: String,
    pub capped: bool,
    /// (title's i18n key, table id, rows)
    pub groupings: Vec<(&'static str, &'static str, Vec<Grouped>)>,
    pub bars: Vec<HourBar>,
    pub bar_width: i64,
    pub max: i64,
}

type Row = (
    PrimitiveDateTime,
    Option<i64>,
    String,
    Option<String>,
    String,
    String,
);

/// A denial's weight (summed anonymous repeats count as many) and route.
fn weight_and_route(action: &str, details: &str) -> (i64, String) {
    let d: serde_json::Value = serde_json::from_str(details).unwrap_or_default();
    let n = d
        .get("repeats")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(1)
        .max(1);
    let route = match (
        d.get("method").and_then(|v| v.as_str()),
        d.get("path").and_then(|v| v.as_str()),
    ) {
        (Some(m), Some(p)) => format!("{m} {}", path_group(p)),
        (None, Some(p)) => path_group(p),
        _ => match d.get("path_group").and_then(|v| v.as_str()) {
            Some(g) => g.to_owned(),
            None => action.to_owned(),
        },
    };
    (n, route)
}

fn top(map: HashMap<(String, Option<String>), i64>) -> Vec<Grouped> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.0.cmp(&b.0.0)));
    v.into_iter()
        .take(TOP)
        .map(|((label, href), n)| Grouped {
            label,
            href,
            count: group(n),
        })
        .collect()
}

pub async fn denied(
    call: Call,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let week = q.iter().any(|(k, v)| k == "range" && v == "7d");
    let hours: i64 = if week { 168 } else { 24 };
    let now = call.state.clock.now_primitive();
    let since = now - Duration::hours(hours);
    let mut db = call.state.pool.get().await?;
    let rows: Vec<Row> = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::outcome.eq(Outcome::Denied))
        .filter(audit_events::at.ge(since))
        .order(audit_events::id.desc())
        .limit(READ)
        .select((
            audit_events::at,
            audit_events::actor_id,
            audit_events::actor_label,
            audit_events::ip,
            audit_events::action,
            audit_events::details,
        ))
        .load(c)
        .await)?;
    drop(db);
    let capped = rows.len() as i64 >= READ;
    let (mut by_actor, mut by_ip, mut by_route) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut per_hour = vec![0i64; hours as usize];
    let mut total = 0;
    for (at, actor_id, label, ip, action, details) in rows {
        let (n, route) = weight_and_route(&action, &details);
        total += n;
        let href = actor_id.map(|id| format!("/admin/audit?outcome=denied&actor={id}"));
        *by_actor.entry((label, href)).or_insert(0) += n;
        *by_ip
            .entry((ip.unwrap_or_else(|| "–".to_owned()), None))
            .or_insert(0) += n;
        *by_route.entry((route, None)).or_insert(0) += n;
        let h = ((at - since).whole_hours()).clamp(0, hours - 1) as usize;
        per_hour[h] += n;
    }
    let max = per_hour.iter().copied().max().unwrap_or(0).max(1);
    let width = 720 / hours;
    let bars = per_hour
        .iter()
        .enumerate()
        .map(|(i, n)| HourBar {
            x: i as i64 * 720 / hours,
            h: n * 120 / max,
            title: format!("{} h: {n}", i as i64 - hours),
        })
        .collect();
    html(&DeniedPage {
        week,
        total: group(total),
        capped,
        groupings: vec![
            ("denied.by_actor", "by-actor", top(by_actor)),
            ("denied.by_ip", "by-ip", top(by_ip)),
            ("denied.by_route", "by-route", top(by_route)),
        ],
        bars,
        bar_width: (width - 1).max(1),
        max,
        ctx: call.ctx,
    })
}

#[cfg(test)]
mod tests {
    use super::weight_and_route;

    #[test]
    fn routes_fold_and_repeats_weigh() {
        assert_eq!(
            weight_and_route(
                "access.denied",
                r#"{"method":"POST","path":"/admin/users/42/status","permission":"users.write"}"#
            ),
            (1, "POST /admin/users/{n}".to_owned())
        );
        assert_eq!(
            weight_and_route("access.denied", r#"{"path_group":"/admin","repeats":7}"#),
            (7, "/admin".to_owned())
        );
        assert_eq!(
            weight_and_route("auth.sign_in_failed", r#"{"reason":"password"}"#),
            (1, "auth.sign_in_failed".to_owned())
        );
    }
}
