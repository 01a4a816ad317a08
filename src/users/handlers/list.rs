//! `/admin/users`: filters and search in the query string, rows swapped by
//! htmx as you type, keyset pages in both directions, a count fetched
//! separately (capped), columns and page size remembered per viewer.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use axum_htmx::HxRequest;
use serde::Deserialize;

use crate::error::AppError;
use crate::i18n::Lang;
use crate::metering::catalog;
use crate::metering::period::Period;
use crate::state::AppState;
use crate::user_record::prefs::{self, Pref, USER_COLUMNS};
use crate::users::store::list::{self, COUNT_CAP, Cursor, ListParams, PAGE_SIZES, Sort};
use crate::users::views::{
    Abilities, Choice, CountBadge, ListPage, UserRow, status_choices, status_label, type_choices,
};
use crate::web::current::SignedIn;
use crate::web::format::group;
use crate::web::layout::PageCtx;
use crate::web::render::html;
use crate::web::table::{Chip, Column, DataTable, Pager, SortHeader, href, shown_columns};

const PATH: &str = "/admin/users";

/// The header label of each column, the name first (it cannot be hidden).
fn column_label(key: &str) -> &'static str {
    match key {
        "name" => "users.name",
        "email" => "users.email",
        "company" => "users.company",
        "status" => "users.status",
        "type" => "users.type",
        "roles" => "users.roles",
        "created" => "users.created",
        "plan" => "users.plan",
        "usage" => "users.usage",
        _ => "users.last_login",
    }
}

fn column_sort(key: &str) -> Option<Sort> {
    match key {
        "name" => Some(Sort::Name),
        "created" => Some(Sort::Created),
        "last_login" => Some(Sort::LastLogin),
        _ => None,
    }
}

/// The list's URL with `params`, without any position (back to page one).
fn list_href(params: &ListParams) -> String {
    href(PATH, &params.query_without_cursor())
}

fn columns(lang: Lang, params: &ListParams, shown: &[&str]) -> Vec<Column> {
    let (current, desc) = Sort::parse(&params.sort);
    std::iter::once("name")
        .chain(USER_COLUMNS)
        .map(|key| {
            let sort = column_sort(key).map(|sort| {
                let active = sort == current;
                let mut p = params.clone();
                // A click on the current sort reverses it.
                p.sort = sort.param(if active { !desc } else { sort.natural_desc() });
                if p.sort == Sort::Created.key() {
                    p.sort.clear();
                }
                SortHeader {
                    href: list_href(&p),
                    current: active.then_some(if desc { "descending" } else { "ascending" }),
                }
            });
            Column {
                key,
                label: lang.t(column_label(key)),
                sort,
                shown: key == "name" || shown.contains(&key),
                hideable: key != "name",
            }
        })
        .collect()
}

/// One chip per active filter; each links to the list without it.
fn chips(lang: Lang, params: &ListParams, role_label: Option<&str>) -> Vec<Chip> {
    let mut out = Vec::new();
    for (key, value) in params.filter_pairs() {
        if value.trim().is_empty() {
            continue;
        }
        let shown = match key {
            "status" if value == "DELETED" => lang.t("status.DELETED").to_owned(),
            "status" => crate::db::types::UserStatus::parse(&value)
                .map(|s| status_label(lang, s).to_owned())
                .unwrap_or_else(|| value.clone()),
            "type" => crate::db::types::UserType::parse(&value)
                .map(|t| crate::users::views::type_label(lang, t).to_owned())
                .unwrap_or_else(|| value.clone()),
            "role" => role_label.unwrap_or(&value).to_owned(),
            "plan" if value == "none" => lang.t("users.no_subscription").to_owned(),
            "usage" => match list::usage_filter(&value) {
                Some((level, period)) => lang.tf(
                    "users.usage_reached",
                    &[("level", &level.to_string()), ("period", &period)],
                ),
                None => value.clone(),
            },
            _ => value.clone(),
        };
        let name = match key {
            "q" => "users.search",
            "status" => "users.status",
            "type" => "users.type",
            "role" => "users.role",
            "workspace" => "users.workspace",
            "plan" => "users.plan",
            "usage" => "users.usage",
            "from" => "users.created_from",
            _ => "users.created_to",
        };
        let mut without = params.clone();
        for (k, v) in without.filter_mut() {
            if k == key {
                v.clear();
            }
        }
        out.push(Chip {
            label: format!("{}: {}", lang.t(name), shown),
            remove_href: list_href(&without),
        });
    }
    out
}

