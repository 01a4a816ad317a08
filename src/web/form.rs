//! Forms with repeated fields (checkbox lists) arrive as pairs, since
//! `serde_urlencoded` cannot collect repeats into a `Vec`.

/// The first value of `key`, or "".
pub fn field(fields: &[(String, String)], key: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Every value of `key`, in order.
pub fn all<'a>(fields: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    fields
        .iter()
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
