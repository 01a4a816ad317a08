//! An error's cause without its particulars: "OpenAI timeout after 30012ms"
//! and "… after 29877ms" are one cause. Numbers, hex runs and quoted
//! values fold to `#`; the first line only, bounded.

/// The longest fingerprint (and stored message) kept, in characters.
pub const MAX_CHARS: usize = 300;

pub fn fingerprint(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let mut out = String::with_capacity(line.len().min(MAX_CHARS));
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if out.chars().count() >= MAX_CHARS {
            break;
        }
        if c.is_ascii_digit() {
            // A run of digits, hex letters, dots and dashes around a digit
            // (ids, uuids, versions, durations' numbers) is one particular.
            while chars
                .peek()
                .is_some_and(|n| n.is_ascii_hexdigit() || matches!(n, '.' | '-' | '_'))
            {
                chars.next();
            }
            if !out.ends_with('#') {
                out.push('#');
            }
        } else if c == '"' || c == '\'' {
            // A quoted value: its content is particular.
            for n in chars.by_ref() {
                if n == c {
                    break;
                }
            }
            out.push(c);
            out.push('#');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// The first `max` characters of `s`.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particulars_fold() {
        assert_eq!(
            fingerprint("OpenAI timeout after 30012ms"),
            fingerprint("OpenAI timeout after 298ms\n   at x")
        );
        assert_eq!(
            fingerprint("OpenAI timeout after 30012ms"),
            "OpenAI timeout after #ms"
        );
        assert_eq!(
            fingerprint("user 5f0c2a1e-77aa-4c1b-9d0e-0123456789ab not found"),
            "user # not found"
        );
        assert_eq!(
            fingerprint("bad key 'abc' in \"x y\""),
            "bad key '#' in \"#\""
        );
        assert_eq!(clip("héllo", 2), "hé");
    }
}
