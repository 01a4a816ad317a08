//! The user search: ranked tiers (word starts, then inside words), paging
//! across them, search keys kept in step with every write, the seed and the
//! start-up backfill.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use sowat_admin::db::schema::{users, workspace_members};
use sowat_admin::db::types::{UserStatus, UserType};
use sowat_admin::db_run;
use sowat_admin::user_record::model::NewUser;
use sowat_admin::user_record::search_keys;
use sowat_admin::users::store::list::{self, WordsBy};

use crate::harness::{Kind, TestApp, select_attr};

/// Emails of the rows of one list page, and its next-page link.
async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (Vec<String>, Option<String>) {
    let res = app.get(c, path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let body = res.text().await.unwrap();
    let doc = scraper::Html::parse_document(&body);
    let sel = scraper::Selector::parse("#user-rows tr[data-id] td.col-email").unwrap();
    let emails = doc
        .select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect();
    let next = select_attr(&body, "#next-page", "href");
    (emails, next)
}

async fn insert(app: &TestApp, email: &str, name: &str, company: &str) -> i64 {
    let mut db = app.db().await;
    let new = NewUser::new(
        email,
        name,
        company,
        UserType::External,
        UserStatus::Active,
        app.clock.now_primitive(),
    );
    db_run!(&mut db, |c| diesel::insert_into(users::table)
        .values(&new)
        .returning(users::id)
        .get_result(c)
        .await)
    .unwrap()
}

async fn count(app: &TestApp, c: &reqwest::Client, q: &str) -> String {
    let body = app
        .get(c, &format!("/admin/users/count?q={q}"))
        .await
        .text()
        .await
        .unwrap();
    select_attr(&body, "#user-count", "data-count").unwrap()
}

/// Every stored key list equals what the application computes now.
async fn assert_keys_fresh(app: &TestApp) {
    let mut db = app.db().await;
    let rows: Vec<(String, String, String, Option<String>)> = db_run!(&mut db, |c| users::table
        .select((
            users::name,
            users::email,
            users::company,
            users::search_keys
        ))
        .load(c)
        .await)
    .unwrap();
    for (name, email, company, keys) in rows {
        assert_eq!(
            keys.as_deref(),
            Some(search_keys::column(&name, &email, &company).as_str()),
            "{email}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn word_starts_rank_first_and_pages_cross_tiers() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    // Created first, so older: they still come first for `gui`.
    let mut words = Vec::new();
    for i in 0..20 {
        let email = format!("word{i:02}@example.test");
        insert(&app, &email, &format!("Word Guillot{i:02}"), "").await;
        words.push(email);
    }
    let mut inside = Vec::new();
    for i in 0..20 {
        let email = format!("inside{i:02}@example.test");
        insert(&app, &email, &format!("Inside Aguilar{i:02}"), "").await;
        inside.push(email);
    }
    let (first, next) = page(&app, &c, "/admin/users?q=gui&size=25").await;
    assert_eq!(first.len(), 25);
    let (head, tail) = first.split_at(20);
    let mut head = head.to_vec();
    head.sort();
    assert_eq!(head, words, "word starts first");
    assert!(tail.iter().all(|e| e.starts_with("inside")), "{tail:?}");
    let next = next.expect("a second page").replace("&amp;", "&");
    let (second, last) = page(&app, &c, &next).await;
    assert!(last.is_none(), "two pages in all");
    let mut rest: Vec<String> = tail.iter().cloned().chain(second).collect();
    rest.sort();
    assert_eq!(rest, inside, "every inside match once");
    assert_eq!(count(&app, &c, "gui").await, "40");
    // The page says how the rows are ranked, only when they are.
    let ranked = |body: String| crate::harness::select_text(&body, "#search-ranking").len();
    assert_eq!(
        ranked(
            app.get(&c, "/admin/users?q=gui")
                .await
                .text()
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        ranked(app.get(&c, "/admin/users").await.text().await.unwrap()),
        0
    );
    let none = app
        .get(&c, "/admin/users?q=zzzz")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(ranked(none), 0, "nothing to rank");
    let short = app.get(&c, "/admin/users?q=gu").await.text().await.unwrap();
    assert_eq!(
        crate::harness::select_text(&short, "#search-ranking"),
        vec!["Below three characters, only where the text starts a word."]
    );
    // Inside a word only, and word starts only below three characters.
    assert_eq!(page(&app, &c, "/admin/users?q=uillo").await.0.len(), 20);
    assert_eq!(page(&app, &c, "/admin/users?q=gu").await.0.len(), 20);
    assert_eq!(count(&app, &c, "gu").await, "20");
    // Across words, in the name and the email alike; sorted by name.
    let (by_name, _) = page(&app, &c, "/admin/users?q=word+guillot0&sort=name").await;
    assert_eq!(by_name, words[..10].to_vec());
    // Longer than a key: the rest of the query still has to match.
    let long = insert(
        &app,
        "averyveryverylongname@example.test",
        "Averyveryverylongname Dupont",
        "",
    )
    .await;
    let (hit, _) = page(&app, &c, "/admin/users?q=averyveryverylongname+dupont").await;
    assert_eq!(hit, vec!["averyveryverylongname@example.test"]);
    assert!(
        page(&app, &c, "/admin/users?q=averyveryverylongname+durand")
            .await
            .0
            .is_empty()
    );
    assert_eq!(
        page(&app, &c, &format!("/admin/users?q={long}")).await.0,
        vec!["averyveryverylongname@example.test"],
        "an id matches exactly"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_in_both_tiers() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    insert(
        &app,
        "obrien@example.test",
        "Seán O'Brien",
        "Back\\slash & Co",
    )
    .await;
    for (q, hits) in [
        ("o'brien", 1),
        ("O%27BRIEN", 1),
        ("se%C3%A1n", 1),
        ("back%5Cslash", 1),
        ("%26+co", 1),
        ("'%3A*+%7C+a", 0),
        ("%07bell", 0),
        ("%F0%9F%98%80", 0),
    ] {
        let (rows, _) = page(&app, &c, &format!("/admin/users?q={q}")).await;
        assert_eq!(rows.len(), hits, "{q}");
        assert_eq!(count(&app, &c, q).await, hits.to_string(), "{q}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_follow_every_change_and_leave_with_erasure() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let id = insert(&app, "zoe@example.test", "Zoé Martin", "Acme").await;
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{id}/profile"),
            &[
                ("email", "zoe.renamed@example.test"),
                ("name", "Xavière Quint"),
                ("company", "Globex"),
                ("user_type", "EXTERNAL"),
            ],
        )
        .await;
    assert!(res.status().is_redirection() || res.status().is_success());
    // Two characters: only the keys can answer.
    assert_eq!(
        page(&app, &c, "/admin/users?q=xa").await.0,
        vec!["zoe.renamed@example.test"]
    );
    assert!(
        page(&app, &c, "/admin/users?q=ma")
            .await
            .0
            .iter()
            .all(|e| e != "zoe.renamed@example.test")
    );
    assert_keys_fresh(&app).await;
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{id}/erase"),
            &[("confirm_email", "zoe.renamed@example.test")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_keys_fresh(&app).await;
    let mut db = app.db().await;
    let keys: Option<String> = db_run!(&mut db, |c| users::table
        .find(id)
        .select(users::search_keys)
        .first(c)
        .await)
    .unwrap();
    let keys = keys.unwrap();
    for personal in ["xavi", "quint", "globex", "zoe"] {
        assert!(!keys.contains(personal), "{keys}");
    }
    if db.is_sqlite() {
        // The trigger-fed table holds no key of the person either.
        let leftovers: i64 = db_run!(&mut db, |c| diesel::sql_query(
            "SELECT count(*) AS n FROM user_search_keys WHERE key LIKE '%quint%' OR key LIKE '%globex%' OR key LIKE '%xavi%'")
            .get_result::<Count>(c)
            .await)
        .unwrap()
        .n;
        assert_eq!(leftovers, 0);
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_and_start_up_compute_the_keys() {
    let app = TestApp::spawn().await;
    let state = &app.running().state;
    sowat_admin::seed::users(&state.pool, &app.clock, 60, None)
        .await
        .unwrap();
    assert_keys_fresh(&app).await;
    // Rows written without keys (before the column existed, or by hand)
    // are filled when the database is opened at start.
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(users::table)
        .set(users::search_keys.eq(None::<String>))
        .execute(c)
        .await)
    .unwrap();
    sowat_admin::open_database(&state.config).await.unwrap();
    assert_keys_fresh(&app).await;
    let (c, _) = app.client_as(Kind::Support).await;
    let mut db = app.db().await;
    let (name,): (String,) = db_run!(&mut db, |c| users::table
        .select((users::name,))
        .order(users::id)
        .first(c)
        .await)
    .unwrap();
    let first_word: String = name.split(' ').next().unwrap().chars().take(2).collect();
    let encoded: String = url::form_urlencoded::byte_serialize(first_word.as_bytes()).collect();
    assert!(
        !page(&app, &c, &format!("/admin/users?q={encoded}"))
            .await
            .0
            .is_empty()
    );
}

/// Every page of `f` read `by` one path: forward from the start, then
/// backward by each page's previous link from the last one, as ids.
async fn pages_by(
    db: &mut sowat_admin::db::Db,
    f: &list::Filter,
    by: WordsBy,
) -> (Vec<Vec<i64>>, Vec<Vec<i64>>) {
    pages_walking(db, f, by, None).await
}

/// [`pages_by`] with a workspace filter read one way or the other.
async fn pages_walking(
    db: &mut sowat_admin::db::Db,
    f: &list::Filter,
    by: WordsBy,
    members: Option<bool>,
) -> (Vec<Vec<i64>>, Vec<Vec<i64>>) {
    let ids = |p: &list::Page| p.rows.iter().map(|u| u.id).collect::<Vec<_>>();
    let mut f = f.clone();
    let mut forward = Vec::new();
    let mut before = loop {
        let p = list::page_walking(db, &f, by, members).await.unwrap();
        forward.push(ids(&p));
        assert!(forward.len() < 200, "no end");
        match p.next {
            Some(next) => f.after = Some(next),
            None => break p.prev,
        }
    };
    let mut backward = Vec::new();
    f.after = None;
    while let Some(cursor) = before {
        f.before = Some(cursor);
        let p = list::page_walking(db, &f, by, members).await.unwrap();
        backward.push(ids(&p));
        assert!(backward.len() < 200, "no start");
        before = p.prev;
    }
    (forward, backward)
}

/// Every sort the list offers, each way.
const SORTS: [&str; 6] = [
    "created",
    "-created",
    "name",
    "-name",
    "last_login",
    "-last_login",
];

/// Every third user suspended, every seventh deleted: the walks must
/// skip them alike.
async fn suspend_or_delete(app: &TestApp, id: i64, i: usize) {
    let mut db = app.db().await;
    if i.is_multiple_of(3) {
        db_run!(&mut db, |c| diesel::update(users::table.find(id))
            .set(users::status.eq(UserStatus::Suspended))
            .execute(c)
            .await)
        .unwrap();
    }
    if i.is_multiple_of(7) {
        db_run!(&mut db, |c| diesel::update(users::table.find(id))
            .set(users::deleted_at.eq(Some(app.clock.now_primitive())))
            .execute(c)
            .await)
        .unwrap();
    }
}

/// The two paths of the word-start tier (the key index then a sort, or
/// the sort order walked with a test of each row's keys) give the same
/// rows in the same order, page for page, forward and backward, in every
/// sort, for terms common and rare, with ties on every sort key and
/// characters that could fool a substring test.
#[tokio::test(flavor = "multi_thread")]
async fn both_search_paths_give_the_same_pages() {
    let app = TestApp::spawn().await;
    let firsts = [
        "Anne",
        "Annick",
        "Jean",
        "Jeanne",
        "Zoé",
        "Ève",
        "O\"Brien",
        "Back\\slash",
    ];
    let lasts = [
        "Atelier",
        "Martin",
        "Ateliers",
        "Dupont-Martin",
        "L'Atelier",
    ];
    let companies = [
        "Atelier Nova",
        "Nova",
        "",
        "Martin & Fils",
        "\"Atelier\" Zéphyr",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for i in 0..120 {
        let name = format!(
            "{} {}",
            firsts[next(firsts.len())],
            lasts[next(lasts.len())]
        );
        let email = format!(
            "u{i:03}.{}@example.test",
            lasts[next(lasts.len())]
                .to_lowercase()
                .replace(['\'', ' '], "")
        );
        let id = insert(&app, &email, &name, companies[next(companies.len())]).await;
        suspend_or_delete(&app, id, i).await;
    }
    let terms = [
        "atelier",
        "ateliers",
        "a",
        "an",
        "ann",
        "jean",
        "nova",
        "martin",
        "dupont-m",
        "zo",
        "zoé",
        "ève",
        "o\"b",
        "\"atelier",
        "back\\",
        "tel",
        "elier",
        "u01",
        "42",
        "example.test",
        "nothing",
        "l'atelier",
        "u007.atelier@exa",
    ];
    let mut db = app.db().await;
    for term in terms {
        for sort in SORTS {
            // Unfiltered, SQLite's walk tests the keys in its covering
            // index; with a status it tests ids against the matching set.
            for status in ["", "ACTIVE"] {
                let params = list::ListParams {
                    q: term.to_owned(),
                    sort: sort.to_owned(),
                    status: status.to_owned(),
                    ..Default::default()
                };
                let mut f = params.filter();
                f.size = 7;
                let index = pages_by(&mut db, &f, WordsBy::Index).await;
                let row_test = pages_by(&mut db, &f, WordsBy::RowTest).await;
                assert_eq!(
                    index, row_test,
                    "{term:?} sorted by {sort}, status {status:?}"
                );
                if term == "atelier" && status.is_empty() {
                    assert!(index.0.len() > 3, "a common term spans pages: {index:?}");
                }
            }
        }
    }
}

/// A workspace filter gives the same pages whether the page walks the sort
/// order probing memberships (a large workspace) or reads the members and
/// sorts them (a small one): every sort, with and without a status,
/// forward and back, and exactly the workspace's live members.
#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_filter_pages_alike_walked_or_sorted() {
    let app = TestApp::spawn().await;
    let names = ["Anne", "Bruno", "anne", "Zoé", "Ève", "Bruno"];
    let mut members = Vec::new();
    for i in 0..70 {
        let id = insert(
            &app,
            &format!("w{i:03}@walk.test"),
            &format!("{} {}", names[i % names.len()], i % 4),
            "",
        )
        .await;
        suspend_or_delete(&app, id, i).await;
        // Two in three join; the others are there to be skipped.
        if i % 3 != 1 {
            members.push(id);
        }
    }
    let ws = crate::workspaces::workspace(&app, "walked", &members[..2], &members[2..]).await;
    let mut db = app.db().await;
    for sort in SORTS {
        for status in ["", "ACTIVE", "SUSPENDED"] {
            let params = list::ListParams {
                workspace: "walked".to_owned(),
                sort: sort.to_owned(),
                status: status.to_owned(),
                ..Default::default()
            };
            let mut f = params.filter();
            f.size = 6;
            let walked = pages_walking(&mut db, &f, WordsBy::Index, Some(true)).await;
            let sorted = pages_walking(&mut db, &f, WordsBy::Index, Some(false)).await;
            assert_eq!(walked, sorted, "sorted by {sort}, status {status:?}");
            // Forward and back meet the same pages.
            let mut back = walked.1.clone();
            back.reverse();
            assert_eq!(
                back,
                walked.0[..walked.0.len() - 1],
                "{sort} {status:?}: back"
            );
            // The rows are the workspace's live members under the status.
            let mut seen: Vec<i64> = walked.0.concat();
            seen.sort();
            let wanted = UserStatus::parse(status);
            let expected: Vec<i64> = db_run!(&mut db, |c| {
                let mut q = users::table
                    .inner_join(
                        workspace_members::table.on(workspace_members::user_id.eq(users::id)),
                    )
                    .filter(workspace_members::workspace_id.eq(ws))
                    .filter(users::deleted_at.is_null())
                    .select(users::id)
                    .order(users::id)
                    .into_boxed();
                if let Some(s) = wanted {
                    q = q.filter(users::status.eq(s));
                }
                q.load(c).await
            })
            .unwrap();
            assert_eq!(seen, expected, "{sort} {status:?}");
            assert!(walked.0.len() > 2 || !status.is_empty(), "spans pages");
        }
    }
}
