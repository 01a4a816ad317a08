//! The user list query: filters, search and keyset pagination, written once
//! for both engines.
//!
//! Search finds every user whose name, email or company contains the query
//! (ignoring case), in two ranked tiers: first the users where it starts a
//! word (`sylvie.gui`, `guiard`, `outlook.fr`), from the word-start keys of
//! [`search_keys`], then those where it only occurs inside a word (`uiard`),
//! from the trigram index of each engine (FTS5 `trigram` on SQLite, `pg_trgm`
//! GIN on PostgreSQL). The first tier is a prefix lookup and nearly always
//! fills the page; the second is only queried when the first runs out.
//! An id matches exactly (first tier); a query that is a whole email
//! address matches that address only, from the unique email index.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use time::{PrimitiveDateTime, Time};

use crate::web::format::{date_range_problem, parse_day};

use crate::db::schema::{
    plans, roles, subscriptions, usage_counters, user_roles, users, workspace_members, workspaces,
};
use crate::db::types::{UserStatus, UserType};
use crate::db::{Db, like_escape};
use crate::metering::quota::ENDED;
use crate::user_record::model::{Listed, is_valid_email};
use crate::user_record::search_keys;
use crate::users::store::search_sql::Condition;

pub use crate::user_record::prefs::PAGE_SIZES;
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Longest search text considered; longer input is cut, never an error.
const MAX_QUERY_CHARS: usize = 200;
/// Counting stops here: beyond it the page says "more than".
pub const COUNT_CAP: i64 = 10_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Created,
    Name,
    LastLogin,
}

impl Sort {
    pub const ALL: [Sort; 3] = [Sort::Name, Sort::Created, Sort::LastLogin];

    /// The sort and its direction from the URL: `name` follows the
    /// column's natural direction, `-name` reverses it.
    pub fn parse(s: &str) -> (Sort, bool) {
        let (reversed, key) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let sort = match key {
            "name" => Sort::Name,
            "last_login" => Sort::LastLogin,
            "created" => Sort::Created,
            _ => return (Sort::Created, Sort::Created.natural_desc()),
        };
        (sort, sort.natural_desc() != reversed)
    }
    pub fn key(self) -> &'static str {
        match self {
            Sort::Created => "created",
            Sort::Name => "name",
            Sort::LastLogin => "last_login",
        }
    }
    /// Names A to Z, dates newest first.
    pub fn natural_desc(self) -> bool {
        self != Sort::Name
    }
    /// The URL value for this sort in the direction `desc`.
    pub fn param(self, desc: bool) -> String {
        if desc == self.natural_desc() {
            self.key().to_owned()
        } else {
            format!("-{}", self.key())
        }
    }
}

/// Which users: the status filter also offers the soft-deleted ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Any,
    Is(UserStatus),
    Deleted,
}

/// The query string of the list, as typed (kept verbatim to rebuild links).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, rename = "type")]
    pub user_type: String,
    #[serde(default)]
    pub role: String,
    /// A workspace's address: its members.
    #[serde(default)]
    pub workspace: String,
    /// A plan's code: its live subscribers; `none`: users with no live
    /// subscription (on the default plan).
    #[serde(default)]
    pub plan: String,
    /// `80@2026-12`: users who reached 80 % (or `100`) of a quota in that
    /// month. The list completes a bare `80` with the current month, so a
    /// link, a page and a bulk task all mean the same users.
    #[serde(default)]
    pub usage: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub sort: String,
    /// Kept as text: a malformed value falls back to the default, not a 400.
    #[serde(default)]
    pub size: String,
    #[serde(default)]
    pub after: String,
    /// The page ending just before this position ("previous").
    #[serde(default)]
    pub before: String,
    /// Position of the first row shown, counted from 1 (for "51–100").
    #[serde(default)]
    pub start: String,
}

/// Which plan the plan filter names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanPick {
    Code(String),
    NoSubscription,
}

/// `80@2026-12` → (80, "2026-12"); anything else, no filter.
pub fn usage_filter(value: &str) -> Option<(i32, String)> {
    let (level, period) = value.trim().split_once('@')?;
    let level = match level {
        "80" => 80,
        "100" => 100,
        _ => return None,
    };
    crate::metering::period::Period::parse(period).map(|p| (level, p.key()))
}

/// Parsed, bounded filters.
#[derive(Clone, Debug)]
pub struct Filter {
    pub q: String,
    pub status: StatusFilter,
    pub user_type: Option<UserType>,
    pub role: Option<String>,
    pub workspace: Option<String>,
    pub plan: Option<PlanPick>,
    /// The alert level reached (80 or 100) and the month.
    pub usage: Option<(i32, String)>,
    pub created_from: Option<PrimitiveDateTime>,
    pub created_to: Option<PrimitiveDateTime>,
    pub sort: Sort,
    /// Descending order of the sort key (then of the id).
    pub desc: bool,
    pub size: i64,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
}

