//! Histories as people read them: a user's page splits what was done to
//! them from what they did, in the page's language, with readable changes;
//! the audit trail filters by actor, action (or area), target, outcome and
//! dates; and French pages show no English value or untranslated key.

use reqwest::StatusCode;

use crate::harness::{Kind, TestApp, select_attr, select_text};

async fn body(app: &TestApp, c: &reqwest::Client, path: &str) -> String {
    let res = app.get(c, path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

async fn suspend(app: &TestApp, c: &reqwest::Client, id: i64, reason: &str) {
    let res = app
        .post_form(
            c,
            &format!("/admin/users/{id}/status"),
            &[("status", "SUSPENDED"), ("reason", reason)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_page_splits_changes_from_activity_in_french() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    let user = app.create_user("suivi@example.test", &[], false).await;
    suspend(&app, &c, user.id, "impayés").await;
    app.post_form(&c, "/lang", &[("lang", "fr"), ("next", "/")])
        .await;
    let page = body(&app, &c, &format!("/admin/users/{}", user.id)).await;
    let changes = select_text(&page, "#section-changes tbody tr");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let row = &changes[0];
    assert!(row.contains("Statut modifié"), "{row}");
    assert!(row.contains("Autorisé"), "{row}");
    assert!(row.contains("Actif") && row.contains("Suspendu"), "{row}");
    assert!(
        !row.contains("user.status_changed") && !row.contains("allowed"),
        "{row}"
    );
    assert_eq!(
        select_attr(&page, "#section-changes tbody a", "href"),
        Some(format!("/admin/users/{}", admin.id)),
        "the actor is a link"
    );
    // The header agrees with the status section.
    assert_eq!(select_text(&page, "#header-status"), vec!["Suspendu"]);
    // The administrator's own page shows the change as their activity,
    // with the target linked.
    let own = body(&app, &c, &format!("/admin/users/{}", admin.id)).await;
    let doc = scraper::Html::parse_document(&own);
    let links = scraper::Selector::parse("#section-activity tbody a").unwrap();
    let hrefs: Vec<&str> = doc
        .select(&links)
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert!(
        hrefs.contains(&format!("/admin/users/{}", user.id).as_str()),
        "{hrefs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_history_pages_beyond_fifty() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let user = app.create_user("longue@example.test", &[], false).await;
    for i in 0..60 {
        app.post_form(
            &c,
            &format!("/admin/users/{}/notes", user.id),
            &[("body", &format!("note {i}"))],
        )
        .await;
    }
    let page = body(&app, &c, &format!("/admin/users/{}", user.id)).await;
    assert_eq!(
        select_text(&page, "#section-changes tbody tr:not(.more)").len(),
        50
    );
    let more = select_attr(&page, "#section-changes tr.more a", "href").expect("older events");
    // Rows only, for the table body: parsed inside a table.
    let older = format!("<table>{}</table>", body(&app, &c, &more).await);
    assert_eq!(select_text(&older, "tr:not(.more)").len(), 10, "{older}");
    assert!(select_attr(&older, "tr.more a", "href").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_trail_filters_by_actor_action_target_outcome_and_dates() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    let a = app.create_user("cible.a@example.test", &[], false).await;
    let b = app.create_user("cible.b@example.test", &[], false).await;
    suspend(&app, &c, a.id, "one").await;
    suspend(&app, &c, b.id, "two").await;
    let rows = |html: &str| select_text(html, "#audit-rows tr[data-id]");
    let by_admin = body(
        &app,
        &c,
        &format!(
            "/admin/audit?actor={}&action=user.status_changed",
            admin.email
        ),
    )
    .await;
    assert_eq!(rows(&by_admin).len(), 2);
    let on_a = body(
        &app,
        &c,
        &format!("/admin/audit?target_type=user&target_id={}", a.id),
    )
    .await;
    assert!(
        rows(&on_a)
            .iter()
            .all(|r| r.contains(&format!("User #{}", a.id))),
        "{:?}",
        rows(&on_a)
    );
    assert!(!rows(&on_a).is_empty());
    let area = body(&app, &c, "/admin/audit?action=user.").await;
    assert!(rows(&area).len() >= 2);
    assert!(rows(&area).iter().all(|r| !r.contains("Signed in")));
    let nobody = body(&app, &c, "/admin/audit?actor=nobody@example.test").await;
    assert!(rows(&nobody).is_empty(), "an unknown actor matches nothing");
    let denied = body(&app, &c, "/admin/audit?outcome=denied").await;
    assert!(rows(&denied).iter().all(|r| r.contains("Denied")));
    let future = body(&app, &c, "/admin/audit?from=2999-01-01").await;
    assert!(rows(&future).is_empty());
    let reversed = body(&app, &c, "/admin/audit?from=2026-02-01&to=2026-01-01").await;
    assert_eq!(select_text(&reversed, "#date-problem").len(), 1);
    let chips = select_text(&by_admin, ".chips a.chip");
    assert_eq!(chips.len(), 2, "{chips:?}");
}

/// English words that must not show on a French page: enum values and
/// stored keys that escaped translation.
const ENGLISH: [&str; 14] = [
    "allowed",
    "denied",
    "ACTIVE",
    "SUSPENDED",
    "PENDING",
    "INTERNAL",
    "EXTERNAL",
    "sign_in",
    "status_changed",
    "Status changed",
    "Signed in",
    "User #",
    "Never",
    "Select all",
];

#[tokio::test(flavor = "multi_thread")]
async fn french_pages_show_no_english_value_or_missing_key() {
    let app = TestApp::spawn().await;
    let (c, admin) = app.client_as(Kind::Admin).await;
    let admin = admin.unwrap();
    let user = app.create_user("francais@example.test", &[], false).await;
    suspend(&app, &c, user.id, "contrôle").await;
    app.post_form(&c, "/lang", &[("lang", "fr"), ("next", "/")])
        .await;
    let pages = [
        "/admin".to_owned(),
        "/admin/users".to_owned(),
        "/admin/users?status=SUSPENDED&type=EXTERNAL".to_owned(),
        "/admin/users/new".to_owned(),
        format!("/admin/users/{}", user.id),
        format!("/admin/users/{}", admin.id),
        "/admin/audit".to_owned(),
        "/admin/audit?action=user.&outcome=allowed".to_owned(),
        "/admin/tasks".to_owned(),
        "/account/sessions".to_owned(),
        "/admin/users/count?status=SUSPENDED&range=1%E2%80%931".to_owned(),
        format!("/admin/users/{}/billing", user.id),
        format!("/admin/users/{}/usage", user.id),
        "/admin/billing/events".to_owned(),
        "/admin/plans".to_owned(),
        "/admin/usage/overage".to_owned(),
        "/admin/notifications".to_owned(),
        "/admin/audit/denied?range=7d".to_owned(),
        "/admin/sessions".to_owned(),
        "/admin/jobs".to_owned(),
        "/admin/jobs/articleQueue/failed".to_owned(),
        "/admin/jobs/failures?q=x&from=2026-01-01".to_owned(),
        "/admin/jobs/stats?range=24h".to_owned(),
        "/admin/jobs/alerts".to_owned(),
        format!("/admin/users/{}/jobs", user.id),
    ];
    for path in pages {
        let html = body(&app, &c, &path).await;
        let doc = scraper::Html::parse_document(&html);
        // Visible text only: attribute values (CSS classes, form values) may
        // carry stored keys.
        let text: String = doc.root_element().text().collect::<Vec<_>>().join(" ");
        for word in ENGLISH {
            let hit = text
                .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '#')
                .any(|w| w == word)
                || (word.contains(' ') && text.contains(word));
            // Emails and names are data, not interface text.
            assert!(!hit, "{path}: English \"{word}\" on a French page");
        }
        // A key missing from both tables shows as "⁇".
        assert!(
            !text.contains('\u{2047}'),
            "{path}: a missing translation key"
        );
        // An untranslated key shows as itself: "users.something".
        for w in text.split_whitespace() {
            let looks_like_key = w.contains('.')
                && !w.contains('@')
                && w.split('.').all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
                && w.split('.').count() >= 2;
            assert!(!looks_like_key, "{path}: untranslated key {w}");
        }
    }
}
