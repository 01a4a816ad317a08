//! Paths as they may be written to logs and the audit trail: the one-time
//! tokens in `/setup/{token}` and `/reset/{token}` are credentials.

/// `path` with the token segment of a one-time link replaced by `…`.
pub fn path(path: &str) -> String {
    for prefix in ["/setup/", "/reset/"] {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            return format!("{prefix}…");
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_hidden() {
        assert_eq!(super::path("/setup/abcDEF123"), "/setup/…");
        assert_eq!(super::path("/reset/abc/extra"), "/reset/…");
        assert_eq!(super::path("/admin/users/4"), "/admin/users/4");
    }
}
