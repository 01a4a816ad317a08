//! CSV of users, safe to open in any spreadsheet whatever its locale:
//!
//! - French Excel splits on `;`, others on `,` or tab: a cell holding any
//!   of them is quoted, so no reader splits it;
//! - a spreadsheet runs a cell starting with `=`, `+`, `-`, `@`, tab or CR
//!   as a formula (CSV injection): such a start is neutralised with `'`, at
//!   the beginning and after every separator or line break inside the cell,
//!   in case a reader ignores the quotes;
//! - the file starts with a UTF-8 byte order mark so Excel reads accents.

use crate::user_record::model::User;
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

/// Byte order mark: Excel reads the file as UTF-8 only with it.
const BOM: &str = "\u{feff}";

const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
const BREAKS: [char; 5] = [',', ';', '\t', '\n', '\r'];

pub fn header() -> String {
    let mut s = String::from(BOM);
    s.push_str(&COLUMNS.join(","));
    s.push_str("\r\n");
    s
}

pub fn cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    let mut at_start = true;
    for c in value.chars() {
        if at_start && FORMULA_START.contains(&c) {
            out.push('\'');
        }
        out.push(c);
        at_start = BREAKS.contains(&c);
    }
    if out.contains(BREAKS) || out.contains('"') {
        format!("\"{}\"", out.replace('"', "\"\""))
    } else {
        out
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
        assert_eq!(cell("Dupont;=1+1"), "\"Dupont;'=1+1\"");
        assert_eq!(cell("a\tb"), "\"a\tb\"");
        assert_eq!(cell("x,@cmd"), "\"x,'@cmd\"");
        assert_eq!(cell("Éloïse"), "Éloïse");
    }
}
