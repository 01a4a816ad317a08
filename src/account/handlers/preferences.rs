//! `POST /account/preferences`: one's own screen choices (columns shown,
//! page size), checked against the closed list in `user_record::prefs`.

use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::web::action::Call;
use crate::web::guard::redirect;

/// POST /account/preferences: remembers a choice for one's own screens
/// (`name`, one or more `value`s). htmx answers 204; a plain form returns
/// to `next`.
pub async fn preferences(
    call: Call,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    use crate::user_record::prefs::{self, Pref};
    use crate::web::form::{all, field};
    let bad = || AppError::BadRequest(call.ctx.tr("account.bad_preference").into());
    let pref = Pref::parse(&field(&fields, "name")).ok_or_else(bad)?;
    let joined = all(&fields, "value").collect::<Vec<_>>().join(",");
    let value = pref.normalise(&joined).ok_or_else(bad)?;
    let uid = call.actor.user_id;
    crate::web::action::run(&call, move |tx, by| {
        Box::pin(async move { prefs::set(tx, &by, uid, pref, &value).await })
    })
    .await?
    .map_err(|_| bad())?;
    if call.htmx {
        return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
    }
    let next = field(&fields, "next");
    Ok(redirect(&crate::web::guard::safe_next(Some(&next)), false))
}
