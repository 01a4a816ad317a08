//! The machine API and its keys: the lifecycle (the secret shown once, only
//! its hash stored; rotation with a grace period; revocation; expiry),
//! every refusal with its status and code, the limits across two
//! instances, the key per scope through the one access check, and the
//! audit trail naming the key and its application.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::Value;
use sowat_admin::access::Scope;
use sowat_admin::api::keys::{self, NewKey};
use sowat_admin::audit::{ActorRef, RequestMeta};
use sowat_admin::change::By;
use sowat_admin::db::schema::{api_key_months, api_key_usage, api_keys, audit_events};
use sowat_admin::db_run;

use crate::harness::{Kind, TestApp, select_attr};

/// A key made as an administrator would, straight through the store.
pub(crate) async fn make_key(
    app: &TestApp,
    scopes: &[Scope],
    rate: i32,
    quota: i64,
) -> (i64, String) {
    let owner = app
        .create_user(&format!("owner{}@api.test", uuid()), &[], false)
        .await;
    let by = By {
        actor: ActorRef::user(owner.id, &owner.email),
        meta: RequestMeta {
            client_id: "admin-ui".into(),
            ..RequestMeta::default()
        },
        now: app.clock.now_primitive(),
    };
    let input = NewKey {
        name: "article worker".into(),
        client_id: "article-worker".into(),
        owner_id: owner.id,
        scopes: scopes.to_vec(),
        expires_at: None,
        rate_per_minute: rate,
        monthly_quota: quota,
    };
    let mut db = app.db().await;
    db.transaction(|db| Box::pin(async move { keys::create(db, &by, &input).await }))
        .await
        .unwrap()
}

/// A fresh suffix: keys in one test need owners of their own.
fn uuid() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .to_string()
}

