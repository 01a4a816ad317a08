//! The users area: list, filters, search, pagination, the user page and every
//! change, with its audit event; lifecycle, erase, export, bulk actions.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use sowat_admin::db::schema::{audit_events, login_events, outbox, sessions, users};
use sowat_admin::db_run;

use crate::harness::{
    Kind, PASSWORD, TestApp, TestUser, location, select_attr, select_text, task_of,
};

async fn emails_listed(app: &TestApp, c: &reqwest::Client, query: &str) -> Vec<String> {
    let res = app.get(c, &format!("/admin/users?{query}")).await;
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    let body = res.text().await.unwrap();
    let doc = scraper::Html::parse_document(&body);
    let sel = scraper::Selector::parse("#user-rows tr[data-id] td.col-email").unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

async fn audit_for(app: &TestApp, action: &str, user: i64) -> Vec<String> {
    let mut db = app.db().await;
    let id = user.to_string();
    db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::action.eq(action))
        .filter(audit_events::target_id.eq(&id))
        .select(audit_events::details)
        .load::<String>(c)
        .await)
    .unwrap()
}

async fn set_company(app: &TestApp, u: &TestUser, company: &str, name: &str) {
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(users::table.find(u.id))
        .set((
            users::company.eq(company),
            users::name.eq(name),
            users::name_sort.eq(name.to_lowercase()),
            users::search_keys.eq(sowat_admin::user_record::search_keys::column(
                name, &u.email, company
            )),
        ))
        .execute(c)
        .await)
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_and_search() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    let marie = app.create_user("marie.curie@radium.fr", &[], false).await;
    set_company(&app, &marie, "Institut du Radium", "Marie Curie").await;
    let pierre = app.create_user("pierre@lab.fr", &["analyst"], false).await;
    set_company(&app, &pierre, "Sorbonne", "Pierre Curie").await;
    let all = emails_listed(&app, &c, "").await;
    assert!(
        all.contains(&"marie.curie@radium.fr".to_owned()) && all.len() >= 3,
        "{all:?}"
    );
    // Substring of name, of company, of email; exact email; id.
    assert_eq!(emails_listed(&app, &c, "q=curie").await.len(), 2);
    assert_eq!(
        emails_listed(&app, &c, "q=RADIUM").await,
        vec!["marie.curie@radium.fr"]
    );
    assert_eq!(
        emails_listed(&app, &c, "q=bonne").await,
        vec!["pierre@lab.fr"]
    );
    assert_eq!(
        emails_listed(&app, &c, "q=pierre%40lab.fr").await,
        vec!["pierre@lab.fr"]
    );
    assert_eq!(
        emails_listed(&app, &c, &format!("q={}", marie.id)).await,
        vec!["marie.curie@radium.fr"]
    );
    // Filters.
    assert_eq!(
        emails_listed(&app, &c, "role=analyst").await,
        vec!["pierre@lab.fr"]
    );
    assert!(emails_listed(&app, &c, "status=SUSPENDED").await.is_empty());
    assert!(emails_listed(&app, &c, "type=INTERNAL").await.is_empty());
    assert_eq!(
        emails_listed(&app, &c, "type=EXTERNAL&q=curie&sort=name").await,
        vec!["marie.curie@radium.fr", "pierre@lab.fr"]
    );
    assert!(emails_listed(&app, &c, "from=2999-01-01").await.is_empty());
    // Hostile input never breaks the page.
    let long = "x".repeat(10_000);
    for q in [
        "%",
        "_",
        "%_%",
        "'",
        "\"",
        "' OR 1=1 --",
        "😀",
        "\"😀\" AND",
        "a\\b",
        long.as_str(),
        "NEAR(a b)",
        "*",
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let res = app.get(&c, &format!("/admin/users?q={encoded}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{q}");
        let res = app
            .get(&c, &format!("/admin/users/count?q={encoded}"))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{q}");
    }
    assert!(
        emails_listed(&app, &c, "q=%25").await.is_empty(),
        "% is literal"
    );
    // htmx asks for the results block only.
    let res = c
        .get(app.url("/admin/users?q=curie"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    let fragment = res.text().await.unwrap();
    assert!(!fragment.contains("<html") && fragment.contains("user-rows"));
    // The count is fetched separately.
    let count = app
        .get(&c, "/admin/users/count?q=curie")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        select_attr(&count, "#user-count", "data-count").as_deref(),
        Some("2")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cursor_pages_are_stable_under_inserts() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    for i in 0..60 {
        app.clock.advance(time::Duration::seconds(1));
        app.create_user(&format!("page{i:02}@example.test"), &[], false)
            .await;
    }
    let first = app
        .get(&c, "/admin/users?size=25&q=page")
        .await
        .text()
        .await
        .unwrap();
    let next = select_attr(&first, "#next-page", "href").expect("a next page");
    let page1 = select_text(&first, "#user-rows tr[data-id] td.col-email");
    assert_eq!(page1[0], "page59@example.test", "newest first");
    // New users arrive while reading: they do not shift the following pages.
    for i in 0..5 {
        app.clock.advance(time::Duration::seconds(1));
        app.create_user(&format!("pagenew{i}@example.test"), &[], false)
            .await;
    }
    let second = app.get(&c, &next).await.text().await.unwrap();
    let page2 = select_text(&second, "#user-rows tr[data-id] td.col-email");
    let third = app
        .get(&c, &select_attr(&second, "#next-page", "href").unwrap())
        .await
        .text()
        .await
        .unwrap();
    let page3 = select_text(&third, "#user-rows tr[data-id] td.col-email");
    assert!(
        select_attr(&third, "#next-page", "href").is_none(),
        "last page"
    );
    let mut seen: Vec<String> = page1.into_iter().chain(page2).chain(page3).collect();
    assert_eq!(seen.len(), 60, "no row repeated or skipped");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 60);
    // A forged cursor is ignored, not an error.
    assert_eq!(
        app.get(&c, "/admin/users?after=%21%21%21").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_edit_is_audited_and_email_stays_unique() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    let u = app.create_user("jean@example.test", &[], false).await;
    let path = format!("/admin/users/{}/profile", u.id);
    let res = app
        .post_form(
            &c,
            &path,
            &[
                ("email", "Jean.Dupont@Example.test"),
                ("name", "Jean Dupont"),
                ("company", "Dupont SA"),
                ("user_type", "INTERNAL"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let details = audit_for(&app, "user.updated", u.id).await;
    assert_eq!(details.len(), 1);
    let d: serde_json::Value = serde_json::from_str(&details[0]).unwrap();
    assert_eq!(d["before"]["email"], "jean@example.test");
    assert_eq!(d["after"]["email"], "Jean.Dupont@Example.test");
    assert_eq!(d["after"]["type"], "INTERNAL");
    // Case-insensitive uniqueness, shown inline (htmx gets the section back).
    let token = app.csrf(&c).await;
    let res = c
        .post(app.url(&path))
        .header("hx-request", "true")
        .form(&[
            ("email", admin.email.to_uppercase().as_str()),
            ("name", "X"),
            ("company", ""),
            ("user_type", "EXTERNAL"),
            ("_csrf", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert_eq!(
        select_text(&body, "#section-profile .form-error"),
        vec!["Another account already uses this email."]
    );
    assert_eq!(
        select_attr(&body, "input[name=email]", "value").as_deref(),
        Some(admin.email.to_uppercase().as_str()),
        "input kept"
    );
    let res = app
        .post_form(
            &c,
            &path,
            &[
                ("email", "not-an-email"),
                ("name", "X"),
                ("company", ""),
                ("user_type", "EXTERNAL"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = app
        .get(&c, &format!("/admin/users/{}", u.id))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        select_text(&page, "#profile-email"),
        vec!["Jean.Dupont@Example.test"]
    );
    assert_eq!(
        audit_for(&app, "user.updated", u.id).await.len(),
        1,
        "refusals change nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn suspending_needs_a_reason_and_ends_sessions() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let (victim, user) = app.client_as(Kind::Analyst).await;
    let user = user.unwrap();
    assert_eq!(app.get(&victim, "/admin").await.status(), StatusCode::OK);
    let path = format!("/admin/users/{}/status", user.id);
    let res = app
        .post_form(&c, &path, &[("status", "SUSPENDED"), ("reason", "  ")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post_form(
            &c,
            &path,
            &[("status", "SUSPENDED"), ("reason", "Chargeback")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&app.get(&victim, "/admin").await),
        "/login?next=%2Fadmin",
        "signed out at once"
    );
    let d: serde_json::Value =
        serde_json::from_str(&audit_for(&app, "user.status_changed", user.id).await[0]).unwrap();
    assert_eq!(
        (
            d["before"]["status"].as_str(),
            d["after"]["status"].as_str(),
            d["reason"].as_str()
        ),
        (Some("ACTIVE"), Some("SUSPENDED"), Some("Chargeback"))
    );
    assert_eq!(d["sessions_ended"], 1);
    let page = app
        .get(&c, &format!("/admin/users/{}", user.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        select_text(&page, "#section-profile dd")
            .iter()
            .any(|t| t.contains("Chargeback"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_and_the_last_administrator() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    let u = app.create_user("helper@example.test", &[], false).await;
    let path = format!("/admin/users/{}/roles", u.id);
    assert_eq!(
        app.post_form(&c, &path, &[("role", "support"), ("op", "grant")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let d: serde_json::Value =
        serde_json::from_str(&audit_for(&app, "user.role_granted", u.id).await[0]).unwrap();
    assert_eq!(d["after"], serde_json::json!(["support"]));
    assert_eq!(
        app.post_form(&c, &path, &[("role", "nonsense"), ("op", "grant")])
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Own roles: confirmation required, and the last admin stays.
    let own = format!("/admin/users/{}/roles", admin.id);
    assert_eq!(
        app.post_form(&c, &own, &[("role", "admin"), ("op", "remove")])
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let res = app
        .post_form(
            &c,
            &own,
            &[("role", "admin"), ("op", "remove"), ("confirm_self", "yes")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        select_text(&res.text().await.unwrap(), ".form-error")[0].contains("last administrator")
    );
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/status", admin.id),
            &[("status", "SUSPENDED"), ("reason", "test")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.post_form(&c, &format!("/admin/users/{}/delete", admin.id), &[])
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // With a second admin, the first may step down.
    app.post_form(&c, &path, &[("role", "admin"), ("op", "grant")])
        .await;
    let res = app
        .post_form(
            &c,
            &own,
            &[("role", "admin"), ("op", "remove"), ("confirm_self", "yes")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&c, "/admin/users").await.status(),
        StatusCode::FORBIDDEN,
        "no longer an admin"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn support_reads_and_notes_but_changes_nothing_else() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    let u = app.create_user("customer@example.test", &[], false).await;
    let page = app.get(&c, &format!("/admin/users/{}", u.id)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(
        select_attr(&body, "#section-status form", "action").is_none(),
        "no status form for support"
    );
    assert!(select_attr(&body, "#section-notes form", "action").is_some());
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/notes", u.id),
            &[("body", "Called about invoice #42")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body = app
        .get(&c, &format!("/admin/users/{}", u.id))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        select_text(&body, "#note-list .note-body"),
        vec!["Called about invoice #42"]
    );
    assert!(select_text(&body, "#note-list .muted")[0].starts_with("support@example.test"));
    assert_eq!(audit_for(&app, "user.note_added", u.id).await.len(), 1);
    for (path, form) in [
        ("status", vec![("status", "SUSPENDED"), ("reason", "x")]),
        ("roles", vec![("role", "admin"), ("op", "grant")]),
        ("delete", vec![]),
    ] {
        let res = app
            .post_form(&c, &format!("/admin/users/{}/{path}", u.id), &form)
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        app.post_form(
            &c,
            &format!("/admin/users/{}/notes", u.id),
            &[("body", " ")]
        )
        .await
        .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn second_factor_reset_and_password_reset_link() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let (victim, user) = app.client_as(Kind::Support).await;
    let user = user.unwrap();
    app.post_form(&c, &format!("/admin/users/{}/reset-totp", user.id), &[])
        .await;
    assert_eq!(
        app.get(&victim, "/admin").await.status(),
        StatusCode::SEE_OTHER,
        "signed out"
    );
    let fresh = app.client();
    let res = app.login_password(&fresh, &user.email, PASSWORD).await;
    assert_eq!(location(&res), "/account/totp", "must enroll again");

    let res = app
        .post_form(&c, &format!("/admin/users/{}/password-reset", user.id), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mut db = app.db().await;
    let (to, body): (String, String) = db_run!(&mut db, |c| outbox::table
        .order(outbox::id.desc())
        .select((outbox::recipient, outbox::body))
        .first(c)
        .await)
    .unwrap();
    assert_eq!(to, user.email);
    let link = body
        .lines()
        .find(|l| l.contains("/reset/"))
        .unwrap()
        .trim()
        .to_owned();
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    let anon = app.client();
    assert_eq!(app.get(&anon, &path).await.status(), StatusCode::OK);
    let res = app
        .post_form(&anon, &path, &[("password", "short"), ("confirm", "short")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post_form(
            &anon,
            &path,
            &[
                ("password", "brand-new-harbour-77"),
                ("confirm", "brand-new-harbour-77"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/login");
    assert_eq!(
        app.get(&anon, &path).await.status(),
        StatusCode::NOT_FOUND,
        "used once"
    );
    assert_eq!(
        app.login_password(&app.client(), &user.email, PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_password(&app.client(), &user.email, "brand-new-harbour-77")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_user_with_invitation() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    assert_eq!(
        app.get(&c, "/admin/users/new").await.status(),
        StatusCode::OK
    );
    let res = app
        .post_form(
            &c,
            "/admin/users",
            &[
                ("email", "new.hire@sowat.io"),
                ("name", "New Hire"),
                ("company", "sowat.io"),
                ("user_type", "INTERNAL"),
                ("roles", "support"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    let link = select_text(&body, "#invite-link").pop().unwrap();
    let res = app
        .post_form(
            &c,
            "/admin/users",
            &[
                ("email", "NEW.HIRE@sowat.io"),
                ("name", "Again"),
                ("user_type", "INTERNAL"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "duplicate email refused inline"
    );
    let pending = emails_listed(&app, &c, "status=PENDING").await;
    assert_eq!(pending, vec!["new.hire@sowat.io"]);
    let anon = app.client();
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    let get = app.get(&anon, &path).await;
    let status = get.status();
    let invitation = get.text().await.unwrap();
    assert_eq!(
        select_text(&invitation, "h1"),
        vec!["Create your account"],
        "not an administrator's"
    );
    assert!(
        select_text(&invitation, "#setup-intro")[0].contains("as Support"),
        "names the role granted"
    );
    assert_eq!(status, StatusCode::OK, "{path}: {}", invitation);
    let res = app
        .post_form(
            &anon,
            &path,
            &[
                ("name", "New Hire"),
                ("password", "violet-tram-harbour-99"),
                ("confirm", "violet-tram-harbour-99"),
            ],
        )
        .await;
    assert_eq!(
        location(&res),
        "/account/totp",
        "support role: enroll first ({})",
        res.status()
    );
    assert_eq!(
        emails_listed(&app, &c, "status=ACTIVE&q=new.hire").await,
        vec!["new.hire@sowat.io"]
    );
    assert_eq!(
        emails_listed(&app, &c, "role=support&q=new.hire")
            .await
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_delete_restore_and_purge() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let u = app.create_user("leaving@example.test", &[], false).await;
    let res = app
        .post_form(&c, &format!("/admin/users/{}/delete", u.id), &[])
        .await;
    assert_eq!(location(&res), "/admin/users");
    assert!(
        !emails_listed(&app, &c, "").await.contains(&u.email),
        "hidden from lists"
    );
    assert_eq!(
        emails_listed(&app, &c, "status=DELETED").await,
        vec![u.email.clone()]
    );
    app.post_form(&c, &format!("/admin/users/{}/restore", u.id), &[])
        .await;
    assert!(emails_listed(&app, &c, "").await.contains(&u.email));
    app.post_form(&c, &format!("/admin/users/{}/delete", u.id), &[])
        .await;
    let state = &app.running().state;
    app.clock.advance(time::Duration::days(29));
    assert_eq!(
        sowat_admin::users::tasks::purge::purge_deleted(&state.pool, &app.clock)
            .await
            .unwrap(),
        0
    );
    app.clock.advance(time::Duration::days(2));
    assert_eq!(
        sowat_admin::users::tasks::purge::purge_deleted(&state.pool, &app.clock)
            .await
            .unwrap(),
        1
    );
    let mut db = app.db().await;
    let email: String = db_run!(&mut db, |c| users::table
        .find(u.id)
        .select(users::email)
        .first(c)
        .await)
    .unwrap();
    assert_eq!(email, format!("erased-user-{}@erased.invalid", u.id));
    assert_eq!(audit_for(&app, "user.purged", u.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn erase_leaves_no_personal_data() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let (victim, user) = app.client_as(Kind::Analyst).await;
    let user = user.unwrap();
    set_company(&app, &user, "Secret Corp", "Ana Lyst").await;
    app.post_form(
        &c,
        &format!("/admin/users/{}/notes", user.id),
        &[("body", "Lives at 3 rue X")],
    )
    .await;
    app.post_form(
        &c,
        &format!("/admin/users/{}/profile", user.id),
        &[
            ("email", &user.email),
            ("name", "Ana Lyst-Renamed"),
            ("company", "Secret Corp"),
            ("user_type", "EXTERNAL"),
        ],
    )
    .await;
    let path = format!("/admin/users/{}/erase", user.id);
    let res = app
        .post_form(&c, &path, &[("confirm_email", "wrong@example.test")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post_form(&c, &path, &[("confirm_email", &user.email.to_uppercase())])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&victim, "/admin").await.status(),
        StatusCode::SEE_OTHER,
        "signed out"
    );

    let mut db = app.db().await;
    let u = sowat_admin::users::store::get(&mut db, user.id)
        .await
        .unwrap()
        .unwrap();
    let alias = format!("erased-user-{}", user.id);
    assert_eq!(
        (u.email.as_str(), u.email_lower.as_str()),
        (
            format!("{alias}@erased.invalid").as_str(),
            format!("{alias}@erased.invalid").as_str()
        )
    );
    assert_eq!(
        (u.name.as_str(), u.name_sort.as_str(), u.company.as_str()),
        (alias.as_str(), alias.as_str(), "")
    );
    assert!(
        u.password_hash.is_none()
            && u.totp_secret.is_none()
            && !u.totp_enabled
            && u.totp_last_step.is_none()
            && u.locale.is_none()
    );
    assert!(u.deleted_at.is_some() && u.erased_at.is_some());
    assert_eq!(u.status_reason.as_deref(), Some("erased"));
    assert!(
        sowat_admin::users::store::role_keys_of(&mut db, user.id)
            .await
            .unwrap()
            .is_empty(),
        "an erased user keeps no platform role"
    );
    let traces: Vec<(Option<String>, Option<String>)> = db_run!(&mut db, |c| login_events::table
        .filter(login_events::user_id.eq(user.id))
        .select((login_events::ip, login_events::user_agent))
        .load(c)
        .await)
    .unwrap();
    assert!(!traces.is_empty() && traces.iter().all(|(ip, ua)| ip.is_none() && ua.is_none()));
    let live: i64 = db_run!(&mut db, |c| sessions::table
        .filter(sessions::user_id.eq(user.id))
        .count()
        .get_result(c)
        .await)
    .unwrap();
    assert_eq!(live, 0);
    let rows: Vec<(String, Option<String>, Option<String>, String)> =
        db_run!(&mut db, |c| audit_events::table
            .select((
                audit_events::actor_label,
                audit_events::ip,
                audit_events::user_agent,
                audit_events::details
            ))
            .load(c)
            .await)
        .unwrap();
    for (label, ip, ua, details) in &rows {
        let all = format!("{label} {details}").to_lowercase();
        for personal in [user.email.as_str(), "ana lyst", "secret corp", "lives at"] {
            assert!(
                !all.contains(personal),
                "audit still holds {personal}: {all}"
            );
        }
        if label == &alias {
            assert!(ip.is_none() && ua.is_none());
        }
    }
    assert!(
        rows.iter().any(|(l, ..)| l == &alias),
        "events kept under the pseudonym"
    );
    let page = app
        .get(&c, &format!("/admin/users/{}", user.id))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(select_text(&page, "#erased-banner").len(), 1);
    assert!(
        select_text(&page, "#note-list li").is_empty(),
        "notes about the person are gone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gdpr_export_contains_everything() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let (_victim, user) = app.client_as(Kind::Support).await;
    let user = user.unwrap();
    app.post_form(
        &c,
        &format!("/admin/users/{}/notes", user.id),
        &[("body", "VIP")],
    )
    .await;
    let res = app
        .post_form(&c, &format!("/admin/users/{}/export", user.id), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let task = task_of(&res);
    let t = app.wait_for_task(task).await;
    assert_eq!(t.state, "succeeded", "{:?}", t.last_error);
    let res = app.download(&c, task).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["user"]["email"], user.email.as_str());
    assert_eq!(doc["platform_roles"], serde_json::json!(["support"]));
    assert_eq!(doc["internal_notes"][0]["body"], "VIP");
    assert!(!doc["sign_ins"].as_array().unwrap().is_empty());
    assert!(!doc["sessions"].as_array().unwrap().is_empty());
    assert!(!doc["audit_events"].as_array().unwrap().is_empty());
    let text = doc.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("totp_secret"),
        "no secrets"
    );
    assert_eq!(audit_for(&app, "user.exported", user.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_suspend_and_export_with_confirmation() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            app.create_user(&format!("bulk{i}@acme.test"), &[], false)
                .await
                .id,
        );
    }
    let token = app.csrf(&c).await;
    let form = |extra: Vec<(&'static str, String)>| {
        let mut f: Vec<(&'static str, String)> = vec![
            ("_csrf", token.clone()),
            ("q", "acme.test".into()),
            ("all", "1".into()),
        ];
        f.extend(extra);
        f
    };
    let res = c
        .post(app.url("/admin/users/bulk/status"))
        .form(&form(vec![("action", "suspend".into())]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        select_text(&res.text().await.unwrap(), "#bulk-question"),
        vec!["Suspend 4 users?"]
    );
    assert!(
        emails_listed(&app, &c, "status=SUSPENDED").await.is_empty(),
        "nothing before confirmation"
    );
    let res = c
        .post(app.url("/admin/users/bulk/status"))
        .form(&form(vec![
            ("action", "suspend".into()),
            ("confirmed", "1".into()),
            ("reason", "Fraud ring".into()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let task = app.wait_for_task(task_of(&res)).await;
    assert_eq!(
        (task.state.as_str(), task.done, task.total),
        ("succeeded", 4, Some(4))
    );
    assert_eq!(emails_listed(&app, &c, "status=SUSPENDED").await.len(), 4);
    for id in &ids {
        assert_eq!(
            audit_for(&app, "user.status_changed", *id).await.len(),
            1,
            "one event per user"
        );
    }
    // Selected rows only, exported after confirmation.
    let res = c
        .post(app.url("/admin/users/bulk/export"))
        .form(&[
            ("_csrf", token.as_str()),
            ("ids", &ids[0].to_string()),
            ("ids", &ids[1].to_string()),
            ("confirmed", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.strip_prefix('\u{feff}').is_some_and(|c| {
        c.starts_with("id,email,name,company,status,type,roles,created_at,last_login_at")
    }));
    assert!(
        csv.contains("bulk0@acme.test") && csv.contains("SUSPENDED") && !csv.contains("bulk2@")
    );
    assert_eq!(audit_for(&app, "user.exported_csv", ids[0]).await.len(), 1);
    // Nothing selected: back to the list with a notice.
    let res = c
        .post(app.url("/admin/users/bulk/status"))
        .form(&[("_csrf", token.as_str()), ("action", "suspend")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn global_search_box() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    let u = app
        .create_user("zoe.martin@studiobleu.fr", &[], false)
        .await;
    let page = app.get(&c, "/admin").await.text().await.unwrap();
    assert_eq!(
        select_attr(&page, "#global-search input", "hx-get").as_deref(),
        Some("/admin/search")
    );
    let res = c
        .get(app.url("/admin/search?q=studiobl"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert_eq!(
        select_attr(&body, ".search-results a", "href"),
        Some(format!("/admin/users/{}", u.id))
    );
    // Without JavaScript, Enter with one match opens the user.
    assert_eq!(
        location(
            &app.get(&c, "/admin/search?q=zoe.martin%40studiobleu.fr")
                .await
        ),
        format!("/admin/users/{}", u.id)
    );
    // The box is not offered to those who cannot read users.
    let (tester, _) = app.client_as(Kind::Tester).await;
    let page = app.get(&tester, "/admin").await.text().await.unwrap();
    assert!(select_attr(&page, "#global-search input", "name").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_parameters_get_a_page_not_a_raw_error() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    for path in [
        "/admin/users?size=abc&from=31-31-2020&to=x&sort=%00&after=%FF",
        "/admin/audit?before=x&outcome=maybe",
        "/admin/users/count?size=-1",
    ] {
        assert_eq!(app.get(&c, path).await.status(), StatusCode::OK, "{path}");
    }
    let res = app.get(&c, "/admin/users/not-a-number").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        select_text(&res.text().await.unwrap(), "h1"),
        vec!["Page not found"]
    );
    let res = app
        .post_form(
            &c,
            "/admin/users/999999/status",
            &[("status", "ACTIVE"), ("reason", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn mails_follow_the_recipients_language() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let u = app.create_user("amelie@example.test", &[], false).await;
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(users::table.find(u.id))
        .set(users::locale.eq("fr"))
        .execute(c)
        .await)
    .unwrap();
    app.post_form(&c, &format!("/admin/users/{}/password-reset", u.id), &[])
        .await;
    let (subject, body): (String, String) = db_run!(&mut db, |c| outbox::table
        .order(outbox::id.desc())
        .select((outbox::subject, outbox::body))
        .first(c)
        .await)
    .unwrap();
    assert_eq!(subject, "Réinitialisez votre mot de passe sowat admin");
    assert!(
        body.starts_with("Bonjour,\n\n") && body.contains("/reset/"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resetting_your_own_second_factor_sends_you_to_sign_in() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    // Never enrolled: nothing to reset, so no button.
    let plain = app.create_user("plain@example.test", &[], false).await;
    let page = app
        .get(&c, &format!("/admin/users/{}", plain.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(select_attr(&page, "form[action$='/reset-totp']", "action").is_none());
    // Their own page warns, then the reset ends up on the sign-in page.
    let page = app
        .get(&c, &format!("/admin/users/{}", admin.id))
        .await
        .text()
        .await
        .unwrap();
    let confirm = select_attr(&page, "form[action$='/reset-totp']", "hx-confirm").unwrap();
    assert!(confirm.contains("signed out"), "{confirm}");
    let token = app.csrf(&c).await;
    let res = c
        .post(app.url(&format!("/admin/users/{}/reset-totp", admin.id)))
        .header("hx-request", "true")
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["hx-redirect"], "/login?notice=totp_reset");
    let page = app
        .get(&c, "/login?notice=totp_reset")
        .await
        .text()
        .await
        .unwrap();
    assert!(select_text(&page, "#login-notice")[0].contains("second factor was reset"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_dates_in_the_url_are_pointed_out() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    let problem = |query: &'static str| {
        let (app, c) = (&app, &c);
        async move {
            let page = app
                .get(c, &format!("/admin/users?{query}"))
                .await
                .text()
                .await
                .unwrap();
            select_text(&page, "#date-problem")
        }
    };
    assert!(problem("from=2026-01-01&to=2026-02-01").await.is_empty());
    assert!(problem("from=2026-13-45").await[0].contains("not a date"));
    assert!(problem("to=yesterday").await[0].contains("not a date"));
    assert!(problem("from=2026-03-01&to=2026-02-01").await[0].contains("after"));
}

#[tokio::test(flavor = "multi_thread")]
async fn support_sends_a_password_reset_link_but_cannot_reset_the_second_factor() {
    let app = TestApp::spawn().await;
    let (support, _) = app.client_as(Kind::Support).await;
    let (_, customer) = app.client_as(Kind::Analyst).await;
    let customer = customer.unwrap();
    let page = app
        .get(&support, &format!("/admin/users/{}", customer.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(select_attr(&page, "form[action$='/password-reset']", "action").is_some());
    assert!(select_attr(&page, "form[action$='/reset-totp']", "action").is_none());
    let res = app
        .post_form(
            &support,
            &format!("/admin/users/{}/password-reset", customer.id),
            &[],
        )
        .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(app.audit("user.password_reset_sent").await.len(), 1);
}
