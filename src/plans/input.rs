//! The plan form read and checked field by field: every problem is
//! reported at once, next to its field, in words.

use crate::metering::kind::UsageKind;
use crate::metering::plan::{
    CURRENCIES, Interval, Limit, Limits, Overage, format_cents, parse_cents,
};
use crate::web::form::field;

/// A plan's values, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanInput {
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub interval: Interval,
    pub limits: Limits,
    pub overage: Overage,
    pub stripe_price_id: Option<String>,
    pub active: bool,
}

impl PlanInput {
    /// As the audit trail shows it (before and after a change).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code,
            "name": self.name,
            "price_cents": self.price_cents,
            "currency": self.currency,
            "interval": self.interval.as_str(),
            "limits": self.limits,
            "overage": self.overage,
            "stripe_price_id": self.stripe_price_id,
            "active": self.active,
        })
    }
}

/// A field's problem: the field's name in the form and the message key.
pub type Problem = (&'static str, &'static str);

/// `price_…` ids as Stripe writes them.
fn valid_stripe_price(s: &str) -> bool {
    s.starts_with("price_")
        && (7..=255).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A plan's code: what the main app and reports name it by.
pub fn valid_code(s: &str) -> bool {
    (2..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

/// The form's field names for a kind's limit, its "unlimited" box and its overage price.
pub fn limit_field(kind: UsageKind) -> &'static str {
    match kind {
        UsageKind::Article => "limit_articles",
        UsageKind::Image => "limit_images",
        UsageKind::SocialPost => "limit_social_posts",
    }
}

pub fn unlimited_field(kind: UsageKind) -> &'static str {
    match kind {
        UsageKind::Article => "unlimited_articles",
        UsageKind::Image => "unlimited_images",
        UsageKind::SocialPost => "unlimited_social_posts",
    }
}

pub fn overage_field(kind: UsageKind) -> &'static str {
    match kind {
        UsageKind::Article => "overage_articles",
        UsageKind::Image => "overage_images",
        UsageKind::SocialPost => "overage_social_posts",
    }
}

/// Reads the submitted form; `code` is `None` when editing (a plan's code
/// never changes: reports and the main app name plans by it).
pub fn read(fields: &[(String, String)], code: Option<&str>) -> Result<PlanInput, Vec<Problem>> {
    let get = |k: &str| field(fields, k);
    let mut problems = Vec::new();
    let code = match code {
        Some(c) => c.to_owned(),
        None => {
            let c = get("code").trim().to_lowercase();
            if !valid_code(&c) {
                problems.push(("code", "plans.code_invalid"));
            }
            c
        }
    };
    let name: String = get("name").chars().filter(|c| !c.is_control()).collect();
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        problems.push(("name", "plans.name_invalid"));
    }
    let price_cents = parse_cents(&get("price")).unwrap_or_else(|| {
        problems.push(("price", "plans.price_invalid"));
        0
    });
    let currency = get("currency").trim().to_lowercase();
    if !CURRENCIES.contains(&currency.as_str()) {
        problems.push(("currency", "plans.currency_invalid"));
    }
    let interval = Interval::parse(get("interval").trim()).unwrap_or_else(|| {
        problems.push(("interval", "plans.interval_invalid"));
        Interval::Month
    });
    let mut limits = Limits::default();
    let mut overage = Overage::default();
    for kind in UsageKind::ALL.iter().copied() {
        let unlimited = !get(unlimited_field(kind)).is_empty();
        let limit = if unlimited {
            Limit::UNLIMITED
        } else {
            match get(limit_field(kind)).trim().parse::<u32>() {
                Ok(n) => Limit(Some(i64::from(n))),
                Err(_) => {
                    problems.push((limit_field(kind), "plans.limit_invalid"));
                    Limit(Some(0))
                }
            }
        };
        limits.set(kind, limit);
        let price = get(overage_field(kind));
        let cents = if price.trim().is_empty() {
            None
        } else {
            match parse_cents(&price) {
                Some(c) if c > 0 => Some(c),
                _ => {
                    problems.push((overage_field(kind), "plans.overage_invalid"));
                    None
                }
            }
        };
        if cents.is_some() && unlimited {
            problems.push((overage_field(kind), "plans.overage_unlimited"));
        }
        overage.set(kind, cents);
    }
    let stripe = get("stripe_price_id").trim().to_owned();
    let stripe_price_id = if stripe.is_empty() {
        None
    } else {
        if !valid_stripe_price(&stripe) {
            problems.push(("stripe_price_id", "plans.stripe_price_invalid"));
        }
        Some(stripe)
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(PlanInput {
        code,
        name,
        price_cents,
        currency,
        interval,
        limits,
        overage,
        stripe_price_id,
        active: !get("active").is_empty(),
    })
}

/// The form's values for `plan` (to edit it), as the fields hold them.
pub fn values_of(p: &crate::metering::plan::Plan) -> Vec<(String, String)> {
    let mut out = vec![
        ("code".to_owned(), p.code.clone()),
        ("name".to_owned(), p.name.clone()),
        ("price".to_owned(), format_cents(p.price_cents)),
        ("currency".to_owned(), p.currency.clone()),
        ("interval".to_owned(), p.interval.as_str().to_owned()),
        (
            "stripe_price_id".to_owned(),
            p.stripe_price_id.clone().unwrap_or_default(),
        ),
    ];
    if p.active {
        out.push(("active".to_owned(), "on".to_owned()));
    }
    for kind in UsageKind::ALL.iter().copied() {
        match p.limits.of(kind).0 {
            Some(n) => out.push((limit_field(kind).to_owned(), n.to_string())),
            None => out.push((unlimited_field(kind).to_owned(), "on".to_owned())),
        }
        if let Some(c) = p.overage.of(kind) {
            out.push((overage_field(kind).to_owned(), format_cents(c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_problem_is_named_with_its_field() {
        let bad = form(&[
            ("code", "Pro Plan"),
            ("name", ""),
            ("price", "12.345"),
            ("currency", "btc"),
            ("interval", "week"),
            ("limit_articles", "-3"),
            ("limit_images", "10"),
            ("unlimited_social_posts", "on"),
            ("overage_social_posts", "0.10"),
            ("overage_images", "free"),
            ("stripe_price_id", "prod_123"),
        ]);
        let fields: Vec<&str> = read(&bad, None)
            .unwrap_err()
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            fields,
            [
                "code",
                "name",
                "price",
                "currency",
                "interval",
                "limit_articles",
                "overage_images",
                "overage_social_posts",
                "stripe_price_id"
            ]
        );
        let good = form(&[
            ("code", "pro"),
            ("name", "Pro"),
            ("price", "29.90"),
            ("currency", "EUR"),
            ("interval", "month"),
            ("limit_articles", "100"),
            ("overage_articles", "0.50"),
            ("limit_images", "0"),
            ("unlimited_social_posts", "on"),
            ("stripe_price_id", "price_1Abc"),
            ("active", "on"),
        ]);
        let p = read(&good, None).unwrap();
        assert_eq!((p.price_cents, p.currency.as_str()), (2990, "eur"));
        assert_eq!(p.limits.social_posts, Limit::UNLIMITED);
        assert_eq!(p.overage.articles, Some(50));
        assert!(p.active);
        // Editing keeps the code whatever the form says.
        assert_eq!(read(&good, Some("pro-2024")).unwrap().code, "pro-2024");
    }
}