/// The pagination bar: the rows' position, previous and next.
fn pager(
    params: &ListParams,
    shown: usize,
    size: i64,
    prev: Option<Cursor>,
    next: Option<Cursor>,
) -> Pager {
    let base = params.query_without_cursor();
    let first = params.start().unwrap_or(1);
    let at = |param: &str, c: &Cursor, start: i64| {
        let mut q = base.clone();
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&format!("{param}={}&start={start}", c.encode()));
        href(PATH, &q)
    };
    // The previous page of the second one is the first: a plain link.
    let prev_href = prev.map(|c| {
        if first - size <= 1 {
            href(PATH, &base)
        } else {
            at("before", &c, first - size)
        }
    });
    let next_href = next.map(|c| at("after", &c, first + shown as i64));
    let known = params.start().is_some() || (params.after.is_empty() && params.before.is_empty());
    let range = (known && shown > 0)
        .then(|| format!("{}–{}", group(first), group(first + shown as i64 - 1)));
    let mut count_query = base.clone();
    if let Some(r) = &range {
        count_query.push_str(if count_query.is_empty() { "" } else { "&" });
        count_query.push_str(&format!(
            "range={}",
            url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>()
        ));
    }
    Pager {
        range,
        prev_href,
        next_href,
        count_href: href(&format!("{PATH}/count"), &count_query),
    }
}

/// A bare usage level from the form (`80`) completed with this month, so
/// the page, its links and a bulk task on it all mean the same month.
fn complete_usage(params: &mut ListParams, now: time::PrimitiveDateTime) {
    let level = params.usage.trim();
    if level == "80" || level == "100" {
        params.usage = format!("{level}@{}", Period::of_primitive(now).key());
    }
}

