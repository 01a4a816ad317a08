//! Stripe: webhooks signed exactly as Stripe signs them, the events
//! applied in Stripe's order, the billing actions and API against a local
//! Stripe peer, overage put on invoices once, the screens without Stripe.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sowat_admin::access::Scope;
use sowat_admin::billing::signature::sign;
use sowat_admin::db::schema::{
    overage_reports, plans, stripe_events, subscriptions, usage_counters,
};
use sowat_admin::db_run;

use crate::api::make_key;
use crate::harness::{Kind, Options, TestApp, select_text};
use crate::stripe_peer::{StripePeer, WEBHOOK_SECRET, subscription_json};
use crate::usage::plan;

async fn spawn() -> (TestApp, StripePeer) {
    let peer = StripePeer::start().await;
    let app = TestApp::spawn_with(Options {
        stripe: peer.config(),
        ..Options::default()
    })
    .await;
    (app, peer)
}

/// A plan sold at `price` (its Stripe price id).
async fn priced_plan(app: &TestApp, code: &str, price: &str) -> i64 {
    let id = plan(
        app,
        code,
        json!({"articles": 100, "images": 100, "social_posts": 100}),
        json!({}),
    )
    .await;
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(plans::table.find(id))
        .set(plans::stripe_price_id.eq(price))
        .execute(c)
        .await)
    .unwrap();
    id
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "type": kind, "created": created, "livemode": false,
        "api_version": "2026-09-30.endive", "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object}
    })
}

