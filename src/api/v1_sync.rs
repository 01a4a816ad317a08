//! `POST /api/v1/users/sync` (`users:sync`): the main app upserts its users
//! by email. Every row is checked first; if any is invalid the answer is
//! 422 listing each row's problems and nothing is applied. Otherwise one
//! transaction creates or updates each user, each change audited with the
//! key as actor and its client id as the app of origin. With an
//! `Idempotency-Key` header the same key and body replay the first answer.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::idempotency::{self, Replay};
use crate::api::keys::valid_client_id;
use crate::audit::{Action, ActorRef, Event};
use crate::change::{By, ChangeError};
use crate::db::schema::users;
use crate::db::types::{UserStatus, UserType};
use crate::state::AppState;
use crate::user_record::model::{NewUser, is_valid_email, normalize_email};
use crate::users::changes::{self, ProfileInput};
use crate::web::api_error::ApiError;
use crate::web::current::SignedIn;
use crate::web::meta::RequestMeta;

/// Rows one call may carry.
pub const MAX_ROWS: usize = 1000;

#[derive(Deserialize)]
pub struct SyncRequest {
    pub users: Vec<SyncRow>,
}

#[derive(Deserialize, Clone)]
pub struct SyncRow {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub company: String,
    #[serde(default, rename = "type")]
    pub user_type: String,
    #[serde(default)]
    pub status: String,
    /// The application the user signed up in (`sowat-app`, `mobile-app`).
    #[serde(default)]
    pub client_id: Option<String>,
}

/// A checked row.
struct Valid {
    email: String,
    name: String,
    company: String,
    user_type: UserType,
    status: UserStatus,
    client_id: Option<String>,
}

fn problem(row: usize, field: &str, text: &str) -> Value {
    json!({ "row": row, "field": field, "problem": text })
}

fn without_controls(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// Every problem of every row, or the rows checked.
fn check(rows: &[SyncRow]) -> Result<Vec<Valid>, Vec<Value>> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, r) in rows.iter().enumerate() {
        let before = problems.len();
        let email = r.email.trim();
        if !is_valid_email(email) {
            problems.push(problem(i, "email", "not a valid email address"));
        } else if !seen.insert(normalize_email(email)) {
            problems.push(problem(i, "email", "appears twice in this batch"));
        }
        // Control characters stop at the edge here as in forms (see
        // `crate::web::sanitize`): stripped, then the text is checked.
        let name = without_controls(&r.name);
        let name = name.trim();
        let company = without_controls(&r.company);
        let company = company.trim();
        if name.is_empty() || name.chars().count() > 200 {
            problems.push(problem(i, "name", "required, at most 200 characters"));
        }
        if company.chars().count() > 200 {
            problems.push(problem(i, "company", "at most 200 characters"));
        }
        let user_type = UserType::parse(&r.user_type.to_uppercase());
        if user_type.is_none() {
            problems.push(problem(i, "type", "INTERNAL or EXTERNAL"));
        }
        let status = UserStatus::parse(&r.status.to_uppercase());
        if status.is_none() {
            problems.push(problem(
                i,
                "status",
                "ACTIVE, PENDING, SUSPENDED or INACTIVE",
            ));
        }
        if let Some(c) = &r.client_id
            && !valid_client_id(c)
        {
            problems.push(problem(
                i,
                "client_id",
                "2 to 64 lower-case letters, digits or dashes",
            ));
        }
        if let (true, Some(user_type), Some(status)) = (problems.len() == before, user_type, status)
        {
            out.push(Valid {
                email: email.to_owned(),
                name: name.to_owned(),
                company: company.to_owned(),
                user_type,
                status,
                client_id: r.client_id.clone(),
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

pub async fn sync(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    meta: RequestMeta,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let key_id = actor.key.as_ref().map_or(0, |k| k.id);
    let replay = idempotency::key_of(&headers)?;
    let mut db = state.pool.get().await?;
    if let Some(idem) = &replay {
        match idempotency::find(&mut db, key_id, idem, &body).await? {
            Replay::Fresh => {}
            Replay::Answer(status, stored) => return Ok(stored_answer(status, &stored)),
            Replay::Conflict => {
                // A valid request that conflicts with one already made:
                // 409, as the usage API answers the same case.
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "idempotency_conflict",
                    "this Idempotency-Key was used with another body",
                ));
            }
        }
    }
    let request: SyncRequest = crate::web::api_error::json_body(&body)?;
    if request.users.is_empty() || request.users.len() > MAX_ROWS {
        return Err(ApiError::invalid(format!(
            "send 1 to {MAX_ROWS} users a call"
        )));
    }
    let rows = check(&request.users)
        .map_err(|p| ApiError::invalid("some rows are invalid: nothing was applied").details(p))?;
    let by = By {
        actor: ActorRef::of(&actor),
        meta,
        now: state.clock.now_primitive(),
    };
    let idem = replay.clone();
    let body_bytes = body.clone();
    let result = db
        .transaction(|db| {
            Box::pin(async move {
                let mut results = Vec::with_capacity(rows.len());
                let (mut created, mut updated, mut unchanged) = (0, 0, 0);
                for row in &rows {
                    let (id, outcome) = upsert(db, &by, row).await?;
                    match outcome {
                        "created" => created += 1,
                        "updated" => updated += 1,
                        _ => unchanged += 1,
                    }
                    results.push(json!({ "email": row.email, "id": id, "result": outcome }));
                }
                let answer = json!({ "created": created, "updated": updated, "unchanged": unchanged, "users": results });
                if let Some(k) = &idem {
                    idempotency::store(db, key_id, k, &body_bytes, 200, &answer, by.now).await?;
                }
                Ok::<_, ChangeError>(answer)
            })
        })
        .await;
    match result {
        Ok(answer) => Ok((StatusCode::OK, Json(answer)).into_response()),
        Err(ChangeError::Invalid(key)) => Err(ApiError::invalid(crate::i18n::Lang::En.t(key))),
        Err(ChangeError::NotFound) => Err(ApiError::not_found()),
        Err(ChangeError::Db(e)) if crate::db::is_unique_violation(&e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "another request changed these users at the same time: send it again",
        )),
        Err(ChangeError::Db(e)) => Err(e.into()),
    }
}

fn stored_answer(status: i32, body: &str) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let mut r = (status, Json(value)).into_response();
    r.headers_mut().insert(
        "idempotent-replayed",
        axum::http::HeaderValue::from_static("true"),
    );
    r
}

