//! One evaluation of every queue's rules: what each shows now, and the
//! breaches and recoveries to send, decided by a compare-and-set on each
//! rule's state row (two instances evaluating at once send once).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use time::{Duration, PrimitiveDateTime};

use super::settings::{AlertSettings, Rule};
use crate::db::Db;
use crate::db::schema::job_alert_state;
use crate::db_run;
use crate::i18n::Lang;
use crate::jobs::read::QueueOverview;
use crate::jobs::stats::{self, Window};

type QResult<T> = Result<T, diesel::result::Error>;

/// What a rule shows now.
#[derive(Clone, Debug)]
pub struct Observation {
    pub queue: String,
    pub rule: Rule,
    pub breached: bool,
    /// How long the condition must last before it is a breach.
    pub lasting: Duration,
    pub figures: Value,
}

impl Observation {
    /// The alert's sentence in `lang` (i18n key `jobs.alert_<rule>`).
    pub fn message(&self, lang: Lang, recovered: bool) -> String {
        message(lang, &self.queue, self.rule, &self.figures, recovered)
    }
}

pub fn message(lang: Lang, queue: &str, rule: Rule, f: &Value, recovered: bool) -> String {
    let text = |k: &str| match f.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "–".to_owned(),
        Some(v) => v.to_string(),
    };
    let key = format!(
        "jobs.alert_{}{}",
        rule.key(),
        if recovered { "_ok" } else { "" }
    );
    lang.tf(
        &key,
        &[
            ("queue", queue),
            ("value", &text("value")),
            ("threshold", &text("threshold")),
            ("window", &text("window")),
            ("finished", &text("finished")),
            ("failed", &text("failed")),
        ],
    )
}

/// Every enabled rule of every queue, from the index's minutes and (when
/// Redis answered) the queues' overview.
pub fn observe(
    settings: &AlertSettings,
    queues: &[String],
    windows: &dyn Fn(&str, i64) -> Window,
    overview: Option<&[QueueOverview]>,
    now_ms: i64,
) -> Vec<Observation> {
    let mut out = Vec::new();
    for q in queues {
        let live = overview.and_then(|o| o.iter().find(|x| x.name == *q));
        for rule in Rule::ALL {
            let l = settings.limits(q, rule);
            if !l.enabled {
                continue;
            }
            let (breached, lasting, figures) = match rule {
                Rule::FailureRate => {
                    let window = l.window.clamp(1, 1_440);
                    let w = windows(q, window);
                    let finished = w.completed + w.failed;
                    let rate = w.failure_rate().unwrap_or(0.0) * 100.0;
                    (
                        finished >= l.min_finished.max(1) && rate > l.threshold as f64,
                        Duration::ZERO,
                        json!({"value": format!("{rate:.1} %"), "threshold": format!("{} %", l.threshold),
                               "window": window, "finished": finished, "failed": w.failed}),
                    )
                }
                Rule::FailuresHour => {
                    let w = windows(q, 60);
                    (
                        w.failed > l.threshold,
                        Duration::ZERO,
                        json!({"value": w.failed, "threshold": l.threshold}),
                    )
                }
                Rule::OldestWaiting => {
                    // Unknown while Redis is away: the rule stands as it was.
                    let Some(o) = live else { continue };
                    let minutes = o
                        .oldest_waiting_ms
                        .map_or(0, |t| (now_ms - t).max(0) / 60_000);
                    (
                        o.oldest_waiting_ms.is_some() && minutes > l.threshold,
                        Duration::ZERO,
                        json!({"value": minutes, "threshold": l.threshold}),
                    )
                }
                Rule::NoWorker => {
                    let Some(o) = live else { continue };
                    (
                        o.workers == 0,
                        Duration::minutes(l.threshold.max(0)),
                        json!({"value": o.workers, "threshold": l.threshold}),
                    )
                }
            };
            out.push(Observation {
                queue: q.clone(),
                rule,
                breached,
                lasting,
                figures,
            });
        }
    }
    out
}

#[derive(Queryable, Clone, Debug)]
struct StateRow {
    firing: bool,
    notified: bool,
    pending_since: Option<PrimitiveDateTime>,
    last_sent_at: Option<PrimitiveDateTime>,
}

/// What to send for one observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Send {
    Nothing,
    Breach,
    Recovery,
}

