//! A person's choices for their own screens (columns shown, page size),
//! stored server-side so they follow them from one device to the next.
//! The names form a closed list; each value is checked before it is kept.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::audit::{Action, Event};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::schema::user_preferences as prefs;
use crate::db::{Db, Tx};
use crate::db_run;

/// The columns of the user list that may be hidden.
pub const USER_COLUMNS: [&str; 9] = [
    "email",
    "company",
    "status",
    "type",
    "roles",
    "plan",
    "usage",
    "created",
    "last_login",
];
/// Page sizes a list offers.
pub const PAGE_SIZES: [i64; 3] = [25, 50, 100];

/// A preference and the rule its value follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pref {
    UsersColumns,
    UsersPageSize,
}

impl Pref {
    pub fn parse(name: &str) -> Option<Pref> {
        match name {
            "users.columns" => Some(Pref::UsersColumns),
            "users.page_size" => Some(Pref::UsersPageSize),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Pref::UsersColumns => "users.columns",
            Pref::UsersPageSize => "users.page_size",
        }
    }
    /// The value as stored, if acceptable: known column keys (deduplicated,
    /// in the table's order), or an offered page size.
    pub fn normalise(self, value: &str) -> Option<String> {
        match self {
            Pref::UsersColumns => {
                let parts: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                if parts.iter().any(|p| !USER_COLUMNS.contains(p)) {
                    return None;
                }
                let kept: Vec<&str> = USER_COLUMNS
                    .iter()
                    .copied()
                    .filter(|k| parts.contains(k))
                    .collect();
                Some(kept.join(","))
            }
            Pref::UsersPageSize => value
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| PAGE_SIZES.contains(n))
                .map(|n| n.to_string()),
        }
    }
}

/// The stored value of `pref` for `user_id`, if any.
pub async fn get(db: &mut Db, user_id: i64, pref: Pref) -> QueryResult<Option<String>> {
    db_run!(db, |c| prefs::table
        .filter(prefs::user_id.eq(user_id))
        .filter(prefs::name.eq(pref.name()))
        .select(prefs::value)
        .first(c)
        .await
        .optional())
}

/// Every stored preference of `user_id` as (name, value): one query for a
/// screen that reads several.
pub async fn of_user(db: &mut Db, user_id: i64) -> QueryResult<Vec<(String, String)>> {
    db_run!(db, |c| prefs::table
        .filter(prefs::user_id.eq(user_id))
        .select((prefs::name, prefs::value))
        .load(c)
        .await)
}

/// The value of `pref` among those read by [`of_user`].
pub fn pick(stored: &[(String, String)], pref: Pref) -> Option<&str> {
    stored
        .iter()
        .find(|(name, _)| name == pref.name())
        .map(|(_, value)| value.as_str())
}

/// Keeps `value` (already normalised) for `user_id`; audited when it changes.
pub async fn set(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    pref: Pref,
    value: &str,
) -> ChangeResult<bool> {
    let before = get(tx, user_id, pref).await?;
    if before.as_deref() == Some(value) {
        return Ok(false);
    }
    let now = by.now;
    let row = (
        prefs::user_id.eq(user_id),
        prefs::name.eq(pref.name()),
        prefs::value.eq(value),
        prefs::updated_at.eq(now),
    );
    db_run!(tx, |c| diesel::insert_into(prefs::table)
        .values(row)
        .on_conflict((prefs::user_id, prefs::name))
        .do_update()
        .set((prefs::value.eq(value), prefs::updated_at.eq(now)))
        .execute(c)
        .await)
    .map_err(ChangeError::Db)?;
    by.record(
        tx,
        Event::new(Action::PreferenceChanged)
            .target("user", user_id)
            .details(json!({ "name": pref.name(), "before": before, "after": value })),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_normalised() {
        let cols = Pref::UsersColumns;
        assert_eq!(
            cols.normalise("status, email,email").as_deref(),
            Some("email,status")
        );
        assert_eq!(cols.normalise("").as_deref(), Some(""));
        assert_eq!(cols.normalise("email,password_hash"), None);
        assert_eq!(Pref::UsersPageSize.normalise("100").as_deref(), Some("100"));
        assert_eq!(Pref::UsersPageSize.normalise("1000"), None);
        assert_eq!(Pref::parse("theme"), None);
    }
}