/// Posts `body` signed with `secret` at `t` (now when `None`).
async fn deliver_raw(app: &TestApp, body: &[u8], header: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn deliver(app: &TestApp, e: &Value) -> StatusCode {
    let body = e.to_string();
    let header = sign(
        body.as_bytes(),
        WEBHOOK_SECRET,
        app.clock.now().unix_timestamp(),
    );
    deliver_raw(app, body.as_bytes(), &header).await.status()
}

/// (status, plan id, cancel at period end, subscription id, customer id).
type Row = (String, i64, bool, Option<String>, Option<String>);

async fn row(app: &TestApp, user_id: i64) -> Option<Row> {
    let mut db = app.db().await;
    db_run!(&mut db, |c| subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .select((
            subscriptions::status,
            subscriptions::plan_id,
            subscriptions::cancel_at_period_end,
            subscriptions::stripe_subscription_id,
            subscriptions::stripe_customer_id,
        ))
        .first(c)
        .await
        .optional())
    .unwrap()
}

async fn stored(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    let mut db = app.db().await;
    db_run!(&mut db, |c| stripe_events::table
        .order(stripe_events::id)
        .select((
            stripe_events::event_id,
            stripe_events::status,
            stripe_events::result
        ))
        .load(c)
        .await)
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_signatures_are_checked_before_anything_is_stored() {
    let (app, _peer) = spawn().await;
    let user = app.create_user("sig@sowat.test", &[], false).await;
    priced_plan(&app, "pro", "price_pro").await;
    let sub = subscription_json("sub_sig", "cus_sig", "price_pro", "active", user.id);
    let e = event(
        "evt_sig_1",
        "customer.subscription.created",
        1_780_000_100,
        sub,
    );
    let body = e.to_string();
    let now = app.clock.now().unix_timestamp();

    // Wrong secret, stale, future, unsigned, malformed: 400, nothing stored.
    let wrong = sign(body.as_bytes(), "whsec_not_the_secret", now);
    assert_eq!(
        deliver_raw(&app, body.as_bytes(), &wrong).await.status(),
        StatusCode::BAD_REQUEST
    );
    let stale = sign(body.as_bytes(), WEBHOOK_SECRET, now - 301);
    let res = deliver_raw(&app, body.as_bytes(), &stale).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "bad_signature");
    let future = sign(body.as_bytes(), WEBHOOK_SECRET, now + 400);
    assert_eq!(
        deliver_raw(&app, body.as_bytes(), &future).await.status(),
        StatusCode::BAD_REQUEST
    );
    let tampered = sign(body.as_bytes(), WEBHOOK_SECRET, now);
    let other = body.replace("active", "past_due");
    assert_eq!(
        deliver_raw(&app, other.as_bytes(), &tampered)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let res = reqwest::Client::new()
        .post(app.url("/webhooks/stripe"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        stored(&app).await.is_empty(),
        "nothing stored for a bad signature"
    );

    // Several v1 signatures (a secret being rolled): one matching is enough.
    let good = sign(body.as_bytes(), WEBHOOK_SECRET, now);
    let v1 = good.split_once(",v1=").unwrap().1;
    let several = format!("t={now},v1={},v1={v1}", "0".repeat(64));
    assert_eq!(
        deliver_raw(&app, body.as_bytes(), &several).await.status(),
        StatusCode::OK
    );
    // The same event again: acknowledged, stored once, applied once.
    let res = deliver_raw(&app, body.as_bytes(), &good).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["duplicate"], true);
    app.wait_for_idle_tasks().await;
    let events = stored(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, "processed");
    let (status, _, _, sub_id, customer) = row(&app, user.id).await.expect("subscription");
    assert_eq!(status, "active");
    assert_eq!(sub_id.as_deref(), Some("sub_sig"));
    assert_eq!(customer.as_deref(), Some("cus_sig"));
    assert_eq!(app.audit("billing.subscription_synced").await.len(), 1);

    // An unknown type is acknowledged and marked ignored.
    let unknown = event(
        "evt_sig_2",
        "payment_intent.created",
        1_780_000_200,
        json!({"id": "pi_1", "object": "payment_intent"}),
    );
    assert_eq!(deliver(&app, &unknown).await, StatusCode::OK);
    app.wait_for_idle_tasks().await;
    assert_eq!(stored(&app).await[1].1, "ignored");

    // Not an event, validly signed: 400. Larger than the limit: 413.
    let junk = b"{\"hello\":1}";
    let header = sign(junk, WEBHOOK_SECRET, now);
    assert_eq!(
        deliver_raw(&app, junk, &header).await.status(),
        StatusCode::BAD_REQUEST
    );
    let big = vec![b' '; 300 * 1024];
    let header = sign(&big, WEBHOOK_SECRET, now);
    assert_eq!(
        deliver_raw(&app, &big, &header).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(stored(&app).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_apply_in_stripe_order_not_arrival_order() {
    let (app, _peer) = spawn().await;
    let user = app.create_user("order@sowat.test", &[], false).await;
    let pro = priced_plan(&app, "pro", "price_pro").await;
    let max = priced_plan(&app, "max", "price_max").await;
    let t = 1_780_000_000;

    // Checkout first: the user gets their customer, subscription and plan.
    let session = json!({"id": "cs_1", "object": "checkout.session", "mode": "subscription",
        "client_reference_id": user.id.to_string(), "customer": "cus_o", "subscription": "sub_o",
        "payment_status": "paid", "metadata": {"plan_code": "pro", "user_id": user.id.to_string()}});
    assert_eq!(
        deliver(
            &app,
            &event("evt_o1", "checkout.session.completed", t, session)
        )
        .await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    let (status, plan_id, ..) = row(&app, user.id).await.unwrap();
    assert_eq!((status.as_str(), plan_id), ("active", pro));

    // A newer update (moved to max), then an older one arriving late.
    let mut newer = subscription_json("sub_o", "cus_o", "price_max", "active", user.id);
    newer["cancel_at_period_end"] = json!(true);
    let older = subscription_json("sub_o", "cus_o", "price_pro", "past_due", user.id);
    assert_eq!(
        deliver(
            &app,
            &event("evt_o2", "customer.subscription.updated", t + 20, newer)
        )
        .await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    assert_eq!(
        deliver(
            &app,
            &event("evt_o3", "customer.subscription.updated", t + 10, older)
        )
        .await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    let (status, plan_id, cancel, ..) = row(&app, user.id).await.unwrap();
    assert_eq!(
        (status.as_str(), plan_id, cancel),
        ("active", max, true),
        "the late, older state is not applied"
    );
    let events = stored(&app).await;
    assert_eq!(events[2].2.as_deref(), Some("billing.result.stale"));

    // A failed payment: overdue, and the billing staff are told.
    let invoice = json!({"id": "in_f", "object": "invoice", "customer": "cus_o", "amount_due": 2900,
        "currency": "eur", "attempt_count": 1, "status": "open",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_o"}}});
    assert_eq!(
        deliver(
            &app,
            &event("evt_o4", "invoice.payment_failed", t + 30, invoice.clone())
        )
        .await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    assert_eq!(row(&app, user.id).await.unwrap().0, "past_due");
    let (support, _) = app.client_as(Kind::Support).await;
    let page = app
        .get(&support, "/admin/notifications")
        .await
        .text()
        .await
        .unwrap();
    let lines = select_text(&page, "#notification-list li");
    assert!(
        lines.iter().any(|l| l.contains("order@sowat.test")
            && l.contains("in_f")
            && l.contains("29.00 EUR")),
        "{lines:?}"
    );

    // Paid later: in good standing again.
    assert_eq!(
        deliver(&app, &event("evt_o5", "invoice.paid", t + 40, invoice)).await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    assert_eq!(row(&app, user.id).await.unwrap().0, "active");

    // The customer deleted in Stripe: the subscription ended with it.
    let customer = json!({"id": "cus_o", "object": "customer", "deleted": true});
    assert_eq!(
        deliver(&app, &event("evt_o6", "customer.deleted", t + 50, customer)).await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    let (status, _, _, sub_id, customer) = row(&app, user.id).await.unwrap();
    assert_eq!(
        (status.as_str(), sub_id, customer),
        ("canceled", None, None)
    );

    // An event for a price no plan sells fails with the reason, and is
    // applied once the plan gets that price and staff re-process it.
    let other = app
        .create_user("unknown-price@sowat.test", &[], false)
        .await;
    let sub = subscription_json("sub_u", "cus_u", "price_new", "active", other.id);
    assert_eq!(
        deliver(
            &app,
            &event("evt_o7", "customer.subscription.created", t + 60, sub)
        )
        .await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    let last = stored(&app).await.pop().unwrap();
    assert_eq!(
        (last.1.as_str(), last.2.as_deref()),
        ("failed", Some("billing.result.unknown_price"))
    );
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(plans::table.find(max))
        .set(plans::stripe_price_id.eq("price_new"))
        .execute(c)
        .await)
    .unwrap();
    let id: i64 = db_run!(&mut db, |c| stripe_events::table
        .filter(stripe_events::event_id.eq("evt_o7"))
        .select(stripe_events::id)
        .first(c)
        .await)
    .unwrap();
    drop(db);
    let (admin, _) = app.client_as(Kind::Admin).await;
    let page = app
        .get(&admin, &format!("/admin/billing/events/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(select_text(&page, "#event-status"), vec!["failed"]);
    assert!(page.contains("price_new"), "the payload is shown");
    let res = app
        .post_form(
            &support,
            &format!("/admin/billing/events/{id}/reprocess"),
            &[],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "support reads billing only"
    );
    let res = app
        .post_form(
            &admin,
            &format!("/admin/billing/events/{id}/reprocess"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.wait_for_idle_tasks().await;
    assert_eq!(row(&app, other.id).await.unwrap().1, max);
    assert_eq!(app.audit("billing.event_reprocessed").await.len(), 1);

    // The events page filters by type, status and customer.
    let page = app
        .get(&admin, "/admin/billing/events?status=failed")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        select_text(&page, "#events tbody tr").is_empty(),
        "none failed any more"
    );
    let page = app
        .get(&admin, "/admin/billing/events?type=invoice.paid")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(select_text(&page, "#events tbody tr").len(), 1);
    let page = app
        .get(&admin, "/admin/billing/events?customer=cus_u")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(select_text(&page, "#events tbody tr").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_manage_a_subscription_through_stripe() {
    let (app, peer) = spawn().await;
    let user = app.create_user("customer@sowat.test", &[], false).await;
    let pro = priced_plan(&app, "pro", "price_pro").await;
    let max = priced_plan(&app, "max", "price_max").await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let (support, _) = app.client_as(Kind::Support).await;
    let base = format!("/admin/users/{}/billing", user.id);

    // No subscription yet: a Checkout link for a plan.
    let page = app.get(&admin, &base).await.text().await.unwrap();
    assert!(!select_text(&page, "#billing-none").is_empty());
    let res = app
        .post_form(
            &admin,
            &format!("{base}/checkout"),
            &[("plan", &pro.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("https://checkout.stripe.com/c/pay/cs_test_"),
        "the link is shown"
    );
    let sent = peer.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/checkout/sessions");
    assert_eq!(sent.get("line_items[0][price]"), Some("price_pro"));
    assert_eq!(
        sent.get("client_reference_id"),
        Some(user.id.to_string().as_str())
    );
    assert_eq!(
        sent.get("subscription_data[metadata][user_id]"),
        Some(user.id.to_string().as_str())
    );
    assert_eq!(sent.get("customer_email"), Some("customer@sowat.test"));
    assert_eq!(app.audit("billing.checkout_created").await.len(), 1);

    // Support reads the section but changes nothing.
    let page = app.get(&support, &base).await.text().await.unwrap();
    assert!(select_text(&page, "#billing-checkout-form button").is_empty());
    let res = app
        .post_form(
            &support,
            &format!("{base}/checkout"),
            &[("plan", &pro.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The subscription arrives from Stripe.
    peer.add_subscription(subscription_json(
        "sub_m",
        "cus_m",
        "price_pro",
        "active",
        user.id,
    ));
    let sub = subscription_json("sub_m", "cus_m", "price_pro", "active", user.id);
    assert_eq!(
        deliver(
            &app,
            &event(
                "evt_m1",
                "customer.subscription.created",
                1_780_000_000,
                sub
            )
        )
        .await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    let page = app.get(&admin, &base).await.text().await.unwrap();
    assert_eq!(
        crate::harness::select_attr(&page, "#billing-status", "data-status").as_deref(),
        Some("active")
    );
    assert_eq!(
        select_attr_text(&page, "#billing-status"),
        "subscription active"
    );
    assert!(page.contains("https://dashboard.stripe.com/test/subscriptions/sub_m"));

    // Invoices, read from Stripe.
    let page = app
        .get(&admin, &format!("{base}/invoices"))
        .await
        .text()
        .await
        .unwrap();
    let rows = select_text(&page, "#invoices tbody tr");
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("SOW-0002") && rows[0].contains("19.00 EUR"),
        "{rows:?}"
    );

    // Change of plan: the preview, then the change prorated from the previewed moment.
    let res = app
        .post_form(
            &admin,
            &format!("{base}/preview"),
            &[("plan", &max.to_string())],
        )
        .await;
    let page = res.text().await.unwrap();
    assert_eq!(select_text(&page, "#preview-proration"), vec!["19.50 EUR"]);
    assert_eq!(select_text(&page, "#preview-total"), vec!["24.50 EUR"]);
    let date = crate::harness::select_attr(
        &page,
        "#billing-change-confirm input[name=proration_date]",
        "value",
    )
    .unwrap();
    let sent = peer.requests().pop().unwrap();
    assert_eq!(
        sent.get("subscription_details[items][0][id]"),
        Some("si_sub_m")
    );
    assert_eq!(
        sent.get("subscription_details[proration_date]"),
        Some(date.as_str())
    );
    let res = app
        .post_form(
            &admin,
            &format!("{base}/change"),
            &[("plan", &max.to_string()), ("proration_date", &date)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let sent = peer.requests().pop().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/subscriptions/sub_m")
    );
    assert_eq!(sent.get("items[0][price]"), Some("price_max"));
    assert_eq!(sent.get("proration_behavior"), Some("create_prorations"));
    assert!(sent.idempotency.is_some(), "a double submit is one change");
    assert_eq!(row(&app, user.id).await.unwrap().1, max);
    assert_eq!(app.audit("billing.plan_changed").await.len(), 1);

    // Cancel at period end, resume, then cancel now.
    app.post_form(&admin, &format!("{base}/cancel"), &[("when", "period_end")])
        .await;
    assert!(row(&app, user.id).await.unwrap().2);
    app.post_form(&admin, &format!("{base}/resume"), &[]).await;
    assert!(!row(&app, user.id).await.unwrap().2);

    // Stripe refusing: said in words, nothing recorded, no 500.
    peer.fail_next(402, "card_error", "Your card was declined.");
    let res = app
        .post_form(&admin, &format!("{base}/cancel"), &[("when", "now")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        select_text(&page, "#billing-notice")
            .iter()
            .any(|t| t.contains("Your card was declined."))
    );
    assert_eq!(row(&app, user.id).await.unwrap().0, "active");

    let res = app
        .post_form(&admin, &format!("{base}/cancel"), &[("when", "now")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let sent = peer.requests().pop().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("DELETE", "/v1/subscriptions/sub_m")
    );
    assert_eq!(row(&app, user.id).await.unwrap().0, "canceled");
    assert_eq!(app.audit("billing.cancel_scheduled").await.len(), 1);
    assert_eq!(app.audit("billing.resumed").await.len(), 1);
    assert_eq!(app.audit("billing.canceled_now").await.len(), 1);

    // The portal for the customer.
    let res = app.post_form(&admin, &format!("{base}/portal"), &[]).await;
    let page = res.text().await.unwrap();
    assert!(page.contains("https://billing.stripe.com/p/session/bps_"));
    assert_eq!(
        peer.requests().pop().unwrap().get("customer"),
        Some("cus_m")
    );
}

/// The text of the first element matching `selector`.
fn select_attr_text(html: &str, selector: &str) -> String {
    select_text(html, selector)
        .into_iter()
        .next()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_opens_checkout_and_portal_sessions() {
    let (app, peer) = spawn().await;
    let user = app.create_user("api-buyer@sowat.test", &[], false).await;
    priced_plan(&app, "pro", "price_pro").await;
    let (_, secret) = make_key(&app, &[Scope::BillingWrite], 1000, 100_000).await;
    let (_, reader) = make_key(&app, &[Scope::UsageRead], 1000, 100_000).await;
    let post = |key: String, path: &'static str, body: Value| {
        let url = app.url(path);
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let body = json!({"user_id": user.id, "plan_code": "pro",
        "success_url": "https://sowat.io/billing/done", "cancel_url": "https://sowat.io/billing"});
    let res = post(reader.clone(), "/api/v1/billing/checkout", body.clone()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post(secret.clone(), "/api/v1/billing/checkout", body.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    assert_eq!(
        peer.requests().pop().unwrap().get("success_url"),
        Some("https://sowat.io/billing/done")
    );
    let audit = app.audit("billing.checkout_created").await;
    assert_eq!(audit.len(), 1);

    let mut bad = body.clone();
    bad["success_url"] = json!("javascript:alert(1)");
    assert_eq!(
        post(secret.clone(), "/api/v1/billing/checkout", bad)
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut bad = body.clone();
    bad["plan_code"] = json!("nope");
    assert_eq!(
        post(secret.clone(), "/api/v1/billing/checkout", bad)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let mut bad = body.clone();
    bad["user_id"] = json!(999_999);
    assert_eq!(
        post(secret.clone(), "/api/v1/billing/checkout", bad)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // No customer yet: the portal says so; with one, a session.
    let portal = json!({"user_id": user.id, "return_url": "https://sowat.io/account"});
    assert_eq!(
        post(secret.clone(), "/api/v1/billing/portal", portal.clone())
            .await
            .status(),
        StatusCode::CONFLICT
    );
    let sub = subscription_json("sub_api", "cus_api", "price_pro", "active", user.id);
    assert_eq!(
        deliver(
            &app,
            &event(
                "evt_api",
                "customer.subscription.created",
                1_780_000_000,
                sub
            )
        )
        .await,
        StatusCode::OK
    );
    app.wait_for_idle_tasks().await;
    let res = post(secret.clone(), "/api/v1/billing/portal", portal).await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["url"]
            .as_str()
            .unwrap()
            .starts_with("https://billing.stripe.com/")
    );
    // A subscribed user gets 409 from checkout; a Stripe refusal is 502 in words.
    assert_eq!(
        post(secret.clone(), "/api/v1/billing/checkout", body)
            .await
            .status(),
        StatusCode::CONFLICT
    );
    peer.fail_next(400, "invalid_request_error", "No such customer: 'cus_api'");
    let res = post(
        secret,
        "/api/v1/billing/portal",
        json!({"user_id": user.id, "return_url": "https://sowat.io/a"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No such customer")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_month_puts_overage_on_invoices_once() {
    let (app, peer) = spawn().await;
    let user = app.create_user("over@sowat.test", &[], false).await;
    let free = app.create_user("no-customer@sowat.test", &[], false).await;
    let billed = plan(
        &app,
        "metered",
        json!({"articles": 2, "images": 100, "social_posts": 100}),
        json!({"articles": 150}),
    )
    .await;
    let now = app.clock.now_primitive();
    let last_month = sowat_admin::metering::period::Period::of_primitive(now).previous();
    let mut db = app.db().await;
    for (uid, customer) in [(user.id, Some("cus_over")), (free.id, None)] {
        db_run!(&mut db, |c| diesel::insert_into(subscriptions::table)
            .values((
                subscriptions::user_id.eq(uid),
                subscriptions::plan_id.eq(billed),
                subscriptions::status.eq("active"),
                subscriptions::stripe_customer_id.eq(customer),
                subscriptions::created_at.eq(now),
                subscriptions::updated_at.eq(now),
            ))
            .execute(c)
            .await)
        .unwrap();
        db_run!(&mut db, |c| diesel::insert_into(usage_counters::table)
            .values((
                usage_counters::user_id.eq(uid),
                usage_counters::period.eq(last_month.key()),
                usage_counters::articles.eq(5),
                usage_counters::images.eq(0),
                usage_counters::social_posts.eq(0),
                usage_counters::level.eq(100),
            ))
            .execute(c)
            .await)
        .unwrap();
    }
    drop(db);
    let (admin, _) = app.client_as(Kind::Admin).await;
    // A second instance's workers race for the same tasks.
    let second = app.second_instance().await;
    for _ in 0..2 {
        app.post_form(
            &admin,
            "/admin/usage/overage/close",
            &[("period", &last_month.key())],
        )
        .await;
        app.wait_for_idle_tasks().await;
    }
    let items: Vec<_> = peer
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/invoiceitems")
        .collect();
    assert_eq!(items.len(), 1, "one item, for the user with a customer");
    assert_eq!(items[0].get("customer"), Some("cus_over"));
    assert_eq!(
        items[0].get("amount"),
        Some("450"),
        "3 articles beyond at 1.50"
    );
    assert_eq!(items[0].get("currency"), Some("eur"));
    assert_eq!(
        items[0].idempotency.as_deref(),
        Some(format!("sowat-overage-{}-{}-article", last_month.key(), user.id).as_str())
    );
    let mut db = app.db().await;
    let ids: Vec<Option<String>> = db_run!(&mut db, |c| overage_reports::table
        .filter(overage_reports::user_id.eq(user.id))
        .select(overage_reports::stripe_invoice_item_id)
        .load(c)
        .await)
    .unwrap();
    assert_eq!(ids.len(), 1);
    assert!(ids[0].as_deref().is_some_and(|i| i.starts_with("ii_")));
    assert_eq!(app.audit("billing.overage_invoiced").await.len(), 1);

    // A rerun of the invoicing task creates nothing more.
    let task = sowat_admin::billing::overage::invoice_task(last_month, now);
    let mut db = app.db().await;
    let mut task = task;
    task.dedupe_key = None;
    db.transaction(|tx| {
        Box::pin(async move { sowat_admin::tasks::store::enqueue(tx, task, now).await })
    })
    .await
    .unwrap();
    drop(db);
    app.wait_for_idle_tasks().await;
    let after = peer
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/invoiceitems")
        .count();
    assert_eq!(after, 1);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn billing_screens_say_when_stripe_is_not_configured() {
    let app = TestApp::spawn().await;
    let user = app.create_user("plain@sowat.test", &[], false).await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let page = app
        .get(&admin, &format!("/admin/users/{}/billing", user.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!select_text(&page, "#billing-not-configured").is_empty());
    let res = app
        .post_form(
            &admin,
            &format!("/admin/users/{}/billing/portal", user.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = app
        .get(&admin, "/admin/billing/events")
        .await
        .text()
        .await
        .unwrap();
    assert!(!select_text(&page, "#webhook-not-configured").is_empty());
    // Without a signing secret every event is refused.
    let res = reqwest::Client::new()
        .post(app.url("/webhooks/stripe"))
        .header("stripe-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (key, secret) = make_key(&app, &[Scope::BillingWrite], 1000, 100_000).await;
    let _ = key;
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/billing/portal"))
        .bearer_auth(secret)
        .json(&json!({"user_id": user.id, "return_url": "https://sowat.io/a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread")]
async fn old_applied_events_are_purged_and_failed_ones_kept() {
    let (app, _peer) = spawn().await;
    let user = app.create_user("purge@sowat.test", &[], false).await;
    priced_plan(&app, "pro", "price_pro").await;
    let ok = subscription_json("sub_p", "cus_p", "price_pro", "active", user.id);
    let other = app.create_user("purge-other@sowat.test", &[], false).await;
    let unknown = subscription_json("sub_q", "cus_q", "price_unsold", "active", other.id);
    for (id, sub) in [("evt_p1", ok), ("evt_p2", unknown)] {
        let e = event(id, "customer.subscription.created", 1_780_000_000, sub);
        assert_eq!(deliver(&app, &e).await, StatusCode::OK);
        app.wait_for_idle_tasks().await;
    }
    let statuses: Vec<String> = stored(&app).await.into_iter().map(|e| e.1).collect();
    assert_eq!(statuses, ["processed", "failed"]);
    // Recent events stay; past the retention, only the failed one does.
    let mut db = app.db().await;
    let now = app.clock.now_primitive();
    let recent = sowat_admin::billing::events::purge_old(&mut db, now - time::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(recent, 0);
    let purged = sowat_admin::billing::events::purge_old(&mut db, now + time::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    drop(db);
    let left: Vec<String> = stored(&app).await.into_iter().map(|e| e.0).collect();
    assert_eq!(left, ["evt_p2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deliveries_on_two_instances_end_on_the_newest_state() {
    let (app, _peer) = spawn().await;
    let second = app.second_instance().await;
    let user = app.create_user("race@sowat.test", &[], false).await;
    let pro = priced_plan(&app, "pro", "price_pro").await;
    let max = priced_plan(&app, "max", "price_max").await;
    let t = 1_780_000_000;
    // Twelve updates, alternating plans, delivered all at once in reverse
    // order; the newest (t + 11) moves the user to max.
    let mut sends = Vec::new();
    for i in (0..12).rev() {
        let price = if i % 2 == 1 { "price_max" } else { "price_pro" };
        let status = if i == 11 { "active" } else { "past_due" };
        let sub = subscription_json("sub_r", "cus_r", price, status, user.id);
        let e = event(
            &format!("evt_r{i}"),
            "customer.subscription.updated",
            t + i,
            sub,
        );
        let body = e.to_string();
        let header = sign(
            body.as_bytes(),
            WEBHOOK_SECRET,
            app.clock.now().unix_timestamp(),
        );
        let url = app.url("/webhooks/stripe");
        sends.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header("stripe-signature", header)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for s in sends {
        assert_eq!(s.await.unwrap(), StatusCode::OK);
    }
    app.wait_for_idle_tasks().await;
    let (status, plan_id, ..) = row(&app, user.id).await.unwrap();
    assert_eq!((status.as_str(), plan_id), ("active", max));
    assert_ne!(plan_id, pro);
    let events = stored(&app).await;
    assert_eq!(events.len(), 12);
    assert!(events.iter().all(|e| e.1 == "processed"), "{events:?}");
    second.stop().await;
}