impl ListParams {
    /// What is wrong with the date filters, as an i18n key: a date that is
    /// not one (ignored by the filter), or a range that ends before it starts.
    pub fn date_problem(&self) -> Option<&'static str> {
        date_range_problem(&self.from, &self.to)
    }

    pub fn filter(&self) -> Filter {
        let status = match self.status.as_str() {
            "DELETED" => StatusFilter::Deleted,
            s => UserStatus::parse(s)
                .map(StatusFilter::Is)
                .unwrap_or(StatusFilter::Any),
        };
        Filter {
            q: self.q.trim().chars().take(MAX_QUERY_CHARS).collect(),
            status,
            user_type: UserType::parse(&self.user_type),
            role: Some(self.role.trim())
                .filter(|r| !r.is_empty() && r.len() < 64)
                .map(str::to_owned),
            workspace: Some(self.workspace.trim())
                .filter(|w| !w.is_empty() && w.len() <= 64)
                .map(str::to_owned),
            // A value that names no plan matches nobody (the lookup finds
            // nothing), never everybody.
            plan: match self.plan.trim() {
                "" => None,
                "none" => Some(PlanPick::NoSubscription),
                code => Some(PlanPick::Code(code.chars().take(64).collect())),
            },
            // Likewise an unreadable usage filter: a level no one reaches.
            usage: match self.usage.trim() {
                "" => None,
                v => Some(usage_filter(v).unwrap_or((i32::MAX, String::new()))),
            },
            created_from: parse_day(&self.from).map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT)),
            created_to: parse_day(&self.to)
                .and_then(|d| d.next_day())
                .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT)),
            sort: Sort::parse(&self.sort).0,
            desc: Sort::parse(&self.sort).1,
            size: self
                .size
                .parse::<i64>()
                .ok()
                .filter(|s| PAGE_SIZES.contains(s))
                .unwrap_or(DEFAULT_PAGE_SIZE),
            after: Cursor::decode(&self.after),
            before: Cursor::decode(&self.before),
        }
    }

    /// The filter's parameters by name, declared once: links, the bulk
    /// forms' hidden fields and the reading of those forms all go through it.
    pub fn filter_mut(&mut self) -> [(&'static str, &mut String); 9] {
        [
            ("q", &mut self.q),
            ("status", &mut self.status),
            ("type", &mut self.user_type),
            ("role", &mut self.role),
            ("workspace", &mut self.workspace),
            ("plan", &mut self.plan),
            ("usage", &mut self.usage),
            ("from", &mut self.from),
            ("to", &mut self.to),
        ]
    }

    /// The filter's parameters with their values, as typed.
    pub fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let mut copy = self.clone();
        copy.filter_mut()
            .into_iter()
            .map(|(k, v)| (k, std::mem::take(v)))
            .collect()
    }

    /// The filter read from a form's fields (bulk actions carry it).
    pub fn filter_from(get: impl Fn(&str) -> String) -> Self {
        let mut params = ListParams::default();
        for (key, value) in params.filter_mut() {
            *value = get(key);
        }
        params
    }

    /// The query string without the cursor (for sort links, page size, next page).
    pub fn query_without_cursor(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        let sort = ("sort", self.sort.clone());
        for (k, v) in self.filter_pairs().into_iter().chain([sort]) {
            if !v.is_empty() {
                s.append_pair(k, &v);
            }
        }
        if !self.size.is_empty() {
            s.append_pair("size", &self.size);
        }
        s.finish()
    }

    /// The position of the first row shown, when the URL says it.
    pub fn start(&self) -> Option<i64> {
        self.start.parse().ok().filter(|n| *n >= 1)
    }
}

/// Position after the last row shown: its search tier, sort key and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub tier: Tier,
    pub key: String,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let tier = match self.tier {
            Tier::Words => 1,
            Tier::Inside => 2,
        };
        URL_SAFE_NO_PAD.encode(format!("{}\u{1f}{tier}\u{1f}{}", self.id, self.key))
    }
    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s.trim()).ok()?).ok()?;
        let mut parts = raw.splitn(3, '\u{1f}');
        let id = parts.next()?.parse().ok()?;
        let tier = match parts.next()? {
            "1" => Tier::Words,
            "2" => Tier::Inside,
            _ => return None,
        };
        Some(Cursor {
            tier,
            key: parts.next()?.to_owned(),
            id,
        })
    }
    fn time(&self) -> Option<PrimitiveDateTime> {
        // Nanoseconds: a coarser key would fall between a row's stored time
        // and itself, and a backward page would repeat that row.
        let nanos: i128 = self.key.parse().ok()?;
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
        Some(PrimitiveDateTime::new(t.date(), t.time()))
    }
}

fn time_key(t: PrimitiveDateTime) -> String {
    t.assume_utc().unix_timestamp_nanos().to_string()
}

/// The cursor after `user` (found in `tier`) for `sort`.
pub fn cursor_after(user: &Listed, sort: Sort, tier: Tier) -> Cursor {
    let key = match sort {
        Sort::Created => time_key(user.created_at),
        Sort::Name => user.name_sort.clone(),
        Sort::LastLogin => time_key(user.last_login_sort),
    };
    Cursor {
        tier,
        key,
        id: user.id,
    }
}

/// The ranked parts of a search (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// The query starts a word (or is the id).
    Words,
    /// The query occurs only inside words.
    Inside,
}

/// Which rows of a search a query selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// Every match (counts, bulk actions).
    All,
    Only(Tier, WordsBy),
}

