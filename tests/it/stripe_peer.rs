//! A local HTTP server playing Stripe's API for the endpoints the
//! backoffice calls: it checks the bearer key and the form-encoded bodies
//! and answers JSON shaped as Stripe documents it. Every request is kept
//! for the test to inspect; `fail_next` makes the next call a Stripe error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const KEY: &str = "sk_test_peer_4242";
pub const WEBHOOK_SECRET: &str = "whsec_test_peer_secret";

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub form: Vec<(String, String)>,
    pub idempotency: Option<String>,
}

impl Recorded {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct PeerState {
    pub requests: Vec<Recorded>,
    pub subscriptions: HashMap<String, Value>,
    /// Invoice items by idempotency key (Stripe answers a repeated key with the first item).
    pub items: HashMap<String, Value>,
    pub fail_next: Option<(u16, &'static str, &'static str)>,
    next: u64,
}

#[derive(Clone)]
pub struct StripePeer {
    pub base: String,
    pub state: Arc<Mutex<PeerState>>,
}

/// A subscription object as Stripe answers it (API 2025-03-31 and later:
/// the period on the item).
pub fn subscription_json(
    id: &str,
    customer: &str,
    price: &str,
    status: &str,
    user_id: i64,
) -> Value {
    json!({
        "id": id, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": false, "canceled_at": null, "collection_method": "charge_automatically",
        "created": 1_780_000_000, "currency": "eur", "livemode": false,
        "metadata": {"user_id": user_id.to_string(), "plan_code": "pro"},
        "items": {"object": "list", "has_more": false, "url": format!("/v1/subscription_items?subscription={id}"),
            "data": [{"id": format!("si_{id}"), "object": "subscription_item", "quantity": 1,
                "current_period_start": 1_780_000_000, "current_period_end": 1_782_592_000,
                "price": {"id": price, "object": "price", "currency": "eur", "unit_amount": 1900,
                    "recurring": {"interval": "month", "interval_count": 1}, "type": "recurring"}}]}
    })
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        code,
        axum::Json(
            json!({"error": {"type": kind, "message": message, "code": "resource_missing"}}),
        ),
    )
        .into_response()
}

