//! A workspace's settings: stored as JSON, always read and written
//! through this struct, so a stray key or a wrong type never reaches the
//! database (the old platform's free-form JSON did).

use serde::{Deserialize, Serialize};

const MAX_DESCRIPTION: usize = 1000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkspaceSettings {
    /// What the workspace is for, shown to its members.
    pub description: String,
    /// The language of messages to members who chose none: `en` or `fr`.
    pub default_locale: Option<String>,
    /// Its managers must use a second factor to sign in.
    pub require_two_factor: bool,
}

impl WorkspaceSettings {
    /// Reads stored settings; a row written before a field existed gets
    /// its default.
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn to_json(&self) -> String {
        // A struct of strings and booleans always serialises.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    pub fn validate(&self) -> Result<(), &'static str> {
        let locale_ok = self
            .default_locale
            .as_deref()
            .is_none_or(|l| l == "en" || l == "fr");
        if self.description.chars().count() > MAX_DESCRIPTION || !locale_ok {
            return Err("workspaces.settings_invalid");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_refuse_strays() {
        assert_eq!(
            WorkspaceSettings::parse("{}").unwrap(),
            WorkspaceSettings::default()
        );
        let s = WorkspaceSettings {
            description: "Rowing club".into(),
            default_locale: Some("fr".into()),
            require_two_factor: true,
        };
        assert_eq!(WorkspaceSettings::parse(&s.to_json()).unwrap(), s);
        assert!(WorkspaceSettings::parse(r#"{"theme":"dark"}"#).is_err());
        assert!(WorkspaceSettings::parse(r#"{"require_two_factor":"yes"}"#).is_err());
        let bad = WorkspaceSettings {
            default_locale: Some("de".into()),
            ..WorkspaceSettings::default()
        };
        assert_eq!(bad.validate(), Err("workspaces.settings_invalid"));
    }
}
