//! CSV of users. Cells that a spreadsheet would run as a formula are
//! prefixed with a quote (CSV injection).

use crate::users::model::User;
use crate::users::views::opt_date_time;

const COLUMNS: [&str; 9] = [
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

pub fn header() -> String {
    let mut s = COLUMNS.join(",");
    s.push_str("\r\n");
    s
}

pub fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Rows for `users`; `roles` is (user id, key, ..) as loaded for the list.
pub fn rows(users: &[User], roles: &[(i64, String, String, String)]) -> String {
    let mut out = String::new();
    for u in users {
        let keys: Vec<&str> = roles
            .iter()
            .filter(|r| r.0 == u.id)
            .map(|r| r.1.as_str())
            .collect();
        let cells = [
            u.id.to_string(),
            cell(&u.email),
            cell(&u.name),
            cell(&u.company),
            u.status.as_str().to_owned(),
            u.user_type.as_str().to_owned(),
            keys.join(" "),
            opt_date_time(Some(u.created_at)),
            opt_date_time(u.last_login_at),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn escapes() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(cell("-1+2,3"), "\"'-1+2,3\"");
    }
}
