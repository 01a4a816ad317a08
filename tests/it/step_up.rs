//! Step-up ("admin mode"): a dangerous action inside the window goes
//! through, past it the prompt answers instead and nothing changes, the
//! action resumes with a right code (audited), a wrong code counts like a
//! failed sign-in and enough of them lock the account and end the session.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use sowat_admin::db::schema::{login_events, user_roles};
use sowat_admin::db_run;

use crate::harness::{Kind, TestApp, TestUser, location, select_attrs, select_text};

const WINDOW_PAST: time::Duration = time::Duration::minutes(11);

async fn roles_held(app: &TestApp, user: &TestUser) -> i64 {
    let mut db = app.db().await;
    db_run!(&mut db, |c| user_roles::table
        .filter(user_roles::user_id.eq(user.id))
        .count()
        .get_result::<i64>(c)
        .await)
    .expect("count roles")
}

/// Grants (or removes) Support, with `extra` fields (the code).
async fn roles_op(
    app: &TestApp,
    client: &reqwest::Client,
    user: &TestUser,
    op: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("op", op), ("role", "support")];
    form.extend_from_slice(extra);
    app.post_form(client, &format!("/admin/users/{}/roles", user.id), &form)
        .await
}

async fn grant(
    app: &TestApp,
    client: &reqwest::Client,
    user: &TestUser,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    roles_op(app, client, user, "grant", extra).await
}

async fn badge(app: &TestApp, client: &reqwest::Client) -> Vec<String> {
    let html = app.get(client, "/admin").await.text().await.expect("body");
    select_text(&html, "#admin-mode")
}

