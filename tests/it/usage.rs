//! Usage counted through the API: the limit holds under concurrency (and
//! across instances), a key counts once, overrides and their expiry, the
//! month rolling over, staff told at 80 % and 100 %.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sowat_admin::access::Scope;
use sowat_admin::db::schema::{notifications, plans, subscriptions, usage_counters, usage_events};
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

/// On PostgreSQL concurrent calls are committed in batches (see
/// `metering::group_commit`): a key repeated inside one batch, a key
/// repeated across two batches at once (the later batch rolls back and
/// runs its calls one by one), calls over the limit and calls for a user
/// who does not exist, all mixed, each get the answer they would get alone.
#[tokio::test(flavor = "multi_thread")]
async fn mixed_concurrent_calls_each_get_the_answer_they_would_get_alone() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let mut users = Vec::new();
    for n in 0..3 {
        users.push(
            app.create_user(&format!("mixed{n}@sowat.test"), &[], false)
                .await
                .id,
        );
    }
    let base = app.url("");
    // The default plan: 20 images a month. Ten keys of 3 images per user,
    // each sent three times at once: six keys fit (18), four are refused.
    let mut calls = Vec::new();
    for &user in &users {
        for j in 0..10 {
            for _ in 0..3 {
                let (base, secret, key) = (base.clone(), secret.clone(), format!("u{user}-{j}"));
                calls.push((
                    key.clone(),
                    tokio::spawn(
                        async move { consume(&base, &secret, user, "image", 3, &key).await },
                    ),
                ));
            }
        }
    }
    let strangers: Vec<_> = (0..5)
        .map(|j| {
            let (base, secret) = (base.clone(), secret.clone());
            tokio::spawn(async move {
                consume(&base, &secret, 999_999, "image", 1, &format!("nobody-{j}")).await
            })
        })
        .collect();
    let mut answers: std::collections::HashMap<String, Vec<(StatusCode, Value)>> =
        Default::default();
    for (key, call) in calls {
        answers.entry(key).or_default().push(call.await.unwrap());
    }
    for (key, got) in &answers {
        assert!(
            got.iter().all(|a| a == &got[0]),
            "{key} answered differently: {got:?}"
        );
    }
    for &user in &users {
        let statuses: Vec<StatusCode> = (0..10)
            .map(|j| answers[&format!("u{user}-{j}")][0].0)
            .collect();
        let counted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!((counted, refused), (6, 4), "{user}: {statuses:?}");
        assert_eq!(counter(&app, user).await[0].2, 18);
    }
    for s in strangers {
        let (status, body) = s.await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "user_unknown");
    }
    let mut db = app.db().await;
    let ledger: i64 = db_run!(&mut db, |c| usage_events::table
        .filter(usage_events::user_id.eq_any(&users))
        .count()
        .get_result(c)
        .await)
    .unwrap();
    assert_eq!(ledger, 30, "one ledger row per key");
}

