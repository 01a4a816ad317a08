//! Concurrency: requests racing each other must keep every rule (lockout,
//! TOTP replay, the last Administrator, unique emails) and never starve the
//! connection pool. Run on both engines; the races only exist on
//! PostgreSQL, where transactions really run side by side.

use futures_util::future::join_all;
use reqwest::{Client, Response, StatusCode};

use crate::harness::{Kind, PASSWORD, TestApp, location};

async fn post_with(
    app: &TestApp,
    client: &Client,
    path: &str,
    fields: Vec<(&str, &str)>,
    token: &str,
) -> Response {
    let mut form = fields;
    form.push(("_csrf", token));
    client
        .post(app.url(path))
        .form(&form)
        .send()
        .await
        .expect("POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_bad_sign_ins_does_not_starve_the_pool() {
    // The test pool has 4 connections; 12 sign-ins at once used to each hold
    // one while asking for a second, and stall into 503s.
    let app = TestApp::spawn().await;
    let mut clients = Vec::new();
    for i in 0..12 {
        let c = app.client();
        let token = app.csrf(&c).await;
        let user = app
            .create_user(&format!("burst{i}@example.test"), &[], false)
            .await;
        clients.push((c, token, user.email));
    }
    let attempts = clients.iter().map(|(c, token, email)| {
        post_with(
            &app,
            c,
            "/login",
            vec![
                ("email", email.as_str()),
                ("password", "not-the-password"),
                ("next", "/"),
            ],
            token,
        )
    });
    let (answers, health) = tokio::join!(
        join_all(attempts),
        app.client().get(app.url("/readyz")).send()
    );
    for res in answers {
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(health.expect("ready").status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_passwords_get_five_tries_in_all() {
    let app = TestApp::spawn().await;
    let user = app.create_user("target@example.test", &[], false).await;
    let mut clients = Vec::new();
    for _ in 0..12 {
        let c = app.client();
        let token = app.csrf(&c).await;
        clients.push((c, token));
    }
    let attempts = clients.iter().map(|(c, token)| {
        post_with(
            &app,
            c,
            "/login",
            vec![
                ("email", user.email.as_str()),
                ("password", "wrong-password-x"),
                ("next", "/"),
            ],
            token,
        )
    });
    for res in join_all(attempts).await {
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let failures = app.audit("auth.sign_in_failed").await;
    let checked = failures
        .iter()
        .filter(|f| f.2.contains("bad_password"))
        .count();
    let locked = failures.iter().filter(|f| f.2.contains("locked")).count();
    assert_eq!(
        checked, 5,
        "exactly five passwords were checked: {failures:?}"
    );
    assert_eq!(locked, 7);
    let res = app
        .login_password(&app.client(), &user.email, PASSWORD)
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "locked, even with the right password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_totp_code_sent_twice_at_once_signs_in_once() {
    let app = TestApp::spawn().await;
    let user = app.create_kind(Kind::Support).await.expect("user");
    let (a, b) = (app.client(), app.client());
    for c in [&a, &b] {
        let res = app.login_password(c, &user.email, &user.password).await;
        assert!(location(&res).starts_with("/login/totp"));
    }
    app.clock.advance(time::Duration::seconds(30));
    let code = app.code(&user);
    let (ta, tb) = (app.csrf(&a).await, app.csrf(&b).await);
    let fields = [("code", code.as_str()), ("next", "/")];
    let (ra, rb) = tokio::join!(
        post_with(&app, &a, "/login/totp", fields.to_vec(), &ta),
        post_with(&app, &b, "/login/totp", fields.to_vec(), &tb)
    );
    let mut statuses = [ra.status(), rb.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::SEE_OTHER, StatusCode::UNAUTHORIZED],
        "the code works once"
    );
    assert_eq!(app.audit("auth.sign_in").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_administrators_suspending_each_other_leave_one() {
    let app = TestApp::spawn().await;
    for round in 0..5 {
        let first = app
            .create_user(&format!("first{round}@sowat.test"), &["admin"], true)
            .await;
        let second = app
            .create_user(&format!("second{round}@sowat.test"), &["admin"], true)
            .await;
        let (a, b) = (app.client(), app.client());
        app.sign_in(&a, &first).await;
        app.sign_in(&b, &second).await;
        // Earlier rounds' admins are suspended first, so these two are the last.
        let (ta, tb) = (app.csrf(&a).await, app.csrf(&b).await);
        let (pa, pb) = (
            format!("/admin/users/{}/status", second.id),
            format!("/admin/users/{}/status", first.id),
        );
        let fields = [("status", "SUSPENDED"), ("reason", "race")];
        let (ra, rb) = tokio::join!(
            post_with(&app, &a, &pa, fields.to_vec(), &ta),
            post_with(&app, &b, &pb, fields.to_vec(), &tb)
        );
        for r in [&ra, &rb] {
            assert!(
                r.status().is_success()
                    || r.status().is_redirection()
                    || r.status() == StatusCode::UNPROCESSABLE_ENTITY
                    || r.status() == StatusCode::FORBIDDEN,
                "round {round}: {}",
                r.status()
            );
        }
        let active_admins = active_admin_count(&app).await;
        assert_eq!(
            active_admins, 1,
            "round {round}: exactly one administrator left"
        );
        // One of the two was suspended: the survivor is the only admin
        // the next round's pair races against, and it is not part of it.
        assert!(is_suspended(&app, first.id).await != is_suspended(&app, second.id).await);
        suspend_directly(
            &app,
            if is_suspended(&app, first.id).await {
                second.id
            } else {
                first.id
            },
        )
        .await;
    }
}

async fn active_admin_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::{roles, user_roles, users};
    use sowat_admin::db::types::UserStatus;
    let mut db = app.db().await;
    sowat_admin::db_run!(&mut db, |c| user_roles::table
        .inner_join(roles::table)
        .inner_join(users::table)
        .filter(roles::key.eq("admin"))
        .filter(users::status.eq(UserStatus::Active))
        .filter(users::deleted_at.is_null())
        .count()
        .get_result::<i64>(c)
        .await)
    .expect("count")
}

/// Takes the round's survivor out of the next round (not through the
/// product, which would refuse: it is the last administrator).
async fn suspend_directly(app: &TestApp, id: i64) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::users;
    use sowat_admin::db::types::UserStatus;
    let mut db = app.db().await;
    sowat_admin::db_run!(&mut db, |c| diesel::update(users::table.find(id))
        .set(users::status.eq(UserStatus::Suspended))
        .execute(c)
        .await)
    .expect("suspend");
}

async fn is_suspended(app: &TestApp, id: i64) -> bool {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::users;
    use sowat_admin::db::types::UserStatus;
    let mut db = app.db().await;
    let status: UserStatus = sowat_admin::db_run!(&mut db, |c| users::table
        .find(id)
        .select(users::status)
        .first(c)
        .await)
    .expect("status");
    status == UserStatus::Suspended
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_email_created_twice_at_once_is_an_inline_error() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.client(), app.client());
    app.sign_in(
        &a,
        &app.create_user("one@sowat.test", &["admin"], true).await,
    )
    .await;
    app.sign_in(
        &b,
        &app.create_user("two@sowat.test", &["admin"], true).await,
    )
    .await;
    let (ta, tb) = (app.csrf(&a).await, app.csrf(&b).await);
    let fields = [
        ("email", "twin@example.test"),
        ("name", "Twin"),
        ("company", ""),
        ("user_type", "EXTERNAL"),
    ];
    let (ra, rb) = tokio::join!(
        post_with(&app, &a, "/admin/users", fields.to_vec(), &ta),
        post_with(&app, &b, "/admin/users", fields.to_vec(), &tb)
    );
    let mut statuses = [ra.status(), rb.status()];
    statuses.sort();
    assert!(
        statuses[0].is_redirection() || statuses[0].is_success(),
        "{statuses:?}"
    );
    assert_eq!(
        statuses[1],
        StatusCode::UNPROCESSABLE_ENTITY,
        "{statuses:?}"
    );
}