/// How the word-start tier of a search finds its rows; both give the same
/// rows in the same order (tested), at different costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordsBy {
    /// Look the prefix up in the key index, then sort every match: cheap
    /// while matches are few.
    Index,
    /// Walk the list in its sort order and test each row (SQLite: each
    /// index entry's id against the matching ids; PostgreSQL: the row's
    /// keys): a page costs about size × users ÷ matches entries, so it is
    /// cheap when matches are many, and the same at any depth.
    RowTest,
}

/// Shortest query the trigram indexes can answer: shorter ones match at
/// word starts only.
const MIN_TRIGRAM_CHARS: usize = 3;

/// The i18n key saying how the rows of a text search are ranked, when
/// there are rows to rank.
pub fn ranking(f: &Filter, any_rows: bool) -> Option<&'static str> {
    if !any_rows || !is_text_search(f) {
        None
    } else if f.q.chars().count() < MIN_TRIGRAM_CHARS {
        Some("users.search_word_starts")
    } else {
        Some("users.search_ranked")
    }
}

/// Whether `f` searches by text (rather than by a whole email address).
pub fn is_text_search(f: &Filter) -> bool {
    !f.q.is_empty() && !is_valid_email(&f.q)
}

/// The FTS5 phrase for `q`: quoted, inner quotes doubled, so no operator
/// in the input is interpreted.
fn fts_phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

/// Applies every filter of `f` to a boxed `users` query (one body, both engines).
macro_rules! filtered {
    ($f:expr, $sqlite:expr, $ids:expr, $part:expr) => {{
        let ids: NamedIds = $ids;
        let f: &Filter = $f;
        let mut q = users::table.into_boxed();
        q = match f.status {
            StatusFilter::Deleted => q
                .filter(users::deleted_at.is_not_null())
                .filter(users::erased_at.is_null()),
            StatusFilter::Is(s) => q
                .filter(users::deleted_at.is_null())
                .filter(users::status.eq(s)),
            StatusFilter::Any => q.filter(users::deleted_at.is_null()),
        };
        if let Some(t) = f.user_type {
            q = q.filter(users::user_type.eq(t));
        }
        if let Some(role_id) = ids.role {
            q = q.filter(
                users::id.eq_any(
                    user_roles::table
                        .filter(user_roles::role_id.eq(role_id))
                        .select(user_roles::user_id),
                ),
            );
        }
        match ids.plan {
            Some(PlanIds::Plan(plan_id)) => {
                q = q.filter(
                    users::id.eq_any(
                        subscriptions::table
                            .filter(subscriptions::plan_id.eq(plan_id))
                            .filter(subscriptions::status.ne_all(ENDED))
                            .select(subscriptions::user_id),
                    ),
                );
            }
            Some(PlanIds::NoSubscription) => {
                q = q.filter(diesel::dsl::not(
                    users::id.eq_any(
                        subscriptions::table
                            .filter(subscriptions::status.ne_all(ENDED))
                            .select(subscriptions::user_id),
                    ),
                ));
            }
            None => {}
        }
        if let Some((level, period)) = &f.usage {
            // The counters' level index (period, level, user) answers.
            q = q.filter(
                users::id.eq_any(
                    usage_counters::table
                        .filter(usage_counters::period.eq(period.clone()))
                        .filter(usage_counters::level.ge(*level))
                        .select(usage_counters::user_id),
                ),
            );
        }
        if let Some(ws) = ids.workspace {
            q = if ids.members_walk {
                // A large workspace: walk the sort order and probe each
                // user's membership by its key (workspace_id, user_id).
                q.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = ",
                    )
                    .bind::<diesel::sql_types::BigInt, _>(ws)
                    .sql(" AND m.user_id = users.id)"),
                )
            } else {
                // A small one: its members from the membership key, sorted.
                q.filter(
                    users::id.eq_any(
                        workspace_members::table
                            .filter(workspace_members::workspace_id.eq(ws))
                            .select(workspace_members::user_id),
                    ),
                )
            };
        }
        if let Some(from) = f.created_from {
            q = q.filter(users::created_at.ge(from));
        }
        if let Some(to) = f.created_to {
            q = q.filter(users::created_at.lt(to));
        }
        if !f.q.is_empty() {
            if is_valid_email(&f.q) {
                // A whole address: the unique index answers, no scan.
                q = q.filter(users::email_lower.eq(f.q.to_lowercase()));
            } else {
                q = q.filter(search_condition(f, $sqlite, $part));
            }
        }
        q
    }};
}

