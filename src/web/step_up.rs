//! Step-up ("admin mode"): a dangerous action asks for a fresh
//! second-factor code when the session's last check (`mfa_at`, set at
//! sign-in and by each step-up) is older than `SOWAT_STEP_UP_MINUTES`.
//!
//! A route declares it with [`Needs`] (a test on its form fields, so a bulk
//! action asks only past [`BULK`] records); the layer in [`check`] runs
//! after the access check. When a code is due it answers with the prompt, a
//! modal over the page for htmx, a page otherwise, whose form posts the
//! original fields again with `_step_up_code`: the action resumes as sent.
//! A handler that can only tell from the database (a setting being
//! weakened) calls [`demand`] itself with the same effect.
//!
//! A wrong code counts against the account like a failed sign-in (the same
//! allowance and lock); when the lock falls, the session ends.

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::access::Actor;
use crate::audit::{self, ActorRef, Event, RequestMeta};
use crate::error::AppError;
use crate::security::session_store::keys;
use crate::security::{attempts, step_up, store};
use crate::state::AppState;
use crate::web::current::CurrentUser;
use crate::web::form::{all, field};
use crate::web::layout::PageCtx;
use crate::web::render::html;

/// Whether a request with these form fields is dangerous enough to ask.
pub type Needs = fn(&[(String, String)]) -> bool;

/// The field the prompt adds to the replayed form.
pub const CODE_FIELD: &str = "_step_up_code";

/// Bulk actions over this many records ask.
pub const BULK: usize = 100;

/// Forms are small; anything larger is refused before it is parsed.
const BODY_LIMIT: usize = 1024 * 1024;

/// Every time.
pub fn always(_: &[(String, String)]) -> bool {
    true
}

/// A new user created with platform roles.
pub fn names_roles(fields: &[(String, String)]) -> bool {
    all(fields, "roles").any(|r| !r.is_empty())
}

/// The confirmed users' bulk action over more than [`BULK`] users (or
/// "all matching", counted only later).
pub fn bulk_users(fields: &[(String, String)]) -> bool {
    field(fields, "confirmed") == "1"
        && (field(fields, "all") == "1" || all(fields, "ids").count() > BULK)
}

/// The jobs' bulk action over more than [`BULK`] jobs, or over all matching.
pub fn bulk_jobs(fields: &[(String, String)]) -> bool {
    field(fields, "scope") == "all" || all(fields, "ids").count() > BULK
}

/// When the session's second factor was last checked.
pub async fn checked_at(session: &Session) -> Option<OffsetDateTime> {
    let at: i64 = session.get(keys::MFA_AT).await.ok().flatten()?;
    OffsetDateTime::from_unix_timestamp(at).ok()
}

/// Whether the last check still covers dangerous actions.
async fn fresh(state: &AppState, session: &Session) -> bool {
    checked_at(session).await.is_some_and(|at| {
        let age = state.clock.now() - at;
        age >= time::Duration::ZERO && age.unsigned_abs() < state.config.step_up
    })
}

/// The prompt: the original form's fields carried as hidden inputs.
#[derive(Template)]
#[template(path = "auth/step_up.html", blocks = ["body"])]
pub struct Prompt {
    pub ctx: PageCtx,
    pub action: String,
    pub fields: Vec<(String, String)>,
    pub minutes: u64,
    pub back: String,
    pub error: Option<String>,
}

/// The prompt as a modal over the current page (htmx).
#[derive(Template)]
#[template(
    // The header's admin-mode badge goes: the check it showed has lapsed.
    source = r#"<dialog class="modal" data-open aria-labelledby="step-up-title">{{ body|safe }}</dialog><span id="admin-mode" hx-swap-oob="delete"></span>"#,
    ext = "html"
)]
struct Modal {
    body: String,
}

/// What became of a request that may need a fresh code.
pub enum Outcome {
    /// Go on: no code needed, or the code given was right.
    Proceed,
    /// Answer this instead (the prompt, or a refusal).
    Answer(Response),
}

/// The decision for one request: `fields` as posted (a right
/// `_step_up_code` among them refreshes the check).
pub async fn demand(
    state: &AppState,
    parts: &mut Parts,
    actor: &Actor,
    fields: &[(String, String)],
) -> Result<Outcome, AppError> {
    // Only a person with a second factor can step up; staff always have one
    // (enrolment comes first), a workspace manager may not.
    if actor.key.is_some() || !actor.totp_enabled {
        return Ok(Outcome::Proceed);
    }
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::internal("session layer missing"))?;
    if fresh(state, &session).await {
        return Ok(Outcome::Proceed);
    }
    let code = field(fields, CODE_FIELD);
    let meta = RequestMeta::from_parts(parts, state.config.trusted_proxies);
    let error = if code.trim().is_empty() {
        None
    } else {
        match confirm(state, &session, &meta, actor, code.trim()).await? {
            Confirmed::Yes => return Ok(Outcome::Proceed),
            Confirmed::No => Some("step_up.wrong"),
            Confirmed::Locked => {
                session.flush().await?;
                let htmx = parts.headers.contains_key("hx-request");
                return Ok(Outcome::Answer(crate::web::guard::redirect(
                    "/login?notice=locked_out",
                    htmx,
                )));
            }
        }
    };
    let ctx = PageCtx::from_request_parts(parts, state).await?;
    let htmx = parts.headers.contains_key("hx-request") && error.is_none();
    let back = parts
        .headers
        .get("hx-current-url")
        .or_else(|| parts.headers.get(axum::http::header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok())
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .map(|p| crate::web::guard::safe_next(Some(&p)))
        .unwrap_or_else(|| "/admin".to_owned());
    let prompt = Prompt {
        action: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
        fields: fields
            .iter()
            .filter(|(k, _)| k != "_csrf" && k != CODE_FIELD)
            .cloned()
            .collect(),
        minutes: state.config.step_up.as_secs() / 60,
        back,
        error: error.map(|k| ctx.tr(k).to_owned()),
        ctx,
    };
    let mut response = if htmx {
        let body = prompt.as_body().render().map_err(AppError::internal)?;
        let mut r = html(&Modal { body })?;
        // Over the page as it is, whatever the form meant to swap.
        r.headers_mut()
            .insert("hx-retarget", HeaderValue::from_static("body"));
        r.headers_mut()
            .insert("hx-reswap", HeaderValue::from_static("beforeend"));
        r
    } else if prompt.error.is_some() {
        crate::web::render::refused(&prompt)?
    } else {
        html(&prompt)?
    };
    response
        .headers_mut()
        .insert("x-step-up", HeaderValue::from_static("required"));
    Ok(Outcome::Answer(response))
}

