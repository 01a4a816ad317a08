//! Bulk actions on the selected rows or on every user matching the filter:
//! suspend, reactivate, export CSV. A confirmation states the count first;
//! each affected user gets an audit event of their own.

use axum::Form;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::audit::{self, Event};
use crate::change::ChangeError;
use crate::db::types::UserStatus;
use crate::error::AppError;
use crate::users::changes;
use crate::users::store;
use crate::users::store::list::{self, ListParams};
use crate::users::tasks::csv_export;
use crate::users::views::ConfirmPage;
use crate::web::action::Call;
use crate::web::csv;
use crate::web::form::{all, field};
use crate::web::format::group;
use crate::web::guard::redirect;
use crate::web::layout::FLASH;
use crate::web::render::html;

/// More than this in one go must be narrowed by a filter first.
pub const MAX_BULK: usize = 100_000;
/// Users changed per transaction.
const BATCH: usize = 500;

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
        .take(MAX_BULK + 1)
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

/// The ids the request designates.
async fn selection(call: &Call, req: &Request) -> Result<Vec<i64>, AppError> {
    if !req.all {
        return Ok(req.ids.clone());
    }
    let filter = req.params.filter();
    let mut db = call.state.pool.get().await?;
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let batch = list::matching_ids(&mut db, &filter, after, 5_000).await?;
        let Some(last) = batch.last().copied() else {
            break;
        };
        out.extend(batch);
        after = last;
        if out.len() > MAX_BULK {
            break;
        }
    }
    Ok(out)
}

fn back_to_list(req: &Request) -> String {
    format!("/admin/users?{}", req.params.query_without_cursor())
}

fn confirm(
    call: &Call,
    req: &Request,
    count: usize,
    action_url: &'static str,
    error: Option<String>,
) -> Result<Response, AppError> {
    let n = group(count as i64);
    let key = match req.action.as_str() {
        "suspend" => "bulk.confirm_suspend",
        "reactivate" => "bulk.confirm_reactivate",
        _ => "bulk.confirm_export",
    };
    let question = call.ctx.lang.tf(key, &[("n", &n)]);
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
        fields,
        back: back_to_list(req),
        error,
        ctx: call.ctx.clone(),
    };
    html(&page)
}

async fn refuse_empty(call: &Call, req: &Request) -> Result<Response, AppError> {
    call.session
        .insert(FLASH, call.ctx.tr("bulk.nothing_selected"))
        .await?;
    Ok(redirect(&back_to_list(req), false))
}

/// The ids to act on once the count was confirmed; otherwise the page to
/// show instead (nothing selected, or the confirmation).
async fn gate(
    call: &Call,
    req: &Request,
    url: &'static str,
) -> Result<Result<Vec<i64>, Response>, AppError> {
    let ids = selection(call, req).await?;
    if ids.is_empty() {
        return refuse_empty(call, req).await.map(Err);
    }
    if ids.len() > MAX_BULK {
        return Err(AppError::BadRequest(call.ctx.tr("bulk.too_many").into()));
    }
    if !req.confirmed {
        return confirm(call, req, ids.len(), url, None).map(Err);
    }
    Ok(Ok(ids))
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
    let ids = match gate(&call, &req, "/admin/users/bulk/status").await? {
        Ok(ids) => ids,
        Err(page) => return Ok(page),
    };
    if req.reason.trim().is_empty() {
        let error = Some(call.ctx.tr("users.reason_required").to_owned());
        return confirm(&call, &req, ids.len(), "/admin/users/bulk/status", error)
            .map(|r| (StatusCode::UNPROCESSABLE_ENTITY, r).into_response());
    }
    let (mut changed, mut skipped) = (0usize, 0usize);
    let mut db = call.state.pool.get().await?;
    for chunk in ids.chunks(BATCH) {
        let by = call.by();
        let reason = req.reason.clone();
        let chunk = chunk.to_vec();
        let (c, s) = db
            .transaction(|db| {
                Box::pin(async move {
                    let (mut c, mut s) = (0, 0);
                    for id in chunk {
                        match changes::set_status(db, &by, id, target, &reason).await {
                            Ok(true) => c += 1,
                            Ok(false)
                            | Err(ChangeError::Invalid(_))
                            | Err(ChangeError::NotFound) => s += 1,
                            Err(ChangeError::Db(e)) => return Err(e),
                        }
                    }
                    Ok::<_, diesel::result::Error>((c, s))
                })
            })
            .await?;
        changed += c;
        skipped += s;
    }
    let key = if target == UserStatus::Suspended {
        "bulk.done_suspend"
    } else {
        "bulk.done_reactivate"
    };
    let message = call.ctx.lang.tf(
        key,
        &[
            ("n", &group(changed as i64)),
            ("skipped", &group(skipped as i64)),
        ],
    );
    call.session.insert(FLASH, message).await?;
    Ok(redirect(&back_to_list(&req), false))
}

/// POST /admin/users/bulk/export: CSV of the selection, each user audited.
pub async fn export(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let req = parse(fields);
    let ids = match gate(&call, &req, "/admin/users/bulk/export").await? {
        Ok(ids) => ids,
        Err(page) => return Ok(page),
    };
    let mut out = csv::header(&csv_export::COLUMNS);
    let mut db = call.state.pool.get().await?;
    for chunk in ids.chunks(BATCH) {
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
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"users.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
