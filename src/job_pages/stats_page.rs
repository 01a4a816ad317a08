//! GET /admin/jobs/stats: a queue's finished jobs over the last hour (per
//! minute), day or week (per hour), as bars drawn by the server in SVG
//! (failed ones hatched, so the chart reads without colour), with the
//! failure rate and wait and run times (p50, p95) of the window.

use askama::Template;
use axum::extract::Query;
use axum::response::Response;

use crate::error::AppError;
use crate::jobs::stats::{self, MinuteRow, Window, quantile_text, rate_text};
use crate::web::action::Call;
use crate::web::format::group;
use crate::web::layout::PageCtx;
use crate::web::render::html;

/// The ranges offered: (key, minutes covered, minutes per bar).
pub const RANGES: &[(&str, i64, i64)] = &[("1h", 60, 1), ("24h", 1_440, 60), ("7d", 10_080, 60)];

pub const WIDTH: i64 = 720;
pub const HEIGHT: i64 = 200;

pub struct Bar {
    pub x: i64,
    pub w: i64,
    pub completed_y: i64,
    pub completed_h: i64,
    pub failed_y: i64,
    pub failed_h: i64,
    pub title: String,
}

pub struct Chart {
    pub bars: Vec<Bar>,
    pub max: i64,
    pub start_label: String,
    pub end_label: String,
}

/// Bars for `rows` over `buckets` buckets of `per` minutes ending at `end_minute`.
pub fn chart(
    rows: &[MinuteRow],
    end_minute: i64,
    buckets: i64,
    per: i64,
    title: impl Fn(i64, i64, i64) -> String,
) -> Chart {
    let start = end_minute - buckets * per + 1;
    let mut sums = vec![(0i64, 0i64); buckets as usize];
    for r in rows {
        let i = (r.minute - start).div_euclid(per);
        if (0..buckets).contains(&i) {
            sums[i as usize].0 += r.completed;
            sums[i as usize].1 += r.failed;
        }
    }
    let max = sums.iter().map(|(c, f)| c + f).max().unwrap_or(0).max(1);
    let w = (WIDTH / buckets).max(1);
    let bars = sums
        .iter()
        .enumerate()
        .map(|(i, (c, f))| {
            let ch = c * HEIGHT / max;
            let fh = f * HEIGHT / max;
            Bar {
                x: i as i64 * WIDTH / buckets,
                w: (w - 1).max(1),
                completed_y: HEIGHT - ch,
                completed_h: ch,
                failed_y: HEIGHT - ch - fh,
                failed_h: fh,
                title: title(start + i as i64 * per, *c, *f),
            }
        })
        .collect();
    Chart {
        bars,
        max,
        start_label: String::new(),
        end_label: String::new(),
    }
}

pub struct QueueStats {
    pub name: String,
    pub completed: String,
    pub failed: String,
    pub failure_rate: String,
    pub wait_p50: String,
    pub wait_p95: String,
    pub run_p50: String,
    pub run_p95: String,
    pub chart: Chart,
}

#[derive(Template)]
#[template(path = "jobs/stats.html")]
pub struct StatsPage {
    pub ctx: PageCtx,
    pub ranges: Vec<(&'static str, String, bool)>,
    pub range: &'static str,
    pub queues: Vec<QueueStats>,
    pub width: i64,
    pub height: i64,
}

fn minute_label(minute: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(minute * 60)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

pub async fn stats(
    call: Call,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let wanted = pairs
        .iter()
        .find(|(k, _)| k == "range")
        .map(|(_, v)| v.as_str())
        .unwrap_or("1h");
    let &(range, minutes, per) = RANGES.iter().find(|r| r.0 == wanted).unwrap_or(&RANGES[0]);
    let now = call.state.clock.now();
    let end = stats::minute_of(now);
    let mut db = call.state.pool.get().await?;
    let rows = stats::rows_since(&mut db, end - minutes + 1).await?;
    drop(db);
    let ctx = call.ctx;
    let (done_word, failed_word) = (ctx.tr("jobs.completed_n"), ctx.tr("jobs.failed_n"));
    let queues = call
        .state
        .jobs
        .queue_names()
        .iter()
        .map(|name| {
            let mine: Vec<MinuteRow> = rows.iter().filter(|r| r.queue == *name).cloned().collect();
            let mut w = Window::default();
            for r in &mine {
                w.add(r);
            }
            let (c, f, wait, run) = (w.completed, w.failed, w.wait, w.run);
            let mut chart = chart(&mine, end, minutes / per, per, |m, c, f| {
                format!("{}: {c} {done_word}, {f} {failed_word}", minute_label(m))
            });
            chart.start_label = minute_label(end - minutes + 1);
            chart.end_label = minute_label(end);
            QueueStats {
                name: name.clone(),
                completed: group(c),
                failed: group(f),
                failure_rate: rate_text(c, f),
                wait_p50: quantile_text(wait.quantile(0.5)),
                wait_p95: quantile_text(wait.quantile(0.95)),
                run_p50: quantile_text(run.quantile(0.5)),
                run_p95: quantile_text(run.quantile(0.95)),
                chart,
            }
        })
        .collect();
    html(&StatsPage {
        ranges: RANGES
            .iter()
            .map(|r| {
                (
                    r.0,
                    ctx.tr(&format!("jobs.range_{}", r.0)).to_owned(),
                    r.0 == range,
                )
            })
            .collect(),
        range,
        queues,
        width: WIDTH,
        height: HEIGHT,
        ctx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(minute: i64, completed: i64, failed: i64) -> MinuteRow {
        MinuteRow {
            queue: "q".into(),
            minute,
            completed,
            failed,
            wait_hist: String::new(),
            run_hist: String::new(),
        }
    }

    #[test]
    fn bars_sum_their_minutes_and_scale_to_the_tallest() {
        // Two hourly buckets ending at minute 119: minutes 0–59 and 60–119.
        let c = chart(
            &[row(10, 3, 1), row(59, 1, 0), row(60, 2, 2), row(500, 9, 9)],
            119,
            2,
            60,
            |m, c, f| format!("{m}:{c}/{f}"),
        );
        assert_eq!(c.max, 5);
        assert_eq!(c.bars[0].title, "0:4/1");
        assert_eq!(c.bars[1].title, "60:2/2");
        assert_eq!(c.bars[0].completed_h, 4 * HEIGHT / 5);
        assert_eq!(
            c.bars[0].failed_y + c.bars[0].failed_h,
            c.bars[0].completed_y
        );
    }
}