/// The text-search part of the filter for `part` (see the module
/// documentation for the tiers), in the SQL of the engine.
fn search_condition(f: &Filter, sqlite: bool, part: Part) -> Condition {
    let (prefix, longer) = search_keys::prefix(&f.q);
    let row_test = matches!(part, Part::Only(_, WordsBy::RowTest));
    // Users with a key starting with the prefix; `as_set` gives their ids as
    // a subquery, which PostgreSQL evaluates once through the index (to
    // exclude them) rather than testing every row.
    let words = |as_set: bool| {
        if row_test && sqlite && walks_live_keys(f) {
            // The walk reads a covering index holding each live user's
            // keys (migration `users_search_walk`): a substring test per
            // entry, no id set to build, no row read unless it matches
            // (2 ms for a common word on a million users, against 21 ms
            // gathering its 33,000 keys first).
            Condition::new()
                .sql("instr(users.search_keys, ")
                .text(search_keys::row_needle(&prefix))
                .sql(") > 0")
        } else if row_test && sqlite {
            // The walk tests each index entry's id against the matching
            // ids, gathered once into a temporary set (the `+` keeps the
            // planner from looking the ids up one by one and sorting them
            // all): no row is read unless it matches. Testing the row's own
            // keys instead read every row passed, each a page from the
            // operating system's cache (16 ms for a common word on 100,000
            // users, against 2 ms).
            Condition::new()
                .sql("+users.id IN (SELECT user_id FROM user_search_keys WHERE key >= ")
                .text(prefix.clone())
                .sql(" AND key < ")
                .text(search_keys::upper_bound(&prefix))
                .sql(")")
        } else if row_test {
            // A plain substring test of the row's own keys (see
            // `search_keys::row_needle`): no index, microseconds a row.
            Condition::new()
                .sql(if sqlite {
                    "instr(users.search_keys, "
                } else {
                    "strpos(users.search_keys, "
                })
                .text(search_keys::row_needle(&prefix))
                .sql(") > 0")
        } else if sqlite {
            Condition::new()
                .sql("users.id IN (SELECT user_id FROM user_search_keys WHERE key >= ")
                .text(prefix.clone())
                .sql(" AND key < ")
                .text(search_keys::upper_bound(&prefix))
                .sql(")")
        } else if as_set || matches!(part, Part::Only(..)) {
            // The matching ids collected once through the GIN index (an
            // InitPlan), then the rows by primary key: written inline, the
            // condition let the planner walk the sort order and compute
            // the tsvector of every row it passed (half a second for a
            // common word).
            Condition::new()
                .sql("users.id = ANY(ARRAY(SELECT k.id FROM users k WHERE array_to_tsvector(search_key_array(k.search_keys)) @@ CAST(")
                .text(search_keys::tsquery(&prefix))
                .sql(" AS tsquery)))")
        } else {
            // The same expression as the index users_search_keys_idx.
            Condition::new()
                .sql("array_to_tsvector(search_key_array(users.search_keys)) @@ CAST(")
                .text(search_keys::tsquery(&prefix))
                .sql(" AS tsquery)")
        }
    };
    // Users whose name, email or company contains the text (trigram indexes).
    let contains = || {
        if sqlite {
            Condition::new()
                .sql("users.id IN (SELECT rowid FROM users_fts WHERE users_fts MATCH ")
                .text(fts_phrase(&f.q))
                .sql(")")
        } else {
            Condition::new()
                .sql("lower(users.name || ' ' || users.email || ' ' || users.company) LIKE ")
                .text(format!("%{}%", like_escape(&f.q.to_lowercase())))
                .sql(" ESCAPE '!'")
        }
    };
    let id = f.q.parse::<i64>().ok();
    let or_id = |c: Condition| match id {
        Some(n) => Condition::new()
            .sql("(")
            .then(c)
            .sql(" OR users.id = ")
            .int(n)
            .sql(")"),
        None => Condition::new().sql("(").then(c).sql(")"),
    };
    // A query longer than the keys has trigrams.
    let trigrams = f.q.chars().count() >= MIN_TRIGRAM_CHARS;
    match part {
        Part::All if trigrams => or_id(contains()),
        // The key holds only the start of a long query: check the rest.
        Part::All | Part::Only(Tier::Words, _) if longer => {
            or_id(words(false).sql(" AND ").then(contains()))
        }
        Part::All | Part::Only(Tier::Words, _) => or_id(words(false)),
        Part::Only(Tier::Inside, _) if trigrams => {
            let c = contains().sql(" AND NOT ").then(words(true));
            match id {
                Some(n) => c.sql(" AND users.id <> ").int(n),
                None => c,
            }
        }
        Part::Only(Tier::Inside, _) => Condition::new().sql("1 = 0"),
    }
}

/// Whether a walk in sort order under `f` can read the covering indexes of
/// live users' keys (SQLite): no filter but the text and the dates. Any
/// other filter makes SQLite walk that filter's index instead, which holds
/// no keys, and read every row it passes.
fn walks_live_keys(f: &Filter) -> bool {
    matches!(f.status, StatusFilter::Any)
        && f.user_type.is_none()
        && f.role.is_none()
        && f.workspace.is_none()
        && f.plan.is_none()
        && f.usage.is_none()
}

/// One page of users, with the positions of the pages around it.
pub struct Page {
    pub rows: Vec<Listed>,
    /// Where the next page starts, if more rows follow.
    pub next: Option<Cursor>,
    /// Where the previous page ends, if rows come before.
    pub prev: Option<Cursor>,
}

/// One page of users: after `f.after`, before `f.before`, or the first.
/// A text search walks its tiers in order (the second is queried only
/// once the first is exhausted), backwards for a previous page.
pub async fn page(db: &mut Db, f: &Filter) -> Result<Page, diesel::result::Error> {
    let by = words_by(db, f).await?;
    page_by(db, f, by).await
}