/// Creates or updates one user; returns its id and what happened.
async fn upsert(
    db: &mut crate::db::Tx<'_>,
    by: &By,
    row: &Valid,
) -> Result<(i64, &'static str), ChangeError> {
    let found: Option<(i64, Option<time::PrimitiveDateTime>, UserStatus)> =
        crate::db_run!(db, |c| users::table
            .filter(users::email_lower.eq(normalize_email(&row.email)))
            .select((users::id, users::deleted_at, users::status))
            .first(c)
            .await
            .optional())?;
    match found {
        None => {
            let new = NewUser {
                signup_client_id: row.client_id.as_deref(),
                ..NewUser::new(
                    &row.email,
                    &row.name,
                    &row.company,
                    row.user_type,
                    row.status,
                    by.now,
                )
            };
            let id: i64 = crate::db_run!(db, |c| diesel::insert_into(users::table)
                .values(&new)
                .returning(users::id)
                .get_result(c)
                .await)?;
            let after = json!({ "email": row.email, "name": row.name, "company": row.company, "type": row.user_type, "status": row.status });
            by.record(
                db,
                Event::new(Action::UserCreated).target("user", id).details(
                    json!({ "after": after, "signup_client": row.client_id, "by": "sync" }),
                ),
            )
            .await?;
            Ok((id, "created"))
        }
        // A deleted account is not brought back by a sync: a person decides.
        Some((_, Some(_), _)) => Err(ChangeError::Invalid("api.sync_deleted")),
        Some((id, None, status)) => {
            let profile = ProfileInput {
                name: row.name.clone(),
                email: row.email.clone(),
                company: row.company.clone(),
                user_type: row.user_type,
            };
            let mut changed = changes::update_profile(db, by, id, &profile).await?;
            if status != row.status {
                changed |= changes::set_status(db, by, id, row.status, "sync").await?;
            }
            Ok((id, if changed { "updated" } else { "unchanged" }))
        }
    }
}
