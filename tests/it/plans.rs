//! The plan screens: created and edited field by field with every problem
//! shown next to its field, audited with before and after; a plan in use
//! archived, never deleted; the default plan protected; support reads only.

use reqwest::StatusCode;

use crate::harness::{Kind, TestApp, location, select_attr, select_text};
use crate::usage::{plan, subscribe};

fn pro_form<'a>(code: &'a str, articles: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("code", code),
        ("name", "Pro"),
        ("price", "29.90"),
        ("currency", "eur"),
        ("interval", "month"),
        ("limit_articles", articles),
        ("overage_articles", "0.50"),
        ("limit_images", "200"),
        ("unlimited_social_posts", "on"),
        ("stripe_price_id", "price_1PRO"),
        ("active", "on"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_is_created_and_edited_field_by_field_and_audited() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;

    // Every problem at once, each next to its field, what was typed kept.
    let res = app
        .post_form(
            &c,
            "/admin/plans",
            &[
                ("code", "Pro!"),
                ("name", "Pro"),
                ("price", "12.345"),
                ("currency", "eur"),
                ("interval", "month"),
                ("limit_articles", "lots"),
                ("limit_images", "10"),
                ("limit_social_posts", "5"),
                ("overage_images", "-1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    let invalid: Vec<String> = crate::harness::select_attrs(&html, "[aria-invalid=true]", "name");
    assert_eq!(
        invalid,
        ["code", "price", "limit_articles", "overage_images"]
    );
    assert_eq!(select_text(&html, ".field-error").len(), 4);
    assert_eq!(
        select_attr(&html, "input[name=name]", "value").as_deref(),
        Some("Pro")
    );

    let res = app
        .post_form(&c, "/admin/plans", &pro_form("pro", "100"))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = location(&res);
    assert!(page.starts_with("/admin/plans/"), "{page}");
    let html = app.get(&c, &page).await.text().await.unwrap();
    let facts = select_text(&html, "#plan-facts dd").join(" | ");
    assert!(facts.contains("29.90 EUR / month"), "{facts}");
    assert!(
        facts.contains("100 articles · 200 images · unlimited social posts"),
        "{facts}"
    );
    assert!(facts.contains("0.50 EUR per extra article"), "{facts}");
    // The code is taken now.
    let res = app
        .post_form(&c, "/admin/plans", &pro_form("pro", "5"))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(select_text(&html, "#plan-form .field-error")[0].contains("already has this code"));

    // Editing: the code stays, the event holds what changed.
    let id = page
        .trim_start_matches("/admin/plans/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let res = app
        .post_form(
            &c,
            &format!("/admin/plans/{id}"),
            &pro_form("renamed", "150"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app
        .get(&c, &format!("/admin/plans/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(select_text(&html, "#plan-name")[0].contains("pro"));
    assert!(
        select_text(&html, "#plan-facts dd")
            .join(" ")
            .contains("150 articles")
    );
    let events = app.audit("plan.updated").await;
    assert_eq!(events.len(), 1);
    let details = &events[0].2;
    assert!(
        details.contains(r#""before":{"limits":{"articles":100"#),
        "{details}"
    );
    assert!(!details.contains("renamed"), "{details}");
    assert_eq!(app.audit("plan.created").await.len(), 1);
    // Saving the same values writes nothing.
    app.post_form(&c, &format!("/admin/plans/{id}"), &pro_form("pro", "150"))
        .await;
    assert_eq!(app.audit("plan.updated").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_in_use_is_archived_not_deleted_and_the_default_is_protected() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let used = plan(
        &app,
        "team",
        serde_json::json!({"articles": 1, "images": 1, "social_posts": 1}),
        serde_json::json!({}),
    )
    .await;
    let unused = plan(
        &app,
        "trial",
        serde_json::json!({"articles": 1, "images": 1, "social_posts": 1}),
        serde_json::json!({}),
    )
    .await;
    let user = app.create_user("subscriber@sowat.test", &[], false).await;
    subscribe(&app, user.id, used).await;

    let res = app
        .post_form(&c, &format!("/admin/plans/{used}/delete"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("archive it instead"));
    let res = app
        .post_form(&c, &format!("/admin/plans/{used}/archive"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let list = app.get(&c, "/admin/plans").await.text().await.unwrap();
    assert!(
        select_attr(&list, "tr[data-code=team]", "data-id").is_none(),
        "archived plans leave the list"
    );
    let archived = app
        .get(&c, "/admin/plans?archived=true")
        .await
        .text()
        .await
        .unwrap();
    assert!(select_attr(&archived, "tr[data-code=team]", "data-id").is_some());
    // An archived plan is read-only until restored.
    let res = app
        .post_form(&c, &format!("/admin/plans/{used}"), &pro_form("team", "3"))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post_form(&c, &format!("/admin/plans/{used}/restore"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let res = app
        .post_form(&c, &format!("/admin/plans/{unused}/delete"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&c, &format!("/admin/plans/{unused}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.audit("plan.deleted").await.len(), 1);

    // The default plan: neither archived nor deleted until another is the default.
    let list = app.get(&c, "/admin/plans").await.text().await.unwrap();
    let free = select_attr(&list, "tr[data-code=free]", "data-id").unwrap();
    let res = app
        .post_form(&c, &format!("/admin/plans/{free}/archive"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post_form(&c, &format!("/admin/plans/{used}/default"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .post_form(&c, &format!("/admin/plans/{free}/archive"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.audit("plan.made_default").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn support_reads_plans_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    let html = app.get(&c, "/admin/plans").await.text().await.unwrap();
    assert!(select_attr(&html, "#plan-new", "href").is_none());
    let free = select_attr(&html, "tr[data-code=free]", "data-id").unwrap();
    let page = app
        .get(&c, &format!("/admin/plans/{free}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        select_attr(&page, "#plan-form", "action").is_none(),
        "no edit form"
    );
    assert!(
        select_text(&page, "#plan-facts dd")
            .join(" ")
            .contains("5 articles")
    );
    let res = app
        .post_form(
            &c,
            &format!("/admin/plans/{free}"),
            &pro_form("free", "1000"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
