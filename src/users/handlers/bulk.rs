//! Bulk actions on the selected rows or on every user matching the filter:
//! suspend, reactivate, export CSV. A confirmation states the count first;
//! each affected user gets an audit event of their own. The selected rows
//! (at most a page) are changed within the request; "all matching" starts
//! a task (`users::tasks::bulk`) and shows its progress.

use axum::Form;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::audit::{self, Event};
use crate::change::ChangeError;
use crate::db::types::UserStatus;
use crate::error::AppError;
use crate::tasks::{Kind, NewTask};
use crate::users::changes;
use crate::users::store;
use crate::users::store::list::{self, COUNT_CAP, ListParams};
use crate::users::tasks::bulk::{Selection, status_payload};
use crate::users::tasks::csv_export;
use crate::users::views::{ConfirmPage, Dialog};
use crate::web::action::{Call, start_task};
use crate::web::csv;
use crate::web::form::{all, field};
use crate::web::format::group;
use crate::web::guard::redirect;
use crate::web::layout::FLASH;
use crate::web::render::html;
use askama::Template;

/// More selected rows than this must go through "all matching" (a task).
pub const MAX_SELECTED: usize = 1_000;
/// Users changed per transaction.
const BATCH: usize = 500;
/// Unchanged users named in the result; beyond, "and N more".
const SKIPPED_NAMED: usize = 5;

struct Request {
    fields: Vec<(String, String)>,
    params: ListParams,
    all: bool,
    ids: Vec<i64>,
    action: String,
    reason: String,
    confirmed: bool,
}

fn parse(fields: Vec<(String, String)>) -> Request {
    let get = |k: &str| field(&fields, k);
    let params = ListParams::filter_from(get);
    let ids = all(&fields, "ids")
        .filter_map(|v| v.parse().ok())
        .take(MAX_SELECTED + 1)
        .collect();
    Request {
        all: get("all") == "1",
        action: get("action"),
        reason: get("reason"),
        confirmed: get("confirmed") == "1",
        params,
        ids,
        fields,
    }
}

fn back_to_list(req: &Request) -> String {
    format!("/admin/users?{}", req.params.query_without_cursor())
}

/// What the viewer should know before confirming: they are in the
/// selection, or it holds every active administrator (both are left
/// unchanged by a suspension).
async fn warnings(call: &Call, req: &Request) -> Result<Vec<String>, AppError> {
    if req.action != "suspend" || req.all {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let me = call.actor.user_id;
    if req.ids.contains(&me) {
        out.push(call.ctx.tr("bulk.warn_yourself").to_owned());
    }
    let mut db = call.state.pool.get().await?;
    let admins = store::active_admin_ids(&mut db).await?;
    let selected = admins.iter().filter(|a| req.ids.contains(a)).count();
    if selected > 0 && selected == admins.len() {
        out.push(call.ctx.tr("bulk.warn_last_admin").to_owned());
    }
    Ok(out)
}

async fn confirm(
    call: &Call,
    req: &Request,
    count: i64,
    action_url: &'static str,
    error: Option<String>,
) -> Result<Response, AppError> {
    let lang = call.ctx.lang;
    let n = if count > COUNT_CAP {
        lang.tf("bulk.more_than", &[("n", &group(COUNT_CAP))])
    } else {
        group(count)
    };
    let (key, button) = match req.action.as_str() {
        "suspend" => ("bulk.confirm_suspend", "bulk.button_suspend"),
        "reactivate" => ("bulk.confirm_reactivate", "bulk.button_reactivate"),
        _ => ("bulk.confirm_export", "bulk.button_export"),
    };
    let question = lang.tn(key, count, &[("n", &n)]);
    let button = lang.tn(button, count, &[("n", &n)]);
    let fields = req
        .fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "_csrf" | "confirmed" | "reason"))
        .cloned()
        .collect();
    let page = ConfirmPage {
        action_url,
        needs_reason: req.action != "export",
        question,
        warnings: warnings(call, req).await?,
        button,
        fields,
        back: back_to_list(req),
        error,
        ctx: call.ctx.clone(),
    };
    if call.htmx {
        // Over the list, as a modal; the confirmed form posts normally
        // (a redirect follows, so a reload never posts it again).
        let body = page.as_body().render().map_err(AppError::internal)?;
        return html(&Dialog { body });
    }
    html(&page)
}

/// How many users the request designates (counted up to [`COUNT_CAP`] + 1
/// for "all matching").
async fn count(call: &Call, req: &Request) -> Result<i64, AppError> {
    if !req.all {
        return Ok(req.ids.len() as i64);
    }
    let mut db = call.state.pool.get().await?;
    Ok(list::capped_count(&mut db, &req.params.filter()).await?)
}

/// The page to show instead of acting, if any: nothing selected, too many
/// rows, or the confirmation (with `error` when the reason is missing).
async fn gate(
    call: &Call,
    req: &Request,
    url: &'static str,
    needs_reason: bool,
) -> Result<Option<Response>, AppError> {
    let n = count(call, req).await?;
    if n == 0 {
        if call.htmx {
            return Err(AppError::BadRequest(
                call.ctx.tr("bulk.nothing_selected").into(),
            ));
        }
        call.session
            .insert(FLASH, call.ctx.tr("bulk.nothing_selected"))
            .await?;
        return Ok(Some(redirect(&back_to_list(req), false)));
    }
    if req.ids.len() > MAX_SELECTED {
        return Err(AppError::BadRequest(call.ctx.tr("bulk.too_many").into()));
    }
    if !req.confirmed {
        return confirm(call, req, n, url, None).await.map(Some);
    }
    if needs_reason && req.reason.trim().is_empty() {
        let error = Some(call.ctx.tr("users.reason_required").to_owned());
        return confirm(call, req, n, url, error)
            .await
            .map(|r| Some((StatusCode::UNPROCESSABLE_ENTITY, r).into_response()));
    }
    Ok(None)
}

