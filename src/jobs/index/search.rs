//! Searching the failure index: by queue, job name, user, error text
//! (matched against the distinct errors first, a small table, then the
//! failures by error id), payload field and date range; newest first by
//! id (keyset); and the failures grouped by error.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{job_errors, job_failures};
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Distinct errors an error-text search may match at most.
pub const MAX_ERRORS: i64 = 1_000;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub queue: Option<String>,
    pub name: Option<String>,
    pub user_id: Option<i64>,
    /// Words of the error message (case-insensitive).
    pub text: Option<String>,
    pub error_id: Option<i64>,
    /// `field=value` (a payload's JSON field) or plain text.
    pub payload: Option<String>,
    pub from: Option<PrimitiveDateTime>,
    pub to: Option<PrimitiveDateTime>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = job_failures)]
pub struct FailureRow {
    pub id: i64,
    pub queue: String,
    pub job_id: String,
    pub job_name: String,
    pub user_id: Option<i64>,
    pub error_id: i64,
    pub message: String,
    pub attempt: i32,
    pub failed_at: PrimitiveDateTime,
    pub payload: String,
}

/// `%…%` with LIKE's own wildcards taken literally.
pub fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The payload patterns of `field=value`: the value as a JSON number or
/// boolean, and as a string; plain text matches anywhere.
fn payload_patterns(q: &str) -> Vec<String> {
    match q.split_once('=') {
        Some((field, value)) if !field.trim().is_empty() => {
            let (field, value) = (field.trim(), value.trim());
            let key = serde_json::to_string(field).unwrap_or_default();
            let as_string = serde_json::to_string(value).unwrap_or_default();
            vec![
                like_pattern(&format!("{key}:{value}")),
                like_pattern(&format!("{key}:{as_string}")),
            ]
        }
        _ => vec![like_pattern(q)],
    }
}

/// Ids of the errors whose message holds `text` (case-insensitive).
/// An error is stored with its first message: a text naming another
/// occurrence's particulars ("after 30299ms") matches it through the
/// folded form ("after #ms"); the failures' own messages then decide.
pub async fn errors_matching(db: &mut Db, queue: Option<&str>, text: &str) -> QResult<Vec<i64>> {
    let pattern = like_pattern(&text.to_lowercase());
    let folded = like_pattern(&super::fingerprint::fingerprint(text).to_lowercase());
    let queue = queue.map(str::to_owned);
    db_run!(db, |c| {
        let mut q = job_errors::table
            .filter(
                lower(job_errors::message)
                    .like(&pattern)
                    .escape('\\')
                    .or(lower(job_errors::fingerprint).like(&folded).escape('\\')),
            )
            .select(job_errors::id)
            .order(job_errors::last_at.desc())
            .limit(MAX_ERRORS)
            .into_boxed();
        if let Some(queue) = &queue {
            q = q.filter(job_errors::queue.eq(queue));
        }
        q.load::<i64>(c).await
    })
}

/// Errors a text matches, up to this many, are read one by one (each
/// through the (error_id, id) index) and merged: an `IN` list lets the
/// planner walk the whole table newest first instead.
const MERGED_ERRORS: usize = 20;

/// A page of failures matching `f`, newest first, before id `before`.
pub async fn failures(
    db: &mut Db,
    f: &Filter,
    before: Option<i64>,
    limit: i64,
) -> QResult<Vec<FailureRow>> {
    let Some(text) = &f.text else {
        return failures_of_errors(db, f, None, before, limit).await;
    };
    let ids = errors_matching(db, f.queue.as_deref(), text).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if ids.len() > MERGED_ERRORS {
        return failures_of_errors(db, f, Some(ids), before, limit).await;
    }
    let mut rows = Vec::new();
    for id in ids {
        let one = Filter {
            error_id: Some(id),
            ..f.clone()
        };
        // An error id asked for and another in the filter match nothing.
        if f.error_id.is_some_and(|e| e != id) {
            continue;
        }
        rows.extend(failures_of_errors(db, &one, None, before, limit).await?);
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.id));
    rows.truncate(limit.max(0) as usize);
    Ok(rows)
}

