//! The backoffice's own durable tasks: long work (bulk changes and exports
//! of every matching user, the GDPR export, purges, mail delivery) runs
//! outside the request, on whichever instance claims it first.
//!
//! - A task is a row, enqueued by [`store::enqueue`] in the same
//!   transaction as the change that asks for it.
//! - A worker claims it with a lease ([`store::claim`]: `FOR UPDATE SKIP
//!   LOCKED` on PostgreSQL, a short `BEGIN IMMEDIATE` on SQLite), keeps the
//!   lease alive by a heartbeat, and runs its handler.
//! - A handler works in steps ([`runner::Run::step`]): each step's changes,
//!   its audit events, the task's progress and its checkpoint commit in one
//!   transaction, and only while this worker still holds the lease and
//!   nobody cancelled. A crash loses at most the step in flight; whoever
//!   claims the task after the lease expires resumes from the checkpoint,
//!   so no record is changed or audited twice.
//! - A failed attempt is retried with backoff up to the kind's limit.
//! - Scheduled work is enqueued by [`schedule`], with a slot key that makes
//!   a second enqueue of the same slot a no-op.
//!
//! The handlers belong to the areas; `crate::task_kinds` maps each [`Kind`]
//! to its handler.

pub mod runner;
pub mod schedule;
pub mod store;

use std::sync::Arc;

use serde_json::Value;
use time::PrimitiveDateTime;
use tokio::sync::Notify;

macro_rules! kinds {
    ($($variant:ident => $key:literal, attempts $max:literal),+ $(,)?) => {
        /// Every kind of task (a closed list, like audit actions).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kind { $($variant),+ }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),+];

            /// The stored key, also the i18n key suffix (`task.kind.<key>`).
            pub fn key(self) -> &'static str {
                match self { $(Kind::$variant => $key),+ }
            }

            pub fn parse(key: &str) -> Option<Kind> {
                match key { $($key => Some(Kind::$variant),)+ _ => None }
            }

            /// Attempts before the task is marked failed.
            pub fn max_attempts(self) -> i32 {
                match self { $(Kind::$variant => $max),+ }
            }
        }
    };
}

kinds! {
    UsersBulkStatus => "users.bulk_status", attempts 5,
    UsersCsvExport => "users.csv_export", attempts 5,
    UserGdprExport => "users.gdpr_export", attempts 5,
    PurgeDeletedUsers => "users.purge_deleted", attempts 3,
    Housekeeping => "housekeeping", attempts 3,
    DeliverMail => "mail.deliver", attempts 10,
    UsagePeriodClose => "usage.close_period", attempts 10,
    StripeEventApply => "billing.apply_event", attempts 8,
    OverageInvoice => "billing.invoice_overage", attempts 10,
    JobsBulk => "jobs.bulk", attempts 5,
    AuditVerify => "audit.verify", attempts 2,
    AuditPurge => "audit.purge", attempts 3,
    AuditExportCsv => "audit.export_csv", attempts 5,
    AuditExportJsonl => "audit.export_jsonl", attempts 5,
}

impl Kind {
    /// The file a task of this kind produces: (content type, extension).
    pub fn file(self) -> Option<(&'static str, &'static str)> {
        match self {
            Kind::UsersCsvExport | Kind::AuditExportCsv => Some(("text/csv; charset=utf-8", "csv")),
            Kind::AuditExportJsonl => Some(("application/jsonl; charset=utf-8", "jsonl")),
            Kind::UserGdprExport => Some(("application/json", "json")),
            _ => None,
        }
    }

    /// A person may stop it midway (its completed steps stay done).
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            Kind::UsersBulkStatus
                | Kind::UsersCsvExport
                | Kind::UserGdprExport
                | Kind::JobsBulk
                | Kind::AuditExportCsv
                | Kind::AuditExportJsonl
        )
    }

    /// Kinds the scheduler enqueues on its own, every period.
    pub const SCHEDULED: &'static [Kind] = &[
        Kind::Housekeeping,
        Kind::PurgeDeletedUsers,
        Kind::UsagePeriodClose,
        Kind::AuditVerify,
    ];
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Queued,
        State::Running,
        State::Succeeded,
        State::Failed,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_over(self) -> bool {
        matches!(self, State::Succeeded | State::Failed | State::Cancelled)
    }
}

/// A task to enqueue.
pub struct NewTask {
    pub kind: Kind,
    pub payload: Value,
    pub created_by: Option<i64>,
    pub total: Option<i64>,
    pub dedupe_key: Option<String>,
    pub run_at: PrimitiveDateTime,
}

impl NewTask {
    pub fn new(kind: Kind, payload: Value, now: PrimitiveDateTime) -> NewTask {
        NewTask {
            kind,
            payload,
            created_by: None,
            total: None,
            dedupe_key: None,
            run_at: now,
        }
    }

    pub fn by(mut self, user_id: i64) -> NewTask {
        self.created_by = Some(user_id);
        self
    }

    pub fn total(mut self, total: i64) -> NewTask {
        self.total = Some(total);
        self
    }
}

/// Wakes this instance's idle workers after a commit that enqueued work,
/// so it starts now rather than at the next poll.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_waiters();
    }

    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
