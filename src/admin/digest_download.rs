//! POST /admin/audit/digest: the signed digest of the chain as the last
//! periodic check found it sound, as a file an auditor keeps
//! (`sowat-admin verify-audit --digest FILE` checks it later). Signed over
//! the checked head, never over links no check has walked; refused while
//! the chain is unchecked or broken. Each download is audited.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::admin::{chain_check, digest};
use crate::audit::{Action, Event};
use crate::error::AppError;
use crate::web::action::{Call, run};
use crate::web::guard::redirect;
use crate::web::layout::FLASH;

pub async fn download(call: Call) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let status = chain_check::status(&mut db).await?;
    drop(db);
    let Some(verdict) = status.map(|s| s.verdict).filter(|v| v.ok()) else {
        call.session
            .insert(FLASH, call.ctx.tr("audit.digest_unavailable"))
            .await?;
        return Ok(redirect("/admin/audit", call.htmx));
    };
    let now = call.state.clock.now();
    let signed_at = now
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| AppError::internal(e.to_string()))?;
    let signed = digest::sign(&call.state.secrets, &verdict, signed_at);
    let (seq, hash) = (signed.head_seq, signed.head_hash.clone());
    run(&call, move |tx, by| {
        Box::pin(async move {
            let event = Event::new(Action::DigestExported)
                .details(json!({ "head_link": seq, "head_hash": hash }));
            by.record(tx, event).await
        })
    })
    .await?
    .map_err(|_| AppError::internal("recording the digest export refused"))?;
    let body =
        serde_json::to_string_pretty(&signed).map_err(|e| AppError::internal(e.to_string()))?;
    let name = format!("audit-digest-{}-link-{}.json", now.date(), signed.head_seq);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
