//! Search keys: the fast path of the user search.
//!
//! A trigram index answers "contains" but must intersect long posting lists
//! when the fragment is made of common trigrams (`sylvie.gui`: every trigram
//! is shared by thousands of users), which costs milliseconds on a million
//! users. What people type is nearly always the start of a word: a first
//! name, the start of an address, a company. So each user also carries the
//! suffixes of their name, email and company that start at a word, cut to
//! [`KEY_CHARS`] characters; a prefix lookup among those finds the handful of
//! matching users directly. Matches inside a word still come from the
//! trigram index (see `users::list`), ranked after these.
//!
//! The keys are computed here, once, for both engines, and stored in
//! `users.search_keys` as a JSON array: PostgreSQL indexes it with a GIN
//! `tsvector` (prefix queries), SQLite copies it by trigger into the
//! `user_search_keys` table (a b-tree range scan).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::db::schema::users;

/// Longest key kept: long enough to single out a user, short enough to keep
/// the index small. Longer queries use their first [`KEY_CHARS`] characters
/// for the lookup and are checked in full against the row.
pub const KEY_CHARS: usize = 16;

/// Letters and digits; any character past Latin-1's symbols counts as a
/// letter, so accented names split where a reader would split them.
pub fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c as u32 >= 0xC0
}

