//! The audit trail. [`record`] writes one event with the same [`Db`] as the
//! change it describes, so both commit or neither does; it also writes a log
//! line with target `audit`. One constructor per action keeps the set of
//! actions explicit and greppable.

use serde_json::{Value, json};

use crate::access::Actor;
use crate::db::Db;
use crate::db::schema::audit_events;
use crate::db::types::{ActorType, Outcome};
use crate::web::meta::RequestMeta;
use diesel_async::RunQueryDsl;
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
        Self::user(actor.user_id, &actor.email)
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

#[derive(Clone, Debug)]
pub struct Event {
    pub action: &'static str,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub workspace_id: Option<i64>,
    pub outcome: Outcome,
    pub details: Value,
}

impl Event {
    pub fn new(action: &'static str) -> Self {
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
    pub fn denied(mut self) -> Self {
        self.outcome = Outcome::Denied;
        self
    }

    // The audited actions.
    pub fn sign_in() -> Self {
        Event::new("auth.sign_in")
    }
    pub fn sign_in_failed(reason: &str) -> Self {
        Event::new("auth.sign_in_failed")
            .denied()
            .details(json!({ "reason": reason }))
    }
    pub fn sign_out() -> Self {
        Event::new("auth.sign_out")
    }
    pub fn totp_enrolled() -> Self {
        Event::new("auth.totp_enrolled")
    }
    pub fn recovery_code_used(left: i64) -> Self {
        Event::new("auth.recovery_code_used").details(json!({ "codes_left": left }))
    }
    pub fn session_ended() -> Self {
        Event::new("session.ended")
    }
    pub fn setup_completed() -> Self {
        Event::new("auth.setup_completed")
    }
    pub fn admin_invited() -> Self {
        Event::new("user.admin_invited")
    }
    pub fn csrf_rejected(reason: &str) -> Self {
        Event::new("security.csrf_rejected")
            .denied()
            .details(json!({ "reason": reason }))
    }
    pub fn rate_limited() -> Self {
        Event::new("security.rate_limited").denied()
    }
    pub fn access_denied(method: &str, path: &str, permission: &str) -> Self {
        Event::new("access.denied")
            .denied()
            .details(json!({ "method": method, "path": path, "permission": permission }))
    }
}

/// Writes `event` through `db` (inside the caller's transaction).
pub async fn record(
    db: &mut Db,
    at: PrimitiveDateTime,
    actor: &ActorRef,
    meta: &RequestMeta,
    event: Event,
) -> Result<(), diesel::result::Error> {
    tracing::info!(
        target: "audit",
        action = event.action,
        outcome = %event.outcome,
        actor = %actor.label,
        target_type = event.target_type,
        target_id = event.target_id.as_deref(),
        request_id = meta.request_id.as_deref(),
        "audit event"
    );
    let row = (
        audit_events::at.eq(at),
        audit_events::actor_type.eq(actor.kind),
        audit_events::actor_id.eq(actor.id),
        audit_events::actor_label.eq(&actor.label),
        audit_events::action.eq(event.action),
        audit_events::target_type.eq(event.target_type),
        audit_events::target_id.eq(event.target_id.as_deref()),
        audit_events::workspace_id.eq(event.workspace_id),
        audit_events::outcome.eq(event.outcome),
        audit_events::ip.eq(meta.ip_string()),
        audit_events::user_agent.eq(meta.user_agent.as_deref()),
        audit_events::client_id.eq(Some(meta.client_id.as_str())),
        audit_events::request_id.eq(meta.request_id.as_deref()),
        audit_events::details.eq(event.details.to_string()),
    );
    crate::db_run!(db, c => diesel::insert_into(audit_events::table).values(row.clone()).execute(c).await)?;
    Ok(())
}

use diesel::ExpressionMethods;
