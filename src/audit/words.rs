//! Free-text search in the audit events' details: the words typed, all of
//! them required, each a whole word of the details, or its start when it
//! ends with `*` (`refund*`). Whole words by default because a prefix makes
//! both engines gather every word it starts, and all their events, before
//! reading any (a common prefix: hundreds of thousands of rows per page),
//! where a whole word is read newest first, only as far as the page needs.
//! SQLite answers from its full-text index (`audit_fts`), PostgreSQL from a
//! stored column of the same split of the text, GIN-indexed (see the
//! migrations `audit_search` and `audit_words_column`); both split at anything but letters and digits and
//! ignore case, so they find the same events.

/// At most this many words are searched (the rest is ignored).
const MAX_WORDS: usize = 8;

/// The words of a search, lowercased, letters and digits only, each with
/// whether it is a prefix (typed with a trailing `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words(Vec<(String, bool)>);

impl Words {
    /// `None` when the text holds no word.
    pub fn parse(text: &str) -> Option<Words> {
        let words: Vec<(String, bool)> = text
            .split(|c: char| !c.is_alphanumeric() && c != '*')
            .filter_map(|token| {
                let word: String = token
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .take(64)
                    .collect::<String>()
                    .to_lowercase();
                (!word.is_empty()).then(|| (word, token.ends_with('*')))
            })
            .take(MAX_WORDS)
            .collect();
        (!words.is_empty()).then_some(Words(words))
    }

    /// FTS5: `"word"` or `"word"*` for each, implicitly all required. A
    /// word holds letters and digits only: the quotes cannot be broken out of.
    fn fts5(&self) -> String {
        self.0
            .iter()
            .map(|(w, prefix)| format!("\"{w}\"{}", if *prefix { "*" } else { "" }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A tsquery: `'word' & 'start':* & …`, safe for the same reason.
    fn tsquery(&self) -> String {
        self.0
            .iter()
            .map(|(w, prefix)| format!("'{w}'{}", if *prefix { ":*" } else { "" }))
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// The condition on `audit_events` for one engine: the SQL up to the
    /// bound text, and that text; the caller closes the parenthesis.
    ///
    /// `per_row` (PostgreSQL): each row's stored words are checked as the
    /// id index walks a window, instead of the GIN index yielding every
    /// match in the table to intersect with it. The `coalesce` hides the
    /// column from the GIN index; the words are the same. A first window is
    /// read this way: bounded by its width (2 ms for 8,192 ids that match
    /// nothing), it stops at the page's end for a common word (0.3 ms where
    /// the intersection took 7 ms building a 40,000-entry bitmap).
    pub fn condition(&self, sqlite: bool, per_row: bool) -> (&'static str, String) {
        if sqlite {
            (
                "audit_events.id IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ",
                self.fts5(),
            )
        } else if per_row {
            (
                "coalesce(audit_events.details_words, ''::tsvector) @@ to_tsquery('simple', ",
                self.tsquery(),
            )
        } else {
            (
                "audit_events.details_words @@ to_tsquery('simple', ",
                self.tsquery(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_letters_and_digits() {
        let w = Words::parse("  Unpaid, \"invoice*\"' OR 1=1 --").unwrap();
        let words: Vec<&str> = w.0.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(words, ["unpaid", "invoice", "or", "1", "1"]);
        assert_eq!(w.fts5(), r#""unpaid" "invoice"* "or" "1" "1""#);
        assert_eq!(w.tsquery(), "'unpaid' & 'invoice':* & 'or' & '1' & '1'");
        assert_eq!(Words::parse(" -- ' ; * "), None);
        assert_eq!(
            Words::parse("Élodie").unwrap().0,
            [("élodie".to_owned(), false)]
        );
        assert_eq!(
            Words::parse("ref*und").unwrap().0,
            [("refund".to_owned(), false)]
        );
    }
}