/// Fills the plan and usage columns of `rows` (two queries on the ids shown).
async fn billing_columns(
    db: &mut crate::db::Db,
    rows: &mut [UserRow],
    now: time::PrimitiveDateTime,
) -> Result<(), AppError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let plans = catalog::plan_codes_of(db, &ids).await?;
    let default = catalog::default_code(db).await?.unwrap_or_default();
    let period = Period::of_primitive(now).key();
    let counters = catalog::counters_of(db, &ids, &period).await?;
    for r in rows.iter_mut() {
        match plans.get(&r.id) {
            Some(code) => r.plan = code.clone(),
            None => {
                r.plan = default.clone();
                r.plan_default = true;
            }
        }
        let (used, level) = counters.get(&r.id).copied().unwrap_or(([0; 3], 0));
        r.usage = format!(
            "{} · {} · {}",
            group(used[0]),
            group(used[1]),
            group(used[2])
        );
        r.usage_level = level;
    }
    Ok(())
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    HxRequest(htmx): HxRequest,
    SignedIn(actor): SignedIn,
    Query(mut params): Query<ListParams>,
) -> Result<Response, AppError> {
    let lang = ctx.lang;
    let mut db = state.pool.get().await?;
    let stored = prefs::of_user(&mut db, actor.user_id).await?;
    let columns_pref = prefs::pick(&stored, Pref::UsersColumns);
    let size_pref = prefs::pick(&stored, Pref::UsersPageSize);
    // The remembered page size, unless the URL says otherwise.
    let size_from_url = !params.size.is_empty();
    let default_size = size_pref
        .and_then(|s| s.parse().ok())
        .unwrap_or(list::DEFAULT_PAGE_SIZE);
    if !size_from_url && let Some(s) = size_pref {
        params.size = s.to_owned();
    }
    complete_usage(&mut params, state.clock.now_primitive());
    let filter = params.filter();
    let page = list::page(&mut db, &filter).await?;
    let ids: Vec<i64> = page.rows.iter().map(|u| u.id).collect();
    let mut role_names: HashMap<i64, Vec<String>> = HashMap::new();
    for (uid, _key, en, fr) in list::roles_of(&mut db, &ids).await? {
        role_names
            .entry(uid)
            .or_default()
            .push(if lang == Lang::Fr { fr } else { en });
    }
    let mut rows: Vec<UserRow> = page
        .rows
        .iter()
        .map(|u| {
            UserRow::new(
                lang,
                u,
                role_names.remove(&u.id).unwrap_or_default().join(", "),
            )
        })
        .collect();
    let platform_roles = state
        .roles
        .platform_roles(&mut db, state.clock.now())
        .await?;
    let role_label = platform_roles
        .iter()
        .find(|r| r.key == params.role)
        .map(|r| r.label(lang).to_owned());
    let roles = platform_roles
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
    // Links keep the page size only when the URL chose it.
    if !size_from_url {
        params.size.clear();
    }
    let can = Abilities::of(&actor);
    let shown = shown_columns(columns_pref, &USER_COLUMNS);
    if shown.contains(&"plan") || shown.contains(&"usage") {
        billing_columns(&mut db, &mut rows, state.clock.now_primitive()).await?;
    }
    let plans = std::iter::once(Choice {
        value: "none".into(),
        label: lang.t("users.no_subscription").to_owned(),
        selected: params.plan == "none",
    })
    .chain(
        catalog::all(&mut db, false)
            .await?
            .into_iter()
            .map(|p| Choice {
                selected: params.plan == p.code,
                label: format!("{} ({})", p.name, p.code),
                value: p.code,
            }),
    )
    .collect();
    let usage_levels = ["80", "100"]
        .into_iter()
        .map(|level| Choice {
            value: level.to_owned(),
            label: lang.t(&format!("users.usage_{level}")).to_owned(),
            selected: params.usage.split('@').next() == Some(level),
        })
        .collect();
    let table = DataTable {
        id: "user-table",
        columns_pref: Pref::UsersColumns.name(),
        columns: columns(lang, &params, &shown),
        chips: chips(lang, &params, role_label.as_deref()),
        reset_href: PATH.to_owned(),
        pager: pager(&params, rows.len(), filter.size, page.prev, page.next),
        selectable: can.write || can.export,
    };
    let view = ListPage {
        statuses: status_choices(lang, &params.status, true),
        types: type_choices(lang, &params.user_type),
        roles,
        plans,
        usage_levels,
        sizes,
        can,
        // Hidden fields, so bulk forms act on what is shown.
        filter_fields: params.filter_pairs(),
        ranking: list::ranking(&filter, !rows.is_empty()),
        date_problem: params.date_problem(),
        filtered: params
            .filter_pairs()
            .iter()
            .any(|(_, v)| !v.trim().is_empty()),
        sort_param: params.sort.clone(),
        default_size,
        table,
        ctx,
        params,
        rows,
    };
    if htmx {
        return html(&view.as_results());
    }
    html(&view)
}

#[derive(Deserialize)]
pub struct CountQuery {
    /// "51–100": the rows shown, to answer "51–100 of 1,234".
    #[serde(default)]
    range: String,
}

/// GET /admin/users/count: "51–100 of 1,234" (or "1,234 matching"), and
/// the selection bar's "select all 1,234 matching" out of band.
pub async fn count(
    State(state): State<AppState>,
    lang: Lang,
    Query(mut params): Query<ListParams>,
    Query(extra): Query<CountQuery>,
) -> Result<Response, AppError> {
    complete_usage(&mut params, state.clock.now_primitive());
    let mut db = state.pool.get().await?;
    let filter = params.filter();
    let mut n = list::capped_count(&mut db, &filter).await?;
    let about = n > COUNT_CAP;
    if about {
        // Beyond the cap an estimate, never a scan; never below what was
        // just counted.
        n = list::estimated_count(&mut db, &filter)
            .await?
            .max(COUNT_CAP + 1);
    }
    let total = if about {
        lang.tf("table.about", &[("n", &group(n))])
    } else {
        group(n)
    };
    let range: String = extra.range.chars().take(40).collect();
    let text = if !range.is_empty() {
        lang.tf("table.range_of", &[("range", &range), ("total", &total)])
    } else if about {
        lang.tf("users.count_about", &[("n", &group(n))])
    } else {
        lang.tn("users.count", n, &[("n", &group(n))])
    };
    let all = lang.tn(
        "table.select_all_matching",
        n.min(COUNT_CAP + 1),
        &[("n", &total)],
    );
    html(&CountBadge { n, text, all })
}
