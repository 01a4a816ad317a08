//! What the tasks templates are given.

use askama::Template;

use crate::i18n::Lang;
use crate::tasks::State;
use crate::tasks::store::Task;
use crate::web::format::{date_time, duration, group, opt_date_time};
use crate::web::layout::PageCtx;

/// A task as a row or a page shows it.
pub struct TaskView {
    pub id: i64,
    pub kind: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub over: bool,
    pub created: String,
    pub finished: String,
    pub took: String,
    pub done: i64,
    pub total: Option<i64>,
    pub progress: String,
    pub percent: i64,
    pub errors: i64,
    pub step: String,
    pub error: Option<String>,
    pub started_by: String,
    pub attempts: i32,
    pub cancel_requested: bool,
    /// What it acts on, from its payload: (label, value).
    pub about: Vec<(&'static str, String)>,
    /// The user it is about, if one (a link).
    pub user_id: Option<i64>,
}

/// The facts of a payload worth showing (the filter, the new status, the
/// reason), never the author's details.
fn about(payload: &str, lang: Lang) -> Vec<(&'static str, String)> {
    let v: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(filter) = v["filter"].as_object() {
        let shown: Vec<String> = filter
            .iter()
            .filter_map(|(k, v)| {
                v.as_str()
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("{k}: {s}"))
            })
            .collect();
        let text = if shown.is_empty() {
            lang.t("task.about.everyone").to_owned()
        } else {
            shown.join(" · ")
        };
        out.push((lang.t("task.about.filter"), text));
    }
    if let Some(target) = v["target"].as_str() {
        out.push((
            lang.t("task.about.status"),
            lang.t(&format!("status.{target}")).to_owned(),
        ));
    }
    if let Some(reason) = v["reason"].as_str() {
        out.push((lang.t("task.about.reason"), reason.to_owned()));
    }
    out
}

impl TaskView {
    pub fn of(t: &Task, lang: Lang, started_by: String) -> TaskView {
        let state = t.state();
        let took = match (t.started_at, t.finished_at) {
            (Some(a), Some(b)) => duration((b - a).whole_seconds()),
            _ => String::new(),
        };
        let percent = match t.total {
            Some(total) if total > 0 => (t.done * 100 / total).clamp(0, 100),
            Some(_) => 100,
            None => 0,
        };
        let progress = match t.total {
            Some(total) => lang.tf(
                "task.progress_of",
                &[("done", &group(t.done)), ("total", &group(total))],
            ),
            None => group(t.done),
        };
        TaskView {
            id: t.id,
            kind: t
                .kind()
                .map(|k| lang.t(&format!("task.kind.{}", k.key())).to_owned())
                .unwrap_or_else(|| t.kind.clone()),
            state: state.as_str(),
            state_label: lang.t(&format!("task.state.{}", state.as_str())),
            over: state.is_over(),
            created: date_time(t.created_at),
            finished: opt_date_time(t.finished_at),
            took,
            done: t.done,
            total: t.total,
            progress,
            percent,
            errors: t.errors,
            step: if t.step.is_empty() || state.is_over() {
                String::new()
            } else {
                lang.t(&t.step).to_owned()
            },
            // Stored errors are i18n keys or the cause of a failed attempt;
            // only keys are shown, the cause stays in the log.
            error: t
                .last_error
                .as_deref()
                .filter(|_| state == State::Failed)
                .map(|e| {
                    if e.starts_with("task.error.") {
                        lang.t(e).to_owned()
                    } else {
                        lang.t("task.error.generic").to_owned()
                    }
                }),
            started_by,
            attempts: t.attempts,
            cancel_requested: t.cancel_requested,
            about: about(&t.payload, lang),
            user_id: serde_json::from_str::<serde_json::Value>(&t.payload)
                .ok()
                .and_then(|v| v["user_id"].as_i64()),
        }
    }
}

/// A record a bulk task left alone, and why.
pub struct SkippedLine {
    pub id: i64,
    pub email: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "tasks/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub tasks: Vec<TaskView>,
    pub everyone: bool,
}

#[derive(Template)]
#[template(path = "tasks/page.html")]
pub struct TaskPage {
    pub ctx: PageCtx,
    pub progress: ProgressPart,
}

/// The live part of the task page, polled while the task runs.
#[derive(Template)]
#[template(path = "tasks/_progress.html")]
pub struct ProgressPart {
    pub ctx: PageCtx,
    pub t: TaskView,
    pub can_cancel: bool,
    pub download: Option<String>,
    pub skipped: Vec<SkippedLine>,
    pub skipped_more: bool,
}
