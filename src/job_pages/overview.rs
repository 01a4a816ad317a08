//! GET /admin/jobs: every queue at a glance: jobs per state, workers
//! online, paused or not, the oldest waiting job's age, and the last
//! hour's throughput and failure rate from the failure index.

use askama::Template;
use axum::response::Response;

use super::view::{age_ms, problem, urlencoding};
use crate::access::{Permission, can};
use crate::error::AppError;
use crate::jobs::read::{self, QueueOverview};
use crate::jobs::stats;
use crate::web::action::Call;
use crate::web::format::group;
use crate::web::layout::PageCtx;
use crate::web::render::html;

pub struct QueueCard {
    pub name: String,
    pub href_name: String,
    /// (state, label, count, grouped count)
    pub counts: Vec<(&'static str, String, String)>,
    pub workers: usize,
    pub paused: bool,
    pub oldest_age: String,
    pub completed_hour: String,
    pub failed_hour: String,
    pub failure_rate: String,
}

#[derive(Template)]
#[template(path = "jobs/overview.html")]
pub struct OverviewPage {
    pub ctx: PageCtx,
    pub cards: Vec<QueueCard>,
    pub problem: Option<String>,
    pub can_write: bool,
}

fn card(
    ctx: &PageCtx,
    q: QueueOverview,
    hour: Option<&stats::Window>,
    now: time::OffsetDateTime,
) -> QueueCard {
    let (completed, failed) = hour.map_or((0, 0), |w| (w.completed, w.failed));
    QueueCard {
        href_name: urlencoding(&q.name),
        counts: q
            .counts
            .iter()
            .map(|(s, n)| {
                (
                    *s,
                    ctx.tr(&format!("jobs.state_{s}")).to_owned(),
                    group(*n as i64),
                )
            })
            .collect(),
        workers: q.workers,
        paused: q.paused,
        oldest_age: age_ms(q.oldest_waiting_ms, now),
        completed_hour: group(completed),
        failed_hour: group(failed),
        failure_rate: stats::rate_text(completed, failed),
        name: q.name,
    }
}

pub async fn overview(call: Call) -> Result<Response, AppError> {
    let now = call.state.clock.now();
    let link = call.state.jobs.clone();
    let (queues, hour) = tokio::join!(read::overview(&link), async {
        let mut db = call.state.pool.get().await?;
        stats::last_hour(&mut db, now).await.map_err(AppError::from)
    });
    let hour = hour?;
    let (cards, problem_text) = match queues {
        Ok(qs) => (
            qs.into_iter()
                .map(|q| {
                    let h = hour.iter().find(|(n, _)| *n == q.name).map(|(_, w)| w);
                    card(&call.ctx, q, h, now)
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(problem(&call.ctx, &e))),
    };
    html(&OverviewPage {
        cards,
        problem: problem_text,
        can_write: can(&call.actor, Permission::JobsWrite, None),
        ctx: call.ctx,
    })
}