/// One page as [`page`] reads it, with the word-start tier read `by` the
/// given path (the search test checks both paths give the same pages).
pub async fn page_by(db: &mut Db, f: &Filter, by: WordsBy) -> Result<Page, diesel::result::Error> {
    page_walking(db, f, by, None).await
}

/// One page as [`page_by`] reads it, a workspace filter read by walking
/// the sort order (`Some(true)`), by sorting the members (`Some(false)`),
/// or as [`members_walk`] decides (`None`); the search test checks both
/// give the same pages.
pub async fn page_walking(
    db: &mut Db,
    f: &Filter,
    by: WordsBy,
    members: Option<bool>,
) -> Result<Page, diesel::result::Error> {
    let Some(mut ids) = named_ids(db, f).await? else {
        return Ok(Page {
            rows: Vec::new(),
            next: None,
            prev: None,
        });
    };
    ids.members_walk = match members {
        Some(walk) => walk && ids.workspace.is_some(),
        None => members_walk(db, f, &ids).await?,
    };
    if let Some(before) = &f.before {
        let (rows, more_before) = walk(db, f, ids, by, Some(before), true).await?;
        if more_before {
            let prev = <[_]>::first(&rows).map(|(u, t)| cursor_after(u, f.sort, *t));
            let next = rows.last().map(|(u, t)| cursor_after(u, f.sort, *t));
            return Ok(Page {
                rows: rows.into_iter().map(|(u, _)| u).collect(),
                next,
                prev,
            });
        }
        // Back at the start: show a whole first page.
        let (rows, more) = walk(db, f, ids, by, None, false).await?;
        return Ok(forward_page(f, rows, more, false));
    }
    let (rows, more) = walk(db, f, ids, by, f.after.as_ref(), false).await?;
    Ok(forward_page(f, rows, more, f.after.is_some()))
}

fn forward_page(f: &Filter, rows: Vec<(Listed, Tier)>, more: bool, has_prev: bool) -> Page {
    let next = if more {
        rows.last().map(|(u, t)| cursor_after(u, f.sort, *t))
    } else {
        None
    };
    let prev = if has_prev {
        <[_]>::first(&rows).map(|(u, t)| cursor_after(u, f.sort, *t))
    } else {
        None
    };
    Page {
        rows: rows.into_iter().map(|(u, _)| u).collect(),
        next,
        prev,
    }
}

/// Up to `f.size` rows from `from` (excluded) in display order, or before
/// it when `backward`, each with its tier; and whether more rows lie
/// beyond them in the direction walked.
async fn walk(
    db: &mut Db,
    f: &Filter,
    ids: NamedIds,
    by: WordsBy,
    from: Option<&Cursor>,
    backward: bool,
) -> Result<(Vec<(Listed, Tier)>, bool), diesel::result::Error> {
    let limit = f.size + 1;
    let tiered = is_text_search(f) && f.q.chars().count() >= MIN_TRIGRAM_CHARS;
    // The tiers in the order walked, and where each one starts.
    let order: &[Tier] = match (tiered, backward) {
        (false, _) => &[Tier::Words],
        (true, false) => &[Tier::Words, Tier::Inside],
        (true, true) => &[Tier::Inside, Tier::Words],
    };
    let start = from.map_or(order[0], |c| c.tier);
    let mut rows: Vec<(Listed, Tier)> = Vec::new();
    let mut started = false;
    for &tier in order {
        started |= tier == start;
        if !started || rows.len() as i64 >= limit {
            continue;
        }
        let cursor = from.filter(|c| c.tier == tier);
        let rest = limit - rows.len() as i64;
        let found = tier_rows(db, f, ids, Part::Only(tier, by), cursor, backward, rest).await?;
        rows.extend(found.into_iter().map(|u| (u, tier)));
    }
    let more = rows.len() as i64 > f.size;
    rows.truncate(f.size as usize);
    if backward {
        rows.reverse();
    }
    Ok((rows, more))
}

/// Keyset condition and order on `$col` then the id: rows after the
/// cursor (`$key`, `$id`) in that direction. The condition is a row-value
/// comparison, `(col, id) < (key, id)`, which both engines turn into one
/// bounded range of the `(col, id)` index; the equivalent
/// `col < key OR (col = key AND id < id)` made PostgreSQL read and discard
/// every row before the cursor (250,001 rows at depth 250,000).
macro_rules! keyset {
    ($q:expr, $col:expr, $name:literal, $sql_type:ty, $key:expr, $id:expr, $desc:expr) => {{
        use diesel::dsl::sql;
        use diesel::sql_types::{BigInt, Bool};
        let q = $q;
        let op = if $desc { " < (" } else { " > (" };
        let q = if $desc {
            q.order(($col.desc(), users::id.desc()))
        } else {
            q.order(($col.asc(), users::id.asc()))
        };
        match $key {
            Some(k) => q.filter(
                sql::<Bool>(concat!("(", $name, ", users.id)"))
                    .sql(op)
                    .bind::<$sql_type, _>(k)
                    .sql(", ")
                    .bind::<BigInt, _>($id)
                    .sql(")"),
            ),
            None => q,
        }
    }};
}

