//! Puts the negotiated [`Lang`] in the request extensions, and the language
//! switch (a cookie; saved on the profile too when signed in).

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;

use crate::audit::{self, ActorRef, Event};
use crate::db::schema::users;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::web::current::CurrentUser;
use crate::web::guard::{redirect, safe_next};
use crate::web::meta::RequestMeta;

pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let lang = Lang::negotiate(req.headers());
    req.extensions_mut().insert(lang);
    next.run(req).await
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Lang>().copied().unwrap_or_default())
    }
}

/// The `Set-Cookie` value that remembers a language for a year.
pub fn cookie_value(lang: Lang, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
        lang.code()
    )
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
    next: Option<String>,
}

/// POST /lang: switch language; a signed-in user's choice is kept on their
/// profile (audited like any change to it).
pub async fn switch(
    State(state): State<AppState>,
    CurrentUser(actor): CurrentUser,
    meta: RequestMeta,
    headers: HeaderMap,
    Form(form): Form<LangForm>,
) -> Result<Response, AppError> {
    let lang =
        Lang::parse(&form.lang).ok_or_else(|| AppError::BadRequest("unknown language".into()))?;
    if let Some(actor) = actor {
        let mut db = state.pool.get().await?;
        let now = state.clock.now_primitive();
        db.transaction(|db| {
            Box::pin(async move {
                crate::db_run!(db, |c| diesel::update(users::table.find(actor.user_id))
                    .set(users::locale.eq(lang.code()))
                    .execute(c)
                    .await)?;
                let event = Event::new(crate::audit::Action::LocaleChanged)
                    .target("user", actor.user_id)
                    .details(serde_json::json!({ "after": lang.code() }));
                audit::record(db, now, &ActorRef::of(&actor), &meta, event).await
            })
        })
        .await?;
    }
    let back = form.next.as_deref().or_else(|| {
        headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| {
                r.find("://")
                    .and_then(|i| r[i + 3..].find('/').map(|j| &r[i + 3 + j..]))
            })
    });
    let mut response = redirect(&safe_next(back), headers.contains_key("hx-request"));
    if let Ok(v) = HeaderValue::from_str(&cookie_value(lang, state.config.is_https())) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response.into_response())
}
