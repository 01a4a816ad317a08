//! `GET /api/v1/users/{id}` and `GET /api/v1/users?email=` (`users:read`):
//! the main app reads a backoffice user. Soft-deleted and erased users are
//! not found; secrets never leave (the `Listed` columns only).

use axum::Json;
use axum::extract::{Path, Query, State};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;
use time::format_description::well_known::Rfc3339;

use crate::db::schema::users;
use crate::state::AppState;
use crate::user_record::model::Listed;
use crate::web::api_error::ApiError;

#[derive(Serialize)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub company: String,
    #[serde(rename = "type")]
    pub user_type: &'static str,
    pub status: &'static str,
    pub created_at: String,
    pub last_login_at: Option<String>,
    /// The client id of the application they signed up in, when a sync
    /// created them.
    pub signup_client_id: Option<String>,
}

fn rfc3339(t: PrimitiveDateTime) -> String {
    t.assume_utc().format(&Rfc3339).unwrap_or_default()
}

impl From<Listed> for UserOut {
    fn from(u: Listed) -> Self {
        UserOut {
            id: u.id,
            email: u.email,
            name: u.name,
            company: u.company,
            user_type: u.user_type.as_str(),
            status: u.status.as_str(),
            created_at: rfc3339(u.created_at),
            last_login_at: u.last_login_at.map(rfc3339),
            signup_client_id: u.signup_client_id,
        }
    }
}

pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UserOut>, ApiError> {
    let id = crate::api::numbers::path_id(&id, "user")?;
    let mut db = state.pool.get().await?;
    let found: Option<Listed> = crate::db_run!(&mut db, |c| users::table
        .find(id)
        .filter(users::deleted_at.is_null())
        .select(Listed::as_select())
        .first(c)
        .await
        .optional())?;
    found
        .map(|u| Json(u.into()))
        .ok_or_else(ApiError::not_found)
}

#[derive(Deserialize)]
pub struct ByEmail {
    #[serde(default)]
    email: String,
}

/// Users with this address (at most one: addresses are unique), as a list
/// so that an unknown address is an empty answer, not an error.
pub async fn by_email(
    State(state): State<AppState>,
    Query(q): Query<ByEmail>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // Anything with an @ is looked up (an unknown address finds nobody);
    // without one it is a mistake (control characters were already
    // stripped from the query string).
    if !q.email.contains('@') {
        return Err(
            ApiError::invalid("the email parameter must be an email address").details(vec![
                serde_json::json!({ "field": "email", "problem": "required, with an @" }),
            ]),
        );
    }
    let email = q.email.trim().to_lowercase();
    let mut db = state.pool.get().await?;
    let found: Vec<Listed> = crate::db_run!(&mut db, |c| users::table
        .filter(users::email_lower.eq(&email))
        .filter(users::deleted_at.is_null())
        .select(Listed::as_select())
        .load(c)
        .await)?;
    let data: Vec<UserOut> = found.into_iter().map(UserOut::from).collect();
    Ok(Json(
        serde_json::json!({ "data": data, "next_cursor": null }),
    ))
}
