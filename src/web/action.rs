//! What a handler that changes something receives ([`Call`]: the signed-in
//! actor, the page context, where the request came from, the session), and
//! the one way it runs its change: [`run`], one transaction in which the
//! change writes its audit event; a refusal comes back as the form to show
//! again.

use tower_sessions::Session;

use crate::access::Actor;
use crate::audit::{Action, ActorRef, Event, RequestMeta};
use crate::change::{By, ChangeError, ESCALATIONS};
use crate::db::{BoxFuture, Tx};
use crate::error::AppError;
use crate::state::AppState;
use crate::tasks::{self, NewTask};
use crate::web::current::SignedIn;
use crate::web::form::FormState;
use crate::web::layout::PageCtx;

/// What every action handler receives.
pub struct Call {
    pub state: AppState,
    pub ctx: PageCtx,
    pub actor: Actor,
    pub meta: RequestMeta,
    pub htmx: bool,
    pub session: Session,
}

impl Call {
    /// The author of the change, stamped with the clock's time now.
    pub fn by(&self) -> By {
        By {
            actor: ActorRef::of(&self.actor),
            meta: self.meta.clone(),
            now: self.state.clock.now_primitive(),
        }
    }
}

impl axum::extract::FromRequestParts<AppState> for Call {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = PageCtx::from_request_parts(parts, state).await?;
        let SignedIn(actor) = SignedIn::from_request_parts(parts, state).await?;
        let meta = RequestMeta::from_parts(parts, state.config.trusted_proxies);
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::internal("session layer missing"))?;
        Ok(Call {
            state: state.clone(),
            ctx,
            actor,
            meta,
            htmx: parts.headers.contains_key("hx-request"),
            session,
        })
    }
}

/// Starts `task` for the caller: the task and its start event (with
/// `details`: what it acts on, how many), plus `also` if the area has an
/// event of its own, commit in one transaction; then this instance's
/// workers are woken. Returns the task's id.
pub async fn start_task(
    call: &Call,
    task: NewTask,
    details: serde_json::Value,
    also: Option<Event>,
) -> Result<i64, AppError> {
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    let task = task.by(call.actor.user_id);
    let kind = task.kind;
    let id = db
        .transaction(|tx| {
            Box::pin(async move {
                let id = tasks::store::enqueue(tx, task, by.now).await?;
                let mut details = details;
                details["kind"] = serde_json::json!(kind.key());
                let started = Event::new(Action::TaskStarted)
                    .target("task", id)
                    .details(details);
                by.record(tx, started).await?;
                if let Some(event) = also {
                    by.record(tx, event).await?;
                }
                Ok::<_, ChangeError>(id)
            })
        })
        .await?;
    call.state.tasks.wake();
    Ok(id)
}

/// Runs `change` in one transaction; a refusal becomes the form state to show again.
pub async fn run<T, F>(call: &Call, change: F) -> Result<Result<T, FormState>, AppError>
where
    F: for<'c, 'd> FnOnce(&'c mut Tx<'d>, By) -> BoxFuture<'c, Result<T, ChangeError>>,
{
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    match db.transaction(|db| change(db, by)).await {
        Ok(changed) => Ok(Ok(changed)),
        Err(ChangeError::Invalid(key)) => {
            if ESCALATIONS.contains(&key) {
                deny_escalation(call, &mut db, key).await;
            }
            Ok(Err(FormState::refused(&call.ctx, None, key)))
        }
        Err(ChangeError::NotFound) => Err(AppError::NotFound),
        Err(ChangeError::Db(e)) => Err(e.into()),
    }
}

/// Logs and audits an attempted escalation as a denied access (alone: the
/// change itself rolled back), so it shows in the denied-accesses view.
async fn deny_escalation(call: &Call, db: &mut crate::db::Db, key: &'static str) {
    let who = ActorRef::of(&call.actor);
    let path = crate::redact::path(&call.ctx.path);
    tracing::warn!(actor = %who.label, %path, refusal = key, "escalation refused");
    let event = Event::access_denied("POST", &path, key);
    let now = call.state.clock.now_primitive();
    if let Err(e) = crate::audit::record_alone(db, now, &who, &call.meta, event).await {
        tracing::error!(error = %e, "could not audit a refused escalation");
    }
}
