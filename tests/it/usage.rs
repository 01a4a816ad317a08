//! Usage counted through the API: the limit holds under concurrency (and
//! across instances), a key counts once, overrides and their expiry, the
//! month rolling over, staff told at 80 % and 100 %.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sowat_admin::access::Scope;
use sowat_admin::db::schema::{notifications, plans, subscriptions, usage_counters};
use sowat_admin::db_run;

use crate::api::make_key;
use crate::harness::TestApp;

/// A plan `code` with these limits and overage prices, returning its id.
pub(crate) async fn plan(app: &TestApp, code: &str, limits: Value, overage: Value) -> i64 {
    let now = app.clock.now_primitive();
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::insert_into(plans::table)
        .values((
            plans::code.eq(code),
            plans::name.eq(format!("Plan {code}")),
            plans::price_cents.eq(1900),
            plans::currency.eq("eur"),
            plans::billing_interval.eq("month"),
            plans::limits.eq(limits.to_string()),
            plans::overage.eq(overage.to_string()),
            plans::created_at.eq(now),
            plans::updated_at.eq(now),
        ))
        .returning(plans::id)
        .get_result(c)
        .await)
    .unwrap()
}

/// Subscribes `user_id` to `plan_id` as a complimentary plan.
pub(crate) async fn subscribe(app: &TestApp, user_id: i64, plan_id: i64) {
    let now = app.clock.now_primitive();
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::user_id.eq(user_id),
            subscriptions::plan_id.eq(plan_id),
            subscriptions::status.eq("complimentary"),
            subscriptions::created_at.eq(now),
            subscriptions::updated_at.eq(now),
        ))
        .execute(c)
        .await)
    .unwrap();
}

pub(crate) async fn counter(app: &TestApp, user_id: i64) -> Vec<(String, i64, i64, i64)> {
    let mut db = app.db().await;
    db_run!(&mut db, |c| usage_counters::table
        .filter(usage_counters::user_id.eq(user_id))
        .order(usage_counters::period)
        .select((
            usage_counters::period,
            usage_counters::articles,
            usage_counters::images,
            usage_counters::social_posts
        ))
        .load(c)
        .await)
    .unwrap()
}

