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
