//! The period close task: after a month ends, its overage report, a chunk
//! of users per step (the checkpoint is the last user reported), then the
//! month marked closed with one audit event. Enqueued by the scheduler
//! once per month (its dedupe key names the month) and by a person from
//! the overage page with the same key: triggered twice, it runs once; and
//! were two runs to overlap, every row is keyed, so nothing is written twice.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{Action, Event};
use crate::change::By;
use crate::metering::close;
use crate::metering::period::Period;
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;
use crate::tasks::{Kind, NewTask};

#[derive(Default, Serialize, Deserialize)]
struct Checkpoint {
    after: i64,
}

#[derive(Deserialize)]
struct Payload {
    /// `YYYY-MM`; absent: the month before the task runs.
    period: Option<String>,
}

/// The task closing `period`, keyed so that it is enqueued once.
pub fn close_task(period: Period, now: time::PrimitiveDateTime) -> NewTask {
    let mut task = NewTask::new(
        Kind::UsagePeriodClose,
        json!({ "period": period.key() }),
        now,
    );
    task.dedupe_key = Some(format!("{}@{}", Kind::UsagePeriodClose.key(), period.key()));
    task
}

pub fn handler() -> Handler {
    Arc::new(|run| Box::pin(close_task_run(run)))
}

async fn close_task_run(mut run: Run) -> Result<Done, TaskError> {
    let payload: Payload = run.payload()?;
    let now = run.now();
    let period = match payload.period {
        Some(p) => Period::parse(&p).ok_or_else(|| TaskError::Fail(format!("bad period {p}")))?,
        None => Period::of_primitive(now).previous(),
    };
    if period >= Period::of_primitive(now) {
        return Err(TaskError::Fail(format!("{} is not over yet", period.key())));
    }
    let mut cp: Checkpoint = run.checkpoint();
    loop {
        let after = cp.after;
        let last = run
            .step(move |tx| {
                Box::pin(async move {
                    if close::is_closed(tx, period).await? {
                        return Ok((None, Advance::default()));
                    }
                    let last = close::close_chunk(tx, period, after, now).await?;
                    let advance = Advance {
                        checkpoint: last.map(|l| json!(Checkpoint { after: l }).to_string()),
                        done: if last.is_some() { close::CHUNK } else { 0 },
                        step: Some("task.step.closing_period"),
                        ..Advance::default()
                    };
                    Ok((last, advance))
                })
            })
            .await?;
        match last {
            Some(l) => cp.after = l,
            None => break,
        }
    }
    let (closed, users, amount) = run
        .step(move |tx| {
            Box::pin(async move {
                let (closed, users, amount) = close::finish(tx, period, now).await?;
                if closed {
                    let by = By::system(now, "scheduler");
                    by.record(
                        tx,
                        Event::new(Action::PeriodClosed)
                            .target("period", period.key())
                            .details(json!({ "users": users, "amount_cents": amount })),
                    )
                    .await?;
                    // The invoice items call Stripe: a task of their own,
                    // committed with the close, so it runs exactly once.
                    crate::tasks::store::enqueue(
                        tx,
                        crate::billing::overage::invoice_task(period, now),
                        now,
                    )
                    .await?;
                }
                Ok(((closed, users, amount), Advance::default()))
            })
        })
        .await?;
    Ok(Done {
        result: Some(json!({
            "period": period.key(),
            "closed_now": closed,
            "users": users,
            "amount_cents": amount,
        })),
    })
}