async fn consume(
    base: &str,
    secret: &str,
    user_id: i64,
    kind: &str,
    amount: i64,
    key: &str,
) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/usage/consume"))
        .bearer_auth(secret)
        .json(&json!({"user_id": user_id, "kind": kind, "amount": amount, "idempotency_key": key}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

fn key_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_calls_against_ten_count_exactly_ten_on_two_instances() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let user = app.create_user("writer@sowat.test", &[], false).await;
    let p = plan(
        &app,
        "ten",
        json!({"articles": 10, "images": "unlimited", "social_posts": 0}),
        json!({}),
    )
    .await;
    subscribe(&app, user.id, p).await;
    let bases = [app.url(""), format!("http://{}", second.addr)];
    let calls = (0..50).map(|i| {
        let base = bases[i % 2].clone();
        let secret = secret.clone();
        tokio::spawn(async move { consume(&base, &secret, user.id, "article", 1, &key_id()).await })
    });
    let mut ok = 0;
    let mut refused = 0;
    for call in calls {
        let (status, body) = call.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                assert_eq!(body["error"]["code"], "quota_exceeded");
                assert_eq!(body["used"], 10);
                assert_eq!(body["remaining"], 0);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok, refused), (10, 40));
    assert_eq!(counter(&app, user.id).await[0].1, 10);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_counts_once_and_replays_its_first_answer() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(
        &app,
        &[Scope::UsageWrite, Scope::UsageRead],
        100_000,
        1_000_000,
    )
    .await;
    let user = app.create_user("once@sowat.test", &[], false).await;
    // The default plan: 20 images a month.
    let base = app.url("");
    let (status, first) = consume(&base, &secret, user.id, "image", 3, "gen-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["used"], 3);
    assert_eq!(first["limit"], 20);
    assert_eq!(first["remaining"], 17);
    let period = sowat_admin::metering::period::Period::of(app.clock.now());
    assert_eq!(first["period"], period.key());
    assert_eq!(
        first["resets_at"],
        format!("{}-01T00:00:00Z", period.next().key())
    );
    // Concurrent repeats of the same key: one count, the same answer.
    let repeats = (0..8).map(|_| {
        let (base, secret) = (base.clone(), secret.clone());
        tokio::spawn(async move { consume(&base, &secret, user.id, "image", 3, "gen-1").await })
    });
    for r in repeats {
        assert_eq!(r.await.unwrap(), (StatusCode::OK, first.clone()));
    }
    assert_eq!(counter(&app, user.id).await[0].2, 3);
    // The same key for another amount is refused, nothing counted.
    let (status, body) = consume(&base, &secret, user.id, "image", 4, "gen-1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "idempotency_conflict");
    // A refused call replays its refusal too.
    let (status, _) = consume(&base, &secret, user.id, "image", 50, "gen-2").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    consume(&base, &secret, user.id, "image", 1, "gen-3").await;
    let (status, again) = consume(&base, &secret, user.id, "image", 50, "gen-2").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again["used"], 3, "the first answer, not today's figures");
    assert_eq!(counter(&app, user.id).await[0].2, 4);

    // Check counts nothing.
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/usage/check"))
        .bearer_auth(&secret)
        .json(&json!({"user_id": user.id, "kind": "image", "amount": 16}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["allowed"].clone(), body["used"].clone()),
        (json!(true), json!(4))
    );
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/usage/check"))
        .bearer_auth(&secret)
        .json(&json!({"user_id": user.id, "kind": "image", "amount": 17}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["allowed"], false);
    assert_eq!(counter(&app, user.id).await[0].2, 4);

    // Bad input: 422 naming the field, 404 for an unknown user.
    for (body, field) in [
        (
            json!({"user_id": user.id, "kind": "video", "amount": 1, "idempotency_key": "x"}),
            "kind",
        ),
        (
            json!({"user_id": user.id, "kind": "image", "amount": 0, "idempotency_key": "x"}),
            "amount",
        ),
        (
            json!({"user_id": user.id, "kind": "image", "amount": 1}),
            "idempotency_key",
        ),
    ] {
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/usage/consume"))
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"]["details"][0]["field"],
            field
        );
    }
    let (status, body) = consume(&base, &secret, 999_999, "image", 1, "nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "user_unknown");
}

#[tokio::test(flavor = "multi_thread")]
async fn overage_plans_count_past_the_limit_and_say_how_much() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let user = app.create_user("big@sowat.test", &[], false).await;
    let p = plan(
        &app,
        "pro",
        json!({"articles": 5, "images": 5, "social_posts": 5}),
        json!({"articles": 40}),
    )
    .await;
    subscribe(&app, user.id, p).await;
    let base = app.url("");
    let (s, b) = consume(&base, &secret, user.id, "article", 4, &key_id()).await;
    assert_eq!((s, b.get("overage").cloned()), (StatusCode::OK, None));
    let (s, b) = consume(&base, &secret, user.id, "article", 3, &key_id()).await;
    assert_eq!(
        (s, b["overage"].clone(), b["used"].clone()),
        (StatusCode::OK, json!(2), json!(7))
    );
    // Images bill no overage: blocked at the limit.
    let (s, _) = consume(&base, &secret, user.id, "image", 6, &key_id()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_month_starts_from_zero_and_keeps_the_last_one() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(
        &app,
        &[Scope::UsageWrite, Scope::UsageRead],
        100_000,
        1_000_000,
    )
    .await;
    let user = app.create_user("months@sowat.test", &[], false).await;
    let base = app.url("");
    let (s, _) = consume(&base, &secret, user.id, "article", 5, &key_id()).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = consume(&base, &secret, user.id, "article", 1, &key_id()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let before = sowat_admin::metering::period::Period::of(app.clock.now());
    // To the next month's first day.
    let days = (before.resets_at() - app.clock.now_primitive()).whole_days() + 1;
    app.clock.advance(time::Duration::days(days));
    let (s, b) = consume(&base, &secret, user.id, "article", 1, &key_id()).await;
    assert_eq!((s, b["used"].clone()), (StatusCode::OK, json!(1)));
    let rows = counter(&app, user.id).await;
    assert_eq!(rows.len(), 2, "the past month is kept: {rows:?}");
    assert_eq!((rows[0].0.clone(), rows[0].1), (before.key(), 5));
    let res = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/usage/{}", user.id)))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["plan"]["code"], "free");
    assert_eq!(body["subscribed"], false);
    assert_eq!(body["usage"]["article"]["used"], 1);
    assert_eq!(body["usage"]["article"]["limit"], 5);
    assert_eq!(body["history"].as_array().unwrap().len(), 12);
    assert_eq!(body["history"][0]["period"], before.key());
    assert_eq!(body["history"][0]["article"], 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_are_told_once_at_eighty_and_at_a_hundred_percent() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let user = app.create_user("alerts@sowat.test", &[], false).await;
    let base = app.url("");
    // Free plan: 10 social posts.
    for amount in [7, 1, 1, 1] {
        let (s, _) = consume(&base, &secret, user.id, "social_post", amount, &key_id()).await;
        assert_eq!(s, StatusCode::OK);
    }
    consume(&base, &secret, user.id, "social_post", 1, &key_id()).await;
    let mut db = app.db().await;
    let kinds: Vec<String> = db_run!(&mut db, |c| notifications::table
        .filter(notifications::subject_user_id.eq(user.id))
        .order(notifications::id)
        .select(notifications::kind)
        .load(c)
        .await)
    .unwrap();
    assert_eq!(kinds, ["quota_80", "quota_100"]);
    let level: i32 = db_run!(&mut db, |c| usage_counters::table
        .filter(usage_counters::user_id.eq(user.id))
        .select(usage_counters::level)
        .first(c)
        .await)
    .unwrap();
    assert_eq!(level, 100);
}
