//! The Stripe API calls the backoffice makes. async-stripe's client does
//! the transport: the key, the pinned `Stripe-Version`, idempotency keys,
//! timeouts and Stripe's error bodies. The requests are forms built here
//! and the answers are read as JSON for the few fields used.
//!
//! Why not async-stripe's generated request crates: their answers are
//! strict (every documented field must be present, so a field Stripe
//! renames breaks the read) and they add minutes of build on two cores,
//! for a dozen fields read here.

use std::time::Duration;

use serde_json::Value;
use stripe::{Client, ClientBuilder, StripeError};
use stripe_client_core::{IdempotencyKey, RequestBuilder, RequestStrategy, StripeMethod};

use crate::config::StripeConfig;

/// Longest one call may take: a person waits on it.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call failed, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// Stripe answered and refused (a card declined, a bad id…).
    #[error("Stripe refused ({status}): {message}")]
    Refused { status: u16, message: String },
    /// No answer in time, or no connection.
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    /// An answer we could not read.
    #[error("Stripe's answer could not be read: {0}")]
    Unreadable(String),
}

impl StripeFailure {
    /// The i18n key and the argument of the sentence shown to staff.
    pub fn words(&self) -> (&'static str, String) {
        match self {
            StripeFailure::Refused { message, .. } => ("billing.stripe_refused", message.clone()),
            StripeFailure::Unreachable(_) => ("billing.stripe_unreachable", String::new()),
            StripeFailure::Unreadable(_) => ("billing.stripe_unreadable", String::new()),
        }
    }
}

impl From<StripeError> for StripeFailure {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(errors, status) => StripeFailure::Refused {
                status,
                message: errors
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("error {status}")),
            },
            StripeError::JSONDeserialize(m) => StripeFailure::Unreadable(m),
            StripeError::Timeout => StripeFailure::Unreachable("timed out".into()),
            StripeError::ClientError(m) | StripeError::ConfigError(m) => {
                StripeFailure::Unreachable(m)
            }
        }
    }
}

pub type StripeResult<T> = Result<T, StripeFailure>;

/// A Checkout Session or a Customer Portal session: where to send the customer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HostedSession {
    pub id: String,
    pub url: String,
}

/// What a Checkout Session is opened for.
pub struct CheckoutFor<'a> {
    pub user_id: i64,
    pub email: &'a str,
    /// The customer already known for the user, reused.
    pub customer: Option<&'a str>,
    pub plan_code: &'a str,
    pub price_id: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// One invoice as the user page lists it.
#[derive(Clone, Debug)]
pub struct Invoice {
    pub id: String,
    pub number: Option<String>,
    pub status: String,
    pub total: i64,
    pub amount_paid: i64,
    pub currency: String,
    pub created: i64,
    pub hosted_url: Option<String>,
}

/// What changing a subscription's price would invoice now.
#[derive(Clone, Debug)]
pub struct Preview {
    /// The prorated lines' sum (credit for the unused time, charge for the new plan).
    pub proration: i64,
    /// The preview invoice's total.
    pub total: i64,
    pub currency: String,
}

pub struct StripeApi {
    client: Client,
}

/// `(name, value)` pairs form-encoded as Stripe reads them (`a[b][0]=c`).
type Form = Vec<(String, String)>;

fn pair(k: &str, v: impl ToString) -> (String, String) {
    (k.to_owned(), v.to_string())
}

fn encode(form: &Form) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish()
}

/// A path segment from an id (Stripe ids are `[A-Za-z0-9_]`; anything else is refused).
fn segment(id: &str) -> StripeResult<&str> {
    if !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(id)
    } else {
        Err(StripeFailure::Refused {
            status: 400,
            message: format!("'{id}' is not a Stripe id"),
        })
    }
}

impl StripeApi {
    /// The client, when a secret key is configured.
    pub fn from_config(config: &StripeConfig) -> Result<Option<StripeApi>, String> {
        let Some(key) = &config.secret_key else {
            return Ok(None);
        };
        let mut builder = ClientBuilder::new(key.clone()).timeout(TIMEOUT).app_info(
            "sowat-admin",
            Some(env!("CARGO_PKG_VERSION").into()),
            None,
        );
        if let Some(base) = &config.api_base {
            builder = builder.url(base.clone());
        }
        builder
            .build()
            .map(|client| Some(StripeApi { client }))
            .map_err(|e| e.to_string())
    }

