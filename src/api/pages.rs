//! The API keys screens (`api_keys.manage`): the list with its filters, a
//! key's page (last use, requests per day, refusals, history), creation
//! with the secret shown once, rotation with a grace period, revocation.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query};
use axum::response::Response;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use time::PrimitiveDateTime;

use crate::access::Scope;
use crate::api::keys::{self, ApiKey, KeyCursor, KeyFilter, KeyState, NewKey};
use crate::change::refusal;
use crate::db::schema::{api_key_usage, users};
use crate::error::AppError;
use crate::web::action::Call;
use crate::web::event_view::{EventView, history, of_target};
use crate::web::form::{Choice, all, field};
use crate::web::format::{date_time, parse_day};
use crate::web::layout::PageCtx;
use crate::web::render::{html, refused};

/// Grace periods offered when rotating, in hours (0: the old secret stops now).
const GRACE_HOURS: [i64; 5] = [0, 1, 24, 72, 168];

pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub client_id: String,
    pub owner: String,
    pub scopes: Vec<&'static str>,
    pub state: &'static str,
    pub state_label: &'static str,
    pub expires: String,
    pub last_used: String,
    pub limits: String,
}

#[derive(Template)]
#[template(path = "api_keys/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub rows: Vec<KeyRow>,
    pub owner: String,
    pub client_id: String,
    pub scopes: Vec<Choice>,
    pub states: Vec<Choice>,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
}

#[derive(Template)]
#[template(path = "api_keys/new.html")]
pub struct NewPage {
    pub ctx: PageCtx,
    pub error: Option<String>,
    pub field: Option<&'static str>,
    pub name: String,
    pub client_id: String,
    pub owner: String,
    pub expires: String,
    pub rate: String,
    pub quota: String,
    pub scopes: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "api_keys/secret.html")]
pub struct SecretPage {
    pub ctx: PageCtx,
    pub id: i64,
    pub name: String,
    pub secret: String,
    pub rotated: bool,
}

pub struct DayUse {
    pub day: String,
    pub requests: i64,
    pub throttled: i64,
    /// Bar height, percent of the busiest day.
    pub height: i64,
}

#[derive(Template)]
#[template(path = "api_keys/page.html")]
pub struct KeyPage {
    pub ctx: PageCtx,
    pub item: KeyRow,
    pub days: Vec<DayUse>,
    pub throttled: i64,
    pub grace: Vec<Choice>,
    pub active: bool,
    pub history: Vec<EventView>,
    pub error: Option<String>,
}

fn scope_choices(selected: &[String]) -> Vec<Choice> {
    Scope::ALL
        .iter()
        .map(|s| Choice {
            value: s.key().to_owned(),
            label: s.key().to_owned(),
            selected: selected.iter().any(|x| x == s.key()),
        })
        .collect()
}

use crate::user_record::emails::emails_of as owner_emails;

fn row(ctx: &PageCtx, k: &ApiKey, owner: String, now: PrimitiveDateTime) -> KeyRow {
    let never = ctx.tr("api_keys.never").to_owned();
    KeyRow {
        id: k.id,
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        client_id: k.client_id.clone(),
        owner,
        scopes: k.scope_list().iter().map(|s| s.key()).collect(),
        state: k.state(now).key(),
        state_label: ctx.tr(&format!("api_keys.state_{}", k.state(now).key())),
        expires: k.expires_at.map_or_else(|| never.clone(), date_time),
        last_used: k.last_used_at.map_or(never, |t| {
            format!(
                "{} ({})",
                date_time(t),
                k.last_used_ip.clone().unwrap_or_default()
            )
        }),
        limits: ctx.lang.tf(
            "api_keys.limits_value",
            &[
                ("rate", &k.rate_per_minute.to_string()),
                ("quota", &k.monthly_quota.to_string()),
            ],
        ),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    owner: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    /// The page of keys older than this one.
    before: Option<i64>,
    /// The page of keys newer than this one.
    after: Option<i64>,
}

/// Keys a page of the list.
const PAGE: usize = 50;

impl ListQuery {
    /// This list's filters in a query string, with `cursor` (`before=7`).
    fn href(&self, cursor: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("owner", &self.owner),
            ("client_id", &self.client_id),
            ("scope", &self.scope),
            ("state", &self.state),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v.trim());
            }
        }
        let mut out = format!("/admin/api-keys?{}", q.finish());
        if !out.ends_with('?') {
            out.push('&');
        }
        out.push_str(cursor);
        out
    }
}

