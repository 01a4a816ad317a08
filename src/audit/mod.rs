//! The audit trail. [`record`] writes one event through the open transaction
//! ([`Tx`]) of the change it describes, so both commit or neither does; it
//! also writes a log line with target `audit`. Actions are a closed list
//! ([`Action`]): a new one is declared here, never spelled at a call site.

pub mod address;
pub mod anonymous;
pub mod chain;
mod origin;
pub mod query;
pub mod retention;
pub mod words;

pub use origin::RequestMeta;

use serde_json::{Value, json};

use crate::access::Actor;
use crate::db::types::{ActorType, Outcome};
use crate::db::{Db, Tx};
use time::PrimitiveDateTime;

/// Who did it.
#[derive(Clone, Debug)]
pub struct ActorRef {
    pub kind: ActorType,
    pub id: Option<i64>,
    pub label: String,
}

impl ActorRef {
    pub fn user(id: i64, email: &str) -> Self {
        ActorRef {
            kind: ActorType::User,
            id: Some(id),
            label: email.to_owned(),
        }
    }
    pub fn of(actor: &Actor) -> Self {
        match &actor.key {
            // A key acting on behalf of a user names both.
            Some(key) if actor.user_id != 0 => ActorRef {
                kind: ActorType::ApiKey,
                id: Some(key.id),
                label: format!("key:{} for {}", key.name, actor.email),
            },
            Some(key) => ActorRef {
                kind: ActorType::ApiKey,
                id: Some(key.id),
                label: format!("key:{}", key.name),
            },
            None => Self::user(actor.user_id, &actor.email),
        }
    }
    pub fn anonymous() -> Self {
        ActorRef {
            kind: ActorType::Anonymous,
            id: None,
            label: "anonymous".into(),
        }
    }
    pub fn system() -> Self {
        ActorRef {
            kind: ActorType::System,
            id: None,
            label: "system".into(),
        }
    }
}

/// Declares the audited actions and their stored keys in one list.
macro_rules! actions {
    ($($variant:ident => $key:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The key stored in `audit_events.action` (area, dot, verb).
            pub const fn key(self) -> &'static str {
                match self {
                    $(Action::$variant => $key,)*
                }
            }
        }
    };
}

actions! {
    AccessDenied => "access.denied",
    SignIn => "auth.sign_in",
    SignInFailed => "auth.sign_in_failed",
    SignOut => "auth.sign_out",
    TotpEnrolled => "auth.totp_enrolled",
    TotpStepUsed => "auth.totp_step_used",
    PasswordChanged => "auth.password_changed",
    RecoveryCodesRegenerated => "auth.recovery_codes_regenerated",
    RecoveryCodeUsed => "auth.recovery_code_used",
    StepUpConfirmed => "auth.step_up",
    SetupCompleted => "auth.setup_completed",
    SetupLinkIssued => "auth.setup_link_issued",
    CsrfRejected => "security.csrf_rejected",
    RateLimited => "security.rate_limited",
    SessionEnded => "session.ended",
    Seeded => "system.seeded",
    SecretKeyRotated => "system.secret_key_rotated",
    AdminInvited => "user.admin_invited",
    UserCreated => "user.created",
    UserUpdated => "user.updated",
    UserStatusChanged => "user.status_changed",
    RoleGranted => "user.role_granted",
    RoleRemoved => "user.role_removed",
    NoteAdded => "user.note_added",
    TotpReset => "user.totp_reset",
    PasswordResetSent => "user.password_reset_sent",
    InvitationSent => "user.invitation_sent",
    PasswordReset => "user.password_reset",
    UserDeleted => "user.deleted",
    UserRestored => "user.restored",
    UserErased => "user.erased",
    UserPurged => "user.purged",
    UserExported => "user.exported",
    UsersExportedCsv => "user.exported_csv",
    LocaleChanged => "user.locale_changed",
    PreferenceChanged => "user.preference_changed",
    RoleCreated => "role.created",
    RoleUpdated => "role.updated",
    RoleDeleted => "role.deleted",
    ApiKeyCreated => "api_key.created",
    ApiKeyRotated => "api_key.rotated",
    ApiKeyRevoked => "api_key.revoked",
    WorkspaceCreated => "workspace.created",
    WorkspaceRenamed => "workspace.renamed",
    WorkspaceDuplicated => "workspace.duplicated",
    WorkspaceSettingsChanged => "workspace.settings_changed",
    WorkspaceArchived => "workspace.archived",
    WorkspaceRestored => "workspace.restored",
    WorkspaceDeleted => "workspace.deleted",
    MemberAdded => "workspace.member_added",
    MemberRoleChanged => "workspace.member_role_changed",
    MemberRemoved => "workspace.member_removed",
    PlanCreated => "plan.created",
    PlanUpdated => "plan.updated",
    PlanArchived => "plan.archived",
    PlanRestored => "plan.restored",
    PlanDeleted => "plan.deleted",
    PlanMadeDefault => "plan.made_default",
    QuotaOverrideAdded => "usage.override_added",
    QuotaOverrideRevoked => "usage.override_revoked",
    ComplimentaryPlanGiven => "billing.complimentary_given",
    ComplimentaryPlanEnded => "billing.complimentary_ended",
    SubscriptionSynced => "billing.subscription_synced",
    StripeCustomerDeleted => "billing.customer_deleted",
    CheckoutCreated => "billing.checkout_created",
    PortalCreated => "billing.portal_created",
    SubscriptionPlanChanged => "billing.plan_changed",
    SubscriptionCancelScheduled => "billing.cancel_scheduled",
    SubscriptionCanceledNow => "billing.canceled_now",
    SubscriptionResumed => "billing.resumed",
    StripeEventReprocessed => "billing.event_reprocessed",
    OverageInvoiced => "billing.overage_invoiced",
    PeriodClosed => "usage.period_closed",
    PeriodCloseRequested => "usage.period_close_requested",
    JobRetried => "jobs.job_retried",
    JobDeleted => "jobs.job_deleted",
    JobPromoted => "jobs.job_promoted",
    QueuePaused => "jobs.queue_paused",
    QueueResumed => "jobs.queue_resumed",
    JobsBulkRetried => "jobs.bulk_retried",
    JobsBulkDeleted => "jobs.bulk_deleted",
    JobAlertSettingsChanged => "jobs.alert_settings_changed",
    TaskStarted => "task.started",
    TaskCancelled => "task.cancelled",
    AuditPurged => "audit.purged",
    ViewSaved => "audit.view_saved",
    ViewDeleted => "audit.view_deleted",
    DigestExported => "audit.digest_exported",
}

