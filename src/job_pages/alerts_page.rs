//! `/admin/jobs/alerts`: the alert rules of each queue with their
//! thresholds, where alerts go (Slack, mail, in-app) and the cool-down;
//! a "send a test alert" button; every alert sent, with its figures.
//! Saving is `jobs.write` and audited with the settings before and after.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::access::{Permission, can};
use crate::audit::{Action, Event};
use crate::change::ChangeError;
use crate::error::AppError;
use crate::jobs::alerts::deliver::{self, Alert};
use crate::jobs::alerts::history;
use crate::jobs::alerts::settings::{AlertSettings, Limits, Rule};
use crate::web::action::{Call, run};
use crate::web::format::date_time_seconds;
use crate::web::guard::redirect;
use crate::web::layout::{FLASH, PageCtx};
use crate::web::render::html;

pub struct RuleRow {
    pub rule: &'static str,
    pub label: String,
    pub unit: String,
    pub enabled: bool,
    pub threshold: String,
    pub window: String,
    pub min_finished: String,
    pub has_window: bool,
}

pub struct QueueRules {
    pub queue: String,
    pub rules: Vec<RuleRow>,
}

pub struct HistoryLine {
    pub at: String,
    pub queue: String,
    pub kind: String,
    pub kind_label: String,
    pub message: String,
    pub delivery: String,
}

#[derive(Template)]
#[template(path = "jobs/alerts.html")]
pub struct AlertsPage {
    pub ctx: PageCtx,
    pub queues: Vec<QueueRules>,
    pub slack_url: String,
    pub emails: String,
    pub cooldown: String,
    pub in_app: bool,
    pub history: Vec<HistoryLine>,
    pub can_write: bool,
    pub error: Option<String>,
    pub error_field: String,
}

fn rows(
    ctx: &PageCtx,
    s: &AlertSettings,
    queues: &[String],
    typed: Option<&HashMap<String, String>>,
) -> Vec<QueueRules> {
    queues
        .iter()
        .map(|q| QueueRules {
            queue: q.clone(),
            rules: Rule::ALL
                .into_iter()
                .map(|r| {
                    let l = s.limits(q, r);
                    let field = |part: &str, v: i64| {
                        typed
                            .and_then(|t| t.get(&format!("{q}.{}.{part}", r.key())))
                            .cloned()
                            .unwrap_or_else(|| v.to_string())
                    };
                    RuleRow {
                        rule: r.key(),
                        label: ctx.tr(&format!("jobs.rule_{}", r.key())).to_owned(),
                        unit: ctx.tr(&format!("jobs.unit_{}", r.key())).to_owned(),
                        enabled: match typed {
                            Some(t) => t.contains_key(&format!("{q}.{}.enabled", r.key())),
                            None => l.enabled,
                        },
                        threshold: field("threshold", l.threshold),
                        window: field("window", l.window),
                        min_finished: field("min_finished", l.min_finished),
                        has_window: r == Rule::FailureRate,
                    }
                })
                .collect(),
        })
        .collect()
}

async fn page(
    call: &Call,
    settings: &AlertSettings,
    typed: Option<&HashMap<String, String>>,
    error: Option<(String, String)>,
) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let recent = history::recent(&mut db, 50).await?;
    drop(db);
    let ctx = call.ctx.clone();
    let get = |k: &str, default: String| typed.and_then(|t| t.get(k)).cloned().unwrap_or(default);
    let (error, error_field) = match error {
        Some((e, f)) => (Some(e), f),
        None => (None, String::new()),
    };
    let failed = error.is_some();
    let mut res = html(&AlertsPage {
        queues: rows(&ctx, settings, call.state.jobs.queue_names(), typed),
        slack_url: get("slack_url", settings.slack_url.clone().unwrap_or_default()),
        emails: get("emails", settings.emails.join(", ")),
        cooldown: get("cooldown_minutes", settings.cooldown_minutes.to_string()),
        in_app: typed.map_or(settings.notify_in_app, |t| t.contains_key("notify_in_app")),
        history: recent
            .into_iter()
            .map(|a| HistoryLine {
                at: date_time_seconds(a.at),
                kind_label: ctx.tr(&format!("jobs.alert_kind_{}", a.kind)).to_owned(),
                queue: a.queue,
                kind: a.kind,
                message: a.message,
                delivery: a.delivery,
            })
            .collect(),
        can_write: can(&call.actor, Permission::JobsWrite, None),
        error,
        error_field,
        ctx,
    })?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

pub async fn show(call: Call) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let settings = AlertSettings::load(&mut db).await?;
    drop(db);
    page(&call, &settings, None, None).await
}

