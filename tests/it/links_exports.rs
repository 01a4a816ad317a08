//! One-time links die with the account's standing; exports are complete and
//! safe in any spreadsheet.

use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use sowat_admin::db::schema::{outbox, users};
use sowat_admin::db::types::UserStatus;
use sowat_admin::db_run;

use crate::harness::{Kind, TestApp, task_of};

/// The link in the newest mail to `email`, as a path.
async fn mailed_link(app: &TestApp, email: &str) -> String {
    let mut db = app.db().await;
    let body: String = db_run!(&mut db, |c| outbox::table
        .filter(outbox::recipient.eq(email))
        .order(outbox::id.desc())
        .select(outbox::body)
        .first(c)
        .await)
    .expect("a mail");
    let link = body
        .lines()
        .find(|l| l.contains("/setup/") || l.contains("/reset/"))
        .expect("a link")
        .trim();
    link.strip_prefix(&app.base).expect("local link").to_owned()
}

async fn status_of(app: &TestApp, id: i64) -> UserStatus {
    let mut db = app.db().await;
    db_run!(&mut db, |c| users::table
        .find(id)
        .select(users::status)
        .first(c)
        .await)
    .expect("status")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invitation_dies_with_suspension_and_deletion() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    for (email, end) in [
        ("suspended@example.test", "suspend"),
        ("deleted@example.test", "delete"),
    ] {
        let res = app
            .post_form(
                &admin,
                "/admin/users",
                &[
                    ("email", email),
                    ("name", "Invited"),
                    ("company", ""),
                    ("user_type", "EXTERNAL"),
                ],
            )
            .await;
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "{email}: {}",
            res.status()
        );
        let mut db = app.db().await;
        let id: i64 = db_run!(&mut db, |c| users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first(c)
            .await)
        .expect("created");
        drop(db);
        let link = mailed_link(&app, email).await;
        let anon = app.client();
        assert_eq!(
            app.get(&anon, &link).await.status(),
            StatusCode::OK,
            "the invitation works at first"
        );
        let res = match end {
            "suspend" => {
                app.post_form(
                    &admin,
                    &format!("/admin/users/{id}/status"),
                    &[("status", "SUSPENDED"), ("reason", "fraud")],
                )
                .await
            }
            _ => {
                app.post_form(&admin, &format!("/admin/users/{id}/delete"), &[])
                    .await
            }
        };
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            app.get(&anon, &link).await.status(),
            StatusCode::NOT_FOUND,
            "{end}: link revoked"
        );
        let res = app
            .post_form(
                &anon,
                &link,
                &[
                    ("name", "Back"),
                    ("password", "brand-new-harbour-77"),
                    ("confirm", "brand-new-harbour-77"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{end}: setup refused");
        if end == "suspend" {
            assert_eq!(
                status_of(&app, id).await,
                UserStatus::Suspended,
                "still suspended"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_newest_reset_link_works() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let user = app.create_user("forgetful@example.test", &[], false).await;
    let path = format!("/admin/users/{}/password-reset", user.id);
    app.post_form(&admin, &path, &[]).await;
    let first = mailed_link(&app, &user.email).await;
    app.post_form(&admin, &path, &[]).await;
    let second = mailed_link(&app, &user.email).await;
    assert_ne!(first, second);
    let anon = app.client();
    assert_eq!(
        app.get(&anon, &first).await.status(),
        StatusCode::NOT_FOUND,
        "replaced"
    );
    assert_eq!(app.get(&anon, &second).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_cells_stay_cells_in_every_locale() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let user = app.create_user("csv@example.test", &[], false).await;
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(users::table.find(user.id))
        .set((
            users::name.eq("Dupont;=1+1"),
            users::company.eq("Café\t@SUM(A1)")
        ))
        .execute(c)
        .await)
    .expect("rename");
    drop(db);
    let token = app.csrf(&admin).await;
    let res = admin
        .post(app.url("/admin/users/bulk/export"))
        .form(&[
            ("_csrf", token.as_str()),
            ("ids", &user.id.to_string()),
            ("confirmed", "1"),
        ])
        .send()
        .await
        .expect("export");
    let bytes = res.bytes().await.expect("body");
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "UTF-8 byte order mark for Excel"
    );
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    assert!(text.contains("\"Dupont;'=1+1\""), "{text}");
    assert!(text.contains("\"Café\t'@SUM(A1)\""), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gdpr_export_holds_every_sign_in_and_event() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let user = app.create_user("history@example.test", &[], false).await;
    let id = user.id;
    let mut db = app.db().await;
    // More than one batch of each, written in bulk.
    let sql = format!(
        "INSERT INTO login_events (user_id, at, client_id, event, success) \
         SELECT {id}, '2026-01-01 00:00:00', 'web', 'sign_in', {t} FROM ({series}) s; \
         INSERT INTO audit_events (at, actor_type, actor_label, action, target_type, target_id, outcome, details) \
         SELECT '2026-01-01 00:00:00', 'system', 'system', 'user.updated', 'user', '{id}', 'allowed', '{{}}' FROM ({series}) s;",
        t = if db.is_sqlite() { "1" } else { "true" },
        series = if db.is_sqlite() {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2345) SELECT i FROM n"
        } else {
            "SELECT generate_series(1, 2345) AS i"
        }
    );
    sowat_admin::db_run!(&mut db, |c| c.batch_execute(&sql).await).expect("history");
    drop(db);
    let res = app
        .post_form(&admin, &format!("/admin/users/{id}/export"), &[])
        .await;
    let task = app.wait_for_task(task_of(&res)).await;
    assert_eq!(task.state, "succeeded", "{:?}", task.last_error);
    let res = app.download(&admin, task.id).await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: serde_json::Value = res.json().await.expect("one JSON document");
    assert_eq!(doc["user"]["email"], "history@example.test");
    assert_eq!(doc["sign_ins"].as_array().map(Vec::len), Some(2345));
    let events = doc["audit_events"].as_array().expect("events");
    assert!(events.len() >= 2345, "{}", events.len());
}