pub async fn list(call: Call, Query(q): Query<ListQuery>) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let now = call.state.clock.now_primitive();
    // An owner is typed as an address; an unknown one matches nothing.
    let owner = match q.owner.trim() {
        "" => None,
        o => Some(
            crate::db_run!(&mut db, |c| users::table
                .filter(users::email_lower.eq(o.to_lowercase()))
                .select(users::id)
                .first::<i64>(c)
                .await
                .optional())?
            .unwrap_or(-1),
        ),
    };
    let filter = KeyFilter {
        owner,
        client_id: q.client_id.trim(),
        scope: Scope::parse(&q.scope),
        state: KeyState::parse(&q.state),
        now,
    };
    let cursor = match (q.before, q.after) {
        (Some(id), _) => KeyCursor::Before(id),
        (None, Some(id)) => KeyCursor::After(id),
        (None, None) => KeyCursor::First,
    };
    // One more than a page tells whether there is another page that way.
    let mut found = keys::list(&mut db, &filter, cursor, PAGE as i64 + 1).await?;
    let more = found.len() > PAGE;
    if more {
        match cursor {
            KeyCursor::After(_) => drop(found.remove(0)),
            _ => found.truncate(PAGE),
        }
    }
    let (first, last) = (
        <[ApiKey]>::first(&found).map(|k| k.id),
        found.last().map(|k| k.id),
    );
    let newer = match cursor {
        KeyCursor::First => false,
        KeyCursor::Before(_) => true,
        KeyCursor::After(_) => more,
    };
    let older = match cursor {
        KeyCursor::After(_) => true,
        _ => more,
    };
    let prev_href = first
        .filter(|_| newer)
        .map(|id| q.href(&format!("after={id}")));
    let next_href = last
        .filter(|_| older)
        .map(|id| q.href(&format!("before={id}")));
    let ids: Vec<i64> = found.iter().map(|k| k.owner_id).collect();
    let emails = owner_emails(&mut db, &ids).await?;
    let rows = found
        .iter()
        .map(|k| {
            let owner = emails.get(&k.owner_id).cloned().unwrap_or_default();
            row(&call.ctx, k, owner, now)
        })
        .collect();
    let states = KeyState::ALL
        .iter()
        .map(|s| Choice {
            value: s.key().to_owned(),
            label: call
                .ctx
                .tr(&format!("api_keys.state_{}", s.key()))
                .to_owned(),
            selected: q.state == s.key(),
        })
        .collect();
    html(&ListPage {
        scopes: scope_choices(std::slice::from_ref(&q.scope)),
        states,
        owner: q.owner,
        client_id: q.client_id,
        rows,
        prev_href,
        next_href,
        ctx: call.ctx,
    })
}

pub async fn new(call: Call) -> Result<Response, AppError> {
    html(&NewPage {
        error: None,
        field: None,
        name: String::new(),
        client_id: String::new(),
        owner: call.actor.email.clone(),
        expires: String::new(),
        rate: "600".into(),
        quota: "1000000".into(),
        scopes: scope_choices(&[]),
        ctx: call.ctx,
    })
}

pub async fn create(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let get = |k: &str| field(&fields, k);
    let chosen: Vec<String> = all(&fields, "scopes").map(str::to_owned).collect();
    let mut db = call.state.pool.get().await?;
    let owner_email = get("owner").trim().to_lowercase();
    let owner: Option<i64> = crate::db_run!(&mut db, |c| users::table
        .filter(users::email_lower.eq(&owner_email))
        .filter(users::deleted_at.is_null())
        .select(users::id)
        .first(c)
        .await
        .optional())?;
    let expires = get("expires");
    let problem: Option<(&'static str, &'static str)> = if owner.is_none() {
        Some(("owner", "api_keys.owner_unknown"))
    } else if !expires.trim().is_empty() && parse_day(&expires).is_none() {
        Some(("expires", "api_keys.expiry_invalid"))
    } else if get("rate").trim().parse::<i32>().is_err()
        || get("quota").trim().parse::<i64>().is_err()
    {
        Some(("rate", "api_keys.limits_invalid"))
    } else {
        None
    };
    let outcome = match (problem, owner) {
        (Some(p), _) => Err(p),
        (None, Some(owner_id)) => {
            let input = NewKey {
                name: get("name"),
                client_id: get("client_id").trim().to_owned(),
                owner_id,
                scopes: chosen.iter().filter_map(|s| Scope::parse(s)).collect(),
                expires_at: parse_day(&expires).map(|d| d.midnight()),
                rate_per_minute: get("rate").trim().parse().unwrap_or(0),
                monthly_quota: get("quota").trim().parse().unwrap_or(0),
            };
            let by = call.by();
            let result = db
                .transaction(|db| Box::pin(async move { keys::create(db, &by, &input).await }))
                .await;
            refusal(result)?.map_err(|key| (field_of(key), key))
        }
        (None, None) => Err(("owner", "api_keys.owner_unknown")),
    };
    match outcome {
        Ok((id, secret)) => html(&SecretPage {
            ctx: call.ctx,
            id,
            name: get("name").trim().to_owned(),
            secret,
            rotated: false,
        }),
        Err((field, key)) => {
            let page = NewPage {
                error: Some(call.ctx.tr(key).to_owned()),
                field: Some(field),
                name: get("name"),
                client_id: get("client_id"),
                owner: get("owner"),
                expires,
                rate: get("rate"),
                quota: get("quota"),
                scopes: scope_choices(&chosen),
                ctx: call.ctx,
            };
            refused(&page)
        }
    }
}

