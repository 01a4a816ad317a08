//! Saved views of the audit trail: a person names the filter on screen and
//! finds it again among their views, on any device. A view is the filter's
//! query string as the page itself writes it (unknown fields and the page
//! cursor dropped), so opening one is opening a link. Each save and delete
//! is audited.

use axum::Form;
use axum::response::Response;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use serde_json::json;

use crate::admin::audit_filter::Filters;
use crate::audit::{Action, Event};
use crate::change::{By, ChangeError};
use crate::db::schema::saved_views;
use crate::db::{Db, Tx};
use crate::db_run;
use crate::error::AppError;
use crate::web::action::{Call, run};
use crate::web::guard::redirect;
use crate::web::layout::FLASH;
use crate::web::meta::IdPath;
use crate::web::table;

/// The screen the views belong to (the only one, so far).
const SCREEN: &str = "audit";
/// Views per person and screen.
const MAX_VIEWS: i64 = 20;
const MAX_NAME: usize = 60;

/// A view as the page lists it.
#[derive(Clone, Debug, Queryable)]
pub struct View {
    pub id: i64,
    pub name: String,
    pub query: String,
}

impl View {
    pub fn href(&self) -> String {
        table::href("/admin/audit", &self.query)
    }
}

pub async fn list(db: &mut Db, user_id: i64) -> Result<Vec<View>, diesel::result::Error> {
    db_run!(db, |c| saved_views::table
        .filter(saved_views::user_id.eq(user_id))
        .filter(saved_views::screen.eq(SCREEN))
        .order(saved_views::name)
        .select((saved_views::id, saved_views::name, saved_views::query))
        .load(c)
        .await)
}

/// Saves `query` as `name` (replacing the person's view of that name).
async fn save(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    name: &str,
    query: &str,
) -> Result<i64, ChangeError> {
    let existing: Option<i64> = db_run!(tx, |c| saved_views::table
        .filter(saved_views::user_id.eq(user_id))
        .filter(saved_views::screen.eq(SCREEN))
        .filter(saved_views::name.eq(name))
        .select(saved_views::id)
        .first(c)
        .await
        .optional())?;
    let id = match existing {
        Some(id) => {
            db_run!(tx, |c| diesel::update(saved_views::table.find(id))
                .set(saved_views::query.eq(query))
                .execute(c)
                .await)?;
            id
        }
        None => {
            let count: i64 = db_run!(tx, |c| saved_views::table
                .filter(saved_views::user_id.eq(user_id))
                .filter(saved_views::screen.eq(SCREEN))
                .count()
                .get_result(c)
                .await)?;
            if count >= MAX_VIEWS {
                return Err(ChangeError::Invalid("views.too_many"));
            }
            db_run!(tx, |c| diesel::insert_into(saved_views::table)
                .values((
                    saved_views::user_id.eq(user_id),
                    saved_views::screen.eq(SCREEN),
                    saved_views::name.eq(name),
                    saved_views::query.eq(query),
                    saved_views::created_at.eq(by.now),
                ))
                .returning(saved_views::id)
                .get_result(c)
                .await)?
        }
    };
    let event = Event::new(Action::ViewSaved)
        .target("saved_view", id)
        .details(json!({ "name": name, "query": query }));
    by.record(tx, event).await?;
    Ok(id)
}

/// Deletes one of the person's own views; another's is not found.
async fn delete(tx: &mut Tx<'_>, by: &By, user_id: i64, id: i64) -> Result<(), ChangeError> {
    let view: Option<(String, String)> = db_run!(tx, |c| saved_views::table
        .find(id)
        .filter(saved_views::user_id.eq(user_id))
        .select((saved_views::name, saved_views::query))
        .first(c)
        .await
        .optional())?;
    let (name, query) = view.ok_or(ChangeError::NotFound)?;
    db_run!(tx, |c| diesel::delete(saved_views::table.find(id))
        .execute(c)
        .await)?;
    let event = Event::new(Action::ViewDeleted)
        .target("saved_view", id)
        .details(json!({ "name": name, "query": query }));
    by.record(tx, event).await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    view_name: String,
    #[serde(flatten)]
    filters: Filters,
}

/// POST /admin/audit/views: saves the filter on screen under a name.
pub async fn save_view(call: Call, Form(form): Form<SaveForm>) -> Result<Response, AppError> {
    let mut filters = form.filters;
    filters.before.clear();
    let query = filters.query();
    let back = table::href("/admin/audit", &query);
    let name: String = form
        .view_name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let problem = if name.is_empty() {
        Some("views.name_missing")
    } else if name.chars().count() > MAX_NAME {
        Some("views.name_long")
    } else if query.is_empty() {
        Some("views.nothing_filtered")
    } else {
        None
    };
    if let Some(key) = problem {
        call.session.insert(FLASH, call.ctx.tr(key)).await?;
        return Ok(redirect(&back, call.htmx));
    }
    let user_id = call.actor.user_id;
    let (n, q) = (name.clone(), query.clone());
    let saved = run(&call, move |tx, by| {
        Box::pin(async move { save(tx, &by, user_id, &n, &q).await })
    })
    .await?;
    let message = match saved {
        Ok(_) => call.ctx.tr_with("views.saved", "name", &name),
        Err(_) => call.ctx.tr("views.too_many").to_owned(),
    };
    call.session.insert(FLASH, message).await?;
    Ok(redirect(&back, call.htmx))
}

/// POST /admin/audit/views/{id}/delete
pub async fn delete_view(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let user_id = call.actor.user_id;
    run(&call, move |tx, by| {
        Box::pin(async move { delete(tx, &by, user_id, id).await })
    })
    .await?
    .map_err(|_| AppError::NotFound)?;
    call.session
        .insert(FLASH, call.ctx.tr("views.deleted"))
        .await?;
    Ok(redirect("/admin/audit", call.htmx))
}