    async fn call(
        &self,
        method: StripeMethod,
        path: &str,
        form: Option<&Form>,
        idempotency: Option<&str>,
    ) -> StripeResult<Value> {
        let mut request = RequestBuilder::new(method, path);
        match (method, form) {
            (StripeMethod::Get, Some(f)) => request.query = Some(encode(f)),
            (_, Some(f)) => request.body = Some(encode(f)),
            (_, None) => {}
        }
        let strategy = match idempotency {
            Some(k) => RequestStrategy::Idempotent(
                IdempotencyKey::new(k).map_err(|e| StripeFailure::Unreadable(e.to_string()))?,
            ),
            None => RequestStrategy::Once,
        };
        // The answer as miniserde's value (what the client decodes), then
        // as serde_json's for reading.
        let answer: miniserde::json::Value = request
            .customize()
            .request_strategy(strategy)
            .send(&self.client)
            .await?;
        serde_json::from_str(&miniserde::json::to_string(&answer))
            .map_err(|e| StripeFailure::Unreadable(e.to_string()))
    }

    fn session(answer: Value) -> StripeResult<HostedSession> {
        let text = |k: &str| answer.get(k).and_then(Value::as_str).map(str::to_owned);
        match (text("id"), text("url")) {
            (Some(id), Some(url)) => Ok(HostedSession { id, url }),
            _ => Err(StripeFailure::Unreadable(
                "a session without id or url".into(),
            )),
        }
    }

    /// A Checkout Session subscribing the user to the plan's price. The
    /// user id travels as `client_reference_id` and in the subscription's
    /// metadata, so every later event finds the user.
    pub async fn checkout(&self, c: &CheckoutFor<'_>) -> StripeResult<HostedSession> {
        let mut form = vec![
            pair("mode", "subscription"),
            pair("line_items[0][price]", c.price_id),
            pair("line_items[0][quantity]", 1),
            pair("client_reference_id", c.user_id),
            pair("success_url", c.success_url),
            pair("cancel_url", c.cancel_url),
            pair("metadata[user_id]", c.user_id),
            pair("metadata[plan_code]", c.plan_code),
            pair("subscription_data[metadata][user_id]", c.user_id),
            pair("subscription_data[metadata][plan_code]", c.plan_code),
        ];
        match c.customer {
            Some(customer) => form.push(pair("customer", segment(customer)?)),
            None => form.push(pair("customer_email", c.email)),
        }
        let answer = self
            .call(StripeMethod::Post, "/checkout/sessions", Some(&form), None)
            .await?;
        Self::session(answer)
    }

    /// A Customer Portal session for the customer.
    pub async fn portal(&self, customer: &str, return_url: &str) -> StripeResult<HostedSession> {
        let form = vec![
            pair("customer", segment(customer)?),
            pair("return_url", return_url),
        ];
        let answer = self
            .call(
                StripeMethod::Post,
                "/billing_portal/sessions",
                Some(&form),
                None,
            )
            .await?;
        Self::session(answer)
    }

    /// The subscription as Stripe holds it now.
    pub async fn subscription(&self, id: &str) -> StripeResult<Value> {
        let path = format!("/subscriptions/{}", segment(id)?);
        self.call(StripeMethod::Get, &path, None, None).await
    }

    /// The change of the item to `price`, prorated from `proration_date`;
    /// `nest` names each field (the update names them as they are, the
    /// preview inside `subscription_details[…]`).
    fn change_form(
        item: &str,
        price: &str,
        proration_date: i64,
        nest: impl Fn(&str, &str) -> String,
    ) -> Form {
        vec![
            (nest("items", "[0][id]"), item.to_owned()),
            (nest("items", "[0][price]"), price.to_owned()),
            (nest("proration_behavior", ""), "create_prorations".into()),
            (nest("proration_date", ""), proration_date.to_string()),
        ]
    }

