//! What every change takes and may answer, whatever the area: its author
//! ([`By`]: who, from where, when) and its refusal ([`ChangeError`]). A
//! change function takes `&mut Tx` and a `By`, and records its audit event
//! through the same transaction.

use time::PrimitiveDateTime;

use crate::audit::{self, ActorRef, Event, RequestMeta};
use crate::db::Tx;

/// Who changes what, when, from where.
#[derive(Clone)]
pub struct By {
    pub actor: ActorRef,
    pub meta: RequestMeta,
    pub now: PrimitiveDateTime,
}

impl By {
    /// The product itself (scheduled work, a task with no person behind it).
    pub fn system(now: PrimitiveDateTime, client_id: &str) -> By {
        By {
            actor: ActorRef::system(),
            meta: RequestMeta {
                client_id: client_id.into(),
                ..RequestMeta::default()
            },
            now,
        }
    }

    /// Writes `event` as done by this author, inside the change's transaction.
    pub async fn record(&self, tx: &mut Tx<'_>, event: Event) -> ChangeResult<()> {
        audit::record(tx, self.now, &self.actor, &self.meta, event).await?;
        Ok(())
    }
}

impl By {
    /// The author as a task's payload carries it (the time is the step's).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.actor.kind.as_str(),
            "id": self.actor.id,
            "label": self.actor.label,
            "ip": self.meta.ip_string(),
            "user_agent": self.meta.user_agent,
            "request_id": self.meta.request_id,
            "client_id": self.meta.client_id,
        })
    }

    /// The author stored by [`By::to_json`], acting at `now`.
    pub fn from_json(value: &serde_json::Value, now: PrimitiveDateTime) -> Option<By> {
        let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        Some(By {
            actor: ActorRef {
                kind: crate::db::types::ActorType::parse(&text("kind")?)?,
                id: value.get("id").and_then(|v| v.as_i64()),
                label: text("label").unwrap_or_default(),
            },
            meta: RequestMeta {
                ip: text("ip").and_then(|ip| ip.parse().ok()),
                user_agent: text("user_agent"),
                request_id: text("request_id"),
                client_id: text("client_id").unwrap_or_default(),
            },
            now,
        })
    }
}

/// Why a change was refused; the key is an i18n message.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("invalid: {0}")]
    Invalid(&'static str),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub type ChangeResult<T> = Result<T, ChangeError>;

/// Refusals meaning the actor tried to hand out more than they hold (a
/// permission or a role beyond their own): an attempted escalation, which
/// is audited as a denied access, not only shown on the form.
pub const ESCALATIONS: &[&str] = &["roles.escalation", "users.role_beyond_you"];

/// Splits a change's outcome for a handler that shows refusals in its
/// form: `Ok(Ok(v))` done, `Ok(Err(key))` refused with the message `key`
/// to show, `Err` not found or a database failure, answered as usual.
pub fn refusal<T>(
    result: ChangeResult<T>,
) -> Result<Result<T, &'static str>, crate::error::AppError> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(ChangeError::Invalid(key)) => Ok(Err(key)),
        Err(e) => Err(e.into()),
    }
}

/// A refusal reaching a handler that has no form to show it in: not found
/// stays 404, a database failure is the usual 500/503, and an unexpected
/// refusal is a 500 logged with its key.
impl From<ChangeError> for crate::error::AppError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::NotFound => crate::error::AppError::NotFound,
            ChangeError::Db(e) => e.into(),
            ChangeError::Invalid(key) => {
                crate::error::AppError::internal(format!("refused: {key}"))
            }
        }
    }
}
