//! `/account`: one's own password, recovery codes, second factor and
//! sessions, as a person uses them.

use reqwest::StatusCode;
use sowat_admin::security::totp;

use crate::harness::{Kind, TestApp, location, select_text};

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let (c, user) = app.client_as(Kind::Support).await;
    let user = user.unwrap();
    // A second browser, signed in as the same person.
    let other = app.client();
    app.sign_in(&other, &user).await;
    let wrong = app
        .post_form(
            &c,
            "/account/password",
            &[
                ("current", "not it"),
                ("password", "a new long passphrase 42"),
                ("confirm", "a new long passphrase 42"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = wrong.text().await.unwrap();
    assert_eq!(
        select_text(&page, "#section-password .form-error"),
        vec!["The current password is not correct."]
    );
    let mismatch = app
        .post_form(
            &c,
            "/account/password",
            &[
                ("current", &user.password),
                ("password", "a new long passphrase 42"),
                ("confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ok = app
        .post_form(
            &c,
            "/account/password",
            &[
                ("current", &user.password),
                ("password", "a new long passphrase 42"),
                ("confirm", "a new long passphrase 42"),
            ],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let page = app.get(&c, "/account").await.text().await.unwrap();
    assert!(
        select_text(&page, "#flash")
            .join("")
            .contains("1 other session was signed out")
    );
    // The other browser is out; this one stays in.
    let res = other.get(app.url("/account")).send().await.unwrap();
    assert!(location(&res).starts_with("/login"), "other session ended");
    assert_eq!(app.get(&c, "/account").await.status(), StatusCode::OK);
    // The new password signs in; the old one does not.
    let fresh = app.client();
    let res = app
        .login_password(&fresh, &user.email, &user.password)
        .await;
    assert!(
        !location(&res).starts_with("/login/totp"),
        "old password refused"
    );
    let res = app
        .login_password(&fresh, &user.email, "a new long passphrase 42")
        .await;
    assert!(
        location(&res).starts_with("/login/totp"),
        "new password accepted"
    );
    let audited = app.audit("auth.password_changed").await;
    assert_eq!(audited.len(), 1);
    assert!(
        audited[0].2.contains("\"sessions_ended\":1"),
        "{}",
        audited[0].2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn new_recovery_codes_need_the_current_code_and_show_once() {
    let app = TestApp::spawn().await;
    let (c, user) = app.client_as(Kind::Admin).await;
    let user = user.unwrap();
    let bad = app
        .post_form(&c, "/account/recovery-codes", &[("code", "000000")])
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        select_text(&bad.text().await.unwrap(), "#section-factor .form-error").len(),
        1
    );
    app.clock.advance(time::Duration::seconds(30));
    // The code used, kept: the replay below sends this very code (a code
    // computed again could fall in the next 30-second step and be new).
    let used = app.code(&user);
    let res = app
        .post_form(&c, "/account/recovery-codes", &[("code", &used)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account/recovery-codes");
    let page = app
        .get(&c, "/account/recovery-codes")
        .await
        .text()
        .await
        .unwrap();
    let codes = select_text(&page, "#recovery-codes code");
    assert_eq!(codes.len(), 10);
    // Shown once: a reload goes back to the account page.
    let again = app.get(&c, "/account/recovery-codes").await;
    assert_eq!(location(&again), "/account");
    assert_eq!(app.audit("auth.recovery_codes_regenerated").await.len(), 1);
    // The same code cannot be used twice.
    let replay = app
        .post_form(&c, "/account/recovery-codes", &[("code", &used)])
        .await;
    assert_eq!(replay.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn moving_the_second_factor_keeps_the_old_one_until_the_new_one_works() {
    let app = TestApp::spawn().await;
    let (c, user) = app.client_as(Kind::Admin).await;
    let user = user.unwrap();
    // Without the current code, no new enrollment.
    let res = app
        .post_form(&c, "/account/totp/renew", &[("code", "123456")])
        .await;
    assert_eq!(location(&res), "/account");
    let page = app.get(&c, "/account/totp").await.text().await.unwrap();
    assert!(
        select_text(&page, "#totp-secret").is_empty(),
        "still enrolled, nothing new"
    );
    app.clock.advance(time::Duration::seconds(30));
    let res = app
        .post_form(&c, "/account/totp/renew", &[("code", &app.code(&user))])
        .await;
    assert_eq!(location(&res), "/account/totp");
    let page = app.get(&c, "/account/totp").await.text().await.unwrap();
    let secret =
        totp_rs::Secret::try_from_base32(select_text(&page, "#totp-secret").pop().unwrap())
            .unwrap()
            .as_bytes()
            .to_vec();
    assert_ne!(Some(&secret), user.totp_secret.as_ref());
    app.clock.advance(time::Duration::seconds(30));
    let t = totp::build(&secret, &user.email).unwrap();
    let res = app
        .post_form(
            &c,
            "/account/totp",
            &[("code", &totp::code_at(&t, app.clock.unix()))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        select_text(&res.text().await.unwrap(), "#recovery-codes code").len(),
        10
    );
    let enrolled = app.audit("auth.totp_enrolled").await;
    assert!(enrolled.last().unwrap().2.contains("\"renewed\":true"));
    // The new device signs in; the old one no longer does.
    let fresh = app.client();
    app.login_password(&fresh, &user.email, &user.password)
        .await;
    app.clock.advance(time::Duration::seconds(30));
    let old = app
        .post_form(
            &fresh,
            "/login/totp",
            &[("code", &app.code(&user)), ("next", "/")],
        )
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED, "old device refused");
    let new = app
        .post_form(
            &fresh,
            "/login/totp",
            &[
                ("code", &totp::code_at(&t, app.clock.unix())),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER, "new device accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_every_other_session_keeps_this_one() {
    let app = TestApp::spawn().await;
    let (c, user) = app.client_as(Kind::Analyst).await;
    let user = user.unwrap();
    let (b1, b2) = (app.client(), app.client());
    app.sign_in(&b1, &user).await;
    app.sign_in(&b2, &user).await;
    let page = app.get(&c, "/account").await.text().await.unwrap();
    assert!(page.contains("2 other active sessions"));
    let res = app.post_form(&c, "/account/sessions/others/end", &[]).await;
    assert_eq!(location(&res), "/account");
    for other in [&b1, &b2] {
        let res = other.get(app.url("/account")).send().await.unwrap();
        assert!(location(&res).starts_with("/login"));
    }
    let page = app.get(&c, "/account").await.text().await.unwrap();
    assert!(
        page.contains("2 other sessions signed out"),
        "{}",
        select_text(&page, "#flash").join("")
    );
    assert!(page.contains("0 other active sessions"));
}