/// The form field a refusal is about.
fn field_of(key: &str) -> &'static str {
    match key {
        "api_keys.client_id_invalid" => "client_id",
        "api_keys.scopes_required" => "scopes",
        "api_keys.limits_invalid" => "rate",
        "api_keys.expiry_past" => "expires",
        _ => "name",
    }
}

async fn key_page(call: &Call, id: i64, error: Option<String>) -> Result<KeyPage, AppError> {
    let mut db = call.state.pool.get().await?;
    let now = call.state.clock.now_primitive();
    let k = keys::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let emails = owner_emails(&mut db, &[k.owner_id]).await?;
    let owner = emails.get(&k.owner_id).cloned().unwrap_or_default();
    // The last 30 days, summed from the minutes.
    let since = (now - time::Duration::days(29)).date().midnight();
    let minutes: Vec<(PrimitiveDateTime, i64, i64)> =
        crate::db_run!(&mut db, |c| api_key_usage::table
            .filter(api_key_usage::key_id.eq(id))
            .filter(api_key_usage::minute.ge(since))
            .select((
                api_key_usage::minute,
                api_key_usage::requests,
                api_key_usage::throttled
            ))
            .load(c)
            .await)?;
    let mut days: Vec<DayUse> = (0..30)
        .map(|i| DayUse {
            day: (since.date() + time::Duration::days(i)).to_string(),
            requests: 0,
            throttled: 0,
            height: 0,
        })
        .collect();
    for (minute, requests, throttled) in minutes {
        let i = (minute.date() - since.date()).whole_days();
        if let Some(d) = usize::try_from(i).ok().and_then(|i| days.get_mut(i)) {
            d.requests += requests;
            d.throttled += throttled;
        }
    }
    let busiest = days.iter().map(|d| d.requests).max().unwrap_or(0).max(1);
    for d in &mut days {
        d.height = d.requests * 100 / busiest;
    }
    let throttled = days.iter().map(|d| d.throttled).sum();
    let history = history(&mut db, call.ctx.lang, &of_target("api_key", id), 50).await?;
    let grace = GRACE_HOURS
        .iter()
        .map(|h| Choice {
            value: h.to_string(),
            label: call
                .ctx
                .tr_with("api_keys.grace_hours", "n", &h.to_string()),
            selected: *h == 24,
        })
        .collect();
    Ok(KeyPage {
        active: k.state(now) == KeyState::Active,
        item: row(&call.ctx, &k, owner, now),
        days,
        throttled,
        grace,
        history,
        error,
        ctx: call.ctx.clone(),
    })
}

pub async fn page(call: Call, Path(id): Path<i64>) -> Result<Response, AppError> {
    html(&key_page(&call, id, None).await?)
}

pub async fn rotate(
    call: Call,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let hours: i64 = field(&fields, "grace").parse().unwrap_or(0);
    if !GRACE_HOURS.contains(&hours) {
        return Err(AppError::BadRequest("grace".into()));
    }
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    let result = db
        .transaction(|db| {
            Box::pin(async move { keys::rotate(db, &by, id, time::Duration::hours(hours)).await })
        })
        .await;
    // This instance stops trusting what it kept of the old secret at once.
    call.state.key_cache.forget(id);
    match refusal(result)? {
        Ok((name, secret)) => html(&SecretPage {
            ctx: call.ctx,
            id,
            name,
            secret,
            rotated: true,
        }),
        Err(key) => {
            let page = key_page(&call, id, Some(call.ctx.tr(key).to_owned())).await?;
            refused(&page)
        }
    }
}

pub async fn revoke(call: Call, Path(id): Path<i64>) -> Result<Response, AppError> {
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    let result = db
        .transaction(|db| Box::pin(async move { keys::revoke(db, &by, id).await }))
        .await;
    call.state.key_cache.forget(id);
    let error = refusal(result)?
        .err()
        .map(|key| call.ctx.tr(key).to_owned());
    html(&key_page(&call, id, error).await?)
}