/// Up to `limit` rows of one tier (the whole list when not searching by
/// text, which has a single tier) after `after` in the walking order: the
/// sort order, or its reverse when `backward`.
async fn tier_rows(
    db: &mut Db,
    f: &Filter,
    ids: NamedIds,
    part: Part,
    after: Option<&Cursor>,
    backward: bool,
    limit: i64,
) -> Result<Vec<Listed>, diesel::result::Error> {
    let sqlite = db.is_sqlite();
    let desc = f.desc != backward;
    let id = after.map_or(0, |c| c.id);
    let time = after.and_then(Cursor::time);
    let text = after.map(|c| c.key.clone());
    let walk = (!sqlite && matches!(part, Part::Only(Tier::Words, WordsBy::RowTest)))
        .then(|| pg_key_walk(f, after, desc, limit))
        .flatten();
    crate::db_run!(db, |c| {
        let mut q = filtered!(f, sqlite, ids, part)
            .select(Listed::as_select())
            .limit(limit);
        if let Some(w) = walk.clone() {
            q = q.filter(w);
        }
        use diesel::sql_types::{Text, Timestamp};
        let q = match f.sort {
            Sort::Created => keyset!(
                q,
                users::created_at,
                "users.created_at",
                Timestamp,
                time,
                id,
                desc
            ),
            Sort::LastLogin => {
                keyset!(
                    q,
                    users::last_login_sort,
                    "users.last_login_sort",
                    Timestamp,
                    time,
                    id,
                    desc
                )
            }
            Sort::Name => keyset!(
                q,
                users::name_sort,
                "users.name_sort",
                Text,
                text.clone(),
                id,
                desc
            ),
        };
        q.load(c).await
    })
}

/// PostgreSQL's walk for a common word, when only the text filters: the
/// ids of the page's rows, read by an index-only subquery over a covering
/// index of live users' keys next to the sort (migration
/// `users_search_walk`), the cursor and the limit inside it. The outer
/// query then reads only those rows; walked directly it read one heap page
/// per user passed (6,000 for `atelier` on a million users, 19 ms).
/// `None` when the subquery could not carry every condition: another
/// filter, a date, an id (the query a number) or a query longer than the
/// keys (its rest is tested on the row).
fn pg_key_walk(f: &Filter, after: Option<&Cursor>, desc: bool, limit: i64) -> Option<Condition> {
    if !pg_walk_applies(f) {
        return None;
    }
    let (prefix, _) = search_keys::prefix(&f.q);
    let column = match f.sort {
        Sort::Created => "k.created_at",
        Sort::LastLogin => "k.last_login_sort",
        Sort::Name => "k.name_sort",
    };
    let mut c = Condition::new()
        .sql("users.id IN (SELECT k.id FROM users k WHERE k.deleted_at IS NULL AND strpos(k.search_keys, ")
        .text(search_keys::row_needle(&prefix))
        .sql(") > 0");
    if let Some(cursor) = after {
        c = c.sql(" AND (").sql(column).sql(", k.id)");
        c = c.sql(if desc { " < (" } else { " > (" });
        c = match f.sort {
            Sort::Name => c.text(cursor.key.clone()),
            _ => c.time(cursor.time()?),
        };
        c = c.sql(", ").int(cursor.id).sql(")");
    }
    let dir = if desc { " DESC" } else { " ASC" };
    Some(
        c.sql(" ORDER BY ")
            .sql(column)
            .sql(dir)
            .sql(", k.id")
            .sql(dir)
            .sql(" LIMIT ")
            .int(limit)
            .sql(")"),
    )
}

/// Whether [`pg_key_walk`]'s subquery can carry every condition of `f`.
fn pg_walk_applies(f: &Filter) -> bool {
    walks_live_keys(f)
        && f.created_from.is_none()
        && f.created_to.is_none()
        && !search_keys::prefix(&f.q).1
        && f.q.trim().parse::<i64>().is_err()
}

/// √(0.46 / 3.4): see [`words_by`].
const PG_WALK_BALANCE: f64 = 0.37;

/// How many users a page must skip to find its rows on the row-test path
/// relative to the index path's sort: the threshold between the two paths
/// is where both read about as many rows, √(page size × users); with
/// 100 rows a page and a million users, 10,000 matches.
fn words_threshold(size: i64, users: i64) -> i64 {
    ((size.max(1) as f64 * users.max(1) as f64).sqrt() as i64).max(size)
}

