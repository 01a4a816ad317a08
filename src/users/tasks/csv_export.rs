//! The users CSV: one line per user, cells escaped by [`crate::web::csv`].

use crate::user_record::model::User;
use crate::web::csv::{cell, line};
use crate::web::format::opt_date_time;

pub const COLUMNS: [&str; 9] = [
    "id",
    "email",
    "name",
    "company",
    "status",
    "type",
    "roles",
    "created_at",
    "last_login_at",
];

/// Lines for `users`; `roles` is (user id, key, ..) as loaded for the list.
pub fn rows(users: &[User], roles: &[(i64, String, String, String)]) -> String {
    let mut out = String::new();
    for u in users {
        let keys: Vec<&str> = roles
            .iter()
            .filter(|r| r.0 == u.id)
            .map(|r| r.1.as_str())
            .collect();
        out.push_str(&line(&[
            u.id.to_string(),
            cell(&u.email),
            cell(&u.name),
            cell(&u.company),
            u.status.as_str().to_owned(),
            u.user_type.as_str().to_owned(),
            keys.join(" "),
            opt_date_time(Some(u.created_at)),
            opt_date_time(u.last_login_at),
        ]));
    }
    out
}