enum Confirmed {
    Yes,
    No,
    Locked,
}

/// Checks `code` against the actor's second factor, counted like a sign-in
/// attempt; a right one refreshes the session's check, audited.
async fn confirm(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    actor: &Actor,
    code: &str,
) -> Result<Confirmed, AppError> {
    let mut db = state.pool.get().await?;
    let user = store::user_by_id(&mut db, actor.user_id)
        .await?
        .ok_or(AppError::Forbidden)?;
    let now = state.clock.now_primitive();
    let who = Some((user.id, user.email.as_str()));
    if !attempts::take(&mut db, user.id, now).await? {
        attempts::record_failure(&mut db, now, meta, who, "step_up", "locked").await?;
        return Ok(Confirmed::Locked);
    }
    let right = step_up::confirm_totp(&mut db, &state.secrets, state.clock.unix(), &user, code)
        .await
        .map_err(AppError::internal)?;
    if !right {
        attempts::record_failure(&mut db, now, meta, who, "step_up", "bad_totp").await?;
        return Ok(Confirmed::No);
    }
    let (meta, user_id, email) = (meta.clone(), user.id, user.email.clone());
    db.transaction(|db| {
        Box::pin(async move {
            store::clear_sign_in_failures(db, user_id).await?;
            let ev = Event::new(audit::Action::StepUpConfirmed).target("user", user_id);
            audit::record(db, now, &ActorRef::user(user_id, &email), &meta, ev).await
        })
    })
    .await?;
    session
        .insert(keys::MFA_AT, state.clock.now().unix_timestamp())
        .await?;
    Ok(Confirmed::Yes)
}

/// A copy of the request's head for a handler that calls [`demand`]
/// itself (the body is the handler's form).
pub struct Head(pub Parts);

impl FromRequestParts<AppState> for Head {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let (mut head, ()) = axum::http::Request::new(()).into_parts();
        head.method = parts.method.clone();
        head.uri = parts.uri.clone();
        head.version = parts.version;
        head.headers = parts.headers.clone();
        head.extensions = parts.extensions.clone();
        Ok(Head(head))
    }
}

/// The layer of a route that declared [`Needs`]: runs after the access
/// check, so the actor is known and allowed.
pub async fn check(
    State((state, needs)): State<(AppState, Needs)>,
    req: Request,
    next: Next,
) -> Response {
    match run(&state, needs, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    needs: Needs,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (mut parts, body) = req.into_parts();
    let actor = parts
        .extensions
        .get::<CurrentUser>()
        .and_then(|c| c.0.clone());
    let Some(actor) = actor.filter(|_| parts.method == Method::POST) else {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| AppError::TooLarge)?;
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    if !needs(&fields) {
        return Ok(next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await);
    }
    match demand(state, &mut parts, &actor, &fields).await? {
        Outcome::Answer(r) => Ok(r),
        Outcome::Proceed => {
            // The handler sees the form as first sent.
            let body = without_code(&fields, bytes);
            Ok(next.run(Request::from_parts(parts, Body::from(body))).await)
        }
    }
}

fn without_code(fields: &[(String, String)], bytes: Bytes) -> Bytes {
    if fields.iter().all(|(k, _)| k != CODE_FIELD) {
        return bytes;
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields.iter().filter(|(k, _)| k != CODE_FIELD) {
        out.append_pair(k, v);
    }
    Bytes::from(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn bulk_asks_past_a_hundred_or_for_all_matching() {
        let ids: Vec<(&str, &str)> = (0..101).map(|_| ("ids", "1")).collect();
        let mut many = ids.clone();
        many.push(("confirmed", "1"));
        assert!(bulk_users(&f(&many)));
        assert!(!bulk_users(&f(&ids)), "not before the confirmation");
        assert!(!bulk_users(&f(&[("confirmed", "1"), ("ids", "1")])));
        assert!(bulk_users(&f(&[("confirmed", "1"), ("all", "1")])));
        assert!(bulk_jobs(&f(&ids)));
        assert!(bulk_jobs(&f(&[("scope", "all")])));
        assert!(!bulk_jobs(&f(&[("ids", "1")])));
        assert!(names_roles(&f(&[("roles", "admin")])));
        assert!(!names_roles(&f(&[("email", "a@b.c")])));
    }

    #[test]
    fn the_code_is_taken_out_of_the_replayed_form() {
        let fields = f(&[("a", "1 2"), (CODE_FIELD, "123456"), ("b", "é")]);
        let out = without_code(&fields, Bytes::from_static(b"ignored"));
        assert_eq!(&out[..], b"a=1+2&b=%C3%A9");
    }
}