async fn failures_of_errors(
    db: &mut Db,
    f: &Filter,
    error_ids: Option<Vec<i64>>,
    before: Option<i64>,
    limit: i64,
) -> QResult<Vec<FailureRow>> {
    let f = f.clone();
    // A text with particulars matched its errors by their folded form:
    // each failure's own message must hold it.
    let exact = f
        .text
        .as_deref()
        .filter(|t| super::fingerprint::fingerprint(t) != *t)
        .map(|t| like_pattern(&t.to_lowercase()));
    let patterns = f.payload.as_deref().map(payload_patterns);
    db_run!(db, |c| {
        let mut q = job_failures::table
            .select(FailureRow::as_select())
            .order(job_failures::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(b) = before {
            q = q.filter(job_failures::id.lt(b));
        }
        if let Some(v) = &f.queue {
            q = q.filter(job_failures::queue.eq(v));
        }
        if let Some(v) = &f.name {
            q = q.filter(job_failures::job_name.eq(v));
        }
        if let Some(v) = f.user_id {
            q = q.filter(job_failures::user_id.eq(v));
        }
        if let Some(v) = f.error_id {
            q = q.filter(job_failures::error_id.eq(v));
        }
        if let Some(ids) = &error_ids {
            q = q.filter(job_failures::error_id.eq_any(ids));
        }
        if let Some(v) = f.from {
            q = q.filter(job_failures::failed_at.ge(v));
        }
        if let Some(v) = f.to {
            q = q.filter(job_failures::failed_at.lt(v));
        }
        if let Some(p) = &exact {
            q = q.filter(lower(job_failures::message).like(p).escape('\\'));
        }
        if let Some(p) = &patterns {
            match p.as_slice() {
                [one] => q = q.filter(job_failures::payload.like(one).escape('\\')),
                [a, b, ..] => {
                    q = q.filter(
                        job_failures::payload
                            .like(a)
                            .escape('\\')
                            .or(job_failures::payload.like(b).escape('\\')),
                    )
                }
                [] => {}
            }
        }
        q.load::<FailureRow>(c).await
    })
}

/// One failure whole (its stack trace included).
pub async fn failure(db: &mut Db, id: i64) -> QResult<Option<(FailureRow, Option<String>)>> {
    let row = db_run!(db, |c| job_failures::table
        .find(id)
        .select((FailureRow::as_select(), job_failures::stacktrace))
        .first::<(FailureRow, Option<String>)>(c)
        .await
        .optional())?;
    Ok(row)
}

#[derive(Queryable, Clone, Debug)]
pub struct ErrorGroup {
    pub id: i64,
    pub queue: String,
    pub message: String,
    pub failures: i64,
    pub first_at: PrimitiveDateTime,
    pub last_at: PrimitiveDateTime,
}

/// The errors seen, latest first (all-time counts), optionally of one
/// queue or matching a text.
pub async fn groups(
    db: &mut Db,
    queue: Option<&str>,
    text: Option<&str>,
    limit: i64,
) -> QResult<Vec<ErrorGroup>> {
    let queue = queue.map(str::to_owned);
    let pattern = text.map(|t| like_pattern(&t.to_lowercase()));
    let folded = text.map(|t| like_pattern(&super::fingerprint::fingerprint(t).to_lowercase()));
    db_run!(db, |c| {
        let mut q = job_errors::table
            .select((
                job_errors::id,
                job_errors::queue,
                job_errors::message,
                job_errors::failures,
                job_errors::first_at,
                job_errors::last_at,
            ))
            .order((job_errors::last_at.desc(), job_errors::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(v) = &queue {
            q = q.filter(job_errors::queue.eq(v));
        }
        if let (Some(p), Some(folded)) = (&pattern, &folded) {
            q = q.filter(
                lower(job_errors::message)
                    .like(p)
                    .escape('\\')
                    .or(lower(job_errors::fingerprint).like(folded).escape('\\')),
            );
        }
        q.load::<ErrorGroup>(c).await
    })
}

pub async fn group(db: &mut Db, id: i64) -> QResult<Option<ErrorGroup>> {
    db_run!(db, |c| job_errors::table
        .find(id)
        .select((
            job_errors::id,
            job_errors::queue,
            job_errors::message,
            job_errors::failures,
            job_errors::first_at,
            job_errors::last_at,
        ))
        .first::<ErrorGroup>(c)
        .await
        .optional())
}

/// The distinct (queue, job) pairs of the failures matching `f` before
/// id `before`, newest first, at most `limit`: what a bulk retry or delete
/// by filter acts on.
pub async fn jobs_matching(
    db: &mut Db,
    f: &Filter,
    mut before: Option<i64>,
    limit: usize,
) -> QResult<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        let page = failures(db, f, before, 1_000).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for r in &page {
            if seen.insert((r.queue.clone(), r.job_id.clone())) {
                out.push((r.queue.clone(), r.job_id.clone()));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        if page.len() < 1_000 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_and_read_fields() {
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
        assert_eq!(
            payload_patterns("articleId=42"),
            vec![
                "%\"articleId\":42%".to_owned(),
                "%\"articleId\":\"42\"%".to_owned()
            ]
        );
        assert_eq!(payload_patterns("hello"), vec!["%hello%".to_owned()]);
    }
}
