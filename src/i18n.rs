//! UI text in French and English from `locales/*.txt` (`key = value` lines),
//! embedded in the binary. The language is the user's choice (the `lang`
//! cookie, set from their profile at sign-in), then `Accept-Language`, then
//! English.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The language for a request: `lang` cookie, then `Accept-Language`.
    pub fn negotiate(headers: &HeaderMap) -> Lang {
        cookie(headers, "lang")
            .and_then(Lang::parse)
            .or_else(|| {
                headers
                    .get("accept-language")
                    .and_then(|v| v.to_str().ok())
                    .and_then(from_accept_language)
            })
            .unwrap_or_default()
    }

    /// The text for `key` if there is one: for labels of stored values that
    /// may come from elsewhere (an event name, a client id), shown as they
    /// are when unknown.
    pub fn get(self, key: &str) -> Option<&'static str> {
        let table = match self {
            Lang::En => &*EN,
            Lang::Fr => &*FR,
        };
        table.get(key).or_else(|| EN.get(key)).copied()
    }

    /// The text for `key`; a missing key shows the key (and a test fails).
    pub fn t(self, key: &str) -> &'static str {
        let table = match self {
            Lang::En => &*EN,
            Lang::Fr => &*FR,
        };
        match table.get(key).or_else(|| EN.get(key)) {
            Some(text) => text,
            None => {
                tracing::warn!(key, "missing translation");
                "\u{2047}"
            }
        }
    }

    /// The plural form of `key` for `count` (`key.one` or `key.other`),
    /// placeholders filled in. French treats 0 and 1 as singular ("0
    /// utilisateur"), English only 1.
    pub fn tn(self, key: &str, count: i64, args: &[(&str, &str)]) -> String {
        let one = match self {
            Lang::En => count == 1,
            Lang::Fr => count == 0 || count == 1,
        };
        let form = if one { "one" } else { "other" };
        self.tf(&format!("{key}.{form}"), args)
    }

    /// The text for `key` with `{name}` placeholders filled in.
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

/// The best supported language from an `Accept-Language` value, by q-value.
pub fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some(lang) = Lang::parse(tag)
            && q > 0.0
            && best.is_none_or(|(_, bq)| q > bq)
        {
            best = Some((lang, q));
        }
    }
    best.map(|(lang, _)| lang)
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

static EN: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| parse(include_str!("../locales/en.txt")));
static FR: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| parse(include_str!("../locales/fr.txt")));

fn parse(source: &'static str) -> HashMap<&'static str, &'static str> {
    source
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// Both message files define the same keys.
pub fn missing_keys() -> Vec<String> {
    let mut missing: Vec<String> = EN
        .keys()
        .filter(|k| !FR.contains_key(*k))
        .map(|k| format!("fr: {k}"))
        .collect();
    missing.extend(
        FR.keys()
            .filter(|k| !EN.contains_key(*k))
            .map(|k| format!("en: {k}")),
    );
    missing.sort();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_forms_follow_each_language() {
        let n = |lang: Lang, count: i64| {
            lang.tn("bulk.confirm_suspend", count, &[("n", &count.to_string())])
        };
        assert_eq!(n(Lang::En, 1), "Suspend 1 user?");
        assert_eq!(n(Lang::En, 0), "Suspend 0 users?");
        assert_eq!(n(Lang::En, 2), "Suspend 2 users?");
        assert_eq!(n(Lang::Fr, 1), "Suspendre 1 utilisateur ?");
        assert_eq!(n(Lang::Fr, 0), "Suspendre 0 utilisateur ?");
        assert_eq!(n(Lang::Fr, 2), "Suspendre 2 utilisateurs ?");
    }

    #[test]
    fn message_files_have_the_same_keys() {
        assert_eq!(missing_keys(), Vec::<String>::new());
    }

    #[test]
    fn accept_language_uses_q_values() {
        assert_eq!(
            from_accept_language("de-DE, fr;q=0.8, en;q=0.5"),
            Some(Lang::Fr)
        );
        assert_eq!(from_accept_language("en-GB,fr;q=0.9"), Some(Lang::En));
        assert_eq!(from_accept_language("de, es"), None);
        assert_eq!(from_accept_language("fr;q=0"), None);
    }
}