/// A call whose key another writer is recording at that moment waits for
/// it, then replays what that writer recorded; on PostgreSQL its whole
/// batch meets the unique key, rolls back, and its calls run again one by
/// one, so the other calls of the batch are counted once all the same.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_being_recorded_elsewhere_is_replayed_and_its_batch_still_counts() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let user = app.create_user("held@sowat.test", &[], false).await.id;
    let now = app.clock.now_primitive();
    let period = sowat_admin::metering::period::Period::of(app.clock.now()).key();
    // Another writer's call with key "held", recorded but not yet committed.
    let mut other = app.db().await;
    other
        .execute_batch(&format!(
            "BEGIN; INSERT INTO usage_events (idempotency_key, user_id, kind, amount, period, \
             counted, overage, status, used, quota_limit, key_id, client_id, at) VALUES \
             ('held', {user}, 'image', 2, '{period}', TRUE, 0, 200, 2, 20, NULL, 'other', '{}')",
            now.to_string().split('.').next().unwrap_or_default()
        ))
        .await
        .unwrap();
    let base = app.url("");
    let calls: Vec<_> = std::iter::once("held".to_owned())
        .chain((0..5).map(|j| format!("fresh-{j}")))
        .map(|key| {
            let (base, secret) = (base.clone(), secret.clone());
            tokio::spawn(async move { consume(&base, &secret, user, "image", 2, &key).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    other.execute_batch("COMMIT").await.unwrap();
    let answers: Vec<(StatusCode, Value)> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let (held, fresh) = answers.split_first().unwrap();
    assert_eq!(held.0, StatusCode::OK, "{:?}", held.1);
    assert_eq!(
        (held.1["used"].clone(), held.1["limit"].clone()),
        (json!(2), json!(20))
    );
    assert!(fresh.iter().all(|(s, _)| *s == StatusCode::OK), "{fresh:?}");
    // The five fresh calls, each once; the held one was never counted here.
    assert_eq!(counter(&app, user).await[0].2, 10);
    let mut db = app.db().await;
    let ledger: i64 = db_run!(&mut db, |c| usage_events::table
        .filter(usage_events::user_id.eq(user))
        .count()
        .get_result(c)
        .await)
    .unwrap();
    assert_eq!(ledger, 6);
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
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "idempotency_conflict");
    // JSON Schema's integers include 2.0: counted like 2.
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/usage/consume"))
        .bearer_auth(&secret)
        .json(&json!({"user_id": user.id, "kind": "social_post", "amount": 2.0, "idempotency_key": "whole"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["used"], 2);
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/usage/consume"))
        .bearer_auth(&secret)
        .json(&json!({"user_id": user.id, "kind": "social_post", "amount": 2.5, "idempotency_key": "half"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
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

fn kind_cells(html: &str, kind: &str) -> (String, String, String) {
    let cell = |c: &str| {
        crate::harness::select_text(html, &format!("#usage-kinds tr[data-kind={kind}] .{c}"))
            .into_iter()
            .next()
            .unwrap_or_default()
    };
    (cell("used"), cell("limit"), cell("remaining"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_override_counts_at_once_and_stops_at_its_expiry() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(crate::harness::Kind::Admin).await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let user = app.create_user("override@sowat.test", &[], false).await;
    let base = app.url("");
    let (s, _) = consume(&base, &secret, user.id, "article", 5, &key_id()).await;
    assert_eq!(s, StatusCode::OK);
    let page = format!("/admin/users/{}/usage", user.id);
    let html = app.get(&c, &page).await.text().await.unwrap();
    assert_eq!(
        kind_cells(&html, "article"),
        ("5".into(), "5".into(), "0".into())
    );
    assert_eq!(
        crate::harness::select_attr(&html, "#usage-kinds tr[data-kind=article]", "class")
            .as_deref(),
        Some("level-over")
    );

    // Refusals shown in the form, what was typed kept.
    let form = format!("/admin/users/{}/overrides", user.id);
    let res = app
        .post_form(
            &c,
            &form,
            &[
                ("kind", "article"),
                ("mode", "extra"),
                ("amount", "5"),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        crate::harness::select_text(&html, "#override-form .form-error")[0].contains("Say why")
    );
    assert_eq!(
        crate::harness::select_attr(&html, "#override-form input[name=amount]", "value").as_deref(),
        Some("5")
    );
    let yesterday = (app.clock.now_primitive().date() - time::Duration::days(1)).to_string();
    let res = app
        .post_form(
            &c,
            &form,
            &[
                ("kind", "article"),
                ("mode", "extra"),
                ("amount", "5"),
                ("reason", "launch"),
                ("expires", &yesterday),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        crate::harness::select_attr(
            &res.text().await.unwrap(),
            "#override-form [aria-invalid=true]",
            "name"
        )
        .as_deref(),
        Some("expires")
    );

    let in_two_days = (app.clock.now_primitive().date() + time::Duration::days(2)).to_string();
    let res = app
        .post_form(
            &c,
            &form,
            &[
                ("kind", "article"),
                ("mode", "extra"),
                ("amount", "5"),
                ("reason", "launch week"),
                ("expires", &in_two_days),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get(&c, &page).await.text().await.unwrap();
    assert_eq!(
        kind_cells(&html, "article"),
        ("5".into(), "10".into(), "5".into())
    );
    assert_eq!(
        crate::harness::select_text(&html, "#usage-overrides .state"),
        ["active"]
    );
    let (s, b) = consume(&base, &secret, user.id, "article", 5, &key_id()).await;
    assert_eq!((s, b["limit"].clone()), (StatusCode::OK, json!(10)));
    let events = app.audit("usage.override_added").await;
    assert_eq!(events.len(), 1);
    assert!(events[0].2.contains("launch week"));

    // Past its expiry it stops counting, with no one doing anything.
    app.clock.advance(time::Duration::days(3));
    let (s, b) = consume(&base, &secret, user.id, "image", 1, &key_id()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = consume(&base, &secret, user.id, "article", 1, &key_id()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "back to the plan's 5");
    // (Three days on, the session is over: sign in again.)
    let c = app.client();
    app.sign_in(&c, &admin.unwrap()).await;
    let html = app.get(&c, &page).await.text().await.unwrap();
    let (_, limit, _) = kind_cells(&html, "article");
    assert_eq!(limit, "5");
    assert_eq!(
        crate::harness::select_text(&html, "#usage-overrides .state"),
        ["expired"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_is_revoked_and_a_complimentary_plan_given_and_ended() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(crate::harness::Kind::Admin).await;
    let user = app.create_user("gift@sowat.test", &[], false).await;
    let page = format!("/admin/users/{}/usage", user.id);
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/overrides", user.id),
            &[
                ("kind", "image"),
                ("mode", "replace"),
                ("amount", "500"),
                ("reason", "agency"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get(&c, &page).await.text().await.unwrap();
    assert_eq!(kind_cells(&html, "image").1, "500");
    let id = crate::harness::select_attr(&html, "#usage-overrides tr[data-id]", "data-id").unwrap();
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/overrides/{id}/revoke", user.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get(&c, &page).await.text().await.unwrap();
    assert_eq!(kind_cells(&html, "image").1, "20");
    // Ending it twice says it is over.
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/overrides/{id}/revoke", user.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let pro = plan(
        &app,
        "pro",
        json!({"articles": 100, "images": "unlimited", "social_posts": 50}),
        json!({}),
    )
    .await;
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/plan", user.id),
            &[("plan", &pro.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get(&c, &page).await.text().await.unwrap();
    assert_eq!(
        crate::harness::select_text(&html, "#usage-plan-source"),
        ["complimentary"]
    );
    assert_eq!(kind_cells(&html, "image").1, "Unlimited");
    assert_eq!(kind_cells(&html, "article").1, "100");
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/plan", user.id),
            &[("end", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get(&c, &page).await.text().await.unwrap();
    assert!(crate::harness::select_text(&html, "#usage-plan-source")[0].contains("default plan"));
    assert_eq!(app.audit("billing.complimentary_given").await.len(), 1);
    assert_eq!(app.audit("billing.complimentary_ended").await.len(), 1);
    assert_eq!(app.audit("usage.override_revoked").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn support_reads_usage_and_changes_nothing_and_the_user_page_loads_it() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(crate::harness::Kind::Support).await;
    let user = app.create_user("read@sowat.test", &[], false).await;
    let html = app
        .get(&c, &format!("/admin/users/{}", user.id))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        crate::harness::select_attr(&html, "#section-usage", "hx-get"),
        Some(format!("/admin/users/{}/usage", user.id))
    );
    let res = c
        .get(app.url(&format!("/admin/users/{}/usage", user.id)))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    let fragment = res.text().await.unwrap();
    assert!(
        fragment.trim_start().starts_with("<section"),
        "a fragment for htmx"
    );
    assert!(crate::harness::select_attr(&fragment, "#override-form", "action").is_none());
    assert!(crate::harness::select_attr(&fragment, "#plan-form", "action").is_none());
    assert_eq!(
        crate::harness::select_text(&fragment, "#usage-plan-source").len(),
        1,
        "support reads billing"
    );
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/overrides", user.id),
            &[
                ("kind", "image"),
                ("mode", "extra"),
                ("amount", "5"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&c, "/admin/users/999999/usage").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bell_counts_what_each_staff_member_has_not_read() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let (support, _) = app.client_as(crate::harness::Kind::Support).await;
    let (tester, _) = app.client_as(crate::harness::Kind::Tester).await;
    let user = app.create_user("bell@sowat.test", &[], false).await;
    let page = app
        .get(&support, "/admin/plans")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        crate::harness::select_attr(&page, "#bell", "hx-get").as_deref(),
        Some("/admin/notifications/count")
    );
    let page = app.get(&tester, "/admin").await.text().await.unwrap();
    assert!(
        crate::harness::select_attr(&page, "#bell", "href").is_none(),
        "no usage.read: no bell"
    );

    let base = app.url("");
    consume(&base, &secret, user.id, "article", 4, &key_id()).await; // 80 % of 5
    consume(&base, &secret, user.id, "article", 1, &key_id()).await; // 100 %
    let count = app
        .get(&support, "/admin/notifications/count")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(crate::harness::select_text(&count, "#bell-count"), ["2"]);
    let list = app
        .get(&support, "/admin/notifications")
        .await
        .text()
        .await
        .unwrap();
    let lines = crate::harness::select_text(&list, "#notification-list li");
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].contains("bell@sowat.test has reached their articles quota: 5 of 5"),
        "{lines:?}"
    );
    assert!(lines[1].contains("80 %"), "{lines:?}");
    let up_to = crate::harness::select_attr(&list, "input[name=up_to]", "value").unwrap();
    let res = app
        .post_form(&support, "/admin/notifications/read", &[("up_to", &up_to)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let count = app
        .get(&support, "/admin/notifications/count")
        .await
        .text()
        .await
        .unwrap();
    assert!(crate::harness::select_text(&count, "#bell-count").is_empty());
    // Another staff member still has them unread.
    let (admin, _) = app.client_as(crate::harness::Kind::Admin).await;
    let count = app
        .get(&admin, "/admin/notifications/count")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(crate::harness::select_text(&count, "#bell-count"), ["2"]);
    // A tester (no usage.read) sees none of them.
    let list = app
        .get(&tester, "/admin/notifications")
        .await
        .text()
        .await
        .unwrap();
    assert!(crate::harness::select_text(&list, "#notification-list li").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_month_reports_overage_once_however_often_it_is_closed() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let admin = app.create_kind(crate::harness::Kind::Admin).await.unwrap();
    let heavy = app.create_user("heavy@sowat.test", &[], false).await;
    let light = app.create_user("light@sowat.test", &[], false).await;
    let pro = plan(
        &app,
        "pro",
        json!({"articles": 5, "images": 5, "social_posts": 5}),
        json!({"articles": 40}),
    )
    .await;
    subscribe(&app, heavy.id, pro).await;
    let base = app.url("");
    consume(&base, &secret, heavy.id, "article", 7, &key_id()).await;
    consume(&base, &secret, light.id, "article", 3, &key_id()).await;
    let month = sowat_admin::metering::period::Period::of(app.clock.now());
    // Into the next month.
    let days = (month.resets_at() - app.clock.now_primitive()).whole_days() + 1;
    app.clock.advance(time::Duration::days(days));
    let c = app.client();
    app.sign_in(&c, &admin).await;

    let page = format!("/admin/usage/overage?period={}", month.key());
    let html = app.get(&c, &page).await.text().await.unwrap();
    assert!(crate::harness::select_attr(&html, "#overage-close", "type").is_some());
    // Asked twice (and the scheduler's own task would carry the same key).
    for _ in 0..2 {
        let res = app
            .post_form(
                &c,
                "/admin/usage/overage/close",
                &[("period", &month.key())],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    // And forced to run twice more at once, on both instances.
    {
        let now = app.clock.now_primitive();
        let mut db = app.db().await;
        for extra in ["a", "b"] {
            let mut task = sowat_admin::usage::tasks::close_task(month, now);
            task.dedupe_key = Some(format!("forced-{extra}"));
            sowat_admin::tasks::store::enqueue_once(&mut db, task, now)
                .await
                .unwrap();
        }
    }
    app.running().state.tasks.wake();
    second.state.tasks.wake();
    app.wait_for_idle_tasks().await;

    let mut db = app.db().await;
    let rows: Vec<(i64, String, i64, i64, Option<i64>, i64)> =
        db_run!(&mut db, |c| sowat_admin::db::schema::overage_reports::table
            .select((
                sowat_admin::db::schema::overage_reports::user_id,
                sowat_admin::db::schema::overage_reports::kind,
                sowat_admin::db::schema::overage_reports::used,
                sowat_admin::db::schema::overage_reports::overage,
                sowat_admin::db::schema::overage_reports::unit_cents,
                sowat_admin::db::schema::overage_reports::amount_cents,
            ))
            .load(c)
            .await)
        .unwrap();
    assert_eq!(rows, [(heavy.id, "article".to_owned(), 7, 2, Some(40), 80)]);
    assert_eq!(app.audit("usage.period_closed").await.len(), 1);
    assert_eq!(app.audit("usage.period_close_requested").await.len(), 1);

    let html = app.get(&c, &page).await.text().await.unwrap();
    assert!(crate::harness::select_text(&html, "#overage-status")[0].contains("closed"));
    assert!(
        crate::harness::select_text(&html, "#overage-totals dd")
            .join(" ")
            .contains("0.80 EUR")
    );
    assert_eq!(
        crate::harness::select_text(&html, "#overage-rows tbody tr").len(),
        1
    );
    let csv = app
        .get(
            &c,
            &format!("/admin/usage/overage.csv?period={}", month.key()),
        )
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(
        lines[1],
        format!(
            "{},{},heavy@sowat.test,pro,article,7,5,2,40,80,eur",
            month.key(),
            heavy.id
        )
    );
    // A running month cannot be closed.
    let res = app
        .post_form(
            &c,
            "/admin/usage/overage/close",
            &[(
                "period",
                &sowat_admin::metering::period::Period::of(app.clock.now()).key(),
            )],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_users_list_shows_and_filters_plans_and_usage() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(&app, &[Scope::UsageWrite], 100_000, 1_000_000).await;
    let (c, _) = app.client_as(crate::harness::Kind::Admin).await;
    let full = app.create_user("full@sowat.test", &[], false).await;
    let near = app.create_user("near@sowat.test", &[], false).await;
    let idle = app.create_user("idle@sowat.test", &[], false).await;
    let pro = plan(
        &app,
        "pro",
        json!({"articles": 5, "images": 5, "social_posts": 5}),
        json!({}),
    )
    .await;
    subscribe(&app, full.id, pro).await;
    let base = app.url("");
    consume(&base, &secret, full.id, "article", 5, &key_id()).await;
    consume(&base, &secret, near.id, "article", 4, &key_id()).await;

    let ids = |html: &str| -> Vec<i64> {
        crate::harness::select_attrs(html, "#user-rows tr[data-id]", "data-id")
            .into_iter()
            .map(|s| s.parse().unwrap())
            .collect()
    };
    let html = app
        .get(&c, "/admin/users?plan=pro")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(ids(&html), [full.id]);
    let html = app
        .get(&c, "/admin/users?plan=none&q=sowat.test")
        .await
        .text()
        .await
        .unwrap();
    let mut got = ids(&html);
    got.sort();
    assert_eq!(got, [near.id, idle.id]);
    let html = app
        .get(&c, "/admin/users?usage=80")
        .await
        .text()
        .await
        .unwrap();
    let mut got = ids(&html);
    got.sort();
    assert_eq!(got, [full.id, near.id]);
    let month = sowat_admin::metering::period::Period::of(app.clock.now()).key();
    let chips = crate::harness::select_text(&html, ".chip").join(" | ");
    assert!(
        chips.contains(&format!("reached 80 % of a quota in {month}")),
        "{chips}"
    );
    let html = app
        .get(&c, "/admin/users?usage=100")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(ids(&html), [full.id]);
    let row =
        crate::harness::select_text(&html, &format!("#user-rows tr[data-id='{}'] td", full.id))
            .join(" | ");
    assert!(
        row.contains("pro") && row.contains("5 · 0 · 0") && row.contains("100 %"),
        "{row}"
    );
    // A value that means nothing matches nobody, never everybody.
    let html = app
        .get(&c, "/admin/users?usage=lots")
        .await
        .text()
        .await
        .unwrap();
    assert!(ids(&html).is_empty());
    let html = app
        .get(&c, "/admin/users?plan=nope")
        .await
        .text()
        .await
        .unwrap();
    assert!(ids(&html).is_empty());
    // Ten extra articles put `near` at 4 of 15: below 80 % at once.
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/overrides", near.id),
            &[
                ("kind", "article"),
                ("mode", "extra"),
                ("amount", "10"),
                ("reason", "launch week"),
                ("expires", ""),
            ],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let html = app
        .get(&c, "/admin/users?usage=80")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(ids(&html), [full.id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_usage_route_answers_only_its_scope() {
    let app = TestApp::spawn().await;
    let user = app.create_user("scopes@sowat.test", &[], false).await;
    let http = reqwest::Client::new();
    for scope in Scope::ALL {
        let (_, secret) = make_key(&app, &[*scope], 100_000, 1_000_000).await;
        let consume = http
            .post(app.url("/api/v1/usage/consume"))
            .bearer_auth(&secret)
            .json(&json!({"user_id": user.id, "kind": "image", "amount": 1, "idempotency_key": key_id()}))
            .send()
            .await
            .unwrap()
            .status();
        let check = http
            .post(app.url("/api/v1/usage/check"))
            .bearer_auth(&secret)
            .json(&json!({"user_id": user.id, "kind": "image"}))
            .send()
            .await
            .unwrap()
            .status();
        let read = http
            .get(app.url(&format!("/api/v1/usage/{}", user.id)))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .status();
        let ok = |allowed: bool| {
            if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            }
        };
        assert_eq!(
            consume,
            ok(*scope == Scope::UsageWrite),
            "consume with {}",
            scope.key()
        );
        assert_eq!(
            check,
            ok(*scope == Scope::UsageRead),
            "check with {}",
            scope.key()
        );
        assert_eq!(
            read,
            ok(*scope == Scope::UsageRead),
            "read with {}",
            scope.key()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_global_search_finds_a_user_by_stripe_ids() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(crate::harness::Kind::Support).await;
    let user = app.create_user("payer@sowat.test", &[], false).await;
    let pro = plan(
        &app,
        "pro",
        json!({"articles": 5, "images": 5, "social_posts": 5}),
        json!({}),
    )
    .await;
    subscribe(&app, user.id, pro).await;
    {
        let mut db = app.db().await;
        db_run!(&mut db, |c| diesel::update(
            subscriptions::table.filter(subscriptions::user_id.eq(user.id))
        )
        .set((
            subscriptions::stripe_customer_id.eq("cus_Q1w2E3r4"),
            subscriptions::stripe_subscription_id.eq("sub_1Zx9"),
            subscriptions::status.eq("active"),
        ))
        .execute(c)
        .await)
        .unwrap();
    }
    for q in ["cus_Q1w2E3r4", "sub_1Zx9"] {
        let res = app.get(&c, &format!("/admin/search?q={q}")).await;
        assert_eq!(
            crate::harness::location(&res),
            format!("/admin/users/{}", user.id),
            "{q}"
        );
    }
    let res = c
        .get(app.url("/admin/search?q=cus_Q1w2E3r4"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("payer@sowat.test"));
    let res = app.get(&c, "/admin/search?q=cus_unknown").await;
    assert!(crate::harness::location(&res).starts_with("/admin/users?q=cus_unknown"));
}