/// The cheaper path for the word-start tier of `f`'s search. At or past
/// the threshold, matches are common enough that walking the sort order
/// finds a page sooner than sorting them all. SQLite answers from a
/// bounded probe: the key index counted up to the threshold (an index
/// range of at most that many entries, about a millisecond). PostgreSQL
/// answers from its statistics: the planner's estimate of the matches
/// (ANALYZE keeps the keys' frequencies for the GIN expression), since
/// counting there visits the table (25 ms for 10,000 matches).
pub async fn words_by(db: &mut Db, f: &Filter) -> Result<WordsBy, diesel::result::Error> {
    use diesel::sql_types::{BigInt, Text};
    #[derive(QueryableByName)]
    struct Probe {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let (prefix, _) = search_keys::prefix(&f.q);
    let keyed = prefix.chars().next().is_some_and(search_keys::is_word_char);
    if !is_text_search(f) || !keyed {
        return Ok(WordsBy::Index);
    }
    let span: Option<i64> = crate::db_run!(db, |c| users::table
        .select(diesel::dsl::max(users::id))
        .first(c)
        .await)?;
    let mut threshold = words_threshold(f.size, span.unwrap_or(0));
    if !db.is_sqlite() && pg_walk_applies(f) {
        // The index-only walk costs about 0.46 µs an entry where the key
        // index path costs 3.4 µs a match (GIN, row, sort; measured on a
        // million users): the two balance at √(0.135 × size × users), a
        // third of the threshold for equal costs.
        threshold = (threshold as f64 * PG_WALK_BALANCE) as i64;
    }
    let probe: Probe = if db.is_sqlite() {
        crate::db_run!(db, |c| {
            diesel::sql_query(
            "SELECT count(*) AS n FROM (SELECT 1 FROM user_search_keys WHERE key >= ? AND key < ? LIMIT ?)"
        )
        .bind::<Text, _>(&prefix)
        .bind::<Text, _>(search_keys::upper_bound(&prefix))
        .bind::<BigInt, _>(threshold)
        .get_result(c)
        .await
        })?
    } else {
        #[derive(QueryableByName)]
        struct Plan {
            #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
            json: String,
        }
        let plan: Plan = crate::db_run!(db, |c| {
            diesel::sql_query(
                "EXPLAIN (FORMAT JSON) SELECT 1 FROM users WHERE array_to_tsvector(search_key_array(search_keys)) @@ CAST($1 AS tsquery)",
            )
            .bind::<Text, _>(search_keys::tsquery(&prefix))
            .get_result(c)
            .await
        })?;
        Probe {
            n: planned_rows(&plan.json),
        }
    };
    Ok(if probe.n >= threshold {
        WordsBy::RowTest
    } else {
        WordsBy::Index
    })
}

/// The row count PostgreSQL's planner expects, from `EXPLAIN (FORMAT JSON)`;
/// 0 when the plan cannot be read (then the index path, right for few rows).
fn planned_rows(json: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| {
            v.pointer("/0/Plan/Plan Rows")
                .and_then(serde_json::Value::as_f64)
        })
        .map_or(0, |n| n as i64)
}

/// The ids of what the filter names by key: the role, the workspace, the plan.
#[derive(Clone, Copy, Debug, Default)]
pub struct NamedIds {
    role: Option<i64>,
    workspace: Option<i64>,
    /// Its memberships, as the workspace carries the count.
    workspace_size: i64,
    /// Whether a page walks the sort order probing the workspace's
    /// memberships, rather than reading them all and sorting.
    members_walk: bool,
    plan: Option<PlanIds>,
}

/// Whether a page of `f` filtered by a workspace is found sooner by
/// walking the sort order (probing each user's membership) than by reading
/// every member and sorting: the same balance as a common word's
/// ([`words_threshold`]), decided from the count the workspace carries
/// (migration 000026, read with its id), so no probe is needed. `club-1`
/// on the bench seed (5,000 members of 100,000 users) went from 11 to
/// 2 ms on SQLite.
async fn members_walk(db: &mut Db, f: &Filter, ids: &NamedIds) -> QueryResult<bool> {
    if ids.workspace.is_none() || ids.workspace_size < f.size {
        return Ok(false);
    }
    let users = super::max_id(db).await?;
    Ok(ids.workspace_size >= words_threshold(f.size, users))
}

#[derive(Clone, Copy, Debug)]
enum PlanIds {
    Plan(i64),
    NoSubscription,
}

/// The ids the filter names, or `None` when it names a role or workspace
/// that does not exist (then nothing matches).
async fn named_ids(db: &mut Db, f: &Filter) -> Result<Option<NamedIds>, diesel::result::Error> {
    let mut ids = NamedIds::default();
    if let Some(key) = &f.role {
        ids.role = crate::db_run!(db, |c| roles::table
            .filter(roles::key.eq(key))
            .select(roles::id)
            .first(c)
            .await
            .optional())?;
        if ids.role.is_none() {
            return Ok(None);
        }
    }
    if let Some(slug) = &f.workspace {
        let found: Option<(i64, i64)> = crate::db_run!(db, |c| workspaces::table
            .filter(workspaces::slug.eq(slug))
            .filter(workspaces::deleted_at.is_null())
            .select((workspaces::id, workspaces::member_count))
            .first(c)
            .await
            .optional())?;
        let Some((id, size)) = found else {
            return Ok(None);
        };
        ids.workspace = Some(id);
        ids.workspace_size = size;
    }
    match &f.plan {
        Some(PlanPick::NoSubscription) => ids.plan = Some(PlanIds::NoSubscription),
        Some(PlanPick::Code(code)) => {
            let id: Option<i64> = crate::db_run!(db, |c| plans::table
                .filter(plans::code.eq(code))
                .select(plans::id)
                .first(c)
                .await
                .optional())?;
            match id {
                Some(id) => ids.plan = Some(PlanIds::Plan(id)),
                None => return Ok(None),
            }
        }
        None => {}
    }
    Ok(Some(ids))
}

