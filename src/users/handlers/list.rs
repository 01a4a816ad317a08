//! `/admin/users`: filters and search in the query string, rows swapped by
//! htmx as you type, keyset pages, a count fetched separately (capped).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use axum_htmx::HxRequest;

use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::users::store::list::{self, COUNT_CAP, ListParams, PAGE_SIZES};
use crate::users::views::{
    Abilities, Choice, CountBadge, ListPage, SortLink, UserRow, status_choices, type_choices,
};
use crate::web::current::SignedIn;
use crate::web::format::group;
use crate::web::layout::PageCtx;
use crate::web::render::html;

fn sort_links(lang: Lang, params: &ListParams) -> Vec<SortLink> {
    let current = list::Sort::parse(&params.sort);
    [
        (list::Sort::Created, "users.sort_created"),
        (list::Sort::Name, "users.sort_name"),
        (list::Sort::LastLogin, "users.sort_last_login"),
    ]
    .into_iter()
    .map(|(sort, key)| {
        let mut p = params.clone();
        p.sort = sort.key().to_owned();
        SortLink {
            label: lang.t(key),
            href: format!("/admin/users?{}", p.query_without_cursor()),
            active: sort == current,
        }
    })
    .collect()
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    HxRequest(htmx): HxRequest,
    SignedIn(actor): SignedIn,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    let lang = ctx.lang;
    let filter = params.filter();
    let mut db = state.pool.get().await?;
    let (users, next) = list::page(&mut db, &filter).await?;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let mut role_names: HashMap<i64, Vec<String>> = HashMap::new();
    for (uid, _key, en, fr) in list::roles_of(&mut db, &ids).await? {
        role_names
            .entry(uid)
            .or_default()
            .push(if lang == Lang::Fr { fr } else { en });
    }
    let rows: Vec<UserRow> = users
        .iter()
        .map(|u| {
            UserRow::new(
                lang,
                u,
                role_names.remove(&u.id).unwrap_or_default().join(", "),
            )
        })
        .collect();
    let base = params.query_without_cursor();
    let next_href = next.map(|c| {
        format!(
            "/admin/users?{}{}after={}",
            base,
            if base.is_empty() { "" } else { "&" },
            c.encode()
        )
    });
    let roles = state
        .roles
        .platform_roles(&mut db, state.clock.now())
        .await?
        .into_iter()
        .map(|r| Choice {
            selected: r.key == params.role,
            label: r.label(lang).to_owned(),
            value: r.key,
        })
        .collect();
    let sizes = PAGE_SIZES
        .iter()
        .map(|s| Choice {
            value: s.to_string(),
            label: s.to_string(),
            selected: filter.size == *s,
        })
        .collect();
    let page = ListPage {
        statuses: status_choices(lang, &params.status, true),
        types: type_choices(lang, &params.user_type),
        roles,
        sizes,
        sorts: sort_links(lang, &params),
        count_href: format!("/admin/users/count?{base}"),
        can: Abilities::of(&actor),
        // Hidden fields, so bulk forms act on what is shown.
        filter_fields: params.filter_pairs(),
        ranking: list::ranking(&filter, !rows.is_empty()),
        date_problem: params.date_problem(),
        ctx,
        params,
        rows,
        next_href,
    };
    if htmx {
        return html(&page.as_results());
    }
    html(&page)
}

/// GET /admin/users/count: "1,234 users" or "more than 10,000".
pub async fn count(
    State(state): State<AppState>,
    lang: Lang,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let n = list::capped_count(&mut db, &params.filter()).await?;
    let text = if n > COUNT_CAP {
        lang.tf("users.count_more", &[("n", &group(COUNT_CAP))])
    } else {
        lang.tn("users.count", n, &[("n", &group(n))])
    };
    html(&CountBadge { n, text })
}
