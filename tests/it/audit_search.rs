//! The audit trail's filters (issue 16): by address or network, app of
//! origin, kind of actor and words in the details, alone and together,
//! paged by keyset; and the page of one event.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sowat_admin::audit::{self, Action, ActorRef, Event, RequestMeta};
use sowat_admin::db::schema::audit_events;
use sowat_admin::db::types::ActorType;
use sowat_admin::db_run;

use crate::harness::{Kind, TestApp, select_attr, select_attrs, select_text};

/// Writes one event from `ip` and `client`; returns its id.
async fn event(
    app: &TestApp,
    actor: ActorRef,
    ip: &str,
    client: &str,
    action: Action,
    details: Value,
) -> i64 {
    let mut db = app.db().await;
    let meta = RequestMeta {
        ip: Some(ip.parse().expect("an address")),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into(),
        ),
        request_id: Some("req-4242".into()),
        client_id: client.into(),
    };
    audit::record_alone(
        &mut db,
        app.clock.now_primitive(),
        &actor,
        &meta,
        Event::new(action).details(details),
    )
    .await
    .expect("event written");
    db_run!(&mut db, |c| audit_events::table
        .select(diesel::dsl::max(audit_events::id))
        .first::<Option<i64>>(c)
        .await)
    .unwrap()
    .unwrap()
}

