//! The data table every list is built from: headers that sort (the sort
//! in the URL, a click on the active header reverses it), columns the
//! viewer can hide (remembered in their preferences), the chips of the
//! active filters with a reset, and the pagination bar ("51–100 of 1,234",
//! previous, next). Rendered by `templates/components/*.html`; the
//! behaviour (selection bar, column menu, scroll to top) is in
//! `static/app.js`.

/// How a header sorts, if it does.
pub struct SortHeader {
    /// The list sorted by this column: in the other direction when it is
    /// the current sort, in its natural direction otherwise.
    pub href: String,
    /// `ascending` or `descending` when this is the current sort (the
    /// value of `aria-sort`).
    pub current: Option<&'static str>,
}

pub struct Column {
    /// Stable key: names the column in preferences and in CSS classes.
    pub key: &'static str,
    pub label: &'static str,
    pub sort: Option<SortHeader>,
    /// Shown (the viewer did not hide it).
    pub shown: bool,
    /// May be hidden (the column naming the row may not).
    pub hideable: bool,
}

/// An active filter, removable in one click.
pub struct Chip {
    pub label: String,
    pub remove_href: String,
}

/// The pagination bar.
pub struct Pager {
    /// "51–100": the rows shown, when the position is known.
    pub range: Option<String>,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    /// Fetched after the rows: replaces `range` with "51–100 of 1,234".
    pub count_href: String,
}

/// A data table's header, filters and pager, as one value for the
/// component templates.
pub struct DataTable {
    /// The element id of the table (the pager scrolls back to it).
    pub id: &'static str,
    /// The preference name under which hidden columns are remembered.
    pub columns_pref: &'static str,
    pub columns: Vec<Column>,
    pub chips: Vec<Chip>,
    pub reset_href: String,
    pub pager: Pager,
    /// Rows carry a checkbox and the selection bar exists.
    pub selectable: bool,
}

impl DataTable {
    /// Whether the column `key` is shown.
    pub fn shows(&self, key: &str) -> bool {
        self.columns.iter().any(|c| c.key == key && c.shown)
    }
    /// How many cells a row has (for a full-width empty state).
    pub fn span(&self) -> usize {
        self.columns.iter().filter(|c| c.shown).count() + usize::from(self.selectable)
    }
}

/// The columns shown, from a preference value (comma-separated keys);
/// no preference shows them all.
pub fn shown_columns(pref: Option<&str>, all: &[&'static str]) -> Vec<&'static str> {
    match pref {
        None => all.to_vec(),
        Some(v) => all
            .iter()
            .copied()
            .filter(|k| v.split(',').any(|p| p.trim() == *k))
            .collect(),
    }
}

/// A query string with `params` whose value is not empty, in order, so a
/// URL carries only what narrows the list.
pub fn query(params: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// `path` with `query` appended when it is not empty.
pub fn href(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_only_non_empty_parameters() {
        let q = query(&[
            ("q", ""),
            ("status", "ACTIVE"),
            ("to", ""),
            ("sort", "-name"),
        ]);
        assert_eq!(q, "status=ACTIVE&sort=-name");
        assert_eq!(href("/admin/users", ""), "/admin/users");
        assert_eq!(
            href("/admin/users", &q),
            "/admin/users?status=ACTIVE&sort=-name"
        );
    }

    #[test]
    fn columns_follow_the_preference() {
        let all = ["email", "company", "status"];
        assert_eq!(shown_columns(None, &all), all.to_vec());
        assert_eq!(
            shown_columns(Some("status,email,bogus"), &all),
            vec!["email", "status"]
        );
        assert!(shown_columns(Some(""), &all).is_empty());
    }
}
