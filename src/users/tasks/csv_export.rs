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

/// The file's name after the view it exports and the day:
/// `users-suspended-2026-12-03.csv`, `users-2026-12-03.csv` without a status.
pub fn file_name(status: &str, day: time::Date) -> String {
    let view: String = status
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    if view.is_empty() {
        format!("users-{day}.csv")
    } else {
        format!("users-{view}-{day}.csv")
    }
}

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

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn files_are_named_after_the_view_and_day() {
        let day = time::macros::date!(2026 - 12 - 02);
        assert_eq!(
            file_name("SUSPENDED", day),
            "users-suspended-2026-12-02.csv"
        );
        assert_eq!(file_name("", day), "users-2026-12-02.csv");
        assert_eq!(file_name("\"; rm", day), "users-rm-2026-12-02.csv");
    }
}