/// A six-digit code that is not the current one.
fn wrong_code(right: &str) -> String {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
    .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dangerous_action_asks_for_a_code_past_the_window_and_resumes_with_it() {
    let app = TestApp::spawn().await;
    let (admin, me) = app.client_as(Kind::Admin).await;
    let me = me.expect("admin");
    let target = app.create_user("target@step-up.test", &[], true).await;

    // Fresh from sign-in: the header shows admin mode, the action goes through.
    assert_eq!(badge(&app, &admin).await.len(), 1, "admin mode shown");
    let res = grant(&app, &admin, &target, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers().get("x-step-up").is_none());
    assert_eq!(roles_held(&app, &target).await, 1);

    // Past the window: no badge, and the prompt instead of the change.
    app.clock.advance(WINDOW_PAST);
    assert!(badge(&app, &admin).await.is_empty(), "admin mode over");
    let res = roles_op(&app, &admin, &target, "remove", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-step-up"], "required");
    let html = res.text().await.expect("body");
    assert_eq!(
        select_attrs(&html, "#step-up-form", "action"),
        vec![format!("/admin/users/{}/roles", target.id)]
    );
    // The prompt carries the form as sent, to replay it.
    let carried = select_attrs(&html, "#step-up-form input[type=hidden]", "name");
    assert!(carried.contains(&"op".to_owned()) && carried.contains(&"role".to_owned()));
    assert_eq!(roles_held(&app, &target).await, 1, "nothing changed yet");

    // Through htmx the prompt is a modal over the page as it is.
    let token = app.csrf(&admin).await;
    let res = admin
        .post(app.url(&format!("/admin/users/{}/roles", target.id)))
        .header("hx-request", "true")
        .form(&[("op", "remove"), ("role", "support"), ("_csrf", &token)])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["hx-retarget"], "body");
    assert_eq!(res.headers()["hx-reswap"], "beforeend");
    let html = res.text().await.expect("body");
    assert!(
        html.starts_with("<dialog class=\"modal\" data-open"),
        "{html}"
    );
    assert_eq!(select_text(&html, "#step-up-title").len(), 1);

    // A wrong code: refused inline, nothing changed, counted as a failed sign-in.
    app.clock.advance(time::Duration::seconds(30));
    let wrong = wrong_code(&app.code(&me));
    let res = roles_op(
        &app,
        &admin,
        &target,
        "remove",
        &[("_step_up_code", &wrong)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("body");
    assert_eq!(select_text(&html, "#step-up-error").len(), 1);
    assert_eq!(roles_held(&app, &target).await, 1);
    let failed = app.audit("auth.sign_in_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "denied");
    assert!(failed[0].2.contains("bad_totp"), "{}", failed[0].2);
    let mut db = app.db().await;
    let traces: Vec<(String, bool)> = db_run!(&mut db, |c| login_events::table
        .filter(login_events::user_id.eq(me.id))
        .filter(login_events::event.eq("step_up"))
        .select((login_events::event, login_events::success))
        .load(c)
        .await)
    .expect("login events");
    assert_eq!(traces, vec![("step_up".to_owned(), false)]);

    // The right code: the action resumes as first sent, audited; the
    // header shows admin mode again and the next action does not ask.
    app.clock.advance(time::Duration::seconds(30));
    let right = app.code(&me);
    let res = roles_op(
        &app,
        &admin,
        &target,
        "remove",
        &[("_step_up_code", &right)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "resumed");
    assert_eq!(roles_held(&app, &target).await, 0, "the revoke was done");
    let confirmed = app.audit("auth.step_up").await;
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].0, "allowed");
    assert_eq!(badge(&app, &admin).await.len(), 1);
    let res = grant(&app, &admin, &target, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(roles_held(&app, &target).await, 1);

    // The same code cannot be used twice.
    app.clock.advance(WINDOW_PAST);
    let res = roles_op(
        &app,
        &admin,
        &target,
        "remove",
        &[("_step_up_code", &right)],
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "replay refused"
    );
    assert_eq!(roles_held(&app, &target).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_codes_lock_the_account_and_end_the_session() {
    let app = TestApp::spawn().await;
    let (admin, me) = app.client_as(Kind::Admin).await;
    let me = me.expect("admin");
    let target = app.create_user("locked@step-up.test", &[], true).await;
    app.clock.advance(WINDOW_PAST);

    let mut locked_at = None;
    for attempt in 1..=6 {
        let wrong = wrong_code(&app.code(&me));
        let res = grant(&app, &admin, &target, &[("_step_up_code", &wrong)]).await;
        if res.status() == StatusCode::SEE_OTHER {
            assert_eq!(location(&res), "/login?notice=locked_out");
            locked_at = Some(attempt);
            break;
        }
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(
        locked_at,
        Some(6),
        "five wrong codes lock, the sixth is refused"
    );
    assert_eq!(roles_held(&app, &target).await, 0);

    // The session is over, and the password alone no longer signs in.
    let res = app.get(&admin, "/admin").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"));
    let reasons: Vec<String> = app
        .audit("auth.sign_in_failed")
        .await
        .into_iter()
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(reasons.iter().filter(|d| d.contains("bad_totp")).count(), 5);
    assert!(reasons.last().is_some_and(|d| d.contains("locked")));
    let fresh = app.client();
    let res = app.login_password(&fresh, &me.email, &me.password).await;
    assert_ne!(
        location(&res).split('?').next(),
        Some("/login/totp"),
        "a locked account gets no second step"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn weakening_a_workspace_setting_asks_but_strengthening_does_not() {
    let app = TestApp::spawn().await;
    let manager = app.create_user("keeper@club.test", &[], true).await;
    crate::workspaces::workspace(&app, "keep", &[manager.id], &[]).await;
    let client = app.client();
    app.sign_in(&client, &manager).await;
    app.clock.advance(WINDOW_PAST);
    let save = |fields: &'static [(&'static str, &'static str)]| {
        app.post_form(&client, "/workspaces/keep/settings", fields)
    };
    // Turning the rule on makes things safer: no code asked.
    let res = save(&[("description", "Safe"), ("require_two_factor", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers().get("x-step-up").is_none());
    // Turning it off weakens the workspace: asked, and nothing saved meanwhile.
    let res = save(&[("description", "Relaxed")]).await;
    assert_eq!(res.headers()["x-step-up"], "required");
    let html = app
        .get(&client, "/workspaces/keep/settings")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(
        select_attrs(&html, "input[name=require_two_factor][checked]", "name").len(),
        1,
        "still required"
    );
    app.clock.advance(time::Duration::seconds(30));
    let code = app.code(&manager);
    let res = app
        .post_form(
            &client,
            "/workspaces/keep/settings",
            &[("description", "Relaxed"), ("_step_up_code", &code)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "saved after the code");
    let html = app
        .get(&client, "/workspaces/keep/settings")
        .await
        .text()
        .await
        .expect("body");
    assert!(select_attrs(&html, "input[name=require_two_factor][checked]", "name").is_empty());
}