    /// What moving the subscription's item to `price` at `proration_date`
    /// would invoice (Stripe's invoice preview; nothing is changed).
    pub async fn preview_change(
        &self,
        customer: &str,
        subscription: &str,
        item: &str,
        price: &str,
        proration_date: i64,
    ) -> StripeResult<Preview> {
        let mut form = vec![
            pair("customer", segment(customer)?),
            pair("subscription", segment(subscription)?),
        ];
        form.extend(Self::change_form(
            item,
            price,
            proration_date,
            |head, tail| format!("subscription_details[{head}]{tail}"),
        ));
        let invoice = self
            .call(
                StripeMethod::Post,
                "/invoices/create_preview",
                Some(&form),
                None,
            )
            .await?;
        let proration = invoice
            .pointer("/lines/data")
            .and_then(Value::as_array)
            .map(|lines| {
                lines
                    .iter()
                    .filter(|l| {
                        l.get("proration").and_then(Value::as_bool) == Some(true)
                            || l.pointer("/parent/subscription_item_details/proration")
                                .and_then(Value::as_bool)
                                == Some(true)
                    })
                    .filter_map(|l| l.get("amount").and_then(Value::as_i64))
                    .sum()
            })
            .unwrap_or(0);
        Ok(Preview {
            proration,
            total: invoice.get("total").and_then(Value::as_i64).unwrap_or(0),
            currency: invoice
                .get("currency")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// Moves the subscription to `price`, prorated from `proration_date`
    /// (the date previewed, so the charge is the one shown).
    pub async fn change_price(
        &self,
        subscription: &str,
        item: &str,
        price: &str,
        proration_date: i64,
        idempotency: &str,
    ) -> StripeResult<Value> {
        let path = format!("/subscriptions/{}", segment(subscription)?);
        let form = Self::change_form(item, price, proration_date, |head, tail| {
            format!("{head}{tail}")
        });
        self.call(StripeMethod::Post, &path, Some(&form), Some(idempotency))
            .await
    }

    /// Sets or clears `cancel_at_period_end` (cancel at the end, or resume).
    pub async fn cancel_at_period_end(
        &self,
        subscription: &str,
        cancel: bool,
    ) -> StripeResult<Value> {
        let path = format!("/subscriptions/{}", segment(subscription)?);
        let form = vec![pair("cancel_at_period_end", cancel)];
        self.call(StripeMethod::Post, &path, Some(&form), None)
            .await
    }

    /// Cancels the subscription now.
    pub async fn cancel_now(&self, subscription: &str) -> StripeResult<Value> {
        let path = format!("/subscriptions/{}", segment(subscription)?);
        self.call(StripeMethod::Delete, &path, None, None).await
    }

    /// The customer's latest invoices, newest first.
    pub async fn invoices(&self, customer: &str, limit: u8) -> StripeResult<Vec<Invoice>> {
        let form = vec![pair("customer", segment(customer)?), pair("limit", limit)];
        let list = self
            .call(StripeMethod::Get, "/invoices", Some(&form), None)
            .await?;
        let data = list
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| StripeFailure::Unreadable("a list without data".into()))?;
        Ok(data
            .iter()
            .filter_map(|i| {
                let text = |k: &str| i.get(k).and_then(Value::as_str).map(str::to_owned);
                let int = |k: &str| i.get(k).and_then(Value::as_i64).unwrap_or(0);
                Some(Invoice {
                    id: text("id")?,
                    number: text("number"),
                    status: text("status").unwrap_or_else(|| "draft".into()),
                    total: int("total"),
                    amount_paid: int("amount_paid"),
                    currency: text("currency").unwrap_or_default(),
                    created: int("created"),
                    hosted_url: text("hosted_invoice_url"),
                })
            })
            .collect())
    }

    /// An invoice item on the customer's next invoice. `idempotency` makes
    /// a rerun after a crash create nothing twice (Stripe keeps keys 24 h;
    /// the stored item id covers the rest).
    pub async fn invoice_item(
        &self,
        customer: &str,
        amount_cents: i64,
        currency: &str,
        description: &str,
        idempotency: &str,
    ) -> StripeResult<String> {
        let form = vec![
            pair("customer", segment(customer)?),
            pair("amount", amount_cents),
            pair("currency", currency),
            pair("description", description),
        ];
        let item = self
            .call(
                StripeMethod::Post,
                "/invoiceitems",
                Some(&form),
                Some(idempotency),
            )
            .await?;
        item.get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| StripeFailure::Unreadable("an invoice item without id".into()))
    }
}
