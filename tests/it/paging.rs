//! Keyset pages stay exact in every sort and both directions: walking
//! "next" then "previous" gives the same rows as one big page, with ties on
//! the sort key, across the two ranked tiers of a search, and while rows
//! are inserted and deleted behind and ahead of the reader.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use sowat_admin::db::schema::users;
use sowat_admin::db_run;
use sowat_admin::user_record::model::name_sort_key;

use crate::harness::{Kind, TestApp, select_attr, select_text};

const ROWS: &str = "#user-rows tr[data-id] td.col-email";

/// The rows of a page, its next and previous links.
async fn page(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
) -> (Vec<String>, Option<String>, Option<String>) {
    let res = app.get(c, path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let body = res.text().await.unwrap();
    (
        select_text(&body, ROWS),
        select_attr(&body, "#next-page", "href"),
        select_attr(&body, "#prev-page", "href"),
    )
}

/// A user with this name, created `minutes` after a fixed time, signed in
/// `login` minutes after it (or never).
async fn person(app: &TestApp, i: usize, name: &str, minutes: i64, login: Option<i64>) -> i64 {
    let email = format!("p{i:03}@paging.test");
    let id = app.create_user(&email, &[], false).await.id;
    let base = time::macros::datetime!(2026-01-01 00:00);
    let created = base + time::Duration::minutes(minutes);
    let last = login.map(|m| base + time::Duration::minutes(m));
    let epoch = time::macros::datetime!(1970-01-01 00:00);
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(users::table.find(id))
        .set((
            users::name.eq(name),
            users::name_sort.eq(name_sort_key(name)),
            users::created_at.eq(created),
            users::last_login_at.eq(last),
            users::last_login_sort.eq(last.unwrap_or(epoch)),
        ))
        .execute(c)
        .await)
    .unwrap();
    id
}

/// Forward to the end with `size` rows a page, then back to the start:
/// both walks must give `truth`, page for page.
async fn walk_both_ways(app: &TestApp, c: &reqwest::Client, first: &str, truth: &[String]) {
    let mut pages = Vec::new();
    let mut at = Some(first.to_owned());
    while let Some(path) = at {
        let (rows, next, _) = page(app, c, &path).await;
        assert!(!rows.is_empty(), "{path}: an empty page");
        pages.push((path, rows));
        at = next;
        assert!(pages.len() < 20, "no end");
    }
    let forward: Vec<String> = pages.iter().flat_map(|(_, r)| r.clone()).collect();
    assert_eq!(forward, truth, "forward walk from {first}");
    // Back from the last page: each previous page is the one seen going forward.
    let mut back = pages.last().unwrap().0.clone();
    for i in (0..pages.len() - 1).rev() {
        let (_, _, prev) = page(app, c, &back).await;
        let prev = prev.unwrap_or_else(|| panic!("no previous link on {back}"));
        let (rows, _, _) = page(app, c, &prev).await;
        assert_eq!(rows, pages[i].1, "previous of {back}");
        back = prev;
    }
    let (_, _, none) = page(app, c, &back).await;
    assert!(none.is_none(), "the first page has no previous link");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sort_pages_exactly_both_ways_with_ties_and_tiers() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    // Ties everywhere: three names, creation times in groups of four,
    // a third never signed in (they all sort at the same "never").
    let names = ["Marie Dupont", "Ontario Ferme", "Léa Martin"];
    for i in 0..66 {
        let login = (i % 3 != 0).then_some(1_000 + (i as i64 % 7));
        person(&app, i, names[i % 3], (i as i64) / 4, login).await;
    }
    for sort in ["", "-created", "name", "-name", "last_login", "-last_login"] {
        let q = if sort.is_empty() {
            String::new()
        } else {
            format!("sort={sort}&")
        };
        let (truth, more, _) =
            page(&app, &c, &format!("/admin/users?{q}q=paging.test&size=100")).await;
        assert!(more.is_none());
        assert_eq!(truth.len(), 66, "{sort}");
        walk_both_ways(
            &app,
            &c,
            &format!("/admin/users?{q}q=paging.test&size=25"),
            &truth,
        )
        .await;
    }
    // "ont" starts a word in "Ontario" (first tier) and sits inside
    // "Dupont" (second tier): pages cross from one tier to the other.
    for sort in ["name", "-created"] {
        let (truth, _, _) = page(
            &app,
            &c,
            &format!("/admin/users?sort={sort}&q=ont&size=100"),
        )
        .await;
        assert_eq!(truth.len(), 44, "{sort}");
        walk_both_ways(
            &app,
            &c,
            &format!("/admin/users?sort={sort}&q=ont&size=25"),
            &truth,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_stay_exact_while_rows_come_and_go() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let mut ids = Vec::new();
    for i in 0..75 {
        ids.push(person(&app, i, &format!("Person {i:03}"), i as i64, None).await);
    }
    // By name, A to Z: Person 000 … Person 074, pages of 25.
    let (p1, next, _) = page(&app, &c, "/admin/users?sort=name&q=paging.test&size=25").await;
    assert_eq!(p1[0], "p000@paging.test");
    // Behind the reader: a new first row; ahead: one row deleted, one added.
    person(&app, 500, "Person 000a", 0, None).await;
    let mut db = app.db().await;
    let gone = ids[60];
    db_run!(&mut db, |c| diesel::update(users::table.find(gone))
        .set(users::deleted_at.eq(Some(time::macros::datetime!(2026-02-01 00:00))))
        .execute(c)
        .await)
    .unwrap();
    drop(db);
    person(&app, 501, "Person 070a", 0, None).await;
    let (p2, next2, prev2) = page(&app, &c, &next.unwrap()).await;
    let (p3, next3, _) = page(&app, &c, &next2.unwrap()).await;
    assert!(next3.is_none());
    assert_eq!(
        p2[0], "p025@paging.test",
        "nothing repeated, nothing skipped"
    );
    let all: Vec<String> = p1.iter().chain(&p2).chain(&p3).cloned().collect();
    assert!(
        !all.contains(&"p060@paging.test".to_owned()),
        "the deleted row is gone"
    );
    assert!(
        all.contains(&"p501@paging.test".to_owned()),
        "the row added ahead shows"
    );
    assert!(
        !all.contains(&"p500@paging.test".to_owned()),
        "the row added behind does not"
    );
    assert_eq!(all.len(), 75, "75 - 1 deleted + 1 added ahead");
    // Going back from page two now shows the row added behind.
    let (back, _, _) = page(&app, &c, &prev2.unwrap()).await;
    assert_eq!(back[0], "p000@paging.test");
    assert!(back.contains(&"p500@paging.test".to_owned()), "{back:?}");
}