/// A Slack incoming webhook: https with a host (http to this machine, for a
/// local stand-in).
fn slack_ok(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|url| match url.scheme() {
        "https" => url.host().is_some(),
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "localhost")),
        _ => false,
    }) && u.len() <= 2_000
}

/// The settings the form holds, or the first problem: (i18n key, field).
fn parse(
    t: &HashMap<String, String>,
    queues: &[String],
) -> Result<AlertSettings, (&'static str, String)> {
    let num = |k: &str, lo: i64, hi: i64| -> Result<i64, (&'static str, String)> {
        t.get(k)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|n| (lo..=hi).contains(n))
            .ok_or(("jobs.bad_number", k.to_owned()))
    };
    let mut s = AlertSettings::default();
    for q in queues {
        for r in Rule::ALL {
            let k = |part: &str| format!("{q}.{}.{part}", r.key());
            let max = match r {
                Rule::FailureRate => 100,
                Rule::FailuresHour => 1_000_000,
                Rule::OldestWaiting | Rule::NoWorker => 10_080,
            };
            let mut l = Limits::default_for(r);
            l.enabled = t.contains_key(&k("enabled"));
            l.threshold = num(&k("threshold"), 0, max)?;
            if r == Rule::FailureRate {
                l.window = num(&k("window"), 1, 1_440)?;
                l.min_finished = num(&k("min_finished"), 1, 1_000_000)?;
            }
            s.rules.entry(q.clone()).or_default().insert(r, l);
        }
    }
    let slack = t.get("slack_url").map(|v| v.trim()).unwrap_or_default();
    if !slack.is_empty() {
        if !slack_ok(slack) {
            return Err(("jobs.bad_slack", "slack_url".into()));
        }
        s.slack_url = Some(slack.to_owned());
    }
    for e in t
        .get("emails")
        .map(String::as_str)
        .unwrap_or_default()
        .split([',', ';', '\n', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let ok = e.len() <= 254
            && e.split_once('@')
                .is_some_and(|(a, d)| !a.is_empty() && d.contains('.'));
        if !ok {
            return Err(("jobs.bad_email", "emails".into()));
        }
        if !s.emails.iter().any(|x| x.eq_ignore_ascii_case(e)) {
            s.emails.push(e.to_owned());
        }
    }
    if s.emails.len() > 20 {
        return Err(("jobs.too_many_emails", "emails".into()));
    }
    s.cooldown_minutes = num("cooldown_minutes", 0, 10_080)?;
    s.notify_in_app = t.contains_key("notify_in_app");
    Ok(s)
}

pub async fn save(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let typed: HashMap<String, String> = fields.into_iter().filter(|(k, _)| k != "_csrf").collect();
    let queues = call.state.jobs.queue_names().to_vec();
    let mut db = call.state.pool.get().await?;
    let before = AlertSettings::load(&mut db).await?;
    drop(db);
    let after = match parse(&typed, &queues) {
        Ok(s) => s,
        Err((key, field)) => {
            let said = call.ctx.tr(key).to_owned();
            return page(&call, &before, Some(&typed), Some((said, field))).await;
        }
    };
    if after == before {
        call.session
            .insert(FLASH, call.ctx.tr("jobs.alerts_unchanged"))
            .await?;
        return Ok(redirect("/admin/jobs/alerts", call.htmx));
    }
    let event = Event::new(Action::JobAlertSettingsChanged)
        .details(json!({ "before": before.audited(), "after": after.audited() }));
    let saved = after.clone();
    run(&call, move |tx, by| {
        Box::pin(async move {
            saved.save(tx).await.map_err(ChangeError::Db)?;
            by.record(tx, event).await
        })
    })
    .await?
    .map_err(|_| AppError::Internal("saving the alert settings was refused".into()))?;
    call.session
        .insert(FLASH, call.ctx.tr("jobs.alerts_saved"))
        .await?;
    Ok(redirect("/admin/jobs/alerts", call.htmx))
}

/// POST /admin/jobs/alerts/test: one test alert to every target.
pub async fn test(call: Call) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let settings = AlertSettings::load(&mut db).await?;
    drop(db);
    let who = call.actor.email.clone();
    let alert = Alert {
        queue: call
            .state
            .jobs
            .queue_names()
            .first()
            .cloned()
            .unwrap_or_default(),
        rule: Rule::FailureRate,
        kind: "test",
        figures: json!({ "by": who }),
        message: crate::i18n::Lang::default().tf("jobs.alert_test", &[("who", &who)]),
    };
    deliver::send(
        &call.state.pool,
        &settings,
        alert,
        call.state.clock.now_primitive(),
    )
    .await?;
    call.session
        .insert(FLASH, call.ctx.tr("jobs.test_sent"))
        .await?;
    Ok(redirect("/admin/jobs/alerts", call.htmx).into_response())
}