/// The ids the audit trail lists for `query`.
async fn listed(app: &TestApp, client: &reqwest::Client, query: &str) -> Vec<i64> {
    let res = app.get(client, &format!("/admin/audit?{query}")).await;
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    let html = res.text().await.unwrap();
    select_attrs(&html, "#audit-rows tr[data-id]", "data-id")
        .into_iter()
        .map(|id| id.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trail_filters_by_address_app_actor_kind_and_words() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let person = app.create_user("elodie@example.test", &[], false).await;
    let key = ActorRef {
        kind: ActorType::ApiKey,
        id: Some(1),
        label: "crm key".into(),
    };
    let a = event(
        &app,
        ActorRef::system(),
        "203.0.113.7",
        "app",
        Action::NoteAdded,
        json!({ "reason": "Unpaid invoices, March" }),
    )
    .await;
    let b = event(
        &app,
        ActorRef::user(person.id, "elodie@example.test"),
        "203.0.113.200",
        "mobile-app",
        Action::UserUpdated,
        json!({ "before": { "name": "Élodie Martin" }, "after": { "name": "Élodie Durand" } }),
    )
    .await;
    let c = event(
        &app,
        key,
        "2001:db8::5",
        "crm",
        Action::NoteAdded,
        json!({ "reason": "synchronised" }),
    )
    .await;
    let d = event(
        &app,
        ActorRef::anonymous(),
        "10.0.31.4",
        "app",
        Action::NoteAdded,
        json!({ "reason": "invoice 2026-0042" }),
    )
    .await;

    // Addresses and networks, any prefix length, both families.
    assert_eq!(listed(&app, &admin, "ip=203.0.113.0/24").await, [b, a]);
    assert_eq!(listed(&app, &admin, "ip=203.0.113.7").await, [a]);
    assert_eq!(listed(&app, &admin, "ip=2001:db8::/32").await, [c]);
    assert_eq!(listed(&app, &admin, "ip=10.0.16.0/20").await, [d]);
    assert!(listed(&app, &admin, "ip=10.0.32.0/20").await.is_empty());
    // Not an address: said inline, nothing listed (not everything).
    let res = app.get(&admin, "/admin/audit?ip=10.0.0.300").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        select_text(&html, "#ip-problem")
            .join(" ")
            .contains("10.0.0.300"),
        "{html}"
    );
    assert!(select_attrs(&html, "#audit-rows tr[data-id]", "data-id").is_empty());

    // App of origin and kind of actor.
    assert_eq!(listed(&app, &admin, "client=mobile-app").await, [b]);
    assert_eq!(listed(&app, &admin, "actor_type=api_key").await, [c]);
    assert_eq!(listed(&app, &admin, "actor_type=anonymous").await, [d]);

    // Words: whole words, or a start with `*`, any case, accents kept, all
    // required.
    assert_eq!(listed(&app, &admin, "q=invoice").await, [d]);
    assert_eq!(listed(&app, &admin, "q=invoice*").await, [d, a]);
    assert_eq!(listed(&app, &admin, "q=unpa*+MARCH").await, [a]);
    assert_eq!(listed(&app, &admin, "q=UNPAID+march").await, [a]);
    assert!(listed(&app, &admin, "q=unpaid+april").await.is_empty());
    assert_eq!(listed(&app, &admin, "q=%C3%A9lodie").await, [b]);
    assert_eq!(listed(&app, &admin, "q=0042").await, [d]);
    // Punctuation is not syntax.
    assert!(
        listed(&app, &admin, "q=%22%27)+OR+1%3D1+--")
            .await
            .is_empty()
    );
    // Together.
    assert_eq!(
        listed(&app, &admin, "q=invoice&actor_type=anonymous").await,
        [d]
    );
    assert_eq!(
        listed(&app, &admin, "q=invoice*&ip=203.0.113.0/24").await,
        [a]
    );

    // Each active filter is a chip that removes it.
    let res = app
        .get(&admin, "/admin/audit?q=invoice&ip=10.0.0.0/8")
        .await;
    let html = res.text().await.unwrap();
    let chips = select_text(&html, ".chips .chip").join(" | ");
    assert!(
        chips.contains("invoice") && chips.contains("10.0.0.0/8"),
        "{chips}"
    );
    let remove = select_attrs(&html, ".chips .chip", "href");
    assert!(
        remove.iter().any(|h| h == "/admin/audit?ip=10.0.0.0%2F8"),
        "{remove:?}"
    );

    // A changed text is found by its new words only (the index follows).
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(audit_events::table.find(a))
        .set(audit_events::details.eq(r#"{"reason":"Settled"}"#))
        .execute(c)
        .await)
    .unwrap();
    drop(db);
    assert_eq!(listed(&app, &admin, "q=invoice*").await, [d]);
    assert_eq!(listed(&app, &admin, "q=settled").await, [a]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_word_search_pages_by_keyset() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let words = if i % 2 == 0 { "refund issued" } else { "other" };
        ids.push(
            event(
                &app,
                ActorRef::system(),
                "198.51.100.9",
                "app",
                Action::NoteAdded,
                json!({ "reason": words, "n": i }),
            )
            .await,
        );
    }
    let mut expected: Vec<i64> = ids.iter().step_by(2).copied().collect();
    expected.reverse();
    let res = app.get(&admin, "/admin/audit?q=refund").await;
    let html = res.text().await.unwrap();
    let first: Vec<i64> = select_attrs(&html, "#audit-rows tr[data-id]", "data-id")
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
    assert_eq!(first, expected);
    assert!(
        select_attr(&html, "#older-page", "href").is_none(),
        "30 fit on a page"
    );

    // 60 matches over two pages: 50, then 10, none twice.
    for i in 0..60 {
        event(
            &app,
            ActorRef::system(),
            "198.51.100.9",
            "app",
            Action::NoteAdded,
            json!({ "reason": "refund again", "n": i }),
        )
        .await;
    }
    let html = app
        .get(&admin, "/admin/audit?q=refund&ip=198.51.100.9")
        .await
        .text()
        .await
        .unwrap();
    let page1 = select_attrs(&html, "#audit-rows tr[data-id]", "data-id");
    assert_eq!(page1.len(), 50);
    let older = select_attr(&html, "#older-page", "href").expect("an older page");
    assert!(
        older.contains("q=refund") && older.contains("before="),
        "{older}"
    );
    let html = app.get(&admin, &older).await.text().await.unwrap();
    let page2 = select_attrs(&html, "#audit-rows tr[data-id]", "data-id");
    assert_eq!(page2.len(), 40);
    assert!(page2.iter().all(|id| !page1.contains(id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn addresses_written_before_their_key_are_keyed_at_start() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let a = event(
        &app,
        ActorRef::system(),
        "192.0.2.77",
        "app",
        Action::NoteAdded,
        json!({}),
    )
    .await;
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(audit_events::table)
        .set(audit_events::ip_key.eq(None::<String>))
        .execute(c)
        .await)
    .unwrap();
    assert!(listed(&app, &admin, "ip=192.0.2.0/24").await.is_empty());
    let filled = audit::address::backfill(&mut db).await.unwrap();
    assert!(filled >= 1, "{filled}");
    assert_eq!(listed(&app, &admin, "ip=192.0.2.0/24").await, [a]);
    assert_eq!(audit::address::backfill(&mut db).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_has_its_own_page() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let person = app.create_user("elodie@example.test", &[], false).await;
    let id = event(
        &app,
        ActorRef::user(person.id, "elodie@example.test"),
        "203.0.113.200",
        "mobile-app",
        Action::UserUpdated,
        json!({ "before": { "name": "Élodie Martin" }, "after": { "name": "Élodie Durand" }, "reason": "Married" }),
    )
    .await;

    // The list links to it.
    let html = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    let links = select_attrs(&html, "#audit-rows tr[data-id] a", "href");
    assert!(links.contains(&format!("/admin/audit/{id}")), "{links:?}");

    let res = app.get(&admin, &format!("/admin/audit/{id}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let text = |sel: &str| select_text(&html, sel).join(" ");
    assert!(text("#event-actor").contains("elodie@example.test"));
    assert_eq!(
        select_attr(&html, "#event-actor a", "href").as_deref(),
        Some(format!("/admin/users/{}", person.id).as_str())
    );
    assert!(text("#event-ip").contains("203.0.113.200"));
    assert_eq!(
        select_attr(&html, "#by-ip", "href").as_deref(),
        Some("/admin/audit?ip=203.0.113.200")
    );
    assert!(
        text("#event-browser").contains("Firefox 133"),
        "{}",
        text("#event-browser")
    );
    assert_eq!(
        select_attr(&html, "#by-client", "href").as_deref(),
        Some("/admin/audit?client=mobile-app")
    );
    assert!(text("#event-request").contains("req-4242"));
    let diff = text("#event-diff tbody");
    assert!(
        diff.contains("Élodie Martin") && diff.contains("Élodie Durand"),
        "{diff}"
    );
    assert!(text("#event-facts").contains("Married"));
    let chain = text("#event-chain");
    assert!(chain.contains('#'), "{chain}");
    assert_eq!(select_text(&html, "#event-chain code.hash").len(), 2);

    // Unknown and malformed ids.
    let res = app.get(&admin, "/admin/audit/99999999").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.get(&admin, "/admin/audit/x1").await;
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_filtered_trail_exports_as_csv_and_json_lines() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    // More matches than one step reads, one of them a spreadsheet formula;
    // others that do not match.
    for i in 0..1_050 {
        event(
            &app,
            ActorRef::system(),
            "198.51.100.4",
            "app",
            Action::NoteAdded,
            json!({ "tag": "exported", "n": i }),
        )
        .await;
    }
    // An address may start like a formula (`=` is a valid first character).
    let formula = event(
        &app,
        ActorRef::user(1, "=2+3@evil.test"),
        "198.51.100.4",
        "app",
        Action::NoteAdded,
        json!({ "tag": "exported", "reason": "=HYPERLINK(\"http://evil.test\")" }),
    )
    .await;
    event(
        &app,
        ActorRef::system(),
        "198.51.100.4",
        "app",
        Action::NoteAdded,
        json!({ "tag": "kept out" }),
    )
    .await;

    // The page offers it with the filter on screen.
    let html = app
        .get(&admin, "/admin/audit?q=exported")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        select_attr(&html, "#audit-export input[name=q]", "value").as_deref(),
        Some("exported")
    );

    let start = |format: &'static str, expected: i64| {
        let app = &app;
        let admin = &admin;
        async move {
            let res = app
                .post_form(
                    admin,
                    "/admin/audit/export",
                    &[("q", "exported"), ("before", "3"), ("format", format)],
                )
                .await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{format}");
            let id = crate::harness::task_of(&res);
            let t = app.wait_for_task(id).await;
            assert_eq!(
                (t.state.as_str(), t.done),
                ("succeeded", expected),
                "{format}"
            );
            app.download(admin, id).await
        }
    };

    let res = start("csv", 1_051).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let day = app.clock.now_primitive().date();
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"audit-{day}.csv\"").as_str()
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1_052, "a header and every match, not a page");
    assert!(
        lines[0].starts_with("\u{feff}id,at,actor_type"),
        "{}",
        lines[0]
    );
    // Newest first; the formula is text, not a formula.
    assert!(lines[1].starts_with(&format!("{formula},")), "{}", lines[1]);
    assert!(lines[1].contains(",'=2+3@evil.test,"), "{}", lines[1]);
    assert!(!text.contains("kept out"));

    // The first export's own record names the filter: it matches too.
    let res = start("jsonl", 1_052).await;
    assert_eq!(
        res.headers()["content-type"],
        "application/jsonl; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(events.len(), 1_052);
    assert_eq!(events[0]["action"], "task.started");
    assert_eq!(events[1]["id"], formula);
    assert_eq!(events[1]["actor"], "=2+3@evil.test");
    assert_eq!(
        events[1]["details"]["reason"],
        "=HYPERLINK(\"http://evil.test\")"
    );
    assert_eq!(events[5]["details"]["tag"], "exported");
    assert_eq!(events[5]["ip"], "198.51.100.4");

    // Who exported what is on record.
    let started = app.audit("task.started").await;
    let exports: Vec<&(String, String, String)> = started
        .iter()
        .filter(|(_, _, d)| d.contains("audit.export"))
        .collect();
    assert_eq!(exports.len(), 2);
    assert!(
        exports[0].2.contains(r#""q":"exported""#),
        "{}",
        exports[0].2
    );

    // Reading the trail is not enough to export it.
    let (support, _) = app.client_as(Kind::Support).await;
    let html = app
        .get(&support, "/admin/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(select_attr(&html, "#audit-export", "action").is_none());
    let res = app
        .post_form(&support, "/admin/audit/export", &[("format", "csv")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filter_is_saved_as_a_named_view_of_its_owner() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    // Nothing saved yet: the page says how.
    let html = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    assert!(!select_text(&html, "#no-views").is_empty());
    assert!(
        select_attr(&html, "#save-view", "action").is_none(),
        "no filter, nothing to save"
    );

    let html = app
        .get(
            &admin,
            "/admin/audit?outcome=denied&ip=10.0.0.0/8&before=99",
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        select_attr(&html, "#save-view", "action").as_deref(),
        Some("/admin/audit/views")
    );
    let res = app
        .post_form(
            &admin,
            "/admin/audit/views",
            &[
                ("view_name", "  Denied   from inside "),
                ("outcome", "denied"),
                ("ip", "10.0.0.0/8"),
                ("before", "99"),
                ("nonsense", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = crate::harness::location(&res);
    assert_eq!(back, "/admin/audit?ip=10.0.0.0%2F8&outcome=denied");
    let html = app.get(&admin, &back).await.text().await.unwrap();
    assert_eq!(
        select_text(&html, "#flash"),
        ["View “Denied from inside” saved."]
    );
    let views = select_attrs(&html, "#saved-views a", "href");
    assert_eq!(views, ["/admin/audit?ip=10.0.0.0%2F8&outcome=denied"]);
    assert_eq!(select_text(&html, "#saved-views a"), ["Denied from inside"]);
    let saved = app.audit("audit.view_saved").await;
    assert_eq!(saved.len(), 1);
    assert!(saved[0].2.contains("Denied from inside"), "{}", saved[0].2);

    // The same name again replaces the filter; no name or no filter is refused.
    app.post_form(
        &admin,
        "/admin/audit/views",
        &[("view_name", "Denied from inside"), ("outcome", "denied")],
    )
    .await;
    let html = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    assert_eq!(
        select_attrs(&html, "#saved-views a", "href"),
        ["/admin/audit?outcome=denied"]
    );
    for fields in [
        vec![("view_name", "   "), ("outcome", "denied")],
        vec![("view_name", "Everything")],
    ] {
        let res = app.post_form(&admin, "/admin/audit/views", &fields).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let html = app
            .get(&admin, &crate::harness::location(&res))
            .await
            .text()
            .await
            .unwrap();
        let flash = select_text(&html, "#flash").join(" ");
        assert!(
            flash == "Give the view a name."
                || flash == "Choose at least one filter before saving a view.",
            "{fields:?}: {flash}"
        );
    }
    assert_eq!(app.audit("audit.view_saved").await.len(), 2);

    // Views are personal: another person neither sees nor deletes them.
    let delete = select_attr(&html, "#saved-views form", "action").expect("a delete form");
    let (analyst, _) = app.client_as(Kind::Analyst).await;
    let html = app
        .get(&analyst, "/admin/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(select_attrs(&html, "#saved-views a", "href").is_empty());
    let res = app.post_form(&analyst, &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Its owner does.
    let res = app.post_form(&admin, &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    assert!(select_attrs(&html, "#saved-views a", "href").is_empty());
    assert_eq!(app.audit("audit.view_deleted").await.len(), 1);
}

/// The windows an unordered filter is read in (words, a network) give the
/// same pages as one sorted read, across window edges and page cursors.
#[tokio::test(flavor = "multi_thread")]
async fn unordered_filters_read_in_windows_page_like_one_sorted_read() {
    use sowat_admin::audit::query::{EventFilter, events_windowed};
    use sowat_admin::audit::words::Words;
    let app = TestApp::spawn().await;
    let mut expected_words = Vec::new();
    let mut expected_net = Vec::new();
    for i in 0..45 {
        // Matches clustered, then sparse, then absent for a while.
        let hit = i < 10 || (i % 7 == 0) || i == 44;
        let ip = if i % 3 == 0 { "10.1.2.3" } else { "192.0.2.1" };
        let id = event(
            &app,
            ActorRef::system(),
            ip,
            "app",
            Action::NoteAdded,
            json!({ "reason": if hit { "window match" } else { "other" }, "n": i }),
        )
        .await;
        if hit {
            expected_words.push(id);
        }
        if i % 3 == 0 {
            expected_net.push(id);
        }
    }
    expected_words.reverse();
    expected_net.reverse();
    let filters = [
        (
            EventFilter {
                words: Words::parse("window"),
                ..EventFilter::default()
            },
            expected_words,
        ),
        (
            EventFilter {
                ip_range: sowat_admin::audit::address::range("10.0.0.0/8"),
                ..EventFilter::default()
            },
            expected_net.clone(),
        ),
        // Two filters each with an index: read in windows too.
        (
            EventFilter {
                ip_range: sowat_admin::audit::address::range("10.1.2.3"),
                client_id: Some("app".into()),
                ..EventFilter::default()
            },
            expected_net,
        ),
        (
            EventFilter {
                client_id: Some("app".into()),
                outcome: Some(sowat_admin::db::types::Outcome::Denied),
                ..EventFilter::default()
            },
            Vec::new(),
        ),
    ];
    let mut db = app.db().await;
    for (filter, expected) in filters {
        for first_window in [1, 2, 3, 5, 8_192] {
            for page in [1, 4, 7, 100] {
                // With and without a budget: a page that stops short
                // says where, and going on from there finds the rest.
                for budget in [None, Some(3), Some(10)] {
                    let mut seen = Vec::new();
                    let mut f = filter.clone();
                    loop {
                        let found = events_windowed(&mut db, &f, page, first_window, budget)
                            .await
                            .unwrap();
                        seen.extend(found.rows.iter().map(|r| r.id));
                        if let Some(at) = found.stopped_at {
                            assert!(budget.is_some() && (found.rows.len() as i64) < page);
                            f.before = Some(at);
                            continue;
                        }
                        if (found.rows.len() as i64) < page {
                            break;
                        }
                        f.before = found.rows.last().map(|r| r.id);
                    }
                    assert_eq!(
                        seen, expected,
                        "window {first_window}, page {page}, budget {budget:?}"
                    );
                }
            }
        }
    }
}

/// Words within a date range: the windows start at the range's end, not at
/// the newest event, so old matches are found within a small budget.
#[tokio::test(flavor = "multi_thread")]
async fn words_in_an_old_date_range_are_found_from_the_range_end() {
    use sowat_admin::audit::query::{EventFilter, events_windowed};
    use sowat_admin::audit::words::Words;
    let app = TestApp::spawn().await;
    let day = app.clock.now_primitive().date();
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(
            event(
                &app,
                ActorRef::system(),
                "192.0.2.8",
                "app",
                Action::NoteAdded,
                json!({ "reason": "archived", "n": i }),
            )
            .await,
        );
    }
    expected.reverse();
    app.clock.advance(time::Duration::days(40));
    for i in 0..30 {
        event(
            &app,
            ActorRef::system(),
            "192.0.2.8",
            "app",
            Action::NoteAdded,
            json!({ "reason": if i % 2 == 0 { "archived" } else { "recent" }, "n": i }),
        )
        .await;
    }
    let filter = EventFilter {
        words: Words::parse("archived"),
        from: Some(day.midnight()),
        to: day.next_day().map(|d| d.midnight()),
        ..EventFilter::default()
    };
    let mut db = app.db().await;
    // A budget smaller than the newer events: reading from the newest, the
    // first page would stop with nothing found.
    let found = events_windowed(&mut db, &filter, 100, 1, Some(8))
        .await
        .unwrap();
    let ids: Vec<i64> = found.rows.iter().map(|r| r.id).collect();
    assert_eq!(ids, expected);
    assert_eq!(found.stopped_at, None, "the range's start ends the search");
    // From the page cursor too.
    let mut f = filter.clone();
    f.before = Some(expected[1]);
    let found = events_windowed(&mut db, &f, 100, 1, Some(8)).await.unwrap();
    let ids: Vec<i64> = found.rows.iter().map(|r| r.id).collect();
    assert_eq!(ids, &expected[2..]);
}