/// Starts the task acting on every matching user, then shows its progress.
async fn start_all(
    call: &Call,
    req: &Request,
    kind: Kind,
    extra: Option<(UserStatus, &str)>,
) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let up_to = store::max_id(&mut db).await?;
    drop(db);
    let filter = req.params.filter_pairs();
    let shown: serde_json::Map<String, serde_json::Value> = filter
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let mut payload = Selection::payload(filter, up_to, &call.by());
    let mut details = json!({ "filter": shown, "up_to": up_to });
    if let Some((target, reason)) = extra {
        payload = status_payload(payload, target, reason);
        details["status"] = json!(target.as_str());
        details["reason"] = json!(reason);
    }
    let now = call.state.clock.now_primitive();
    let id = start_task(call, NewTask::new(kind, payload, now), details, None).await?;
    Ok(redirect(&format!("/admin/tasks/{id}"), false))
}

/// POST /admin/users/bulk/status
pub async fn status(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let req = parse(fields);
    let target = match req.action.as_str() {
        "suspend" => UserStatus::Suspended,
        "reactivate" => UserStatus::Active,
        _ => {
            return Err(AppError::BadRequest(
                call.ctx.tr("users.bad_request").into(),
            ));
        }
    };
    if let Some(page) = gate(&call, &req, "/admin/users/bulk/status", true).await? {
        return Ok(page);
    }
    if req.all {
        let reason = req.reason.trim();
        return start_all(&call, &req, Kind::UsersBulkStatus, Some((target, reason))).await;
    }
    let mut changed = 0usize;
    // Who was left unchanged, and why (an i18n key).
    let mut skipped: Vec<(i64, &'static str)> = Vec::new();
    let mut db = call.state.pool.get().await?;
    for chunk in req.ids.chunks(BATCH) {
        let by = call.by();
        let reason = req.reason.clone();
        let chunk = chunk.to_vec();
        let (c, s) = db
            .transaction(|db| {
                Box::pin(async move {
                    let (mut c, mut s) = (0, Vec::new());
                    for id in chunk {
                        match changes::set_status(db, &by, id, target, &reason).await {
                            Ok(true) => c += 1,
                            Ok(false) => s.push((id, "bulk.why_already")),
                            Err(ChangeError::Invalid(key)) => s.push((id, key)),
                            Err(ChangeError::NotFound) => s.push((id, "bulk.why_gone")),
                            Err(ChangeError::Db(e)) => return Err(e),
                        }
                    }
                    Ok::<_, diesel::result::Error>((c, s))
                })
            })
            .await?;
        changed += c;
        skipped.extend(s);
    }
    let key = if target == UserStatus::Suspended {
        "bulk.done_suspend"
    } else {
        "bulk.done_reactivate"
    };
    let lang = call.ctx.lang;
    let mut message = lang.tn(key, changed as i64, &[("n", &group(changed as i64))]);
    if !skipped.is_empty() {
        let ids: Vec<i64> = skipped.iter().map(|(id, _)| *id).collect();
        let emails: std::collections::HashMap<i64, String> = store::many(&mut db, &ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u.email))
            .collect();
        let me = call.actor.user_id;
        let mut names: Vec<String> = skipped
            .iter()
            .take(SKIPPED_NAMED)
            .map(|(id, why)| {
                let who = if *id == me {
                    lang.t("bulk.you").to_owned()
                } else {
                    emails.get(id).cloned().unwrap_or_else(|| format!("#{id}"))
                };
                format!("{who} ({})", lang.t(why).trim_end_matches('.'))
            })
            .collect();
        if skipped.len() > SKIPPED_NAMED {
            let rest = (skipped.len() - SKIPPED_NAMED) as i64;
            names.push(lang.tn("bulk.and_more", rest, &[("n", &group(rest))]));
        }
        message.push(' ');
        message.push_str(&lang.tf("bulk.left_unchanged", &[("list", &names.join(", "))]));
    }
    call.session.insert(FLASH, message).await?;
    Ok(redirect(&back_to_list(&req), false))
}

/// POST /admin/users/bulk/export: CSV of the selection, each user audited.
pub async fn export(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let req = parse(fields);
    if let Some(page) = gate(&call, &req, "/admin/users/bulk/export", false).await? {
        return Ok(page);
    }
    if req.all {
        return start_all(&call, &req, Kind::UsersCsvExport, None).await;
    }
    let mut out = csv::header(&csv_export::COLUMNS);
    let mut db = call.state.pool.get().await?;
    for chunk in req.ids.chunks(BATCH) {
        let by = call.by();
        let chunk = chunk.to_vec();
        let rows = db
            .transaction(|db| {
                Box::pin(async move {
                    let users = store::many(db, &chunk).await?;
                    let roles = list::roles_of(db, &chunk).await?;
                    for u in &users {
                        let ev = Event::new(crate::audit::Action::UsersExportedCsv)
                            .target("user", u.id)
                            .details(json!({ "rows": chunk.len() }));
                        audit::record(db, by.now, &by.actor, &by.meta, ev).await?;
                    }
                    Ok::<_, diesel::result::Error>(csv_export::rows(&users, &roles))
                })
            })
            .await?;
        out.push_str(&rows);
    }
    let day = call.state.clock.now_primitive().date();
    let name = csv_export::file_name(&req.params.status, day);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response())
}
