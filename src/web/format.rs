//! How dates and numbers read on every screen (UTC, minutes, grouped digits),
//! written once so every list and page agrees.

use time::PrimitiveDateTime;

/// "2026-12-03 14:05" (UTC, as stored).
pub fn date_time(t: PrimitiveDateTime) -> String {
    format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute())
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
    fn durations_read_naturally() {
        assert_eq!(duration(3), "3 s");
        assert_eq!(duration(65), "1 min 05 s");
        assert_eq!(duration(3_725), "1 h 02 min");
    }
}