/// How many users match, counted up to [`COUNT_CAP`] + 1.
pub async fn capped_count(db: &mut Db, f: &Filter) -> Result<i64, diesel::result::Error> {
    let sqlite = db.is_sqlite();
    let Some(ids) = named_ids(db, f).await? else {
        return Ok(0);
    };
    let ids: Vec<i64> = crate::db_run!(db, |c| filtered!(f, sqlite, ids, Part::All)
        .select(users::id)
        .limit(COUNT_CAP + 1)
        .load(c)
        .await)?;
    Ok(ids.len() as i64)
}

/// Windows of ids sampled by [`estimated_count`], and their width.
const SAMPLE_WINDOWS: i64 = 20;
const SAMPLE_WIDTH: i64 = 500;

/// About how many users match, for counts beyond [`COUNT_CAP`]: the share
/// of matches among 10,000 ids read in twenty windows spread over the whole
/// id range, times the ids in use, to three significant digits. Its cost is
/// that of the capped count (bounded index ranges), whatever the filter.
pub async fn estimated_count(db: &mut Db, f: &Filter) -> Result<i64, diesel::result::Error> {
    let sqlite = db.is_sqlite();
    let Some(ids) = named_ids(db, f).await? else {
        return Ok(0);
    };
    let (low, high): (Option<i64>, Option<i64>) = crate::db_run!(db, |c| users::table
        .select((diesel::dsl::min(users::id), diesel::dsl::max(users::id)))
        .first(c)
        .await)?;
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(0);
    };
    let span = high - low + 1;
    let step = (span / SAMPLE_WINDOWS).max(SAMPLE_WIDTH);
    let (mut seen, mut matched) = (0i64, 0i64);
    let mut start = low;
    while start <= high {
        let end = (start + SAMPLE_WIDTH).min(high + 1);
        let n: i64 = crate::db_run!(db, |c| filtered!(f, sqlite, ids, Part::All)
            .filter(users::id.ge(start))
            .filter(users::id.lt(end))
            .count()
            .get_result(c)
            .await)?;
        matched += n;
        seen += end - start;
        start += step;
    }
    let estimate = (matched as f64 / seen.max(1) as f64 * span as f64).round() as i64;
    Ok(significant(estimate, 3))
}

/// `n` rounded to `digits` significant digits (12,345 → 12,300).
pub fn significant(n: i64, digits: u32) -> i64 {
    let magnitude = (n.max(1) as f64).log10().floor() as u32 + 1;
    if magnitude <= digits {
        return n;
    }
    let unit = 10i64.pow(magnitude - digits);
    (n + unit / 2) / unit * unit
}

/// Every matching id in batches (for bulk actions on "all matching").
pub async fn matching_ids(
    db: &mut Db,
    f: &Filter,
    after_id: i64,
    batch: i64,
) -> Result<Vec<i64>, diesel::result::Error> {
    let sqlite = db.is_sqlite();
    let Some(ids) = named_ids(db, f).await? else {
        return Ok(Vec::new());
    };
    crate::db_run!(db, |c| filtered!(f, sqlite, ids, Part::All)
        .filter(users::id.gt(after_id))
        .order(users::id.asc())
        .select(users::id)
        .limit(batch)
        .load(c)
        .await)
}

/// Platform role labels per user, for the rows shown.
pub async fn roles_of(
    db: &mut Db,
    ids: &[i64],
) -> Result<Vec<(i64, String, String, String)>, diesel::result::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::db_run!(db, |c| user_roles::table
        .inner_join(roles::table)
        .filter(user_roles::user_id.eq_any(ids))
        .select((
            user_roles::user_id,
            roles::key,
            roles::name_en,
            roles::name_fr
        ))
        .order((user_roles::user_id, roles::id))
        .load(c)
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            tier: Tier::Inside,
            key: "dupont|marie".into(),
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not base64 !!"), None);
    }

    #[test]
    fn the_threshold_balances_the_two_paths() {
        // 100 rows a page over a million users: 10,000 matches.
        assert_eq!(words_threshold(100, 1_000_000), 10_000);
        // Never below a page.
        assert_eq!(words_threshold(50, 0), 50);
    }

    #[test]
    fn reads_the_planned_rows() {
        let plan = r#"[{"Plan": {"Node Type": "Bitmap Heap Scan", "Plan Rows": 12025}}]"#;
        assert_eq!(planned_rows(plan), 12_025);
        assert_eq!(planned_rows("not json"), 0);
    }

    #[test]
    fn estimates_keep_three_significant_digits() {
        assert_eq!(significant(12_345, 3), 12_300);
        assert_eq!(significant(987_654, 3), 988_000);
        assert_eq!(significant(999, 3), 999);
        assert_eq!(significant(0, 3), 0);
    }

    #[test]
    fn escapes_like_wildcards() {
        assert_eq!(like_escape("50%_off!"), "50!%!_off!!");
        assert_eq!(fts_phrase("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn bounds_input() {
        let p = ListParams {
            q: "x".repeat(10_000),
            size: "7".into(),
            ..ListParams::default()
        };
        let f = p.filter();
        assert_eq!(f.q.len(), 200);
        assert_eq!(f.size, DEFAULT_PAGE_SIZE);
    }
}
