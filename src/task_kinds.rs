//! Every task kind's handler, gathered in one table (as `routes` gathers
//! routes): the runner knows no area, each area knows only its own kinds.

use std::collections::HashMap;
use std::sync::Arc;

use crate::mail::sender::{self, Mailer};
use crate::security::session_store::DbSessionStore;
use crate::state::AppState;
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::{Kind, store};
use crate::{admin, billing_pages, job_pages, usage, users};

/// The handler of every kind (a kind without one fails the test below).
pub fn handlers(state: &AppState, mailer: Arc<Mailer>) -> HashMap<Kind, Handler> {
    let s = state.clone();
    let housekeeping: Handler = Arc::new(move |run| {
        let s = s.clone();
        Box::pin(async move { housekeeping(&s, run).await })
    });
    HashMap::from([
        (Kind::UsersBulkStatus, users::tasks::bulk::status_handler()),
        (Kind::UsersCsvExport, users::tasks::bulk::csv_handler()),
        (Kind::UserGdprExport, users::tasks::gdpr_export::handler()),
        (Kind::PurgeDeletedUsers, users::tasks::purge::handler()),
        (Kind::Housekeeping, housekeeping),
        (Kind::DeliverMail, sender::deliver(mailer)),
        (Kind::UsagePeriodClose, usage::tasks::handler()),
        (
            Kind::StripeEventApply,
            billing_pages::tasks::apply_handler(),
        ),
        (
            Kind::OverageInvoice,
            billing_pages::tasks::invoice_handler(state.stripe.clone()),
        ),
        (Kind::JobsBulk, job_pages::bulk::handler(state.jobs.clone())),
        (Kind::AuditVerify, admin::chain_check::handler()),
        (Kind::AuditPurge, admin::audit_purge::handler()),
        (Kind::AuditExportCsv, admin::audit_export::handler()),
        (Kind::AuditExportJsonl, admin::audit_export::handler()),
    ])
}

/// Expired sessions, old sign-in counters, API key counts per minute past
/// a month, expired task outputs and old tasks: each purge is idempotent,
/// so a re-run is harmless.
async fn housekeeping(s: &AppState, run: Run) -> Result<Done, TaskError> {
    let now = run.now();
    s.login_limiter
        .purge_old(&s.pool, run.clock.now().unix_timestamp())
        .await?;
    let sessions = DbSessionStore::new(
        s.pool.clone(),
        s.clock.clone(),
        s.config.session_idle,
        s.config.session_max,
    )
    .purge_expired()
    .await
    .map_err(|e| TaskError::Retry(e.to_string()))?;
    let key_minutes = crate::security::key_ledger::purge_old(&s.pool, now).await?;
    let mut db = s.pool.get().await?;
    let tasks = store::clean_up(&mut db, now).await?;
    let stripe_events = crate::billing::events::purge_old(
        &mut db,
        now - time::Duration::days(crate::billing::events::KEPT_DAYS),
    )
    .await?;
    let job_runs = crate::jobs::index::runs::purge_old(
        &mut db,
        now - time::Duration::days(crate::jobs::index::runs::KEPT_DAYS),
    )
    .await?;
    let job_minutes = crate::jobs::stats::purge_old(&mut db, run.clock.now()).await?;
    if sessions + tasks + key_minutes + stripe_events + job_runs + job_minutes > 0 {
        tracing::info!(
            sessions,
            tasks,
            key_minutes,
            stripe_events,
            job_runs,
            job_minutes,
            "housekeeping purged"
        );
    }
    Ok(Done {
        result: Some(serde_json::json!({
            "sessions": sessions,
            "tasks": tasks,
            "api_key_minutes": key_minutes,
            "stripe_events": stripe_events,
            "job_runs": job_runs,
            "job_minutes": job_minutes,
        })),
    })
}
