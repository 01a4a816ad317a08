//! Template structs of the usage section (the user page) and its page.

use askama::Template;

use crate::web::form::{Choice, FormState};
use crate::web::layout::PageCtx;

/// One kind this month: used of limit, as a bar.
pub struct KindLine {
    pub kind: &'static str,
    pub label: &'static str,
    pub used: String,
    /// "150" or "unlimited".
    pub limit: String,
    pub remaining: String,
    /// `<progress>`'s value and max (max 0: unlimited, no bar).
    pub value: i64,
    pub max: i64,
    pub percent: i64,
    /// `ok`, `warn` (80 % and more) or `over` (at the limit).
    pub level: &'static str,
    pub overage_billed: bool,
}

/// A bar of the 12-month chart, placed in SVG units (no inline style:
/// the CSP allows none).
pub struct ChartBar {
    pub x: i64,
    pub y: i64,
    pub height: i64,
    pub kind: &'static str,
    pub title: String,
}

pub struct OverrideLine {
    pub id: i64,
    pub kind: &'static str,
    pub mode: &'static str,
    pub amount: String,
    pub reason: String,
    pub expires: String,
    pub by: String,
    pub at: String,
    pub state: &'static str,
    pub active: bool,
}

/// The plan a user's limits come from, and why.
pub struct PlanLine {
    pub plan_id: i64,
    pub name: String,
    pub code: String,
    /// `default`, `complimentary` or a Stripe status.
    pub source: String,
    pub complimentary: bool,
    pub stripe_customer: Option<String>,
    pub stripe_subscription: Option<String>,
    pub period_end: String,
    pub cancel_at_period_end: bool,
}

#[derive(Template)]
#[template(path = "usage/section.html")]
pub struct UsageSection<'a> {
    pub ctx: &'a PageCtx,
    pub user_id: i64,
    pub period: String,
    pub resets: String,
    pub kinds: Vec<KindLine>,
    pub chart: Vec<ChartBar>,
    pub chart_labels: Vec<(i64, String)>,
    pub overrides: Vec<OverrideLine>,
    pub plan: Option<PlanLine>,
    pub plan_choices: Vec<Choice>,
    pub kind_choices: Vec<Choice>,
    pub can_billing_read: bool,
    pub can_billing_write: bool,
    pub can_quotas: bool,
    pub form: FormState,
    pub plan_form: FormState,
}

#[derive(Template)]
#[template(path = "usage/page.html")]
pub struct UsagePage {
    pub ctx: PageCtx,
    pub user_id: i64,
    pub title: String,
    pub section: String,
}
