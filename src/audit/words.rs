//! Free-text search in the audit events' details: the words typed, each
//! matching the start of a word of the details, all of them required.
//! SQLite answers from its full-text index (`audit_fts`), PostgreSQL from a
//! GIN index over the same split of the text (see the migration
//! `audit_search`); both split at anything but letters and digits and
//! ignore case, so they find the same events.

/// At most this many words are searched (the rest is ignored).
const MAX_WORDS: usize = 8;

/// The words of a search, lowercased, letters and digits only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words(Vec<String>);

impl Words {
    /// `None` when the text holds no word.
    pub fn parse(text: &str) -> Option<Words> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_WORDS)
            .map(|w| w.chars().take(64).collect::<String>().to_lowercase())
            .collect();
        (!words.is_empty()).then_some(Words(words))
    }

    /// FTS5: `"word"*` for each, implicitly all required. A word holds
    /// letters and digits only, so the quotes cannot be broken out of.
    fn fts5(&self) -> String {
        self.0
            .iter()
            .map(|w| format!("\"{w}\"*"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A tsquery: `'word':* & …`, safe for the same reason.
    fn tsquery(&self) -> String {
        self.0
            .iter()
            .map(|w| format!("'{w}':*"))
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// The condition on `audit_events` for one engine: the SQL up to the
    /// bound text, and that text; the caller closes the parenthesis.
    pub fn condition(&self, sqlite: bool) -> (&'static str, String) {
        if sqlite {
            (
                "audit_events.id IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ",
                self.fts5(),
            )
        } else {
            (
                "to_tsvector('simple', regexp_replace(audit_events.details, '[^[:alnum:]]+', ' ', 'g')) @@ to_tsquery('simple', ",
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
        let w = Words::parse("  Unpaid, \"invoices\"' OR 1=1 --").unwrap();
        assert_eq!(w.0, ["unpaid", "invoices", "or", "1", "1"]);
        assert_eq!(w.fts5(), r#""unpaid"* "invoices"* "or"* "1"* "1"*"#);
        assert_eq!(
            w.tsquery(),
            "'unpaid':* & 'invoices':* & 'or':* & '1':* & '1':*"
        );
        assert_eq!(Words::parse(" -- ' ; "), None);
        assert_eq!(Words::parse("Élodie").unwrap().0, ["élodie"]);
    }
}