async fn handle(
    State(peer): State<StripePeer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {KEY}") {
        return error(401, "invalid_request_error", "Invalid API Key provided");
    }
    let raw = if method == Method::GET {
        uri.query().unwrap_or_default().to_owned()
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    if method == Method::POST
        && !raw.is_empty()
        && headers.get("content-type").and_then(|v| v.to_str().ok())
            != Some("application/x-www-form-urlencoded")
    {
        return error(400, "invalid_request_error", "form-encoded body expected");
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let rec = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        form: form.clone(),
        idempotency: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let mut st = peer.state.lock().unwrap();
    st.requests.push(rec.clone());
    if let Some((status, kind, message)) = st.fail_next.take() {
        return error(status, kind, message);
    }
    st.next += 1;
    let n = st.next;
    let path = uri.path();
    let need = |k: &str| rec.get(k).is_some();
    match (method.as_str(), path) {
        ("POST", "/v1/checkout/sessions") => {
            for k in ["mode", "line_items[0][price]", "success_url", "cancel_url"] {
                if !need(k) {
                    return error(400, "invalid_request_error", &format!("Missing required param: {k}."));
                }
            }
            let id = format!("cs_test_{n}");
            axum::Json(json!({
                "id": id, "object": "checkout.session", "mode": rec.get("mode"),
                "url": format!("https://checkout.stripe.com/c/pay/{id}"),
                "client_reference_id": rec.get("client_reference_id"), "customer": rec.get("customer"),
                "status": "open", "payment_status": "unpaid", "livemode": false,
            }))
            .into_response()
        }
        ("POST", "/v1/billing_portal/sessions") => {
            if !need("customer") {
                return error(400, "invalid_request_error", "Missing required param: customer.");
            }
            let id = format!("bps_{n}");
            axum::Json(json!({
                "id": id, "object": "billing_portal.session", "customer": rec.get("customer"),
                "return_url": rec.get("return_url"), "url": format!("https://billing.stripe.com/p/session/{id}"),
                "livemode": false,
            }))
            .into_response()
        }
        ("POST", "/v1/invoices/create_preview") => {
            if !need("customer") || !need("subscription_details[items][0][price]") {
                return error(400, "invalid_request_error", "Missing required param.");
            }
            axum::Json(json!({
                "object": "invoice", "currency": "eur", "total": 2450, "amount_due": 2450,
                "lines": {"object": "list", "data": [
                    {"id": "il_1", "object": "line_item", "amount": -950, "currency": "eur",
                     "parent": {"type": "subscription_item_details", "subscription_item_details": {"proration": true}}},
                    {"id": "il_2", "object": "line_item", "amount": 2900, "currency": "eur",
                     "parent": {"type": "subscription_item_details", "subscription_item_details": {"proration": true}}},
                    {"id": "il_3", "object": "line_item", "amount": 500, "currency": "eur",
                     "parent": {"type": "subscription_item_details", "subscription_item_details": {"proration": false}}}
                ]}
            }))
            .into_response()
        }
        ("GET", "/v1/invoices") => axum::Json(json!({
            "object": "list", "has_more": false, "url": "/v1/invoices",
            "data": [
                {"id": "in_2", "object": "invoice", "number": "SOW-0002", "status": "open", "total": 1900,
                 "amount_paid": 0, "currency": "eur", "created": 1_782_592_000, "hosted_invoice_url": "https://invoice.stripe.com/i/in_2"},
                {"id": "in_1", "object": "invoice", "number": "SOW-0001", "status": "paid", "total": 1900,
                 "amount_paid": 1900, "currency": "eur", "created": 1_780_000_000, "hosted_invoice_url": "https://invoice.stripe.com/i/in_1"}
            ]
        }))
        .into_response(),
        ("POST", "/v1/invoiceitems") => {
            for k in ["customer", "amount", "currency"] {
                if !need(k) {
                    return error(400, "invalid_request_error", &format!("Missing required param: {k}."));
                }
            }
            let key = rec.idempotency.clone().unwrap_or_else(|| format!("none-{n}"));
            let item = st.items.entry(key).or_insert_with(|| {
                json!({"id": format!("ii_{n}"), "object": "invoiceitem", "customer": rec.get("customer"),
                       "amount": rec.get("amount").and_then(|a| a.parse::<i64>().ok()), "currency": rec.get("currency"),
                       "description": rec.get("description")})
            });
            axum::Json(item.clone()).into_response()
        }
        (m, p) if p.starts_with("/v1/subscriptions/") => {
            let id = p.trim_start_matches("/v1/subscriptions/").to_owned();
            let Some(sub) = st.subscriptions.get_mut(&id) else {
                return error(404, "invalid_request_error", &format!("No such subscription: '{id}'"));
            };
            match m {
                "GET" => {}
                "DELETE" => {
                    sub["status"] = json!("canceled");
                    sub["cancel_at_period_end"] = json!(false);
                }
                _ => {
                    if let Some(c) = rec.get("cancel_at_period_end") {
                        sub["cancel_at_period_end"] = json!(c == "true");
                    }
                    if let Some(price) = rec.get("items[0][price]") {
                        sub["items"]["data"][0]["price"]["id"] = json!(price);
                    }
                }
            }
            axum::Json(sub.clone()).into_response()
        }
        _ => error(404, "invalid_request_error", "Unrecognized request URL"),
    }
}

impl StripePeer {
    pub async fn start() -> StripePeer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let peer = StripePeer {
            base,
            state: Arc::default(),
        };
        let app = Router::new().fallback(handle).with_state(peer.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        peer
    }

    pub fn config(&self) -> sowat_admin::config::StripeConfig {
        sowat_admin::config::StripeConfig {
            secret_key: Some(KEY.into()),
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            api_base: Some(self.base.clone()),
            return_url: "https://sowat.io/account".into(),
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn add_subscription(&self, sub: Value) {
        let id = sub["id"].as_str().unwrap().to_owned();
        self.state.lock().unwrap().subscriptions.insert(id, sub);
    }

    pub fn fail_next(&self, status: u16, kind: &'static str, message: &'static str) {
        self.state.lock().unwrap().fail_next = Some((status, kind, message));
    }
}