/// The form both keys and queries are compared in.
pub fn normalize(s: &str) -> Vec<char> {
    s.to_lowercase()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// At most this many keys from one field: real names, addresses and
/// companies have far fewer words, and the bound keeps the column under
/// PostgreSQL's index row limit (about 2,700 bytes) since it is carried in
/// the covering indexes of the search walk (`users_search_walk`): three
/// fields of 32 keys of 16 characters stay under 2,000 bytes.
const MAX_KEYS_PER_FIELD: usize = 32;

/// Every suffix of each field that starts at a word, lower-cased and cut
/// (the first [`MAX_KEYS_PER_FIELD`] of each field).
pub fn keys(name: &str, email: &str, company: &str) -> Vec<String> {
    let mut out = Vec::new();
    for field in [name, email, company] {
        let chars = normalize(field);
        let starts = (0..chars.len())
            .filter(|&i| is_word_char(chars[i]) && (i == 0 || !is_word_char(chars[i - 1])))
            .take(MAX_KEYS_PER_FIELD);
        for i in starts {
            out.push(chars[i..].iter().take(KEY_CHARS).collect::<String>());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The value stored in `users.search_keys`.
pub fn column(name: &str, email: &str, company: &str) -> String {
    // A list of strings always serializes.
    serde_json::to_string(&keys(name, email, company)).unwrap_or_else(|_| "[]".to_owned())
}

/// The lookup prefix for a query and whether the query is longer than it
/// (then the whole query must be checked against the row as well).
pub fn prefix(q: &str) -> (String, bool) {
    let chars = normalize(q.trim());
    (
        chars.iter().take(KEY_CHARS).collect(),
        chars.len() > KEY_CHARS,
    )
}

/// What a row's `search_keys` text contains exactly when one of its keys
/// starts with `prefix`: the opening quote of a JSON string, then the
/// prefix escaped as the column escapes it. Only a quote that opens a key
/// is unescaped in the column, and a quote inside a key (escaped) followed
/// by a word is also the start of that word's own key, so the test is
/// exact for a prefix that starts with a word character (none other
/// starts a key).
pub fn row_needle(prefix: &str) -> String {
    let mut json = serde_json::to_string(prefix).unwrap_or_else(|_| "\"".to_owned());
    json.pop();
    json
}

/// A PostgreSQL `tsquery` matching any key that starts with `prefix`:
/// one quoted lexeme, so no operator in the input is interpreted.
pub fn tsquery(prefix: &str) -> String {
    format!("'{}':*", prefix.replace('\\', "\\\\").replace('\'', "''"))
}

/// The exclusive upper bound of the keys starting with `prefix` (SQLite
/// compares text bytewise; no key holds U+10FFFF).
pub fn upper_bound(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

pub async fn backfill(db: &mut Db) -> Result<usize, diesel::result::Error> {
    let mut filled = 0;
    loop {
        let batch: Vec<(i64, String, String, String)> = crate::db_run!(db, |c| users::table
            .filter(users::search_keys.is_null())
            .select((users::id, users::name, users::email, users::company))
            .order(users::id)
            .limit(1000)
            .load(c)
            .await)?;
        if batch.is_empty() {
            return Ok(filled);
        }
        filled += batch.len();
        db.transaction(|db| {
            Box::pin(async move {
                for (id, name, email, company) in &batch {
                    let value = column(name, email, company);
                    crate::db_run!(db, |c| diesel::update(users::table.find(*id))
                        .set(users::search_keys.eq(value))
                        .execute(c)
                        .await)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
        })
        .await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_stays_under_the_index_row_limit() {
        // Fields at their longest, a word start every other character, no
        // two keys alike: the worst case for the column's length.
        let words = |n: usize| -> String {
            (0..n)
                .map(|i| char::from(b'a' + (i % 26) as u8).to_string() + &(i / 26).to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let name: String = words(100).chars().take(200).collect();
        let company: String = words(100).chars().take(200).collect();
        let email = format!("{}@example.test", words(120).replace(' ', "."));
        let column = column(&name, &email, &company);
        assert!(column.len() < 2_000, "{} bytes", column.len());
        assert!(keys("Ann Lee", "ann@x.fr", "").contains(&"lee".to_owned()));
    }

    #[test]
    fn keys_start_at_words_and_run_across_them() {
        let k = keys(
            "Sylvie Guiard",
            "sylvie.guiard.72144@outlook.fr",
            "Dupont & Fils",
        );
        for expected in [
            "sylvie guiard",
            "guiard",
            "sylvie.guiard.72",
            "guiard.72144@out",
            "72144@outlook.fr",
            "outlook.fr",
            "fr",
            "dupont & fils",
            "fils",
        ] {
            assert!(k.contains(&expected.to_owned()), "{expected} in {k:?}");
        }
        assert!(!k.iter().any(|k| k.starts_with("uiard")), "{k:?}");
        assert!(k.iter().all(|k| k.chars().count() <= KEY_CHARS));
    }

    #[test]
    fn accents_and_case_fold_like_queries() {
        let k = keys("Élodie Ñúñez", "", "");
        assert_eq!(k, vec!["élodie ñúñez".to_owned(), "ñúñez".to_owned()]);
        assert_eq!(prefix("  ÉLODIE ").0, "élodie");
    }

    /// A small deterministic generator: texts made of the characters that
    /// could fool a substring test on JSON (quotes, backslashes, control
    /// characters, separators, accents).
    fn texts(seed: u64, n: usize) -> Vec<String> {
        const ALPHABET: &[char] = &[
            'a', 'b', 'e', 'é', 'Z', '1', '"', '\\', ' ', '.', '@', '-', '\u{1}', '\n', 'ñ', '\'',
        ];
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..n)
            .map(|_| {
                let len = (next() % 12) as usize;
                (0..len)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_row_test_agrees_with_the_keys() {
        let fields = texts(0x5eed, 3000);
        let queries = texts(0xfeed, 400);
        for row in fields.chunks(3) {
            let stored = column(&row[0], &row[1], &row[2]);
            let keys = keys(&row[0], &row[1], &row[2]);
            for q in &queries {
                let (p, _) = prefix(q);
                if !p.chars().next().is_some_and(is_word_char) {
                    continue;
                }
                assert_eq!(
                    stored.contains(&row_needle(&p)),
                    keys.iter().any(|k| k.starts_with(&p)),
                    "{p:?} in {stored}"
                );
            }
        }
    }

    #[test]
    fn long_queries_are_cut_and_flagged() {
        let (p, longer) = prefix("sylvie.guiard.72144@outlook.fr");
        assert_eq!(p, "sylvie.guiard.72");
        assert!(longer);
        assert!(!prefix("sylvie").1);
    }

    #[test]
    fn tsquery_quotes_everything() {
        assert_eq!(tsquery("o'brien"), "'o''brien':*");
        assert_eq!(tsquery("a\\b & c"), "'a\\\\b & c':*");
    }

    #[test]
    fn column_is_a_json_array() {
        let v: Vec<String> = serde_json::from_str(&column("A \"B\"", "", "")).unwrap();
        assert_eq!(v, vec!["a \"b\"".to_owned(), "b\"".to_owned()]);
    }
}
