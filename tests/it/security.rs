//! CSRF, CORS, security headers and audited denials.

use reqwest::StatusCode;

use crate::harness::{Kind, TestApp, select_text};

#[tokio::test(flavor = "multi_thread")]
async fn state_changes_without_the_csrf_token_are_refused_and_audited() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let missing = c
        .post(app.url("/logout"))
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = c
        .post(app.url("/logout"))
        .form(&[("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let wrong_header = c
        .post(app.url("/logout"))
        .header("x-csrf-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_header.status(), StatusCode::FORBIDDEN);
    // Still signed in: none of them went through.
    assert_eq!(app.get(&c, "/admin").await.status(), StatusCode::OK);
    let token = app.csrf(&c).await;
    let cross = c
        .post(app.url("/logout"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        cross.status(),
        StatusCode::FORBIDDEN,
        "a valid token from another site is refused"
    );
    let foreign = c
        .post(app.url("/logout"))
        .header("origin", "https://evil.example")
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let rejected = app.audit("security.csrf_rejected").await;
    let reasons: Vec<&str> = rejected.iter().map(|(_, _, d)| d.as_str()).collect();
    assert_eq!(rejected.len(), 5, "{reasons:?}");
    assert!(
        rejected
            .iter()
            .all(|(o, actor, _)| o == "denied" && actor == "admin@example.test")
    );
    // The header form works (htmx).
    let ok = c
        .post(app.url("/logout"))
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_forms_need_the_token_too() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let res = c
        .post(app.url("/login"))
        .form(&[("email", "a@b.io"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.text().await.unwrap();
    assert_eq!(select_text(&body, "h1"), vec!["Access denied"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_the_configured_origin() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let preflight = |origin: &'static str| {
        c.request(reqwest::Method::OPTIONS, app.url("/admin"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = preflight("https://admin.sowat.io").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://admin.sowat.io"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    for evil in [
        "https://evil.example",
        "null",
        "http://admin.sowat.io",
        "https://admin.sowat.io.evil.example",
        "https://sub.admin.sowat.io",
    ] {
        let res = preflight(evil).await.unwrap();
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{evil} got an allow-origin header"
        );
        let res = c
            .get(app.url("/healthz"))
            .header("origin", evil)
            .send()
            .await
            .unwrap();
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{evil} (simple request)"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn html_responses_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    for path in ["/login", "/admin", "/nope"] {
        let res = app.get(&c, path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && csp.contains("object-src 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain http"
        );
    }
    // No inline script or style anywhere in a page.
    let body = app.get(&c, "/admin").await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&body);
    let scripts = scraper::Selector::parse("script").unwrap();
    assert!(
        doc.select(&scripts)
            .all(|s| s.value().attr("src").is_some() && s.text().next().is_none())
    );
    let styled = scraper::Selector::parse("[style], style, [hx-on], [onclick]").unwrap();
    assert_eq!(doc.select(&styled).count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn denials_are_audited_and_answered_403() {
    let app = TestApp::spawn().await;
    let (member, _) = app.client_as(Kind::Member).await;
    let res = app.get(&member, "/admin").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (tester, _) = app.client_as(Kind::Tester).await;
    assert_eq!(
        app.get(&tester, "/admin/audit").await.status(),
        StatusCode::FORBIDDEN
    );
    let htmx = tester
        .get(app.url("/admin/audit"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(htmx.status(), StatusCode::FORBIDDEN);
    assert!(
        htmx.headers()["hx-trigger"]
            .to_str()
            .unwrap()
            .contains("toast")
    );
    let anonymous = app.get(&app.client(), "/admin/audit").await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    let denied = app.audit("access.denied").await;
    let actors: Vec<&str> = denied.iter().map(|(_, a, _)| a.as_str()).collect();
    assert_eq!(
        actors,
        vec![
            "member@example.test",
            "tester@example.test",
            "tester@example.test",
            "anonymous"
        ]
    );
    assert!(denied.iter().all(|(o, _, _)| o == "denied"));
    assert!(denied[1].2.contains("audit.read"));
}

#[tokio::test(flavor = "multi_thread")]
async fn htmx_request_without_session_gets_hx_redirect() {
    let app = TestApp::spawn().await;
    let res = app
        .client()
        .get(app.url("/admin/audit?outcome=denied"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["hx-redirect"],
        "/login?next=%2Fadmin%2Faudit%3Foutcome%3Ddenied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_anonymous_flood_adds_a_few_rows_and_keeps_its_count() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use futures_util::StreamExt;
    use sowat_admin::db::schema::{audit_events, sessions};
    let app = TestApp::spawn().await;
    let count = |table: &'static str| {
        let app = &app;
        async move {
            let mut db = app.db().await;
            match table {
                "audit" => sowat_admin::db_run!(&mut db, |c| audit_events::table
                    .count()
                    .get_result::<i64>(c)
                    .await),
                _ => sowat_admin::db_run!(&mut db, |c| sessions::table
                    .count()
                    .get_result::<i64>(c)
                    .await),
            }
            .expect("count")
        }
    };
    let (audit_before, sessions_before) = (count("audit").await, count("sessions").await);
    let first_minute = app.clock.now().unix_timestamp() / 60;
    let client = app.client();
    let app_ref = &app;
    let probes = (0..2_000).map(|i| {
        let client = client.clone();
        let app = app_ref;
        let url = match i % 4 {
            0 => app.url("/admin/users"),
            1 => app.url(&format!("/admin/users/{i}")),
            2 => app.url("/login"),
            _ => app.url("/admin"),
        };
        async move {
            if i % 8 == 7 {
                // A form with no token: refused by the CSRF check.
                client
                    .post(app.url("/admin/users"))
                    .form(&[("email", "x@y.z")])
                    .send()
                    .await
            } else {
                client.get(url).send().await
            }
        }
    });
    let answers = futures_util::stream::iter(probes)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(
        answers
            .iter()
            .all(|r| r.as_ref().is_ok_and(|r| !r.status().is_server_error()))
    );
    app.running()
        .state
        .anon_denials
        .flush(&app.running().state.pool, &app.clock, true)
        .await
        .expect("flush");
    let added = count("audit").await - audit_before;
    // Four kinds of probe (three paths denied, one form refused): at most a
    // first row and a row of repeats each, per minute the flood lasted.
    let minutes = app.clock.now().unix_timestamp() / 60 - first_minute + 1;
    assert!(
        added <= 8 * minutes,
        "{added} audit rows for 2,000 anonymous requests"
    );
    assert_eq!(
        count("sessions").await,
        sessions_before,
        "anonymous visits store no session"
    );
    // Every denial is accounted for: first rows plus summed repeats.
    let mut total = 0;
    for action in ["access.denied", "security.csrf_rejected"] {
        for (_, _, details) in app.audit(action).await {
            let d: serde_json::Value = serde_json::from_str(&details).expect("json");
            total += d["repeats"].as_i64().unwrap_or(1);
        }
    }
    // /login is public: its 500 visits are not denials.
    assert_eq!(total, 1_500, "denials counted");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_that_differ_for_htmx_say_so_in_vary() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let res = app.get(&c, "/admin/audit").await;
    assert_eq!(res.status(), StatusCode::OK);
    let vary: Vec<String> = res
        .headers()
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .collect();
    assert!(vary.iter().any(|v| v.contains("hx-request")), "{vary:?}");
}