/// Moves the rule's state on; what to send, decided once across instances.
pub async fn transition(
    db: &mut Db,
    o: &Observation,
    cooldown: Duration,
    now: PrimitiveDateTime,
) -> QResult<Send> {
    let (queue, rule) = (o.queue.clone(), o.rule.key());
    db_run!(db, |c| diesel::insert_into(job_alert_state::table)
        .values((
            job_alert_state::queue.eq(&queue),
            job_alert_state::rule.eq(rule),
            job_alert_state::firing.eq(false),
            job_alert_state::notified.eq(false),
        ))
        .on_conflict_do_nothing()
        .execute(c)
        .await)?;
    let s: StateRow = db_run!(db, |c| job_alert_state::table
        .find((&queue, rule))
        .select((
            job_alert_state::firing,
            job_alert_state::notified,
            job_alert_state::pending_since,
            job_alert_state::last_sent_at
        ))
        .first(c)
        .await)?;
    let row = || job_alert_state::table.find((queue.clone(), rule));
    if o.breached {
        let since = match s.pending_since {
            Some(t) => t,
            None => {
                db_run!(db, |c| diesel::update(
                    row().filter(job_alert_state::pending_since.is_null())
                )
                .set(job_alert_state::pending_since.eq(now))
                .execute(c)
                .await)?;
                now
            }
        };
        if s.firing || now - since < o.lasting {
            return Ok(Send::Nothing);
        }
        let cooled = s.last_sent_at.is_none_or(|t| now - t >= cooldown);
        let moved = db_run!(db, |c| diesel::update(
            row().filter(job_alert_state::firing.eq(false))
        )
        .set((
            job_alert_state::firing.eq(true),
            job_alert_state::notified.eq(cooled),
            job_alert_state::last_sent_at.eq(if cooled { Some(now) } else { s.last_sent_at }),
        ))
        .execute(c)
        .await)?;
        Ok(if moved == 1 && cooled {
            Send::Breach
        } else {
            Send::Nothing
        })
    } else {
        if s.pending_since.is_some() && !s.firing {
            db_run!(db, |c| diesel::update(row())
                .set(job_alert_state::pending_since.eq(None::<PrimitiveDateTime>))
                .execute(c)
                .await)?;
        }
        if !s.firing {
            return Ok(Send::Nothing);
        }
        let moved = db_run!(db, |c| diesel::update(
            row().filter(job_alert_state::firing.eq(true))
        )
        .set((
            job_alert_state::firing.eq(false),
            job_alert_state::notified.eq(false),
            job_alert_state::pending_since.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)
        .await)?;
        // A breach kept quiet by the cool-down recovers quietly too.
        Ok(if moved == 1 && s.notified {
            Send::Recovery
        } else {
            Send::Nothing
        })
    }
}

/// Each queue's window of the last `minutes`, read once for all rules.
pub async fn windows_reader(
    db: &mut Db,
    now: time::OffsetDateTime,
) -> QResult<impl Fn(&str, i64) -> Window + use<>> {
    let end = stats::minute_of(now);
    let rows = stats::rows_since(db, end - 1_440 + 1).await?;
    Ok(move |queue: &str, minutes: i64| {
        let mut w = Window::default();
        let from = end - minutes + 1;
        for r in rows.iter().filter(|r| r.queue == queue && r.minute >= from) {
            w.completed += r.completed;
            w.failed += r.failed;
        }
        w
    })
}

/// One round: observe, move each rule's state, send what turned. Runs on
/// one instance at a time on PostgreSQL (the state rows' compare-and-set
/// keeps it to one message anyway).
pub async fn round(
    pool: &crate::db::Pool,
    clock: &crate::clock::Clock,
    link: &crate::jobs::JobsLink,
) -> Result<usize, crate::db::DbError> {
    use crate::db::locks::{self, Lock};
    if !link.configured() {
        return Ok(0);
    }
    let Some(lock) = locks::try_acquire(pool, Lock::JobsAlerts).await? else {
        return Ok(0);
    };
    let outcome = round_held(pool, clock, link).await;
    lock.release().await;
    outcome
}

async fn round_held(
    pool: &crate::db::Pool,
    clock: &crate::clock::Clock,
    link: &crate::jobs::JobsLink,
) -> Result<usize, crate::db::DbError> {
    let now = clock.now();
    let at = clock.now_primitive();
    let overview = crate::jobs::read::overview(link).await.ok();
    let mut db = pool.get().await?;
    let settings = AlertSettings::load(&mut db).await?;
    let windows = windows_reader(&mut db, now).await?;
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let seen = observe(
        &settings,
        link.queue_names(),
        &windows,
        overview.as_deref(),
        now_ms,
    );
    let cooldown = Duration::minutes(settings.cooldown_minutes.max(0));
    let mut sent = 0;
    for o in seen {
        let what = transition(&mut db, &o, cooldown, at).await?;
        let recovered = match what {
            Send::Nothing => continue,
            Send::Breach => false,
            Send::Recovery => true,
        };
        let alert = super::deliver::Alert {
            message: o.message(Lang::default(), recovered),
            queue: o.queue.clone(),
            rule: o.rule,
            kind: if recovered { "recovery" } else { "breach" },
            figures: o.figures.clone(),
        };
        super::deliver::send(pool, &settings, alert, at).await?;
        sent += 1;
    }
    Ok(sent)
}
