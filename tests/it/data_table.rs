//! The data table as its users drive it: sorting by header in both
//! directions, previous and next pages, the range and count, filter chips,
//! remembered columns and page size, and bulk results that name what was
//! left unchanged.

use reqwest::StatusCode;

use crate::harness::{Kind, TestApp, location, select_attr, select_text};

const EMAILS: &str = "#user-rows tr[data-id] td.col-email";

async fn body(app: &TestApp, c: &reqwest::Client, path: &str) -> String {
    let res = app.get(c, path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_sort_both_ways_and_pages_go_back_and_forth() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    for i in 0..60 {
        app.clock.advance(time::Duration::seconds(1));
        app.create_user(&format!("row{i:02}@example.test"), &[], false)
            .await;
    }
    // The name header sorts A to Z; clicked again, Z to A.
    let first = body(&app, &c, "/admin/users?q=row&size=100").await;
    let by_name = select_attr(&first, "th.col-name a.sort", "href").unwrap();
    assert_eq!(by_name, "/admin/users?q=row&sort=name&size=100");
    let asc = body(&app, &c, &by_name).await;
    assert_eq!(
        select_attr(&asc, "th.col-name", "aria-sort").as_deref(),
        Some("ascending")
    );
    let reverse = select_attr(&asc, "th.col-name a.sort", "href").unwrap();
    assert_eq!(reverse, "/admin/users?q=row&sort=-name&size=100");
    let desc = body(&app, &c, &reverse).await;
    let (a, d) = (select_text(&asc, EMAILS), select_text(&desc, EMAILS));
    assert_eq!(a.len(), 60);
    assert_eq!(
        a.iter().rev().collect::<Vec<_>>(),
        d.iter().collect::<Vec<_>>()
    );

    // Pages of 25, newest first: forward to the third, then back.
    let p1 = body(&app, &c, "/admin/users?q=row&size=25").await;
    assert_eq!(select_text(&p1, "#table-range"), vec!["1–25"]);
    assert!(
        select_attr(&p1, "#prev-page", "href").is_none(),
        "no previous on page one"
    );
    let p2 = body(&app, &c, &select_attr(&p1, "#next-page", "href").unwrap()).await;
    assert_eq!(select_text(&p2, "#table-range"), vec!["26–50"]);
    let p3 = body(&app, &c, &select_attr(&p2, "#next-page", "href").unwrap()).await;
    assert_eq!(select_text(&p3, "#table-range"), vec!["51–60"]);
    assert!(
        select_attr(&p3, "#next-page", "href").is_none(),
        "last page"
    );
    let back = body(&app, &c, &select_attr(&p3, "#prev-page", "href").unwrap()).await;
    assert_eq!(select_text(&back, EMAILS), select_text(&p2, EMAILS));
    assert_eq!(select_text(&back, "#table-range"), vec!["26–50"]);
    let home = select_attr(&back, "#prev-page", "href").unwrap();
    assert_eq!(
        home, "/admin/users?q=row&size=25",
        "page one is a plain link"
    );
    // The count completes the range.
    let count_href = select_attr(&p2, "#table-range", "hx-get").unwrap();
    let count = body(&app, &c, &count_href).await;
    assert!(count.contains("26–50 of 60"), "{count}");
    assert!(count.contains("Select all 60 matching users"), "{count}");
}

#[tokio::test(flavor = "multi_thread")]
async fn chips_name_each_filter_and_links_carry_only_what_is_set() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let page = body(
        &app,
        &c,
        "/admin/users?q=&status=SUSPENDED&type=&role=admin&from=&to=",
    )
    .await;
    let chips = select_text(&page, ".chips a.chip");
    assert_eq!(chips.len(), 2, "{chips:?}");
    assert!(chips[0].starts_with("Status: Suspended"), "{chips:?}");
    assert!(
        chips[1].starts_with("Platform role: Administrator"),
        "{chips:?}"
    );
    let remove_status = select_attr(&page, ".chips a.chip", "href").unwrap();
    assert_eq!(remove_status, "/admin/users?role=admin");
    assert_eq!(
        select_attr(&page, "#reset-filters", "href").as_deref(),
        Some("/admin/users")
    );
    // Nobody matches: the empty state says so and offers the reset.
    assert_eq!(
        select_text(&page, "#empty-state strong"),
        vec!["No user matches."]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn columns_and_page_size_are_remembered_per_person() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    for i in 0..30 {
        app.create_user(&format!("col{i:02}@example.test"), &[], false)
            .await;
    }
    let res = app
        .post_form(
            &c,
            "/account/preferences",
            &[
                ("name", "users.columns"),
                ("value", ""),
                ("value", "status"),
                ("value", "company"),
                ("next", "/admin/users"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/users");
    let res = app
        .post_form(
            &c,
            "/account/preferences",
            &[("name", "users.page_size"), ("value", "25")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = body(&app, &c, "/admin/users").await;
    let headers = select_text(&page, "#user-table thead th");
    assert!(headers.iter().any(|h| h.contains("Status")), "{headers:?}");
    assert!(!headers.iter().any(|h| h.contains("Email")), "{headers:?}");
    assert!(
        select_text(&page, EMAILS).is_empty(),
        "the email column is hidden"
    );
    assert_eq!(
        select_text(&page, "#user-rows tr[data-id]").len(),
        25,
        "remembered size"
    );
    // The URL still wins for this view.
    let wide = body(&app, &c, "/admin/users?size=50").await;
    assert_eq!(select_text(&wide, "#user-rows tr[data-id]").len(), 31);
    // Another person sees every column.
    let (other, _) = app.client_as(Kind::Support).await;
    let theirs = body(&app, &other, "/admin/users").await;
    assert!(!select_text(&theirs, EMAILS).is_empty());
    // Unknown names and values are refused, not stored.
    for fields in [
        [("name", "users.columns"), ("value", "password_hash")],
        [("name", "theme"), ("value", "dark")],
        [("name", "users.page_size"), ("value", "100000")],
    ] {
        let res = app.post_form(&c, "/account/preferences", &fields).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{fields:?}");
    }
    let changed = app.audit("user.preference_changed").await;
    assert_eq!(changed.len(), 2, "each change audited once");
    assert!(changed[0].2.contains("users.columns"));
    assert_eq!(changed[0].1, admin.email);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_result_names_who_was_left_unchanged_and_why() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    let target = app
        .create_user("bulk.target@example.test", &[], false)
        .await;
    let already = app.create_user("already@example.test", &[], false).await;
    let mut db = app.db().await;
    sowat_admin::db_run!(&mut db, |conn| {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use sowat_admin::db::schema::users;
        diesel::update(users::table.find(already.id))
            .set(users::status.eq(sowat_admin::db::types::UserStatus::Suspended))
            .execute(conn)
            .await
    })
    .unwrap();
    drop(db);
    // The modal's question warns before anything happens (htmx asks for it).
    let token = app.csrf(&c).await;
    let ids = [admin.id, target.id, already.id].map(|i| i.to_string());
    let mut form: Vec<(&str, &str)> = vec![("_csrf", &token), ("action", "suspend")];
    for id in &ids {
        form.push(("ids", id));
    }
    let dialog = c
        .post(app.url("/admin/users/bulk/status"))
        .header("hx-request", "true")
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(dialog.starts_with("<dialog"), "{dialog}");
    let warnings = select_text(&dialog, ".bulk-warning");
    assert_eq!(
        warnings.len(),
        2,
        "yourself and the last administrator: {warnings:?}"
    );
    assert_eq!(
        select_text(&dialog, "button.primary"),
        vec!["Suspend 3 users"]
    );
    form.push(("confirmed", "1"));
    form.push(("reason", "cleanup"));
    let res = c
        .post(app.url("/admin/users/bulk/status"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = body(&app, &c, &location(&res)).await;
    let flash = select_text(&page, "#flash").join("");
    assert!(flash.starts_with("1 user suspended."), "{flash}");
    assert!(
        flash.contains("you (You cannot suspend yourself"),
        "{flash}"
    );
    assert!(
        flash.contains("already@example.test (already in that status)"),
        "{flash}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_the_cap_the_count_is_an_estimate_close_to_the_truth() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::users;
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let state = app.running().state.clone();
    sowat_admin::seed::users(&state.pool, &app.clock, 25_000, None)
        .await
        .unwrap();
    let mut db = app.db().await;
    let active: i64 = sowat_admin::db_run!(&mut db, |conn| users::table
        .filter(users::status.eq(sowat_admin::db::types::UserStatus::Active))
        .filter(users::deleted_at.is_null())
        .count()
        .get_result(conn)
        .await)
    .unwrap();
    drop(db);
    let text = body(
        &app,
        &c,
        "/admin/users/count?status=ACTIVE&range=1%E2%80%9350",
    )
    .await;
    let shown = select_text(&text, "#user-count").join("");
    assert!(shown.starts_with("1–50 of about "), "{shown}");
    let about: i64 = shown
        .trim_start_matches("1–50 of about ")
        .replace(',', "")
        .parse()
        .unwrap();
    let error = (about - active).abs() as f64 / active as f64;
    assert!(error < 0.05, "estimated {about}, truly {active}");
    // Below the cap the count is exact.
    let exact = body(&app, &c, "/admin/users/count?status=PENDING").await;
    assert!(
        select_text(&exact, "#user-count")
            .join("")
            .ends_with("matching")
    );
    assert!(!exact.contains("about"));
}