async fn call(
    app: &TestApp,
    secret: Option<&str>,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new().get(app.url(path));
    if let Some(s) = secret {
        req = req.bearer_auth(s);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn create_shows_the_secret_once_and_stores_its_hash() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    // Refusals come back inline, with what was typed.
    let res = app
        .post_form(
            &c,
            "/admin/api-keys",
            &[
                ("name", "App"),
                ("client_id", "Sowat App"),
                ("owner", &admin.email),
                ("scopes", "users:read"),
                ("rate", "60"),
                ("quota", "1000"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(body.contains("2 to 64 lower-case"), "{body}");
    assert_eq!(
        select_attr(&body, "input[name=name]", "value").as_deref(),
        Some("App")
    );
    let res = app
        .post_form(
            &c,
            "/admin/api-keys",
            &[
                ("name", "Main app"),
                ("client_id", "sowat-app"),
                ("owner", &admin.email),
                ("scopes", "users:read"),
                ("scopes", "users:sync"),
                ("rate", "60"),
                ("quota", "1000"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    let secret = sowat_admin_secret(&body);
    assert!(
        secret.starts_with("sowat_live_") && secret.len() > 50,
        "{secret}"
    );
    // Only the hash is stored: no column holds the secret.
    let mut db = app.db().await;
    let (hash, prefix): (String, String) = db_run!(&mut db, |c| api_keys::table
        .select((api_keys::secret_hash, api_keys::prefix))
        .first(c)
        .await)
    .unwrap();
    assert_ne!(hash, secret);
    assert!(secret.starts_with(&prefix) && prefix.len() < 24);
    let details: Vec<String> = db_run!(&mut db, |c| audit_events::table
        .select(audit_events::details)
        .load(c)
        .await)
    .unwrap();
    assert!(
        details.iter().all(|d| !d.contains(&secret)),
        "the secret is in the audit trail"
    );
    // Listed, and its page shows no secret.
    let list = app
        .get(&c, "/admin/api-keys?client_id=sowat-app")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("Main app") && list.contains(&prefix) && !list.contains(&secret));
    let none = app
        .get(&c, "/admin/api-keys?scope=jobs:read")
        .await
        .text()
        .await
        .unwrap();
    assert!(none.contains("id=\"no-keys\""));
    // It works at once.
    let (status, _, _) = call(&app, Some(&secret), &format!("/api/v1/users/{}", admin.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.audit("api_key.created").await.len(), 1);
}

/// The secret from the page shown once.
fn sowat_admin_secret(body: &str) -> String {
    crate::harness::select_text(body, "#api-key-secret")
        .into_iter()
        .next()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_has_its_status_and_code() {
    let app = TestApp::spawn().await;
    let user = app.create_user("reader@api.test", &[], false).await;
    let (_, secret) = make_key(&app, &[Scope::UsersRead], 1000, 1_000_000).await;
    let (_, usage_only) = make_key(&app, &[Scope::UsageRead], 1000, 1_000_000).await;
    let path = format!("/api/v1/users/{}", user.id);

    let (s, h, b) = call(&app, None, &path).await;
    assert_eq!((s, code(&b)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert_eq!(h.get("www-authenticate").unwrap(), "Bearer");
    assert!(h.contains_key("x-request-id"));
    let (s, _, b) = call(&app, Some("sowat_live_nope"), &path).await;
    assert_eq!((s, code(&b)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, _, b) = call(&app, Some(&usage_only), &path).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, _, b) = call(&app, Some(&secret), &path).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["email"], "reader@api.test");
    assert!(b.get("password_hash").is_none() && b.get("totp_secret").is_none());
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/users/999999").await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/users/abc").await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/users?email=READER@api.test").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"][0]["id"], user.id);
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/users?email=nobody@api.test").await;
    assert_eq!(
        (s, b["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/users").await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );
    assert_eq!(b["error"]["details"][0]["field"], "email");
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/nothing").await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));

    // A signed-in administrator's session is not a key.
    let (c, _) = app.client_as(Kind::Admin).await;
    let res = c.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The denial is audited with the key and its application.
    let mut db = app.db().await;
    let denied: Vec<(String, Option<String>, String)> = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::action.eq("access.denied"))
        .select((
            audit_events::actor_type,
            audit_events::client_id,
            audit_events::actor_label
        ))
        .load(c)
        .await)
    .unwrap();
    assert!(
        denied.iter().any(|(t, client, label)| t == "api_key"
            && client.as_deref() == Some("article-worker")
            && label.starts_with("key:")),
        "{denied:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_list_pages_both_ways_and_filters_by_state_in_sql() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    let by = By {
        actor: ActorRef::user(admin.id, &admin.email),
        meta: RequestMeta::default(),
        now: app.clock.now_primitive(),
    };
    let mut db = app.db().await;
    let mut ids = Vec::new();
    for i in 0..120 {
        let input = NewKey {
            name: format!("key {i}"),
            client_id: "sowat-app".into(),
            owner_id: admin.id,
            scopes: vec![Scope::UsersRead],
            expires_at: None,
            rate_per_minute: 60,
            monthly_quota: 1000,
        };
        let by = by.clone();
        let (id, _) = db
            .transaction(|db| Box::pin(async move { keys::create(db, &by, &input).await }))
            .await
            .unwrap();
        ids.push(id);
    }
    // Every seventh key revoked.
    for id in ids.iter().step_by(7) {
        let by = by.clone();
        let id = *id;
        db.transaction(|db| Box::pin(async move { keys::revoke(db, &by, id).await }))
            .await
            .unwrap();
    }
    drop(db);
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
    let rows = |html: &str| -> Vec<i64> {
        crate::harness::select_attrs(html, "#key-rows tbody tr", "data-id")
            .iter()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let link = |html: &str, id: &str| {
        select_attr(html, &format!("#{id}"), "href").map(|h| h.replace("&amp;", "&"))
    };
    let page1 = app.get(&c, "/admin/api-keys").await.text().await.unwrap();
    assert_eq!(rows(&page1), newest_first[..50]);
    assert!(link(&page1, "prev-page").is_none());
    let page2 = app
        .get(&c, &link(&page1, "next-page").unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&page2), newest_first[50..100]);
    let page3 = app
        .get(&c, &link(&page2, "next-page").unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&page3), newest_first[100..]);
    assert!(link(&page3, "next-page").is_none());
    let back = app
        .get(&c, &link(&page3, "prev-page").unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&back), newest_first[50..100]);
    let back = app
        .get(&c, &link(&back, "prev-page").unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&back), newest_first[..50]);
    assert!(link(&back, "prev-page").is_none());
    // The state filter is in the query: whole pages of revoked keys, and
    // the links keep it.
    let revoked: Vec<i64> = ids.iter().step_by(7).rev().copied().collect();
    let page = app
        .get(&c, "/admin/api-keys?state=revoked")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&page), revoked);
    let active = app
        .get(&c, "/admin/api-keys?state=active&client_id=sowat-app")
        .await
        .text()
        .await
        .unwrap();
    let next = link(&active, "next-page").unwrap();
    assert!(next.contains("state=active") && next.contains("client_id=sowat-app"));
    let mut seen = rows(&active);
    seen.extend(rows(&app.get(&c, &next).await.text().await.unwrap()));
    let want: Vec<i64> = newest_first
        .iter()
        .filter(|id| !revoked.contains(id))
        .copied()
        .collect();
    assert_eq!(seen, want[..100]);
    // A cursor that is not a number is a clear 400, not a 500.
    assert_eq!(
        app.get(&c, "/admin/api-keys?before=x").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_per_scope_through_the_one_check() {
    let app = TestApp::spawn().await;
    let user = app.create_user("scoped@api.test", &[], false).await;
    for scope in Scope::ALL {
        let (_, secret) = make_key(&app, &[*scope], 1000, 1_000_000).await;
        for path in [
            format!("/api/v1/users/{}", user.id),
            "/api/v1/users?email=scoped@api.test".to_owned(),
        ] {
            let (s, _, _) = call(&app, Some(&secret), &path).await;
            let expected = if *scope == Scope::UsersRead {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(s, expected, "{} on {path}", scope.key());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_grace_revocation_and_expiry() {
    let app = TestApp::spawn().await;
    let user = app.create_user("rotated@api.test", &[], false).await;
    let path = format!("/api/v1/users/{}", user.id);
    let (id, old) = make_key(&app, &[Scope::UsersRead], 1000, 1_000_000).await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let res = app
        .post_form(
            &c,
            &format!("/admin/api-keys/{id}/rotate"),
            &[("grace", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let new = sowat_admin_secret(&res.text().await.unwrap());
    assert!(new.starts_with("sowat_live_") && new != old);
    assert_eq!(
        call(&app, Some(&old), &path).await.0,
        StatusCode::OK,
        "old secret within grace"
    );
    assert_eq!(call(&app, Some(&new), &path).await.0, StatusCode::OK);
    app.clock.advance(time::Duration::minutes(61));
    assert_eq!(
        call(&app, Some(&old), &path).await.0,
        StatusCode::UNAUTHORIZED,
        "grace over"
    );
    assert_eq!(call(&app, Some(&new), &path).await.0, StatusCode::OK);
    // The administrator's session went idle meanwhile: a fresh one.
    let c = app.client();
    app.sign_in(&c, admin.as_ref().unwrap()).await;
    let page = app
        .get(&c, &format!("/admin/api-keys/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("api_key.rotated") && page.contains("127.0.0.1"),
        "history and last use shown: {page}"
    );
    let res = app
        .post_form(&c, &format!("/admin/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        call(&app, Some(&new), &path).await.0,
        StatusCode::UNAUTHORIZED,
        "revoked at once"
    );
    assert_eq!(app.audit("api_key.revoked").await.len(), 1);

    // Expiry: the key stops at its date.
    let (kid, secret) = make_key(&app, &[Scope::UsersRead], 1000, 1_000_000).await;
    let tomorrow = app.clock.now_primitive() + time::Duration::days(1);
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(api_keys::table.find(kid))
        .set(api_keys::expires_at.eq(Some(tomorrow)))
        .execute(c)
        .await)
    .unwrap();
    assert_eq!(call(&app, Some(&secret), &path).await.0, StatusCode::OK);
    app.clock.advance(time::Duration::days(2));
    assert_eq!(
        call(&app, Some(&secret), &path).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_hold_across_two_instances() {
    let app = TestApp::spawn().await;
    let other = app.second_instance().await;
    let user = app.create_user("limited@api.test", &[], false).await;
    let path = format!("/api/v1/users/{}", user.id);
    let (kid, secret) = make_key(&app, &[Scope::UsersRead], 10, 15).await;
    // 30 requests at once, half to each instance: exactly the minute's ten
    // are served, whichever instance counted them.
    let bases = [app.base.clone(), format!("http://{}", other.addr)];
    let burst = |n: usize| {
        let (bases, secret, path) = (bases.clone(), secret.clone(), path.clone());
        async move {
            let calls = (0..n).map(|i| {
                let url = format!("{}{path}", bases[i % 2]);
                let secret = secret.clone();
                tokio::spawn(async move {
                    let res = reqwest::Client::new()
                        .get(url)
                        .bearer_auth(secret)
                        .send()
                        .await
                        .unwrap();
                    let status = res.status();
                    let body = res.json::<Value>().await.unwrap_or(Value::Null);
                    (status, code(&body).to_owned())
                })
            });
            let mut out = Vec::new();
            for c in calls.collect::<Vec<_>>() {
                out.push(c.await.unwrap());
            }
            out
        }
    };
    let tally = |answers: &[(StatusCode, String)], want: &str| {
        answers
            .iter()
            .filter(|(s, c)| match want {
                "ok" => *s == StatusCode::OK,
                code => *s == StatusCode::TOO_MANY_REQUESTS && c == code,
            })
            .count()
    };
    let first = burst(30).await;
    assert_eq!(tally(&first, "ok"), 10, "{first:?}");
    assert_eq!(tally(&first, "rate_limited"), 20, "{first:?}");
    let (s, h, b) = call(&app, Some(&secret), &path).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let wait: u64 = h
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    // Next minute (ten allowed again): five more fit the month's fifteen,
    // then the quota answers, on both instances; refusals did not use up
    // the quota.
    app.clock.advance(time::Duration::seconds(61));
    let second = burst(9).await;
    assert_eq!(tally(&second, "ok"), 5, "{second:?}");
    assert_eq!(tally(&second, "quota_exceeded"), 4, "{second:?}");
    let (s, h, b) = call(&app, Some(&secret), &path).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded")
    );
    assert!(h.contains_key("retry-after"));
    // What the database holds once both instances wrote what they kept:
    // served requests per minute and month, and every refusal.
    let state = &app.running().state;
    state
        .key_ledger
        .settle(&state.pool, app.clock.now_primitive())
        .await;
    other.stop().await;
    let mut db = app.db().await;
    let minutes: Vec<(i64, i64)> = db_run!(&mut db, |c| api_key_usage::table
        .filter(api_key_usage::key_id.eq(kid))
        .order(api_key_usage::minute)
        .select((api_key_usage::requests, api_key_usage::throttled))
        .load(c)
        .await)
    .unwrap();
    assert_eq!(minutes, vec![(10, 21), (5, 5)]);
    let month: i64 = db_run!(&mut db, |c| api_key_months::table
        .filter(api_key_months::key_id.eq(kid))
        .select(api_key_months::requests)
        .first(c)
        .await)
    .unwrap();
    assert_eq!(month, 15);
}

/// A busy key takes leases of its allowance; what an instance did not use
/// goes back to the minute and the month, so the counts are the requests
/// served.
#[tokio::test(flavor = "multi_thread")]
async fn unused_leases_go_back_to_the_counts() {
    let app = TestApp::spawn().await;
    let user = app.create_user("leased@api.test", &[], false).await;
    let path = format!("/api/v1/users/{}", user.id);
    let (kid, secret) = make_key(&app, &[Scope::UsersRead], 5000, 1_000_000).await;
    for _ in 0..7 {
        assert_eq!(call(&app, Some(&secret), &path).await.0, StatusCode::OK);
    }
    let counts = || async {
        let mut db = app.db().await;
        let minute: i64 = db_run!(&mut db, |c| api_key_usage::table
            .filter(api_key_usage::key_id.eq(kid))
            .select(api_key_usage::requests)
            .first(c)
            .await)
        .unwrap();
        let month: i64 = db_run!(&mut db, |c| api_key_months::table
            .filter(api_key_months::key_id.eq(kid))
            .select(api_key_months::requests)
            .first(c)
            .await)
        .unwrap();
        (minute, month)
    };
    assert_eq!(
        counts().await,
        (100, 100),
        "one lease of 2 % of 5,000 taken"
    );
    app.clock.advance(time::Duration::seconds(61));
    let state = &app.running().state;
    state
        .key_ledger
        .settle(&state.pool, app.clock.now_primitive())
        .await;
    assert_eq!(counts().await, (7, 7), "the 93 unused went back");
    // Minutes older than a month go with housekeeping; months stay.
    app.clock.advance(time::Duration::days(32));
    let purged =
        sowat_admin::security::key_ledger::purge_old(&state.pool, app.clock.now_primitive())
            .await
            .unwrap();
    assert_eq!(purged, 1);
    let mut db = app.db().await;
    let months: i64 = db_run!(&mut db, |c| api_key_months::table
        .filter(api_key_months::key_id.eq(kid))
        .select(api_key_months::requests)
        .first(c)
        .await)
    .unwrap();
    assert_eq!(months, 7);
}

async fn post_json(
    app: &TestApp,
    secret: &str,
    path: &str,
    body: &str,
    idem: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(app.url(path))
        .bearer_auth(secret)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(k) = idem {
        req = req.header("idempotency-key", k);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn user_sync_is_all_or_nothing_audited_and_idempotent() {
    let app = TestApp::spawn().await;
    let (_, secret) = make_key(
        &app,
        &[Scope::UsersSync, Scope::UsersRead],
        10_000,
        1_000_000,
    )
    .await;
    let existing = app.create_user("known@sync.test", &[], false).await;
    // Mixed rows: every problem listed, nothing applied.
    let mixed = serde_json::json!({ "users": [
        { "email": "new@sync.test", "name": "New One", "type": "EXTERNAL", "status": "ACTIVE" },
        { "email": "not-an-email", "name": "", "type": "GUEST", "status": "ACTIVE" },
        { "email": "known@sync.test", "name": "Known", "type": "INTERNAL", "status": "ASLEEP", "client_id": "Bad App" },
    ]});
    let (s, _, b) = post_json(
        &app,
        &secret,
        "/api/v1/users/sync",
        &mixed.to_string(),
        None,
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );
    let details = b["error"]["details"].as_array().unwrap();
    let fields: Vec<(i64, &str)> = details
        .iter()
        .map(|d| (d["row"].as_i64().unwrap(), d["field"].as_str().unwrap()))
        .collect();
    for expected in [
        (1, "email"),
        (1, "name"),
        (1, "type"),
        (2, "status"),
        (2, "client_id"),
    ] {
        assert!(fields.contains(&expected), "{expected:?} in {fields:?}");
    }
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/users?email=new@sync.test").await;
    assert_eq!(
        (s, b["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "nothing applied"
    );
    // Malformed JSON and a wrong shape: the one error shape.
    let (s, _, b) = post_json(&app, &secret, "/api/v1/users/sync", "{not json", None).await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "malformed_json"));

    // A valid batch of 1,000 (one of them an update, its name carrying
    // control characters, dropped as forms drop them), replayed by its key.
    let mut rows = vec![
        serde_json::json!({ "email": "known@sync.test", "name": "Known\u{0} Renamed\u{1b}", "company": "Acme", "type": "INTERNAL", "status": "SUSPENDED", "client_id": "sowat-app" }),
    ];
    for i in 1..1000 {
        rows.push(serde_json::json!({ "email": format!("u{i}@sync.test"), "name": format!("User {i}"), "type": "EXTERNAL", "status": "ACTIVE", "client_id": "mobile-app" }));
    }
    let batch = serde_json::json!({ "users": rows }).to_string();
    let (s, _, first) =
        post_json(&app, &secret, "/api/v1/users/sync", &batch, Some("batch-1")).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(
        (first["created"].as_i64(), first["updated"].as_i64()),
        (Some(999), Some(1))
    );
    let (s, h, again) =
        post_json(&app, &secret, "/api/v1/users/sync", &batch, Some("batch-1")).await;
    assert_eq!(
        (s, &again),
        (StatusCode::OK, &first),
        "replayed, not applied twice"
    );
    assert_eq!(h.get("idempotent-replayed").unwrap(), "true");
    let (s, _, b) = post_json(
        &app,
        &secret,
        "/api/v1/users/sync",
        &mixed.to_string(),
        Some("batch-1"),
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::CONFLICT, "idempotency_conflict")
    );
    // Without the key, the same batch changes nothing more.
    let (_, _, third) = post_json(&app, &secret, "/api/v1/users/sync", &batch, None).await;
    assert_eq!(third["unchanged"].as_i64(), Some(1000));

    let (_, _, b) = call(
        &app,
        Some(&secret),
        &format!("/api/v1/users/{}", existing.id),
    )
    .await;
    assert_eq!(
        (b["name"].as_str(), b["status"].as_str()),
        (Some("Known Renamed"), Some("SUSPENDED"))
    );
    // A lookup needs an address.
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/users?email=known").await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );
    let (s, _, b) = call(&app, Some(&secret), "/api/v1/users?email=KNOWN@sync.test").await;
    assert_eq!(
        (s, b["data"][0]["id"].as_i64()),
        (StatusCode::OK, Some(existing.id))
    );
    // The application a user signed up in is the one whose sync created
    // them; an update does not rewrite where someone came from.
    assert_eq!(b["data"][0]["signup_client_id"], Value::Null);
    let (_, _, b) = call(&app, Some(&secret), "/api/v1/users?email=u7@sync.test").await;
    assert_eq!(
        b["data"][0]["signup_client_id"].as_str(),
        Some("mobile-app")
    );
    let u7 = b["data"][0]["id"].as_i64().unwrap();
    // Each change audited with the key as actor and its application.
    let mut db = app.db().await;
    let by_key: Vec<(String, String, Option<String>)> = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::actor_type.eq("api_key"))
        .filter(audit_events::action.like("user.%"))
        .select((
            audit_events::action,
            audit_events::actor_label,
            audit_events::client_id
        ))
        .load(c)
        .await)
    .unwrap();
    assert_eq!(
        by_key
            .iter()
            .filter(|(a, _, _)| a == "user.created")
            .count(),
        999
    );
    assert_eq!(
        by_key
            .iter()
            .filter(|(a, _, _)| a == "user.updated" || a == "user.status_changed")
            .count(),
        2
    );
    assert!(
        by_key
            .iter()
            .all(|(_, label, client)| label == "key:article worker"
                && client.as_deref() == Some("article-worker"))
    );
    // The user page names the key, linked, and its application.
    let (c, _) = app.client_as(Kind::Admin).await;
    let page = app
        .get(&c, &format!("/admin/users/{}", existing.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("key:article worker (article-worker)")
            && page.contains("href=\"/admin/api-keys/"),
        "{page}"
    );
    let page = app
        .get(&c, &format!("/admin/users/{u7}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<code>mobile-app</code>"), "{page}");
}

/// The OpenAPI document names exactly the API routes of the route table,
/// is served as JSON, and reads as a page for staff.
#[tokio::test(flavor = "multi_thread")]
async fn the_contract_matches_the_routes() {
    let app = TestApp::spawn().await;
    let res = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = sowat_admin::api::docs::operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut routed: Vec<(String, String)> = sowat_admin::routes::table()
        .into_iter()
        .filter(|r| r.access.is_api())
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    documented.sort();
    routed.sort();
    assert_eq!(documented, routed);
    let (c, _) = app.client_as(Kind::Support).await;
    let page = app.get(&c, "/api/docs").await.text().await.unwrap();
    assert!(page.contains("POST /api/v1/users/sync"), "{page}");
}

/// Another instance keeps what it read of a key for at most a second: a
/// revocation made elsewhere stops the key there once that second is over.
#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_reaches_the_other_instance_within_a_second() {
    let app = TestApp::spawn().await;
    let other = app.second_instance().await;
    let user = app.create_user("cached@api.test", &[], false).await;
    let (kid, secret) = make_key(&app, &[Scope::UsersRead], 1000, 1_000_000).await;
    let url = format!("http://{}/api/v1/users/{}", other.addr, user.id);
    let status = || async {
        reqwest::Client::new()
            .get(&url)
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .status()
    };
    // Signed in first: the sign-in moves the clock (one TOTP step).
    let (c, _) = app.client_as(Kind::Admin).await;
    assert_eq!(status().await, StatusCode::OK);
    let res = app
        .post_form(&c, &format!("/admin/api-keys/{kid}/revoke"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        status().await,
        StatusCode::OK,
        "still in the other's memory"
    );
    app.clock.advance(time::Duration::seconds(1));
    assert_eq!(status().await, StatusCode::UNAUTHORIZED);
    other.stop().await;
}
