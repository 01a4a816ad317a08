//! Template structs of the plan screens.

use askama::Template;

use crate::i18n::Lang;
use crate::metering::kind::UsageKind;
use crate::metering::plan::{CURRENCIES, Interval, Plan, format_cents};
use crate::plans::input::{limit_field, overage_field, unlimited_field};
use crate::web::event_view::EventView;
use crate::web::form::Choice;
use crate::web::layout::PageCtx;

/// `29.90 EUR / month`.
pub fn price_text(lang: Lang, cents: i64, currency: &str, interval: Interval) -> String {
    format!(
        "{} {} / {}",
        format_cents(cents),
        currency.to_uppercase(),
        lang.t(&format!("plans.interval_{}", interval.as_str()))
    )
}

/// `100 articles · unlimited images · 0 social posts`.
pub fn limits_text(lang: Lang, p: &Plan) -> String {
    UsageKind::ALL
        .iter()
        .map(|k| match p.limits.of(*k).0 {
            Some(n) => lang.tf(&format!("plans.n_{}", k.plural()), &[("n", &n.to_string())]),
            None => lang
                .t(&format!("plans.unlimited_{}", k.plural()))
                .to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `0.50 per article beyond` per billed kind, or "blocked at the limit".
pub fn overage_text(lang: Lang, p: &Plan) -> String {
    let billed: Vec<String> = UsageKind::ALL
        .iter()
        .filter_map(|k| {
            p.overage.of(*k).map(|c| {
                lang.tf(
                    &format!("plans.overage_{}", k.plural()),
                    &[(
                        "price",
                        &format!("{} {}", format_cents(c), p.currency.to_uppercase()),
                    )],
                )
            })
        })
        .collect();
    if billed.is_empty() {
        lang.t("plans.blocked").to_owned()
    } else {
        billed.join(" · ")
    }
}

pub struct PlanRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub price: String,
    pub limits: String,
    pub overage: String,
    pub subscribers: String,
    pub active: bool,
    pub is_default: bool,
    pub archived: bool,
}

#[derive(Template)]
#[template(path = "plans/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub rows: Vec<PlanRow>,
    pub archived: bool,
    pub can_write: bool,
}

/// One kind's fields in the form.
pub struct KindFields {
    pub label: &'static str,
    pub limit: &'static str,
    pub unlimited: &'static str,
    pub overage: &'static str,
}

/// The plan form, new or edited, with what was typed and each field's problem.
pub struct PlanForm {
    pub action: String,
    pub editing: bool,
    pub values: Vec<(String, String)>,
    pub problems: Vec<(&'static str, String)>,
    pub kinds: Vec<KindFields>,
    pub intervals: Vec<Choice>,
    pub currencies: Vec<Choice>,
}

impl PlanForm {
    pub fn new(lang: Lang, action: String, editing: bool, values: Vec<(String, String)>) -> Self {
        let value = |k: &str| {
            values
                .iter()
                .find(|(f, _)| f == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let interval = value("interval");
        let currency = value("currency").to_lowercase();
        PlanForm {
            kinds: UsageKind::ALL
                .iter()
                .map(|k| KindFields {
                    label: lang.t(&format!("usage.kind_{}", k.as_str())),
                    limit: limit_field(*k),
                    unlimited: unlimited_field(*k),
                    overage: overage_field(*k),
                })
                .collect(),
            intervals: Interval::ALL
                .iter()
                .map(|i| Choice {
                    value: i.as_str().to_owned(),
                    label: lang.t(&format!("plans.interval_{}", i.as_str())).to_owned(),
                    selected: interval == i.as_str(),
                })
                .collect(),
            currencies: CURRENCIES
                .iter()
                .map(|c| Choice {
                    value: (*c).to_owned(),
                    label: c.to_uppercase(),
                    selected: currency == *c,
                })
                .collect(),
            action,
            editing,
            values,
            problems: Vec::new(),
        }
    }

    pub fn v(&self, key: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn checked(&self, key: &str) -> bool {
        !self.v(key).is_empty()
    }

    pub fn err(&self, key: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "plans/new.html")]
pub struct NewPage {
    pub ctx: PageCtx,
    pub form: PlanForm,
}

#[derive(Template)]
#[template(path = "plans/page.html")]
pub struct PlanPage {
    pub ctx: PageCtx,
    pub row: PlanRow,
    pub created: String,
    pub updated: String,
    pub stripe_price_id: String,
    pub form: Option<PlanForm>,
    pub saved: bool,
    pub can_write: bool,
    pub error: Option<String>,
    pub history: Vec<EventView>,
}
