//! First administrator, sign-in with password and TOTP, recovery codes,
//! lockout, rate limit, account status.

use reqwest::StatusCode;
use sowat_admin::security::totp;

use crate::harness::{Kind, Options, PASSWORD, TestApp, location, select_attr, select_text};

/// The setup link printed at start walks to an enrolled, signed-in admin.
#[tokio::test(flavor = "multi_thread")]
async fn first_admin_setup_then_enrollment_then_sign_in() {
    let app = TestApp::spawn().await;
    let link = app
        .running()
        .setup_link
        .clone()
        .expect("a setup link while no admin exists");
    let path = link
        .strip_prefix(&app.base)
        .expect("link on the public URL")
        .to_owned();
    let c = app.client();
    let page = app.get(&c, &path).await;
    assert_eq!(page.status(), StatusCode::OK);
    // Policy errors are shown inline, nothing is created.
    let res = app
        .post_form(
            &c,
            &path,
            &[
                ("email", "root@sowat.io"),
                ("name", "Root"),
                ("password", "password1234"),
                ("confirm", "password1234"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(
        select_text(&body, ".form-error")[0].contains("too common"),
        "{body}"
    );
    let res = app
        .post_form(
            &c,
            &path,
            &[
                ("email", "root@sowat.io"),
                ("name", "Root Admin"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account/totp");
    // The link is single-use.
    assert_eq!(
        app.get(&app.client(), &path).await.status(),
        StatusCode::NOT_FOUND
    );
    // Until enrolled, the admin area sends to enrollment.
    let res = app.get(&c, "/admin").await;
    assert_eq!(location(&res), "/account/totp");
    let page = app.get(&c, "/account/totp").await.text().await.unwrap();
    let secret_b32 = select_text(&page, "#totp-secret")
        .pop()
        .expect("secret shown as text");
    assert!(
        select_attr(&page, "img.qr", "src")
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let secret = totp_rs::Secret::try_from_base32(&secret_b32)
        .unwrap()
        .as_bytes()
        .to_vec();
    let t = totp::build(&secret, "root@sowat.io").unwrap();
    let res = app
        .post_form(&c, "/account/totp", &[("code", "000000")])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a wrong first code does not activate"
    );
    let res = app
        .post_form(
            &c,
            "/account/totp",
            &[("code", &totp::code_at(&t, app.clock.unix()))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let codes = select_text(&res.text().await.unwrap(), "#recovery-codes code");
    assert_eq!(codes.len(), 10);
    assert_eq!(app.get(&c, "/admin").await.status(), StatusCode::OK);
    assert_eq!(app.audit("auth.totp_enrolled").await.len(), 1);
    assert_eq!(app.audit("auth.setup_completed").await.len(), 1);
    // Sign out, then in again with password and TOTP.
    let res = app.post_form(&c, "/logout", &[]).await;
    assert_eq!(location(&res), "/login?notice=signed_out");
    let page = app
        .get(&c, "/login?notice=signed_out")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        select_text(&page, "#login-notice"),
        vec!["You are signed out."]
    );
    let page = app
        .get(&c, "/login?notice=<b>hi</b>")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        select_text(&page, "#login-notice").is_empty(),
        "only known notices"
    );
    assert_eq!(
        location(&app.get(&c, "/admin").await),
        "/login?next=%2Fadmin"
    );
    let res = app.login_password(&c, "root@sowat.io", PASSWORD).await;
    assert!(location(&res).starts_with("/login/totp"));
    app.clock.advance(time::Duration::seconds(30));
    let res = app
        .post_form(
            &c,
            "/login/totp",
            &[
                ("code", &totp::code_at(&t, app.clock.unix())),
                ("next", "/admin"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/admin");
    assert_eq!(app.get(&c, "/admin").await.status(), StatusCode::OK);
    // No new link once an admin exists.
    let again = sowat_admin::auth::changes::first_admin_link(
        &app.running().state.pool,
        &app.clock,
        &app.running().state.secrets,
        |p| p.to_owned(),
    )
    .await
    .unwrap();
    assert!(again.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_unknown_account_look_the_same() {
    let app = TestApp::spawn().await;
    let user = app.create_kind(Kind::Support).await.unwrap();
    let c = app.client();
    let wrong = app
        .login_password(&c, &user.email, "not-the-password-at-all")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong = select_text(&wrong.text().await.unwrap(), ".form-error");
    let unknown = app
        .login_password(&c, "nobody@example.test", "not-the-password-at-all")
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown = select_text(&unknown.text().await.unwrap(), ".form-error");
    assert_eq!(wrong, unknown);
    let failures = app.audit("auth.sign_in_failed").await;
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().all(|(outcome, _, _)| outcome == "denied"));
    assert!(failures[0].2.contains("bad_password") && failures[1].2.contains("unknown_account"));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_and_replayed_totp_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.create_kind(Kind::Admin).await.unwrap();
    let c = app.client();
    app.login_password(&c, &user.email, PASSWORD).await;
    let res = app
        .post_form(&c, "/login/totp", &[("code", "123456")])
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let code = app.code(&user);
    let res = app.post_form(&c, "/login/totp", &[("code", &code)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Same code, same step, another browser: refused.
    let other = app.client();
    app.login_password(&other, &user.email, PASSWORD).await;
    let res = app
        .post_form(&other, "/login/totp", &[("code", &code)])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a used code cannot be replayed"
    );
    app.clock.advance(time::Duration::seconds(30));
    let res = app
        .post_form(&other, "/login/totp", &[("code", &app.code(&user))])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the next step's code works"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recovery_code_works_once() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let user = app
        .create_user("nora@example.test", &["admin"], false)
        .await;
    app.sign_in(&c, &user).await;
    // Enroll through the page to get real recovery codes.
    let page = app.get(&c, "/account/totp").await.text().await.unwrap();
    let secret =
        totp_rs::Secret::try_from_base32(select_text(&page, "#totp-secret").pop().unwrap())
            .unwrap()
            .as_bytes()
            .to_vec();
    let t = totp::build(&secret, &user.email).unwrap();
    let res = app
        .post_form(
            &c,
            "/account/totp",
            &[("code", &totp::code_at(&t, app.clock.unix()))],
        )
        .await;
    let codes = select_text(&res.text().await.unwrap(), "#recovery-codes code");
    app.post_form(&c, "/logout", &[]).await;

    let c = app.client();
    app.login_password(&c, &user.email, PASSWORD).await;
    let res = app
        .post_form(
            &c,
            "/login/totp",
            &[("code", &codes[3].to_uppercase()), ("next", "/admin")],
        )
        .await;
    assert_eq!(location(&res), "/admin");
    let page = app.get(&c, "/admin").await.text().await.unwrap();
    assert_eq!(select_text(&page, "#flash"), vec!["9 recovery codes left"]);
    let used = app.audit("auth.recovery_code_used").await;
    assert_eq!(used.len(), 1);
    assert!(used[0].2.contains("\"codes_left\":9"));
    app.post_form(&c, "/logout", &[]).await;

    let c = app.client();
    app.login_password(&c, &user.email, PASSWORD).await;
    let res = app
        .post_form(&c, "/login/totp", &[("code", &codes[3])])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a recovery code works once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn five_failures_lock_the_account_for_fifteen_minutes() {
    let app = TestApp::spawn().await;
    let user = app.create_kind(Kind::Support).await.unwrap();
    let c = app.client();
    for _ in 0..5 {
        let res = app
            .login_password(&c, &user.email, "wrong-password-x")
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = app.login_password(&c, &user.email, PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::UNAUTHORIZED,
        "the right password is refused while locked"
    );
    let failures = app.audit("auth.sign_in_failed").await;
    assert!(failures.last().unwrap().2.contains("locked"));
    app.clock.advance(time::Duration::minutes(14));
    assert_eq!(
        app.login_password(&c, &user.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.clock.advance(time::Duration::minutes(2));
    let res = app.login_password(&c, &user.email, PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "released after 15 minutes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_attempts_from_one_ip_get_429() {
    let app = TestApp::spawn_with(Options {
        login_attempts_per_minute: 20,
        ..Options::default()
    })
    .await;
    let c = app.client();
    let token = app.csrf(&c).await;
    // The limit counts per clock minute, and the test clock follows the
    // wall clock: start at a minute's first second, so the 21 attempts
    // cannot straddle two windows.
    let second = i64::from(app.clock.now().second());
    app.clock.advance(time::Duration::seconds(60 - second));
    let mut statuses = Vec::new();
    for i in 0..21 {
        let email = format!("x{i}@example.test");
        let res = c
            .post(app.url("/login"))
            .form(&[
                ("email", email.as_str()),
                ("password", "whatever-password"),
                ("_csrf", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert!(
        statuses[..20]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(statuses[20], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.audit("security.rate_limited").await.len(), 1);
    app.clock.advance(time::Duration::seconds(61));
    let res = app
        .login_password(&c, "x@example.test", "whatever-password")
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a new minute, a new allowance"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn suspended_and_pending_users_cannot_sign_in() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::users;
    use sowat_admin::db::types::UserStatus;
    let app = TestApp::spawn().await;
    let user = app.create_kind(Kind::Support).await.unwrap();
    for status in [
        UserStatus::Suspended,
        UserStatus::Pending,
        UserStatus::Inactive,
    ] {
        let mut db = app.db().await;
        sowat_admin::db_run!(&mut db, |c| diesel::update(users::table.find(user.id))
            .set(users::status.eq(status))
            .execute(c)
            .await)
        .unwrap();
        let res = app
            .login_password(&app.client(), &user.email, PASSWORD)
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_role_without_totp_must_enroll_first() {
    let app = TestApp::spawn().await;
    let user = app
        .create_user("new-support@example.test", &["support"], false)
        .await;
    let c = app.client();
    let res = app.login_password(&c, &user.email, PASSWORD).await;
    assert_eq!(location(&res), "/account/totp");
    for path in ["/admin", "/admin/audit", "/account/sessions"] {
        assert_eq!(
            location(&app.get(&c, path).await),
            "/account/totp",
            "{path}"
        );
    }
    let htmx = c
        .get(app.url("/admin"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(htmx.headers()["hx-redirect"], "/account/totp");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_events_record_ip_agent_and_client() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::login_events as l;
    let app = TestApp::spawn().await;
    let (_c, user) = app.client_as(Kind::Analyst).await;
    let user = user.unwrap();
    let mut db = app.db().await;
    let rows: Vec<(Option<String>, String, bool)> = sowat_admin::db_run!(&mut db, |c| l::table
        .filter(l::user_id.eq(user.id))
        .select((l::ip, l::client_id, l::success))
        .load(c)
        .await)
    .unwrap();
    assert_eq!(
        rows,
        vec![(Some("127.0.0.1".into()), "admin-ui".into(), true)]
    );
}
