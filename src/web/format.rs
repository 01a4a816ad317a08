//! How dates and numbers read on every screen (UTC, minutes, grouped digits),
//! written once so every list and page agrees.

use time::PrimitiveDateTime;

/// "2026-12-03 14:05" (UTC, as stored).
pub fn date_time(t: PrimitiveDateTime) -> String {
    format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute())
}

/// "2026-12-03 14:05:09": to the second, for the audit trail.
pub fn date_time_seconds(t: PrimitiveDateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02}",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A missing time reads as nothing.
pub fn opt_date_time(t: Option<PrimitiveDateTime>) -> String {
    t.map(date_time).unwrap_or_default()
}

/// RFC 3339 with the UTC offset, for machines (JSON exports).
pub fn rfc3339(t: PrimitiveDateTime) -> String {
    t.assume_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// 12345 → "12,345".
pub fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// "1 min 05 s", "3 s": how long something took.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s:02} s"),
        (h, m, _) => format!("{h} h {m:02} min"),
    }
}

/// "Chrome 131 on Linux" from a user agent string; the start of the string
/// when it is not a browser this knows.
pub fn user_agent(ua: &str) -> String {
    let version = |marker: &str| {
        ua.split(marker).nth(1).map(|rest| {
            rest.split(['.', ' ', ';', ')'])
                .next()
                .unwrap_or("")
                .to_owned()
        })
    };
    let browser = if let Some(v) = version("Edg/") {
        Some(format!("Edge {v}"))
    } else if let Some(v) = version("Firefox/") {
        Some(format!("Firefox {v}"))
    } else if let Some(v) = version("Chrome/").or_else(|| version("Chromium/")) {
        Some(format!("Chrome {v}"))
    } else if ua.contains("Safari/") {
        Some(version("Version/").map_or("Safari".to_owned(), |v| format!("Safari {v}")))
    } else {
        None
    };
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} · {o}"),
        (Some(b), None) => b,
        _ => ua.chars().take(40).collect(),
    }
}

/// A day typed as `2026-12-03` (a date field's value), if it is one.
pub fn parse_day(s: &str) -> Option<time::Date> {
    time::Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// What is wrong with a from/to pair of days, as an i18n key: a value that
/// is not a day (ignored by the filter), or a range that ends before it
/// starts. Every list with a date range shows it the same way.
pub fn date_range_problem(from: &str, to: &str) -> Option<&'static str> {
    let (from, to) = (from.trim(), to.trim());
    let (parsed_from, parsed_to) = (parse_day(from), parse_day(to));
    if !from.is_empty() && parsed_from.is_none() {
        return Some("users.bad_from");
    }
    if !to.is_empty() && parsed_to.is_none() {
        return Some("users.bad_to");
    }
    match (parsed_from, parsed_to) {
        (Some(f), Some(t)) if f > t => Some("users.dates_reversed"),
        _ => None,
    }
}

/// An amount in cents with its currency, signed (a proration may be a credit).
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "−" } else { "" };
    let abs = cents.unsigned_abs();
    format!(
        "{sign}{}.{:02} {}",
        group(i64::try_from(abs / 100).unwrap_or(i64::MAX)),
        abs % 100,
        currency.to_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(-1234567), "-1,234,567");
        assert_eq!(group(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn user_agents_read_as_browser_and_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(user_agent(chrome), "Chrome 131 · Linux");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(user_agent(safari), "Safari 17 · iOS");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68";
        assert_eq!(user_agent(edge), "Edge 130 · Windows");
        let firefox =
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(user_agent(firefox), "Firefox 128 · macOS");
        assert_eq!(user_agent("curl/8.5.0"), "curl/8.5.0");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(3), "3 s");
        assert_eq!(duration(65), "1 min 05 s");
        assert_eq!(duration(3_725), "1 h 02 min");
    }
}
