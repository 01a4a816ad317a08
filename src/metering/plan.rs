//! A plan: its price, and per kind a limit (a count or unlimited) and an
//! overage price (or blocked at the limit). Limits and overage prices are
//! stored as JSON and always read and written through these structs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::PrimitiveDateTime;

use crate::metering::kind::UsageKind;

/// A monthly allowance: `Some(n)` units, or `None` for unlimited
/// (written `"unlimited"` in JSON).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limit(pub Option<i64>);

impl Limit {
    pub const UNLIMITED: Limit = Limit(None);

    /// This limit plus `extra` units (unlimited stays unlimited).
    pub fn plus(self, extra: i64) -> Limit {
        Limit(self.0.map(|n| n.saturating_add(extra)))
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(n) => s.serialize_i64(n),
            None => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u32),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) => Ok(Limit(Some(i64::from(n)))),
            Raw::Word(w) if w == "unlimited" => Ok(Limit(None)),
            Raw::Word(_) => Err(serde::de::Error::custom(
                "a limit is a non-negative integer or \"unlimited\"",
            )),
        }
    }
}

/// Limits per kind. Every kind must be named: a plan that forgot one
/// would silently give nothing (or everything).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub articles: Limit,
    pub images: Limit,
    pub social_posts: Limit,
}

impl Limits {
    pub fn of(&self, kind: UsageKind) -> Limit {
        match kind {
            UsageKind::Article => self.articles,
            UsageKind::Image => self.images,
            UsageKind::SocialPost => self.social_posts,
        }
    }

    pub fn set(&mut self, kind: UsageKind, limit: Limit) {
        match kind {
            UsageKind::Article => self.articles = limit,
            UsageKind::Image => self.images = limit,
            UsageKind::SocialPost => self.social_posts = limit,
        }
    }
}

/// Price per unit beyond the limit, in cents; a kind left out is blocked
/// at its limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Overage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub articles: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub social_posts: Option<i64>,
}

impl Overage {
    pub fn of(&self, kind: UsageKind) -> Option<i64> {
        match kind {
            UsageKind::Article => self.articles,
            UsageKind::Image => self.images,
            UsageKind::SocialPost => self.social_posts,
        }
    }

    pub fn set(&mut self, kind: UsageKind, cents: Option<i64>) {
        match kind {
            UsageKind::Article => self.articles = cents,
            UsageKind::Image => self.images = cents,
            UsageKind::SocialPost => self.social_posts = cents,
        }
    }
}

crate::text_enum!(
    /// How often a plan is billed.
    Interval { Month => "month", Year => "year" }
);

/// Currencies a plan may be priced in (Stripe's lowercase codes).
pub const CURRENCIES: [&str; 5] = ["eur", "usd", "gbp", "chf", "cad"];

/// A plan as stored.
#[derive(Clone, Debug)]
pub struct Plan {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub interval: Interval,
    pub limits: Limits,
    pub overage: Overage,
    pub stripe_price_id: Option<String>,
    pub active: bool,
    pub is_default: bool,
    pub archived_at: Option<PrimitiveDateTime>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// The columns of `plans` in table order, as [`Plan::from_row`] reads them.
pub type PlanRow = (
    i64,
    String,
    String,
    i64,
    String,
    Interval,
    String,
    String,
    Option<String>,
    bool,
    bool,
    Option<PrimitiveDateTime>,
    PrimitiveDateTime,
    PrimitiveDateTime,
);

impl Plan {
    /// What a user gets when no plan applies (no default plan is set):
    /// nothing.
    pub fn nothing() -> Plan {
        let epoch = time::PrimitiveDateTime::MIN;
        Plan {
            id: 0,
            code: String::new(),
            name: String::new(),
            price_cents: 0,
            currency: "eur".into(),
            interval: Interval::Month,
            limits: Limits {
                articles: Limit(Some(0)),
                images: Limit(Some(0)),
                social_posts: Limit(Some(0)),
            },
            overage: Overage::default(),
            stripe_price_id: None,
            active: false,
            is_default: false,
            archived_at: None,
            created_at: epoch,
            updated_at: epoch,
        }
    }

    pub fn from_row(r: PlanRow) -> Plan {
        // Written through these structs only; a row that does not parse
        // (edited by hand) grants nothing rather than everything.
        let limits = serde_json::from_str(&r.6).unwrap_or_else(|e| {
            tracing::error!(plan = r.0, error = %e, "plan limits unreadable");
            Limits {
                articles: Limit(Some(0)),
                images: Limit(Some(0)),
                social_posts: Limit(Some(0)),
            }
        });
        let overage = serde_json::from_str(&r.7).unwrap_or_default();
        Plan {
            id: r.0,
            code: r.1,
            name: r.2,
            price_cents: r.3,
            currency: r.4,
            interval: r.5,
            limits,
            overage,
            stripe_price_id: r.8,
            active: r.9,
            is_default: r.10,
            archived_at: r.11,
            created_at: r.12,
            updated_at: r.13,
        }
    }
}

/// `12.5` → 1250 cents: a non-negative amount with at most two decimals.
pub fn parse_cents(s: &str) -> Option<i64> {
    let s = s.trim().replace(',', ".");
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty() || whole.len() > 9 || frac.len() > 2 {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{frac:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

/// 1250 → `12.50`.
pub fn format_cents(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_counts_and_unlimited_and_refuse_the_rest() {
        let l: Limits =
            serde_json::from_str(r#"{"articles":30,"images":"unlimited","social_posts":0}"#)
                .unwrap();
        assert_eq!(l.articles, Limit(Some(30)));
        assert_eq!(l.images, Limit::UNLIMITED);
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"articles":30,"images":"unlimited","social_posts":0}"#
        );
        for bad in [
            r#"{"articles":-1,"images":1,"social_posts":1}"#,
            r#"{"articles":"lots","images":1,"social_posts":1}"#,
            r#"{"articles":1,"images":1}"#,
            r#"{"articles":1,"images":1,"social_posts":1,"videos":1}"#,
        ] {
            assert!(serde_json::from_str::<Limits>(bad).is_err(), "{bad}");
        }
        assert_eq!(Limit(Some(5)).plus(3), Limit(Some(8)));
        assert_eq!(Limit::UNLIMITED.plus(3), Limit::UNLIMITED);
    }

    #[test]
    fn prices_are_cents() {
        assert_eq!(parse_cents("12"), Some(1200));
        assert_eq!(parse_cents("12.5"), Some(1250));
        assert_eq!(parse_cents("0,05"), Some(5));
        assert_eq!(parse_cents("1.234"), None);
        assert_eq!(parse_cents("-1"), None);
        assert_eq!(parse_cents(""), None);
        assert_eq!(format_cents(1250), "12.50");
        let o: Overage = serde_json::from_str(r#"{"images":5}"#).unwrap();
        assert_eq!(o.of(UsageKind::Image), Some(5));
        assert_eq!(o.of(UsageKind::Article), None);
    }
}