#[derive(Clone, Debug)]
pub struct Event {
    pub action: Action,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub workspace_id: Option<i64>,
    pub outcome: Outcome,
    pub details: Value,
}

impl Event {
    pub fn new(action: Action) -> Self {
        Event {
            action,
            target_type: None,
            target_id: None,
            workspace_id: None,
            outcome: Outcome::Allowed,
            details: json!({}),
        }
    }
    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target_type = Some(kind);
        self.target_id = Some(id.to_string());
        self
    }
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
    /// The workspace the event happened in (its history lists it).
    pub fn workspace(mut self, id: i64) -> Self {
        self.workspace_id = Some(id);
        self
    }
    pub fn denied(mut self) -> Self {
        self.outcome = Outcome::Denied;
        self
    }

    // The audited actions.
    pub fn sign_in() -> Self {
        Event::new(Action::SignIn)
    }
    pub fn sign_in_failed(reason: &str) -> Self {
        Event::new(Action::SignInFailed)
            .denied()
            .details(json!({ "reason": reason }))
    }
    pub fn sign_out() -> Self {
        Event::new(Action::SignOut)
    }
    pub fn totp_enrolled() -> Self {
        Event::new(Action::TotpEnrolled)
    }
    pub fn recovery_code_used(left: i64) -> Self {
        Event::new(Action::RecoveryCodeUsed).details(json!({ "codes_left": left }))
    }
    pub fn session_ended() -> Self {
        Event::new(Action::SessionEnded)
    }
    pub fn setup_completed() -> Self {
        Event::new(Action::SetupCompleted)
    }
    pub fn admin_invited() -> Self {
        Event::new(Action::AdminInvited)
    }
    pub fn csrf_rejected(reason: &str) -> Self {
        Event::new(Action::CsrfRejected)
            .denied()
            .details(json!({ "reason": reason }))
    }
    pub fn rate_limited() -> Self {
        Event::new(Action::RateLimited).denied()
    }
    pub fn access_denied(method: &str, path: &str, permission: &str) -> Self {
        Event::new(Action::AccessDenied)
            .denied()
            .details(json!({ "method": method, "path": path, "permission": permission }))
    }
}

/// Writes `event` inside the caller's transaction.
pub async fn record(
    tx: &mut Tx<'_>,
    at: PrimitiveDateTime,
    actor: &ActorRef,
    meta: &RequestMeta,
    event: Event,
) -> Result<(), diesel::result::Error> {
    tracing::info!(
        target: "audit",
        action = event.action.key(),
        outcome = %event.outcome,
        actor = %actor.label,
        target_type = event.target_type,
        target_id = event.target_id.as_deref(),
        request_id = meta.request_id.as_deref(),
        "audit event"
    );
    let event = chain::Sealed {
        id: 0,
        at: chain::stored_time(at),
        actor_type: actor.kind.as_str().to_owned(),
        actor_id: actor.id,
        actor_label: actor.label.clone(),
        action: event.action.key().to_owned(),
        target_type: event.target_type.map(str::to_owned),
        target_id: event.target_id,
        workspace_id: event.workspace_id,
        outcome: event.outcome.as_str().to_owned(),
        ip: meta.ip_string(),
        user_agent: meta.user_agent.clone(),
        client_id: Some(meta.client_id.clone()),
        request_id: meta.request_id.clone(),
        details: event.details.to_string(),
        seq: None,
        prev_hash: None,
        hash: None,
        personal_digest: None,
        personal_salt: None,
    };
    chain::append(tx, event).await?;
    Ok(())
}

/// Writes an event that is the whole change (a denial, a refusal): its own
/// transaction, on a connection the caller holds.
pub async fn record_alone(
    db: &mut Db,
    at: PrimitiveDateTime,
    actor: &ActorRef,
    meta: &RequestMeta,
    event: Event,
) -> Result<(), diesel::result::Error> {
    // Owned: the transaction's closure may not borrow from the caller.
    let (actor, meta) = (actor.clone(), meta.clone());
    db.transaction(|tx| Box::pin(async move { record(tx, at, &actor, &meta, event).await }))
        .await
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn action_keys_are_unique_and_namespaced() {
        let mut keys: Vec<&str> = Action::ALL.iter().map(|a| a.key()).collect();
        assert!(keys.iter().all(|k| k.split('.').count() == 2), "{keys:?}");
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "an action key is declared twice");
    }
}
